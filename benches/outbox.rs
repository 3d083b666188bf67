//! The outbox's delivery rate: messages a second that `flowc serve` hands to a gateway that answers in
//! 1 ms and in 60 ms (docs/channels.md gives the figures).
//!
//!     cargo bench --bench outbox [-- MESSAGES [CONCURRENCY]]
//!     FLOWC_BENCH_POSTGRES=postgres://... cargo bench --bench outbox   # on an empty PostgreSQL database
//!
//! Each round fills a fresh store with MESSAGES outgoing messages (default 5,000), one per
//! contact, starts a server on it with a fake gateway on 127.0.0.1, and times until the gateway has
//! taken them all and the store has recorded every delivery. Not criterion: one round is seconds long
//! and its figure is a rate, not a distribution.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowc::interp::RunStatus;
use flowc::serve::store::{Direction, MessageRow, MessageStatus, PostgresStore, SqliteStore, StepRecord, Store};
use flowc::serve::{Config, Served, Server};

const SOURCE: &str = r#"
channel sms external {
  receive "/sms/in"
  send POST "https://gateway.example.com/send"
}
flow idle {
  send "never started"
}
"#;

/// A gateway on 127.0.0.1 that answers every POST 200 after `latency`, on a thread per connection
/// (keep-alive, as a real gateway's).
struct Gateway {
    port: u16,
    taken: Arc<AtomicUsize>,
}

impl Gateway {
    fn start(latency: Duration) -> Gateway {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let taken = Arc::new(AtomicUsize::new(0));
        let count = taken.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    loop {
                        let mut length = 0usize;
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':')
                                && k.eq_ignore_ascii_case("content-length")
                            {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        std::thread::sleep(latency);
                        count.fetch_add(1, Ordering::Relaxed);
                        let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                        if writer.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Gateway { port, taken }
    }
}

/// Fills `store` with `n` pending messages, one per contact.
fn fill(store: &dyn Store, n: usize) {
    // Ids unique across rounds on one PostgreSQL database.
    let round = flowc::time::now_millis();
    let step = |i: usize| StepRecord {
        run_id: format!("run-{round}-{i}"),
        contact_id: format!("tel:+1555{i:07}"),
        flow: "idle".into(),
        status: RunStatus::Completed,
        deadline_ms: None,
        state: None,
        events: None,
        results: None,
        version: None,
        contact: None,
        messages: vec![MessageRow {
            id: format!("msg-{round}-{i:07}"),
            urn: format!("tel:+1555{i:07}"),
            channel: "sms".into(),
            direction: Direction::Out,
            text: format!("Message {i}"),
            quick_replies: Vec::new(),
            run_id: Some(format!("run-{round}-{i}")),
            flow: Some("idle".into()),
            status: MessageStatus::Pending,
        }],
    };
    let steps: Vec<StepRecord> = (0..n).map(step).collect();
    for chunk in steps.chunks(1000) {
        store.save_batch(chunk, &[]).expect("fill the store");
    }
}

/// Messages a second through a gateway with `latency`.
fn round(latency: Duration, n: usize, concurrency: usize, postgres: Option<&str>) -> f64 {
    let dir = std::env::temp_dir().join(format!("flowc-outbox-bench-{}-{}", std::process::id(), latency.as_millis()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("flowc.db");
    let open = || -> Box<dyn Store> {
        match postgres {
            Some(url) => Box::new(PostgresStore::connect(url).expect("connect to FLOWC_BENCH_POSTGRES")),
            None => Box::new(SqliteStore::open(&db).unwrap()),
        }
    };
    assert_eq!(open().outbox_count().unwrap(), 0, "the database's outbox is empty");
    fill(open().as_ref(), n);
    let gateway = Gateway::start(latency);
    let config = Config {
        network: flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]),
        routes: vec![("https://gateway.example.com".into(), format!("http://127.0.0.1:{}", gateway.port))],
        outbox_concurrency: concurrency,
        ..Config::default()
    };
    let program = flowc::compile_source(SOURCE).expect("the bench's flow compiles").0;
    let began = Instant::now();
    let server =
        Server::start("127.0.0.1:0", vec![Served::from_source("outbox.flow", SOURCE, program)], open(), config)
            .expect("the server starts");
    let reader = open();
    let stalled = Mutex::new((0usize, Instant::now()));
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let taken = gateway.taken.load(Ordering::Relaxed);
        if taken >= n && reader.outbox_count().unwrap() == 0 {
            break;
        }
        let mut last = stalled.lock().unwrap();
        if taken != last.0 {
            *last = (taken, Instant::now());
        }
        assert!(last.1.elapsed() < Duration::from_secs(30), "stalled at {taken} of {n} messages");
    }
    let rate = n as f64 / began.elapsed().as_secs_f64();
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    rate
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = numbers.first().copied().unwrap_or(5_000);
    let concurrency = numbers.get(1).copied().unwrap_or(flowc::serve::DEFAULT_OUTBOX_CONCURRENCY);
    let postgres = std::env::var("FLOWC_BENCH_POSTGRES").ok();
    let store = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("outbox: {n} messages, one per contact, concurrency {concurrency} per channel, {store}");
    for latency in [1, 60] {
        let rate = round(Duration::from_millis(latency), n, concurrency, postgres.as_deref());
        println!("  gateway answering in {latency:>2} ms: {rate:>7.0} messages/s");
    }
}
