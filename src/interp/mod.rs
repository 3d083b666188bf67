//! The interpreter: runs a compiled flow, producing events, and pauses at `wait` with a serializable
//! [`RunState`] that [`resume`] continues with a reply or a timeout.
//!
//! Webhooks go through a [`WebhookClient`] (the network client in `crate::http`, file mocks for
//! `flowc run --mock`, or a test double), so the interpreter itself does no I/O.

mod contact;
pub mod driver;
mod event;
mod frames;
pub mod library;
pub use event::{Event, Shown, event_line, one_line};
pub(crate) mod eval;
pub mod numbers;
pub mod phone;
pub mod rules;
mod value;
pub mod webhook;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::program::{FlowProgram, Instr, Program};
pub use webhook::{
    Answer, AppliedAuth, Attempt, CallOutcome, MockAnswer, MockAnswers, Mocked, Offline, Request, Routed,
    WebhookClient, apply_auth, redact, with_retries,
};

/// The text of a JSON value as templates show it (strings as they are, whole numbers without `.0`).
pub fn value_text(v: &Value) -> String {
    value::text(v)
}

/// Instructions one start or resume may run before the run is failed (an endless `goto` loop).
pub const DEFAULT_MAX_STEPS: u64 = 10_000;

/// How many times one turn (a start or a resume) may enter a `step` (by `goto` or by reaching the next
/// one): RapidPro's guard against loops without a wait, 100 nodes per sprint (docs/language.md §12.3).
pub const MAX_STEP_VISITS: u32 = 100;

/// How deep `enter` may nest: flows inside flows (RapidPro's limit on a session's runs is similar).
pub const MAX_ENTER_DEPTH: usize = 32;

/// How a run ended, or that it waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Paused at a `wait`.
    Waiting,
    /// Reached the end of the flow.
    Completed,
    /// Ended by `stop`.
    Stopped,
    /// A wait timed out with no `on timeout`.
    Expired,
    /// A webhook failed with no `on failure`, the step limit was hit, or a value was invalid.
    Failed,
}

impl RunStatus {
    /// The status as JSON and the database write it: `waiting`, `completed`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
            RunStatus::Stopped => "stopped",
            RunStatus::Expired => "expired",
            RunStatus::Failed => "failed",
        }
    }

    /// The status [`RunStatus::as_str`] wrote.
    pub fn parse(text: &str) -> Option<RunStatus> {
        [RunStatus::Waiting, RunStatus::Completed, RunStatus::Stopped, RunStatus::Expired, RunStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A saved `@flow.NAME`: its value, and for `split NAME =` the category and regex groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// The value.
    pub value: Value,
    /// The category of a split result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Regex groups of a split result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// The contact a run talks to: `@contact.name`, `.phone`, `.email`, `.language`, `.urn`, `.channel`,
/// `.fields.KEY`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Display name.
    pub name: String,
    /// Phone number (E.164).
    pub phone: String,
    /// E-mail address.
    pub email: String,
    /// Preferred language (ISO 639-3, e.g. `eng`).
    pub language: String,
    /// The address it is known by: `tel:+250788123456`, `telegram:1234`, `ext:abc` (docs/language.md §9).
    pub urn: String,
    /// The channel it talks on, when it has one.
    pub channel: String,
    /// IANA time zone (`Africa/Kigali`); empty for the server's default.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    /// Custom fields.
    pub fields: Map<String, Value>,
    /// The groups it is in, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A contact as JSON gives it (`flowc run --contact`, a test, `POST /flows/NAME/runs`).
impl From<Value> for Contact {
    fn from(v: Value) -> Contact {
        Contact::from_json(&v)
    }
}

impl Contact {
    /// A contact from JSON; missing keys are empty, non-text values become their text.
    pub fn from_json(v: &Value) -> Contact {
        let text = |k: &str| v.get(k).map(value::text).unwrap_or_default();
        let fields = match v.get("fields") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        Contact {
            name: text("name"),
            phone: text("phone"),
            email: text("email"),
            language: text("language"),
            urn: text("urn"),
            channel: text("channel"),
            timezone: text("timezone"),
            fields,
            groups: match v.get("groups") {
                Some(Value::Array(g)) => g.iter().map(value::text).filter(|g| !g.trim().is_empty()).collect(),
                _ => Vec::new(),
            },
        }
    }

    /// The contact of `flowc run` and flow tests: what `given` says, and for each of name, phone, e-mail
    /// and language it leaves out, a test contact's (`Test Contact`, `+250788000000`,
    /// `test@example.com`, `eng`), so that giving only a time zone or a field keeps the rest.
    pub fn with_test_defaults(given: Option<Value>) -> Value {
        let mut contact = serde_json::json!({
            "name": "Test Contact",
            "phone": "+250788000000",
            "email": "test@example.com",
            "language": "eng",
            "fields": {}
        });
        if let (Some(Value::Object(given)), Value::Object(c)) = (given, &mut contact) {
            c.extend(given);
        }
        contact
    }

    /// The zone that the `timezone` of a contact given as JSON (`flowc run --contact`, a flow test, `POST
    /// /flows/NAME/runs`) names: `None` when it is missing or empty (the default); anything else must be
    /// an IANA name.
    pub fn timezone_of(contact: &Value) -> Result<Option<jiff::tz::TimeZone>, String> {
        match contact.get("timezone") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => crate::dates::zone(s).map(Some).map_err(|e| format!("`timezone`: {e}")),
            Some(other) => Err(format!("`timezone` is a zone name in quotes such as \"Africa/Kigali\", not {other}")),
        }
    }

    /// A text field by name.
    /// The contact's UUID, as RapidPro gives every contact one: derived from its URN (else its phone,
    /// e-mail or name), so the same contact has the same UUID in every run and on every server.
    pub fn uuid(&self) -> String {
        let id = [&self.urn, &self.phone, &self.email, &self.name].into_iter().find(|s| !s.is_empty());
        crate::time::derived_uuid(id.map_or("", |s| s.as_str()), "contact")
    }

    pub(crate) fn text_field(&self, key: &str) -> Option<&str> {
        Some(match key {
            "name" => &self.name,
            "phone" => &self.phone,
            "email" => &self.email,
            "language" => &self.language,
            "urn" => &self.urn,
            "channel" => &self.channel,
            "timezone" => &self.timezone,
            _ => return None,
        })
    }
}

/// What `@webhook.NAME` describes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallMeta {
    /// HTTP status of the last attempt, if any answer came.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// Time from the first attempt to the last answer.
    pub elapsed_ms: u64,
    /// Why the call failed.
    pub error: Option<String>,
    /// The method (absent in runs saved before it was kept).
    #[serde(default)]
    pub method: String,
    /// The URL as sent, secret query values shown as `***`.
    #[serde(default)]
    pub url: String,
}

/// Where a waiting run stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// `wait NAME`.
    pub name: String,
    /// Milliseconds until it times out.
    pub timeout_ms: Option<u64>,
}

/// A flow that entered another and waits for it to end (`enter FLOW`): its part of the run, kept
/// while the entered flow runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The flow's name.
    pub flow: String,
    /// Its `enter` instruction.
    pub pc: usize,
    /// Its variable names (a resumed run must find the same flow).
    pub slot_names: Vec<String>,
    /// Its `@flow.NAME` values.
    pub slots: Vec<Option<Slot>>,
    /// Its `@extra`.
    pub extra: Map<String, Value>,
    /// Its `@webhook.NAME`.
    pub webhooks: Vec<Option<CallMeta>>,
    /// Its step visits.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub visits: std::collections::BTreeMap<usize, u32>,
    /// Its `@child`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub child: std::collections::BTreeMap<String, Slot>,
}

/// One flow's part of a run ([`RunState::root`]).
pub struct FlowPart<'s> {
    /// The flow's name.
    pub flow: &'s str,
    /// Its variable names.
    pub slot_names: &'s [String],
    /// Their values.
    pub slots: &'s [Option<Slot>],
    /// Its `@webhook.NAME`.
    pub webhooks: &'s [Option<CallMeta>],
}

/// Everything a run needs to continue: serialize it while the run waits, give it back to [`resume`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Format version of this state.
    pub version: u32,
    /// The run's id.
    pub run_id: String,
    /// The flow's name.
    pub flow: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// The next instruction.
    pub pc: usize,
    /// The flow's variable names when the run started (a resumed run must find the same flow).
    pub slot_names: Vec<String>,
    /// `@flow.NAME` values by slot.
    pub slots: Vec<Option<Slot>>,
    /// `@extra`.
    pub extra: Map<String, Value>,
    /// `@webhook.NAME` by webhook index.
    pub webhooks: Vec<Option<CallMeta>>,
    /// `@input`.
    pub input: Option<String>,
    /// `@contact`.
    pub contact: Contact,
    /// `@trigger`: `{headers, query, body}`.
    pub trigger: Option<Value>,
    /// Whether the run has answered its trigger.
    pub responded: bool,
    /// Set while waiting.
    pub waiting: Option<Waiting>,
    /// Webhook calls made so far: each call's `Idempotency-Key` is the run's id and its number, the
    /// same for all its retries and new for every visit (a loop back to the same webhook). Absent in
    /// states stored before it existed.
    #[serde(default)]
    pub calls: u32,
    /// How many times the run has entered each step, by the step's first instruction
    /// (`visit_count()`, RapidPro's `@node.visit_count`). Absent in states stored before it existed.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub visits: std::collections::BTreeMap<usize, u32>,
    /// `@child`: the results of the flow `enter` ran last, once it ended.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub child: std::collections::BTreeMap<String, Slot>,
    /// The flows that entered the one running (`flow`), outermost first; empty outside `enter`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<Frame>,
}

/// How a waiting run continues.
#[derive(Clone, Debug, PartialEq)]
pub enum Resume {
    /// The contact replied.
    Reply(String),
    /// The wait's timeout passed.
    Timeout,
    /// The run's time is up, whatever its wait says (RapidPro's expiration): the flow that waits
    /// expires, and a flow that entered it goes on at its `on expired`.
    Expire,
}

/// Receives each finished webhook call, for the webhook log.
pub type CallLog<'a> = dyn Fn(&Request, &CallOutcome) + Sync + 'a;

/// Settings of a run.
pub struct RunOptions<'a> {
    /// Where webhooks go.
    pub client: &'a dyn WebhookClient,
    /// Reads environment variables (connector secrets).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Steps per start or resume.
    pub max_steps: u64,
    /// Receives every finished call (the webhook log).
    pub log: Option<&'a CallLog<'a>>,
    /// The time zone of contacts that have none (`--timezone`; UTC when `None`).
    pub zone: Option<jiff::tz::TimeZone>,
    /// A fixed clock in milliseconds since the Unix epoch (flow tests); the system clock when `None`.
    pub now_ms: Option<i64>,
}

/// What a start or resume produced.
#[derive(Debug)]
pub struct Outcome {
    /// Events in order.
    pub events: Vec<Event>,
    /// The state: waiting (save it) or ended.
    pub state: RunState,
}

/// Errors that prevent a run from starting or resuming at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunError {
    /// No flow of that name.
    #[error("there is no flow `{0}` (flows: {1})")]
    UnknownFlow(String, String),
    /// The state is not waiting.
    #[error("the run {0} is not waiting (it is {1:?})")]
    NotWaiting(String, RunStatus),
    /// The program changed under a saved run.
    #[error("the saved run belongs to a different version of flow `{0}`; its variables no longer match")]
    ProgramChanged(String),
}

/// Finds a flow by name, or the first flow when `name` is `None`.
pub fn find_flow<'p>(program: &'p Program, name: Option<&str>) -> Result<(usize, &'p FlowProgram), RunError> {
    let names = || program.flows.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
    match name {
        None => program.flows.first().map(|f| (0, f)).ok_or_else(|| RunError::UnknownFlow(String::new(), names())),
        Some(n) => program
            .flows
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == n)
            .ok_or_else(|| RunError::UnknownFlow(n.to_string(), names())),
    }
}

/// Starts a run of `flow` for `contact`, with the request that triggered it if any.
pub fn start(
    program: &Program,
    flow: Option<&str>,
    run_id: &str,
    contact: impl Into<Contact>,
    trigger: Option<Value>,
    options: &RunOptions<'_>,
) -> Result<Outcome, RunError> {
    start_with_input(program, flow, run_id, contact, trigger, None, options)
}

/// [`start`] for a run that a message started (a keyword or catchall): `@input` is that message until
/// the first reply, as in RapidPro.
pub fn start_with_input(
    program: &Program,
    flow: Option<&str>,
    run_id: &str,
    contact: impl Into<Contact>,
    trigger: Option<Value>,
    input: Option<String>,
    options: &RunOptions<'_>,
) -> Result<Outcome, RunError> {
    let (_, f) = find_flow(program, flow)?;
    let mut state = RunState::new(f, run_id, contact.into(), trigger);
    // A message that starts a flow whose first statement is a `wait` is that wait's reply, as in
    // RapidPro (docs/language.md §9).
    if let (Some(text), Some(Instr::Wait { slot, .. })) = (&input, f.code.first()) {
        state.slots[*slot] = Some(Slot { value: Value::String(text.clone()), category: None, extra: None });
        state.pc = 1;
    }
    state.input = input;
    let mut machine = Machine {
        program,
        flow: f,
        state: &mut state,
        events: Vec::new(),
        options,
        expecting_missing: 0,
        failed_calls: 0,
    };
    machine.events.push(Event::RunStarted { flow: f.name.clone(), run_id: run_id.to_string() });
    machine.run();
    let events = redacted(machine.events, program, options);
    Ok(Outcome { events, state })
}

/// `events` with every secret value the program knows (its connectors' and channels', read from the
/// environment now) replaced by `***`: a service that echoes a token back, and a flow that sends what
/// it answered, must not put the token into events, run records or answers. Short values
/// (under [`webhook::MIN_REDACTED_LEN`]) are left alone, as in the webhook log.
fn redacted(mut events: Vec<Event>, program: &Program, options: &RunOptions<'_>) -> Vec<Event> {
    let secrets = webhook::secret_values(program, options.env);
    if secrets.is_empty() {
        return events;
    }
    let clean = |s: &mut String| {
        if secrets.iter().any(|secret| s.contains(secret.as_str())) {
            *s = webhook::redact(s, &secrets);
        }
    };
    for event in &mut events {
        event.strings_mut(&mut |s| clean(s));
    }
    events
}

/// Continues a waiting run.
pub fn resume(
    program: &Program,
    mut state: RunState,
    how: Resume,
    options: &RunOptions<'_>,
) -> Result<Outcome, RunError> {
    let (_, f) = find_flow(program, Some(&state.flow))?;
    if state.slot_names != f.slots || state.webhooks.len() != f.webhooks.len() || state.pc >= f.code.len() {
        return Err(RunError::ProgramChanged(state.flow.clone()));
    }
    // The flows that entered this one must still enter it where they did.
    for frame in &state.parents {
        let changed = || RunError::ProgramChanged(frame.flow.clone());
        let (_, p) = find_flow(program, Some(&frame.flow)).map_err(|_| changed())?;
        if frame.slot_names != p.slots || frame.webhooks.len() != p.webhooks.len() {
            return Err(changed());
        }
        if !matches!(p.code.get(frame.pc), Some(Instr::Enter { terminal: false, .. })) {
            return Err(changed());
        }
    }
    if state.status != RunStatus::Waiting {
        return Err(RunError::NotWaiting(state.run_id.clone(), state.status));
    }
    let Some(Instr::Wait { slot, on_timeout, .. }) = f.code.get(state.pc).cloned() else {
        return Err(RunError::ProgramChanged(state.flow.clone()));
    };
    let name = state.waiting.take().map(|w| w.name).unwrap_or_default();
    let mut events = Vec::new();
    let mut expire = |events: Vec<Event>, reason: &str| {
        let mut machine =
            Machine { program, flow: f, state: &mut state, events, options, expecting_missing: 0, failed_calls: 0 };
        if machine.end(RunStatus::Expired, Some(reason.into())) {
            machine.run();
        }
        redacted(machine.events, program, options)
    };
    match how {
        Resume::Reply(text) => {
            events.push(Event::Resumed { input: text.clone() });
            state.slots[slot] = Some(Slot { value: Value::String(text.clone()), category: None, extra: None });
            state.input = Some(text);
            state.pc += 1;
        }
        Resume::Timeout => {
            events.push(Event::TimedOut { name });
            match on_timeout {
                Some(target) => state.pc = target,
                None => {
                    let events = expire(events, "the wait timed out");
                    return Ok(Outcome { events, state });
                }
            }
        }
        Resume::Expire => {
            let events = expire(events, "the run expired");
            return Ok(Outcome { events, state });
        }
    }
    let mut machine =
        Machine { program, flow: f, state: &mut state, events, options, expecting_missing: 0, failed_calls: 0 };
    machine.run();
    let events = redacted(machine.events, program, options);
    Ok(Outcome { events, state })
}

/// Renders a template in the context of a run (its variables, contact and trigger), e.g. to preview a
/// message. Returns the text and any warnings (missing keys).
pub fn render(
    program: &Program,
    state: &mut RunState,
    tpl: &crate::program::Tpl,
) -> Result<(String, Vec<Event>), RunError> {
    let (_, flow) = find_flow(program, Some(&state.flow))?;
    Ok(offline(program, flow, state, |machine| {
        let text = machine.render(tpl);
        (text, std::mem::take(&mut machine.events))
    }))
}

/// `f` on a machine over `state` that calls no webhook and reads no secret: previews, and the URN of
/// `start ... for`.
fn offline<T>(program: &Program, flow: &FlowProgram, state: &mut RunState, f: impl FnOnce(&mut Machine<'_>) -> T) -> T {
    let options = RunOptions { max_steps: 0, ..RunOptions::default() };
    let mut machine =
        Machine { program, flow, state, events: Vec::new(), options: &options, expecting_missing: 0, failed_calls: 0 };
    f(&mut machine)
}

impl RunState {
    /// The state of a run of `f` about to start.
    fn new(f: &crate::program::FlowProgram, run_id: &str, contact: Contact, trigger: Option<Value>) -> RunState {
        RunState {
            version: 1,
            run_id: run_id.to_string(),
            flow: f.name.clone(),
            status: RunStatus::Waiting,
            pc: 0,
            slot_names: f.slots.clone(),
            slots: vec![None; f.slots.len()],
            extra: Map::new(),
            webhooks: vec![None; f.webhooks.len()],
            input: None,
            contact,
            trigger,
            responded: false,
            waiting: None,
            calls: 0,
            visits: Default::default(),
            child: Default::default(),
            parents: Vec::new(),
        }
    }

    /// The results of the flow running now, by name (what `@child` holds once it ends).
    fn results(&self) -> std::collections::BTreeMap<String, Slot> {
        self.slot_names.iter().zip(&self.slots).filter_map(|(n, s)| Some((n.clone(), s.clone()?))).collect()
    }

    /// The outermost flow's part of the run: the flow the run started with. The state's own while no
    /// `enter` runs.
    pub fn root(&self) -> FlowPart<'_> {
        match self.parents.first() {
            Some(f) => FlowPart { flow: &f.flow, slot_names: &f.slot_names, slots: &f.slots, webhooks: &f.webhooks },
            None => FlowPart {
                flow: &self.flow,
                slot_names: &self.slot_names,
                slots: &self.slots,
                webhooks: &self.webhooks,
            },
        }
    }
}

/// Evaluates `ex` where a run of `flow` would start, with the request that triggers it: the URN of
/// `start FLOW for URN via CHANNEL`.
pub fn eval_at_start(
    program: &Program,
    flow: &str,
    trigger: Value,
    ex: &crate::program::Ex,
) -> Result<Value, RunError> {
    let (_, f) = find_flow(program, Some(flow))?;
    let mut state = RunState::new(f, "", Contact::default(), Some(trigger));
    Ok(offline(program, f, &mut state, |machine| machine.eval(ex)))
}

/// One run in progress.
struct Machine<'a> {
    program: &'a Program,
    flow: &'a FlowProgram,
    state: &'a mut RunState,
    events: Vec<Event>,
    options: &'a RunOptions<'a>,
    /// Above zero while evaluating what a missing value is expected in (`default(x, ...)`'s `x`):
    /// a missing key there is not worth a warning.
    expecting_missing: u32,
    /// Function calls that failed so far (`is_error` compares).
    failed_calls: u32,
}

impl<'a> Machine<'a> {
    /// Runs instructions until the run waits or ends.
    fn run(&mut self) {
        let mut steps = 0u64;
        let mut visits = 0u32;
        loop {
            if self.flow.step_starts.binary_search(&self.state.pc).is_ok() {
                *self.state.visits.entry(self.state.pc).or_default() += 1;
                visits += 1;
                if visits > MAX_STEP_VISITS {
                    let reason = format!(
                        "entered steps {MAX_STEP_VISITS} times without waiting for a reply (an endless `goto` loop?)"
                    );
                    self.end(RunStatus::Failed, Some(reason));
                    return;
                }
            }
            steps += 1;
            if steps > self.options.max_steps {
                let reason = format!(
                    "more than {} steps without waiting for a reply (an endless `goto` loop?)",
                    self.options.max_steps
                );
                self.end(RunStatus::Failed, Some(reason));
                return;
            }
            let Some(instr) = self.flow.code.get(self.state.pc) else {
                if self.end(RunStatus::Completed, None) {
                    continue;
                }
                return;
            };
            match instr {
                Instr::Send { text, replies } => {
                    let text = self.render(text);
                    // A reply that renders empty is not offered.
                    let quick_replies =
                        replies.iter().map(|r| self.render(r)).filter(|r| !r.trim().is_empty()).collect();
                    self.events.push(Event::MessageSent { text, quick_replies });
                    self.state.pc += 1;
                }
                Instr::Email { to, subject, body } => {
                    let (to, subject, body) = (self.render(to), self.render(subject), self.render(body));
                    self.events.push(Event::EmailSent { to, subject, body });
                    self.state.pc += 1;
                }
                Instr::Set { slot, value, category } => {
                    let v = self.eval(value);
                    self.state.slots[*slot] = Some(Slot { value: v, category: category.clone(), extra: None });
                    self.state.pc += 1;
                }
                Instr::SetContact { target, value } => {
                    let v = self.eval(value);
                    if let Some((field, value)) = self.set_contact(target, v) {
                        self.events.push(Event::ContactUpdated { field, value });
                    }
                    self.state.pc += 1;
                }
                Instr::Jump { target } => self.state.pc = *target,
                Instr::Wait { timeout_ms, slot, .. } => {
                    let name = self.flow.slots[*slot].clone();
                    self.events.push(Event::Waiting { name: name.clone(), timeout_ms: *timeout_ms });
                    self.state.status = RunStatus::Waiting;
                    self.state.waiting = Some(Waiting { name, timeout_ms: *timeout_ms });
                    return;
                }
                Instr::Split(split) => {
                    let (target, slot) = self.split(split);
                    if let (Some(result), Some(slot)) = (split.result, slot) {
                        self.state.slots[result] = Some(slot);
                    }
                    self.state.pc = target;
                }
                Instr::Webhook(call) => {
                    if let Some(reason) = self.webhook(call) {
                        match call.on_failure {
                            Some(target) => self.state.pc = target,
                            None => {
                                self.end(RunStatus::Failed, Some(reason));
                                return;
                            }
                        }
                    } else {
                        self.state.pc += 1;
                    }
                }
                Instr::Respond(r) => {
                    self.respond(r);
                    self.state.pc += 1;
                }
                Instr::Stop => {
                    self.end(RunStatus::Stopped, None);
                    return;
                }
                Instr::End => {
                    if self.end(RunStatus::Completed, None) {
                        continue;
                    }
                    return;
                }
                Instr::Enter { flow, terminal, .. } => {
                    if !self.enter(flow, *terminal) {
                        return;
                    }
                }
            }
        }
    }
}
