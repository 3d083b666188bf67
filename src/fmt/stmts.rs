//! Blocks and statements, with their option blocks (webhooks, responses).

use crate::ast::*;
use crate::span::Span;

use super::{Opt, Printer, WIDTH};

impl<'a> Printer<'a> {
    /// `header {`, the statements, `}` on lines of their own.
    pub(super) fn open_block(&mut self, header: &str, block: &Block) {
        self.push_line(&format!("{header} {{"));
        self.trailing(block.span.start + 1);
        self.indent += 1;
        self.stmts(block);
        self.indent -= 1;
        self.push_line("}");
        self.trailing(block.span.end);
    }

    pub(super) fn stmts(&mut self, block: &Block) {
        let mut prev_end = block.span.start + 1;
        for (i, stmt) in block.stmts.iter().enumerate() {
            self.gap(prev_end, stmt.span.start, i == 0);
            self.stmt(stmt);
            prev_end = stmt.span.end;
        }
        // Comments before the closing `}`.
        self.gap_closing(prev_end, block.span.end.saturating_sub(1), block.stmts.is_empty());
    }

    /// A block that may stand on its header's line: `header { a; b }` when it is short, simple,
    /// holds no comment and fits; else on lines of its own.
    pub(super) fn clause_block(&mut self, header: &str, block: &Block) {
        if let Some(inline) = self.inline_block(block) {
            let line = format!("{header} {inline}");
            if self.fits(&line) {
                self.push_line(&line);
                self.trailing(block.span.end);
                return;
            }
        }
        self.open_block(header, block);
    }

    /// `{ a; b }` for a block of at most two simple statements without comments.
    pub(super) fn inline_block(&self, block: &Block) -> Option<String> {
        if block.stmts.len() > 2 || self.has_comment_in(block.span) {
            return None;
        }
        if block.stmts.is_empty() {
            return Some("{}".into());
        }
        let parts: Option<Vec<String>> = block.stmts.iter().map(|s| self.simple_stmt(s)).collect();
        Some(format!("{{ {} }}", parts?.join("; ")))
    }

    pub(super) fn fits(&self, line: &str) -> bool {
        self.indent * 2 + line.chars().count() <= WIDTH
    }

    /// The one-line text of a statement that has no block, or `None`.
    pub(super) fn simple_stmt(&self, stmt: &Stmt) -> Option<String> {
        Some(match &stmt.kind {
            StmtKind::Numbers { decimal } => format!("numbers decimal {}", self.text(decimal.span)),
            StmtKind::Dates { order } => format!("dates {}", order.node),
            StmtKind::Send { text, replies } if replies.is_empty() => format!("send {}", self.text(text.span)),
            StmtKind::Send { text, replies } => {
                let replies: Vec<&str> = replies.iter().map(|r| self.text(r.span)).collect();
                format!("send {} replies {}", self.text(text.span), replies.join(", "))
            }
            StmtKind::Wait { name, timeout, on_timeout } if on_timeout.is_empty() => match timeout {
                Some(t) => format!("wait {} timeout {}", name.node, self.text(t.span)),
                None => format!("wait {}", name.node),
            },
            StmtKind::Set { name, value, category } => match category {
                Some(c) => format!("set {} = {} as {}", name.node, self.expr(value), self.text(c.span)),
                None => format!("set {} = {}", name.node, self.expr(value)),
            },
            StmtKind::SetContact { target, value } => {
                format!("set {} {} {}", target.node.reference(), target.node.op(), self.expr(value))
            }
            StmtKind::Goto { target } => format!("goto {}", target.node),
            StmtKind::Email { to, subject, body } => format!(
                "email {} subject {} body {}",
                self.text(to.span),
                self.text(subject.span),
                self.text(body.span)
            ),
            StmtKind::Respond(r) if r.headers.is_empty() && r.body.is_none() => self.respond_head(r),
            StmtKind::Webhook(w) if self.webhook_opts(w).is_empty() => self.webhook_head(w),
            StmtKind::Stop => "stop".into(),
            StmtKind::Enter { flow, terminal, on_expired } if on_expired.is_empty() => match terminal {
                Some(_) => format!("enter {} terminal", flow.node),
                None => format!("enter {}", flow.node),
            },
            _ => return None,
        })
    }

    pub(super) fn stmt(&mut self, stmt: &Stmt) {
        if let Some(line) = self.simple_stmt(stmt) {
            self.push_line(&line);
            self.trailing(stmt.span.end);
            return;
        }
        match &stmt.kind {
            StmtKind::Wait { name, timeout, on_timeout } => {
                let mut header = format!("wait {}", name.node);
                if let Some(t) = timeout {
                    header.push_str(&format!(" timeout {}", self.text(t.span)));
                }
                self.push_line(&format!("{header} {{"));
                let brace = self.brace_after(timeout.as_ref().map_or(name.span.end, |t| t.span.end), stmt.span.end);
                self.trailing(brace + 1);
                self.indent += 1;
                let mut prev = brace + 1;
                for (i, b) in on_timeout.iter().enumerate() {
                    self.gap(prev, b.span.start, i == 0);
                    self.clause_block("on timeout", b);
                    prev = b.span.end;
                }
                self.gap_closing(prev, stmt.span.end.saturating_sub(1), false);
                self.indent -= 1;
                self.push_line("}");
                self.trailing(stmt.span.end);
            }
            StmtKind::Enter { flow, terminal, on_expired } => {
                let header = match terminal {
                    Some(_) => format!("enter {} terminal", flow.node),
                    None => format!("enter {}", flow.node),
                };
                self.push_line(&format!("{header} {{"));
                let brace = self.brace_after(terminal.map_or(flow.span.end, |t| t.end), stmt.span.end);
                self.trailing(brace + 1);
                self.indent += 1;
                let mut prev = brace + 1;
                for (i, b) in on_expired.iter().enumerate() {
                    self.gap(prev, b.span.start, i == 0);
                    self.clause_block("on expired", b);
                    prev = b.span.end;
                }
                self.gap_closing(prev, stmt.span.end.saturating_sub(1), false);
                self.indent -= 1;
                self.push_line("}");
                self.trailing(stmt.span.end);
            }
            StmtKind::Webhook(w) => {
                let head = self.webhook_head(w);
                let opts = self.webhook_opts(w);
                self.options_block(&head, opts, w.url.span.end, stmt.span, true);
            }
            StmtKind::Split(s) => {
                let head = match &s.result {
                    Some(r) => format!("split {} = {}", r.node, self.expr(&s.operand)),
                    None => format!("split {}", self.expr(&s.operand)),
                };
                self.push_line(&format!("{head} {{"));
                let brace = self.brace_after(self.trimmed(s.operand.span.end), stmt.span.end);
                self.trailing(brace + 1);
                self.indent += 1;
                let mut prev = brace + 1;
                for (i, case) in s.cases.iter().enumerate() {
                    self.gap(prev, case.span.start, i == 0);
                    let mut header = format!("case {}", self.test(&case.test));
                    if let Some(c) = &case.category {
                        header.push_str(&format!(" as {}", self.text(c.span)));
                    }
                    self.clause_block(&header, &case.body);
                    prev = case.span.end;
                }
                if let Some(o) = &s.other {
                    // The `other` keyword stands just before its block.
                    let start = self.src[..o.span.start].rfind("other").unwrap_or(o.span.start);
                    self.gap(prev, start, s.cases.is_empty());
                    self.clause_block("other", o);
                    prev = o.span.end;
                }
                self.gap_closing(prev, stmt.span.end.saturating_sub(1), false);
                self.indent -= 1;
                self.push_line("}");
                self.trailing(stmt.span.end);
            }
            StmtKind::Step { name, body } => self.open_block(&format!("step {}", name.node), body),
            StmtKind::Respond(r) => {
                let head = self.respond_head(r);
                let mut opts: Vec<(usize, Opt<'_>)> =
                    r.headers.iter().map(|h| (h.0.span.start, Opt::Header(h))).collect();
                if let Some(b) = &r.body {
                    opts.push((b.span.start, Opt::Body(b)));
                }
                opts.sort_by_key(|(at, _)| *at);
                let head_end = match &r.status {
                    RespondStatus::Code(c) => c.span.end,
                    RespondStatus::Dynamic(e) => self.trimmed(e.span.end),
                };
                self.options_block(&head, opts, head_end, stmt.span, true);
            }
            // Files with syntax errors are refused before printing; an error node is printed as written.
            _ => {
                let text = self.text(stmt.span).to_string();
                self.push_line(&text);
            }
        }
    }

    pub(super) fn webhook_head(&self, w: &Webhook) -> String {
        format!("webhook {} {} {}", w.name.node, w.method.node.as_str(), self.text(w.url.span))
    }

    pub(super) fn webhook_opts(&self, w: &'a Webhook) -> Vec<(usize, Opt<'a>)> {
        let mut opts: Vec<(usize, Opt<'a>)> = Vec::new();
        opts.extend(w.headers.iter().map(|h| (h.0.span.start, Opt::Header(h))));
        opts.extend(w.query.iter().map(|q| (q.0.span.start, Opt::Query(q))));
        if let Some(a) = &w.auth {
            opts.push((a.span.start, Opt::Auth(a)));
        }
        if let Some(b) = &w.body {
            opts.push((b.span.start, Opt::Body(b)));
        }
        if let Some(t) = &w.timeout {
            opts.push((t.span.start, Opt::Timeout(t.span)));
        }
        if let Some(r) = &w.retries {
            opts.push((r.span.start, Opt::Retries(r.span)));
        }
        if let Some(b) = &w.backoff {
            opts.push((b.span.start, Opt::Backoff(b.span)));
        }
        if let Some(e) = &w.expect {
            opts.push((e.span.start, Opt::Expect(e)));
        }
        if let Some(f) = &w.on_failure {
            opts.push((f.span.start, Opt::OnFailure(f)));
        }
        opts.sort_by_key(|(at, _)| *at);
        opts
    }

    pub(super) fn respond_head(&self, r: &Respond) -> String {
        match &r.status {
            RespondStatus::Code(c) => format!("respond {}", self.text(c.span)),
            RespondStatus::Dynamic(e) => format!("respond status {}", self.expr(e)),
        }
    }

    /// `header { option; option }`: options of a webhook, a respond or a trigger. On one line when
    /// `may_inline`, there is one simple option and no comment, and it fits.
    pub(super) fn options_block(
        &mut self,
        header: &str,
        opts: Vec<(usize, Opt<'_>)>,
        head_end: usize,
        span: Span,
        may_inline: bool,
    ) {
        // The block's `{`, when there is one (a webhook's and a respond's are optional).
        let brace = self.src[head_end.min(span.end)..span.end].find('{').map(|i| head_end + i);
        let Some(brace) = brace else {
            self.push_line(header);
            self.trailing(span.end);
            return;
        };
        let commented = self.has_comment_in(Span::new(brace, span.end));
        if opts.is_empty() && !commented {
            // An empty block: a webhook's or respond's is left out, a trigger's (required) is `{}`.
            self.push_line(&if may_inline { header.to_string() } else { format!("{header} {{}}") });
            self.trailing(span.end);
            return;
        }
        if may_inline && opts.len() == 1 && !commented {
            let one = match &opts[0].1 {
                Opt::OnFailure(b) => self.inline_block(b).map(|b| format!("on failure {b}")),
                other => self.option_line(other, self.indent * 2 + header.chars().count() + 3),
            };
            if let Some(one) = one {
                let line = format!("{header} {{ {one} }}");
                if self.fits(&line) && !line.contains('\n') {
                    self.push_line(&line);
                    self.trailing(span.end);
                    return;
                }
            }
        }
        self.push_line(&format!("{header} {{"));
        self.trailing(brace + 1);
        self.indent += 1;
        let mut prev = brace + 1;
        for (i, (at, opt)) in opts.iter().enumerate() {
            self.gap(prev, *at, i == 0);
            let end = match opt {
                Opt::OnFailure(b) => {
                    self.clause_block("on failure", b);
                    b.span.end
                }
                other => {
                    let col = self.indent * 2;
                    let text = self.option_line(other, col).unwrap_or_default();
                    for (j, line) in text.lines().enumerate() {
                        if j == 0 {
                            self.push_line(line);
                        } else {
                            // Continuation lines are already indented relative to the option.
                            self.push_line(line);
                        }
                    }
                    self.opt_end(other)
                }
            };
            self.trailing(end);
            prev = end;
        }
        self.gap_closing(prev, span.end.saturating_sub(1), opts.is_empty());
        self.indent -= 1;
        self.push_line("}");
        self.trailing(span.end);
    }

    /// The position of the first `{` from `from` (before `limit`), else `from`.
    pub(super) fn brace_after(&self, from: usize, limit: usize) -> usize {
        self.src[from.min(limit)..limit].find('{').map_or(from, |i| from + i)
    }

    pub(super) fn opt_end(&self, opt: &Opt<'_>) -> usize {
        match opt {
            Opt::Header(h) | Opt::Query(h) => h.1.span.end,
            Opt::Auth(n) | Opt::Start(n) => n.span.end,
            Opt::StartFor(_, f) => f.span.end,
            Opt::Body(b) => b.span.end,
            Opt::Timeout(s) | Opt::Retries(s) | Opt::Backoff(s) | Opt::Raw(s) => s.end,
            Opt::Expect(s) => s.span.end,
            Opt::OnFailure(b) => b.span.end,
            Opt::TriggerExpect(Expect::Header(_, s) | Expect::Query(_, s) | Expect::Body(s)) => s.span.end,
        }
    }

    /// The text of an option, which may run over several lines (a JSON body or shape that does not fit
    /// on one): continuation lines carry their indentation relative to the option's first line. `col` is
    /// the column the option starts at.
    pub(super) fn option_line(&self, opt: &Opt<'_>, col: usize) -> Option<String> {
        Some(match opt {
            Opt::Header((k, v)) => format!("header {} = {}", self.text(k.span), self.expr(v)),
            Opt::Query((k, v)) => format!("query {} = {}", self.text(k.span), self.expr(v)),
            Opt::Auth(n) => format!("auth {}", n.node),
            Opt::Body(b) => match &b.node {
                Body::Json(j) => format!("body json {}", self.json(j, col + "body json ".len())),
                Body::Xml(t) => format!("body xml {}", self.text(t.span)),
                Body::Text(t) => format!("body text {}", self.text(t.span)),
                Body::Form(fields) if self.has_comment_in(b.span) && !fields.is_empty() => {
                    let items = fields
                        .iter()
                        .map(|(k, v)| {
                            let text: Box<dyn Fn() -> String + '_> =
                                Box::new(move || format!("{}: {}", self.text(k.span), self.expr(v)));
                            (k.span.start, v.span.end, text)
                        })
                        .collect();
                    format!("body form {}", self.commented_list(('{', '}'), items, b.span))
                }
                Body::Form(fields) => {
                    let items: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{}: {}", self.text(k.span), self.expr(v))).collect();
                    let one = format!("body form {{ {} }}", items.join(", "));
                    if fields.is_empty() {
                        "body form {}".into()
                    } else if col + one.chars().count() <= WIDTH {
                        one
                    } else {
                        let inner: Vec<String> = items.iter().map(|i| format!("  {i}")).collect();
                        format!("body form {{\n{}\n}}", inner.join(",\n"))
                    }
                }
            },
            Opt::Timeout(s) => format!("timeout {}", self.text(*s)),
            Opt::Retries(s) => format!("retries {}", self.text(*s)),
            Opt::Backoff(s) => format!("backoff {}", self.text(*s)),
            Opt::Expect(shape) => format!("expect json {}", self.shape(shape, col + "expect json ".len())),
            Opt::OnFailure(_) => return None,
            Opt::TriggerExpect(Expect::Header(name, shape)) => {
                let head = format!("expect header {}: ", self.text(name.span));
                format!("{head}{}", self.shape(shape, col + head.len()))
            }
            Opt::TriggerExpect(Expect::Query(name, shape)) => {
                let head = format!("expect query {}: ", self.text(name.span));
                format!("{head}{}", self.shape(shape, col + head.len()))
            }
            Opt::TriggerExpect(Expect::Body(shape)) => format!("expect body {}", self.shape(shape, col + 12)),
            Opt::Start(n) => format!("start {}", n.node),
            Opt::StartFor(n, f) => format!("start {} for {} via {}", n.node, self.expr(&f.urn), f.channel.node),
            Opt::Raw(s) => self.text(*s).to_string(),
        })
    }

    pub(super) fn test(&self, t: &Test) -> String {
        match &t.kind {
            TestKind::Compare { op, value } => format!("{} {}", op.as_str(), self.expr(value)),
            TestKind::Named { name, args } => {
                let mut s = name.node.clone();
                for a in args {
                    s.push(' ');
                    s.push_str(&self.expr(a));
                }
                s
            }
        }
    }
}
