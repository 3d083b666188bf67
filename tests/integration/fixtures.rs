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
        insta::assert_json_snapshot!(program);
    });
}

#[test]
fn examples_check_clean_and_compile() {
    insta::glob!("../../examples", "*.flow", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let rendered = render(path, &src);
        assert!(rendered.is_empty(), "{}:\n{rendered}", path.display());
        let (program, _) = flowc::compile_source(&src).unwrap();
        insta::assert_json_snapshot!(program);
    });
}
