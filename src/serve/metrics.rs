//! What `GET /metrics` shows, in the Prometheus text format: runs, steps, webhook calls, the writer's
//! queue and commits, and HTTP answers. Recorded with the `metrics` crate into one process-wide
//! Prometheus recorder (no runtime, no listener of its own: the server renders it on request).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from a fast step (50 µs) to a webhook that waits its whole timeout.
const BUCKETS: [f64; 14] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The process's recorder, installed on first use. `None` when another recorder was installed first
/// (an embedding program's own): then `/metrics` says so instead of showing nothing.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().set_buckets(&BUCKETS).ok()?.install_recorder().ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    describe_counter!("flowc_runs_started_total", "Runs started, by flow.");
    describe_counter!("flowc_runs_ended_total", "Runs ended, by flow and status.");
    describe_counter!("flowc_steps_total", "Steps run (a start, a reply or a timeout), by flow.");
    describe_histogram!("flowc_step_duration_seconds", Unit::Seconds, "Time to run a step, webhooks included.");
    describe_counter!("flowc_webhook_calls_total", "Webhook calls, by webhook and outcome (success, failure).");
    describe_histogram!(
        "flowc_webhook_duration_seconds",
        Unit::Seconds,
        "Time of a webhook call, every attempt included."
    );
    describe_gauge!("flowc_waiting_runs", "Runs waiting for a reply or a timeout.");
    describe_gauge!("flowc_outbox_pending", "Messages waiting for delivery through a channel.");
    describe_gauge!("flowc_write_queue_depth", "Writes queued for the database writer.");
    describe_histogram!("flowc_db_commit_duration_seconds", Unit::Seconds, "Time of one group commit.");
    describe_counter!("flowc_http_requests_total", "HTTP answers, by status code.");
}

/// A run started.
pub fn run_started(flow: &str) {
    counter!("flowc_runs_started_total", "flow" => flow.to_string()).increment(1);
}

/// A step ran in `took`; `ended` is the run's status when the step ended it.
pub fn step(flow: &str, took: Duration, ended: Option<&'static str>) {
    counter!("flowc_steps_total", "flow" => flow.to_string()).increment(1);
    histogram!("flowc_step_duration_seconds").record(took.as_secs_f64());
    if let Some(status) = ended {
        run_ended(flow, status);
    }
}

/// A run ended with `status` (also when a new run of its contact interrupted it).
pub fn run_ended(flow: &str, status: &'static str) {
    counter!("flowc_runs_ended_total", "flow" => flow.to_string(), "status" => status).increment(1);
}

/// A webhook call finished.
pub fn webhook_call(webhook: &str, ok: bool, elapsed_ms: u64) {
    let outcome = if ok { "success" } else { "failure" };
    counter!("flowc_webhook_calls_total", "webhook" => webhook.to_string(), "outcome" => outcome).increment(1);
    histogram!("flowc_webhook_duration_seconds", "webhook" => webhook.to_string()).record(elapsed_ms as f64 / 1000.0);
}

/// The writer committed a batch in `took`.
pub fn commit(took: Duration) {
    histogram!("flowc_db_commit_duration_seconds").record(took.as_secs_f64());
}

/// Writes now queued.
pub fn queue_depth(n: usize) {
    gauge!("flowc_write_queue_depth").set(n as f64);
}

/// Runs now waiting.
pub fn waiting_runs(n: u64) {
    gauge!("flowc_waiting_runs").set(n as f64);
}

/// Messages waiting for delivery, read when `/metrics` renders.
pub fn outbox_pending(n: u64) {
    gauge!("flowc_outbox_pending").set(n as f64);
}

/// An HTTP answer was sent.
pub fn answered(status: u16) {
    counter!("flowc_http_requests_total", "status" => status.to_string()).increment(1);
}
