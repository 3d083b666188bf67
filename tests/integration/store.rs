//! The store's behaviour, the same for SQLite and for a real PostgreSQL (started by the test; skipped,
//! with a printed reason, where the machine has no PostgreSQL server binaries).

use flowc::interp::RunStatus;
use flowc::serve::store::{
    Attempted, Channels, ContactRow, Delivery, Direction, LogLine, MessageRow, MessageStatus, PostgresStore,
    SqliteStore, StepRecord, Store,
};
use serde_json::json;

use crate::postgres::Postgres;
use crate::serve_process::TempDir;

fn step(run_id: &str, contact: &str, status: RunStatus, deadline_ms: Option<u64>) -> StepRecord {
    let state = json!({
        "version": 1, "run_id": run_id, "flow": "f", "status": status.as_str(), "pc": 0, "slot_names": [],
        "slots": [], "extra": {}, "webhooks": [], "input": null, "contact": {}, "trigger": null,
        "responded": false, "waiting": null
    });
    StepRecord {
        run_id: run_id.into(),
        contact_id: contact.into(),
        flow: "f".into(),
        status,
        deadline_ms,
        state: (status == RunStatus::Waiting).then(|| state.to_string()),
        events: Some(format!("[{{\"type\":\"step of {run_id}\"}}]")),
        results: Some(format!("{{\"answer\": {{\"value\": \"{run_id}\"}}}}")),
        version: Some("v1".into()),
        contact: None,
        messages: Vec::new(),
    }
}

fn out(id: &str, urn: &str, text: &str) -> MessageRow {
    MessageRow {
        id: id.into(),
        urn: urn.into(),
        channel: "sms".into(),
        direction: Direction::Out,
        text: text.into(),
        // A question offers its answers.
        quick_replies: if text.ends_with('?') { vec!["Yes".into(), "No".into()] } else { vec![] },
        run_id: Some("r".into()),
        flow: Some("f".into()),
        status: MessageStatus::Pending,
    }
}

/// What every store must do.
fn suite(store: &dyn Store) {
    // Runs and their steps.
    let now = flowc::time::now_millis();
    store.save_batch(&[step("r1", "c1", RunStatus::Waiting, Some(now - 1))], &[]).unwrap();
    store.save_batch(&[step("r2", "c2", RunStatus::Completed, None)], &[]).unwrap();
    store.save_batch(&[step("r1", "c1", RunStatus::Waiting, Some(now + 60_000))], &[]).unwrap();
    let waiting = store.waiting_run("c1").unwrap().expect("c1 waits");
    assert_eq!((waiting.state.run_id.as_str(), waiting.deadline_ms), ("r1", Some(now + 60_000)));
    assert!(store.waiting_run("c2").unwrap().is_none(), "a completed run does not wait");
    assert!(store.due_runs(now).unwrap().is_empty(), "the deadline moved");
    assert_eq!(store.due_runs(now + 61_000).unwrap().len(), 1);
    let summary = store.summary("r2").unwrap().unwrap();
    assert_eq!((summary.flow.as_str(), summary.status.as_str()), ("f", "completed"));
    assert_eq!(store.events("r1").unwrap(), vec![json!({"type": "step of r1"}), json!({"type": "step of r1"})]);
    // Each step with the results it left.
    let steps = store.steps("r1").unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1], (vec![json!({"type": "step of r1"})], Some(json!({"answer": {"value": "r1"}}))));
    assert!(store.run("r2").unwrap().is_none(), "an ended run keeps no state");
    assert_eq!(store.waiting_count().unwrap(), 1);
    // Two steps of one run in one batch: applied in order.
    store
        .save_batch(
            &[step("r5", "c5", RunStatus::Waiting, Some(now + 1)), step("r5", "c5", RunStatus::Completed, None)],
            &[],
        )
        .unwrap();
    assert_eq!(store.summary("r5").unwrap().unwrap().status, RunStatus::Completed);
    assert_eq!(store.events("r5").unwrap().len(), 2);
    assert!(store.waiting_run("c5").unwrap().is_none());

    // The webhook log, newest first, filtered.
    let time = flowc::time::iso(now);
    let lines: Vec<LogLine> = [("a", 200), ("b", 500), ("a", 503)]
        .iter()
        .map(|(w, s)| {
            LogLine::new(&json!({"webhook": w, "status": s, "time": time, "error": (*s >= 500).then_some("down")}))
        })
        .collect();
    store.save_batch(&[], &lines).unwrap();
    let all = store.read_log(None, false, 10).unwrap();
    assert_eq!(all.iter().map(|e| e["status"].as_i64().unwrap()).collect::<Vec<_>>(), [503, 500, 200]);
    assert_eq!(store.read_log(Some("a"), false, 10).unwrap().len(), 2);
    assert_eq!(store.read_log(Some("a"), true, 10).unwrap().len(), 1);
    assert_eq!(store.read_log(None, false, 1).unwrap().len(), 1);

    // Signature ids: a replay is refused; old ones are forgotten.
    assert!(store.first_sighting("msg_1", now, now - 1000).unwrap());
    assert!(!store.first_sighting("msg_1", now, now - 1000).unwrap());
    assert!(store.first_sighting("msg_1", now + 2000, now + 1000).unwrap(), "forgotten after the window");
    // Each kind keeps its own window: a signature's short one does not forget incoming messages.
    assert!(store.first_sighting("telegram:tg:7", now, now - 1000).unwrap());
    assert!(store.first_sighting("signature:s1", now + 5000, now + 4000).unwrap());
    assert!(!store.first_sighting("telegram:tg:7", now + 5000, now - 86_400_000).unwrap(), "still remembered");
    store.forget_sighting("telegram:tg:7").unwrap();
    assert!(store.first_sighting("telegram:tg:7", now + 6000, now - 86_400_000).unwrap(), "forgotten on request");

    // Versions.
    store.save_version("v1", "a.flow", "flow f {}").unwrap();
    store.save_version("v0", "a.flow", "flow old {}").unwrap();
    assert_eq!(store.version_source("v1").unwrap().as_deref(), Some("flow f {}"));
    assert_eq!(store.purge_versions(&[]).unwrap(), 1, "v0: no run needs it");
    assert!(store.version_source("v1").unwrap().is_some(), "runs need v1");

    // Contacts and the outbox: in order per contact.
    let mut with_contact = step("r3", "tel:+1", RunStatus::Completed, None);
    with_contact.contact = Some(ContactRow {
        urn: "tel:+1".into(),
        channel: "sms".into(),
        name: "Ann".into(),
        language: "eng".into(),
        timezone: "Africa/Kigali".into(),
        fields: json!({"age": 34}).to_string(),
        groups: json!(["Testers"]).to_string(),
    });
    with_contact.messages =
        vec![out("m1", "tel:+1", "first?"), out("m2", "tel:+1", "second"), out("m3", "tel:+2", "other")];
    store.save_batch(&[with_contact], &[]).unwrap();
    let contact = store.contact("tel:+1").unwrap().unwrap();
    assert_eq!((contact.name.as_str(), contact.to_json()["fields"]["age"].as_i64()), ("Ann", Some(34)));
    assert_eq!(contact.to_json()["timezone"], "Africa/Kigali");
    assert_eq!(contact.to_json()["groups"], json!(["Testers"]), "groups are kept with the contact");
    assert!(store.contact("tel:+9").unwrap().is_none());
    assert_eq!(store.outbox_count().unwrap(), 3);
    let later = flowc::time::now_millis() + 1;
    let ids = |messages: Vec<flowc::serve::store::OutMessage>| messages.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let outcome = |id: &str, attempts: u32, delivery: Delivery| Attempted { id: id.into(), attempts, delivery };
    let lease = later + 60_000;
    assert_eq!(ids(store.due_messages(later, 10).unwrap()), ["m1", "m3"], "each contact's oldest pending message only");
    let due = store.due_messages(later, 10).unwrap();
    assert_eq!(due[0].quick_replies, ["Yes", "No"], "quick replies are kept with the message");
    assert!(due[1].quick_replies.is_empty());
    // A claim takes the oldest first and holds its contact's later messages back until it ends.
    assert_eq!(ids(store.claim_messages(Channels::Only("sms"), later, 1, lease).unwrap()), ["m1"]);
    assert_eq!(ids(store.due_messages(later, 10).unwrap()), ["m3"], "m1 is claimed, m2 waits behind it");
    assert!(store.claim_messages(Channels::Only("telegram"), later, 10, lease).unwrap().is_empty(), "one channel's");
    assert!(store.claim_messages(Channels::NoneOf(&["sms".into()]), later, 10, lease).unwrap().is_empty());
    store.delivered(&[outcome("m1", 1, Delivery::Retry { at_ms: later + 60_000, error: "503".into() })]).unwrap();
    assert_eq!(ids(store.due_messages(later, 10).unwrap()), ["m3"], "m2 waits behind m1's retry");
    assert_eq!(ids(store.claim_messages(Channels::Only("sms"), later, 10, lease).unwrap()), ["m3"]);
    store
        .delivered(&[outcome("m1", 2, Delivery::Sent), outcome("m3", 1, Delivery::Failed { error: "gone".into() })])
        .unwrap();
    assert_eq!(ids(store.due_messages(later, 10).unwrap()), ["m2"]);
    assert_eq!(store.outbox_count().unwrap(), 1);
    // A claim given back unsent leaves the message as it was; one never ended expires.
    assert_eq!(ids(store.claim_messages(Channels::Only("sms"), later, 10, lease).unwrap()), ["m2"]);
    store.delivered(&[outcome("m2", 0, Delivery::Unsent)]).unwrap();
    let again = store.claim_messages(Channels::Only("sms"), later, 10, later + 5).unwrap();
    assert_eq!((again[0].id.as_str(), again[0].attempts), ("m2", 0));
    assert!(store.due_messages(later, 10).unwrap().is_empty());
    assert_eq!(ids(store.due_messages(later + 5, 10).unwrap()), ["m2"], "the claim's time is up");
    assert_eq!(ids(store.claim_messages(Channels::Only("sms"), later + 5, 10, lease).unwrap()), ["m2"]);
    store.delivered(&[outcome("m2", 1, Delivery::Retry { at_ms: later, error: "503".into() })]).unwrap();
    let mut inbox = out("m4", "tel:+1", "hello");
    (inbox.direction, inbox.status) = (Direction::In, MessageStatus::Unhandled);
    store.save_messages(&[inbox]).unwrap();
    let shown = store.contact_messages("tel:+1", 10).unwrap();
    let summary: Vec<(&str, &str, &str)> = shown
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["direction"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [("m4", "in", "unhandled"), ("m2", "out", "pending"), ("m1", "out", "sent")]);
    assert_eq!(shown[2]["attempts"], 2);

    // Retention: ended runs and delivered messages go, a waiting run and a pending message never do.
    let future = flowc::time::now_millis() + 86_400_000;
    let mut gone = 0;
    loop {
        let n = store.purge(future, 2).unwrap();
        if n == 0 {
            break;
        }
        gone += n;
    }
    assert!(gone > 0);
    assert!(store.summary("r2").unwrap().is_none());
    assert!(store.waiting_run("c1").unwrap().is_some(), "never a waiting run");
    assert_eq!(store.outbox_count().unwrap(), 1, "never a pending message");
    assert!(store.read_log(None, false, 10).unwrap().is_empty());
    store.check_writable().unwrap();
}

#[test]
fn sqlite_keeps_what_the_server_needs() {
    let dir = TempDir::new("store-sqlite");
    suite(&SqliteStore::open(&dir.0.join("flowc.db")).unwrap());
}

/// A database from before contacts had a time zone gains the column when a server opens it.
#[test]
fn an_older_sqlite_database_gains_the_contacts_time_zone() {
    let dir = TempDir::new("store-sqlite-old");
    let path = dir.0.join("flowc.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE contacts (urn TEXT PRIMARY KEY, channel TEXT NOT NULL, name TEXT NOT NULL,
         language TEXT NOT NULL, fields TEXT NOT NULL, updated_ms INTEGER NOT NULL);
         INSERT INTO contacts VALUES ('tel:+1', 'sms', 'Ann', 'eng', '{}', 0);",
    )
    .unwrap();
    drop(old);
    let store = SqliteStore::open(&path).unwrap();
    let ann = store.contact("tel:+1").unwrap().unwrap();
    assert_eq!((ann.name.as_str(), ann.timezone.as_str()), ("Ann", ""));
    let mut moved = step("r1", "tel:+1", RunStatus::Completed, None);
    moved.contact = Some(ContactRow { timezone: "Europe/Paris".into(), ..ann });
    store.save_batch(&[moved], &[]).unwrap();
    assert_eq!(store.contact("tel:+1").unwrap().unwrap().timezone, "Europe/Paris");
}

#[test]
fn postgres_keeps_what_the_server_needs() {
    let Some(pg) = Postgres::start("store") else { return };
    let url = pg.database("suite");
    suite(&PostgresStore::connect(&url).unwrap());
    // A second server on the same database finds the schema in place.
    let again = PostgresStore::connect(&url).unwrap();
    assert_eq!(again.waiting_count().unwrap(), 1);
    // A message one server claimed is not the other's until the claim's time is up or the server that
    // made it is gone (its session ended: it died).
    let first = PostgresStore::connect(&url).unwrap();
    let mut with_m9 = step("r9", "tel:+9", RunStatus::Completed, None);
    with_m9.messages = vec![out("m9", "tel:+9", "hi")];
    first.save_batch(&[with_m9], &[]).unwrap();
    let now = flowc::time::now_millis() + 1;
    let claimed = |store: &PostgresStore, at: u64, lease: u64| -> Vec<String> {
        store.claim_messages(Channels::Only("sms"), at, 10, at + lease).unwrap().into_iter().map(|m| m.id).collect()
    };
    assert!(claimed(&first, now, 1_000).contains(&"m9".to_string()));
    assert!(!claimed(&again, now, 1_000).contains(&"m9".to_string()));
    let taken = claimed(&again, now + 1_000, 1_000);
    assert!(taken.contains(&"m9".to_string()), "{taken:?}");
    let outcomes: Vec<Attempted> =
        taken.iter().map(|id| Attempted { id: id.clone(), attempts: 1, delivery: Delivery::Sent }).collect();
    again.delivered(&outcomes).unwrap();
    let mut with_m10 = step("r10", "tel:+10", RunStatus::Completed, None);
    with_m10.messages = vec![out("m10", "tel:+10", "hi")];
    first.save_batch(&[with_m10], &[]).unwrap();
    let now = flowc::time::now_millis() + 1;
    assert_eq!(claimed(&first, now, 3_600_000), ["m10"]);
    assert!(claimed(&again, now, 1_000).is_empty());
    drop(first);
    let began = std::time::Instant::now();
    loop {
        let taken = claimed(&again, now, 1_000);
        if taken == ["m10"] {
            break;
        }
        assert!(began.elapsed() < std::time::Duration::from_secs(5), "the dead server's claim holds: {taken:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    again.delivered(&[Attempted { id: "m10".into(), attempts: 1, delivery: Delivery::Sent }]).unwrap();
    assert_eq!(again.outbox_count().unwrap(), 0);
    // A contact's lock: one server at a time.
    let first = PostgresStore::connect(&url).unwrap();
    first.lock("tel:+9", std::time::Duration::ZERO).unwrap();
    assert!(again.lock("tel:+9", std::time::Duration::from_millis(20)).is_err());
    first.unlock("tel:+9");
    again.lock("tel:+9", std::time::Duration::from_millis(20)).unwrap();
}

#[test]
fn postgres_refuses_a_schema_newer_than_it_knows() {
    let Some(pg) = Postgres::start("newer") else { return };
    let url = pg.database("newer");
    PostgresStore::connect(&url).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.execute("UPDATE flowc_schema SET version = $1", &[&(flowc::serve::store::SCHEMA_VERSION + 1)]).unwrap();
    let err = PostgresStore::connect(&url).err().expect("refused").to_string();
    assert!(err.contains("newer than this flowc knows"), "{err}");
}

/// A database at schema 1 (before contacts had a time zone) is migrated when a server connects.
#[test]
fn postgres_migrates_a_schema_1_database() {
    let Some(pg) = Postgres::start("schema1") else { return };
    let url = pg.database("schema1");
    PostgresStore::connect(&url).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "ALTER TABLE contacts DROP COLUMN timezone; ALTER TABLE messages DROP COLUMN lease_ms;
             ALTER TABLE messages DROP COLUMN lease_pid; ALTER TABLE messages DROP COLUMN flow; DROP INDEX messages_due;
             ALTER TABLE messages DROP COLUMN quick_replies; ALTER TABLE contacts DROP COLUMN group_names;
             DROP TABLE starts; ALTER TABLE steps DROP COLUMN results; UPDATE flowc_schema SET version = 1;
             INSERT INTO contacts (urn, channel, name, language, fields, updated_ms) VALUES ('tel:+1', '', 'Ann', '', '{}', 0)",
        )
        .unwrap();
    let store = PostgresStore::connect(&url).unwrap();
    assert_eq!(store.contact("tel:+1").unwrap().unwrap().timezone, "");
    let version: i32 = client.query_one("SELECT version FROM flowc_schema", &[]).unwrap().get(0);
    assert_eq!(version, flowc::serve::store::SCHEMA_VERSION);
}

#[test]
fn flowc_serve_on_postgres_keeps_conversations_across_a_kill_and_delivers_through_channels() {
    use crate::serve::{post_json, request};
    use crate::serve_process::{SURVEY, spawn_serve};
    use crate::server::{Reply, TestServer};
    use std::process::Stdio;
    let Some(pg) = Postgres::start("serve") else { return };
    let url = pg.database("serve");
    let gateway = TestServer::start(|_, _| Reply::json(200, "{}"));
    let dir = TempDir::new("serve-pg");
    let flow = dir.0.join("survey.flow");
    let channel = "\nchannel sms external {\n  receive \"/sms/in\"\n  send POST \"https://gw.example.com/send\"\n}\ntrigger keyword \"survey\" { start survey }\n";
    std::fs::write(&flow, format!("{SURVEY}{channel}")).unwrap();
    let route = format!("https://gw.example.com={}", gateway.url(""));
    let args = ["--allow-network", "127.0.0.1/32", "--route", route.as_str(), "--no-access-log"];
    let db = std::path::Path::new(&url);
    let (mut first, base) = spawn_serve(&flow, db, &args, Stdio::null());
    let started = post_json(&format!("{base}/flows/survey/runs"), &[], &json!({"contact": {"id": "k1"}}));
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(post_json(&format!("{base}/contacts/k1/messages"), &[], &json!({"text": "42"})).status, 200);
    // A contact on the channel: its messages go to the gateway.
    let sms = post_json(&format!("{base}/sms/in"), &[], &json!({"from": "+250788000031", "text": "survey"}));
    assert_eq!(sms.status, 200, "{}", sms.body);
    let began = std::time::Instant::now();
    while gateway.requests().is_empty() {
        assert!(began.elapsed() < std::time::Duration::from_secs(10), "nothing delivered");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, base) = spawn_serve(&flow, db, &args, Stdio::null());
    let last = post_json(&format!("{base}/contacts/k1/messages"), &[], &json!({"text": "k1@example.com"}));
    assert_eq!(last.status, 200, "{}", last.body);
    assert_eq!(last.json()["status"], "completed");
    let delivered: serde_json::Value = serde_json::from_str(&gateway.requests()[0].body).unwrap();
    assert_eq!(
        (delivered["to"].as_str(), delivered["text"].as_str()),
        (Some("+250788000031"), Some("How old are you?"))
    );
    let contact = request("GET", &format!("{base}/contacts/tel:+250788000031"), &[], None).json();
    assert!(contact["waiting_run"].is_string(), "{contact}");
    assert_eq!(request("GET", &format!("{base}/readyz"), &[], None).status, 200);
    second.kill().unwrap();
    second.wait().unwrap();
    // `flowc log` reads the webhook log from the database too.
    let log = std::process::Command::new(env!("CARGO_BIN_EXE_flowc")).args(["log", "--db", &url]).output().unwrap();
    // (Its lines are committed within milliseconds, not before the answer: a SIGKILL may lose the last.)
    assert_eq!(log.status.code(), Some(0), "{}", String::from_utf8_lossy(&log.stderr));
}

/// A run inside an entered flow is kept on PostgreSQL across a kill, and comes back to the flow that
/// entered it with its results.
#[test]
fn postgres_keeps_a_run_inside_an_entered_flow_across_a_kill() {
    use crate::serve::{SUBFLOW, post_json, request};
    use crate::serve_process::spawn_serve;
    use std::process::Stdio;
    let Some(pg) = Postgres::start("subflow") else { return };
    let url = pg.database("subflow");
    let dir = TempDir::new("serve-pg-subflow");
    let flow = dir.0.join("signup.flow");
    std::fs::write(&flow, SUBFLOW.replace("timeout 1s", "timeout 1h")).unwrap();
    let db = std::path::Path::new(&url);
    let (mut first, base) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let started = post_json(&format!("{base}/flows/signup/runs"), &[], &json!({"contact": {"id": "e1"}}));
    assert_eq!(started.status, 201, "{}", started.body);
    let run_id = started.json()["run_id"].as_str().unwrap().to_string();
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, base) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let run = request("GET", &format!("{base}/runs/{run_id}"), &[], None).json();
    assert_eq!((run["flow"].as_str(), run["status"].as_str()), (Some("signup"), Some("waiting")), "{run}");
    let reply = post_json(&format!("{base}/contacts/e1/messages"), &[], &json!({"text": "51"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["messages"], json!(["Age 51."]));
    assert_eq!(reply.json()["status"], "completed");
    let run = request("GET", &format!("{base}/runs/{run_id}"), &[], None).json();
    assert_eq!(run["flow"], "signup", "{run}");
    second.kill().unwrap();
    second.wait().unwrap();
}

/// A group start on PostgreSQL, shared by two servers: one of them works through it, each contact is
/// started once, and the other server sees the progress.
#[test]
fn a_group_start_on_postgres_starts_each_contact_once() {
    use crate::serve::{post_json, request};
    use crate::serve_process::spawn_serve;
    use std::process::Stdio;
    let Some(pg) = Postgres::start("starts") else { return };
    let url = pg.database("starts");
    let dir = TempDir::new("serve-pg-starts");
    let flow = dir.0.join("promo.flow");
    std::fs::write(&flow, "flow promo {\n  send \"Hi\"\n  wait answer timeout 1h\n}\n").unwrap();
    let db = std::path::Path::new(&url);
    let (mut one, a) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let (mut two, b) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let urns: Vec<String> = (0..150).map(|i| format!("tel:+25078844{i:04}")).collect();
    let got = post_json(&format!("{a}/starts"), &[], &json!({"flow": "promo", "urns": urns}));
    assert_eq!(got.status, 202, "{}", got.body);
    let start = crate::starts::finished(&b, got.json()["id"].as_str().unwrap());
    assert_eq!((start["status"].as_str(), start["started"].as_u64()), (Some("completed"), Some(150)), "{start}");
    for urn in urns.iter().step_by(10) {
        let contact = request("GET", &format!("{b}/contacts/{urn}"), &[], None).json();
        assert!(contact["waiting_run"].is_string(), "{contact}");
    }
    one.kill().unwrap();
    one.wait().unwrap();
    two.kill().unwrap();
    two.wait().unwrap();
}

#[test]
fn the_console_on_postgres_shows_versions_and_counts() {
    let Some(pg) = Postgres::start("console") else { return };
    let url = pg.database("console");
    crate::console::console_on(std::path::Path::new(&url));
}

/// Two `flowc serve` processes on one PostgreSQL database, as behind a load balancer.
#[test]
fn two_servers_on_one_postgres_share_contacts_timeouts_and_the_outbox() {
    use crate::serve::post_json;
    use crate::serve_process::spawn_serve;
    use crate::server::{Reply, TestServer};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let Some(pg) = Postgres::start("two") else { return };
    let url = pg.database("two");
    let gateway = TestServer::start(|_, _| Reply::json(200, "{}"));
    let dir = TempDir::new("two-servers");
    let flow = dir.0.join("two.flow");
    std::fs::write(
        &flow,
        r#"channel sms external {
  receive "/sms/in"
  send POST "https://gw.example.com/send"
}
trigger keyword "count" { start count }
flow count {
  send "One?"
  wait one
  send "Two? (after @flow.one)"
  wait two
  send "Done: @flow.one @flow.two"
}
trigger keyword "late" { start late }
flow late {
  send "Answer within a second"
  wait answer timeout 1s {
    on timeout { send "Too late"; stop }
  }
  send "In time"
}
trigger keyword "slow" { start slow }
flow slow {
  send "Answer within a second"
  wait answer timeout 4s {
    on timeout { send "Too late"; stop }
  }
}
"#,
    )
    .unwrap();
    let route = format!("https://gw.example.com={}", gateway.url(""));
    let args = ["--allow-network", "127.0.0.1/32", "--route", route.as_str(), "--no-access-log"];
    let db = std::path::Path::new(&url);
    let (mut a, base_a) = spawn_serve(&flow, db, &args, Stdio::null());
    let (b, base_b) = spawn_serve(&flow, db, &args, Stdio::null());
    let sms = |base: &str, from: &str, text: &str| {
        let got = post_json(&format!("{base}/sms/in"), &[], &serde_json::json!({"from": from, "text": text}));
        assert_eq!(got.status, 200, "{}", got.body);
    };
    // Messages of each contact arrive alternately at both servers; each conversation keeps its order.
    let contacts: Vec<String> = (0..6).map(|i| format!("+25078800010{i}")).collect();
    for (i, c) in contacts.iter().enumerate() {
        let (first, second) = if i % 2 == 0 { (&base_a, &base_b) } else { (&base_b, &base_a) };
        sms(first, c, "count");
        sms(second, c, "1");
        sms(first, c, "2");
    }
    let texts_to = |to: &str| -> Vec<String> {
        gateway
            .requests()
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .filter(|m| m["to"] == to)
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect()
    };
    // `exact`: every message once; else (a server was killed) at least once, in order: a message whose
    // delivery the kill cut off after the gateway took it is delivered again, with the same id.
    let wait_for_too_late = |late: &[String], exact: bool| {
        let began = Instant::now();
        while late.iter().any(|c| !texts_to(c).contains(&"Too late".to_string())) {
            let missing: Vec<(String, Vec<String>)> = late
                .iter()
                .filter(|c| !texts_to(c).contains(&"Too late".to_string()))
                .map(|c| (c.clone(), texts_to(c)))
                .collect();
            assert!(began.elapsed() < Duration::from_secs(20), "timeouts not fired: {missing:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Time for a second firing or a second delivery, if there were to be one: three rounds of the
        // schedulers (every 0.5 s). An absence has no event to wait for; a slower machine can only
        // miss a duplicate here, never report one that did not happen.
        std::thread::sleep(Duration::from_millis(1500));
        for c in late {
            let mut texts = texts_to(c);
            if !exact {
                texts.dedup();
            }
            assert_eq!(texts, ["Answer within a second", "Too late"], "{c}: the timeout fired once");
        }
    };
    // Timeouts with both servers up: both schedulers see them due, one fires each.
    let late: Vec<String> = (0..6).map(|i| format!("+25078800020{i}")).collect();
    for (i, c) in late.iter().enumerate() {
        sms(if i % 2 == 0 { &base_a } else { &base_b }, c, "late");
    }
    wait_for_too_late(&late, true);
    for c in &contacts {
        assert_eq!(texts_to(c), ["One?", "Two? (after 1)", "Done: 1 2"], "{c}: in order, once each");
    }
    // Runs waiting on server A, which is then killed (before their 4 s timeouts): B times them out.
    let orphans: Vec<String> = (0..4).map(|i| format!("+25078800030{i}")).collect();
    for c in &orphans {
        sms(&base_a, c, "slow");
    }
    // Their first messages delivered (a delivery cut off by the kill would wait for its claim to end).
    let began = Instant::now();
    while orphans.iter().any(|c| texts_to(c).is_empty()) {
        assert!(began.elapsed() < Duration::from_secs(10), "first messages not delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    wait_for_too_late(&orphans, false);
    drop(b);
}

/// The serve suite's survey conversation on two servers sharing one PostgreSQL, each reply arriving at
/// the other server than the one before; then one server is SIGKILLed while conversations are being
/// started on it, and every start it acknowledged is found by the other.
#[test]
fn survey_conversations_alternate_between_two_servers_and_a_kill_under_load_loses_no_acknowledged_start() {
    use crate::serve::{post_json, request};
    use crate::serve_process::{SURVEY, spawn_serve};
    use std::process::Stdio;
    let Some(pg) = Postgres::start("survey") else { return };
    let url = pg.database("survey");
    let dir = TempDir::new("survey-pg");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let db = std::path::Path::new(&url);
    let (mut a, base_a) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let (b, base_b) = spawn_serve(&flow, db, &["--no-access-log"], Stdio::null());
    let bases = [base_a.clone(), base_b.clone()];
    for i in 0..8 {
        let id = format!("alt{i}");
        let at = |n: usize| &bases[(i + n) % 2];
        let started = post_json(&format!("{}/flows/survey/runs", at(0)), &[], &json!({"contact": {"id": id}}));
        assert_eq!(started.status, 201, "{}", started.body);
        let age = post_json(&format!("{}/contacts/{id}/messages", at(1)), &[], &json!({"text": "30"}));
        assert_eq!(age.json()["messages"], json!(["Welcome!", "What is your e-mail?"]), "{id}");
        let done =
            post_json(&format!("{}/contacts/{id}/messages", at(2)), &[], &json!({"text": format!("{id}@example.com")}));
        assert_eq!(done.json()["messages"], json!([format!("Thanks, we will write to {id}@example.com.")]));
        assert_eq!(done.json()["status"], "completed");
    }
    // Under load: starts on A from four threads while A is killed.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (acknowledged, stop, base) = (acknowledged.clone(), stop.clone(), base_a.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(std::time::Duration::from_secs(5)))
                    .build()
                    .into();
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("load{t}-{n}");
                    let body = json!({"contact": {"id": id}}).to_string();
                    let sent = agent
                        .post(&format!("{base}/flows/survey/runs"))
                        .header("Content-Type", "application/json")
                        .header("Authorization", format!("Bearer {}", crate::serve_process::OPERATOR_TOKEN))
                        .send(body.as_bytes());
                    match sent {
                        Ok(r) if r.status().as_u16() == 201 => acknowledged.lock().unwrap().push(id),
                        Ok(_) | Err(_) => {}
                    }
                }
            })
        })
        .collect();
    // The load runs a while before the kill; that it ran is asserted below.
    std::thread::sleep(std::time::Duration::from_millis(400));
    a.kill().unwrap();
    a.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!("{} starts acknowledged before the kill", acknowledged.len());
    assert!(acknowledged.len() >= 10, "too little load to tell: {}", acknowledged.len());
    for id in &acknowledged {
        let contact = request("GET", &format!("{base_b}/contacts/{id}"), &[], None).json();
        assert!(contact["waiting_run"].is_string(), "{id} was acknowledged and is lost: {contact}");
    }
    // And B continues them.
    let first = &acknowledged[0];
    let age = post_json(&format!("{base_b}/contacts/{first}/messages"), &[], &json!({"text": "12"}));
    assert_eq!(age.json()["messages"], json!(["Sorry, adults only.", "What is your e-mail?"]));
    drop(b);
}

/// On PostgreSQL the sender sleeps until a server commits a message (LISTEN/NOTIFY): with the polling
/// fallback set to a minute, messages still go out at once, from whichever server's sender wakes.
#[test]
fn postgres_wakes_the_senders_when_a_message_is_committed() {
    use crate::serve::post_json;
    use crate::server::{Reply, TestServer};
    use flowc::serve::{Config, Served, Server};
    use std::time::{Duration, Instant};
    let Some(pg) = Postgres::start("notify") else { return };
    let url = pg.database("notify");
    let gateway = TestServer::start(|_, _| Reply::json(200, "{}"));
    let src = "channel sms external {\n  receive \"/sms/in\"\n  send POST \"https://gw.example.com/send\"\n}\n\
               trigger keyword \"hi\" { start hi }\nflow hi {\n  send \"Hello\"\n}\n";
    let start = || {
        let program = flowc::compile_source(src).unwrap().0;
        let config = Config {
            network: flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]),
            routes: vec![("https://gw.example.com".into(), gateway.url(""))],
            outbox_poll: Duration::from_secs(60),
            ..Config::default()
        };
        let store = PostgresStore::connect(&url).unwrap();
        Server::start("127.0.0.1:0", vec![Served::from_source("hi.flow", src, program)], Box::new(store), config)
            .unwrap()
    };
    let (one, two) = (start(), start());
    // Both senders have found nothing due and sleep on LISTEN (polling every 60 s). Were they not
    // asleep yet, they would find the message by looking: the test would pass without testing
    // the wake-up, never fail.
    std::thread::sleep(Duration::from_millis(300));
    for (i, server) in [&one, &two].into_iter().enumerate() {
        let from = format!("+25078800040{i}");
        let got = post_json(&format!("http://{}/sms/in", server.addr()), &[], &json!({"from": from, "text": "hi"}));
        assert_eq!(got.status, 200, "{}", got.body);
        let began = Instant::now();
        while gateway.requests().len() <= i {
            assert!(began.elapsed() < Duration::from_secs(10), "the sender was not woken");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(gateway.requests().len(), 2, "once each");
    one.shutdown();
    two.shutdown();
}

/// PostgreSQL stopped and started again under load: the server says once that the database is gone
/// and once that it is back, answers again within seconds, and every run it acknowledged is stored
/// (before: every request answered 503 until the process was restarted, 14 log lines a second).
#[test]
fn postgres_restarted_under_load_is_back_within_seconds_and_nothing_acknowledged_is_lost() {
    use crate::serve::{post_json, request};
    use crate::serve_process::{SURVEY, spawn_serve};
    use std::time::{Duration, Instant};
    let Some(pg) = Postgres::start("restart") else { return };
    let url = pg.database("restart");
    let dir = TempDir::new("pg-restart");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let stderr_path = dir.0.join("stderr.txt");
    let args = ["--workers", "4", "--no-access-log"];
    let (mut child, base) =
        spawn_serve(&flow, std::path::Path::new(&url), &args, std::fs::File::create(&stderr_path).unwrap().into());
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (acknowledged, stop, base) = (acknowledged.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let got = post_json(
                        &format!("{base}/flows/survey/runs"),
                        &[],
                        &json!({"contact": {"id": format!("r{t}-{n}")}}),
                    );
                    if got.status == 201 {
                        acknowledged.lock().unwrap().push(got.json()["run_id"].as_str().unwrap().to_string());
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    // The load runs a while before the restart; that it ran is asserted below.
    std::thread::sleep(Duration::from_millis(500));
    pg.restart(Duration::from_millis(1500));
    let restarted = Instant::now();
    let before = acknowledged.lock().unwrap().len();
    // Answering again within seconds: ready, and new runs acknowledged.
    let deadline = restarted + Duration::from_secs(20);
    while request("GET", &format!("{base}/readyz"), &[], None).status != 200
        || acknowledged.lock().unwrap().len() <= before + 5
    {
        assert!(
            Instant::now() < deadline,
            "not back 20 s after the database: {}",
            std::fs::read_to_string(&stderr_path).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let back_after = restarted.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    for run in &acknowledged {
        let got = request("GET", &format!("{base}/runs/{run}"), &[], None);
        assert_eq!(got.status, 200, "acknowledged run {run} is missing: {}", got.body);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(err.matches("the database connection is gone").count(), 1, "{err}");
    assert_eq!(err.matches("the database is back").count(), 1, "{err}");
    assert!(err.lines().count() < 12, "a quiet log while it was away: {err}");
    eprintln!("back {back_after:?} after the restart; {} runs acknowledged", acknowledged.len());
}

/// The server's retention loop, at its start: ended runs older than `retain` go with their steps,
/// waiting runs stay, and so do the versions they or the server need; other versions go.
#[test]
fn the_server_purges_what_retain_lets_go_and_keeps_what_runs_and_the_server_need() {
    use flowc::serve::{Config, Served, Server};
    let dir = TempDir::new("retention-loop");
    let path = dir.0.join("flowc.db");
    let store = SqliteStore::open(&path).unwrap();
    let (ended, waiting) =
        (step("ended", "c1", RunStatus::Completed, None), step("waiting", "c2", RunStatus::Waiting, None));
    store
        .save_batch(
            &[ended, waiting],
            &[LogLine::new(&json!({"webhook": "w", "status": 200, "time": flowc::time::now_iso()}))],
        )
        .unwrap();
    store.save_version("v1", "old.flow", "flow f {}").unwrap();
    store.save_version("v0", "older.flow", "flow g {}").unwrap();
    assert!(store.summary("ended").unwrap().is_some());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let src = "flow f {\n  send \"hi\"\n}\n";
    let program = flowc::compile_source(src).unwrap().0;
    let served = Served::from_source("f.flow", src, program);
    let served_version = served.version().to_string();
    let config = Config { retain: Some(std::time::Duration::from_millis(10)), ..Config::default() };
    let server =
        Server::start("127.0.0.1:0", vec![served], Box::new(SqliteStore::open(&path).unwrap()), config).unwrap();
    let began = std::time::Instant::now();
    while store.summary("ended").unwrap().is_some() || store.version_source("v0").unwrap().is_some() {
        assert!(began.elapsed() < std::time::Duration::from_secs(10), "the retention loop did not run at start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.shutdown();
    assert!(store.events("ended").unwrap().is_empty(), "its steps went with it");
    assert!(store.read_log(None, false, 10).unwrap().is_empty(), "old log lines go");
    assert!(store.waiting_run("c2").unwrap().is_some(), "a waiting run is never purged");
    assert!(store.version_source("v1").unwrap().is_some(), "the waiting run's version stays");
    assert!(store.version_source(&served_version).unwrap().is_some(), "the served version stays");
}
