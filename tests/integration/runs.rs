//! Running flows: resumable state, limits, timeouts, and `flowc run` transcripts of every example.

use std::process::{Command, Output};

use flowc::interp::{self, Event, Offline, Resume, RunOptions, RunState, RunStatus};

fn options<'a>(env: &'a dyn Fn(&str) -> Option<String>) -> RunOptions<'a> {
    RunOptions { client: &Offline, env, max_steps: 10_000, log: None, zone: None, now_ms: None }
}

fn program(src: &str) -> flowc::program::Program {
    flowc::compile_source(src).unwrap_or_else(|d| panic!("{d:#?}")).0
}

fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

const SURVEY: &str = r#"
flow survey {
  send "How old are you?"
  wait age timeout 1h { on timeout { send "Too slow."; stop } }
  split group = @flow.age {
    case has_number_between 0 17 as Young { send "Young (@flow.group)" }
    case has_number_gt 17 as Adult { send "Adult (@flow.group)" }
    other { send "Not a number: @flow.group" }
  }
  send "Group @flow.group.category; next year @(number(@flow.age) + 1)"
}
"#;

#[test]
fn a_saved_run_resumes_to_the_same_end() {
    let p = program(SURVEY);
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, None, "r1", serde_json::json!({}), None, &opts).unwrap();
    assert_eq!(started.state.status, RunStatus::Waiting);
    // Straight through.
    let direct = interp::resume(&p, started.state.clone(), Resume::Reply("I'm 30".into()), &opts).unwrap();
    // Through JSON, as a server would store it.
    let saved = serde_json::to_string(&started.state).unwrap();
    let restored: RunState = serde_json::from_str(&saved).unwrap();
    let resumed = interp::resume(&p, restored, Resume::Reply("I'm 30".into()), &opts).unwrap();
    assert_eq!(direct.events, resumed.events);
    assert_eq!(direct.state, resumed.state);
    assert_eq!(messages(&resumed.events), ["Adult (30)", "Group Adult; next year 31"]);
    assert_eq!(resumed.state.status, RunStatus::Completed);
    // An ended run cannot be resumed.
    let again = interp::resume(&p, resumed.state, Resume::Reply("x".into()), &opts);
    assert!(matches!(again, Err(interp::RunError::NotWaiting(..))));
}

#[test]
fn timeouts_take_the_timeout_branch_or_expire() {
    let p = program(SURVEY);
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, None, "r1", serde_json::json!({}), None, &opts).unwrap();
    let timed_out = interp::resume(&p, started.state, Resume::Timeout, &opts).unwrap();
    assert_eq!(messages(&timed_out.events), ["Too slow."]);
    assert_eq!(timed_out.state.status, RunStatus::Stopped);
    let plain = program("flow f {\n  wait x timeout 5m\n  send \"@flow.x\"\n}\n");
    let started = interp::start(&plain, None, "r2", serde_json::json!({}), None, &opts).unwrap();
    let expired = interp::resume(&plain, started.state, Resume::Timeout, &opts).unwrap();
    assert_eq!(expired.state.status, RunStatus::Expired);
}

#[test]
fn endless_loops_fail_at_the_step_limit() {
    // Ten instructions per visit: the instruction limit (500) comes before the hundredth visit.
    let body = "    set n = 1\n".repeat(9);
    let p = program(&format!("flow f {{\n  step again {{\n{body}    goto again\n  }}\n}}\n"));
    let env = |_: &str| None;
    let mut opts = options(&env);
    opts.max_steps = 500;
    let out = interp::start(&p, None, "r", serde_json::json!({}), None, &opts).unwrap();
    assert_eq!(out.state.status, RunStatus::Failed);
    let Some(Event::RunEnded { reason: Some(reason), .. }) = out.events.last() else { panic!("{:?}", out.events) };
    assert!(reason.contains("more than 500 steps"), "{reason}");
}

#[test]
fn a_turn_that_enters_steps_a_hundred_times_fails_as_in_rapidpro() {
    // Two steps that send and go to each other: 100 visits send 100 messages, the 101st fails.
    let p = program(
        "flow f {\n  step ping {\n    send \"ping\"\n  }\n  step pong {\n    send \"pong\"\n    goto ping\n  }\n}\n",
    );
    let env = |_: &str| None;
    let out = interp::start(&p, None, "r", serde_json::json!({}), None, &options(&env)).unwrap();
    assert_eq!(out.state.status, RunStatus::Failed);
    let sent = out.events.iter().filter(|e| matches!(e, Event::MessageSent { .. })).count();
    assert_eq!(sent, 100);
    let Some(Event::RunEnded { reason: Some(reason), .. }) = out.events.last() else { panic!("{:?}", out.events) };
    assert!(reason.contains("entered steps 100 times without waiting"), "{reason}");
    // A wait between visits starts the count again: 60 visits per turn never fail.
    let p = program("flow f {\n  step ask {\n    send \"again?\"\n    wait reply\n    goto ask\n  }\n}\n");
    let mut run = interp::start(&p, None, "r", serde_json::json!({}), None, &options(&env)).unwrap();
    for _ in 0..150 {
        run = interp::resume(&p, run.state, Resume::Reply("yes".into()), &options(&env)).unwrap();
        assert_eq!(run.state.status, RunStatus::Waiting);
    }
}

#[test]
fn a_message_that_starts_a_flow_answers_its_first_wait() {
    let p = program("flow f {\n  wait command\n  send \"You said @flow.command\"\n}\n");
    let env = |_: &str| None;
    let out = interp::start_with_input(&p, None, "r", serde_json::json!({}), None, Some("PING".into()), &options(&env))
        .unwrap();
    assert_eq!(out.state.status, RunStatus::Completed);
    assert!(
        out.events.contains(&Event::MessageSent { text: "You said PING".into(), quick_replies: vec![] }),
        "{:?}",
        out.events
    );
    // Started otherwise, or with a statement before the wait, the run waits.
    let out = interp::start(&p, None, "r", serde_json::json!({}), None, &options(&env)).unwrap();
    assert_eq!(out.state.status, RunStatus::Waiting);
    let later = program("flow f {\n  send \"Command?\"\n  wait command\n  send \"You said @flow.command\"\n}\n");
    let out =
        interp::start_with_input(&later, None, "r", serde_json::json!({}), None, Some("PING".into()), &options(&env))
            .unwrap();
    assert_eq!(out.state.status, RunStatus::Waiting);
}

#[test]
fn a_changed_flow_refuses_an_old_state() {
    let p = program(SURVEY);
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, None, "r1", serde_json::json!({}), None, &opts).unwrap();
    let changed = program(&SURVEY.replace("split group", "split bucket").replace("@flow.group", "@flow.bucket"));
    let err = interp::resume(&changed, started.state, Resume::Reply("1".into()), &opts).unwrap_err();
    assert!(matches!(err, interp::RunError::ProgramChanged(_)));
}

#[test]
fn a_dynamic_204_drops_its_body_with_a_warning() {
    let p = program(
        "trigger webhook \"/x\" methods POST { start f }\nflow f {\n  respond status 204 { body json { \"a\": 1 } }\n}\n",
    );
    let env = |_: &str| None;
    let opts = options(&env);
    let trigger = serde_json::json!({"headers": {}, "query": {}, "body": {}});
    let out = interp::start(&p, None, "r", serde_json::json!({}), Some(trigger), &opts).unwrap();
    let responded = out.events.iter().find_map(|e| match e {
        Event::Responded { status, body, content_type, .. } => Some((*status, body.clone(), content_type.clone())),
        _ => None,
    });
    assert_eq!(responded, Some((204, None, None)));
    assert!(out.events.iter().any(|e| matches!(e, Event::Warning { message } if message.contains("204"))));
}

#[test]
fn a_key_under_default_may_be_missing_without_a_warning() {
    let p = program(
        "trigger webhook \"/x\" methods POST { start f }\nflow f {\n  send \"@(default(@trigger.body.greeting, \"Welcome!\")) @trigger.body.name\"\n}\n",
    );
    let env = |_: &str| None;
    let opts = options(&env);
    let trigger = serde_json::json!({"headers": {}, "query": {}, "body": {}});
    let out = interp::start(&p, None, "r", serde_json::json!({}), Some(trigger), &opts).unwrap();
    assert_eq!(messages(&out.events), ["Welcome! "]);
    let warnings: Vec<&Event> = out.events.iter().filter(|e| matches!(e, Event::Warning { .. })).collect();
    assert_eq!(warnings.len(), 1, "only the key outside default() is reported: {warnings:?}");
    assert!(matches!(warnings[0], Event::Warning { message } if message.contains("@trigger.body.name")));
}

#[test]
fn missing_dynamic_keys_render_empty_and_are_reported() {
    let p =
        program("trigger webhook \"/x\" methods POST { start f }\nflow f {\n  send \"Hi @trigger.body.name!\"\n}\n");
    let env = |_: &str| None;
    let opts = options(&env);
    let trigger = serde_json::json!({"headers": {}, "query": {}, "body": {}});
    let out = interp::start(&p, None, "r", serde_json::json!({}), Some(trigger), &opts).unwrap();
    assert_eq!(messages(&out.events), ["Hi !"]);
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::Warning { message } if message.contains("@trigger.body.name is missing")))
    );
    assert_eq!(out.state.status, RunStatus::Completed);
}

#[test]
fn expressions_and_functions_evaluate() {
    let p = program(
        r#"flow f {
  numbers decimal ","
  wait amount
  set total = number(@flow.amount) * 2
  send "@(format_number(@flow.total, 2)) | @(upper("é") & lower("ABC")) | @(length(@flow.amount)) | @(default(@contact.fields.x, "none")) | @(url_encode("a b")) | @(json(@flow.total)) | @(round(2.5)) | @(format_date("2026-11-23T16:05:00Z", "DD/MM/YYYY tt:mm"))"
}
"#,
    );
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, None, "r", serde_json::json!({}), None, &opts).unwrap();
    let out = interp::resume(&p, started.state, Resume::Reply("1.234,5".into()), &opts).unwrap();
    assert_eq!(messages(&out.events), ["2.469,00 | Éabc | 7 | none | a%20b | 2469 | 3 | 23/11/2026 16:05"]);
}

// ---------------------------------------------------------------- the `flowc run` command

fn flowc(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowc"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1").env_remove("ORDERS_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("flowc runs")
}

fn log_arg() -> String {
    let dir = std::env::temp_dir().join(format!("flowc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("log-{}.jsonl", rand_suffix())).display().to_string()
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

#[test]
fn every_example_runs_unattended_with_mocks() {
    let cases: &[(&str, &[&str])] = &[
        ("order_status", &["--input", "CU001", "--mock", "lookup_webhook=examples/mocks/order_found.json"]),
        (
            "cdp_promo_code",
            &[
                "--mock",
                "contacts_get_by_email=examples/mocks/contact_found.json",
                "--mock",
                "wh5=examples/mocks/promo_code.json",
                "--mock",
                "legacy_notify=examples/mocks/accepted.json",
                "--mock",
                "audit_log=examples/mocks/accepted.json",
            ],
        ),
        (
            "call_event_notification",
            &[
                "--input",
                "7",
                "--input",
                "2",
                "--mock",
                "call_answered=examples/mocks/accepted.json",
                "--mock",
                "call_transferred=examples/mocks/accepted.json",
            ],
        ),
        ("order_webhook_response", &["--trigger", "@examples/mocks/trigger_shipped.json"]),
    ];
    for (name, extra) in cases {
        let file = format!("examples/{name}.flow");
        let log = log_arg();
        let mut args = vec!["run", file.as_str(), "--json", "--run-id", "test-run", "--log", log.as_str()];
        args.extend_from_slice(extra);
        let o = flowc(&args, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{name}: {stderr}");
        let transcript = String::from_utf8_lossy(&o.stdout).into_owned();
        for line in transcript.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{name}: not JSON: {line}: {e}"));
        }
        insta::assert_snapshot!(format!("run_{name}"), transcript);
    }
}

#[test]
fn the_simulator_prints_a_readable_transcript() {
    let log = log_arg();
    let o = flowc(
        &[
            "run",
            "examples/order_status.flow",
            "--input",
            "CU001",
            "--mock",
            "lookup_webhook=examples/mocks/order_found.json",
            "--run-id",
            "demo",
            "--log",
            &log,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
    let shown = flowc(&["log", &log], &[]);
    let table = String::from_utf8_lossy(&shown.stdout);
    assert!(table.contains("lookup_webhook") && table.contains("200 (mock)"), "{table}");
}

#[test]
fn a_run_waits_is_saved_and_resumes_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("flowc-resume-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json").display().to_string();
    let log = log_arg();
    let mock = "lookup_webhook=examples/mocks/order_found.json";
    let first = flowc(
        &["run", "examples/order_status.flow", "--save-state", &state, "--run-id", "r", "--log", &log, "--mock", mock],
        &[],
    );
    assert_eq!(first.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&first.stderr).contains("waiting for a reply"));
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["status"], "waiting");
    let second = flowc(
        &["run", "examples/order_status.flow", "--resume", &state, "--input", "CU001", "--log", &log, "--mock", mock],
        &[],
    );
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("Order CU001 shipped on October 9th"), "{out}");
    assert!(out.contains("■ completed"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_example_runs_against_a_local_server() {
    let server = crate::server::TestServer::start(|_, _| {
        crate::server::Reply::json(200, r#"{"status": "Cancelled", "number": "CU002"}"#)
    });
    let route = format!("https://orders.example.com={}", server.url(""));
    let log = log_arg();
    let o = flowc(
        &["run", "examples/order_status.flow", "--input", "CU002", "--route", &route, "--log", &log],
        &[("ORDERS_TOKEN", "very-secret-token")],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Order CU002 was cancelled."), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let got = server.requests();
    assert_eq!(got[0].url, "/lookup");
    assert_eq!(got[0].header("Authorization"), Some("Bearer very-secret-token"));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("very-secret-token") && !out.contains("very-secret-token"), "{logged}");
}

#[test]
fn bad_run_arguments_give_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "examples/order_status.flow", "--mock", "lookup_webhook=no/such.json"],
            "cannot read mock file no/such.json",
        ),
        (
            &["run", "examples/order_status.flow", "--mock", "nope=examples/mocks/accepted.json"],
            "no webhook is named `nope`",
        ),
        (&["run", "examples/order_status.flow", "--mock", "lookup_webhook"], "--mock takes NAME=FILE"),
        (&["run", "examples/order_status.flow", "--contact", "{not json"], "--contact is not valid JSON"),
        (&["run", "examples/order_status.flow", "--flow", "nope"], "there is no flow `nope`"),
        (&["run", "examples/order_status.flow", "--resume", "Cargo.toml"], "is not a saved run"),
        (
            &["run", "examples/order_status.flow", "--route", "https://a.io=http://example.com"],
            "refusing plain http://",
        ),
        (&["log", "no/such/log.jsonl"], "cannot read the webhook log"),
    ];
    for (args, expected) in cases {
        let o = flowc(args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    }
}

#[test]
fn every_example_runs_against_a_local_server() {
    use crate::server::{Reply, TestServer};
    let server = TestServer::start(|_, r| match r.url.split('?').next().unwrap_or("") {
        "/lookup" => Reply::json(
            200,
            r#"{"status": "Shipped", "number": "CU001", "ship_date": "May 2nd", "delivery_date": "May 5th"}"#,
        ),
        "/api/v1/contacts" => Reply::json(200, r#"{"contacts": [{"id": 7, "email": "test@example.com"}]}"#),
        "/codes" => Reply::json(201, r#"{"promocode": "LOCAL-7"}"#),
        _ => Reply::text(202, "accepted"),
    });
    let local = server.url("");
    let secrets = [
        ("ORDERS_TOKEN", "orders-secret-1"),
        ("CDP_USER", "cdp-user"),
        ("CDP_PASSWORD", "cdp-password-2"),
        ("PROMO_TOKEN", "promo-secret-3"),
        ("LEGACY_CRM_KEY", "legacy-secret-4"),
        ("CRM_TOKEN", "crm-secret-5"),
    ];
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        ("order_status", &["orders"], &["--input", "CU001"], "Order CU001 shipped on May 2nd and arrives May 5th."),
        ("cdp_promo_code", &["cdp", "promo", "legacy", "audit"], &[], "Your personal code is LOCAL-7"),
        ("call_event_notification", &["crm"], &["--input", "1"], "Connecting you to sales."),
        ("order_webhook_response", &[], &["--trigger", "@examples/mocks/trigger_shipped.json"], "Good news Joe"),
    ];
    for (name, hosts, extra, expected) in cases {
        let file = format!("examples/{name}.flow");
        let log = log_arg();
        let routes: Vec<String> = hosts.iter().map(|h| format!("https://{h}.example.com={local}")).collect();
        let mut args = vec!["run", file.as_str(), "--log", log.as_str()];
        for r in &routes {
            args.extend(["--route", r.as_str()]);
        }
        args.extend_from_slice(extra);
        let o = flowc(&args, &secrets);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{name}: {out}{}", String::from_utf8_lossy(&o.stderr));
        assert!(out.contains(expected), "{name}: {out}");
        assert!(!out.contains("failed"), "{name}: {out}");
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        for (_, secret) in &secrets {
            assert!(!out.contains(secret) && !logged.contains(secret), "{name} leaked {secret}");
        }
    }
    let got = server.requests();
    let cdp = got.iter().find(|r| r.url.starts_with("/api/v1/contacts")).expect("the CDP lookup reached the server");
    assert_eq!(cdp.header("Authorization"), Some("Basic Y2RwLXVzZXI6Y2RwLXBhc3N3b3JkLTI="));
    assert!(got.iter().any(|r| r.url.contains("key=legacy-secret-4")), "the API key travels in the query");
}

#[test]
fn channel_previews_show_the_delivery_a_server_would_make() {
    let o = flowc(
        &[
            "run",
            "examples/telegram_bot.flow",
            "--flow",
            "menu",
            "--channel",
            "bot",
            "--input",
            "1",
            "--contact",
            r#"{"urn": "telegram:42", "name": "Ann"}"#,
        ],
        &[("TELEGRAM_TOKEN", "123:secret-token")],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(
            r#"  ⇢ bot: POST https://api.telegram.org/bot***/sendMessage {"chat_id":42,"text":"Hi Ann! Reply 1"#
        ),
        "{out}"
    );
    assert!(!out.contains("secret-token"), "{out}");
    let o = flowc(&["run", "examples/sms_signup.flow", "--flow", "help", "--channel", "sms", "--json"], &[]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let delivery = lines.iter().find(|l| l["type"] == "channel_delivery").expect("a delivery line");
    assert_eq!(delivery["url"], "https://gateway.example.com/messages");
    let body: serde_json::Value = serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap();
    assert_eq!((body["to"].as_str(), body["text"].as_str()), (Some("+250788000000"), Some("Send JOIN to sign up.")));
    let o = flowc(&["run", "examples/sms_signup.flow", "--channel", "nope"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "flowc: --channel nope: no channel is named `nope` (channels: sms)"
    );
}

#[test]
fn a_set_with_a_category_saves_a_result_that_has_one() {
    let p = program(&std::fs::read_to_string("tests/fixtures/valid/result_category.flow").unwrap());
    let env = |_: &str| None;
    let started = interp::start(&p, None, "r", serde_json::json!({}), None, &options(&env)).unwrap();
    let out = interp::resume(&p, started.state, Resume::Timeout, &options(&env)).unwrap();
    assert!(
        out.events.contains(&Event::MessageSent { text: "We missed you (No Response).".into(), quick_replies: vec![] }),
        "{:?}",
        out.events
    );
    assert_eq!(out.state.slots[0].as_ref().and_then(|s| s.category.as_deref()), Some("No Response"));
}

#[test]
fn a_contacts_uuid_is_derived_from_its_urn() {
    let p = program("flow f {\n  send \"@contact.uuid\"\n}\n");
    let env = |_: &str| None;
    let said = |urn: &str| -> String {
        let out = interp::start(&p, None, "r", serde_json::json!({"urn": urn}), None, &options(&env)).unwrap();
        messages(&out.events).join("")
    };
    let (a, again, b) = (said("tel:+250788000001"), said("tel:+250788000001"), said("tel:+250788000002"));
    assert_eq!(a.len(), 36, "{a}");
    assert_eq!(a, again, "the same contact, the same UUID");
    assert_ne!(a, b);
}

#[test]
fn visit_count_counts_the_entries_of_the_step_across_replies() {
    let p = program(
        "flow quiz {\n  step ask {\n    send \"Try @(visit_count())\"\n    wait guess\n    split @flow.guess {\n      case == \"7\" { send \"Right\" }\n      other { goto ask }\n    }\n  }\n}\n",
    );
    let env = |_: &str| None;
    let mut out = interp::start(&p, None, "r", serde_json::json!({}), None, &options(&env)).unwrap();
    let mut said = messages(&out.events);
    for guess in ["1", "2", "7"] {
        out = interp::resume(&p, out.state, Resume::Reply(guess.into()), &options(&env)).unwrap();
        said.extend(messages(&out.events));
    }
    assert_eq!(said, ["Try 1", "Try 2", "Try 3", "Right"]);
}

const SUBFLOWS: &str = r#"
flow main {
  set tier = "gold"
  send "start"
  enter ask {
    on expired { send "expired: @(default(@child.answer, "none"))" }
  }
  send "back: @(default(@child.answer, "none")) @flow.tier"
}

flow ask {
  send "asked by a @parent.tier member"
  wait answer timeout 1h
  enter inner
}

flow inner {
  send "inner @parent.answer"
}

flow hand_over {
  send "first"
  enter ask terminal
}
"#;

#[test]
fn an_entered_flow_waits_resumes_from_saved_state_and_returns_its_results() {
    let p = program(SUBFLOWS);
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, Some("main"), "r1", serde_json::json!({}), None, &opts).unwrap();
    assert_eq!(messages(&started.events), ["start", "asked by a gold member"]);
    assert_eq!(started.state.status, RunStatus::Waiting);
    assert_eq!(started.state.flow, "ask", "the run is in the flow it entered");
    assert_eq!(started.state.parents.len(), 1);
    assert_eq!(started.state.root().flow, "main");
    // Saved as a server would, and resumed.
    let saved = serde_json::to_string(&started.state).unwrap();
    let restored: RunState = serde_json::from_str(&saved).unwrap();
    let done = interp::resume(&p, restored, Resume::Reply("42".into()), &opts).unwrap();
    assert_eq!(messages(&done.events), ["inner 42", "back: 42 gold"]);
    assert_eq!(done.state.status, RunStatus::Completed);
    assert_eq!(done.state.flow, "main");
    assert!(done.state.parents.is_empty());
    let kinds: Vec<String> = done
        .events
        .iter()
        .filter_map(|e| match e {
            Event::FlowEntered { flow, .. } => Some(format!("enter {flow}")),
            Event::FlowLeft { flow, status } => Some(format!("left {flow} {}", status.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["enter inner", "left inner completed", "left ask completed"]);
}

#[test]
fn an_entered_flow_that_expires_goes_on_at_on_expired_and_a_terminal_enter_hands_over() {
    let p = program(SUBFLOWS);
    let env = |_: &str| None;
    let opts = options(&env);
    for how in [Resume::Timeout, Resume::Expire] {
        let started = interp::start(&p, Some("main"), "r1", serde_json::json!({}), None, &opts).unwrap();
        let out = interp::resume(&p, started.state, how, &opts).unwrap();
        assert_eq!(messages(&out.events), ["expired: none", "back: none gold"]);
        assert_eq!(out.state.status, RunStatus::Completed);
    }
    // Without `on expired`, the flow that entered expires too.
    let p2 = program("flow a {\n  enter b\n  send \"never\"\n}\nflow b {\n  wait x timeout 1m\n}\n");
    let started = interp::start(&p2, Some("a"), "r2", serde_json::json!({}), None, &opts).unwrap();
    let out = interp::resume(&p2, started.state, Resume::Timeout, &opts).unwrap();
    assert!(messages(&out.events).is_empty());
    assert_eq!(out.state.status, RunStatus::Expired);
    assert!(out.state.parents.is_empty());
    // `terminal`: the first flow ends, the second runs in its place with no flow to return to.
    let started = interp::start(&p, Some("hand_over"), "r3", serde_json::json!({}), None, &opts).unwrap();
    assert_eq!(messages(&started.events), ["first", "asked by a  member"]);
    assert!(started.state.parents.is_empty());
    assert_eq!(started.state.flow, "ask");
    let done = interp::resume(&p, started.state, Resume::Reply("7".into()), &opts).unwrap();
    assert_eq!(messages(&done.events), ["inner 7"]);
    assert_eq!(done.state.status, RunStatus::Completed);
}

#[test]
fn a_run_inside_a_changed_parent_is_refused_and_nesting_is_bounded() {
    let p = program(SUBFLOWS);
    let env = |_: &str| None;
    let opts = options(&env);
    let started = interp::start(&p, Some("main"), "r1", serde_json::json!({}), None, &opts).unwrap();
    // The flow that entered changed its variables while the run waited inside `ask`.
    let changed = program(
        &SUBFLOWS.replace("set tier = \"gold\"", "set tier = \"gold\"\n  set extra = 1\n  send \"@flow.extra\""),
    );
    let err = interp::resume(&changed, started.state, Resume::Reply("1".into()), &opts).unwrap_err();
    assert_eq!(err, interp::RunError::ProgramChanged("main".into()));
    // A flow that enters itself on some path: the checker lets it through, the run stops at the limit.
    let deep = program("flow r {\n  split @contact.name {\n    case has_text { enter r }\n  }\n}\n");
    let out = interp::start(&deep, None, "r4", serde_json::json!({"name": "Ann"}), None, &opts).unwrap();
    assert_eq!(out.state.status, RunStatus::Failed);
    let reason = out.events.iter().find_map(|e| match e {
        Event::RunEnded { reason, .. } => reason.clone(),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("flows entered more than 32 deep (flows that enter each other?)"));
}

#[test]
fn a_flow_that_hands_over_gives_back_the_results_of_the_flow_it_handed_over_to() {
    let src = r#"
flow c {
  enter a
  send "color @child.color"
}
flow a {
  wait name timeout 1h
  enter b terminal
}
flow b {
  send "and your color, @(default(@parent.tier, ""))?"
  wait color timeout 1h
}
flow d {
  set tier = "gold"
  enter a
  send "@(default(@child.color, "none"))"
}
"#;
    let (p, diags) = flowc::compile_source(src).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    let env = |_: &str| None;
    let opts = options(&env);
    let out = interp::start(&p, Some("c"), "r1", serde_json::json!({}), None, &opts).unwrap();
    let out = interp::resume(&p, out.state, Resume::Reply("Ann".into()), &opts).unwrap();
    let out = interp::resume(&p, out.state, Resume::Reply("blue".into()), &opts).unwrap();
    assert_eq!(messages(&out.events), ["color blue"]);
    // `@parent` in the flow handed over to is the flow that entered the one that handed over: `c` has
    // no `tier`, so the checker refuses a plain read of it (only `d` defines it).
    let strict = src.replace("@(default(@parent.tier, \"\"))", "@parent.tier");
    let checked = flowc::check_source(&strict).1;
    assert!(checked.iter().any(|d| d.is_error() && d.message.contains("`@parent.tier`")), "{checked:#?}");
}
