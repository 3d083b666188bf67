//! Contacts and channels in `flowc serve` (docs/language.md §9), against a fake SMS gateway on 127.0.0.1:
//! keywords and catchalls, replies, timeouts, the outbox's retries and order, contact fields across runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowc::serve::Config;
use serde_json::{Value, json};

use crate::serve::{post_json, request, serve_config};
use crate::server::{Received, Reply, TestServer};

const SMS: &str = r#"
connector gateway bearer env "GATEWAY_TOKEN"
connector inbound api_key header "X-Api-Key" env "INBOUND_KEY"
channel sms external {
  receive "/sms/in" auth inbound
  send POST "https://gateway.example.com/send" { auth gateway; backoff 100ms }
}
trigger keyword "join", "start" { start signup }
trigger catchall channel sms { start fallback }
flow signup {
  send "Welcome!"
  send "What is your name?"
  wait name timeout 1s {
    on timeout { send "Still there? Send JOIN again."; stop }
  }
  set @contact.name = @flow.name
  set @contact.fields.joined = "yes"
  set @contact.groups += "Members"
  send "Thanks @contact.name" replies "Menu", "Stop"
}
flow fallback {
  send "Send JOIN to sign up (joined: @contact.fields.joined)"
}
"#;

/// A server for `src` whose gateway calls go to `gateway`.
fn serve_with_gateway(src: &str, gateway: &TestServer) -> crate::serve::Running {
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://gateway.example.com".to_string(), gateway.url(""))];
    serve_config(&[src], Config { network, routes, ..Config::default() })
}

fn sms(base: &str, from: &str, text: &str) -> crate::serve::Got {
    post_json(&format!("{base}/sms/in"), &[("X-Api-Key", "inbound-key-321")], &json!({"from": from, "text": text}))
}

/// Waits until the gateway has taken `n` messages (answered 2xx) and returns the bodies of those (JSON,
/// or the text of a form).
fn delivered(gateway: &TestServer, ok: &Mutex<Vec<usize>>, n: usize) -> Vec<Value> {
    let began = Instant::now();
    loop {
        // The answers first: a request the gateway has answered is in its list of requests by then
        // (read the other way round, an answer could name a request the list does not hold yet).
        let answered: Vec<usize> = ok.lock().unwrap().clone();
        let got: Vec<Received> = gateway.requests();
        let body = |i: usize| serde_json::from_str(&got[i].body).unwrap_or_else(|_| Value::String(got[i].body.clone()));
        let taken: Vec<Value> = answered.iter().filter(|&&i| i < got.len()).map(|&i| body(i)).collect();
        if taken.len() >= n {
            return taken;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "only {} of {n} messages delivered: {taken:?}", taken.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the outbox has nothing left to deliver. A channel's steps are committed before their
/// answer, so once a request is answered, what it sent is in the outbox: after this, the gateway has
/// seen every message the requests so far sent, and "nothing was sent" can be asserted without a sleep.
pub(crate) fn outbox_settled(base: &str) {
    let began = Instant::now();
    loop {
        let metrics = request("GET", &format!("{base}/metrics"), &[], None).body;
        if metrics.lines().any(|l| l == "flowc_outbox_pending 0") {
            return;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "the outbox never emptied: {metrics}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn texts(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["text"].as_str().unwrap()).collect()
}

/// A gateway that answers 200 and remembers which requests it took.
fn gateway() -> (TestServer, Arc<Mutex<Vec<usize>>>) {
    let ok = Arc::new(Mutex::new(Vec::new()));
    let taken = ok.clone();
    let server = TestServer::start(move |i, _| {
        taken.lock().unwrap().push(i);
        Reply::json(200, r#"{"queued": true}"#)
    });
    (server, ok)
}

#[test]
fn a_keyword_starts_a_flow_whose_messages_reach_the_gateway_and_the_reply_resumes_it() {
    let (gw, ok) = gateway();
    let s = serve_with_gateway(SMS, &gw);
    let got = sms(&s.base, "+250788000001", "JOIN please");
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["status"], "received");
    let first = delivered(&gw, &ok, 2);
    assert_eq!(texts(&first), ["Welcome!", "What is your name?"], "in the order sent");
    assert_eq!(first[0]["to"], "+250788000001");
    assert_eq!(first[0]["urn"], "tel:+250788000001");
    let requests = gw.requests();
    assert_eq!(requests[0].header("Authorization"), Some("Bearer gateway-token-789"));
    assert_eq!(requests[0].header("Idempotency-Key"), first[0]["id"].as_str());
    assert_eq!(requests[0].url, "/send");

    assert_eq!(sms(&s.base, "+250788000001", "Ann").status, 200);
    let third = &delivered(&gw, &ok, 3)[2];
    assert_eq!(third["text"], "Thanks Ann");
    assert_eq!(third["quick_replies"], json!(["Menu", "Stop"]), "quick replies go to the gateway with the message");
    assert!(first[0].get("quick_replies").is_none(), "a message without them has no key");

    // The contact keeps what the flow set, and its messages in and out. A delivery is recorded once
    // the gateway has answered it: the outcome of the third may still be on its way.
    let began = Instant::now();
    let contact = loop {
        let contact = request("GET", &format!("{}/contacts/tel:+250788000001", s.base), &[], None).json();
        let pending = contact["messages"].as_array().unwrap().iter().any(|m| m["status"] == "pending");
        if !pending || began.elapsed() > Duration::from_secs(10) {
            break contact;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!((contact["name"].as_str(), contact["channel"].as_str()), (Some("Ann"), Some("sms")), "{contact}");
    assert_eq!(contact["fields"]["joined"], "yes");
    assert_eq!(contact["groups"], json!(["Members"]), "groups are kept with the contact: {contact}");
    assert_eq!(contact["waiting_run"], Value::Null);
    let messages = contact["messages"].as_array().unwrap();
    let sent: Vec<&str> =
        messages.iter().filter(|m| m["direction"] == "out").map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(sent, ["sent", "sent", "sent"], "{contact}");
    assert_eq!(messages.iter().filter(|m| m["direction"] == "in").count(), 2);

    // Another message, no keyword: the channel's catchall, which reads the field the first run set.
    assert_eq!(sms(&s.base, "+250788000001", "hello?").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 4))[3], "Send JOIN to sign up (joined: yes)");
}

#[test]
fn a_timeouts_message_is_delivered_too() {
    let (gw, ok) = gateway();
    let s = serve_with_gateway(SMS, &gw);
    assert_eq!(sms(&s.base, "+250788000002", "start").status, 200);
    let all = delivered(&gw, &ok, 3);
    assert_eq!(texts(&all)[2], "Still there? Send JOIN again.");
}

#[test]
fn a_gateway_failing_twice_gets_the_message_once_more_with_the_same_id() {
    let ok = Arc::new(Mutex::new(Vec::new()));
    let taken = ok.clone();
    let gw = TestServer::start(move |i, _| {
        if i < 2 {
            return Reply::json(503, r#"{"error": "busy"}"#);
        }
        taken.lock().unwrap().push(i);
        Reply::json(200, "{}")
    });
    let src = SMS.replace("trigger catchall channel sms { start fallback }", "").replace(
        "flow signup {\n  send \"Welcome!\"\n  send \"What is your name?\"",
        "flow signup {\n  send \"Welcome!\"\n  stop\n  send \"What is your name?\"",
    );
    let s = serve_with_gateway(&src, &gw);
    assert_eq!(sms(&s.base, "+250788000003", "join").status, 200);
    let taken = delivered(&gw, &ok, 1);
    assert_eq!(texts(&taken), ["Welcome!"]);
    outbox_settled(&s.base);
    let requests = gw.requests();
    assert_eq!(requests.len(), 3, "two failures, one success, nothing after");
    let keys: Vec<Option<&str>> = requests.iter().map(|r| r.header("Idempotency-Key")).collect();
    assert!(keys.iter().all(|k| *k == keys[0] && k.is_some()), "{keys:?}");
    let contact = request("GET", &format!("{}/contacts/tel:+250788000003", s.base), &[], None).json();
    let out = contact["messages"].as_array().unwrap().iter().find(|m| m["direction"] == "out").unwrap().clone();
    assert_eq!((out["status"].as_str(), out["attempts"].as_u64()), (Some("sent"), Some(3)), "{contact}");
    // Each attempt is in the webhook log under the channel's name.
    let log = request("GET", &format!("{}/log?webhook=channel:sms", s.base), &[], None).json();
    assert_eq!(log.as_array().unwrap().len(), 3, "{log}");
    let mut attempts: Vec<(u64, &str)> =
        log.as_array().unwrap().iter().map(|e| (e["attempt"].as_u64().unwrap(), e["flow"].as_str().unwrap())).collect();
    attempts.sort();
    assert_eq!(attempts, [(1, "signup"), (2, "signup"), (3, "signup")], "the message's attempts, and its flow");
    assert!(!log.to_string().contains("gateway-token-789"), "no secret in the log");
    let metrics = request("GET", &format!("{}/metrics", s.base), &[], None).body;
    assert!(metrics.lines().any(|l| l == "flowc_outbox_pending 0"), "{metrics}");
}

#[test]
fn a_message_without_the_key_is_refused_and_starts_nothing() {
    let (gw, _ok) = gateway();
    let s = serve_with_gateway(SMS, &gw);
    let wrong =
        post_json(&format!("{}/sms/in", s.base), &[("X-Api-Key", "nope")], &json!({"from": "+1555", "text": "join"}));
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let missing = post_json(&format!("{}/sms/in", s.base), &[], &json!({"from": "+1555", "text": "join"}));
    assert_eq!(missing.status, 401);
    let no_from = sms(&s.base, "", "join");
    assert_eq!(no_from.status, 400);
    assert_eq!(request("GET", &format!("{}/sms/in", s.base), &[], None).status, 405);
    outbox_settled(&s.base);
    assert!(gw.requests().is_empty());
    assert_eq!(request("GET", &format!("{}/contacts/tel:+1555", s.base), &[], None).status, 404);
}

#[test]
fn a_form_encoded_message_and_one_nothing_takes_are_kept_in_the_inbox() {
    let (gw, _ok) = gateway();
    let src = SMS.replace("trigger catchall channel sms { start fallback }", "");
    let s = serve_with_gateway(&src, &gw);
    let got = crate::serve::request(
        "POST",
        &format!("{}/sms/in", s.base),
        &[("X-Api-Key", "inbound-key-321"), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(b"from=%2B250788000004&text=hello+there&name=Bea"),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["status"], "stored");
    let contact = request("GET", &format!("{}/contacts/tel:+250788000004", s.base), &[], None).json();
    assert_eq!(contact["messages"][0]["text"], "hello there", "{contact}");
    assert_eq!(contact["messages"][0]["status"], "unhandled");
    // Senders whose addresses are not UTF-8 would all become one contact: refused.
    for from in [&b"from=%FF%FE01&text=hi"[..], b"from=%C3%28x&text=hi"] {
        let got = crate::serve::request(
            "POST",
            &format!("{}/sms/in", s.base),
            &[("X-Api-Key", "inbound-key-321"), ("Content-Type", "application/x-www-form-urlencoded")],
            Some(from),
        );
        assert_eq!(got.status, 400, "{}", got.body);
        assert!(got.body.contains("not UTF-8"), "{}", got.body);
    }
}

#[test]
fn a_server_killed_between_the_commit_and_the_delivery_delivers_after_it_restarts() {
    use crate::serve_process::{TempDir, spawn_serve};
    use std::process::Stdio;
    // The first delivery hangs long enough for the server to be killed while it waits.
    let ok = Arc::new(Mutex::new(Vec::new()));
    let taken = ok.clone();
    let gw = TestServer::start(move |i, _| {
        taken.lock().unwrap().push(i);
        Reply::json(200, "{}").after(if i == 0 { Duration::from_secs(3) } else { Duration::ZERO })
    });
    let src = r#"
channel sms external {
  receive "/sms/in"
  send POST "https://gateway.example.com/send"
}
trigger keyword "join" { start signup }
flow signup {
  send "Welcome!"
}
"#;
    let dir = TempDir::new("outbox-kill");
    let flow = dir.0.join("sms.flow");
    std::fs::write(&flow, src).unwrap();
    let db = dir.0.join("flowc.db");
    let route = format!("https://gateway.example.com={}", gw.url(""));
    let args = ["--allow-network", "127.0.0.1/32", "--route", route.as_str(), "--no-access-log"];
    let (mut server, base) = spawn_serve(&flow, &db, &args, Stdio::null());
    let got = post_json(&format!("{base}/sms/in"), &[], &json!({"from": "+250788000005", "text": "join"}));
    assert_eq!(got.status, 200, "{}", got.body);
    let began = Instant::now();
    while gw.requests().is_empty() {
        assert!(began.elapsed() < Duration::from_secs(5), "the first delivery never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill().unwrap(); // SIGKILL, with the delivery in flight
    server.wait().unwrap();
    let (_again, base) = spawn_serve(&flow, &db, &args, Stdio::null());
    let began = Instant::now();
    while gw.requests().len() < 2 {
        assert!(began.elapsed() < Duration::from_secs(10), "the message was not delivered after the restart");
        std::thread::sleep(Duration::from_millis(20));
    }
    let requests = gw.requests();
    assert_eq!(requests[0].header("Idempotency-Key"), requests[1].header("Idempotency-Key"), "the same message");
    assert_eq!(serde_json::from_str::<Value>(&requests[1].body).unwrap()["text"], "Welcome!");
    let began = Instant::now();
    loop {
        let contact = request("GET", &format!("{base}/contacts/tel:+250788000005"), &[], None).json();
        let out = contact["messages"].as_array().unwrap().iter().find(|m| m["direction"] == "out").cloned().unwrap();
        if out["status"] == "sent" {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(5), "{contact}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_webhook_trigger_starts_runs_that_belong_to_contacts_and_their_replies_resume_the_right_one() {
    let (gw, ok) = gateway();
    let src = format!(
        "{SMS}\n{}",
        r#"trigger webhook "/signup" methods POST {
  expect body { phone: text, name?: text }
  start welcome for "tel:" & @trigger.body.phone via sms
}
flow welcome {
  send "Welcome! Reply with your city."
  wait city timeout 1h
  set @contact.fields.city = @flow.city
  send "Noted: @contact.fields.city"
}
"#
    );
    let s = serve_with_gateway(&src, &gw);
    for phone in ["+250788000011", "+250788000012"] {
        let got = post_json(&format!("{}/signup", s.base), &[], &json!({"phone": phone}));
        assert_eq!(got.status, 202, "{}", got.body);
        assert_eq!(got.json()["status"], "waiting");
    }
    let first = delivered(&gw, &ok, 2);
    let mut to: Vec<&str> = first.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort_unstable();
    assert_eq!(to, ["+250788000011", "+250788000012"], "each run talks to its own contact");
    assert_eq!(sms(&s.base, "+250788000012", "Kigali").status, 200);
    let third = &delivered(&gw, &ok, 3)[2];
    assert_eq!((third["to"].as_str(), third["text"].as_str()), (Some("+250788000012"), Some("Noted: Kigali")));
    let other = request("GET", &format!("{}/contacts/tel:+250788000011", s.base), &[], None).json();
    assert!(other["waiting_run"].is_string(), "the other contact still waits: {other}");
    let bad = post_json(&format!("{}/signup", s.base), &[], &json!({"phone": ""}));
    assert_eq!(bad.status, 422, "{}", bad.body);
}

const TELEGRAM: &str = r#"
channel tg telegram token env "TELEGRAM_TOKEN" secret env "TELEGRAM_SECRET"
trigger keyword "hi" channel tg { start hello }
flow hello {
  send "Hello @contact.name! What is your favourite colour?" replies "Red", "Blue"
  wait colour
  set @contact.fields.colour = @flow.colour
  send "@flow.colour it is."
}
"#;

/// A Telegram update with a fresh `update_id`, as Telegram numbers them.
fn update(chat: i64, text: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(10_000);
    json!({
        "update_id": NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        "message": {
            "message_id": 1, "date": 1700000000, "text": text,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "last_name": "Lee", "language_code": "en"}
        }
    })
}

#[test]
fn telegram_updates_start_and_resume_runs_and_replies_go_to_send_message() {
    let (api, ok) = gateway();
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://api.telegram.org".to_string(), api.url(""))];
    let s = serve_config(&[TELEGRAM], Config { network, routes, ..Config::default() });
    let url = format!("{}/channels/tg", s.base);
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "tg-secret-654")];
    let got = post_json(&url, &secret, &update(4242, "Hi there"));
    assert_eq!(got.status, 200, "{}", got.body);
    let first = delivered(&api, &ok, 1);
    assert_eq!(
        first[0],
        json!({"chat_id": 4242, "text": "Hello Ann Lee! What is your favourite colour?", "reply_markup": {
            "keyboard": [[{"text": "Red"}], [{"text": "Blue"}]], "one_time_keyboard": true, "resize_keyboard": true
        }})
    );
    assert_eq!(api.requests()[0].url, "/bot123456:telegram-token/sendMessage");
    let blue = update(4242, "Blue");
    assert_eq!(post_json(&url, &secret, &blue).status, 200);
    assert_eq!(delivered(&api, &ok, 2)[1]["text"], "Blue it is.");
    // Telegram sending the same update again (a slow answer): acknowledged, not fed in as a new reply.
    let again = post_json(&url, &secret, &blue);
    assert_eq!((again.status, again.json()["status"].as_str()), (200, Some("repeat")), "{}", again.body);
    let contact = request("GET", &format!("{}/contacts/telegram:4242", s.base), &[], None).json();
    assert_eq!((contact["name"].as_str(), contact["fields"]["colour"].as_str()), (Some("Ann Lee"), Some("Blue")));
    // The token is in the URL Telegram is called at: the log shows it hidden.
    let log = request("GET", &format!("{}/log?webhook=channel:tg", s.base), &[], None);
    assert!(log.body.contains("bot***") && !log.body.contains("telegram-token"), "{}", log.body);

    // A wrong or missing secret token: 401, nothing starts.
    let wrong = post_json(&url, &[("X-Telegram-Bot-Api-Secret-Token", "nope")], &update(7, "hi"));
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(post_json(&url, &[], &update(7, "hi")).status, 401);
    // An update that is not a text message is acknowledged (Telegram would send it again) and ignored.
    let photo = json!({"update_id": 1, "message": {"message_id": 2, "chat": {"id": 7}, "photo": []}});
    let ignored = post_json(&url, &secret, &photo);
    assert_eq!((ignored.status, ignored.json()["status"].as_str()), (200, Some("ignored")));
    outbox_settled(&s.base);
    assert_eq!(api.requests().len(), 2, "nothing was sent to chat 7");
    assert_eq!(request("GET", &format!("{}/contacts/telegram:7", s.base), &[], None).status, 404);
}

const TWILIO: &str = r#"
channel tw twilio account env "TWILIO_SID" token env "TWILIO_TOKEN" from "+15550001111"
trigger catchall { start echo }
flow echo {
  send "Thanks, @contact.name."
}
"#;

#[test]
fn twilio_webhooks_are_verified_and_replies_go_out_through_the_messages_api() {
    let (api, ok) = gateway();
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://api.twilio.com".to_string(), api.url(""))];
    let s = serve_config(&[TWILIO], Config { network, routes, ..Config::default() });
    let url = format!("{}/channels/tw", s.base);
    // Each message with its own MessageSid, as Twilio gives them.
    let sid = std::sync::atomic::AtomicU32::new(1);
    let params = |from: &str, body: &str| -> Vec<(String, String)> {
        let sid = format!("SM{}", sid.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        [("MessageSid", sid.as_str()), ("From", from), ("To", "+15550001111"), ("Body", body), ("ProfileName", "Cy")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let form = |p: &[(String, String)]| {
        p.iter().map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "+"))).collect::<Vec<_>>().join("&")
    };
    let post = |p: &[(String, String)], signature: &str| {
        request(
            "POST",
            &url,
            &[("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", signature)],
            Some(form(p).as_bytes()),
        )
    };
    let sms = params("+250788000021", "hello there");
    let signature = flowc::serve::auth::twilio_signature("twilio-token-987", &url, &sms);
    let got = post(&sms, &signature);
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("<Response></Response>"), "{}", got.body);
    delivered(&api, &ok, 1);
    let sent = &api.requests()[0];
    assert_eq!(sent.url, "/2010-04-01/Accounts/AC0123456789/Messages.json");
    assert!(sent.header("Authorization").is_some_and(|a| a.starts_with("Basic ")));
    assert_eq!(sent.body, "To=%2B250788000021&From=%2B15550001111&Body=Thanks%2C%20Cy.");
    // The same request captured and sent again (its signature carries no time): acknowledged, not run.
    let replay = post(&sms, &signature);
    assert_eq!(replay.status, 200, "{}", replay.body);
    outbox_settled(&s.base);
    assert_eq!(api.requests().len(), 1, "a replay starts nothing");

    // WhatsApp: the reply goes to and from WhatsApp addresses.
    let wa = params("whatsapp:+250788000022", "hi");
    let signature = flowc::serve::auth::twilio_signature("twilio-token-987", &url, &wa);
    assert_eq!(post(&wa, &signature).status, 200);
    delivered(&api, &ok, 2);
    assert!(api.requests()[1].body.starts_with("To=whatsapp%3A%2B250788000022&From=whatsapp%3A%2B15550001111&"));

    // A bad signature, or a body changed after signing: 401, nothing starts.
    let forged = params("+250788000023", "hi");
    assert_eq!(post(&forged, "AAAA").status, 401);
    let signed = flowc::serve::auth::twilio_signature("twilio-token-987", &url, &forged);
    let mut changed = forged.clone();
    changed[3].1 = "changed".into();
    assert_eq!(post(&changed, &signed).status, 401);
    outbox_settled(&s.base);
    assert_eq!(api.requests().len(), 2);
}

const ZONES: &str = r#"
connector gateway bearer env "GATEWAY_TOKEN"
connector inbound api_key header "X-Api-Key" env "INBOUND_KEY"
channel sms external {
  receive "/sms/in" auth inbound
  send POST "https://gateway.example.com/send" { auth gateway; backoff 100ms }
}
trigger keyword "clock" { start clock }
trigger keyword "zone" { start zone }
trigger keyword "echo" { start echo }
flow echo {
  send "You wrote: @input"
  wait more timeout 1m
  send "Then: @input"
}
flow clock {
  send "@(today()) @(format_date(now(), "ZZZ"))"
}
flow zone {
  send "Which time zone?"
  wait tz timeout 1m
  set @contact.timezone = @flow.tz
  send "Zone: @contact.timezone"
}
"#;

/// Dates are read and written in the contact's time zone, which a flow sets and the store keeps; a
/// contact without one uses `--timezone`.
#[test]
fn a_contacts_time_zone_is_kept_and_used_for_today_and_now() {
    let (gw, ok) = gateway();
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://gateway.example.com".to_string(), gw.url(""))];
    let timezone = Some(flowc::dates::zone("Pacific/Kiritimati").unwrap());
    let s = serve_config(&[ZONES], Config { network, routes, timezone, ..Config::default() });
    let today_in = crate::today_in;
    let from = "+250788000009";
    assert_eq!(sms(&s.base, from, "clock").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 1))[0], format!("{} +14:00", today_in("Pacific/Kiritimati")));

    assert_eq!(sms(&s.base, from, "zone").status, 200);
    delivered(&gw, &ok, 2);
    assert_eq!(sms(&s.base, from, "Pacific/Honolulu").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 3))[2], "Zone: Pacific/Honolulu");
    let contact = request("GET", &format!("{}/contacts/tel:{from}", s.base), &[], None).json();
    assert_eq!(contact["timezone"], "Pacific/Honolulu", "{contact}");
    assert_eq!(sms(&s.base, from, "clock").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 4))[3], format!("{} -10:00", today_in("Pacific/Honolulu")));

    // A name that is not a zone changes nothing (the run warns).
    assert_eq!(sms(&s.base, from, "zone").status, 200);
    delivered(&gw, &ok, 5);
    assert_eq!(sms(&s.base, from, "Mars/Olympus").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 6))[5], "Zone: Pacific/Honolulu");

    // A run started by a message has it as `@input` until the first reply (RapidPro's trigger input).
    assert_eq!(sms(&s.base, from, "ECHO order 42").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 7))[6], "You wrote: ECHO order 42");
    assert_eq!(sms(&s.base, from, "and 43").status, 200);
    assert_eq!(texts(&delivered(&gw, &ok, 8))[7], "Then: and 43");
}

/// A keyword bound to the message's channel comes before the same keyword for every channel, whatever
/// the order of the files (before: the first file's trigger took Telegram's `/start`).
#[test]
fn a_keyword_of_the_messages_channel_comes_before_one_for_every_channel() {
    let (api, ok) = gateway();
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://api.telegram.org".to_string(), api.url(""))];
    let any = "trigger keyword \"start\" { start signup }\nflow signup {\n  send \"Signed up.\"\n}\n";
    let bot = "channel tg telegram token env \"TELEGRAM_TOKEN\" secret env \"TELEGRAM_SECRET\"\n\
               trigger keyword \"start\" channel tg { start menu }\nflow menu {\n  send \"Menu.\"\n}\n";
    let s = serve_config(&[any, bot], Config { network, routes, ..Config::default() });
    let got = post_json(
        &format!("{}/channels/tg", s.base),
        &[("X-Telegram-Bot-Api-Secret-Token", "tg-secret-654")],
        &update(555, "/start"),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(delivered(&api, &ok, 1)[0]["text"], "Menu.");
}

/// Two channels on one server, each to its own gateway.
const TWO_CHANNELS: &str = r#"
channel sms external {
  receive "/sms/in"
  send POST "https://sms-gateway.example.com/send" { timeout 30s }
}
channel chat external {
  receive "/chat/in"
  send POST "https://chat-gateway.example.com/send"
}
trigger keyword "join" { start signup }
flow signup {
  send "Welcome!"
}
"#;

fn serve_two_channels(sms: &TestServer, chat: &TestServer, concurrency: usize) -> crate::serve::Running {
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![
        ("https://sms-gateway.example.com".to_string(), sms.url("")),
        ("https://chat-gateway.example.com".to_string(), chat.url("")),
    ];
    serve_config(&[TWO_CHANNELS], Config { network, routes, outbox_concurrency: concurrency, ..Config::default() })
}

fn join(base: &str, path: &str, from: &str) {
    let got = post_json(&format!("{base}{path}"), &[], &json!({"from": from, "text": "join"}));
    assert_eq!(got.status, 200, "{}", got.body);
}

#[test]
fn a_gateway_that_never_answers_holds_up_only_its_own_channel() {
    // The SMS gateway takes every request and answers none within the test; the chat gateway answers.
    let stuck = TestServer::start(|_, _| Reply::json(200, "{}").after(Duration::from_secs(60)));
    let (chat, ok) = gateway();
    let s = serve_two_channels(&stuck, &chat, 8);
    for i in 0..3 {
        join(&s.base, "/sms/in", &format!("+25078800030{i}"));
    }
    let began = Instant::now();
    while stuck.requests().len() < 3 {
        assert!(began.elapsed() < Duration::from_secs(10), "the SMS deliveries never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Three SMS deliveries hang; the chat reply goes out meanwhile (one sender for both waited 3 × 30 s).
    join(&s.base, "/chat/in", "chat-user-1");
    let taken = delivered(&chat, &ok, 1);
    assert_eq!((taken[0]["to"].as_str(), taken[0]["text"].as_str()), (Some("chat-user-1"), Some("Welcome!")));
    assert_eq!(stuck.requests().len(), 3, "each SMS tried once, still waiting for the gateway");
}

#[test]
fn a_channel_delivers_up_to_its_concurrency_at_once_and_each_contact_in_order() {
    // Every answer takes 400 ms: requests that arrive within 300 ms of each other were in flight together.
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let slow = TestServer::start(move |_, r| {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        seen.lock().unwrap().push((Instant::now(), body["to"].as_str().unwrap().to_string()));
        Reply::json(200, "{}").after(Duration::from_millis(400))
    });
    let (chat, _) = gateway();
    let src_contacts: Vec<String> = (0..12).map(|i| format!("+2507880004{i:02}")).collect();
    let s = serve_two_channels(&slow, &chat, 4);
    for c in &src_contacts {
        join(&s.base, "/sms/in", c);
    }
    // One contact sends twice more: its three messages must arrive one after the other.
    join(&s.base, "/sms/in", &src_contacts[0]);
    join(&s.base, "/sms/in", &src_contacts[0]);
    let began = Instant::now();
    while arrivals.lock().unwrap().len() < 14 {
        assert!(began.elapsed() < Duration::from_secs(20), "{} of 14 delivered", arrivals.lock().unwrap().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let most_at_once = arrivals
        .iter()
        .map(|(t, _)| {
            arrivals.iter().filter(|(u, _)| *u >= *t && u.duration_since(*t) < Duration::from_millis(300)).count()
        })
        .max()
        .unwrap();
    assert!((2..=4).contains(&most_at_once), "{most_at_once} deliveries at once with a concurrency of 4");
    let first: Vec<Instant> = arrivals.iter().filter(|(_, to)| *to == src_contacts[0]).map(|(t, _)| *t).collect();
    assert_eq!(first.len(), 3);
    for pair in first.windows(2) {
        assert!(pair[1].duration_since(pair[0]) >= Duration::from_millis(400), "one contact's messages overlapped");
    }
}

/// `rate 5/s`: ten messages to ten contacts leave at most five a second, however fast the gateway
/// answers (the lower bound on their spread cannot fail on a slow machine).
#[test]
fn a_channel_with_a_rate_paces_its_deliveries() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let gw = TestServer::start(move |_, _| {
        seen.lock().unwrap().push(Instant::now());
        Reply::json(200, "{}")
    });
    let src = SMS.replace("channel sms external {", "channel sms external rate 5/s {");
    let s = serve_with_gateway(&src, &gw);
    for i in 0..10 {
        assert_eq!(sms(&s.base, &format!("+25078800010{i}"), "hello").status, 200);
    }
    let began = Instant::now();
    while times.lock().unwrap().len() < 10 {
        assert!(began.elapsed() < Duration::from_secs(20), "only {} delivered", times.lock().unwrap().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    let times = times.lock().unwrap().clone();
    let spread = *times.last().unwrap() - times[0];
    assert!(spread >= Duration::from_millis(1700), "10 messages at 5/s took {spread:?}");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(150), "{:?} apart", pair[1] - pair[0]);
    }
}
