//! Statements and their parts: cases, tests, webhooks, responses, bodies, JSON, `expect` shapes.

use pest::iterators::Pair;

use super::{Builder, flow_reads, inner};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{Span, Spanned};
use crate::syntax::Rule;

impl Builder {
    pub(super) fn stmt(&mut self, pair: Pair<'_, Rule>) -> Stmt {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = inner(pair);
        let kind = match rule {
            Rule::numbers_stmt => StmtKind::Numbers { decimal: self.plain_string(it.next().expect("grammar")) },
            Rule::dates_stmt => {
                let word = it.next().expect("grammar");
                StmtKind::Dates { order: Spanned::new(word.as_str().to_string(), self.span(&word)) }
            }
            Rule::send_stmt => {
                let text = self.template(it.next().expect("grammar"));
                let replies =
                    it.next().map(|r| inner(r).skip(1).map(|s| self.template(s)).collect()).unwrap_or_default();
                StmtKind::Send { text, replies }
            }
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
            Rule::enter_stmt => {
                let flow = self.name(it.next().expect("grammar"));
                let mut terminal = None;
                let mut on_expired = Vec::new();
                for p in it {
                    match p.as_rule() {
                        Rule::kw_terminal => terminal = Some(self.span(&p)),
                        Rule::enter_block => {
                            for on in self.items(p, Rule::expired_alone) {
                                if on.as_rule() == Rule::bad {
                                    self.bad(&on, Rule::expired_alone);
                                } else if let Some(b) = inner(on).next() {
                                    on_expired.push(self.block(b));
                                }
                            }
                        }
                        _ => {}
                    }
                }
                StmtKind::Enter { flow, terminal, on_expired }
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
                let op = it.next().expect("grammar");
                let op_text = op.as_str().to_string();
                let value = it.next().expect("grammar");
                let category = it.next().and_then(|c| self.category(c));
                let groups = target.as_str() == "@contact.groups";
                if op_text != "=" && !groups {
                    self.error(
                        Code::SetTarget,
                        self.span(&op),
                        format!("`{op_text}` adds to or takes from `@contact.groups` only"),
                        "not here",
                        Some("set a value with `=`".into()),
                    );
                }
                if groups {
                    let value = self.expr(value);
                    let tspan = self.span(&target);
                    let kind = match op_text.as_str() {
                        "+=" => ContactTarget::GroupAdd,
                        "-=" => ContactTarget::GroupRemove,
                        _ => {
                            self.error(
                                Code::SetTarget,
                                self.span(&op),
                                "a contact's groups change one at a time".to_string(),
                                "not `=`",
                                Some(
                                    "`set @contact.groups += \"Name\"` adds the contact to a group, `-=` takes it out"
                                        .into(),
                                ),
                            );
                            ContactTarget::GroupAdd
                        }
                    };
                    return Stmt { kind: StmtKind::SetContact { target: Spanned::new(kind, tspan), value }, span };
                }
                if target.as_rule() == Rule::reference {
                    let reads = flow_reads(value.as_str(), self.span(&value).start);
                    let value = self.expr(value);
                    if let Some(c) = &category {
                        self.error(
                            Code::SetTarget,
                            c.span,
                            "only a flow variable takes a category".to_string(),
                            "no category here",
                            Some("`set NAME = VALUE as \"Category\"` saves a result with a category".into()),
                        );
                    }
                    let kind = self.set_reference(target, value, reads);
                    return Stmt { kind, span };
                }
                let name = self.name(target);
                let value = self.expr(value);
                StmtKind::Set { name, value, category }
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

    pub(super) fn case(&mut self, pair: Pair<'_, Rule>) -> Case {
        let span = self.span(&pair);
        let mut test = None;
        let mut category = None;
        let mut body = Block { stmts: Vec::new(), span };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::test => test = Some(self.test(p)),
                Rule::category => category = self.category(p),
                Rule::block => body = self.block(p),
                _ => {}
            }
        }
        let test = test
            .unwrap_or(Test { kind: TestKind::Named { name: Spanned::new(String::new(), span), args: vec![] }, span });
        Case { test, category, body, span }
    }

    pub(super) fn test(&mut self, pair: Pair<'_, Rule>) -> Test {
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

    pub(super) fn webhook<'i>(&mut self, mut it: impl Iterator<Item = Pair<'i, Rule>>) -> Webhook {
        let name = self.name(it.next().expect("grammar"));
        self.webhook_after_name(name, it)
    }

    /// A webhook's method, URL and options (`it` starts at the method).
    pub(super) fn webhook_after_name<'i>(
        &mut self,
        name: Name,
        mut it: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Webhook {
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

    pub(super) fn duplicate(&mut self, what: &str, span: Span, first: Span) {
        let d = Diagnostic::new(Code::DuplicateOption, span, format!("`{what}` is given twice"), "second one here")
            .with_label(first, "first one here")
            .with_help(format!("keep one `{what}`"));
        self.diags.push(d);
    }

    pub(super) fn check_duplicate_header(
        &mut self,
        existing: &[(Spanned<String>, Expr)],
        name: &Spanned<String>,
        what: &str,
    ) {
        if let Some((first, _)) = existing.iter().find(|(k, _)| k.node.eq_ignore_ascii_case(&name.node)) {
            let first = first.span;
            self.duplicate(&format!("{what} \"{}\"", name.node), name.span, first);
        }
    }

    pub(super) fn key_value<'i>(
        &mut self,
        parts: &mut impl Iterator<Item = Pair<'i, Rule>>,
    ) -> (Spanned<String>, Expr) {
        let key = self.plain_string(parts.next().expect("grammar"));
        let value = self.expr(parts.next().expect("grammar"));
        (key, value)
    }

    pub(super) fn respond<'i>(&mut self, mut it: impl Iterator<Item = Pair<'i, Rule>>) -> Respond {
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

    pub(super) fn body(&mut self, pair: Pair<'_, Rule>) -> Body {
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

    pub(super) fn key(&mut self, pair: Pair<'_, Rule>) -> Spanned<String> {
        match pair.as_rule() {
            Rule::plain_string => self.plain_string(pair),
            _ => Spanned::new(pair.as_str().to_string(), self.span(&pair)),
        }
    }

    pub(super) fn json(&mut self, pair: Pair<'_, Rule>) -> Json {
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

    pub(super) fn shape(&mut self, pair: Pair<'_, Rule>) -> Shape {
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

    /// `as Category`: a quoted name or a word.
    fn category(&mut self, pair: Pair<'_, Rule>) -> Option<Spanned<String>> {
        let c = inner(pair).next()?;
        Some(match c.as_rule() {
            Rule::plain_string => self.plain_string(c),
            _ => Spanned::new(c.as_str().to_string(), self.span(&c)),
        })
    }
}
