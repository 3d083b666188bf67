//! The front end's work is linear in its input: adversarial nestings of blocks, strings, brackets and
//! comments, and mutated real files, are checked under a tight parser budget (pest's call limit at a
//! few times what a clean file needs per byte, `FLOWC_PARSER_CALLS_PER_BYTE`), so a shape that made the
//! parser try the same text again per level of nesting would run out of budget and fail the test.
//! Calls are counted, not timed: the result does not depend on the machine.

use std::path::Path;
use std::process::Command;

/// Calls per byte allowed here: a clean file takes under 15 (the generated benchmark file about 10).
const BUDGET: &str = "40";

/// Checks every file of `dir` with `calls` calls per byte; returns the messages of the diagnostics.
fn check_messages(dir: &Path, calls: &str) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "--format", "json"])
        .arg(dir)
        .env("FLOWC_PARSER_CALLS_PER_BYTE", calls)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|d| (d["file"].as_str().unwrap_or("").to_string(), d["message"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn out_of_budget(diags: &[(String, String)]) -> Vec<&String> {
    diags.iter().filter(|(_, m)| m.contains("too complex for the parser")).map(|(f, _)| f).collect()
}

/// One adversarial file: `depth` levels of `shape`.
fn nesting(shape: usize, depth: usize) -> String {
    let pad = |i: usize| "  ".repeat(i + 1);
    let mut s = String::from("flow f {\n");
    for i in 0..depth {
        let p = pad(i);
        match shape {
            // The file: a wait whose timeout block holds an unterminated string, never closed.
            0 => s.push_str(&format!("{p}wait a timeout 1s {{\n{p}  on timeout {{ hin a second\"\n")),
            // Blocks closed, each followed by something that is not the end of the statement.
            1 => s.push_str(&format!("{p}step s{i} {{\n")),
            // Unclosed brackets of every kind inside a statement that does not parse.
            2 => s.push_str(&format!("{p}sned ( [ {{ \"@( x\n")),
            // Splits whose clauses stay open, with comments holding braces and quotes.
            3 => s.push_str(&format!("{p}split @flow.x {{ // }} \" {{\n{p}  case == \"{i}\" {{ send \"@(f(\"\n")),
            // Templates nested in templates, left open.
            4 => s.push_str(&format!("{p}send \"@(upper(\"@(lower(\"\n")),
            // Webhooks with JSON bodies left open.
            5 => s.push_str(&format!(
                "{p}webhook w{i} POST \"https://x.io\" {{\n{p}  body json {{ \"a\": [ {{ \"b\": (\n"
            )),
            // Mismatched closers.
            _ => s.push_str(&format!("{p}set v{i} = ( [ ) ] {{ ) }} (\n")),
        }
    }
    if shape == 1 {
        for i in (0..depth).rev() {
            s.push_str(&format!("{}}} junk {i} ( [\n", pad(i)));
        }
    }
    s.push_str("}\n");
    s
}

#[test]
fn adversarial_nestings_up_to_200_deep_stay_within_a_linear_budget() {
    let tmp = crate::serve_process::TempDir::new("work-nesting");
    let dir = &tmp.0;
    for shape in 0..7 {
        for depth in [1, 2, 5, 10, 20, 50, 99, 100, 101, 150, 200] {
            let src = nesting(shape, depth);
            std::fs::write(dir.join(format!("shape{shape}_depth{depth}.flow")), &src).unwrap();
            // Clean files of the same size pass the same budget.
            std::fs::write(
                dir.join(format!("clean{shape}_depth{depth}.flow")),
                crate::valid_flows(src.len(), &format!("c{shape}_{depth}")),
            )
            .unwrap();
        }
    }
    let diags = check_messages(dir, BUDGET);
    assert_eq!(out_of_budget(&diags), Vec::<&String>::new());
    assert!(diags.iter().all(|(f, _)| !f.contains("clean")), "clean files are clean: {diags:?}");
    // Every adversarial file is reported.
    for shape in 0..7 {
        assert!(diags.iter().any(|(f, _)| f.contains(&format!("shape{shape}_depth200"))), "shape {shape}");
    }
    // The budget is real: with one call a byte the same files run out of it.
    assert!(!out_of_budget(&check_messages(dir, "1")).is_empty());
}

/// Mutations of every example and valid fixture (deleted, doubled and replaced characters, as a writer
/// leaves them while typing), checked under the budget.
#[test]
fn fifteen_hundred_mutated_files_stay_within_a_linear_budget() {
    let mut corpus = Vec::new();
    for d in ["examples", "tests/fixtures/valid"] {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "flow") {
                corpus.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    corpus.sort();
    let tmp = crate::serve_process::TempDir::new("work-mutated");
    let dir = &tmp.0;
    let mut seed: u64 = 0x5eed_f10c;
    let mut next = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    const ALPHABET: &[u8] = b"{}()[]\"@\\;\n ,.:=/";
    for n in 0..1500 {
        let mut bytes = corpus[next() % corpus.len()].clone().into_bytes();
        for _ in 0..1 + next() % 12 {
            if bytes.is_empty() {
                break;
            }
            let at = next() % bytes.len();
            match next() % 4 {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, ALPHABET[next() % ALPHABET.len()]),
                2 => bytes[at] = ALPHABET[next() % ALPHABET.len()],
                // Cut the file short, as it is while being typed.
                _ => bytes.truncate(at),
            }
        }
        std::fs::write(dir.join(format!("m{n}.flow")), bytes).unwrap();
    }
    let diags = check_messages(dir, BUDGET);
    assert_eq!(out_of_budget(&diags), Vec::<&String>::new());
    assert!(diags.len() > 1000, "mutations are found: {}", diags.len());
}

/// `enter` across thousands of flows: a chain of terminal hand-overs passes the last flow's results
/// back to the flow that entered the first, and a ring of flows that enter each other is reported once
/// per flow. (The analysis works each flow and each `enter` once; it was quadratic in the chain before,
/// over a minute for 3,000 flows.)
#[test]
fn long_chains_and_rings_of_enter_are_checked_flow_by_flow() {
    let n = 3000;
    let mut src = String::from("flow top {\n  enter g0\n  send \"@child.x\"\n}\n");
    for i in 0..n {
        src.push_str(&format!("flow g{i} {{\n  wait w{i} timeout 1h\n  enter g{} terminal\n}}\n", i + 1));
    }
    src.push_str(&format!("flow g{n} {{\n  wait x\n}}\n"));
    let (_, diags) = flowc::check_source(&src);
    assert!(diags.iter().all(|d| !d.is_error()), "{:?}", diags.iter().find(|d| d.is_error()));
    let mut ring = String::new();
    for i in 0..n {
        ring.push_str(&format!("flow r{i} {{\n  enter r{}\n}}\n", (i + 1) % n));
    }
    let (_, diags) = flowc::check_source(&ring);
    let cycles = diags.iter().filter(|d| d.code == flowc::diagnostic::Code::EnterCycle).count();
    assert_eq!(cycles, n);
}
