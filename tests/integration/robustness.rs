//! No input makes flowc panic, overflow its stack or hang: nesting limits, generated and mutated input.

use proptest::prelude::*;

fn codes(src: &str) -> Vec<&'static str> {
    flowc::check_source(src).1.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn nesting_at_the_limit_is_fine_and_past_it_is_an_error() {
    let ok = format!("flow f {{\n  set x = {}1{}\n  send \"@flow.x\"\n}}\n", "(".repeat(99), ")".repeat(99));
    assert_eq!(codes(&ok), Vec::<&str>::new());
    for depth in [101, 1_000, 100_000] {
        let deep =
            format!("flow f {{\n  set x = {}1{}\n  send \"@flow.x\"\n}}\n", "(".repeat(depth), ")".repeat(depth));
        assert!(codes(&deep).contains(&"flowc::syntax::too_deep"), "depth {depth}");
    }
}

#[test]
fn deep_blocks_json_and_templates_are_limited() {
    let blocks = format!("flow f {{\n{}stop\n{}}}\n", "step s {\n".repeat(150), "}\n".repeat(150));
    assert!(codes(&blocks).contains(&"flowc::syntax::too_deep"));
    let json = format!(
        "flow f {{\n  webhook w POST \"https://x.io\" {{\n    body json {}1{}\n    on failure {{ stop }}\n  }}\n}}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(codes(&json).contains(&"flowc::syntax::too_deep"));
    let mut tpl = String::from("1");
    for _ in 0..120 {
        tpl = format!("\"@({tpl})\"");
    }
    let src = format!("flow f {{\n  send {tpl}\n}}\n");
    assert!(codes(&src).contains(&"flowc::syntax::too_deep"));
}

#[test]
fn long_flat_expressions_and_prefix_chains_are_limited() {
    let long = format!("flow f {{\n  set x = 1{}\n  send \"@flow.x\"\n}}\n", " + 1".repeat(5_000));
    assert!(codes(&long).contains(&"flowc::syntax::too_deep"));
    let prefixes = format!("flow f {{\n  set x = {}1\n  send \"@flow.x\"\n}}\n", "-".repeat(50_000));
    assert!(codes(&prefixes).contains(&"flowc::syntax::too_deep"));
    let fields = format!("flow f {{\n  wait a\n  send \"@(@flow.a{})\"\n}}\n", ".b".repeat(5_000));
    assert!(!codes(&fields).is_empty());
}

#[test]
fn many_broken_items_are_each_reported() {
    let src =
        "flow a {\n  sned \"x\"\n}\nflow b {\n  wait x timeout 10\n  send \"@flow.x\"\n}\nflow c {\n  stop stop\n}\n";
    let c = codes(src);
    assert_eq!(c.iter().filter(|c| **c == "flowc::syntax::unexpected").count(), 2, "{c:?}");
    assert!(c.contains(&"flowc::syntax::duration_unit"), "{c:?}");
}

const CORPUS: &[&str] = &[
    include_str!("../../examples/order_status.flow"),
    "flow f {\n  wait a timeout 1m { on timeout { stop } }\n  split @flow.a { case has_number_between -1 2.5 as N { goto s } other { } }\n  step s { send \"@(upper(@flow.a) & \"x\")\" }\n}\n",
    "trigger webhook \"/x\" methods POST auth k { expect body { a: [ { b: number } ] }; start f }\nconnector k api_key header \"X-K\" env \"K\"\nflow f { respond 200 { body json { \"a\": @trigger.body.a[0].b } } }\n",
];

fn mutate(src: &str, ops: &[(usize, u8, u8)]) -> String {
    let mut bytes = src.as_bytes().to_vec();
    const ALPHABET: &[u8] = b"{}()[]\"@\\;\n ,.:=!<>&|+-*/0123456789aeflowsxyz_#";
    for &(pos, op, ch) in ops {
        if bytes.is_empty() {
            bytes.push(b'x');
        }
        let pos = pos % bytes.len();
        let ch = ALPHABET[ch as usize % ALPHABET.len()];
        match op % 3 {
            0 => bytes[pos] = ch,
            1 => bytes.insert(pos, ch),
            _ => {
                bytes.remove(pos);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_flows_never_panic(which in 0..CORPUS.len(), ops in proptest::collection::vec((0usize..4096, 0u8..3, 0u8..64), 1..8)) {
        let src = mutate(CORPUS[which], &ops);
        let (_, diags) = flowc::check_source(&src);
        for d in &diags {
            let span = d.span();
            prop_assert!(span.start <= span.end && span.end <= src.len(), "span {span:?} outside {} bytes", src.len());
            let _ = d.render("m.flow", &src, false);
        }
        if diags.iter().all(|d| !d.is_error()) {
            let _ = flowc::compile_source(&src);
        }
    }

    /// Whatever a contact writes, reading a date or a time, adding to it and formatting it never panic,
    /// and what is read is written back in ISO 8601 that reads as the same value.
    #[test]
    fn dates_read_from_any_reply_never_panic(
        text in "([0-9]{1,5}|[-./\\\\_: T+Z]|am|pm|PM|[a-z]{1,3}|\\PC){0,24}",
        n in -100_000i64..100_000,
        unit in "[smhDWMYx]",
        format in "[YMDhtmsfaAZ :/.,T_-]{0,12}",
    ) {
        for order in flowc::dates::DateOrder::ALL {
            let calendar = flowc::dates::Calendar { order, zone: flowc::dates::zone("America/New_York").unwrap(), now_ms: 1_780_000_000_000 };
            let _ = flowc::dates::find_time(&text);
            if let Some(when) = flowc::dates::read(&text, &calendar) {
                let again = flowc::dates::read(&when.iso(), &calendar);
                prop_assert_eq!(again.as_ref().map(|w| w.iso()), Some(when.iso()));
                if let Ok(later) = flowc::dates::add(&when, n, &unit, &calendar.zone) {
                    let _ = later.iso();
                }
                let _ = flowc::dates::format(&when, &format, &calendar.zone, &calendar.zone);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in "(flow|step|split|case|wait|send|\\{|\\}|\\(|\\)|\"|@|@\\(|[a-z_]{1,6}|[0-9]{1,3}|[ \\n;,=<>!&|+*/.:-]){0,60}") {
        let (_, diags) = flowc::check_source(&src);
        for d in &diags {
            prop_assert!(d.span().end <= src.len());
        }
    }
}

/// Large files are parsed and checked on several threads; the result must be the same as for the items
/// one by one, in source order.
#[test]
fn large_files_give_the_same_diagnostics_as_their_parts() {
    let item = |i: usize| {
        format!(
            "flow f{i} {{\n  wait a{i} timeout 1m {{ on timeout {{ send \"t\" }} }}\n  send \"@flow.a{i} @flow.b{i}\"\n  goto nowhere{i}\n}}\n\n{}",
            if i.is_multiple_of(7) { "flow broken {\n  sned \"x\"\n}\n\n" } else { "" }
        )
    };
    let parts: Vec<String> = (0..2_000).map(item).collect();
    let big = parts.concat();
    assert!(big.len() > 128 * 1024, "big enough to be split: {} bytes", big.len());
    let (file, diags) = flowc::check_source(&big);
    // The broken flows parse too, each with an error node where `sned` stands.
    assert_eq!(file.flows.len(), 2_000 + (0..2_000).filter(|i| i % 7 == 0).count());
    let mut expected = Vec::new();
    let mut offset = 0;
    for part in &parts {
        for d in flowc::check_source(part).1 {
            expected.push((d.code, d.span().start + offset, d.message));
        }
        offset += part.len();
    }
    let got: Vec<_> = diags.into_iter().map(|d| (d.code, d.span().start, d.message)).collect();
    // The duplicate `broken` flows are the only file-level findings the parts cannot see.
    let got: Vec<_> = got.into_iter().filter(|(c, ..)| *c != flowc::diagnostic::Code::DuplicateName).collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
}

/// The binary on 1,500 mutated files at once, bytes that are not UTF-8 included: no panic, and only
/// exit 0 or 1 (diagnostics), never 2 (an I/O or internal error).
#[test]
fn check_survives_1500_mutated_files_including_invalid_utf8() {
    let mut seeds: Vec<Vec<u8>> = CORPUS.iter().map(|s| s.as_bytes().to_vec()).collect();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            seeds.push(std::fs::read(path).unwrap());
        }
    }
    let dir = std::env::temp_dir().join(format!("flowc-mutated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // xorshift: the same files on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const BYTES: &[u8] = b"{}()[]\"@\\;\n ,.:=!<>&|+-*/09aeflowsxyz_#\r\t";
    let mut invalid = 0;
    for i in 0..1_500 {
        let mut bytes = seeds[i % seeds.len()].clone();
        for _ in 0..1 + next() % 6 {
            let pos = (next() as usize) % (bytes.len() + 1);
            // One mutation in four puts in a byte from 0x80 to 0xFF (often not UTF-8 where it lands).
            let byte = if next() % 4 == 0 { 0x80 | (next() as u8) } else { BYTES[(next() as usize) % BYTES.len()] };
            match next() % 3 {
                0 if pos < bytes.len() => bytes[pos] = byte,
                1 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos, byte),
            }
        }
        invalid += usize::from(std::str::from_utf8(&bytes).is_err());
        std::fs::write(dir.join(format!("m{i:04}.flow")), &bytes).unwrap();
    }
    assert!(invalid > 100, "enough files are not UTF-8: {invalid}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["check", "--format", "json", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    assert!(matches!(o.status.code(), Some(0 | 1)), "exit {:?}: {err}", o.status.code());
    let diags: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let utf8 = diags.as_array().unwrap().iter().filter(|d| d["code"] == "flowc::syntax::invalid_utf8").count();
    assert_eq!(utf8, invalid, "one invalid_utf8 diagnostic per file that is not UTF-8");
    std::fs::remove_dir_all(&dir).unwrap();
}
