//! E-mail through SMTP (`flowc serve --smtp URL --smtp-from ADDRESS`, docs/email.md): what `email`
//! statements record is stored in the outbox with the step and delivered like a channel's messages
//! (at least once, retried with backoff, each attempt in the webhook log as `email`).
//!
//! An e-mail is an outbox row of the reserved channel [`CHANNEL`] (no channel can be called that):
//! its URN is `mailto:` and the address, its text the subject and body as JSON.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde_json::{Value, json};

use super::store::{Delivery, Direction, MessageRow, MessageStatus, OutMessage};
use crate::interp::{Event, RunState};

/// The outbox's channel for e-mail.
pub const CHANNEL: &str = "@email";

/// The webhook log's name for e-mail attempts.
const LOG_NAME: &str = "email";

/// How long one SMTP conversation may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

/// Where e-mail goes: the relay and the sender's address.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    /// The relay as the log shows it: scheme, user, host and port, never the password.
    shown: String,
    /// The password, to be cleaned out of any error text.
    password: Option<String>,
}

impl std::fmt::Display for Mailer {
    /// `smtps://user@host:465 as Flows <flows@example.com>`: never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} as {}", self.shown, self.from)
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("relay", &self.shown).field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// A mailer for `url` (`smtps://[user@]host[:465]` implicit TLS, `smtp://[user@]host[:587]`
    /// STARTTLS, plain `smtp://` only to a loopback host), sending as `from`, with `password` (from
    /// `FLOWC_SMTP_PASSWORD`) when the URL names a user. The relay must be reachable under `policy`.
    pub fn new(
        url: &str,
        from: &str,
        password: Option<String>,
        policy: &crate::net::NetworkPolicy,
    ) -> Result<Mailer, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("--smtp {url:?} is not a URL: {e}"))?;
        if parsed.password().is_some() {
            return Err("--smtp: put the password in FLOWC_SMTP_PASSWORD, not in the URL".into());
        }
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or("--smtp: the URL has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let secure = match parsed.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(format!("--smtp: `{other}://` is not SMTP; use smtps:// or smtp://")),
        };
        let port = parsed.port().unwrap_or(if secure { 465 } else { 587 });
        let addresses: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map_err(|e| format!("--smtp: cannot resolve {host}: {e}"))?
            .collect();
        if let Some(refusal) = addresses.iter().find_map(|a| policy.refusal(*a)) {
            return Err(format!("--smtp: {refusal}"));
        }
        let loopback = !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback());
        let tls = |host: &str| TlsParameters::new(host.to_string()).map_err(|e| format!("--smtp: {e}"));
        let tls = match (secure, loopback) {
            (true, _) => Tls::Wrapper(tls(&host)?),
            // A relay on this machine is reached without TLS, as local mail servers are.
            (false, true) => Tls::None,
            (false, false) => Tls::Required(tls(&host)?),
        };
        let from: Mailbox = from.parse().map_err(|e| format!("--smtp-from {from:?} is not an e-mail address: {e}"))?;
        let mut builder = SmtpTransport::builder_dangerous(host.clone()).port(port).tls(tls).timeout(Some(TIMEOUT));
        let user = super::request::percent_decode(parsed.username(), false);
        if !user.is_empty() {
            let password = password.clone().ok_or("--smtp names a user: set FLOWC_SMTP_PASSWORD to its password")?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let at = if user.is_empty() { String::new() } else { format!("{user}@") };
        let shown = format!("{}://{at}{host}:{port}", parsed.scheme());
        Ok(Mailer { transport: builder.build(), from, shown, password })
    }

    /// One attempt at `message` (an outbox row of [`CHANNEL`]): what became of it and its log line.
    pub(super) fn deliver(&self, message: &OutMessage, attempts: u32) -> (Result<(), SendFailure>, Value) {
        let to = message.urn.strip_prefix("mailto:").unwrap_or(&message.urn);
        let content: Value = serde_json::from_str(&message.text).unwrap_or_default();
        let subject = content["subject"].as_str().unwrap_or_default();
        let body = content["body"].as_str().unwrap_or_default();
        let began = Instant::now();
        let result = self.send(&message.id, to, subject, body);
        let (status, error) = match &result {
            Ok(code) => (Some(*code), None),
            Err(f) => (f.code, Some(self.clean(&f.error))),
        };
        let entry = json!({
            "time": crate::time::now_iso(),
            "flow": message.flow.clone().unwrap_or_default(),
            "run": message.run_id.clone().unwrap_or_default(),
            "webhook": LOG_NAME,
            "method": "SMTP",
            "url": self.shown,
            "attempt": attempts,
            "status": status,
            "error": error,
            "elapsed_ms": began.elapsed().as_millis() as u64,
            "mocked": false,
            "request": {
                "headers": [["From", self.from.to_string()], ["To", to], ["Subject", subject]],
                "body": body,
            },
            "response": null,
        });
        (result.map(|_| ()), entry)
    }

    /// Sends one e-mail; the relay's reply code.
    fn send(&self, id: &str, to: &str, subject: &str, body: &str) -> Result<u16, SendFailure> {
        let permanent = |error: String| SendFailure { error, code: None, permanent: true };
        let to: Mailbox = to.parse().map_err(|_| permanent(format!("{to:?} is not an e-mail address")))?;
        let domain = self.from.email.domain().to_string();
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .date_now()
            // Stable across attempts: a relay or an inbox that sees the message twice can tell.
            .message_id(Some(format!("<{id}@{domain}>")))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| permanent(e.to_string()))?;
        match self.transport.send(&email) {
            Ok(reply) => Ok(code_number(reply.code())),
            Err(e) => Err(SendFailure {
                code: e.status().map(code_number),
                permanent: e.is_permanent(),
                error: super::store::with_causes(&e),
            }),
        }
    }

    /// `text` without the password.
    fn clean(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text.to_string(),
        }
    }

    /// What becomes of a message after an attempt with `result`.
    pub(super) fn delivery(&self, result: Result<(), SendFailure>, attempts: u32) -> Delivery {
        match result {
            Ok(()) => Delivery::Sent,
            Err(f) if f.permanent || attempts > crate::compile::CHANNEL_RETRIES => {
                Delivery::Failed { error: self.clean(&f.error) }
            }
            Err(f) => {
                let wait = crate::http::retry_delay(crate::compile::CHANNEL_BACKOFF_MS, attempts, None);
                Delivery::Retry {
                    at_ms: crate::time::now_millis() + wait.as_millis() as u64,
                    error: self.clean(&f.error),
                }
            }
        }
    }
}

/// Why an attempt failed.
#[derive(Debug)]
pub(super) struct SendFailure {
    error: String,
    /// The relay's reply code, when it answered.
    code: Option<u16>,
    /// Whether trying again cannot help (a 5xx reply, an address that is not one).
    permanent: bool,
}

fn code_number(code: lettre::transport::smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}

/// The outbox rows of a step's e-mails.
pub(super) fn rows(run: &RunState, events: &[Event]) -> Vec<MessageRow> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::EmailSent { to, subject, body } => Some(MessageRow {
                id: crate::time::unique_id("msg"),
                urn: format!("mailto:{}", to.trim()),
                channel: CHANNEL.into(),
                direction: Direction::Out,
                text: json!({ "subject": subject, "body": body }).to_string(),
                quick_replies: Vec::new(),
                run_id: Some(run.run_id.clone()),
                flow: Some(run.flow.clone()),
                status: MessageStatus::Pending,
            }),
            _ => None,
        })
        .collect()
}
