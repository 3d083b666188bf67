//! `flowc log`: the webhook log as a table or JSON lines, from a file or from `flowc serve`'s database.

use std::path::{Path, PathBuf};

use super::{OK, USAGE, out, plural};

/// Whether `path` is an SQLite database (its header), such as `flowc serve`'s `flowc.db`.
fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).is_ok() && &header == b"SQLite format 3\0"
}

pub(super) fn run(file: Option<PathBuf>, db: Option<PathBuf>, failed: bool, webhook: Option<&str>, json: bool) -> u8 {
    // `flowc log flowc.db` or a PostgreSQL URL means the server's log; so does a bare `flowc log` where
    // there is no log of `flowc run` but a `flowc.db` here.
    let (file, db) = match (file, db) {
        (Some(f), None)
            if is_sqlite(&f)
                || f.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://")) =>
        {
            (None, Some(f))
        }
        (None, None) if !crate::webhook_log::default_path().exists() && Path::new("flowc.db").is_file() => {
            eprintln!("flowc: reading the log of flowc serve's database flowc.db (give a file or --db to choose)");
            (None, Some(PathBuf::from("flowc.db")))
        }
        other => other,
    };
    let (entries, skipped) = if let Some(db) = db {
        let is_url = db.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
        if !is_url && !db.exists() {
            eprintln!("flowc: cannot read {}: no such file or directory", db.display());
            return USAGE;
        }
        match super::serve::open_store(&db).and_then(|s| s.read_log(webhook, failed, 10_000).map_err(|e| e.to_string()))
        {
            Ok(mut entries) => {
                entries.reverse();
                (entries, 0)
            }
            Err(e) => {
                eprintln!("flowc: cannot read the webhook log: {e}");
                return USAGE;
            }
        }
    } else {
        let named = file.is_some();
        let path = file.unwrap_or_else(crate::webhook_log::default_path);
        match crate::webhook_log::read(&path) {
            Ok(r) => r,
            Err(e) if !named && e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "flowc: no webhook log yet: flowc run writes {}; for flowc serve's, give its database (flowc log --db flowc.db)",
                    path.display()
                );
                return USAGE;
            }
            Err(e) => {
                eprintln!("flowc: cannot read the webhook log {}: {}", path.display(), crate::project::io_reason(&e));
                return USAGE;
            }
        }
    };
    let shown: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| !failed || crate::webhook_log::failed(e))
        .filter(|e| webhook.is_none_or(|w| e["webhook"].as_str() == Some(w)))
        .collect();
    let written = if json {
        shown.iter().take_while(|_| !out::closed()).try_for_each(|e| out::emit(&format!("{e}\n")))
    } else {
        out::emit(&crate::webhook_log::table(&shown))
    };
    if let Err(status) = written {
        return status;
    }
    if skipped > 0 {
        let what = if skipped == 1 { "is not a log entry" } else { "are not log entries" };
        eprintln!("flowc: skipped {} that {what}", plural(skipped, "line"));
    }
    OK
}
