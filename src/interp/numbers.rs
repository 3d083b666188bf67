//! Numbers in text, as goflow reads them (docs/language.md §5 "Numbers"): for the number tests, the
//! conversions of values and expressions.

use std::sync::OnceLock;

use regex::Regex;

/// ASCII value of a digit in Western, Arabic-Indic, Persian (extended Arabic-Indic) or Bengali script.
fn digit(c: char) -> Option<u8> {
    let d = match c as u32 {
        0x30..=0x39 => c as u32 - 0x30,
        0x0660..=0x0669 => c as u32 - 0x0660,
        0x06F0..=0x06F9 => c as u32 - 0x06F0,
        0x09E6..=0x09EF => c as u32 - 0x09E6,
        _ => return None,
    };
    Some(d as u8)
}

/// Every number in a text, in order (docs/language.md §5 "Numbers"), as goflow finds them: candidates are
/// the matches of `[-+]?([\pN,]+(\.[\pN]+)?|(\W|^)\.[\pN]+)` (with `decimal` `,` the two separators
/// swap), and a candidate counts when, trimmed, without its grouping separators, with the decimal
/// separator as `.` and Arabic-Indic, Persian and Bengali digits as 0-9, it reads as
/// `-?(\d+|\d+\.\d+|\.\d+)`. So `hi.51` is 51 (a `.` glued to a word is not a decimal point), `+5`
/// is no number, `1-15` is 1 and -15, and `5²` is none (`²` is a number but not a digit).
pub fn numbers(text: &str, decimal: char) -> Vec<f64> {
    static DOT: OnceLock<Regex> = OnceLock::new();
    static COMMA: OnceLock<Regex> = OnceLock::new();
    // Built once from constant patterns that the tests below exercise. Go's `\W` is ASCII-only.
    let re = if decimal == ',' {
        COMMA.get_or_init(|| Regex::new(r"[-+]?(?:[\pN.]+(?:,\pN+)?|(?:[^0-9A-Za-z_]|^),\pN+)").expect("valid regex"))
    } else {
        DOT.get_or_init(|| Regex::new(r"[-+]?(?:[\pN,]+(?:\.\pN+)?|(?:[^0-9A-Za-z_]|^)\.\pN+)").expect("valid regex"))
    };
    let group = if decimal == ',' { '.' } else { ',' };
    re.find_iter(text).filter_map(|m| parse_number(m.as_str(), decimal, group)).collect()
}

/// One candidate as goflow's `ParseNumber` reads it, or `None`.
fn parse_number(candidate: &str, decimal: char, group: char) -> Option<f64> {
    let mut s = String::with_capacity(candidate.len());
    for c in candidate.trim().chars() {
        match c {
            c if c == group => {}
            c if c == decimal => s.push('.'),
            c => match digit(c) {
                Some(d) => s.push((b'0' + d) as char),
                None => s.push(c),
            },
        }
    }
    let unsigned = s.strip_prefix('-').unwrap_or(&s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let valid = match frac {
        None => digits(int),
        Some(f) => (int.is_empty() || digits(int)) && digits(f),
    };
    // goflow's decimals hold 36 significant digits at most.
    if !valid || unsigned.bytes().filter(u8::is_ascii_digit).count() > 36 {
        return None;
    }
    let s = if s.starts_with('.') || s.starts_with("-.") { s.replacen('.', "0.", 1) } else { s };
    s.parse::<f64>().ok()
}

/// The first number of a text.
pub fn first_number(text: &str, decimal: char) -> Option<f64> {
    numbers(text, decimal).first().copied()
}
