//! `flowc check`: every file, then the rules across files; human, JSON, GitHub or SARIF output.

use std::io::Write;
use std::path::PathBuf;

use crate::diagnostic::Severity;
use crate::project::Checked;

use super::{CheckFormat, DIAGNOSTICS, OK, USAGE, color, out, plural};

pub(super) fn run(paths: &[PathBuf], format: CheckFormat, deny_warnings: bool) -> u8 {
    let checked = match crate::project::files(paths, "flow").and_then(|files| crate::project::check(&files)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let mut json = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    let color = color();
    let mut stderr = std::io::stderr().lock();
    for Checked { name, src, shown, diags, .. } in &checked {
        let index = crate::span::LineIndex::new(src);
        for d in diags {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            match format {
                CheckFormat::Human => {
                    let _ = write!(stderr, "{}", d.render_indexed(name, shown, &index, color));
                }
                CheckFormat::Json | CheckFormat::Github | CheckFormat::Sarif => json.push(d.to_json(name, src, &index)),
            }
        }
    }
    match format {
        CheckFormat::Json => {
            let text = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".into());
            if let Err(status) = out::emit(&(text + "\n")) {
                return status;
            }
        }
        CheckFormat::Github => {
            let text: String = json.iter().map(crate::report::github).collect();
            if let Err(status) = out::emit(&text) {
                return status;
            }
        }
        CheckFormat::Sarif => {
            let text = serde_json::to_string_pretty(&crate::report::sarif(&json)).unwrap_or_default();
            if let Err(status) = out::emit(&(text + "\n")) {
                return status;
            }
        }
        CheckFormat::Human => {
            let _ = writeln!(stderr, "{}", summary(checked.len(), errors, warnings));
        }
    }
    if errors > 0 || (deny_warnings && warnings > 0) { DIAGNOSTICS } else { OK }
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    format!("checked {}: {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}
