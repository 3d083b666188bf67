//! `has_phone`: phone numbers found as RapidPro finds them (goflow's `FindPhoneNumbers` and gocommon's
//! `ParseNumber`), judged with libphonenumber's data through the `phonenumber` crate.
//!
//! A candidate is a run of `\+?[0-9 .()-]{5,}`; it is cleaned to its digits (keeping a leading `+`),
//! parsed for the country argument (ISO 3166 alpha-2; numbers without `+` need one), and accepted when
//! its length is possible for its country (libphonenumber's "is possible", not "is valid": a number on a
//! range newer than the data still counts; one possible only as a local number does not) and, in
//! E.164, it is `+` and 7 to 15 digits. The matched value is the E.164 form.

use std::sync::OnceLock;

use phonenumber::metadata::DATABASE;
use regex::Regex;

/// The first phone number in `text`, in E.164.
pub fn find(text: &str, country: &str) -> Option<String> {
    static CANDIDATE: OnceLock<Regex> = OnceLock::new();
    // Built once from a constant pattern that the tests below exercise.
    let re = CANDIDATE.get_or_init(|| Regex::new(r"\+?[0-9 .()\-]{5,}").expect("valid regex"));
    let country: Option<phonenumber::country::Id> = country.trim().to_ascii_uppercase().parse().ok();
    re.find_iter(text).find_map(|m| e164(m.as_str(), country))
}

/// A candidate in E.164 when it is a possible number.
fn e164(candidate: &str, country: Option<phonenumber::country::Id>) -> Option<String> {
    let trimmed = candidate.trim();
    let mut raw: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    if trimmed.starts_with('+') {
        raw.insert(0, '+');
    }
    let number = phonenumber::parse(country, &raw).ok()?;
    if !possible(&number) {
        return None;
    }
    let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
    let digits = formatted.strip_prefix('+')?;
    ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(formatted)
}

/// libphonenumber's `isPossibleNumber` for a number of unknown type: its national number has a length
/// that numbers of its country have (a length only local numbers have does not count).
fn possible(number: &phonenumber::PhoneNumber) -> bool {
    // The region of the number, or (as libphonenumber's possible-number check does) the main region of
    // its calling code when no region claims the number.
    let main_region = || {
        let regions = DATABASE.by_code(&number.code().value())?;
        regions.iter().find(|m| m.is_main_country_for_code()).or(regions.first()).copied()
    };
    let Some(meta) = number.metadata(&DATABASE).or_else(main_region) else { return false };
    let d = meta.descriptors();
    // The data leaves the general description's lengths empty; as libphonenumber's build does, take
    // the union of the lengths of every kind of number.
    let kinds = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    let national = number.national();
    let length = (national.value().checked_ilog10().map_or(1, |l| l + 1) + u32::from(national.zeros())) as u16;
    let has = |lengths: fn(&phonenumber::metadata::Descriptor) -> &[u16]| {
        lengths(d.general()).contains(&length) || kinds.iter().flatten().any(|k| lengths(k).contains(&length))
    };
    !has(phonenumber::metadata::Descriptor::possible_local_length)
        && has(phonenumber::metadata::Descriptor::possible_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str, cc: &str) -> Option<String> {
        find(text, cc)
    }

    #[test]
    fn international_and_local_numbers() {
        assert_eq!(phone("call +250 788 123 123 now", ""), Some("+250788123123".into()));
        assert_eq!(phone("my number is 0788123123", "RW"), Some("+250788123123".into()));
        assert_eq!(phone("(202) 555-0143", "US"), Some("+12025550143".into()));
        assert_eq!(phone("1-202-555-0143", "us"), Some("+12025550143".into()));
        assert_eq!(phone("0788123123", ""), None, "no country, no +");
        assert_eq!(phone("order 12", "RW"), None, "too short");
        assert_eq!(phone("", "RW"), None);
        assert_eq!(phone("+99999999999999999999999999", ""), None);
    }
}
