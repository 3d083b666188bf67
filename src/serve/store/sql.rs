//! The store's SQL, written once for SQLite and PostgreSQL, and the row decoding, done once.
//!
//! Statements use numbered `?1` placeholders, as SQLite takes them on the hot path (the writer's
//! inserts) with no rewriting; [`Db`] is the small dialect layer each database implements
//! (PostgreSQL's turns `?1` into `$1`), with [`Param`] for the values and [`Row`] for the columns, so
//! that a query and what is read from it are written in one place. What only one
//! database has stays with it: PostgreSQL's batched inserts (arrays unnested), `FOR UPDATE SKIP
//! LOCKED`, advisory locks and `NOTIFY`.

use serde_json::Value;

use super::{
    Attempted, Channels, ContactRow, Direction, LogLine, MessageRow, OutMessage, RunSummary, StartProgress, StartRow,
    StepRecord, StoreError, StoredRun,
};

/// The two databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement's value.
#[derive(Clone, Copy, Debug)]
pub(super) enum Param<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bool(bool),
}

/// A row's columns by position.
pub(super) trait Row {
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
}

/// A connection or a transaction of either database.
pub(super) trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs a query, calling `each` for every row.
    fn query(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Every row of a query, decoded.
fn all<T>(
    db: &mut dyn Db,
    sql: &str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    db.query(sql, params, &mut |r| {
        out.push(decode(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// The first row of a query, decoded.
fn first<T>(
    db: &mut dyn Db,
    sql: &str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    Ok(all(db, sql, params, decode)?.into_iter().next())
}

fn count(db: &mut dyn Db, sql: &str) -> Result<u64, StoreError> {
    Ok(first(db, sql, &[], |r| r.int(0))?.unwrap_or(0) as u64)
}

fn now() -> i64 {
    crate::time::now_millis() as i64
}

// ---------------------------------------------------------------------------------------------- runs

const RUN_COLUMNS: &str = "state, contact_id, deadline_ms, version";

fn run_row(r: &dyn Row) -> Result<StoredRun, StoreError> {
    Ok(StoredRun {
        state: serde_json::from_str(&r.text(0)?)?,
        contact_id: r.text(1)?,
        deadline_ms: r.opt_int(2)?.map(|d| d as u64),
        version: r.opt_text(3)?,
    })
}

/// Saves a run after a step, and the step's events.
pub(super) fn save_run(db: &mut dyn Db, step: &StepRecord, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO runs (id, contact_id, flow, status, deadline_ms, state, updated_ms, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET status = ?4, deadline_ms = ?5, state = ?6, updated_ms = ?7",
        &[
            Param::Text(&step.run_id),
            Param::Text(&step.contact_id),
            Param::Text(&step.flow),
            Param::Text(step.status.as_str()),
            Param::OptInt(step.deadline_ms.map(|d| d as i64)),
            Param::OptText(step.state.as_deref()),
            Param::Int(now),
            Param::OptText(step.version.as_deref()),
        ],
    )?;
    if let Some(events) = &step.events {
        db.execute(
            "INSERT INTO steps (run_id, seq, events, results)
             VALUES (?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM steps WHERE run_id = ?1), ?2, ?3)",
            &[Param::Text(&step.run_id), Param::Text(events), Param::OptText(step.results.as_deref())],
        )?;
    }
    Ok(())
}

pub(super) fn waiting_run(db: &mut dyn Db, contact_id: &str) -> Result<Option<StoredRun>, StoreError> {
    first(
        db,
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE contact_id = ?1 AND status = 'waiting' ORDER BY updated_ms DESC LIMIT 1"
        ),
        &[Param::Text(contact_id)],
        run_row,
    )
}

/// Which of `contact_ids` have a waiting run.
pub(super) fn waiting_contacts(
    db: &mut dyn Db,
    contact_ids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if contact_ids.is_empty() {
        return Ok(Default::default());
    }
    let marks: Vec<String> = (1..=contact_ids.len()).map(|i| format!("?{i}")).collect();
    let params: Vec<Param<'_>> = contact_ids.iter().map(|c| Param::Text(c)).collect();
    let sql = format!(
        "SELECT DISTINCT contact_id FROM runs WHERE status = 'waiting' AND contact_id IN ({})",
        marks.join(", ")
    );
    Ok(all(db, &sql, &params, |r| r.text(0))?.into_iter().collect())
}

pub(super) fn due_runs(db: &mut dyn Db, now_ms: u64) -> Result<Vec<StoredRun>, StoreError> {
    all(
        db,
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE status = 'waiting' AND deadline_ms <= ?1 LIMIT 100"),
        &[Param::Int(now_ms as i64)],
        run_row,
    )
}

pub(super) fn run(db: &mut dyn Db, run_id: &str) -> Result<Option<StoredRun>, StoreError> {
    first(
        db,
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND state IS NOT NULL"),
        &[Param::Text(run_id)],
        run_row,
    )
}

pub(super) fn summary(db: &mut dyn Db, run_id: &str) -> Result<Option<RunSummary>, StoreError> {
    first(db, "SELECT flow, status, contact_id FROM runs WHERE id = ?1", &[Param::Text(run_id)], |r| {
        let status = r.text(1)?;
        let status = crate::interp::RunStatus::parse(&status).ok_or_else(|| {
            StoreError::new(format!("the run {run_id} has the status `{status}`, which flowc does not know"))
        })?;
        Ok(RunSummary { flow: r.text(0)?, status, contact_id: r.text(2)? })
    })
}

/// A run's steps in order: each one's events and the results it left (when kept).
pub(super) fn steps(db: &mut dyn Db, run_id: &str) -> Result<Vec<super::StepView>, StoreError> {
    let rows =
        all(db, "SELECT events, results FROM steps WHERE run_id = ?1 ORDER BY seq", &[Param::Text(run_id)], |r| {
            Ok((r.text(0)?, r.opt_text(1)?))
        })?;
    let mut out = Vec::new();
    for (events, results) in rows {
        let events = match serde_json::from_str::<Value>(&events)? {
            Value::Array(events) => events,
            other => vec![other],
        };
        let results = results.map(|r| serde_json::from_str::<Value>(&r)).transpose()?;
        out.push((events, results));
    }
    Ok(out)
}

pub(super) fn events(db: &mut dyn Db, run_id: &str) -> Result<Vec<Value>, StoreError> {
    let steps =
        all(db, "SELECT events FROM steps WHERE run_id = ?1 ORDER BY seq", &[Param::Text(run_id)], |r| r.text(0))?;
    let mut out = Vec::new();
    for step in steps {
        match serde_json::from_str::<Value>(&step)? {
            Value::Array(events) => out.extend(events),
            other => out.push(other),
        }
    }
    Ok(out)
}

pub(super) fn waiting_count(db: &mut dyn Db) -> Result<u64, StoreError> {
    count(db, "SELECT COUNT(*) FROM runs WHERE status = 'waiting'")
}

// ------------------------------------------------------------------------------------- the webhook log

pub(super) fn insert_log(db: &mut dyn Db, line: &LogLine) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO webhook_log (webhook, failed, entry, time) VALUES (?1, ?2, ?3, ?4)",
        &[Param::Text(&line.webhook), Param::Bool(line.failed), Param::Text(&line.entry), Param::Text(&line.time)],
    )?;
    Ok(())
}

pub(super) fn read_log(
    db: &mut dyn Db,
    webhook: Option<&str>,
    failed_only: bool,
    limit: usize,
) -> Result<Vec<Value>, StoreError> {
    all(
        db,
        "SELECT entry FROM webhook_log WHERE (CAST(?1 AS TEXT) IS NULL OR webhook = ?1) AND (NOT ?2 OR failed)
         ORDER BY id DESC LIMIT ?3",
        &[Param::OptText(webhook), Param::Bool(failed_only), Param::Int(limit as i64)],
        |r| Ok(serde_json::from_str(&r.text(0)?)?),
    )
}

// ------------------------------------------------------------------------------------------ retention

/// Deletes at most `batch` ended runs older than `before_ms` with their steps, `batch` messages no
/// longer pending and `batch` log lines; how many rows went.
pub(super) fn purge(db: &mut dyn Db, before_ms: u64, batch: usize) -> Result<usize, StoreError> {
    let (before, batch) = (before_ms as i64, batch as i64);
    let ids = all(
        db,
        "SELECT id FROM runs WHERE status <> 'waiting' AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2",
        &[Param::Int(before), Param::Int(batch)],
        |r| r.text(0),
    )?;
    let mut gone = 0;
    for id in &ids {
        gone += db.execute("DELETE FROM steps WHERE run_id = ?1", &[Param::Text(id)])?;
        gone += db.execute("DELETE FROM runs WHERE id = ?1 AND status <> 'waiting'", &[Param::Text(id)])?;
    }
    // Messages that are no longer pending; a pending one waits for its delivery whatever its age.
    gone += db.execute(
        "DELETE FROM messages WHERE seq IN
           (SELECT seq FROM messages WHERE status <> 'pending' AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2)",
        &[Param::Int(before), Param::Int(batch)],
    )?;
    // Log lines carry their time as ISO 8601 text, which sorts as time does.
    let cutoff = crate::time::iso(before_ms);
    gone += db.execute(
        "DELETE FROM webhook_log WHERE id IN (SELECT id FROM webhook_log WHERE time < ?1 ORDER BY id LIMIT ?2)",
        &[Param::Text(&cutoff), Param::Int(batch)],
    )?;
    Ok(gone as usize)
}

/// A write the caller rolls back: whether the database takes one.
pub(super) fn probe_write(db: &mut dyn Db) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO seen_signatures (id, seen_ms) VALUES ('flowc-readyz-probe', 0) ON CONFLICT (id) DO NOTHING",
        &[],
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------- versions

pub(super) fn save_version(db: &mut dyn Db, hash: &str, name: &str, source: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO versions (hash, name, source, saved_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (hash) DO NOTHING",
        &[Param::Text(hash), Param::Text(name), Param::Text(source), Param::Int(now())],
    )?;
    Ok(())
}

pub(super) fn version_source(db: &mut dyn Db, hash: &str) -> Result<Option<String>, StoreError> {
    first(db, "SELECT source FROM versions WHERE hash = ?1", &[Param::Text(hash)], |r| r.text(0))
}

/// The versions kept of the file `name`, newest first: hash, when, source.
pub(super) fn versions_of(db: &mut dyn Db, name: &str, limit: usize) -> Result<Vec<(String, u64, String)>, StoreError> {
    all(
        db,
        "SELECT hash, saved_ms, source FROM versions WHERE name = ?1 ORDER BY saved_ms DESC, hash LIMIT ?2",
        &[Param::Text(name), Param::Int(limit as i64)],
        |r| Ok((r.text(0)?, r.int(1)? as u64, r.text(2)?)),
    )
}

/// Runs kept, counted by flow and status.
pub(super) fn run_counts(db: &mut dyn Db) -> Result<Vec<(String, String, u64)>, StoreError> {
    all(db, "SELECT flow, status, COUNT(*) FROM runs GROUP BY flow, status", &[], |r| {
        Ok((r.text(0)?, r.text(1)?, r.int(2)? as u64))
    })
}

/// Deletes the versions no run refers to, except `keep`; how many went.
pub(super) fn purge_versions(db: &mut dyn Db, keep: &[&str]) -> Result<usize, StoreError> {
    let unused = all(
        db,
        "SELECT hash FROM versions WHERE hash NOT IN (SELECT version FROM runs WHERE version IS NOT NULL)",
        &[],
        |r| r.text(0),
    )?;
    let mut gone = 0;
    for hash in unused.iter().filter(|h| !keep.contains(&h.as_str())) {
        gone += db.execute("DELETE FROM versions WHERE hash = ?1", &[Param::Text(hash)])?;
    }
    Ok(gone as usize)
}

// ------------------------------------------------------------------------------- contacts and messages

pub(super) fn save_contact(db: &mut dyn Db, c: &ContactRow, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone, group_names)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (urn) DO UPDATE
         SET channel = ?2, name = ?3, language = ?4, fields = ?5, updated_ms = ?6, timezone = ?7, group_names = ?8",
        &[
            Param::Text(&c.urn),
            Param::Text(&c.channel),
            Param::Text(&c.name),
            Param::Text(&c.language),
            Param::Text(&c.fields),
            Param::Int(now),
            Param::Text(&c.timezone),
            Param::Text(&c.groups),
        ],
    )?;
    Ok(())
}

pub(super) fn save_message(db: &mut dyn Db, m: &MessageRow, now: i64) -> Result<(), StoreError> {
    let direction = match m.direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    let pending = m.status == super::MessageStatus::Pending;
    let replies = (!m.quick_replies.is_empty()).then(|| serde_json::to_string(&m.quick_replies).unwrap_or_default());
    db.execute(
        "INSERT INTO messages (id, urn, channel, direction, text, run_id, status, next_ms, created_ms, updated_ms, flow,
           quick_replies)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
        &[
            Param::Text(&m.id),
            Param::Text(&m.urn),
            Param::Text(&m.channel),
            Param::Text(direction),
            Param::Text(&m.text),
            Param::OptText(m.run_id.as_deref()),
            Param::Text(m.status.as_str()),
            Param::OptInt(pending.then_some(now)),
            Param::Int(now),
            Param::OptText(m.flow.as_deref()),
            Param::OptText(replies.as_deref()),
        ],
    )?;
    Ok(())
}

/// The contacts and messages of steps.
pub(super) fn save_contacts_and_messages(db: &mut dyn Db, steps: &[StepRecord], now: i64) -> Result<(), StoreError> {
    for step in steps {
        if let Some(c) = &step.contact {
            save_contact(db, c, now)?;
        }
        for m in &step.messages {
            save_message(db, m, now)?;
        }
    }
    Ok(())
}

const CONTACT_COLUMNS: &str = "urn, channel, name, language, fields, timezone, group_names";

fn contact_row(r: &dyn Row) -> Result<ContactRow, StoreError> {
    Ok(ContactRow {
        urn: r.text(0)?,
        channel: r.text(1)?,
        name: r.text(2)?,
        language: r.text(3)?,
        fields: r.text(4)?,
        timezone: r.text(5)?,
        groups: r.text(6)?,
    })
}

pub(super) fn contact(db: &mut dyn Db, urn: &str) -> Result<Option<ContactRow>, StoreError> {
    first(db, &format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE urn = ?1"), &[Param::Text(urn)], contact_row)
}

/// Contacts whose URN sorts after `after`, in URN order: a group start walks them page by page.
pub(super) fn contacts_after(db: &mut dyn Db, after: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError> {
    all(
        db,
        &format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE urn > ?1 ORDER BY urn LIMIT ?2"),
        &[Param::Text(after), Param::Int(limit as i64)],
        contact_row,
    )
}

/// Contacts whose URN or name holds `text` (without case), in URN order, at most `limit`.
pub(super) fn find_contacts(db: &mut dyn Db, text: &str, limit: usize) -> Result<Vec<ContactRow>, StoreError> {
    // `%` and `_` in what is searched for are themselves, not wildcards.
    let pattern = format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    all(
        db,
        &format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts
             WHERE lower(urn) LIKE ?1 ESCAPE '\\' OR lower(name) LIKE ?1 ESCAPE '\\' ORDER BY urn LIMIT ?2"
        ),
        &[Param::Text(&pattern), Param::Int(limit as i64)],
        contact_row,
    )
}

// ------------------------------------------------------------------------------------------- starts

const START_COLUMNS: &str =
    "id, flow, spec, status, cursor, started, skipped, failed, error, created_ms, updated_ms, owner";

fn start_row(r: &dyn Row) -> Result<StartRow, StoreError> {
    Ok(StartRow {
        id: r.text(0)?,
        flow: r.text(1)?,
        spec: r.text(2)?,
        status: r.text(3)?,
        cursor: r.text(4)?,
        started: r.int(5)? as u64,
        skipped: r.int(6)? as u64,
        failed: r.int(7)? as u64,
        error: r.opt_text(8)?,
        created_ms: r.int(9)? as u64,
        updated_ms: r.int(10)? as u64,
        owner: r.opt_text(11)?,
    })
}

pub(super) fn create_start(db: &mut dyn Db, s: &StartRow) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO starts (id, flow, spec, status, cursor, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, '', ?5, ?5)",
        &[Param::Text(&s.id), Param::Text(&s.flow), Param::Text(&s.spec), Param::Text(&s.status), Param::Int(s.created_ms as i64)],
    )?;
    Ok(())
}

pub(super) fn start(db: &mut dyn Db, id: &str) -> Result<Option<StartRow>, StoreError> {
    first(db, &format!("SELECT {START_COLUMNS} FROM starts WHERE id = ?1"), &[Param::Text(id)], start_row)
}

pub(super) fn starts(db: &mut dyn Db, limit: usize) -> Result<Vec<StartRow>, StoreError> {
    all(
        db,
        &format!("SELECT {START_COLUMNS} FROM starts ORDER BY created_ms DESC, id DESC LIMIT ?1"),
        &[Param::Int(limit as i64)],
        start_row,
    )
}

/// The oldest running start that nobody holds (its lease ran out), or that `owner` holds, taken for
/// `owner` until `lease_until_ms`.
pub(super) fn claim_start(
    db: &mut dyn Db,
    owner: &str,
    now_ms: u64,
    lease_until_ms: u64,
) -> Result<Option<StartRow>, StoreError> {
    let candidate = first(
        db,
        &format!(
            "SELECT {START_COLUMNS} FROM starts WHERE status = 'running'
             AND (lease_ms IS NULL OR lease_ms < ?1 OR owner = ?2) ORDER BY created_ms LIMIT 1"
        ),
        &[Param::Int(now_ms as i64), Param::Text(owner)],
        start_row,
    )?;
    let Some(mut row) = candidate else { return Ok(None) };
    // Taken only if still free: another server may have taken it between the two statements.
    let taken = db.execute(
        "UPDATE starts SET owner = ?2, lease_ms = ?3 WHERE id = ?1 AND status = 'running'
         AND (lease_ms IS NULL OR lease_ms < ?4 OR owner = ?2)",
        &[Param::Text(&row.id), Param::Text(owner), Param::Int(lease_until_ms as i64), Param::Int(now_ms as i64)],
    )?;
    row.owner = Some(owner.to_string());
    Ok((taken == 1).then_some(row))
}

/// Records a start's progress while `owner` holds it: its place and counts, and its status unless it
/// was cancelled meanwhile. The start's status afterwards; `None` when `owner` no longer holds it.
pub(super) fn start_progress(db: &mut dyn Db, p: &StartProgress<'_>) -> Result<Option<String>, StoreError> {
    first(
        db,
        "UPDATE starts SET cursor = ?3, started = ?4, skipped = ?5, failed = ?6,
         status = CASE WHEN status = 'running' THEN ?7 ELSE status END, error = COALESCE(?8, error),
         lease_ms = ?9, updated_ms = ?10 WHERE id = ?1 AND owner = ?2 AND status IN ('running', 'cancelled')
         RETURNING status",
        &[
            Param::Text(p.id),
            Param::Text(p.owner),
            Param::Text(p.cursor),
            Param::Int(p.started as i64),
            Param::Int(p.skipped as i64),
            Param::Int(p.failed as i64),
            Param::Text(p.status),
            Param::OptText(p.error),
            Param::Int(p.lease_until_ms as i64),
            Param::Int(crate::time::now_millis() as i64),
        ],
        |r| r.text(0),
    )
}

/// Cancels a running start; false when there is none of that id running.
pub(super) fn cancel_start(db: &mut dyn Db, id: &str) -> Result<bool, StoreError> {
    let changed = db.execute(
        "UPDATE starts SET status = 'cancelled', updated_ms = ?2 WHERE id = ?1 AND status = 'running'",
        &[Param::Text(id), Param::Int(crate::time::now_millis() as i64)],
    )?;
    Ok(changed == 1)
}

pub(super) fn contact_messages(db: &mut dyn Db, urn: &str, limit: usize) -> Result<Vec<Value>, StoreError> {
    all(
        db,
        "SELECT id, channel, direction, text, run_id, status, attempts, error, created_ms FROM messages
         WHERE urn = ?1 ORDER BY seq DESC LIMIT ?2",
        &[Param::Text(urn), Param::Int(limit as i64)],
        |r| {
            Ok(serde_json::json!({
                "id": r.text(0)?,
                "channel": r.text(1)?,
                "direction": r.text(2)?,
                "text": r.text(3)?,
                "run_id": r.opt_text(4)?,
                "status": r.text(5)?,
                "attempts": r.int(6)?,
                "error": r.opt_text(7)?,
                "time": crate::time::iso(r.int(8)? as u64),
            }))
        },
    )
}

// ------------------------------------------------------------------------------------------ the outbox

/// The columns of an outgoing message, as [`out_message`] reads them (after the `seq` a claim returns).
const OUT_COLUMNS: &str = "m.seq, m.id, m.urn, m.channel, m.text, m.run_id, m.attempts, m.flow, m.quick_replies";

fn out_message(r: &dyn Row) -> Result<(i64, OutMessage), StoreError> {
    Ok((
        r.int(0)?,
        OutMessage {
            id: r.text(1)?,
            urn: r.text(2)?,
            channel: r.text(3)?,
            text: r.text(4)?,
            run_id: r.opt_text(5)?,
            attempts: r.int(6)? as u32,
            flow: r.opt_text(7)?,
            quick_replies: r.opt_text(8)?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default(),
        },
    ))
}

/// Due at `?1` and not claimed: each contact's oldest pending message only (messages arrive in the
/// order they were sent); a claimed one holds its contact's later messages back. On PostgreSQL a
/// claim also ends with the session that made it (a server that died).
fn due(dialect: Dialect) -> String {
    let session_gone = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " OR NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(m.lease_pid))",
    };
    format!(
        "m.status = 'pending' AND m.next_ms <= ?1 AND (m.lease_ms IS NULL OR m.lease_ms <= ?1{session_gone})
         AND m.seq = (SELECT MIN(o.seq) FROM messages o WHERE o.urn = m.urn AND o.status = 'pending')"
    )
}

pub(super) fn outbox_count(db: &mut dyn Db) -> Result<u64, StoreError> {
    count(db, "SELECT COUNT(*) FROM messages WHERE status = 'pending'")
}

pub(super) fn due_messages(db: &mut dyn Db, now_ms: u64, limit: usize) -> Result<Vec<OutMessage>, StoreError> {
    let sql = format!("SELECT {OUT_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq LIMIT ?2", due(db.dialect()));
    let rows = all(db, &sql, &[Param::Int(now_ms as i64), Param::Int(limit as i64)], out_message)?;
    Ok(rows.into_iter().map(|(_, m)| m).collect())
}

/// Claims due messages of `channels` (see [`super::Store::claim_messages`]): on PostgreSQL, rows
/// another server is claiming are skipped, not waited for, and the claim names its session.
pub(super) fn claim_messages(
    db: &mut dyn Db,
    channels: Channels<'_>,
    now_ms: u64,
    limit: usize,
    lease_until_ms: u64,
) -> Result<Vec<OutMessage>, StoreError> {
    let mut params = vec![Param::Int(now_ms as i64), Param::Int(limit as i64), Param::Int(lease_until_ms as i64)];
    let filter = match channels {
        Channels::Only(name) => {
            params.push(Param::Text(name));
            "m.channel = ?4".to_string()
        }
        Channels::NoneOf(names) => {
            params.extend(names.iter().map(|n| Param::Text(n)));
            let marks: Vec<String> = (0..names.len()).map(|i| format!("?{}", i + 4)).collect();
            if marks.is_empty() { "1 = 1".to_string() } else { format!("m.channel NOT IN ({})", marks.join(", ")) }
        }
    };
    let (session, skip_locked) = match db.dialect() {
        Dialect::Sqlite => ("", ""),
        Dialect::Postgres => (", lease_pid = pg_backend_pid()", " FOR UPDATE SKIP LOCKED"),
    };
    let sql = format!(
        "UPDATE messages SET lease_ms = ?3{session} WHERE id IN
           (SELECT m.id FROM messages m WHERE {} AND {filter} ORDER BY m.seq LIMIT ?2{skip_locked})
         RETURNING {}",
        due(db.dialect()),
        OUT_COLUMNS.replace("m.", "")
    );
    let mut claimed = all(db, &sql, &params, out_message)?;
    // RETURNING keeps no order.
    claimed.sort_by_key(|(seq, _)| *seq);
    Ok(claimed.into_iter().map(|(_, m)| m).collect())
}

/// Records what became of claimed messages and ends their claims.
pub(super) fn delivered(db: &mut dyn Db, outcomes: &[Attempted]) -> Result<(), StoreError> {
    let now = now();
    for o in outcomes {
        match o.delivery.columns() {
            Some((status, next, error)) => db.execute(
                "UPDATE messages SET status = ?2, attempts = ?3, next_ms = ?4, error = ?5, updated_ms = ?6,
                   lease_ms = NULL WHERE id = ?1",
                &[
                    Param::Text(&o.id),
                    Param::Text(status),
                    Param::Int(i64::from(o.attempts)),
                    Param::OptInt(next),
                    Param::OptText(error),
                    Param::Int(now),
                ],
            )?,
            None => db.execute("UPDATE messages SET lease_ms = NULL WHERE id = ?1", &[Param::Text(&o.id)])?,
        };
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------- sightings

pub(super) fn first_sighting(
    db: &mut dyn Db,
    id: &str,
    now_ms: u64,
    forget_before_ms: u64,
) -> Result<bool, StoreError> {
    let kind = super::sighting_kind(id);
    db.execute(
        "DELETE FROM seen_signatures WHERE seen_ms < ?1 AND substr(id, 1, ?2) = ?3",
        &[Param::Int(forget_before_ms as i64), Param::Int(kind.chars().count() as i64), Param::Text(kind)],
    )?;
    let inserted = db.execute(
        "INSERT INTO seen_signatures (id, seen_ms) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        &[Param::Text(id), Param::Int(now_ms as i64)],
    )?;
    Ok(inserted == 1)
}

pub(super) fn forget_sighting(db: &mut dyn Db, id: &str) -> Result<(), StoreError> {
    db.execute("DELETE FROM seen_signatures WHERE id = ?1", &[Param::Text(id)])?;
    Ok(())
}
