//! Criterion benchmarks, one group per stage: parse+check and compile, over the bundled examples and a
//! generated ~1 MB file. Run with `cargo bench --bench stages`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A realistic flow, repeated with fresh names until the file is about `target` bytes.
fn generated(target: usize) -> String {
    let mut out = String::from("connector orders bearer env \"ORDERS_TOKEN\"\n\n");
    let mut i = 0;
    while out.len() < target {
        out.push_str(&format!(
            r#"// flow number {i}
flow order_status_{i} "Order Status Checker {i}" {{
  step ask {{
    send "Hi @contact.name! What is your order number?"
    wait lookup_response timeout 10m {{
      on timeout {{ send "No answer, goodbye."; stop }}
    }}
  }}
  webhook lookup_webhook POST "https://orders.example.com/lookup/@(url_encode(@flow.lookup_response))" {{
    auth orders
    header "X-Order" = @flow.lookup_response
    body json {{ "order": @flow.lookup_response, "contact": @contact.name, "n": {i} }}
    timeout 5s
    retries 3
    expect json {{ status: text, number: text, ship_date?: text, delivery_date?: text }}
    on failure {{
      email "ops@example.com" subject "Order lookup failed" body "Order @flow.lookup_response: @webhook.lookup_webhook.error"
      send "Sorry, we cannot look orders up right now."
      stop
    }}
  }}
  split state = @extra.status {{
    case has_all_words "shipped" as Shipped {{
      send "Order @extra.number shipped on @extra.ship_date and arrives @extra.delivery_date."
    }}
    case has_any_word "pending processing" as Pending {{ send "Order @extra.number is still pending." }}
    case has_number_between 0 {i} as Numbered {{ set total = number(@flow.lookup_response) * 2 + 1; send "@flow.total" }}
    other {{
      send "I could not find order @flow.lookup_response (@flow.state.category). Please send it again."
      goto ask
    }}
  }}
}}

"#
        ));
        i += 1;
    }
    out
}

fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("examples").expect("run from the crate root") {
        let path = entry.expect("readable examples").path();
        if path.extension().is_some_and(|e| e == "flow") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).expect("readable example")));
        }
    }
    out.sort();
    out
}

fn parse_check(c: &mut Criterion) {
    let big = generated(1 << 20);
    assert!(flowc::check_source(&big).1.iter().all(|d| !d.is_error()), "the generated file is valid");
    let mut group = c.benchmark_group("parse_check");
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.sample_size(20);
    group.bench_function("generated_1mb", |b| b.iter(|| flowc::check_source(black_box(&big))));
    group.bench_function("parse_only_1mb", |b| b.iter(|| flowc::syntax::parse(black_box(&big))));
    group.bench_function("pest_only_1mb", |b| b.iter(|| flowc::syntax::pest_only(black_box(&big))));
    // What an editor re-checks on a keystroke: one 100 KiB file, in process.
    let medium = generated(100 * 1024);
    group.throughput(Throughput::Bytes(medium.len() as u64));
    group.bench_function("generated_100k", |b| b.iter(|| flowc::check_source(black_box(&medium))));
    group.bench_function("analyze_100k", |b| b.iter(|| flowc::analyze(black_box(&medium))));
    for (name, src) in examples() {
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_function(format!("example_{name}"), |b| b.iter(|| flowc::check_source(black_box(&src))));
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let big = generated(1 << 20);
    let (file, _) = flowc::check_source(&big);
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.sample_size(20);
    group.bench_function("generated_1mb", |b| b.iter(|| flowc::compile::compile(black_box(&file))));
    group.finish();
}

/// What `flowc check` does for one file: parse, check and render every diagnostic. A file with thousands
/// of warnings must cost at most about twice the same file without them (rendering uses one line index).
fn report(c: &mut Criterion) {
    let clean = generated(1 << 20);
    // Two unread results per flow: a warning each, ~1,500 in all.
    let noisy = clean.replace("  step ask {", "  set unused_note = 1\n  set unused_tag = 2\n  step ask {");
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    for (name, src) in [("without_warnings_1mb", &clean), ("with_warnings_1mb", &noisy)] {
        let count = flowc::check_source(src).1.len();
        eprintln!("report/{name}: {count} diagnostics");
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let (_, diags) = flowc::check_source(black_box(src));
                let index = flowc::span::LineIndex::new(src);
                diags.iter().map(|d| d.render_indexed("big.flow", src, &index, false).len()).sum::<usize>()
            })
        });
    }
    group.finish();
}

/// What the language server does on a keystroke in a 100 KiB file: apply the change, then parse, check
/// and model the whole document. The figure in docs/performance.md.
fn keystroke(c: &mut Criterion) {
    use lsp_types::{Position, Range, TextDocumentContentChangeEvent};
    let text = generated(100 * 1024);
    let mut doc = flowc::lsp::Document::new(text, 1);
    let at = Position::new(10, 4);
    let insert =
        TextDocumentContentChangeEvent { range: Some(Range::new(at, at)), range_length: None, text: "x".into() };
    let remove = TextDocumentContentChangeEvent {
        range: Some(Range::new(at, Position::new(10, 5))),
        range_length: None,
        text: String::new(),
    };
    let mut group = c.benchmark_group("lsp");
    group.sample_size(30);
    let mut version = 1;
    group.bench_function("keystroke_100k", |b| {
        b.iter(|| {
            version += 1;
            let change = if version % 2 == 0 { &insert } else { &remove };
            doc.apply(std::slice::from_ref(change), version);
            black_box(doc.analysis.diagnostics.len())
        })
    });
    group.finish();
}

criterion_group!(benches, parse_check, compile, report, keystroke);
criterion_main!(benches);
