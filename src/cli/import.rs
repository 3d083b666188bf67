//! `flowc import rapidpro`: an export's flows as `.flow` files (docs/rapidpro.md).

use std::path::{Path, PathBuf};

use super::{DIAGNOSTICS, OK, USAGE, out, plural};

/// Imports `file`; each flow to `dir/NAME.flow`, or all of them to standard output.
pub(super) fn run(file: &Path, dir: Option<&PathBuf>, dates: Option<&str>) -> u8 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("flowc: cannot read {}: {}", file.display(), crate::project::io_reason(&e));
            return USAGE;
        }
    };
    let flows = match crate::rapidpro::import_with(&text, dates) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {}: {e}", file.display());
            return DIAGNOSTICS;
        }
    };
    match dir {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                eprintln!("flowc: cannot write into {}: it is a file, not a directory", dir.display());
                return USAGE;
            }
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("flowc: cannot create {}: {}", dir.display(), crate::project::io_reason(&e));
                return USAGE;
            }
            for flow in &flows {
                let path = dir.join(format!("{}.flow", flow.name));
                let replaced = if path.exists() { " (replacing the file that was there)" } else { "" };
                if let Err(e) = std::fs::write(&path, &flow.text) {
                    eprintln!("flowc: cannot write {}: {}", path.display(), crate::project::io_reason(&e));
                    return USAGE;
                }
                eprintln!("flowc: wrote {}{replaced}", path.display());
            }
        }
        None => {
            let all: Vec<&str> = flows.iter().map(|f| f.text.as_str()).collect();
            if let Err(status) = out::emit(&all.join("\n")) {
                return status;
            }
        }
    }
    // What `flowc check` will say of the text: its first error, so that nobody is surprised.
    let mut unchecked = false;
    for flow in &flows {
        let (_, diags) = crate::check_source(&flow.text);
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        if let Some(first) = errors.first() {
            let more = if errors.len() > 1 { format!(" (and {} more)", errors.len() - 1) } else { String::new() };
            eprintln!("flowc: {}: the imported flow does not check yet: {}{more}", flow.name, first.message);
            unchecked = true;
        }
    }
    let missing: Vec<&crate::rapidpro::Unsupported> = flows.iter().flat_map(|f| &f.unsupported).collect();
    for u in &missing {
        let place = match (u.flow.is_empty(), u.node.is_empty()) {
            (true, _) => "the export".to_string(),
            (false, true) => format!("flow \"{}\"", u.flow),
            (false, false) => format!("flow \"{}\", node {}", u.flow, u.node),
        };
        let kept = if u.node.is_empty() { "" } else { " (kept as a comment)" };
        eprintln!("flowc: {place}: {} is not imported{kept}", u.construct);
    }
    if missing.is_empty() && !unchecked {
        OK
    } else if missing.is_empty() {
        DIAGNOSTICS
    } else {
        eprintln!(
            "flowc: imported {} with {} kept as comments",
            plural(flows.len(), "flow"),
            plural(missing.len(), "construct")
        );
        DIAGNOSTICS
    }
}
