//! The HTTP request that delivers a message through a channel (an external gateway, Telegram's Bot
//! API, Twilio's Messages API): what `flowc serve`'s outbox sends and `flowc run --channel` previews.

use serde_json::{Value, json};

use crate::interp::{self, Request};
use crate::program::{ChannelDef, ChannelKindDef, Program, Secret};

/// A message to deliver.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// Its id: the `Idempotency-Key` of every attempt.
    pub id: &'a str,
    /// To whom (`tel:+250...`, `telegram:42`, `whatsapp:+1...`).
    pub urn: &'a str,
    /// The text.
    pub text: &'a str,
    /// Quick replies offered with it.
    pub quick_replies: &'a [String],
    /// The run that sent it.
    pub run_id: Option<&'a str>,
    /// The flow that sent it.
    pub flow: Option<&'a str>,
}

/// The request that delivers `message` through `channel`, and why it must not be sent (a secret
/// that is not set).
pub fn delivery_request(
    program: &Program,
    channel: &ChannelDef,
    message: &Outgoing<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Request, Option<String>) {
    let mut refusal = None;
    let mut read = |s: &Secret| match s {
        Secret::Literal(v) => v.clone(),
        Secret::Env(name) => env(name).unwrap_or_else(|| {
            refusal.get_or_insert(format!("environment variable {name} is not set"));
            String::new()
        }),
    };
    let address = message.urn.split_once(':').map_or(message.urn, |(_, rest)| rest);
    let mut request = Request {
        name: format!("channel:{}", channel.name),
        flow: message.flow.unwrap_or_default().to_string(),
        run_id: message.run_id.unwrap_or_default().to_string(),
        method: crate::ast::Method::POST,
        url: String::new(),
        headers: Vec::new(),
        body: None,
        timeout_ms: crate::compile::DEFAULT_TIMEOUT_MS,
        // The outbox retries across rounds of the sender, so that a message waits without a thread.
        retries: 0,
        backoff_ms: crate::compile::CHANNEL_BACKOFF_MS,
        display_url: String::new(),
        secret_headers: Vec::new(),
        secrets: Vec::new(),
    };
    match &channel.kind {
        ChannelKindDef::External { send, .. } => {
            request.method = send.method;
            request.timeout_ms = send.timeout_ms;
            request.headers = send.headers.iter().map(|(k, v)| (k.clone(), read(v))).collect();
            request.url = send.url.clone();
            request.display_url = send.url.clone();
            if let Some(connector) = send.auth.and_then(|i| program.connectors.get(i)) {
                let applied = interp::apply_auth(&connector.auth, &mut read);
                request.headers.extend(applied.headers);
                request.secret_headers = applied.secret_headers;
                request.secrets = applied.secrets;
                if let Some((k, v)) = applied.query {
                    let separator = if request.url.contains('?') { '&' } else { '?' };
                    let k = crate::interp::eval::url_encode(&k);
                    request.url = format!("{}{separator}{k}={}", request.url, crate::interp::eval::url_encode(&v));
                    request.display_url = format!("{}{separator}{k}=***", request.display_url);
                }
            }
            request.headers.push(("Content-Type".into(), "application/json".into()));
            request.headers.push(("Idempotency-Key".into(), message.id.to_string()));
            let mut body = json!({
                "id": message.id, "to": address, "urn": message.urn, "text": message.text, "run_id": message.run_id,
            });
            if !message.quick_replies.is_empty() {
                body["quick_replies"] = json!(message.quick_replies);
            }
            request.body = Some(body.to_string());
        }
        ChannelKindDef::Telegram { token, .. } => {
            let token = read(&Secret::Env(token.clone()));
            request.url = format!("https://api.telegram.org/bot{token}/sendMessage");
            request.display_url = "https://api.telegram.org/bot***/sendMessage".into();
            request.secrets = vec![token];
            request.headers.push(("Content-Type".into(), "application/json".into()));
            let chat: Value = address.parse::<i64>().map_or_else(|_| json!(address), |id| json!(id));
            let mut body = json!({ "chat_id": chat, "text": message.text });
            if !message.quick_replies.is_empty() {
                // A keyboard of one button per row, gone once the contact taps one.
                let rows: Vec<Value> = message.quick_replies.iter().map(|r| json!([{ "text": r }])).collect();
                body["reply_markup"] = json!({ "keyboard": rows, "one_time_keyboard": true, "resize_keyboard": true });
            }
            request.body = Some(body.to_string());
        }
        ChannelKindDef::Twilio { account, token, from } => {
            let (sid, token) = (read(&Secret::Env(account.clone())), read(&Secret::Env(token.clone())));
            request.url = format!("https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json");
            request.display_url = request.url.clone();
            let applied = interp::apply_auth(
                &crate::program::AuthDef::Basic { user: Secret::Literal(sid), password: Secret::Literal(token) },
                &mut |s| match s {
                    Secret::Literal(v) | Secret::Env(v) => v.clone(),
                },
            );
            request.headers = applied.headers;
            request.secret_headers = applied.secret_headers;
            request.secrets = applied.secrets;
            request.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
            // WhatsApp contacts are written to, and from, WhatsApp addresses.
            let (to, from) = match message.urn.strip_prefix("whatsapp:") {
                Some(number) => {
                    let from = if from.starts_with("whatsapp:") { from.clone() } else { format!("whatsapp:{from}") };
                    (format!("whatsapp:{number}"), from)
                }
                None => (address.to_string(), from.clone()),
            };
            let encode = crate::interp::eval::url_encode;
            request.body = Some(format!("To={}&From={}&Body={}", encode(&to), encode(&from), encode(message.text)));
        }
    }
    (request, refusal)
}
