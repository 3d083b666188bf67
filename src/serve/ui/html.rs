//! The console's HTML: escaping, the page around each view, and answers with the headers every page
//! carries (no caching, no framing, no script but the console's own).

use super::super::front::Reply;

/// `text` safe inside HTML text and attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` in a URL's path segment or query value.
pub(super) fn url(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The console's style: one small sheet, readable on a phone.
const STYLE: &str = "
:root { color-scheme: light dark; --muted: #666; --line: #ccc; --bad: #b00020; --ok: #1b5e20; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; }
header { display: flex; flex-wrap: wrap; gap: .2rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header strong { margin-right: 1rem; }
nav a { margin-right: .8rem; }
main { padding: 1rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; }
pre { white-space: pre-wrap; word-break: break-word; background: rgba(127,127,127,.1); padding: .5rem; }
.bad { color: var(--bad); } .ok { color: var(--ok); } .muted { color: var(--muted); }
form.inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .9rem; }
.msg { max-width: 36rem; margin: .3rem 0; padding: .4rem .7rem; border-radius: .6rem; border: 1px solid var(--line); }
.msg.in { margin-right: 20%; } .msg.out { margin-left: 20%; }
.wrap { overflow-x: auto; }
svg { max-width: 100%; height: auto; }
";

/// A whole page: `title`, the navigation (with the sign-out form when `csrf` is given), and `body`.
pub(super) fn page(title: &str, csrf: Option<&str>, body: &str) -> String {
    let nav = match csrf {
        Some(token) => format!(
            "<nav aria-label=\"Console\"><a href=\"/ui/log\">Log</a><a href=\"/ui/contacts\">Contacts</a>\
             <a href=\"/ui/simulate\">Simulator</a><a href=\"/ui/flows\">Flows</a><a href=\"/ui/starts\">Starts</a></nav>\
             <form method=\"post\" action=\"/ui/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button>Sign out</button></form>",
            esc(token)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · flowc</title><style>{STYLE}</style></head>\
         <body><header><strong>flowc</strong>{nav}</header><main><h1>{}</h1>{body}</main></body></html>\n",
        esc(title),
        esc(title)
    )
}

/// An HTML answer with the console's headers.
pub(super) fn reply(status: u16, html: String) -> Reply {
    Reply { status, headers: headers("text/html; charset=utf-8"), body: html.into_bytes(), run: None }
}

/// The headers of every console answer.
pub(super) fn headers(content_type: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), content_type.into()),
        ("Cache-Control".into(), "no-store".into()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("X-Frame-Options".into(), "DENY".into()),
        ("Referrer-Policy".into(), "no-referrer".into()),
        (
            "Content-Security-Policy".into(),
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'".into(),
        ),
    ]
}

/// `303 See Other` to `location` (after a form, or to the sign-in page).
pub(super) fn redirect(location: &str) -> Reply {
    let mut headers = headers("text/plain; charset=utf-8");
    headers.push(("Location".into(), location.into()));
    Reply { status: 303, headers, body: Vec::new(), run: None }
}

/// A JSON value as readable text: pretty when it is JSON, as it is otherwise.
pub(super) fn pretty(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                serde_json::to_string_pretty(&j).unwrap_or_else(|_| s.clone())
            }
            _ => s.clone(),
        },
        serde_json::Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
