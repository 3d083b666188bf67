//! `/ui/simulate`: a conversation with a flow as a test contact. What the browser tries is kept as a
//! flow test scenario (contact, starting message or trigger request, webhook answers typed on the page,
//! replies and waits) and run as `flowc test` runs it, on a virtual clock and offline; so the page's
//! transcript is the golden file, and "Download" gives a `.flowtest` that `flowc test` passes.

use std::collections::HashMap;

use serde_json::Value;

use super::super::App;
use super::super::front::Reply;
use super::html::{esc, headers, page, redirect, reply};

/// Steps a simulation takes at most (each step runs the conversation again from its start).
const MAX_STEPS: usize = 200;

/// A simulation in progress.
#[derive(Clone)]
pub(super) struct Sim {
    /// The served file the flow is in (its name), and the flow.
    file: String,
    flow: String,
    /// The scenario's parts, as TOML values.
    contact: Value,
    message: Option<String>,
    trigger: Option<Value>,
    webhooks: Value,
    /// Replies and waits, in order.
    steps: Vec<Value>,
    /// With webhooks answered for real: the run as it goes (each action a step of it), and the
    /// answers the services gave, attempt by attempt, which the downloaded test replays.
    live: Option<Live>,
}

/// A simulation whose webhooks are answered for real.
#[derive(Clone)]
pub(super) struct Live {
    state: crate::interp::RunState,
    transcript: String,
    answers: serde_json::Map<String, Value>,
}

/// The real client, keeping every answer as a mock answer for the flow test.
struct Recording<'a> {
    real: &'a dyn crate::interp::WebhookClient,
    answers: std::sync::Mutex<Vec<(String, Value)>>,
}

impl crate::interp::WebhookClient for Recording<'_> {
    fn call(&self, request: &crate::interp::Request) -> crate::interp::CallOutcome {
        let outcome = self.real.call(request);
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        for a in &outcome.attempts {
            let answer = match (&a.error, a.status) {
                (_, Some(status)) => {
                    let text = a.response_body.clone().unwrap_or_default();
                    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                    let headers: serde_json::Map<String, Value> = a
                        .response_headers
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    serde_json::json!({ "status": status, "headers": headers, "body": body })
                }
                (Some(e), None) => serde_json::json!({ "error": e }),
                (None, None) => continue,
            };
            answers.push((request.name.clone(), answer));
        }
        outcome
    }
}

/// Events as the transcript shows them.
fn transcript_of(events: &[crate::interp::Event]) -> String {
    let mut out = String::new();
    for e in events {
        for line in crate::interp::event_line(e, crate::interp::Shown::Transcript).lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// A JSON value as a TOML value (inline tables and arrays; `null` left out).
fn toml(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            format!("[{}]", items.iter().filter(|i| !i.is_null()).map(toml).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let bare = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    let key = if bare { k.clone() } else { serde_json::to_string(k).unwrap_or_default() };
                    format!("{key} = {}", toml(v))
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Value::Null => "\"\"".into(),
    }
}

impl Sim {
    /// The scenario as a `.flowtest` file beside the flow's file.
    fn flowtest(&self) -> String {
        let mut out = format!(
            "# Tried in the flowc console's simulator.\nfile = {}\n\n[[test]]\nname = {}\nflow = {}\n",
            toml(&Value::String(self.file.clone())),
            toml(&Value::String(format!("a conversation with {}", self.flow))),
            toml(&Value::String(self.flow.clone())),
        );
        if self.contact.as_object().is_some_and(|c| !c.is_empty()) {
            out.push_str(&format!("contact = {}\n", toml(&self.contact)));
        }
        if let Some(m) = &self.message {
            out.push_str(&format!("message = {}\n", toml(&Value::String(m.clone()))));
        }
        if let Some(t) = &self.trigger {
            out.push_str(&format!("trigger = {}\n", toml(t)));
        }
        let mut webhooks = self.webhooks.as_object().cloned().unwrap_or_default();
        if let Some(live) = &self.live {
            // The services' real answers, attempt by attempt, as the test's mocks.
            webhooks.extend(live.answers.clone());
        }
        if !webhooks.is_empty() {
            out.push_str(&format!("webhooks = {}\n", toml(&Value::Object(webhooks))));
        }
        out.push_str(&format!("steps = {}\n", toml(&Value::Array(self.steps.clone()))));
        out
    }
}

/// A field of a form, trimmed.
fn field<'a>(f: &'a HashMap<String, String>, key: &str) -> &'a str {
    f.get(key).map_or("", |v| v.trim())
}

/// A JSON object typed on the page, or why it is not one (empty: an empty object).
fn object(f: &HashMap<String, String>, key: &str, what: &str) -> Result<Value, String> {
    match field(f, key) {
        "" => Ok(Value::Object(Default::default())),
        text => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(format!("{what}: write a JSON object, {{\"key\": ...}}")),
            Err(e) => Err(format!("{what}: not JSON ({e})")),
        },
    }
}

impl App {
    /// One step of a live simulation: the start (`how` is `None`) or a reply or timeout, with the
    /// server's own client (its network policy and routes; calls go to the webhook log).
    fn live_step(&self, sim: &Sim, how: Option<crate::interp::Resume>) -> Result<Live, String> {
        let (served, _) = self.sim_program(&sim.flow).ok_or("the flow is no longer served")?;
        let program = &served.program;
        self.with_options(|o| {
            let recording = Recording { real: o.client, answers: Default::default() };
            // The answers typed on the page come first; the other webhooks are called.
            let mut typed = HashMap::new();
            for (name, answers) in sim.webhooks.as_object().into_iter().flatten() {
                let text = answers.to_string();
                let parsed = crate::interp::driver::mock_answers(program, Some(&sim.flow), name, &text)
                    .map_err(|_| format!("the answers of `{name}` cannot be read"))?;
                typed.insert(name.clone(), parsed);
            }
            let client = crate::interp::Mocked::new(typed, &recording);
            let options = crate::interp::RunOptions {
                client: &client,
                env: o.env,
                max_steps: o.max_steps,
                log: o.log,
                zone: o.zone.clone(),
                now_ms: None,
            };
            let (mut live, outcome) = match (how, &sim.live) {
                (None, _) => {
                    let contact = crate::interp::Contact::with_test_defaults(Some(sim.contact.clone()));
                    let trigger = sim
                        .trigger
                        .clone()
                        .map(|t| crate::interp::driver::trigger_request(program, Some(&sim.flow), t))
                        .transpose()
                        .map_err(|e| format!("the trigger request: {e}"))?;
                    let run_id = crate::time::unique_id("sim");
                    let outcome = crate::interp::start_with_input(
                        program,
                        Some(&sim.flow),
                        &run_id,
                        contact,
                        trigger,
                        sim.message.clone(),
                        &options,
                    )
                    .map_err(|e| e.to_string())?;
                    let mut transcript = String::new();
                    if let Some(m) = &sim.message {
                        transcript.push_str(&format!("you: {}\n", crate::interp::one_line(m)));
                    }
                    let live = Live { state: outcome.state.clone(), transcript, answers: Default::default() };
                    (live, outcome)
                }
                (Some(how), Some(live)) => {
                    let mut live = live.clone();
                    if let crate::interp::Resume::Timeout = how {
                        live.transcript.push_str("… the wait's time passes\n");
                    }
                    let outcome =
                        crate::interp::resume(program, live.state.clone(), how, &options).map_err(|e| e.to_string())?;
                    (live, outcome)
                }
                (Some(_), None) => return Err("the simulation has not begun".into()),
            };
            live.transcript.push_str(&transcript_of(&outcome.events));
            live.state = outcome.state;
            for (name, answer) in recording.answers.into_inner().unwrap_or_else(|p| p.into_inner()) {
                match live.answers.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(list) => list.push(answer),
                    other => *other = Value::Array(vec![answer]),
                }
            }
            Ok(live)
        })
    }

    fn sim(&self, session: &str) -> Option<Sim> {
        self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner()).get(session).cloned()
    }

    /// The program a simulation runs: the served one its flow is in.
    fn sim_program(&self, flow: &str) -> Option<(&super::super::Served, String)> {
        let served = self.program_of(flow)?;
        let file = served.source.as_ref().map_or("flows.flow".to_string(), |(name, _)| {
            std::path::Path::new(name).file_name().map_or(name.clone(), |n| n.to_string_lossy().to_string())
        });
        Some((served, file))
    }

    /// `GET /ui/simulate`: the form that begins a conversation, or the conversation.
    pub(super) fn ui_simulate(&self, session: &str, csrf: &str, error: Option<&str>) -> Reply {
        let error = error.map(|e| format!("<p class=\"bad\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
        let Some(sim) = self.sim(session) else {
            let flows: String = self
                .programs
                .iter()
                .flat_map(|p| p.program.flows.iter())
                .map(|f| format!("<option>{}</option>", esc(&f.name)))
                .collect();
            let body = format!(
                "{error}<form method=\"post\" action=\"/ui/simulate/start\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <p><label>Flow <select name=\"flow\">{flows}</select></label></p>\
                 <p><label>Contact (JSON: name, language, timezone, fields) <textarea name=\"contact\" rows=\"2\">{{\"name\": \"Ann\", \"language\": \"eng\"}}</textarea></label></p>\
                 <p><label>Message that starts it (a keyword's flow) <input name=\"message\"></label></p>\
                 <p><label>Trigger request (JSON: headers, query, body), for a flow a trigger starts <textarea name=\"trigger\" rows=\"2\"></textarea></label></p>\
                 <p><label>Webhook answers (JSON: {{\"NAME\": {{\"status\": 200, \"body\": {{...}}}}}}; a webhook without one fails as offline) <textarea name=\"webhooks\" rows=\"3\"></textarea></label></p>\
                 <p><label><span><input type=\"checkbox\" name=\"real\" value=\"1\"> Answer the other webhooks for real (within the server's network policy; their answers go into the downloaded test)</span></label></p>\
                 <p><button>Begin</button></p></form>",
                esc(csrf)
            );
            return reply(200, page("Simulator", Some(csrf), &body));
        };
        let Some((served, _)) = self.sim_program(&sim.flow) else {
            self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
            return redirect("/ui/simulate");
        };
        let (transcript, state) = match &sim.live {
            Some(live) => (live.transcript.clone(), Some(live.state.clone())),
            None => match crate::flowtest::simulate(&served.program, &sim.flowtest()) {
                Ok(s) => (s.transcript, Some(s.state)),
                Err(e) => (format!("error: {e}\n"), None),
            },
        };
        let how = if sim.live.is_some() {
            "webhooks answered for real"
        } else {
            "webhooks answered by the page's answers, offline"
        };
        let mut body = format!("{error}<p>Flow <b>{}</b> · {how}</p><div aria-live=\"polite\">", esc(&sim.flow));
        for line in transcript.lines() {
            let (class, text) = if let Some(t) = line.strip_prefix("bot: ") {
                ("msg out", t)
            } else if let Some(t) = line.strip_prefix("you: ") {
                ("msg in", t)
            } else {
                ("muted", line)
            };
            body.push_str(&format!("<div class=\"{class}\">{}</div>", esc(text)));
        }
        body.push_str("</div>");
        let hidden = format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(csrf));
        if let Some(state) = &state {
            if state.status == crate::interp::RunStatus::Waiting {
                body.push_str(&format!(
                    "<form class=\"inline\" method=\"post\" action=\"/ui/simulate/reply\">{hidden}\
                     <label>Reply as the contact <input name=\"text\" autofocus></label><button>Send</button></form>"
                ));
                if let Some(ms) = state.waiting.as_ref().and_then(|w| w.timeout_ms) {
                    body.push_str(&format!(
                        "<form method=\"post\" action=\"/ui/simulate/timeout\">{hidden}<button>Let the {} wait time out</button></form>",
                        esc(&crate::time::human_ms(ms))
                    ));
                }
            }
            body.push_str("<h2>Variables</h2><table><tbody>");
            for (name, slot) in state.slot_names.iter().zip(&state.slots) {
                let value = slot.as_ref().map_or("—".to_string(), |s| {
                    let v = serde_json::to_string(&s.value).unwrap_or_default();
                    match &s.category {
                        Some(c) => format!("{v} ({c})"),
                        None => v,
                    }
                });
                body.push_str(&format!("<tr><th scope=\"row\">@flow.{}</th><td>{}</td></tr>", esc(name), esc(&value)));
            }
            body.push_str("</tbody></table>");
        }
        body.push_str(&format!(
            "<p><a href=\"/ui/simulate/flowtest\" download>Download the .flowtest</a> · \
             <a href=\"/ui/simulate/golden\" download>and its golden file</a></p>\
             <form method=\"post\" action=\"/ui/simulate/reset\">{hidden}<button>Begin again</button></form>"
        ));
        reply(200, page("Simulator", Some(csrf), &body))
    }

    /// `POST /ui/simulate/...`: begin, reply, time out, begin again.
    pub(super) fn ui_simulate_post(
        &self,
        session: &str,
        csrf: &str,
        action: &str,
        f: &HashMap<String, String>,
    ) -> Reply {
        let mut sims = self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner());
        match action {
            "start" => {
                let flow = field(f, "flow").to_string();
                let Some((_, file)) = self.sim_program(&flow) else {
                    drop(sims);
                    return self.ui_simulate(session, csrf, Some(&format!("there is no flow `{flow}`")));
                };
                let parts = (object(f, "contact", "The contact"), object(f, "webhooks", "The webhook answers"));
                let trigger = match field(f, "trigger") {
                    "" => Ok(None),
                    _ => object(f, "trigger", "The trigger request").map(Some),
                };
                let (contact, webhooks, trigger) = match (parts, trigger) {
                    ((Ok(c), Ok(w)), Ok(t)) => (c, w, t),
                    ((Err(e), _), _) | ((_, Err(e)), _) | (_, Err(e)) => {
                        drop(sims);
                        return self.ui_simulate(session, csrf, Some(&e));
                    }
                };
                let message = Some(field(f, "message").to_string()).filter(|m| !m.is_empty());
                let mut sim = Sim { file, flow, contact, message, trigger, webhooks, steps: Vec::new(), live: None };
                // A scenario the test runner refuses (an unknown webhook, a bad contact) is said here.
                if let Some((served, _)) = self.sim_program(&sim.flow)
                    && let Err(e) = crate::flowtest::simulate(&served.program, &sim.flowtest())
                {
                    drop(sims);
                    return self.ui_simulate(session, csrf, Some(&e));
                }
                if field(f, "real") == "1" {
                    // The mocks typed on the page answer first; the other webhooks are called.
                    drop(sims);
                    let live = self.live_step(&sim, None);
                    sims = self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner());
                    match live {
                        Ok(live) => sim.live = Some(live),
                        Err(e) => {
                            drop(sims);
                            return self.ui_simulate(session, csrf, Some(&e));
                        }
                    }
                }
                sims.insert(session.to_string(), sim);
            }
            "reply" | "timeout" if sims.get(session).is_some_and(|s| s.steps.len() >= MAX_STEPS) => {
                drop(sims);
                let error = format!("a simulation takes at most {MAX_STEPS} steps: download it, or begin again");
                return self.ui_simulate(session, csrf, Some(&error));
            }
            "reply" | "timeout" if sims.get(session).is_some_and(|s| s.live.is_some()) => {
                let Some(sim) = sims.get(session).cloned() else { return redirect("/ui/simulate") };
                drop(sims);
                let live = sim.live.as_ref().map(|l| &l.state);
                let Some(state) = live.filter(|s| s.status == crate::interp::RunStatus::Waiting) else {
                    return redirect("/ui/simulate");
                };
                let (how, step) = match action {
                    "reply" => {
                        let text = field(f, "text").to_string();
                        (crate::interp::Resume::Reply(text.clone()), Value::String(text))
                    }
                    _ => match state.waiting.as_ref().and_then(|w| w.timeout_ms) {
                        Some(ms) => (
                            crate::interp::Resume::Timeout,
                            serde_json::json!({ "wait": format!("{}s", ms.div_ceil(1000)) }),
                        ),
                        None => return redirect("/ui/simulate"),
                    },
                };
                match self.live_step(&sim, Some(how)) {
                    Ok(live) => {
                        let mut sims = self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(s) = sims.get_mut(session) {
                            s.steps.push(step);
                            s.live = Some(live);
                        }
                    }
                    Err(e) => return self.ui_simulate(session, csrf, Some(&e)),
                }
            }
            "reply" | "timeout" => {
                let Some(sim) = sims.get_mut(session) else { return redirect("/ui/simulate") };
                // Only a run that waits takes a reply or lets time pass (a form of an earlier page may
                // come after the run ended).
                let waiting = self
                    .sim_program(&sim.flow)
                    .and_then(|(served, _)| crate::flowtest::simulate(&served.program, &sim.flowtest()).ok())
                    .filter(|s| s.state.status == crate::interp::RunStatus::Waiting)
                    .map(|s| s.state.waiting.and_then(|w| w.timeout_ms));
                match (action, waiting) {
                    ("reply", Some(_)) => sim.steps.push(Value::String(field(f, "text").to_string())),
                    // Time passes on the virtual clock until the wait's timeout.
                    (_, Some(Some(ms))) => {
                        sim.steps.push(serde_json::json!({ "wait": format!("{}s", ms.div_ceil(1000)) }));
                    }
                    _ => {}
                }
            }
            "reset" => {
                sims.remove(session);
            }
            _ => return reply(404, page("Not found", Some(csrf), "<p>There is no such page.</p>")),
        }
        redirect("/ui/simulate")
    }

    /// `GET /ui/simulate/flowtest` and `/golden`: the conversation as a flow test, and its golden file.
    pub(super) fn ui_simulate_download(&self, session: &str, golden: bool) -> Reply {
        let Some(sim) = self.sim(session) else { return redirect("/ui/simulate") };
        let name = sim.file.strip_suffix(".flow").unwrap_or(&sim.file).to_string();
        let (text, file) = if golden {
            let Some((served, _)) = self.sim_program(&sim.flow) else { return redirect("/ui/simulate") };
            let transcript = match crate::flowtest::simulate(&served.program, &sim.flowtest()) {
                Ok(s) => s.transcript,
                Err(e) => format!("error: {e}\n"),
            };
            (format!("=== a conversation with {}\n{transcript}\n", sim.flow), format!("{name}.flowtest.golden"))
        } else {
            (sim.flowtest(), format!("{name}.flowtest"))
        };
        let mut h = headers("text/plain; charset=utf-8");
        h.push(("Content-Disposition".into(), format!("attachment; filename=\"{}\"", file.replace('"', ""))));
        Reply { status: 200, headers: h, body: text.into_bytes(), run: None }
    }
}
