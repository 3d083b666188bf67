//! `/ui/simulate`: a conversation with a flow as a test contact. What the browser tries is kept as a
//! flow test scenario (contact, starting message or trigger request, webhook answers typed on the page,
//! replies and waits) and run as `flowc test` runs it, on a virtual clock and offline; so the page's
//! transcript is the golden file, and "Download" gives a `.flowtest` that `flowc test` passes.

use std::collections::HashMap;

use serde_json::Value;

use super::super::App;
use super::super::front::Reply;
use super::html::{esc, headers, page, redirect, reply};

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
        if self.webhooks.as_object().is_some_and(|w| !w.is_empty()) {
            out.push_str(&format!("webhooks = {}\n", toml(&self.webhooks)));
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
            Ok(_) => Err(format!("{what} is a JSON object: {{\"key\": ...}}")),
            Err(e) => Err(format!("{what} is not JSON: {e}")),
        },
    }
}

impl App {
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
                 <p><button>Begin</button></p></form>",
                esc(csrf)
            );
            return reply(200, page("Simulator", Some(csrf), &body));
        };
        let Some((served, _)) = self.sim_program(&sim.flow) else {
            self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
            return redirect("/ui/simulate");
        };
        let (transcript, state) = match crate::flowtest::simulate(&served.program, &sim.flowtest()) {
            Ok(s) => (s.transcript, Some(s.state)),
            Err(e) => (format!("error: {e}\n"), None),
        };
        let mut body = format!("{error}<p>Flow <b>{}</b></p><div aria-live=\"polite\">", esc(&sim.flow));
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
                let sim = Sim { file, flow, contact, message, trigger, webhooks, steps: Vec::new() };
                // A scenario the test runner refuses (an unknown webhook, a bad contact) is said here.
                if let Some((served, _)) = self.sim_program(&sim.flow)
                    && let Err(e) = crate::flowtest::simulate(&served.program, &sim.flowtest())
                {
                    drop(sims);
                    return self.ui_simulate(session, csrf, Some(&e));
                }
                sims.insert(session.to_string(), sim);
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
