//! Checks one flow: statements, references, types, definite assignment, respond rules, reachability
//! and unused results.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::cfg::{EXIT, Fact, Graph, NodeKind, describe_path};
use super::{is_broken, unknown_connector};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::function::Function;
use crate::net::Origin;
use crate::net::header_key;
use crate::span::{Span, Spanned};
use crate::split_test::{ArgKind, SplitTest};
use crate::types::{Lookup, Ty};

/// Contact fields (LANGUAGE.md §7).
pub(crate) const CONTACT_FIELDS: &[&str] = &["name", "phone", "email", "language", "fields"];
/// Metadata of a webhook call.
pub(crate) const WEBHOOK_META: &[&str] = &["status", "attempts", "elapsed_ms", "error"];

/// Longest wait and webhook timeouts.
const MAX_WAIT_MS: u64 = 365 * 86_400_000;
const MAX_WEBHOOK_TIMEOUT_MS: u64 = 300_000;
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// What to report when a fact is missing at a read.
struct Missing {
    code: Code,
    span: Span,
    message: String,
    /// Appended to the help line after the path.
    advice: String,
    defined_at: Option<Span>,
}

pub(crate) struct FlowChecker<'a> {
    src: &'a str,
    /// Line numbers for path descriptions.
    lines: &'a crate::span::LineIndex,
    file: &'a SourceFile,
    flow: &'a Flow,
    graph: Graph<'a>,
    triggers: &'a [&'a Trigger],
    diags: &'a mut Vec<Diagnostic>,
    /// The type of every expression and reference typed (not while inferring), when a model is wanted.
    types: Option<&'a mut Vec<(Span, Ty)>>,
    /// Type and first definition of each `@flow.NAME`.
    vars: HashMap<&'a str, (Ty, Span)>,
    /// Webhook names of this flow and their statements.
    webhooks: HashMap<&'a str, &'a Webhook>,
    /// Webhooks whose statement did not parse: reads of `@webhook.NAME` are not reported.
    broken_webhooks: HashSet<&'a str>,
    /// Names read as `@flow.NAME`.
    reads: HashSet<&'a str>,
    input_read: bool,
    /// When set, expression typing reports nothing (used while inferring `set` types).
    silent: bool,
}

impl<'a> FlowChecker<'a> {
    pub(crate) fn run(
        src: &'a str,
        lines: &'a crate::span::LineIndex,
        file: &'a SourceFile,
        flow: &'a Flow,
        triggers: &'a [&'a Trigger],
        diags: &'a mut Vec<Diagnostic>,
        types: Option<&'a mut Vec<(Span, Ty)>>,
    ) {
        let graph = Graph::build(&flow.body);
        let mut c = FlowChecker {
            src,
            lines,
            file,
            flow,
            graph,
            triggers,
            diags,
            types,
            vars: HashMap::default(),
            webhooks: HashMap::default(),
            broken_webhooks: HashSet::default(),
            reads: HashSet::default(),
            input_read: false,
            silent: false,
        };
        c.collect_names(&flow.body);
        c.silent = true;
        c.infer_set_types(&flow.body);
        c.silent = false;
        for (i, stmt) in flow.body.stmts.iter().enumerate() {
            if let StmtKind::Numbers { decimal } = &stmt.kind {
                if i != 0 {
                    c.report(
                        Diagnostic::new(
                            Code::NumbersDecimal,
                            stmt.span,
                            "`numbers decimal` must be the first statement of the flow",
                            "not first",
                        )
                        .with_help("move it to the top of the flow's body"),
                    );
                }
                if decimal.node != "," && decimal.node != "." {
                    c.report(
                        Diagnostic::new(
                            Code::NumbersDecimal,
                            decimal.span,
                            format!("\"{}\" is not a decimal separator", decimal.node),
                            "not `,` or `.`",
                        )
                        .with_help("write `numbers decimal \",\"` (or \".\", the default)"),
                    );
                }
            }
        }
        for node in 0..c.graph.nodes.len() {
            if let NodeKind::Stmt(stmt) = c.graph.nodes[node].kind {
                c.stmt(stmt, node);
            }
        }
        c.reachability(&flow.body, true);
        c.respond_rules();
        c.unused_results();
    }

    fn report(&mut self, d: Diagnostic) {
        if !self.silent {
            self.diags.push(d);
        }
    }

    // ------------------------------------------------------------ names and types of variables

    fn define(&mut self, name: &'a Name, ty: Ty) {
        let entry = self.vars.entry(name.node.as_str()).or_insert((ty.clone(), name.span));
        if entry.0 != ty {
            entry.0 = Ty::join(&entry.0, &ty);
        }
    }

    fn collect_names(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Wait { name, on_timeout, .. } => {
                    self.define(name, Ty::Text);
                    for b in on_timeout {
                        self.collect_names(b);
                    }
                }
                StmtKind::Webhook(w) => {
                    let ty = w.expect.as_ref().map_or(Ty::Json, Ty::from_shape);
                    self.define(&w.name, ty);
                    if let Some(first) = self.webhooks.get(w.name.node.as_str()) {
                        let first = first.name.span;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateName,
                                w.name.span,
                                format!("two webhooks are named `{}`", w.name.node),
                                "second webhook",
                            )
                            .with_label(first, "first webhook")
                            .with_help("give each call its own name so `@webhook.NAME` and `@flow.NAME` say which one"),
                        );
                    } else {
                        self.webhooks.insert(&w.name.node, w);
                    }
                    if let Some(b) = &w.on_failure {
                        self.collect_names(b);
                    }
                }
                StmtKind::Split(s) => {
                    if let Some(r) = &s.result {
                        self.define(r, Ty::SplitResult);
                    }
                    for case in &s.cases {
                        self.collect_names(&case.body);
                    }
                    if let Some(o) = &s.other {
                        self.collect_names(o);
                    }
                }
                StmtKind::Set { name, .. } => self.define(name, Ty::Json),
                StmtKind::Error { keyword, name: Some(name), .. } if keyword.as_deref() != Some("step") => {
                    self.define(name, Ty::Json);
                    if keyword.as_deref() == Some("webhook") {
                        self.broken_webhooks.insert(&name.node);
                    }
                }
                StmtKind::Step { name, body } => {
                    let first = self.graph.steps.get(name.node.as_str()).copied();
                    if let Some(first) = first
                        && let NodeKind::Stmt(s) = self.graph.nodes[first].kind
                        && !std::ptr::eq(s, stmt)
                    {
                        let first_span = match &s.kind {
                            StmtKind::Step { name, .. } => name.span,
                            _ => s.span,
                        };
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateName,
                                name.span,
                                format!("the step `{}` is defined twice", name.node),
                                "second step",
                            )
                            .with_label(first_span, "first step")
                            .with_help("step names are unique within a flow; `goto` needs to know which one"),
                        );
                    }
                    self.collect_names(body);
                }
                _ => {}
            }
        }
    }

    /// Types of `set` variables, in source order, from what is known so far.
    fn infer_set_types(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Set { name, value } => {
                    let ty = self.expr(value, usize::MAX);
                    if let Some(entry) = self.vars.get_mut(name.node.as_str()) {
                        entry.0 = if entry.0 == Ty::Json { ty } else { Ty::join(&entry.0, &ty) };
                    }
                }
                StmtKind::Wait { on_timeout, .. } => on_timeout.iter().for_each(|b| self.infer_set_types(b)),
                StmtKind::Webhook(w) => {
                    if let Some(b) = &w.on_failure {
                        self.infer_set_types(b);
                    }
                }
                StmtKind::Split(s) => {
                    s.cases.iter().for_each(|c| self.infer_set_types(&c.body));
                    if let Some(o) = &s.other {
                        self.infer_set_types(o);
                    }
                }
                StmtKind::Step { body, .. } => self.infer_set_types(body),
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ statements

    fn stmt(&mut self, stmt: &'a Stmt, node: usize) {
        match &stmt.kind {
            StmtKind::Numbers { .. } | StmtKind::Stop => {}
            StmtKind::Error { reads, .. } => self.reads.extend(reads.iter().map(|r| r.node.as_str())),
            StmtKind::Send { text } => self.template(text, node),
            StmtKind::Wait { timeout, on_timeout, name } => {
                if let Some(t) = timeout {
                    self.duration(t, 1000, MAX_WAIT_MS, "a wait timeout");
                }
                if !on_timeout.is_empty() && timeout.is_none() {
                    self.report(
                        Diagnostic::new(
                            Code::TimeoutBlock,
                            on_timeout[0].span,
                            "`on timeout` needs a `timeout`",
                            "never runs",
                        )
                        .with_label(name.span, "this wait has no timeout")
                        .with_help(format!("write `wait {} timeout 10m {{ on timeout {{ ... }} }}`", name.node)),
                    );
                }
                for extra in on_timeout.iter().skip(1) {
                    self.report(
                        Diagnostic::new(
                            Code::TimeoutBlock,
                            extra.span,
                            "a wait has at most one `on timeout`",
                            "second `on timeout`",
                        )
                        .with_label(on_timeout[0].span, "first one")
                        .with_help("merge the blocks into one"),
                    );
                }
            }
            StmtKind::Webhook(w) => self.webhook(w, node),
            StmtKind::Split(s) => self.split(s, node),
            StmtKind::Set { value, .. } => {
                self.expr(value, node);
            }
            StmtKind::Step { .. } => {}
            StmtKind::Goto { target } => {
                if !self.graph.steps.contains_key(target.node.as_str()) {
                    let help = match did_you_mean(&target.node, self.graph.steps.keys().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("define it with `step {} {{ ... }}`", target.node),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownStep,
                            target.span,
                            format!("there is no step `{}` in this flow", target.node),
                            "unknown step",
                        )
                        .with_help(help),
                    );
                }
            }
            StmtKind::Email { to, subject, body } => {
                self.template(to, node);
                self.template(subject, node);
                self.template(body, node);
            }
            StmtKind::Respond(r) => self.respond(r, stmt.span, node),
        }
    }

    fn duration(&mut self, d: &Spanned<Duration>, min: u64, max: u64, what: &str) {
        let fmt = |ms: u64| {
            if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
        };
        if d.node.millis < min || d.node.millis > max {
            self.report(
                Diagnostic::new(
                    Code::DurationRange,
                    d.span,
                    format!("{what} must be between {} and {}", fmt(min), fmt(max)),
                    "out of range",
                )
                .with_help(format!("choose a duration from {} to {}", fmt(min), fmt(max))),
            );
        }
    }

    fn webhook(&mut self, w: &'a Webhook, node: usize) {
        self.url(&w.url, node);
        for (_, v) in w.headers.iter().chain(&w.query) {
            self.expr(v, node);
        }
        if let Some(auth) = &w.auth
            && !self.file.connectors.iter().any(|c| c.name.node == auth.node)
            && !is_broken(self.file, "connector", &auth.node)
        {
            let d = unknown_connector(auth, self.file);
            self.report(d);
        }
        if let Some(body) = &w.body {
            self.body(&body.node, node);
        }
        if let Some(t) = &w.timeout {
            self.duration(t, 1, MAX_WEBHOOK_TIMEOUT_MS, "a webhook timeout");
        }
        if let Some(b) = &w.backoff {
            self.duration(b, 1, MAX_BACKOFF_MS, "a backoff");
        }
        if let Some(r) = &w.retries
            && (r.node.fract() != 0.0 || !(0.0..=4.0).contains(&r.node))
        {
            self.report(
                Diagnostic::new(
                    Code::RetriesRange,
                    r.span,
                    "`retries` must be a whole number from 0 to 4",
                    "out of range",
                )
                .with_help("a call is tried at most 5 times: the first attempt and up to 4 retries"),
            );
        }
        if w.on_failure.is_none() {
            self.report(
                Diagnostic::new(
                    Code::UnhandledFailure,
                    w.name.span,
                    format!("nothing handles a failure of `{}`", w.name.node),
                    "the run fails if this call fails",
                )
                .with_help("add `on failure { ... }` to tell the contact, alert someone, or try another way"),
            );
        }
    }

    fn url(&mut self, url: &'a Template, node: usize) {
        self.template(url, node);
        for part in &url.parts {
            if let TemplatePart::Text(t) = part
                && t.chars().any(char::is_whitespace)
            {
                self.report(
                    Diagnostic::new(Code::InvalidUrl, url.span, "a URL cannot contain spaces", "contains a space")
                        .with_help("write %20, or pass values with `query \"name\" = ...`, which encodes them"),
                );
                return;
            }
        }
        let first = match url.parts.first() {
            Some(TemplatePart::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let (scheme, authority) = match crate::net::origin(first, url.parts.len() == 1) {
            Origin::Literal { scheme, authority } => (scheme.to_ascii_lowercase(), authority),
            Origin::NoScheme => {
                let prefix = first.unwrap_or_default();
                self.report(
                    Diagnostic::new(Code::InvalidUrl, url.span, "a webhook URL starts with `https://`", "no scheme")
                        .with_help(format!("write \"https://{}\"", prefix.trim_start_matches('/'))),
                );
                return;
            }
            Origin::NotLiteral | Origin::HostFromValue { .. } => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidUrl,
                        url.span,
                        "the scheme, host and port of a URL must be written literally",
                        "the server would come from a value",
                    )
                    .with_help(
                        "write the host in the URL and put values in the path or query, e.g. \
                         \"https://api.example.com/contacts/@contact.fields.id\"; a value that picks the server \
                         would let a contact or an answer send the call anywhere",
                    ),
                );
                return;
            }
        };
        if authority.is_empty() {
            self.report(
                Diagnostic::new(Code::InvalidUrl, url.span, "the URL has no host", "no host")
                    .with_help("write the service's address, e.g. \"https://api.example.com/orders\""),
            );
            return;
        }
        match scheme.as_str() {
            "https" => {}
            "http" => {
                if !crate::net::is_loopback(crate::net::host(authority)) {
                    self.report(
                        Diagnostic::new(
                            Code::InsecureUrl,
                            url.span,
                            "plain `http://` is only allowed for loopback hosts",
                            "not encrypted",
                        )
                        .with_help(format!(
                            "use \"https://{}\"; http:// is accepted only for localhost, 127.0.0.1 and [::1]",
                            first.and_then(|t| t.split_once("://")).map_or("", |(_, rest)| rest)
                        )),
                    );
                }
            }
            other => self.report(
                Diagnostic::new(
                    Code::InvalidUrl,
                    url.span,
                    format!("`{other}://` URLs cannot be called"),
                    "unsupported scheme",
                )
                .with_help("webhooks call https:// URLs"),
            ),
        }
    }

    fn body(&mut self, body: &'a Body, node: usize) {
        match body {
            Body::Json(j) => self.json(j, node),
            Body::Xml(t) | Body::Text(t) => self.template(t, node),
            Body::Form(fields) => {
                for (_, v) in fields {
                    self.expr(v, node);
                }
            }
        }
    }

    fn json(&mut self, j: &'a Json, node: usize) {
        match j {
            Json::Object(members, _) => members.iter().for_each(|(_, v)| self.json(v, node)),
            Json::Array(items, _) => items.iter().for_each(|v| self.json(v, node)),
            Json::Expr(e) => {
                self.expr(e, node);
            }
        }
    }

    fn respond(&mut self, r: &'a Respond, span: Span, node: usize) {
        match &r.status {
            RespondStatus::Code(code) => {
                if ![200, 201, 202, 204].contains(&code.node) {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidStatus,
                            code.span,
                            format!("{} is not a status `respond` can use", code.node),
                            "invalid status",
                        )
                        .with_help("choose 200, 201, 202 or 204; for other codes write `respond status EXPR`"),
                    );
                } else if code.node == 204 && r.body.is_some() {
                    let body_span = r.body.as_ref().map_or(span, |b| b.span);
                    self.report(
                        Diagnostic::new(
                            Code::InvalidStatus,
                            code.span,
                            "204 No Content cannot have a body",
                            "no content",
                        )
                        .with_label(body_span, "but a body is given")
                        .with_help("answer 200 with the body, or drop the body"),
                    );
                }
            }
            RespondStatus::Dynamic(e) => {
                let ty = self.expr(e, node);
                if !ty.is_numeric() {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            e.span,
                            format!("a status is a number, not {ty}"),
                            "not a number",
                        )
                        .with_help("write a number from 200 to 599, or convert with `number(...)`"),
                    );
                }
            }
        }
        for (_, v) in &r.headers {
            self.expr(v, node);
        }
        if let Some(b) = &r.body {
            self.body(&b.node, node);
        }
        if self.triggers.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::RespondWithoutTrigger,
                    span,
                    format!("no trigger starts `{}`, so there is nobody to respond to", self.flow.name.node),
                    "no caller",
                )
                .with_help(format!(
                    "add `trigger webhook \"/{}\" methods POST {{ start {} }}`, or remove the respond",
                    self.flow.name.node, self.flow.name.node
                )),
            );
        }
    }

    fn split(&mut self, s: &'a Split, node: usize) {
        self.expr(&s.operand, node);
        for case in &s.cases {
            match &case.test.kind {
                TestKind::Compare { op, value } => {
                    let ty = self.expr(value, node);
                    if !matches!(op, BinaryOp::Eq | BinaryOp::Ne) && !ty.is_numeric() {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                value.span,
                                format!("`{}` compares numbers, but this is {ty}", op.as_str()),
                                "not a number",
                            )
                            .with_help("compare with a number, or convert with `number(...)`"),
                        );
                    }
                }
                TestKind::Named { name, args } => self.named_test(name, args, node),
            }
        }
    }

    fn named_test(&mut self, name: &Spanned<String>, args: &'a [Expr], node: usize) {
        let Some(test) = SplitTest::parse(&name.node) else {
            let help = match did_you_mean(&name.node, SplitTest::ALL.iter().map(|t| t.name())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "tests are has_text, has_any_word, has_all_words, has_phrase, has_only_phrase, has_beginning, has_pattern, has_email, has_phone, has_number and has_number_between/_lt/_lte/_gt/_gte/_eq".into(),
            };
            self.report(
                Diagnostic::new(
                    Code::UnknownTest,
                    name.span,
                    format!("there is no test `{}`", name.node),
                    "unknown test",
                )
                .with_help(help),
            );
            for a in args {
                self.expr(a, node);
            }
            return;
        };
        let kinds = test.args();
        let min = kinds.len() - test.optional();
        if args.len() < min || args.len() > kinds.len() {
            let want = if min == kinds.len() { format!("{min}") } else { format!("{min} or {}", kinds.len()) };
            let span = args.iter().fold(name.span, |s, a| s.to(a.span));
            let example = match test {
                SplitTest::HasNumberBetween => "has_number_between 1 10",
                SplitTest::HasPhone => "has_phone \"RW\"",
                SplitTest::HasPattern => "has_pattern \"^order (\\\\d+)\"",
                t if kinds.is_empty() => t.name(),
                t if kinds[0] == ArgKind::Number => match t {
                    SplitTest::HasNumberLt => "has_number_lt 10",
                    _ => "has_number_gt 10",
                },
                _ => "has_any_word \"yes y\"",
            };
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    span,
                    format!("`{}` takes {want} argument(s), not {}", test.name(), args.len()),
                    "wrong number of arguments",
                )
                .with_help(format!("for example: `{example}`")),
            );
        }
        for (arg, kind) in args.iter().zip(kinds) {
            let ty = self.expr(arg, node);
            match kind {
                ArgKind::Number if !ty.is_numeric() => self.report(
                    Diagnostic::new(
                        Code::TestArguments,
                        arg.span,
                        format!("`{}` expects a number here, not {ty}", test.name()),
                        "not a number",
                    )
                    .with_help("write a number such as `10` or `-2.5`"),
                ),
                ArgKind::Text if !matches!(ty, Ty::Text | Ty::Json | Ty::SplitResult) => self.report(
                    Diagnostic::new(
                        Code::TestArguments,
                        arg.span,
                        format!("`{}` expects text here, not {ty}", test.name()),
                        "not text",
                    )
                    .with_help("write the words in double quotes, e.g. \"yes y\""),
                ),
                ArgKind::Regex => self.regex(arg),
                _ => {}
            }
        }
        if test == SplitTest::HasNumberBetween
            && let [Expr { kind: ExprKind::Number(lo), .. }, Expr { kind: ExprKind::Number(hi), .. }] = args
            && lo > hi
        {
            let span = args[0].span.to(args[1].span);
            self.report(
                Diagnostic::new(
                    Code::EmptyRange,
                    span,
                    format!("{lo} is greater than {hi}, so nothing matches"),
                    "empty range",
                )
                .with_help(format!("write the smaller bound first: `has_number_between {hi} {lo}`")),
            );
        }
        if test == SplitTest::HasPhone
            && let Some(Expr { kind: ExprKind::Str(t), span }) = args.first()
            && let Some(cc) = t.as_literal()
            && (cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()))
        {
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    *span,
                    format!("\"{cc}\" is not a country code"),
                    "not an ISO 3166 code",
                )
                .with_help("write the two-letter country code in capitals, e.g. \"RW\" or \"US\""),
            );
        }
    }

    fn regex(&mut self, arg: &Expr) {
        let ExprKind::Str(t) = &arg.kind else {
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    arg.span,
                    "`has_pattern` takes a regular expression in double quotes",
                    "not a string",
                )
                .with_help("write the pattern literally, e.g. `has_pattern \"^order (\\\\d+)\"`"),
            );
            return;
        };
        let pattern = t.as_literal().unwrap_or_default();
        if let Err(e) =
            regex::RegexBuilder::new(&pattern).case_insensitive(true).multi_line(true).size_limit(1 << 20).build()
        {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            self.report(
                Diagnostic::new(
                    Code::InvalidRegex,
                    arg.span,
                    format!("invalid regular expression: {last}"),
                    "does not compile",
                )
                .with_help("backslashes are doubled inside strings: write \"\\\\d+\" for the regex \\d+"),
            );
        }
    }

    // ------------------------------------------------------------ expressions and references

    fn template(&mut self, t: &'a Template, node: usize) {
        for part in &t.parts {
            match part {
                TemplatePart::Text(_) => {}
                TemplatePart::Ref(r) => {
                    let ty = self.reference(r, node);
                    if let Some(types) = self.types.as_mut().filter(|_| !self.silent) {
                        types.push((r.span, ty));
                    }
                }
                TemplatePart::Expr(e) => {
                    self.expr(e, node);
                }
            }
        }
    }

    /// The type of an expression, reporting what is wrong in it. `node` is the graph node whose
    /// entry state decides definite assignment (`usize::MAX`: none, while inferring types).
    fn expr(&mut self, e: &'a Expr, node: usize) -> Ty {
        let ty = self.expr_type(e, node);
        if let Some(types) = self.types.as_mut().filter(|_| !self.silent) {
            types.push((e.span, ty.clone()));
        }
        ty
    }

    fn expr_type(&mut self, e: &'a Expr, node: usize) -> Ty {
        match &e.kind {
            ExprKind::Str(t) => {
                self.template(t, node);
                Ty::Text
            }
            ExprKind::Number(_) => Ty::Number,
            ExprKind::Bool(_) => Ty::Bool,
            // Already reported; of unknown type so that nothing follows from it.
            ExprKind::Error => Ty::Json,
            ExprKind::Null => Ty::Null,
            ExprKind::Ref(r) => self.reference(r, node),
            ExprKind::Env(name) => {
                self.report(
                    Diagnostic::new(
                        Code::EnvOutsideConnector,
                        e.span,
                        format!("`env \"{}\"` can only be used in a connector or `auth signature`", name.node),
                        "secret in a flow",
                    )
                    .with_help(format!(
                        "define a connector, e.g. `connector api bearer env \"{}\"`, and use `auth api` on the webhook",
                        name.node
                    )),
                );
                Ty::Text
            }
            ExprKind::Call { name, args } => {
                let tys: Vec<Ty> = args.iter().map(|a| self.expr(a, node)).collect();
                let Some(f) = Function::parse(&name.node) else {
                    let help = match did_you_mean(&name.node, Function::ALL.iter().map(|f| f.name())) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "functions are {}",
                            Function::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownFunction,
                            name.span,
                            format!("there is no function `{}`", name.node),
                            "unknown function",
                        )
                        .with_help(help),
                    );
                    return Ty::Json;
                };
                let (min, max) = f.arity();
                if tys.len() < min || tys.len() > max {
                    let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                    self.report(
                        Diagnostic::new(
                            Code::FunctionArguments,
                            e.span,
                            format!("`{}` takes {want} argument(s), not {}", f.name(), tys.len()),
                            "wrong number of arguments",
                        )
                        .with_help(f.doc()),
                    );
                }
                for &i in f.number_params() {
                    if let (Some(ty), Some(arg)) = (tys.get(i), args.get(i))
                        && !ty.is_numeric()
                    {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                arg.span,
                                format!("`{}` needs a number here, not {ty}", f.name()),
                                "not a number",
                            )
                            .with_help("convert text with `number(...)`"),
                        );
                    }
                }
                f.result(&tys)
            }
            ExprKind::Field(base, key) => {
                let ty = self.expr(base, node);
                self.lookup(&ty, key, base.span)
            }
            ExprKind::Index(base, index) => {
                let ty = self.expr(base, node);
                let ity = self.expr(index, node);
                match ty {
                    Ty::List(inner) => {
                        if !ity.is_numeric() {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    index.span,
                                    format!("a list is indexed by a number, not {ity}"),
                                    "not a number",
                                )
                                .with_help("write e.g. `[0]` for the first item"),
                            );
                        }
                        *inner
                    }
                    Ty::Object(_) => match &index.kind {
                        ExprKind::Str(t) if t.as_literal().is_some() => {
                            let key = Spanned::new(t.as_literal().unwrap_or_default(), index.span);
                            self.lookup(&ty, &key, base.span)
                        }
                        _ => Ty::Json,
                    },
                    Ty::Json | Ty::Null => Ty::Json,
                    other => {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                e.span,
                                format!("{other} cannot be indexed"),
                                "not a list or object",
                            )
                            .with_help("only lists and objects have items"),
                        );
                        Ty::Json
                    }
                }
            }
            ExprKind::Unary(op, inner) => {
                let ty = self.expr(inner, node);
                match op {
                    UnaryOp::Neg => {
                        if !ty.is_numeric() {
                            self.mismatch(inner.span, "`-` negates numbers", &ty, "convert with `number(...)`");
                        }
                        Ty::Number
                    }
                    UnaryOp::Not => {
                        if !ty.is_boolean() {
                            self.mismatch(
                                inner.span,
                                "`!` negates true/false",
                                &ty,
                                "compare first, e.g. `!(@flow.x == \"\")`",
                            );
                        }
                        Ty::Bool
                    }
                }
            }
            ExprKind::Binary(op, l, r) => {
                let lt = self.expr(l, node);
                let rt = self.expr(r, node);
                use BinaryOp::*;
                match op {
                    Or | And => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_boolean() {
                                self.mismatch(
                                    side.span,
                                    &format!("`{}` combines true/false values", op.as_str()),
                                    ty,
                                    "compare first, e.g. `@flow.x == \"yes\"`",
                                );
                            }
                        }
                        Ty::Bool
                    }
                    Eq | Ne => Ty::Bool,
                    Lt | Le | Gt | Ge => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_numeric() {
                                self.mismatch(
                                    side.span,
                                    &format!("`{}` compares numbers", op.as_str()),
                                    ty,
                                    "convert text with `number(...)`",
                                );
                            }
                        }
                        Ty::Bool
                    }
                    Concat => Ty::Text,
                    Add | Sub | Mul | Div => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_numeric() {
                                let help = if matches!(op, Add) && matches!(ty, Ty::Text | Ty::SplitResult) {
                                    "join texts with `&`; convert text to a number with `number(...)`"
                                } else {
                                    "convert text with `number(...)`"
                                };
                                self.mismatch(side.span, &format!("`{}` works on numbers", op.as_str()), ty, help);
                            }
                        }
                        Ty::Number
                    }
                }
            }
            ExprKind::Group(inner) => self.expr(inner, node),
        }
    }

    fn mismatch(&mut self, span: Span, what: &str, ty: &Ty, help: &str) {
        self.report(
            Diagnostic::new(Code::TypeMismatch, span, format!("{what}, but this is {ty}"), format!("this is {ty}"))
                .with_help(help.to_string()),
        );
    }

    fn lookup(&mut self, ty: &Ty, key: &Spanned<String>, base: Span) -> Ty {
        match ty.field(&key.node) {
            Lookup::Found(t) => t,
            Lookup::NoSuchKey(keys) => {
                let help = match did_you_mean(&key.node, keys.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`? Declared keys: {}", keys.join(", ")),
                    None if keys.is_empty() => "the declared shape has no keys".to_string(),
                    None => format!(
                        "declared keys: {}; add `{}` to the shape if the data has it",
                        keys.join(", "),
                        key.node
                    ),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownKey,
                        key.span,
                        format!("`{}` is not a key of the declared shape", key.node),
                        "not declared",
                    )
                    .with_help(help),
                );
                Ty::Json
            }
            Lookup::NotAnObject => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        key.span.to(base),
                        format!("{ty} has no key `{}`", key.node),
                        format!("this is {ty}"),
                    )
                    .with_help("only objects have keys"),
                );
                Ty::Json
            }
        }
    }

    /// Reports when `fact` does not hold on every path to `node`.
    fn require(&mut self, node: usize, fact: Fact, missing: Missing) -> bool {
        if node == usize::MAX || self.graph.must_have(node, &fact) {
            return true;
        }
        let path = self.graph.path_without(self.src, self.lines, node, &fact);
        let mut d = Diagnostic::new(missing.code, missing.span, missing.message, "not defined on every path to here")
            .with_help(format!("it is missing on this path: {}. {}", describe_path(&path), missing.advice));
        if let Some(at) = missing.defined_at {
            d = d.with_label(at, "defined here");
        }
        self.report(d);
        false
    }

    fn reference(&mut self, r: &'a Reference, node: usize) -> Ty {
        let mut rest: &[Spanned<String>] = &r.path;
        let ty = match r.root {
            Root::Flow => {
                let Some((name, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                if !self.silent {
                    self.reads.insert(&name.node);
                }
                let Some((ty, def)) = self.vars.get(name.node.as_str()).cloned() else {
                    let help = match did_you_mean(&name.node, self.vars.keys().copied()) {
                        Some(s) => format!("did you mean `@flow.{s}`?"),
                        None => format!(
                            "save it first with `wait {0}`, `set {0} = ...`, `split {0} = ...` or `webhook {0} ...`",
                            name.node
                        ),
                    };
                    if node != usize::MAX {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownVariable,
                                r.span,
                                format!("nothing in this flow saves `@flow.{}`", name.node),
                                "unknown variable",
                            )
                            .with_help(help),
                        );
                    }
                    return Ty::Json;
                };
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: format!("`@flow.{}` may not be defined here", name.node),
                    advice: format!("Define it on that path, or use `default(@flow.{}, \"\")`.", name.node),
                    defined_at: Some(def),
                };
                self.require(node, Fact::FlowVar(name.node.clone()), missing);
                ty
            }
            Root::Input => {
                self.input_read = true;
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: "`@input` may be read before any reply".into(),
                    advice: "`@input` is the last reply to a `wait`.".into(),
                    defined_at: None,
                };
                self.require(node, Fact::Input, missing);
                Ty::Text
            }
            Root::Extra => {
                if node != usize::MAX && self.graph.fact(&Fact::Extra).is_none() {
                    self.report(
                        Diagnostic::new(
                            Code::ExtraBeforeWebhook,
                            r.span,
                            "`@extra` is read, but this flow calls no webhook",
                            "nothing fills @extra",
                        )
                        .with_help("`@extra` holds the JSON answer of the last successful webhook"),
                    );
                    return Ty::Json;
                }
                let missing = Missing {
                    code: Code::ExtraBeforeWebhook,
                    span: r.span,
                    message: "`@extra` may be read before any webhook succeeded".into(),
                    advice: "`@extra` is filled by a webhook that succeeds.".into(),
                    defined_at: None,
                };
                self.require(node, Fact::Extra, missing);
                self.extra_type(node)
            }
            Root::Contact => {
                let Some((field, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                if !CONTACT_FIELDS.contains(&field.node.as_str()) {
                    let help = match did_you_mean(&field.node, CONTACT_FIELDS.iter().copied()) {
                        Some(s) => format!("did you mean `@contact.{s}`?"),
                        None => format!(
                            "contacts have {}; custom fields are `@contact.fields.NAME`",
                            CONTACT_FIELDS.join(", ")
                        ),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownVariable,
                            field.span,
                            format!("contacts have no `{}`", field.node),
                            "unknown contact field",
                        )
                        .with_help(help),
                    );
                    return Ty::Json;
                }
                if field.node == "fields" {
                    return match tail {
                        [] => Ty::Json,
                        [_] => Ty::Text,
                        [_, more, ..] => self.lookup(&Ty::Text, more, r.span),
                    };
                }
                Ty::Text
            }
            Root::Trigger => {
                if self.triggers.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::NoTrigger,
                            r.span,
                            format!("no trigger starts `{}`, so `@trigger` is empty", self.flow.name.node),
                            "no trigger",
                        )
                        .with_help(format!(
                            "add `trigger webhook \"/{0}\" methods POST {{ start {0} }}`",
                            self.flow.name.node
                        )),
                    );
                    return Ty::Json;
                }
                let Some((part, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                match part.node.as_str() {
                    "headers" => self.trigger_headers(),
                    "query" => self.trigger_query(),
                    "body" => self.trigger_body(),
                    other => {
                        let help = match did_you_mean(other, ["headers", "query", "body"]) {
                            Some(s) => format!("did you mean `@trigger.{s}`?"),
                            None => "a trigger has `headers`, `query` and `body`".into(),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::UnknownVariable,
                                part.span,
                                format!("a trigger has no `{other}`"),
                                "unknown",
                            )
                            .with_help(help),
                        );
                        return Ty::Json;
                    }
                }
            }
            Root::Webhook => {
                let Some((name, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                if self.broken_webhooks.contains(name.node.as_str()) {
                    return Ty::Json;
                }
                if !self.webhooks.contains_key(name.node.as_str()) {
                    let help = match did_you_mean(&name.node, self.webhooks.keys().copied()) {
                        Some(s) => format!("did you mean `@webhook.{s}`?"),
                        None => "`@webhook.NAME` describes a `webhook NAME ...` call of this flow".into(),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownVariable,
                            name.span,
                            format!("this flow has no webhook `{}`", name.node),
                            "unknown webhook",
                        )
                        .with_help(help),
                    );
                    return Ty::Json;
                }
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: format!("`@webhook.{}` may be read before the call", name.node),
                    advice: "It describes the call once it has been made.".into(),
                    defined_at: None,
                };
                self.require(node, Fact::WebhookMeta(name.node.clone()), missing);
                let Some((meta, tail)) = tail.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                match meta.node.as_str() {
                    "status" | "attempts" | "elapsed_ms" => Ty::Number,
                    "error" => Ty::Text,
                    other => {
                        let help = match did_you_mean(other, WEBHOOK_META.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("a call has {}", WEBHOOK_META.join(", ")),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::UnknownKey,
                                meta.span,
                                format!("a webhook call has no `{other}`"),
                                "unknown",
                            )
                            .with_help(help),
                        );
                        return Ty::Json;
                    }
                }
            }
        };
        let mut ty = ty;
        for seg in rest {
            ty = self.lookup(&ty, seg, r.span);
        }
        ty
    }

    /// The type of `@extra` at `node`: the answers of every webhook that may have succeeded, merged.
    fn extra_type(&self, node: usize) -> Ty {
        if node == usize::MAX {
            return Ty::Json;
        }
        let mut ty: Option<Ty> = None;
        for (i, stmt) in self.graph.webhooks.iter().enumerate() {
            if !self.graph.may_have(node, &Fact::WebhookSucceeded(i)) {
                continue;
            }
            let StmtKind::Webhook(w) = &stmt.kind else {
                continue;
            };
            let Some(shape) = &w.expect else {
                return Ty::Json;
            };
            let t = Ty::from_shape(shape);
            if !matches!(t, Ty::Object(_)) {
                return Ty::Json;
            }
            ty = Some(match ty {
                None => t,
                Some(prev) => Ty::join(&prev, &t),
            });
        }
        ty.unwrap_or(Ty::Json)
    }

    fn trigger_shape(&self, pick: impl Fn(&'a Trigger) -> Option<Ty>) -> Ty {
        match self.triggers {
            [one] => pick(one).unwrap_or(Ty::Json),
            _ => Ty::Json,
        }
    }

    fn trigger_headers(&self) -> Ty {
        self.trigger_shape(|t| {
            let fields: Vec<crate::types::Field> = t
                .expects
                .iter()
                .filter_map(|e| match e {
                    Expect::Header(name, shape) => Some(crate::types::Field {
                        key: header_key(&name.node),
                        optional: true,
                        ty: Ty::from_shape(shape),
                    }),
                    _ => None,
                })
                .collect();
            (!fields.is_empty()).then(|| Ty::Object(std::sync::Arc::new(fields)))
        })
    }

    fn trigger_query(&self) -> Ty {
        self.trigger_shape(|t| {
            let fields: Vec<crate::types::Field> = t
                .expects
                .iter()
                .filter_map(|e| match e {
                    Expect::Query(name, shape) => {
                        Some(crate::types::Field { key: name.node.clone(), optional: true, ty: Ty::from_shape(shape) })
                    }
                    _ => None,
                })
                .collect();
            (!fields.is_empty()).then(|| Ty::Object(std::sync::Arc::new(fields)))
        })
    }

    fn trigger_body(&self) -> Ty {
        self.trigger_shape(|t| {
            t.expects.iter().find_map(|e| match e {
                Expect::Body(shape) => Some(Ty::from_shape(shape)),
                _ => None,
            })
        })
    }

    // ------------------------------------------------------------ whole-flow rules

    /// Warns once per run of statements that no path reaches.
    fn reachability(&mut self, block: &'a Block, parent_reachable: bool) {
        let mut prev_reachable = parent_reachable;
        for (i, stmt) in block.stmts.iter().enumerate() {
            let reachable = self.graph.node_of.get(&(stmt as *const Stmt)).is_some_and(|&n| self.graph.reachable(n));
            if !reachable && prev_reachable {
                let last = block.stmts.last().map_or(stmt.span, |s| s.span);
                let why = if i == 0 {
                    "nothing leads into this block"
                } else {
                    "the statement before always ends the run or jumps away"
                };
                self.report(
                    Diagnostic::new(
                        Code::Unreachable,
                        stmt.span.to(last),
                        "unreachable statement",
                        "no path reaches this",
                    )
                    .with_help(format!("{why}; remove this code or make it a `step` that a `goto` reaches")),
                );
            }
            if reachable {
                self.nested_reachability(stmt);
            }
            prev_reachable = reachable;
        }
    }

    fn nested_reachability(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Wait { on_timeout, timeout: Some(_), .. } => {
                on_timeout.iter().take(1).for_each(|b| self.reachability(b, true))
            }
            StmtKind::Webhook(w) => {
                if let Some(b) = &w.on_failure {
                    self.reachability(b, true);
                }
            }
            StmtKind::Split(s) => {
                s.cases.iter().for_each(|c| self.reachability(&c.body, true));
                if let Some(o) = &s.other {
                    self.reachability(o, true);
                }
            }
            StmtKind::Step { body, .. } => self.reachability(body, true),
            _ => {}
        }
    }

    fn respond_rules(&mut self) {
        let responds: Vec<usize> = (0..self.graph.nodes.len())
            .filter(|&n| matches!(self.graph.nodes[n].kind, NodeKind::Stmt(Stmt { kind: StmtKind::Respond(_), .. })))
            .collect();
        for &n in &responds {
            if self.graph.reachable(n) && self.graph.may_have(n, &Fact::Responded) {
                let span = self.node_span(n);
                // The respond that comes before this one on a path: the nearest that reaches it.
                let earlier = responds
                    .iter()
                    .copied()
                    .filter(|&m| m != n && self.graph.reachable(m))
                    .filter_map(|m| self.graph.distance(m, n).map(|d| (d, m)))
                    .min()
                    .map(|(_, m)| m);
                let mut d = Diagnostic::new(
                    Code::DoubleRespond,
                    span,
                    "this run may already have responded",
                    "second respond on some path",
                )
                .with_help("a caller gets one answer: make sure only one `respond` runs on each path");
                match earlier {
                    Some(m) => d = d.with_label(self.node_span(m), "responded here first"),
                    None => {
                        d = d.with_help(
                            "a caller gets one answer, but a loop (`goto`) comes back to this `respond`: \
                             respond before the loop, or leave the loop after responding",
                        )
                    }
                }
                self.report(d);
            }
        }
        if responds.is_empty() || self.triggers.is_empty() {
            return;
        }
        let first_respond = self.node_span(responds[0]);
        for n in 0..self.graph.nodes.len() {
            if !self.graph.reachable(n) || self.graph.must_have(n, &Fact::Responded) {
                continue;
            }
            let (is_end, is_wait) = match &self.graph.nodes[n].kind {
                NodeKind::Exit => (true, false),
                NodeKind::Stmt(Stmt { kind: StmtKind::Stop, .. }) => (true, false),
                NodeKind::Stmt(Stmt { kind: StmtKind::Wait { .. }, .. }) => (false, true),
                _ => (false, false),
            };
            if !is_end && !is_wait {
                continue;
            }
            let path = describe_path(&self.graph.path_without(self.src, self.lines, n, &Fact::Responded));
            let span = if n == EXIT {
                Span::new(self.flow.body.span.end - 1, self.flow.body.span.end)
            } else {
                self.node_span(n)
            };
            let d = if is_end {
                Diagnostic::new(
                    Code::MissingRespond,
                    span,
                    "the run can end here without answering its caller",
                    "ends without `respond`",
                )
                .with_label(first_respond, "another path responds")
                .with_help(format!("the path: {path}. Add a `respond` on it (e.g. `respond status 500`)"))
            } else {
                Diagnostic::new(
                    Code::WaitBeforeRespond,
                    span,
                    "the caller is still waiting for its answer at this `wait`",
                    "waits before responding",
                )
                .with_label(first_respond, "the answer is sent here")
                .with_help(format!("the path: {path}. `respond` first (e.g. `respond 202`), then wait for the contact"))
            };
            self.report(d);
        }
    }

    fn node_span(&self, n: usize) -> Span {
        match self.graph.nodes[n].kind {
            NodeKind::Stmt(s) => s.span,
            _ => self.flow.name.span,
        }
    }

    fn unused_results(&mut self) {
        if self.sends_all_results(&self.flow.body) {
            return;
        }
        let mut defs: Vec<(&'a Name, &'static str)> = Vec::new();
        collect_results(&self.flow.body, &mut defs);
        let mut warned: HashSet<&str> = HashSet::default();
        for (name, kind) in defs {
            if self.reads.contains(name.node.as_str())
                || (kind == "wait" && self.input_read)
                || !warned.insert(&name.node)
            {
                continue;
            }
            self.report(
                Diagnostic::new(Code::UnusedResult, name.span, format!("`@flow.{}` is saved but never read", name.node), "never read")
                    .with_help(match kind {
                        "wait" => "read the reply with `@flow.NAME`, or split on it; a `wait` whose answer is ignored can drop its name only if nothing else needs it",
                        _ => "use the value, or remove the statement",
                    }),
            );
        }
    }

    /// A POST/PUT/PATCH without `body` sends every result, so every result counts as read.
    fn sends_all_results(&self, block: &'a Block) -> bool {
        block.stmts.iter().any(|s| match &s.kind {
            StmtKind::Webhook(w) => {
                (w.body.is_none() && w.method.node.has_body())
                    || w.on_failure.as_ref().is_some_and(|b| self.sends_all_results(b))
            }
            StmtKind::Wait { on_timeout, .. } => on_timeout.iter().any(|b| self.sends_all_results(b)),
            StmtKind::Split(sp) => {
                sp.cases.iter().any(|c| self.sends_all_results(&c.body))
                    || sp.other.as_ref().is_some_and(|o| self.sends_all_results(o))
            }
            StmtKind::Step { body, .. } => self.sends_all_results(body),
            _ => false,
        })
    }
}

fn collect_results<'a>(block: &'a Block, out: &mut Vec<(&'a Name, &'static str)>) {
    for s in &block.stmts {
        match &s.kind {
            StmtKind::Wait { name, on_timeout, .. } => {
                out.push((name, "wait"));
                on_timeout.iter().for_each(|b| collect_results(b, out));
            }
            StmtKind::Set { name, .. } => out.push((name, "set")),
            StmtKind::Split(sp) => {
                if let Some(r) = &sp.result {
                    out.push((r, "split"));
                }
                sp.cases.iter().for_each(|c| collect_results(&c.body, out));
                if let Some(o) = &sp.other {
                    collect_results(o, out);
                }
            }
            StmtKind::Webhook(w) => {
                if let Some(b) = &w.on_failure {
                    collect_results(b, out);
                }
            }
            StmtKind::Step { body, .. } => collect_results(body, out),
            _ => {}
        }
    }
}
