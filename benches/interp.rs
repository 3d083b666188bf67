//! Interpreter benchmarks: statements per second without I/O, template rendering, each split test, and
//! a webhook round trip to a loopback server next to a bare `ureq` call (flowc's overhead per call).
//! Run with `cargo bench --bench interp`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowc::http::HttpClient;
use flowc::interp::rules::{self, Arg};
use flowc::interp::{self, Offline, RunOptions};
use flowc::program::{Instr, TplPart};
use flowc::split_test::SplitTest;
use serde_json::json;

fn program(src: &str) -> flowc::program::Program {
    flowc::compile_source(src).expect("benchmark flows are valid").0
}

fn statements(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut src = String::from("flow long {\n");
    for i in 0..N {
        src.push_str(&format!("  set v{} = {}\n", i % 50, i));
    }
    src.push_str("  send \"@flow.v1\"\n}\n");
    let p = program(&src);
    let env = |_: &str| None;
    let options = RunOptions { client: &Offline, env: &env, max_steps: u64::MAX, log: None, zone: None, now_ms: None };
    let mut group = c.benchmark_group("interpret");
    group.throughput(Throughput::Elements(N as u64 + 1));
    group.bench_function("set_statements", |b| {
        b.iter(|| interp::start(black_box(&p), None, "r", json!({}), None, &options).unwrap())
    });
    // A counting loop: set, split with a comparison, goto.
    let looping = program(
        "flow count {\n  set n = 0\n  step again {\n    set n = @flow.n + 1\n    split @flow.n {\n      case < 10000 { goto again }\n    }\n  }\n}\n",
    );
    group.throughput(Throughput::Elements(3 * 10_000));
    group.bench_function("loop_set_split_goto", |b| {
        b.iter(|| interp::start(black_box(&looping), None, "r", json!({}), None, &options).unwrap())
    });
    group.finish();
}

fn templates(c: &mut Criterion) {
    let p = program(
        r#"flow t {
  set carrier = "DHL"
  send "Hi @contact.name, order @flow.carrier is @contact.phone at @contact.fields.city (@contact.email)."
}
"#,
    );
    let env = |_: &str| None;
    let options = RunOptions { client: &Offline, env: &env, max_steps: 100, log: None, zone: None, now_ms: None };
    let contact = json!({"name": "Ben Haggerty", "phone": "+250788123123", "email": "ben@example.com", "fields": {"city": "Kigali"}});
    let mut state = interp::start(&p, None, "r", contact, None, &options).unwrap().state;
    let Some(Instr::Send { text, .. }) = p.flows[0].code.iter().find(|i| matches!(i, Instr::Send { .. })) else {
        unreachable!("the flow sends")
    };
    assert_eq!(text.0.iter().filter(|p| matches!(p, TplPart::Value(_))).count(), 5);
    let mut group = c.benchmark_group("template");
    group.bench_function("five_references", |b| b.iter(|| interp::render(&p, black_box(&mut state), text).unwrap()));
    group.finish();
}

fn split_tests(c: &mut Criterion) {
    let text = "Hello, my order CU-1234 was shipped on 12/03/2026 at 10:30 and I paid $1,234.50; call me at +250 788 123 123 or joe@example.com";
    let re = regex::RegexBuilder::new(r"order (\w+)-(\d+)").case_insensitive(true).multi_line(true).build().unwrap();
    let cases: Vec<(&str, SplitTest, Vec<Arg<'_>>)> = vec![
        ("has_text", SplitTest::HasText, vec![]),
        ("has_any_word", SplitTest::HasAnyWord, vec![Arg::Text("cancelled shipped")]),
        ("has_all_words", SplitTest::HasAllWords, vec![Arg::Text("order shipped")]),
        ("has_phrase", SplitTest::HasPhrase, vec![Arg::Text("was shipped")]),
        ("has_only_phrase", SplitTest::HasOnlyPhrase, vec![Arg::Text("hello")]),
        ("has_beginning", SplitTest::HasBeginning, vec![Arg::Text("hello, my")]),
        ("has_pattern", SplitTest::HasPattern, vec![Arg::Regex(&re)]),
        ("has_email", SplitTest::HasEmail, vec![]),
        ("has_phone", SplitTest::HasPhone, vec![Arg::Text("RW")]),
        ("has_number", SplitTest::HasNumber, vec![]),
        ("has_number_between", SplitTest::HasNumberBetween, vec![Arg::Number(1000.0), Arg::Number(2000.0)]),
        ("has_date", SplitTest::HasDate, vec![]),
        ("has_time", SplitTest::HasTime, vec![]),
    ];
    let calendar = flowc::dates::Calendar::default();
    let mut group = c.benchmark_group("split_test");
    for (name, test, args) in &cases {
        assert!(
            rules::run(*test, text, args, '.', &calendar).is_some() || *test == SplitTest::HasOnlyPhrase,
            "{name} matches"
        );
        group.bench_function(*name, |b| b.iter(|| rules::run(*test, black_box(text), args, '.', &calendar)));
    }
    group.finish();
}

fn webhook_round_trip(c: &mut Criterion) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
    let port = server.server_addr().to_ip().expect("ip").port();
    let s = server.clone();
    let thread = std::thread::spawn(move || {
        for request in s.incoming_requests() {
            let mut response = tiny_http::Response::from_string(r#"{"status":"Shipped","number":"CU001"}"#);
            response.add_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
            let _ = request.respond(response);
        }
    });
    let url = format!("http://127.0.0.1:{port}/lookup");
    // The same agent settings flowc uses, so the comparison isolates flowc's own work.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_millis(flowc::compile::DEFAULT_TIMEOUT_MS)))
        .build()
        .into();
    let p = program(&format!(
        "flow w {{\n  webhook lookup GET \"{url}\" {{ on failure {{ stop }} }}\n  send \"@extra.status\"\n}}\n"
    ));
    let client = HttpClient::default();
    let env = |_: &str| None;
    let options = RunOptions { client: &client, env: &env, max_steps: 100, log: None, zone: None, now_ms: None };
    // Loopback timings drift between runs on a shared machine, so the overhead is also measured with
    // the two calls interleaved, comparing medians.
    let bare = || {
        let mut r = agent.get(&url).call().unwrap();
        let body: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        black_box(body);
    };
    let step = || {
        black_box(interp::start(&p, None, "r", json!({}), None, &options).unwrap());
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..4000 {
        let t = std::time::Instant::now();
        if i % 2 == 0 {
            bare()
        } else {
            step()
        }
        let d = t.elapsed().as_nanos() as f64;
        if i % 2 == 0 { a.push(d) } else { b.push(d) }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ma, mb) = (median(&mut a), median(&mut b));
    println!(
        "webhook/interleaved: bare ureq {:.1} µs, flowc step {:.1} µs, overhead {:.1} µs ({:+.1}%)",
        ma / 1000.0,
        mb / 1000.0,
        (mb - ma) / 1000.0,
        (mb - ma) / ma * 100.0
    );
    let mut group = c.benchmark_group("webhook");
    group.sample_size(50);
    group.bench_function("bare_ureq", |b| {
        b.iter(|| {
            let mut r = agent.get(&url).call().unwrap();
            let body: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            black_box(body)
        })
    });
    group.bench_function("flowc_webhook_step", |b| {
        b.iter(|| interp::start(black_box(&p), None, "r", json!({}), None, &options).unwrap())
    });
    group.finish();
    server.unblock();
    let _ = thread.join();
}

/// The whole order-status flow (examples/order_status.flow), engine only: start, send, wait, the reply,
/// the lookup webhook answered by a mock, the split and its message. Compared in docs/performance.md with
/// rapidpro-flows' ~280 runs/s for this kind of flow.
fn whole_flow(c: &mut Criterion) {
    let p = program(include_str!("../examples/order_status.flow"));
    let answer: interp::MockAnswers =
        interp::MockAnswers::parse(include_str!("../examples/mocks/order_found.json")).expect("a valid mock");
    let env = |_: &str| Some("token".to_string());
    let contact = json!({"name": "Ben Haggerty", "phone": "+250788123123"});
    let mut group = c.benchmark_group("whole_flow");
    group.throughput(Throughput::Elements(1));
    group.bench_function("order_status_run", |b| {
        b.iter(|| {
            let client = interp::Mocked::new([("lookup_webhook".to_string(), answer.clone())].into(), &Offline);
            let options =
                RunOptions { client: &client, env: &env, max_steps: 10_000, log: None, zone: None, now_ms: None };
            let started = interp::start(black_box(&p), None, "r", contact.clone(), None, &options).unwrap();
            let done = interp::resume(&p, started.state, interp::Resume::Reply("CU001".into()), &options).unwrap();
            assert_eq!(done.state.status, interp::RunStatus::Completed);
            done
        })
    });
    group.finish();
}

criterion_group!(benches, statements, templates, split_tests, webhook_round_trip, whole_flow);
criterion_main!(benches);
