//! `flowc fmt`: the canonical layout, in place or checked.

use std::path::{Path, PathBuf};

use super::{DIAGNOSTICS, OK, USAGE, plural, report};

/// `flowc fmt`: formats each file in place (written to a temporary file beside it, then renamed over
/// it, so a crash never leaves half a file), or with `--check` names those that would change.
pub(super) fn run(paths: &[PathBuf], check: bool) -> u8 {
    let files = match crate::project::files(paths, "flow") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let (mut refused, mut changed) = (0usize, 0usize);
    for path in &files {
        let name = path.display().to_string();
        let src = match crate::project::read(path) {
            Ok(Ok(src)) => src,
            Ok(Err(invalid)) => {
                let (text, diag) = *invalid;
                report(&name, &text, &[diag]);
                refused += 1;
                continue;
            }
            Err(e) => {
                eprintln!("flowc: {e}");
                return USAGE;
            }
        };
        let formatted = match crate::fmt::format(&src) {
            Ok(f) => f,
            Err(crate::fmt::FmtError::Syntax(diags)) => {
                report(&name, &src, &diags);
                eprintln!("flowc: not formatting {name}: fix its syntax errors first");
                refused += 1;
                continue;
            }
        };
        if formatted == src {
            continue;
        }
        changed += 1;
        if check {
            eprintln!("{name}: not formatted");
            continue;
        }
        if let Err(e) = write_atomically(path, &formatted) {
            eprintln!("flowc: cannot write {name}: {e}");
            return USAGE;
        }
    }
    let verb = if check { "would reformat" } else { "reformatted" };
    eprintln!("flowc fmt: {verb} {} of {}", plural(changed, "file"), plural(files.len(), "file"));
    if refused > 0 || (check && changed > 0) { DIAGNOSTICS } else { OK }
}

/// Replaces `path` with `text` through a temporary file in the same folder and a rename.
pub(super) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.flowc-fmt-{}", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
