//! The single writer thread: group commit of steps and log lines (see [`Writer`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::metrics;
use super::outbox;
use super::store::{LogLine, StepRecord, Store, StoreError};

/// Work for the writer thread: steps and log entries to commit, and who waits for the commit.
pub(super) struct WriteJob {
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
pub(super) enum Commit {
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
pub(super) struct Writer {
    queue: std::sync::mpsc::SyncSender<WriteJob>,
    /// Writes queued and not yet committed, for `/metrics`.
    depth: Arc<std::sync::atomic::AtomicUsize>,
    /// Queued writes that someone waits for.
    durable: Arc<std::sync::atomic::AtomicUsize>,
    /// The writer's thread, woken from its linger by a write someone waits for.
    wake: std::thread::Thread,
}

/// How long a write nobody waits for may wait for others to share its commit.
pub(super) const LINGER: Duration = Duration::from_millis(5);

/// Writes that may wait in the writer's queue; when it is full, requests wait (backpressure), so memory
/// stays bounded whatever the load.
pub(super) const WRITE_QUEUE: usize = 1024;

impl Writer {
    /// Starts the writer thread; `outbox` is woken when a commit carries outgoing messages.
    pub(super) fn start(
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
    pub(super) fn write(&self, steps: Vec<StepRecord>, log: Vec<LogLine>, commit: Commit) -> Result<(), StoreError> {
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

    /// Writes queued and not committed yet.
    pub(super) fn queued(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Waits until everything queued so far is committed.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        self.write(Vec::new(), Vec::new(), Commit::Wait)
    }
}
