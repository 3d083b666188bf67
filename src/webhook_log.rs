//! The webhook log (seed 000's "API log"): one JSON line per attempt, with every secret replaced by
//! `***` and bodies cut to 10 KiB, and the reader behind `flowc log`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::interp::{CallOutcome, Request};

/// Bodies longer than this are cut in the log.
pub const MAX_LOGGED_BODY: usize = 10 * 1024;

/// Where the log goes when no path is given: `$XDG_STATE_HOME/flowc/webhooks.jsonl`, else
/// `~/.local/state/flowc/webhooks.jsonl`, else `flowc-webhooks.jsonl` here.
pub fn default_path() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(state).join("flowc").join("webhooks.jsonl");
    }
    match std::env::var_os("HOME").filter(|s| !s.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/state/flowc/webhooks.jsonl"),
        None => PathBuf::from("flowc-webhooks.jsonl"),
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_LOGGED_BODY {
        return s.to_string();
    }
    let mut end = MAX_LOGGED_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} more bytes]", &s[..end], s.len() - end)
}

/// The log lines of one call: one per attempt, secrets redacted. A call refused before any attempt
/// (a URL against the rules, a secret that is not set) gets one line with attempt 0 and the reason.
pub fn entries(req: &Request, outcome: &CallOutcome) -> Vec<Value> {
    let r = |s: &str| req.redact(s);
    if outcome.attempts.is_empty() {
        let request_headers = Value::Array(req.display_headers().into_iter().map(|(k, v)| json!([k, v])).collect());
        return vec![json!({
            "time": crate::time::now_iso(),
            "flow": req.flow,
            "run": req.run_id,
            "webhook": req.name,
            "method": req.method.as_str(),
            "url": req.display_url,
            "attempt": 0,
            "status": null,
            "error": outcome.error.as_deref().map(r).unwrap_or_else(|| "not sent".into()),
            "elapsed_ms": 0,
            "mocked": outcome.mocked,
            "request": { "headers": request_headers, "body": req.body.as_deref().map(|b| truncate(&r(b))) },
            "response": null,
        })];
    }
    let headers = |h: &[(String, String)]| -> Value { Value::Array(h.iter().map(|(k, v)| json!([k, r(v)])).collect()) };
    let request_headers = Value::Array(req.display_headers().into_iter().map(|(k, v)| json!([k, v])).collect());
    outcome
        .attempts
        .iter()
        .map(|a| {
            json!({
                "time": a.time,
                "flow": req.flow,
                "run": req.run_id,
                "webhook": req.name,
                "method": req.method.as_str(),
                "url": req.display_url,
                "attempt": a.attempt,
                "status": a.status,
                "error": a.error.as_deref().map(r),
                "elapsed_ms": a.elapsed_ms,
                "mocked": outcome.mocked,
                "request": { "headers": request_headers, "body": req.body.as_deref().map(|b| truncate(&r(b))) },
                "response": {
                    "headers": headers(&a.response_headers),
                    "body": a.response_body.as_deref().map(|b| truncate(&r(b))),
                },
            })
        })
        .collect()
}

/// An append-only log file, safe to share between threads.
pub struct WebhookLog {
    file: Mutex<File>,
}

impl WebhookLog {
    /// Opens (creating it and its folder if needed) the log at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(WebhookLog { file: Mutex::new(file) })
    }

    /// Appends the attempts of a call.
    pub fn record(&self, req: &Request, outcome: &CallOutcome) -> io::Result<()> {
        let mut out = String::new();
        for e in entries(req, outcome) {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(out.as_bytes())
    }
}

/// Reads a log, skipping lines that are not JSON objects; returns the entries and how many were skipped.
pub fn read(path: &Path) -> io::Result<(Vec<Value>, usize)> {
    let file = File::open(path)?;
    let mut entries = Vec::new();
    let mut skipped = 0;
    for line in io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            // An entry names its webhook and attempt; any other JSON is not one.
            Ok(v @ Value::Object(_)) if v["webhook"].is_string() && v["attempt"].is_u64() => entries.push(v),
            _ => skipped += 1,
        }
    }
    Ok((entries, skipped))
}

/// Whether an entry is a failed attempt (no answer, or not 2xx).
pub fn failed(entry: &Value) -> bool {
    !entry["status"].as_u64().is_some_and(|s| (200..300).contains(&s))
}

/// The entries as a table, newest last.
pub fn table(entries: &[&Value]) -> String {
    let mut rows = vec![["TIME", "WEBHOOK", "METHOD", "ATTEMPT", "RESULT", "MS", "URL"].map(String::from).to_vec()];
    for e in entries {
        let result = match (e["status"].as_u64(), e["error"].as_str()) {
            (Some(s), _) => s.to_string(),
            (None, Some(err)) => format!("error: {err}"),
            _ => "-".into(),
        };
        let time = e["time"].as_str().unwrap_or("").replace('T', " ");
        rows.push(vec![
            time.get(..19).unwrap_or(&time).to_string(),
            e["webhook"].as_str().unwrap_or("").to_string(),
            e["method"].as_str().unwrap_or("").to_string(),
            e["attempt"].to_string(),
            result + if e["mocked"].as_bool() == Some(true) { " (mock)" } else { "" },
            e["elapsed_ms"].to_string(),
            e["url"].as_str().unwrap_or("").to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
