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
        let got = run(test, text, &args, '.').map(|m| m.value);
        let want = (expected.trim() != "-").then(|| expected.trim().to_string());
        if got != want {
            failures.push(format!("line {}: {name}({text:?} {words:?}) gave {got:?}, goflow gives {want:?}", n + 1));
        }
        count += 1;
    }
    assert!(count > 60, "the table was read: {count} vectors");
    assert!(failures.is_empty(), "{} of {count} vectors differ:\n{}", failures.len(), failures.join("\n"));
}
