//! RapidPro conformance: goflow's test vectors for split tests, kept as facts in
//! `tests/conformance/goflow_split_tests.txt`, each run through flowc's split tests.

use flowc::interp::rules::{Arg, run};
use flowc::split_test::{ArgKind, SplitTest};

#[test]
fn goflow_split_test_vectors_pass() {
    let table = include_str!("../conformance/goflow_split_tests.txt");
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in table.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(" | ").collect();
        let [name, text, args, expected] = fields[..] else { panic!("line {}: four fields, got {line:?}", n + 1) };
        let test = SplitTest::parse(name.trim()).unwrap_or_else(|| panic!("line {}: no test {name}", n + 1));
        let words: Vec<&str> = args.split_whitespace().collect();
        let args: Vec<Arg<'_>> = words
            .iter()
            .zip(test.args())
            .map(|(w, kind)| match kind {
                ArgKind::Number => Arg::Number(w.parse().unwrap_or_else(|_| panic!("line {}: {w}", n + 1))),
                _ => Arg::Text(w),
            })
            .collect();
        let got = run(test, text, &args, '.', &flowc::dates::Calendar::default()).map(|m| m.value);
        let want = (expected.trim() != "-").then(|| expected.trim().to_string());
        if got != want {
            failures.push(format!("line {}: {name}({text:?} {words:?}) gave {got:?}, goflow gives {want:?}", n + 1));
        }
        count += 1;
    }
    assert!(count > 60, "the table was read: {count} vectors");
    assert!(failures.is_empty(), "{} of {count} vectors differ:\n{}", failures.len(), failures.join("\n"));
}

/// One line of a facts table: `|`-separated fields, each without the one space either side of its bar
/// (a text's own leading or trailing spaces stay).
fn fields(line: &str) -> Vec<&str> {
    let parts: Vec<&str> = line.split('|').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let p = if i > 0 { p.strip_prefix(' ').unwrap_or(p) } else { p };
            if i < last { p.strip_suffix(' ').unwrap_or(p) } else { p }
        })
        .collect()
}

#[test]
fn goflow_date_vectors_pass() {
    use flowc::dates::{self, Calendar, DateOrder};
    let table = include_str!("../conformance/goflow_dates.txt");
    let (mut section, mut calendar) = (String::new(), Calendar::default());
    let (mut failures, mut count) = (Vec::new(), 0);
    for (n, line) in table.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let words: Vec<&str> = head.split_whitespace().collect();
            section = words[0].to_string();
            // The clocks of goflow's tables: 2018-04-11T13:24:30.123456Z for the split tests,
            // 2018-09-13T13:36:30.123456789Z for the others.
            let now_ms = if section == "test" { 1_523_453_070_123 } else { 1_536_845_790_123 };
            calendar = Calendar {
                order: words.get(1).map_or(DateOrder::DayFirst, |w| DateOrder::parse(w).expect("an order")),
                zone: dates::zone(words.get(2).copied().unwrap_or("UTC")).expect("a zone"),
                now_ms,
            };
            continue;
        }
        let f = fields(line);
        let want = (f[f.len() - 1].trim() != "-").then(|| f[f.len() - 1].trim().to_string());
        let got = match section.as_str() {
            "read" => dates::read(f[0], &calendar).map(|w| w.iso()),
            "has_date" => run(SplitTest::HasDate, f[0], &[], '.', &calendar).map(|m| m.value),
            "has_time" => run(SplitTest::HasTime, f[0], &[], '.', &calendar).map(|m| m.value),
            "test" => {
                let test = SplitTest::parse(f[0]).expect("a test");
                let arg = dates::read(f[2], &calendar).map(|w| w.date());
                let args: Vec<Arg<'_>> = arg.map(Arg::Date).into_iter().collect();
                run(test, f[1], &args, '.', &calendar).map(|m| m.value)
            }
            "datetime_add" => dates::read(f[0], &calendar)
                .and_then(|w| dates::add(&w, f[1].parse().ok()?, f[2], &calendar.zone).ok())
                .map(|w| w.iso()),
            "format_date" => dates::read(f[0], &calendar).and_then(|w| {
                let zone = dates::zone(f[2]).ok()?;
                dates::format(&w, f[1], &calendar.zone, &zone).ok()
            }),
            other => panic!("line {}: unknown section {other}", n + 1),
        };
        if got != want {
            failures.push(format!("line {}: [{section}] {line:?} gave {got:?}", n + 1));
        }
        count += 1;
    }
    assert!(count > 120, "the table was read: {count} vectors");
    assert!(failures.is_empty(), "{} of {count} vectors differ:\n{}", failures.len(), failures.join("\n"));
}
