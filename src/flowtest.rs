//! `flowc test`: flow tests that live next to the flows. A `NAME.flowtest` file (TOML) holds scenarios
//! for `NAME.flow`; each names a flow, a contact, the replies the contact sends and moments when time
//! passes (a virtual clock: `{ wait = "11m" }` lets a `timeout 10m` expire at once), the answers of the
//! flow's webhooks (one, or one per attempt, so retries and failures can be tested), and for a triggered
//! flow the request that starts it. What the run does — messages, e-mails, webhook calls, responds,
//! the end and the results — is a transcript compared with the golden file `NAME.flowtest.golden`.
//! Nothing touches the network: a webhook without an answer fails as offline.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::interp::{self, Event, Mocked, Offline, Resume, RunOptions, RunStatus};

/// One scenario, as written in a `.flowtest` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    /// What the test is about (its name in reports).
    name: String,
    /// The flow to run (default: the file's only flow).
    flow: Option<String>,
    /// The contact (`name`, `phone`, `email`, `language`, `timezone`, `fields`).
    contact: Option<toml::Value>,
    /// The request of a triggered flow: `headers`, `query`, `body`.
    trigger: Option<toml::Value>,
    /// Replies in order; `{ wait = "11m" }` lets time pass.
    #[serde(default)]
    steps: Vec<toml::Value>,
    /// Answers of webhooks by name: one answer, or a list used attempt by attempt.
    #[serde(default)]
    webhooks: HashMap<String, toml::Value>,
    /// The message that starts the run, as a keyword or catchall would (`@input` until the first reply).
    message: Option<String>,
    /// When the run starts on the virtual clock (an ISO 8601 instant; default [`DEFAULT_NOW`]).
    now: Option<String>,
}

/// When a scenario starts unless it says `now = "..."`: a fixed instant, so that `today()` and `now()`
/// give the same transcript every day.
pub const DEFAULT_NOW: &str = "2026-01-05T09:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// The flow file, relative to the test file (default: same name, `.flow`).
    file: Option<String>,
    #[serde(default)]
    test: Vec<Scenario>,
}

/// The result of one scenario.
#[derive(Debug)]
pub struct TestResult {
    /// The scenario's name.
    pub name: String,
    /// The transcript, or why the test could not run.
    pub transcript: Result<String, String>,
}

/// The results of one `.flowtest` file.
#[derive(Debug)]
pub struct FileReport {
    /// The test file.
    pub path: PathBuf,
    /// Each scenario's outcome, in file order (empty when the file itself is wrong).
    pub outcomes: Vec<TestResult>,
    /// Why the file could not be read or run, if so.
    pub error: Option<String>,
}

impl FileReport {
    /// The golden file's expected content for the current outcomes.
    pub fn golden_text(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            out.push_str(&format!("=== {}\n", o.name));
            match &o.transcript {
                Ok(t) => out.push_str(t),
                Err(e) => out.push_str(&format!("error: {e}\n")),
            }
            out.push('\n');
        }
        out
    }

    /// Where the golden file lives: `NAME.flowtest.golden` beside the test file.
    pub fn golden_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".golden");
        self.path.with_file_name(name)
    }
}

/// Runs every scenario of the test file at `path`.
pub fn run_file(path: &Path) -> FileReport {
    let mut report = FileReport { path: path.to_path_buf(), outcomes: Vec::new(), error: None };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(format!("cannot read {}: {e}", path.display()));
            return report;
        }
    };
    let file: TestFile = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            report.error = Some(format!("{} is not a flow test file: {e}", path.display()));
            return report;
        }
    };
    let flow_path = match &file.file {
        Some(f) => path.with_file_name(f),
        None => path.with_extension("flow"),
    };
    let src = match std::fs::read_to_string(&flow_path) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(format!("cannot read the flow file {}: {e}", flow_path.display()));
            return report;
        }
    };
    let program = match crate::compile_source(&src) {
        Ok((p, _)) => p,
        Err(diags) => {
            let errors = diags.iter().filter(|d| d.is_error()).count();
            report.error = Some(format!(
                "{} has {errors} error(s); `flowc check {}` shows them",
                flow_path.display(),
                flow_path.display()
            ));
            return report;
        }
    };
    if file.test.is_empty() {
        report.error = Some(format!("{} holds no [[test]]", path.display()));
    }
    let mut names = std::collections::HashSet::new();
    if let Some(dup) = file.test.iter().find(|t| !names.insert(t.name.trim())) {
        report.error = Some(format!("two tests are named \"{}\": give each its own name", dup.name.trim()));
        return report;
    }
    for scenario in &file.test {
        let transcript = run_scenario(&program, scenario).map(|(t, _)| t);
        report.outcomes.push(TestResult { name: scenario.name.trim().to_string(), transcript });
    }
    report
}

/// Where a simulated conversation stands: what a test of it would show, and the run as it is now.
pub struct Simulated {
    /// The transcript, as the golden file holds it.
    pub transcript: String,
    /// The run after the last step.
    pub state: interp::RunState,
}

/// Runs the one scenario of a `.flowtest` text against `program` (the console's simulator: what a
/// browser tries is a flow test, run as `flowc test` runs it).
pub fn simulate(program: &crate::program::Program, test_file: &str) -> Result<Simulated, String> {
    let file: TestFile = toml::from_str(test_file).map_err(|e| format!("not a flow test: {e}"))?;
    let [scenario] = file.test.as_slice() else { return Err("a simulation is one [[test]]".into()) };
    let (transcript, state) = run_scenario(program, scenario)?;
    Ok(Simulated { transcript, state })
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn run_scenario(program: &crate::program::Program, s: &Scenario) -> Result<(String, interp::RunState), String> {
    if s.flow.is_none() && program.flows.len() > 1 {
        let names: Vec<&str> = program.flows.iter().map(|f| f.name.as_str()).collect();
        return Err(format!("the file has several flows ({}): name one with `flow = \"...\"`", names.join(", ")));
    }
    let (_, flow) = interp::find_flow(program, s.flow.as_deref()).map_err(|e| e.to_string())?;
    let keys_of = |what: &str, v: &toml::Value, allowed: &[&str]| -> Result<(), String> {
        let table = v.as_table().ok_or_else(|| format!("`{what}` is a table: {what} = {{ ... }}"))?;
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("`{what}` has no key `{k}` (its keys: {})", allowed.join(", "))),
            None => Ok(()),
        }
    };
    let mut zone = None;
    if let Some(c) = &s.contact {
        keys_of(
            "contact",
            c,
            &["name", "phone", "email", "language", "fields", "urn", "channel", "timezone", "groups"],
        )?;
        zone = interp::Contact::timezone_of(&to_json(c)).map_err(|e| format!("`contact`: {e}"))?;
    }
    if let Some(t) = &s.trigger {
        keys_of("trigger", t, &["method", "headers", "query", "body"])?;
    }
    let mut mocks = HashMap::new();
    for (name, answers) in &s.webhooks {
        let text = serde_json::to_string(&to_json(answers)).unwrap_or_default();
        let parsed = interp::driver::mock_answers(program, Some(&flow.name), name, &text).map_err(|e| match e {
            interp::driver::MockError::UnknownWebhook { known, .. } => {
                let known =
                    if known.is_empty() { "it has none".to_string() } else { format!("it has: {}", known.join(", ")) };
                format!("flow `{}` has no webhook `{name}` ({known})", flow.name)
            }
            interp::driver::MockError::Invalid(e) => format!("webhook `{name}`: {e}"),
        })?;
        mocks.insert(name.clone(), parsed);
    }
    let client = Mocked::new(mocks, &Offline);
    let env = |name: &str| Some(format!("<{name}>"));
    let now = s.now.as_deref().unwrap_or(DEFAULT_NOW);
    let start_ms = now
        .parse::<jiff::Timestamp>()
        .map_err(|_| format!("`now` is an ISO 8601 instant such as \"{DEFAULT_NOW}\", not \"{now}\""))?
        .as_millisecond();
    let mut options = RunOptions { client: &client, env: &env, now_ms: Some(start_ms), ..RunOptions::default() };
    let contact = interp::Contact::with_test_defaults(s.contact.as_ref().map(to_json));
    let trigger = s
        .trigger
        .as_ref()
        .map(|t| interp::driver::trigger_request(program, Some(&flow.name), to_json(t)))
        .transpose()
        .map_err(|e| format!("`trigger`: {e}"))?;
    let mut out =
        interp::start_with_input(program, Some(&flow.name), "test-run", contact, trigger, s.message.clone(), &options)
            .map_err(|e| e.to_string())?;
    let mut transcript = String::new();
    // A scenario that sets the clock or the contact's zone says so first: they decide what "today" is.
    if s.now.is_some() || zone.is_some() {
        let tz = zone.unwrap_or(jiff::tz::TimeZone::UTC);
        let name = tz.iana_name().unwrap_or("UTC").to_string();
        let at = jiff::Timestamp::from_millisecond(start_ms).map_err(|e| e.to_string())?.to_zoned_datetime(tz);
        transcript.push_str(&format!("… it is {} ({name})\n", crate::dates::moment_iso(&at)));
    }
    if let Some(m) = &s.message {
        transcript.push_str(&format!("you: {}\n", interp::one_line(m)));
    }
    write_events(&mut transcript, &out.events);
    // Time that has passed on the virtual clock since the run began its current wait, and in all.
    let mut waited = 0u64;
    let mut elapsed = 0i64;
    for step in &s.steps {
        if out.state.status != RunStatus::Waiting {
            return Err(format!("the run has ended ({}) but the test has more steps", out.state.status.as_str()));
        }
        let resume = match step {
            toml::Value::String(reply) => Resume::Reply(reply.clone()),
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("wait") => {
                let spent = t["wait"]
                    .as_str()
                    .and_then(crate::time::duration_ms)
                    .ok_or("`wait` takes a duration such as \"11m\"")?;
                transcript.push_str(&format!("… {} pass\n", t["wait"].as_str().unwrap_or_default()));
                let before = waited;
                waited = waited.saturating_add(spent);
                match out.state.waiting.as_ref().and_then(|w| w.timeout_ms) {
                    // The timeout fires when its time is up, not at the end of the wait step.
                    Some(limit) if limit <= waited => {
                        elapsed =
                            elapsed.saturating_add(i64::try_from(limit.saturating_sub(before)).unwrap_or(i64::MAX));
                        Resume::Timeout
                    }
                    _ => {
                        elapsed = elapsed.saturating_add(i64::try_from(spent).unwrap_or(i64::MAX));
                        continue;
                    }
                }
            }
            other => {
                return Err(format!("a step is a reply (\"text\") or {{ wait = \"11m\" }}, not {}", to_json(other)));
            }
        };
        options.now_ms = Some(start_ms.saturating_add(elapsed));
        out = interp::resume(program, out.state, resume, &options).map_err(|e| e.to_string())?;
        waited = 0;
        write_events(&mut transcript, &out.events);
    }
    // What the run holds at the end: its results.
    let mut results = Vec::new();
    for (name, slot) in out.state.slot_names.iter().zip(&out.state.slots) {
        if let Some(slot) = slot {
            let value = serde_json::to_string(&slot.value).unwrap_or_default();
            match &slot.category {
                Some(c) => results.push(format!("{name} = {value} ({c})")),
                None => results.push(format!("{name} = {value}")),
            }
        }
    }
    if !results.is_empty() {
        transcript.push_str(&format!("results: {}\n", results.join("; ")));
    }
    Ok((transcript, out.state))
}

/// The transcript lines of events: what a reviewer reads, without ids or timings.
fn write_events(out: &mut String, events: &[Event]) {
    for e in events {
        let line = interp::event_line(e, interp::Shown::Transcript);
        for l in line.lines() {
            // Trailing spaces are what editors strip from golden files.
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
}

impl FileReport {
    /// Each test's mismatch with the golden file's text (`None`: it matches), compared test by test
    /// (each `=== name` section), whatever spaces end the lines; a test that cannot run fails with its
    /// reason, golden file or not.
    pub fn mismatches(&self, golden: Option<&str>) -> Vec<Option<String>> {
        let sections = split_sections(golden.unwrap_or_default());
        self.outcomes
            .iter()
            .map(|o| {
                let mine = match &o.transcript {
                    Ok(t) => t.clone(),
                    Err(e) => format!("error: {e}\n"),
                };
                match (golden, sections.get(o.name.as_str())) {
                    _ if o.transcript.is_err() => o.transcript.as_ref().err().map(|e| format!("{e}\n")),
                    (None, _) => {
                        Some(format!("no golden file {}; run `flowc test --update`\n", self.golden_path().display()))
                    }
                    (_, None) => Some("not in the golden file; run `flowc test --update`\n".to_string()),
                    (_, Some(want)) if !same_lines(want, &mine) => Some(diff(want, &mine)),
                    _ => None,
                }
            })
            .collect()
    }
}

/// Whether two transcripts say the same, whatever spaces end their lines (editors strip them).
fn same_lines(a: &str, b: &str) -> bool {
    a.trim_end().lines().map(str::trim_end).eq(b.trim_end().lines().map(str::trim_end))
}

/// The sections of a golden file by test name (`=== name` lines start them).
fn split_sections(text: &str) -> std::collections::HashMap<&str, String> {
    let mut out = std::collections::HashMap::new();
    let mut current: Option<&str> = None;
    let mut body = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ").map(str::trim) {
            if let Some(c) = current.take() {
                out.insert(c, std::mem::take(&mut body));
            }
            current = Some(name);
        } else if current.is_some() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some(c) = current {
        out.insert(c, body);
    }
    out
}

/// A unified-style line diff of `expected` and `got` (`-` expected, `+` got), with a line of context.
pub fn diff(expected: &str, got: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) =
        (expected.trim_end().lines().map(str::trim_end).collect(), got.trim_end().lines().map(str::trim_end).collect());
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            lines.push(('+', b[j]));
            j += 1;
        } else {
            lines.push(('-', a[i]));
            i += 1;
        }
    }
    let near = |k: usize| lines[k.saturating_sub(1)..(k + 2).min(lines.len())].iter().any(|(c, _)| *c != ' ');
    let mut out = String::new();
    for (k, (c, l)) in lines.iter().enumerate() {
        if *c != ' ' || near(k) {
            out.push_str(&format!("{c} {l}\n"));
        }
    }
    out
}

/// The reports as JUnit XML, for CI dashboards: one test suite per file, one test case per scenario.
pub fn junit(reports: &[(FileReport, Vec<Option<String>>)]) -> String {
    // XML 1.0 allows no control characters but tab and line breaks: others are written as `\u{..}`.
    let esc = |s: &str| {
        s.chars()
            .map(|c| match c {
                '&' => "&amp;".to_string(),
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '"' => "&quot;".to_string(),
                '\t' | '\n' | '\r' => c.to_string(),
                c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
                c => c.to_string(),
            })
            .collect::<String>()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flowc test\">\n");
    for (report, failures) in reports {
        let name = esc(&report.path.display().to_string());
        let failed = failures.iter().filter(|f| f.is_some()).count() + usize::from(report.error.is_some());
        let count = report.outcomes.len().max(usize::from(report.error.is_some()));
        out.push_str(&format!("  <testsuite name=\"{name}\" tests=\"{count}\" failures=\"{failed}\">\n"));
        if let Some(e) = &report.error {
            out.push_str(&format!(
                "    <testcase name=\"(file)\" classname=\"{name}\"><failure message=\"{}\"/></testcase>\n",
                esc(e)
            ));
        }
        for (o, failure) in report.outcomes.iter().zip(failures) {
            match failure {
                None => out.push_str(&format!("    <testcase name=\"{}\" classname=\"{name}\"/>\n", esc(&o.name))),
                Some(f) => out.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{name}\"><failure message=\"transcript differs\">{}</failure></testcase>\n",
                    esc(&o.name),
                    esc(f)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
