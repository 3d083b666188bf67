//! Snapshot tests over the fixture corpus: every invalid file's rendered diagnostics, every valid
//! file's and example's compiled program.

use std::path::Path;

fn render(path: &Path, src: &str) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    let (file, diags) = flowc::check_source(src);
    let shown = flowc::diagnostic::mask(src, &flowc::secret_spans(&file));
    diags.iter().map(|d| d.render(&name, &shown, false)).collect()
}

#[test]
fn invalid_files_report_their_diagnostics() {
    insta::glob!("../fixtures/check", "*.flow", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let (_, diags) = flowc::check_source(&src);
        // The file name says which code it is about: `unknown_step.flow`, `unknown_step_2.flow`.
        let stem = path.file_stem().unwrap().to_string_lossy();
        let expected = stem.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
        assert!(
            diags.iter().any(|d| d.code.as_str().ends_with(&format!("::{expected}"))),
            "{} should report {expected}, got {:?}",
            path.display(),
            diags.iter().map(|d| d.code.as_str()).collect::<Vec<_>>()
        );
        insta::assert_snapshot!(render(path, &src));
    });
}

#[test]
fn valid_files_compile() {
    insta::glob!("../fixtures/valid", "*.flow", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let Ok((program, warnings)) = flowc::compile_source(&src) else {
            panic!("{}:\n{}", path.display(), render(path, &src))
        };
        assert!(warnings.is_empty(), "{}:\n{}", path.display(), render(path, &src));
        insta::assert_json_snapshot!(flowc::compile::review(&program, &src));
    });
}

#[test]
fn examples_check_clean_and_compile() {
    insta::glob!("../../examples", "*.flow", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let rendered = render(path, &src);
        assert!(rendered.is_empty(), "{}:\n{rendered}", path.display());
        let (program, _) = flowc::compile_source(&src).unwrap();
        insta::assert_json_snapshot!(flowc::compile::review(&program, &src));
    });
}

/// The review format keeps diffs local: one more `send` in the middle of an example changes a handful
/// of lines of `flowc compile`'s output, not every jump after it.
#[test]
fn adding_a_statement_changes_only_the_lines_about_it() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/order_status.flow")).unwrap();
    let print = |src: &str| {
        let (program, _) = flowc::compile_source(src).unwrap();
        serde_json::to_string_pretty(&flowc::compile::review(&program, src)).unwrap()
    };
    let before = print(&src);
    let changed = src.replacen("  split @extra.status {", "  send \"Looking it up…\"\n  split @extra.status {", 1);
    assert_ne!(changed, src);
    let after = print(&changed);
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    // Lines only in one of the two, by a longest-common-subsequence diff.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let changed_lines = a.len() + b.len() - 2 * lcs[0][0] as usize;
    assert!(changed_lines <= 12, "{changed_lines} lines changed:\n{after}");
    assert!(changed_lines >= 5, "the new send is there");
}

#[test]
fn labels_are_unique_when_names_repeat() {
    let src = "flow f {\n  wait answer timeout 1m { on timeout { send \"late\"; stop } }\n  wait answer timeout 1m { on timeout { send \"late again\"; stop } }\n  send \"@flow.answer\"\n}\n";
    let (program, _) = flowc::compile_source(src).unwrap();
    let review = flowc::compile::review(&program, src);
    let labels: Vec<&str> =
        review["flows"][0]["code"].as_array().unwrap().iter().filter_map(|i| i["label"].as_str()).collect();
    let mut unique = labels.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(labels.len(), unique.len(), "{labels:?}");
    assert!(labels.contains(&"answer.timeout") && labels.contains(&"answer.timeout#2"), "{labels:?}");
}
