//! AST → [`Program`]: flattens blocks into instructions with jump targets, resolves `@flow.NAME` and
//! `@webhook.NAME` to slots, folds constant templates, and fills in defaults. Runs only on files the
//! checker accepted; on anything it cannot resolve it degrades (a jump to the end, a `null`) rather than
//! panic.

use std::collections::HashMap;

use crate::ast::*;
use crate::program::*;
use crate::split_test::SplitTest;

/// Default per-attempt webhook timeout (docs/language.md §6).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default first retry delay.
pub const DEFAULT_BACKOFF_MS: u64 = 1_000;

/// The version of [`review`]'s format (`docs/compile-output.schema.json`); it changes when the format
/// does.
pub const FORMAT_VERSION: u64 = 1;

/// The compiled program as `flowc compile` prints it, for review and snapshots: the program's JSON with
/// `format_version`; each instruction as `{"src": the first line of its statement, "label": its name if
/// control jumps there, OP: ...}`; jump targets as labels (`ask`, `lookup_response.timeout`,
/// `state.Shipped`, `end`) instead of positions; and variables by name instead of slot numbers. Adding a
/// statement changes the lines about it, not every jump after it. `src` is the file's text.
pub fn review(program: &Program, src: &str) -> serde_json::Value {
    use serde_json::Value;
    let mut out = serde_json::to_value(program).unwrap_or(Value::Null);
    let Some(flows) = out.get_mut("flows").and_then(Value::as_array_mut) else { return out };
    for (flow, fp) in flows.iter_mut().zip(&program.flows) {
        let name_of = |at: usize| -> String {
            fp.origin.labels.iter().find(|(i, _)| *i == at).map_or_else(|| format!("@{at}"), |(_, n)| n.clone())
        };
        let Some(code) = flow.get_mut("code").and_then(Value::as_array_mut) else { continue };
        let targets: std::collections::BTreeSet<usize> = fp.code.iter().flat_map(jump_targets).collect();
        for (i, entry) in code.iter_mut().enumerate() {
            let op = std::mem::take(entry);
            let mut view = serde_json::Map::new();
            let span = fp.origin.spans.get(i).copied().unwrap_or_default();
            let line = src.get(span.start..span.end).and_then(|t| t.lines().next()).unwrap_or("").trim();
            let line: String = if line.chars().count() > 100 {
                format!("{}…", line.chars().take(99).collect::<String>())
            } else {
                line.to_string()
            };
            view.insert("src".into(), Value::String(line));
            if targets.contains(&i) || i + 1 == fp.code.len() {
                view.insert("label".into(), Value::String(name_of(i)));
            }
            match op {
                Value::Object(map) => {
                    for (k, mut v) in map {
                        name_targets(&k, &mut v, &name_of);
                        name_slots(&mut v, fp);
                        view.insert(k, v);
                    }
                }
                Value::String(unit) => {
                    view.insert(unit, Value::Null);
                }
                other => {
                    view.insert("op".into(), other);
                }
            }
            *entry = Value::Object(view);
        }
    }
    if let Value::Object(map) = &mut out {
        let mut versioned = serde_json::Map::new();
        versioned.insert("format_version".into(), Value::from(FORMAT_VERSION));
        versioned.extend(std::mem::take(map));
        *map = versioned;
    }
    out
}

/// Every instruction index an instruction may continue at other than the next one.
fn jump_targets(i: &Instr) -> Vec<usize> {
    match i {
        Instr::Jump { target } => vec![*target],
        Instr::Wait { on_timeout, .. } => on_timeout.iter().copied().collect(),
        Instr::Webhook(call) => call.on_failure.iter().copied().collect(),
        Instr::Enter { on_expired, .. } => on_expired.iter().copied().collect(),
        Instr::Split(s) => s.cases.iter().map(|c| c.target).chain([s.other]).collect(),
        _ => Vec::new(),
    }
}

/// Replaces the positions in one instruction's JSON (`op` is its kind) by the names of the places.
fn name_targets(op: &str, v: &mut serde_json::Value, name_of: &dyn Fn(usize) -> String) {
    use serde_json::Value;
    let mut rename = |field: &mut Value| {
        if let Some(n) = field.as_u64() {
            *field = Value::String(name_of(n as usize));
        }
    };
    match op {
        "jump" => v.get_mut("target").map(&mut rename).unwrap_or_default(),
        "wait" => v.get_mut("on_timeout").map(&mut rename).unwrap_or_default(),
        "webhook" => v.get_mut("on_failure").map(&mut rename).unwrap_or_default(),
        "enter" => v.get_mut("on_expired").map(&mut rename).unwrap_or_default(),
        "split" => {
            if let Some(cases) = v.get_mut("cases").and_then(Value::as_array_mut) {
                for c in cases {
                    c.get_mut("target").map(&mut rename).unwrap_or_default();
                }
            }
            v.get_mut("other").map(&mut rename).unwrap_or_default();
        }
        _ => {}
    }
}

/// Replaces slot numbers by the names of the variables (and `@webhook` slots by webhook names).
fn name_slots(v: &mut serde_json::Value, fp: &FlowProgram) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let webhook_root = map.get("root").and_then(Value::as_str) == Some("webhook");
            for (k, child) in map.iter_mut() {
                match (k.as_str(), child.as_u64()) {
                    ("slot", Some(n)) => {
                        let names = if webhook_root { &fp.webhooks } else { &fp.slots };
                        if let Some(name) = names.get(n as usize) {
                            *child = Value::String(name.clone());
                        }
                    }
                    ("webhook", Some(n)) => {
                        if let Some(name) = fp.webhooks.get(n as usize) {
                            *child = Value::String(name.clone());
                        }
                    }
                    _ => name_slots(child, fp),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| name_slots(c, fp)),
        _ => {}
    }
}

/// Compiles a checked file.
pub fn compile(file: &SourceFile) -> Program {
    let connectors: Vec<ConnectorDef> = file.connectors.iter().map(connector).collect();
    let connector_index = |name: &str| file.connectors.iter().position(|c| c.name.node == name);
    let flows: Vec<FlowProgram> = file.flows.iter().map(|f| FlowCompiler::new(f, &connector_index).run()).collect();
    let triggers = file
        .triggers
        .iter()
        .filter_map(|t| {
            let start = t.starts.first()?;
            let flow = file.flows.iter().position(|f| f.name.node == start.node)?;
            let auth = t.auth.as_ref().map(|a| match a {
                TriggerAuth::Connector(n) => TriggerAuthDef::Connector(connector_index(&n.node).unwrap_or(0)),
                TriggerAuth::Signature { env } => TriggerAuthDef::Signature { env: env.node.clone() },
            });
            let mut def = TriggerDef {
                suffix: t.suffix.node.clone(),
                // The checker has refused anything else.
                methods: t.methods.iter().filter_map(|m| Method::parse(&m.node)).collect(),
                auth,
                flow,
                headers: Vec::new(),
                query: Vec::new(),
                body: None,
                contact: t.start_for.as_ref().map(|f| {
                    // Compiled as the started flow's code is, with its variables' numbering.
                    let mut compiler = FlowCompiler::new(&file.flows[flow], &connector_index);
                    compiler.slots = flows[flow].slots.clone();
                    compiler.webhooks = flows[flow].webhooks.clone();
                    TriggerContact { urn: compiler.expr(&f.urn), channel: f.channel.node.clone() }
                }),
            };
            for e in &t.expects {
                match e {
                    Expect::Header(n, s) => def.headers.push((n.node.clone(), shape_json(s))),
                    Expect::Query(n, s) => def.query.push((n.node.clone(), shape_json(s))),
                    Expect::Body(s) => def.body = Some(shape_json(s)),
                }
            }
            Some(def)
        })
        .collect();
    let flow_index = |name: &str| file.flows.iter().position(|f| f.name.node == name);
    let message_triggers = file
        .message_triggers
        .iter()
        .filter_map(|t| {
            Some(MessageTriggerDef {
                words: t.words.iter().map(|w| w.node.trim().to_lowercase()).collect(),
                channel: t.channel.as_ref().map(|c| c.node.clone()),
                flow: flow_index(&t.starts.first()?.node)?,
            })
        })
        .collect();
    let channels = file
        .channels
        .iter()
        .filter_map(|c| {
            let receive = format!("/channels/{}", c.name.node);
            let rate = channel_rate(c);
            match &c.kind {
                ChannelKind::External { .. } => {}
                ChannelKind::Telegram { token, secret } => {
                    let kind = ChannelKindDef::Telegram {
                        token: token.node.clone(),
                        secret: secret.as_ref().map(|s| s.node.clone()),
                    };
                    return Some(ChannelDef { name: c.name.node.clone(), receive, kind, rate });
                }
                ChannelKind::Twilio { account, token, from } => {
                    let kind = ChannelKindDef::Twilio {
                        account: account.node.clone(),
                        token: token.node.clone(),
                        from: from.node.clone(),
                    };
                    return Some(ChannelDef { name: c.name.node.clone(), receive, kind, rate });
                }
            }
            let (suffix, auth) = c.kind.receives().next()?;
            let w = c.kind.sends().next()?;
            let send = ChannelSend {
                method: w.method.node,
                url: w.url.as_literal().unwrap_or_default(),
                auth: w.auth.as_ref().and_then(|a| connector_index(&a.node)),
                headers: w.headers.iter().map(|(k, v)| (k.node.clone(), secret(v))).collect(),
                timeout_ms: w.timeout.as_ref().map_or(DEFAULT_TIMEOUT_MS, |t| t.node.millis),
                retries: w.retries.as_ref().map_or(CHANNEL_RETRIES, |r| r.node as u32),
                backoff_ms: w.backoff.as_ref().map_or(CHANNEL_BACKOFF_MS, |b| b.node.millis),
            };
            let auth = auth.map(|a| match a {
                TriggerAuth::Connector(n) => TriggerAuthDef::Connector(connector_index(&n.node).unwrap_or(0)),
                TriggerAuth::Signature { env } => TriggerAuthDef::Signature { env: env.node.clone() },
            });
            Some(ChannelDef {
                name: c.name.node.clone(),
                receive: suffix.node.clone(),
                kind: ChannelKindDef::External { auth, send },
                rate,
            })
        })
        .collect();
    Program { connectors, triggers, message_triggers, channels, flows }
}

/// Messages a second a Telegram bot may send (Telegram's Bot API: about 30 a second overall).
pub const TELEGRAM_RATE: f64 = 30.0;
/// Messages a second a Twilio number may send (Twilio's default for a long code: one segment a second).
pub const TWILIO_RATE: f64 = 1.0;

/// How many messages a second leave through `c`: its `rate`, else its kind's documented limit; `None`
/// (as fast as the gateway answers) for an external gateway without `rate`.
fn channel_rate(c: &crate::ast::Channel) -> Option<f64> {
    match (&c.rate, &c.kind) {
        (Some(r), _) => Some(r.node.per_second()),
        (None, ChannelKind::Telegram { .. }) => Some(TELEGRAM_RATE),
        (None, ChannelKind::Twilio { .. }) => Some(TWILIO_RATE),
        (None, ChannelKind::External { .. }) => None,
    }
}

/// A channel's `retries` when it gives none: a message is tried 6 times, over about a minute.
pub const CHANNEL_RETRIES: u32 = 5;
/// A channel's `backoff` when it gives none (doubled after each attempt: 2, 4, 8, 16, 32 s).
pub const CHANNEL_BACKOFF_MS: u64 = 2_000;

fn secret(e: &Expr) -> Secret {
    match &e.kind {
        ExprKind::Env(name) => Secret::Env(name.node.clone()),
        ExprKind::Str(t) => Secret::Literal(t.as_literal().unwrap_or_default()),
        ExprKind::Number(n) => Secret::Literal(n.to_string()),
        _ => Secret::Literal(String::new()),
    }
}

fn connector(c: &Connector) -> ConnectorDef {
    let auth = match &c.auth {
        ConnectorAuth::Basic { user, password } => AuthDef::Basic { user: secret(user), password: secret(password) },
        ConnectorAuth::Bearer { token } => AuthDef::Bearer { token: secret(token) },
        ConnectorAuth::ApiKey { place, name, value } => {
            AuthDef::ApiKey { place: *place, name: name.node.clone(), value: secret(value) }
        }
    };
    ConnectorDef { name: c.name.node.clone(), auth }
}

/// A shape as compact JSON: `"text"`, `["number"]`, `{"key": "text", "opt?": "bool"}`.
pub fn shape_json(s: &Shape) -> serde_json::Value {
    use serde_json::Value;
    match &s.kind {
        ShapeKind::Text => Value::from("text"),
        ShapeKind::Number => Value::from("number"),
        ShapeKind::Bool => Value::from("bool"),
        ShapeKind::Json => Value::from("json"),
        ShapeKind::List(inner) => Value::Array(vec![shape_json(inner)]),
        ShapeKind::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|f| {
                    (if f.optional { format!("{}?", f.key.node) } else { f.key.node.clone() }, shape_json(&f.shape))
                })
                .collect(),
        ),
    }
}

struct FlowCompiler<'a, F> {
    flow: &'a Flow,
    connector_index: &'a F,
    slots: Vec<String>,
    webhooks: Vec<String>,
    code: Vec<Instr>,
    steps: HashMap<&'a str, usize>,
    /// Jumps to patch once every step's position is known: (instruction, step name).
    gotos: Vec<(usize, &'a str)>,
    /// The statement being compiled, and where each instruction came from (for review).
    current: crate::span::Span,
    origin: Origin,
}

impl<'a, F: Fn(&str) -> Option<usize>> FlowCompiler<'a, F> {
    fn new(flow: &'a Flow, connector_index: &'a F) -> Self {
        FlowCompiler {
            flow,
            connector_index,
            slots: Vec::new(),
            webhooks: Vec::new(),
            code: Vec::new(),
            steps: HashMap::new(),
            gotos: Vec::new(),
            current: crate::span::Span::default(),
            origin: Origin::default(),
        }
    }

    /// Names the instruction at `at` as a jump target (the first name given to a place stays). A name
    /// already given to another place gets `#2`, `#3`, ... (two waits for the same reply).
    fn label(&mut self, at: usize, name: String) {
        if self.origin.labels.iter().any(|(i, _)| *i == at) {
            return;
        }
        let mut unique = name.clone();
        let mut n = 1;
        while self.origin.labels.iter().any(|(_, l)| *l == unique) {
            n += 1;
            unique = format!("{name}#{n}");
        }
        self.origin.labels.push((at, unique));
    }

    fn run(mut self) -> FlowProgram {
        let mut decimal = '.';
        let mut dates = crate::dates::DateOrder::default();
        for stmt in &self.flow.body.stmts {
            match &stmt.kind {
                StmtKind::Numbers { decimal: d } if d.node == "," => decimal = ',',
                StmtKind::Numbers { .. } => {}
                StmtKind::Dates { order } => dates = crate::dates::DateOrder::parse(&order.node).unwrap_or_default(),
                _ => break,
            }
        }
        self.block(&self.flow.body);
        self.current = crate::span::Span::at(self.flow.body.span.end.saturating_sub(1));
        let end = self.emit(Instr::End);
        self.label(end, "end".into());
        for (at, name) in std::mem::take(&mut self.gotos) {
            let target = self.steps.get(name).copied().unwrap_or(end);
            self.code[at] = Instr::Jump { target };
        }
        let mut step_starts: Vec<usize> = self.steps.values().copied().collect();
        step_starts.sort_unstable();
        step_starts.dedup();
        FlowProgram {
            step_starts,
            name: self.flow.name.node.clone(),
            label: self.flow.label.as_ref().map(|l| l.node.clone()),
            decimal,
            dates,
            slots: self.slots,
            webhooks: self.webhooks,
            code: self.code,
            origin: self.origin,
        }
    }

    fn slot(&mut self, name: &str) -> usize {
        match self.slots.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                self.slots.push(name.to_string());
                self.slots.len() - 1
            }
        }
    }

    fn webhook_index(&mut self, name: &str) -> usize {
        match self.webhooks.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                self.webhooks.push(name.to_string());
                self.webhooks.len() - 1
            }
        }
    }

    fn emit(&mut self, i: Instr) -> usize {
        self.origin.spans.push(self.current);
        self.code.push(i);
        self.code.len() - 1
    }

    fn here(&self) -> usize {
        self.code.len()
    }

    fn patch(&mut self, at: usize, target: usize) {
        if let Instr::Jump { target: t } = &mut self.code[at] {
            *t = target;
        }
    }

    fn block(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        self.current = stmt.span;
        match &stmt.kind {
            // Files with syntax errors are never compiled (`compile_source` stops at errors).
            StmtKind::Numbers { .. } | StmtKind::Dates { .. } | StmtKind::Error { .. } => {}
            StmtKind::Send { text, replies } => {
                let text = self.tpl(text);
                let replies = replies.iter().map(|r| self.tpl(r)).collect();
                self.emit(Instr::Send { text, replies });
            }
            StmtKind::Wait { name, timeout, .. } => {
                let slot = self.slot(&name.node);
                let timeout_ms = timeout.as_ref().map(|t| t.node.millis);
                let wait = self.emit(Instr::Wait { slot, timeout_ms, on_timeout: None });
                self.arms_after(stmt, wait);
            }
            StmtKind::Webhook(w) => self.webhook(w, stmt),
            StmtKind::Split(s) => self.split(s, stmt),
            StmtKind::Set { name, value, category } => {
                let slot = self.slot(&name.node);
                let value = self.expr(value);
                let category = category.as_ref().map(|c| c.node.clone());
                self.emit(Instr::Set { slot, value, category });
            }
            StmtKind::SetContact { target, value } => {
                let value = self.expr(value);
                self.emit(Instr::SetContact { target: target.node.clone(), value });
            }
            StmtKind::Step { .. } => {
                for (arm, body) in crate::control::exits(stmt).arms {
                    if let crate::control::Arm::Body(name) = arm {
                        let here = self.here();
                        self.steps.entry(name.node.as_str()).or_insert(here);
                        self.label(here, name.node.clone());
                    }
                    self.block(body);
                }
            }
            StmtKind::Goto { .. } => {
                if let Some(target) = crate::control::exits(stmt).goto {
                    let at = self.emit(Instr::Jump { target: 0 });
                    self.gotos.push((at, target.node.as_str()));
                }
            }
            StmtKind::Email { to, subject, body } => {
                let (to, subject, body) = (self.tpl(to), self.tpl(subject), self.tpl(body));
                self.emit(Instr::Email { to, subject, body });
            }
            StmtKind::Respond(r) => {
                let status = match &r.status {
                    RespondStatus::Code(c) => Ex::Lit(c.node.into()),
                    RespondStatus::Dynamic(e) => self.expr(e),
                };
                let headers = r.headers.iter().map(|(k, v)| (k.node.clone(), self.expr(v))).collect();
                let body = match &r.body {
                    Some(b) => self.body(&b.node),
                    None => BodyInstr::None,
                };
                self.emit(Instr::Respond(Box::new(RespondInstr { status, headers, body })));
            }
            StmtKind::Stop => {
                self.emit(Instr::Stop);
            }
            StmtKind::Enter { flow, terminal, .. } => {
                let at =
                    self.emit(Instr::Enter { flow: flow.node.clone(), terminal: terminal.is_some(), on_expired: None });
                self.arms_after(stmt, at);
            }
        }
    }

    /// The blocks a wait or a webhook runs instead of going straight on (`on timeout`, `on failure`):
    /// placed after a jump over them, their start written into the instruction at `at`.
    fn arms_after(&mut self, stmt: &'a Stmt, at: usize) {
        for (arm, block) in crate::control::exits(stmt).arms {
            let (name, what) = match arm {
                crate::control::Arm::Timeout(n) => (n.node.as_str(), "timeout"),
                crate::control::Arm::Failure(n) => (n.node.as_str(), "failure"),
                crate::control::Arm::Expired(n) => (n.node.as_str(), "expired"),
                _ => ("", "block"),
            };
            let skip = self.emit(Instr::Jump { target: 0 });
            let start = self.here();
            self.label(start, format!("{name}.{what}"));
            match &mut self.code[at] {
                Instr::Wait { on_timeout, .. } => *on_timeout = Some(start),
                Instr::Webhook(call) => call.on_failure = Some(start),
                Instr::Enter { on_expired, .. } => *on_expired = Some(start),
                _ => {}
            }
            self.block(block);
            let after = self.here();
            self.label(after, format!("{name}.done"));
            self.patch(skip, after);
        }
    }

    fn webhook(&mut self, w: &'a Webhook, stmt: &'a Stmt) {
        let slot = self.slot(&w.name.node);
        let webhook = self.webhook_index(&w.name.node);
        let url = self.tpl(&w.url);
        let headers = w.headers.iter().map(|(k, v)| (k.node.clone(), self.expr(v))).collect();
        let query = w.query.iter().map(|(k, v)| (k.node.clone(), self.expr(v))).collect();
        let body = match &w.body {
            Some(b) => self.body(&b.node),
            None if w.method.node.has_body() => BodyInstr::Default,
            None => BodyInstr::None,
        };
        let call = WebhookCall {
            name: w.name.node.clone(),
            webhook,
            slot,
            method: w.method.node,
            url,
            headers,
            query,
            auth: w.auth.as_ref().and_then(|a| (self.connector_index)(&a.node)),
            body,
            timeout_ms: w.timeout.as_ref().map_or(DEFAULT_TIMEOUT_MS, |t| t.node.millis),
            retries: w.retries.as_ref().map_or(0, |r| r.node.clamp(0.0, 4.0) as u32),
            backoff_ms: w.backoff.as_ref().map_or(DEFAULT_BACKOFF_MS, |b| b.node.millis),
            expect: w.expect.as_ref().map(shape_json),
            on_failure: None,
        };
        let at = self.emit(Instr::Webhook(Box::new(call)));
        self.arms_after(stmt, at);
    }

    fn split(&mut self, s: &'a Split, stmt: &'a Stmt) {
        let operand = self.expr(&s.operand);
        let result = s.result.as_ref().map(|r| self.slot(&r.node));
        let mut cases = Vec::new();
        for case in &s.cases {
            let (test, default_name) = match &case.test.kind {
                TestKind::Named { name, args } => {
                    let test = SplitTest::parse(&name.node).unwrap_or(SplitTest::HasText);
                    (TestInstr::Named { test, args: args.iter().map(|a| self.expr(a)).collect() }, name.node.clone())
                }
                TestKind::Compare { op, value } => {
                    (TestInstr::Compare { op: *op, value: self.expr(value) }, op.as_str().to_string())
                }
            };
            let category = case.category.as_ref().map_or(default_name, |c| c.node.clone());
            cases.push(CaseInstr { test, category, target: 0 });
        }
        let at = self.emit(Instr::Split(Box::new(SplitInstr { operand, result, cases, other: 0 })));
        // Each arm's block in turn; a case that falls off its end jumps past the rest. Without `other`,
        // "no case matched" goes to the end.
        let mut ends = Vec::new();
        let mut other_start = None;
        // A split is named by its result, else by what it splits on (not by its position, so that
        // adding a split does not rename the others).
        let split_name = match (&s.result, &s.operand.kind) {
            (Some(r), _) => r.node.clone(),
            (None, ExprKind::Ref(r)) => {
                let path: Vec<&str> = r.path.iter().map(|p| p.node.as_str()).collect();
                format!("{}.{}", r.root.as_str(), path.join("."))
            }
            _ => "split".to_string(),
        };
        for (arm, block) in crate::control::exits(stmt).arms {
            let start = self.here();
            match arm {
                crate::control::Arm::Case(i, case) => {
                    let category = match &case.category {
                        Some(c) => c.node.clone(),
                        None => match &case.test.kind {
                            TestKind::Named { name, .. } => name.node.clone(),
                            TestKind::Compare { .. } => format!("case{}", i + 1),
                        },
                    };
                    self.label(start, format!("{split_name}.{category}"));
                    if let Instr::Split(sp) = &mut self.code[at] {
                        sp.cases[i].target = start;
                    }
                    self.block(block);
                    if crate::control::falls_through(block) {
                        ends.push(self.emit(Instr::Jump { target: 0 }));
                    }
                }
                _ => {
                    other_start = Some(start);
                    self.label(start, format!("{split_name}.other"));
                    self.block(block);
                }
            }
        }
        let end = self.here();
        self.label(end, format!("{split_name}.done"));
        if let Instr::Split(sp) = &mut self.code[at] {
            sp.other = other_start.unwrap_or(end);
        }
        for j in ends {
            self.patch(j, end);
        }
    }

    fn body(&mut self, b: &'a Body) -> BodyInstr {
        match b {
            Body::Json(j) => BodyInstr::Json(self.json(j)),
            Body::Xml(t) => BodyInstr::Xml(self.tpl(t)),
            Body::Text(t) => BodyInstr::Text(self.tpl(t)),
            Body::Form(fields) => BodyInstr::Form(fields.iter().map(|(k, v)| (k.node.clone(), self.expr(v))).collect()),
        }
    }

    fn json(&mut self, j: &'a Json) -> JsonTpl {
        match j {
            Json::Object(members, _) => {
                JsonTpl::Object(members.iter().map(|(k, v)| (k.node.clone(), self.json(v))).collect())
            }
            Json::Array(items, _) => JsonTpl::Array(items.iter().map(|v| self.json(v)).collect()),
            Json::Expr(e) => JsonTpl::Value(self.expr(e)),
        }
    }

    fn tpl(&mut self, t: &'a Template) -> Tpl {
        Tpl(t
            .parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(s) => TplPart::Text(s.clone()),
                TemplatePart::Ref(r) => TplPart::Value(Ex::Ref(self.reference(r))),
                TemplatePart::Expr(e) => TplPart::Value(self.expr(e)),
            })
            .collect())
    }

    fn reference(&mut self, r: &Reference) -> Ref {
        let mut path: Vec<String> = r.path.iter().map(|s| s.node.clone()).collect();
        let slot = match r.root {
            Root::Flow if !path.is_empty() => Some(self.slot(&path.remove(0))),
            Root::Webhook if !path.is_empty() => Some(self.webhook_index(&path.remove(0))),
            _ => None,
        };
        Ref { root: r.root, slot, path }
    }

    fn expr(&mut self, e: &'a Expr) -> Ex {
        match &e.kind {
            ExprKind::Str(t) => match t.as_literal() {
                Some(s) => Ex::Lit(s.into()),
                None => Ex::Tpl(self.tpl(t)),
            },
            ExprKind::Number(n) => Ex::Lit(serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, |n| {
                // Whole numbers print as integers (`3`, not `3.0`).
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => serde_json::Value::from(f as i64),
                    _ => serde_json::Value::Number(n),
                }
            })),
            ExprKind::Bool(b) => Ex::Lit((*b).into()),
            ExprKind::Null | ExprKind::Env(_) | ExprKind::Error => Ex::Lit(serde_json::Value::Null),
            ExprKind::Ref(r) => Ex::Ref(self.reference(r)),
            ExprKind::Call { name, args } => match crate::function::Function::parse(&name.node) {
                Some(f) => Ex::Call(f, args.iter().map(|a| self.expr(a)).collect()),
                None => Ex::Lit(serde_json::Value::Null),
            },
            ExprKind::Field(base, key) => Ex::Field(Box::new(self.expr(base)), key.node.clone()),
            ExprKind::Index(base, idx) => Ex::Index(Box::new(self.expr(base)), Box::new(self.expr(idx))),
            ExprKind::Unary(op, inner) => Ex::Unary(*op, Box::new(self.expr(inner))),
            ExprKind::Binary(op, l, r) => Ex::Binary(*op, Box::new(self.expr(l)), Box::new(self.expr(r))),
            ExprKind::Group(inner) => self.expr(inner),
        }
    }
}
