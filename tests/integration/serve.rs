//! `flowc serve` over real HTTP on 127.0.0.1: trigger status codes, signatures, conversations,
//! concurrency, the scheduler, the log, and a server killed and restarted.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use flowc::serve::store::SqliteStore;
use flowc::serve::{Config, Served, Server};
use serde_json::{Value, json};

use crate::serve_process::{SURVEY, TempDir, spawn_serve};
use crate::server::{Reply, TestServer};

pub(crate) struct Running {
    server: Option<Server>,
    pub(crate) base: String,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "SHOP_INBOUND_KEY" => Some("shop-key-123".into()),
        "WEBHOOK_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        "ORDERS_TOKEN" => Some("orders-token-456".into()),
        "GATEWAY_TOKEN" => Some("gateway-token-789".into()),
        "INBOUND_KEY" => Some("inbound-key-321".into()),
        "TELEGRAM_TOKEN" => Some("123456:telegram-token".into()),
        "TELEGRAM_SECRET" => Some("tg-secret-654".into()),
        "TWILIO_SID" => Some("AC0123456789".into()),
        "TWILIO_TOKEN" => Some("twilio-token-987".into()),
        _ => None,
    }
}

/// A server whose webhooks may reach the test servers on 127.0.0.1.
fn serve(sources: &[&str], max_body: usize) -> Running {
    serve_with(sources, max_body, flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]))
}

fn serve_with(sources: &[&str], max_body: usize, network: flowc::net::NetworkPolicy) -> Running {
    serve_config(sources, Config { max_body, network, ..Config::default() })
}

/// A server with `config`, its own scheduler interval and secrets, and 4 workers unless it says.
pub(crate) fn serve_config(sources: &[&str], config: Config) -> Running {
    let programs = sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let program = flowc::compile_source(s).unwrap_or_else(|d| panic!("{d:#?}")).0;
            Served::from_source(&format!("test{i}.flow"), s, program)
        })
        .collect();
    let dir = TempDir::new("serve");
    let store = SqliteStore::open(&dir.0.join("flowc.db")).unwrap();
    let workers = if config.workers == Config::default().workers { 4 } else { config.workers };
    let api_tokens = if config.api_tokens.is_empty() {
        vec![crate::serve_process::OPERATOR_TOKEN.to_string()]
    } else {
        config.api_tokens
    };
    let config =
        Config { workers, scheduler_interval: Duration::from_millis(100), env: Arc::new(env), api_tokens, ..config };
    let server = Server::start("127.0.0.1:0", programs, Box::new(store), config).unwrap();
    let base = format!("http://{}", server.addr());
    Running { server: Some(server), base, _dir: dir }
}

pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Got {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

pub(crate) fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Got {
    let agent = agent();
    let mut b = match method {
        "GET" => agent.get(url).force_send_body(),
        "DELETE" => agent.delete(url).force_send_body(),
        "PUT" => agent.put(url),
        "PATCH" => agent.patch(url),
        _ => agent.post(url),
    };
    // The operator's token unless the test gives an Authorization of its own (empty: none at all).
    let bearer = format!("Bearer {}", crate::serve_process::OPERATOR_TOKEN);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
        b = b.header("Authorization", &bearer);
    }
    for (k, v) in headers {
        if !(k.eq_ignore_ascii_case("authorization") && v.is_empty()) {
            b = b.header(*k, *v);
        }
    }
    let mut r = match body {
        Some(body) => b.send(body).unwrap(),
        None => b.send_empty().unwrap(),
    };
    let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    Got { status: r.status().as_u16(), headers, body: r.body_mut().read_to_string().unwrap_or_default() }
}

/// What a connection to `addr` reads while `held` other connections are open and idle (the answer
/// past a connection cap); the held ones are closed again before it returns.
fn answer_past(addr: &str, held: usize) -> String {
    use std::io::Read;
    let held: Vec<_> = (0..held).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    // Time for the server to take the held connections (no event says it has). Too short a sleep
    // lets the next connection in and fails the caller's assertion; it cannot make one pass.
    std::thread::sleep(Duration::from_millis(300));
    let mut next = std::net::TcpStream::connect(addr).unwrap();
    next.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    next.read_to_string(&mut answer).unwrap();
    drop(held);
    // Likewise for the server to see them closed before the caller connects again.
    std::thread::sleep(Duration::from_millis(300));
    answer
}

pub(crate) fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> Got {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request("POST", url, &h, Some(body.to_string().as_bytes()))
}

const SHOP: &str = include_str!("../../examples/order_webhook_response.flow");

fn order(status: &str) -> Value {
    json!({"order": "A1234", "status": status, "customer": {"name": "Joe"}, "items": [{"sku": "W-1", "qty": 2}]})
}

#[test]
fn triggers_answer_with_their_respond_and_every_error_status() {
    let s = serve(&[SHOP], 4096);
    let url = format!("{}/orders?source=shop", s.base);
    let key = ("X-Api-Key", "shop-key-123");

    let shipped = post_json(&url, &[key, ("X-Request-Id", "req-7")], &order("Shipped"));
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    assert_eq!(shipped.json()["reply"], "Good news Joe: order A1234 is Shipped.");
    assert_eq!(shipped.json()["items"], 1);
    assert_eq!(shipped.header("X-Request-Id"), Some("req-7"));
    assert_eq!(shipped.header("Content-Type"), Some("application/json"));

    let pending = post_json(&url, &[key], &order("pending"));
    assert_eq!(pending.status, 202);
    assert_eq!(pending.body, "Order A1234 noted (shop).");

    let unknown = post_json(&url, &[key], &order("lost"));
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json(), json!({"error": "unknown status", "status": "lost"}));

    let wrong_method = request("GET", &url, &[key], None);
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("Allow"), Some("POST, PATCH"));

    let no_key = post_json(&url, &[], &order("Shipped"));
    assert_eq!(no_key.status, 401);
    let bad_key = post_json(&url, &[("X-Api-Key", "shop-key-124")], &order("Shipped"));
    assert_eq!(bad_key.status, 401);

    let malformed = request("POST", &url, &[key, ("Content-Type", "application/json")], Some(b"{\"order\": "));
    assert_eq!(malformed.status, 400);

    let huge = serde_json::to_vec(&json!({"order": "x".repeat(5000)})).unwrap();
    let too_big = request("POST", &url, &[key, ("Content-Type", "application/json")], Some(&huge));
    assert_eq!(too_big.status, 413);

    let nowhere = post_json(&format!("{}/nope", s.base), &[], &json!({}));
    assert_eq!(nowhere.status, 404);

    for got in [&wrong_method, &no_key, &bad_key, &malformed, &too_big, &nowhere] {
        assert!(got.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", got.body);
    }
    let health = request("GET", &format!("{}/healthz", s.base), &[], None);
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
}

#[test]
fn a_trigger_flow_without_respond_gets_202_with_its_run() {
    let s = serve(
        &[
            "trigger webhook \"/events\" methods POST, DELETE {\n  start note\n}\nflow note {\n  send \"got @trigger.body\"\n}\n",
        ],
        1 << 20,
    );
    let got = request("POST", &format!("{}/events", s.base), &[("Content-Type", "text/plain")], Some(b"hello"));
    assert_eq!(got.status, 202);
    let run_id = got.json()["run_id"].as_str().unwrap().to_string();
    let run = request("GET", &format!("{}/runs/{run_id}", s.base), &[], None).json();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["events"][1], json!({"type": "message_sent", "text": "got hello"}));
    let delete = request("DELETE", &format!("{}/events", s.base), &[], None);
    assert_eq!(delete.status, 202);
}

#[test]
fn signatures_are_verified_and_replays_refused() {
    let src = "trigger webhook \"/signed\" methods POST auth signature env \"WEBHOOK_SECRET\" {\n  start f\n}\nflow f {\n  respond 200 { body text \"ok\" }\n}\n";
    let s = serve(&[src], 1 << 20);
    let url = format!("{}/signed", s.base);
    let secret = env("WEBHOOK_SECRET").unwrap();
    let body = br#"{"event": "paid"}"#;
    let now = flowc::time::now_millis() / 1000;
    let sig = flowc::serve::auth::sign(&secret, "msg_1", now, body);
    let ts = now.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig.as_str()),
        ("Content-Type", "application/json"),
    ];
    let ok = request("POST", &url, &headers, Some(body));
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    let replay = request("POST", &url, &headers, Some(body));
    assert_eq!(replay.status, 401);
    assert!(replay.json()["error"].as_str().unwrap().contains("replay"));
    let old = (now - 600).to_string();
    let stale_sig = flowc::serve::auth::sign(&secret, "msg_2", now - 600, body);
    let stale = request(
        "POST",
        &url,
        &[("webhook-id", "msg_2"), ("webhook-timestamp", &old), ("webhook-signature", &stale_sig)],
        Some(body),
    );
    assert_eq!(stale.status, 401);
    let tampered = request(
        "POST",
        &url,
        &[("webhook-id", "msg_3"), ("webhook-timestamp", &ts), ("webhook-signature", &sig)],
        Some(b"{}"),
    );
    assert_eq!(tampered.status, 401);
    let unsigned = request("POST", &url, &[], Some(body));
    assert_eq!(unsigned.status, 401);
}

#[test]
fn a_conversation_runs_across_several_messages() {
    let s = serve(&[SURVEY], 1 << 20);
    // A phone number is the natural contact id: its `+` is kept in the path.
    let started = post_json(
        &format!("{}/flows/survey/runs", s.base),
        &[],
        &json!({"contact": {"id": "+250788000009", "name": "Ann"}}),
    );
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.json()["messages"], json!(["How old are you?"]));
    assert_eq!(started.json()["status"], "waiting");
    let msg =
        |text: &str| post_json(&format!("{}/contacts/+250788000009/messages", s.base), &[], &json!({"text": text}));
    let second = msg("I am 30");
    assert_eq!(second.json()["messages"], json!(["Welcome!", "What is your e-mail?"]));
    let third = msg("ann@example.com");
    assert_eq!(third.json()["messages"], json!(["Thanks, we will write to ann@example.com."]));
    assert_eq!(third.json()["status"], "completed");
    let stored = msg("hello?");
    assert_eq!(stored.status, 202, "no waiting run any more, no trigger: kept in the inbox");
    assert_eq!(stored.json()["status"], "stored");
    let bad = post_json(&format!("{}/contacts/%2B250788000009/messages", s.base), &[], &json!({"txt": "x"}));
    assert_eq!(bad.status, 400);
    let no_flow = post_json(&format!("{}/flows/nope/runs", s.base), &[], &json!({"contact": {"id": "c2"}}));
    assert_eq!(no_flow.status, 404);
    let no_id = post_json(&format!("{}/flows/survey/runs", s.base), &[], &json!({"contact": {}}));
    assert_eq!(no_id.status, 400);
    let bad_zone = post_json(
        &format!("{}/flows/survey/runs", s.base),
        &[],
        &json!({"contact": {"id": "c3", "timezone": "Mars/Base"}}),
    );
    assert_eq!(bad_zone.status, 400, "{}", bad_zone.body);
    assert!(bad_zone.body.contains("is not a time zone"), "{}", bad_zone.body);
}

#[test]
fn concurrent_messages_for_one_contact_are_applied_one_after_the_other() {
    let src = "flow echo {\n  step again {\n    wait text\n    send \"got @flow.text\"\n    goto again\n  }\n}\n";
    let s = serve(&[src], 1 << 20);
    let started = post_json(&format!("{}/flows/echo/runs", s.base), &[], &json!({"contact": {"id": "c9"}}));
    let run_id = started.json()["run_id"].as_str().unwrap().to_string();
    let url = format!("{}/contacts/c9/messages", s.base);
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || post_json(&url, &[], &json!({"text": format!("m{i}")})))
        })
        .collect();
    for t in threads {
        let got = t.join().unwrap();
        assert_eq!(got.status, 200, "{}", got.body);
    }
    let run = request("GET", &format!("{}/runs/{run_id}", s.base), &[], None).json();
    let kinds: Vec<String> =
        run["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    // Each reply is followed by its own answer and the next wait: never two replies in a row.
    let body: Vec<&str> = kinds.iter().skip(2).map(String::as_str).collect();
    assert_eq!(body.len(), 16 * 3);
    for chunk in body.chunks(3) {
        assert_eq!(chunk, ["resumed", "message_sent", "waiting"]);
    }
    let mut inputs: Vec<String> =
        run["events"].as_array().unwrap().iter().filter_map(|e| e["input"].as_str().map(String::from)).collect();
    inputs.sort();
    let mut expected: Vec<String> = (0..16).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(inputs, expected);
}

/// The run `run_id`, once the scheduler has completed it (within 5 s).
fn completed_run(base: &str, run_id: &str) -> Value {
    let mut run = Value::Null;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        run = request("GET", &format!("{base}/runs/{run_id}"), &[], None).json();
        if run["status"] == "completed" {
            break;
        }
    }
    assert_eq!(run["status"], "completed", "{run}");
    run
}

#[test]
fn expired_waits_are_resumed_by_the_scheduler() {
    let src = "flow reminder {\n  send \"Reply within a second\"\n  wait answer timeout 1s {\n    on timeout { send \"Too late\" }\n  }\n}\n";
    let s = serve(&[src], 1 << 20);
    let started = post_json(&format!("{}/flows/reminder/runs", s.base), &[], &json!({"contact": {"id": "c3"}}));
    let run_id = started.json()["run_id"].as_str().unwrap().to_string();
    let run = completed_run(&s.base, &run_id);
    let types: Vec<&str> = run["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"timed_out"), "{types:?}");
    assert!(run["events"].as_array().unwrap().iter().any(|e| e["text"] == "Too late"));
}

#[test]
fn a_trigger_flow_calls_a_webhook_on_a_second_server_and_logs_it_without_secrets() {
    let backend = TestServer::start(|_, r| {
        assert_eq!(r.header("Authorization"), Some("Bearer orders-token-456"));
        Reply::json(200, r#"{"status": "Shipped", "eta": "Friday"}"#)
    });
    let src = format!(
        r#"connector orders bearer env "ORDERS_TOKEN"
trigger webhook "/lookup" methods POST {{
  expect body {{ order: text }}
  start lookup
}}
flow lookup {{
  webhook order GET "{}/order?id=@trigger.body.order" {{
    auth orders
    on failure {{ respond status 502 {{ body json {{ "error": @webhook.order.error }} }}; stop }}
  }}
  respond 200 {{ body json {{ "reply": "Order @trigger.body.order is @extra.status (ETA @extra.eta)." }} }}
}}
"#,
        backend.url("")
    );
    let s = serve(&[&src], 1 << 20);
    let got = post_json(&format!("{}/lookup", s.base), &[], &json!({"order": "A1"}));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["reply"], "Order A1 is Shipped (ETA Friday).");
    assert_eq!(backend.requests()[0].url, "/order?id=A1");
    let log = request("GET", &format!("{}/log?webhook=order&limit=5", s.base), &[], None);
    assert_eq!(log.status, 200);
    assert_eq!(log.json().as_array().unwrap().len(), 1);
    assert_eq!(log.json()[0]["status"], 200);
    assert!(!log.body.contains("orders-token-456"), "{}", log.body);
    let failed_only = request("GET", &format!("{}/log?failed=true", s.base), &[], None);
    assert_eq!(failed_only.json(), json!([]));
    assert_eq!(request("GET", &format!("{}/log?limit=x", s.base), &[], None).status, 400);
}

#[test]
fn a_trigger_flow_that_cannot_block_is_answered_while_every_worker_waits_on_a_webhook() {
    let backend =
        TestServer::start(|_, _| Reply::json(200, r#"{"status": "Shipped"}"#).after(Duration::from_millis(1500)));
    let src = format!(
        r#"trigger webhook "/slow" methods POST {{ start slow }}
flow slow {{
  webhook order GET "{}/order" {{ on failure {{ respond status 502 {{ body json {{ "error": "down" }} }}; stop }} }}
  respond 200 {{ body json {{ "status": @extra.status }} }}
}}
trigger webhook "/quick" methods POST {{ start quick }}
flow quick {{
  split @trigger.body.status {{
    case has_any_word "shipped" {{ respond 200 {{ body json {{ "reply": "on its way" }} }} }}
    other {{ respond 200 {{ body json {{ "reply": "not yet" }} }} }}
  }}
}}
"#,
        backend.url("")
    );
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let s = serve_config(&[&src], Config { workers: 1, network, ..Config::default() });
    let slow_url = format!("{}/slow", s.base);
    let slow = std::thread::spawn(move || post_json(&slow_url, &[], &json!({})));
    // The only worker is now inside the webhook call.
    let began = std::time::Instant::now();
    while backend.requests().is_empty() {
        assert!(began.elapsed() < Duration::from_secs(5), "the slow flow never called out");
        std::thread::sleep(Duration::from_millis(5));
    }
    let quick = post_json(&format!("{}/quick", s.base), &[], &json!({"status": "Shipped"}));
    assert_eq!(quick.status, 200, "{}", quick.body);
    assert_eq!(quick.json()["reply"], "on its way");
    assert!(!slow.is_finished(), "the quick answer should not have waited for the worker");
    assert_eq!(request("GET", &format!("{}/healthz", s.base), &[], None).status, 200);
    assert!(!slow.is_finished());
    let slow = slow.join().unwrap();
    assert_eq!((slow.status, slow.json()["status"].as_str()), (200, Some("Shipped")));
    // Both runs are stored.
    let run = quick.header("X-Flowc-Run").unwrap().to_string();
    let began = std::time::Instant::now();
    loop {
        let got = request("GET", &format!("{}/runs/{run}", s.base), &[], None);
        if got.status == 200 {
            assert_eq!(got.json()["status"], "completed", "{}", got.body);
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(5), "the quick run was never stored");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The workers run steps side by side: four requests whose flows wait on a slow webhook are all in the
/// webhook's hands at once (one worker at a time would have it see them one after another).
#[test]
fn the_workers_run_steps_that_wait_on_a_webhook_side_by_side() {
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let backend = TestServer::start(move |_, _| {
        seen.lock().unwrap().push(std::time::Instant::now());
        Reply::json(200, r#"{"status": "Shipped"}"#).after(Duration::from_millis(600))
    });
    let src = format!(
        r#"trigger webhook "/slow" methods POST {{ start slow }}
flow slow {{
  webhook order GET "{}/order"
  respond 200 {{ body json {{ "status": @extra.status }} }}
}}
"#,
        backend.url("")
    );
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let s = serve_config(&[&src], Config { workers: 4, network, ..Config::default() });
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/slow", s.base);
            std::thread::spawn(move || post_json(&url, &[], &json!({})))
        })
        .collect();
    for call in calls {
        assert_eq!(call.join().unwrap().status, 200);
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let (first, last) = (arrivals.iter().min().unwrap(), arrivals.iter().max().unwrap());
    // Each call takes 600 ms: four calls one at a time arrive at least 1.8 s apart in all.
    assert!(last.duration_since(*first) < Duration::from_millis(500), "the calls came one after another");
}

#[test]
fn webhooks_cannot_reach_private_addresses_or_be_redirected_there_unless_allowed() {
    let backend = TestServer::start(|_, r| match r.url.as_str() {
        "/hop" => Reply::text(302, "").with_header("Location", "http://[::1]:9/internal"),
        _ => Reply::json(200, r#"{"ok": true}"#),
    });
    let src = |path: &str| {
        format!(
            r#"trigger webhook "/go" methods POST {{ start go }}
flow go {{
  webhook call GET "{}{path}" {{
    on failure {{ respond status 502 {{ body json {{ "error": @webhook.call.error }} }}; stop }}
  }}
  respond 200 {{ body json {{ "ok": true }} }}
}}
"#,
            backend.url("")
        )
    };
    // The default policy: loopback is refused before any connection, with the reason in the answer
    // and the log.
    let s = serve_with(&[&src("/direct")], 1 << 20, flowc::net::NetworkPolicy::default());
    let got = post_json(&format!("{}/go", s.base), &[], &json!({}));
    assert_eq!(got.status, 502, "{}", got.body);
    assert!(got.json()["error"].as_str().unwrap().contains("127.0.0.1 is a loopback address"), "{}", got.body);
    let log = request("GET", &format!("{}/log?webhook=call", s.base), &[], None).json();
    assert!(log[0]["error"].as_str().unwrap().contains("--allow-network 127.0.0.1/32"), "{log}");
    assert!(backend.requests().is_empty(), "nothing reached the backend");
    drop(s);
    // Allowed, the call goes through; a redirect to another loopback address is refused on its hop.
    let s = serve(&[&src("/direct")], 1 << 20);
    assert_eq!(post_json(&format!("{}/go", s.base), &[], &json!({})).status, 200);
    drop(s);
    let s = serve(&[&src("/hop")], 1 << 20);
    let got = post_json(&format!("{}/go", s.base), &[], &json!({}));
    assert_eq!(got.status, 502, "{}", got.body);
    assert!(got.json()["error"].as_str().unwrap().contains("::1 is a loopback address"), "{}", got.body);
}

#[test]
fn a_killed_server_continues_its_waiting_runs_after_a_restart() {
    use std::process::Command;
    let dir = TempDir::new("restart");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let db = dir.0.join("flowc.db");
    let start = || spawn_serve(&flow, &db, &[], Stdio::null());
    let (mut first, base) = start();
    let started = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "k1"}}));
    assert_eq!(started.status, 201);
    let answered = post_json(&format!("{base}/contacts/k1/messages"), &[], &json!({"text": "42"}));
    assert_eq!(answered.json()["messages"], json!(["Welcome!", "What is your e-mail?"]));
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, base) = start();
    let last = post_json(&format!("{base}/contacts/k1/messages"), &[], &json!({"text": "k1@example.com"}));
    assert_eq!(last.status, 200, "{}", last.body);
    assert_eq!(last.json()["messages"], json!(["Thanks, we will write to k1@example.com."]));
    assert_eq!(last.json()["status"], "completed");
    second.kill().unwrap();
    second.wait().unwrap();
    let log = Command::new(env!("CARGO_BIN_EXE_flowc")).args(["log", "--db", db.to_str().unwrap()]).output().unwrap();
    assert_eq!(log.status.code(), Some(0));
}

#[test]
fn a_run_finishes_on_the_version_it_started_on_after_the_flow_is_edited() {
    let dir = TempDir::new("versions");
    let flow = dir.0.join("survey.flow");
    let db = dir.0.join("flowc.db");
    std::fs::write(&flow, SURVEY).unwrap();
    let (mut first, base) = spawn_serve(&flow, &db, &[], Stdio::null());
    let started = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "v1"}}));
    assert_eq!(started.status, 201, "{}", started.body);
    first.kill().unwrap();
    first.wait().unwrap();

    // The edit adds a message and a variable: the waiting run's variables no longer fit the new version.
    let edited = SURVEY
        .replace("send \"How old are you?\"", "send \"Hi!\"\n  wait greeting timeout 1h\n  send \"How old are you?\"");
    std::fs::write(&flow, &edited).unwrap();
    let (mut second, base) = spawn_serve(&flow, &db, &[], Stdio::null());
    let msg = |contact: &str, text: &str| {
        post_json(&format!("{base}/contacts/{contact}/messages"), &[], &json!({"text": text}))
    };
    let answered = msg("v1", "I am 30");
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert_eq!(answered.json()["messages"], json!(["Welcome!", "What is your e-mail?"]));
    let last = msg("v1", "v1@example.com");
    assert_eq!(last.json()["messages"], json!(["Thanks, we will write to v1@example.com."]));
    assert_eq!(last.json()["status"], "completed");

    // A run started now is on the new version.
    let fresh = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "v2"}}));
    assert_eq!(fresh.json()["messages"], json!(["Hi!"]));
    assert_eq!(msg("v2", "hello").json()["messages"], json!(["How old are you?"]));
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn a_respond_header_from_request_data_cannot_split_the_answer() {
    let src = "trigger webhook \"/echo\" methods GET {\n  expect query id: text\n  start echo\n}\nflow echo {\n  respond 200 { header \"X-Order\" = @trigger.query.id; body text \"ok\" }\n}\n";
    let s = serve(&[src], 1 << 20);
    let evil = request("GET", &format!("{}/echo?id=1%0D%0ASet-Cookie:%20s=evil", s.base), &[], None);
    assert_eq!(evil.status, 200, "{}", evil.body);
    assert!(!evil.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("set-cookie")), "{:?}", evil.headers);
    assert!(!evil.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-order")), "{:?}", evil.headers);
    let fine = request("GET", &format!("{}/echo?id=A1", s.base), &[], None);
    assert!(fine.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("x-order") && v == "A1"), "{:?}", fine.headers);
    // The run's record says what was sent, and why a header was not (before: the event showed it).
    for (query, why) in
        [("1%0D%0ASet-Cookie:%20s=evil", "a line break"), ("caf%C3%A9", "a character HTTP headers cannot carry")]
    {
        let got = request("GET", &format!("{}/echo?id={query}", s.base), &[], None);
        assert!(!got.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-order")), "{:?}", got.headers);
        let run = got.header("X-Flowc-Run").unwrap().to_string();
        let events = request("GET", &format!("{}/runs/{run}", s.base), &[], None).json()["events"].clone();
        let events = events.as_array().unwrap();
        let responded = events.iter().find(|e| e["type"] == "responded").unwrap();
        assert_eq!(responded["headers"], json!([]), "{events:?}");
        let warned = events.iter().any(|e| {
            e["type"] == "warning"
                && e["message"].as_str().is_some_and(|m| m.contains("X-Order header was not sent") && m.contains(why))
        });
        assert!(warned, "{events:?}");
    }
}

#[test]
fn a_204_answer_has_no_content_length_and_keeps_the_connection() {
    use std::io::{Read, Write};
    let src = "trigger webhook \"/ping\" methods POST { start ping }\nflow ping {\n  respond 204 { header \"X-Seen\" = \"yes\" }\n}\n";
    let s = serve(&[src], 1 << 20);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let ask = "POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}";
    let mut answers = String::new();
    for _ in 0..2 {
        conn.write_all(ask.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).unwrap();
        answers.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(answers.matches("HTTP/1.1 204 No Content\r\n").count(), 2, "{answers}");
    // Header names are case-insensitive (hyper sends them in lower case).
    let lower = answers.to_ascii_lowercase();
    assert!(!lower.contains("content-length"), "{answers}");
    assert!(lower.contains("x-seen: yes\r\n"), "{answers}");
    assert!(lower.contains("date: "), "{answers}");
}

/// Parses the Prometheus text format strictly enough to catch a malformed line: `# HELP`/`# TYPE`
/// comments, blank lines, and `name{label="value",...} number` samples. Returns the samples.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            let labels = series[name_end..].strip_prefix('{').and_then(|l| l.strip_suffix('}'));
            let labels = labels.unwrap_or_else(|| panic!("bad labels: {line}"));
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad label name: {line}");
                assert!(!v.trim_end_matches('"').contains('"'), "unescaped quote: {line}");
            }
        }
        samples.push((series.to_string(), value));
    }
    samples
}

#[test]
fn metrics_count_a_scripted_set_of_runs_and_every_request_gets_an_access_log_line() {
    use std::process::Command;
    let dir = TempDir::new("metrics");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let db = dir.0.join("flowc.db");
    let stderr_path = dir.0.join("stderr.txt");
    let (mut child, base) = spawn_serve(&flow, &db, &[], std::fs::File::create(&stderr_path).unwrap().into());

    let start = |c: &str| post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": c}}));
    let reply = |c: &str, t: &str| post_json(&format!("{base}/contacts/{c}/messages"), &[], &json!({"text": t}));
    assert_eq!(start("a").status, 201);
    assert_eq!(start("b").status, 201);
    assert_eq!(reply("a", "30").status, 200);
    assert_eq!(reply("a", "a@example.com").json()["status"], "completed");
    assert_eq!(start("b").status, 201, "interrupts b's first run");
    assert_eq!(reply("nobody", "hi").status, 202);
    assert_eq!(request("GET", &format!("{base}/readyz"), &[], None).json()["status"], "ready");

    let got = request("GET", &format!("{base}/metrics"), &[], None);
    assert_eq!(got.status, 200);
    assert!(got.headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/plain")), "{:?}", got.headers);
    let samples = parse_prometheus(&got.body);
    let value = |series: &str| samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v);
    assert_eq!(value(r#"flowc_runs_started_total{flow="survey"}"#), Some(3.0), "{}", got.body);
    assert_eq!(value(r#"flowc_steps_total{flow="survey"}"#), Some(5.0), "3 starts and 2 replies");
    assert_eq!(value(r#"flowc_runs_ended_total{flow="survey",status="completed"}"#), Some(1.0));
    assert_eq!(value(r#"flowc_runs_ended_total{flow="survey",status="stopped"}"#), Some(1.0));
    assert_eq!(value("flowc_waiting_runs"), Some(1.0));
    assert_eq!(value(r#"flowc_http_requests_total{status="201"}"#), Some(3.0));
    assert_eq!(value(r#"flowc_http_requests_total{status="202"}"#), Some(1.0), "the message nobody waited for");
    assert_eq!(value("flowc_step_duration_seconds_count"), Some(5.0));
    assert!(value("flowc_db_commit_duration_seconds_count").is_some_and(|n| n >= 1.0));
    assert!(got.body.contains("# TYPE flowc_step_duration_seconds histogram"), "{}", got.body);

    let _ = request("GET", &format!("{base}/log?api_key=do-not-log-me"), &[], None);
    // A clean stop writes the access log lines still buffered.
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 10, "one line per request, then `flowc: stopped`: {log}");
    assert_eq!(lines[9], "flowc: stopped");
    assert!(lines[0].contains(" POST /flows/survey/runs 201 ") && lines[0].contains(" run-"), "{log}");
    assert!(lines[5].contains(" 127.0.0.1 POST /contacts/***ody/messages 202 "), "the contact masked: {log}");
    assert!(!log.contains("do-not-log-me") && !log.contains("example.com"), "no query, no body: {log}");
}

#[test]
fn past_the_connection_cap_a_connection_is_refused_with_503_and_idle_ones_are_closed() {
    use std::io::Read;
    let dir = TempDir::new("cap");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let (mut child, base) = spawn_serve(
        &flow,
        &dir.0.join("flowc.db"),
        &["--max-connections", "3", "--header-timeout", "1", "--no-access-log"],
        Stdio::null(),
    );
    let addr = base.trim_start_matches("http://").to_string();
    let held: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    // As in `answer_past`: a server slower to take them fails this test, never passes it.
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = std::net::TcpStream::connect(&addr).unwrap();
    refused.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    refused.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(serde_json::from_str::<Value>(body).unwrap()["error"], "too many connections, retry");
    // The idle ones are closed after the header timeout, and the slots come back (1 s, and half a
    // second for the server to notice; later than that fails the assertion below).
    std::thread::sleep(Duration::from_millis(1_500));
    drop(held);
    let got = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "after"}}));
    assert_eq!(got.status, 201, "{}", got.body);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sigterm_under_load_finishes_what_is_in_flight_and_loses_no_acknowledged_step() {
    let dir = TempDir::new("sigterm");
    let flow = dir.0.join("survey.flow");
    let db = dir.0.join("flowc.db");
    std::fs::write(&flow, SURVEY).unwrap();
    let (mut child, base) = spawn_serve(&flow, &db, &["--workers", "4", "--no-access-log"], Stdio::null());
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let load: Vec<_> = (0..8)
        .map(|t| {
            let (base, acknowledged) = (base.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for i in 0..1_000 {
                    let contact = format!("t{t}-{i}");
                    let Ok(got) = std::panic::catch_unwind(|| {
                        post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": contact}}))
                    }) else {
                        return; // the server has gone: the connection was refused
                    };
                    if got.status != 201 {
                        return;
                    }
                    let run = got.json()["run_id"].as_str().unwrap().to_string();
                    acknowledged.lock().unwrap().push((run, "waiting".into()));
                }
            })
        })
        .collect();
    // The load runs a while before the signal; how much of it ran is asserted below.
    std::thread::sleep(Duration::from_millis(400));
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a SIGTERM is a clean stop");
    for t in load {
        let _ = t.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 10, "the load ran: {}", acknowledged.len());
    // Every run the server acknowledged is in the database, waiting.
    let (mut again, base) = spawn_serve(&flow, &db, &["--no-access-log"], Stdio::null());
    for (run, status) in &acknowledged {
        let got = request("GET", &format!("{base}/runs/{run}"), &[], None);
        assert_eq!(got.status, 200, "acknowledged run {run} is missing");
        assert_eq!(got.json()["status"], status.as_str(), "{}", got.body);
    }
    again.kill().unwrap();
    again.wait().unwrap();
}

/// A store whose disk is full: reads work, writes fail.
struct FullDisk(SqliteStore);

impl flowc::serve::store::Store for FullDisk {
    fn save_batch(
        &self,
        _: &[flowc::serve::store::StepRecord],
        _: &[flowc::serve::store::LogLine],
    ) -> Result<(), flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn waiting_run(&self, c: &str) -> Result<Option<flowc::serve::store::StoredRun>, flowc::serve::store::StoreError> {
        self.0.waiting_run(c)
    }
    fn due_runs(&self, now: u64) -> Result<Vec<flowc::serve::store::StoredRun>, flowc::serve::store::StoreError> {
        self.0.due_runs(now)
    }
    fn run(&self, id: &str) -> Result<Option<flowc::serve::store::StoredRun>, flowc::serve::store::StoreError> {
        self.0.run(id)
    }
    fn summary(&self, id: &str) -> Result<Option<flowc::serve::store::RunSummary>, flowc::serve::store::StoreError> {
        self.0.summary(id)
    }
    fn events(&self, id: &str) -> Result<Vec<Value>, flowc::serve::store::StoreError> {
        self.0.events(id)
    }
    fn read_log(&self, w: Option<&str>, f: bool, n: usize) -> Result<Vec<Value>, flowc::serve::store::StoreError> {
        self.0.read_log(w, f, n)
    }
    fn first_sighting(&self, id: &str, now: u64, before: u64) -> Result<bool, flowc::serve::store::StoreError> {
        self.0.first_sighting(id, now, before)
    }
    fn forget_sighting(&self, id: &str) -> Result<(), flowc::serve::store::StoreError> {
        self.0.forget_sighting(id)
    }
    fn purge(&self, before: u64, batch: usize) -> Result<usize, flowc::serve::store::StoreError> {
        self.0.purge(before, batch)
    }
    fn waiting_count(&self) -> Result<u64, flowc::serve::store::StoreError> {
        self.0.waiting_count()
    }
    fn check_writable(&self) -> Result<(), flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn save_version(&self, h: &str, n: &str, s: &str) -> Result<(), flowc::serve::store::StoreError> {
        self.0.save_version(h, n, s)
    }
    fn version_source(&self, h: &str) -> Result<Option<String>, flowc::serve::store::StoreError> {
        self.0.version_source(h)
    }
    fn purge_versions(&self, keep: &[&str]) -> Result<usize, flowc::serve::store::StoreError> {
        self.0.purge_versions(keep)
    }
    fn outbox_count(&self) -> Result<u64, flowc::serve::store::StoreError> {
        self.0.outbox_count()
    }
    fn contact(&self, urn: &str) -> Result<Option<flowc::serve::store::ContactRow>, flowc::serve::store::StoreError> {
        self.0.contact(urn)
    }
    fn contact_messages(&self, urn: &str, n: usize) -> Result<Vec<Value>, flowc::serve::store::StoreError> {
        self.0.contact_messages(urn, n)
    }
    fn save_messages(&self, _: &[flowc::serve::store::MessageRow]) -> Result<(), flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn due_messages(
        &self,
        now: u64,
        n: usize,
    ) -> Result<Vec<flowc::serve::store::OutMessage>, flowc::serve::store::StoreError> {
        self.0.due_messages(now, n)
    }
    fn versions_of(&self, name: &str, n: usize) -> Result<Vec<(String, u64, String)>, flowc::serve::store::StoreError> {
        self.0.versions_of(name, n)
    }
    fn run_counts(&self) -> Result<Vec<(String, String, u64)>, flowc::serve::store::StoreError> {
        self.0.run_counts()
    }
    fn steps(&self, id: &str) -> Result<Vec<flowc::serve::store::StepView>, flowc::serve::store::StoreError> {
        self.0.steps(id)
    }
    fn find_contacts(
        &self,
        text: &str,
        n: usize,
    ) -> Result<Vec<flowc::serve::store::ContactRow>, flowc::serve::store::StoreError> {
        self.0.find_contacts(text, n)
    }
    fn waiting_contacts(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, flowc::serve::store::StoreError> {
        self.0.waiting_contacts(ids)
    }
    fn contacts_after(
        &self,
        after: &str,
        n: usize,
    ) -> Result<Vec<flowc::serve::store::ContactRow>, flowc::serve::store::StoreError> {
        self.0.contacts_after(after, n)
    }
    fn create_start(&self, _: &flowc::serve::store::StartRow) -> Result<(), flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn start(&self, id: &str) -> Result<Option<flowc::serve::store::StartRow>, flowc::serve::store::StoreError> {
        self.0.start(id)
    }
    fn starts(&self, n: usize) -> Result<Vec<flowc::serve::store::StartRow>, flowc::serve::store::StoreError> {
        self.0.starts(n)
    }
    fn claim_start(
        &self,
        _: &str,
        _: u64,
        _: u64,
    ) -> Result<Option<flowc::serve::store::StartRow>, flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn start_progress(
        &self,
        _: &flowc::serve::store::StartProgress<'_>,
    ) -> Result<Option<String>, flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn cancel_start(&self, _: &str) -> Result<bool, flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
    fn claim_messages(
        &self,
        which: flowc::serve::store::Channels<'_>,
        now: u64,
        n: usize,
        lease: u64,
    ) -> Result<Vec<flowc::serve::store::OutMessage>, flowc::serve::store::StoreError> {
        self.0.claim_messages(which, now, n, lease)
    }
    fn delivered(&self, _: &[flowc::serve::store::Attempted]) -> Result<(), flowc::serve::store::StoreError> {
        Err(flowc::serve::store::StoreError::new("database or disk is full"))
    }
}

#[test]
fn readyz_answers_503_when_the_database_takes_no_write_and_healthz_still_200() {
    let dir = TempDir::new("readyz");
    let store = FullDisk(SqliteStore::open(&dir.0.join("flowc.db")).unwrap());
    let program = flowc::compile_source(SURVEY).unwrap().0;
    let server = Server::start(
        "127.0.0.1:0",
        vec![Served::from_source("s.flow", SURVEY, program)],
        Box::new(store),
        Config { api_tokens: vec![crate::serve_process::OPERATOR_TOKEN.into()], ..Config::default() },
    )
    .unwrap();
    let base = format!("http://{}", server.addr());
    let ready = request("GET", &format!("{base}/readyz"), &[], None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["error"], "storage: database or disk is full");
    assert_eq!(request("GET", &format!("{base}/healthz"), &[], None).status, 200);
    // A step that cannot be committed is not acknowledged.
    let started = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "x"}}));
    assert_eq!(started.status, 500, "{}", started.body);
    server.shutdown();
}

#[test]
fn trigger_method_is_the_requests_method() {
    let src = r#"trigger webhook "/orders" methods POST, PATCH { start order }
flow order {
  respond 200 { body json { "method": @trigger.method } }
}
"#;
    let s = serve(&[src], 1 << 20);
    for method in ["POST", "PATCH"] {
        let got = request(method, &format!("{}/orders", s.base), &[("Content-Type", "application/json")], Some(b"{}"));
        assert_eq!((got.status, got.json()["method"].as_str()), (200, Some(method)), "{}", got.body);
    }
}

#[test]
fn runs_that_belong_to_no_contact_take_no_message() {
    let src = "trigger webhook \"/signup\" methods POST { start welcome }\nflow welcome {\n  send \"Hi\"\n  wait answer timeout 1h\n  send \"Got @flow.answer\"\n}\n";
    let s = serve(&[src], 1 << 20);
    for _ in 0..2 {
        let got = post_json(&format!("{}/signup", s.base), &[], &json!({}));
        assert_eq!((got.status, got.json()["status"].as_str()), (202, Some("waiting")), "{}", got.body);
    }
    for path in ["/contacts//messages", "/contacts/%20/messages"] {
        let got = post_json(&format!("{}{path}", s.base), &[], &json!({"text": "me"}));
        assert_eq!(got.status, 400, "{path}: {}", got.body);
    }
}

/// Where the open-file limit cannot hold the connection cap, the cap is lowered to fit (and the start-up
/// says so): connections past it are refused with 503 instead of the server running out of descriptors.
#[test]
fn the_connection_cap_is_lowered_to_fit_the_open_file_limit() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new("nofile");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let command = format!(
        "ulimit -n 200 && exec '{}' serve '{}' --addr 127.0.0.1:0 --db '{}' --workers 4 --no-access-log --max-connections-per-address 10000",
        env!("CARGO_BIN_EXE_flowc"),
        flow.display(),
        dir.0.join("flowc.db").display()
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &command])
        .env("FLOWC_API_TOKEN", crate::serve_process::OPERATOR_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut notice = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut notice).unwrap();
    assert!(notice.contains("at most 132 connections at once, not the 10000 asked for"), "{notice}");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    let base = banner.trim().rsplit(' ').next().unwrap().to_string();
    let addr = base.trim_start_matches("http://").to_string();
    let answer = answer_past(&addr, 132);
    assert!(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{answer}");
    let got = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "after"}}));
    assert_eq!(got.status, 201, "{}", got.body);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A limit that cannot hold the server's own descriptors and a few connections is an error to fix, not
/// a cap of one connection.
#[test]
fn an_open_file_limit_too_low_to_serve_is_refused() {
    let dir = TempDir::new("nofile-low");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let command = format!(
        "ulimit -n 60 && exec '{}' serve '{}' --addr 127.0.0.1:0 --db '{}' --workers 4",
        env!("CARGO_BIN_EXE_flowc"),
        flow.display(),
        dir.0.join("flowc.db").display()
    );
    let out = std::process::Command::new("bash").args(["-c", &command]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the open-file limit (ulimit -n) is 60, and flowc serve needs at least 84"), "{err}");
}

/// Everything that reads or changes contacts, runs, messages or the log answers only an operator
/// token; health stays open, `/metrics` too unless `--private-metrics`; triggers keep their own auth.
#[test]
fn the_operator_api_answers_only_a_token_from_flowc_api_token() {
    let none = ("Authorization", "");
    let operator_calls = |base: &str, auth: (&str, &str)| -> Vec<(String, u16, String)> {
        let calls: [(&str, String, Option<Value>); 5] = [
            ("GET", format!("{base}/log"), None),
            ("GET", format!("{base}/runs/run-x"), None),
            ("GET", format!("{base}/contacts/tel:+250788555000"), None),
            ("POST", format!("{base}/flows/survey/runs"), Some(json!({"contact": {"id": "tel:+250788555000"}}))),
            ("POST", format!("{base}/contacts/tel:+250788555000/messages"), Some(json!({"text": "JOIN"}))),
        ];
        calls
            .into_iter()
            .map(|(method, url, body)| {
                let body = body.map(|b| b.to_string());
                let got = request(
                    method,
                    &url,
                    &[auth, ("Content-Type", "application/json")],
                    body.as_deref().map(str::as_bytes),
                );
                (format!("{method} {url}"), got.status, got.body)
            })
            .collect()
    };
    // No token configured: closed, saying how to open it.
    let program = flowc::compile_source(SURVEY).unwrap().0;
    let dir = TempDir::new("closed");
    let store = SqliteStore::open(&dir.0.join("flowc.db")).unwrap();
    let closed = Server::start(
        "127.0.0.1:0",
        vec![Served::from_source("s.flow", SURVEY, program)],
        Box::new(store),
        Config::default(),
    )
    .unwrap();
    let base = format!("http://{}", closed.addr());
    for (call, status, body) in operator_calls(&base, ("Authorization", "Bearer anything")) {
        assert_eq!(status, 401, "{call}: {body}");
        assert!(body.contains("FLOWC_API_TOKEN"), "{call}: {body}");
        assert_eq!(body.lines().count(), 1, "one line: {body}");
    }
    assert_eq!(request("GET", &format!("{base}/healthz"), &[none], None).status, 200);
    assert_eq!(request("GET", &format!("{base}/metrics"), &[none], None).status, 200);
    closed.shutdown();

    // Two tokens (rotation): either one opens it; none, another scheme or another token does not.
    let s = serve_config(
        &[SURVEY],
        Config {
            api_tokens: flowc::serve::api_tokens(" old-token , new-token,"),
            private_metrics: true,
            ..Config::default()
        },
    );
    for auth in [
        none,
        ("Authorization", "Bearer wrong"),
        ("Authorization", "Basic b2xkLXRva2Vu"),
        ("Authorization", "Bearer old-token-and-more"),
    ] {
        for (call, status, body) in operator_calls(&s.base, auth) {
            assert_eq!(status, 401, "{call} with {auth:?}: {body}");
        }
    }
    let answers = operator_calls(&s.base, ("Authorization", "Bearer new-token"));
    assert_eq!(answers.iter().map(|a| a.1).collect::<Vec<_>>(), [200, 404, 404, 201, 200], "{answers:?}");
    let old = request("GET", &format!("{}/log", s.base), &[("Authorization", "bearer old-token")], None);
    assert_eq!(old.status, 200, "the scheme is case-insensitive: {}", old.body);
    // --private-metrics closes /metrics; health stays open.
    assert_eq!(request("GET", &format!("{}/metrics", s.base), &[none], None).status, 401);
    assert_eq!(
        request("GET", &format!("{}/metrics", s.base), &[("Authorization", "Bearer old-token")], None).status,
        200
    );
    assert_eq!(request("GET", &format!("{}/readyz", s.base), &[none], None).status, 200);
}

/// A hang-up (a closed terminal, `kill -HUP`) stops the server as SIGTERM does: exit 0, every line
/// written (before: killed with exit 129).
#[test]
fn sighup_is_a_clean_stop() {
    let dir = TempDir::new("sighup");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let stderr_path = dir.0.join("stderr.txt");
    let (mut child, base) =
        spawn_serve(&flow, &dir.0.join("flowc.db"), &[], std::fs::File::create(&stderr_path).unwrap().into());
    assert_eq!(request("GET", &format!("{base}/healthz"), &[], None).status, 200);
    let hup = std::process::Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(err.contains("GET /healthz 200") && err.contains("flowc: stopped"), "{err}");
}

/// A request that does not match the trigger's `expect` is answered 422 naming the first field at
/// fault, and starts nothing; a query parameter declared `number` reaches the run as a number (before:
/// missing fields ran the flow with empty values, and `page` stayed text).
#[test]
fn a_request_that_does_not_match_the_triggers_expect_is_422_naming_the_field() {
    let s = serve(&[SHOP], 4096);
    let url = format!("{}/orders?source=shop", s.base);
    let key = ("X-Api-Key", "shop-key-123");
    let mut no_name = order("Shipped");
    no_name["customer"] = json!({});
    let got = post_json(&url, &[key], &no_name);
    assert_eq!(got.status, 422, "{}", got.body);
    assert_eq!(got.json()["error"], "the request does not match the trigger's expect: body.customer.name is missing");
    let mut two = order("Shipped");
    two["items"] = json!([{"sku": "W-1", "qty": 1}, {"sku": "W-2", "qty": "two"}]);
    let got = post_json(&url, &[key], &two);
    assert_eq!(
        got.json()["error"],
        "the request does not match the trigger's expect: body.items[1].qty must be a number, not \"two\""
    );

    let paged = "trigger webhook \"/page\" methods GET {\n  expect query page: number\n  start page\n}\n\
                 flow page {\n  respond 200 { body json { \"next\": @trigger.query.page + 1, \"page\": @trigger.query.page } }\n}\n";
    let p = serve(&[paged], 4096);
    let got = request("GET", &format!("{}/page?page=2", p.base), &[], None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json(), json!({"next": 3, "page": 2}));
    let bad = request("GET", &format!("{}/page?page=two", p.base), &[], None);
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("query parameter page must be a number"), "{}", bad.body);
}

/// A client that writes its whole body before reading (Python's http.client, most SDKs) gets the 413
/// for a body over `--max-body`, not a reset connection: the rest of the body is read and dropped.
#[test]
fn a_body_over_the_limit_is_drained_so_the_client_reads_the_413() {
    use std::io::{Read, Write};
    let s = serve(&[SHOP], 4096);
    let addr = s.base.trim_start_matches("http://").to_string();
    for chunked in [false, true] {
        let body = vec![b'x'; 300_000];
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = if chunked {
            "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_string()
        } else {
            format!(
                "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
        };
        c.write_all(head.as_bytes()).unwrap();
        if chunked {
            for part in body.chunks(8192) {
                c.write_all(format!("{:x}\r\n", part.len()).as_bytes()).unwrap();
                c.write_all(part).unwrap();
                c.write_all(b"\r\n").unwrap();
            }
            c.write_all(b"0\r\n\r\n").unwrap();
        } else {
            c.write_all(&body).expect("the whole body is taken");
        }
        let mut answer = vec![0u8; 512];
        let n = c.read(&mut answer).expect("an answer, not a reset");
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413 "), "chunked {chunked}: {answer}");
    }
}

/// SIGTERM does not wait for bodies still arriving: a half-sent request is answered 503 and the server
/// exits at once (before: after the 30 s body timeout).
#[test]
fn sigterm_does_not_wait_for_half_sent_bodies() {
    use std::io::Write;
    let dir = TempDir::new("halfbody");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let (mut child, base) = spawn_serve(&flow, &dir.0.join("flowc.db"), &["--no-access-log"], Stdio::null());
    let addr = base.trim_start_matches("http://").to_string();
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.write_all(b"POST /flows/survey/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"contact\": ")
        .unwrap();
    // Time for the server to read the headers and wait for the rest of the body; no event says it
    // does, so a slow server makes this test weaker (it would stop at once anyway), never flaky.
    std::thread::sleep(Duration::from_millis(300));
    let began = std::time::Instant::now();
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(began.elapsed() < Duration::from_secs(5), "stopped after {:?}", began.elapsed());
}

/// One client cannot take every connection (`--max-connections-per-address`); the access log names
/// the client, masks a contact's address, and refused connections leave a line too.
#[test]
fn one_address_cannot_hold_every_connection_and_the_log_names_the_client() {
    let dir = TempDir::new("peraddress");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let stderr_path = dir.0.join("stderr.txt");
    let (mut child, base) = spawn_serve(
        &flow,
        &dir.0.join("flowc.db"),
        &["--max-connections-per-address", "3"],
        std::fs::File::create(&stderr_path).unwrap().into(),
    );
    let addr = base.trim_start_matches("http://").to_string();
    let answer = answer_past(&addr, 3);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    let started =
        post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"urn": "tel:+250788123456"}}));
    assert_eq!(started.status, 201, "{}", started.body);
    let replied = post_json(&format!("{base}/contacts/tel:+250788123456/messages"), &[], &json!({"text": "30"}));
    assert_eq!(replied.status, 200, "{}", replied.body);
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    child.wait().unwrap();
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(err.contains("127.0.0.1 refused: this address holds 3 connections"), "{err}");
    assert!(err.contains(" 127.0.0.1 POST /contacts/tel:+*********456/messages 200 "), "{err}");
    assert!(!err.contains("250788123456"), "the number is not logged: {err}");
}

/// A flow that enters another: the second flow's wait is the run's, its timeout the scheduler's, and the
/// run comes back to the first flow with the second's results.
pub(crate) const SUBFLOW: &str = "flow signup {\n  send \"Hi\"\n  enter ask_age {\n    on expired { send \"Later, then.\" }\n  }\n  send \"Age @(default(@child.age, \"unknown\")).\"\n}\n\nflow ask_age {\n  send \"How old are you?\"\n  wait age timeout 1s\n}\n";

#[test]
fn a_conversation_goes_into_an_entered_flow_and_back() {
    let s = serve(&[SUBFLOW], 1 << 20);
    let start = |c: &str| post_json(&format!("{}/flows/signup/runs", s.base), &[], &json!({"contact": {"id": c}}));
    let started = start("s1");
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.json()["messages"], json!(["Hi", "How old are you?"]));
    let run_id = started.json()["run_id"].as_str().unwrap().to_string();
    let run = request("GET", &format!("{}/runs/{run_id}", s.base), &[], None).json();
    // A run is listed under the flow it started with.
    assert_eq!((run["status"].as_str(), run["flow"].as_str()), (Some("waiting"), Some("signup")), "{run}");
    let reply = post_json(&format!("{}/contacts/s1/messages", s.base), &[], &json!({"text": "33"}));
    assert_eq!(reply.json()["messages"], json!(["Age 33."]), "{}", reply.body);
    assert_eq!(reply.json()["status"], "completed");
    // The wait of the entered flow times out: the first flow goes on at `on expired`.
    let run_id = start("s2").json()["run_id"].as_str().unwrap().to_string();
    let run = completed_run(&s.base, &run_id);
    let types: Vec<&str> = run["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"flow_entered") && types.contains(&"flow_left"), "{types:?}");
    let texts: Vec<&str> = run["events"].as_array().unwrap().iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(texts, ["Hi", "How old are you?", "Later, then.", "Age unknown."]);
}
