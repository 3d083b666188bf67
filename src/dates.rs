//! Dates and times in flows (docs/language.md §5): reading the dates and times people write the way goflow
//! does, ISO 8601 values, arithmetic and formatting in a time zone. The calendar and the zone database
//! are jiff's (its own copy of the IANA database, so results do not depend on the machine).
//!
//! A date value in a flow is text: a date as `2026-11-23`, a moment as
//! `2026-11-23T16:40:05.123+02:00` (`Z` when the zone's offset is zero), a time of day as `10:30`.

use std::sync::OnceLock;

use crate::time::push_offset;
pub use crate::time::{civil_iso, date_iso};
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

/// `2026-11-23T16:40:05.123+02:00`, with `Z` for a zero offset.
pub fn moment_iso(z: &ZonedDateTime) -> String {
    civil_iso(z.datetime(), z.offset().seconds())
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

/// An ISO 8601 moment at the start of `text`: `2017-10-01T23:55:55.123456+02:00` (seconds optional; the
/// offset `Z`, `+02:00`, `+0200` or `+02`), also with a space for the `T` when an offset follows
/// (`2026-11-23 10:00:00+02:00`, as databases write it); without an offset, `T` time is read in the
/// calendar's zone. A digit right after it means it was not one.
fn iso_moment(text: &str, zone: &TimeZone) -> Option<ZonedDateTime> {
    static ISO: OnceLock<Regex> = OnceLock::new();
    let c = re(
        &ISO,
        r"^([0-9]{4})-([0-9]{2})-([0-9]{2})([T ])([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z| ?[+-][0-9]{2}(?::?[0-9]{2})?)?",
    )
    .captures(text)?;
    let end = c.get(0).map_or(0, |m| m.end());
    let offset = c.get(9).map(|m| m.as_str().trim_start());
    if text[end..].starts_with(|c: char| c.is_ascii_digit()) || (offset.is_none() && &c[4] != "T") {
        return None;
    }
    let num = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<i64>().ok());
    let date = Date::new(num(1)? as i16, num(2)? as i8, num(3)? as i8).ok()?;
    let nanos = c.get(8).map_or(0, |m| fraction_nanos(m.as_str()));
    let time = Time::new(num(5)? as i8, num(6)? as i8, num(7)? as i8, nanos).ok()?;
    let local = DateTime::from_parts(date, time);
    match offset {
        None => local.to_zoned_datetime(zone.clone()).ok(),
        Some(offset) => {
            let seconds = if offset == "Z" {
                0
            } else {
                let sign = if offset.starts_with('-') { -1 } else { 1 };
                let digits: String = offset[1..].chars().filter(char::is_ascii_digit).collect();
                let h: i32 = digits[..2].parse().ok()?;
                let m: i32 = digits.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
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
fn find_date(text: &str, cal: &Calendar) -> Option<(Date, usize, usize)> {
    if let Some(prefix) = text.get(..10)
        && let Some(d) = iso_date(prefix)
    {
        return Some((d, 0, 10));
    }
    // Two short numbers then a year, or a year then two short numbers; the order says which is which.
    static SHORT_FIRST: OnceLock<Regex> = OnceLock::new();
    static YEAR_FIRST: OnceLock<Regex> = OnceLock::new();
    let short_first =
        || re(&SHORT_FIRST, r"(?-u:\b)([0-9]{1,2})[-.\\/_ ]([0-9]{1,2})[-.\\/_ ]([0-9]{4}|[0-9]{2})(?-u:\b)");
    let (pattern, d, m, y) = match cal.order {
        DateOrder::DayFirst => (short_first(), 1, 2, 3),
        DateOrder::MonthFirst => (short_first(), 2, 1, 3),
        DateOrder::YearFirst => {
            (re(&YEAR_FIRST, r"(?-u:\b)([0-9]{4}|[0-9]{2})[-.\\/_ ]([0-9]{1,2})[-.\\/_ ]([0-9]{1,2})(?-u:\b)"), 3, 2, 1)
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
            let whole = c.get(0)?;
            return Some((date, whole.start(), whole.end()));
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
    let (date, _, end) = find_date(text, cal)?;
    match find_time(&text[end..]) {
        Some(t) => DateTime::from_parts(date, t).to_zoned_datetime(cal.zone.clone()).ok().map(When::Moment),
        None => Some(When::Date(date)),
    }
}

/// The time of day in a reply, for `has_time`: an ISO moment's time in the calendar's zone; else, when
/// the reply holds a date, the time after it (or before it), never the date's own digits
/// (`23/11/2026 10:00` is 10:00, `31.12.2026` has none); else the first time in the text (goflow's
/// reading, where `10` is 10:00).
pub fn find_time_in(text: &str, cal: &Calendar) -> Option<Time> {
    let trimmed = text.trim_matches([' ', '\n', '\r', '\t']);
    if let Some(z) = iso_moment(trimmed, &cal.zone) {
        return Some(z.time());
    }
    match find_date(trimmed, cal) {
        Some((_, start, end)) => find_time(&trimmed[end..]).or_else(|| find_time(&trimmed[..start])),
        None => find_time(text),
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

/// Why a date format cannot be used: the message and the characters it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatError {
    /// What is wrong and what to write instead.
    pub message: String,
    /// The first character it is about (a char index into the format).
    pub at: usize,
    /// How many characters.
    pub len: usize,
}

/// Checks a `format_date` format: `YYYY YY M MM D DD` for the date, `h hh` (12-hour) `tt` (24-hour)
/// `m mm s ss fff ffffff fffffffff aa AA` for the time, `Z` (`Z` or the offset) and `ZZZ` (the
/// offset); the characters ` : / . T - _ ,` are written as they are; anything else is an error. Also
/// errors here (not when a run formats): minutes (`mm`) next to a day or a year with no hour, which
/// is almost always `MM`, the month, mistyped; and a 12-hour `hh` without `aa`/`AA`, which reads 04:40
/// for 16:40 (flowc's `hh` was the 24-hour hour before it took goflow's tokens).
pub fn check_format(format: &str) -> Result<(), FormatError> {
    format_parts(format, None)?;
    let chars: Vec<char> = format.chars().collect();
    let has = |c: char| chars.contains(&c);
    if has('h') && !has('a') && !has('A') {
        let at = chars.iter().position(|&c| c == 'h').unwrap_or(0);
        let len = chars[at..].iter().take_while(|&&c| c == 'h').count();
        return Err(FormatError {
            message: format!(
                "`{}` is the 12-hour clock, and this format has no `aa`: the 24-hour hour is `tt`",
                "h".repeat(len)
            ),
            at,
            len,
        });
    }
    if has('m') && (has('D') || has('Y')) && !has('h') && !has('t') {
        let at = chars.iter().position(|&c| c == 'm').unwrap_or(0);
        let len = chars[at..].iter().take_while(|&&c| c == 'm').count();
        return Err(FormatError {
            message: format!(
                "`{}` is minutes, and this format has no hour: the month is `{}`",
                "m".repeat(len),
                "M".repeat(len)
            ),
            at,
            len,
        });
    }
    Ok(())
}

/// `format_date`: `when` in `format` (see [`check_format`]), shown in `zone`. A date is its midnight in
/// `home` (the contact's zone).
pub fn format(when: &When, format: &str, home: &TimeZone, zone: &TimeZone) -> Result<String, String> {
    let moment = when.moment(home).map(|z| z.with_time_zone(zone.clone()));
    format_parts(format, moment.as_ref()).map_err(|e| e.message)
}

/// `parse_datetime`: `text` read with `format` (the tokens of [`format`]), in `zone` unless the text
/// carries its offset (`Z`, `+02:00`). Seconds may carry a fraction the format does not show. What the
/// format leaves out is its first value (the first month, day, midnight).
pub fn parse(text: &str, format: &str, zone: &TimeZone) -> Result<ZonedDateTime, String> {
    check_format(format).map_err(|e| e.message)?;
    let f: Vec<char> = format.chars().collect();
    let t: Vec<char> = text.trim().chars().collect();
    let bad = || format!("\"{text}\" does not match the format \"{format}\"");
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut nanos) =
        (1970i32, 1i8, 1i8, 0i8, 0i8, 0i8, 0i32);
    let (mut pm, mut offset): (Option<bool>, Option<i32>) = (None, None);
    let (mut i, mut at) = (0usize, 0usize);
    // Up to `max` digits (exactly `max` when `exact`).
    let digits = |at: &mut usize, max: usize, exact: bool| -> Result<i64, String> {
        let start = *at;
        while *at < t.len() && *at - start < max && t[*at].is_ascii_digit() {
            *at += 1;
        }
        if *at == start || (exact && *at - start != max) {
            return Err(bad());
        }
        t[start..*at].iter().collect::<String>().parse::<i64>().map_err(|_| bad())
    };
    while i < f.len() {
        let c = f[i];
        let run = f[i..].iter().take_while(|&&x| x == c).count();
        match c {
            'Y' if run == 4 => year = digits(&mut at, 4, true)? as i32,
            'Y' => year = 2000 + digits(&mut at, 2, true)? as i32,
            'M' => month = digits(&mut at, 2, run == 2)? as i8,
            'D' => day = digits(&mut at, 2, run == 2)? as i8,
            't' | 'h' => hour = digits(&mut at, 2, run == 2)? as i8,
            'm' => minute = digits(&mut at, 2, run == 2)? as i8,
            's' => {
                second = digits(&mut at, 2, run == 2)? as i8;
                // A fraction the format does not write is read all the same.
                if f.get(i + run) != Some(&'.') && t.get(at) == Some(&'.') {
                    at += 1;
                    let start = at;
                    let frac = digits(&mut at, 9, false)?;
                    nanos = (frac * 10i64.pow(9 - (at - start) as u32)) as i32;
                }
            }
            'f' => {
                let start = at;
                let frac = digits(&mut at, 9, false)?;
                nanos = (frac * 10i64.pow(9 - (at - start) as u32)) as i32;
            }
            'a' | 'A' => {
                let word: String = t.get(at..at + 2).map(|w| w.iter().collect::<String>()).unwrap_or_default();
                pm = match word.to_ascii_lowercase().as_str() {
                    "am" => Some(false),
                    "pm" => Some(true),
                    _ => return Err(bad()),
                };
                at += 2;
            }
            'Z' => {
                if t.get(at) == Some(&'Z') {
                    at += 1;
                    offset = Some(0);
                } else {
                    let sign = match t.get(at) {
                        Some('+') => 1,
                        Some('-') => -1,
                        _ => return Err(bad()),
                    };
                    at += 1;
                    let h = digits(&mut at, 2, true)?;
                    if t.get(at) == Some(&':') {
                        at += 1;
                    }
                    let m = digits(&mut at, 2, true)?;
                    offset = Some(sign * (h * 3600 + m * 60) as i32);
                }
            }
            literal => {
                for _ in 0..run {
                    if t.get(at) != Some(&literal) {
                        return Err(bad());
                    }
                    at += 1;
                }
            }
        }
        i += run;
    }
    if at != t.len() {
        return Err(bad());
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let civil = DateTime::new(year as i16, month, day, hour, minute, second, nanos).map_err(|_| bad())?;
    match offset {
        Some(secs) => {
            let off = jiff::tz::Offset::from_seconds(secs).map_err(|_| bad())?;
            let ts = off.to_timestamp(civil).map_err(|_| bad())?;
            Ok(ts.to_zoned_datetime(zone.clone()))
        }
        None => civil.to_zoned_datetime(zone.clone()).map_err(|_| bad()),
    }
}

fn format_parts(format: &str, z: Option<&ZonedDateTime>) -> Result<String, FormatError> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let bad = |what: &str| {
            let token: String = chars[i..i + run].iter().collect();
            Err(FormatError { message: format!("`{token}` is not {what} in a date format"), at: i, len: run })
        };
        // How many characters of the run the token takes.
        let (take, text): (usize, String) = match (c, run) {
            ('Y', 4..) if run == 4 => (4, z.map(|z| format!("{:04}", z.year())).unwrap_or_default()),
            ('Y', 2) => (2, z.map(|z| format!("{:02}", z.year().rem_euclid(100))).unwrap_or_default()),
            ('Y', _) => return bad("a year (write YY or YYYY)"),
            ('M', 1) => (1, z.map(|z| z.month().to_string()).unwrap_or_default()),
            ('M', 2) => (2, z.map(|z| format!("{:02}", z.month())).unwrap_or_default()),
            ('M', _) => return bad("a month (write M or MM; month names are not supported)"),
            ('D', 1) => (1, z.map(|z| z.day().to_string()).unwrap_or_default()),
            ('D', 2) => (2, z.map(|z| format!("{:02}", z.day())).unwrap_or_default()),
            ('D', _) => return bad("a day (write D or DD)"),
            ('h', 1) => (1, z.map(|z| hour12(z.hour()).to_string()).unwrap_or_default()),
            ('h', 2) => (2, z.map(|z| format!("{:02}", hour12(z.hour()))).unwrap_or_default()),
            ('h', _) => return bad("a 12-hour clock hour (write h or hh)"),
            ('t', 2) => (2, z.map(|z| format!("{:02}", z.hour())).unwrap_or_default()),
            ('t', _) => return bad("a 24-hour clock hour (write tt)"),
            ('m', 1) => (1, z.map(|z| z.minute().to_string()).unwrap_or_default()),
            ('m', 2) => (2, z.map(|z| format!("{:02}", z.minute())).unwrap_or_default()),
            ('m', _) => return bad("a minute (write m or mm)"),
            ('s', 1) => (1, z.map(|z| z.second().to_string()).unwrap_or_default()),
            ('s', 2) => (2, z.map(|z| format!("{:02}", z.second())).unwrap_or_default()),
            ('s', _) => return bad("a second (write s or ss)"),
            ('f', 3 | 6 | 9) => {
                (run, z.map(|z| format!("{:09}", z.subsec_nanosecond())[..run].to_string()).unwrap_or_default())
            }
            ('f', _) => return bad("a fraction of a second (write fff, ffffff or fffffffff)"),
            ('a', 2) => (2, z.map(|z| if z.hour() < 12 { "am" } else { "pm" }.to_string()).unwrap_or_default()),
            ('A', 2) => (2, z.map(|z| if z.hour() < 12 { "AM" } else { "PM" }.to_string()).unwrap_or_default()),
            ('a' | 'A', _) => return bad("an am/pm marker (write aa or AA)"),
            ('Z', 1) => (1, z.map(|z| offset_text(z, true)).unwrap_or_default()),
            ('Z', 3) => (3, z.map(|z| offset_text(z, false)).unwrap_or_default()),
            ('Z', _) => return bad("a zone offset (write Z or ZZZ)"),
            (' ' | ':' | '/' | '.' | 'T' | '-' | '_' | ',', _) => (1, c.to_string()),
            _ => return Err(unknown_in_format(&chars, i)),
        };
        out.push_str(&text);
        i += take;
    }
    Ok(out)
}

/// The error for a character with no meaning at `i`: about the whole word around it when it is in
/// one (`month`), with the likely intent.
fn unknown_in_format(chars: &[char], i: usize) -> FormatError {
    // A word of letters, not across `T` (a separator: `DDTHH` is about `HH`).
    let letter = |k: usize| chars.get(k).is_some_and(|&c| c.is_ascii_alphabetic() && c != 'T');
    let (mut at, mut end) = (i, i + 1);
    if letter(i) {
        while at > 0 && letter(at - 1) {
            at -= 1;
        }
        while letter(end) {
            end += 1;
        }
    }
    let word: String = chars[at..end].iter().collect();
    let hint = match word.to_ascii_lowercase().as_str() {
        "month" | "months" | "mon" | "mmm" | "mmmm" => "month names are not supported: write MM for the month's number",
        "day" | "days" | "weekday" | "ddd" | "dddd" | "eee" | "eeee" => {
            "day names are not supported: write DD for the day of the month (weekday(...) gives 0-6)"
        }
        "year" | "years" => "write YYYY for the year",
        "hour" | "hours" | "h" => "write tt for the 24-hour hour, hh for the 12-hour one",
        _ if word.chars().all(|c| "dy".contains(c)) => "tokens are case-sensitive: the day is DD, the year YYYY",
        _ if word.chars().all(|c| c == 'H') => "the 24-hour hour is tt (and the 12-hour one hh)",
        _ if word.chars().all(|c| c == 'S') => "seconds are ss",
        _ => {
            "use YYYY, MM, DD, tt (24-hour), hh (12-hour), mm, ss, fff, aa, Z and the separators : / . - _ , T or a space"
        }
    };
    FormatError { message: format!("`{word}` has no meaning in a date format: {hint}"), at, len: end - at }
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
        assert_eq!(format(&summer, "DD/MM/YYYY tt:mm ZZZ", &TimeZone::UTC, &ny).unwrap(), "01/07/2026 08:00 -04:00");
        assert_eq!(format(&winter, "DD/MM/YYYY tt:mm ZZZ", &TimeZone::UTC, &ny).unwrap(), "01/12/2026 07:00 -05:00");
        assert_eq!(format(&winter, "h:mm aa", &TimeZone::UTC, &ny).unwrap(), "7:00 am");
        assert!(check_format("DD/MM/YYYY hh:mm").unwrap_err().message.contains("the 24-hour hour is `tt`"));
        assert!(check_format("h:mm AA").is_ok());
        assert_eq!(format(&winter, "D.M.YY", &TimeZone::UTC, &TimeZone::UTC).unwrap(), "1.12.26");
        // A date is its midnight in the contact's zone, shown in the zone asked for.
        let tokyo = zone("Asia/Tokyo").unwrap();
        let date = When::Date(Date::new(2026, 1, 31).unwrap());
        assert_eq!(format(&date, "DD-MM-YYYY tt:mm ZZZ", &tokyo, &tokyo).unwrap(), "31-01-2026 00:00 +09:00");
        assert_eq!(format(&date, "DD-MM-YYYY tt:mm ZZZ", &tokyo, &ny).unwrap(), "30-01-2026 10:00 -05:00");
        assert!(check_format("DD/MM/YYYY tt:mm").is_ok());
        assert!(check_format("tt:mm").is_ok());
        let err = |f: &str| check_format(f).unwrap_err();
        assert_eq!(err("YYY").message, "`YYY` is not a year (write YY or YYYY) in a date format");
        let month = err("DD month YYYY");
        assert_eq!((month.at, month.len), (3, 5));
        assert!(month.message.contains("month names are not supported"), "{}", month.message);
        assert!(err("dd/mm/yyyy").message.contains("case-sensitive"));
        assert!(err("YYYY-MM-DD HH:mm").message.contains("24-hour hour is tt"));
        let minutes = err("DD/mm/YYYY");
        assert_eq!((minutes.at, minutes.len), (3, 2));
        assert!(minutes.message.contains("the month is `MM`"), "{}", minutes.message);
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

    /// Moments as APIs and databases write them keep their offset.
    #[test]
    fn iso_moments_in_their_common_spellings() {
        assert_eq!(read_in("2026-11-23 10:00:00+02:00", "America/New_York").iso(), "2026-11-23T03:00:00.000-05:00");
        assert_eq!(read_in("2026-11-23T10:30:00+0530", "UTC").iso(), "2026-11-23T05:00:00.000Z");
        assert_eq!(read_in("2026-11-23T10:30:00+05", "UTC").iso(), "2026-11-23T05:30:00.000Z");
        assert_eq!(read_in("2026-11-23T10:00:00Z.", "UTC").iso(), "2026-11-23T10:00:00.000Z");
        assert_eq!(read_in("2026-11-23T10:00 please", "America/New_York").iso(), "2026-11-23T10:00:00.000-05:00");
        assert_eq!(read_in("2026-11-23 10:00:00 +0200", "UTC").iso(), "2026-11-23T08:00:00.000Z");
        // Without an offset a space is a date and a time written by a person (am/pm counts).
        assert_eq!(read_in("2026-11-23 10:00 pm", "UTC").iso(), "2026-11-23T22:00:00.000Z");
    }

    /// The time in a reply that also holds a date is not read from the date's digits.
    #[test]
    fn times_beside_dates() {
        let at = |text: &str, zone_name: &str| {
            find_time_in(text, &cal(DateOrder::DayFirst, zone_name, "2026-06-01T00:00:00Z")).map(time_iso)
        };
        assert_eq!(at("2026-11-23 10:00:00+02:00", "UTC").as_deref(), Some("08:00"));
        assert_eq!(at("23/11/2026 10:00", "UTC").as_deref(), Some("10:00"));
        assert_eq!(at("05/06/2026 2pm", "UTC").as_deref(), Some("14:00"));
        assert_eq!(at("at 9:15 on 05/06/2026", "UTC").as_deref(), Some("09:15"));
        assert_eq!(at("31.12.2026", "UTC"), None);
        assert_eq!(at("it's 10 ok", "UTC").as_deref(), Some("10:00"));
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
