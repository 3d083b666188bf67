//! A trigger's request against its `expect` lines: the first field that is missing or of another type
//! is named in a `422`, before any run starts. What arrives as text (query parameters, headers, form
//! fields) and is declared `number` or `bool` is read as one, so that the run sees the type the checker
//! gave `@trigger.query.NAME`.
//!
//! Shapes are the compiled form (`crate::compile::shape_json`): `"text"`, `"number"`, `"bool"`,
//! `"json"`, `[SHAPE]`, and objects whose optional keys end in `?`.

use serde_json::{Map, Value};

/// Makes `value` conform to `shape`, or says why it cannot; `path` names it in the message
/// (`body.items[1].qty`). `from_text`: the value came as text and may be read as a number or boolean.
fn conform(value: &mut Value, shape: &Value, path: &str, from_text: bool) -> Result<(), String> {
    match shape {
        Value::String(kind) => match (kind.as_str(), &*value) {
            ("json", _) | ("text", Value::String(_)) | ("number", Value::Number(_)) | ("bool", Value::Bool(_)) => {
                Ok(())
            }
            ("number", Value::String(s)) if from_text => {
                match s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => {
                        *value = Value::Number(whole(n));
                        Ok(())
                    }
                    None => Err(format!("{path} must be a number, not {}", describe(value))),
                }
            }
            ("bool", Value::String(s)) if from_text && (s == "true" || s == "false") => {
                *value = Value::Bool(s == "true");
                Ok(())
            }
            (kind, _) => Err(format!("{path} must be {}, not {}", kind_phrase(kind), describe(value))),
        },
        Value::Array(inner) => {
            let Some(item) = inner.first() else { return Ok(()) };
            let Value::Array(items) = value else {
                return Err(format!("{path} must be a list, not {}", describe(value)));
            };
            items.iter_mut().enumerate().try_for_each(|(i, v)| conform(v, item, &format!("{path}[{i}]"), from_text))
        }
        Value::Object(fields) => {
            let Value::Object(given) = value else {
                return Err(format!("{path} must be an object, not {}", describe(value)));
            };
            fields.iter().try_for_each(|(key, shape)| field(given, key, shape, path, from_text))
        }
        _ => Ok(()),
    }
}

/// One declared key of an object: `key` or `key?` (optional).
fn field(given: &mut Map<String, Value>, key: &str, shape: &Value, path: &str, from_text: bool) -> Result<(), String> {
    let (name, optional) = match key.strip_suffix('?') {
        Some(name) => (name, true),
        None => (key, false),
    };
    let at = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    match given.get_mut(name) {
        None | Some(Value::Null) if optional => Ok(()),
        None | Some(Value::Null) => Err(format!("{at} is missing")),
        Some(v) => conform(v, shape, &at, from_text),
    }
}

/// A whole number as an integer (`2`, not `2.0`), as JSON writes it.
fn whole(n: serde_json::Number) -> serde_json::Number {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => serde_json::Number::from(f as i64),
        _ => n,
    }
}

fn kind_phrase(kind: &str) -> &'static str {
    match kind {
        "number" => "a number",
        "bool" => "true or false",
        _ => "text",
    }
}

/// What a value is, for a message: its kind, and short text as it is.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::String(_) => "a long text".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Checks a trigger's request against its `expect` lines (and reads declared numbers and booleans
/// out of text): the first field missing or of another type, named.
pub(super) fn expected(
    trigger: &crate::program::TriggerDef,
    headers: &mut Map<String, Value>,
    query: &mut Map<String, Value>,
    body: &mut Value,
    form: bool,
) -> Result<(), String> {
    // Headers and query parameters have no `?`: a declared one may be absent, but one that is there
    // must read as its type. Body fields are required unless marked `?`.
    for (name, shape) in &trigger.headers {
        if let Some(v) = headers.get_mut(&crate::net::header_key(name)) {
            conform(v, shape, &format!("header {name}"), true)?;
        }
    }
    for (name, shape) in &trigger.query {
        if let Some(v) = query.get_mut(name) {
            conform(v, shape, &format!("query parameter {name}"), true)?;
        }
    }
    if let Some(shape) = &trigger.body {
        if body.is_null() {
            return Err("the body is missing".into());
        }
        conform(body, shape, "body", form)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_and_mistyped_fields_are_named_and_text_is_read_as_declared() {
        let shape =
            json!({"order": "text", "customer": {"name": "text", "phone?": "text"}, "items": [{"qty": "number"}]});
        let mut ok =
            json!({"order": "A1", "customer": {"name": "Jo", "phone": null}, "items": [{"qty": 2}], "extra": 1});
        assert_eq!(conform(&mut ok, &shape, "body", false), Ok(()));
        let mut missing = json!({"order": "A1", "customer": {}, "items": []});
        assert_eq!(conform(&mut missing, &shape, "body", false), Err("body.customer.name is missing".into()));
        let mut mistyped = json!({"order": "A1", "customer": {"name": "Jo"}, "items": [{"qty": 1}, {"qty": "two"}]});
        assert_eq!(
            conform(&mut mistyped, &shape, "body", false),
            Err("body.items[1].qty must be a number, not \"two\"".into())
        );
        let mut not_text = json!({"order": 7, "customer": {"name": "Jo"}, "items": []});
        assert_eq!(
            conform(&mut not_text, &shape, "body", false),
            Err("body.order must be text, not the number 7".into())
        );
        // From text: numbers and booleans are read; JSON keeps its types.
        let mut page = json!("2");
        assert_eq!(conform(&mut page, &json!("number"), "query.page", true), Ok(()));
        assert_eq!(page, json!(2));
        let mut flag = json!("true");
        assert_eq!(conform(&mut flag, &json!("bool"), "query.flag", true), Ok(()));
        assert_eq!(flag, json!(true));
        let mut json_text = json!("2");
        assert!(conform(&mut json_text, &json!("number"), "body.n", false).is_err());
        let mut anything = json!([1, {"a": null}]);
        assert_eq!(conform(&mut anything, &json!("json"), "body", false), Ok(()));
    }
}
