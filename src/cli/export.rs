//! `flowc export rapidpro`: checked flows as a RapidPro export (docs/rapidpro.md).

use std::path::{Path, PathBuf};

use super::{DIAGNOSTICS, OK, USAGE, out, report};

/// Exports the flows of `path` (a file or a folder) to `file`, or to standard output. Flows with errors
/// are refused with their diagnostics, as `flowc check` shows them.
pub(super) fn run(path: &Path, file: Option<&PathBuf>) -> u8 {
    let checked = match crate::project::files(&[path.to_path_buf()], "flow").and_then(|f| crate::project::check(&f)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let mut errors = false;
    for c in &checked {
        let bad: Vec<_> = c.diags.iter().filter(|d| d.is_error()).cloned().collect();
        if !bad.is_empty() {
            report(&c.name, &c.shown, &bad);
            errors = true;
        }
    }
    if errors {
        eprintln!("flowc: fix the errors before exporting (`flowc check`)");
        return DIAGNOSTICS;
    }
    let files: Vec<(&str, &crate::ast::SourceFile)> = checked.iter().map(|c| (c.src.as_str(), &c.file)).collect();
    let exported = crate::rapidpro::export(&files);
    let text = serde_json::to_string_pretty(&exported.json).unwrap_or_default() + "\n";
    match file {
        Some(f) => {
            if let Err(e) = std::fs::write(f, &text) {
                eprintln!("flowc: cannot write {}: {}", f.display(), crate::project::io_reason(&e));
                return USAGE;
            }
            let n = exported.json["flows"].as_array().map_or(0, Vec::len);
            eprintln!("flowc: wrote {} ({})", f.display(), super::plural(n, "flow"));
        }
        None => {
            if let Err(status) = out::emit(&text) {
                return status;
            }
        }
    }
    for w in &exported.warnings {
        eprintln!("flowc: warning: {w}");
    }
    OK
}
