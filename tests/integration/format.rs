//! `flowc fmt`: the layout is stable (formatting twice changes nothing), keeps the meaning (the same
//! diagnostic codes) and every comment, on every fixture and example, on generated flows, and looks as
//! the snapshots show on tricky input.

use proptest::prelude::*;

fn codes(src: &str) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = flowc::check_source(src).1.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    codes
}

fn comment_texts(src: &str) -> Vec<String> {
    let mut texts: Vec<String> =
        flowc::syntax::comments(src).iter().map(|c| src[c.start..c.end].trim_end().to_string()).collect();
    texts.sort();
    texts
}

/// The properties every formattable file has; `Err` says which one fails.
fn holds(name: &str, src: &str) -> Result<(), String> {
    let Ok(once) = flowc::fmt::format(src) else { return Ok(()) };
    let twice = flowc::fmt::format(&once).map_err(|_| format!("{name}: the formatted text does not parse:\n{once}"))?;
    if once != twice {
        return Err(format!("{name}: formatting twice changes it:\n--- once\n{once}\n--- twice\n{twice}"));
    }
    if codes(src) != codes(&once) {
        return Err(format!("{name}: diagnostics change: {:?} then {:?}\n{once}", codes(src), codes(&once)));
    }
    if comment_texts(src) != comment_texts(&once) {
        return Err(format!("{name}: comments change: {:?} then {:?}", comment_texts(src), comment_texts(&once)));
    }
    Ok(())
}

fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures/check", "tests/fixtures/valid", "tests/fixtures/fmt", "examples"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "flow") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

#[test]
fn every_fixture_and_example_formats_stably_with_the_same_meaning_and_comments() {
    let failures: Vec<String> = corpus().iter().filter_map(|(name, src)| holds(name, src).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn examples_are_formatted() {
    for (name, src) in corpus().into_iter().filter(|(n, _)| n.contains("examples")) {
        assert_eq!(flowc::fmt::format(&src).unwrap(), src, "{name} is not in the canonical layout");
    }
}

#[test]
fn files_with_syntax_errors_are_refused() {
    let err = flowc::fmt::format("flow f {\n  sned \"x\"\n}\n").unwrap_err();
    let flowc::fmt::FmtError::Syntax(diags) = err;
    assert!(diags.iter().any(|d| d.code.as_str() == "flowc::syntax::unexpected"));
}

#[test]
fn tricky_input_is_laid_out_canonically() {
    insta::glob!("../fixtures/fmt", "*.flow", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(flowc::fmt::format(&src).unwrap());
    });
}

/// A valid flow from a seed: statements of every kind, blocks, JSON bodies, `;`-joined lines, blank
/// lines, comments on their own lines and at line ends.
fn generated(seed: u64) -> String {
    let mut state = seed | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut out = String::new();
    if next(2) == 0 {
        out.push_str("// header comment\n");
    }
    out.push_str("connector c bearer env \"TOKEN\"\nflow g {\n");
    let mut vars: Vec<String> = Vec::new();
    for i in 0..1 + next(10) {
        let pad = " ".repeat(next(5) as usize);
        let comment = if next(4) == 0 { format!("  // note {i}") } else { String::new() };
        if next(5) == 0 {
            out.push('\n');
        }
        if next(6) == 0 {
            out.push_str(&format!("{pad}// own line {i}\n"));
        }
        let var = vars.get(next(vars.len() as u64 + 1) as usize).cloned();
        let read = var.as_ref().map_or("@contact.name".to_string(), |v| format!("@flow.{v}"));
        let stmt = match next(9) {
            0 => format!("send \"Hello {read} number {i}\""),
            1 => {
                vars.push(format!("v{i}"));
                format!(
                    "set v{i} = {} {} {i}",
                    if next(2) == 0 { "1" } else { "(2+3)" },
                    ["+", "*", "-"][next(3) as usize]
                )
            }
            2 => {
                vars.push(format!("w{i}"));
                format!("wait w{i} timeout {}m", 1 + next(9))
            }
            3 => format!(
                "split {read} {{\n  case has_text {{ send \"t{i}\" }}\n  case == \"x\" as X {{\n send \"x\" ; stop }}\n other {{ send \"o\" }}\n}}"
            ),
            4 => {
                vars.push(format!("h{i}"));
                format!(
                    "webhook h{i} POST \"https://api.example.com/x/{read}\" {{\n auth c\n body json {{ \"a\": {read}, \"b\": [1, 2, {{ \"c\": true }}] }}\n on failure {{ stop }}\n}}"
                )
            }
            5 => format!("step s{i} {{\n send \"in step\"\n}}"),
            6 => "send \"a\"; send \"b\"".to_string(),
            7 => format!("email \"ops@example.com\" subject \"S {i}\" body \"B {read}\""),
            _ => format!("send \"@(upper({read}) & \"!\")\""),
        };
        for (j, line) in stmt.lines().enumerate() {
            out.push_str(&pad);
            out.push_str(line);
            if j == 0 {
                out.push_str(&comment);
            }
            out.push('\n');
        }
    }
    out.push_str("}\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_flows_format_stably_with_the_same_meaning_and_comments(seed in any::<u64>()) {
        let src = generated(seed);
        prop_assert!(flowc::fmt::format(&src).is_ok(), "the generator writes valid flows:\n{src}");
        if let Err(e) = holds("generated", &src) {
            prop_assert!(false, "{}\n--- source\n{}", e, src);
        }
    }
}
