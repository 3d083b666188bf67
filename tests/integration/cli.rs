//! Runs the real `flowc` binary: exit codes, human and JSON output.

use std::process::{Command, Output};

pub(crate) fn flowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_examples_is_clean() {
    let o = flowc(&["check", "examples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 errors, 0 warnings"), "{}", stderr(&o));
}

#[test]
fn every_invalid_fixture_exits_1_with_its_code() {
    for entry in std::fs::read_dir("tests/fixtures/check").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "flow") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let code = stem.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
        let o = flowc(&["check", "--deny-warnings", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", path.display(), stderr(&o));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
        let codes: Vec<&str> = json.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
        assert!(codes.iter().any(|c| c.ends_with(&format!("::{code}"))), "{}: {codes:?}", path.display());
    }
}

#[test]
fn json_output_has_every_field() {
    let o = flowc(&["check", "--format", "json", "tests/fixtures/check/unknown_step.flow"]);
    assert_eq!(o.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &json[0];
    assert_eq!(d["file"], "tests/fixtures/check/unknown_step.flow");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "flowc::check::unknown_step");
    for key in ["line", "column"] {
        assert!(d[key].as_u64().unwrap() >= 1, "{key}");
    }
    assert!(d["span"]["end"].as_u64() >= d["span"]["start"].as_u64());
    assert!(d["message"].as_str().unwrap().contains("no step"));
    assert!(d["help"].as_str().unwrap().contains("did you mean"));
}

#[test]
fn warnings_pass_unless_denied() {
    let path = "tests/fixtures/check/unreachable.flow";
    assert_eq!(flowc(&["check", path]).status.code(), Some(0));
    assert_eq!(flowc(&["check", "--deny-warnings", path]).status.code(), Some(1));
}

#[test]
fn human_output_renders_the_source() {
    let o = flowc(&["check", "tests/fixtures/check/unknown_step.flow"]);
    let err = stderr(&o);
    assert!(err.contains("flowc::check::unknown_step"), "{err}");
    assert!(err.contains("goto"), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert!(err.contains("1 error"), "{err}");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = flowc(&["check", "no/such/file.flow"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read no/such/file.flow: no such file or directory"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(flowc(&["check"]).status.code(), Some(2));
    assert_eq!(flowc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(flowc(&["check", "--format", "xml", "examples"]).status.code(), Some(2));
    let empty = std::env::temp_dir().join(format!("flowc-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let o = flowc(&["check", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no .flow files"), "{}", stderr(&o));
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn compile_prints_stable_json_without_secrets() {
    let a = flowc(&["compile", "examples/order_status.flow"]);
    let b = flowc(&["compile", "examples/order_status.flow"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let program: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(program["connectors"][0]["auth"]["bearer"]["token"]["env"], "ORDERS_TOKEN");
}

#[test]
fn compile_never_prints_a_literal_secret() {
    let o = flowc(&["compile", "tests/fixtures/check/literal_secret.flow"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("sk_live"), "{out}");
    assert!(!stderr(&o).contains("sk_live"), "{}", stderr(&o));
    assert!(out.contains("\"literal\": \"***\""), "{out}");
}

#[test]
fn compile_refuses_invalid_files() {
    let o = flowc(&["compile", "tests/fixtures/check/unknown_step.flow"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("not compiled"), "{}", stderr(&o));
}

#[test]
fn explain_prints_pages_and_lists_codes() {
    let o = flowc(&["explain", "undefined_variable"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("# flowc::check::undefined_variable"));
    let full = flowc(&["explain", "flowc::syntax::duration_unit"]);
    assert_eq!(full.status.code(), Some(0));
    let list = flowc(&["explain"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("flowc::check::unknown_step"));
    let bad = flowc(&["explain", "unknown_stp"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("did you mean `unknown_step`"), "{}", stderr(&bad));
    // The split tests' reference is the catalogue: one row per test, and a test by its name.
    let tests = flowc(&["explain", "tests"]);
    let table = String::from_utf8_lossy(&tests.stdout);
    assert_eq!(tests.status.code(), Some(0));
    assert!(
        table.contains("| `has_number_between MIN MAX` | number, number | contains a number from MIN to MAX"),
        "{table}"
    );
    assert!(table.contains("| `has_phone \"CC\"` | text (optional) |"), "{table}");
    let one = flowc(&["explain", "has_only_text"]);
    assert!(String::from_utf8_lossy(&one.stdout).contains("case has_only_text \"Success\" as Name"));
}

/// Runs flowc with its standard output connected to a pipe whose reader is already gone, as in
/// `flowc explain | true`, so every write fails with a broken pipe.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("flowc runs")
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let log = std::env::temp_dir().join(format!("flowc-pipe-log-{}.jsonl", std::process::id()));
    let line = r#"{"time":"2026-01-01T00:00:00Z","flow":"f","webhook":"w","method":"GET","url":"https://x.io","status":200,"attempt":1,"elapsed_ms":1}"#;
    std::fs::write(&log, format!("{line}\n").repeat(5_000)).unwrap();
    for args in [
        vec!["explain"],
        vec!["explain", "undefined_variable"],
        vec!["compile", "examples/order_status.flow"],
        vec!["check", "--format", "json", "tests/fixtures/check/unknown_step.flow"],
        vec!["log", "--json", log.to_str().unwrap()],
        vec!["log", log.to_str().unwrap()],
        vec![
            "run",
            "examples/order_status.flow",
            "--json",
            "--input",
            "x",
            "--mock",
            "lookup_webhook=examples/mocks/order_found.json",
        ],
    ] {
        let o = with_closed_stdout(&args);
        let err = stderr(&o);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        let expected = if args[0] == "check" { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(expected), "{args:?}: {err}");
    }
    std::fs::remove_file(&log).unwrap();
}

/// `flowc ... 2>&1 | head -1`: standard error closed too. What would have gone there is lost; the
/// command ends as it would have (never with a panic's 101).
#[test]
fn a_closed_stderr_ends_quietly() {
    for (args, expected) in [
        (vec!["check", "tests/fixtures/check/unknown_step.flow"], 1),
        (vec!["export", "rapidpro", "examples/"], 0),
        (vec!["import", "rapidpro", "no/such/export.json"], 2),
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::null())
            .stderr(writer)
            .output()
            .expect("flowc runs");
        assert_eq!(o.status.code(), Some(expected), "{args:?}");
    }
}

#[test]
fn a_file_that_is_not_utf8_is_a_diagnostic_at_the_bad_byte() {
    let dir = std::env::temp_dir().join(format!("flowc-latin1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.flow");
    std::fs::write(&path, b"flow f {\n  send \"caf\xE9 ouvert\"\n}\n").unwrap();
    let p = path.to_str().unwrap();
    let human = flowc(&["check", p]);
    assert_eq!(human.status.code(), Some(1), "{}", stderr(&human));
    assert!(stderr(&human).contains("flowc::syntax::invalid_utf8"), "{}", stderr(&human));
    assert!(stderr(&human).contains(":2:12]"), "{}", stderr(&human));
    let json = flowc(&["check", "--format", "json", p]);
    let d: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((d[0]["line"].as_u64(), d[0]["column"].as_u64()), (Some(2), Some(12)), "{d}");
    assert!(d[0]["message"].as_str().unwrap().contains("0xE9"), "{d}");
    for cmd in ["compile", "run"] {
        let o = flowc(&[cmd, p]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("invalid_utf8"), "{cmd}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn human_and_json_columns_agree_on_lines_with_accents_and_emoji() {
    let dir = std::env::temp_dir().join(format!("flowc-columns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("accents.flow");
    std::fs::write(&path, "flow f {\n  send \"Olá café 🎉 @flw.name\"\n}\nflow f {\n  stop\n}\n").unwrap();
    let p = path.to_str().unwrap();
    let json = flowc(&["check", "--format", "json", p]);
    let diags: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let human = stderr(&flowc(&["check", p]));
    let suspicious =
        diags.as_array().unwrap().iter().find(|d| d["code"] == "flowc::check::suspicious_reference").unwrap();
    // `@flw` is the 20th character of line 2 (the emoji counts as one).
    assert_eq!((suspicious["line"].as_u64(), suspicious["column"].as_u64()), (Some(2), Some(20)), "{suspicious}");
    assert_eq!(suspicious["end_line"].as_u64(), Some(2));
    assert!(suspicious["end_column"].as_u64() > suspicious["column"].as_u64(), "{suspicious}");
    assert!(human.contains(&format!("{p}:2:20]")), "{human}");
    let duplicate = diags.as_array().unwrap().iter().find(|d| d["code"] == "flowc::check::duplicate_name").unwrap();
    assert_eq!(duplicate["related"][0]["line"].as_u64(), Some(1), "{duplicate}");
    assert!(duplicate["related"][0]["label"].is_string(), "{duplicate}");
    for d in diags.as_array().unwrap() {
        let at = format!("{p}:{}:{}]", d["line"], d["column"]);
        assert!(human.contains(&at), "human output lacks {at}:\n{human}");
        assert!(d["related"].is_array(), "{d}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_call_refused_for_an_unset_secret_shows_its_url_and_is_logged() {
    let log = std::env::temp_dir().join(format!("flowc-unset-secret-{}.jsonl", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "examples/order_status.flow", "--input", "CU001", "--log", log.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("ORDERS_TOKEN")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("POST https://orders.example.com/lookup → failed: environment variable ORDERS_TOKEN is not set"),
        "{out}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("\"url\":\"https://orders.example.com/lookup\""), "{logged}");
    std::fs::remove_file(&log).unwrap();
}

#[test]
fn check_treats_the_files_as_one_project_with_serves_rules() {
    let dir = std::env::temp_dir().join(format!("flowc-project-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = |suffix: &str| {
        format!("trigger webhook \"{suffix}\" methods POST {{ start welcome }}\nflow welcome {{\n  stop\n}}\n")
    };
    std::fs::write(dir.join("a.flow"), flow("/signup")).unwrap();
    std::fs::write(dir.join("b.flow"), flow("/signup")).unwrap();
    let d = dir.to_str().unwrap();
    let json = flowc(&["check", "--format", "json", d]);
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    let diags: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let messages: Vec<&str> = diags.as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    let a = dir.join("a.flow").display().to_string();
    assert!(messages.contains(&format!("the flow `welcome` is also defined in {a}:2:6").as_str()), "{messages:?}");
    assert!(
        messages.contains(&format!("a trigger in {a}:1:17 already listens on \"/signup\"").as_str()),
        "{messages:?}"
    );
    assert!(diags.as_array().unwrap().iter().all(|d| d["file"].as_str().unwrap().ends_with("b.flow")), "{diags}");
    // serve refuses the same files for the same reasons, before it opens a database.
    let served = flowc(&["serve", d, "--addr", "127.0.0.1:0", "--db", dir.join("x.db").to_str().unwrap()]);
    assert_eq!(served.status.code(), Some(1), "{}", stderr(&served));
    assert!(stderr(&served).contains("is also defined in"), "{}", stderr(&served));
    assert!(!dir.join("x.db").exists());
    // Each file alone is fine; a suffix the server answers itself is not.
    assert_eq!(flowc(&["check", dir.join("a.flow").to_str().unwrap()]).status.code(), Some(0));
    std::fs::write(dir.join("b.flow"), flow("/healthz").replace("welcome", "ping")).unwrap();
    let o = flowc(&["check", d]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("\"/healthz\" belongs to `flowc serve`'s health check"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_reads_trigger_requests_as_the_server_does() {
    let dir = std::env::temp_dir().join(format!("flowc-trigger-headers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.flow");
    std::fs::write(
        &path,
        "trigger webhook \"/t\" methods POST {\n  expect header \"X-Request-Id\": text\n  start t\n}\nflow t {\n  respond 200 { body text \"id @trigger.headers.x_request_id\" }\n}\n",
    )
    .unwrap();
    let o = flowc(&["run", path.to_str().unwrap(), "--trigger", r#"{"headers": {"X-Request-Id": "r1"}}"#]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("↩ respond 200 id r1"), "{out}{}", stderr(&o));
    // The trigger's `expect` reads and refuses a request as `flowc serve` does (its 422).
    std::fs::write(
        &path,
        "trigger webhook \"/t\" methods GET {\n  expect query n: number\n  start t\n}\nflow t {\n  respond 200 { body text \"next @(@trigger.query.n + 1)\" }\n}\n",
    )
    .unwrap();
    let o = flowc(&["run", path.to_str().unwrap(), "--trigger", r#"{"query": {"n": "41"}}"#]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("↩ respond 200 next 42"), "{out}{}", stderr(&o));
    let o = flowc(&["run", path.to_str().unwrap(), "--trigger", r#"{"query": {"n": "many"}}"#]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not match the trigger's expect: query parameter n must be a number, not \"many\""),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mock_with_several_answers_is_used_attempt_by_attempt_under_the_retry_rules() {
    let dir = std::env::temp_dir().join(format!("flowc-mock-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mock = dir.join("flaky.json");
    std::fs::write(
        &mock,
        r#"[
  {"status": 503, "body": "busy"},
  {"delay_ms": 60000},
  {"error": "connection refused"},
  {"status": 200, "body": {"status": "Shipped", "number": "CU001", "ship_date": "today"}, "delay_ms": 40}
]"#,
    )
    .unwrap();
    let log = dir.join("log.jsonl");
    let o = flowc(&[
        "run",
        "examples/order_status.flow",
        "--input",
        "CU001",
        "--mock",
        &format!("lookup_webhook={}", mock.display()),
        "--log",
        log.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("→ 200 ("), "{out}{}", stderr(&o));
    assert!(out.contains("4 attempts, mock)"), "{out}");
    assert!(out.contains("Order CU001 shipped on today"), "{out}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let attempts: Vec<(u64, Option<u64>, Option<&str>)> =
        lines.iter().map(|l| (l["attempt"].as_u64().unwrap(), l["status"].as_u64(), l["error"].as_str())).collect();
    assert_eq!(
        attempts,
        [
            (1, Some(503), None),
            (2, None, Some("timed out after 5000 ms")),
            (3, None, Some("connection error: connection refused")),
            (4, Some(200), None)
        ]
    );
    let keys: Vec<String> = lines
        .iter()
        .map(|l| {
            l["request"]["headers"].as_array().unwrap().iter().find(|h| h[0] == "Idempotency-Key").unwrap()[1]
                .to_string()
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one Idempotency-Key for every attempt: {keys:?}");
    // A 4xx is not retried; past the list the last answer repeats.
    std::fs::write(&mock, r#"[{"status": 404}]"#).unwrap();
    let o = flowc(&[
        "run",
        "examples/order_status.flow",
        "--input",
        "CU001",
        "--mock",
        &format!("lookup_webhook={}", mock.display()),
        "--log",
        log.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("→ failed: HTTP 404 (0 ms, mock)"), "{out}");
    std::fs::write(&mock, r#"[]"#).unwrap();
    let o = flowc(&["run", "examples/order_status.flow", "--mock", &format!("lookup_webhook={}", mock.display())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("list is empty"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `flowc ARGS` at a pseudo-terminal, typing each of `keys` at the next prompt
/// (`tests/pty/drive.py`); `None` (with the reason printed) where Python is missing.
fn at_terminal(args: &[&str], keys: &[&str]) -> Option<String> {
    let mut cmd = Command::new("python3");
    cmd.arg("tests/pty/drive.py").arg(env!("CARGO_BIN_EXE_flowc")).args(args).arg("--").args(keys);
    match cmd.current_dir(env!("CARGO_MANIFEST_DIR")).output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).replace('\r', "")),
        Ok(o) => panic!("the terminal driver failed: {}", stderr(&o)),
        Err(e) => {
            eprintln!("skipped: no python3 to drive a terminal ({e})");
            None
        }
    }
}

#[test]
fn the_simulator_at_a_terminal_edits_lines_echoes_once_and_ctrl_d_times_out() {
    let dir = std::env::temp_dir().join(format!("flowc-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.flow");
    std::fs::write(
        &path,
        "flow echo {\n  wait x timeout 1h { on timeout { send \"timed out\"; stop } }\n  send \"got [@flow.x]\"\n}\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    // Left arrow moves the cursor: `CU01`, ←, `0` is CU001. The reply is on screen once, where it was typed.
    let Some(shown) = at_terminal(&["run", p, "--timeout"], &["CU01\\x1b[D0\\r"]) else { return };
    assert!(shown.contains("bot: got [CU001]"), "{shown}");
    assert!(!shown.contains("you: "), "{shown}");
    assert!(!shown.contains("^[[D"), "{shown}");
    assert!(shown.contains("exit: 0"), "{shown}");
    // Ctrl-D with --timeout takes the timeout branch; without it the run stays waiting.
    let shown = at_terminal(&["run", p, "--timeout"], &["\\x04"]).unwrap();
    assert!(shown.contains("x timed out") && shown.contains("bot: timed out"), "{shown}");
    let shown = at_terminal(&["run", p], &["\\x04"]).unwrap();
    assert!(shown.contains("the run is waiting for a reply"), "{shown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_named_twice_is_checked_once() {
    let o = flowc(&["check", "examples/order_status.flow", "./examples/order_status.flow", "examples"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("checked 8 files"), "{}", stderr(&o));
}

#[test]
fn run_inputs_may_start_with_a_minus_and_trigger_requests_are_validated() {
    let dir = std::env::temp_dir().join(format!("flowc-run-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let echo = dir.join("echo.flow");
    std::fs::write(&echo, "flow echo {\n  wait x\n  send \"got @flow.x\"\n}\n").unwrap();
    let o = flowc(&["run", echo.to_str().unwrap(), "--input", "-3"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("bot: got -3"), "{}", stderr(&o));
    for (trigger, expected) in [
        ("[1]", "is a JSON object"),
        (r#"{"header": {}}"#, "unknown key `header`"),
        (r#"{"headers": "x"}"#, "`headers` is an object"),
    ] {
        let o = flowc(&["run", "examples/order_webhook_response.flow", "--trigger", trigger]);
        assert_eq!(o.status.code(), Some(2), "{trigger}");
        assert!(stderr(&o).contains(expected), "{trigger}: {}", stderr(&o));
    }
    let o = flowc(&["run", echo.to_str().unwrap(), "--trigger", "{}"]);
    assert!(stderr(&o).contains("no trigger starts flow `echo`"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mock_files_are_strict_and_say_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("flowc-mock-strict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mock = dir.join("m.json");
    for (text, expected) in [
        ("not json", "not JSON"),
        (r#"{"stauts": 200}"#, "unknown field `stauts`"),
        (r#"{"status": 99}"#, "status 99 is not an HTTP status"),
        (r#"[{"status": 200}, 5]"#, "answer 2 of the list"),
        (r#"{"status": 500, "error": "refused"}"#, "an answer with `error` has no status"),
    ] {
        std::fs::write(&mock, text).unwrap();
        let o = flowc(&["run", "examples/order_status.flow", "--mock", &format!("lookup_webhook={}", mock.display())]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(expected), "{text}: {}", stderr(&o));
    }
    std::fs::write(&mock, "{}").unwrap();
    let spec = format!("lookup_webhook={}", mock.display());
    let o = flowc(&["run", "examples/order_status.flow", "--mock", &spec, "--mock", &spec]);
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn log_skips_json_lines_that_are_not_entries() {
    let log = std::env::temp_dir().join(format!("flowc-log-skip-{}.jsonl", std::process::id()));
    std::fs::write(&log, "{\"x\": 1}\n").unwrap();
    let o = flowc(&["log", "--json", log.to_str().unwrap()]);
    assert!(o.stdout.is_empty(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(stderr(&o).contains("skipped 1 line that is not a log entry"), "{}", stderr(&o));
    std::fs::remove_file(&log).unwrap();
}

#[test]
fn a_full_disk_is_an_error_not_a_quiet_success() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
    let o = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "run",
            "examples/order_status.flow",
            "--input",
            "CU001",
            "--mock",
            "lookup_webhook=examples/mocks/order_found.json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write to standard output"), "{}", stderr(&o));
}

#[test]
fn fmt_checks_rewrites_and_refuses_files_with_syntax_errors() {
    let dir = std::env::temp_dir().join(format!("flowc-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let messy = dir.join("messy.flow");
    let broken = dir.join("broken.flow");
    std::fs::write(&messy, "flow f {\n      send \"a\" ; stop   // done\n}\n").unwrap();
    std::fs::write(&broken, "flow g {\n  sned \"x\"\n}\n").unwrap();
    let d = dir.to_str().unwrap();
    let check = flowc(&["fmt", "--check", d]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stderr(&check).contains("messy.flow: not formatted"), "{}", stderr(&check));
    assert!(stderr(&check).contains("not formatting") && stderr(&check).contains("broken.flow"), "{}", stderr(&check));
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), "flow f {\n      send \"a\" ; stop   // done\n}\n");
    let write = flowc(&["fmt", messy.to_str().unwrap()]);
    assert_eq!(write.status.code(), Some(0), "{}", stderr(&write));
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), "flow f {\n  send \"a\"\n  stop  // done\n}\n");
    assert_eq!(flowc(&["fmt", "--check", messy.to_str().unwrap()]).status.code(), Some(0));
    let refused = flowc(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "flow g {\n  sned \"x\"\n}\n", "never mangled");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_reports_for_ci_as_github_annotations_and_sarif() {
    let github = flowc(&[
        "check",
        "--format",
        "github",
        "tests/fixtures/check/unknown_step.flow",
        "tests/fixtures/check/unreachable.flow",
    ]);
    assert_eq!(github.status.code(), Some(1));
    let lines = String::from_utf8_lossy(&github.stdout);
    assert!(
        lines.lines().any(|l| l.starts_with("::error file=tests/fixtures/check/unknown_step.flow,line=")
            && l.contains("title=flowc%3A%3Acheck%3A%3Aunknown_step::")),
        "{lines}"
    );
    assert!(lines.lines().any(|l| l.starts_with("::warning ")), "{lines}");
    let sarif = flowc(&["check", "--format", "sarif", "tests/fixtures/check"]);
    assert_eq!(sarif.status.code(), Some(1));
    // The types serde-sarif generates from the SARIF 2.1.0 schema read it back (CI also validates it
    // against the schema itself: tests/sarif/validate.py).
    let log: serde_sarif::sarif::Sarif = serde_json::from_slice(&sarif.stdout).expect("a SARIF log");
    let run = &log.runs[0];
    let rules = run.tool.driver.rules.as_ref().unwrap();
    let results = run.results.as_ref().unwrap();
    assert!(results.len() > 60);
    for r in results {
        let id = r.rule_id.as_deref().unwrap();
        let index = r.rule_index.unwrap() as usize;
        assert_eq!(rules[index].id, id);
        assert!(rules[index].help.is_some());
    }
}

#[test]
fn flow_tests_pass_fail_with_a_diff_and_update() {
    let passed = flowc(&["test", "examples"]);
    assert_eq!(passed.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&passed.stdout), stderr(&passed));
    assert!(String::from_utf8_lossy(&passed.stdout).contains(" passed, 0 failed"));
    // A copy of the order-status example with one message changed.
    let dir = std::env::temp_dir().join(format!("flowc-flowtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["order_status.flow", "order_status.flowtest", "order_status.flowtest.golden"] {
        std::fs::copy(format!("examples/{f}"), dir.join(f)).unwrap();
    }
    let flow = std::fs::read_to_string(dir.join("order_status.flow")).unwrap();
    std::fs::write(dir.join("order_status.flow"), flow.replace("is still pending.", "is being prepared.")).unwrap();
    let d = dir.to_str().unwrap();
    let failed = flowc(&["test", d]);
    assert_eq!(failed.status.code(), Some(1));
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(out.contains("FAILED") && out.contains("an unknown order asks again"), "{out}");
    assert!(
        out.contains("- bot: Order CU001 is still pending.") && out.contains("+ bot: Order CU001 is being prepared."),
        "{out}"
    );
    let junit = flowc(&["test", "--format", "junit", d]);
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.starts_with("<?xml") && xml.contains("failures=\"1\"") && xml.contains("<failure"), "{xml}");
    assert_eq!(flowc(&["test", "--update", d]).status.code(), Some(0));
    assert_eq!(flowc(&["test", d]).status.code(), Some(0));
    // A test that names a missing flow or webhook is reported, not a crash.
    std::fs::write(
        dir.join("order_status.flowtest"),
        "[[test]]\nname = \"wrong flow\"\nflow = \"nope\"\n\n[[test]]\nname = \"wrong webhook\"\nwebhooks.nope = { status = 200 }\n",
    )
    .unwrap();
    let wrong = flowc(&["test", d]);
    assert_eq!(wrong.status.code(), Some(1));
    let out = String::from_utf8_lossy(&wrong.stdout);
    assert!(out.contains("nope") && out.contains("has no webhook `nope`"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flow_test_files_are_checked_and_broken_tests_are_not_kept() {
    let dir = std::env::temp_dir().join(format!("flowc-flowtest-strict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("w.flow"), "flow w {\n  wait name\n  send \"Hi @flow.name @contact.fields.x \"\n}\n")
        .unwrap();
    let d = dir.to_str().unwrap();
    let write = |text: &str| std::fs::write(dir.join("w.flowtest"), text).unwrap();
    // More steps than the run takes: an error, and --update keeps no golden file for it.
    write("[[test]]\nname = \"too many\"\nsteps = [\"Ann\", \"extra\"]\n");
    let o = flowc(&["test", "--update", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("has more steps"), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(!dir.join("w.flowtest.golden").exists());
    // Duplicate names, unknown contact keys.
    write("[[test]]\nname = \"x\"\n[[test]]\nname = \"x\"\n");
    assert!(String::from_utf8_lossy(&flowc(&["test", d]).stdout).contains("two tests are named \"x\""));
    write("[[test]]\nname = \"typo\"\ncontact = { nam = \"Ann\" }\nsteps = [\"Ann\"]\n");
    assert!(String::from_utf8_lossy(&flowc(&["test", d]).stdout).contains("`contact` has no key `nam`"));
    // A reply with a line break stays on one line; trailing spaces do not matter.
    write("[[test]]\nname = \"ok\"\nsteps = [\"Ann\\n=== forged\"]\n");
    assert_eq!(flowc(&["test", "--update", d]).status.code(), Some(0));
    let golden = std::fs::read_to_string(dir.join("w.flowtest.golden")).unwrap();
    assert!(golden.contains("you: Ann\\n=== forged") && !golden.lines().any(|l| l.ends_with(' ')), "{golden}");
    std::fs::write(dir.join("w.flowtest.golden"), golden.replace("Hi Ann", "Hi Ann   ")).unwrap();
    assert_eq!(flowc(&["test", d]).status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_a_retention_it_cannot_read_in_one_line() {
    for (value, says) in [("0d", "use never to keep them"), ("30y", "use m, h or d"), ("soon", "is not a duration")] {
        let o = flowc(&["serve", "examples", "--retain", value, "--addr", "127.0.0.1:0"]);
        assert_eq!(o.status.code(), Some(2), "{value}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{value}: {}", stderr(&o));
    }
}

#[test]
fn serve_refuses_an_smtp_relay_it_cannot_use_in_one_line() {
    for (args, says) in [
        (&["--smtp", "smtp://ops:hunter2@127.0.0.1:2525", "--smtp-from", "a@example.com"][..], "FLOWC_SMTP_PASSWORD"),
        (&["--smtp", "smtp://127.0.0.1:2525", "--smtp-from", "a@example.com"][..], "--allow-network 127.0.0.1/32"),
        (&["--smtp", "smtp://127.0.0.1:2525"][..], "--smtp-from"),
    ] {
        let mut all = vec!["serve", "examples", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let o = flowc(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
    }
}

#[test]
fn channels_and_keywords_are_unique_across_the_files_served_together() {
    let dir = std::env::temp_dir().join(format!("flowc-project-channels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |flow: &str, path: &str| {
        format!(
            "channel sms external {{\n  receive \"{path}\"\n  send POST \"https://gw.example.com/send\"\n}}\n\
             trigger keyword \"join\" {{ start {flow} }}\ntrigger catchall channel sms {{ start {flow} }}\n\
             flow {flow} {{\n  send \"Hi\"\n}}\n"
        )
    };
    std::fs::write(dir.join("a.flow"), file("one", "/sms/a")).unwrap();
    std::fs::write(dir.join("b.flow"), file("two", "/sms/b")).unwrap();
    let json = flowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    let diags: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut messages: Vec<&str> = diags.as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    messages.sort_unstable();
    let a = dir.join("a.flow").display().to_string();
    assert_eq!(
        messages,
        [
            format!("a catchall is also taken by a trigger in {a}:6:1"),
            format!("the channel `sms` is also defined in {a}:1:9"),
            format!("the keyword \"join\" is also taken by a trigger in {a}:5:17"),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn argument_errors_are_one_line_and_bare_flowc_shows_the_help() {
    for (args, expected) in [
        (
            &["run", "--inptu", "x"][..],
            "flowc: unexpected argument '--inptu' found (a similar argument exists: '--input')",
        ),
        (&["run"][..], "flowc: the following required arguments were not provided: <FILE>"),
        (
            &["serve", "examples", "--retain", "0"][..],
            "flowc: invalid value '0' for '--retain <DURATION>': `0`: use m, h or d (30d, 12h, 90m), or never",
        ),
    ] {
        let o = flowc(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o).trim_end(), expected, "{args:?}");
    }
    let bare = flowc(&[]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(stderr(&bare).contains("Usage: flowc <COMMAND>"), "{}", stderr(&bare));
    assert_eq!(flowc(&["--help"]).status.code(), Some(0));
}

/// `today()` and `now()` in a run: the contact's zone, else `--timezone`, else UTC.
#[test]
fn run_reads_and_writes_dates_in_the_contacts_zone() {
    let dir = std::env::temp_dir().join(format!("flowc-dates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clock.flow");
    std::fs::write(
        &file,
        "flow clock {\n  send \"@(today()) @(now()) @(format_date(now(), \"ZZZ\"))\"\n  wait when timeout 1h\n  split @flow.when {\n    case has_date_eq today() { send \"today\" }\n    case has_date_lt today() { send \"past\" }\n    other { send \"other\" }\n  }\n}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let today_in = crate::today_in;
    let reply = |zone: &str| {
        let t = today_in(zone);
        format!("{}.{}.{}", &t[8..10], &t[5..7], &t[0..4])
    };
    let kiritimati = today_in("Pacific/Kiritimati");
    let o = flowc(&["run", path, "--timezone", "Pacific/Kiritimati", "--input", &reply("Pacific/Kiritimati")]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.contains(&format!("{kiritimati} {kiritimati}T")) && out.contains("+14:00 +14:00"), "{out}");
    assert!(out.contains("bot: today"), "{out}");
    // The contact's own zone wins over --timezone.
    let honolulu = today_in("Pacific/Honolulu");
    let o = flowc(&[
        "run",
        path,
        "--timezone",
        "Pacific/Kiritimati",
        "--contact",
        r#"{"timezone": "Pacific/Honolulu"}"#,
        "--input",
        &reply("Pacific/Honolulu"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains(&format!("{honolulu} {honolulu}T")) && out.contains("-10:00 -10:00"), "{out}");
    assert!(out.contains("bot: today"), "{out}");
    // Without either: UTC.
    let o = flowc(&["run", path, "--input", "1.1.2000"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains(&format!("{} ", today_in("UTC"))) && out.contains("Z +00:00"), "{out}");
    assert!(out.contains("bot: past"), "{out}");
    // A zone that does not exist: one line, usage exit code.
    let o = flowc(&["run", path, "--timezone", "Mars/Olympus"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("\"Mars/Olympus\" is not a time zone"), "{err}");
    // So is a contact's zone that is not one: not a silent UTC.
    let o = flowc(&["run", path, "--contact", r#"{"timezone": "Mars/Base"}"#]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--contact: `timezone`: \"Mars/Base\" is not a time zone"), "{}", stderr(&o));
    // And in a flow test, where the scenario that sets the clock or a zone says so first.
    std::fs::write(
        dir.join("clock.flowtest"),
        "[[test]]\nname = \"kiritimati\"\nnow = \"2026-03-07T03:00:00Z\"\ncontact = { timezone = \"Pacific/Kiritimati\" }\nsteps = [\"7.3.2026\"]\n\n[[test]]\nname = \"nowhere\"\ncontact = { timezone = \"Mars/Base\" }\n",
    )
    .unwrap();
    let test_file = dir.join("clock.flowtest");
    let o = flowc(&["test", "--update", test_file.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("`contact`: `timezone`: \"Mars/Base\" is not a time zone"), "{out}");
    assert!(out.contains("0 passed, 1 failed, 1 not updated"), "{out}");
    std::fs::write(&test_file, std::fs::read_to_string(&test_file).unwrap().replace("Mars/Base", "UTC")).unwrap();
    let o = flowc(&["test", "--update", test_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let golden = std::fs::read_to_string(dir.join("clock.flowtest.golden")).unwrap();
    assert!(golden.contains("… it is 2026-03-07T17:00:00.000+14:00 (Pacific/Kiritimati)"), "{golden}");
    assert!(golden.contains("bot: today"), "{golden}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// On a flow test's virtual clock a timeout fires when its time is up, even inside a longer wait step.
#[test]
fn a_timeout_fires_at_its_time_on_the_virtual_clock() {
    let dir = std::env::temp_dir().join(format!("flowc-clock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("late.flow"),
        "flow late {\n  wait answer timeout 10m {\n    on timeout { send \"timed out at @(format_date(now(), \"tt:mm\"))\" }\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("late.flowtest"),
        "[[test]]\nname = \"an hour of silence\"\nnow = \"2026-03-06T09:00:00Z\"\nsteps = [{ wait = \"4m\" }, { wait = \"1h\" }]\n",
    )
    .unwrap();
    let o = flowc(&["test", "--update", dir.join("late.flowtest").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let golden = std::fs::read_to_string(dir.join("late.flowtest.golden")).unwrap();
    assert!(golden.contains("bot: timed out at 09:10"), "{golden}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every secret a served file names is checked at start: a missing one is named, and nothing serves
/// (before: the first request that needed it got a 500).
#[test]
fn serve_refuses_to_start_while_a_named_secret_is_not_set() {
    let tmp = crate::serve_process::TempDir::new("secrets");
    let dir = &tmp.0;
    let flow = dir.join("sms.flow");
    std::fs::write(
        &flow,
        "connector inbound api_key header \"X-Api-Key\" env \"FLOWC_TEST_INBOUND_KEY\"\n\
         channel sms external {\n  receive \"/sms/in\" auth inbound\n  send POST \"https://gw.example.com/send\"\n}\n\
         trigger webhook \"/hook\" methods POST auth signature env \"FLOWC_TEST_HOOK_SECRET\" { start hi }\n\
         flow hi {\n  stop\n}\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["serve", flow.to_str().unwrap(), "--addr", "127.0.0.1:0", "--db"])
        .arg(dir.join("flowc.db"))
        .env("FLOWC_TEST_INBOUND_KEY", "set")
        .env_remove("FLOWC_TEST_HOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("not set: FLOWC_TEST_HOOK_SECRET"), "{err}");
    assert!(!err.contains("FLOWC_TEST_INBOUND_KEY"), "only the missing one: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `flowc log` finds `flowc serve`'s database: given as the file, or as `flowc.db` where `flowc run`
/// has written no log; with neither it says where each log is (before: "not UTF-8 text", and a read of
/// a missing webhooks.jsonl).
#[test]
fn flowc_log_finds_the_servers_database() {
    let tmp = crate::serve_process::TempDir::new("log-db");
    let dir = &tmp.0;
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let log = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(args)
            .current_dir(dir)
            .env("XDG_STATE_HOME", &state)
            .output()
            .unwrap()
    };
    let none = log(&["log"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("no webhook log yet") && stderr(&none).contains("--db flowc.db"),
        "{}",
        stderr(&none)
    );
    drop(flowc::serve::store::SqliteStore::open(&dir.join("flowc.db")).unwrap());
    let named = log(&["log", "flowc.db"]);
    assert_eq!(named.status.code(), Some(0), "{}", stderr(&named));
    let found = log(&["log"]);
    assert_eq!(found.status.code(), Some(0), "{}", stderr(&found));
    assert!(stderr(&found).contains("flowc.db"), "{}", stderr(&found));
}
