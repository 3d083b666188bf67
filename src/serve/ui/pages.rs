//! The console's pages: the log, contacts and their conversations, runs, group starts, flows.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::App;
use super::super::front::Reply;
use super::html::{esc, page, pretty, redirect, reply, url};

/// Log lines a page shows at most.
const LOG_LINES: usize = 200;

/// A field of the form or query, trimmed; empty when absent.
fn field<'a>(q: &'a HashMap<String, String>, key: &str) -> &'a str {
    q.get(key).map_or("", |v| v.trim())
}

/// The text of a JSON value for a table cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Headers as `name: value` lines.
fn header_lines(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|h| format!("{}: {}", cell(&h[0]), cell(&h[1])))
        .collect::<Vec<_>>()
        .join("\n")
}

impl App {
    /// `/ui/log`: webhook and channel calls, newest first, with filters and each call's request and
    /// answer (redacted as `flowc log` shows them).
    pub(super) fn ui_log(&self, q: &HashMap<String, String>, csrf: &str) -> Reply {
        let _ = self.writer.flush();
        let (flow, webhook, failed) = (field(q, "flow"), field(q, "webhook"), field(q, "failed") == "1");
        let (since, until) = (field(q, "since"), field(q, "until"));
        let live = field(q, "live") == "1";
        // A time is ISO 8601 from the year on, as far as it goes: `2026-12-01`, `2026-12-01T09:30`.
        let iso = |t: &str| {
            let shape = "0000-00-00T00:00:00";
            t.is_empty()
                || (t.len() >= 4
                    && t.chars().zip(shape.chars()).all(|(c, s)| if s == '0' { c.is_ascii_digit() } else { c == s }))
        };
        let bad_time = [since, until].into_iter().find(|t| !iso(t));
        let lines = match self.store.read_log((!webhook.is_empty()).then_some(webhook), failed, LOG_LINES * 5) {
            Ok(l) => l,
            Err(e) => {
                return reply(500, page("Log", Some(csrf), &format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))));
            }
        };
        let shown: Vec<&Value> = lines
            .iter()
            .filter(|l| flow.is_empty() || l["flow"].as_str() == Some(flow))
            .filter(|l| since.is_empty() || l["time"].as_str().is_some_and(|t| t >= since))
            .filter(|l| until.is_empty() || l["time"].as_str().is_some_and(|t| t <= until))
            .take(LOG_LINES)
            .collect();
        let mut body = format!(
            "<form class=\"inline\" method=\"get\" action=\"/ui/log\">\
             <label>Flow <input name=\"flow\" value=\"{}\"></label>\
             <label>Webhook or channel <input name=\"webhook\" value=\"{}\"></label>\
             <label>From <input name=\"since\" placeholder=\"2026-12-01T00:00\" value=\"{}\"></label>\
             <label>To <input name=\"until\" value=\"{}\"></label>\
             <label><span><input type=\"checkbox\" name=\"failed\" value=\"1\"{}> failed only</span></label>\
             <label><span><input type=\"checkbox\" name=\"live\" value=\"1\"{}> live</span></label>\
             <button>Show</button></form>",
            esc(flow),
            esc(webhook),
            esc(since),
            esc(until),
            if failed { " checked" } else { "" },
            if live { " checked" } else { "" },
        );
        if let Some(t) = bad_time {
            body.push_str(&format!(
                "<p class=\"bad\" role=\"alert\">\"{}\" is not a time: write it as 2026-12-01 or 2026-12-01T09:30 (UTC).</p>",
                esc(t)
            ));
        } else if shown.is_empty() {
            body.push_str("<p class=\"muted\">No calls match.</p>");
        }
        for l in shown {
            let ok = l["error"].is_null() && l["status"].as_u64().is_some_and(|s| (200..300).contains(&s));
            let status = match (&l["status"], &l["error"]) {
                (Value::Number(n), Value::Null) => n.to_string(),
                (Value::Number(n), e) => format!("{n} {}", cell(e)),
                (_, e) => cell(e),
            };
            // The summary is text only (a control inside a control is not one to reach); the run's
            // link is below it.
            let run = l["run"]
                .as_str()
                .map_or(String::new(), |r| format!("<p>Run <a href=\"/ui/runs/{}\">{}</a></p>", url(r), esc(r)));
            body.push_str(&format!(
                "<details class=\"call\"><summary class=\"{}\">{} · {} {} {} · {} · attempt {} · {} ms · flow {}</summary>{}\
                 <h3>Request</h3><pre>{} {}\n{}\n\n{}</pre><h3>Answer</h3><pre>{}\n\n{}</pre></details>",
                if ok { "ok" } else { "bad" },
                esc(&status),
                esc(&cell(&l["method"])),
                esc(&cell(&l["webhook"])),
                esc(&cell(&l["url"])),
                esc(&cell(&l["time"])),
                esc(&cell(&l["attempt"])),
                esc(&cell(&l["elapsed_ms"])),
                esc(&cell(&l["flow"])),
                run,
                esc(&cell(&l["method"])),
                esc(&cell(&l["url"])),
                esc(&header_lines(&l["request"]["headers"])),
                esc(&pretty(&l["request"]["body"])),
                esc(&header_lines(&l["response"]["headers"])),
                esc(&pretty(&l["response"]["body"])),
            ));
        }
        let mut html = page("Log", Some(csrf), &body);
        if live {
            // Live: the page reloads itself every 5 s while open (no script needed).
            html = html.replacen(
                "<meta charset=\"utf-8\">",
                "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">",
                1,
            );
        }
        reply(200, html)
    }

    /// `/ui/contacts?q=`: contacts by URN or name.
    pub(super) fn ui_contacts(&self, q: &HashMap<String, String>, csrf: &str) -> Reply {
        let text = field(q, "q");
        let mut body = format!(
            "<form class=\"inline\" method=\"get\" action=\"/ui/contacts\" role=\"search\">\
             <label>URN or name <input name=\"q\" value=\"{}\"></label><button>Find</button></form>",
            esc(text)
        );
        if !text.is_empty() {
            match self.store.find_contacts(text, 50) {
                Ok(found) if found.is_empty() => body.push_str("<p class=\"muted\">No contact matches.</p>"),
                Ok(found) => {
                    body.push_str("<table><thead><tr><th>URN</th><th>Name</th><th>Channel</th><th>Groups</th></tr></thead><tbody>");
                    for c in found {
                        let groups: Vec<String> = serde_json::from_str(&c.groups).unwrap_or_default();
                        body.push_str(&format!(
                            "<tr><td><a href=\"/ui/contacts/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            url(&c.urn),
                            esc(&c.urn),
                            esc(&c.name),
                            esc(&c.channel),
                            esc(&groups.join(", "))
                        ));
                    }
                    body.push_str("</tbody></table>");
                }
                Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
            }
        }
        reply(200, page("Contacts", Some(csrf), &body))
    }

    /// `/ui/contacts/{urn}`: a contact, its conversation with delivery status, its waiting run.
    pub(super) fn ui_contact(&self, urn: &str, csrf: &str) -> Reply {
        let contact = match self.store.contact(urn) {
            Ok(Some(c)) => c,
            Ok(None) => {
                return reply(404, page("Contact", Some(csrf), &format!("<p>There is no contact {}.</p>", esc(urn))));
            }
            Err(e) => {
                return reply(
                    500,
                    page("Contact", Some(csrf), &format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
                );
            }
        };
        let view = contact.to_json();
        let mut body = String::from("<table><tbody>");
        for (k, label) in [
            ("urn", "URN"),
            ("name", "Name"),
            ("channel", "Channel"),
            ("language", "Language"),
            ("timezone", "Time zone"),
        ] {
            body.push_str(&format!("<tr><th scope=\"row\">{label}</th><td>{}</td></tr>", esc(&cell(&view[k]))));
        }
        let groups: Vec<String> = serde_json::from_str(&contact.groups).unwrap_or_default();
        body.push_str(&format!("<tr><th scope=\"row\">Groups</th><td>{}</td></tr>", esc(&groups.join(", "))));
        for (k, v) in view["fields"].as_object().into_iter().flatten() {
            body.push_str(&format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", esc(k), esc(&cell(v))));
        }
        if let Ok(Some(run)) = self.store.waiting_run(urn) {
            body.push_str(&format!(
                "<tr><th scope=\"row\">Waiting run</th><td><a href=\"/ui/runs/{}\">{}</a> in {}</td></tr>",
                url(&run.state.run_id),
                esc(&run.state.run_id),
                esc(&run.state.flow)
            ));
        }
        body.push_str("</tbody></table><h2>Messages</h2>");
        match self.store.contact_messages(urn, 50) {
            Ok(messages) if messages.is_empty() => body.push_str("<p class=\"muted\">No messages.</p>"),
            Ok(messages) => {
                for m in messages.iter().rev() {
                    let out = m["direction"] == "out";
                    let status = if out {
                        let s = cell(&m["status"]);
                        let class = if s == "failed" { "bad" } else { "muted" };
                        format!(" <span class=\"{class}\">{}</span>", esc(&s))
                    } else {
                        String::new()
                    };
                    body.push_str(&format!(
                        "<div class=\"msg {}\"><div>{}</div><small class=\"muted\">{} · {}</small>{status}</div>",
                        if out { "out" } else { "in" },
                        esc(&cell(&m["text"])),
                        if out { "flow" } else { "contact" },
                        esc(&cell(&m["time"])),
                    ));
                }
            }
            Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
        }
        reply(200, page(&format!("Contact {urn}"), Some(csrf), &body))
    }

    /// `/ui/runs/{id}`: a run's status and events, step by step.
    pub(super) fn ui_run(&self, id: &str, csrf: &str) -> Reply {
        let _ = self.writer.flush();
        let summary = match self.store.summary(id) {
            Ok(Some(s)) => s,
            Ok(None) => return reply(404, page("Run", Some(csrf), &format!("<p>There is no run {}.</p>", esc(id)))),
            Err(e) => {
                return reply(500, page("Run", Some(csrf), &format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))));
            }
        };
        let contact = if summary.contact_id.is_empty() {
            "none".to_string()
        } else {
            format!("<a href=\"/ui/contacts/{}\">{}</a>", url(&summary.contact_id), esc(&summary.contact_id))
        };
        let mut body = format!(
            "<p>Flow <b>{}</b> · contact {contact} · <b>{}</b></p>",
            esc(&summary.flow),
            esc(summary.status.as_str())
        );
        // Step by step: what each did, and the results it left.
        for (n, (events, results)) in self.store.steps(id).unwrap_or_default().into_iter().enumerate() {
            body.push_str(&format!("<h2>Step {}</h2><pre>", n + 1));
            for e in events {
                let line = match serde_json::from_value::<crate::interp::Event>(e.clone()) {
                    Ok(event) => crate::interp::event_line(&event, crate::interp::Shown::Live),
                    Err(_) => e.to_string(),
                };
                body.push_str(&esc(&line));
                body.push('\n');
            }
            body.push_str("</pre>");
            if let Some(Value::Object(results)) = results.filter(|r| r.as_object().is_some_and(|o| !o.is_empty())) {
                body.push_str("<table><caption>Results after this step</caption><tbody>");
                for (name, r) in results {
                    let value = serde_json::to_string(&r["value"]).unwrap_or_default();
                    let shown = match r["category"].as_str() {
                        Some(c) => format!("{value} ({c})"),
                        None => value,
                    };
                    body.push_str(&format!(
                        "<tr><th scope=\"row\">@flow.{}</th><td>{}</td></tr>",
                        esc(&name),
                        esc(&shown)
                    ));
                }
                body.push_str("</tbody></table>");
            }
        }
        reply(200, page(&format!("Run {id}"), Some(csrf), &body))
    }

    /// `/ui/starts`: group starts with their counts, and a form for a new one.
    pub(super) fn ui_starts(&self, csrf: &str) -> Reply {
        let flows: Vec<String> =
            self.programs.iter().flat_map(|p| p.program.flows.iter().map(|f| f.name.clone())).collect();
        let options: String = flows.iter().map(|f| format!("<option>{}</option>", esc(f))).collect();
        let mut body = format!(
            "<form method=\"post\" action=\"/ui/starts\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <div class=\"inline\" style=\"display:flex;flex-wrap:wrap;gap:.5rem\">\
             <label>Flow <select name=\"flow\">{options}</select></label>\
             <label>Groups (comma-separated) <input name=\"groups\"></label>\
             <label>Runs a second <input name=\"rate\" inputmode=\"decimal\"></label>\
             <label>Contacts in a flow <select name=\"running\"><option value=\"skip\">skip them</option><option value=\"interrupt\">interrupt their run</option></select></label></div>\
             <label>URNs (one a line) <textarea name=\"urns\" rows=\"3\"></textarea></label>\
             <p><button>Start</button></p></form>",
            esc(csrf)
        );
        match self.store.starts(100) {
            Ok(rows) if rows.is_empty() => body.push_str("<p class=\"muted\">No starts yet.</p>"),
            Ok(rows) => {
                body.push_str("<div class=\"wrap\"><table><thead><tr><th>Start</th><th>Flow</th><th>For</th><th>Status</th><th>Started</th><th>Skipped</th><th>Failed</th><th>Asked</th><th></th></tr></thead><tbody>");
                for r in rows {
                    let spec: Value = serde_json::from_str(&r.spec).unwrap_or(Value::Null);
                    let groups: Vec<String> = spec["groups"].as_array().into_iter().flatten().map(cell).collect();
                    let urns = spec["urns"].as_array().map_or(0, Vec::len);
                    let mut whom = Vec::new();
                    if !groups.is_empty() {
                        whom.push(format!("groups {}", groups.join(", ")));
                    }
                    if urns > 0 {
                        whom.push(format!("{urns} URN{}", if urns == 1 { "" } else { "s" }));
                    }
                    let cancel = if r.status == "running" {
                        format!(
                            "<form method=\"post\" action=\"/ui/starts/{}/cancel\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Cancel</button></form>",
                            url(&r.id),
                            esc(csrf)
                        )
                    } else {
                        String::new()
                    };
                    body.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{cancel}</td></tr>",
                        esc(&r.id),
                        esc(&r.flow),
                        esc(&whom.join("; ")),
                        esc(&r.status),
                        r.error.as_deref().map(|e| format!(" <span class=\"bad\">{}</span>", esc(e))).unwrap_or_default(),
                        r.started,
                        r.skipped,
                        r.failed,
                        esc(&crate::time::iso(r.created_ms)),
                    ));
                }
                body.push_str("</tbody></table></div>");
            }
            Err(e) => body.push_str(&format!("<p class=\"bad\">{}</p>", esc(&e.to_string()))),
        }
        reply(200, page("Starts", Some(csrf), &body))
    }

    /// The cancel button of a running start.
    pub(super) fn ui_cancel_start(&self, id: &str) -> Reply {
        let _ = self.cancel_start(id);
        redirect("/ui/starts")
    }

    /// The start form: the same start `POST /starts` makes.
    pub(super) fn ui_create_start(&self, fields: &HashMap<String, String>, csrf: &str) -> Reply {
        let list = |key: &str, sep: char| -> Vec<String> {
            field(fields, key).split(sep).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
        };
        let mut request = json!({
            "flow": field(fields, "flow"),
            "groups": list("groups", ','),
            "urns": list("urns", '\n'),
            "running": if field(fields, "running") == "interrupt" { "interrupt" } else { "skip" },
        });
        match field(fields, "rate") {
            "" => {}
            text => match text.parse::<f64>() {
                Ok(rate) => request["rate"] = json!(rate),
                Err(_) => {
                    let message = format!("\"{text}\" is not a number of runs a second");
                    return reply(
                        400,
                        page(
                            "Starts",
                            Some(csrf),
                            &format!(
                                "<p class=\"bad\" role=\"alert\">{}</p><p><a href=\"/ui/starts\">Back</a></p>",
                                esc(&message)
                            ),
                        ),
                    );
                }
            },
        }
        let answer = self.create_start(request.to_string().as_bytes());
        if answer.status == 202 {
            return redirect("/ui/starts");
        }
        let why: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let message = why["error"].as_str().unwrap_or("the start was refused").to_string();
        reply(
            answer.status,
            page(
                "Starts",
                Some(csrf),
                &format!("<p class=\"bad\" role=\"alert\">{}</p><p><a href=\"/ui/starts\">Back</a></p>", esc(&message)),
            ),
        )
    }

    /// `/ui/flows`: every served flow with its picture, its runs by status, its triggers and channels,
    /// and each file's versions with what changed.
    pub(super) fn ui_flows(&self, csrf: &str) -> Reply {
        let _ = self.writer.flush();
        let counts = self.store.run_counts().unwrap_or_default();
        // The latest failed calls, read once for every flow's count.
        let failed_calls = self.store.read_log(None, true, 1000).unwrap_or_default();
        let mut body = String::new();
        for served in &self.programs {
            let file = served.source.as_ref().map(|(name, _)| name.as_str()).unwrap_or("");
            for f in &served.program.flows {
                let title = f.label.as_deref().map(|l| format!(" “{}”", esc(l))).unwrap_or_default();
                body.push_str(&format!(
                    "<section><h2 id=\"{}\">{}{title}</h2><p class=\"muted\">{} · version {}</p>",
                    esc(&f.name),
                    esc(&f.name),
                    esc(file),
                    esc(&served.version.chars().take(12).collect::<String>())
                ));
                let triggers: Vec<String> = served
                    .program
                    .triggers
                    .iter()
                    .filter(|t| served.program.flows.get(t.flow).is_some_and(|g| g.name == f.name))
                    .map(|t| format!("<code>{}</code>", esc(&t.suffix)))
                    .collect();
                if !triggers.is_empty() {
                    body.push_str(&format!("<p>Triggers: {}</p>", triggers.join(", ")));
                }
                let of = |status: &str| {
                    counts.iter().filter(|(fl, st, _)| *fl == f.name && st == status).map(|(_, _, n)| n).sum::<u64>()
                };
                let failures = failed_calls.iter().filter(|l| l["flow"].as_str() == Some(f.name.as_str())).count();
                body.push_str(&format!(
                    "<p>Runs kept: {} waiting, {} completed, {} stopped, {} expired, {} failed · webhook calls that failed (latest 1,000 log lines): {failures}</p>",
                    of("waiting"),
                    of("completed"),
                    of("stopped"),
                    of("expired"),
                    of("failed")
                ));
                body.push_str(&self.picture(served, &f.name));
                body.push_str("</section>");
            }
            if let Some((name, source)) = &served.source {
                body.push_str(&warnings(name, source));
                body.push_str(&self.history(name));
            }
        }
        let channels: Vec<String> = self
            .programs
            .iter()
            .flat_map(|p| p.program.channels.iter())
            .map(|c| format!("<li><b>{}</b> at <code>{}</code></li>", esc(&c.name), esc(&c.receive)))
            .collect();
        if !channels.is_empty() {
            body.push_str(&format!("<h2>Channels</h2><ul>{}</ul>", channels.join("")));
        }
        reply(200, page("Flows", Some(csrf), &body))
    }

    /// A file's versions, newest first, each with what changed from the one before.
    fn history(&self, name: &str) -> String {
        let versions = self.store.versions_of(name, 20).unwrap_or_default();
        if versions.len() < 2 {
            return String::new();
        }
        let mut out = format!("<details><summary>Versions of {} ({})</summary>", esc(name), versions.len());
        for pair in versions.windows(2) {
            let ((hash, at, new), (_, _, old)) = (&pair[0], &pair[1]);
            let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str());
            let text = diff.unified_diff().context_radius(2).to_string();
            out.push_str(&format!(
                "<h3>{} · {}</h3><pre>{}</pre>",
                esc(&hash.chars().take(12).collect::<String>()),
                esc(&crate::time::iso(*at)),
                esc(&text)
            ));
        }
        out.push_str("</details>");
        out
    }

    /// A flow's picture: SVG laid out by Graphviz when `dot` is installed, else the diagram's source.
    fn picture(&self, served: &super::super::Served, flow: &str) -> String {
        let Some((_, source)) = served.source.as_ref() else { return String::new() };
        let key = format!("{}/{flow}", served.version);
        if let Some(svg) = self.pictures.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return svg.clone();
        }
        let (file, _) = crate::syntax::parse(source);
        let Some(f) = file.flows.iter().find(|f| f.name.node == flow) else { return String::new() };
        let dot = crate::graph::render(f, crate::graph::Format::Dot);
        let svg = render_svg(&dot);
        let html = match svg {
            Some(svg) => format!("<div class=\"wrap\" role=\"img\" aria-label=\"The flow {}\">{svg}</div>", esc(flow)),
            None => format!("<details><summary>Diagram (Graphviz DOT)</summary><pre>{}</pre></details>", esc(&dot)),
        };
        self.pictures.lock().unwrap_or_else(|p| p.into_inner()).insert(key, html.clone());
        html
    }
}

/// What the checker says of a served file: warnings only (a file with errors is not served).
fn warnings(name: &str, source: &str) -> String {
    let (_, diags) = crate::check_source(source);
    if diags.is_empty() {
        return format!("<p class=\"ok\">{}: no warnings.</p>", esc(name));
    }
    let items: String = diags
        .iter()
        .map(|d| {
            let (line, col) = crate::span::line_col(source, d.span().start);
            format!("<li>line {line}:{col} <code>{}</code> {}</li>", esc(d.code.as_str()), esc(&d.message))
        })
        .collect();
    format!("<details><summary>{}: {} warning(s)</summary><ul>{items}</ul></details>", esc(name), diags.len())
}

/// `dot -Tsvg` on `dot`, at most 5 s; `None` when Graphviz is not installed or fails. The SVG's own
/// header (XML declaration, doctype, comments) is left out: it goes inside the page.
fn render_svg(dot: &str) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(dot.as_bytes()).ok()?;
    let began = std::time::Instant::now();
    loop {
        if child.try_wait().ok()?.is_some() {
            break;
        }
        if began.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().ok()?;
    let svg = String::from_utf8(out.stdout).ok()?;
    let start = svg.find("<svg")?;
    Some(svg[start..].replace("<script", "&lt;script"))
}
