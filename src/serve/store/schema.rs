//! The schema: one numbered list of migrations, applied to SQLite and PostgreSQL alike. Migration `i`
//! takes a database from version `i` to `i + 1`; a database remembers its version (SQLite in
//! `PRAGMA user_version`, PostgreSQL in the table `flowc_schema`) and a server refuses one newer than
//! it knows. The SQL is written once: `{serial}`, `{bigint}` and `{bool}` become each database's types.

use super::sql::Dialect;

/// The migrations, in order.
const MIGRATIONS: &[&str] = &[
    // 1: runs and their steps, the webhook log, versions, seen ids, contacts and messages.
    "
-- `state` is kept while a run waits (it is what a reply or a timeout continues) and dropped once the
-- run ends: a finished run is its status and its events.
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    deadline_ms {bigint},
    state TEXT,
    updated_ms {bigint} NOT NULL,
    version TEXT
);
CREATE INDEX runs_waiting ON runs (contact_id) WHERE status = 'waiting';
CREATE INDEX runs_deadline ON runs (deadline_ms) WHERE status = 'waiting';
-- Retention finds ended runs by age.
CREATE INDEX runs_ended ON runs (updated_ms) WHERE status <> 'waiting';
-- One row per step: the step's events as a JSON array.
CREATE TABLE steps (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE webhook_log (
    id {serial},
    webhook TEXT NOT NULL,
    failed {bool} NOT NULL,
    entry TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX webhook_log_time ON webhook_log (time);
-- Every program version the server ran, so that a run finishes on the version it started on.
CREATE TABLE versions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    saved_ms {bigint} NOT NULL
);
CREATE TABLE seen_signatures (
    id TEXT PRIMARY KEY,
    seen_ms {bigint} NOT NULL
);
-- Contacts by URN, with what flows set on them (docs/language.md §9).
CREATE TABLE contacts (
    urn TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    fields TEXT NOT NULL,
    updated_ms {bigint} NOT NULL
);
-- Messages in and out. Outgoing ones are the outbox: `pending` until a delivery succeeds (`sent`) or
-- the channel's retries run out (`failed`); `seq` keeps each contact's messages in order.
CREATE TABLE messages (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    urn TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    run_id TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms {bigint},
    error TEXT,
    created_ms {bigint} NOT NULL,
    updated_ms {bigint} NOT NULL
);
CREATE INDEX messages_pending ON messages (urn, seq) WHERE status = 'pending';
CREATE INDEX messages_contact ON messages (urn, seq);
CREATE INDEX messages_ended ON messages (updated_ms) WHERE status <> 'pending';
",
    // 2: contacts' time zones.
    "
ALTER TABLE contacts ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
",
    // 3: the outbox's claims (until when, and on PostgreSQL by which session), the flow that sent a
    // message, and the index the concurrent sender claims by.
    "
ALTER TABLE messages ADD COLUMN lease_ms {bigint};
ALTER TABLE messages ADD COLUMN lease_pid INTEGER;
ALTER TABLE messages ADD COLUMN flow TEXT;
CREATE INDEX messages_due ON messages (channel, seq) WHERE status = 'pending';
",
    // 4: quick replies offered with a message (a JSON list).
    "
ALTER TABLE messages ADD COLUMN quick_replies TEXT;
",
    // 5: the groups a contact is in (a JSON list of names).
    "
ALTER TABLE contacts ADD COLUMN group_names TEXT NOT NULL DEFAULT '[]';
",
    // 6: group starts: a flow started for groups and URNs as a job. `spec` is the request (JSON);
    // `cursor` the last URN handled, in URN order; a server works on a job while it holds its lease.
    "
CREATE TABLE starts (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    cursor TEXT NOT NULL DEFAULT '',
    started {bigint} NOT NULL DEFAULT 0,
    skipped {bigint} NOT NULL DEFAULT 0,
    failed {bigint} NOT NULL DEFAULT 0,
    error TEXT,
    owner TEXT,
    lease_ms {bigint},
    created_ms {bigint} NOT NULL,
    updated_ms {bigint} NOT NULL
);
CREATE INDEX starts_running ON starts (created_ms) WHERE status = 'running';
",
    // 7: each step's results as the step left them (a JSON object), for the console.
    "
ALTER TABLE steps ADD COLUMN results TEXT;
",
];

/// The schema version this build of flowc writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The migrations a database at `version` still needs, in `dialect`.
pub(super) fn pending(version: i32, dialect: Dialect) -> Vec<String> {
    MIGRATIONS[version.clamp(0, SCHEMA_VERSION) as usize..].iter().map(|m| in_dialect(m, dialect)).collect()
}

/// `sql` with the type names of `dialect`.
fn in_dialect(sql: &str, dialect: Dialect) -> String {
    let (serial, bigint, boolean) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", "INTEGER"),
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT", "BOOLEAN"),
    };
    sql.replace("{serial}", serial).replace("{bigint}", bigint).replace("{bool}", boolean)
}

/// A database whose schema is newer than this build knows.
pub(super) fn too_new(version: i32) -> String {
    format!(
        "the database's schema is version {version}, newer than this flowc knows ({SCHEMA_VERSION}): \
         upgrade flowc, or point it at another database"
    )
}

/// Migration 1 as statements that change nothing where their table or index exists: for SQLite files
/// written before versions were numbered, whose tables each came with `IF NOT EXISTS`.
pub(super) fn first_if_missing() -> String {
    in_dialect(MIGRATIONS[0], Dialect::Sqlite)
        .replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
        .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
}
