//! The rules of each statement: durations, webhooks and their URLs and bodies, responds, splits.

use super::super::{is_broken, unknown_connector};
use super::{FlowChecker, MAX_BACKOFF_MS, MAX_WAIT_MS, MAX_WEBHOOK_TIMEOUT_MS};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{Span, Spanned};
use crate::types::Ty;

impl<'a> FlowChecker<'a> {
    pub(super) fn stmt(&mut self, stmt: &'a Stmt, node: usize) {
        match &stmt.kind {
            StmtKind::Numbers { .. } => self.misplaced_setting(stmt, "numbers decimal"),
            StmtKind::Dates { order } => {
                self.misplaced_setting(stmt, "dates");
                self.date_order_word(order);
            }
            StmtKind::Stop => {}
            StmtKind::Enter { flow, terminal, on_expired } => {
                if let (Some(t), Some(block)) = (terminal, on_expired.first()) {
                    self.report(
                        Diagnostic::new(
                            Code::TimeoutBlock,
                            block.span,
                            "a terminal `enter` never comes back",
                            "never runs",
                        )
                        .with_label(*t, "the contact is handed over here")
                        .with_help(format!(
                            "drop `terminal` to come back when `{}` completes or expires, or drop the block",
                            flow.node
                        )),
                    );
                }
                for extra in on_expired.iter().skip(1) {
                    self.report(
                        Diagnostic::new(
                            Code::TimeoutBlock,
                            extra.span,
                            "an `enter` has at most one `on expired`",
                            "second `on expired`",
                        )
                        .with_label(on_expired[0].span, "first one")
                        .with_help("merge the blocks into one"),
                    );
                }
            }
            StmtKind::Error { reads, .. } => self.reads.extend(reads.iter().map(|r| r.node.as_str())),
            StmtKind::Send { text, replies } => {
                self.template(text, node);
                replies.iter().for_each(|r| self.template(r, node));
            }
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
            StmtKind::SetContact { target, value } => {
                let ty = self.expr(value, node);
                if target.node == ContactTarget::Timezone {
                    self.literal_zone(value, true);
                }
                let field = matches!(target.node, ContactTarget::Field(_));
                let refused = matches!(ty, Ty::List(_) | Ty::Object(_)) || (!field && ty == Ty::Bool);
                if refused {
                    let (takes, help) = if field {
                        ("text, a number or true/false", "store one value, or make text of a list with `join(...)`")
                    } else {
                        ("text", "convert with `text(...)`")
                    };
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            value.span,
                            format!("`{}` takes {takes}, not {ty}", target.node.reference()),
                            "wrong type",
                        )
                        .with_help(help),
                    );
                }
            }
            StmtKind::Step { .. } => {}
            StmtKind::Goto { target } => {
                if !self.graph.steps.contains_key(target.node.as_str()) {
                    let close = did_you_mean(&target.node, self.graph.steps.keys().copied());
                    let help = match close {
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
                        .with_help(help)
                        .with_fix(target.span, close),
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

    pub(super) fn duration(&mut self, d: &Spanned<Duration>, min: u64, max: u64, what: &str) {
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

    pub(super) fn webhook(&mut self, w: &'a Webhook, node: usize) {
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

    pub(super) fn url(&mut self, url: &'a Template, node: usize) {
        self.template(url, node);
        for d in super::super::url::check(self.src, url) {
            self.report(d);
        }
    }

    pub(super) fn body(&mut self, body: &'a Body, node: usize) {
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

    pub(super) fn json(&mut self, j: &'a Json, node: usize) {
        match j {
            Json::Object(members, _) => members.iter().for_each(|(_, v)| self.json(v, node)),
            Json::Array(items, _) => items.iter().for_each(|v| self.json(v, node)),
            Json::Expr(e) => {
                self.expr(e, node);
            }
        }
    }

    pub(super) fn respond(&mut self, r: &'a Respond, span: Span, node: usize) {
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

    pub(super) fn split(&mut self, s: &'a Split, node: usize) {
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
}
