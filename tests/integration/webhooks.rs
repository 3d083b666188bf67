//! Webhooks against a real HTTP server on 127.0.0.1: answers, retries, timeouts, limits, redirects,
//! secrets, and the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use flowc::http::HttpClient;
use flowc::interp::{self, Event, Resume, RunOptions, RunState, RunStatus};
use serde_json::Value;

use crate::server::{Reply, TestServer};

const TOKEN: &str = "s3cr3t-token-value";

struct Done {
    events: Vec<Event>,
    state: RunState,
    log: Vec<Value>,
}

impl Done {
    fn messages(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::MessageSent { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn call(&self) -> (Option<u16>, u32, Option<String>) {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::WebhookCalled { status, attempts, error, .. } => Some((*status, *attempts, error.clone())),
                _ => None,
            })
            .expect("a webhook was called")
    }
}

/// Runs `src` to the end or until the inputs run out, with the network client.
fn run(src: &str, inputs: &[&str]) -> Done {
    run_with(src, inputs, &HttpClient::default())
}

fn run_with(src: &str, inputs: &[&str], client: &dyn interp::WebhookClient) -> Done {
    let (program, _) = flowc::compile_source(src).unwrap_or_else(|d| panic!("{d:#?}"));
    let log = Mutex::new(Vec::new());
    let log_fn = |req: &interp::Request, outcome: &interp::CallOutcome| {
        log.lock().unwrap().extend(flowc::webhook_log::entries(req, outcome));
    };
    let env = |name: &str| (name == "ORDERS_TOKEN").then(|| TOKEN.to_string());
    let options = RunOptions { client, env: &env, max_steps: 10_000, log: Some(&log_fn), zone: None, now_ms: None };
    let contact = serde_json::json!({"name": "Joe", "phone": "+250788000001"});
    let mut out = interp::start(&program, None, "run-1", contact, None, &options).unwrap();
    let mut events = out.events;
    for input in inputs {
        if out.state.status != RunStatus::Waiting {
            break;
        }
        out = interp::resume(&program, out.state, Resume::Reply(input.to_string()), &options).unwrap();
        events.extend(out.events);
    }
    let log = log.into_inner().unwrap();
    Done { events, state: out.state, log }
}

fn order_flow(url: &str, options: &str) -> String {
    format!(
        r#"connector orders bearer env "ORDERS_TOKEN"
flow order_status {{
  step ask {{
    send "What is your order number?"
    wait lookup_response timeout 10m
  }}
  webhook lookup_webhook POST "{url}" {{
    auth orders
    body json {{ "order": @flow.lookup_response, "contact": @contact.name }}
    {options}
    on failure {{
      send "Sorry, we cannot look orders up right now: @webhook.lookup_webhook.error"
      stop
    }}
  }}
  split @extra.status {{
    case has_all_words "shipped" as Shipped {{ send "Order @extra.number shipped on @extra.ship_date." }}
    other {{
      send "I could not find order @flow.lookup_response."
      goto ask
    }}
  }}
}}
"#
    )
}

fn assert_no_secret(done: &Done) {
    let events = serde_json::to_string(&done.events).unwrap();
    let log = serde_json::to_string(&done.log).unwrap();
    let state = serde_json::to_string(&done.state).unwrap();
    for (what, text) in [("events", &events), ("log", &log), ("state", &state)] {
        assert!(!text.contains(TOKEN), "the token leaked into the {what}: {text}");
    }
}

#[test]
fn order_found() {
    let server = TestServer::start(|_, _| {
        Reply::json(200, r#"{"status": "Shipped", "number": "CU001", "ship_date": "October 9th"}"#)
    });
    let done = run(&order_flow(&server.url("/lookup"), ""), &["CU001"]);
    assert_eq!(done.state.status, RunStatus::Completed);
    assert_eq!(done.messages(), ["What is your order number?", "Order CU001 shipped on October 9th."]);
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].header("Authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(got[0].header("Content-Type"), Some("application/json"));
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"order": "CU001", "contact": "Joe"}));
    assert_eq!(done.log.len(), 1);
    assert_eq!(done.log[0]["status"], 200);
    assert_no_secret(&done);
}

#[test]
fn order_not_found_asks_again() {
    let server = TestServer::start(|_, _| Reply::json(200, r#"{"status": "unknown"}"#));
    let done = run(&order_flow(&server.url("/lookup"), ""), &["XX9"]);
    assert_eq!(done.state.status, RunStatus::Waiting, "back at the question");
    assert_eq!(
        done.messages(),
        ["What is your order number?", "I could not find order XX9.", "What is your order number?"]
    );
}

/// A service that echoes the connector's token back: the flow sends what it answered, and the token
/// does not reach the events (the run's record and the answers built from them), as it does not reach
/// the webhook log (before: `message_sent "Order Bearer … shipped"`).
#[test]
fn a_secret_echoed_back_by_a_service_is_redacted_in_the_events() {
    let server = TestServer::start(|_, req| {
        let echoed = req.header("Authorization").unwrap_or_default().to_string();
        Reply::json(200, &serde_json::json!({"status": "shipped", "number": echoed, "ship_date": "Friday"}).to_string())
    });
    let done = run(&order_flow(&server.url("/lookup"), ""), &["CU001"]);
    let events = serde_json::to_string(&done.events).unwrap();
    assert!(!events.contains(TOKEN), "the token leaked into the events: {events}");
    assert!(done.messages().iter().any(|m| m == "Order Bearer *** shipped on Friday."), "{:?}", done.messages());
}

/// A loop back to the same webhook is a new call: a new `Idempotency-Key` (a receiver that drops
/// repeated keys would drop the real lookup otherwise), while each call's retries share one.
#[test]
fn each_visit_to_a_webhook_has_its_own_idempotency_key() {
    let server = TestServer::start(|_, body| {
        if body.body.contains("XX9") { Reply::json(200, r#"{"status": "unknown"}"#) } else { Reply::text(503, "down") }
    });
    let done = run(&order_flow(&server.url("/lookup"), "retries 1\n    backoff 10ms"), &["XX9", "CU001"]);
    let got = server.requests();
    assert_eq!(got.len(), 3, "XX9 once, CU001 twice (a retry): {got:?}");
    let keys: Vec<_> = got.iter().map(|r| r.header("Idempotency-Key").unwrap().to_string()).collect();
    assert_ne!(keys[0], keys[1], "a new visit, a new key: {keys:?}");
    assert_eq!(keys[1], keys[2], "a retry keeps its call's key: {keys:?}");
    assert_eq!(done.state.status, RunStatus::Stopped);
}

#[test]
fn service_down_retries_then_fails() {
    let server = TestServer::start(|_, _| Reply::text(503, "down"));
    let done = run(&order_flow(&server.url("/lookup"), "retries 2\n    backoff 10ms"), &["CU001"]);
    assert_eq!(done.state.status, RunStatus::Stopped);
    let (status, attempts, error) = done.call();
    assert_eq!((status, attempts), (Some(503), 3));
    assert!(error.unwrap().contains("HTTP 503"));
    assert!(done.messages()[1].starts_with("Sorry, we cannot look orders up right now: HTTP 503"));
    let got = server.requests();
    assert_eq!(got.len(), 3);
    let keys: Vec<_> = got.iter().map(|r| r.header("Idempotency-Key").unwrap().to_string()).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "one idempotency key for every attempt: {keys:?}");
    assert_eq!(done.log.len(), 3, "every attempt is logged");
    assert_eq!(done.log.iter().map(|e| e["attempt"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    assert_no_secret(&done);
}

#[test]
fn client_errors_are_not_retried() {
    let server = TestServer::start(|_, _| Reply::text(404, "no such order"));
    let done = run(&order_flow(&server.url("/lookup"), "retries 3\n    backoff 10ms"), &["CU001"]);
    assert_eq!(done.call().1, 1);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn slow_service_times_out() {
    let server = TestServer::start(|_, _| Reply::json(200, "{}").after(Duration::from_millis(1500)));
    let started = Instant::now();
    let done = run(&order_flow(&server.url("/slow"), "timeout 200ms"), &["CU001"]);
    assert!(started.elapsed() < Duration::from_millis(1400), "the timeout cut the call short");
    let (status, attempts, error) = done.call();
    assert_eq!((status, attempts), (None, 1));
    assert!(error.unwrap().contains("timed out after 200 ms"));
    assert_eq!(done.state.status, RunStatus::Stopped);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let server = TestServer::start(|n, _| {
        if n == 0 {
            Reply::text(429, "slow down").with_header("Retry-After", "1")
        } else {
            Reply::json(200, r#"{"status": "Shipped", "number": "CU001", "ship_date": "today"}"#)
        }
    });
    let started = Instant::now();
    let done = run(&order_flow(&server.url("/lookup"), "retries 1\n    backoff 10ms"), &["CU001"]);
    assert!(started.elapsed() >= Duration::from_millis(1000), "waited for Retry-After");
    assert_eq!(done.call().1, 2);
    assert_eq!(done.state.status, RunStatus::Completed);
}

#[test]
fn oversized_answer_fails_cleanly() {
    let server = TestServer::start(|_, _| Reply::text(200, &"x".repeat(2 << 20)));
    let done = run(&order_flow(&server.url("/big"), "retries 2\n    backoff 10ms"), &["CU001"]);
    let (_, attempts, error) = done.call();
    assert_eq!(attempts, 1, "a size failure is not retried");
    assert!(error.unwrap().contains("larger than 1048576 bytes"));
    assert_eq!(done.state.status, RunStatus::Stopped);
}

#[test]
fn non_json_answers_are_kept_as_text() {
    let server = TestServer::start(|_, _| Reply::text(200, "OK: queued"));
    let src = format!(
        "flow f {{\n  webhook ping GET \"{}\" {{ on failure {{ stop }} }}\n  send \"@flow.ping / @webhook.ping.status\"\n}}\n",
        server.url("/ping?x=1")
    );
    let done = run(&src, &[]);
    assert_eq!(done.messages(), ["OK: queued / 200"]);
    assert!(done.state.extra.is_empty());
    assert_eq!(server.requests()[0].url, "/ping?x=1");
}

#[test]
fn redirects_are_followed_up_to_three_times() {
    let server = TestServer::start(|_, r| match r.url.as_str() {
        "/a" => Reply::text(302, "").with_header("Location", "/b"),
        "/b" => Reply::text(307, "").with_header("Location", "/c"),
        "/c" => Reply::json(200, r#"{"done": true}"#),
        _ => Reply::text(301, "").with_header("Location", "/loop"),
    });
    let ok = format!(
        "flow f {{\n  webhook w GET \"{}\" {{ on failure {{ stop }} }}\n  send \"@extra.done\"\n}}\n",
        server.url("/a")
    );
    assert_eq!(run(&ok, &[]).messages(), ["true"]);
    let looping = format!(
        "flow f {{\n  webhook w GET \"{}\" {{ on failure {{ send \"@webhook.w.error\" }} }}\n}}\n",
        server.url("/loop")
    );
    assert_eq!(run(&looping, &[]).messages(), ["more than 3 redirects"]);
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let other = TestServer::start(|_, _| Reply::json(200, r#"{"status": "shipped", "number": "1", "ship_date": "x"}"#));
    let target = other.url("/elsewhere");
    let first = TestServer::start(move |_, r| match r.url.as_str() {
        "/same" => Reply::text(307, "").with_header("Location", "/final"),
        "/final" => Reply::json(200, r#"{"status": "shipped", "number": "1", "ship_date": "x"}"#),
        _ => Reply::text(307, "").with_header("Location", &target),
    });
    // Same origin: the token goes along.
    run(&order_flow(&first.url("/same"), ""), &["A1"]);
    let same = first.requests();
    assert!(same.iter().all(|r| r.header("Authorization") == Some(&format!("Bearer {TOKEN}")[..])), "{same:?}");
    // Another origin (another port): no Authorization there.
    run(&order_flow(&first.url("/away"), ""), &["A1"]);
    let got = other.requests();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].header("Authorization"), None, "{got:?}");
    assert!(got[0].header("Idempotency-Key").is_some(), "other headers stay: {got:?}");
}

#[test]
fn query_headers_and_form_bodies_are_sent_encoded() {
    let server = TestServer::start(|_, _| Reply::json(200, "{}"));
    let src = format!(
        r#"connector key api_key query "api_key" env "ORDERS_TOKEN"
flow f {{
  wait q
  webhook w PATCH "{}/search/@flow.q" {{
    auth key
    query "name" = "Joe & Ann"
    header "X-Source" = "flowc"
    body form {{ city: "São Paulo", n: 2 }}
    on failure {{ stop }}
  }}
}}
"#,
        server.url("")
    );
    let done = run(&src, &["a b/c"]);
    let got = &server.requests()[0];
    assert_eq!(got.url, format!("/search/a%20b%2Fc?name=Joe%20%26%20Ann&api_key={TOKEN}"));
    assert_eq!(got.header("X-Source"), Some("flowc"));
    assert_eq!(got.header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(got.body, "city=S%C3%A3o%20Paulo&n=2");
    assert_no_secret(&done);
    assert!(done.log[0]["url"].as_str().unwrap().ends_with("api_key=***"));
}

#[test]
fn default_body_sends_every_result() {
    let server = TestServer::start(|_, _| Reply::json(200, "{}"));
    let src = format!(
        "flow f {{\n  wait age\n  split kind = @flow.age {{ case has_number_gt 17 as Adult {{ }} }}\n  webhook w POST \"{}\" {{ on failure {{ stop }} }}\n}}\n",
        server.url("/results")
    );
    run(&src, &["I am 30"]);
    let body: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
    assert_eq!(body["flow"]["name"], "f");
    assert_eq!(body["run"]["id"], "run-1");
    assert_eq!(body["input"], "I am 30");
    assert_eq!(body["contact"]["name"], "Joe");
    assert_eq!(body["results"]["age"], serde_json::json!({"value": "I am 30", "category": null}));
    assert_eq!(body["results"]["kind"], serde_json::json!({"value": "30", "category": "Adult"}));
}

#[test]
fn connection_refused_is_a_clean_failure() {
    // A port that nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let done = run(&order_flow(&format!("http://127.0.0.1:{port}/x"), "retries 1\n    backoff 10ms"), &["CU001"]);
    let (status, attempts, error) = done.call();
    assert_eq!((status, attempts), (None, 2));
    assert!(error.unwrap().contains("connection"), "{:?}", done.call());
}

#[test]
fn values_cannot_change_the_host_and_redirects_cannot_leave_for_plain_http() {
    // The checker refuses a URL whose host comes from a value; should such a program reach the
    // interpreter anyway (built without the checker), the call is refused there too, and logged.
    let src = "flow f {\n  wait host\n  webhook w GET \"https://@flow.host/x\" { on failure { send \"@webhook.w.error\" } }\n}\n";
    assert!(flowc::compile_source(src).is_err());
    let program = flowc::compile::compile(&flowc::syntax::parse(src).0);
    let log = Mutex::new(Vec::new());
    let log_fn = |req: &interp::Request, outcome: &interp::CallOutcome| {
        log.lock().unwrap().extend(flowc::webhook_log::entries(req, outcome));
    };
    let options = RunOptions {
        client: &HttpClient::default(),
        env: &|_| None,
        max_steps: 100,
        log: Some(&log_fn),
        zone: None,
        now_ms: None,
    };
    let out = interp::start(&program, None, "run-1", serde_json::json!({}), None, &options).unwrap();
    let out = interp::resume(&program, out.state, Resume::Reply("evil.example".into()), &options).unwrap();
    let sent: Vec<String> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(sent[0].contains("must be written literally"), "{sent:?}");
    let log = log.into_inner().unwrap();
    assert_eq!(log.len(), 1, "the refused call is logged");
    assert_eq!(log[0]["url"], "https://evil.example/x", "{:?}", log[0]);
    // A redirect to plain http on another host is refused at run time.
    let server = TestServer::start(|_, _| Reply::text(302, "").with_header("Location", "http://example.com/steal"));
    let src = format!(
        "flow f {{\n  webhook w GET \"{}\" {{ on failure {{ send \"@webhook.w.error\" }} }}\n}}\n",
        server.url("/r")
    );
    let done = run(&src, &[]);
    assert!(done.messages()[0].contains("refusing plain http:// to example.com"), "{:?}", done.messages());
}
