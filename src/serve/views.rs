//! What operators read: readiness, metrics, the webhook log and runs; and retention.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::front::Reply;
use super::{App, metrics};

/// Rows deleted per retention transaction.
pub(super) const PURGE_BATCH: usize = 500;

impl App {
    /// Deletes what is older than `--retain`, a batch at a time so that steps are never held up long.
    pub(super) fn purge_old(&self, stop: &AtomicBool) {
        let Some(retain) = self.config.retain else { return };
        let before = crate::time::now_millis().saturating_sub(retain.as_millis() as u64);
        while !stop.load(Ordering::Relaxed) {
            match self.store.purge(before, PURGE_BATCH) {
                Ok(0) => break,
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    self.quiet_when_away(|| eprintln!("flowc: retention: {e}"));
                    return;
                }
            }
        }
        // Then the versions that neither a stored run nor the server needs any more.
        let served: Vec<&str> = self.programs.iter().map(|p| p.version.as_str()).collect();
        if let Err(e) = self.store.purge_versions(&served) {
            self.quiet_when_away(|| eprintln!("flowc: retention: {e}"));
        }
    }

    /// Ready when the database takes a write and the flows are loaded.
    pub(super) fn ready(&self) -> Reply {
        let flows: usize = self.programs.iter().map(|p| p.program.flows.len()).sum();
        match self.store.check_writable() {
            Ok(()) => Reply::json(200, json!({ "status": "ready", "flows": flows })),
            Err(e) => Reply::json(503, json!({ "status": "not ready", "error": e.to_string() })),
        }
    }

    /// The Prometheus text format.
    pub(super) fn metrics(&self) -> Reply {
        let Some(handle) = metrics::handle() else {
            return Reply::error(503, "another metrics recorder was installed in this process");
        };
        // The gauges are the process's: servers sharing it (tests, an embedding) render one at a time,
        // so that each shows its own store's counts.
        static RENDERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = RENDERING.lock().unwrap_or_else(|p| p.into_inner());
        match self.store.waiting_count() {
            Ok(n) => metrics::waiting_runs(n),
            Err(e) => self.quiet_when_away(|| eprintln!("flowc: metrics: {e}")),
        }
        match self.store.outbox_count() {
            Ok(n) => metrics::outbox_pending(n),
            Err(e) => self.quiet_when_away(|| eprintln!("flowc: metrics: {e}")),
        }
        metrics::queue_depth(self.writer.queued());
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; version=0.0.4; charset=utf-8".into())],
            body: handle.render().into_bytes(),
            run: None,
        }
    }

    pub(super) fn log(&self, query: &Map<String, Value>) -> Reply {
        if let Err(e) = self.writer.flush() {
            return Reply::error(500, e.to_string());
        }
        let webhook = query.get("webhook").and_then(Value::as_str).filter(|s| !s.is_empty());
        let failed = query.get("failed").and_then(Value::as_str).is_some_and(|s| s == "true" || s == "1");
        let limit = match query.get("limit").and_then(Value::as_str) {
            None | Some("") => 100,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if n <= 10_000 => n,
                _ => return Reply::error(400, "limit must be a number up to 10000"),
            },
        };
        match self.store.read_log(webhook, failed, limit) {
            Ok(entries) => Reply::json(200, Value::Array(entries)),
            Err(e) => Reply::error(500, e.to_string()),
        }
    }

    pub(super) fn show_run(&self, id: &str) -> Reply {
        if let Err(e) = self.writer.flush() {
            return Reply::error(500, e.to_string());
        }
        match (self.store.summary(id), self.store.events(id)) {
            (Ok(Some(run)), Ok(events)) => Reply::json(
                200,
                json!({ "run_id": id, "flow": run.flow, "contact_id": run.contact_id, "status": run.status, "events": events }),
            ),
            (Ok(None), _) => Reply::error(404, format!("there is no run {id}")),
            (Err(e), _) | (_, Err(e)) => Reply::error(500, e.to_string()),
        }
    }
}
