//! The server's threads, started here and stopped in this order:
//!
//! | thread | does | stops |
//! |---|---|---|
//! | the front end (`front`, tokio) | holds connections, answers requests that cannot block | first: stops accepting, closes idle and half-read connections, finishes requests being processed |
//! | `flowc-worker-N` (`--workers`) | runs the steps of requests | when the front end closes their queue |
//! | `flowc-scheduler` | resumes waits whose timeout passed; retention once a minute | on the stop flag |
//! | `flowc-log` | writes the access log every 100 ms | on the stop flag (then flushed once more) |
//! | `flowc-sender` | the outbox's dispatcher ([`super::outbox`]) | on the stop flag: gives back what it has not started, waits up to 5 s for deliveries in flight |
//! | `flowc-outbox-poll` | rings the sender for retries and other servers' messages | on the stop flag (its wait is cut short) |
//! | `flowc-starter` | works through group starts ([`super::starts`]) | on the stop flag, after the batch it is on (committed, or left to the next start) |
//! | `flowc-send-CHANNEL` | a channel's deliveries, started on demand | after a minute idle, or when the server stops |
//! | `flowc-writer` | commits steps and log lines in groups ([`super::writer`]) | last, after its last job: everything queued is committed |

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::HttpClient;

use super::access_log::AccessLog;
use super::config::Config;
use super::routes::quick_paths;
use super::starts;
use super::store::Store;
use super::writer::{Commit, Writer};
use super::{App, Served, front, metrics, outbox};

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
            sessions: Default::default(),
            pictures: Mutex::new(HashMap::new()),
        });
        let mut threads = vec![
            spawn("flowc-scheduler", (app.clone(), stop.clone()), move |(app, stop)| scheduler(&app, &stop, interval))?,
            spawn("flowc-log", (app.clone(), stop.clone()), |(app, stop)| flush_access_log(&app, &stop))?,
            spawn("flowc-sender", (app.clone(), stop.clone()), |(app, stop)| outbox::dispatch(&app, &stop))?,
            spawn("flowc-outbox-poll", (app.clone(), stop.clone()), |(app, stop)| poll_outbox(&app, &stop))?,
            spawn("flowc-starter", (app.clone(), stop.clone()), |(app, stop)| {
                // One server per SQLite file: a restarted server takes its starts back at once.
                let owner = if app.store.shared() { crate::time::unique_id("server") } else { "this-server".into() };
                starts::starter(&app, &stop, &owner)
            })?,
        ];
        for i in 0..workers {
            let (queue, app) = (queue.clone(), app.clone());
            threads.push(spawn(&format!("flowc-worker-{i}"), (queue, app), |(queue, app)| {
                loop {
                    // The queue's lock is held only while a job is taken, not while it runs (a guard in
                    // a `while let` would live through the body and make the workers take turns). The
                    // front end closes the queue when it stops: then the worker ends.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                    let Some((request, done)) = job else { break };
                    let _ = done.send(app.handle(&request));
                }
            })?);
        }
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

/// Starts a named thread with a 16 MiB stack (steps recurse through the interpreter) running
/// `work(with)`.
fn spawn<T: Send + 'static>(
    name: &str,
    with: T,
    work: impl FnOnce(T) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(16 << 20)
        .spawn(move || work(with))
        .map_err(|e| format!("cannot start the thread {name}: {e}"))
}

/// Resumes expired waits every `interval`; retention once a minute (and at start), in small batches
/// between the scheduler's other work.
fn scheduler(app: &App, stop: &AtomicBool, interval: Duration) {
    let mut last_purge: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        app.resume_due_runs();
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            app.purge_old(stop);
            last_purge = Some(std::time::Instant::now());
        }
        std::thread::sleep(interval);
    }
}

/// Writes the access log's pending lines every 100 ms.
fn flush_access_log(app: &App, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        app.access.flush();
    }
}

/// Retries come due by time, and another server's messages are announced by the store (PostgreSQL's
/// NOTIFY): both ring the sender's doorbell from here.
fn poll_outbox(app: &App, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        app.store.wait_for_outbox(app.config.outbox_poll);
        app.outbox.bell.ring();
    }
}
