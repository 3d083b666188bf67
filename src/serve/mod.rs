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

pub mod auth;
pub(crate) mod channels;
pub mod email;
mod expect;
mod front;
pub mod limits;
pub mod metrics;
mod outbox;
pub mod store;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::ast::KeyPlace;
use crate::http::HttpClient;
use crate::interp::{self, Event, Outcome, Resume, RunOptions, RunState, RunStatus};
use crate::program::{AuthDef, Program, Secret, TriggerAuthDef, TriggerDef};
use store::{LogLine, StepRecord, Store, StoreError, StoredRun};

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

/// The trigger paths whose step cannot block: the flow has no `wait` and no `webhook`, the trigger's
/// authentication does not ask the store (a signature's replay check does), and its run belongs to no
/// contact (whose lock and record it would need).
fn quick_paths(programs: &[Served]) -> std::collections::HashSet<String> {
    use crate::program::Instr;
    programs
        .iter()
        .flat_map(|p| p.program.triggers.iter().map(move |t| (&p.program, t)))
        .filter(|(_, t)| !matches!(t.auth, Some(TriggerAuthDef::Signature { .. })) && t.contact.is_none())
        .filter(|(program, t)| {
            program
                .flows
                .get(t.flow)
                .is_some_and(|f| !f.code.iter().any(|i| matches!(i, Instr::Wait { .. } | Instr::Webhook(_))))
        })
        .map(|(_, t)| t.suffix.clone())
        .collect()
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

/// Rows deleted per retention transaction.
const PURGE_BATCH: usize = 500;

/// Reads a secret by environment variable name.
pub type SecretSource = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Server settings.
pub struct Config {
    /// Worker threads handling requests.
    pub workers: usize,
    /// Largest request body accepted.
    pub max_body: usize,
    /// How often the scheduler looks for expired waits.
    pub scheduler_interval: Duration,
    /// Instructions per step.
    pub max_steps: u64,
    /// Reads secrets (connector keys, signature secrets): the process environment by default.
    pub env: Arc<SecretSource>,
    /// Where webhooks may connect: public addresses only, by default (docs/language.md §6).
    pub network: crate::net::NetworkPolicy,
    /// How long ended runs, their events and webhook log lines are kept (`None`: for ever). Waiting
    /// runs are never deleted.
    pub retain: Option<Duration>,
    /// Writes a line per request to stderr: time, method, path, status, milliseconds, run id.
    pub access_log: bool,
    /// Connections held at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// For a request's line and headers, and for the next request on an idle connection.
    pub header_timeout: Duration,
    /// For a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// Whether SIGTERM and SIGINT stop the server gracefully (requests in flight finish).
    pub handle_signals: bool,
    /// `(from, to)` URL prefixes: webhooks and channel deliveries to `from...` go to `to...` instead
    /// (`--route`, for staging and tests).
    pub routes: Vec<(String, String)>,
    /// The address the server is reached at from outside (`--public-url`), for verifying Twilio's
    /// signatures, which cover the full URL Twilio called; without it the URL is rebuilt from the
    /// request's `Host` and `X-Forwarded-Proto` headers.
    pub public_url: Option<String>,
    /// How often the outbox is polled where the store wakes the sender when a message is committed
    /// (PostgreSQL's LISTEN/NOTIFY): retries come due by time, not by a commit. A SQLite store is
    /// polled every 50 ms whatever this says.
    pub outbox_poll: Duration,
    /// Deliveries at once per channel (`--outbox-concurrency`): a channel's messages go out this many
    /// at a time, each contact's in order.
    pub outbox_concurrency: usize,
    /// Where `email` statements' e-mails go (`--smtp`, `--smtp-from`); without it they are events only.
    pub smtp: Option<Arc<email::Mailer>>,
    /// The time zone of contacts that have none (`--timezone`; UTC when `None`).
    pub timezone: Option<jiff::tz::TimeZone>,
    /// Operator tokens (`FLOWC_API_TOKEN`, comma-separated, for rotation): the endpoints that read or
    /// change contacts, runs, messages and the log answer only `Authorization: Bearer TOKEN`. None:
    /// those endpoints are closed (401).
    pub api_tokens: Vec<String>,
    /// `/metrics` needs an operator token too (`--private-metrics`).
    pub private_metrics: bool,
    /// Connections one client address may hold at once (`None`: a quarter of `max_connections`).
    /// Behind a reverse proxy every connection comes from the proxy: raise it to `max_connections`.
    pub max_connections_per_address: Option<usize>,
}

/// Deliveries at once per channel unless `--outbox-concurrency` says otherwise: enough for 1,000
/// messages a second through a gateway that answers in 100 ms.
pub const DEFAULT_OUTBOX_CONCURRENCY: usize = 128;

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

/// The operator tokens in `FLOWC_API_TOKEN`'s value: comma-separated, blanks around them dropped.
pub fn api_tokens(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 16,
            max_body: 1 << 20,
            scheduler_interval: Duration::from_millis(500),
            max_steps: interp::DEFAULT_MAX_STEPS,
            env: Arc::new(|name| std::env::var(name).ok()),
            network: crate::net::NetworkPolicy::default(),
            retain: Some(Duration::from_secs(30 * 86_400)),
            access_log: false,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            handle_signals: false,
            routes: Vec::new(),
            public_url: None,
            outbox_poll: Duration::from_secs(1),
            outbox_concurrency: DEFAULT_OUTBOX_CONCURRENCY,
            smtp: None,
            timezone: None,
            api_tokens: Vec::new(),
            private_metrics: false,
            max_connections_per_address: None,
        }
    }
}

/// Work for the writer thread: steps and log entries to commit, and who waits for the commit.
struct WriteJob {
    steps: Vec<StepRecord>,
    log: Vec<LogLine>,
    done: Option<std::sync::mpsc::SyncSender<Result<(), String>>>,
    linger: bool,
    /// The last job: the writer ends after committing it (threads that outlive the server, a delivery
    /// still waiting for a gateway, find it stopped).
    last: bool,
}

/// When a write must be committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Commit {
    /// Before the writer returns (a waiting run, a reply the contact sent).
    Wait,
    /// With whatever is queued, as soon as the writer is free.
    Soon,
    /// Within [`LINGER`], sharing its commit with the writes that arrive meanwhile: for the runs that
    /// end within their request on the front end's thread, which arrive tens of thousands a second.
    /// (Lingering for every write cost `/lookup` a sixth of its throughput in the bench.)
    Linger,
    /// Like `Wait`, and the writer ends after it: the server is stopping.
    Last,
}

/// The single writer: it commits everything queued since its last commit in one transaction (group
/// commit), so concurrent steps share the cost of a commit while each stays atomic. Writes that a
/// caller must see committed before answering (waiting runs, replies) wait for their commit.
struct Writer {
    queue: std::sync::mpsc::SyncSender<WriteJob>,
    /// Writes queued and not yet committed, for `/metrics`.
    depth: Arc<std::sync::atomic::AtomicUsize>,
    /// Queued writes that someone waits for.
    durable: Arc<std::sync::atomic::AtomicUsize>,
    /// The writer's thread, woken from its linger by a write someone waits for.
    wake: std::thread::Thread,
}

/// How long a write nobody waits for may wait for others to share its commit.
const LINGER: Duration = Duration::from_millis(5);

/// Writes that may wait in the writer's queue; when it is full, requests wait (backpressure), so memory
/// stays bounded whatever the load.
const WRITE_QUEUE: usize = 1024;

impl Writer {
    /// Starts the writer thread; `outbox` is woken when a commit carries outgoing messages.
    fn start(
        store: Arc<dyn Store>,
        outbox: Arc<outbox::Outbox>,
    ) -> Result<(Writer, std::thread::JoinHandle<()>), String> {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<WriteJob>(WRITE_QUEUE);
        let depth = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let queued = depth.clone();
        let durable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let waited = durable.clone();
        let thread = std::thread::Builder::new()
            .name("flowc-writer".into())
            .spawn(move || {
                while let Ok(first) = jobs.recv() {
                    // Writes nobody waits for gather for up to LINGER, so that a commit carries many
                    // steps (a commit's cost is mostly its pages, whatever the rows); a write that
                    // someone waits for is committed with what is queued at once.
                    // Parked rather than woken by every send: a wake-up per write cost more than
                    // the commit it saved. A write someone waits for unparks it at once.
                    let until = std::time::Instant::now() + LINGER;
                    while first.linger && durable.load(Ordering::Relaxed) == 0 {
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        std::thread::park_timeout(left);
                    }
                    let mut batch = vec![first];
                    while batch.len() < 512 {
                        match jobs.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let waited_for = batch.iter().filter(|j| j.done.is_some()).count();
                    durable.fetch_sub(waited_for, Ordering::Relaxed);
                    queued.fetch_sub(batch.len(), Ordering::Relaxed);
                    let mut steps = Vec::new();
                    let mut log = Vec::new();
                    let mut waiting = Vec::new();
                    let last = batch.iter().any(|j| j.last);
                    for job in batch {
                        steps.extend(job.steps);
                        log.extend(job.log);
                        waiting.extend(job.done);
                    }
                    let began = std::time::Instant::now();
                    let result = store.save_batch(&steps, &log).map_err(|e| e.to_string());
                    metrics::commit(began.elapsed());
                    if let Err(e) = &result {
                        eprintln!("flowc: cannot save {} steps: {e}", steps.len());
                    } else if steps.iter().any(|s| !s.messages.is_empty()) {
                        outbox.bell.ring();
                    }
                    for w in waiting {
                        let _ = w.send(result.clone());
                    }
                    if last {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the writer: {e}"))?;
        let wake = thread.thread().clone();
        Ok((Writer { queue, depth, durable: waited, wake }, thread))
    }

    /// Queues a write; with [`Commit::Wait`], returns once it is committed.
    fn write(&self, steps: Vec<StepRecord>, log: Vec<LogLine>, commit: Commit) -> Result<(), StoreError> {
        let wait = matches!(commit, Commit::Wait | Commit::Last);
        let (done, committed) = if wait {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        // Read by `/metrics` when it renders, so the hot path only counts.
        self.depth.fetch_add(1, Ordering::Relaxed);
        if wait {
            self.durable.fetch_add(1, Ordering::Relaxed);
        }
        self.queue
            .send(WriteJob { steps, log, done, linger: commit == Commit::Linger, last: commit == Commit::Last })
            .map_err(|_| StoreError::new("the writer has stopped"))?;
        if wait {
            self.wake.unpark();
        }
        match committed {
            Some(rx) => rx.recv().map_err(|_| StoreError::new("the writer has stopped"))?.map_err(StoreError::new),
            None => Ok(()),
        }
    }

    /// Waits until everything queued so far is committed.
    fn flush(&self) -> Result<(), StoreError> {
        self.write(Vec::new(), Vec::new(), Commit::Wait)
    }
}

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
}

/// Access log lines, written to stderr in batches: a write per request cost a third of the throughput
/// of a short trigger flow. Flushed every 100 ms, when 64 KiB are waiting, and when the server stops.
#[derive(Default)]
struct AccessLog {
    pending: Mutex<String>,
}

impl AccessLog {
    const FLUSH_AT: usize = 64 * 1024;

    fn push(&self, line: &str) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push_str(line);
            (pending.len() >= Self::FLUSH_AT).then(|| std::mem::take(&mut *pending))
        };
        if let Some(text) = full {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }

    fn flush(&self) {
        let text = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !text.is_empty() {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// A running server.
pub struct Server {
    front: front::Front,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    app: Option<Arc<App>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts serving `programs` on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start(addr: &str, programs: Vec<Served>, store: Box<dyn Store>, config: Config) -> Result<Server, String> {
        for (name, source) in programs.iter().filter_map(|p| Some((p.version(), p.source.as_ref()?))) {
            store
                .save_version(name, &source.0, &source.1)
                .map_err(|e| format!("cannot keep the flows' versions: {e}"))?;
        }
        let workers = config.workers.max(1);
        let limits = front::Limits {
            max_connections: config.max_connections.max(1),
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            max_body: config.max_body,
            grace: Duration::from_secs(30),
            signals: config.handle_signals,
            per_address: config.max_connections_per_address.unwrap_or(config.max_connections / 4).max(1),
            log_refusals: config.access_log,
        };
        // Requests wait here for a worker; a full queue makes the connections wait (backpressure).
        let (jobs, queue) = tokio::sync::mpsc::channel::<front::Job>(workers * 8);
        let queue = Arc::new(Mutex::new(queue));
        let interval = config.scheduler_interval;
        let store: Arc<dyn Store> = Arc::from(store);
        metrics::handle();
        let stop = Arc::new(AtomicBool::new(false));
        let outbox = Arc::new(outbox::Outbox::new(config.outbox_concurrency));
        let (writer, writer_thread) = Writer::start(store.clone(), outbox.clone())?;
        let quick = quick_paths(&programs);
        let app = Arc::new(App {
            programs,
            earlier: Mutex::new(HashMap::new()),
            store,
            writer,
            client: HttpClient::with_policy(crate::http::DEFAULT_MAX_RESPONSE_BYTES, config.network.clone()),
            locks: Mutex::new(HashMap::new()),
            access: AccessLog::default(),
            quick,
            outbox: outbox.clone(),
            config,
            stop: stop.clone(),
        });
        let mut threads = Vec::new();
        for i in 0..workers {
            let (queue, app) = (queue.clone(), app.clone());
            let t = std::thread::Builder::new()
                .name(format!("flowc-worker-{i}"))
                .stack_size(16 << 20)
                .spawn(move || {
                    loop {
                        // The front end closes the queue when it stops: then the worker ends.
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                        let Some((request, done)) = job else { break };
                        let _ = done.send(app.handle(&request));
                    }
                })
                .map_err(|e| format!("cannot start a worker: {e}"))?;
            threads.push(t);
        }
        let (app2, stop2) = (app.clone(), stop.clone());
        let scheduler = std::thread::Builder::new()
            .name("flowc-scheduler".into())
            .stack_size(16 << 20)
            .spawn(move || {
                // Retention runs once a minute (and at start), in small batches between the scheduler's
                // other work.
                let mut last_purge: Option<std::time::Instant> = None;
                while !stop2.load(Ordering::Relaxed) {
                    app2.resume_due_runs();
                    if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        app2.purge_old(&stop2);
                        last_purge = Some(std::time::Instant::now());
                    }
                    std::thread::sleep(interval);
                }
            })
            .map_err(|e| format!("cannot start the scheduler: {e}"))?;
        threads.push(scheduler);
        let (app3, stop3) = (app.clone(), stop.clone());
        let flusher = std::thread::Builder::new()
            .name("flowc-log".into())
            .spawn(move || {
                while !stop3.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    app3.access.flush();
                }
            })
            .map_err(|e| format!("cannot start the log writer: {e}"))?;
        threads.push(flusher);
        let (app4, stop4) = (app.clone(), stop.clone());
        let sender = std::thread::Builder::new()
            .name("flowc-sender".into())
            .spawn(move || outbox::dispatch(&app4, &stop4))
            .map_err(|e| format!("cannot start the sender: {e}"))?;
        threads.push(sender);
        let (app5, stop5) = (app.clone(), stop.clone());
        let listener = std::thread::Builder::new()
            .name("flowc-outbox-poll".into())
            .spawn(move || {
                // Retries come due by time, and another server's messages are announced by the store
                // (PostgreSQL's NOTIFY): both ring the sender's doorbell from here.
                while !stop5.load(Ordering::Relaxed) {
                    app5.store.wait_for_outbox(app5.config.outbox_poll);
                    app5.outbox.bell.ring();
                }
            })
            .map_err(|e| format!("cannot start the sender: {e}"))?;
        threads.push(listener);
        let inline_app = app.clone();
        let inline: front::Inline = Arc::new(move |request| inline_app.quick(request));
        let front = front::Front::start(addr, limits, jobs, inline)?;
        Ok(Server { front, stop, threads, app: Some(app), writer_thread: Some(writer_thread) })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.front.addr
    }

    /// Stops accepting requests, lets those in flight finish, commits what is queued and waits for
    /// the threads.
    pub fn shutdown(self) {
        self.front.stop();
        self.wait();
    }

    /// Serves until [`Server::shutdown`] or, with `handle_signals`, SIGTERM or SIGINT; then finishes
    /// the requests in flight and commits every step before it returns.
    pub fn wait(mut self) {
        self.front.join();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(app) = &self.app {
            // The sender and its poller may be asleep until a message is committed.
            app.outbox.bell.ring();
            app.store.wake_outbox();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Commit what is queued, then let the writer end with the last reference to its queue.
        if let Some(app) = self.app.take() {
            app.access.flush();
            let _ = app.writer.write(Vec::new(), Vec::new(), Commit::Last);
        }
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The run the request started or continued, for the access log.
    run: Option<String>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            run: None,
        }
    }

    fn with_run(mut self, run: Option<String>) -> Answer {
        self.run = run;
        self
    }

    fn for_run(mut self, run_id: &str) -> Answer {
        self.run = Some(run_id.to_string());
        self
    }

    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({ "error": message.into() }))
    }

    /// 405, with the methods the path takes.
    fn not_allowed(method: &str, path: &str, allow: String) -> Answer {
        let mut a = Answer::error(405, format!("{method} is not allowed on {path}"));
        a.headers.push(("Allow".into(), allow));
        a
    }
}

/// `%XX` decoded, and `+` as a space when `plus_is_space` (query strings and forms, not paths).
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=x%20y` as a JSON object (a repeated key keeps its last value).
fn parse_query(q: &str) -> Map<String, Value> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), Value::String(percent_decode(v, true)))
        })
        .collect()
}

/// The public part of a step's result: status, events and the bot's messages.
fn step_json(state: &RunState, events: &[Event]) -> Value {
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    json!({ "run_id": state.run_id, "status": state.status, "messages": messages, "events": events })
}

/// The answer to a trigger's request: the run's `respond`, a 500 for a failed run, else 202.
fn trigger_answer(run_id: String, outcome: &Outcome) -> Answer {
    let responded = outcome.events.iter().find_map(|e| match e {
        Event::Responded { status, headers, body, content_type } => Some((*status, headers, body, content_type)),
        _ => None,
    });
    match responded {
        Some((status, headers, body, content_type)) => {
            let mut h: Vec<(String, String)> = headers.clone();
            if let Some(ct) =
                content_type.as_ref().filter(|_| !h.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")))
            {
                h.push(("Content-Type".into(), ct.clone()));
            }
            h.push(("X-Flowc-Run".into(), run_id.clone()));
            Answer {
                status,
                headers: h,
                body: if status == 204 { Vec::new() } else { body.clone().unwrap_or_default().into_bytes() },
                run: Some(run_id),
            }
        }
        None if outcome.state.status == RunStatus::Failed => {
            let reason = outcome.events.iter().rev().find_map(|e| match e {
                Event::RunEnded { reason, .. } => reason.clone(),
                _ => None,
            });
            Answer::json(500, json!({ "error": reason.unwrap_or_else(|| "the run failed".into()), "run_id": run_id }))
                .for_run(&run_id)
        }
        None => Answer::json(202, json!({ "run_id": run_id, "status": outcome.state.status })).for_run(&run_id),
    }
}

/// A request path for the access log, with the contact's address in `/contacts/{urn}` masked but for
/// its scheme and last three characters (`/contacts/tel:+*********000/messages`): phone numbers are
/// personal data.
fn masked_path(path: &str) -> std::borrow::Cow<'_, str> {
    let Some(rest) = path.strip_prefix("/contacts/") else { return path.into() };
    let (urn, tail) = rest.split_once('/').map_or((rest, ""), |(u, t)| (u, t));
    let decoded = percent_decode(urn, false);
    let (scheme, address) = decoded.split_once(':').unwrap_or(("", decoded.as_str()));
    let keep = address.chars().count().saturating_sub(3);
    let shown: String = address.chars().enumerate().map(|(i, c)| if i < keep && c != '+' { '*' } else { c }).collect();
    let urn = if scheme.is_empty() { shown } else { format!("{scheme}:{shown}") };
    let tail = if tail.is_empty() { String::new() } else { format!("/{tail}") };
    format!("/contacts/{urn}{tail}").into()
}

/// Checks a trigger's request against its `expect` lines (and reads declared numbers and booleans
/// out of text): the first field missing or of another type, named.
fn expected(
    trigger: &TriggerDef,
    headers: &mut Map<String, Value>,
    query: &mut Map<String, Value>,
    body: &mut Value,
    form: bool,
) -> Result<(), String> {
    // Headers and query parameters have no `?`: a declared one may be absent, but one that is there
    // must read as its type. Body fields are required unless marked `?`.
    for (name, shape) in &trigger.headers {
        if let Some(v) = headers.get_mut(&crate::net::header_key(name)) {
            expect::conform(v, shape, &format!("header {name}"), true)?;
        }
    }
    for (name, shape) in &trigger.query {
        if let Some(v) = query.get_mut(name) {
            expect::conform(v, shape, &format!("query parameter {name}"), true)?;
        }
    }
    if let Some(shape) = &trigger.body {
        if body.is_null() {
            return Err("the body is missing".into());
        }
        expect::conform(body, shape, "body", form)?;
    }
    Ok(())
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
    fn store_lock(&self, key: &str) -> Result<StoreLock<'_>, Answer> {
        self.store.lock(key, STORE_LOCK_WAIT).map_err(|e| {
            let mut a = Answer::error(503, format!("{e}; try again"));
            a.headers.push(("Retry-After".into(), "1".into()));
            a
        })?;
        Ok(StoreLock { store: &*self.store, key: key.to_string() })
    }

    fn program_of(&self, flow: &str) -> Option<&Served> {
        self.programs.iter().find(|p| p.program.flows.iter().any(|f| f.name == flow))
    }

    /// The program a stored run continues on, and the version it keeps: the version it started on,
    /// compiled from the store when that is not the current one and the store kept it, else the
    /// current program of its flow. A run stored before versions were kept takes the current version.
    fn program_for(&self, run: &StoredRun) -> Option<(Arc<Program>, String)> {
        let current = self.program_of(&run.state.flow);
        let version = run.version.clone().or_else(|| current.map(|c| c.version.clone()))?;
        if let Some(c) = current.filter(|c| c.version == version) {
            return Some((c.program.clone(), version));
        }
        let mut earlier = self.earlier.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = earlier.get(&version) {
            return Some((p.clone(), version));
        }
        let compiled = match self.store.version_source(&version) {
            Ok(Some(source)) => crate::compile_source(&source).ok().map(|(p, _)| Arc::new(p)),
            Ok(None) => None,
            Err(e) => {
                eprintln!("flowc: cannot read version {version}: {e}");
                None
            }
        };
        match compiled {
            Some(p) => {
                earlier.insert(version.clone(), p.clone());
                Some((p, version))
            }
            None => current.map(|c| (c.program.clone(), version)),
        }
    }

    /// Runs one step of `flow` (a start when `starts`), timed and counted for `/metrics`.
    fn step(
        &self,
        flow: &str,
        starts: bool,
        f: impl FnOnce(&RunOptions<'_>) -> Result<Outcome, interp::RunError>,
    ) -> Result<Outcome, interp::RunError> {
        let began = std::time::Instant::now();
        let outcome = self.with_options(f);
        if let Ok(o) = &outcome {
            if starts {
                metrics::run_started(flow);
            }
            let ended = (o.state.status != RunStatus::Waiting).then(|| o.state.status.as_str());
            metrics::step(flow, began.elapsed(), ended);
        }
        outcome
    }

    fn with_options<T>(&self, f: impl FnOnce(&RunOptions<'_>) -> T) -> T {
        let log_fn = |req: &interp::Request, outcome: &interp::CallOutcome| {
            metrics::webhook_call(&req.name, outcome.ok(), outcome.elapsed_ms);
            let entries = crate::webhook_log::entries(req, outcome).iter().map(LogLine::new).collect();
            if let Err(e) = self.writer.write(Vec::new(), entries, Commit::Soon) {
                eprintln!("flowc: cannot write the webhook log: {e}");
            }
        };
        let env = |name: &str| self.env(name);
        let routed;
        let client: &dyn interp::WebhookClient = if self.config.routes.is_empty() {
            &self.client
        } else {
            routed = interp::Routed { routes: self.config.routes.clone(), inner: &self.client };
            &routed
        };
        let options = RunOptions {
            client,
            env: &env,
            max_steps: self.config.max_steps,
            log: Some(&log_fn),
            zone: self.config.timezone.clone(),
            now_ms: None,
        };
        f(&options)
    }

    /// Saves a step: committed before it returns when the run waits, else as `commit` says.
    fn save(&self, contact_id: &str, outcome: &Outcome, version: &str, commit: Commit) -> Result<(), StoreError> {
        self.save_with(contact_id, outcome, version, commit, Vec::new())
    }

    /// Saves a step with `messages` (the one that started or resumed it); for a run that belongs to a
    /// contact, also the contact as the step left it and the messages it sends through a channel.
    fn save_with(
        &self,
        contact_id: &str,
        outcome: &Outcome,
        version: &str,
        commit: Commit,
        mut messages: Vec<store::MessageRow>,
    ) -> Result<(), StoreError> {
        let deadline_ms = match (&outcome.state.status, &outcome.state.waiting) {
            (RunStatus::Waiting, Some(w)) => w.timeout_ms.map(|t| crate::time::now_millis().saturating_add(t)),
            _ => None,
        };
        let mut record = StepRecord::of(&outcome.state, contact_id, deadline_ms, Some(version), &outcome.events)?;
        if !contact_id.is_empty() {
            let mut contact = outcome.state.contact.clone();
            contact.urn = contact_id.to_string();
            messages.extend(self.outbox(&contact, &outcome.state, &outcome.events));
            record.contact = Some(store::ContactRow::from_contact(&contact));
        }
        if self.config.smtp.is_some() {
            messages.extend(email::rows(&outcome.state, &outcome.events));
        }
        record.messages = messages;
        let commit = if outcome.state.status == RunStatus::Waiting { Commit::Wait } else { commit };
        self.writer.write(vec![record], Vec::new(), commit)
    }

    /// The answer to a request that cannot block, computed on the caller's thread; `None` for one that
    /// goes to the worker pool.
    fn quick(&self, request: &front::Incoming) -> Option<Answer> {
        let path = request.url.split('?').next().unwrap_or_default();
        (self.quick.contains(path) || (path == "/healthz" && request.method == "GET")).then(|| self.handle(request))
    }

    fn handle(&self, request: &front::Incoming) -> Answer {
        let began = std::time::Instant::now();
        let answer = self.route(request);
        metrics::answered(answer.status);
        if self.config.access_log {
            // Time, client, method, path (never the query: it may hold an API key; a contact's
            // address masked), status, time taken, run.
            let path = request.url.split('?').next().unwrap_or_default();
            let line = format!(
                "{} {} {} {} {} {}ms{}\n",
                crate::time::iso(crate::time::now_millis()),
                request.peer.map_or("-".to_string(), |p| p.to_string()),
                request.method,
                masked_path(path).escape_debug(),
                answer.status,
                began.elapsed().as_millis(),
                answer.run.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
            );
            self.access.push(&line);
        }
        answer
    }

    fn read_body(&self, request: &front::Incoming) -> Result<Vec<u8>, Answer> {
        request.body.clone().map_err(|(status, message)| Answer::error(status, message))
    }

    fn route(&self, request: &front::Incoming) -> Answer {
        let method = request.method.to_ascii_uppercase();
        let url = request.url.clone();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let path = path.to_string();
        let query = query.to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // What reads or changes contacts, runs, messages and the log is the operator's.
        let operator = match (method.as_str(), segments.as_slice()) {
            ("GET", ["log"] | ["runs", _] | ["contacts", _]) => true,
            ("POST", ["flows", _, "runs"] | ["contacts", _, "messages"]) => true,
            ("GET", ["metrics"]) => self.config.private_metrics,
            _ => false,
        };
        if operator && let Err(refused) = self.operator(request) {
            return refused;
        }
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["healthz"]) => return Answer::json(200, json!({ "status": "ok" })),
            ("GET", ["readyz"]) => return self.ready(),
            ("GET", ["metrics"]) => return self.metrics(),
            ("GET", ["log"]) => return self.log(&parse_query(&query)),
            ("GET", ["runs", id]) => return self.show_run(&percent_decode(id, false)),
            ("GET", ["contacts", urn]) => return self.show_contact(&percent_decode(urn, false)),
            ("POST", ["flows", flow, "runs"]) => {
                let flow = percent_decode(flow, false);
                return match self.read_body(request) {
                    Ok(body) => self.start_conversation(&flow, &body),
                    Err(a) => a,
                };
            }
            ("POST", ["contacts", id, "messages"]) => {
                // A path keeps `+` (phone numbers are the natural contact ids); only queries read it as a space.
                let id = percent_decode(id, false);
                if id.trim().is_empty() {
                    // Runs that belong to no contact are stored under "": no message may reach them.
                    return Answer::error(400, "give the contact's URN: POST /contacts/{urn}/messages");
                }
                return match self.read_body(request) {
                    Ok(body) => self.message(&id, &body),
                    Err(a) => a,
                };
            }
            _ => {}
        }
        let channel =
            self.programs.iter().find_map(|p| p.program.channels.iter().find(|c| c.receive == path).map(|c| (p, c)));
        if let Some((served, channel)) = channel {
            if method != "POST" {
                return Answer::not_allowed(&method, &path, "POST".into());
            }
            return self.channel_receive(served, channel, request);
        }
        let found =
            self.programs.iter().find_map(|p| p.program.triggers.iter().find(|t| t.suffix == path).map(|t| (p, t)));
        let Some((served, trigger)) = found else {
            return Answer::error(404, format!("nothing is served at {path}"));
        };
        if !crate::ast::Method::parse(&method).is_some_and(|m| trigger.methods.contains(&m)) {
            return Answer::not_allowed(&method, &path, crate::ast::Method::list(&trigger.methods, ", "));
        }
        let headers = &request.headers;
        let body = match self.read_body(request) {
            Ok(b) => b,
            Err(a) => return a,
        };
        self.trigger(served, trigger, &method, headers, &query, &body)
    }

    /// Whether the request carries one of the operator tokens (each compared in constant time, all
    /// of them every time). The token is never logged: the access log has no headers.
    fn operator(&self, request: &front::Incoming) -> Result<(), Answer> {
        let refuse = |message: &str| {
            let mut a = Answer::error(401, message);
            a.headers.push(("WWW-Authenticate".into(), "Bearer".into()));
            a
        };
        if self.config.api_tokens.is_empty() {
            return Err(refuse(
                "the operator API is closed: start flowc serve with FLOWC_API_TOKEN set (one or more tokens, comma-separated) and send Authorization: Bearer TOKEN",
            ));
        }
        let given = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(given) = given else {
            return Err(refuse("send Authorization: Bearer TOKEN, with a token from FLOWC_API_TOKEN"));
        };
        let matched = self
            .config
            .api_tokens
            .iter()
            .fold(false, |found, token| auth::constant_time_eq(token.as_bytes(), given.as_bytes()) | found);
        if matched { Ok(()) } else { Err(refuse("this token is not one of FLOWC_API_TOKEN's")) }
    }

    fn authenticate(
        &self,
        program: &Program,
        auth: Option<&TriggerAuthDef>,
        headers: &[(String, String)],
        query: &Map<String, Value>,
        body: &[u8],
    ) -> Result<(), Answer> {
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        match auth {
            None => Ok(()),
            Some(TriggerAuthDef::Connector(i)) => {
                let Some(AuthDef::ApiKey { place, name, value }) = program.connectors.get(*i).map(|c| &c.auth) else {
                    return Err(Answer::error(500, "the trigger's connector is not an api_key connector"));
                };
                let expected = match value {
                    Secret::Env(var) => self
                        .env(var)
                        .ok_or_else(|| Answer::error(500, format!("environment variable {var} is not set")))?,
                    Secret::Literal(v) => v.clone(),
                };
                let given = match place {
                    KeyPlace::Header => header(name).map(str::to_string),
                    KeyPlace::Query => query.get(name).and_then(Value::as_str).map(str::to_string),
                };
                match given {
                    Some(g) if auth::constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(()),
                    Some(_) => Err(Answer::error(401, format!("the {name} key is wrong"))),
                    None => Err(Answer::error(401, format!("missing {name} key"))),
                }
            }
            Some(TriggerAuthDef::Signature { env }) => {
                let secret = self
                    .env(env)
                    .ok_or_else(|| Answer::error(500, format!("environment variable {env} is not set")))?;
                let now = crate::time::now_millis();
                auth::verify(
                    &secret,
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                    body,
                    now / 1000,
                )
                .map_err(|e| Answer::error(401, format!("signature refused: {e}")))?;
                let id = header("webhook-id").unwrap_or_default();
                let window = auth::SIGNATURE_TOLERANCE_SECS * 2 * 1000;
                match self.store.first_sighting(&format!("signature:{id}"), now, now.saturating_sub(window)) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Answer::error(401, format!("webhook-id {id} was already used (replay)"))),
                    Err(e) => Err(Answer::error(500, e.to_string())),
                }
            }
        }
    }

    fn trigger(
        &self,
        served: &Served,
        trigger: &TriggerDef,
        method: &str,
        headers: &[(String, String)],
        query: &str,
        body: &[u8],
    ) -> Answer {
        let program = &*served.program;
        let query = parse_query(query);
        if let Err(a) = self.authenticate(program, trigger.auth.as_ref(), headers, &query, body) {
            return a;
        }
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(body).into_owned();
        let body_value = if body.is_empty() {
            Value::Null
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            Value::Object(parse_query(&text))
        } else if content_type.contains("json")
            || (content_type.is_empty() && text.trim_start().starts_with(['{', '[']))
        {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return Answer::error(400, format!("the body is not valid JSON: {e}")),
            }
        } else {
            Value::String(text)
        };
        let mut header_map: Map<String, Value> =
            headers.iter().map(|(k, v)| (crate::net::header_key(k), Value::String(v.clone()))).collect();
        let (mut query, mut body_value) = (query, body_value);
        let form = content_type.starts_with("application/x-www-form-urlencoded");
        if let Err(why) = expected(trigger, &mut header_map, &mut query, &mut body_value, form) {
            return Answer::error(422, format!("the request does not match the trigger's expect: {why}"));
        }
        let trigger_value = json!({ "method": method, "headers": header_map, "query": query, "body": body_value });
        let flow = &program.flows[trigger.flow].name;
        if let Some(contact) = &trigger.contact {
            return self.trigger_for_contact(served, flow, contact, trigger_value);
        }
        let run_id = crate::time::unique_id("run");
        // A run that cannot wait is never seen by another step: it needs no lock.
        let lock = (!self.quick.contains(&trigger.suffix)).then(|| self.lock(&run_id));
        let _guard = lock.as_ref().map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        let outcome =
            self.step(flow, true, |o| interp::start(program, Some(flow), &run_id, json!({}), Some(trigger_value), o));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Answer::error(500, e.to_string()).for_run(&run_id),
        };
        let commit = if lock.is_none() { Commit::Linger } else { Commit::Soon };
        if let Err(e) = self.save("", &outcome, &served.version, commit) {
            return Answer::error(500, e.to_string()).for_run(&run_id);
        }
        trigger_answer(run_id, &outcome)
    }

    fn start_conversation(&self, flow: &str, body: &[u8]) -> Answer {
        let Some(served) = self.program_of(flow) else {
            return Answer::error(404, format!("there is no flow `{flow}`"));
        };
        let request: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return Answer::error(400, format!("the body is not valid JSON: {e}")),
            }
        };
        let given = request.get("contact").cloned().unwrap_or(json!({}));
        if let Err(e) = crate::interp::Contact::timezone_of(&given) {
            return Answer::error(400, format!("contact: {e}"));
        }
        let id = given.get("urn").or_else(|| given.get("id")).map(crate::interp::value_text);
        let Some(contact_id) = id.filter(|s| !s.is_empty()) else {
            return Answer::error(400, "give the contact an id: {\"contact\": {\"id\": \"...\", \"name\": ...}}");
        };
        let lock = self.lock(&contact_id);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _held = match self.store_lock(&contact_id) {
            Ok(h) => h,
            Err(a) => return a,
        };
        // The stored contact, with what the request gives on top.
        let mut contact = match self.store.contact(&contact_id) {
            Ok(Some(c)) => c.to_json(),
            Ok(None) => json!({ "urn": contact_id }),
            Err(e) => return Answer::error(500, e.to_string()),
        };
        if let (Some(c), Value::Object(g)) = (contact.as_object_mut(), given) {
            for (k, v) in g.into_iter().filter(|(k, _)| k != "id") {
                match (k.as_str(), c.get_mut("fields"), v) {
                    ("fields", Some(Value::Object(fields)), Value::Object(more)) => fields.extend(more),
                    (_, _, v) => {
                        c.insert(k, v);
                    }
                }
            }
            c.insert("urn".into(), Value::String(contact_id.clone()));
        }
        if let Err(a) = self.interrupt_waiting(&contact_id, flow) {
            return a;
        }
        self.start_run(served, flow, &contact_id, contact, Vec::new(), 201)
    }

    /// Stops the contact's waiting run, if any: a new run interrupts it, as in RapidPro.
    fn interrupt_waiting(&self, contact_id: &str, flow: &str) -> Result<(), Answer> {
        match self.store.waiting_run(contact_id) {
            Ok(Some(mut old)) => {
                old.state.status = RunStatus::Stopped;
                old.state.waiting = None;
                old.deadline_ms = None;
                let ended = [Event::RunEnded {
                    status: RunStatus::Stopped,
                    reason: Some(format!("interrupted by a new run of {flow}")),
                }];
                StepRecord::new(&old, &ended)
                    .and_then(|r| self.writer.write(vec![r], Vec::new(), Commit::Wait))
                    .map_err(|e| Answer::error(500, e.to_string()))?;
                metrics::run_ended(&old.state.flow, RunStatus::Stopped.as_str());
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(Answer::error(500, e.to_string())),
        }
    }

    /// Starts `flow` for a contact (the caller holds the contact's lock) and saves the step with
    /// `messages`, the first of which, if any, is the message that started it (`@input`); answers
    /// `status` with the step.
    fn start_run(
        &self,
        served: &Served,
        flow: &str,
        contact_id: &str,
        contact: Value,
        messages: Vec<store::MessageRow>,
        status: u16,
    ) -> Answer {
        let input = messages.first().map(|m| m.text.clone());
        let run_id = crate::time::unique_id("run");
        let messages = messages
            .into_iter()
            .map(|mut m| {
                m.run_id = Some(run_id.clone());
                m
            })
            .collect();
        let outcome = self.step(flow, true, |o| {
            interp::start_with_input(&served.program, Some(flow), &run_id, contact, None, input, o)
        });
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Answer::error(500, e.to_string()),
        };
        if let Err(e) = self.save_with(contact_id, &outcome, &served.version, Commit::Wait, messages) {
            return Answer::error(500, e.to_string()).for_run(&run_id);
        }
        Answer::json(status, step_json(&outcome.state, &outcome.events)).for_run(&run_id)
    }

    /// Starts `flow` for the contact of an incoming message (the caller holds the contact's lock).
    fn start_for_contact(
        &self,
        served: &Served,
        flow: &str,
        contact: store::ContactRow,
        message: store::MessageRow,
    ) -> Answer {
        let urn = contact.urn.clone();
        self.start_run(served, flow, &urn, contact.to_json(), vec![message], 201)
    }

    /// `POST /contacts/{urn}/messages`: a message given through the API, routed like a channel's.
    fn message(&self, contact_id: &str, body: &[u8]) -> Answer {
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(v) => match v.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => return Answer::error(400, "give the message as {\"text\": \"...\"}"),
            },
            Err(e) => return Answer::error(400, format!("the body is not valid JSON: {e}")),
        };
        self.incoming(channels::Inbound { urn: contact_id.to_string(), channel: None, text, name: None })
    }

    /// Continues a stored run (a reply, a timeout) with its contact as stored now (`contact`, or read
    /// from the store), saving `messages` with the step.
    fn continue_run(
        &self,
        mut run: StoredRun,
        how: Resume,
        contact: Option<store::ContactRow>,
        messages: Vec<store::MessageRow>,
    ) -> Answer {
        let Some((program, version)) = self.program_for(&run) else {
            return Answer::error(409, format!("flow `{}` is no longer served", run.state.flow));
        };
        let contact = match contact {
            Some(c) => Some(c),
            None if run.contact_id.is_empty() => None,
            None => match self.store.contact(&run.contact_id) {
                Ok(c) => c,
                Err(e) => return Answer::error(500, e.to_string()),
            },
        };
        if let Some(c) = contact {
            // Fields another run set since this one started are seen here.
            run.state.contact = interp::Contact::from_json(&c.to_json());
        }
        let (run_id, flow) = (run.state.run_id.clone(), run.state.flow.clone());
        let outcome = self.step(&flow, false, |o| interp::resume(&program, run.state, how, o));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Answer::error(409, e.to_string()).for_run(&run_id),
        };
        if let Err(e) = self.save_with(&run.contact_id, &outcome, &version, Commit::Wait, messages) {
            return Answer::error(500, e.to_string()).for_run(&run_id);
        }
        Answer::json(200, step_json(&outcome.state, &outcome.events)).for_run(&run_id)
    }

    /// Deletes what is older than `--retain`, a batch at a time so that steps are never held up long.
    fn purge_old(&self, stop: &AtomicBool) {
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
    fn ready(&self) -> Answer {
        let flows: usize = self.programs.iter().map(|p| p.program.flows.len()).sum();
        match self.store.check_writable() {
            Ok(()) => Answer::json(200, json!({ "status": "ready", "flows": flows })),
            Err(e) => Answer::json(503, json!({ "status": "not ready", "error": e.to_string() })),
        }
    }

    /// The Prometheus text format.
    fn metrics(&self) -> Answer {
        let Some(handle) = metrics::handle() else {
            return Answer::error(503, "another metrics recorder was installed in this process");
        };
        match self.store.waiting_count() {
            Ok(n) => metrics::waiting_runs(n),
            Err(e) => self.quiet_when_away(|| eprintln!("flowc: metrics: {e}")),
        }
        match self.store.outbox_count() {
            Ok(n) => metrics::outbox_pending(n),
            Err(e) => self.quiet_when_away(|| eprintln!("flowc: metrics: {e}")),
        }
        metrics::queue_depth(self.writer.depth.load(Ordering::Relaxed));
        Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; version=0.0.4; charset=utf-8".into())],
            body: handle.render().into_bytes(),
            run: None,
        }
    }

    fn resume_due_runs(&self) {
        let due = match self.store.due_runs(crate::time::now_millis()) {
            Ok(d) => d,
            Err(e) => {
                self.quiet_when_away(|| eprintln!("flowc: scheduler: {e}"));
                return;
            }
        };
        for run in due {
            let key = if run.contact_id.is_empty() { run.state.run_id.clone() } else { run.contact_id.clone() };
            let lock = self.lock(&key);
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Another server may be resuming it: then it is that server's.
            let Ok(_held) = self.store_lock(&key) else { continue };
            // Re-read under the lock: a reply, or another server's scheduler, may have come first.
            let Ok(Some(current)) = self.store.run(&run.state.run_id) else { continue };
            let due_now = current.state.status == RunStatus::Waiting
                && current.deadline_ms.is_some_and(|d| d <= crate::time::now_millis());
            if due_now {
                let a = self.continue_run(current, Resume::Timeout, None, Vec::new());
                if a.status >= 400 {
                    eprintln!("flowc: scheduler: run {}: {}", run.state.run_id, String::from_utf8_lossy(&a.body));
                }
            }
        }
    }

    fn log(&self, query: &Map<String, Value>) -> Answer {
        if let Err(e) = self.writer.flush() {
            return Answer::error(500, e.to_string());
        }
        let webhook = query.get("webhook").and_then(Value::as_str).filter(|s| !s.is_empty());
        let failed = query.get("failed").and_then(Value::as_str).is_some_and(|s| s == "true" || s == "1");
        let limit = match query.get("limit").and_then(Value::as_str) {
            None | Some("") => 100,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if n <= 10_000 => n,
                _ => return Answer::error(400, "limit must be a number up to 10000"),
            },
        };
        match self.store.read_log(webhook, failed, limit) {
            Ok(entries) => Answer::json(200, Value::Array(entries)),
            Err(e) => Answer::error(500, e.to_string()),
        }
    }

    fn show_run(&self, id: &str) -> Answer {
        if let Err(e) = self.writer.flush() {
            return Answer::error(500, e.to_string());
        }
        match (self.store.summary(id), self.store.events(id)) {
            (Ok(Some(run)), Ok(events)) => Answer::json(
                200,
                json!({ "run_id": id, "flow": run.flow, "contact_id": run.contact_id, "status": run.status, "events": events }),
            ),
            (Ok(None), _) => Answer::error(404, format!("there is no run {id}")),
            (Err(e), _) | (_, Err(e)) => Answer::error(500, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_escapes_in_queries_are_kept_not_fatal() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("+250788000009", false), "+250788000009");
        assert_eq!(percent_decode("%2B250%20x", false), "+250 x");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%E2%82", true), "\u{FFFD}");
        let q = parse_query("a=1&&=x&b&c=%&a=2");
        assert_eq!(q.get("a"), Some(&Value::from("2")));
        assert_eq!(q.get(""), Some(&Value::from("x")));
        assert_eq!(q.get("b"), Some(&Value::from("")));
        assert_eq!(q.get("c"), Some(&Value::from("%")));
    }
}
