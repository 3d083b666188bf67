//! Where `flowc serve` keeps runs, their events, the webhook log and seen signature ids. The server
//! talks to a [`Store`]; [`SqliteStore`] is the embedded one (WAL, one transaction per step), and a
//! PostgreSQL store can implement the same trait.

mod postgres;

pub use postgres::{PostgresStore, SCHEMA_VERSION};

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::interp::{Event, RunState, RunStatus};

/// A storage failure, as text for the log and a 500 answer.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// An error with this text.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// A run as stored.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// The run's state.
    pub state: RunState,
    /// The contact it talks to ("" for runs that no contact can reply to).
    pub contact_id: String,
    /// When a waiting run times out (ms since the epoch).
    pub deadline_ms: Option<u64>,
    /// The version of the program it runs on (a content hash; `None` for runs stored before versions
    /// were kept: they continue on the current program).
    pub version: Option<String>,
}

/// What is kept of every run, finished or not.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The flow.
    pub flow: String,
    /// `waiting`, `completed`, ...
    pub status: String,
    /// The contact ("" for trigger runs).
    pub contact_id: String,
}

/// A step ready to store: serialized by the thread that ran it, so the single writer only writes.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// Its contact.
    pub contact_id: String,
    /// Its flow.
    pub flow: String,
    /// Its status after the step.
    pub status: RunStatus,
    /// When a waiting run times out.
    pub deadline_ms: Option<u64>,
    /// The state as JSON, while the run waits.
    pub state: Option<String>,
    /// The step's events as a JSON array (`None`: no events).
    pub events: Option<String>,
    /// The program version the run started on; kept from its first step.
    pub version: Option<String>,
    /// The contact as it is after the step, for runs that belong to one.
    pub contact: Option<ContactRow>,
    /// Messages to store with the step: the one that started or resumed it, and those it sends
    /// through a channel (the outbox), in order.
    pub messages: Vec<MessageRow>,
}

/// A contact as stored (docs/language.md §9).
#[derive(Clone, Debug, PartialEq)]
pub struct ContactRow {
    /// `tel:+250788123456`, `telegram:1234`, `ext:abc`, or an id without a scheme.
    pub urn: String,
    /// The channel it talks on ("" for none).
    pub channel: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// IANA time zone ("" for the server's default).
    pub timezone: String,
    /// Fields as a JSON object.
    pub fields: String,
}

impl ContactRow {
    /// A contact seen for the first time: only its URN.
    pub fn new(urn: &str) -> ContactRow {
        ContactRow {
            urn: urn.to_string(),
            channel: String::new(),
            name: String::new(),
            language: String::new(),
            timezone: String::new(),
            fields: "{}".into(),
        }
    }

    /// The contact as a run sees it.
    pub fn to_json(&self) -> Value {
        let fields: Value = serde_json::from_str(&self.fields).unwrap_or_else(|_| Value::Object(Default::default()));
        let phone = self.urn.strip_prefix("tel:").or_else(|| self.urn.strip_prefix("whatsapp:")).unwrap_or_default();
        serde_json::json!({
            "urn": self.urn, "channel": self.channel, "name": self.name, "language": self.language,
            "timezone": self.timezone, "phone": phone, "fields": fields,
        })
    }

    /// The row of a run's contact.
    pub fn from_contact(c: &crate::interp::Contact) -> ContactRow {
        ContactRow {
            urn: c.urn.clone(),
            channel: c.channel.clone(),
            name: c.name.clone(),
            language: c.language.clone(),
            timezone: c.timezone.clone(),
            fields: Value::Object(c.fields.clone()).to_string(),
        }
    }
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the contact.
    In,
    /// To the contact (through a channel's outbox).
    Out,
}

/// A message to store.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRow {
    /// Unique, time-ordered; an outgoing message's `Idempotency-Key`.
    pub id: String,
    /// The contact.
    pub urn: String,
    /// The channel ("" for messages given to the HTTP API).
    pub channel: String,
    /// In or out.
    pub direction: Direction,
    /// The text.
    pub text: String,
    /// The run that sent it, or that it started or resumed.
    pub run_id: Option<String>,
    /// The flow that sent it (outgoing messages).
    pub flow: Option<String>,
    /// In: `handled` (a run took it) or `unhandled`; out: `pending`, then `sent` or `failed`.
    pub status: &'static str,
}

/// An outgoing message due for delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct OutMessage {
    /// Its id.
    pub id: String,
    /// To whom.
    pub urn: String,
    /// Through which channel.
    pub channel: String,
    /// The text.
    pub text: String,
    /// The run that sent it.
    pub run_id: Option<String>,
    /// The flow that sent it.
    pub flow: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
}

/// What became of a delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// The gateway took it.
    Sent,
    /// Try again at this time.
    Retry {
        /// When (ms since the epoch).
        at_ms: u64,
        /// Why this attempt failed.
        error: String,
    },
    /// No more attempts.
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
    /// Not tried (the server is stopping): the claim ends, the message stays as it was.
    Unsent,
}

impl Delivery {
    /// The message's status, next attempt and error after this delivery (`None`: unchanged).
    pub(crate) fn columns(&self) -> Option<(&'static str, Option<i64>, Option<&str>)> {
        match self {
            Delivery::Sent => Some(("sent", None, None)),
            Delivery::Retry { at_ms, error } => Some(("pending", Some(*at_ms as i64), Some(error.as_str()))),
            Delivery::Failed { error } => Some(("failed", None, Some(error.as_str()))),
            Delivery::Unsent => None,
        }
    }
}

/// What became of a claimed message ([`Store::delivered`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Attempted {
    /// The message's id.
    pub id: String,
    /// Its attempts, this one included.
    pub attempts: u32,
    /// What became of it.
    pub delivery: Delivery,
}

/// Whose messages [`Store::claim_messages`] takes.
#[derive(Clone, Copy, Debug)]
pub enum Channels<'a> {
    /// This channel's.
    Only(&'a str),
    /// Those of every channel but these (channels no longer served).
    NoneOf(&'a [String]),
}

impl StepRecord {
    /// Serializes a run after a step and the events of that step.
    pub fn new(run: &StoredRun, events: &[Event]) -> Result<StepRecord, StoreError> {
        StepRecord::of(&run.state, &run.contact_id, run.deadline_ms, run.version.as_deref(), events)
    }

    /// [`StepRecord::new`] from the parts of a run, without a copy of its state (an ended run's state
    /// is not stored: only a waiting run's is serialized).
    pub fn of(
        state: &crate::interp::RunState,
        contact_id: &str,
        deadline_ms: Option<u64>,
        version: Option<&str>,
        events: &[Event],
    ) -> Result<StepRecord, StoreError> {
        Ok(StepRecord {
            run_id: state.run_id.clone(),
            contact_id: contact_id.to_string(),
            flow: state.flow.clone(),
            status: state.status,
            deadline_ms,
            state: if state.status == RunStatus::Waiting { Some(serde_json::to_string(state)?) } else { None },
            events: if events.is_empty() { None } else { Some(serde_json::to_string(events)?) },
            version: version.map(str::to_string),
            contact: None,
            messages: Vec::new(),
        })
    }
}

/// A webhook log entry ready to store.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// The webhook's name, for filtering.
    pub webhook: String,
    /// Whether the attempt failed ([`crate::webhook_log::failed`]), for filtering.
    pub failed: bool,
    /// The entry as JSON.
    pub entry: String,
}

impl LogLine {
    /// A line from a log entry of [`crate::webhook_log::entries`].
    pub fn new(entry: &Value) -> LogLine {
        LogLine {
            webhook: entry["webhook"].as_str().unwrap_or_default().to_string(),
            failed: crate::webhook_log::failed(entry),
            entry: entry.to_string(),
        }
    }
}

/// Persistence for the server.
pub trait Store: Send + Sync {
    /// False while the database is known to be away (it said so in the log once): background loops
    /// then keep quiet about their own failures, which only repeat it.
    fn available(&self) -> bool {
        true
    }
    /// Saves several steps and log entries in one transaction (group commit); each step is atomic.
    fn save_batch(&self, steps: &[StepRecord], log: &[LogLine]) -> Result<(), StoreError>;
    /// The waiting run of a contact, if any.
    fn waiting_run(&self, contact_id: &str) -> Result<Option<StoredRun>, StoreError>;
    /// Waiting runs whose deadline has passed.
    fn due_runs(&self, now_ms: u64) -> Result<Vec<StoredRun>, StoreError>;
    /// A waiting run by id (with the state it needs to continue).
    fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError>;
    /// Any run by id: flow, status and contact.
    fn summary(&self, run_id: &str) -> Result<Option<RunSummary>, StoreError>;
    /// The events of a run, in order.
    fn events(&self, run_id: &str) -> Result<Vec<Value>, StoreError>;
    /// Log entries, newest first.
    fn read_log(&self, webhook: Option<&str>, failed_only: bool, limit: usize) -> Result<Vec<Value>, StoreError>;
    /// Records an id (a signature's, or an incoming message's); false when it was already seen (a
    /// replay). Forgets ids of the same kind (what comes before the first `:`, as in `signature:` or
    /// `telegram:`) older than `forget_before_ms`, so each kind keeps its own window.
    fn first_sighting(&self, id: &str, now_ms: u64, forget_before_ms: u64) -> Result<bool, StoreError>;
    /// Forgets an id recorded by [`Store::first_sighting`] (its message could not be taken in, so the
    /// sender's next try must be processed).
    fn forget_sighting(&self, id: &str) -> Result<(), StoreError>;
    /// Deletes at most `batch` runs that ended before `before_ms` (never a waiting run) with their
    /// steps, and at most `batch` webhook log lines older than that. Returns how many rows went, so the
    /// caller can repeat in small transactions until nothing is left, without holding steps up.
    fn purge(&self, before_ms: u64, batch: usize) -> Result<usize, StoreError>;
    /// How many runs wait.
    fn waiting_count(&self) -> Result<u64, StoreError>;
    /// Whether the database takes a write (a write that is rolled back).
    fn check_writable(&self) -> Result<(), StoreError>;
    /// Keeps the source of a program version under its hash (once; later calls change nothing).
    fn save_version(&self, hash: &str, name: &str, source: &str) -> Result<(), StoreError>;
    /// The source of a program version, if it was kept.
    fn version_source(&self, hash: &str) -> Result<Option<String>, StoreError>;
    /// Deletes the versions that no stored run refers to, except `keep` (those served now). Returns
    /// how many went.
    fn purge_versions(&self, keep: &[&str]) -> Result<usize, StoreError>;
    /// Outgoing messages not delivered yet.
    fn outbox_count(&self) -> Result<u64, StoreError>;
    /// A contact by URN.
    fn contact(&self, urn: &str) -> Result<Option<ContactRow>, StoreError>;
    /// A contact's latest messages, newest first, as JSON.
    fn contact_messages(&self, urn: &str, limit: usize) -> Result<Vec<Value>, StoreError>;
    /// Stores messages outside a step (one that started nothing).
    fn save_messages(&self, messages: &[MessageRow]) -> Result<(), StoreError>;
    /// Outgoing messages due now and not claimed: for each contact only its oldest pending one, so
    /// that messages arrive in the order they were sent.
    fn due_messages(&self, now_ms: u64, limit: usize) -> Result<Vec<OutMessage>, StoreError>;
    /// Claims up to `limit` due messages of `channels`, oldest first, for delivery until
    /// `lease_until_ms`: meanwhile no server claims them (nor their contacts' later messages) again.
    /// A claim ends with [`Store::delivered`]; one that a dead server left ends at `lease_until_ms`.
    fn claim_messages(
        &self,
        channels: Channels<'_>,
        now_ms: u64,
        limit: usize,
        lease_until_ms: u64,
    ) -> Result<Vec<OutMessage>, StoreError>;
    /// Takes the lock that keeps two servers from running steps of one contact (or one run) at the
    /// same time, waiting for it up to `wait`; a store that one process uses needs none.
    fn lock(&self, _key: &str, _wait: std::time::Duration) -> Result<(), StoreError> {
        Ok(())
    }
    /// Releases a lock taken with [`Store::lock`].
    fn unlock(&self, _key: &str) {}
    /// Waits until an outgoing message may be due: a store that several servers share is told when one
    /// of them commits a message (and is polled every `max` as the fallback, for retries that come due
    /// by time); one process's store is polled every 50 ms.
    fn wait_for_outbox(&self, max: std::time::Duration) {
        std::thread::sleep(max.min(std::time::Duration::from_millis(50)));
    }
    /// Ends a [`Store::wait_for_outbox`] now (the server is stopping).
    fn wake_outbox(&self) {}
    /// Records what became of claimed messages, in one transaction, and ends their claims.
    fn delivered(&self, outcomes: &[Attempted]) -> Result<(), StoreError>;
}

/// A stored run's columns: state, contact, deadline, version.
type RunRow = (String, String, Option<i64>, Option<String>);

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
-- `state` is kept while a run waits (it is what a reply or a timeout continues) and dropped once the
-- run ends: a finished run is its status and its events.
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    deadline_ms INTEGER,
    state TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_waiting ON runs (contact_id) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS runs_deadline ON runs (deadline_ms) WHERE status = 'waiting';
-- Retention finds ended runs by age.
CREATE INDEX IF NOT EXISTS runs_ended ON runs (updated_ms) WHERE status != 'waiting';
-- One row per step: the step's events as a JSON array.
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS webhook_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook TEXT NOT NULL,
    failed INTEGER NOT NULL,
    entry TEXT NOT NULL
);
-- Every program version the server ran, so that a run finishes on the version it started on.
CREATE TABLE IF NOT EXISTS versions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    saved_ms INTEGER NOT NULL
);
-- Contacts by URN, with what flows set on them (docs/language.md §9).
CREATE TABLE IF NOT EXISTS contacts (
    urn TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    fields TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
-- Messages in and out. Outgoing ones are the outbox: `pending` until a delivery succeeds (`sent`) or
-- the channel's retries run out (`failed`); `seq` keeps each contact's messages in order.
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    urn TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    run_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER,
    error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    lease_ms INTEGER,
    flow TEXT
);
CREATE INDEX IF NOT EXISTS messages_pending ON messages (urn, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS messages_contact ON messages (urn, seq);
CREATE INDEX IF NOT EXISTS messages_ended ON messages (updated_ms) WHERE status != 'pending';
CREATE TABLE IF NOT EXISTS seen_signatures (
    id TEXT PRIMARY KEY,
    seen_ms INTEGER NOT NULL
);
";

/// The columns of an outgoing message, as [`out_message`] reads them.
const OUT_COLUMNS: &str = "m.id, m.urn, m.channel, m.text, m.run_id, m.attempts, m.flow";

/// Due at `?1` and not claimed: each contact's oldest pending message only (messages arrive in the
/// order they were sent); a claimed one holds its contact's later messages back.
const DUE: &str = "m.status = 'pending' AND m.next_ms <= ?1 AND (m.lease_ms IS NULL OR m.lease_ms <= ?1)
       AND m.seq = (SELECT MIN(o.seq) FROM messages o WHERE o.urn = m.urn AND o.status = 'pending')";

/// An outgoing message from [`OUT_COLUMNS`], starting at column `at`.
fn out_message(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<OutMessage> {
    Ok(OutMessage {
        id: r.get(at)?,
        urn: r.get(at + 1)?,
        channel: r.get(at + 2)?,
        text: r.get(at + 3)?,
        run_id: r.get(at + 4)?,
        attempts: r.get::<_, i64>(at + 5)? as u32,
        flow: r.get(at + 6)?,
    })
}

impl SqliteStore {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode, NORMAL loses no committed transaction when the process dies (the requirement: a
        // killed server keeps every acknowledged reply); only a power cut can drop the last commits. FULL
        // would fsync every commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MiB of page cache (the default is 2 MiB): the indexes of a busy server stay in memory.
        conn.pragma_update(None, "cache_size", -65_536)?;
        // SQLite's automatic checkpoints (every 1,000 pages) keep the WAL small. Larger intervals raised
        // the p99 (long checkpoints stall the writer); a separate passive checkpointer let the WAL grow
        // without bound under steady load.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // Databases from before versions were kept gain the column; their runs have none.
        let has_version: bool =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'version'", [], |r| {
                r.get::<_, i64>(0).map(|n| n > 0)
            })?;
        if !has_version {
            conn.execute_batch("ALTER TABLE runs ADD COLUMN version TEXT")?;
        }
        // And contacts gain their time zone.
        let has_timezone: bool =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('contacts') WHERE name = 'timezone'", [], |r| {
                r.get::<_, i64>(0).map(|n| n > 0)
            })?;
        if !has_timezone {
            conn.execute_batch("ALTER TABLE contacts ADD COLUMN timezone TEXT NOT NULL DEFAULT ''")?;
        }
        // And messages their claims (the outbox's concurrent sender).
        let has_lease: bool =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'lease_ms'", [], |r| {
                r.get::<_, i64>(0).map(|n| n > 0)
            })?;
        if !has_lease {
            conn.execute_batch(
                "ALTER TABLE messages ADD COLUMN lease_ms INTEGER; ALTER TABLE messages ADD COLUMN flow TEXT",
            )?;
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS messages_due ON messages (channel, seq) WHERE status = 'pending';
             -- One server uses a SQLite file: the claims it finds are those of a server that died.
             UPDATE messages SET lease_ms = NULL WHERE lease_ms IS NOT NULL;",
        )?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn row_to_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    }

    fn decode_run((state, contact_id, deadline, version): RunRow) -> Result<StoredRun, StoreError> {
        Ok(StoredRun {
            state: serde_json::from_str(&state)?,
            contact_id,
            deadline_ms: deadline.map(|d| d as u64),
            version,
        })
    }
}

/// Writes contacts and messages inside a transaction.
struct ContactWriter<'t> {
    upsert: rusqlite::CachedStatement<'t>,
    insert: rusqlite::CachedStatement<'t>,
}

impl<'t> ContactWriter<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        Ok(ContactWriter {
            upsert: tx.prepare_cached(
                "INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (urn) DO UPDATE
                 SET channel = ?2, name = ?3, language = ?4, fields = ?5, updated_ms = ?6, timezone = ?7",
            )?,
            insert: tx.prepare_cached(
                "INSERT INTO messages (id, urn, channel, direction, text, run_id, status, next_ms, created_ms, updated_ms, flow)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
            )?,
        })
    }

    fn upsert(&mut self, c: &ContactRow, now: i64) -> Result<(), StoreError> {
        self.upsert.execute(params![c.urn, c.channel, c.name, c.language, c.fields, now, c.timezone])?;
        Ok(())
    }

    fn message(&mut self, m: &MessageRow, now: i64) -> Result<(), StoreError> {
        let direction = match m.direction {
            Direction::In => "in",
            Direction::Out => "out",
        };
        let next = (m.status == "pending").then_some(now);
        self.insert
            .execute(params![m.id, m.urn, m.channel, direction, m.text, m.run_id, m.status, next, now, m.flow])?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn save_batch(&self, steps: &[StepRecord], log: &[LogLine]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO runs (id, contact_id, flow, status, deadline_ms, state, updated_ms, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET status = ?4, deadline_ms = ?5, state = ?6, updated_ms = ?7",
            )?;
            let mut insert_step = tx.prepare_cached(
                "INSERT INTO steps (run_id, seq, events)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM steps WHERE run_id = ?1), ?2)",
            )?;
            let mut insert_log =
                tx.prepare_cached("INSERT INTO webhook_log (webhook, failed, entry) VALUES (?1, ?2, ?3)")?;
            let now = crate::time::now_millis() as i64;
            let mut contacts = ContactWriter::new(&tx)?;
            for step in steps {
                upsert.execute(params![
                    step.run_id,
                    step.contact_id,
                    step.flow,
                    step.status.as_str(),
                    step.deadline_ms.map(|d| d as i64),
                    step.state,
                    now,
                    step.version
                ])?;
                if let Some(events) = &step.events {
                    insert_step.execute(params![step.run_id, events])?;
                }
                if let Some(c) = &step.contact {
                    contacts.upsert(c, now)?;
                }
                for m in &step.messages {
                    contacts.message(m, now)?;
                }
            }
            for line in log {
                insert_log.execute(params![line.webhook, line.failed, line.entry])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn waiting_run(&self, contact_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT state, contact_id, deadline_ms, version FROM runs WHERE contact_id = ?1 AND status = 'waiting'
                 ORDER BY updated_ms DESC LIMIT 1",
                [contact_id],
                Self::row_to_run,
            )
            .optional()?;
        row.map(Self::decode_run).transpose()
    }

    fn due_runs(&self, now_ms: u64) -> Result<Vec<StoredRun>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT state, contact_id, deadline_ms, version FROM runs WHERE status = 'waiting' AND deadline_ms <= ?1 LIMIT 100",
        )?;
        let rows = stmt.query_map([now_ms as i64], Self::row_to_run)?;
        rows.map(|row| Self::decode_run(row?)).collect()
    }

    fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT state, contact_id, deadline_ms, version FROM runs WHERE id = ?1 AND state IS NOT NULL",
                [run_id],
                Self::row_to_run,
            )
            .optional()?;
        row.map(Self::decode_run).transpose()
    }

    fn summary(&self, run_id: &str) -> Result<Option<RunSummary>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row("SELECT flow, status, contact_id FROM runs WHERE id = ?1", [run_id], |r| {
                Ok(RunSummary { flow: r.get(0)?, status: r.get(1)?, contact_id: r.get(2)? })
            })
            .optional()?)
    }

    fn events(&self, run_id: &str) -> Result<Vec<Value>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT events FROM steps WHERE run_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([run_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            match serde_json::from_str::<Value>(&row?)? {
                Value::Array(events) => out.extend(events),
                other => out.push(other),
            }
        }
        Ok(out)
    }

    fn read_log(&self, webhook: Option<&str>, failed_only: bool, limit: usize) -> Result<Vec<Value>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT entry FROM webhook_log WHERE (?1 IS NULL OR webhook = ?1) AND (?2 = 0 OR failed = 1)
             ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![webhook, failed_only, limit as i64], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    fn purge(&self, before_ms: u64, batch: usize) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids: Vec<String> = {
            let mut old = tx.prepare_cached(
                "SELECT id FROM runs WHERE status != 'waiting' AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2",
            )?;
            old.query_map(params![before_ms as i64, batch as i64], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let mut gone = 0;
        {
            let mut steps = tx.prepare_cached("DELETE FROM steps WHERE run_id = ?1")?;
            let mut run = tx.prepare_cached("DELETE FROM runs WHERE id = ?1 AND status != 'waiting'")?;
            for id in &ids {
                gone += steps.execute(params![id])?;
                gone += run.execute(params![id])?;
            }
        }
        // Messages that are no longer pending; a pending one waits for its delivery whatever its age.
        gone += tx.execute(
            "DELETE FROM messages WHERE seq IN
               (SELECT seq FROM messages WHERE status != 'pending' AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2)",
            params![before_ms as i64, batch as i64],
        )?;
        // Log lines carry their time as ISO 8601 text, which sorts as time does.
        let cutoff = crate::time::iso(before_ms);
        gone += tx.execute(
            "DELETE FROM webhook_log WHERE id IN
               (SELECT id FROM webhook_log WHERE json_extract(entry, '$.time') < ?1 ORDER BY id LIMIT ?2)",
            params![cutoff, batch as i64],
        )?;
        tx.commit()?;
        Ok(gone)
    }

    fn waiting_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row("SELECT COUNT(*) FROM runs WHERE status = 'waiting'", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("INSERT OR REPLACE INTO seen_signatures (id, seen_ms) VALUES ('flowc-readyz-probe', 0)", [])?;
        tx.rollback()?;
        Ok(())
    }

    fn save_version(&self, hash: &str, name: &str, source: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO versions (hash, name, source, saved_ms) VALUES (?1, ?2, ?3, ?4)",
            params![hash, name, source, crate::time::now_millis() as i64],
        )?;
        Ok(())
    }

    fn version_source(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn().query_row("SELECT source FROM versions WHERE hash = ?1", [hash], |r| r.get(0)).optional()?)
    }

    fn purge_versions(&self, keep: &[&str]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let unused: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT hash FROM versions WHERE hash NOT IN (SELECT version FROM runs WHERE version IS NOT NULL)",
            )?;
            stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let mut gone = 0;
        for hash in unused.iter().filter(|h| !keep.contains(&h.as_str())) {
            gone += tx.execute("DELETE FROM versions WHERE hash = ?1", [hash])?;
        }
        tx.commit()?;
        Ok(gone)
    }

    fn outbox_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM messages WHERE status = 'pending'", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn contact(&self, urn: &str) -> Result<Option<ContactRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT urn, channel, name, language, fields, timezone FROM contacts WHERE urn = ?1",
                [urn],
                |r| {
                    Ok(ContactRow {
                        urn: r.get(0)?,
                        channel: r.get(1)?,
                        name: r.get(2)?,
                        language: r.get(3)?,
                        fields: r.get(4)?,
                        timezone: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn contact_messages(&self, urn: &str, limit: usize) -> Result<Vec<Value>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, channel, direction, text, run_id, status, attempts, error, created_ms FROM messages
             WHERE urn = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![urn, limit as i64], |r| {
            Ok(serde_json::json!({
                "id": r.get::<_, String>(0)?,
                "channel": r.get::<_, String>(1)?,
                "direction": r.get::<_, String>(2)?,
                "text": r.get::<_, String>(3)?,
                "run_id": r.get::<_, Option<String>>(4)?,
                "status": r.get::<_, String>(5)?,
                "attempts": r.get::<_, i64>(6)?,
                "error": r.get::<_, Option<String>>(7)?,
                "time": crate::time::iso(r.get::<_, i64>(8)? as u64),
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn save_messages(&self, messages: &[MessageRow]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut w = ContactWriter::new(&tx)?;
            let now = crate::time::now_millis() as i64;
            for m in messages {
                w.message(m, now)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn due_messages(&self, now_ms: u64, limit: usize) -> Result<Vec<OutMessage>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {OUT_COLUMNS} FROM messages m WHERE {DUE} ORDER BY m.seq LIMIT ?2"))?;
        let rows = stmt.query_map(params![now_ms as i64, limit as i64], |r| out_message(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn claim_messages(
        &self,
        channels: Channels<'_>,
        now_ms: u64,
        limit: usize,
        lease_until_ms: u64,
    ) -> Result<Vec<OutMessage>, StoreError> {
        use rusqlite::types::Value as Sql;
        let (filter, names) = match channels {
            Channels::Only(name) => ("m.channel = ?4".to_string(), vec![name.to_string()]),
            Channels::NoneOf(names) => {
                let marks = (0..names.len()).map(|i| format!("?{}", i + 4)).collect::<Vec<_>>().join(", ");
                (format!("m.channel NOT IN ({marks})"), names.to_vec())
            }
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE messages SET lease_ms = ?3 WHERE seq IN
               (SELECT m.seq FROM messages m WHERE {DUE} AND {filter} ORDER BY m.seq LIMIT ?2)
             RETURNING seq, {}",
            OUT_COLUMNS.replace("m.", "")
        ))?;
        let mut values =
            vec![Sql::Integer(now_ms as i64), Sql::Integer(limit as i64), Sql::Integer(lease_until_ms as i64)];
        values.extend(names.into_iter().map(Sql::Text));
        let mut claimed = stmt
            .query_map(rusqlite::params_from_iter(values), |r| Ok((r.get::<_, i64>(0)?, out_message(r, 1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING keeps no order.
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, m)| m).collect())
    }

    fn delivered(&self, outcomes: &[Attempted]) -> Result<(), StoreError> {
        let now = crate::time::now_millis() as i64;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE messages SET status = ?2, attempts = ?3, next_ms = ?4, error = ?5, updated_ms = ?6,
                   lease_ms = NULL WHERE id = ?1",
            )?;
            let mut release = tx.prepare_cached("UPDATE messages SET lease_ms = NULL WHERE id = ?1")?;
            for o in outcomes {
                match o.delivery.columns() {
                    Some((status, next, error)) => {
                        update.execute(params![o.id, status, o.attempts as i64, next, error, now])?;
                    }
                    None => {
                        release.execute(params![o.id])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn first_sighting(&self, id: &str, now_ms: u64, forget_before_ms: u64) -> Result<bool, StoreError> {
        let conn = self.conn();
        let kind = sighting_kind(id);
        conn.execute(
            "DELETE FROM seen_signatures WHERE seen_ms < ?1 AND substr(id, 1, ?2) = ?3",
            params![forget_before_ms as i64, kind.chars().count() as i64, kind],
        )?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO seen_signatures (id, seen_ms) VALUES (?1, ?2)",
            params![id, now_ms as i64],
        )?;
        Ok(inserted == 1)
    }

    fn forget_sighting(&self, id: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM seen_signatures WHERE id = ?1", [id])?;
        Ok(())
    }
}

/// The kind of a sighting id: what comes before its first `:`, with the `:` (all of it if none).
pub(crate) fn sighting_kind(id: &str) -> &str {
    id.find(':').map_or(id, |i| &id[..=i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_runs_in_wal_mode_with_normal_sync() {
        let dir = std::env::temp_dir().join(format!("flowc-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        let conn = store.conn();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 1), "WAL with synchronous = NORMAL (1)");
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn step(run_id: &str, status: RunStatus) -> StepRecord {
        StepRecord {
            run_id: run_id.into(),
            contact_id: format!("contact-{run_id}"),
            flow: "f".into(),
            status,
            deadline_ms: None,
            state: (status == RunStatus::Waiting).then(|| "{}".into()),
            events: Some("[{\"type\":\"x\"}]".into()),
            version: None,
            contact: None,
            messages: Vec::new(),
        }
    }

    #[test]
    fn purge_removes_ended_runs_their_steps_and_old_log_lines_but_never_a_waiting_run() {
        let dir = std::env::temp_dir().join(format!("flowc-purge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        let now = crate::time::now_millis();
        let line = LogLine::new(&serde_json::json!({"webhook": "w", "time": crate::time::iso(now)}));
        let steps =
            [step("done", RunStatus::Completed), step("failed", RunStatus::Failed), step("waits", RunStatus::Waiting)];
        store.save_batch(&steps, &[line.clone(), line]).unwrap();

        // A cutoff before everything was written removes nothing.
        assert_eq!(store.purge(now.saturating_sub(60_000), 500).unwrap(), 0);
        assert!(store.summary("done").unwrap().is_some());

        // A cutoff after it: small batches, repeated until nothing is left.
        let mut total = 0;
        loop {
            let gone = store.purge(now + 60_000, 1).unwrap();
            if gone == 0 {
                break;
            }
            total += gone;
        }
        assert_eq!(total, 2 + 2 + 2, "two runs, their two step rows and two log lines");
        assert_eq!(store.summary("done").unwrap(), None);
        assert!(store.events("failed").unwrap().is_empty());
        assert!(store.read_log(None, false, 10).unwrap().is_empty());
        let waiting = store.summary("waits").unwrap().expect("a waiting run is never purged");
        assert_eq!(waiting.status, "waiting");
        assert_eq!(store.events("waits").unwrap().len(), 1);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_database_from_before_versions_gains_the_column_and_its_runs_have_none() {
        let dir = std::env::temp_dir().join(format!("flowc-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, contact_id TEXT NOT NULL, flow TEXT NOT NULL,
               status TEXT NOT NULL, deadline_ms INTEGER, state TEXT, updated_ms INTEGER NOT NULL);",
        )
        .unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        store.save_batch(&[step("done", RunStatus::Completed)], &[]).unwrap();
        store.save_version("abc", "f.flow", "flow f {}").unwrap();
        store.save_version("abc", "g.flow", "changed").unwrap();
        assert_eq!(store.version_source("abc").unwrap().as_deref(), Some("flow f {}"), "the first text is kept");
        assert_eq!(store.version_source("nope").unwrap(), None);
        // Versions no run refers to go, except those served now.
        store.save_version("served", "f.flow", "flow f {}").unwrap();
        let mut on_old = step("old-run", RunStatus::Waiting);
        on_old.version = Some("used".into());
        store.save_version("used", "f.flow", "flow f { }").unwrap();
        store.save_batch(&[on_old], &[]).unwrap();
        assert_eq!(store.purge_versions(&["served"]).unwrap(), 1, "only `abc` goes");
        assert_eq!(store.version_source("abc").unwrap(), None);
        assert!(store.version_source("used").unwrap().is_some());
        assert!(store.version_source("served").unwrap().is_some());
        drop(store);
        // Opening again finds the column and changes nothing.
        assert!(SqliteStore::open(&path).unwrap().summary("done").unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
