//! Dates and times in flows (LANGUAGE.md §5): reading the dates and times people write the way goflow
//! does, ISO 8601 values, arithmetic and formatting in a time zone. The calendar and the zone database
//! are jiff's (its own copy of the IANA database, so results do not depend on the machine).
//!
//! A date value in a flow is text: a date as `2026-11-23`, a moment as
//! `2026-11-23T16:40:05.123+02:00` (`Z` when the zone's offset is zero), a time of day as `10:30`.

use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ZonedDateTime};
use regex::Regex;

/// The order of day, month and year in dates that people write (`dates day_first`, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// `31.12.2026`
    #[default]
    DayFirst,
    /// `12/31/2026`
    MonthFirst,
    /// `2026-12-31`
    YearFirst,
}

impl DateOrder {
    /// Every order, as written after `dates`.
    pub const ALL: [DateOrder; 3] = [DateOrder::DayFirst, DateOrder::MonthFirst, DateOrder::YearFirst];

    /// The setting's word.
    pub fn name(self) -> &'static str {
        match self {
            DateOrder::DayFirst => "day_first",
            DateOrder::MonthFirst => "month_first",
            DateOrder::YearFirst => "year_first",
        }
    }

    /// Reads the setting's word.
    pub fn parse(word: &str) -> Option<DateOrder> {
        DateOrder::ALL.into_iter().find(|o| o.name() == word)
    }
}

/// Where a run reads and writes dates: the contact's zone, the flow's date order and the clock.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// The contact's zone (else the server's default, else UTC).
    pub zone: TimeZone,
    /// How dates written by people are read.
    pub order: DateOrder,
    /// The current time, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

impl Default for Calendar {
    /// UTC, `day_first`, the system clock.
    fn default() -> Self {
        Calendar { zone: TimeZone::UTC, order: DateOrder::default(), now_ms: crate::time::now_millis() as i64 }
    }
}

impl Calendar {
    /// Now, in the calendar's zone.
    pub fn now(&self) -> ZonedDateTime {
        let ts = Timestamp::from_millisecond(self.now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned_datetime(self.zone.clone())
    }

    /// Today's date in the calendar's zone.
    pub fn today(&self) -> Date {
        self.now().date()
    }
}

/// A time zone by its IANA name (`Africa/Kigali`, `America/New_York`, `UTC`).
pub fn zone(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a time zone needs a name such as \"Africa/Kigali\" or \"UTC\"".into());
    }
    TimeZone::get(name)
        .map_err(|_| format!("\"{name}\" is not a time zone (write an IANA name such as \"Africa/Kigali\")"))
}

/// A date, or a moment in a zone: what a date value holds.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// A calendar date without a time.
    Date(Date),
    /// A moment, shown in a zone.
    Moment(ZonedDateTime),
}

impl When {
    /// The calendar date (of a moment: in its zone).
    pub fn date(&self) -> Date {
        match self {
            When::Date(d) => *d,
            When::Moment(z) => z.date(),
        }
    }

    /// The value as ISO 8601 text.
    pub fn iso(&self) -> String {
        match self {
            When::Date(d) => date_iso(*d),
            When::Moment(z) => moment_iso(z),
        }
    }

    /// A moment: a date is its midnight in `zone`.
    fn moment(&self, zone: &TimeZone) -> Option<ZonedDateTime> {
        match self {
            When::Date(d) => d.to_zoned_datetime(zone.clone()).ok(),
            When::Moment(z) => Some(z.clone()),
        }
    }
}

/// `2026-11-23`
pub fn date_iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `2026-11-23T16:40:05.123+02:00`, with `Z` for a zero offset.
pub fn moment_iso(z: &ZonedDateTime) -> String {
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}.{:03}",
        date_iso(z.date()),
        z.hour(),
        z.minute(),
        z.second(),
        z.subsec_nanosecond() / 1_000_000
    );
    push_offset(&mut out, z.offset().seconds(), true);
    out
}

fn push_offset(out: &mut String, seconds: i32, z_for_zero: bool) {
    if seconds == 0 && z_for_zero {
        out.push('Z');
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    out.push_str(&format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60));
}

/// A time of day as the tests match it: `10:30`, `10:30:45` when the seconds are not zero, and the
/// fraction when there is one (`10:30:45.5`).
pub fn time_iso(t: Time) -> String {
    let mut out = format!("{:02}:{:02}", t.hour(), t.minute());
    let nanos = t.subsec_nanosecond();
    if t.second() != 0 || nanos != 0 {
        out.push_str(&format!(":{:02}", t.second()));
    }
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out
}

// ---------------------------------------------------------------- reading

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid built-in pattern"))
}

/// A whole ISO 8601 moment (`2017-10-01T23:55:55.123456+02:00`, seconds optional) or a local one
/// without an offset, read in the calendar's zone.
fn iso_moment(text: &str, zone: &TimeZone) -> Option<ZonedDateTime> {
    static ISO: OnceLock<Regex> = OnceLock::new();
    let c = re(
        &ISO,
        r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:[0-9]{2})?$",
    )
    .captures(text)?;
    let num = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<i64>().ok());
    let date = Date::new(num(1)? as i16, num(2)? as i8, num(3)? as i8).ok()?;
    let nanos = c.get(7).map_or(0, |m| fraction_nanos(m.as_str()));
    let time = Time::new(num(4)? as i8, num(5)? as i8, num(6)? as i8, nanos).ok()?;
    let local = DateTime::from_parts(date, time);
    match c.get(8).map(|m| m.as_str()) {
        None => local.to_zoned_datetime(zone.clone()).ok(),
        Some(offset) => {
            let seconds = if offset == "Z" {
                0
            } else {
                let sign = if offset.starts_with('-') { -1 } else { 1 };
                let h: i32 = offset[1..3].parse().ok()?;
                let m: i32 = offset[4..6].parse().ok()?;
                if h > 23 || m > 59 {
                    return None;
                }
                sign * (h * 3600 + m * 60)
            };
            let fixed = TimeZone::fixed(jiff::tz::Offset::from_seconds(seconds).ok()?);
            let instant = local.to_zoned_datetime(fixed).ok()?.timestamp();
            Some(instant.to_zoned_datetime(zone.clone()))
        }
    }
}

/// Nanoseconds of a decimal fraction of a second (`5` → 500,000,000; digits past nine are dropped).
fn fraction_nanos(digits: &str) -> i32 {
    let mut nanos = 0i32;
    for (i, b) in digits.bytes().take(9).enumerate() {
        nanos += i32::from(b - b'0') * 10i32.pow(8 - i as u32);
    }
    nanos
}

/// The first believable date in `text` and where the text after it begins: an ISO date at the start
/// (`2026-11-23`, whatever the order), else day, month and year in the flow's order separated by one
/// of `- . \ / _` or a space, with a two-digit year read as the closest year up to this one (`99` in
/// 2026 is 1999, `16` is 2016). A day or month out of range, or a day that the month does not have,
/// is passed over.
fn find_date(text: &str, cal: &Calendar) -> Option<(Date, usize)> {
    if let Some(prefix) = text.get(..10)
        && let Some(d) = iso_date(prefix)
    {
        return Some((d, 10));
    }
    static DMY: OnceLock<Regex> = OnceLock::new();
    static YMD: OnceLock<Regex> = OnceLock::new();
    let (pattern, d, m, y) = match cal.order {
        DateOrder::DayFirst => {
            (re(&DMY, r"(?-u:\b)([0-9]{1,2})[-.\\/_ ]([0-9]{1,2})[-.\\/_ ]([0-9]{4}|[0-9]{2})(?-u:\b)"), 1, 2, 3)
        }
        DateOrder::MonthFirst => {
            (re(&DMY, r"(?-u:\b)([0-9]{1,2})[-.\\/_ ]([0-9]{1,2})[-.\\/_ ]([0-9]{4}|[0-9]{2})(?-u:\b)"), 2, 1, 3)
        }
        DateOrder::YearFirst => {
            (re(&YMD, r"(?-u:\b)([0-9]{4}|[0-9]{2})[-.\\/_ ]([0-9]{1,2})[-.\\/_ ]([0-9]{1,2})(?-u:\b)"), 3, 2, 1)
        }
    };
    let this_year = i64::from(cal.today().year());
    for c in pattern.captures_iter(text) {
        let num = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<i64>().unwrap_or(0));
        let (day, month, mut year) = (num(d), num(m), num(y));
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            continue;
        }
        if c.get(y).is_some_and(|m| m.len() == 2) {
            year += if year > this_year % 100 { 1900 } else { 2000 };
        }
        if let Ok(date) = Date::new(year as i16, month as i8, day as i8) {
            return Some((date, c.get(0).map_or(0, |m| m.end())));
        }
    }
    None
}

/// Exactly `YYYY-MM-DD`.
fn iso_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit).then(|| s[r].parse::<i64>().ok())?;
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Date::new(digits(0..4)? as i16, digits(5..7)? as i8, digits(8..10)? as i8).ok()
}

/// The first valid time of day in `text`, as goflow reads it: an hour, then optionally minutes (with or
/// without a colon), seconds and a fraction, then optionally `am`/`pm` (`10` is 10:00, `1030` is 10:30,
/// `10:30 pm` is 22:30, `12 am` is midnight, `24:00` is midnight). Hours past 24, minutes or seconds
/// past 59 are passed over.
pub fn find_time(text: &str) -> Option<Time> {
    static TIME: OnceLock<Regex> = OnceLock::new();
    let pattern = re(
        &TIME,
        r"(?-u:\b)([0-9]{1,2})(?::?([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?[^0-9A-Za-z_]*([aApP][mM])?(?-u:\b)",
    );
    for c in pattern.captures_iter(text) {
        let num = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<i64>().unwrap_or(99));
        let (mut hour, minute, second) = (num(1), num(2), num(3));
        let nanos = c.get(4).map_or(0, |m| fraction_nanos(m.as_str()));
        match c.get(5).map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
            Some("pm") if hour < 12 => hour += 12,
            Some("am") if hour == 12 => hour = 0,
            _ => {}
        }
        if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
            hour = 0;
        }
        if hour > 23 || minute > 59 || second > 59 {
            continue;
        }
        if let Ok(t) = Time::new(hour as i8, minute as i8, second as i8, nanos) {
            return Some(t);
        }
    }
    None
}

/// A date value or a date written by a person: a whole ISO 8601 moment (shown in the calendar's zone),
/// else the first date in the text (see [`find_date`]) and, when a time follows it, that time on that
/// date in the calendar's zone.
pub fn read(text: &str, cal: &Calendar) -> Option<When> {
    let text = text.trim_matches([' ', '\n', '\r', '\t']);
    if let Some(z) = iso_moment(text, &cal.zone) {
        return Some(When::Moment(z));
    }
    let (date, end) = find_date(text, cal)?;
    match find_time(&text[end..]) {
        Some(t) => DateTime::from_parts(date, t).to_zoned_datetime(cal.zone.clone()).ok().map(When::Moment),
        None => Some(When::Date(date)),
    }
}

/// The date in a text, for `has_date`: an ISO moment's date in the calendar's zone, else the first
/// date written in the flow's order.
pub fn find_date_in(text: &str, cal: &Calendar) -> Option<Date> {
    read(text, cal).map(|w| w.date())
}

// ---------------------------------------------------------------- arithmetic

/// The units of `datetime_add`.
pub const UNITS: &[&str] = &["s", "m", "h", "D", "W", "M", "Y"];

/// `datetime_add`: `n` units later (earlier when negative). Days, weeks, months and years move the
/// calendar and keep the time of day across a daylight-saving change (the last day of a shorter month
/// when the day does not exist: 31 January + 1 month is 28 February); hours, minutes and seconds are
/// elapsed time. A date stays a date for calendar units; for hours, minutes and seconds it is its
/// midnight in `zone`.
pub fn add(when: &When, n: i64, unit: &str, zone: &TimeZone) -> Result<When, String> {
    let span = match unit {
        "s" => Span::new().try_seconds(n),
        "m" => Span::new().try_minutes(n),
        "h" => Span::new().try_hours(n),
        "D" => Span::new().try_days(n),
        "W" => Span::new().try_weeks(n),
        "M" => Span::new().try_months(n),
        "Y" => Span::new().try_years(n),
        other => return Err(format!("\"{other}\" is not a unit (units are s, m, h, D, W, M, Y)")),
    }
    .map_err(|_| format!("{n} {unit} is out of range"))?;
    let out_of_range = |_| format!("adding {n} {unit} leaves the calendar");
    match (when, unit) {
        (When::Date(d), "D" | "W" | "M" | "Y") => d.checked_add(span).map(When::Date).map_err(out_of_range),
        _ => {
            let z = when.moment(zone).ok_or("the date has no midnight in the zone")?;
            z.checked_add(span).map(When::Moment).map_err(out_of_range)
        }
    }
}

/// `weekday`: 0 for Sunday to 6 for Saturday, as goflow.
pub fn weekday(when: &When) -> i64 {
    i64::from(when.date().weekday().to_sunday_zero_offset())
}

// ---------------------------------------------------------------- formatting

/// Checks a `format_date` format: `YYYY YY M MM D DD` for the date, `h hh` (12-hour) `tt` (24-hour)
/// `m mm s ss fff ffffff fffffffff aa AA` for the time, `Z` (`Z` or the offset) and `ZZZ` (the
/// offset); the characters ` : / . T - _ ,` are written as they are; anything else is an error.
pub fn check_format(format: &str) -> Result<(), String> {
    format_parts(format, None).map(|_| ())
}

/// `format_date`: `when` in `format` (see [`check_format`]), shown in `zone`, else in its own zone.
pub fn format(when: &When, format: &str, zone: Option<&TimeZone>) -> Result<String, String> {
    let moment = match (when, zone) {
        (When::Moment(z), Some(tz)) => Some(z.with_time_zone(tz.clone())),
        (When::Moment(z), None) => Some(z.clone()),
        (When::Date(d), _) => d.to_zoned_datetime(TimeZone::UTC).ok(),
    };
    format_parts(format, moment.as_ref())
}

fn format_parts(format: &str, z: Option<&ZonedDateTime>) -> Result<String, String> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let bad = |what: &str| {
            Err(format!("`{}` is not a {what} in a date format", chars[i..i + run].iter().collect::<String>()))
        };
        // How many characters of the run the token takes.
        let (take, text): (usize, String) = match (c, run) {
            ('Y', 4..) if run == 4 => (4, z.map(|z| format!("{:04}", z.year())).unwrap_or_default()),
            ('Y', 2) => (2, z.map(|z| format!("{:02}", z.year().rem_euclid(100))).unwrap_or_default()),
            ('Y', _) => return bad("year (write YY or YYYY)"),
            ('M', 1) => (1, z.map(|z| z.month().to_string()).unwrap_or_default()),
            ('M', 2) => (2, z.map(|z| format!("{:02}", z.month())).unwrap_or_default()),
            ('M', _) => return bad("month (write M or MM)"),
            ('D', 1) => (1, z.map(|z| z.day().to_string()).unwrap_or_default()),
            ('D', 2) => (2, z.map(|z| format!("{:02}", z.day())).unwrap_or_default()),
            ('D', _) => return bad("day (write D or DD)"),
            ('h', 1) => (1, z.map(|z| hour12(z.hour()).to_string()).unwrap_or_default()),
            ('h', 2) => (2, z.map(|z| format!("{:02}", hour12(z.hour()))).unwrap_or_default()),
            ('h', _) => return bad("12-hour clock hour (write h or hh)"),
            ('t', 2) => (2, z.map(|z| format!("{:02}", z.hour())).unwrap_or_default()),
            ('t', _) => return bad("24-hour clock hour (write tt)"),
            ('m', 1) => (1, z.map(|z| z.minute().to_string()).unwrap_or_default()),
            ('m', 2) => (2, z.map(|z| format!("{:02}", z.minute())).unwrap_or_default()),
            ('m', _) => return bad("minute (write m or mm)"),
            ('s', 1) => (1, z.map(|z| z.second().to_string()).unwrap_or_default()),
            ('s', 2) => (2, z.map(|z| format!("{:02}", z.second())).unwrap_or_default()),
            ('s', _) => return bad("second (write s or ss)"),
            ('f', 3 | 6 | 9) => {
                (run, z.map(|z| format!("{:09}", z.subsec_nanosecond())[..run].to_string()).unwrap_or_default())
            }
            ('f', _) => return bad("fraction of a second (write fff, ffffff or fffffffff)"),
            ('a', 2) => (2, z.map(|z| if z.hour() < 12 { "am" } else { "pm" }.to_string()).unwrap_or_default()),
            ('A', 2) => (2, z.map(|z| if z.hour() < 12 { "AM" } else { "PM" }.to_string()).unwrap_or_default()),
            ('a' | 'A', _) => return bad("am/pm marker (write aa or AA)"),
            ('Z', 1) => (1, z.map(|z| offset_text(z, true)).unwrap_or_default()),
            ('Z', 3) => (3, z.map(|z| offset_text(z, false)).unwrap_or_default()),
            ('Z', _) => return bad("zone offset (write Z or ZZZ)"),
            (' ' | ':' | '/' | '.' | 'T' | '-' | '_' | ',', _) => (1, c.to_string()),
            _ => {
                return Err(format!(
                    "`{c}` has no meaning in a date format (use YYYY, MM, DD, tt, hh, mm, ss, fff, aa, Z and the separators : / . - _ , T or a space)"
                ));
            }
        };
        out.push_str(&text);
        i += take;
    }
    Ok(out)
}

fn hour12(h: i8) -> i8 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

fn offset_text(z: &ZonedDateTime, z_for_zero: bool) -> String {
    let mut s = String::new();
    push_offset(&mut s, z.offset().seconds(), z_for_zero);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(order: DateOrder, zone_name: &str, now: &str) -> Calendar {
        let now_ms = now.parse::<Timestamp>().expect("a test instant").as_millisecond();
        Calendar { zone: zone(zone_name).expect("a test zone"), order, now_ms }
    }

    #[test]
    fn iso_texts() {
        let kgl = zone("Africa/Kigali").unwrap();
        let z = Timestamp::from_millisecond(1_507_000_000_123).unwrap().to_zoned_datetime(kgl);
        assert_eq!(moment_iso(&z), "2017-10-03T05:06:40.123+02:00");
        let utc = Timestamp::from_millisecond(0).unwrap().to_zoned_datetime(TimeZone::UTC);
        assert_eq!(moment_iso(&utc), "1970-01-01T00:00:00.000Z");
        assert_eq!(time_iso(Time::new(10, 30, 0, 0).unwrap()), "10:30");
        assert_eq!(time_iso(Time::new(22, 30, 45, 0).unwrap()), "22:30:45");
        assert_eq!(time_iso(Time::new(10, 30, 45, 123_000_000).unwrap()), "10:30:45.123");
    }

    fn read_in(text: &str, zone_name: &str) -> When {
        read(text, &cal(DateOrder::DayFirst, zone_name, "2026-06-01T00:00:00Z")).expect("a date")
    }

    fn add_in(text: &str, n: i64, unit: &str, zone_name: &str) -> String {
        add(&read_in(text, zone_name), n, unit, &zone(zone_name).unwrap()).unwrap().iso()
    }

    /// New York springs forward on 8 March 2026 (02:00 EST → 03:00 EDT): a day later keeps the time
    /// of day, 24 hours later does not.
    #[test]
    fn spring_forward_in_new_york() {
        assert_eq!(add_in("07.03.2026 10:00", 1, "D", "America/New_York"), "2026-03-08T10:00:00.000-04:00");
        assert_eq!(add_in("07.03.2026 10:00", 24, "h", "America/New_York"), "2026-03-08T11:00:00.000-04:00");
        assert_eq!(add_in("07.03.2026 10:00", 1, "W", "America/New_York"), "2026-03-14T10:00:00.000-04:00");
        // 02:30 does not exist that night: it is read as the same wall-clock distance after the gap.
        assert_eq!(read_in("08.03.2026 02:30", "America/New_York").iso(), "2026-03-08T03:30:00.000-04:00");
        // A date stays a date; its hours start at its midnight.
        assert_eq!(add_in("08.03.2026", 1, "D", "America/New_York"), "2026-03-09");
        assert_eq!(add_in("08.03.2026", 3, "h", "America/New_York"), "2026-03-08T04:00:00.000-04:00");
    }

    /// London falls back on 25 October 2026 (02:00 BST → 01:00 GMT).
    #[test]
    fn fall_back_in_london() {
        assert_eq!(add_in("24.10.2026 12:00", 1, "D", "Europe/London"), "2026-10-25T12:00:00.000Z");
        assert_eq!(add_in("24.10.2026 12:00", 24, "h", "Europe/London"), "2026-10-25T11:00:00.000Z");
        // 01:30 happens twice that night: the first (summer time) is meant.
        assert_eq!(read_in("25.10.2026 01:30", "Europe/London").iso(), "2026-10-25T01:30:00.000+01:00");
        assert_eq!(add_in("25.10.2026 00:30", 2, "h", "Europe/London"), "2026-10-25T01:30:00.000Z");
    }

    #[test]
    fn today_is_the_contacts_date() {
        // 04:30 UTC on 8 March is still the 7th in New York and already the 8th in London.
        assert_eq!(
            date_iso(cal(DateOrder::DayFirst, "America/New_York", "2026-03-08T04:30:00Z").today()),
            "2026-03-07"
        );
        assert_eq!(date_iso(cal(DateOrder::DayFirst, "Europe/London", "2026-03-08T04:30:00Z").today()), "2026-03-08");
        assert_eq!(
            moment_iso(&cal(DateOrder::DayFirst, "Europe/London", "2026-07-01T04:30:00Z").now()),
            "2026-07-01T05:30:00.000+01:00"
        );
    }

    #[test]
    fn formats_in_a_zone() {
        let ny = zone("America/New_York").unwrap();
        let summer = read_in("2026-07-01T12:00:00Z", "UTC");
        let winter = read_in("2026-12-01T12:00:00Z", "UTC");
        assert_eq!(format(&summer, "DD/MM/YYYY tt:mm ZZZ", Some(&ny)).unwrap(), "01/07/2026 08:00 -04:00");
        assert_eq!(format(&winter, "DD/MM/YYYY tt:mm ZZZ", Some(&ny)).unwrap(), "01/12/2026 07:00 -05:00");
        assert_eq!(format(&winter, "h:mm aa", Some(&ny)).unwrap(), "7:00 am");
        assert_eq!(format(&winter, "D.M.YY", None).unwrap(), "1.12.26");
        // A date has no zone to move to.
        assert_eq!(format(&When::Date(Date::new(2026, 1, 5).unwrap()), "DD-MM-YYYY", Some(&ny)).unwrap(), "05-01-2026");
        assert!(check_format("DD/MM/YYYY tt:mm").is_ok());
        assert!(check_format("YYY").is_err());
        assert!(check_format("DD month").is_err());
    }

    #[test]
    fn units_and_weekdays() {
        assert_eq!(add_in("31.01.2026", 1, "M", "UTC"), "2026-02-28");
        assert_eq!(add_in("29.02.2024", 1, "Y", "UTC"), "2025-02-28");
        assert!(add(&read_in("01.01.2026", "UTC"), 1, "d", &TimeZone::UTC).is_err());
        assert_eq!(weekday(&read_in("2026-11-29", "UTC")), 0);
        assert_eq!(weekday(&read_in("2026-11-30", "UTC")), 1);
        // The weekday of a moment is the one in its zone.
        assert_eq!(weekday(&read_in("2026-11-29T23:30:00-05:00", "America/New_York")), 0);
        assert_eq!(weekday(&read_in("2026-11-29T23:30:00-05:00", "UTC")), 1);
    }

    #[test]
    fn zones_by_name() {
        assert!(zone("America/New_York").is_ok());
        assert!(zone("UTC").is_ok());
        assert_eq!(
            zone("Cuenca").unwrap_err(),
            "\"Cuenca\" is not a time zone (write an IANA name such as \"Africa/Kigali\")"
        );
        assert!(zone(" ").is_err());
    }
}
