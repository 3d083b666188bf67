//! `flowc fmt`: the one canonical layout of a `.flow` file (docs/cli.md, "Formatting").
//!
//! Takes the syntax tree of a file without syntax errors and its text, and prints the file again:
//! two-space indentation, one statement a line, a space around binary operators, short clause blocks
//! (`case`, `other`, `on timeout`, `on failure`, webhook and respond options) on one line where they fit
//! in 100 columns, JSON bodies and shapes on one line where they fit and one member a line where they do
//! not, blank lines between statements kept but at most one. Strings, numbers, durations and names are
//! printed as written (their source text), and every comment is kept: a comment on its own line stays
//! before what follows it, one at the end of a line stays at the end of that line.

use crate::ast::*;
use crate::span::{LineIndex, Span};

/// The widest line the layout aims for, in characters.
pub const WIDTH: usize = 100;

/// Why a file is not formatted.
#[derive(Debug)]
pub enum FmtError {
    /// The file has syntax errors (they are returned, to be shown).
    Syntax(Vec<crate::diagnostic::Diagnostic>),
}

/// Formats `src`. Files with syntax errors are refused, never mangled.
pub fn format(src: &str) -> Result<String, FmtError> {
    let (file, diags) = crate::syntax::parse(src);
    let syntax: Vec<_> = diags.into_iter().filter(|d| d.code.as_str().starts_with("flowc::syntax::")).collect();
    if syntax.iter().any(|d| d.is_error()) || !file.broken.is_empty() {
        return Err(FmtError::Syntax(syntax));
    }
    Ok(keep_conventions(src, Printer::new(src, &file).file(&file)))
}

/// What the layout takes from the file itself, as rustfmt's `newline_style = "Auto"` does: line breaks
/// written as the file's first one is (`\r\n` or `\n`, so a Windows checkout with autocrlf is
/// formatted as it is), and a leading byte-order mark.
fn keep_conventions(src: &str, layout: String) -> String {
    let body = src.strip_prefix('\u{feff}');
    let crlf = src.find('\n').is_some_and(|i| src[..i].ends_with('\r'));
    let layout = layout.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(layout);
    let mut out = String::with_capacity(layout.len() + layout.len() / 20 + 3);
    if body.is_some() {
        out.push('\u{feff}');
    }
    if crlf {
        for line in layout.split_inclusive('\n') {
            match line.strip_suffix('\n') {
                Some(text) => {
                    out.push_str(text.strip_suffix('\r').unwrap_or(text));
                    out.push_str("\r\n");
                }
                None => out.push_str(line),
            }
        }
    } else {
        out.push_str(&layout);
    }
    out
}

/// A top-level item, in source order.
enum Item<'a> {
    Flow(&'a Flow),
    Connector(&'a Connector),
    Trigger(&'a Trigger),
    MessageTrigger(&'a MessageTrigger),
    Channel(&'a Channel),
}

/// One option of a webhook or respond block, or one line of a trigger block, in source order.
enum Opt<'a> {
    Header(&'a (crate::span::Spanned<String>, Expr)),
    Query(&'a (crate::span::Spanned<String>, Expr)),
    Auth(&'a Name),
    Body(&'a crate::span::Spanned<Body>),
    Timeout(Span),
    Retries(Span),
    Backoff(Span),
    Expect(&'a Shape),
    OnFailure(&'a Block),
    TriggerExpect(&'a Expect),
    Start(&'a Name),
    StartFor(&'a Name, &'a StartFor),
    /// Printed as written (an `expect` in a message trigger, which the checker refuses).
    Raw(Span),
}

struct Printer<'a> {
    src: &'a str,
    lines: LineIndex,
    comments: Vec<Span>,
    /// The first comment not printed yet (a cell: JSON literals print their comments while being built
    /// as text).
    next: std::cell::Cell<usize>,
    out: String,
    indent: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, file: &SourceFile) -> Self {
        Printer {
            src,
            lines: LineIndex::new(src),
            comments: crate::syntax::comments_in(src, file),
            next: std::cell::Cell::new(0),
            out: String::with_capacity(src.len() + src.len() / 8),
            indent: 0,
        }
    }

    fn text(&self, span: Span) -> &'a str {
        &self.src[span.start.min(self.src.len())..span.end.min(self.src.len())]
    }

    fn line_of(&self, pos: usize) -> usize {
        self.lines.line(pos)
    }

    /// Whether some comment not printed yet starts inside `span`.
    fn has_comment_in(&self, span: Span) -> bool {
        self.comments[self.next.get()..].iter().any(|c| c.start >= span.start && c.start < span.end)
    }

    fn file(mut self, file: &SourceFile) -> String {
        let mut items: Vec<(usize, Item<'_>)> = Vec::new();
        items.extend(file.flows.iter().map(|f| (f.span.start, Item::Flow(f))));
        items.extend(file.connectors.iter().map(|c| (c.span.start, Item::Connector(c))));
        items.extend(file.triggers.iter().map(|t| (t.span.start, Item::Trigger(t))));
        items.extend(file.message_triggers.iter().map(|t| (t.span.start, Item::MessageTrigger(t))));
        items.extend(file.channels.iter().map(|c| (c.span.start, Item::Channel(c))));
        items.sort_by_key(|(at, _)| *at);
        let body_start = if self.src.starts_with('\u{feff}') { 3 } else { 0 };
        let mut prev_end = body_start;
        for (i, (start, item)) in items.iter().enumerate() {
            self.gap(prev_end, *start, i == 0);
            let end = match item {
                Item::Flow(f) => self.flow(f),
                Item::Connector(c) => self.connector(c),
                Item::Trigger(t) => self.trigger(t),
                Item::MessageTrigger(t) => self.message_trigger(t),
                Item::Channel(c) => self.channel(c),
            };
            prev_end = end;
        }
        self.gap(prev_end, self.src.len(), items.is_empty());
        // One newline at the end, none at the start.
        let trimmed = self.out.trim_end_matches('\n').trim_start_matches('\n');
        let mut out = String::with_capacity(trimmed.len() + 1);
        out.push_str(trimmed);
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    // ------------------------------------------------------------ lines and comments

    fn push_line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
    }

    /// Prints the comments between `from` and `to` (each on its own line), keeping one blank line
    /// where the source has at least one, and a blank line before what comes at `to` if the source has
    /// one there. `first` suppresses the blank line at the start of a block or file (until a comment
    /// is printed).
    fn gap(&mut self, from: usize, to: usize, first: bool) {
        self.gap_with(from, to, first, true);
    }

    /// The comments before a block's `}`: as [`Printer::gap`], without a blank line before the brace.
    fn gap_closing(&mut self, from: usize, to: usize, first: bool) {
        self.gap_with(from, to, first, false);
    }

    fn gap_with(&mut self, from: usize, to: usize, mut first: bool, blank_at_end: bool) {
        let mut pos = self.trimmed(from);
        while self.next.get() < self.comments.len() && self.comments[self.next.get()].start < to {
            let c = self.comments[self.next.get()];
            if c.start < pos {
                // Inside something printed without its comments (cannot happen with the checks
                // before inlining); keep it anyway, here.
                pos = c.start;
            }
            if !first && self.blank_between(pos, c.start) {
                self.blank();
            }
            let text = self.text(c).trim_end().to_string();
            self.push_line(&text);
            self.next.set(self.next.get() + 1);
            pos = c.end;
            // After a comment, blank lines count again (a file's header comment stays apart).
            first = false;
        }
        if blank_at_end && !first && to <= self.src.len() && self.blank_between(pos, to) {
            self.blank();
        }
    }

    /// Whether the source has an empty line between `from` and `to`.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let (from, to) = (from.min(self.src.len()), to.min(self.src.len()));
        if from >= to {
            return false;
        }
        let between = &self.src[from..to];
        // Lines strictly between the two positions that hold only spaces.
        let mut lines = between.split('\n');
        lines.next();
        let mut rest: Vec<&str> = lines.collect();
        rest.pop();
        rest.iter().any(|l| l.trim().is_empty())
    }

    /// `end` moved back over spaces and comments: pest's spans of rules that end in an optional part
    /// take in the spaces and comment after them.
    fn trimmed(&self, end: usize) -> usize {
        let mut pos = end.min(self.src.len());
        loop {
            let before = self.src[..pos].trim_end_matches([' ', '\t', '\r', '\n']).len();
            match self.comments.binary_search_by_key(&before, |c| c.end) {
                Ok(i) if self.comments[i].start < before => pos = self.comments[i].start,
                _ => return before,
            }
        }
    }

    /// Appends a comment that stands on the same source line as `end` to the last printed line.
    fn trailing(&mut self, end: usize) {
        let end = self.trimmed(end);
        // Only what ends the line may take its comment: `send "a"; stop  // c` gives it to `stop`.
        if let Some(&c) = self.comments.get(self.next.get())
            && c.start >= end
            && self.line_of(c.start) == self.line_of(end.saturating_sub(1))
            && self.src[end..c.start].chars().all(|ch| ch.is_whitespace() || ch == ';' || ch == ',')
        {
            let text = self.text(c).trim_end().to_string();
            if self.out.ends_with('\n') {
                self.out.pop();
            }
            self.out.push_str("  ");
            self.out.push_str(&text);
            self.out.push('\n');
            self.next.set(self.next.get() + 1);
        }
    }

    // ------------------------------------------------------------ items

    fn flow(&mut self, f: &Flow) -> usize {
        let mut header = format!("flow {}", f.name.node);
        if let Some(label) = &f.label {
            header.push(' ');
            header.push_str(self.text(label.span));
        }
        self.open_block(&header, &f.body);
        f.span.end
    }

    fn connector(&mut self, c: &Connector) -> usize {
        let auth = match &c.auth {
            ConnectorAuth::Basic { user, password } => format!("basic {} {}", self.expr(user), self.expr(password)),
            ConnectorAuth::Bearer { token } => format!("bearer {}", self.expr(token)),
            ConnectorAuth::ApiKey { place, name, value } => {
                let place = match place {
                    KeyPlace::Header => "header",
                    KeyPlace::Query => "query",
                };
                format!("api_key {place} {} {}", self.text(name.span), self.expr(value))
            }
        };
        self.push_line(&format!("connector {} {auth}", c.name.node));
        self.trailing(c.span.end);
        c.span.end
    }

    fn trigger(&mut self, t: &Trigger) -> usize {
        let methods: Vec<&str> = t.methods.iter().map(|m| self.text(m.span)).collect();
        let mut header = format!("trigger webhook {} methods {}", self.text(t.suffix.span), methods.join(", "));
        match &t.auth {
            Some(TriggerAuth::Connector(name)) => header.push_str(&format!(" auth {}", name.node)),
            Some(TriggerAuth::Signature { env }) => {
                header.push_str(&format!(" auth signature env {}", self.text(env.span)))
            }
            None => {}
        }
        let mut opts: Vec<(usize, Opt<'_>)> = Vec::new();
        for e in &t.expects {
            let at = match e {
                Expect::Header(name, _) | Expect::Query(name, _) => name.span.start,
                Expect::Body(shape) => shape.span.start,
            };
            opts.push((at, Opt::TriggerExpect(e)));
        }
        for s in &t.starts {
            // The `for ... via ...` clause follows its `start`, before any other `start`.
            let clause = t.start_for.as_ref().filter(|f| {
                f.span.start >= s.span.end
                    && t.starts.iter().all(|o| o.span.start <= s.span.start || o.span.start > f.span.start)
            });
            opts.push((s.span.start, clause.map_or(Opt::Start(s), |f| Opt::StartFor(s, f))));
        }
        opts.sort_by_key(|(at, _)| *at);
        let head_end = match &t.auth {
            Some(TriggerAuth::Connector(name)) => name.span.end,
            Some(TriggerAuth::Signature { env }) => env.span.end,
            None => t.methods.last().map_or(t.suffix.span.end, |m| m.span.end),
        };
        self.options_block(&header, opts, head_end, Span::new(t.span.start, t.span.end), false);
        t.span.end
    }

    fn message_trigger(&mut self, t: &MessageTrigger) -> usize {
        if !t.start_for.is_empty() {
            // A clause the checker refuses: kept as written rather than dropped.
            let text = self.text(t.span).to_string();
            self.push_line(&text);
            return t.span.end;
        }
        let mut header = if t.catchall {
            "trigger catchall".to_string()
        } else {
            let words: Vec<&str> = t.words.iter().map(|w| self.text(w.span)).collect();
            format!("trigger keyword {}", words.join(", "))
        };
        if let Some(c) = &t.channel {
            header.push_str(&format!(" channel {}", c.node));
        }
        let mut opts: Vec<(usize, Opt<'_>)> = t.starts.iter().map(|s| (s.span.start, Opt::Start(s))).collect();
        opts.extend(t.expects.iter().map(|e| (e.start, Opt::Raw(*e))));
        opts.sort_by_key(|(at, _)| *at);
        let head_end = match (&t.channel, t.words.last()) {
            (Some(c), _) => c.span.end,
            (None, Some(w)) => w.span.end,
            (None, None) => {
                self.src[t.span.start..t.span.end].find("catchall").map_or(t.span.start, |i| t.span.start + i + 8)
            }
        };
        self.options_block(&header, opts, head_end, t.span, true);
        t.span.end
    }

    fn channel(&mut self, c: &Channel) -> usize {
        let lines = match &c.kind {
            ChannelKind::External { lines } => lines,
            ChannelKind::Telegram { token, secret } => {
                let mut line = format!("channel {} telegram token env {}", c.name.node, self.text(token.span));
                if let Some(s) = secret {
                    line.push_str(&format!(" secret env {}", self.text(s.span)));
                }
                self.push_line(&line);
                self.trailing(c.span.end);
                return c.span.end;
            }
            ChannelKind::Twilio { account, token, from } => {
                let line = format!(
                    "channel {} twilio account env {} token env {} from {}",
                    c.name.node,
                    self.text(account.span),
                    self.text(token.span),
                    self.text(from.span)
                );
                self.push_line(&line);
                self.trailing(c.span.end);
                return c.span.end;
            }
        };
        let brace = self.src[c.name.span.end..c.span.end].find('{').map_or(c.span.end, |i| c.name.span.end + i);
        self.push_line(&format!("channel {} external {{", c.name.node));
        self.trailing(brace + 1);
        self.indent += 1;
        let mut prev = brace + 1;
        for (i, line) in lines.iter().enumerate() {
            match line {
                ChannelLine::Receive { suffix, auth, span } => {
                    self.gap(prev, span.start, i == 0);
                    let mut text = format!("receive {}", self.text(suffix.span));
                    match auth {
                        Some(TriggerAuth::Connector(name)) => text.push_str(&format!(" auth {}", name.node)),
                        Some(TriggerAuth::Signature { env }) => {
                            text.push_str(&format!(" auth signature env {}", self.text(env.span)))
                        }
                        None => {}
                    }
                    self.push_line(&text);
                    self.trailing(span.end);
                    prev = span.end;
                }
                ChannelLine::Send { request, span } => {
                    self.gap(prev, span.start, i == 0);
                    let head = format!("send {} {}", request.method.node.as_str(), self.text(request.url.span));
                    let opts = self.webhook_opts(request);
                    self.options_block(&head, opts, request.url.span.end, *span, true);
                    prev = span.end;
                }
            }
        }
        self.gap_closing(prev, c.span.end.saturating_sub(1), lines.is_empty());
        self.indent -= 1;
        self.push_line("}");
        self.trailing(c.span.end);
        c.span.end
    }

    // ------------------------------------------------------------ blocks and statements

    /// `header {`, the statements, `}` on lines of their own.
    fn open_block(&mut self, header: &str, block: &Block) {
        self.push_line(&format!("{header} {{"));
        self.trailing(block.span.start + 1);
        self.indent += 1;
        self.stmts(block);
        self.indent -= 1;
        self.push_line("}");
        self.trailing(block.span.end);
    }

    fn stmts(&mut self, block: &Block) {
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
    fn clause_block(&mut self, header: &str, block: &Block) {
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
    fn inline_block(&self, block: &Block) -> Option<String> {
        if block.stmts.len() > 2 || self.has_comment_in(block.span) {
            return None;
        }
        if block.stmts.is_empty() {
            return Some("{}".into());
        }
        let parts: Option<Vec<String>> = block.stmts.iter().map(|s| self.simple_stmt(s)).collect();
        Some(format!("{{ {} }}", parts?.join("; ")))
    }

    fn fits(&self, line: &str) -> bool {
        self.indent * 2 + line.chars().count() <= WIDTH
    }

    /// The one-line text of a statement that has no block, or `None`.
    fn simple_stmt(&self, stmt: &Stmt) -> Option<String> {
        Some(match &stmt.kind {
            StmtKind::Numbers { decimal } => format!("numbers decimal {}", self.text(decimal.span)),
            StmtKind::Dates { order } => format!("dates {}", order.node),
            StmtKind::Send { text } => format!("send {}", self.text(text.span)),
            StmtKind::Wait { name, timeout, on_timeout } if on_timeout.is_empty() => match timeout {
                Some(t) => format!("wait {} timeout {}", name.node, self.text(t.span)),
                None => format!("wait {}", name.node),
            },
            StmtKind::Set { name, value } => format!("set {} = {}", name.node, self.expr(value)),
            StmtKind::SetContact { target, value } => format!("set {} = {}", target.node.reference(), self.expr(value)),
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
            _ => return None,
        })
    }

    fn stmt(&mut self, stmt: &Stmt) {
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

    fn webhook_head(&self, w: &Webhook) -> String {
        format!("webhook {} {} {}", w.name.node, w.method.node.as_str(), self.text(w.url.span))
    }

    fn webhook_opts(&self, w: &'a Webhook) -> Vec<(usize, Opt<'a>)> {
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

    fn respond_head(&self, r: &Respond) -> String {
        match &r.status {
            RespondStatus::Code(c) => format!("respond {}", self.text(c.span)),
            RespondStatus::Dynamic(e) => format!("respond status {}", self.expr(e)),
        }
    }

    /// `header { option; option }`: options of a webhook, a respond or a trigger. On one line when
    /// `may_inline`, there is one simple option and no comment, and it fits.
    fn options_block(
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
    fn brace_after(&self, from: usize, limit: usize) -> usize {
        self.src[from.min(limit)..limit].find('{').map_or(from, |i| from + i)
    }

    fn opt_end(&self, opt: &Opt<'_>) -> usize {
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
    fn option_line(&self, opt: &Opt<'_>, col: usize) -> Option<String> {
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

    // ------------------------------------------------------------ expressions, JSON, shapes

    fn test(&self, t: &Test) -> String {
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

    fn expr(&self, e: &Expr) -> String {
        let end = self.trimmed(e.span.end);
        if self.has_comment_in(Span::new(e.span.start, end)) {
            // A comment inside an expression (after an operator, between arguments): the expression
            // is printed as written, comments and line breaks included.
            while self.comments.get(self.next.get()).is_some_and(|c| c.start < end) {
                self.next.set(self.next.get() + 1);
            }
            return self.text(Span::new(e.span.start, end)).to_string();
        }
        match &e.kind {
            ExprKind::Str(t) => self.text(t.span).to_string(),
            ExprKind::Number(_) | ExprKind::Ref(_) | ExprKind::Error => self.text(e.span).to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Env(name) => format!("env {}", self.text(name.span)),
            ExprKind::Call { name, args } => {
                let args: Vec<String> = args.iter().map(|a| self.expr(a)).collect();
                format!("{}({})", name.node, args.join(", "))
            }
            ExprKind::Field(base, key) => format!("{}.{}", self.expr(base), key.node),
            ExprKind::Index(base, index) => format!("{}[{}]", self.expr(base), self.expr(index)),
            ExprKind::Unary(op, inner) => {
                let op = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                };
                format!("{op}{}", self.expr(inner))
            }
            ExprKind::Binary(op, l, r) => format!("{} {} {}", self.expr(l), op.as_str(), self.expr(r)),
            ExprKind::Group(inner) => format!("({})", self.expr(inner)),
        }
    }

    /// A JSON literal starting at column `col`: on one line if it fits and holds no comment, else one
    /// member a line (each member again on one line if it can be), comments kept beside their members,
    /// the closing bracket at the opening line's indentation.
    fn json(&self, j: &Json, col: usize) -> String {
        let one = self.json_flat(j);
        let span = match j {
            Json::Object(_, span) | Json::Array(_, span) => *span,
            Json::Expr(e) => e.span,
        };
        let commented = self.has_comment_in(span);
        if !commented && (col + one.chars().count() <= WIDTH || !one.contains([',', '{', '['])) {
            return one;
        }
        let items: Vec<(Option<&crate::span::Spanned<String>>, &Json)> = match j {
            Json::Object(members, _) if !members.is_empty() => members.iter().map(|(k, v)| (Some(k), v)).collect(),
            Json::Array(values, _) if !values.is_empty() => values.iter().map(|v| (None, v)).collect(),
            _ => return one,
        };
        let (open, close) = if matches!(j, Json::Object(..)) { ('{', '}') } else { ('[', ']') };
        let items = items
            .into_iter()
            .map(|(key, value)| {
                let value_span = match value {
                    Json::Object(_, span) | Json::Array(_, span) => *span,
                    Json::Expr(e) => e.span,
                };
                let start = key.map_or(value_span.start, |k| k.span.start);
                let text: Box<dyn Fn() -> String + '_> = Box::new(move || {
                    let key_text = key.map(|k| format!("{}: ", self.text(k.span))).unwrap_or_default();
                    let value_text = self.json(value, 2 + key_text.len());
                    format!("{key_text}{value_text}")
                });
                (start, value_span.end, text)
            })
            .collect();
        self.commented_list((open, close), items, span)
    }

    /// `open` items `close`, one item a line, with the comments inside `span` kept: own-line comments
    /// before the item they precede, an end-of-line comment after its item. `items` are (start, end,
    /// the item's text, made when its turn comes so nested comments are taken in order).
    fn commented_list(&self, (open, close): (char, char), items: Vec<ListItem<'_>>, span: Span) -> String {
        let mut out = format!("{open}\n");
        let count = items.len();
        for (i, (start, end, text)) in items.into_iter().enumerate() {
            while let Some(&c) = self.comments.get(self.next.get()).filter(|c| c.start < start) {
                out.push_str(&format!("  {}\n", self.text(c).trim_end()));
                self.next.set(self.next.get() + 1);
            }
            out.push_str(&format!("  {}", indent_rest(&text(), 2)));
            if i + 1 < count {
                out.push(',');
            }
            let end = self.trimmed(end);
            if let Some(&c) = self.comments.get(self.next.get())
                && c.start >= end
                && c.start < span.end
                && self.line_of(c.start) == self.line_of(end.saturating_sub(1))
                && self.src[end..c.start].chars().all(|ch| ch.is_whitespace() || ch == ',')
            {
                out.push_str(&format!("  {}", self.text(c).trim_end()));
                self.next.set(self.next.get() + 1);
            }
            out.push('\n');
        }
        while let Some(&c) = self.comments.get(self.next.get()).filter(|c| c.start < span.end) {
            out.push_str(&format!("  {}\n", self.text(c).trim_end()));
            self.next.set(self.next.get() + 1);
        }
        out.push(close);
        out
    }

    fn json_flat(&self, j: &Json) -> String {
        match j {
            Json::Object(members, _) if members.is_empty() => "{}".into(),
            Json::Object(members, _) => {
                let parts: Vec<String> =
                    members.iter().map(|(k, v)| format!("{}: {}", self.text(k.span), self.json_flat(v))).collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Json::Array(items, _) => {
                let parts: Vec<String> = items.iter().map(|v| self.json_flat(v)).collect();
                format!("[{}]", parts.join(", "))
            }
            Json::Expr(e) => self.expr(e),
        }
    }

    fn shape(&self, s: &Shape, col: usize) -> String {
        let one = self.shape_flat(s);
        if self.has_comment_in(s.span)
            && let ShapeKind::Object(fields) = &s.kind
            && !fields.is_empty()
        {
            let items = fields
                .iter()
                .map(|f| {
                    let text: Box<dyn Fn() -> String + '_> = Box::new(move || {
                        let key = format!("{}{}: ", self.text(f.key.span), if f.optional { "?" } else { "" });
                        format!("{key}{}", self.shape(&f.shape, 2 + key.len()))
                    });
                    (f.key.span.start, f.shape.span.end, text)
                })
                .collect();
            return self.commented_list(('{', '}'), items, s.span);
        }
        if col + one.chars().count() <= WIDTH {
            return one;
        }
        match &s.kind {
            ShapeKind::Object(fields) if !fields.is_empty() => {
                let lines: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        let key = format!("{}{}: ", self.text(f.key.span), if f.optional { "?" } else { "" });
                        format!("  {key}{}", indent_rest(&self.shape(&f.shape, 2 + key.len()), 2))
                    })
                    .collect();
                format!("{{\n{}\n}}", lines.join(",\n"))
            }
            ShapeKind::List(inner) => format!("[{}]", self.shape(inner, col + 1)),
            _ => one,
        }
    }

    fn shape_flat(&self, s: &Shape) -> String {
        match &s.kind {
            ShapeKind::Text => "text".into(),
            ShapeKind::Number => "number".into(),
            ShapeKind::Bool => "bool".into(),
            ShapeKind::Json => "json".into(),
            ShapeKind::List(inner) => format!("[{}]", self.shape_flat(inner)),
            ShapeKind::Object(fields) if fields.is_empty() => "{}".into(),
            ShapeKind::Object(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}{}: {}",
                            self.text(f.key.span),
                            if f.optional { "?" } else { "" },
                            self.shape_flat(&f.shape)
                        )
                    })
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
        }
    }
}

/// One item of a commented list: where it starts and ends, and how to print it when its turn comes.
type ListItem<'p> = (usize, usize, Box<dyn Fn() -> String + 'p>);

/// `text` with every line after the first indented by `n` more spaces.
fn indent_rest(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}
