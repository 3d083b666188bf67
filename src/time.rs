//! Dates without a date library: the current UTC time in ISO 8601 and `format_date`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Milliseconds in one of the language's duration units: `ms`, `s`, `m`, `h`, `d`.
pub fn unit_ms(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    })
}

/// `500ms`, `11m`, `2h`, `1d` in milliseconds (`None` when malformed or too large).
pub fn duration_ms(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    n.checked_mul(unit_ms(&s[digits..])?)
}

/// Milliseconds in the largest unit that divides them: `1d`, `90m`, `1500ms`.
pub fn human_ms(ms: u64) -> String {
    match ms {
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A Unix time in milliseconds as ISO 8601 UTC: `2026-11-23T16:40:05.123Z`.
pub fn iso(millis: u64) -> String {
    let secs = (millis / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, millis % 1000)
}

/// A Unix time in milliseconds as an HTTP date (RFC 9110 IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(millis: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = (millis / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[mo as usize - 1],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time as ISO 8601 UTC.
pub fn now_iso() -> String {
    iso(now_millis())
}

/// A unique id that sorts by time (`run-0195a3f2c4e1-00042-9f3c`): millisecond clock, a per-process
/// sequence and a random tail. Stored as a key, new rows land at the end of an index instead of at
/// random places in it, which keeps inserts fast as tables grow.
pub fn unique_id(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0xf_ffff;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(seq);
    format!("{prefix}-{:012x}-{seq:05x}-{:04x}", now_millis(), h.finish() & 0xffff)
}

/// Formats `YYYY-MM-DD[THH:MM[:SS]...]` with the tokens `YYYY`, `YY`, `MM`, `DD`, `hh`, `mm`, `ss`.
pub fn format_date(date: &str, format: &str) -> Option<String> {
    let d = date.trim();
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u32>().ok());
    let year = num(d.get(0..4))?;
    let month = num(d.get(5..7)).filter(|m| (1..=12).contains(m))?;
    let day = num(d.get(8..10)).filter(|d| (1..=31).contains(d))?;
    if d.get(4..5) != Some("-") || d.get(7..8) != Some("-") {
        return None;
    }
    let time = d.get(10..).unwrap_or("");
    let (hour, minute, second) = if time.starts_with(['T', ' ']) {
        (num(time.get(1..3)).unwrap_or(0), num(time.get(4..6)).unwrap_or(0), num(time.get(7..9)).unwrap_or(0))
    } else {
        (0, 0, 0)
    };
    let mut out = String::new();
    let mut rest = format;
    while !rest.is_empty() {
        let (token, value) = [
            ("YYYY", format!("{year:04}")),
            ("YY", format!("{:02}", year % 100)),
            ("MM", format!("{month:02}")),
            ("DD", format!("{day:02}")),
            ("hh", format!("{hour:02}")),
            ("mm", format!("{minute:02}")),
            ("ss", format!("{second:02}")),
        ]
        .into_iter()
        .find(|(t, _)| rest.starts_with(t))
        .unwrap_or(("", String::new()));
        if token.is_empty() {
            let c = rest.chars().next()?;
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            out.push_str(&value);
            rest = &rest[token.len()..];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_450_405_123), "2026-11-23T16:13:25.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let ids: Vec<String> = (0..1000).map(|_| unique_id("run")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|i| i.starts_with("run-")));
    }

    #[test]
    fn date_formats() {
        assert_eq!(format_date("2026-11-23T16:40:05Z", "DD/MM/YYYY hh:mm").as_deref(), Some("23/11/2026 16:40"));
        assert_eq!(format_date("2026-01-02", "YY-M").as_deref(), Some("26-M"));
        assert_eq!(format_date("yesterday", "YYYY"), None);
        assert_eq!(format_date("2026-13-01", "YYYY"), None);
    }
}
