//! Turns pest pairs into the owned AST at once, reporting what the grammar accepts leniently (units,
//! methods, escapes, reserved names, shape types, nesting) with precise diagnostics.

use pest::iterators::Pair;

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::{Span, Spanned};

mod expr;
mod items;
mod stmt;
mod text;

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
            | kw_enter
            | kw_rate
            | kw_expired
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

    // ------------------------------------------------------------ strings

    // ------------------------------------------------------------ expressions
}
