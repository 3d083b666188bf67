//! Group starts (docs/serve.md, "Group starts"): a flow started for the contacts of some groups and a
//! list of URNs, as a job. One thread (`flowc-starter`) works through a start's contacts in URN order,
//! a batch at a time at the start's rate: each contact under its lock, skipped or its waiting run
//! interrupted as the start asks, its run started and the batch's runs saved in one commit; then the
//! start's cursor (the last URN handled) and counts are recorded with its lease renewed. A run's id is
//! derived from the start and the contact, so a batch that was saved but not recorded (a kill in
//! between) is found again after a restart and not started twice; nothing past the cursor was
//! handled, so nothing is skipped. The runs' messages leave through the outbox at each channel's rate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::App;
use super::front::Reply;
use super::store::{ContactRow, StartProgress, StartRow, StepRecord};
use super::writer::Commit;
use crate::interp;

/// Contacts a batch takes at most: their runs are saved in one commit. A slow start takes about a
/// second's worth, so that its counts move and a cancel takes effect within a second.
const BATCH: usize = 100;
/// Contacts read at a time while looking for the members of a start's groups.
const PAGE: usize = 1000;
/// How long a server holds a start without recording progress before another server may take it.
const LEASE_MS: u64 = 30_000;
/// The most URNs one request lists.
pub(super) const MAX_URNS: usize = 100_000;
/// How often the starter looks for a start to work on when it has none.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// What a start asks for, as stored with it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Spec {
    /// Contacts in any of these groups (names compared without case).
    #[serde(default)]
    groups: Vec<String>,
    /// And these contacts, sorted, once each (a URN with no contact yet gets one).
    #[serde(default)]
    urns: Vec<String>,
    /// What to do with a contact that is in a flow already.
    #[serde(default)]
    running: Running,
    /// Runs a second (the server's `--start-rate` at most).
    rate: f64,
    /// The channel of contacts the start creates (a URN nothing knows yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
}

/// A contact that waits in a run when its start comes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Running {
    /// Left in its flow and counted as skipped.
    #[default]
    Skip,
    /// Its run is stopped (as a new run of the contact stops it) and the start's run begins.
    Interrupt,
}

/// A start as the operator API shows it.
fn view(row: &StartRow) -> Value {
    let spec: Spec = serde_json::from_str(&row.spec).unwrap_or_default();
    json!({
        "id": row.id,
        "flow": row.flow,
        "status": row.status,
        "groups": spec.groups,
        "urns": spec.urns.len(),
        "running": spec.running,
        "rate": spec.rate,
        "started": row.started,
        "skipped": row.skipped,
        "failed": row.failed,
        "cursor": row.cursor,
        "error": row.error,
        "created": crate::time::iso(row.created_ms),
        "updated": crate::time::iso(row.updated_ms),
    })
}

impl App {
    /// `POST /starts`: `{"flow", "groups"?, "urns"?, "running"?: "skip"|"interrupt", "rate"?,
    /// "channel"?}` becomes a start that the starter thread works through; answered `202` with it.
    pub(super) fn create_start(&self, body: &[u8]) -> Reply {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Reply::error(400, format!("the body is not valid JSON: {e}")),
        };
        let Some(flow) = request.get("flow").and_then(Value::as_str) else {
            return Reply::error(400, "name the flow: {\"flow\": \"NAME\", \"groups\": [...], \"urns\": [...]}");
        };
        if self.program_of(flow).is_none() {
            return Reply::error(404, format!("there is no flow `{flow}`"));
        }
        let texts = |key: &str| -> Result<Vec<String>, Reply> {
            match request.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| match i.as_str().map(str::trim) {
                        Some(t) if !t.is_empty() => Ok(t.to_string()),
                        _ => Err(Reply::error(400, format!("`{key}` is a list of non-empty texts"))),
                    })
                    .collect(),
                Some(_) => Err(Reply::error(400, format!("`{key}` is a list of texts"))),
            }
        };
        let (groups, urns) = match (texts("groups"), texts("urns")) {
            (Ok(g), Ok(u)) => (g, u),
            (Err(a), _) | (_, Err(a)) => return a,
        };
        if groups.is_empty() && urns.is_empty() {
            return Reply::error(400, "give the contacts to start: `groups` (names), `urns`, or both");
        }
        if urns.len() > MAX_URNS {
            return Reply::error(413, format!("a start lists at most {MAX_URNS} URNs; put the contacts in a group"));
        }
        // A URN as a contact is known by: its scheme in lower case (`TEL:+1` is `tel:+1`), or a phone
        // number; text with spaces or control characters is not one.
        let mut checked = Vec::with_capacity(urns.len());
        for u in &urns {
            if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Reply::error(
                    400,
                    format!("`urns`: {u:?} is not a URN (tel:+250788123456, telegram:ID, ext:ID, or a phone number)"),
                );
            }
            let u = match u.split_once(':') {
                Some((scheme, path)) if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) => {
                    format!("{}:{path}", scheme.to_ascii_lowercase())
                }
                _ => u.clone(),
            };
            checked.push(super::channels::urn_of(&u));
        }
        let mut urns = checked;
        urns.sort_unstable();
        urns.dedup();
        let running = match request.get("running").and_then(Value::as_str) {
            None => Running::Skip,
            Some("skip") => Running::Skip,
            Some("interrupt") => Running::Interrupt,
            Some(other) => {
                return Reply::error(400, format!("`running` is \"skip\" or \"interrupt\", not {other:?}"));
            }
        };
        let max = self.config.start_rate;
        let rate = match request.get("rate") {
            None | Some(Value::Null) => max,
            Some(r) => match r.as_f64() {
                Some(r) if r > 0.0 && r.is_finite() => r.min(max),
                _ => return Reply::error(400, "`rate` is a number of runs a second, above 0"),
            },
        };
        let channel = request.get("channel").and_then(Value::as_str).map(str::to_string);
        if let Some(c) = &channel
            && self.channel(c).is_none()
        {
            return Reply::error(400, format!("there is no channel `{c}`"));
        }
        let spec = Spec { groups, urns, running, rate, channel };
        let now = crate::time::now_millis();
        let row = StartRow {
            id: crate::time::unique_id("start"),
            flow: flow.to_string(),
            spec: serde_json::to_string(&spec).unwrap_or_default(),
            status: "running".into(),
            cursor: String::new(),
            started: 0,
            skipped: 0,
            failed: 0,
            error: None,
            created_ms: now,
            updated_ms: now,
            owner: None,
        };
        if let Err(e) = self.store.create_start(&row) {
            return Reply::error(500, e.to_string());
        }
        Reply::json(202, view(&row))
    }

    /// `GET /starts/{id}`: a start's progress.
    pub(super) fn show_start(&self, id: &str) -> Reply {
        match self.store.start(id) {
            Ok(Some(row)) => Reply::json(200, view(&row)),
            Ok(None) => Reply::error(404, format!("there is no start {id}")),
            Err(e) => Reply::error(500, e.to_string()),
        }
    }

    /// `GET /starts`: the latest starts, newest first.
    pub(super) fn list_starts(&self) -> Reply {
        match self.store.starts(100) {
            Ok(rows) => Reply::json(200, json!({ "starts": rows.iter().map(view).collect::<Vec<_>>() })),
            Err(e) => Reply::error(500, e.to_string()),
        }
    }

    /// `POST /starts/{id}/cancel`: no more runs are started; those started stay.
    pub(super) fn cancel_start(&self, id: &str) -> Reply {
        match self.store.cancel_start(id) {
            Ok(true) => self.show_start(id),
            Ok(false) => match self.store.start(id) {
                Ok(Some(row)) => Reply::error(409, format!("the start {id} is {}, not running", row.status)),
                Ok(None) => Reply::error(404, format!("there is no start {id}")),
                Err(e) => Reply::error(500, e.to_string()),
            },
            Err(e) => Reply::error(500, e.to_string()),
        }
    }
}

/// The starter's loop, until `stop`: takes the oldest running start nobody works on and works on it.
pub(super) fn starter(app: &Arc<App>, stop: &AtomicBool, owner: &str) {
    while !stop.load(Ordering::Relaxed) {
        let now = crate::time::now_millis();
        match app.store.claim_start(owner, now, now + LEASE_MS) {
            Ok(Some(row)) => work(app, stop, owner, row),
            Ok(None) => std::thread::sleep(IDLE_POLL),
            Err(e) => {
                app.quiet_when_away(|| eprintln!("flowc: starts: {e}"));
                std::thread::sleep(IDLE_POLL * 5);
            }
        }
    }
}

/// Where a start stands while its server works on it.
struct Job<'a> {
    row: StartRow,
    spec: Spec,
    owner: &'a str,
}

impl Job<'_> {
    /// Records the progress (also when the start was cancelled meanwhile: its counts stay true); false
    /// when the start is no longer this server's to work on, or no longer running.
    fn record(&self, app: &App, status: &str, error: Option<&str>) -> bool {
        let progress = StartProgress {
            id: &self.row.id,
            owner: self.owner,
            cursor: &self.row.cursor,
            started: self.row.started,
            skipped: self.row.skipped,
            failed: self.row.failed,
            status,
            error,
            lease_until_ms: crate::time::now_millis() + LEASE_MS,
        };
        match app.store.start_progress(&progress) {
            Ok(now) => now.as_deref() == Some(status),
            Err(e) => {
                app.quiet_when_away(|| eprintln!("flowc: start {}: {e}", self.row.id));
                false
            }
        }
    }

    /// The next contacts after the cursor, in URN order: members of the groups and listed URNs, at
    /// most [`BATCH`], each with its stored row if it has one.
    fn next_batch(&self, app: &App) -> Result<Vec<(String, Option<ContactRow>)>, String> {
        let batch = (self.spec.rate.ceil() as usize).clamp(1, BATCH);
        let cursor = self.row.cursor.as_str();
        let mut found: BTreeMap<String, Option<ContactRow>> = BTreeMap::new();
        // Where the walk through the contacts stopped: listed URNs past it wait for the next batch.
        let mut bound: Option<String> = None;
        if !self.spec.groups.is_empty() {
            let wanted: Vec<String> = self.spec.groups.iter().map(|g| g.to_lowercase()).collect();
            let mut after = cursor.to_string();
            loop {
                let page = app.store.contacts_after(&after, PAGE).map_err(|e| e.to_string())?;
                let full = page.len() == PAGE;
                for c in page {
                    after.clone_from(&c.urn);
                    let groups: Vec<String> = serde_json::from_str(&c.groups).unwrap_or_default();
                    if groups.iter().any(|g| wanted.contains(&g.to_lowercase())) {
                        found.insert(c.urn.clone(), Some(c));
                    }
                }
                if !full {
                    break;
                }
                if found.len() >= batch {
                    bound = Some(after);
                    break;
                }
            }
        }
        let from = self.spec.urns.partition_point(|u| u.as_str() <= cursor);
        for urn in self.spec.urns[from..].iter().take(batch) {
            if bound.as_ref().is_some_and(|b| urn > b) {
                break;
            }
            if !found.contains_key(urn) {
                let row = app.store.contact(urn).map_err(|e| e.to_string())?;
                found.insert(urn.clone(), row);
            }
        }
        Ok(found.into_iter().take(batch).collect())
    }
}

/// Works on a start until it is done, cancelled, taken by another server, or the server stops.
fn work(app: &Arc<App>, stop: &AtomicBool, owner: &str, row: StartRow) {
    let spec: Spec = match serde_json::from_str(&row.spec) {
        Ok(s) => s,
        Err(e) => {
            let job = Job { row, spec: Spec::default(), owner };
            job.record(app, "failed", Some(&format!("its request cannot be read: {e}")));
            return;
        }
    };
    let mut job = Job { row, spec, owner };
    let Some(served) = app.program_of(&job.row.flow) else {
        let error = format!("the flow `{}` is no longer served", job.row.flow);
        job.record(app, "failed", Some(&error));
        return;
    };
    let gap = Duration::from_secs_f64(1.0 / job.spec.rate.max(0.001));
    let mut next = Instant::now();
    // The first batch after the start is taken (or taken up again): some of its runs may have been saved
    // before a kill or a stop and not recorded; they are found by their ids, not started again.
    let mut resumed = true;
    while !stop.load(Ordering::Relaxed) {
        let batch = match job.next_batch(app) {
            Ok(b) => b,
            Err(e) => {
                app.quiet_when_away(|| eprintln!("flowc: start {}: {e}", job.row.id));
                std::thread::sleep(Duration::from_secs(1));
                if !job.record(app, "running", None) {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            job.record(app, "completed", None);
            return;
        }
        let mut records: Vec<StepRecord> = Vec::with_capacity(batch.len());
        let last = batch.last().map(|(urn, _)| urn.clone()).unwrap_or_default();
        // A batch saved before a kill and not recorded: its runs exist; they are counted, not started
        // again.
        let batch: Vec<(String, Option<ContactRow>)> = if resumed {
            batch
                .into_iter()
                .filter(|(urn, _)| {
                    let run_id = format!("run-{}", crate::time::derived_uuid(urn, &job.row.id));
                    let exists = matches!(app.store.summary(&run_id), Ok(Some(_)));
                    job.row.started += u64::from(exists);
                    !exists
                })
                .collect()
        } else {
            batch
        };
        // The batch's contacts stay locked until its runs are committed: a message for one of them
        // waits, then finds the run the start saved. In the store (several servers), the free ones are
        // locked in one round trip and the others waited for one by one.
        let urns: Vec<String> = batch.iter().map(|(urn, _)| urn.clone()).collect();
        let locks: Vec<Arc<std::sync::Mutex<()>>> = urns.iter().map(|urn| app.lock(urn)).collect();
        let guards: Vec<_> = locks.iter().map(|l| l.lock().unwrap_or_else(|p| p.into_inner())).collect();
        let bulk = app.store.lock_free(&urns).unwrap_or_default();
        let mut one_by_one = Vec::new();
        let mut busy = std::collections::HashSet::new();
        for urn in urns.iter().filter(|u| !bulk.contains(u)) {
            match app.store_lock(urn) {
                Ok(l) => one_by_one.push(l),
                Err(_) => {
                    busy.insert(urn.clone());
                }
            }
        }
        let waiting = app.store.waiting_contacts(&urns);
        let mut stopped = false;
        for (urn, row) in batch {
            // A stopping server leaves the rest of the batch: what it saved is found again when the
            // start is taken up (by the ids of its runs), and its place is not moved.
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            if busy.contains(&urn) {
                job.row.failed += 1;
                continue;
            }
            // The start's rate: runs begin `1 / rate` apart.
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next = next.max(now) + gap;
            let run_id = format!("run-{}", crate::time::derived_uuid(&urn, &job.row.id));
            let in_a_flow = match &waiting {
                Ok(w) => w.contains(&urn),
                Err(_) => true,
            };
            match start_one(app, &job, served, &urn, row, &run_id, in_a_flow) {
                Ok(Some(record)) => {
                    records.push(record);
                    job.row.started += 1;
                }
                Ok(None) => job.row.skipped += 1,
                Err(e) => {
                    app.quiet_when_away(|| eprintln!("flowc: start {}: {urn}: {e}", job.row.id));
                    job.row.failed += 1;
                }
            }
        }
        let committed = records.is_empty() || app.writer.write(records, Vec::new(), Commit::Wait).is_ok();
        app.store.unlock_all(&bulk);
        drop(one_by_one);
        drop(guards);
        if stopped {
            return;
        }
        if !committed {
            // Nothing of the batch was committed: it is tried again, with the counts as recorded.
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(Some(row)) = app.store.start(&job.row.id) {
                job.row.started = row.started;
                job.row.skipped = row.skipped;
                job.row.failed = row.failed;
            }
            resumed = true;
            continue;
        }
        resumed = false;
        job.row.cursor = last;
        if !job.record(app, "running", None) {
            return;
        }
    }
}

/// Starts the run of one contact (whose locks the caller holds; `in_a_flow` when it may be waiting in a
/// run): the step to save, or `None` when it is in a flow and the start skips such contacts.
fn start_one(
    app: &App,
    job: &Job<'_>,
    served: &super::Served,
    urn: &str,
    row: Option<ContactRow>,
    run_id: &str,
    in_a_flow: bool,
) -> Result<Option<StepRecord>, String> {
    if in_a_flow {
        match app.store.waiting_run(urn).map_err(|e| e.to_string())? {
            Some(_) if job.spec.running == Running::Skip => return Ok(None),
            Some(_) => {
                app.interrupt_waiting(urn, &job.row.flow).map_err(|a| String::from_utf8_lossy(&a.body).to_string())?
            }
            None => {}
        }
    }
    let mut contact = row.unwrap_or_else(|| ContactRow::new(urn));
    if contact.channel.is_empty()
        && let Some(c) = &job.spec.channel
    {
        contact.channel.clone_from(c);
    }
    let flow = job.row.flow.as_str();
    let outcome = app
        .step(flow, true, |o| interp::start(&served.program, Some(flow), run_id, contact.to_contact(), None, o))
        .map_err(|e| e.to_string())?;
    app.step_record(urn, &outcome, &served.version, Vec::new()).map(Some).map_err(|e| e.to_string())
}
