//! The network [`WebhookClient`]: shared `ureq` agents (keep-alive), a timeout per attempt, retries
//! with exponential backoff and jitter that honour `Retry-After`, at most 3 redirects and never from
//! https to http, and a cap on the size of answers.
//!
//! There is one agent per distinct webhook timeout (a flow file has a handful), shared by every run:
//! a per-request timeout (`RequestBuilder::config()`) measured about 60 µs slower per call on loopback
//! than the agent's own, because those requests did not get the agent's pooled connections.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ast::Method;
pub use crate::interp::webhook::{MAX_RETRY_AFTER, retry_delay};
use crate::interp::{Answer, CallOutcome, Request, WebhookClient, with_retries};
use crate::net::{NetworkPolicy, check_url};

/// Default cap on an answer's body.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// Redirects followed per attempt.
pub const MAX_REDIRECTS: u32 = 3;
/// Idle connections kept, over every host, and to one host.
const IDLE_CONNECTIONS: usize = 512;
const IDLE_CONNECTIONS_PER_HOST: usize = 256;

/// Sends webhooks over HTTP(S).
pub struct HttpClient {
    /// Agents by per-attempt timeout in milliseconds.
    agents: std::sync::Mutex<Vec<(u64, ureq::Agent)>>,
    max_response_bytes: u64,
    /// Where calls may connect; `None` lets them reach any address (`flowc run`, local testing).
    policy: Option<Arc<NetworkPolicy>>,
}

/// Resolves host names once and hands ureq only the addresses the policy allows, so the address that
/// was checked is the address that is connected to (no gap for DNS rebinding). Every connection goes
/// through it: each redirect hop and each retry is a new request.
#[derive(Debug)]
struct GuardedResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    policy: Arc<NetworkPolicy>,
}

/// A connection the network policy refused.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl ureq::unversioned::resolver::Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        // An address literal needs no lookup: ureq's resolver would spawn a thread per call to apply its
        // timeout, even for one.
        let literal = uri.host().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok());
        let addrs = match literal {
            Some(ip) => {
                let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
                let mut one = self.empty();
                one.push(SocketAddr::new(ip, port));
                one
            }
            None => self.inner.resolve(uri, config, timeout)?,
        };
        // Only allowed addresses are handed on (`localhost` may be both 127.0.0.1, allowed, and ::1,
        // not); with none left the call is refused, naming the first address that was not allowed.
        let mut allowed = self.empty();
        let mut first_refusal = None;
        for addr in addrs.iter() {
            match self.policy.refusal(*addr) {
                None => allowed.push(*addr),
                Some(reason) => {
                    first_refusal.get_or_insert(reason);
                }
            }
        }
        match first_refusal {
            Some(reason) if allowed.is_empty() => Err(ureq::Error::Other(Box::new(Refused(reason)))),
            _ => Ok(allowed),
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new(DEFAULT_MAX_RESPONSE_BYTES)
    }
}

impl HttpClient {
    /// A client that refuses answers larger than `max_response_bytes`.
    pub fn new(max_response_bytes: u64) -> Self {
        HttpClient { agents: std::sync::Mutex::new(Vec::new()), max_response_bytes, policy: None }
    }

    /// A client that connects only where `policy` allows (`flowc serve`).
    pub fn with_policy(max_response_bytes: u64, policy: NetworkPolicy) -> Self {
        HttpClient { policy: Some(Arc::new(policy)), ..HttpClient::new(max_response_bytes) }
    }

    /// The shared agent for calls with this timeout.
    fn agent(&self, timeout: Duration) -> ureq::Agent {
        let ms = timeout.as_millis() as u64;
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, agent)) = agents.iter().find(|(t, _)| *t == ms) {
            return agent.clone();
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Redirects are followed by hand, to refuse downgrades and re-check every target.
            .max_redirects(0)
            .timeout_global(Some(timeout))
            // Connections kept for the next call: the outbox calls one gateway from up to
            // `--outbox-concurrency` threads at once, and a connection per call would run the machine
            // out of ports (each closed one waits a minute in TIME_WAIT).
            .max_idle_connections(IDLE_CONNECTIONS)
            .max_idle_connections_per_host(IDLE_CONNECTIONS_PER_HOST)
            .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")));
        if self.policy.is_some() {
            // A proxy from the environment would resolve targets itself, past the network policy.
            config = config.proxy(None);
        }
        let config = config.build();
        let agent = match &self.policy {
            Some(policy) => ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::default(),
                GuardedResolver { inner: Default::default(), policy: policy.clone() },
            ),
            None => config.into(),
        };
        agents.push((ms, agent.clone()));
        agent
    }

    fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let agent = self.agent(timeout);
        let mut builder = match method {
            Method::GET => agent.get(url).force_send_body(),
            Method::DELETE => agent.delete(url).force_send_body(),
            Method::POST => agent.post(url),
            Method::PUT => agent.put(url),
            Method::PATCH => agent.patch(url),
        };
        for (k, v) in headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        match body {
            Some(b) => builder.send(b.as_bytes()),
            None => builder.send_empty(),
        }
    }

    /// One attempt, following redirects.
    fn attempt(&self, req: &Request) -> Answer {
        let timeout = Duration::from_millis(req.timeout_ms.max(1));
        let (mut method, mut url, mut body) = (req.method, req.url.clone(), req.body.clone());
        let mut headers_out = std::borrow::Cow::Borrowed(&req.headers);
        for hop in 0..=MAX_REDIRECTS {
            let mut response = match self.send(method, &url, &headers_out, body.as_deref(), timeout) {
                Ok(r) => r,
                Err(e) => return failure(e, req.timeout_ms),
            };
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let location = headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone());
            if let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) {
                if hop == MAX_REDIRECTS {
                    return Answer::Failed { error: format!("more than {MAX_REDIRECTS} redirects"), retryable: false };
                }
                let next = resolve(&url, &location);
                let (from, to) = (origin(&url), origin(&next));
                if from.0 == "https" && to.0 != "https" {
                    return Answer::Failed {
                        error: format!("refusing a redirect from https to {next}"),
                        retryable: false,
                    };
                }
                if let Err(e) = check_url(&next) {
                    return Answer::Failed { error: format!("redirect refused: {e}"), retryable: false };
                }
                if status == 303 || (matches!(status, 301 | 302) && method != Method::GET) {
                    (method, body) = (Method::GET, None);
                }
                if from != to {
                    // Credentials were meant for the service the flow names, not for wherever it
                    // redirects: another origin gets no Authorization, API key or cookie.
                    let secret = |k: &str| {
                        ["authorization", "proxy-authorization", "cookie"].iter().any(|h| k.eq_ignore_ascii_case(h))
                            || req.secret_headers.iter().any(|s| s.eq_ignore_ascii_case(k))
                    };
                    headers_out = std::borrow::Cow::Owned(
                        headers_out.iter().filter(|(k, _)| !secret(k)).cloned().collect::<Vec<_>>(),
                    );
                }
                url = next;
                continue;
            }
            let limit = self.max_response_bytes;
            return match response.body_mut().with_config().limit(limit).read_to_vec() {
                Ok(bytes) => Answer::Response { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() },
                Err(ureq::Error::BodyExceedsLimit(_)) => {
                    Answer::Failed { error: format!("the answer is larger than {limit} bytes"), retryable: false }
                }
                Err(e) => failure(e, req.timeout_ms),
            };
        }
        Answer::Failed { error: format!("more than {MAX_REDIRECTS} redirects"), retryable: false }
    }
}

fn failure(e: ureq::Error, timeout_ms: u64) -> Answer {
    match e {
        ureq::Error::Timeout(_) => {
            Answer::Failed { error: format!("timed out after {timeout_ms} ms"), retryable: true }
        }
        ureq::Error::HostNotFound => Answer::Failed { error: "host not found".into(), retryable: true },
        ureq::Error::ConnectionFailed => Answer::Failed { error: "connection failed".into(), retryable: true },
        ureq::Error::Io(io) => Answer::Failed { error: format!("connection error: {io}"), retryable: true },
        ureq::Error::Other(e) if e.is::<Refused>() => Answer::Failed { error: e.to_string(), retryable: false },
        other => Answer::Failed { error: other.to_string(), retryable: false },
    }
}

/// A URL's scheme and authority, lower-cased: what decides whether a redirect leaves the service.
fn origin(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    (scheme.to_ascii_lowercase(), authority.to_ascii_lowercase())
}

/// Resolves a `Location` against the URL it came from.
fn resolve(base: &str, location: &str) -> String {
    // Absolute when it starts with a scheme (`https:`), not merely when it holds `://` somewhere.
    let scheme_len = location.find(':').filter(|&i| {
        i > 0
            && location.as_bytes()[0].is_ascii_alphabetic()
            && location[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    });
    if scheme_len.is_some() {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    if let Some(path) = location.strip_prefix("//") {
        return format!("{scheme}://{path}");
    }
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = &rest[authority_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{origin}{dir}{location}")
}

impl WebhookClient for HttpClient {
    fn call(&self, req: &Request) -> CallOutcome {
        if let Err(e) = check_url(&req.url) {
            return CallOutcome::refused(e);
        }
        let attempt = |_| {
            let began = Instant::now();
            let answer = self.attempt(req);
            (answer, began.elapsed().as_millis() as u64)
        };
        with_retries(req, attempt, std::thread::sleep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request() {
        assert_eq!(resolve("https://a.io/x/y?q=1", "z"), "https://a.io/x/z");
        assert_eq!(resolve("https://a.io/x/y", "/z"), "https://a.io/z");
        assert_eq!(resolve("https://a.io", "z"), "https://a.io/z");
        assert_eq!(resolve("https://a.io/x", "//b.io/c"), "https://b.io/c");
        assert_eq!(resolve("https://a.io/x", "http://b.io/c"), "http://b.io/c");
        assert_eq!(resolve("https://a.io/x", "/next?u=https://b.io"), "https://a.io/next?u=https://b.io");
        assert_eq!(resolve("https://a.io/x", "HTTPS://b.io/c"), "HTTPS://b.io/c");
        assert_eq!(origin("HTTPS://A.io:443/x?y"), ("https".to_string(), "a.io:443".to_string()));
    }

    #[test]
    fn delays_grow_with_jitter_and_honour_retry_after() {
        for _ in 0..50 {
            let d = retry_delay(100, 3, None).as_millis();
            assert!((200..=400).contains(&d), "{d}");
        }
        assert_eq!(retry_delay(10, 1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(retry_delay(10, 1, Some(Duration::from_secs(9999))), MAX_RETRY_AFTER);
    }
}
