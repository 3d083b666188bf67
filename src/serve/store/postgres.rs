//! The PostgreSQL store (`flowc serve --db postgres://...`): the schema and SQL of [`super::sql`] and
//! [`super::schema`], applied by the first server to start (under an advisory lock, so that two
//! servers starting together do not both migrate). Three connections per server, each used by one
//! statement at a time: one for requests, the scheduler and retention, one for the outbox's claims and
//! outcomes, and one that LISTENs for committed messages. What only PostgreSQL does is here: batched
//! inserts (arrays unnested), `NOTIFY`, advisory locks, reconnecting with backoff.

use std::sync::Mutex;

use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, GenericClient, NoTls};
use serde_json::Value;

use super::schema::{self, SCHEMA_VERSION};
use super::sql::{self, Db, Dialect, Param, Row};
use super::{
    Attempted, Channels, ContactRow, LogLine, MessageRow, OutMessage, RunSummary, StartProgress, StartRow, StepRecord,
    StepView, Store, StoreError, StoredRun,
};

/// A connection that LISTENs for committed outgoing messages.
fn listen(config: &postgres::Config) -> Result<Client, postgres::Error> {
    let mut listener = config.connect(NoTls)?;
    listener.batch_execute("LISTEN flowc_outbox")?;
    Ok(listener)
}

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

    /// Runs `work` on the request connection.
    fn with<T>(&self, work: impl FnOnce(&mut dyn Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut client = self.client();
        work(&mut Pg(&mut *client))
    }

    /// Runs `work` in a transaction on the request connection, committed when it succeeds.
    fn transaction<T>(&self, work: impl FnOnce(&mut dyn Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let out = work(&mut Pg(&mut tx))?;
        tx.commit()?;
        Ok(out)
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
        return Err(StoreError::new(schema::too_new(current)));
    }
    for migration in schema::pending(current, Dialect::Postgres) {
        tx.batch_execute(&migration)?;
    }
    if current == 0 {
        tx.execute("INSERT INTO flowc_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])?;
    } else if current < SCHEMA_VERSION {
        tx.execute("UPDATE flowc_schema SET version = $1", &[&SCHEMA_VERSION])?;
    }
    tx.commit()?;
    Ok(())
}

/// PostgreSQL as the shared SQL sees it: a connection or a transaction.
struct Pg<'c, C: GenericClient>(&'c mut C);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Integers go out as the column's width (INTEGER columns are 4 bytes, BIGINT 8).
        let int = |v: i64, out: &mut bytes::BytesMut| match *ty {
            Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            _ => v.to_sql(ty, out),
        };
        match *self {
            Param::Int(v) => int(v, out),
            Param::OptInt(Some(v)) => int(v, out),
            Param::Text(v) | Param::OptText(Some(v)) => v.to_sql(ty, out),
            Param::Bool(v) => v.to_sql(ty, out),
            Param::OptInt(None) | Param::OptText(None) => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8 | Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::BOOL)
    }

    postgres::types::to_sql_checked!();
}

impl Row for postgres::Row {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.opt_int(i)?.unwrap_or(0))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(match *self.columns()[i].type_() {
            Type::INT2 => self.try_get::<_, Option<i16>>(i)?.map(i64::from),
            Type::INT4 => self.try_get::<_, Option<i32>>(i)?.map(i64::from),
            _ => self.try_get(i)?,
        })
    }
}

/// `?1` as PostgreSQL writes it: `$1`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl<C: GenericClient> Db for Pg<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.0.execute(&numbered(sql), &params)?)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        for row in self.0.query(&numbered(sql), &params)? {
            each(&row)?;
        }
        Ok(())
    }
}

/// Runs and their steps of a batch in one statement each (arrays unnested), not a round trip per row:
/// a busy server commits hundreds of steps at a time. Each run occurs once in a batch (a run's next
/// step waits for the commit of the one before).
fn save_runs_batched(tx: &mut postgres::Transaction<'_>, batched: &[&StepRecord], now: i64) -> Result<(), StoreError> {
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
    let results: Vec<Option<&str>> = with_events.iter().map(|s| s.results.as_deref()).collect();
    tx.execute(
        "INSERT INTO steps (run_id, seq, events, results)
         SELECT u.run_id, COALESCE((SELECT MAX(s.seq) FROM steps s WHERE s.run_id = u.run_id), -1) + 1, u.events, u.results
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS u(run_id, events, results)",
        &[&step_ids, &events, &results],
    )?;
    Ok(())
}

/// Log lines of a batch in one statement.
fn save_log_batched(tx: &mut postgres::Transaction<'_>, log: &[LogLine]) -> Result<(), StoreError> {
    let webhooks: Vec<&str> = log.iter().map(|l| l.webhook.as_str()).collect();
    let failed: Vec<bool> = log.iter().map(|l| l.failed).collect();
    let entries: Vec<&str> = log.iter().map(|l| l.entry.as_str()).collect();
    let times: Vec<&str> = log.iter().map(|l| l.time.as_str()).collect();
    tx.execute(
        "INSERT INTO webhook_log (webhook, failed, entry, time)
         SELECT * FROM UNNEST($1::TEXT[], $2::BOOLEAN[], $3::TEXT[], $4::TEXT[])",
        &[&webhooks, &failed, &entries, &times],
    )?;
    Ok(())
}

impl Store for PostgresStore {
    shared_queries!();

    fn available(&self) -> bool {
        let down = self.health.lock().unwrap_or_else(|p| p.into_inner()).down_since.is_some();
        // A connection found closed but not yet looked at by `client()` counts as away too.
        !down && self.client.try_lock().map_or(true, |c| !c.is_closed())
    }

    fn save_batch(&self, steps: &[StepRecord], log: &[LogLine]) -> Result<(), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let now = crate::time::now_millis() as i64;
        // Should a run occur twice in a batch, its later steps go one by one.
        let mut seen = std::collections::HashSet::new();
        let (batched, one_by_one): (Vec<&StepRecord>, Vec<&StepRecord>) =
            steps.iter().partition(|s| seen.insert(s.run_id.as_str()));
        if !batched.is_empty() {
            save_runs_batched(&mut tx, &batched, now)?;
        }
        for step in one_by_one {
            sql::save_run(&mut Pg(&mut tx), step, now)?;
        }
        sql::save_contacts_and_messages(&mut Pg(&mut tx), steps, now)?;
        // Wake the senders of every server (delivered when the transaction commits).
        if steps.iter().any(|s| s.messages.iter().any(|m| m.status == super::MessageStatus::Pending)) {
            tx.batch_execute("NOTIFY flowc_outbox")?;
        }
        if !log.is_empty() {
            save_log_batched(&mut tx, log)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        sql::probe_write(&mut Pg(&mut tx))?;
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
        // On the sender's own connection, so that claims do not wait behind requests.
        let mut sender = self.sender();
        sql::claim_messages(&mut Pg(&mut *sender), channels, now_ms, limit, lease_until_ms)
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

    fn shared(&self) -> bool {
        true
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

    fn lock_free(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        let rows = self.client().query(
            "SELECT k FROM unnest($1::text[]) AS k WHERE pg_try_advisory_lock(hashtextextended(k, 7))",
            &[&keys],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn unlock_all(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let released = self
            .client()
            .query("SELECT pg_advisory_unlock(hashtextextended(k, 7)) FROM unnest($1::text[]) AS k", &[&keys]);
        if let Err(e) = released {
            eprintln!("flowc: cannot release the locks of {} contacts: {}", keys.len(), StoreError::from(e));
        }
    }

    fn unlock(&self, key: &str) {
        if let Err(e) = self.client().query_one("SELECT pg_advisory_unlock(hashtextextended($1, 7))", &[&key]) {
            eprintln!("flowc: cannot release the lock of {key}: {}", StoreError::from(e));
        }
    }

    fn delivered(&self, outcomes: &[Attempted]) -> Result<(), StoreError> {
        let mut sender = self.sender();
        let mut tx = sender.transaction()?;
        sql::delivered(&mut Pg(&mut tx), outcomes)?;
        tx.commit()?;
        Ok(())
    }
}
