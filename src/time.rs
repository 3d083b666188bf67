//! Clock and durations: the current time, ISO 8601 and HTTP dates in UTC, duration units, sortable ids.
//! Calendars and zones are in `dates`, which builds on this module.

use std::time::{SystemTime, UNIX_EPOCH};

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
    let ts = jiff::Timestamp::from_millisecond(millis.min(i64::MAX as u64) as i64).unwrap_or(jiff::Timestamp::MAX);
    // A fixed offset needs no zone lookup: this runs for every access log line.
    civil_iso(jiff::tz::Offset::UTC.to_datetime(ts), 0)
}

/// A Unix time in milliseconds as an HTTP date (RFC 9110 IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(millis: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(millis.min(i64::MAX as u64) as i64).unwrap_or(jiff::Timestamp::MAX);
    jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&ts).unwrap_or_default()
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

/// `2026-11-23`
pub fn date_iso(d: jiff::civil::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// A civil date and time at an offset from UTC (in seconds), as [`crate::dates::moment_iso`] writes it.
pub fn civil_iso(t: jiff::civil::DateTime, offset_seconds: i32) -> String {
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}.{:03}",
        date_iso(t.date()),
        t.hour(),
        t.minute(),
        t.second(),
        t.subsec_nanosecond() / 1_000_000
    );
    push_offset(&mut out, offset_seconds, true);
    out
}

pub(crate) fn push_offset(out: &mut String, seconds: i32, z_for_zero: bool) {
    if seconds == 0 && z_for_zero {
        out.push('Z');
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    out.push_str(&format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60));
}

/// A UUID made from `seed` and `what`: the same every time (FNV-1a, twice, shaped as a version 4 UUID).
pub fn derived_uuid(seed: &str, what: &str) -> String {
    let hash = |basis: u64| {
        let mut h = basis;
        for b in seed.bytes().chain([0]).chain(what.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    // FNV spreads a one-letter change over few bits: a final mix spreads it over all of them.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (mix(hash(0xcbf2_9ce4_8422_2325)), mix(hash(0x6c62_272e_07bb_0142)));
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
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
}
