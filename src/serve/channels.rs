//! Contacts and channels in `flowc serve` (docs/language.md §9): incoming messages routed to a waiting run,
//! a keyword trigger, a catchall or the contact's inbox. What runs send goes out through the outbox
//! ([`super::outbox`], [`super::delivery`]).

use serde_json::{Map, Value, json};

use super::front::Reply;
use super::request::parse_query;
use super::store::{ContactRow, Direction, MessageRow, MessageStatus};
use super::writer::Commit;
use super::{App, Served};
use crate::interp::{self, Resume};
use crate::program::{ChannelDef, ChannelKindDef};

/// A message from a contact.
pub(super) struct Inbound {
    /// The contact's URN.
    pub(super) urn: String,
    /// The channel it came on (`None`: the HTTP API).
    pub(super) channel: Option<String>,
    /// The text.
    pub(super) text: String,
    /// A name the channel gave for the contact.
    pub(super) name: Option<String>,
}

/// The URN of an address as a gateway sends it: a URN stays one, `+250788123456` becomes
/// `tel:+250788123456`, anything else `ext:ADDRESS`.
pub(super) fn urn_of(address: &str) -> String {
    // A `+` that a gateway (or `curl -d`) did not encode in a form arrives as a space: ` 250788...`.
    let unencoded_plus =
        address.strip_prefix(' ').filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()));
    if let Some(digits) = unencoded_plus {
        return format!("tel:+{digits}");
    }
    let address = address.trim();
    let scheme = address.split_once(':').map(|(s, _)| s);
    if scheme.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase())) {
        return address.to_string();
    }
    let digits = address.strip_prefix('+').unwrap_or(address);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-') {
        let compact: String = address.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        return format!("tel:{compact}");
    }
    format!("ext:{address}")
}

/// The first word of a message, for keyword triggers: lower case, without the punctuation around it.
fn first_word(text: &str) -> String {
    let word = text.split_whitespace().next().unwrap_or_default();
    word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()
}

/// A request header by name (the front end gives them in lower case).
fn header<'r>(request: &'r super::front::Incoming, name: &str) -> Option<&'r str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// How long incoming message ids (Telegram's `update_id`, Twilio's `MessageSid`) are remembered.
const REPEAT_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// The answer a channel's webhook gets once its message is in: `ok`, or the error that kept it out.
fn acknowledge(handled: Reply, ok: Reply) -> Reply {
    if handled.status >= 400 {
        return handled;
    }
    ok.with_run(handled.run)
}

impl App {
    /// The channel called `name`, and the program that defines it.
    pub(super) fn channel(&self, name: &str) -> Option<(&Served, &ChannelDef)> {
        self.programs.iter().find_map(|p| p.program.channels.iter().find(|c| c.name == name).map(|c| (p, c)))
    }

    /// `Some(answer)` when the incoming message `id` was seen in the last day: it is answered 200
    /// (the sender stops resending) without being processed again.
    fn repeat(&self, id: &str) -> Option<Reply> {
        let now = crate::time::now_millis();
        match self.store.first_sighting(id, now, now.saturating_sub(REPEAT_WINDOW_MS)) {
            Ok(true) => None,
            Ok(false) => Some(Reply::json(200, json!({ "status": "repeat" }))),
            Err(e) => Some(Reply::error(503, format!("{e}; try again"))),
        }
    }

    /// `POST` to a channel's path: a gateway's message, a Telegram update or a Twilio webhook.
    pub(super) fn channel_receive(
        &self,
        served: &Served,
        channel: &ChannelDef,
        request: &super::front::Incoming,
    ) -> Reply {
        let body = match self.read_body(request) {
            Ok(b) => b,
            Err(a) => return a,
        };
        match &channel.kind {
            ChannelKindDef::External { auth, .. } => {
                self.external_receive(served, channel, auth.as_ref(), request, &body)
            }
            ChannelKindDef::Telegram { secret, .. } => {
                self.telegram_receive(channel, secret.as_deref(), request, &body)
            }
            ChannelKindDef::Twilio { token, .. } => self.twilio_receive(channel, token, request, &body),
        }
    }

    /// An external gateway's message: `from`, `text` and an optional `name`, as JSON or a form.
    fn external_receive(
        &self,
        served: &Served,
        channel: &ChannelDef,
        auth: Option<&crate::program::TriggerAuthDef>,
        request: &super::front::Incoming,
        body: &[u8],
    ) -> Reply {
        let query = request.url.split_once('?').map_or("", |(_, q)| q);
        if let Err(a) = self.authenticate(&served.program, auth, &request.headers, &parse_query(query), body) {
            return a;
        }
        let text = String::from_utf8_lossy(body);
        let fields: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Reply::error(400, "give the message as {\"from\": \"...\", \"text\": \"...\"}"),
            Err(_) if text.trim_start().starts_with('{') => {
                return Reply::error(400, "the body is not valid JSON");
            }
            Err(_) => parse_query(&text),
        };
        let field = |k: &str| fields.get(k).map(interp::value_text).filter(|s| !s.trim().is_empty());
        let (Some(from), Some(text)) = (field("from"), fields.get("text").map(interp::value_text)) else {
            return Reply::error(400, "a message needs `from` and `text`");
        };
        // Bytes that are not UTF-8 would all read as U+FFFD: different senders, one contact.
        if from.contains('\u{FFFD}') {
            return Reply::error(400, "the sender's address `from` is not UTF-8 text");
        }
        let inbound = Inbound { urn: urn_of(&from), channel: Some(channel.name.clone()), text, name: field("name") };
        let handled = self.incoming(inbound);
        // A message nothing took is kept: the gateway learns that much.
        let status = if handled.status == 202 { "stored" } else { "received" };
        acknowledge(handled, Reply::json(200, json!({ "status": status })))
    }

    /// A Telegram update. Telegram sends an update again until it gets a 2xx, so an update that is not a
    /// text message is acknowledged and ignored.
    fn telegram_receive(
        &self,
        channel: &ChannelDef,
        secret: Option<&str>,
        request: &super::front::Incoming,
        body: &[u8],
    ) -> Reply {
        if let Some(var) = secret {
            let Some(expected) = self.env(var) else {
                return Reply::error(500, format!("environment variable {var} is not set"));
            };
            let given = header(request, "x-telegram-bot-api-secret-token").unwrap_or_default();
            if !super::auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Reply::error(401, "the X-Telegram-Bot-Api-Secret-Token header is missing or wrong");
            }
        }
        let update: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Reply::error(400, format!("the body is not a Telegram update: {e}")),
        };
        let message = &update["message"];
        let (Some(chat), Some(text)) = (message["chat"]["id"].as_i64(), message["text"].as_str()) else {
            return Reply::json(200, json!({ "status": "ignored" }));
        };
        // Telegram sends an update again when the answer is slow or lost; an update seen before is
        // acknowledged and not processed twice.
        let seen = update["update_id"].as_i64().map(|u| format!("telegram:{}:{u}", channel.name));
        if let Some(repeat) = seen.as_deref().and_then(|id| self.repeat(id)) {
            return repeat;
        }
        let from = &message["from"];
        let name = [from["first_name"].as_str(), from["last_name"].as_str()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let inbound = Inbound {
            urn: format!("telegram:{chat}"),
            channel: Some(channel.name.clone()),
            text: text.to_string(),
            name: (!name.is_empty()).then_some(name),
        };
        let handled = self.taken_or_forgotten(self.incoming(inbound), seen.as_deref());
        acknowledge(handled, Reply::json(200, json!({ "status": "received" })))
    }

    /// A Twilio SMS or WhatsApp webhook, verified with `X-Twilio-Signature`. Answered with empty TwiML:
    /// replies go out through the Messages API, from the outbox.
    fn twilio_receive(
        &self,
        channel: &ChannelDef,
        token_var: &str,
        request: &super::front::Incoming,
        body: &[u8],
    ) -> Reply {
        let Some(token) = self.env(token_var) else {
            return Reply::error(500, format!("environment variable {token_var} is not set"));
        };
        let params: Vec<(String, String)> =
            parse_query(&String::from_utf8_lossy(body)).into_iter().map(|(k, v)| (k, interp::value_text(&v))).collect();
        let url = match &self.config.public_url {
            Some(base) => format!("{}{}", base.trim_end_matches('/'), request.url),
            None => {
                let proto = header(request, "x-forwarded-proto").unwrap_or("http");
                format!("{proto}://{}{}", header(request, "host").unwrap_or_default(), request.url)
            }
        };
        let expected = super::auth::twilio_signature(&token, &url, &params);
        let given = header(request, "x-twilio-signature").unwrap_or_default();
        if !super::auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Reply::error(401, "the X-Twilio-Signature header is missing or wrong");
        }
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (Some(from), Some(text)) = (param("From").filter(|f| !f.is_empty()), param("Body")) else {
            return Reply::error(400, "a Twilio message needs From and Body");
        };
        // Twilio's signature carries no time: a captured request would be valid for ever. Its
        // MessageSid is seen once.
        let seen = param("MessageSid").or_else(|| param("SmsSid")).filter(|s| !s.is_empty());
        let seen = seen.map(|sid| format!("twilio:{}:{sid}", channel.name));
        if let Some(repeat) = seen.as_deref().and_then(|id| self.repeat(id)) {
            return repeat;
        }
        let inbound =
            Inbound { urn: urn_of(&from), channel: Some(channel.name.clone()), text, name: param("ProfileName") };
        let twiml = Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".to_vec(),
            run: None,
        };
        acknowledge(self.taken_or_forgotten(self.incoming(inbound), seen.as_deref()), twiml)
    }

    /// `handled`, having forgotten the message id `seen` when the message was not taken in (a server
    /// error): the sender tries again, and that try must be processed.
    fn taken_or_forgotten(&self, handled: Reply, seen: Option<&str>) -> Reply {
        if handled.status >= 500
            && let Some(id) = seen
            && let Err(e) = self.store.forget_sighting(id)
        {
            eprintln!("flowc: could not forget message {id} after a failure: {e}");
        }
        handled
    }

    /// A message from a contact: it resumes the contact's waiting run, else starts the flow of the first
    /// keyword trigger its first word matches, else a catchall's, else it is kept in the contact's inbox.
    pub(super) fn incoming(&self, message: Inbound) -> Reply {
        if message.urn.trim().is_empty() {
            return Reply::error(400, "a message needs the contact's address");
        }
        let lock = self.lock(&message.urn);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _held = match self.store_lock(&message.urn) {
            Ok(h) => h,
            Err(a) => return a,
        };
        let mut contact = match self.store.contact(&message.urn) {
            Ok(Some(c)) => c,
            Ok(None) => ContactRow::new(&message.urn),
            Err(e) => return Reply::error(500, e.to_string()),
        };
        if let Some(channel) = &message.channel {
            contact.channel = channel.clone();
        }
        if contact.name.is_empty()
            && let Some(name) = &message.name
        {
            contact.name = name.clone();
        }
        let mut row = MessageRow {
            id: crate::time::unique_id("msg"),
            urn: message.urn.clone(),
            channel: message.channel.clone().unwrap_or_default(),
            direction: Direction::In,
            text: message.text.clone(),
            quick_replies: Vec::new(),
            run_id: None,
            flow: None,
            status: MessageStatus::Handled,
        };
        match self.store.waiting_run(&message.urn) {
            Ok(Some(run)) => {
                row.run_id = Some(run.state.run_id.clone());
                return self.continue_run(run, Resume::Reply(message.text), Some(contact), vec![row]);
            }
            Ok(None) => {}
            Err(e) => return Reply::error(500, e.to_string()),
        }
        let word = first_word(&message.text);
        let channel = message.channel.as_deref();
        let applies = |t: &crate::program::MessageTriggerDef| t.channel.is_none() || t.channel.as_deref() == channel;
        // A trigger of the message's channel comes before one for every channel, whatever the order of
        // the files: a keyword first, then a catchall.
        let find = |keyword: bool, specific: bool| {
            self.programs.iter().find_map(|p| {
                let t = p.program.message_triggers.iter().find(|t| {
                    applies(t)
                        && t.channel.is_some() == specific
                        && if keyword { t.words.contains(&word) } else { t.words.is_empty() }
                })?;
                Some((p, t.flow))
            })
        };
        let found =
            find(true, true).or_else(|| find(true, false)).or_else(|| find(false, true)).or_else(|| find(false, false));
        match found {
            Some((served, flow)) => {
                let flow = served.program.flows[flow].name.clone();
                self.start_for_contact(served, &flow, contact, row)
            }
            None => {
                row.status = MessageStatus::Unhandled;
                match self.store.save_messages(&[row]) {
                    Ok(()) => Reply::json(202, json!({ "status": "stored", "urn": message.urn })),
                    Err(e) => Reply::error(500, e.to_string()),
                }
            }
        }
    }

    /// A webhook trigger's run that belongs to a contact (`start FLOW for URN via CHANNEL`): its
    /// messages go out through the channel and its `wait` takes the contact's next message. A run the
    /// contact was waiting in is interrupted, as by any new run.
    pub(super) fn trigger_for_contact(
        &self,
        served: &Served,
        flow: &str,
        contact: &crate::program::TriggerContact,
        trigger: Value,
    ) -> Reply {
        let address = match interp::eval_at_start(&served.program, flow, trigger.clone(), &contact.urn) {
            Ok(v) => interp::value_text(&v),
            Err(e) => return Reply::error(500, e.to_string()),
        };
        let urn = urn_of(&address);
        if urn.split_once(':').is_none_or(|(_, path)| path.trim().is_empty()) {
            return Reply::error(422, format!("the request gives no contact: `start ... for` computed \"{address}\""));
        }
        let lock = self.lock(&urn);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _held = match self.store_lock(&urn) {
            Ok(h) => h,
            Err(a) => return a,
        };
        let mut row = match self.store.contact(&urn) {
            Ok(Some(c)) => c,
            Ok(None) => ContactRow::new(&urn),
            Err(e) => return Reply::error(500, e.to_string()),
        };
        row.channel = contact.channel.clone();
        if let Err(a) = self.interrupt_waiting(&urn, flow) {
            return a;
        }
        let run_id = crate::time::unique_id("run");
        let outcome = self.step(flow, true, |o| {
            interp::start(&served.program, Some(flow), &run_id, row.to_contact(), Some(trigger), o)
        });
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Reply::error(500, e.to_string()).for_run(&run_id),
        };
        if let Err(e) = self.save_with(&urn, &outcome, &served.version, Commit::Wait, Vec::new()) {
            return Reply::error(500, e.to_string()).for_run(&run_id);
        }
        super::routes::trigger_answer(run_id, &outcome)
    }

    /// `GET /contacts/{urn}`: the contact, its waiting run and its latest messages.
    pub(super) fn show_contact(&self, urn: &str) -> Reply {
        if let Err(e) = self.writer.flush() {
            return Reply::error(500, e.to_string());
        }
        let contact = match self.store.contact(urn) {
            Ok(c) => c,
            Err(e) => return Reply::error(500, e.to_string()),
        };
        let messages = match self.store.contact_messages(urn, 50) {
            Ok(m) => m,
            Err(e) => return Reply::error(500, e.to_string()),
        };
        let waiting = match self.store.waiting_run(urn) {
            Ok(r) => r.map(|r| r.state.run_id),
            Err(e) => return Reply::error(500, e.to_string()),
        };
        if contact.is_none() && messages.is_empty() && waiting.is_none() {
            return Reply::error(404, format!("there is no contact {urn}"));
        }
        let mut shown = contact.map(|c| c.to_json()).unwrap_or_else(|| json!({ "urn": urn }));
        shown["waiting_run"] = json!(waiting);
        shown["messages"] = Value::Array(messages);
        Reply::json(200, shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_urns() {
        assert_eq!(urn_of("+250788123456"), "tel:+250788123456");
        assert_eq!(urn_of("+1 555-000-1111"), "tel:+15550001111");
        assert_eq!(urn_of(" 250788123456"), "tel:+250788123456", "a + sent unencoded in a form");
        assert_eq!(urn_of("tel:+250788123456"), "tel:+250788123456");
        assert_eq!(urn_of("telegram:1234"), "telegram:1234");
        assert_eq!(urn_of("ann@example.com"), "ext:ann@example.com");
        assert_eq!(urn_of("user-42"), "ext:user-42");
    }

    #[test]
    fn keywords_are_the_first_word_without_case_or_punctuation() {
        assert_eq!(first_word("  Order, please"), "order");
        assert_eq!(first_word("JOIN!"), "join");
        assert_eq!(first_word(""), "");
    }
}
