//! Group starts (`POST /starts`, `flowc start`): a flow started for groups and URNs as a job, at a
//! bounded rate, with contacts in a flow skipped or interrupted, resumable across a kill.

use std::time::{Duration, Instant};

use flowc::serve::Config;
use serde_json::{Value, json};

use crate::serve::{post_json, request, serve_config};
use crate::server::{Reply, TestServer};

const PROMO: &str = r#"
channel sms external {
  receive "/sms/in"
  send POST "https://gateway.example.com/send"
}
flow join {
  split @contact.fields.vip {
    case has_text { set @contact.groups += "VIP" }
  }
  set @contact.groups += "Members"
}
flow promo {
  send "Hi @contact.name, 20% off today. Reply YES to get the code."
  wait answer timeout 1h
  send "Your code is SPRING20."
}
"#;

/// Waits until the start is no longer running and returns it.
pub(crate) fn finished(base: &str, id: &str) -> Value {
    let began = Instant::now();
    loop {
        let got = request("GET", &format!("{base}/starts/{id}"), &[], None);
        assert_eq!(got.status, 200, "{}", got.body);
        let start = got.json();
        if start["status"] != "running" {
            return start;
        }
        assert!(began.elapsed() < Duration::from_secs(30), "still running: {start}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_start_reaches_a_groups_members_and_listed_urns_once_each_and_skips_contacts_in_a_flow() {
    let gw = TestServer::start(|_, _| Reply::json(200, "{}"));
    let network = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let routes = vec![("https://gateway.example.com".to_string(), gw.url(""))];
    // A few deliveries at once: the fake gateway (tiny_http) leaves some of thirty concurrent
    // connections unanswered.
    let s = serve_config(&[PROMO], Config { network, routes, outbox_concurrency: 4, ..Config::default() });
    let base = &s.base;
    // 30 members (5 of them VIPs), and one contact in no group.
    for i in 0..31 {
        let vip = if i < 5 { "yes" } else { "" };
        let contact = json!({"id": format!("tel:+2507880{i:05}"), "channel": "sms", "name": format!("C{i}"), "fields": {"vip": vip}});
        let flow = if i == 30 { "promo" } else { "join" };
        let got = post_json(&format!("{base}/flows/{flow}/runs"), &[], &json!({ "contact": contact }));
        assert_eq!(got.status, 201, "{}", got.body);
    }
    // One member is in the middle of the promo already: skipped.
    let busy = post_json(&format!("{base}/flows/promo/runs"), &[], &json!({"contact": {"id": "tel:+250788000007"}}));
    assert_eq!(busy.json()["status"], "waiting");
    crate::channels::outbox_settled(base);
    let before = gw.requests().len();
    // Members and VIPs overlap, a listed URN is a member too, another is new.
    let got = post_json(
        &format!("{base}/starts"),
        &[],
        &json!({"flow": "promo", "groups": ["members", "VIP"], "urns": ["+250788000003", "tel:+250788099999"], "channel": "sms"}),
    );
    assert_eq!(got.status, 202, "{}", got.body);
    let id = got.json()["id"].as_str().unwrap().to_string();
    let start = finished(base, &id);
    assert_eq!(start["status"], "completed", "{start}");
    assert_eq!(
        (start["started"].as_u64(), start["skipped"].as_u64(), start["failed"].as_u64()),
        (Some(30), Some(1), Some(0))
    );
    // Each started contact waits in the promo; the new one was created on the channel.
    let new = request("GET", &format!("{base}/contacts/tel:+250788099999"), &[], None).json();
    assert!(new["waiting_run"].is_string(), "{new}");
    let outside = request("GET", &format!("{base}/contacts/tel:+250788000030"), &[], None).json();
    assert_eq!(outside["groups"], json!([]), "{outside}");
    // Their messages reach the gateway, one each.
    let began = Instant::now();
    while gw.requests().len() < before + 30 {
        if began.elapsed() > Duration::from_secs(10) {
            let c5 = request("GET", &format!("{base}/contacts/tel:+250788000005"), &[], None).body;
            panic!("{} delivered; contact 5: {c5}", gw.requests().len() - before);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut to: Vec<String> = gw.requests()[before..]
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["to"].as_str().unwrap().to_string())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 30, "one message each");
    // A reply continues a started run.
    let yes = post_json(&format!("{base}/contacts/tel:+250788000012/messages"), &[], &json!({"text": "YES"}));
    assert_eq!(yes.json()["messages"], json!(["Your code is SPRING20."]), "{}", yes.body);
    // Listed, and interrupting: the busy contact's promo is stopped and begins again.
    let again = post_json(
        &format!("{base}/starts"),
        &[],
        &json!({"flow": "promo", "urns": ["tel:+250788000007"], "running": "interrupt"}),
    );
    let start = finished(base, again.json()["id"].as_str().unwrap());
    assert_eq!((start["started"].as_u64(), start["skipped"].as_u64()), (Some(1), Some(0)), "{start}");
    let list = request("GET", &format!("{base}/starts"), &[], None).json();
    assert_eq!(list["starts"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_start_requests_are_refused_and_the_api_wants_the_token() {
    let s = serve_config(&[PROMO], Config::default());
    let base = &s.base;
    let start = |body: Value| post_json(&format!("{base}/starts"), &[], &body);
    assert_eq!(start(json!({"groups": ["x"]})).status, 400, "no flow");
    assert_eq!(start(json!({"flow": "nope", "groups": ["x"]})).status, 404);
    assert_eq!(start(json!({"flow": "promo"})).status, 400, "no contacts");
    assert_eq!(start(json!({"flow": "promo", "groups": "x"})).status, 400);
    assert_eq!(start(json!({"flow": "promo", "groups": ["x"], "running": "pause"})).status, 400);
    assert_eq!(start(json!({"flow": "promo", "groups": ["x"], "rate": 0})).status, 400);
    assert_eq!(start(json!({"flow": "promo", "groups": ["x"], "channel": "fax"})).status, 400);
    assert_eq!(request("GET", &format!("{base}/starts/start-nope"), &[], None).status, 404);
    assert_eq!(request("POST", &format!("{base}/starts/start-nope/cancel"), &[], None).status, 404);
    let anonymous = request("POST", &format!("{base}/starts"), &[("Authorization", "")], Some(b"{}"));
    assert_eq!(anonymous.status, 401);
    let anonymous = request("GET", &format!("{base}/starts"), &[("Authorization", "")], None);
    assert_eq!(anonymous.status, 401);
}

#[test]
fn a_start_keeps_its_rate() {
    let s = serve_config(&[PROMO], Config::default());
    let base = &s.base;
    let urns: Vec<String> = (0..12).map(|i| format!("tel:+25078811{i:04}")).collect();
    let began = Instant::now();
    let got = post_json(&format!("{base}/starts"), &[], &json!({"flow": "promo", "urns": urns, "rate": 10}));
    let start = finished(base, got.json()["id"].as_str().unwrap());
    assert_eq!(start["started"], 12, "{start}");
    // Twelve runs at ten a second begin over at least 1.1 s (a lower bound: it holds on any machine).
    assert!(began.elapsed() >= Duration::from_millis(1100), "{:?}", began.elapsed());
}

/// A server killed in the middle of a start takes it up again when it restarts: in the end every
/// contact has been started once, none twice and none left out.
#[test]
fn a_start_goes_on_after_a_kill_and_starts_nobody_twice() {
    use crate::serve_process::{TempDir, spawn_serve};
    use std::process::Stdio;
    let dir = TempDir::new("start-kill");
    let flow = dir.0.join("promo.flow");
    std::fs::write(&flow, PROMO.replace("gateway.example.com", "127.0.0.1:9")).unwrap();
    let db = dir.0.join("flowc.db");
    let args = ["--no-access-log", "--allow-network", "127.0.0.1/32"];
    let (mut first, base) = spawn_serve(&flow, &db, &args, Stdio::null());
    let urns: Vec<String> = (0..400).map(|i| format!("tel:+25078822{i:04}")).collect();
    let got = post_json(
        &format!("{base}/starts"),
        &[],
        &json!({"flow": "promo", "urns": urns, "rate": 250, "channel": "sms"}),
    );
    assert_eq!(got.status, 202, "{}", got.body);
    let id = got.json()["id"].as_str().unwrap().to_string();
    // Killed when some of it is done.
    let began = Instant::now();
    loop {
        let start = request("GET", &format!("{base}/starts/{id}"), &[], None).json();
        if start["started"].as_u64().unwrap_or(0) >= 100 {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(20), "{start}");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, base) = spawn_serve(&flow, &db, &args, Stdio::null());
    let start = finished(&base, &id);
    assert_eq!(start["status"], "completed", "{start}");
    assert_eq!(start["started"], 400, "{start}");
    for urn in &urns {
        let contact = request("GET", &format!("{base}/contacts/{urn}"), &[], None).json();
        let sent: Vec<&Value> =
            contact["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "out").collect();
        assert_eq!(sent.len(), 1, "{urn}: {contact}");
    }
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn flowc_start_starts_and_follows_a_start_and_says_what_went_wrong_in_one_line() {
    use crate::serve_process::{OPERATOR_TOKEN, TempDir, spawn_serve};
    use std::process::{Command, Stdio};
    let dir = TempDir::new("start-cli");
    let flow = dir.0.join("promo.flow");
    std::fs::write(&flow, PROMO).unwrap();
    let (mut server, base) = spawn_serve(&flow, &dir.0.join("flowc.db"), &["--no-access-log"], Stdio::null());
    let urns = dir.0.join("urns.txt");
    std::fs::write(&urns, "# customers\ntel:+250788330001\n+250788330002\n\n").unwrap();
    let flowc = |args: &[&str], token: &str| {
        Command::new(env!("CARGO_BIN_EXE_flowc")).args(args).env("FLOWC_API_TOKEN", token).output().unwrap()
    };
    let args =
        ["start", "promo", "--urn", "tel:+250788330003", "--urns-from", urns.to_str().unwrap(), "--server", &base];
    let o = flowc(&args, OPERATOR_TOKEN);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let start: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((start["status"].as_str(), start["started"].as_u64()), (Some("completed"), Some(3)), "{start}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("started 3, skipped 0, failed 0"));
    // A wrong token, an unknown flow, no contacts, no server: one line each, and a non-zero exit.
    for (args, token, code, says) in [
        (vec!["start", "promo", "--urn", "tel:+1", "--server", &base], "wrong", 2, "refused the start (401)"),
        (vec!["start", "nope", "--urn", "tel:+1", "--server", &base], OPERATOR_TOKEN, 2, "there is no flow `nope`"),
        (vec!["start", "promo", "--server", &base], OPERATOR_TOKEN, 2, "give the contacts to start"),
        (vec!["start", "promo", "--group", "g", "--server", "http://127.0.0.1:9"], OPERATOR_TOKEN, 1, "cannot reach"),
    ] {
        let o = flowc(&args, token);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says) && err.lines().count() == 1, "{args:?}: {err}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_slow_start_moves_its_counts_and_a_cancel_stops_it_with_true_counts() {
    let s = serve_config(&[PROMO], Config::default());
    let base = &s.base;
    let urns: Vec<String> = (0..20).map(|i| format!("TEL:+25078855{i:04}")).collect();
    let got = post_json(&format!("{base}/starts"), &[], &json!({"flow": "promo", "urns": urns, "rate": 4}));
    assert_eq!(got.status, 202, "{}", got.body);
    let id = got.json()["id"].as_str().unwrap().to_string();
    // At 4 a second the counts move within a second or two.
    let began = Instant::now();
    loop {
        let start = request("GET", &format!("{base}/starts/{id}"), &[], None).json();
        if start["started"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(5), "no progress: {start}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cancelled = request("POST", &format!("{base}/starts/{id}/cancel"), &[], None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    std::thread::sleep(Duration::from_secs(2));
    let start = request("GET", &format!("{base}/starts/{id}"), &[], None).json();
    assert_eq!(start["status"], "cancelled");
    // The counts say what happened: every contact counted has a run, no other has one.
    let started = urns
        .iter()
        .filter(|u| {
            let urn = u.replace("TEL:", "tel:");
            request("GET", &format!("{base}/contacts/{urn}"), &[], None).json()["waiting_run"].is_string()
        })
        .count();
    assert_eq!(start["started"].as_u64(), Some(started as u64), "{start}");
    assert!(started < 20, "the cancel stopped it ({started} started)");
    // URNs are URNs: a scheme in capitals is a scheme; text with spaces is refused.
    let bad = post_json(&format!("{base}/starts"), &[], &json!({"flow": "promo", "urns": ["not a urn"]}));
    assert_eq!(bad.status, 400, "{}", bad.body);
}

/// A short operator token is warned about at start-up (wrong tokens are not slowed down).
#[test]
fn a_short_operator_token_is_warned_about() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = crate::serve_process::TempDir::new("short-token");
    let flow = dir.0.join("promo.flow");
    std::fs::write(&flow, "flow promo {\n  send \"hi\"\n}\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["serve", flow.to_str().unwrap(), "--addr", &addr, "--db", dir.0.join("f.db").to_str().unwrap()])
        .env("FLOWC_API_TOKEN", "secret123")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("holds a token of 9 characters, which can be guessed"), "{err}");
}
