//! `flowc test`: flow tests against their golden transcripts, on all cores; human or JUnit output.

use std::path::{Path, PathBuf};

use super::{DIAGNOSTICS, OK, TestFormat, USAGE, out, plural};

/// `.flowtest` files named or below named directories, in order.
fn collect_tests(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let walk = crate::project::Walk { extension: "flowtest", ..crate::project::Walk::default() };
    let mut out = Vec::new();
    for p in paths {
        let reason =
            |p: &Path, e: &std::io::Error| format!("cannot read {}: {}", p.display(), crate::project::io_reason(e));
        let meta = std::fs::metadata(p).map_err(|e| reason(p, &e))?;
        if meta.is_dir() {
            out.extend(walk.files(p).map_err(|(dir, e)| reason(&dir, &e))?);
        } else if p.extension().is_some_and(|e| e == "flow") {
            return Err(format!(
                "{} is a flow; give its tests, {}",
                p.display(),
                p.with_extension("flowtest").display()
            ));
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `flowc test`: runs the test files on all cores, compares each with its golden file, prints a diff
/// per mismatch (or rewrites the golden files with `--update`), and exits 1 when any test failed.
pub(super) fn run(paths: &[PathBuf], update: bool, format: TestFormat) -> u8 {
    let paths = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    let files = match collect_tests(&paths) {
        Ok(f) if f.is_empty() => {
            eprintln!(
                "flowc: no .flowtest files found under {}",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            return USAGE;
        }
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let reports: Vec<crate::flowtest::FileReport> =
        crate::parallel::map_each(&files, |path| crate::flowtest::run_file(path));
    let (mut passed, mut failed, mut held) = (0usize, 0usize, 0usize);
    let mut human = String::new();
    let mut judged = Vec::new();
    for report in reports {
        let mut failures: Vec<Option<String>> = Vec::new();
        let name = report.path.display().to_string();
        if let Some(e) = &report.error {
            failed += 1;
            human.push_str(&format!("FAILED {name}: {e}\n"));
            judged.push((report, failures));
            continue;
        }
        let golden_path = report.golden_path();
        let expected = std::fs::read_to_string(&golden_path).ok();
        let got = report.golden_text();
        let broken: Vec<&str> =
            report.outcomes.iter().filter(|o| o.transcript.is_err()).map(|o| o.name.as_str()).collect();
        if update && !broken.is_empty() {
            // A test that cannot run is not a transcript to keep.
            for o in report.outcomes.iter().filter(|o| o.transcript.is_err()) {
                failed += 1;
                human.push_str(&format!(
                    "FAILED {name}: {}\n{}\n",
                    o.name,
                    o.transcript.as_ref().err().map_or("", String::as_str)
                ));
            }
            let others = report.outcomes.len() - broken.len();
            held += others;
            human.push_str(&format!(
                "not updated: {} (a test that cannot run is not written, and the file's other {} wait for it)\n",
                golden_path.display(),
                plural(others, "test")
            ));
            failures = report.outcomes.iter().map(|o| o.transcript.as_ref().err().cloned()).collect();
            judged.push((report, failures));
            continue;
        }
        if update {
            if expected.as_deref() != Some(got.as_str())
                && let Err(e) = super::fmt::write_atomically(&golden_path, &got)
            {
                eprintln!("flowc: cannot write {}: {e}", golden_path.display());
                return USAGE;
            }
            passed += report.outcomes.len();
            human.push_str(&format!("updated {} ({})\n", golden_path.display(), plural(report.outcomes.len(), "test")));
            failures = vec![None; report.outcomes.len()];
            judged.push((report, failures));
            continue;
        }
        let mismatches = report.mismatches(expected.as_deref());
        for (o, mismatch) in report.outcomes.iter().zip(&mismatches) {
            match mismatch {
                None => {
                    passed += 1;
                    human.push_str(&format!("ok     {name}: {}\n", o.name));
                }
                Some(d) => {
                    failed += 1;
                    human.push_str(&format!("FAILED {name}: {}\n{d}", o.name));
                }
            }
        }
        failures = mismatches;
        judged.push((report, failures));
    }
    let written = match format {
        TestFormat::Human => {
            human.push_str(&format!("{passed} passed, {failed} failed"));
            if held > 0 {
                human.push_str(&format!(", {held} not updated"));
            }
            human.push('\n');
            out::emit(&human)
        }
        TestFormat::Junit => out::emit(&crate::flowtest::junit(&judged)),
    };
    if let Err(status) = written {
        return status;
    }
    if failed > 0 { DIAGNOSTICS } else { OK }
}
