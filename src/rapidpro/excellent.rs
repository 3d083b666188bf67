//! flowc's templates and expressions in RapidPro's Excellent, for `flowc export rapidpro`: the
//! reverse of [`super::template`]. `@flow.x` → `@results.x`, `@input` → `@input.text`,
//! `@contact.fields.k` → `@fields.k`, `@extra.k` → `@webhook.json.k` (RapidPro keeps the last call's
//! answer), `@webhook.NAME.status` → `@webhook.status`, `@trigger.x` → `@trigger.params.x`; `==` → `=`,
//! `&&`/`||` → `and()`/`or()`.

use crate::ast::{BinaryOp, Expr, ExprKind, Reference, Root, Template, TemplatePart, UnaryOp};

/// A template as Excellent text.
pub(super) fn template(t: &Template) -> String {
    let mut out = String::new();
    for part in &t.parts {
        match part {
            TemplatePart::Text(s) => {
                // An `@` after a letter or digit is text in Excellent too (`ops@example.com`).
                let mut prev = out.chars().last();
                for c in s.chars() {
                    if c == '@' && !prev.is_some_and(char::is_alphanumeric) {
                        out.push('@');
                    }
                    out.push(c);
                    prev = Some(c);
                }
            }
            TemplatePart::Ref(r) => {
                out.push('@');
                out.push_str(&path(r));
            }
            TemplatePart::Expr(e) => {
                out.push_str("@(");
                out.push_str(&expr(e));
                out.push(')');
            }
        }
    }
    out
}

/// An expression as a template: a reference as `@path`, anything else as `@(...)`.
pub(super) fn value(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Ref(r) => format!("@{}", path(r)),
        ExprKind::Str(t) => template(t),
        ExprKind::Number(n) => number(*n),
        ExprKind::Bool(b) => b.to_string(),
        _ => format!("@({})", expr(e)),
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// A reference's Excellent path, without its `@`.
pub(super) fn path(r: &Reference) -> String {
    let segments: Vec<&str> = r.path.iter().map(|s| s.node.as_str()).collect();
    match (r.root, segments.as_slice()) {
        (Root::Flow, [name, rest @ ..]) => ["results", name].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
        (Root::Child, [name, rest @ ..]) => {
            ["child", "results", name].iter().chain(rest).copied().collect::<Vec<_>>().join(".")
        }
        (Root::Parent, [name, rest @ ..]) => {
            ["parent", "results", name].iter().chain(rest).copied().collect::<Vec<_>>().join(".")
        }
        (Root::Input, _) => "input.text".into(),
        (Root::Contact, ["fields", rest @ ..]) => ["fields"].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
        (Root::Contact, ["phone"]) => "urns.tel".into(),
        (Root::Contact, ["email"]) => "urns.mailto".into(),
        (Root::Contact, rest) => ["contact"].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
        (Root::Extra, rest) => ["webhook", "json"].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
        (Root::Webhook, [_name, "status"]) => "webhook.status".into(),
        // A call's attempts, time and error: RapidPro keeps none of them; empty text.
        (Root::Webhook, _) => "(\"\")".into(),
        // A request's JSON body is what RapidPro's API starts a flow with: its params.
        (Root::Trigger, ["body", rest @ ..]) => {
            ["trigger", "params"].iter().chain(rest).copied().collect::<Vec<_>>().join(".")
        }
        (Root::Trigger, rest) => ["trigger", "params"].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
        (root, rest) => [root.as_str()].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
    }
}

/// An expression in Excellent's syntax (inside `@(...)`).
pub(super) fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Str(t) => match t.as_literal() {
            Some(s) => format!("\"{}\"", s.replace('"', "\\\"")),
            None => {
                // Text with interpolations: its pieces joined with `&`.
                let parts: Vec<String> = t
                    .parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Text(s) => format!("\"{}\"", s.replace('"', "\\\"")),
                        TemplatePart::Ref(r) => path(r),
                        TemplatePart::Expr(e) => format!("({})", expr(e)),
                    })
                    .collect();
                parts.join(" & ")
            }
        },
        ExprKind::Number(n) => number(*n),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Ref(r) => path(r),
        ExprKind::Env(_) | ExprKind::Error => "\"\"".into(),
        ExprKind::Call { name, args } => {
            let args: Vec<String> = args.iter().map(expr).collect();
            format!("{}({})", name.node, args.join(", "))
        }
        ExprKind::Field(inner, key) => format!("{}.{}", expr(inner), key.node),
        ExprKind::Index(inner, index) => format!("{}[{}]", expr(inner), expr(index)),
        ExprKind::Unary(UnaryOp::Neg, inner) => format!("-{}", expr(inner)),
        ExprKind::Unary(UnaryOp::Not, inner) => format!("not({})", expr(inner)),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (expr(a), expr(b));
            // Excellent spells `&&` and `||` as functions and `==` as `=`; the rest as flowc does.
            match op {
                BinaryOp::And => format!("and({a}, {b})"),
                BinaryOp::Or => format!("or({a}, {b})"),
                BinaryOp::Eq => format!("{a} = {b}"),
                other => format!("{a} {} {b}", other.as_str()),
            }
        }
        ExprKind::Group(inner) => format!("({})", expr(inner)),
    }
}
