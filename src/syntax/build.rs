//! Turns pest pairs into the owned AST at once, reporting what the grammar accepts leniently (units,
//! methods, escapes, reserved names, shape types, nesting) with precise diagnostics.

use pest::iterators::{Pair, Pairs};

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{Span, Spanned};

/// Nesting deeper than this (blocks, parentheses, literals, `@(`) is an error (docs/language.md §2).
pub(crate) const MAX_DEPTH: usize = 100;
/// Operators, prefixes and postfixes allowed in one expression, so every later tree walk stays shallow.
pub(crate) const MAX_EXPR_NODES: usize = 1000;

pub(crate) struct Builder {
    offset: usize,
    depth: usize,
    too_deep_reported: bool,
    expr_nodes: usize,
    expr_nesting: usize,
    pub(crate) diags: Vec<Diagnostic>,
    /// Spans of the string literals built (for telling comments from strings).
    pub(crate) strings: Vec<Span>,
    /// The `{` of the innermost block that ended without its `}`, and where it ended (the end of the
    /// item): the item is broken.
    pub(crate) unclosed: Option<(usize, usize)>,
}

/// The `@flow.NAME`s written in `text` (which starts at `base`), for a statement kept as an error.
fn flow_reads(text: &str, base: usize) -> Vec<Name> {
    let mut reads = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("@flow.") {
        let start = from + i + "@flow.".len();
        let len = text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - start);
        if len > 0 {
            let at = base + start;
            reads.push(Spanned::new(text[start..start + len].to_string(), Span::new(at, at + len)));
        }
        from = start;
    }
    reads
}

fn is_keyword(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        kw_flow
            | kw_connector
            | kw_trigger
            | kw_webhook
            | kw_methods
            | kw_auth
            | kw_signature
            | kw_expect
            | kw_start
            | kw_basic
            | kw_bearer
            | kw_api_key
            | kw_header
            | kw_query
            | kw_body
            | kw_env
            | kw_numbers
            | kw_dates
            | kw_decimal
            | kw_send
            | kw_wait
            | kw_timeout
            | kw_on
            | kw_failure
            | kw_split
            | kw_case
            | kw_other
            | kw_as
            | kw_set
            | kw_step
            | kw_goto
            | kw_email
            | kw_subject
            | kw_respond
            | kw_status
            | kw_stop
            | kw_retries
            | kw_backoff
            | kw_json
            | kw_xml
            | kw_text
            | kw_form
            | kw_channel
            | kw_external
            | kw_receive
            | kw_keyword
            | kw_for
            | kw_via
            | kw_telegram
            | kw_twilio
            | kw_token
            | kw_secret
            | kw_account
            | kw_from
    )
}

/// The children of a pair without keyword tokens.
fn inner(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

impl Builder {
    pub(crate) fn new(offset: usize) -> Self {
        Builder {
            offset,
            depth: 0,
            too_deep_reported: false,
            expr_nodes: 0,
            expr_nesting: 0,
            diags: Vec::new(),
            strings: Vec::new(),
            unclosed: None,
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(s.start() + self.offset, s.end() + self.offset)
    }

    /// Adds exact fixes to the diagnostic reported last.
    fn fix(&mut self, span: Span, replacements: &[String]) {
        if let Some(d) = self.diags.last_mut() {
            let fixes = replacements.iter().map(|r| crate::diagnostic::Fix { span, replacement: r.clone() });
            d.fixes.extend(fixes);
        }
    }

    fn error(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(code, span, message, label);
        d.help = help;
        self.diags.push(d);
    }

    /// Enters one level of nesting; false (after reporting once) when the limit is passed.
    fn enter(&mut self, span: Span) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                self.error(
                    Code::TooDeep,
                    span,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                    "this is one level too deep",
                    Some("split the logic into steps, or flatten the expression with `set`".into()),
                );
            }
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(crate) fn chunk(&mut self, pair: Pair<'_, Rule>, file: &mut SourceFile) {
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::flow_def => {
                    let flow = self.flow(item);
                    file.flows.push(flow);
                }
                Rule::connector_def => {
                    let c = self.connector(item);
                    file.connectors.push(c);
                }
                Rule::trigger_def => {
                    let t = self.trigger(item);
                    file.triggers.push(t);
                }
                Rule::message_trigger_def => {
                    let t = self.message_trigger(item);
                    file.message_triggers.push(t);
                }
                Rule::channel_def => {
                    let c = self.channel(item);
                    file.channels.push(c);
                }
                _ => {}
            }
        }
    }

    fn name(&mut self, pair: Pair<'_, Rule>) -> Name {
        let span = self.span(&pair);
        let text = pair.as_str().to_string();
        if super::keywords::is_reserved(&text) {
            self.error(
                Code::ReservedName,
                span,
                format!("`{text}` is a keyword and cannot be used as a name"),
                "reserved word",
                Some(format!("choose another name, such as `{text}_1` or `my_{text}`")),
            );
        }
        Spanned::new(text, span)
    }

    fn flow(&mut self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let name = self.name(it.next().expect("grammar: flow name"));
        let mut label = None;
        let mut body = Block { stmts: Vec::new(), span };
        for p in it {
            match p.as_rule() {
                Rule::plain_string => label = Some(self.plain_string(p)),
                Rule::block => body = self.block(p),
                _ => {}
            }
        }
        Flow { name, label, body, span }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        if !self.enter(span) {
            self.leave();
            return Block { stmts: Vec::new(), span };
        }
        let open = span.start;
        let mut stmts = Vec::new();
        let mut pairs = pair.into_inner().peekable();
        while let Some(p) = pairs.next() {
            match p.as_rule() {
                Rule::unclosed => self.left_open(open, &p),
                Rule::bad => stmts.push(self.bad_stmt(p.as_str(), p.as_span().start())),
                _ => {
                    let start = p.as_span().start();
                    if let Some(t) = pairs.next_if(|t| t.as_rule() == Rule::trailing) {
                        if !p.as_str().contains('{') {
                            // A one-line statement with more after it is the error it was before
                            // `trailing` existed: the whole line, parsed alone for its message.
                            stmts.push(self.bad_stmt(&t.get_input()[start..t.as_span().end()], start));
                            continue;
                        }
                        self.trailing(&t, start, Rule::stmt_alone);
                    }
                    stmts.push(self.stmt(p));
                }
            }
        }
        self.leave();
        Block { stmts, span }
    }

    /// The elements of a block (statements, clauses, options, trigger or channel lines) and its `bad`
    /// nodes, in order. What stood after an element on its line (`trailing`) is reported here and left
    /// out.
    fn items<'i>(&mut self, block: Pair<'i, Rule>, alone: Rule) -> Vec<Pair<'i, Rule>> {
        let open = self.offset + block.as_span().start();
        let mut out: Vec<Pair<'i, Rule>> = Vec::new();
        for p in block.into_inner() {
            match p.as_rule() {
                Rule::trailing => {}
                Rule::unclosed => {
                    self.left_open(open, &p);
                    continue;
                }
                _ => {
                    out.push(p);
                    continue;
                }
            }
            let prev = out.last().map(|e| e.as_span().start()).unwrap_or(p.as_span().start());
            self.trailing(&p, prev, alone);
        }
        out
    }

    /// Records that the block whose `{` is at `open` (in the file) ended, at `end` (an `unclosed`
    /// token), without its `}`. Outer blocks come first: the last one recorded is the innermost.
    fn left_open(&mut self, open: usize, end: &Pair<'_, Rule>) {
        self.unclosed = Some((open, self.offset + end.as_span().start()));
    }

    /// Reports `pair`, what follows on its line an element that starts at `prev` (in the chunk).
    fn trailing(&mut self, pair: &Pair<'_, Rule>, prev: usize, alone: Rule) {
        let input = pair.get_input();
        let end = pair.as_span().end();
        let element = &input[prev..pair.as_span().start()];
        if !element.contains('{') {
            // A one-line element: parsed again with what follows it, pest tells best what was expected
            // there (`set x = 1 +` lacks a value). Elements with blocks are not parsed again (their
            // blocks could hold more of the same, and nesting would make it quadratic).
            self.diags.push(super::error::explain_bad(&input[prev..end], self.offset + prev, alone));
            return;
        }
        let span = self.span(pair);
        let word: String = pair.as_str().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let found = if word.is_empty() {
            pair.as_str().chars().next().map_or(String::new(), |c| c.to_string())
        } else {
            word.clone()
        };
        let (what, help) = match alone {
            Rule::clause_alone if word == "case" || word == "other" => (
                "the end of the clause",
                format!("each clause ends at the end of its line: put `{word}` on a new line, or write `;` before it"),
            ),
            Rule::clause_alone => ("the end of the clause", "a clause ends with its block's `}`".to_string()),
            Rule::option_alone | Rule::respond_alone => {
                ("the end of the option", "each option ends at the end of its line or at `;`".to_string())
            }
            _ => (
                "the end of the statement",
                format!(
                    "each statement ends at the end of its line or at `;`: put `{found}` on a new line, or write `;` before it"
                ),
            ),
        };
        let at = Span::new(span.start, span.start + found.len().max(1));
        self.error(
            Code::Unexpected,
            at,
            format!("expected {what} (a newline or `;`), found `{found}`"),
            format!("unexpected `{found}`"),
            Some(help),
        );
    }

    /// Reports a `bad` node (something the grammar skipped to recover) by parsing it alone as `alone`.
    fn bad(&mut self, pair: &Pair<'_, Rule>, alone: Rule) -> Span {
        let span = self.span(pair);
        self.diags.push(super::error::explain_bad(pair.as_str(), span.start, alone));
        span
    }

    /// A statement that did not parse: reported, and kept as an error node with what its first words
    /// say (`set total = ...` still defines `@flow.total`).
    fn bad_stmt(&mut self, text: &str, start: usize) -> Stmt {
        let span = Span::new(self.offset + start, self.offset + start + text.len());
        self.diags.push(super::error::explain_bad(text, span.start, Rule::stmt_alone));
        let word_at = |from: usize| -> Option<(usize, &str)> {
            let rest = &text[from..];
            let start = from + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
            let len =
                text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - start);
            (len > 0).then(|| (start, &text[start..start + len]))
        };
        let keyword = word_at(0).map(|(_, w)| w.to_string());
        let name = match keyword.as_deref() {
            Some(kw) if super::keywords::DEFINING.contains(&kw) => word_at(kw.len())
                .filter(|(_, w)| w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
                .filter(|(end, w)| {
                    keyword.as_deref() != Some("split") || text[end + w.len()..].trim_start().starts_with('=')
                })
                .map(|(at, w)| Spanned::new(w.to_string(), Span::new(span.start + at, span.start + at + w.len()))),
            _ => None,
        };
        let reads = flow_reads(text, span.start);
        Stmt { kind: StmtKind::Error { keyword, name, reads }, span }
    }

    fn stmt(&mut self, pair: Pair<'_, Rule>) -> Stmt {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair);
        let kind = match rule {
            Rule::numbers_stmt => StmtKind::Numbers { decimal: self.plain_string(it.next().expect("grammar")) },
            Rule::dates_stmt => {
                let word = it.next().expect("grammar");
                StmtKind::Dates { order: Spanned::new(word.as_str().to_string(), self.span(&word)) }
            }
            Rule::send_stmt => StmtKind::Send { text: self.template(it.next().expect("grammar")) },
            Rule::wait_stmt => {
                let name = self.name(it.next().expect("grammar"));
                let mut timeout = None;
                let mut on_timeout = Vec::new();
                for p in it {
                    match p.as_rule() {
                        Rule::duration => timeout = Some(self.duration(p)),
                        Rule::wait_block => {
                            for on in self.items(p, Rule::timeout_alone) {
                                if on.as_rule() == Rule::bad {
                                    self.bad(&on, Rule::timeout_alone);
                                } else if let Some(b) = inner(on).next() {
                                    on_timeout.push(self.block(b));
                                }
                            }
                        }
                        _ => {}
                    }
                }
                StmtKind::Wait { name, timeout, on_timeout }
            }
            Rule::webhook_stmt => StmtKind::Webhook(Box::new(self.webhook(it))),
            Rule::split_stmt => {
                let mut result = None;
                let mut operand = None;
                let mut cases = Vec::new();
                let mut other = None;
                let mut other_at: Option<Span> = None;
                for p in it {
                    match p.as_rule() {
                        Rule::ident => result = Some(self.name(p)),
                        Rule::expr => operand = Some(self.expr(p)),
                        Rule::split_block => {
                            for clause in self.items(p, Rule::clause_alone) {
                                match clause.as_rule() {
                                    Rule::bad => {
                                        self.bad(&clause, Rule::clause_alone);
                                    }
                                    Rule::case_clause => {
                                        if other_at.is_some() {
                                            let at = self.span(&clause);
                                            self.error(
                                                Code::Unexpected,
                                                Span::new(at.start, at.start + 4),
                                                "a `case` after `other` is never tried".to_string(),
                                                "after `other`",
                                                Some(
                                                    "`other` catches everything left: move this `case` above it".into(),
                                                ),
                                            );
                                        }
                                        cases.push(self.case(clause));
                                    }
                                    Rule::other_clause => {
                                        let at = self.span(&clause);
                                        if other_at.is_some() {
                                            self.error(
                                                Code::Unexpected,
                                                Span::new(at.start, at.start + 5),
                                                "a split has one `other`".to_string(),
                                                "second `other`",
                                                Some("join the two `other` blocks into one, written last".into()),
                                            );
                                        }
                                        other_at = Some(at);
                                        if let Some(b) = inner(clause).next() {
                                            let block = self.block(b);
                                            other.get_or_insert(block);
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let operand = operand.unwrap_or(Expr { kind: ExprKind::Error, span });
                StmtKind::Split(Box::new(Split { result, operand, cases, other }))
            }
            Rule::set_stmt => {
                let target = it.next().expect("grammar");
                if target.as_rule() == Rule::reference {
                    let value = it.next().expect("grammar");
                    let reads = flow_reads(value.as_str(), self.span(&value).start);
                    let value = self.expr(value);
                    let kind = self.set_reference(target, value, reads);
                    return Stmt { kind, span };
                }
                let name = self.name(target);
                let value = self.expr(it.next().expect("grammar"));
                StmtKind::Set { name, value }
            }
            Rule::step_stmt => {
                let name = self.name(it.next().expect("grammar"));
                let body = self.block(it.next().expect("grammar"));
                StmtKind::Step { name, body }
            }
            Rule::goto_stmt => StmtKind::Goto { target: self.name(it.next().expect("grammar")) },
            Rule::email_stmt => {
                let to = self.template(it.next().expect("grammar"));
                let subject = self.template(it.next().expect("grammar"));
                let body = self.template(it.next().expect("grammar"));
                StmtKind::Email { to, subject, body }
            }
            Rule::respond_stmt => StmtKind::Respond(Box::new(self.respond(it))),
            _ => StmtKind::Stop,
        };
        Stmt { kind, span }
    }

    fn case(&mut self, pair: Pair<'_, Rule>) -> Case {
        let span = self.span(&pair);
        let mut test = None;
        let mut category = None;
        let mut body = Block { stmts: Vec::new(), span };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::test => test = Some(self.test(p)),
                Rule::category => {
                    if let Some(c) = inner(p).next() {
                        category = Some(match c.as_rule() {
                            Rule::plain_string => self.plain_string(c),
                            _ => Spanned::new(c.as_str().to_string(), self.span(&c)),
                        });
                    }
                }
                Rule::block => body = self.block(p),
                _ => {}
            }
        }
        let test = test
            .unwrap_or(Test { kind: TestKind::Named { name: Spanned::new(String::new(), span), args: vec![] }, span });
        Case { test, category, body, span }
    }

    fn test(&mut self, pair: Pair<'_, Rule>) -> Test {
        let span = self.span(&pair);
        let t = pair.into_inner().next().expect("grammar: test has one child");
        let kind = match t.as_rule() {
            Rule::compare_test => {
                let mut it = t.into_inner();
                let op = BinaryOp::parse_comparison(it.next().expect("grammar").as_str()).unwrap_or(BinaryOp::Eq);
                let value = self.expr(it.next().expect("grammar"));
                TestKind::Compare { op, value }
            }
            _ => {
                let mut it = t.into_inner();
                let n = it.next().expect("grammar");
                let name = Spanned::new(n.as_str().to_string(), self.span(&n));
                let args = it.map(|a| self.simple_operand(a)).collect();
                TestKind::Named { name, args }
            }
        };
        Test { kind, span }
    }

    fn webhook<'i>(&mut self, mut it: impl Iterator<Item = Pair<'i, Rule>>) -> Webhook {
        let name = self.name(it.next().expect("grammar"));
        self.webhook_after_name(name, it)
    }

    /// A webhook's method, URL and options (`it` starts at the method).
    fn webhook_after_name<'i>(&mut self, name: Name, mut it: impl Iterator<Item = Pair<'i, Rule>>) -> Webhook {
        let method = self.method(it.next().expect("grammar"));
        let url = self.template(it.next().expect("grammar"));
        let mut w = Webhook {
            name,
            method,
            url,
            headers: Vec::new(),
            query: Vec::new(),
            auth: None,
            body: None,
            timeout: None,
            retries: None,
            backoff: None,
            expect: None,
            on_failure: None,
        };
        let Some(block) = it.next() else { return w };
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        for opt in self.items(block, Rule::option_alone) {
            if opt.as_rule() == Rule::bad {
                self.bad(&opt, Rule::option_alone);
                continue;
            }
            let span = self.span(&opt);
            let rule = opt.as_rule();
            let what = match rule {
                Rule::opt_auth => "auth",
                Rule::opt_body => "body",
                Rule::opt_timeout => "timeout",
                Rule::opt_retries => "retries",
                Rule::opt_backoff => "backoff",
                Rule::opt_expect => "expect json",
                Rule::opt_on_failure => "on failure",
                _ => "",
            };
            if !what.is_empty() {
                if let Some(&(_, first)) = seen.iter().find(|(w, _)| *w == what) {
                    self.duplicate(what, span, first);
                    continue;
                }
                seen.push((what, span));
            }
            let mut parts = inner(opt);
            match rule {
                Rule::opt_header => {
                    let pair = self.key_value(&mut parts);
                    self.check_duplicate_header(&w.headers, &pair.0, "header");
                    w.headers.push(pair);
                }
                Rule::opt_query => {
                    let pair = self.key_value(&mut parts);
                    w.query.push(pair);
                }
                Rule::opt_auth => w.auth = Some(self.name(parts.next().expect("grammar"))),
                Rule::opt_body => w.body = Some(Spanned::new(self.body(parts.next().expect("grammar")), span)),
                Rule::opt_timeout => w.timeout = Some(self.duration(parts.next().expect("grammar"))),
                Rule::opt_retries => {
                    let n = parts.next().expect("grammar");
                    let value = n.as_str().parse().unwrap_or(f64::INFINITY);
                    w.retries = Some(Spanned::new(value, self.span(&n)));
                }
                Rule::opt_backoff => w.backoff = Some(self.duration(parts.next().expect("grammar"))),
                Rule::opt_expect => w.expect = Some(self.shape(parts.next().expect("grammar"))),
                Rule::opt_on_failure => w.on_failure = Some(self.block(parts.next().expect("grammar"))),
                _ => {}
            }
        }
        w
    }

    fn duplicate(&mut self, what: &str, span: Span, first: Span) {
        let d = Diagnostic::new(Code::DuplicateOption, span, format!("`{what}` is given twice"), "second one here")
            .with_label(first, "first one here")
            .with_help(format!("keep one `{what}`"));
        self.diags.push(d);
    }

    fn check_duplicate_header(&mut self, existing: &[(Spanned<String>, Expr)], name: &Spanned<String>, what: &str) {
        if let Some((first, _)) = existing.iter().find(|(k, _)| k.node.eq_ignore_ascii_case(&name.node)) {
            let first = first.span;
            self.duplicate(&format!("{what} \"{}\"", name.node), name.span, first);
        }
    }

    fn key_value<'i>(&mut self, parts: &mut impl Iterator<Item = Pair<'i, Rule>>) -> (Spanned<String>, Expr) {
        let key = self.plain_string(parts.next().expect("grammar"));
        let value = self.expr(parts.next().expect("grammar"));
        (key, value)
    }

    fn respond<'i>(&mut self, mut it: impl Iterator<Item = Pair<'i, Rule>>) -> Respond {
        let first = it.next().expect("grammar");
        let status = match first.as_rule() {
            Rule::status_code => {
                let code = first.as_str().parse().unwrap_or(u32::MAX);
                RespondStatus::Code(Spanned::new(code, self.span(&first)))
            }
            _ => RespondStatus::Dynamic(self.expr(inner(first).next().expect("grammar"))),
        };
        let mut r = Respond { status, headers: Vec::new(), body: None };
        if let Some(block) = it.next() {
            for opt in self.items(block, Rule::respond_alone) {
                let span = self.span(&opt);
                let rule = opt.as_rule();
                if rule == Rule::bad {
                    self.bad(&opt, Rule::respond_alone);
                    continue;
                }
                let mut parts = inner(opt);
                if rule == Rule::opt_header {
                    let pair = self.key_value(&mut parts);
                    self.check_duplicate_header(&r.headers, &pair.0, "header");
                    r.headers.push(pair);
                } else if let Some(first) = &r.body {
                    let first = first.span;
                    self.duplicate("body", span, first);
                } else {
                    r.body = Some(Spanned::new(self.body(parts.next().expect("grammar")), span));
                }
            }
        }
        r
    }

    fn body(&mut self, pair: Pair<'_, Rule>) -> Body {
        let rule = pair.as_rule();
        let mut it = inner(pair);
        match rule {
            Rule::body_json => Body::Json(self.json(it.next().expect("grammar"))),
            Rule::body_xml => Body::Xml(self.template(it.next().expect("grammar"))),
            Rule::body_text => Body::Text(self.template(it.next().expect("grammar"))),
            _ => {
                let mut fields: Vec<(Spanned<String>, Expr)> = Vec::new();
                for field in it {
                    let mut f = field.into_inner();
                    let key = self.key(f.next().expect("grammar"));
                    let value = self.expr(f.next().expect("grammar"));
                    fields.push((key, value));
                }
                Body::Form(fields)
            }
        }
    }

    fn key(&mut self, pair: Pair<'_, Rule>) -> Spanned<String> {
        match pair.as_rule() {
            Rule::plain_string => self.plain_string(pair),
            _ => Spanned::new(pair.as_str().to_string(), self.span(&pair)),
        }
    }

    fn json(&mut self, pair: Pair<'_, Rule>) -> Json {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::json_object | Rule::json_array => {
                if !self.enter(span) {
                    self.leave();
                    return Json::Array(Vec::new(), span);
                }
                let json = if pair.as_rule() == Rule::json_object {
                    let mut members: Vec<(Spanned<String>, Json)> = Vec::new();
                    for m in pair.into_inner() {
                        let mut it = m.into_inner();
                        let key = self.key(it.next().expect("grammar"));
                        if let Some((first, _)) = members.iter().find(|(k, _)| k.node == key.node) {
                            let first = first.span;
                            self.duplicate(&format!("key \"{}\"", key.node), key.span, first);
                        }
                        let value = self.json(it.next().expect("grammar"));
                        members.push((key, value));
                    }
                    Json::Object(members, span)
                } else {
                    Json::Array(pair.into_inner().map(|v| self.json(v)).collect(), span)
                };
                self.leave();
                json
            }
            _ => Json::Expr(self.expr(pair)),
        }
    }

    fn shape(&mut self, pair: Pair<'_, Rule>) -> Shape {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::shape_object | Rule::shape_list => {
                if !self.enter(span) {
                    self.leave();
                    return Shape { kind: ShapeKind::Json, span };
                }
                let kind = if pair.as_rule() == Rule::shape_object {
                    let mut fields: Vec<ShapeField> = Vec::new();
                    for f in pair.into_inner() {
                        let mut optional = false;
                        let mut key = None;
                        let mut shape = None;
                        for p in f.into_inner() {
                            match p.as_rule() {
                                Rule::optional => optional = true,
                                Rule::ident | Rule::plain_string if key.is_none() => key = Some(self.key(p)),
                                _ => shape = Some(self.shape(p)),
                            }
                        }
                        let key = key.expect("grammar: shape field key");
                        if let Some(first) = fields.iter().find(|f| f.key.node == key.node) {
                            let first = first.key.span;
                            self.duplicate(&format!("key \"{}\"", key.node), key.span, first);
                        }
                        let shape = shape.unwrap_or(Shape { kind: ShapeKind::Json, span });
                        fields.push(ShapeField { key, optional, shape });
                    }
                    ShapeKind::Object(fields)
                } else {
                    let inner = pair.into_inner().next().expect("grammar: list shape");
                    ShapeKind::List(Box::new(self.shape(inner)))
                };
                self.leave();
                kind
            }
            _ => match pair.as_str() {
                "text" => ShapeKind::Text,
                "number" => ShapeKind::Number,
                "bool" => ShapeKind::Bool,
                "json" => ShapeKind::Json,
                other => {
                    let hint = match other {
                        "string" | "str" => Some("text"),
                        "int" | "integer" | "float" | "decimal" => Some("number"),
                        "boolean" => Some("bool"),
                        "object" | "any" => Some("json"),
                        _ => did_you_mean(other, ["text", "number", "bool", "json"]),
                    };
                    let help = match hint {
                        Some(h) => {
                            format!("did you mean `{h}`? Types are text, number, bool, json, [T] and {{ key: T }}")
                        }
                        None => "types are text, number, bool, json, [T] and { key: T }".into(),
                    };
                    self.error(Code::UnknownType, span, format!("unknown type `{other}`"), "not a type", Some(help));
                    ShapeKind::Json
                }
            },
        };
        Shape { kind, span }
    }

    fn connector(&mut self, pair: Pair<'_, Rule>) -> Connector {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let name = self.name(it.next().expect("grammar"));
        let auth_pair = it.next().expect("grammar");
        let rule = auth_pair.as_rule();
        let mut parts = auth_pair.into_inner();
        let auth = match rule {
            Rule::auth_basic => {
                parts.next();
                let user = self.simple_operand(parts.next().expect("grammar"));
                let password = self.simple_operand(parts.next().expect("grammar"));
                ConnectorAuth::Basic { user, password }
            }
            Rule::auth_bearer => {
                parts.next();
                ConnectorAuth::Bearer { token: self.simple_operand(parts.next().expect("grammar")) }
            }
            _ => {
                parts.next();
                let place = if parts.next().expect("grammar").as_rule() == Rule::kw_header {
                    KeyPlace::Header
                } else {
                    KeyPlace::Query
                };
                let key_name = self.plain_string(parts.next().expect("grammar"));
                let value = self.simple_operand(parts.next().expect("grammar"));
                ConnectorAuth::ApiKey { place, name: key_name, value }
            }
        };
        Connector { name, auth, span }
    }

    fn trigger_auth(&mut self, p: Pair<'_, Rule>) -> TriggerAuth {
        let a = inner(p).next().expect("grammar");
        match a.as_rule() {
            Rule::signature_auth => {
                let env = inner(a).next().expect("grammar");
                let s = inner(env).next().expect("grammar");
                TriggerAuth::Signature { env: self.plain_string(s) }
            }
            _ => TriggerAuth::Connector(Spanned::new(a.as_str().to_string(), self.span(&a))),
        }
    }

    fn message_trigger(&mut self, pair: Pair<'_, Rule>) -> MessageTrigger {
        let span = self.span(&pair);
        let mut t = MessageTrigger {
            words: Vec::new(),
            catchall: false,
            channel: None,
            starts: Vec::new(),
            expects: Vec::new(),
            start_for: Vec::new(),
            span,
        };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::keyword_words => {
                    for w in inner(p).filter(|w| w.as_rule() == Rule::plain_string) {
                        let word = self.plain_string(w);
                        t.words.push(word);
                    }
                }
                Rule::kw_catchall => t.catchall = true,
                Rule::trigger_channel => {
                    let n = inner(p).next().expect("grammar");
                    t.channel = Some(Spanned::new(n.as_str().to_string(), self.span(&n)));
                }
                Rule::trigger_block => {
                    for s in self.items(p, Rule::trigger_alone) {
                        match s.as_rule() {
                            Rule::bad => {
                                self.bad(&s, Rule::trigger_alone);
                            }
                            Rule::start_stmt => {
                                let mut parts = inner(s);
                                let n = parts.next().expect("grammar");
                                t.starts.push(Spanned::new(n.as_str().to_string(), self.span(&n)));
                                if let Some(f) = parts.next() {
                                    t.start_for.push(self.span(&f));
                                }
                            }
                            _ => t.expects.push(self.span(&s)),
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn channel(&mut self, pair: Pair<'_, Rule>) -> Channel {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let name = self.name(it.next().expect("grammar"));
        let mut lines = Vec::new();
        let env_name = |b: &mut Self, p: Pair<'_, Rule>| {
            let s = inner(p).next().expect("grammar");
            b.plain_string(s)
        };
        let kind = it.next();
        if let Some(k) = kind.as_ref().filter(|k| k.as_rule() == Rule::channel_telegram) {
            let mut parts = inner(k.clone());
            let token = env_name(self, parts.next().expect("grammar"));
            let secret = parts.next().map(|p| env_name(self, p));
            return Channel { name, kind: ChannelKind::Telegram { token, secret }, span };
        }
        if let Some(k) = kind.as_ref().filter(|k| k.as_rule() == Rule::channel_twilio) {
            let mut parts = inner(k.clone());
            let account = env_name(self, parts.next().expect("grammar"));
            let token = env_name(self, parts.next().expect("grammar"));
            let from = self.plain_string(parts.next().expect("grammar"));
            return Channel { name, kind: ChannelKind::Twilio { account, token, from }, span };
        }
        if let Some(external) = kind {
            for block in inner(external).filter(|p| p.as_rule() == Rule::channel_block) {
                for line in self.items(block, Rule::channel_alone) {
                    match line.as_rule() {
                        Rule::bad => {
                            self.bad(&line, Rule::channel_alone);
                        }
                        Rule::channel_receive => {
                            let span = self.span(&line);
                            let mut parts = inner(line);
                            let suffix = self.plain_string(parts.next().expect("grammar"));
                            let auth = parts.next().map(|a| self.trigger_auth(a));
                            lines.push(ChannelLine::Receive { suffix, auth, span });
                        }
                        _ => {
                            let span = self.span(&line);
                            let request = Box::new(self.webhook_after_name(name.clone(), inner(line)));
                            lines.push(ChannelLine::Send { request, span });
                        }
                    }
                }
            }
        }
        Channel { name, kind: ChannelKind::External { lines }, span }
    }

    fn trigger(&mut self, pair: Pair<'_, Rule>) -> Trigger {
        let span = self.span(&pair);
        let mut t = Trigger {
            suffix: Spanned::new(String::new(), span),
            methods: Vec::new(),
            auth: None,
            expects: Vec::new(),
            starts: Vec::new(),
            start_for: None,
            span,
        };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::plain_string => t.suffix = self.plain_string(p),
                Rule::method => t.methods.push(Spanned::new(p.as_str().to_string(), self.span(&p))),
                Rule::trigger_auth => t.auth = Some(self.trigger_auth(p)),
                Rule::trigger_block => {
                    for s in self.items(p, Rule::trigger_alone) {
                        let rule = s.as_rule();
                        if rule == Rule::bad {
                            self.bad(&s, Rule::trigger_alone);
                            continue;
                        }
                        let mut it = inner(s);
                        match rule {
                            Rule::expect_header => {
                                let name = self.plain_string(it.next().expect("grammar"));
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Header(name, shape));
                            }
                            Rule::expect_query => {
                                let name = self.key(it.next().expect("grammar"));
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Query(name, shape));
                            }
                            Rule::expect_body => {
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Body(shape));
                            }
                            _ => {
                                let n = it.next().expect("grammar");
                                t.starts.push(Spanned::new(n.as_str().to_string(), self.span(&n)));
                                if let Some(f) = it.next() {
                                    let span = self.span(&f);
                                    let mut parts = inner(f);
                                    let urn = self.expr(parts.next().expect("grammar"));
                                    let c = parts.next().expect("grammar");
                                    let channel = Spanned::new(c.as_str().to_string(), self.span(&c));
                                    if t.start_for.is_none() {
                                        t.start_for = Some(StartFor { urn, channel, span });
                                    }
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn method(&mut self, pair: Pair<'_, Rule>) -> Spanned<Method> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let method = match Method::parse(text) {
            Some(m) => m,
            None => {
                let upper = text.to_ascii_uppercase();
                let help = match Method::parse(&upper) {
                    Some(m) => format!("methods are written in upper case: `{}`", m.as_str()),
                    None => format!("use one of {}", Method::list(&Method::ALL, ", ")),
                };
                self.error(
                    Code::InvalidMethod,
                    span,
                    format!("`{text}` is not an HTTP method"),
                    "unknown method",
                    Some(help),
                );
                if Method::parse(&upper).is_some() {
                    self.fix(span, std::slice::from_ref(&upper));
                }
                Method::parse(&upper).unwrap_or(Method::GET)
            }
        };
        Spanned::new(method, span)
    }

    fn duration(&mut self, pair: Pair<'_, Rule>) -> Spanned<Duration> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (num, unit) = text.split_at(split);
        let Some(unit_ms) = crate::time::unit_ms(unit) else {
            let (message, help) = if unit.is_empty() {
                (
                    format!("`{text}` needs a unit"),
                    format!("write `{num}s` for seconds or `{num}m` for minutes (units: ms, s, m, h, d)"),
                )
            } else {
                let suggestion = match unit {
                    "sec" | "secs" | "second" | "seconds" => "s",
                    "min" | "mins" | "minute" | "minutes" => "m",
                    "hr" | "hrs" | "hour" | "hours" => "h",
                    "day" | "days" => "d",
                    "msec" | "millis" => "ms",
                    _ => "",
                };
                let help = if suggestion.is_empty() {
                    "units are ms, s, m, h and d".to_string()
                } else {
                    format!("write `{num}{suggestion}`; units are ms, s, m, h and d")
                };
                (format!("unknown duration unit `{unit}`"), help)
            };
            self.error(Code::DurationUnit, span, message, "not a duration", Some(help));
            let fixes: Vec<String> = match unit {
                "" => vec![format!("{num}s"), format!("{num}m")],
                "sec" | "secs" | "second" | "seconds" => vec![format!("{num}s")],
                "min" | "mins" | "minute" | "minutes" => vec![format!("{num}m")],
                "hr" | "hrs" | "hour" | "hours" => vec![format!("{num}h")],
                "day" | "days" => vec![format!("{num}d")],
                "msec" | "millis" => vec![format!("{num}ms")],
                _ => Vec::new(),
            };
            self.fix(span, &fixes);
            return Spanned::new(Duration { millis: 1000 }, span);
        };
        let millis = match num.parse::<u64>() {
            Ok(n) => n.checked_mul(unit_ms),
            Err(_) if num.contains('.') => {
                self.error(
                    Code::DurationUnit,
                    span,
                    format!("durations are whole numbers: `{text}`"),
                    "fractional duration",
                    Some("use a smaller unit, e.g. `1500ms` instead of `1.5s`".into()),
                );
                return Spanned::new(Duration { millis: 1000 }, span);
            }
            Err(_) => None,
        };
        let Some(millis) = millis else {
            self.error(
                Code::DurationRange,
                span,
                format!("`{text}` is too long a duration"),
                "too long",
                Some("durations are limited to 365d".into()),
            );
            return Spanned::new(Duration { millis: u64::MAX }, span);
        };
        Spanned::new(Duration { millis }, span)
    }

    // ------------------------------------------------------------ strings

    fn string_piece(&mut self, p: &Pair<'_, Rule>, out: &mut String) {
        match p.as_rule() {
            Rule::escape => {
                let s = p.as_str();
                match &s[1..2] {
                    "n" => out.push('\n'),
                    "t" => out.push('\t'),
                    "u" => {
                        let hex = &s[3..s.len() - 1];
                        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                            Some(c) => out.push(c),
                            None => {
                                let span = self.span(p);
                                self.error(
                                    Code::InvalidEscape,
                                    span,
                                    format!("`{s}` is not a Unicode character"),
                                    "invalid code point",
                                    Some("use a code point up to 10FFFF that is not a surrogate".into()),
                                );
                            }
                        }
                    }
                    other => out.push_str(other),
                }
            }
            Rule::bad_escape => {
                let span = self.span(p);
                let s = p.as_str();
                self.error(
                    Code::InvalidEscape,
                    span,
                    format!("unknown escape `{s}`"),
                    "not an escape",
                    Some("strings take \\\" \\\\ \\n \\t and \\u{...}; write \\\\ for a backslash".into()),
                );
                out.push_str(s);
            }
            Rule::text | Rule::plain_text => {
                let text = p.as_str();
                out.push_str(text);
                self.control_characters(text, self.span(p).start);
            }
            _ => out.push_str(p.as_str()),
        }
    }

    /// Reports raw control characters (tabs included) in literal string text.
    fn control_characters(&mut self, text: &str, start: usize) {
        if !text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return;
        }
        for (i, c) in text.char_indices() {
            if c.is_control() && (c as u32) < 0x80 {
                let (name, esc) = if c == '\t' { ("a tab", "\\t") } else { ("a control character", "\\u{..}") };
                self.error(
                    Code::ControlCharacter,
                    Span::new(start + i, start + i + 1),
                    format!("{name} inside a string"),
                    "raw control character",
                    Some(format!("write it as `{esc}`")),
                );
            }
        }
    }

    pub(crate) fn plain_string(&mut self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        self.strings.push(span);
        let mut out = String::new();
        for p in pair.into_inner() {
            self.string_piece(&p, &mut out);
        }
        Spanned::new(out, span)
    }

    fn template(&mut self, pair: Pair<'_, Rule>) -> Template {
        let span = self.span(&pair);
        self.strings.push(span);
        let mut parts: Vec<TemplatePart> = Vec::new();
        let mut text = String::new();
        // Whether the source right before the current piece is a letter or digit: an `@` there is
        // literal (`info@flow.io`, `a@@b`).
        let mut after_alnum = false;
        let mut after_ref: Option<(Span, String)> = None;
        for p in pair.into_inner() {
            let rule = p.as_rule();
            if let Some((ref_span, written)) = after_ref.take()
                && rule == Rule::text
                && let Some(index) = bracket_index(p.as_str())
            {
                let rest: String = p.as_str()[index.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                    .collect();
                let rest = rest.trim_end_matches('.');
                let inner = index.trim_matches(['[', ']']);
                let dotted = if !inner.bytes().all(|b| b.is_ascii_digit()) {
                    String::new()
                } else {
                    format!("`{written}.{inner}{rest}`, or ")
                };
                self.diags.push(
                    Diagnostic::new(
                        Code::IndexInTemplate,
                        Span::new(ref_span.start, self.span(&p).start + index.len()),
                        format!("`{index}` after `{written}` in a string is sent as literal text"),
                        "the index is not part of the reference",
                    )
                    .with_help(format!("write {dotted}`@({written}{index}{rest})`: inside a string, a reference is `@` and dotted names only")),
                );
            }
            let literal_at = after_alnum;
            after_alnum = rule == Rule::text && p.as_str().chars().next_back().is_some_and(char::is_alphanumeric);
            match rule {
                Rule::at_at | Rule::lone_at => text.push('@'),
                Rule::interp | Rule::tpl_ref if literal_at => text.push_str(p.as_str()),
                Rule::interp => {
                    let pspan = self.span(&p);
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    }
                    if self.enter(pspan) {
                        let e = inner(p).next().expect("grammar: interp holds an expr");
                        parts.push(TemplatePart::Expr(self.expr(e)));
                    }
                    self.leave();
                }
                Rule::tpl_ref => {
                    let pspan = self.span(&p);
                    match self.reference_parts(p.as_str(), pspan) {
                        Ok(r) => {
                            if !text.is_empty() {
                                parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                            }
                            parts.push(TemplatePart::Ref(r));
                            after_ref = Some((pspan, p.as_str().to_string()));
                        }
                        Err(root) => {
                            if let Some(close) = did_you_mean(root, Root::ALL.map(Root::as_str)) {
                                let rest = &p.as_str()[1 + root.len()..];
                                let d = Diagnostic::new(
                                    Code::SuspiciousReference,
                                    pspan,
                                    format!("`{}` is sent as literal text", p.as_str()),
                                    "not a variable",
                                )
                                .with_help(format!("did you mean `@{close}{rest}`? Write `@@` for a literal `@`"))
                                .with_fix(Span::new(pspan.start + 1, pspan.start + 1 + root.len()), Some(close));
                                self.diags.push(d);
                            }
                            text.push_str(p.as_str());
                        }
                    }
                }
                _ => self.string_piece(&p, &mut text),
            }
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        Template { parts, span }
    }

    /// Splits `@root.a.b` into a reference; `Err(root)` when the root is not a variable root.
    /// `set @REFERENCE = EXPR`: a contact's name, language or field; anything else is an error.
    fn set_reference(&mut self, target: Pair<'_, Rule>, value: Expr, reads: Vec<Name>) -> StmtKind {
        let tspan = self.span(&target);
        let text = target.as_str();
        let parts = self.reference_parts(text, tspan).ok();
        let path: Vec<&str> =
            parts.as_ref().map(|r| r.path.iter().map(|p| p.node.as_str()).collect()).unwrap_or_default();
        let contact = parts.as_ref().filter(|r| r.root == Root::Contact).map(|_| match path.as_slice() {
            ["name"] => Ok(ContactTarget::Name),
            ["language"] => Ok(ContactTarget::Language),
            ["timezone"] => Ok(ContactTarget::Timezone),
            ["fields", key] if !key.is_empty() => Ok(ContactTarget::Field((*key).to_string())),
            _ => Err(()),
        });
        match contact {
            Some(Ok(t)) => return StmtKind::SetContact { target: Spanned::new(t, tspan), value },
            Some(Err(())) => self.error(
                Code::SetTarget,
                tspan,
                format!("`{text}` cannot be set"),
                "not settable",
                Some(
                    "a flow sets `@contact.name`, `@contact.language`, `@contact.timezone` or `@contact.fields.KEY` (one key)"
                        .into(),
                ),
            ),
            None => {
                let flow_var = parts.as_ref().filter(|r| r.root == Root::Flow && path.len() == 1).map(|_| path[0]);
                let help = match flow_var {
                    Some(name) => format!("flow variables are set by name: `set {name} = ...`"),
                    None => "`set NAME = ...` saves `@flow.NAME`; `set @contact.fields.KEY = ...` updates the contact"
                        .into(),
                };
                self.error(Code::SetTarget, tspan, format!("`{text}` cannot be set"), "not settable", Some(help));
                if let Some(name) = flow_var {
                    self.fix(tspan, &[name.to_string()]);
                }
            }
        }
        drop(value);
        StmtKind::Error { keyword: Some("set".into()), name: None, reads }
    }

    fn reference_parts<'s>(&self, text: &'s str, span: Span) -> Result<Reference, &'s str> {
        let body = &text[1..];
        let mut segs = body.split('.');
        let root_text = segs.next().unwrap_or("");
        let root = Root::parse(root_text).ok_or(root_text)?;
        let mut pos = span.start + 1 + root_text.len();
        let mut path = Vec::new();
        for s in segs {
            pos += 1;
            path.push(Spanned::new(s.to_string(), Span::new(pos, pos + s.len())));
            pos += s.len();
        }
        Ok(Reference { root, path, span })
    }

    // ------------------------------------------------------------ expressions

    fn count_node(&mut self, span: Span) -> bool {
        self.expr_nodes += 1;
        if self.expr_nodes == MAX_EXPR_NODES + 1 {
            self.error(
                Code::TooDeep,
                span,
                format!("expression has more than {MAX_EXPR_NODES} operators"),
                "expression too long",
                Some("split it into several `set` statements".into()),
            );
        }
        self.expr_nodes <= MAX_EXPR_NODES
    }

    pub(crate) fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        if self.expr_nesting == 0 {
            self.expr_nodes = 0;
        }
        self.expr_nesting += 1;
        let e = self.expr_inner(pair.into_inner());
        self.expr_nesting -= 1;
        e
    }

    /// Precedence climbing over the flat operand/operator list, without recursion per operator.
    fn expr_inner(&mut self, pairs: Pairs<'_, Rule>) -> Expr {
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(BinaryOp, Span)> = Vec::new();
        for p in pairs {
            if p.as_rule() == Rule::operand {
                operands.push(self.operand(p));
                continue;
            }
            let span = self.span(&p);
            let op = match p.as_str() {
                "||" => BinaryOp::Or,
                "&&" => BinaryOp::And,
                "&" => BinaryOp::Concat,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                other => BinaryOp::parse_comparison(other).unwrap_or(BinaryOp::Eq),
            };
            if !self.count_node(span) {
                continue;
            }
            while let Some(&(top, _)) = ops.last() {
                if top.precedence() >= op.precedence() {
                    self.reduce(&mut operands, &mut ops);
                } else {
                    break;
                }
            }
            ops.push((op, span));
        }
        while !ops.is_empty() {
            self.reduce(&mut operands, &mut ops);
        }
        operands.pop().unwrap_or(Expr { kind: ExprKind::Error, span: Span::default() })
    }

    fn reduce(&mut self, operands: &mut Vec<Expr>, ops: &mut Vec<(BinaryOp, Span)>) {
        let Some((op, op_span)) = ops.pop() else {
            return;
        };
        let (Some(rhs), Some(lhs)) = (operands.pop(), operands.pop()) else {
            return;
        };
        if op.is_comparison() {
            let chained =
                [&lhs, &rhs].into_iter().any(|e| matches!(e.kind, ExprKind::Binary(o, ..) if o.is_comparison()));
            if chained {
                self.error(
                    Code::ChainedComparison,
                    op_span,
                    "comparisons cannot be chained",
                    "second comparison",
                    Some("combine them with `&&`, e.g. `@a < @b && @b < @c`, or add parentheses".into()),
                );
            }
        }
        let span = lhs.span.to(rhs.span);
        operands.push(Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span });
    }

    fn operand(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let mut prefixes: Vec<(UnaryOp, Span)> = Vec::new();
        let mut expr: Option<Expr> = None;
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::prefix => {
                    if self.count_node(span) {
                        let op = if p.as_str() == "-" { UnaryOp::Neg } else { UnaryOp::Not };
                        prefixes.push((op, span));
                    }
                }
                Rule::field | Rule::index => {
                    let Some(base) = expr.take() else { continue };
                    expr = Some(if self.count_node(span) { self.postfix(base, p) } else { base });
                }
                _ => expr = Some(self.primary(p)),
            }
        }
        let mut expr = expr.unwrap_or(Expr { kind: ExprKind::Error, span: Span::default() });
        while let Some((op, span)) = prefixes.pop() {
            let span = span.to(expr.span);
            expr = Expr { kind: ExprKind::Unary(op, Box::new(expr)), span };
        }
        expr
    }

    fn postfix(&mut self, base: Expr, p: Pair<'_, Rule>) -> Expr {
        let span = base.span.to(self.span(&p));
        let kind = if p.as_rule() == Rule::field {
            let seg = p.into_inner().next().expect("grammar: field segment");
            ExprKind::Field(Box::new(base), Spanned::new(seg.as_str().to_string(), self.span(&seg)))
        } else {
            let ispan = self.span(&p);
            if !self.enter(ispan) {
                self.leave();
                return base;
            }
            let idx = self.expr(p.into_inner().next().expect("grammar: index expr"));
            self.leave();
            ExprKind::Index(Box::new(base), Box::new(idx))
        };
        Expr { kind, span }
    }

    fn primary(&mut self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::string => ExprKind::Str(self.template(p)),
            Rule::number | Rule::signed_number => ExprKind::Number(p.as_str().parse().unwrap_or(0.0)),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::kw_null => ExprKind::Null,
            Rule::env_ref => {
                let s = inner(p).next().expect("grammar: env name");
                ExprKind::Env(self.plain_string(s))
            }
            Rule::call => {
                if !self.enter(span) {
                    self.leave();
                    return Expr { kind: ExprKind::Error, span };
                }
                let mut it = p.into_inner();
                let n = it.next().expect("grammar: call name");
                let name = Spanned::new(n.as_str().to_string(), self.span(&n));
                let args = it.map(|a| self.expr(a)).collect();
                self.leave();
                ExprKind::Call { name, args }
            }
            Rule::reference => match self.reference_parts(p.as_str(), span) {
                Ok(r) => ExprKind::Ref(r),
                Err(root) => {
                    let close = did_you_mean(root, Root::ALL.map(Root::as_str));
                    let help = match close {
                        Some(c) => format!(
                            "did you mean `@{c}`? Variables start with @flow, @extra, @contact, @trigger, @webhook or @input"
                        ),
                        None => "variables start with @flow, @extra, @contact, @trigger, @webhook or @input".into(),
                    };
                    self.error(
                        Code::UnknownVariable,
                        span,
                        format!("`@{root}` is not a variable"),
                        "unknown variable",
                        Some(help),
                    );
                    if let Some(close) = close {
                        self.fix(Span::new(span.start + 1, span.start + 1 + root.len()), &[close.to_string()]);
                    }
                    ExprKind::Error
                }
            },
            Rule::group | Rule::at_group => {
                if !self.enter(span) {
                    self.leave();
                    return Expr { kind: ExprKind::Error, span };
                }
                let e = self.expr(p.into_inner().next().expect("grammar: group expr"));
                self.leave();
                ExprKind::Group(Box::new(e))
            }
            Rule::operand_simple => return self.operand(p),
            _ => ExprKind::Error,
        };
        Expr { kind, span }
    }

    fn simple_operand(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let p = pair.into_inner().next().expect("grammar: simple operand");
        if self.expr_nesting == 0 {
            self.expr_nodes = 0;
        }
        self.primary(p)
    }
}

/// The `[0]`, `[-1]` or `["key"]` that `text` starts with, if it does: an index written right after a
/// reference inside a string, which templates do not read.
fn bracket_index(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('[')?;
    let end = rest.find(']')?;
    let inner = &rest[..end];
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    let index = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        || (inner.len() >= 2 && inner.starts_with('"') && inner.ends_with('"'));
    index.then(|| &text[..end + 2])
}
