//! The outbox's sender (docs/channels.md): what runs send through channels, delivered concurrently per
//! channel and in order per contact.
//!
//! One dispatcher thread claims due messages from the store, each contact's oldest pending one only,
//! and hands them to their channel's lane. A lane delivers up to `concurrency` messages at once on
//! threads it starts when work comes and ends after a minute without any; a stuck gateway fills its
//! own lane and no other. A claim keeps the message (and its contact's later ones) from being claimed
//! again, by this server or another on the same database, until its outcome is recorded; the
//! dispatcher records the outcomes that came in since its last round in one transaction, then claims
//! again for the lanes that have room. It sleeps on a doorbell rung when a step with messages is
//! committed, when a delivery ends and, for retries that come due by time, by the store's poll.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::App;
use super::store::{Attempted, Channels, Delivery, OutMessage};

/// How long a lane's idle thread waits for work before it ends.
const IDLE: Duration = Duration::from_secs(60);

/// How often messages of channels no longer served are looked for (and failed).
const UNSERVED_EVERY: Duration = Duration::from_secs(60);

/// How long past the channel's timeout a claim lasts: a server that died mid-delivery leaves its
/// messages to the others (or to itself, restarted on PostgreSQL) after this.
const LEASE_MARGIN_MS: u64 = 30_000;

/// How long a stopping server waits for deliveries in flight. One cut off is delivered again (with the
/// same `Idempotency-Key`) when the server, or another on the same PostgreSQL, takes the message up.
const STOP_GRACE: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wakes the dispatcher.
#[derive(Default)]
pub(super) struct Doorbell {
    rung: Mutex<bool>,
    bell: Condvar,
}

impl Doorbell {
    pub(super) fn ring(&self) {
        *lock(&self.rung) = true;
        self.bell.notify_all();
    }

    /// Returns at the next ring (or at once if one came since the last wait), or after `max`.
    fn wait(&self, max: Duration) {
        let rung = lock(&self.rung);
        let (mut rung, _) = self.bell.wait_timeout_while(rung, max, |r| !*r).unwrap_or_else(|p| p.into_inner());
        *rung = false;
    }
}

/// The sender's state, shared by the dispatcher and the lanes' threads.
pub(super) struct Outbox {
    pub(super) bell: Doorbell,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    /// Outcomes not recorded yet.
    finished: Mutex<Vec<Attempted>>,
    /// The messages claimed and not recorded: a claim this server's session lost (its connection to
    /// PostgreSQL was renewed) may come back to it while the first delivery is still on its way.
    claimed: Mutex<std::collections::HashSet<String>>,
    /// Deliveries at once per channel.
    concurrency: usize,
}

/// One channel's deliveries.
#[derive(Default)]
struct Lane {
    state: Mutex<LaneState>,
    work: Condvar,
}

#[derive(Default)]
struct LaneState {
    /// Claimed, not started.
    queue: VecDeque<OutMessage>,
    /// Claimed and not finished (queued or being delivered).
    busy: usize,
    /// Threads waiting for work.
    idle: usize,
    /// Threads alive.
    threads: usize,
    /// When the next delivery may start, for a channel with a `rate`.
    next_slot: Option<Instant>,
}

impl Outbox {
    pub(super) fn new(concurrency: usize) -> Outbox {
        Outbox {
            bell: Doorbell::default(),
            lanes: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
            claimed: Mutex::new(std::collections::HashSet::new()),
            concurrency: concurrency.max(1),
        }
    }

    fn lane(&self, channel: &str) -> Arc<Lane> {
        lock(&self.lanes).entry(channel.to_string()).or_default().clone()
    }

    /// Deliveries claimed and not finished, over every channel.
    fn busy(&self) -> usize {
        lock(&self.lanes).values().map(|l| lock(&l.state).busy).sum()
    }

    /// A delivery ended.
    fn finish(&self, lane: &Lane, outcome: Attempted) {
        lock(&self.finished).push(outcome);
        lock(&lane.state).busy -= 1;
        self.bell.ring();
    }
}

/// The dispatcher's loop, until `stop`; then it waits (a while) for the deliveries in flight, gives
/// back the claims of those not started and records every outcome.
pub(super) fn dispatch(app: &Arc<App>, stop: &AtomicBool) {
    let outbox = &app.outbox;
    let served = app.channel_names();
    let mut unserved_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let recorded = record(app);
        let mut claimed = 0;
        if app.store.available() {
            for channel in &served {
                claimed += claim(app, channel);
            }
            if unserved_at <= Instant::now() {
                unserved_at = Instant::now() + UNSERVED_EVERY;
                fail_unserved(app, &served);
            }
        }
        if claimed == 0 && recorded == 0 {
            outbox.bell.wait(app.config.outbox_poll);
        }
    }
    // Stopping: what is queued goes back; what is being delivered is waited for.
    for lane in lock(&outbox.lanes).values() {
        let queued: Vec<OutMessage> = lock(&lane.state).queue.drain(..).collect();
        for m in queued {
            outbox.finish(lane, Attempted { id: m.id, attempts: m.attempts, delivery: Delivery::Unsent });
        }
        lane.work.notify_all();
    }
    let until = Instant::now() + STOP_GRACE;
    while outbox.busy() > 0 && Instant::now() < until {
        outbox.bell.wait(Duration::from_millis(50));
    }
    record(app);
}

/// Records the outcomes that came in; how many. Kept for the next round if the store fails.
fn record(app: &App) -> usize {
    let outcomes = std::mem::take(&mut *lock(&app.outbox.finished));
    if outcomes.is_empty() {
        return 0;
    }
    match app.store.delivered(&outcomes) {
        Ok(()) => {
            let mut claimed = lock(&app.outbox.claimed);
            for o in &outcomes {
                claimed.remove(&o.id);
            }
            outcomes.len()
        }
        Err(e) => {
            app.quiet_when_away(|| eprintln!("flowc: outbox: cannot record {} deliveries: {e}", outcomes.len()));
            lock(&app.outbox.finished).extend(outcomes);
            0
        }
    }
}

/// Claims what `channel`'s lane has room for and hands it over; how many.
fn claim(app: &Arc<App>, channel: &str) -> usize {
    let lane = app.outbox.lane(channel);
    let busy = lock(&lane.state).busy;
    let mut room = app.outbox.concurrency.saturating_sub(busy);
    // A channel with a rate claims what it can send in two seconds: its claims never outlast their
    // lease while they wait for their turn.
    if let Some(rate) = app.channel_rate(channel) {
        room = room.min(((rate * 2.0).ceil() as usize).max(1).saturating_sub(busy));
    }
    if room == 0 {
        return 0;
    }
    let now = crate::time::now_millis();
    let lease = now + app.delivery_timeout_ms(channel) + LEASE_MARGIN_MS;
    let messages = match app.store.claim_messages(Channels::Only(channel), now, room, lease) {
        Ok(m) => {
            let mut claimed = lock(&app.outbox.claimed);
            m.into_iter().filter(|m| claimed.insert(m.id.clone())).collect::<Vec<_>>()
        }
        Err(e) => {
            app.quiet_when_away(|| eprintln!("flowc: outbox: {e}"));
            return 0;
        }
    };
    let n = messages.len();
    if n > 0 {
        let mut state = lock(&lane.state);
        state.busy += n;
        state.queue.extend(messages);
        let wanted = state.queue.len().saturating_sub(state.idle);
        let startable = app.outbox.concurrency.saturating_sub(state.threads);
        for _ in 0..wanted.min(startable) {
            let (app, lane2, name) = (app.clone(), lane.clone(), channel.to_string());
            match std::thread::Builder::new()
                .name(format!("flowc-send-{channel}"))
                .spawn(move || work(&app, &lane2, &name))
            {
                Ok(_) => state.threads += 1,
                Err(e) => {
                    eprintln!("flowc: outbox: cannot start a delivery thread: {e}");
                    break;
                }
            }
        }
        drop(state);
        lane.work.notify_all();
    }
    n
}

/// Fails the due messages of channels this server does not serve (a channel taken out of the flows).
fn fail_unserved(app: &Arc<App>, served: &[String]) {
    let now = crate::time::now_millis();
    let lease = now + LEASE_MARGIN_MS;
    // E-mail waits for a server that sends it (one started with --smtp), whoever serves the rest.
    let mut kept = served.to_vec();
    kept.push(super::email::CHANNEL.into());
    match app.store.claim_messages(Channels::NoneOf(&kept), now, 1000, lease) {
        Ok(messages) if !messages.is_empty() => {
            let outcomes: Vec<Attempted> = messages
                .into_iter()
                .map(|m| Attempted {
                    delivery: Delivery::Failed { error: format!("the channel `{}` is no longer served", m.channel) },
                    id: m.id,
                    attempts: m.attempts + 1,
                })
                .collect();
            lock(&app.outbox.finished).extend(outcomes);
        }
        Ok(_) => {}
        Err(e) => app.quiet_when_away(|| eprintln!("flowc: outbox: {e}")),
    }
}

/// Waits for the next turn of a channel with a rate: its deliveries start `1 / rate` seconds apart, on
/// all its lane's threads together. False when the server stops meanwhile.
fn pace(app: &App, lane: &Lane, rate: f64) -> bool {
    let gap = Duration::from_secs_f64(1.0 / rate);
    let slot = {
        let mut state = lock(&lane.state);
        let now = Instant::now();
        let slot = state.next_slot.map_or(now, |n| n.max(now));
        state.next_slot = Some(slot + gap);
        slot
    };
    while Instant::now() < slot {
        if app.stopping() {
            return false;
        }
        std::thread::sleep(slot.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)));
    }
    true
}

/// A lane's thread: delivers what is queued, ends after [`IDLE`] without work or when the queue is
/// closed by a stopping server.
fn work(app: &Arc<App>, lane: &Lane, channel: &str) {
    loop {
        let message = {
            let mut state = lock(&lane.state);
            loop {
                if let Some(m) = state.queue.pop_front() {
                    break m;
                }
                if app.stopping() {
                    state.threads -= 1;
                    return;
                }
                state.idle += 1;
                let (next, waited) = lane.work.wait_timeout(state, IDLE).unwrap_or_else(|p| p.into_inner());
                state = next;
                state.idle -= 1;
                if waited.timed_out() && state.queue.is_empty() {
                    state.threads -= 1;
                    return;
                }
            }
        };
        if let Some(rate) = app.channel_rate(channel)
            && !pace(app, lane, rate)
        {
            // Stopping before its turn: given back, unsent.
            app.outbox
                .finish(lane, Attempted { id: message.id, attempts: message.attempts, delivery: Delivery::Unsent });
            continue;
        }
        let delivery = app.deliver(&message);
        let outcome = Attempted { id: message.id, attempts: message.attempts + 1, delivery };
        app.outbox.finish(lane, outcome);
    }
}
