//! The server's settings ([`Config`]) and their defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::interp;

use super::email;

/// Reads a secret by environment variable name.
pub type SecretSource = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Server settings.
pub struct Config {
    /// Runs a second a group start begins at most (`--start-rate`); a start may ask for fewer.
    pub start_rate: f64,
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

/// Runs a second a group start begins when neither the start nor `--start-rate` says.
pub const DEFAULT_START_RATE: f64 = 500.0;

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
            start_rate: DEFAULT_START_RATE,
        }
    }
}
