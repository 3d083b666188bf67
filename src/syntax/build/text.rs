//! Strings, templates and references (`@flow.x`, `@contact.name`).

use pest::iterators::Pair;

use super::expr::bracket_index;
use super::{Builder, inner};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{Span, Spanned};
use crate::syntax::Rule;

impl Builder {
    pub(super) fn string_piece(&mut self, p: &Pair<'_, Rule>, out: &mut String) {
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
    pub(super) fn control_characters(&mut self, text: &str, start: usize) {
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

    pub(super) fn template(&mut self, pair: Pair<'_, Rule>) -> Template {
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
    pub(super) fn set_reference(&mut self, target: Pair<'_, Rule>, value: Expr, reads: Vec<Name>) -> StmtKind {
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

    pub(super) fn reference_parts<'s>(&self, text: &'s str, span: Span) -> Result<Reference, &'s str> {
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
}
