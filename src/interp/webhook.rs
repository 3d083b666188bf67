//! Webhook calls: the interpreter builds a [`Request`] (URL, auth, body), a [`WebhookClient`] sends it
//! with its retries, and the answer fills `@flow.NAME`, `@extra` and `@webhook.NAME`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::eval::url_encode;
use super::value::{merge, text};
use super::{CallMeta, Event, Machine, Slot};
use crate::ast::{KeyPlace, Method};
use crate::net::check_url;
use crate::program::{AuthDef, Secret, TplPart, WebhookCall};

/// A request ready to send.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request {
    /// The webhook's name.
    pub name: String,
    /// The flow it belongs to.
    pub flow: String,
    /// The run making it.
    pub run_id: String,
    /// Method.
    pub method: Method,
    /// Full URL with query.
    pub url: String,
    /// Headers, including auth and content type.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<String>,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First retry delay.
    pub backoff_ms: u64,
    /// The URL with secret query values shown as `***`.
    pub display_url: String,
    /// Headers whose values are secret (authorization, API keys).
    pub secret_headers: Vec<String>,
    /// Secret values to redact from anything shown or logged.
    #[serde(skip)]
    pub secrets: Vec<String>,
}

impl Request {
    /// `s` with every secret replaced by `***`.
    pub fn redact(&self, s: &str) -> String {
        redact(s, &self.secrets)
    }

    /// The headers as they may be shown: secret ones as `***`, the others redacted.
    pub fn display_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let secret = self.secret_headers.iter().any(|s| s.eq_ignore_ascii_case(k));
                (k.clone(), if secret { "***".to_string() } else { self.redact(v) })
            })
            .collect()
    }
}

/// Longest `Retry-After` honoured; longer ones are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// A random number from the standard library's per-process random hash keys (no rand crate needed
/// for jitter).
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// The delay before retry `n` (1-based): `backoff * 2^(n-1)`, between half and all of it (jitter), and
/// at least what `Retry-After` asks for.
pub fn retry_delay(backoff_ms: u64, retry: u32, retry_after: Option<Duration>) -> Duration {
    let full = backoff_ms.saturating_mul(1 << (retry.saturating_sub(1)).min(16));
    let jittered = full / 2 + random() % (full / 2 + 1);
    let delay = Duration::from_millis(jittered);
    match retry_after {
        Some(after) => delay.max(after.min(MAX_RETRY_AFTER)),
        None => delay,
    }
}

/// Secrets shorter than this are hidden only where they are known to be (auth headers, key
/// parameters): searching text for them would mangle it.
pub const MIN_REDACTED_LEN: usize = 4;

/// `s` with every secret replaced by `***`.
pub fn redact(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= MIN_REDACTED_LEN) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// One attempt of a call, as the webhook log records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it started (ISO 8601).
    pub time: String,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Connection error, timeout or other failure.
    pub error: Option<String>,
    /// Duration of the attempt.
    pub elapsed_ms: u64,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Response body (truncated in the log).
    pub response_body: Option<String>,
}

/// The result of a call after all its attempts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CallOutcome {
    /// Status of the last answer.
    pub status: Option<u16>,
    /// Headers of the last answer.
    pub headers: Vec<(String, String)>,
    /// Body of the last answer.
    pub body: String,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// From the first attempt to the end.
    pub elapsed_ms: u64,
    /// Set when the call failed.
    pub error: Option<String>,
    /// Answered by a mock.
    pub mocked: bool,
}

impl CallOutcome {
    /// A failure before any attempt (bad URL, missing secret).
    pub fn refused(error: String) -> Self {
        CallOutcome { error: Some(error), ..CallOutcome::default() }
    }

    /// Whether the call succeeded: a 2xx answer.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends webhook requests.
pub trait WebhookClient: Sync {
    /// Sends `request` with its retries and returns the outcome. Never panics on bad answers.
    fn call(&self, request: &Request) -> CallOutcome;

    /// Whether calls to this webhook are answered without the network (then missing connector
    /// secrets do not stop the call).
    fn is_mocked(&self, _webhook: &str) -> bool {
        false
    }
}

/// Sends calls whose URL starts with one origin to another (`flowc run --route`), e.g. a service's
/// production address to a local test server.
pub struct Routed<'a> {
    /// `(from, to)` URL prefixes.
    pub routes: Vec<(String, String)>,
    /// The client that sends.
    pub inner: &'a dyn WebhookClient,
}

impl WebhookClient for Routed<'_> {
    fn call(&self, request: &Request) -> CallOutcome {
        match self.routes.iter().find(|(from, _)| request.url.starts_with(from.as_str())) {
            Some((from, to)) => {
                let mut routed = request.clone();
                routed.url = format!("{to}{}", &request.url[from.len()..]);
                self.inner.call(&routed)
            }
            None => self.inner.call(request),
        }
    }

    fn is_mocked(&self, webhook: &str) -> bool {
        self.inner.is_mocked(webhook)
    }
}

/// A client that refuses every call (no network configured).
pub struct Offline;

impl WebhookClient for Offline {
    fn call(&self, request: &Request) -> CallOutcome {
        CallOutcome::refused(format!("no network access for webhook `{}` (give it a mock answer)", request.name))
    }
}

/// What one attempt of a call got.
pub enum Answer {
    /// An HTTP answer (any status).
    Response {
        /// The status.
        status: u16,
        /// The headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// No answer: a connection error, a timeout, a refused address.
    Failed {
        /// What happened.
        error: String,
        /// Whether another attempt may help (connection errors and timeouts).
        retryable: bool,
    },
}

/// Makes the attempts of a call under §6's retry rules: up to `retries` more after the first when an
/// attempt fails with a connection error, a timeout, a 5xx or a 429, waiting `backoff` doubled each time
/// (with jitter, and at least the answer's `Retry-After`) through `pause`. `attempt` gets the attempt
/// number (from 1) and makes it. The network client and the simulator's mocks share these rules.
pub fn with_retries(
    req: &Request,
    mut attempt: impl FnMut(u32) -> (Answer, u64),
    mut pause: impl FnMut(std::time::Duration),
) -> CallOutcome {
    let start = std::time::Instant::now();
    let mut outcome = CallOutcome::default();
    let mut virtual_ms = 0u64;
    let tries = req.retries.min(4) + 1;
    for n in 1..=tries {
        let time = crate::time::now_iso();
        let (answer, elapsed_ms) = attempt(n);
        virtual_ms += elapsed_ms;
        let (retryable, wait_hint) = match answer {
            Answer::Response { status, headers, body } => {
                let retryable = status >= 500 || status == 429;
                let hint = retry_after(&headers);
                outcome.attempts.push(Attempt {
                    attempt: n,
                    time,
                    status: Some(status),
                    error: None,
                    elapsed_ms,
                    response_headers: headers.clone(),
                    response_body: Some(body.clone()),
                });
                outcome.status = Some(status);
                outcome.error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
                outcome.headers = headers;
                outcome.body = body;
                (retryable, hint)
            }
            Answer::Failed { error, retryable } => {
                outcome.attempts.push(Attempt {
                    attempt: n,
                    time,
                    status: None,
                    error: Some(error.clone()),
                    elapsed_ms,
                    response_headers: Vec::new(),
                    response_body: None,
                });
                outcome.status = None;
                outcome.error = Some(error);
                (retryable, None)
            }
        };
        if outcome.error.is_none() || !retryable || n == tries {
            break;
        }
        pause(retry_delay(req.backoff_ms, n, wait_hint));
    }
    // A mock's attempts take no real time: its elapsed time is the sum of the delays it declares.
    outcome.elapsed_ms = (start.elapsed().as_millis() as u64).max(virtual_ms);
    let n = outcome.attempts.len();
    if let Some(e) = outcome.error.as_mut().filter(|_| n > 1) {
        *e = format!("{e} (after {n} attempts)");
    }
    outcome
}

fn retry_after(headers: &[(String, String)]) -> Option<std::time::Duration> {
    let value = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?.1.trim().to_string();
    value.parse::<u64>().ok().map(std::time::Duration::from_secs)
}

/// A canned answer for `flowc run --mock NAME=FILE`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockAnswer {
    /// HTTP status (default 200).
    #[serde(default = "ok_status")]
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: HashMap<String, String>,
    /// Body: JSON, or a string sent as it is.
    #[serde(default)]
    pub body: Value,
    /// How long the answer takes, in milliseconds (no real time passes): at or past the webhook's
    /// `timeout`, the attempt times out.
    #[serde(default)]
    pub delay_ms: u64,
    /// No answer at all: the attempt fails with this connection error (e.g. "connection refused").
    #[serde(default)]
    pub error: Option<String>,
}

/// The answers of one mocked webhook: one for every attempt, or a list used attempt by attempt (the last
/// one repeats), so retries and failures can be tried offline.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum MockAnswers {
    /// Answers in order (tried first: serde would also read a list as one answer's fields).
    Several(Vec<MockAnswer>),
    /// The same answer every time.
    One(MockAnswer),
}

impl MockAnswers {
    /// Reads a mock file: one answer, or a non-empty list of them. The error names what is wrong and
    /// where (the answer's place in the list, the key, serde's line and column).
    pub fn parse(text: &str) -> Result<MockAnswers, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let answer = |v: Value, place: String| -> Result<MockAnswer, String> {
            let a: MockAnswer = serde_json::from_value(v).map_err(|e| {
                format!("{place}{e} (an answer has the keys status, headers, body, delay_ms, error; all optional)")
            })?;
            if !(100..=599).contains(&a.status) {
                return Err(format!("{place}status {} is not an HTTP status (100 to 599)", a.status));
            }
            if a.error.is_some() && (a.status != 200 || !a.body.is_null() || !a.headers.is_empty()) {
                return Err(format!(
                    "{place}an answer with `error` has no status, headers or body (nothing came back)"
                ));
            }
            Ok(a)
        };
        match value {
            Value::Array(items) if items.is_empty() => Err("the list is empty: give at least one answer".into()),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| answer(v, format!("answer {} of the list: ", i + 1)))
                .collect::<Result<_, _>>()
                .map(MockAnswers::Several),
            other => answer(other, String::new()).map(MockAnswers::One),
        }
    }

    fn get(&self, i: usize) -> Option<&MockAnswer> {
        match self {
            MockAnswers::One(a) => Some(a),
            MockAnswers::Several(list) => list.get(i).or(list.last()),
        }
    }
}

fn ok_status() -> u16 {
    200
}

/// Answers named webhooks from mocks and passes the others to another client. A mock's attempts follow
/// the real retry rules ([`with_retries`]), without waiting for the backoff.
pub struct Mocked<'a> {
    /// Mocks by webhook name.
    pub mocks: HashMap<String, MockAnswers>,
    /// Where unmocked calls go.
    pub fallback: &'a dyn WebhookClient,
    /// How many answers of each mock have been used (a list goes on across calls).
    pub used: std::sync::Mutex<HashMap<String, usize>>,
}

impl<'a> Mocked<'a> {
    /// Mocks that answer before `fallback`.
    pub fn new(mocks: HashMap<String, MockAnswers>, fallback: &'a dyn WebhookClient) -> Self {
        Mocked { mocks, fallback, used: std::sync::Mutex::new(HashMap::new()) }
    }
}

impl WebhookClient for Mocked<'_> {
    fn is_mocked(&self, webhook: &str) -> bool {
        self.mocks.contains_key(webhook) || self.fallback.is_mocked(webhook)
    }

    fn call(&self, request: &Request) -> CallOutcome {
        let Some(answers) = self.mocks.get(&request.name) else {
            return self.fallback.call(request);
        };
        let mut outcome = with_retries(
            request,
            |_| {
                let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
                let n = used.entry(request.name.clone()).or_insert(0);
                let Some(m) = answers.get(*n) else {
                    return (Answer::Failed { error: "the mock has no answers".into(), retryable: false }, 0);
                };
                *n += 1;
                if m.delay_ms >= request.timeout_ms {
                    let error = format!("timed out after {} ms", request.timeout_ms);
                    return (Answer::Failed { error, retryable: true }, request.timeout_ms);
                }
                if let Some(error) = &m.error {
                    return (
                        Answer::Failed { error: format!("connection error: {error}"), retryable: true },
                        m.delay_ms,
                    );
                }
                let body = match &m.body {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let mut headers: Vec<(String, String)> =
                    m.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                headers.sort();
                (Answer::Response { status: m.status, headers, body }, m.delay_ms)
            },
            |_| {},
        );
        outcome.mocked = true;
        outcome
    }
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a connector adds to a request: headers, a query parameter, and the values to hide.
#[derive(Debug, Default)]
pub struct AppliedAuth {
    /// Headers to send (`Authorization`, an API key header).
    pub headers: Vec<(String, String)>,
    /// An API key parameter for the query string.
    pub query: Option<(String, String)>,
    /// The names of the headers whose values are secret.
    pub secret_headers: Vec<String>,
    /// Secret values (as sent and URL-encoded) to redact from what is shown or logged.
    pub secrets: Vec<String>,
}

/// The values of every secret the program uses, as the webhook log knows them (passwords and
/// their Basic tokens, bearer tokens, API keys also URL-encoded, channel tokens and signing
/// secrets; not user names or Twilio's account SID), read from the environment now, at least
/// [`MIN_REDACTED_LEN`] long: what must never be shown.
pub fn secret_values(program: &crate::program::Program, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let read = |s: &Secret| match s {
        Secret::Env(name) => env(name).unwrap_or_default(),
        Secret::Literal(v) => v.clone(),
    };
    let mut values: Vec<String> = Vec::new();
    for c in &program.connectors {
        values.extend(apply_auth(&c.auth, &mut |s| read(s)).secrets);
    }
    for (source, hidden) in program.trigger_and_channel_secrets() {
        match source {
            crate::program::Source::Env(name) if hidden => values.extend(env(name)),
            crate::program::Source::Value(secret) if hidden => values.push(read(secret)),
            _ => {}
        }
    }
    values.retain(|v| v.len() >= MIN_REDACTED_LEN);
    values.sort_unstable();
    values.dedup();
    values
}

/// The credentials of `auth`, reading each secret with `secret`.
pub fn apply_auth(auth: &AuthDef, secret: &mut dyn FnMut(&Secret) -> String) -> AppliedAuth {
    let mut out = AppliedAuth::default();
    match auth {
        AuthDef::Basic { user, password } => {
            let (user, password) = (secret(user), secret(password));
            let token = base64(format!("{user}:{password}").as_bytes());
            out.headers.push(("Authorization".into(), format!("Basic {token}")));
            out.secret_headers.push("Authorization".to_string());
            out.secrets.extend([password, token]);
        }
        AuthDef::Bearer { token } => {
            let token = secret(token);
            out.headers.push(("Authorization".into(), format!("Bearer {token}")));
            out.secret_headers.push("Authorization".to_string());
            out.secrets.push(token);
        }
        AuthDef::ApiKey { place, name, value } => {
            let key = secret(value);
            match place {
                KeyPlace::Header => {
                    out.headers.push((name.clone(), key.clone()));
                    out.secret_headers.push(name.clone());
                }
                KeyPlace::Query => out.query = Some((name.clone(), key.clone())),
            }
            out.secrets.push(url_encode(&key));
            out.secrets.push(key);
        }
    }
    out
}

impl Machine<'_> {
    fn secret(&self, s: &Secret, webhook: &str) -> Result<String, String> {
        match s {
            Secret::Literal(v) => Ok(v.clone()),
            Secret::Env(name) => match (self.options.env)(name) {
                Some(v) => Ok(v),
                // A mock answers without checking credentials.
                None if self.options.client.is_mocked(webhook) => Ok(format!("<{name}>")),
                None => Err(format!("environment variable {name} is not set")),
            },
        }
    }

    /// Builds the request of a webhook statement, and the reason it must not be sent, if any (a URL
    /// that breaks §6's rules, a connector whose secret is not set). A refused request is still built
    /// as far as it can be, so the transcript and the log show where it would have gone.
    fn request(&mut self, call: &WebhookCall) -> (Request, Option<String>) {
        let mut refusal = None;
        let first = match call.url.0.first() {
            Some(TplPart::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        if !matches!(crate::net::origin(first, call.url.0.len() == 1), crate::net::UrlOrigin::Literal { .. }) {
            refusal =
                Some("refusing a URL whose scheme or host comes from a value: they must be written literally".into());
        }
        let mut url = self.render_url(&call.url);
        let mut query: Vec<(String, String)> = Vec::new();
        for (k, v) in &call.query {
            let v = self.eval(v);
            query.push((k.clone(), text(&v)));
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in &call.headers {
            let v = self.eval(v);
            headers.push((k.clone(), text(&v)));
        }
        let mut secrets = Vec::new();
        let mut secret_headers = Vec::new();
        let mut secret_query = None;
        let mut secret = |machine: &Self, s: &Secret| {
            machine.secret(s, &call.name).unwrap_or_else(|reason| {
                refusal.get_or_insert(reason);
                String::new()
            })
        };
        if let Some(connector) = call.auth.and_then(|index| self.program.connectors.get(index)) {
            let applied = apply_auth(&connector.auth, &mut |s| secret(self, s));
            headers.extend(applied.headers);
            secret_headers.extend(applied.secret_headers);
            secrets.extend(applied.secrets);
            if let Some(pair) = applied.query {
                secret_query = Some(query.len());
                query.push(pair);
            }
        }
        let mut display_url = url.clone();
        if !query.is_empty() {
            let separator = if url.contains('?') { '&' } else { '?' };
            let pair = |(i, (k, v)): (usize, &(String, String)), shown: bool| {
                let v = if shown && secret_query == Some(i) { "***".to_string() } else { url_encode(v) };
                format!("{}={v}", url_encode(k))
            };
            let sent: Vec<String> = query.iter().enumerate().map(|p| pair(p, false)).collect();
            let shown: Vec<String> = query.iter().enumerate().map(|p| pair(p, true)).collect();
            url = format!("{url}{separator}{}", sent.join("&"));
            display_url = format!("{display_url}{separator}{}", shown.join("&"));
        }
        // Every connector's secret is hidden from what this call shows and logs, not only its own: an
        // answer may echo another's token.
        for c in &self.program.connectors {
            let values: Vec<&Secret> = match &c.auth {
                AuthDef::Basic { password, .. } => vec![password],
                AuthDef::Bearer { token } => vec![token],
                AuthDef::ApiKey { value, .. } => vec![value],
            };
            for v in values {
                let known = match v {
                    Secret::Literal(text) => Some(text.clone()),
                    Secret::Env(name) => (self.options.env)(name),
                };
                if let Some(k) = known.filter(|k| !secrets.contains(k)) {
                    secrets.push(url_encode(&k));
                    secrets.push(k);
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        let display_url = redact(&display_url, &secrets);
        if let Err(reason) = check_url(&url) {
            refusal.get_or_insert(reason);
        }
        let has = |headers: &[(String, String)], name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let body = match self.body(&call.body) {
            Some((body, content_type)) => {
                if !has(&headers, "content-type") {
                    headers.push(("Content-Type".into(), content_type.into()));
                }
                Some(body)
            }
            None => None,
        };
        self.state.calls += 1;
        if matches!(call.method, Method::POST | Method::PATCH) && !has(&headers, "idempotency-key") {
            headers.push(("Idempotency-Key".into(), format!("{}-{}", self.state.run_id, self.state.calls)));
        }
        let request = Request {
            name: call.name.clone(),
            flow: self.flow.name.clone(),
            run_id: self.state.run_id.clone(),
            method: call.method,
            url,
            headers,
            body,
            timeout_ms: call.timeout_ms,
            retries: call.retries,
            backoff_ms: call.backoff_ms,
            display_url,
            secret_headers,
            secrets,
        };
        (request, refusal)
    }

    /// Calls a webhook and stores its answer. Returns the failure reason when it failed.
    pub(super) fn webhook(&mut self, call: &WebhookCall) -> Option<String> {
        let (request, refusal) = self.request(call);
        let outcome = match refusal {
            None => self.options.client.call(&request),
            Some(reason) => CallOutcome::refused(reason),
        };
        let url = request.display_url.clone();
        if let Some(log) = self.options.log {
            log(&request, &outcome);
        }
        let ok = outcome.ok();
        let error = match (&outcome.error, outcome.status) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(s)) if !ok => Some(format!("HTTP {s}")),
            _ => None,
        };
        let error = error.map(|e| request.redact(&e));
        self.state.webhooks[call.webhook] = Some(CallMeta {
            status: outcome.status,
            attempts: outcome.attempts.len() as u32,
            elapsed_ms: outcome.elapsed_ms,
            error: error.clone(),
            method: call.method.as_str().to_string(),
            url: url.clone(),
        });
        self.events.push(Event::WebhookCalled {
            name: call.name.clone(),
            method: call.method.as_str().to_string(),
            url,
            status: outcome.status,
            attempts: outcome.attempts.len() as u32,
            elapsed_ms: outcome.elapsed_ms,
            error: error.clone(),
            mocked: outcome.mocked,
        });
        if !ok {
            return Some(format!("webhook `{}` failed: {}", call.name, error.unwrap_or_default()));
        }
        let value = match serde_json::from_str::<Value>(&outcome.body) {
            Ok(Value::Object(map)) => {
                merge(&mut self.state.extra, map.clone());
                Value::Object(map)
            }
            _ => Value::String(outcome.body),
        };
        self.state.slots[call.slot] = Some(Slot { value, category: None, extra: None });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("Bearer abc123 and abc123", &["abc123".into()]), "Bearer *** and ***");
        assert_eq!(redact("nothing", &[String::new()]), "nothing");
    }
}
