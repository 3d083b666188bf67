//! The embedded store: one SQLite file in WAL mode, one connection, used by one statement at a time.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use serde_json::Value;

use super::schema::{self, SCHEMA_VERSION};
use super::sql::{self, Db, Dialect, Param, Row};
use super::{
    Attempted, Channels, ContactRow, LogLine, MessageRow, OutMessage, RunSummary, StartProgress, StartRow, StepRecord,
    StepView, Store, StoreError, StoredRun,
};

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

/// The version of the files written before the schema was numbered, once [`adopt`] brought them up.
const UNNUMBERED: i32 = 3;

impl SqliteStore {
    /// Opens (creating) the database at `path` and brings its schema up to date; refuses a schema
    /// newer than this build knows.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
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
        migrate(&mut conn)?;
        // One server uses a SQLite file: the claims it finds are those of a server that died.
        conn.execute("UPDATE messages SET lease_ms = NULL WHERE lease_ms IS NOT NULL", [])?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` on the connection.
    fn with<T>(&self, work: impl FnOnce(&mut dyn Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.conn();
        work(&mut Lite::new(&conn))
    }

    /// Runs `work` in a transaction, committed when it succeeds.
    fn transaction<T>(&self, work: impl FnOnce(&mut dyn Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = work(&mut Lite::new(&tx))?;
        tx.commit()?;
        Ok(out)
    }
}

/// Applies the migrations the file has not had, in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut version: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::new(schema::too_new(version)));
    }
    let unnumbered: bool = version == 0
        && tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
    if unnumbered {
        adopt(&tx)?;
        version = UNNUMBERED;
    }
    for migration in schema::pending(version, Dialect::Sqlite) {
        tx.execute_batch(&migration)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Brings a file from before the schema was numbered (tables created if missing, columns added when
/// found missing) to version [`UNNUMBERED`].
fn adopt(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(&schema::first_if_missing())?;
    let has = |table: &str, column: &str| -> Result<bool, StoreError> {
        Ok(tx.query_row("SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |r| {
            r.get::<_, i64>(0)
        })? > 0)
    };
    let missing: [(&str, &str, &str); 6] = [
        ("runs", "version", "TEXT"),
        ("webhook_log", "time", "TEXT NOT NULL DEFAULT ''"),
        ("contacts", "timezone", "TEXT NOT NULL DEFAULT ''"),
        ("messages", "lease_ms", "INTEGER"),
        ("messages", "lease_pid", "INTEGER"),
        ("messages", "flow", "TEXT"),
    ];
    for (table, column, kind) in missing {
        if !has(table, column)? {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
            if (table, column) == ("webhook_log", "time") {
                // The time was in the entry only.
                tx.execute_batch("UPDATE webhook_log SET time = COALESCE(json_extract(entry, '$.time'), '')")?;
            }
        }
    }
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS webhook_log_time ON webhook_log (time);
         CREATE INDEX IF NOT EXISTS messages_due ON messages (channel, seq) WHERE status = 'pending';",
    )?;
    Ok(())
}

/// SQLite as the shared SQL sees it: a connection or a transaction, with the statements it ran kept
/// prepared. The writer runs the same few inserts for hundreds of steps a batch; finding each in
/// rusqlite's statement cache (hashing its text) on every row cost a fifth of `flowc serve`'s
/// throughput, so a statement is found again by where its text is, then checked to be the same text.
struct Lite<'c> {
    conn: &'c Connection,
    prepared: Vec<(usize, String, rusqlite::CachedStatement<'c>)>,
}

impl<'c> Lite<'c> {
    fn new(conn: &'c Connection) -> Self {
        Lite { conn, prepared: Vec::new() }
    }

    fn statement(&mut self, sql: &str) -> Result<&mut rusqlite::CachedStatement<'c>, StoreError> {
        let key = sql.as_ptr() as usize;
        let found = self.prepared.iter().position(|(k, text, _)| *k == key && text == sql);
        let at = match found {
            Some(at) => at,
            None => {
                let stmt = self.conn.prepare_cached(sql)?;
                self.prepared.push((key, sql.to_string(), stmt));
                self.prepared.len() - 1
            }
        };
        Ok(&mut self.prepared[at].2)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql};
        Ok(match *self {
            Param::Int(v) => ToSqlOutput::Owned(Sql::Integer(v)),
            Param::OptInt(v) => ToSqlOutput::Owned(v.map_or(Sql::Null, Sql::Integer)),
            Param::Text(v) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(v.as_bytes())),
            Param::OptText(v) => v.map_or(ToSqlOutput::Owned(Sql::Null), |v| {
                ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(v.as_bytes()))
            }),
            Param::Bool(v) => ToSqlOutput::Owned(Sql::Integer(i64::from(v))),
        })
    }
}

impl Row for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
}

impl Db for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(self.statement(sql)?.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut rows = self.statement(sql)?.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    shared_queries!();

    fn save_batch(&self, steps: &[StepRecord], log: &[LogLine]) -> Result<(), StoreError> {
        self.transaction(|db| {
            let now = crate::time::now_millis() as i64;
            for step in steps {
                sql::save_run(db, step, now)?;
            }
            sql::save_contacts_and_messages(db, steps, now)?;
            for line in log {
                sql::insert_log(db, line)?;
            }
            Ok(())
        })
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        sql::probe_write(&mut Lite::new(&tx))?;
        tx.rollback()?;
        Ok(())
    }

    fn claim_messages(
        &self,
        channels: Channels<'_>,
        now_ms: u64,
        limit: usize,
        lease_until_ms: u64,
    ) -> Result<Vec<OutMessage>, StoreError> {
        self.with(|db| sql::claim_messages(db, channels, now_ms, limit, lease_until_ms))
    }

    fn delivered(&self, outcomes: &[Attempted]) -> Result<(), StoreError> {
        self.transaction(|db| sql::delivered(db, outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::RunStatus;

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
            results: None,
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
        assert_eq!(waiting.status, RunStatus::Waiting);
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

    #[test]
    fn the_schema_is_numbered_and_a_newer_one_is_refused_as_on_postgres() {
        let dir = std::env::temp_dir().join(format!("flowc-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // A file at version 1 takes the later migrations, as a PostgreSQL database does.
        conn.execute_batch(
            "DROP INDEX messages_due; ALTER TABLE messages DROP COLUMN lease_ms; ALTER TABLE messages DROP COLUMN lease_pid;
             ALTER TABLE messages DROP COLUMN flow; ALTER TABLE messages DROP COLUMN quick_replies; ALTER TABLE contacts DROP COLUMN group_names;
             ALTER TABLE contacts DROP COLUMN timezone; DROP TABLE starts; ALTER TABLE steps DROP COLUMN results; PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(SqliteStore::open(&path).unwrap());
        let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let refused = SqliteStore::open(&path).err().expect("a newer schema is refused").to_string();
        assert!(refused.contains("newer than this flowc knows"), "{refused}");
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
