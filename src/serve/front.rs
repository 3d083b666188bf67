//! The HTTP front end of `flowc serve`: hyper 1.x on a single-threaded tokio runtime. It holds the
//! connections (as many as `max_connections`, each a small task rather than a thread), cuts off
//! clients that are slow to send their headers or body or that idle between requests, reads bodies up
//! to the limit, and hands each complete request to the synchronous worker pool, which runs the
//! interpreter. On shutdown it stops accepting, lets every request in flight finish and closes idle
//! connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use serde_json::{Value, json};

/// A request as the workers see it: complete, its body read (or why it could not be).
pub(super) struct Incoming {
    pub(super) method: String,
    /// Path and query, as sent.
    pub(super) url: String,
    /// Names in lower case.
    pub(super) headers: Vec<(String, String)>,
    /// The body, or the status and message that say why it was not read.
    pub(super) body: Result<Vec<u8>, (u16, String)>,
    /// The client's address.
    pub(super) peer: Option<std::net::IpAddr>,
}

/// Answers a request on the front end's thread when it cannot block (`None`: send it to the pool).
pub(super) type Inline = Arc<dyn Fn(&Incoming) -> Option<Reply> + Send + Sync>;

/// A request and where its answer goes.
pub(super) type Job = (Incoming, oneshot::Sender<Reply>);

/// The front end's bounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) max_connections: usize,
    /// For the request line and headers, and for the next request on an idle keep-alive connection.
    pub(super) header_timeout: Duration,
    /// For the whole body, once the headers are in.
    pub(super) body_timeout: Duration,
    pub(super) max_body: usize,
    /// How long shutdown waits for requests in flight.
    pub(super) grace: Duration,
    /// Whether SIGTERM and SIGINT shut the server down (the CLI; not a library user's tests).
    pub(super) signals: bool,
    /// Connections one client address may hold at once (so that one client cannot take them all).
    pub(super) per_address: usize,
    /// Whether refused connections are written to stderr (with the access log).
    pub(super) log_refusals: bool,
}

/// A running front end.
pub(super) struct Front {
    pub(super) addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Front {
    /// Binds `addr` and serves on a thread of its own, sending requests to `jobs`.
    pub(super) fn start(addr: &str, limits: Limits, jobs: mpsc::Sender<Job>, inline: Inline) -> Result<Front, String> {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
        let (stop, stopped) = watch::channel(false);
        let stop_on_signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("flowc-http".into())
            // Steps answered inline run the interpreter here: the same stack as a worker's.
            .stack_size(16 << 20)
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("flowc: cannot listen: {e}");
                            return;
                        }
                    };
                    if limits.signals {
                        tokio::spawn(async move {
                            wait_for_signal().await;
                            let _ = stop_on_signal.send(true);
                        });
                    }
                    accept_loop(listener, limits, jobs, inline, stopped).await;
                });
            })
            .map_err(|e| format!("cannot start the HTTP thread: {e}"))?;
        Ok(Front { addr: local, stop, thread: Some(thread) })
    }

    /// Stops accepting; requests in flight finish (within the grace period).
    pub(super) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the front end has stopped (after [`Front::stop`] or a signal).
    pub(super) fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Resolves once the front end is told to stop.
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// SIGTERM, SIGINT and SIGHUP all stop the server gracefully: requests in flight finish and every
/// step is committed. (SIGHUP's default would kill the process with lines still buffered; flowc logs
/// to stderr, so logs are rotated by whatever reads it, and a supervisor restarts it after a hang-up.)
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup())) {
        (Ok(mut term), Ok(mut int), Ok(mut hup)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// The answer to a connection past the cap: written at once, then the connection is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 41\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{\"error\": \"too many connections, retry\"}\n";

/// Connections held per client address; an entry goes when its last connection ends.
#[derive(Default)]
struct PerAddress(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

impl PerAddress {
    /// Counts one more connection from `ip`, unless it already holds `max`.
    fn take(&self, ip: std::net::IpAddr, max: usize) -> bool {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn give_back(&self, ip: std::net::IpAddr) {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&ip);
            }
        }
    }
}

/// A line on stderr about a connection that was refused or cut, with the time and the client.
fn log_connection(limits: &Limits, peer: SocketAddr, what: &str) {
    if limits.log_refusals {
        eprintln!("{} {} {what}", crate::time::iso(crate::time::now_millis()), peer.ip());
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    limits: Limits,
    jobs: mpsc::Sender<Job>,
    inline: Inline,
    mut stopped: watch::Receiver<bool>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopping(&mut stopped) => break,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                eprintln!("flowc: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let refuse = |why: String| {
            let _ = stream.try_write(REFUSED);
            log_connection(&limits, peer, &format!("refused: {why}"));
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(format!("{} connections held (--max-connections)", limits.max_connections));
            continue;
        };
        if !per_address.take(peer.ip(), limits.per_address) {
            refuse(format!("this address holds {} connections (--max-connections-per-address)", limits.per_address));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (jobs, inline, mut stopped) = (jobs.clone(), inline.clone(), stopped.clone());
        let for_bodies = stopped.clone();
        let per_address = per_address.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                answer(req, limits, jobs.clone(), inline.clone(), for_bodies.clone(), peer)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            // Header names go out in lower case (HTTP/1.1 compares them without case): hyper's title-case
            // writer cost a tenth of `/order`'s throughput.
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(64 * 1024);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended.as_ref()
                        && e.is_timeout()
                    {
                        log_connection(&limits, peer, "closed: no complete request head within --header-timeout");
                    }
                }
                _ = stopping(&mut stopped) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            per_address.give_back(peer.ip());
            drop(permit);
        });
    }
    drop(jobs);
    // Every connection task holds a permit: once all are back, every request in flight has its answer.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.grace, connections.acquire_many(all)).await;
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    limits: Limits,
    jobs: mpsc::Sender<Job>,
    inline: Inline,
    stopped: watch::Receiver<bool>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let url = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let declared = parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let body = read_body(body, declared, limits, stopped).await;
    let incoming = Incoming { method, url, headers, body, peer: Some(peer.ip()) };
    if let Some(answer) = inline(&incoming) {
        return Ok(response(answer));
    }
    let (done, answered) = oneshot::channel();
    let answer = match jobs.send((incoming, done)).await {
        Ok(()) => answered.await.unwrap_or_else(|_| Reply::error(503, "the server is shutting down")),
        Err(_) => Reply::error(503, "the server is shutting down"),
    };
    Ok(response(answer))
}

/// Past the limit, a body is still read and thrown away up to this much more, so that a client that
/// writes its whole body before reading (most HTTP libraries) gets the 413 instead of a reset
/// connection (nginx's lingering close); a larger one is cut off.
const DRAIN: u64 = 16 << 20;

/// The body, at most `max_body` bytes within `body_timeout`; past the limit, a 413 once what the
/// client sends is drained (up to [`DRAIN`] more).
async fn read_body(
    mut body: hyper::body::Incoming,
    declared: Option<u64>,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) -> Result<Vec<u8>, (u16, String)> {
    let limit = limits.max_body;
    let too_large = || (413, format!("the body is larger than {limit} bytes"));
    // Declared larger than can be drained: answered at once, and the connection closed.
    if declared.is_some_and(|n| n > limit as u64 + DRAIN) {
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    let mut kept = Vec::with_capacity(declared.map_or(0, |n| n.min(limit as u64) as usize));
    let mut seen = 0u64;
    loop {
        // A body still arriving when the server stops is not waited for: only requests being
        // processed are finished.
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, body.frame()) => next,
            _ = stopping(&mut stopped) => return Err((503, "the server is shutting down".into())),
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err((400, format!("cannot read the body: {e}"))),
            Err(_) if seen > limit as u64 => return Err(too_large()),
            Err(_) => return Err((408, format!("the body did not arrive within {} s", limits.body_timeout.as_secs()))),
        };
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len() as u64;
        if seen > limit as u64 + DRAIN {
            return Err(too_large());
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(&data);
        }
    }
    if seen > limit as u64 { Err(too_large()) } else { Ok(kept) }
}

fn response(answer: Reply) -> Response<Full<Bytes>> {
    let body = if answer.status == 204 { Bytes::new() } else { Bytes::from(answer.body) };
    let mut builder = Response::builder().status(answer.status).header("Server", "flowc");
    // A header built from request data that could split the answer is dropped.
    for (k, v) in answer.headers.iter().filter(|(k, v)| crate::net::header_ok(k, v)) {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|e| {
        let mut r = Response::new(Full::new(Bytes::from(format!("{{\"error\": \"cannot answer: {e}\"}}"))));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// An HTTP answer.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// The run the request started or continued, for the access log.
    pub(super) run: Option<String>,
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            run: None,
        }
    }

    pub(super) fn with_run(mut self, run: Option<String>) -> Reply {
        self.run = run;
        self
    }

    pub(super) fn for_run(mut self, run_id: &str) -> Reply {
        self.run = Some(run_id.to_string());
        self
    }

    pub(super) fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": message.into() }))
    }

    /// 405, with the methods the path takes.
    pub(super) fn not_allowed(method: &str, path: &str, allow: String) -> Reply {
        let mut a = Reply::error(405, format!("{method} is not allowed on {path}"));
        a.headers.push(("Allow".into(), allow));
        a
    }
}
