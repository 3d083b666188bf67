//! A real HTTP server on 127.0.0.1 for tests: each test starts its own on a free port, scripts its
//! answers, records what it received, and stops it when dropped.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A scripted answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "text/plain".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(usize, &Received) -> Reply + Send + Sync;

pub struct TestServer {
    server: Arc<tiny_http::Server>,
    pub received: Arc<Mutex<Vec<Received>>>,
    thread: Option<JoinHandle<()>>,
    pub port: u16,
}

impl TestServer {
    /// Starts a server that answers the n-th request (0-based) with `handler(n, request)`.
    pub fn start(handler: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, r) = (server.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = String::new();
                let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
                let got = Received {
                    method: request.method().to_string(),
                    url: request.url().to_string(),
                    headers: request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect(),
                    body,
                };
                let n = {
                    let mut all = r.lock().unwrap();
                    all.push(got.clone());
                    all.len() - 1
                };
                let reply = handler(n, &got);
                let handler_thread = std::thread::spawn(move || {
                    std::thread::sleep(reply.delay);
                    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
                    for (k, v) in reply.headers {
                        response.add_header(tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap());
                    }
                    let _ = request.respond(response);
                });
                // Slow replies must not hold up the next request.
                drop(handler_thread);
            }
        });
        TestServer { server, received, thread: Some(thread), port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
