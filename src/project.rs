//! The files of a project: finding them (one walk for the command line and the language server),
//! reading them, and checking them together as `flowc serve` will serve them.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

/// Every file with `extension` named or below a named directory (see [`Walk`]), in a stable order,
/// each once (`a.flow ./a.flow` and a file inside a named directory are one file). A named directory
/// with none is an error.
pub fn files(paths: &[PathBuf], extension: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let walk = Walk { extension, ..Walk::default() };
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {}", p.display(), io_reason(&e)))?;
        if meta.is_dir() {
            let found =
                walk.files(p).map_err(|(dir, e)| format!("cannot read {}: {}", dir.display(), io_reason(&e)))?;
            if found.is_empty() {
                return Err(format!("no .{extension} files found under {}", p.display()));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

/// How a folder is searched for files: the one walk of the command line and the language server. It
/// skips hidden folders, build output (`target`) and dependencies (`node_modules`), and does not
/// follow symbolic links to folders (a link back up would never end).
#[derive(Clone, Copy, Debug)]
pub struct Walk<'a> {
    /// The files' extension, without the dot.
    pub extension: &'a str,
    /// How many folders down (0: the folder alone).
    pub levels: usize,
    /// At most this many files.
    pub max_files: usize,
    /// Files larger than this are left out.
    pub max_bytes: u64,
    /// Whether a folder that cannot be read below the first is an error (the command line) or left
    /// out (the language server).
    pub strict: bool,
}

impl Default for Walk<'_> {
    fn default() -> Self {
        Walk { extension: "flow", levels: usize::MAX, max_files: usize::MAX, max_bytes: u64::MAX, strict: true }
    }
}

impl Walk<'_> {
    /// The files below `dir`, sorted; the folder that could not be read, and why.
    pub fn files(&self, dir: &Path) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
        let mut out = Vec::new();
        self.walk(dir, self.levels, &mut out, true)?;
        out.sort();
        Ok(out)
    }

    fn walk(
        &self,
        dir: &Path,
        levels: usize,
        out: &mut Vec<PathBuf>,
        top: bool,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if top || self.strict => return Err((dir.to_path_buf(), e)),
            Err(_) => return Ok(()),
        };
        let mut entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if out.len() >= self.max_files {
                return Ok(());
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if levels > 0 && !name.starts_with('.') && name != "target" && name != "node_modules" {
                    self.walk(&path, levels - 1, out, false)?;
                }
            } else if path.extension().is_some_and(|e| e == self.extension)
                && std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= self.max_bytes)
            {
                out.push(path);
            }
        }
        Ok(())
    }
}

/// An I/O error as a person reads it.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        std::io::ErrorKind::IsADirectory => "a directory, not a file".into(),
        std::io::ErrorKind::NotADirectory => "a path through a file, not a directory".into(),
        std::io::ErrorKind::AlreadyExists => "a file is already there".into(),
        // The OS's words, without its error number.
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_lowercase()
        }
    }
}

/// Reads a `.flow` file: its text, or the text with what is not UTF-8 replaced and the diagnostic that
/// says so. Only a file that cannot be read at all is an error.
pub fn read(path: &Path) -> Result<Result<String, Box<(String, Diagnostic)>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    Ok(crate::syntax::decode(bytes))
}

/// A file read and checked as part of the project it was given with.
pub struct Checked {
    /// The path as shown in messages.
    pub name: String,
    /// The text (with what is not UTF-8 replaced).
    pub src: String,
    /// The text with literal secrets masked, for rendering.
    pub shown: String,
    /// The file, parsed.
    pub file: crate::ast::SourceFile,
    /// The file's diagnostics and the project's about it, sorted.
    pub diags: Vec<Diagnostic>,
}

/// Reads and checks `files` as one project: each file on its own, then the rules across files that
/// `flowc serve` enforces (docs/language.md §8). Only a file that cannot be read at all is an error.
pub fn check(files: &[PathBuf]) -> Result<Vec<Checked>, String> {
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let (src, file, diags) = match read(path)? {
            Ok(src) => {
                let (file, diags) = crate::check_source(&src);
                (src, file, diags)
            }
            Err(invalid) => {
                let (text, diag) = *invalid;
                (text, crate::ast::SourceFile::default(), vec![diag])
            }
        };
        let shown = crate::diagnostic::mask(&src, &crate::secret_spans(&file));
        out.push(Checked { name, src, shown, file, diags });
    }
    let views: Vec<crate::check::ProjectFile<'_>> =
        out.iter().map(|c| crate::check::ProjectFile { name: &c.name, src: &c.src, file: &c.file }).collect();
    let across = crate::check::project(&views);
    for (checked, mut more) in out.iter_mut().zip(across) {
        if !more.is_empty() {
            checked.diags.append(&mut more);
            crate::diagnostic::sort(&mut checked.diags);
        }
    }
    Ok(out)
}

/// A file read and compiled, with what diagnostics may show of it.
pub struct Loaded {
    /// The path as shown in messages.
    pub name: String,
    /// The source with literal secrets masked, for rendering diagnostics.
    pub shown: String,
    /// The program and its warnings, or every diagnostic.
    pub result: Result<(crate::program::Program, Vec<Diagnostic>), Vec<Diagnostic>>,
}

/// Reads and compiles a file (an unreadable file is the error).
pub fn load(path: &Path) -> Result<Loaded, String> {
    let name = path.display().to_string();
    match read(path)? {
        Ok(src) => {
            // Parsed and checked once: the same tree gives the masked text and the program.
            let (file, diags) = crate::check_source(&src);
            let shown = crate::diagnostic::mask(&src, &crate::secret_spans(&file));
            let result = if diags.iter().any(Diagnostic::is_error) {
                Err(diags)
            } else {
                Ok((crate::compile::compile(&file), diags))
            };
            Ok(Loaded { name, shown, result })
        }
        Err(invalid) => {
            let (shown, diag) = *invalid;
            Ok(Loaded { name, shown, result: Err(vec![diag]) })
        }
    }
}
