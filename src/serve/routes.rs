//! Routing a request: the operator API's token, a trigger's authentication and `expect`, and which
//! service answers.

use serde_json::{Map, Value, json};

use crate::ast::KeyPlace;
use crate::interp::{self, Event, Outcome, RunStatus};
use crate::program::{AuthDef, Program, Secret, TriggerAuthDef, TriggerDef};

use super::access_log::masked_path;
use super::front::{self, Reply};
use super::request::{parse_query, percent_decode};
use super::writer::Commit;
use super::{App, Served, auth, metrics};

/// The trigger paths whose step cannot block: the flow has no `wait` and no `webhook`, the trigger's
/// authentication does not ask the store (a signature's replay check does), and its run belongs to no
/// contact (whose lock and record it would need).
pub(super) fn quick_paths(programs: &[Served]) -> std::collections::HashSet<String> {
    use crate::program::Instr;
    programs
        .iter()
        .flat_map(|p| p.program.triggers.iter().map(move |t| (&p.program, t)))
        .filter(|(_, t)| !matches!(t.auth, Some(TriggerAuthDef::Signature { .. })) && t.contact.is_none())
        .filter(|(program, t)| {
            program
                .flows
                .get(t.flow)
                .is_some_and(|f| !f.code.iter().any(|i| matches!(i, Instr::Wait { .. } | Instr::Webhook(_))))
        })
        .map(|(_, t)| t.suffix.clone())
        .collect()
}

/// The answer to a trigger's request: the run's `respond`, a 500 for a failed run, else 202.
pub(super) fn trigger_answer(run_id: String, outcome: &Outcome) -> Reply {
    let responded = outcome.events.iter().find_map(|e| match e {
        Event::Responded { status, headers, body, content_type } => Some((*status, headers, body, content_type)),
        _ => None,
    });
    match responded {
        Some((status, headers, body, content_type)) => {
            let mut h: Vec<(String, String)> = headers.clone();
            if let Some(ct) =
                content_type.as_ref().filter(|_| !h.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")))
            {
                h.push(("Content-Type".into(), ct.clone()));
            }
            h.push(("X-Flowc-Run".into(), run_id.clone()));
            Reply {
                status,
                headers: h,
                body: if status == 204 { Vec::new() } else { body.clone().unwrap_or_default().into_bytes() },
                run: Some(run_id),
            }
        }
        None if outcome.state.status == RunStatus::Failed => {
            let reason = outcome.events.iter().rev().find_map(|e| match e {
                Event::RunEnded { reason, .. } => reason.clone(),
                _ => None,
            });
            Reply::json(500, json!({ "error": reason.unwrap_or_else(|| "the run failed".into()), "run_id": run_id }))
                .for_run(&run_id)
        }
        None => Reply::json(202, json!({ "run_id": run_id, "status": outcome.state.status })).for_run(&run_id),
    }
}

impl App {
    /// The answer to a request that cannot block, computed on the caller's thread; `None` for one that
    /// goes to the worker pool.
    pub(super) fn quick(&self, request: &front::Incoming) -> Option<Reply> {
        let path = request.url.split('?').next().unwrap_or_default();
        (self.quick.contains(path) || (path == "/healthz" && request.method == "GET")).then(|| self.handle(request))
    }

    pub(super) fn handle(&self, request: &front::Incoming) -> Reply {
        let began = std::time::Instant::now();
        let answer = self.route(request);
        metrics::answered(answer.status);
        if self.config.access_log {
            // Time, client, method, path (never the query: it may hold an API key; a contact's
            // address masked), status, time taken, run.
            let path = request.url.split('?').next().unwrap_or_default();
            let line = format!(
                "{} {} {} {} {} {}ms{}\n",
                crate::time::iso(crate::time::now_millis()),
                request.peer.map_or("-".to_string(), |p| p.to_string()),
                request.method,
                masked_path(path).escape_debug(),
                answer.status,
                began.elapsed().as_millis(),
                answer.run.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
            );
            self.access.push(&line);
        }
        answer
    }

    pub(super) fn read_body(&self, request: &front::Incoming) -> Result<Vec<u8>, Reply> {
        request.body.clone().map_err(|(status, message)| Reply::error(status, message))
    }

    pub(super) fn route(&self, request: &front::Incoming) -> Reply {
        let method = request.method.to_ascii_uppercase();
        let url = request.url.clone();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let path = path.to_string();
        let query = query.to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // The console signs its browsers in with the operator token itself.
        if segments.first() == Some(&"ui") {
            return self.ui(request, &method, &segments, &query);
        }
        // What reads or changes contacts, runs, messages and the log is the operator's.
        let operator = match (method.as_str(), segments.as_slice()) {
            ("GET", ["log"] | ["runs", _] | ["contacts", _] | ["starts"] | ["starts", _]) => true,
            ("POST", ["flows", _, "runs"] | ["contacts", _, "messages"] | ["starts"] | ["starts", _, "cancel"]) => true,
            ("GET", ["metrics"]) => self.config.private_metrics,
            _ => false,
        };
        if operator && let Err(refused) = self.operator(request) {
            return refused;
        }
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["healthz"]) => return Reply::json(200, json!({ "status": "ok" })),
            ("GET", ["readyz"]) => return self.ready(),
            ("GET", ["metrics"]) => return self.metrics(),
            ("GET", ["log"]) => return self.log(&parse_query(&query)),
            ("GET", ["runs", id]) => return self.show_run(&percent_decode(id, false)),
            ("GET", ["contacts", urn]) => return self.show_contact(&percent_decode(urn, false)),
            ("POST", ["flows", flow, "runs"]) => {
                let flow = percent_decode(flow, false);
                return match self.read_body(request) {
                    Ok(body) => self.start_conversation(&flow, &body),
                    Err(a) => a,
                };
            }
            ("GET", ["starts"]) => return self.list_starts(),
            ("GET", ["starts", id]) => return self.show_start(&percent_decode(id, false)),
            ("POST", ["starts"]) => {
                return match self.read_body(request) {
                    Ok(body) => self.create_start(&body),
                    Err(a) => a,
                };
            }
            ("POST", ["starts", id, "cancel"]) => return self.cancel_start(&percent_decode(id, false)),
            ("POST", ["contacts", id, "messages"]) => {
                // A path keeps `+` (phone numbers are the natural contact ids); only queries read it as a space.
                let id = percent_decode(id, false);
                if id.trim().is_empty() {
                    // Runs that belong to no contact are stored under "": no message may reach them.
                    return Reply::error(400, "give the contact's URN: POST /contacts/{urn}/messages");
                }
                return match self.read_body(request) {
                    Ok(body) => self.message(&id, &body),
                    Err(a) => a,
                };
            }
            _ => {}
        }
        let channel =
            self.programs.iter().find_map(|p| p.program.channels.iter().find(|c| c.receive == path).map(|c| (p, c)));
        if let Some((served, channel)) = channel {
            if method != "POST" {
                return Reply::not_allowed(&method, &path, "POST".into());
            }
            return self.channel_receive(served, channel, request);
        }
        let found =
            self.programs.iter().find_map(|p| p.program.triggers.iter().find(|t| t.suffix == path).map(|t| (p, t)));
        let Some((served, trigger)) = found else {
            return Reply::error(404, format!("nothing is served at {path}"));
        };
        if !crate::ast::Method::parse(&method).is_some_and(|m| trigger.methods.contains(&m)) {
            return Reply::not_allowed(&method, &path, crate::ast::Method::list(&trigger.methods, ", "));
        }
        let headers = &request.headers;
        let body = match self.read_body(request) {
            Ok(b) => b,
            Err(a) => return a,
        };
        self.trigger(served, trigger, &method, headers, &query, &body)
    }

    /// Whether the request carries one of the operator tokens (each compared in constant time, all
    /// of them every time). The token is never logged: the access log has no headers.
    pub(super) fn operator(&self, request: &front::Incoming) -> Result<(), Reply> {
        let refuse = |message: &str| {
            let mut a = Reply::error(401, message);
            a.headers.push(("WWW-Authenticate".into(), "Bearer".into()));
            a
        };
        if self.config.api_tokens.is_empty() {
            return Err(refuse(
                "the operator API is closed: start flowc serve with FLOWC_API_TOKEN set (one or more tokens, comma-separated) and send Authorization: Bearer TOKEN",
            ));
        }
        let given = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(given) = given else {
            return Err(refuse("send Authorization: Bearer TOKEN, with a token from FLOWC_API_TOKEN"));
        };
        let matched = self
            .config
            .api_tokens
            .iter()
            .fold(false, |found, token| auth::constant_time_eq(token.as_bytes(), given.as_bytes()) | found);
        if matched { Ok(()) } else { Err(refuse("this token is not one of FLOWC_API_TOKEN's")) }
    }

    pub(super) fn authenticate(
        &self,
        program: &Program,
        auth: Option<&TriggerAuthDef>,
        headers: &[(String, String)],
        query: &Map<String, Value>,
        body: &[u8],
    ) -> Result<(), Reply> {
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        match auth {
            None => Ok(()),
            Some(TriggerAuthDef::Connector(i)) => {
                let Some(AuthDef::ApiKey { place, name, value }) = program.connectors.get(*i).map(|c| &c.auth) else {
                    return Err(Reply::error(500, "the trigger's connector is not an api_key connector"));
                };
                let expected = match value {
                    Secret::Env(var) => self
                        .env(var)
                        .ok_or_else(|| Reply::error(500, format!("environment variable {var} is not set")))?,
                    Secret::Literal(v) => v.clone(),
                };
                let given = match place {
                    KeyPlace::Header => header(name).map(str::to_string),
                    KeyPlace::Query => query.get(name).and_then(Value::as_str).map(str::to_string),
                };
                match given {
                    Some(g) if auth::constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(()),
                    Some(_) => Err(Reply::error(401, format!("the {name} key is wrong"))),
                    None => Err(Reply::error(401, format!("missing {name} key"))),
                }
            }
            Some(TriggerAuthDef::Signature { env }) => {
                let secret =
                    self.env(env).ok_or_else(|| Reply::error(500, format!("environment variable {env} is not set")))?;
                let now = crate::time::now_millis();
                auth::verify(
                    &secret,
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                    body,
                    now / 1000,
                )
                .map_err(|e| Reply::error(401, format!("signature refused: {e}")))?;
                let id = header("webhook-id").unwrap_or_default();
                let window = auth::SIGNATURE_TOLERANCE_SECS * 2 * 1000;
                match self.store.first_sighting(&format!("signature:{id}"), now, now.saturating_sub(window)) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Reply::error(401, format!("webhook-id {id} was already used (replay)"))),
                    Err(e) => Err(Reply::error(500, e.to_string())),
                }
            }
        }
    }

    pub(super) fn trigger(
        &self,
        served: &Served,
        trigger: &TriggerDef,
        method: &str,
        headers: &[(String, String)],
        query: &str,
        body: &[u8],
    ) -> Reply {
        let program = &*served.program;
        let query = parse_query(query);
        if let Err(a) = self.authenticate(program, trigger.auth.as_ref(), headers, &query, body) {
            return a;
        }
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(body).into_owned();
        let body_value = if body.is_empty() {
            Value::Null
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            Value::Object(parse_query(&text))
        } else if content_type.contains("json")
            || (content_type.is_empty() && text.trim_start().starts_with(['{', '[']))
        {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return Reply::error(400, format!("the body is not valid JSON: {e}")),
            }
        } else {
            Value::String(text)
        };
        let headers = headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let form = content_type.starts_with("application/x-www-form-urlencoded");
        let trigger_value = match interp::driver::request(Some(trigger), method, headers, query, body_value, form) {
            Ok(v) => v,
            Err(why) => return Reply::error(422, why),
        };
        let flow = &program.flows[trigger.flow].name;
        if let Some(contact) = &trigger.contact {
            return self.trigger_for_contact(served, flow, contact, trigger_value);
        }
        let run_id = crate::time::unique_id("run");
        // A run that cannot wait is never seen by another step: it needs no lock.
        let lock = (!self.quick.contains(&trigger.suffix)).then(|| self.lock(&run_id));
        let _guard = lock.as_ref().map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        let outcome =
            self.step(flow, true, |o| interp::start(program, Some(flow), &run_id, json!({}), Some(trigger_value), o));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Reply::error(500, e.to_string()).for_run(&run_id),
        };
        let commit = if lock.is_none() { Commit::Linger } else { Commit::Soon };
        if let Err(e) = self.save("", &outcome, &served.version, commit) {
            return Reply::error(500, e.to_string()).for_run(&run_id);
        }
        trigger_answer(run_id, &outcome)
    }
}
