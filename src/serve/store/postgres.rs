//! The PostgreSQL store (`flowc serve --db postgres://...`): the same tables as SQLite's, created by
//! versioned migrations that the first server to start applies (under an advisory lock, so that two
//! servers starting together do not both migrate). A server refuses a database whose schema is newer
//! than it knows. Three connections per server, each used by one statement at a time: one for
//! requests, the scheduler and retention (as SQLite's one), one for the outbox's claims and outcomes,
//! and one that LISTENs for committed messages.

use std::sync::Mutex;

use postgres::{Client, NoTls};
use serde_json::Value;

use super::{
    Attempted, Channels, ContactRow, Direction, LogLine, MessageRow, OutMessage, RunSummary, StepRecord, Store,
    StoreError, StoredRun,
};

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The server's own message (constraint, disk full, ...) when it sent one.
        match e.as_db_error() {
            Some(db) => StoreError::new(format!("postgres: {}", db.message())),
            None => StoreError::new(format!("postgres: {}", crate::serve::with_causes(&e))),
        }
    }
}

/// The migrations, in order: migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    deadline_ms BIGINT,
    state TEXT,
    updated_ms BIGINT NOT NULL,
    version TEXT
);
CREATE INDEX runs_waiting ON runs (contact_id) WHERE status = 'waiting';
CREATE INDEX runs_deadline ON runs (deadline_ms) WHERE status = 'waiting';
CREATE INDEX runs_ended ON runs (updated_ms) WHERE status <> 'waiting';
CREATE TABLE steps (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE webhook_log (
    id BIGSERIAL PRIMARY KEY,
    webhook TEXT NOT NULL,
    failed BOOLEAN NOT NULL,
    entry TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX webhook_log_time ON webhook_log (time);
CREATE TABLE versions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    saved_ms BIGINT NOT NULL
);
CREATE TABLE seen_signatures (
    id TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
CREATE TABLE contacts (
    urn TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    fields TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE messages (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    urn TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    run_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT,
    error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX messages_pending ON messages (urn, seq) WHERE status = 'pending';
CREATE INDEX messages_contact ON messages (urn, seq);
CREATE INDEX messages_ended ON messages (updated_ms) WHERE status <> 'pending';
",
    "
ALTER TABLE contacts ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
",
    // Claims of the outbox's concurrent sender (until when, and by which session), and the index it
    // claims by.
    "
ALTER TABLE messages ADD COLUMN IF NOT EXISTS lease_ms BIGINT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS lease_pid INTEGER;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS flow TEXT;
CREATE INDEX IF NOT EXISTS messages_due ON messages (channel, seq) WHERE status = 'pending';
",
];

/// A connection that LISTENs for committed outgoing messages.
fn listen(config: &postgres::Config) -> Result<Client, postgres::Error> {
    let mut listener = config.connect(NoTls)?;
    listener.batch_execute("LISTEN flowc_outbox")?;
    Ok(listener)
}

/// The schema version this build of flowc writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// An arbitrary constant that names flowc's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x666c_6f77_6300_0001;

/// A store on a PostgreSQL server.
pub struct PostgresStore {
    /// How to connect again (a restarted or failed-over database).
    config: postgres::Config,
    /// Whether the database is reachable, and when to try again when it is not.
    health: Mutex<Health>,
    client: Mutex<Client>,
    /// The sender's connection, which holds a message's row lock while it is delivered.
    sender: Mutex<Client>,
    /// A second connection that LISTENs for committed outgoing messages (`NOTIFY flowc_outbox`), so that
    /// an idle sender wakes at once on whichever server committed them. `None` when it failed.
    listener: Mutex<Option<Client>>,
}

/// The database's reachability as the connections found it.
struct Health {
    /// Since when the database has been gone (said once in the log), if it is.
    down_since: Option<std::time::Instant>,
    /// No connection is tried again before this.
    next_try: std::time::Instant,
    /// The wait after the next failed try: from 250 ms, doubled, at most 5 s.
    backoff: std::time::Duration,
    /// When the database was last found back: another connection found closed soon after is the
    /// same outage, connected again without a word.
    back_at: Option<std::time::Instant>,
    /// The next try at LISTENing again, while the outbox is polled.
    listen_at: std::time::Instant,
}

/// How long after the database came back a connection found closed still belongs to that outage.
const SAME_OUTAGE: std::time::Duration = std::time::Duration::from_secs(30);

/// How long connecting may take before it counts as failed.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, or `host=... user=...`) and brings
    /// the schema up to date; refuses a schema newer than this build knows.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(StoreError::from)?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let mut client = config.connect(NoTls).map_err(StoreError::from)?;
        migrate(&mut client)?;
        let listener = match listen(&config) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("flowc: no LISTEN connection ({}); the outbox is polled", StoreError::from(e));
                None
            }
        };
        let sender = config.connect(NoTls).map_err(StoreError::from)?;
        let health = Health {
            down_since: None,
            next_try: std::time::Instant::now(),
            backoff: std::time::Duration::from_millis(250),
            back_at: None,
            listen_at: std::time::Instant::now(),
        };
        Ok(PostgresStore {
            config,
            health: Mutex::new(health),
            client: Mutex::new(client),
            sender: Mutex::new(sender),
            listener: Mutex::new(listener),
        })
    }

    /// The shared connection, connected again first if the database closed it (a restart, a
    /// failover): requests fail with "try again" only while the database is really away.
    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.live(&self.client)
    }

    /// The sender's connection, connected again like [`Self::client`].
    fn sender(&self) -> std::sync::MutexGuard<'_, Client> {
        self.live(&self.sender)
    }

    /// `connection`, locked, and connected again first if the database closed it.
    fn live<'a>(&self, connection: &'a Mutex<Client>) -> std::sync::MutexGuard<'a, Client> {
        let mut held = connection.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_closed() {
            self.revive(&mut held);
        }
        held
    }

    /// Replaces a closed connection with a new one, with backoff between tries (250 ms doubling to
    /// 5 s). The log says once that the database is gone and once that it is back; meanwhile
    /// [`Store::available`] is false, so the background loops do not repeat the error.
    fn revive(&self, closed: &mut Client) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let tail = health.down_since.is_none() && health.back_at.is_some_and(|b| now.duration_since(b) < SAME_OUTAGE);
        if tail && let Ok(fresh) = self.config.connect(NoTls) {
            *closed = fresh;
            return;
        }
        if health.down_since.is_none() {
            eprintln!("flowc: the database connection is gone; connecting again with backoff");
            health.down_since = Some(now);
            health.next_try = now;
            health.backoff = std::time::Duration::from_millis(250);
        }
        if now < health.next_try {
            return;
        }
        match self.config.connect(NoTls) {
            Ok(fresh) => {
                *closed = fresh;
                let gone = health.down_since.take().map_or(0.0, |d| d.elapsed().as_secs_f64());
                eprintln!("flowc: the database is back after {gone:.1} s");
                health.back_at = Some(now);
                drop(health);
                // The other connections too, where nobody holds them: the sender's, and LISTEN.
                if let Ok(mut sender) = self.sender.try_lock()
                    && sender.is_closed()
                    && let Ok(fresh) = self.config.connect(NoTls)
                {
                    *sender = fresh;
                }
                if let Ok(mut listener) = self.listener.try_lock()
                    && listener.as_ref().is_none_or(Client::is_closed)
                {
                    *listener = listen(&self.config).ok();
                }
            }
            Err(_) => {
                health.next_try = now + health.backoff;
                health.backoff = (health.backoff * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }

    fn decode_run(row: &postgres::Row) -> Result<StoredRun, StoreError> {
        let state: String = row.get(0);
        Ok(StoredRun {
            state: serde_json::from_str(&state)?,
            contact_id: row.get(1),
            deadline_ms: row.get::<_, Option<i64>>(2).map(|d| d as u64),
            version: row.get(3),
        })
    }
}

/// Applies the migrations the database has not had, in one transaction under the migration lock.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS flowc_schema (version INTEGER NOT NULL)")?;
    let current: Option<i32> = tx.query_opt("SELECT version FROM flowc_schema", &[])?.map(|r| r.get(0));
    let current = current.unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::new(format!(
            "the database's schema is version {current}, newer than this flowc knows ({SCHEMA_VERSION}): \
             upgrade flowc, or point it at another database"
        )));
    }
    for migration in &MIGRATIONS[current as usize..] {
        tx.batch_execute(migration)?;
    }
    if current == 0 {
        tx.execute("INSERT INTO flowc_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])?;
    } else if current < SCHEMA_VERSION {
        tx.execute("UPDATE flowc_schema SET version = $1", &[&SCHEMA_VERSION])?;
    }
    tx.commit()?;
    Ok(())
}

/// Due at `$1` and not claimed: each contact's oldest pending message only (messages arrive in the
/// order they were sent); a claimed one holds its contact's later messages back. A claim ends at its
/// time or with the session that made it (a server that died), whichever comes first.
const DUE: &str = "m.status = 'pending' AND m.next_ms <= $1
       AND (m.lease_ms IS NULL OR m.lease_ms <= $1 OR NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(m.lease_pid)))
       AND m.seq = (SELECT MIN(o.seq) FROM messages o WHERE o.urn = m.urn AND o.status = 'pending')";

/// An outbox row: id, urn, channel, text, run_id, attempts.
fn out_message(r: &postgres::Row) -> OutMessage {
    OutMessage {
        id: r.get("id"),
        urn: r.get("urn"),
        channel: r.get("channel"),
        text: r.get("text"),
        run_id: r.get("run_id"),
        attempts: r.get::<_, i32>("attempts") as u32,
        flow: r.get("flow"),
    }
}

fn now() -> i64 {
    crate::time::now_millis() as i64
}

fn insert_message(tx: &mut postgres::Transaction<'_>, m: &MessageRow, now: i64) -> Result<(), StoreError> {
    let direction = match m.direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    let next = (m.status == "pending").then_some(now);
    tx.execute(
        "INSERT INTO messages (id, urn, channel, direction, text, run_id, status, next_ms, created_ms, updated_ms, flow)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
        &[&m.id, &m.urn, &m.channel, &direction, &m.text, &m.run_id, &m.status, &next, &now, &m.flow],
    )?;
    Ok(())
}

impl Store for PostgresStore {
    fn save_batch(&self, steps: &[StepRecord], log: &[LogLine]) -> Result<(), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let now = now();
        // Runs and steps go in one statement each (arrays unnested), not a round trip per row: a busy
        // server commits hundreds of steps at a time. Each run occurs once in a batch (a run's next step
        // waits for the commit of the one before); should one not, its steps go one by one.
        let mut seen = std::collections::HashSet::new();
        let (batched, one_by_one): (Vec<&StepRecord>, Vec<&StepRecord>) =
            steps.iter().partition(|s| seen.insert(s.run_id.as_str()));
        if !batched.is_empty() {
            let col = |f: &dyn Fn(&StepRecord) -> Option<String>| batched.iter().map(|s| f(s)).collect::<Vec<_>>();
            let ids = col(&|s| Some(s.run_id.clone()));
            let contacts = col(&|s| Some(s.contact_id.clone()));
            let flows = col(&|s| Some(s.flow.clone()));
            let statuses = col(&|s| Some(s.status.as_str().to_string()));
            let deadlines: Vec<Option<i64>> = batched.iter().map(|s| s.deadline_ms.map(|d| d as i64)).collect();
            let states = col(&|s| s.state.clone());
            let versions = col(&|s| s.version.clone());
            tx.execute(
                "INSERT INTO runs (id, contact_id, flow, status, deadline_ms, state, updated_ms, version)
                 SELECT u.id, u.contact_id, u.flow, u.status, u.deadline_ms, u.state, $7, u.version
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[], $8::TEXT[])
                   AS u(id, contact_id, flow, status, deadline_ms, state, version)
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, deadline_ms = EXCLUDED.deadline_ms,
                   state = EXCLUDED.state, updated_ms = EXCLUDED.updated_ms",
                &[&ids, &contacts, &flows, &statuses, &deadlines, &states, &now, &versions],
            )?;
            let with_events: Vec<&&StepRecord> = batched.iter().filter(|s| s.events.is_some()).collect();
            let step_ids: Vec<&str> = with_events.iter().map(|s| s.run_id.as_str()).collect();
            let events: Vec<&str> = with_events.iter().filter_map(|s| s.events.as_deref()).collect();
            tx.execute(
                "INSERT INTO steps (run_id, seq, events)
                 SELECT u.run_id, COALESCE((SELECT MAX(s.seq) FROM steps s WHERE s.run_id = u.run_id), -1) + 1, u.events
                 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u(run_id, events)",
                &[&step_ids, &events],
            )?;
        }
        for step in &one_by_one {
            let deadline = step.deadline_ms.map(|d| d as i64);
            tx.execute(
                "INSERT INTO runs (id, contact_id, flow, status, deadline_ms, state, updated_ms, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET status = $4, deadline_ms = $5, state = $6, updated_ms = $7",
                &[
                    &step.run_id,
                    &step.contact_id,
                    &step.flow,
                    &step.status.as_str(),
                    &deadline,
                    &step.state,
                    &now,
                    &step.version,
                ],
            )?;
            if let Some(events) = &step.events {
                tx.execute(
                    "INSERT INTO steps (run_id, seq, events)
                     VALUES ($1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM steps WHERE run_id = $1), $2)",
                    &[&step.run_id, events],
                )?;
            }
        }
        for step in steps {
            if let Some(c) = &step.contact {
                tx.execute(
                    "INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (urn) DO UPDATE
                     SET channel = $2, name = $3, language = $4, fields = $5, updated_ms = $6, timezone = $7",
                    &[&c.urn, &c.channel, &c.name, &c.language, &c.fields, &now, &c.timezone],
                )?;
            }
            for m in &step.messages {
                insert_message(&mut tx, m, now)?;
            }
        }
        // Wake the senders of every server (delivered when the transaction commits).
        if steps.iter().any(|s| s.messages.iter().any(|m| m.status == "pending")) {
            tx.batch_execute("NOTIFY flowc_outbox")?;
        }
        if !log.is_empty() {
            let webhooks: Vec<&str> = log.iter().map(|l| l.webhook.as_str()).collect();
            let failed: Vec<bool> = log.iter().map(|l| l.failed).collect();
            let entries: Vec<&str> = log.iter().map(|l| l.entry.as_str()).collect();
            let times: Vec<String> = log
                .iter()
                .map(|l| {
                    serde_json::from_str::<Value>(&l.entry)
                        .ok()
                        .and_then(|v| v["time"].as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect();
            tx.execute(
                "INSERT INTO webhook_log (webhook, failed, entry, time)
                 SELECT * FROM UNNEST($1::TEXT[], $2::BOOLEAN[], $3::TEXT[], $4::TEXT[])",
                &[&webhooks, &failed, &entries, &times],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn waiting_run(&self, contact_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let row = self.client().query_opt(
            "SELECT state, contact_id, deadline_ms, version FROM runs WHERE contact_id = $1 AND status = 'waiting'
             ORDER BY updated_ms DESC LIMIT 1",
            &[&contact_id],
        )?;
        row.as_ref().map(Self::decode_run).transpose()
    }

    fn due_runs(&self, now_ms: u64) -> Result<Vec<StoredRun>, StoreError> {
        let rows = self.client().query(
            "SELECT state, contact_id, deadline_ms, version FROM runs WHERE status = 'waiting' AND deadline_ms <= $1 LIMIT 100",
            &[&(now_ms as i64)],
        )?;
        rows.iter().map(Self::decode_run).collect()
    }

    fn run(&self, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let row = self.client().query_opt(
            "SELECT state, contact_id, deadline_ms, version FROM runs WHERE id = $1 AND state IS NOT NULL",
            &[&run_id],
        )?;
        row.as_ref().map(Self::decode_run).transpose()
    }

    fn summary(&self, run_id: &str) -> Result<Option<RunSummary>, StoreError> {
        let row = self.client().query_opt("SELECT flow, status, contact_id FROM runs WHERE id = $1", &[&run_id])?;
        Ok(row.map(|r| RunSummary { flow: r.get(0), status: r.get(1), contact_id: r.get(2) }))
    }

    fn events(&self, run_id: &str) -> Result<Vec<Value>, StoreError> {
        let rows = self.client().query("SELECT events FROM steps WHERE run_id = $1 ORDER BY seq", &[&run_id])?;
        let mut out = Vec::new();
        for row in rows {
            match serde_json::from_str::<Value>(row.get(0))? {
                Value::Array(events) => out.extend(events),
                other => out.push(other),
            }
        }
        Ok(out)
    }

    fn read_log(&self, webhook: Option<&str>, failed_only: bool, limit: usize) -> Result<Vec<Value>, StoreError> {
        let rows = self.client().query(
            "SELECT entry FROM webhook_log WHERE ($1::TEXT IS NULL OR webhook = $1) AND (NOT $2 OR failed)
             ORDER BY id DESC LIMIT $3",
            &[&webhook, &failed_only, &(limit as i64)],
        )?;
        rows.iter().map(|r| Ok(serde_json::from_str(r.get(0))?)).collect()
    }

    fn first_sighting(&self, id: &str, now_ms: u64, forget_before_ms: u64) -> Result<bool, StoreError> {
        let mut client = self.client();
        let kind = super::sighting_kind(id);
        client.execute(
            "DELETE FROM seen_signatures WHERE seen_ms < $1 AND substr(id, 1, $2) = $3",
            &[&(forget_before_ms as i64), &(kind.chars().count() as i32), &kind],
        )?;
        let inserted = client.execute(
            "INSERT INTO seen_signatures (id, seen_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            &[&id, &(now_ms as i64)],
        )?;
        Ok(inserted == 1)
    }

    fn forget_sighting(&self, id: &str) -> Result<(), StoreError> {
        self.client().execute("DELETE FROM seen_signatures WHERE id = $1", &[&id])?;
        Ok(())
    }

    fn purge(&self, before_ms: u64, batch: usize) -> Result<usize, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let (before, batch) = (before_ms as i64, batch as i64);
        let ids: Vec<String> = tx
            .query(
                "SELECT id FROM runs WHERE status <> 'waiting' AND updated_ms < $1 ORDER BY updated_ms LIMIT $2",
                &[&before, &batch],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut gone = 0u64;
        gone += tx.execute("DELETE FROM steps WHERE run_id = ANY($1)", &[&ids])?;
        gone += tx.execute("DELETE FROM runs WHERE id = ANY($1) AND status <> 'waiting'", &[&ids])?;
        gone += tx.execute(
            "DELETE FROM messages WHERE seq IN
               (SELECT seq FROM messages WHERE status <> 'pending' AND updated_ms < $1 ORDER BY updated_ms LIMIT $2)",
            &[&before, &batch],
        )?;
        let cutoff = crate::time::iso(before_ms);
        gone += tx.execute(
            "DELETE FROM webhook_log WHERE id IN (SELECT id FROM webhook_log WHERE time < $1 ORDER BY id LIMIT $2)",
            &[&cutoff, &batch],
        )?;
        tx.commit()?;
        Ok(gone as usize)
    }

    fn waiting_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.client().query_one("SELECT COUNT(*) FROM runs WHERE status = 'waiting'", &[])?.get(0);
        Ok(n as u64)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        tx.execute(
            "INSERT INTO seen_signatures (id, seen_ms) VALUES ('flowc-readyz-probe', 0) ON CONFLICT (id) DO NOTHING",
            &[],
        )?;
        tx.rollback()?;
        Ok(())
    }

    fn save_version(&self, hash: &str, name: &str, source: &str) -> Result<(), StoreError> {
        self.client().execute(
            "INSERT INTO versions (hash, name, source, saved_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
            &[&hash, &name, &source, &now()],
        )?;
        Ok(())
    }

    fn version_source(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self.client().query_opt("SELECT source FROM versions WHERE hash = $1", &[&hash])?.map(|r| r.get(0)))
    }

    fn purge_versions(&self, keep: &[&str]) -> Result<usize, StoreError> {
        let keep: Vec<String> = keep.iter().map(|k| k.to_string()).collect();
        let gone = self.client().execute(
            "DELETE FROM versions WHERE hash <> ALL($1)
               AND hash NOT IN (SELECT version FROM runs WHERE version IS NOT NULL)",
            &[&keep],
        )?;
        Ok(gone as usize)
    }

    fn outbox_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.client().query_one("SELECT COUNT(*) FROM messages WHERE status = 'pending'", &[])?.get(0);
        Ok(n as u64)
    }

    fn contact(&self, urn: &str) -> Result<Option<ContactRow>, StoreError> {
        let row = self
            .client()
            .query_opt("SELECT urn, channel, name, language, fields, timezone FROM contacts WHERE urn = $1", &[&urn])?;
        Ok(row.map(|r| ContactRow {
            urn: r.get(0),
            channel: r.get(1),
            name: r.get(2),
            language: r.get(3),
            fields: r.get(4),
            timezone: r.get(5),
        }))
    }

    fn contact_messages(&self, urn: &str, limit: usize) -> Result<Vec<Value>, StoreError> {
        let rows = self.client().query(
            "SELECT id, channel, direction, text, run_id, status, attempts, error, created_ms FROM messages
             WHERE urn = $1 ORDER BY seq DESC LIMIT $2",
            &[&urn, &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.get::<_, String>(0),
                    "channel": r.get::<_, String>(1),
                    "direction": r.get::<_, String>(2),
                    "text": r.get::<_, String>(3),
                    "run_id": r.get::<_, Option<String>>(4),
                    "status": r.get::<_, String>(5),
                    "attempts": r.get::<_, i32>(6),
                    "error": r.get::<_, Option<String>>(7),
                    "time": crate::time::iso(r.get::<_, i64>(8) as u64),
                })
            })
            .collect())
    }

    fn save_messages(&self, messages: &[MessageRow]) -> Result<(), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let now = now();
        for m in messages {
            insert_message(&mut tx, m, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn due_messages(&self, now_ms: u64, limit: usize) -> Result<Vec<OutMessage>, StoreError> {
        let rows = self.client().query(
            &format!(
                "SELECT m.id, m.urn, m.channel, m.text, m.run_id, m.attempts, m.flow FROM messages m
                 WHERE {DUE} ORDER BY m.seq LIMIT $2"
            ),
            &[&(now_ms as i64), &(limit as i64)],
        )?;
        Ok(rows.iter().map(out_message).collect())
    }

    fn claim_messages(
        &self,
        channels: Channels<'_>,
        now_ms: u64,
        limit: usize,
        lease_until_ms: u64,
    ) -> Result<Vec<OutMessage>, StoreError> {
        let (filter, names): (&str, Vec<String>) = match channels {
            Channels::Only(name) => ("m.channel = $4", vec![name.to_string()]),
            Channels::NoneOf(names) => ("m.channel <> ALL($4)", names.to_vec()),
        };
        // Rows another server is claiming are skipped, not waited for; once its claim commits they are
        // no longer due.
        let sql = format!(
            "UPDATE messages SET lease_ms = $3, lease_pid = pg_backend_pid() WHERE id IN
               (SELECT m.id FROM messages m WHERE {DUE} AND {filter} ORDER BY m.seq LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING seq, id, urn, channel, text, run_id, attempts, flow"
        );
        let (now, limit, lease) = (now_ms as i64, limit as i64, lease_until_ms as i64);
        let rows = match channels {
            Channels::Only(_) => self.sender().query(&sql, &[&now, &limit, &lease, &names[0]])?,
            Channels::NoneOf(_) => self.sender().query(&sql, &[&now, &limit, &lease, &names])?,
        };
        let mut claimed: Vec<(i64, OutMessage)> = rows.iter().map(|r| (r.get("seq"), out_message(r))).collect();
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, m)| m).collect())
    }

    fn available(&self) -> bool {
        let down = self.health.lock().unwrap_or_else(|p| p.into_inner()).down_since.is_some();
        // A connection found closed but not yet looked at by `client()` counts as away too.
        !down && self.client.try_lock().map_or(true, |c| !c.is_closed())
    }

    fn wait_for_outbox(&self, max: std::time::Duration) {
        use postgres::fallible_iterator::FallibleIterator;
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        let failed = match listener.as_mut() {
            None => {
                // Polled meanwhile; LISTEN is tried again every few seconds (a database that came back).
                let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
                if std::time::Instant::now() >= health.listen_at && health.down_since.is_none() {
                    health.listen_at = std::time::Instant::now() + std::time::Duration::from_secs(5);
                    drop(health);
                    *listener = listen(&self.config).ok();
                } else {
                    drop(health);
                }
                std::thread::sleep(max.min(std::time::Duration::from_millis(50)));
                return;
            }
            Some(client) => {
                let woke = client.notifications().timeout_iter(max).next().map(|_| ());
                // Several commits may have notified: one round of the sender takes all their messages.
                woke.and_then(|()| client.notifications().iter().count().map(|_| ())).err()
            }
        };
        if failed.is_some() {
            // Polled until LISTEN works again; a database that went away is said once by the other
            // connections, which are needed to do anything.
            *listener = None;
        }
    }

    fn wake_outbox(&self) {
        if let Err(e) = self.client().batch_execute("NOTIFY flowc_outbox") {
            eprintln!("flowc: {}", StoreError::from(e));
        }
    }

    fn lock(&self, key: &str, wait: std::time::Duration) -> Result<(), StoreError> {
        // A session lock tried, not waited for: the connection is shared by the server's threads, and a
        // blocked statement would hold all of them up.
        let began = std::time::Instant::now();
        loop {
            let got: bool =
                self.client().query_one("SELECT pg_try_advisory_lock(hashtextextended($1, 7))", &[&key])?.get(0);
            if got {
                return Ok(());
            }
            if began.elapsed() >= wait {
                return Err(StoreError::new(format!("{key} is busy on another server")));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn unlock(&self, key: &str) {
        if let Err(e) = self.client().query_one("SELECT pg_advisory_unlock(hashtextextended($1, 7))", &[&key]) {
            eprintln!("flowc: cannot release the lock of {key}: {}", StoreError::from(e));
        }
    }

    fn delivered(&self, outcomes: &[Attempted]) -> Result<(), StoreError> {
        let now = now();
        let mut client = self.sender();
        let mut tx = client.transaction()?;
        let update = tx.prepare(
            "UPDATE messages SET status = $2, attempts = $3, next_ms = $4, error = $5, updated_ms = $6, lease_ms = NULL
             WHERE id = $1",
        )?;
        let release = tx.prepare("UPDATE messages SET lease_ms = NULL WHERE id = $1")?;
        for o in outcomes {
            match o.delivery.columns() {
                Some((status, next, error)) => {
                    tx.execute(&update, &[&o.id, &status, &(o.attempts as i32), &next, &error, &now])?;
                }
                None => {
                    tx.execute(&release, &[&o.id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}
