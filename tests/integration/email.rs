//! `email` statements delivered through SMTP (`flowc serve --smtp`, docs/email.md), against an SMTP
//! server on 127.0.0.1 started by the test: retries, a stable Message-ID, permanent refusals, the log.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowc::serve::Config;
use flowc::serve::email::Mailer;
use serde_json::{Value, json};

use crate::serve::{post_json, request, serve_config};

/// What the SMTP server saw.
#[derive(Default)]
struct Seen {
    /// The decoded `AUTH PLAIN` credentials.
    logins: Vec<String>,
    /// Each message's envelope recipients and data, accepted or not.
    messages: Vec<(Vec<String>, String)>,
    /// Replies still to give at the end of DATA instead of 250 (first come first).
    data_replies: Vec<&'static str>,
    /// The reply to RCPT TO (250 when `None`).
    rcpt_reply: Option<&'static str>,
}

/// A small SMTP server on 127.0.0.1 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
struct SmtpServer {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl SmtpServer {
    fn start(seen: Seen) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(seen));
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = shared.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, &seen);
                });
            }
        });
        SmtpServer { port, seen }
    }

    fn accepted(&self) -> Vec<(Vec<String>, String)> {
        let seen = self.seen.lock().unwrap();
        seen.messages.clone()
    }
}

fn converse(stream: std::net::TcpStream, seen: &Mutex<Seen>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 localhost test SMTP\r\n")?;
    let mut recipients = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            "250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME".to_string()
        } else if upper.starts_with("AUTH PLAIN ") {
            let encoded = line[11..].trim();
            let decoded = base64_decode(encoded);
            seen.lock().unwrap().logins.push(decoded.replace('\0', " ").trim().to_string());
            "235 2.7.0 accepted".into()
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
            "250 ok".into()
        } else if upper.starts_with("RCPT TO") {
            recipients.push(line[8..].trim().to_string());
            seen.lock().unwrap().rcpt_reply.unwrap_or("250 ok").to_string()
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            let mut seen = seen.lock().unwrap();
            seen.messages.push((std::mem::take(&mut recipients), data));
            if seen.data_replies.is_empty() { "250 2.0.0 queued".into() } else { seen.data_replies.remove(0).into() }
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            "502 not here".into()
        };
        out.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

fn base64_decode(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const HELP: &str = r#"
trigger webhook "/help" methods POST {
  expect body { name: text }
  start help
}
flow help {
  email "ops@example.com" subject "Help for @trigger.body.name" body "@trigger.body.name asked for a person."
  respond 200 { body json { "ok": true } }
}
"#;

fn mailer(server: &SmtpServer, user: &str) -> Arc<Mailer> {
    let policy = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let url = format!("smtp://{user}127.0.0.1:{}", server.port);
    Arc::new(Mailer::new(&url, "Flows <flows@example.com>", Some("smtp-pass-5150".into()), &policy).unwrap())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < Duration::from_secs(15), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_email_is_retried_after_a_temporary_refusal_with_the_same_message_id() {
    let smtp = SmtpServer::start(Seen { data_replies: vec!["451 4.3.0 try again later"], ..Seen::default() });
    let s = serve_config(&[HELP], Config { smtp: Some(mailer(&smtp, "flows%40example.com@")), ..Config::default() });
    let got = post_json(&format!("{}/help", s.base), &[], &json!({"name": "Ann"}));
    assert_eq!(got.status, 200, "{}", got.body);
    wait_for("the e-mail was not sent twice", || smtp.accepted().len() >= 2);
    let messages = smtp.accepted();
    let (to, data) = &messages[1];
    assert_eq!(to, &["<ops@example.com>"]);
    assert!(data.contains("Subject: Help for Ann\r\n"), "{data}");
    assert!(data.contains("From: Flows <flows@example.com>\r\n"), "{data}");
    assert!(data.contains("Ann asked for a person."), "{data}");
    let message_id = |d: &str| d.lines().find(|l| l.starts_with("Message-ID:")).map(str::to_string);
    assert!(message_id(data).is_some_and(|id| id.ends_with("@example.com>")), "{data}");
    assert_eq!(message_id(&messages[0].1), message_id(data), "the same message both times");
    assert_eq!(smtp.seen.lock().unwrap().logins[0], "flows@example.com smtp-pass-5150", "AUTH PLAIN, the user decoded");
    // Both attempts are in the log under `email`, the password in neither.
    wait_for("the second attempt is not in the log", || {
        request("GET", &format!("{}/log?webhook=email", s.base), &[], None).json().as_array().unwrap().len() >= 2
    });
    let log = request("GET", &format!("{}/log?webhook=email", s.base), &[], None).json();
    let mut attempts: Vec<(u64, Value)> =
        log.as_array().unwrap().iter().map(|e| (e["attempt"].as_u64().unwrap(), e["status"].clone())).collect();
    attempts.sort_by_key(|a| a.0);
    assert_eq!(attempts, [(1, json!(451)), (2, json!(250))], "{log}");
    assert_eq!(log[0]["flow"], "help");
    assert!(!log.to_string().contains("smtp-pass-5150"), "{log}");
    let outbox = request("GET", &format!("{}/contacts/mailto:ops@example.com", s.base), &[], None).json();
    wait_for("the e-mail is not marked sent", || {
        let c = request("GET", &format!("{}/contacts/mailto:ops@example.com", s.base), &[], None).json();
        c["messages"][0]["status"] == "sent"
    });
    assert_eq!(outbox["messages"].as_array().unwrap().len(), 1, "{outbox}");
}

#[test]
fn a_permanent_refusal_fails_the_email_at_once() {
    let smtp = SmtpServer::start(Seen { rcpt_reply: Some("550 5.1.1 no such user"), ..Seen::default() });
    let s = serve_config(&[HELP], Config { smtp: Some(mailer(&smtp, "")), ..Config::default() });
    assert_eq!(post_json(&format!("{}/help", s.base), &[], &json!({"name": "Bo"})).status, 200);
    wait_for("the e-mail is not marked failed", || {
        let c = request("GET", &format!("{}/contacts/mailto:ops@example.com", s.base), &[], None).json();
        c["messages"][0]["status"] == "failed"
    });
    let contact = request("GET", &format!("{}/contacts/mailto:ops@example.com", s.base), &[], None).json();
    assert_eq!(contact["messages"][0]["attempts"], 1, "{contact}");
    assert!(contact["messages"][0]["error"].as_str().unwrap().contains("no such user"), "{contact}");
    assert!(smtp.accepted().is_empty());
}

#[test]
fn a_relay_is_refused_at_start_when_it_is_not_allowed_or_leaks_its_password() {
    let default = flowc::net::NetworkPolicy::default();
    let local = flowc::net::NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap()]);
    let err = |url: &str, from: &str, policy: &flowc::net::NetworkPolicy| {
        Mailer::new(url, from, None, policy).expect_err(url)
    };
    assert!(err("smtp://127.0.0.1:2525", "a@example.com", &default).contains("--allow-network"));
    assert!(err("smtp://u:secret@127.0.0.1:2525", "a@example.com", &local).contains("FLOWC_SMTP_PASSWORD"));
    assert!(!err("smtp://u:secret@127.0.0.1:2525", "a@example.com", &local).contains("secret"));
    assert!(err("https://127.0.0.1", "a@example.com", &local).contains("smtps:// or smtp://"));
    assert!(err("smtp://u@127.0.0.1:2525", "a@example.com", &local).contains("FLOWC_SMTP_PASSWORD"));
    assert!(err("smtp://127.0.0.1:2525", "not an address", &local).contains("--smtp-from"));
    Mailer::new("smtp://127.0.0.1:2525", "a@example.com", None, &local).unwrap();
}
