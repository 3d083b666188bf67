//! The run lifecycle: starting, resuming and saving runs, conversations and timeouts.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::interp::{self, Event, Outcome, Resume, RunOptions, RunState, RunStatus};
use crate::program::Program;

use super::front::Reply;
use super::store::{self, LogLine, StepRecord, StoreError, StoredRun};
use super::writer::Commit;
use super::{App, Served, channels, email, metrics};

/// The public part of a step's result: status, events and the bot's messages.
pub(super) fn step_json(state: &RunState, events: &[Event]) -> Value {
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    json!({ "run_id": state.run_id, "status": state.status, "messages": messages, "events": events })
}

impl App {
    pub(super) fn program_of(&self, flow: &str) -> Option<&Served> {
        self.programs.iter().find(|p| p.program.flows.iter().any(|f| f.name == flow))
    }

    /// The program a stored run continues on, and the version it keeps: the version it started on,
    /// compiled from the store when that is not the current one and the store kept it, else the
    /// current program of its flow. A run stored before versions were kept takes the current version.
    pub(super) fn program_for(&self, run: &StoredRun) -> Option<(Arc<Program>, String)> {
        let current = self.program_of(run.state.root().flow);
        let version = run.version.clone().or_else(|| current.map(|c| c.version.clone()))?;
        if let Some(c) = current.filter(|c| c.version == version) {
            return Some((c.program.clone(), version));
        }
        let mut earlier = self.earlier.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = earlier.get(&version) {
            return Some((p.clone(), version));
        }
        let compiled = match self.store.version_source(&version) {
            Ok(Some(source)) => crate::compile_source(&source).ok().map(|(p, _)| Arc::new(p)),
            Ok(None) => None,
            Err(e) => {
                eprintln!("flowc: cannot read version {version}: {e}");
                None
            }
        };
        match compiled {
            Some(p) => {
                earlier.insert(version.clone(), p.clone());
                Some((p, version))
            }
            None => current.map(|c| (c.program.clone(), version)),
        }
    }

    /// Runs one step of `flow` (a start when `starts`), timed and counted for `/metrics`.
    pub(super) fn step(
        &self,
        flow: &str,
        starts: bool,
        f: impl FnOnce(&RunOptions<'_>) -> Result<Outcome, interp::RunError>,
    ) -> Result<Outcome, interp::RunError> {
        let began = std::time::Instant::now();
        let outcome = self.with_options(f);
        if let Ok(o) = &outcome {
            if starts {
                metrics::run_started(flow);
            }
            let ended = (o.state.status != RunStatus::Waiting).then(|| o.state.status.as_str());
            metrics::step(flow, began.elapsed(), ended);
        }
        outcome
    }

    pub(super) fn with_options<T>(&self, f: impl FnOnce(&RunOptions<'_>) -> T) -> T {
        let log_fn = |req: &interp::Request, outcome: &interp::CallOutcome| {
            metrics::webhook_call(&req.name, outcome.ok(), outcome.elapsed_ms);
            let entries = crate::webhook_log::entries(req, outcome).iter().map(LogLine::new).collect();
            if let Err(e) = self.writer.write(Vec::new(), entries, Commit::Soon) {
                eprintln!("flowc: cannot write the webhook log: {e}");
            }
        };
        let env = |name: &str| self.env(name);
        let routed;
        let client: &dyn interp::WebhookClient = if self.config.routes.is_empty() {
            &self.client
        } else {
            routed = interp::Routed { routes: self.config.routes.clone(), inner: &self.client };
            &routed
        };
        let options = RunOptions {
            client,
            env: &env,
            max_steps: self.config.max_steps,
            log: Some(&log_fn),
            zone: self.config.timezone.clone(),
            ..RunOptions::default()
        };
        f(&options)
    }

    /// Saves a step: committed before it returns when the run waits, else as `commit` says.
    pub(super) fn save(
        &self,
        contact_id: &str,
        outcome: &Outcome,
        version: &str,
        commit: Commit,
    ) -> Result<(), StoreError> {
        self.save_with(contact_id, outcome, version, commit, Vec::new())
    }

    /// Saves a step with `messages` (the one that started or resumed it); for a run that belongs to a
    /// contact, also the contact as the step left it and the messages it sends through a channel.
    pub(super) fn save_with(
        &self,
        contact_id: &str,
        outcome: &Outcome,
        version: &str,
        commit: Commit,
        messages: Vec<store::MessageRow>,
    ) -> Result<(), StoreError> {
        let record = self.step_record(contact_id, outcome, version, messages)?;
        let commit = if outcome.state.status == RunStatus::Waiting { Commit::Wait } else { commit };
        self.writer.write(vec![record], Vec::new(), commit)
    }

    /// What [`App::save_with`] writes for a step: the run, its contact and the messages it sends.
    pub(super) fn step_record(
        &self,
        contact_id: &str,
        outcome: &Outcome,
        version: &str,
        mut messages: Vec<store::MessageRow>,
    ) -> Result<StepRecord, StoreError> {
        let deadline_ms = match (&outcome.state.status, &outcome.state.waiting) {
            (RunStatus::Waiting, Some(w)) => w.timeout_ms.map(|t| crate::time::now_millis().saturating_add(t)),
            _ => None,
        };
        let mut record = StepRecord::of(&outcome.state, contact_id, deadline_ms, Some(version), &outcome.events)?;
        if !contact_id.is_empty() {
            let mut contact = outcome.state.contact.clone();
            contact.urn = contact_id.to_string();
            messages.extend(self.outbox(&contact, &outcome.state, &outcome.events));
            record.contact = Some(store::ContactRow::from_contact(&contact));
        }
        if self.config.smtp.is_some() {
            messages.extend(email::rows(&outcome.state, &outcome.events));
        }
        record.messages = messages;
        Ok(record)
    }

    pub(super) fn start_conversation(&self, flow: &str, body: &[u8]) -> Reply {
        let Some(served) = self.program_of(flow) else {
            return Reply::error(404, format!("there is no flow `{flow}`"));
        };
        let request: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return Reply::error(400, format!("the body is not valid JSON: {e}")),
            }
        };
        let given = request.get("contact").cloned().unwrap_or(json!({}));
        if let Err(e) = crate::interp::Contact::timezone_of(&given) {
            return Reply::error(400, format!("contact: {e}"));
        }
        let id = given.get("urn").or_else(|| given.get("id")).map(crate::interp::value_text);
        let Some(contact_id) = id.filter(|s| !s.is_empty()) else {
            return Reply::error(400, "give the contact an id: {\"contact\": {\"id\": \"...\", \"name\": ...}}");
        };
        let lock = self.lock(&contact_id);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _held = match self.store_lock(&contact_id) {
            Ok(h) => h,
            Err(a) => return a,
        };
        // The stored contact, with what the request gives on top.
        let mut contact = match self.store.contact(&contact_id) {
            Ok(Some(c)) => c.to_json(),
            Ok(None) => json!({ "urn": contact_id }),
            Err(e) => return Reply::error(500, e.to_string()),
        };
        if let (Some(c), Value::Object(g)) = (contact.as_object_mut(), given) {
            for (k, v) in g.into_iter().filter(|(k, _)| k != "id") {
                match (k.as_str(), c.get_mut("fields"), v) {
                    ("fields", Some(Value::Object(fields)), Value::Object(more)) => fields.extend(more),
                    (_, _, v) => {
                        c.insert(k, v);
                    }
                }
            }
            c.insert("urn".into(), Value::String(contact_id.clone()));
        }
        if let Err(a) = self.interrupt_waiting(&contact_id, flow) {
            return a;
        }
        self.start_run(served, flow, &contact_id, interp::Contact::from_json(&contact), Vec::new(), 201)
    }

    /// Stops the contact's waiting run, if any: a new run interrupts it, as in RapidPro.
    pub(super) fn interrupt_waiting(&self, contact_id: &str, flow: &str) -> Result<(), Reply> {
        match self.store.waiting_run(contact_id) {
            Ok(Some(mut old)) => {
                old.state.status = RunStatus::Stopped;
                old.state.waiting = None;
                old.deadline_ms = None;
                let ended = [Event::RunEnded {
                    status: RunStatus::Stopped,
                    reason: Some(format!("interrupted by a new run of {flow}")),
                }];
                StepRecord::new(&old, &ended)
                    .and_then(|r| self.writer.write(vec![r], Vec::new(), Commit::Wait))
                    .map_err(|e| Reply::error(500, e.to_string()))?;
                metrics::run_ended(old.state.root().flow, RunStatus::Stopped.as_str());
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(Reply::error(500, e.to_string())),
        }
    }

    /// Starts `flow` for a contact (the caller holds the contact's lock) and saves the step with
    /// `messages`, the first of which, if any, is the message that started it (`@input`); answers
    /// `status` with the step.
    pub(super) fn start_run(
        &self,
        served: &Served,
        flow: &str,
        contact_id: &str,
        contact: interp::Contact,
        messages: Vec<store::MessageRow>,
        status: u16,
    ) -> Reply {
        let input = messages.first().map(|m| m.text.clone());
        let run_id = crate::time::unique_id("run");
        let messages = messages
            .into_iter()
            .map(|mut m| {
                m.run_id = Some(run_id.clone());
                m
            })
            .collect();
        let outcome = self.step(flow, true, |o| {
            interp::start_with_input(&served.program, Some(flow), &run_id, contact, None, input, o)
        });
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Reply::error(500, e.to_string()),
        };
        if let Err(e) = self.save_with(contact_id, &outcome, &served.version, Commit::Wait, messages) {
            return Reply::error(500, e.to_string()).for_run(&run_id);
        }
        Reply::json(status, step_json(&outcome.state, &outcome.events)).for_run(&run_id)
    }

    /// Starts `flow` for the contact of an incoming message (the caller holds the contact's lock).
    pub(super) fn start_for_contact(
        &self,
        served: &Served,
        flow: &str,
        contact: store::ContactRow,
        message: store::MessageRow,
    ) -> Reply {
        let urn = contact.urn.clone();
        self.start_run(served, flow, &urn, contact.to_contact(), vec![message], 201)
    }

    /// `POST /contacts/{urn}/messages`: a message given through the API, routed like a channel's.
    pub(super) fn message(&self, contact_id: &str, body: &[u8]) -> Reply {
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(v) => match v.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => return Reply::error(400, "give the message as {\"text\": \"...\"}"),
            },
            Err(e) => return Reply::error(400, format!("the body is not valid JSON: {e}")),
        };
        self.incoming(channels::Inbound { urn: contact_id.to_string(), channel: None, text, name: None })
    }

    /// Continues a stored run (a reply, a timeout) with its contact as stored now (`contact`, or read
    /// from the store), saving `messages` with the step.
    pub(super) fn continue_run(
        &self,
        mut run: StoredRun,
        how: Resume,
        contact: Option<store::ContactRow>,
        messages: Vec<store::MessageRow>,
    ) -> Reply {
        let Some((program, version)) = self.program_for(&run) else {
            return Reply::error(409, format!("flow `{}` is no longer served", run.state.root().flow));
        };
        let contact = match contact {
            Some(c) => Some(c),
            None if run.contact_id.is_empty() => None,
            None => match self.store.contact(&run.contact_id) {
                Ok(c) => c,
                Err(e) => return Reply::error(500, e.to_string()),
            },
        };
        if let Some(c) = contact {
            // Fields another run set since this one started are seen here.
            run.state.contact = c.to_contact();
        }
        // Counted under the flow the run started with, whichever flow it entered since.
        let (run_id, flow) = (run.state.run_id.clone(), run.state.root().flow.to_string());
        let outcome = self.step(&flow, false, |o| interp::resume(&program, run.state, how, o));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Reply::error(409, e.to_string()).for_run(&run_id),
        };
        if let Err(e) = self.save_with(&run.contact_id, &outcome, &version, Commit::Wait, messages) {
            return Reply::error(500, e.to_string()).for_run(&run_id);
        }
        Reply::json(200, step_json(&outcome.state, &outcome.events)).for_run(&run_id)
    }

    pub(super) fn resume_due_runs(&self) {
        let due = match self.store.due_runs(crate::time::now_millis()) {
            Ok(d) => d,
            Err(e) => {
                self.quiet_when_away(|| eprintln!("flowc: scheduler: {e}"));
                return;
            }
        };
        for run in due {
            let key = if run.contact_id.is_empty() { run.state.run_id.clone() } else { run.contact_id.clone() };
            let lock = self.lock(&key);
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Another server may be resuming it: then it is that server's.
            let Ok(_held) = self.store_lock(&key) else { continue };
            // Re-read under the lock: a reply, or another server's scheduler, may have come first.
            let Ok(Some(current)) = self.store.run(&run.state.run_id) else { continue };
            let due_now = current.state.status == RunStatus::Waiting
                && current.deadline_ms.is_some_and(|d| d <= crate::time::now_millis());
            if due_now {
                let a = self.continue_run(current, Resume::Timeout, None, Vec::new());
                if a.status >= 400 {
                    eprintln!("flowc: scheduler: run {}: {}", run.state.run_id, String::from_utf8_lossy(&a.body));
                }
            }
        }
    }
}
