//! The console under `/ui` (docs/console.md): pages over what the operator API reads, rendered on the
//! server, usable without JavaScript. Signing in takes an operator token (`FLOWC_API_TOKEN`) once, in
//! a form; the server keeps a session for it and gives the browser its id in an `HttpOnly`,
//! `SameSite=Strict` cookie. Every form that changes something carries the session's CSRF token.

mod html;
mod pages;
mod simulate;

use std::collections::HashMap;
use std::sync::Mutex;

use super::App;
use super::auth;
use super::front::{self, Reply};
use super::request::parse_query;
use html::{esc, page, redirect, reply};

/// The session cookie's name.
const COOKIE: &str = "flowc_session";
/// How long a session lasts without signing in again.
const SESSION_MS: u64 = 12 * 3600 * 1000;
/// Sessions kept at most (the oldest go first): signing in cannot grow memory without bound.
const MAX_SESSIONS: usize = 1000;

/// A signed-in browser.
struct Session {
    csrf: String,
    expires_ms: u64,
}

/// The console's sessions and their simulations, in memory: a restarted server asks to sign in again.
#[derive(Default)]
pub(super) struct Sessions {
    live: Mutex<HashMap<String, Session>>,
    sims: Mutex<HashMap<String, simulate::Sim>>,
}

/// 32 random bytes as hex, from the operating system.
fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").ok()?;
    std::io::Read::read_exact(&mut f, &mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A request's form (`application/x-www-form-urlencoded`) or query, as text values.
fn form(text: &str) -> HashMap<String, String> {
    parse_query(text)
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect()
}

impl App {
    /// The session of `request`'s cookie, if it is a live one: its id and CSRF token.
    fn session(&self, request: &front::Incoming) -> Option<(String, String)> {
        let cookies = request.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("cookie")).map(|(_, v)| v);
        let id = cookies
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string())?;
        let now = crate::time::now_millis();
        let mut sessions = self.sessions.live.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&id) {
            Some(s) if s.expires_ms > now => Some((id, s.csrf.clone())),
            Some(_) => {
                sessions.remove(&id);
                self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                None
            }
            None => None,
        }
    }

    /// A request to `/ui...`: the sign-in page and form, or a page for a signed-in browser.
    pub(super) fn ui(&self, request: &front::Incoming, method: &str, segments: &[&str], query: &str) -> Reply {
        let body = || String::from_utf8_lossy(request.body.as_ref().map(Vec::as_slice).unwrap_or_default()).to_string();
        match (method, segments) {
            ("GET", ["ui", "login"]) => return self.login_page(None, 200),
            ("POST", ["ui", "login"]) => return self.login(&form(&body())),
            _ => {}
        }
        let Some((id, csrf)) = self.session(request) else {
            return redirect("/ui/login");
        };
        // A form that changes something must carry the session's token (SameSite keeps other sites'
        // forms from sending the cookie; the token keeps them out even where it would not).
        if method == "POST" {
            let fields = form(&body());
            let given = fields.get("csrf").map(String::as_str).unwrap_or_default();
            if !auth::constant_time_eq(given.as_bytes(), csrf.as_bytes()) {
                return reply(
                    403,
                    page("Refused", Some(&csrf), "<p>This form is out of date: open the page again.</p>"),
                );
            }
            return match segments {
                ["ui", "logout"] => self.logout(request),
                ["ui", "starts"] => self.ui_create_start(&fields, &csrf),
                ["ui", "starts", start, "cancel"] => {
                    self.ui_cancel_start(&super::request::percent_decode(start, false))
                }
                ["ui", "simulate", action] => self.ui_simulate_post(&id, &csrf, action, &fields),
                _ => reply(404, page("Not found", Some(&csrf), "<p>There is no such page.</p>")),
            };
        }
        let q = form(query);
        match segments {
            ["ui"] | ["ui", ""] => redirect("/ui/log"),
            ["ui", "log"] => self.ui_log(&q, &csrf),
            ["ui", "contacts"] => self.ui_contacts(&q, &csrf),
            ["ui", "contacts", urn] => self.ui_contact(&super::request::percent_decode(urn, false), &csrf),
            ["ui", "runs", id] => self.ui_run(&super::request::percent_decode(id, false), &csrf),
            ["ui", "starts"] => self.ui_starts(&csrf),
            ["ui", "flows"] => self.ui_flows(&csrf),
            ["ui", "simulate"] => self.ui_simulate(&id, &csrf, None),
            ["ui", "simulate", "flowtest"] => self.ui_simulate_download(&id, false),
            ["ui", "simulate", "golden"] => self.ui_simulate_download(&id, true),
            _ => reply(404, page("Not found", Some(&csrf), "<p>There is no such page.</p>")),
        }
    }

    fn login_page(&self, error: Option<&str>, status: u16) -> Reply {
        let error = error.map(|e| format!("<p class=\"bad\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
        let closed = if self.config.api_tokens.is_empty() {
            "<p class=\"bad\">The console is closed: start flowc serve with FLOWC_API_TOKEN set.</p>"
        } else {
            ""
        };
        let body = format!(
            "{closed}{error}<form method=\"post\" action=\"/ui/login\">\
             <label>Operator token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>\
             <p><button>Sign in</button></p></form>\
             <p class=\"muted\">One of the tokens in the server's FLOWC_API_TOKEN.</p>"
        );
        reply(status, page("Sign in", None, &body))
    }

    fn login(&self, fields: &HashMap<String, String>) -> Reply {
        let given = fields.get("token").map(|t| t.trim()).unwrap_or_default();
        let matched = self
            .config
            .api_tokens
            .iter()
            .fold(false, |found, token| auth::constant_time_eq(token.as_bytes(), given.as_bytes()) | found);
        if !matched || given.is_empty() {
            return self.login_page(Some("That is not an operator token."), 401);
        }
        let (Some(id), Some(csrf)) = (random_hex(), random_hex()) else {
            return self.login_page(Some("The server has no source of random numbers."), 500);
        };
        let now = crate::time::now_millis();
        {
            let mut sessions = self.sessions.live.lock().unwrap_or_else(|p| p.into_inner());
            sessions.retain(|_, s| s.expires_ms > now);
            if sessions.len() >= MAX_SESSIONS {
                let oldest = sessions.iter().min_by_key(|(_, s)| s.expires_ms).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    sessions.remove(&k);
                }
            }
            sessions.insert(id.clone(), Session { csrf, expires_ms: now + SESSION_MS });
        }
        let secure =
            if self.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) { "; Secure" } else { "" };
        let mut answer = redirect("/ui/log");
        answer.headers.push((
            "Set-Cookie".into(),
            format!("{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION_MS / 1000),
        ));
        answer
    }

    fn logout(&self, request: &front::Incoming) -> Reply {
        let id = request
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string());
        if let Some(id) = id {
            self.sessions.live.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            self.sessions.sims.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
        let mut answer = redirect("/ui/login");
        answer
            .headers
            .push(("Set-Cookie".into(), format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")));
        answer
    }
}
