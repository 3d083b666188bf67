//! The split tests of docs/language.md §5 with RapidPro semantics. Each returns the matched value (and, for
//! `has_pattern`, the groups) or `None`.

use std::sync::OnceLock;

use super::numbers::numbers;

use regex::Regex;

use crate::dates::Calendar;
use crate::split_test::SplitTest;

/// What a test matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// The matched value, saved by `split NAME =` as `@flow.NAME`.
    pub value: String,
    /// Regex groups by number (`@flow.NAME.extra.1`), for `has_pattern`.
    pub groups: Vec<(String, String)>,
}

impl Match {
    fn new(value: impl Into<String>) -> Self {
        Match { value: value.into(), groups: Vec::new() }
    }
}

/// Arguments of a named test, already evaluated.
pub enum Arg<'a> {
    /// Text (words, a prefix, a country code).
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A compiled regex.
    Regex(&'a Regex),
    /// A date.
    Date(jiff::civil::Date),
}

/// Runs a named test on `text`; numbers are read with `decimal`, dates with `calendar`.
pub fn run(test: SplitTest, text: &str, args: &[Arg<'_>], decimal: char, calendar: &Calendar) -> Option<Match> {
    let text_arg = |i: usize| match args.get(i) {
        Some(Arg::Text(t)) => *t,
        _ => "",
    };
    let num_arg = |i: usize| match args.get(i) {
        Some(Arg::Number(n)) => *n,
        _ => f64::NAN,
    };
    match test {
        SplitTest::HasText => {
            let t = text.trim();
            (!t.is_empty()).then(|| Match::new(t))
        }
        SplitTest::HasAnyWord => any_word(text, text_arg(0)),
        SplitTest::HasAllWords => all_words(text, text_arg(0)),
        SplitTest::HasPhrase => phrase(text, text_arg(0)),
        SplitTest::HasOnlyPhrase => only_phrase(text, text_arg(0)),
        SplitTest::HasBeginning => beginning(text, text_arg(0)),
        SplitTest::HasOnlyText => (!text.is_empty() && text == text_arg(0)).then(|| Match::new(text)),
        SplitTest::HasGroup => {
            // A list of names (`@contact.groups`), or one name.
            let names: Vec<String> = serde_json::from_str(text).unwrap_or_else(|_| vec![text.trim().to_string()]);
            let wanted = text_arg(0).trim().to_lowercase();
            names.into_iter().find(|n| !wanted.is_empty() && n.to_lowercase() == wanted).map(|n| Match::new(&n))
        }
        SplitTest::HasPattern => match args.first() {
            Some(Arg::Regex(re)) => pattern(text, re),
            _ => None,
        },
        SplitTest::HasEmail => email(text),
        SplitTest::HasPhone => super::phone::find(text, text_arg(0)).map(Match::new),
        SplitTest::HasNumber => numbers(text, decimal).first().map(|&n| Match::new(fmt(n))),
        SplitTest::HasNumberBetween => first_number_where(text, decimal, |n| num_arg(0) <= n && n <= num_arg(1)),
        SplitTest::HasNumberLt => first_number_where(text, decimal, |n| n < num_arg(0)),
        SplitTest::HasNumberLte => first_number_where(text, decimal, |n| n <= num_arg(0)),
        SplitTest::HasNumberGt => first_number_where(text, decimal, |n| n > num_arg(0)),
        SplitTest::HasNumberGte => first_number_where(text, decimal, |n| n >= num_arg(0)),
        SplitTest::HasNumberEq => first_number_where(text, decimal, |n| n == num_arg(0)),
        // The moment when the reply gives a time (`1977-06-23T15:34:00.000-05:00`, in the contact's
        // zone), as RapidPro keeps it; the comparisons match the date alone.
        SplitTest::HasDate => crate::dates::read(text, calendar).map(|when| Match::new(when.iso())),
        SplitTest::HasDateLt => date_where(text, calendar, |d| date_arg(args).is_some_and(|a| d < a)),
        SplitTest::HasDateEq => date_where(text, calendar, |d| date_arg(args).is_some_and(|a| d == a)),
        SplitTest::HasDateGt => date_where(text, calendar, |d| date_arg(args).is_some_and(|a| d > a)),
        SplitTest::HasTime => crate::dates::find_time_in(text, calendar).map(|t| Match::new(crate::dates::time_iso(t))),
    }
}

fn date_arg(args: &[Arg<'_>]) -> Option<jiff::civil::Date> {
    match args.first() {
        Some(Arg::Date(d)) => Some(*d),
        _ => None,
    }
}

/// The date in the text (docs/language.md §5 "Dates and times"), when it satisfies `ok`, as `YYYY-MM-DD`.
fn date_where(text: &str, calendar: &Calendar, ok: impl Fn(jiff::civil::Date) -> bool) -> Option<Match> {
    crate::dates::find_date_in(text, calendar).filter(|&d| ok(d)).map(|d| Match::new(crate::dates::date_iso(d)))
}

fn fmt(n: f64) -> String {
    let mut s = String::new();
    super::value::push_number(&mut s, n);
    s
}

// ---------------------------------------------------------------- words

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Word,
    Symbol,
    Separator,
}

/// Combining marks that belong to the word they follow.
fn is_mark(c: char) -> bool {
    // Indic scripts' signs (virama, vowel signs) outside their dandas.
    let indic = (0x0900..=0x0DFF).contains(&(c as u32)) && !matches!(c, '\u{0964}' | '\u{0965}');
    indic
        || matches!(c as u32, 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E | 0x0EB1 | 0x0EB4..=0x0EBC | 0x0EC8..=0x0ECD
            | 0x1000..=0x109F | 0x17B4..=0x17D3 | 0x302A..=0x302F | 0x3099..=0x309A)
            && !c.is_alphanumeric()
        || matches!(c as u32, 0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Symbol characters (currency, maths, arrows, pictographs, emoji), each a word of its own.
fn is_symbol(c: char) -> bool {
    if c.is_ascii() {
        return "$+<=>^`|~".contains(c);
    }
    matches!(c as u32,
        0x00A2..=0x00A6 | 0x00A8 | 0x00A9 | 0x00AC | 0x00AE..=0x00B1 | 0x00B4 | 0x00B8 | 0x00D7 | 0x00F7
        | 0x02C2..=0x02C5 | 0x02D2..=0x02DF | 0x2044 | 0x2052 | 0x20A0..=0x20CF | 0x2100..=0x2101
        | 0x2103..=0x2106 | 0x2108..=0x2109 | 0x2114 | 0x2116..=0x2118 | 0x211E..=0x2123 | 0x2125 | 0x2127
        | 0x2129 | 0x212E | 0x213A..=0x213B | 0x2140..=0x2144 | 0x214A..=0x214D | 0x214F | 0x2190..=0x2307
        | 0x230C..=0x2328 | 0x232B..=0x2426 | 0x2440..=0x244A | 0x249C..=0x24E9 | 0x2500..=0x2767
        | 0x2794..=0x27C4 | 0x27C7..=0x27E5 | 0x27F0..=0x2982 | 0x2999..=0x29D7 | 0x29DC..=0x29FB
        | 0x29FE..=0x2B73 | 0x2B76..=0x2BFF | 0x2CE5..=0x2CEA | 0x2E80..=0x2FFB | 0x3004 | 0x3012..=0x3013
        | 0x3020 | 0x3036..=0x3037 | 0x303E..=0x303F | 0x309B..=0x309C | 0x3190..=0x3191 | 0x3196..=0x319F
        | 0x31C0..=0x31E3 | 0x3200..=0x321E | 0x322A..=0x3247 | 0x3250 | 0x3260..=0x327F | 0x328A..=0x32B0
        | 0x32C0..=0x33FF | 0x4DC0..=0x4DFF | 0xA490..=0xA4C6 | 0xA700..=0xA716 | 0xA720..=0xA721
        | 0xA789..=0xA78A | 0xFB29 | 0xFDFC..=0xFDFD | 0xFE62 | 0xFE64..=0xFE66 | 0xFE69 | 0xFF04 | 0xFF0B
        | 0xFF1C..=0xFF1E | 0xFF3E | 0xFF40 | 0xFF5C | 0xFF5E | 0xFFE0..=0xFFE6 | 0xFFE8..=0xFFEE
        | 0xFFFC..=0xFFFD | 0x1D000..=0x1D245 | 0x1D300..=0x1D356 | 0x1EE00..=0x1EEFF | 0x1F000..=0x1F3FA
        | 0x1F400..=0x1FAFF)
}

fn class(c: char) -> Class {
    // Emoji presentation selectors, joiners and skin tones only dress the symbol before them.
    if matches!(c as u32, 0xFE00..=0xFE0F | 0x200D | 0x1F3FB..=0x1F3FF) {
        Class::Separator
    } else if c.is_alphanumeric() || c == '_' || c == '\'' || is_mark(c) {
        Class::Word
    } else if is_symbol(c) {
        Class::Symbol
    } else {
        Class::Separator
    }
}

/// The words of a text, as slices of it.
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match class(c) {
            Class::Word => {
                start.get_or_insert(i);
            }
            other => {
                if let Some(s) = start.take() {
                    out.push(&text[s..i]);
                }
                if other == Class::Symbol {
                    out.push(&text[i..i + c.len_utf8()]);
                }
            }
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

fn lower(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_lowercase()).collect()
}

fn any_word(text: &str, arg: &str) -> Option<Match> {
    let wanted = lower(&words(arg));
    let found: Vec<&str> = words(text).into_iter().filter(|w| wanted.contains(&w.to_lowercase())).collect();
    (!found.is_empty()).then(|| Match::new(found.join(" ")))
}

fn all_words(text: &str, arg: &str) -> Option<Match> {
    let wanted = lower(&words(arg));
    let tw = words(text);
    let lowered = lower(&tw);
    if wanted.is_empty() || !wanted.iter().all(|w| lowered.contains(w)) {
        return None;
    }
    let found: Vec<&str> = tw.iter().zip(&lowered).filter(|(_, l)| wanted.contains(l)).map(|(w, _)| *w).collect();
    Some(Match::new(found.join(" ")))
}

fn phrase(text: &str, arg: &str) -> Option<Match> {
    let wanted = lower(&words(arg));
    if wanted.is_empty() {
        return Some(Match::new(""));
    }
    let tw = words(text);
    let lowered = lower(&tw);
    (0..lowered.len().saturating_sub(wanted.len() - 1))
        .find(|&i| lowered[i..i + wanted.len()] == wanted[..])
        .map(|i| Match::new(tw[i..i + wanted.len()].join(" ")))
}

fn only_phrase(text: &str, arg: &str) -> Option<Match> {
    let tw = words(text);
    (lower(&tw) == lower(&words(arg))).then(|| Match::new(tw.join(" ")))
}

fn beginning(text: &str, arg: &str) -> Option<Match> {
    let text = text.trim();
    let arg = arg.trim();
    let mut end = 0;
    let mut chars = text.char_indices();
    for a in arg.chars() {
        let (i, t) = chars.next()?;
        if !t.to_lowercase().eq(a.to_lowercase()) {
            return None;
        }
        end = i + t.len_utf8();
    }
    Some(Match::new(&text[..end]))
}

// ---------------------------------------------------------------- patterns and e-mail

fn pattern(text: &str, re: &Regex) -> Option<Match> {
    let caps = re.captures(text)?;
    let whole = caps.get(0).map_or("", |m| m.as_str());
    let groups = (0..caps.len())
        .map(|i| (i.to_string(), caps.get(i).map_or(String::new(), |m| m.as_str().to_string())))
        .collect();
    Some(Match { value: whole.to_string(), groups })
}

fn email(text: &str) -> Option<Match> {
    static EMAIL: OnceLock<Regex> = OnceLock::new();
    // Built once from a constant pattern that is tested below.
    let re = EMAIL.get_or_init(|| {
        // goflow's pattern: a local part that starts with a letter or digit, a domain of labels.
        Regex::new(r"[\pL\pN][-_+$~.\pL\pN]*@[\pL\pN][-_\pL\pN]*(?:\.[\pL\pN][-_\pL\pN]*)+").expect("valid regex")
    });
    re.find(text).map(|m| Match::new(m.as_str()))
}

fn first_number_where(text: &str, decimal: char, ok: impl Fn(f64) -> bool) -> Option<Match> {
    numbers(text, decimal).into_iter().find(|&n| ok(n)).map(|n| Match::new(fmt(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(test: SplitTest, text: &str, arg: &str) -> Option<String> {
        run(test, text, &[Arg::Text(arg)], '.', &Calendar::default()).map(|m| m.value)
    }

    fn n(test: SplitTest, text: &str, args: &[f64]) -> Option<String> {
        let args: Vec<Arg<'_>> = args.iter().map(|&a| Arg::Number(a)).collect();
        run(test, text, &args, '.', &Calendar::default()).map(|m| m.value)
    }

    #[test]
    fn words_keep_apostrophes_and_split_symbols() {
        assert_eq!(words("don't stop-me now, café!"), ["don't", "stop", "me", "now", "café"]);
        assert_eq!(words("I ❤️ $5 deals"), ["I", "❤", "$", "5", "deals"]);
        assert_eq!(words("it’s"), ["it", "s"]);
        assert_eq!(words("  "), Vec::<&str>::new());
        assert_eq!(words("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
    }

    #[test]
    fn any_and_all_words() {
        assert_eq!(m(SplitTest::HasAnyWord, "The order has SHIPPED.", "shipped pending"), Some("SHIPPED".into()));
        assert_eq!(
            m(SplitTest::HasAnyWord, "pending? processing!", "processing pending"),
            Some("pending processing".into())
        );
        assert_eq!(m(SplitTest::HasAnyWord, "cafe", "café"), None, "accents are kept");
        assert_eq!(m(SplitTest::HasAnyWord, "CAFÉ au lait", "café"), Some("CAFÉ".into()));
        assert_eq!(m(SplitTest::HasAnyWord, "", "yes"), None);
        assert_eq!(m(SplitTest::HasAnyWord, "I 👍 it", "👍"), Some("👍".into()));
        assert_eq!(
            m(SplitTest::HasAllWords, "Shipped today, shipped", "shipped today"),
            Some("Shipped today shipped".into())
        );
        assert_eq!(m(SplitTest::HasAllWords, "shipped", "shipped today"), None);
        assert_eq!(m(SplitTest::HasAllWords, "anything", ""), None);
    }

    #[test]
    fn phrases_and_beginnings() {
        assert_eq!(m(SplitTest::HasPhrase, "the the Quick fox", "the quick"), Some("the Quick".into()));
        assert_eq!(m(SplitTest::HasPhrase, "quick the", "the quick"), None);
        assert_eq!(m(SplitTest::HasPhrase, "x", ""), Some("".into()));
        assert_eq!(m(SplitTest::HasOnlyPhrase, " Yes,  please! ", "yes please"), Some("Yes please".into()));
        assert_eq!(m(SplitTest::HasOnlyPhrase, "yes please now", "yes please"), None);
        assert_eq!(m(SplitTest::HasBeginning, "  Order 123", "order"), Some("Order".into()));
        assert_eq!(m(SplitTest::HasBeginning, "Ord", "order"), None);
        assert_eq!(m(SplitTest::HasBeginning, "ÉCOLE", "éc"), Some("ÉC".into()));
    }

    #[test]
    fn numbers_follow_the_rules() {
        let all = |t: &str, d: char| numbers(t, d);
        assert_eq!(all("J'AI 20ANS", '.'), [20.0]);
        assert_eq!(all("hi .51", '.'), [0.51]);
        assert_eq!(all("1,000,000 people", '.'), [1_000_000.0]);
        assert_eq!(all("+5 and -3 but 1-2", '.'), [-3.0, 1.0, -2.0]);
        assert_eq!(all("1.234,5", ','), [1234.5]);
        assert_eq!(all("1,5", '.'), [15.0]);
        assert_eq!(all("lOO", '.'), Vec::<f64>::new());
        assert_eq!(all("٣٤ and ۵ and ৭", '.'), [34.0, 5.0, 7.0]);
        assert_eq!(all("", '.'), Vec::<f64>::new());
        assert_eq!(n(SplitTest::HasNumberGt, "1 then 50", &[10.0]), Some("50".into()));
        assert_eq!(n(SplitTest::HasNumberBetween, "-11 degrees", &[-12.5, -10.0]), Some("-11".into()));
        assert_eq!(n(SplitTest::HasNumberEq, "I am 20.0", &[20.0]), Some("20".into()));
        assert_eq!(n(SplitTest::HasNumberLt, "none", &[1.0]), None);
        assert_eq!(
            run(SplitTest::HasNumber, "costs 0.5", &[], '.', &Calendar::default()).map(|m| m.value),
            Some("0.5".into())
        );
    }

    #[test]
    fn patterns_emails_and_text() {
        let re = regex::RegexBuilder::new(r"^order (\d+)$").case_insensitive(true).multi_line(true).build().unwrap();
        let got = run(SplitTest::HasPattern, "hello\nORDER 42", &[Arg::Regex(&re)], '.', &Calendar::default()).unwrap();
        assert_eq!(got.value, "ORDER 42");
        assert_eq!(got.groups[1], ("1".to_string(), "42".to_string()));
        assert_eq!(
            run(SplitTest::HasEmail, "mail me: joe.b+x@example.co.uk.", &[], '.', &Calendar::default())
                .map(|m| m.value),
            Some("joe.b+x@example.co.uk".into())
        );
        assert_eq!(run(SplitTest::HasEmail, "no at here", &[], '.', &Calendar::default()), None);
        assert_eq!(
            run(SplitTest::HasText, "  hi  ", &[], '.', &Calendar::default()).map(|m| m.value),
            Some("hi".into())
        );
        assert_eq!(run(SplitTest::HasText, " \n ", &[], '.', &Calendar::default()), None);
    }
}
