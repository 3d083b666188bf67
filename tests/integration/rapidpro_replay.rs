//! goflow's runner tests replayed through flowc (`../shared/rapidpro/goflow/runner`, read where it
//! lies): each test's flows imported with `flowc import rapidpro`, started with its trigger, fed its
//! resumes, its webhooks answered from its HTTP mocks; then, sprint by sprint, what both engines promise
//! is compared: the messages sent, contact changes, webhook calls (method, URL, status), e-mails, the
//! run's status and its results (name, value, category). Events only goflow has are listed per test.
//!
//! The outcome of every test is kept in `docs/rapidpro-replay.md`; this test fails when the outcome
//! changes and the file does not say so (`FLOWC_BLESS=1` rewrites it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::path::Path;
use std::sync::Mutex;

use flowc::interp::webhook::{Attempt, CallOutcome, Request, WebhookClient};
use flowc::interp::{self, Resume, RunOptions, RunStatus};
use serde_json::Value;

/// Answers calls from a test's `http_mocks`, in order per URL; status 0 is a connection error.
struct Mocks(Mutex<HashMap<String, VecDeque<Value>>>);

impl WebhookClient for Mocks {
    fn call(&self, request: &Request) -> CallOutcome {
        let answer = self.0.lock().unwrap().get_mut(&request.url).and_then(VecDeque::pop_front);
        let Some(answer) = answer else {
            return CallOutcome::refused(format!("no mock for {}", request.url));
        };
        let status = answer["status"].as_u64().unwrap_or(0) as u16;
        let body = answer["body"].as_str().unwrap_or_default().to_string();
        let (status, error) =
            if status == 0 { (None, Some("connection error".to_string())) } else { (Some(status), None) };
        let attempt = Attempt {
            attempt: 1,
            time: String::new(),
            status,
            error: error.clone(),
            elapsed_ms: 0,
            response_headers: Vec::new(),
            response_body: Some(body.clone()),
        };
        CallOutcome {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
            attempts: vec![attempt],
            elapsed_ms: 0,
            error,
            mocked: true,
        }
    }

    fn is_mocked(&self, _webhook: &str) -> bool {
        true
    }
}

/// What a sprint shows, in both engines' terms.
#[derive(Debug, Default, PartialEq)]
struct Sprint {
    /// Messages, contact changes, webhook calls and e-mails, in order.
    events: Vec<String>,
    /// The run's status at the sprint's end.
    status: String,
    /// Results by key: (value, category).
    results: BTreeMap<String, (String, String)>,
}

/// goflow's sprint, and the event types flowc has no counterpart for. Changes of `smart` groups (a
/// query decides who is in them, which flowc has not) are goflow's alone.
fn goflow_sprint(output: &Value, only_goflow: &mut BTreeMap<String, usize>, smart: &[String]) -> Sprint {
    let mut sprint = Sprint::default();
    for e in output["events"].as_array().into_iter().flatten() {
        let line = match e["type"].as_str().unwrap_or_default() {
            "msg_created" => {
                let replies: Vec<String> = e["msg"]["quick_replies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        r.as_str().map_or_else(|| r["text"].as_str().unwrap_or_default().to_string(), str::to_string)
                    })
                    .collect();
                format!("send {} {replies:?}", e["msg"]["text"].as_str().unwrap_or_default())
            }
            "contact_field_changed" => {
                let value = e["value"]["text"].as_str().unwrap_or_default();
                format!("contact fields.{} = {value}", e["field"]["key"].as_str().unwrap_or_default())
            }
            "contact_name_changed" => format!("contact name = {}", e["name"].as_str().unwrap_or_default()),
            "contact_language_changed" => format!("contact language = {}", e["language"].as_str().unwrap_or_default()),
            "contact_groups_changed" => {
                let names = |key: &str, sign: char| -> Vec<String> {
                    e[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|g| g["name"].as_str())
                        .filter(|n| !smart.iter().any(|s| s == n))
                        .map(|n| format!("{sign}{n}"))
                        .collect()
                };
                let changes = [names("groups_added", '+'), names("groups_removed", '-')].concat();
                if changes.is_empty() {
                    *only_goflow.entry("contact_groups_changed (smart groups)".into()).or_default() += 1;
                    continue;
                }
                format!("contact groups {}", changes.join(" "))
            }
            "webhook_called" => {
                let method = e["request"].as_str().and_then(|r| r.split(' ').next()).unwrap_or("GET");
                let status = e["status_code"].as_u64().map_or("no answer".to_string(), |s| s.to_string());
                format!("webhook {method} {} -> {status}", e["url"].as_str().unwrap_or_default())
            }
            "email_sent" => {
                let to: Vec<&str> = e["to"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                format!(
                    "email {} / {} / {}",
                    to.join(", "),
                    e["subject"].as_str().unwrap_or_default(),
                    e["body"].as_str().unwrap_or_default()
                )
            }
            "run_started" | "run_ended" | "msg_wait" | "run_result_changed" | "msg_received" => continue,
            other => {
                *only_goflow.entry(other.to_string()).or_default() += 1;
                continue;
            }
        };
        sprint.events.push(millis(&line));
    }
    let session = &output["session"];
    // A session whose first run expired has nothing left to do: goflow calls it completed; flowc says
    // how its run ended.
    let first_run = session["runs"][0]["status"].as_str().unwrap_or_default();
    sprint.status = match session["status"].as_str().unwrap_or_default() {
        "interrupted" => "stopped".into(),
        "completed" if first_run == "expired" => "expired".into(),
        s => s.to_string(),
    };
    if let Some(run) = session["runs"].as_array().and_then(|r| r.first()) {
        for (key, r) in run["results"].as_object().into_iter().flatten() {
            let value = millis(r["value"].as_str().unwrap_or_default());
            let category = r["category"].as_str().unwrap_or_default().to_string();
            sprint.results.insert(key.clone(), (value, category));
        }
    }
    sprint
}

/// flowc's sprint: its events and the run's state, with the keys goflow's results have.
fn flowc_sprint(
    outcome: &interp::Outcome,
    keys: &BTreeMap<String, (String, String)>,
    program: &flowc::program::Program,
    groups: &mut Vec<String>,
    depth: &mut usize,
    handed_over: &mut bool,
) -> Sprint {
    let mut sprint = Sprint::default();
    for (i, e) in outcome.events.iter().enumerate() {
        // How deep in `enter` the run is, and whether its first flow handed the contact over (a terminal
        // `enter` at the top: goflow's first run has ended, and flowc's run goes on in the new flow).
        match e {
            interp::Event::FlowEntered { terminal: false, .. } => *depth += 1,
            interp::Event::FlowLeft { .. } => match outcome.events.get(i + 1) {
                Some(interp::Event::FlowEntered { terminal: true, .. }) => *handed_over |= *depth == 0,
                _ => *depth = depth.saturating_sub(1),
            },
            _ => {}
        }
        let line = match e {
            // The groups joined and left, as goflow says them.
            interp::Event::ContactUpdated { field, value } if field == "groups" => {
                let now: Vec<String> = value.as_array().into_iter().flatten().map(interp::value_text).collect();
                let added = now.iter().filter(|g| !groups.contains(g)).map(|g| format!("+{g}"));
                let removed = groups.iter().filter(|g| !now.contains(g)).map(|g| format!("-{g}"));
                let changes: Vec<String> = added.chain(removed).collect();
                *groups = now;
                format!("contact groups {}", changes.join(" "))
            }
            interp::Event::MessageSent { text, quick_replies } => format!("send {text} {quick_replies:?}"),
            interp::Event::ContactUpdated { field, value } => {
                format!("contact {field} = {}", if value.is_null() { String::new() } else { interp::value_text(value) })
            }
            interp::Event::WebhookCalled { method, url, status, .. } => {
                let status = status.map_or("no answer".to_string(), |s| s.to_string());
                format!("webhook {method} {url} -> {status}")
            }
            interp::Event::EmailSent { to, subject, body } => format!("email {to} / {subject} / {body}"),
            _ => continue,
        };
        sprint.events.push(line);
    }
    let state = &outcome.state;
    sprint.status = state.status.as_str().to_string();
    // goflow's results are the first run's: the flow the run started with, under any `enter`.
    let root = state.root();
    let (flow, slot_names, slots, calls) = (root.flow, root.slot_names, root.slots, root.webhooks);
    let webhooks = program.flows.iter().find(|f| f.name == flow).map(|f| f.webhooks.clone()).unwrap_or_default();
    for key in keys.keys() {
        // A call's result in goflow is its status and Success or Failure: `@webhook.NAME` in flowc.
        if let Some(meta) = webhooks.iter().position(|w| w == key).and_then(|i| calls[i].as_ref()) {
            let ok = meta.status.is_some_and(|s| (200..300).contains(&s)) && meta.error.is_none();
            let status = meta.status.map_or(String::new(), |s| s.to_string());
            sprint.results.insert(key.clone(), (status, if ok { "Success" } else { "Failure" }.into()));
            continue;
        }
        let slot = slot_names.iter().position(|n| n == key).and_then(|i| slots[i].as_ref());
        let (value, category) = match slot {
            Some(s) => (interp::value_text(&s.value), s.category.clone().unwrap_or_default()),
            None => ("(not set)".into(), String::new()),
        };
        sprint.results.insert(key.clone(), (value, category));
    }
    sprint
}

/// goflow writes a moment with microseconds (`…T15:34:00.000000-05:00`), flowc with milliseconds: the
/// same moment, compared at flowc's precision.
fn millis(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        // `:SS.` then six digits then `Z`, `+` or `-`: keep the first three digits.
        let six = i + 11 <= b.len()
            && b[i] == b'.'
            && i >= 3
            && b[i - 3] == b':'
            && b[i + 1..i + 7].iter().all(u8::is_ascii_digit)
            && matches!(b.get(i + 7), Some(b'Z' | b'+' | b'-'));
        if six {
            out.push_str(&text[i..i + 4]);
            i += 7;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Where two sprints' events part, said without the test's data (which stays in the shared folder).
fn first_difference(goflow: &[String], flowc: &[String]) -> String {
    let at = goflow.iter().zip(flowc).position(|(a, b)| a != b).unwrap_or(goflow.len().min(flowc.len()));
    let what = |line: Option<&String>| match line.and_then(|l| l.split(' ').next()) {
        Some("send") => "a message",
        Some("contact") => "a contact change",
        Some("webhook") => "a webhook call",
        Some("email") => "an e-mail",
        _ => "nothing",
    };
    let (a, b) = (what(goflow.get(at)), what(flowc.get(at)));
    if a == b {
        format!("event {} is {a} in both, with other content", at + 1)
    } else {
        format!("event {} is {a} in goflow, {b} in flowc", at + 1)
    }
}

/// The contact as flowc reads it: its first URN, its fields' texts.
fn contact(c: &Value) -> Value {
    let fields: serde_json::Map<String, Value> =
        c["fields"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v["text"].clone())).collect();
    serde_json::json!({
        "name": c["name"].as_str().unwrap_or_default(),
        "language": c["language"].as_str().unwrap_or_default(),
        "timezone": c["timezone"].as_str().unwrap_or_default(),
        "urn": c["urns"][0].as_str().unwrap_or_default(),
        "fields": fields,
    })
}

/// Replays one test; `Err` says why it does not replay.
fn replay(test: &Value, assets: &str) -> Result<BTreeMap<String, usize>, String> {
    // goflow's runner environment reads dates year first (its default), as `--dates year_first` says.
    let imported =
        flowc::rapidpro::import_with(assets, Some("year_first")).map_err(|e| format!("not imported: {e}"))?;
    let mut blockers: Vec<String> = Vec::new();
    for flow in &imported {
        for u in &flow.unsupported {
            // goflow uses a flow's translations only in the languages its environment allows, and no
            // runner test allows any (FORMAT.md): there, as in flowc, messages are in the base language.
            let translations = u.construct.starts_with("its translations into");
            if !u.flow.is_empty() && !translations && !blockers.contains(&u.construct) {
                blockers.push(u.construct.clone());
            }
        }
    }
    if !blockers.is_empty() {
        return Err(format!("flowc lacks: {}", blockers.join("; ")));
    }
    let source: String = imported.iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join("\n");
    let (program, _) = flowc::compile_source(&source).map_err(|d| {
        let first = d.iter().find(|d| d.is_error()).map(|d| d.message.clone()).unwrap_or_default();
        format!("imported text does not check: {first}")
    })?;
    let trigger = &test["trigger"];
    let uuid = trigger["flow"]["uuid"].as_str().unwrap_or_default();
    let json: Value = serde_json::from_str(assets).unwrap();
    let title = imported
        .iter()
        .flat_map(|f| &f.flows)
        .find(|(_, u)| u == uuid)
        .map(|(name, _)| name.clone())
        .ok_or("the trigger's flow is not in the assets")?;
    let mocks: HashMap<String, VecDeque<Value>> = test["http_mocks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(url, answers)| (url.clone(), answers.as_array().cloned().unwrap_or_default().into()))
        .collect();
    let client = Mocks(Mutex::new(mocks));
    let options = RunOptions { client: &client, ..RunOptions::default() };
    let contact = contact(&test["contact"]);
    let input = match trigger["type"].as_str() {
        Some("manual") => None,
        Some("msg") => Some(trigger["event"]["msg"]["text"].as_str().unwrap_or_default().to_string()),
        other => return Err(format!("a trigger of type {}", other.unwrap_or("?"))),
    };
    let mut only_goflow = BTreeMap::new();
    let smart: Vec<String> = json["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["query"].as_str().is_some_and(|q| !q.is_empty()))
        .filter_map(|g| g["name"].as_str().map(str::to_string))
        .collect();
    let mut groups: Vec<String> = test["contact"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(str::to_string))
        .collect();
    let outputs = test["outputs"].as_array().ok_or("no outputs")?;
    let (mut depth, mut handed_over, mut continue_results) = (0usize, false, true);
    let resumes = test["resumes"].as_array().cloned().unwrap_or_default();
    let mut outcome = interp::start_with_input(&program, Some(&title), "replay", contact, None, input, &options)
        .map_err(|e| e.to_string())?;
    for (i, output) in outputs.iter().enumerate() {
        let expected = goflow_sprint(output, &mut only_goflow, &smart);
        let actual = flowc_sprint(&outcome, &expected.results, &program, &mut groups, &mut depth, &mut handed_over);
        if expected.events != actual.events {
            return Err(format!("sprint {}: {}", i + 1, first_difference(&expected.events, &actual.events)));
        }
        if expected.status != actual.status {
            return Err(format!("sprint {}: goflow's run is {}, flowc's {}", i + 1, expected.status, actual.status));
        }
        // goflow's results are its first run's; once that run has handed over, flowc's run has none of it.
        if handed_over {
            *only_goflow.entry("the first run's results after it handed over (terminal enter)".into()).or_default() +=
                1;
            continue_results = false;
        }
        for (key, want) in expected.results.iter().filter(|_| continue_results) {
            let got = &actual.results[key];
            if want != got {
                let part = if want.0 == got.0 { "category" } else { "value" };
                return Err(format!("sprint {}: result {key}: the {part} differs", i + 1));
            }
        }
        let Some(resume) = resumes.get(i) else { break };
        if outcome.state.status != RunStatus::Waiting {
            return Err(format!("sprint {}: the run is {}, not waiting", i + 1, outcome.state.status.as_str()));
        }
        let how = match resume["type"].as_str() {
            Some("msg") => Resume::Reply(resume["event"]["msg"]["text"].as_str().unwrap_or_default().to_string()),
            Some("wait_timeout") => Resume::Timeout,
            Some("wait_expiration") => Resume::Expire,
            other => return Err(format!("a resume of type {}", other.unwrap_or("?"))),
        };
        outcome = interp::resume(&program, outcome.state, how, &options).map_err(|e| e.to_string())?;
    }
    if client.0.lock().unwrap().values().any(|m| !m.is_empty()) {
        return Err("not every HTTP mock was used".into());
    }
    Ok(only_goflow)
}

#[test]
fn goflow_runner_tests_replay() {
    let Some(data) = super::rapidpro::rapidpro_data() else { return };
    let dir = data.join("goflow/runner");
    let mut tests: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n.matches('.').count() == 2)
        .collect();
    tests.sort();
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for name in &tests {
        let asset = format!("{}.json", name.split('.').next().unwrap());
        // flowc refuses plain `http://` to hosts other than loopback: goflow's mock hosts are called
        // over `https://` here, in the flows, the mocks and the expected calls alike.
        let https = |text: String| {
            text.replace("http://temba.io", "https://temba.io").replace("http://localhost", "https://localhost")
        };
        let test: Value = serde_json::from_str(&https(std::fs::read_to_string(dir.join(name)).unwrap())).unwrap();
        let assets = https(std::fs::read_to_string(dir.join(&asset)).unwrap());
        match replay(&test, &assets) {
            Ok(only) => {
                let only: Vec<String> = only.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
                passed.push((name.clone(), only.join(", ")));
            }
            Err(why) => failed.push((name.clone(), why)),
        }
    }
    let mut report = String::from(
        "# goflow's runner tests replayed by flowc\n\n\
         Written by `cargo test goflow_runner_tests_replay` (`FLOWC_BLESS=1` to rewrite it); the harness\n\
         is `tests/integration/rapidpro_replay.rs`, the method in docs/rapidpro.md. goflow's mock hosts\n\
         (`temba.io`, `localhost`) are called over `https://`: flowc refuses plain `http://` to any host\n\
         but loopback.\n\n",
    );
    let _ = writeln!(report, "**{} of {} replay.**\n", passed.len(), tests.len());
    let _ = writeln!(report, "## Replayed\n\n| test | goflow-only events (not compared) |\n|---|---|");
    for (name, only) in &passed {
        let _ = writeln!(report, "| {name} | {} |", if only.is_empty() { "–" } else { only });
    }
    let _ = writeln!(report, "\n## Not replayed\n\n| test | why |\n|---|---|");
    for (name, why) in &failed {
        let why: String = why.chars().take(400).collect::<String>().replace('|', "\\|").replace('\n', " ");
        let _ = writeln!(report, "| {name} | {why} |");
    }
    println!("{} of {} replay", passed.len(), tests.len());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rapidpro-replay.md");
    if std::env::var_os("FLOWC_BLESS").is_some() {
        std::fs::write(&path, &report).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(kept, report, "the replay's outcome changed: FLOWC_BLESS=1 rewrites docs/rapidpro-replay.md");
}
