//! The access log: a line per request on stderr, written in batches; contacts' addresses masked.

use std::io::Write;
use std::sync::Mutex;

use super::request::percent_decode;

/// Access log lines, written to stderr in batches: a write per request cost a third of the throughput
/// of a short trigger flow. Flushed every 100 ms, when 64 KiB are waiting, and when the server stops.
#[derive(Default)]
pub(super) struct AccessLog {
    pending: Mutex<String>,
}

impl AccessLog {
    const FLUSH_AT: usize = 64 * 1024;

    pub(super) fn push(&self, line: &str) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push_str(line);
            (pending.len() >= Self::FLUSH_AT).then(|| std::mem::take(&mut *pending))
        };
        if let Some(text) = full {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }

    pub(super) fn flush(&self) {
        let text = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !text.is_empty() {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// A request path for the access log, with the contact's address in `/contacts/{urn}` masked but for
/// its scheme and last three characters (`/contacts/tel:+*********000/messages`): phone numbers are
/// personal data.
pub(super) fn masked_path(path: &str) -> std::borrow::Cow<'_, str> {
    let Some(rest) = path.strip_prefix("/contacts/") else { return path.into() };
    let (urn, tail) = rest.split_once('/').map_or((rest, ""), |(u, t)| (u, t));
    let decoded = percent_decode(urn, false);
    let (scheme, address) = decoded.split_once(':').unwrap_or(("", decoded.as_str()));
    let keep = address.chars().count().saturating_sub(3);
    let shown: String = address.chars().enumerate().map(|(i, c)| if i < keep && c != '+' { '*' } else { c }).collect();
    let urn = if scheme.is_empty() { shown } else { format!("{scheme}:{shown}") };
    let tail = if tail.is_empty() { String::new() } else { format!("/{tail}") };
    format!("/contacts/{urn}{tail}").into()
}
