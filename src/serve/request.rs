//! Reading requests: percent-decoding and query strings.

use serde_json::{Map, Value};

/// `%XX` decoded, and `+` as a space when `plus_is_space` (query strings and forms, not paths).
pub(super) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=x%20y` as a JSON object (a repeated key keeps its last value).
pub(super) fn parse_query(q: &str) -> Map<String, Value> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), Value::String(percent_decode(v, true)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_escapes_in_queries_are_kept_not_fatal() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("+250788000009", false), "+250788000009");
        assert_eq!(percent_decode("%2B250%20x", false), "+250 x");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%E2%82", true), "\u{FFFD}");
        let q = parse_query("a=1&&=x&b&c=%&a=2");
        assert_eq!(q.get("a"), Some(&Value::from("2")));
        assert_eq!(q.get(""), Some(&Value::from("x")));
        assert_eq!(q.get("b"), Some(&Value::from("")));
        assert_eq!(q.get("c"), Some(&Value::from("%")));
    }
}
