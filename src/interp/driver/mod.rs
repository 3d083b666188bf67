//! What starting a run takes besides the program, the same for `flowc run`, `flowc test` and
//! `flowc serve`: the trigger request in its one form, mock answers checked against the flows, and
//! [`RunOptions`] with defaults. Runs then go through [`super::start_with_input`] and
//! [`super::resume`].

use serde_json::{Map, Value};

use super::{MockAnswers, Offline, RunOptions};
use crate::program::{Program, TriggerDef};

mod expect;

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

/// A trigger's request as a run reads it (`@trigger`), given as JSON by `flowc run --trigger` and
/// flow tests: `method`, `headers`, `query` and `body`. Header and query values arrive as text, as over
/// HTTP: a number or a flag given here becomes its text. Without a method, the first the trigger that
/// starts `flow` accepts (`POST` when none does). Then as [`request`], against that trigger's `expect`.
pub fn trigger_request(program: &Program, flow: Option<&str>, value: Value) -> Result<Value, String> {
    let Value::Object(mut fields) = value else {
        return Err("a trigger request is an object: {\"headers\": {...}, \"query\": {...}, \"body\": ...}".into());
    };
    if let Some(key) = fields.keys().find(|k| !crate::ast::TRIGGER_PARTS.contains(&k.as_str())) {
        return Err(format!("unknown key `{key}` (the keys are method, headers, query and body)"));
    }
    let mut parts = [Map::new(), Map::new()];
    for (part, map) in ["headers", "query"].into_iter().zip(&mut parts) {
        *map = match fields.remove(part) {
            None => Map::new(),
            Some(Value::Object(given)) => {
                given.into_iter().map(|(k, v)| (k, Value::String(super::value_text(&v)))).collect()
            }
            Some(_) => return Err(format!("`{part}` is an object of names and values")),
        };
    }
    let trigger =
        super::find_flow(program, flow).ok().and_then(|(index, _)| program.triggers.iter().find(|t| t.flow == index));
    let method = match fields.remove("method") {
        None => trigger.and_then(|t| t.methods.first()).map_or("POST", |m| m.as_str()).to_string(),
        Some(Value::String(m)) => m,
        Some(_) => return Err("`method` is text, e.g. \"POST\"".into()),
    };
    let [headers, query] = parts;
    let body = fields.remove("body").unwrap_or(Value::Null);
    request(trigger, &method, headers, query, body, false)
}

/// The one form of a trigger's request, for `flowc run`, flow tests and `flowc serve` alike: header
/// names as `crate::net::header_key` writes them, `body` `null` when there is none, and what the
/// trigger's `expect` lines declare `number` or `bool` read so out of text (`form`: the body is a form,
/// whose fields are text too). The first field that is missing or of another type is the error.
pub fn request(
    trigger: Option<&TriggerDef>,
    method: &str,
    headers: Map<String, Value>,
    mut query: Map<String, Value>,
    mut body: Value,
    form: bool,
) -> Result<Value, String> {
    let mut headers = headers.into_iter().map(|(k, v)| (crate::net::header_key(&k), v)).collect();
    if let Some(trigger) = trigger {
        expect::expected(trigger, &mut headers, &mut query, &mut body, form)
            .map_err(|why| format!("the request does not match the trigger's expect: {why}"))?;
    }
    Ok(serde_json::json!({ "method": method, "headers": headers, "query": query, "body": body }))
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
