//! `flowc serve`: incoming webhooks (triggers) with webhook responses, and conversations that wait for
//! replies across HTTP requests, kept durably in a [`Store`].
//!
//! The interpreter stays synchronous: the HTTP front end ([`front`], hyper on one tokio thread) holds
//! the connections and hands complete requests to a bounded pool of worker threads; a scheduler thread
//! resumes waits whose timeout has passed. A request that cannot block (`/healthz`, and a trigger whose
//! flow neither waits nor calls a webhook, with no signature check against the store) is answered on
//! the front end's thread: its step is a few microseconds of computation bounded by `max_steps`, and
//! the hand-over to a worker cost half the throughput. Every
//! step (start, reply, timeout) is saved in one transaction before its answer is sent, and the steps of
//! one contact run one at a time.

mod access_log;
pub mod auth;
mod channels;
mod config;
mod delivery;
pub mod email;
mod front;
pub mod limits;
pub mod metrics;
mod outbox;
mod request;
mod routes;
mod runs;
mod server;
mod starts;
pub mod store;
mod ui;
mod views;
mod writer;

pub use config::{Config, DEFAULT_OUTBOX_CONCURRENCY, DEFAULT_START_RATE, SecretSource, api_tokens};
pub use server::Server;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::HttpClient;
use crate::program::Program;
use access_log::AccessLog;
use front::Reply;
use store::Store;
use writer::Writer;

/// A program the server runs, with the source it was compiled from: its version is the source's
/// content hash, and the store keeps the source so that a run that started on it finishes on it after
/// the file is edited and the server restarted (docs/language.md §9).
pub struct Served {
    program: Arc<Program>,
    version: String,
    /// The path as shown, and the text, when the program came from a file.
    source: Option<(String, String)>,
}

impl Served {
    /// A program compiled from `source` (the file `name`).
    pub fn from_source(name: &str, source: &str, program: Program) -> Served {
        Served {
            program: Arc::new(program),
            version: content_hash(source.as_bytes()),
            source: Some((name.to_string(), source.to_string())),
        }
    }

    /// The compiled program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The content hash that names this version.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// The first 16 bytes of SHA-256, as hex.
fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A contact's (or run's) lock in the store, released when dropped.
struct StoreLock<'a> {
    store: &'a dyn Store,
    key: String,
}

impl Drop for StoreLock<'_> {
    fn drop(&mut self) {
        self.store.unlock(&self.key);
    }
}

/// How long a step waits for a contact that another server is busy with.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Everything a request needs.
struct App {
    programs: Vec<Served>,
    /// Earlier versions that waiting runs still need, compiled from the store on first use.
    earlier: Mutex<HashMap<String, Arc<Program>>>,
    store: Arc<dyn Store>,
    writer: Writer,
    client: HttpClient,
    /// One lock per contact (or per run for contact-less runs), so that two steps never interleave.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    access: AccessLog,
    /// Trigger paths answered on the front end's thread (see the module's documentation).
    quick: std::collections::HashSet<String>,
    config: Config,
    /// The outbox's sender.
    outbox: Arc<outbox::Outbox>,
    /// Set when the server stops.
    stop: Arc<AtomicBool>,
    /// The console's signed-in browsers.
    sessions: ui::Sessions,
    /// The console's flow pictures, by version and flow.
    pictures: Mutex<HashMap<String, String>>,
}

impl App {
    /// Says `say` unless the store is known to be away (which the store said once already).
    fn quiet_when_away(&self, say: impl FnOnce()) {
        if self.store.available() {
            say();
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        (self.config.env)(name)
    }

    fn lock(&self, key: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks.len() > 100_000 {
            // Forget locks nobody holds, so the map does not grow without bound.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(key.to_string()).or_default().clone()
    }

    /// Takes the contact's (or run's) lock in the store, which several servers may share (after the
    /// lock of this process, [`App::lock`]); released when dropped.
    fn store_lock(&self, key: &str) -> Result<StoreLock<'_>, Reply> {
        self.store.lock(key, STORE_LOCK_WAIT).map_err(|e| {
            let mut a = Reply::error(503, format!("{e}; try again"));
            a.headers.push(("Retry-After".into(), "1".into()));
            a
        })?;
        Ok(StoreLock { store: &*self.store, key: key.to_string() })
    }
}
