//! Expressions, JSON literals and `expect` shapes, flat or broken over lines.

use crate::ast::*;
use crate::span::Span;

use super::{Printer, WIDTH};

/// One item of a commented list: where it starts and ends, and how to print it when its turn comes.
type ListItem<'p> = (usize, usize, Box<dyn Fn() -> String + 'p>);

impl<'a> Printer<'a> {
    pub(super) fn expr(&self, e: &Expr) -> String {
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
    pub(super) fn json(&self, j: &Json, col: usize) -> String {
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
    pub(super) fn commented_list(&self, (open, close): (char, char), items: Vec<ListItem<'_>>, span: Span) -> String {
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

    pub(super) fn json_flat(&self, j: &Json) -> String {
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

    pub(super) fn shape(&self, s: &Shape, col: usize) -> String {
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

    pub(super) fn shape_flat(&self, s: &Shape) -> String {
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

/// `text` with every line after the first indented by `n` more spaces.
pub(super) fn indent_rest(text: &str, n: usize) -> String {
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
