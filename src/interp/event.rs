//! What a run does, as events, and how `flowc run` and `flowc test` show them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunStatus;

impl Event {
    /// Calls `f` on every text the event carries (for redaction).
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        fn json(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
            match v {
                Value::String(s) => f(s),
                Value::Array(items) => items.iter_mut().for_each(|i| json(i, f)),
                Value::Object(map) => map.values_mut().for_each(|i| json(i, f)),
                _ => {}
            }
        }
        match self {
            Event::RunStarted { .. }
            | Event::Waiting { .. }
            | Event::TimedOut { .. }
            | Event::FlowEntered { .. }
            | Event::FlowLeft { .. } => {}
            Event::MessageSent { text, quick_replies } => {
                f(text);
                quick_replies.iter_mut().for_each(&mut *f);
            }
            Event::ContactUpdated { value, .. } => json(value, f),
            Event::EmailSent { to, subject, body } => {
                f(to);
                f(subject);
                f(body);
            }
            Event::WebhookCalled { url, error, .. } => {
                f(url);
                error.iter_mut().for_each(&mut *f);
            }
            Event::Resumed { input } => f(input),
            Event::Responded { headers, body, .. } => {
                headers.iter_mut().for_each(|(_, v)| f(v));
                body.iter_mut().for_each(&mut *f);
            }
            Event::Warning { message } => f(message),
            Event::RunEnded { reason, .. } => reason.iter_mut().for_each(&mut *f),
        }
    }
}

/// Something a run did, in order. Read back from a run's stored events by the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run started.
    RunStarted {
        /// Flow name.
        flow: String,
        /// Run id.
        run_id: String,
    },
    /// `send`.
    MessageSent {
        /// The message.
        text: String,
        /// The quick replies offered with it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        quick_replies: Vec<String>,
    },
    /// `set @contact....`: the contact's name, language or a field changed (a field set to null is
    /// removed).
    ContactUpdated {
        /// `name`, `language` or `fields.KEY`.
        field: String,
        /// The new value.
        value: Value,
    },
    /// `email`.
    EmailSent {
        /// Recipient.
        to: String,
        /// Subject.
        subject: String,
        /// Body.
        body: String,
    },
    /// A webhook call finished (after its retries).
    WebhookCalled {
        /// Webhook name.
        name: String,
        /// Method.
        method: String,
        /// URL as sent (secrets in the query are redacted).
        url: String,
        /// Last HTTP status.
        status: Option<u16>,
        /// Attempts.
        attempts: u32,
        /// Elapsed time.
        elapsed_ms: u64,
        /// Failure reason.
        error: Option<String>,
        /// Whether it was answered by a mock.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        mocked: bool,
    },
    /// The run paused for a reply.
    Waiting {
        /// `wait NAME`.
        name: String,
        /// Timeout.
        timeout_ms: Option<u64>,
    },
    /// A reply arrived.
    Resumed {
        /// The reply.
        input: String,
    },
    /// The wait timed out.
    TimedOut {
        /// `wait NAME`.
        name: String,
    },
    /// `respond`.
    Responded {
        /// HTTP status.
        status: u16,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Body text.
        body: Option<String>,
        /// Content type of the body.
        content_type: Option<String>,
    },
    /// Something odd that did not stop the run (a missing key, an invalid status).
    Warning {
        /// What happened.
        message: String,
    },
    /// `enter FLOW`: the run went into another flow.
    FlowEntered {
        /// The flow entered.
        flow: String,
        /// `enter FLOW terminal`: the flow that entered it ended (a `flow_left` just before), and this
        /// one runs in its place.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        terminal: bool,
    },
    /// A flow that `enter` ran ended, and the run went back to the flow that entered it (or, for a
    /// terminal `enter`, the flow that handed the contact over ended).
    FlowLeft {
        /// The flow that ended.
        flow: String,
        /// How it ended: `completed` or `expired`.
        status: RunStatus,
    },
    /// The run ended.
    RunEnded {
        /// How.
        status: RunStatus,
        /// Why, for failed and expired runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// Where an event is shown to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// `flowc run`: with run ids, timings and mocks, text as it is.
    Live,
    /// A flow test's transcript: what a reviewer compares, without ids or timings, and with line breaks
    /// and control characters in values written as escapes (a transcript line is one line).
    Transcript,
}

/// An event as `flowc run` and `flowc test` show it: `bot: ...`, `⇄ webhook ...`, `■ completed`.
pub fn event_line(e: &Event, shown: Shown) -> String {
    let live = shown == Shown::Live;
    let t = |s: &str| if live { s.to_string() } else { one_line(s) };
    match e {
        Event::RunStarted { flow, run_id } if live => format!("▶ {flow} ({run_id})"),
        Event::RunStarted { flow, .. } => format!("▶ {flow}"),
        // A message's lines are indented, so that no line of it can pass for a golden file's `===`.
        Event::MessageSent { text, quick_replies } if quick_replies.is_empty() => {
            format!("bot: {}", text.replace('\n', "\n     "))
        }
        Event::MessageSent { text, quick_replies } => {
            let replies: Vec<String> = quick_replies.iter().map(|r| t(r)).collect();
            format!("bot: {}\n     [{}]", text.replace('\n', "\n     "), replies.join(" | "))
        }
        Event::EmailSent { to, subject, .. } => format!("✉ e-mail to {}: {}", t(to), t(subject)),
        Event::ContactUpdated { field, value } => t(&format!("✎ @contact.{field} = {value}")),
        Event::WebhookCalled { name, method, url, status, attempts, elapsed_ms, error, mocked } => {
            let result = match (status, error) {
                (Some(s), None) => s.to_string(),
                (_, Some(e)) => format!("failed: {e}"),
                (None, None) => "?".into(),
            };
            // A failure already says how many attempts it took.
            let retried = *attempts > 1 && error.is_none();
            if live {
                let tries = if retried { format!(", {attempts} attempts") } else { String::new() };
                let mock = if *mocked { ", mock" } else { "" };
                format!("⇄ webhook {name}: {method} {url} → {result} ({elapsed_ms} ms{tries}{mock})")
            } else {
                let tries = if retried { format!(" ({attempts} attempts)") } else { String::new() };
                format!("⇄ webhook {name}: {method} {url} → {result}{tries}")
            }
        }
        Event::Waiting { name, timeout_ms: Some(ms) } => {
            format!("… waiting for {name} (timeout {})", crate::time::human_ms(*ms))
        }
        Event::Waiting { name, .. } => format!("… waiting for {name}"),
        Event::Resumed { input } => format!("you: {}", t(input)),
        Event::TimedOut { name } => format!("⏱ {name} timed out"),
        Event::Responded { status, body, .. } => {
            format!("↩ respond {status}{}", body.as_deref().map(|b| format!(" {}", t(b))).unwrap_or_default())
        }
        Event::Warning { message } => format!("⚠ {}", t(message)),
        Event::FlowEntered { flow, terminal: false } => format!("↳ enter {flow}"),
        Event::FlowEntered { flow, terminal: true } => format!("↳ enter {flow} (terminal)"),
        Event::FlowLeft { flow, status } => format!("↲ {flow} {}", status.as_str()),
        Event::RunEnded { status, reason: Some(r) } => format!("■ {} ({r})", status.as_str()),
        Event::RunEnded { status, .. } => format!("■ {}", status.as_str()),
    }
}

/// Text on one line: line breaks as `\n`, other control characters as `\u{..}`.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}
