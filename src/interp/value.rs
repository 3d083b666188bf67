//! Runtime values are JSON values; this module gives them the meanings flows need: text, numbers,
//! truth, and key paths.

use serde_json::{Map, Value};

/// Appends the text of a value as a template shows it: strings as they are, whole numbers without a
/// fraction, `null` as nothing, lists and objects as JSON.
pub(crate) fn push_text(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => push_number(out, n.as_f64().unwrap_or(0.0)),
        other => out.push_str(&other.to_string()),
    }
}

/// The text of a value.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => {
            let mut out = String::new();
            push_text(&mut out, v);
            out
        }
    }
}

/// Appends a number: integers without `.0`, others in their shortest form.
pub(crate) fn push_number(out: &mut String, n: f64) {
    use std::fmt::Write;
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let _ = write!(out, "{}", n as i64);
    } else {
        let _ = write!(out, "{n}");
    }
}

/// A number as a JSON value (integers stay integers).
pub(crate) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A value read as a number: numbers as they are, text by its first number (docs/language.md §5), true as 1.
pub(crate) fn to_number(v: &Value, decimal: char) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => super::numbers::first_number(s, decimal),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Whether a value counts as true: false, null, 0, "" and empty lists or objects do not.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Whether a value is "empty" for `default(x, fallback)`.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `value.key`: object keys, list indices (`items.0`); `None` when absent.
pub(crate) fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

/// Follows a key path from `root`.
pub(crate) fn get_path<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, k| get(v, k))
}

/// Merges the keys of `from` into `into` (a webhook's JSON answer into `@extra`).
pub(crate) fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        into.insert(k, v);
    }
}
