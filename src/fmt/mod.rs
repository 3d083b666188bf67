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

mod items;
mod stmts;
mod values;

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

    // ------------------------------------------------------------ blocks and statements

    // ------------------------------------------------------------ expressions, JSON, shapes
}
