//! What the outbox delivers: a step's outgoing messages as outbox rows, and one delivery attempt
//! through a channel or SMTP with what became of it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::interp::{self, Event, Routed, WebhookClient};
use crate::outgoing::{Outgoing, delivery_request};

use crate::program::ChannelKindDef;

use super::store::{Delivery, Direction, LogLine, MessageRow, MessageStatus, OutMessage};
use super::writer::Commit;
use super::{App, metrics};

impl App {
    /// The outbox rows of a step: what the run sent, when its contact talks on a channel.
    pub(super) fn outbox(
        &self,
        contact: &interp::Contact,
        run: &interp::RunState,
        events: &[Event],
    ) -> Vec<MessageRow> {
        if contact.channel.is_empty() || self.channel(&contact.channel).is_none() {
            return Vec::new();
        }
        events
            .iter()
            .filter_map(|e| match e {
                Event::MessageSent { text, quick_replies } => Some(MessageRow {
                    id: crate::time::unique_id("msg"),
                    urn: contact.urn.clone(),
                    channel: contact.channel.clone(),
                    direction: Direction::Out,
                    text: text.clone(),
                    quick_replies: quick_replies.clone(),
                    run_id: Some(run.run_id.clone()),
                    flow: Some(run.flow.clone()),
                    status: MessageStatus::Pending,
                }),
                _ => None,
            })
            .collect()
    }

    /// Queues a delivery's log lines.
    fn log_delivery(&self, entries: Vec<LogLine>) {
        if let Err(e) = self.writer.write(Vec::new(), entries, Commit::Soon) {
            // A delivery that outlived its stopping server finds the writer gone: nothing to say.
            if !self.stopping() {
                eprintln!("flowc: cannot write the webhook log: {e}");
            }
        }
    }

    /// The channels served, by name (e-mail's among them when it is sent).
    pub(super) fn channel_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.programs.iter().flat_map(|p| p.program.channels.iter().map(|c| c.name.clone())).collect();
        if self.config.smtp.is_some() {
            names.push(super::email::CHANNEL.into());
        }
        names.sort();
        names.dedup();
        names
    }

    /// The longest a delivery through `channel` takes.
    pub(super) fn delivery_timeout_ms(&self, channel: &str) -> u64 {
        match self.channel(channel).map(|(_, c)| &c.kind) {
            Some(ChannelKindDef::External { send, .. }) => send.timeout_ms,
            None if channel == super::email::CHANNEL => super::email::TIMEOUT.as_millis() as u64,
            _ => crate::compile::DEFAULT_TIMEOUT_MS,
        }
    }

    /// How many messages a second `channel` sends at most (its `rate`, or its kind's); `None`: no limit.
    pub(super) fn channel_rate(&self, channel: &str) -> Option<f64> {
        self.channel(channel).and_then(|(_, c)| c.rate)
    }

    /// Whether the server is stopping.
    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// One delivery attempt of `message`, and what became of it.
    pub(super) fn deliver(&self, message: &OutMessage) -> Delivery {
        let attempts = message.attempts + 1;
        if message.channel == super::email::CHANNEL
            && let Some(mailer) = &self.config.smtp
        {
            let (result, entry) = mailer.deliver(message, attempts);
            metrics::webhook_call("email", result.is_ok(), entry["elapsed_ms"].as_u64().unwrap_or(0));
            self.log_delivery(vec![LogLine::new(&entry)]);
            return mailer.delivery(result, attempts);
        }
        let Some((served, channel)) = self.channel(&message.channel) else {
            return Delivery::Failed { error: format!("the channel `{}` is no longer served", message.channel) };
        };
        let env = |name: &str| self.env(name);
        let (request, refusal) = delivery_request(&served.program, channel, &message.outgoing(), &env);
        let outcome = match refusal {
            Some(reason) => interp::CallOutcome::refused(reason),
            None => Routed { routes: self.config.routes.clone(), inner: &self.client }.call(&request),
        };
        metrics::webhook_call(&request.name, outcome.ok(), outcome.elapsed_ms);
        let entries = crate::webhook_log::entries(&request, &outcome)
            .into_iter()
            .map(|mut entry| {
                // One attempt of the outbox's: its number among the message's attempts.
                entry["attempt"] = attempts.into();
                LogLine::new(&entry)
            })
            .collect();
        self.log_delivery(entries);
        if outcome.ok() {
            Delivery::Sent
        } else {
            let error = outcome.error.clone().unwrap_or_else(|| {
                format!("the gateway answered {}", outcome.status.map_or("nothing".into(), |s| s.to_string()))
            });
            let (retries, backoff_ms) = match &channel.kind {
                ChannelKindDef::External { send, .. } => (send.retries, send.backoff_ms),
                _ => (crate::compile::CHANNEL_RETRIES, crate::compile::CHANNEL_BACKOFF_MS),
            };
            if attempts > retries {
                Delivery::Failed { error }
            } else {
                let retry_after = outcome
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let wait = crate::http::retry_delay(backoff_ms, attempts, retry_after);
                Delivery::Retry { at_ms: crate::time::now_millis() + wait.as_millis() as u64, error }
            }
        }
    }
}

impl OutMessage {
    /// The message as the request builder takes it.
    pub(super) fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            id: &self.id,
            urn: &self.urn,
            text: &self.text,
            quick_replies: &self.quick_replies,
            run_id: self.run_id.as_deref(),
            flow: self.flow.as_deref(),
        }
    }
}
