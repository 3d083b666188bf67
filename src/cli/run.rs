//! `flowc run`: the simulator. Runs a flow, answering each `wait` from `--input`, the terminal, or
//! nothing (the run stays waiting and can be saved), and prints a transcript or JSON events.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::http::HttpClient;
use crate::interp::{self, Event, MockAnswers, Mocked, Outcome, Resume, Routed, RunOptions, RunState, RunStatus};
use crate::webhook_log::WebhookLog;

/// What `flowc run` was asked.
#[derive(clap::Args)]
pub(super) struct RunArgs {
    /// The .flow file.
    pub(super) file: PathBuf,
    /// Which flow (default: the first).
    #[arg(long)]
    pub(super) flow: Option<String>,
    /// A reply to the next `wait` (repeat for several).
    #[arg(long = "input", value_name = "TEXT", allow_hyphen_values = true)]
    pub(super) inputs: Vec<String>,
    /// The contact as JSON, or @FILE: {"name", "phone", "email", "language", "timezone", "fields": {...}}.
    #[arg(long, value_name = "JSON|@FILE")]
    pub(super) contact: Option<String>,
    /// The triggering request as JSON, or @FILE: {"headers": {...}, "query": {...}, "body": ...}.
    #[arg(long, value_name = "JSON|@FILE")]
    pub(super) trigger: Option<String>,
    /// Answer webhook NAME from FILE ({"status": 200, "headers": {...}, "body": ...}) instead of the network.
    #[arg(long = "mock", value_name = "NAME=FILE")]
    pub(super) mocks: Vec<String>,
    /// Print one JSON event per line.
    #[arg(long)]
    pub(super) json: bool,
    /// Save the run's state to FILE when it stops (to resume a waiting run later).
    #[arg(long, value_name = "FILE")]
    pub(super) save_state: Option<PathBuf>,
    /// Continue a run saved with --save-state.
    #[arg(long, value_name = "FILE")]
    pub(super) resume: Option<PathBuf>,
    /// When the inputs run out at a wait, let the wait time out instead of stopping there.
    #[arg(long)]
    pub(super) timeout: bool,
    /// Append webhook attempts to this log (default: ~/.local/state/flowc/webhooks.jsonl).
    #[arg(long, value_name = "FILE")]
    pub(super) log: Option<PathBuf>,
    /// Instructions a run may execute between two waits.
    #[arg(long, default_value_t = crate::interp::DEFAULT_MAX_STEPS)]
    pub(super) max_steps: u64,
    /// The run's id (default: random).
    #[arg(long)]
    pub(super) run_id: Option<String>,
    /// Send calls to URLs starting with FROM to TO instead (e.g. a local test server).
    #[arg(long = "route", value_name = "FROM=TO")]
    pub(super) routes: Vec<String>,
    /// Show the request that channel NAME would make to deliver each message (`flowc serve` sends it).
    #[arg(long, value_name = "NAME")]
    pub(super) channel: Option<String>,
    /// The message that starts the run, as a keyword or catchall trigger would (`@input` until the
    /// first reply).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, conflicts_with = "resume")]
    pub(super) message: Option<String>,
    /// The time zone of a contact that has none (an IANA name such as Africa/Kigali; default UTC).
    #[arg(long, value_name = "ZONE", value_parser = super::parse_zone)]
    pub(super) timezone: Option<jiff::tz::TimeZone>,
}

/// A one-line error and the exit code it gets.
pub(super) struct RunFailure(pub(super) String, pub(super) u8);

fn usage(msg: impl Into<String>) -> RunFailure {
    RunFailure(msg.into(), super::USAGE)
}

/// A JSON argument given inline or as `@file`.
fn json_arg(what: &str, arg: &str) -> Result<Value, RunFailure> {
    let text = match arg.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {what} file {path}: {e}")))?
        }
        None => arg.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| usage(format!("--{what} is not valid JSON: {e}")))
}

/// A `--trigger` value as `flowc serve` would build it from a request: an object with `headers` and
/// `query` (objects of text; header names as the server reads them, `X-Request-Id` → `x_request_id`)
/// and `body` (any JSON).
fn mocks(specs: &[String], program: &crate::program::Program) -> Result<HashMap<String, MockAnswers>, RunFailure> {
    let mut out = HashMap::new();
    for spec in specs {
        let Some((name, file)) = spec.split_once('=') else {
            return Err(usage(format!("--mock takes NAME=FILE, got `{spec}`")));
        };
        let check = interp::driver::mock_answers(program, None, name, "[]");
        if let Err(e @ interp::driver::MockError::UnknownWebhook { .. }) = check {
            return Err(usage(format!("--mock {name}: {e}")));
        }
        let text = std::fs::read_to_string(file).map_err(|e| usage(format!("cannot read mock file {file}: {e}")))?;
        let answer = interp::driver::mock_answers(program, None, name, &text)
            .map_err(|e| usage(format!("mock file {file}: {e}")))?;
        if out.contains_key(name) {
            return Err(usage(format!("--mock {name} is given twice; put the answers in one file, as a list")));
        }
        out.insert(name.to_string(), answer);
    }
    Ok(out)
}

/// Prints events as a transcript or JSON lines.
struct EventPrinter<'p> {
    json: bool,
    /// At a terminal the reply is already on screen where it was typed: the `resumed` event is not
    /// printed again.
    interactive: bool,
    /// `--channel`: how a message would be delivered.
    channel: Option<ChannelPreview<'p>>,
    /// Messages shown so far, to number the previews' message ids.
    sent: std::cell::Cell<usize>,
}

/// What `--channel NAME` needs to show a delivery.
struct ChannelPreview<'p> {
    program: &'p crate::program::Program,
    channel: &'p crate::program::ChannelDef,
    urn: String,
    run_id: String,
}

impl ChannelPreview<'_> {
    /// The delivery of `text`: method, URL (secrets hidden), body.
    fn delivery(&self, text: &str, quick_replies: &[String], n: usize) -> (String, String, String) {
        let id = format!("msg-preview-{n}");
        let message = crate::outgoing::Outgoing {
            id: &id,
            urn: &self.urn,
            text,
            quick_replies,
            run_id: Some(&self.run_id),
            flow: None,
        };
        // A secret that is not set shows as its name, so the preview works without credentials.
        let env = |name: &str| Some(std::env::var(name).unwrap_or_else(|_| format!("<{name}>")));
        let (request, _) = crate::outgoing::delivery_request(self.program, self.channel, &message, &env);
        let body = request.redact(request.body.as_deref().unwrap_or_default());
        (request.method.as_str().to_string(), request.display_url, body)
    }
}

impl EventPrinter<'_> {
    fn event(&self, e: &Event) {
        let sent = &self.sent;
        if matches!(e, Event::MessageSent { .. }) {
            sent.set(sent.get() + 1);
        }
        if self.json {
            let _ = super::out::emit(&format!("{}\n", serde_json::to_string(e).unwrap_or_default()));
            if let (Some(c), Event::MessageSent { text, quick_replies }) = (&self.channel, e) {
                let (method, url, body) = c.delivery(text, quick_replies, sent.get());
                let line = serde_json::json!({"type": "channel_delivery", "channel": c.channel.name, "method": method, "url": url, "body": body});
                let _ = super::out::emit(&format!("{line}\n"));
            }
            return;
        }
        if self.interactive && matches!(e, Event::Resumed { .. }) {
            return;
        }
        let line = interp::event_line(e, interp::Shown::Live);
        let _ = super::out::emit(&format!("{line}\n"));
        if let (Some(c), Event::MessageSent { text, quick_replies }) = (&self.channel, e) {
            let (method, url, body) = c.delivery(text, quick_replies, sent.get());
            let _ = super::out::emit(&format!("  ⇢ {}: {method} {url} {body}\n", c.channel.name));
        }
    }
}

fn save(path: &Path, state: &RunState) -> Result<(), RunFailure> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| RunFailure(format!("cannot save the run: {e}"), super::USAGE))?;
    std::fs::write(path, text).map_err(|e| RunFailure(format!("cannot write {}: {e}", path.display()), super::USAGE))
}

pub(super) fn run(args: RunArgs) -> Result<u8, RunFailure> {
    let crate::project::Loaded { name, shown, result } = crate::project::load(&args.file).map_err(usage)?;
    let program = match result {
        Ok((program, _)) => program,
        Err(diags) => {
            super::report(&name, &shown, &diags);
            return Err(RunFailure(
                format!("{name} has errors; fix them with `flowc check {name}`"),
                super::DIAGNOSTICS,
            ));
        }
    };
    if let Some(flow) = &args.flow {
        interp::find_flow(&program, Some(flow)).map_err(|e| usage(e.to_string()))?;
    }
    let channel_def = match &args.channel {
        None => None,
        Some(name) => match program.channels.iter().find(|c| &c.name == name) {
            Some(c) => Some(c),
            None => {
                let known: Vec<&str> = program.channels.iter().map(|c| c.name.as_str()).collect();
                return Err(usage(format!(
                    "--channel {name}: no channel is named `{name}`{}",
                    if known.is_empty() { String::new() } else { format!(" (channels: {})", known.join(", ")) }
                )));
            }
        },
    };
    let contact = match &args.contact {
        Some(c) => {
            let contact = json_arg("contact", c)?;
            crate::interp::Contact::timezone_of(&contact).map_err(|e| usage(format!("--contact: {e}")))?;
            crate::interp::Contact::with_test_defaults(Some(contact))
        }
        None => crate::interp::Contact::with_test_defaults(None),
    };
    let trigger = match args.trigger.as_deref() {
        None => None,
        Some(t) => {
            let value = json_arg("trigger", t)?;
            if !value.is_object() {
                return Err(usage("--trigger is a JSON object: {\"headers\": {...}, \"query\": {...}, \"body\": ...}"));
            }
            let (index, flow) = interp::find_flow(&program, args.flow.as_deref()).map_err(|e| usage(e.to_string()))?;
            if !program.triggers.iter().any(|t| t.flow == index) {
                return Err(usage(format!("--trigger: no trigger starts flow `{}`", flow.name)));
            }
            let request = interp::driver::trigger_request(&program, args.flow.as_deref(), value);
            Some(request.map_err(|e| usage(format!("--trigger: {e}")))?)
        }
    };
    let network = HttpClient::default();
    let mut routes = Vec::new();
    for r in &args.routes {
        let super::Route(from, to) = super::parse_route(r).map_err(|e| usage(format!("--route {e}")))?;
        routes.push((from, to));
    }
    let routed = Routed { routes, inner: &network };
    let client = Mocked::new(mocks(&args.mocks, &program)?, &routed);
    let log_path = args.log.clone().unwrap_or_else(crate::webhook_log::default_path);
    let log = WebhookLog::open(&log_path)
        .map_err(|e| usage(format!("cannot open the webhook log {}: {e}", log_path.display())))?;
    let log_fn = |req: &interp::Request, outcome: &interp::CallOutcome| {
        if let Err(e) = log.record(req, outcome) {
            eprintln!("flowc: cannot write the webhook log: {e}");
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let options = RunOptions {
        client: &client,
        env: &env,
        max_steps: args.max_steps,
        log: Some(&log_fn),
        zone: args.timezone.clone(),
        ..RunOptions::default()
    };

    let mut outcome: Outcome = match &args.resume {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
            let state: RunState = serde_json::from_str(&text)
                .map_err(|e| usage(format!("{} is not a saved run: {e}", path.display())))?;
            if state.status != RunStatus::Waiting {
                return Err(usage(format!("the run in {} has ended ({})", path.display(), state.status.as_str())));
            }
            Outcome { events: Vec::new(), state }
        }
        None => {
            let id = args.run_id.clone().unwrap_or_else(|| crate::time::unique_id("run"));
            let message = args.message.clone();
            interp::start_with_input(&program, args.flow.as_deref(), &id, contact, trigger, message, &options)
                .map_err(|e| usage(e.to_string()))?
        }
    };
    let mut inputs = args.inputs.into_iter();
    let interactive = inputs.len() == 0 && args.resume.is_none() && std::io::stdin().is_terminal() && !args.json;
    // A reply typed at the terminal is on screen already; a transcript written elsewhere still needs it.
    let channel = match channel_def {
        None => None,
        Some(channel) => {
            let urn = match &outcome.state.contact {
                c if !c.urn.is_empty() => c.urn.clone(),
                c if !c.phone.is_empty() => format!("tel:{}", c.phone),
                _ => "ext:test-contact".to_string(),
            };
            Some(ChannelPreview { program: &program, channel, urn, run_id: outcome.state.run_id.clone() })
        }
    };
    let printer = EventPrinter {
        json: args.json,
        interactive: interactive && std::io::stdout().is_terminal(),
        channel,
        sent: std::cell::Cell::new(0),
    };
    // A line editor at a terminal: arrow keys, history, Ctrl-D and Ctrl-C as people expect them.
    let mut editor = if interactive { rustyline::DefaultEditor::new().ok() } else { None };
    // The message that started the run, shown as the contact's first line.
    if let Some(m) = args.message.as_ref().filter(|_| args.resume.is_none()) {
        let line = if args.json {
            format!("{}\n", serde_json::json!({"type": "message_received", "text": m}))
        } else {
            format!("you: {m}\n")
        };
        let _ = super::out::emit(&line);
    }
    loop {
        for e in &outcome.events {
            printer.event(e);
        }
        if outcome.state.status != RunStatus::Waiting {
            break;
        }
        let reply = match inputs.next() {
            Some(input) => Some(Resume::Reply(input)),
            None if interactive => match editor.as_mut() {
                Some(editor) => match editor.readline("you> ") {
                    Ok(line) => {
                        let _ = editor.add_history_entry(line.as_str());
                        Some(Resume::Reply(line))
                    }
                    // Ctrl-D: no more replies; with --timeout the wait times out, as it would unanswered.
                    Err(rustyline::error::ReadlineError::Eof) if args.timeout => Some(Resume::Timeout),
                    Err(_) => None,
                },
                // A terminal the editor cannot drive: plain lines.
                None => {
                    let _ = super::out::emit("you> ");
                    let mut line = String::new();
                    match std::io::stdin().lock().read_line(&mut line) {
                        Ok(0) if args.timeout => Some(Resume::Timeout),
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some(Resume::Reply(line.trim_end_matches(['\n', '\r']).to_string())),
                    }
                }
            },
            None if args.timeout => Some(Resume::Timeout),
            None => None,
        };
        let Some(reply) = reply else { break };
        // In the transcript the reply is shown by the `resumed` event.
        outcome = interp::resume(&program, outcome.state, reply, &options).map_err(|e| usage(e.to_string()))?;
    }
    if let Some(path) = &args.save_state {
        save(path, &outcome.state)?;
    }
    if outcome.state.status == RunStatus::Waiting && !args.json {
        let hint = match &args.save_state {
            Some(p) => format!(
                "saved to {}; continue with `flowc run {name} --resume {} --input TEXT`",
                p.display(),
                p.display()
            ),
            None => "give more --input, or --save-state FILE to continue later".into(),
        };
        eprintln!("flowc: the run is waiting for a reply ({hint})");
    }
    Ok(if outcome.state.status == RunStatus::Failed { super::DIAGNOSTICS } else { super::OK })
}
