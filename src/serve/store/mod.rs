//! Where `flowc serve` keeps runs, their events, contacts, messages, the webhook log and seen ids.
//! The server talks to a [`Store`]; [`SqliteStore`] is the embedded one (WAL, one transaction per
//! step) and [`PostgresStore`] the one several servers share. Both run the same SQL ([`sql`]) on the
//! same schema ([`schema`]).

/// The [`Store`] methods both databases answer with the shared SQL as it is (`sql.rs`), each on the
/// store's `with` (its connection) or `transaction`; written once, expanded in both `impl Store`.
macro_rules! shared_queries {
    () => {
        fn waiting_run(&self, contact_id: &str) -> Result<Option<StoredRun>, StoreError> {
            self.with(|db| sql::waiting_run(db, contact_id))
        }

        fn due_runs(&self, now_ms: u64) -> Result<Vec<StoredRun>, StoreError> {
            self.with(|db| sql::due_runs(db, now_ms))
        }

        fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
            self.with(|db| sql::run(db, run_id))
        }

        fn summary(&self, run_id: &str) -> Result<Option<RunSummary>, StoreError> {
            self.with(|db| sql::summary(db, run_id))
        }

        fn events(&self, run_id: &str) -> Result<Vec<Value>, StoreError> {
            self.with(|db| sql::events(db, run_id))
        }

        fn read_log(&self, webhook: Option<&str>, failed_only: bool, limit: usize) -> Result<Vec<Value>, StoreError> {
            self.with(|db| sql::read_log(db, webhook, failed_only, limit))
        }

        fn first_sighting(&self, id: &str, now_ms: u64, forget_before_ms: u64) -> Result<bool, StoreError> {
            self.with(|db| sql::first_sighting(db, id, now_ms, forget_before_ms))
        }

        fn forget_sighting(&self, id: &str) -> Result<(), StoreError> {
            self.with(|db| sql::forget_sighting(db, id))
        }

        fn purge(&self, before_ms: u64, batch: usize) -> Result<usize, StoreError> {
            self.transaction(|db| sql::purge(db, before_ms, batch))
        }

        fn waiting_count(&self) -> Result<u64, StoreError> {
            self.with(sql::waiting_count)
        }

        fn save_version(&self, hash: &str, name: &str, source: &str) -> Result<(), StoreError> {
            self.with(|db| sql::save_version(db, hash, name, source))
        }

        fn version_source(&self, hash: &str) -> Result<Option<String>, StoreError> {
            self.with(|db| sql::version_source(db, hash))
        }

        fn purge_versions(&self, keep: &[&str]) -> Result<usize, StoreError> {
            self.transaction(|db| sql::purge_versions(db, keep))
        }

        fn outbox_count(&self) -> Result<u64, StoreError> {
            self.with(sql::outbox_count)
        }

        fn contact(&self, urn: &str) -> Result<Option<ContactRow>, StoreError> {
            self.with(|db| sql::contact(db, urn))
        }

        fn contact_messages(&self, urn: &str, limit: usize) -> Result<Vec<Value>, StoreError> {
            self.with(|db| sql::contact_messages(db, urn, limit))
        }

        fn save_messages(&self, messages: &[MessageRow]) -> Result<(), StoreError> {
            self.transaction(|db| {
                let now = crate::time::now_millis() as i64;
                messages.iter().try_for_each(|m| sql::save_message(db, m, now))
            })
        }

        fn due_messages(&self, now_ms: u64, limit: usize) -> Result<Vec<OutMessage>, StoreError> {
            self.with(|db| sql::due_messages(db, now_ms, limit))
        }

        fn versions_of(&self, name: &str, limit: usize) -> Result<Vec<(String, u64, String)>, StoreError> {
            self.with(|db| sql::versions_of(db, name, limit))
        }

        fn run_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
            self.with(sql::run_counts)
        }

        fn steps(&self, run_id: &str) -> Result<Vec<StepView>, StoreError> {
            self.with(|db| sql::steps(db, run_id))
        }

        fn find_contacts(&self, text: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError> {
            self.with(|db| sql::find_contacts(db, text, limit))
        }

        fn waiting_contacts(&self, contact_ids: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
            self.with(|db| sql::waiting_contacts(db, contact_ids))
        }

        fn contacts_after(&self, after: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError> {
            self.with(|db| sql::contacts_after(db, after, limit))
        }

        fn create_start(&self, start: &StartRow) -> Result<(), StoreError> {
            self.with(|db| sql::create_start(db, start))
        }

        fn start(&self, id: &str) -> Result<Option<StartRow>, StoreError> {
            self.with(|db| sql::start(db, id))
        }

        fn starts(&self, limit: usize) -> Result<Vec<StartRow>, StoreError> {
            self.with(|db| sql::starts(db, limit))
        }

        fn claim_start(&self, owner: &str, now_ms: u64, lease_until_ms: u64) -> Result<Option<StartRow>, StoreError> {
            self.transaction(|db| sql::claim_start(db, owner, now_ms, lease_until_ms))
        }

        fn start_progress(&self, progress: &StartProgress<'_>) -> Result<Option<String>, StoreError> {
            self.with(|db| sql::start_progress(db, progress))
        }

        fn cancel_start(&self, id: &str) -> Result<bool, StoreError> {
            self.with(|db| sql::cancel_start(db, id))
        }
    };
}

mod postgres;
mod schema;
mod sql;
mod sqlite;

pub use postgres::PostgresStore;
pub use schema::SCHEMA_VERSION;
pub use sqlite::SqliteStore;

use serde_json::Value;

use crate::interp::{Event, RunState, RunStatus};

/// A storage failure; shown as `storage: ...` in the log and in 5xx answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's.
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's: the server's own message when it sent one, else the client's with its causes.
    #[error("storage: postgres: {}", postgres_text(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A stored value that does not read back (a run's state, a step's events).
    #[error("storage: {0}")]
    Json(#[from] serde_json::Error),
    /// Anything else, said in words (a lock another server holds, a schema too new).
    #[error("storage: {0}")]
    Other(String),
}

impl StoreError {
    /// An error with this text.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError::Other(message.into())
    }
}

/// A PostgreSQL error as the log says it: the server's message (constraint, disk full, ...) when it
/// sent one, else the client's with what caused it ("error connecting to server: Connection refused").
fn postgres_text(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => with_causes(e),
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
    /// Where it stands.
    pub status: RunStatus,
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
    /// The run's results as the step left them, a JSON object of `{value, category}` by name (`None`:
    /// not kept).
    pub results: Option<String>,
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
    /// Group names as a JSON list.
    pub groups: String,
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
            groups: "[]".into(),
        }
    }

    /// The contact as a run sees it.
    pub fn to_json(&self) -> Value {
        let c = self.to_contact();
        serde_json::json!({
            "urn": c.urn, "channel": c.channel, "name": c.name, "language": c.language,
            "timezone": c.timezone, "phone": c.phone, "fields": c.fields, "groups": c.groups,
        })
    }

    /// The contact as a run holds it (what [`ContactRow::to_json`] says, without the round trip).
    pub fn to_contact(&self) -> crate::interp::Contact {
        let phone = self.urn.strip_prefix("tel:").or_else(|| self.urn.strip_prefix("whatsapp:")).unwrap_or_default();
        crate::interp::Contact {
            name: self.name.clone(),
            phone: phone.to_string(),
            email: String::new(),
            language: self.language.clone(),
            urn: self.urn.clone(),
            channel: self.channel.clone(),
            timezone: self.timezone.clone(),
            fields: match serde_json::from_str(&self.fields) {
                Ok(Value::Object(fields)) => fields,
                _ => Default::default(),
            },
            groups: serde_json::from_str(&self.groups).unwrap_or_default(),
        }
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
            groups: serde_json::to_string(&c.groups).unwrap_or_else(|_| "[]".into()),
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
    /// Quick replies offered with it (outgoing messages).
    pub quick_replies: Vec<String>,
    /// The run that sent it, or that it started or resumed.
    pub run_id: Option<String>,
    /// The flow that sent it (outgoing messages).
    pub flow: Option<String>,
    /// Where it stands.
    pub status: MessageStatus,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStatus {
    /// In, and a run took it.
    Handled,
    /// In, and nothing took it.
    Unhandled,
    /// Out, in the outbox.
    Pending,
    /// Out, and the gateway took it.
    Sent,
    /// Out, and its attempts ran out.
    Failed,
}

impl MessageStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Handled => "handled",
            MessageStatus::Unhandled => "unhandled",
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
        }
    }
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
    /// Quick replies offered with it.
    pub quick_replies: Vec<String>,
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
            Delivery::Sent => Some((MessageStatus::Sent.as_str(), None, None)),
            Delivery::Retry { at_ms, error } => {
                Some((MessageStatus::Pending.as_str(), Some(*at_ms as i64), Some(error.as_str())))
            }
            Delivery::Failed { error } => Some((MessageStatus::Failed.as_str(), None, Some(error.as_str()))),
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
            // The flow the run started with, whichever flow it has entered since.
            flow: state.root().flow.to_string(),
            status: state.status,
            deadline_ms,
            state: if state.status == RunStatus::Waiting { Some(serde_json::to_string(state)?) } else { None },
            events: if events.is_empty() { None } else { Some(serde_json::to_string(events)?) },
            results: Some(results_of(state).to_string()),
            version: version.map(str::to_string),
            contact: None,
            messages: Vec::new(),
        })
    }
}

/// A step as stored: its events, and the results it left (when kept).
pub type StepView = (Vec<Value>, Option<Value>);

/// The results of the flow the run is in, by name: `{"value": ..., "category": ...}`.
fn results_of(state: &crate::interp::RunState) -> Value {
    let mut out = serde_json::Map::new();
    for (name, slot) in state.slot_names.iter().zip(&state.slots) {
        if let Some(slot) = slot {
            let mut r = serde_json::Map::new();
            r.insert("value".into(), slot.value.clone());
            if let Some(c) = &slot.category {
                r.insert("category".into(), Value::String(c.clone()));
            }
            out.insert(name.clone(), Value::Object(r));
        }
    }
    Value::Object(out)
}

/// A webhook log entry ready to store.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// The webhook's name, for filtering.
    pub webhook: String,
    /// Whether the attempt failed ([`crate::webhook_log::failed`]), for filtering.
    pub failed: bool,
    /// The entry's time (ISO 8601 UTC, which sorts as time does), for retention.
    pub time: String,
    /// The entry as JSON.
    pub entry: String,
}

impl LogLine {
    /// A line from a log entry of [`crate::webhook_log::entries`].
    pub fn new(entry: &Value) -> LogLine {
        LogLine {
            webhook: entry["webhook"].as_str().unwrap_or_default().to_string(),
            failed: crate::webhook_log::failed(entry),
            time: entry["time"].as_str().unwrap_or_default().to_string(),
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
    /// Takes the locks of `keys` that are free, in one round trip (a group start's batch); the keys
    /// locked. The others are busy on another server.
    fn lock_free(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        Ok(keys.to_vec())
    }
    /// Releases locks taken with [`Store::lock_free`].
    fn unlock_all(&self, _keys: &[String]) {}
    /// Whether several servers may share the store (PostgreSQL): work a server holds (a group start)
    /// passes to another only when its lease runs out; a store of one server hands it back at once.
    fn shared(&self) -> bool {
        false
    }
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
    /// The versions kept of the file `name`, newest first: hash, when it was saved, source.
    fn versions_of(&self, name: &str, limit: usize) -> Result<Vec<(String, u64, String)>, StoreError>;
    /// Runs kept, counted by flow (the one they started with) and status.
    fn run_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// A run's steps in order: each one's events and the results it left (when kept).
    fn steps(&self, run_id: &str) -> Result<Vec<StepView>, StoreError>;
    /// Contacts whose URN or name holds `text`, without case (the console's search).
    fn find_contacts(&self, text: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError>;
    /// Which of `contact_ids` have a waiting run (a group start asks for a batch at once).
    fn waiting_contacts(&self, contact_ids: &[String]) -> Result<std::collections::HashSet<String>, StoreError>;
    /// Contacts whose URN sorts after `after`, in URN order, at most `limit`.
    fn contacts_after(&self, after: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError>;
    /// Records a new group start.
    fn create_start(&self, start: &StartRow) -> Result<(), StoreError>;
    /// A group start by id.
    fn start(&self, id: &str) -> Result<Option<StartRow>, StoreError>;
    /// The latest group starts, newest first.
    fn starts(&self, limit: usize) -> Result<Vec<StartRow>, StoreError>;
    /// Takes the oldest running start that no server holds (or that `owner` holds) until
    /// `lease_until_ms`.
    fn claim_start(&self, owner: &str, now_ms: u64, lease_until_ms: u64) -> Result<Option<StartRow>, StoreError>;
    /// Records a start's progress and renews its lease (its status too, unless it was cancelled); the
    /// start's status afterwards, `None` when `owner` no longer holds it.
    fn start_progress(&self, progress: &StartProgress<'_>) -> Result<Option<String>, StoreError>;
    /// Cancels a running start; false when none of that id runs.
    fn cancel_start(&self, id: &str) -> Result<bool, StoreError>;
}

/// A group start as stored (docs/serve.md, "Group starts").
#[derive(Clone, Debug, PartialEq)]
pub struct StartRow {
    /// `start-...`.
    pub id: String,
    /// The flow started.
    pub flow: String,
    /// The request: groups, URNs, what to do with contacts in a flow, the rate (JSON).
    pub spec: String,
    /// `running`, `completed`, `cancelled` or `failed`.
    pub status: String,
    /// The last URN handled ("" before the first).
    pub cursor: String,
    /// Runs started.
    pub started: u64,
    /// Contacts skipped (in a flow already, with `running: skip`).
    pub skipped: u64,
    /// Runs that could not be started or saved.
    pub failed: u64,
    /// Why a failed start stopped.
    pub error: Option<String>,
    /// When it was asked for.
    pub created_ms: u64,
    /// When it last moved.
    pub updated_ms: u64,
    /// The server working on it.
    pub owner: Option<String>,
}

/// A start's progress, as its server records it after each batch.
pub struct StartProgress<'a> {
    /// The start.
    pub id: &'a str,
    /// The server that holds it.
    pub owner: &'a str,
    /// The last URN handled.
    pub cursor: &'a str,
    /// Counts so far.
    pub started: u64,
    /// Counts so far.
    pub skipped: u64,
    /// Counts so far.
    pub failed: u64,
    /// `running` while it goes on.
    pub status: &'a str,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// Its lease, renewed.
    pub lease_until_ms: u64,
}

/// The kind of a sighting id: what comes before its first `:`, with the `:` (all of it if none).
pub(crate) fn sighting_kind(id: &str) -> &str {
    id.find(':').map_or(id, |i| &id[..=i])
}

/// An error with the errors that caused it: "error connecting to server: Connection refused".
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}
