//! What starting a run takes besides the program, the same for `flowc run`, `flowc test` and
//! `flowc serve`: the trigger request in its one form, mock answers checked against the flows, and
//! [`RunOptions`] with defaults. Runs then go through [`super::start_with_input`] and
//! [`super::resume`].

use serde_json::{Map, Value};

use super::{MockAnswers, Offline, RunOptions};
use crate::program::Program;

/// Reads no environment: every secret is missing.
fn no_env(_: &str) -> Option<String> {
    None
}

static OFFLINE: Offline = Offline;

impl Default for RunOptions<'static> {
    /// Offline (no webhook is called), no environment, the default step limit, no log, UTC, the
    /// system clock.
    fn default() -> Self {
        RunOptions {
            client: &OFFLINE,
            env: &no_env,
            max_steps: super::DEFAULT_MAX_STEPS,
            log: None,
            zone: None,
            now_ms: None,
        }
    }
}

/// A trigger's request as a run reads it (`@trigger`): `method`, `headers` (names as
/// `crate::net::header_key` writes them), `query` and `body` (`null` when there is none). Header and
/// query values arrive as text, as over HTTP: a number or a flag given here becomes its text. Without
/// a method, the first the trigger that starts `flow` accepts (`POST` when none does).
pub fn trigger_request(program: &Program, flow: Option<&str>, value: Value) -> Result<Value, String> {
    let Value::Object(mut fields) = value else {
        return Err("a trigger request is an object: {\"headers\": {...}, \"query\": {...}, \"body\": ...}".into());
    };
    if let Some(key) = fields.keys().find(|k| !crate::ast::TRIGGER_PARTS.contains(&k.as_str())) {
        return Err(format!("unknown key `{key}` (the keys are method, headers, query and body)"));
    }
    if fields.get("method").is_some_and(|m| !m.is_string()) {
        return Err("`method` is text, e.g. \"POST\"".into());
    }
    for part in ["headers", "query"] {
        let map = match fields.remove(part) {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(format!("`{part}` is an object of names and values")),
        };
        let map = map
            .into_iter()
            .map(|(k, v)| {
                let k = if part == "headers" { crate::net::header_key(&k) } else { k };
                (k, Value::String(super::value_text(&v)))
            })
            .collect();
        fields.insert(part.to_string(), Value::Object(map));
    }
    fields.entry("body").or_insert(Value::Null);
    if !fields.contains_key("method") {
        let method = super::find_flow(program, flow)
            .ok()
            .and_then(|(index, _)| program.triggers.iter().find(|t| t.flow == index))
            .and_then(|t| t.methods.first())
            .map_or("POST", |m| m.as_str());
        fields.insert("method".into(), Value::String(method.to_string()));
    }
    Ok(Value::Object(fields))
}

/// Why mock answers were not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockError {
    /// No flow (or not the named one) calls a webhook of that name; the webhooks it does call.
    #[error("no webhook is named `{name}`")]
    UnknownWebhook {
        /// The name given.
        name: String,
        /// The webhooks called.
        known: Vec<String>,
    },
    /// The answers do not read as mock answers.
    #[error("{0}")]
    Invalid(String),
}

/// Mock answers for the webhook `name` from their JSON `text`, when one of the flows (or `flow`,
/// when named) calls it.
pub fn mock_answers(program: &Program, flow: Option<&str>, name: &str, text: &str) -> Result<MockAnswers, MockError> {
    let called: Vec<String> = program
        .flows
        .iter()
        .filter(|f| flow.is_none_or(|n| f.name == n))
        .flat_map(|f| f.webhooks.iter().cloned())
        .collect();
    if !called.iter().any(|w| w == name) {
        return Err(MockError::UnknownWebhook { name: name.to_string(), known: called });
    }
    MockAnswers::parse(text).map_err(MockError::Invalid)
}
