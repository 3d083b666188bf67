//! The console under `/ui`: signing in with the operator token, every page behind the session, forms
//! that need its CSRF token, and what the pages show (escaped).

use serde_json::json;

use crate::serve::{Got, post_json, serve_config};
use crate::serve_process::OPERATOR_TOKEN;
use flowc::serve::Config;

const FLOWS: &str = r#"
connector crm bearer env "ORDERS_TOKEN"
flow order "Order status" {
  send "Which order?"
  wait id timeout 1h
  webhook lookup GET "http://127.0.0.1:9/orders/@flow.id" {
    auth crm
    on failure { send "Sorry, try later." }
  }
}
"#;

/// The console on a server of its own (the binary, on SQLite or PostgreSQL): signing in, the pages, and
/// a file's versions with what changed after the file is edited and the server restarted.
pub(crate) fn console_on(db: &std::path::Path) {
    use crate::serve_process::{TempDir, spawn_serve};
    use std::process::Stdio;
    let dir = TempDir::new("console-db");
    let flow = dir.0.join("order.flow");
    // Without the connector: the server's process has no ORDERS_TOKEN.
    let src = FLOWS.replace("connector crm bearer env \"ORDERS_TOKEN\"\n", "").replace("    auth crm\n", "");
    std::fs::write(&flow, &src).unwrap();
    let args = ["--no-access-log"];
    let (mut first, base) = spawn_serve(&flow, db, &args, Stdio::null());
    post_json(
        &format!("{base}/flows/order/runs"),
        &[],
        &json!({"contact": {"id": "tel:+250788000077", "name": "Ida"}}),
    );
    first.kill().unwrap();
    first.wait().unwrap();
    std::fs::write(&flow, src.replace("Which order?", "Which order number?")).unwrap();
    let (mut second, base) = spawn_serve(&flow, db, &args, Stdio::null());
    let cookie = sign_in(&base);
    let get = |path: &str| browser("GET", &format!("{base}{path}"), &[("Cookie", &cookie)], None);
    assert!(get("/ui/contacts?q=ida").body.contains("tel:+250788000077"));
    assert_eq!(get("/ui/log").status, 200);
    assert_eq!(get("/ui/starts").status, 200);
    let flows = get("/ui/flows");
    assert!(flows.body.contains("Runs kept: 1 waiting"), "{}", flows.body);
    assert!(
        flows.body.contains("-  send &quot;Which order?&quot;")
            && flows.body.contains("+  send &quot;Which order number?&quot;"),
        "{}",
        flows.body
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn the_console_on_sqlite_shows_versions_and_counts() {
    let dir = crate::serve_process::TempDir::new("console-sqlite");
    console_on(&dir.0.join("flowc.db"));
}

/// A browser's request: no operator token, redirects not followed (the test reads them).
fn browser(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Got {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut b = match method {
        "GET" => agent.get(url).force_send_body(),
        _ => agent.post(url),
    };
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut r = match body {
        Some(body) => b.header("Content-Type", "application/x-www-form-urlencoded").send(body.as_bytes()).unwrap(),
        None => b.send_empty().unwrap(),
    };
    let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    Got { status: r.status().as_u16(), headers, body: r.body_mut().read_to_string().unwrap_or_default() }
}

fn header<'a>(got: &'a Got, name: &str) -> Option<&'a str> {
    got.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Signs in; the session cookie (`name=value`).
fn sign_in(base: &str) -> String {
    let form = format!("token={OPERATOR_TOKEN}");
    let got = browser("POST", &format!("{base}/ui/login"), &[], Some(&form));
    assert_eq!(got.status, 303, "{}", got.body);
    let cookie = header(&got, "set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token a page's forms carry.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[test]
fn the_console_signs_in_with_the_token_and_keeps_everyone_else_out() {
    let s = serve_config(&[FLOWS], Config::default());
    let base = &s.base;
    // Without a session every page sends the browser to sign in.
    for page in ["/ui", "/ui/log", "/ui/contacts", "/ui/flows", "/ui/starts", "/ui/runs/x", "/ui/contacts/tel:+1"] {
        let got = browser("GET", &format!("{base}{page}"), &[], None);
        assert_eq!((got.status, header(&got, "location")), (303, Some("/ui/login")), "{page}");
    }
    let login = browser("GET", &format!("{base}/ui/login"), &[], None);
    assert_eq!(login.status, 200);
    assert!(login.body.contains("type=\"password\""));
    assert!(header(&login, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    let wrong = browser("POST", &format!("{base}/ui/login"), &[], Some("token=nope"));
    assert_eq!(wrong.status, 401);
    assert!(header(&wrong, "set-cookie").is_none());
    let forged = browser("GET", &format!("{base}/ui/log"), &[("Cookie", "flowc_session=forged")], None);
    assert_eq!(forged.status, 303);
    let cookie = sign_in(base);
    let log = browser("GET", &format!("{base}/ui/log"), &[("Cookie", &cookie)], None);
    assert_eq!(log.status, 200, "{}", log.body);
    // A form without the session's CSRF token changes nothing.
    let start = "flow=order&urns=tel%3A%2B250788000001";
    let refused = browser("POST", &format!("{base}/ui/starts"), &[("Cookie", &cookie)], Some(start));
    assert_eq!(refused.status, 403);
    let token = csrf(&log.body);
    let made =
        browser("POST", &format!("{base}/ui/starts"), &[("Cookie", &cookie)], Some(&format!("{start}&csrf={token}")));
    assert_eq!((made.status, header(&made, "location")), (303, Some("/ui/starts")));
    let starts = browser("GET", &format!("{base}/ui/starts"), &[("Cookie", &cookie)], None);
    assert!(starts.body.contains("<td>order</td>") && starts.body.contains("1 URN"), "{}", starts.body);
    // A rate that is not a number is said, not ignored; a time that is not one too.
    let bad_rate = browser(
        "POST",
        &format!("{base}/ui/starts"),
        &[("Cookie", &cookie)],
        Some(&format!("{start}&rate=abc&csrf={token}")),
    );
    assert_eq!(bad_rate.status, 400);
    assert!(bad_rate.body.contains("is not a number"), "{}", bad_rate.body);
    let bad_time = browser("GET", &format!("{base}/ui/log?since=garbage"), &[("Cookie", &cookie)], None);
    assert!(bad_time.body.contains("\"garbage\" is not a time"), "{}", bad_time.body);
    // Signing out ends the session.
    let out = browser("POST", &format!("{base}/ui/logout"), &[("Cookie", &cookie)], Some(&format!("csrf={token}")));
    assert_eq!(out.status, 303);
    let after = browser("GET", &format!("{base}/ui/log"), &[("Cookie", &cookie)], None);
    assert_eq!(after.status, 303);
}

#[test]
fn the_pages_show_the_log_contacts_runs_and_flows_escaped() {
    let s = serve_config(&[FLOWS], Config::default());
    let base = &s.base;
    // A contact whose name is markup, a conversation, and a webhook call that fails.
    let started = post_json(
        &format!("{base}/flows/order/runs"),
        &[],
        &json!({"contact": {"id": "tel:+250788000042", "name": "<script>alert(1)</script>"}}),
    );
    let run = started.json()["run_id"].as_str().unwrap().to_string();
    post_json(&format!("{base}/contacts/tel:+250788000042/messages"), &[], &json!({"text": "A1"}));
    let cookie = sign_in(base);
    let get = |path: &str| browser("GET", &format!("{base}{path}"), &[("Cookie", &cookie)], None);
    let log = get("/ui/log?failed=1");
    assert!(log.body.contains("GET lookup http") && log.body.contains("/orders/A1"), "{}", log.body);
    assert!(!log.body.contains("orders-token-456"), "the secret stays out");
    let found = get("/ui/contacts?q=script");
    assert!(found.body.contains("tel:+250788000042") && found.body.contains("&lt;script&gt;"), "{}", found.body);
    assert!(!found.body.contains("<script>"), "markup from data is escaped");
    let contact = get("/ui/contacts/tel%3A%2B250788000042");
    // A contact on no channel keeps what it sent; the flow's messages are in its run.
    assert!(contact.body.contains("<div class=\"msg in\"><div>A1</div>"), "{}", contact.body);
    let run_page = get(&format!("/ui/runs/{run}"));
    assert!(
        run_page.body.contains("webhook lookup") && run_page.body.contains("bot: Sorry, try later."),
        "{}",
        run_page.body
    );
    let flows = get("/ui/flows");
    assert!(flows.body.contains("Order status"), "{}", flows.body);
    assert!(
        flows.body.contains("Runs kept: 0 waiting, 0 completed, 1 stopped") || flows.body.contains("1 completed"),
        "{}",
        flows.body
    );
    assert!(flows.body.contains("<svg") || flows.body.contains("digraph"), "a picture or its source");
    assert!(flows.body.contains("test0.flow: no warnings.") || flows.body.contains("warning(s)"), "{}", flows.body);
    assert_eq!(get("/ui/nope").status, 404);
}

/// The simulator: a conversation with the order-status flow, its webhook answered by a mock typed on
/// the page, a timeout fired by a button; the download is a flow test that `flowc test` passes.
#[test]
fn a_conversation_in_the_simulator_becomes_a_flow_test_that_passes() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/order_status.flow")).unwrap();
    let s = serve_config(&[&src], Config::default());
    let base = &s.base;
    let cookie = sign_in(base);
    let get = |path: &str| browser("GET", &format!("{base}{path}"), &[("Cookie", &cookie)], None);
    let form = get("/ui/simulate");
    assert!(form.body.contains("<option>order_status</option>"), "{}", form.body);
    let token = csrf(&form.body);
    let post = |path: &str, fields: &[(&str, &str)]| {
        let mut body = format!("csrf={token}");
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", percent(v)));
        }
        browser("POST", &format!("{base}{path}"), &[("Cookie", &cookie)], Some(&body))
    };
    // A mock for a webhook the flow does not have is said on the page.
    let bad = post("/ui/simulate/start", &[("flow", "order_status"), ("webhooks", r#"{"nope": {"status": 200}}"#)]);
    assert!(bad.body.contains("has no webhook `nope`"), "{}", bad.body);
    let mock = r#"{"lookup_webhook": {"status": 200, "body": {"status": "Shipped", "number": "CU001", "ship_date": "October 9th", "delivery_date": "April 3rd"}}}"#;
    let begun =
        post("/ui/simulate/start", &[("flow", "order_status"), ("contact", r#"{"name": "Ben"}"#), ("webhooks", mock)]);
    assert_eq!(begun.status, 303);
    let page = get("/ui/simulate");
    assert!(page.body.contains("Let the 10m wait time out"), "{}", page.body);
    assert_eq!(post("/ui/simulate/reply", &[("text", "CU001")]).status, 303);
    let page = get("/ui/simulate");
    assert!(page.body.contains("Shipped") && page.body.contains("@flow.lookup_webhook"), "{}", page.body);
    // The download, beside a copy of the flow, passes `flowc test`.
    // (The test server serves the file as test0.flow: the download is named after it.)
    let flowtest = get("/ui/simulate/flowtest");
    assert_eq!(header(&flowtest, "content-disposition"), Some("attachment; filename=\"test0.flowtest\""));
    assert!(flowtest.body.contains("file = \"test0.flow\""), "{}", flowtest.body);
    let golden = get("/ui/simulate/golden");
    passes_flowc_test("console-sim", &src, &flowtest.body, &golden.body);
    // Beginning again forgets the conversation; a timeout fired by the button ends this one, and a
    // reply after the end changes nothing.
    assert_eq!(post("/ui/simulate/reset", &[]).status, 303);
    assert!(get("/ui/simulate").body.contains("<option>order_status</option>"));
    post("/ui/simulate/start", &[("flow", "order_status"), ("webhooks", mock)]);
    assert_eq!(post("/ui/simulate/timeout", &[]).status, 303);
    assert_eq!(post("/ui/simulate/reply", &[("text", "zz-after-the-end")]).status, 303);
    let page = get("/ui/simulate");
    assert!(
        page.body.contains("lookup_response timed out") && !page.body.contains("zz-after-the-end"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Reply as the contact"), "an ended run takes no reply");
}

/// `flowc test` passes the simulator's download, written beside a copy of the flow as the served file
/// (`test0.flow`, as the test server names it).
fn passes_flowc_test(dir: &str, src: &str, flowtest: &str, golden: &str) {
    let dir = crate::serve_process::TempDir::new(dir);
    std::fs::write(dir.0.join("test0.flow"), src).unwrap();
    std::fs::write(dir.0.join("test0.flowtest"), flowtest).unwrap();
    std::fs::write(dir.0.join("test0.flowtest.golden"), golden).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["test", dir.0.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{flowtest}\n{golden}", String::from_utf8_lossy(&o.stdout));
}

/// A form value, percent-encoded.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The simulator with webhooks answered for real: the order service (a server on 127.0.0.1 that the
/// order host is routed to) answers; the call is in the log; its answer goes into the downloaded test,
/// which passes offline.
#[test]
fn the_simulator_calls_webhooks_for_real_and_the_test_replays_their_answers() {
    use crate::server::{Reply, TestServer};
    let service = TestServer::start(|_, _| {
        Reply::json(200, r#"{"status": "Pending", "number": "CU002", "ship_date": "soon", "delivery_date": "later"}"#)
    });
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/order_status.flow")).unwrap();
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://orders.example.com".to_string(), service.url(""))];
    let s = serve_config(&[&src], Config { network, routes, ..Config::default() });
    let base = &s.base;
    let cookie = sign_in(base);
    let get = |path: &str| browser("GET", &format!("{base}{path}"), &[("Cookie", &cookie)], None);
    let token = csrf(&get("/ui/simulate").body);
    let post = |path: &str, fields: &str| {
        browser("POST", &format!("{base}{path}"), &[("Cookie", &cookie)], Some(&format!("csrf={token}&{fields}")))
    };
    assert_eq!(post("/ui/simulate/start", "flow=order_status&real=1").status, 303);
    assert_eq!(post("/ui/simulate/reply", "text=CU002").status, 303);
    let page = get("/ui/simulate");
    assert!(page.body.contains("webhooks answered for real") && page.body.contains("still pending"), "{}", page.body);
    assert_eq!(service.requests().len(), 1, "called once, for real");
    assert!(
        service.requests()[0]
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer orders-token-456")
    );
    // The call is in the log, as any run's.
    assert!(get("/ui/log").body.contains("lookup_webhook"));
    // The download replays the service's answer offline.
    let flowtest = get("/ui/simulate/flowtest");
    assert!(flowtest.body.contains("Pending"), "{}", flowtest.body);
    let golden = get("/ui/simulate/golden");
    assert!(golden.body.contains("still pending"), "{}", golden.body);
    passes_flowc_test("console-real", &src, &flowtest.body, &golden.body);
}
