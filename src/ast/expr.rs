//! Templates, references and expressions.

use crate::span::{Span, Spanned};

/// A string with interpolations.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// Literal text and interpolations, in order.
    pub parts: Vec<TemplatePart>,
    /// The string including its quotes.
    pub span: Span,
}

impl Template {
    /// The text if the template has no interpolation.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Literal text (escapes resolved).
    Text(String),
    /// `@flow.x`
    Ref(Reference),
    /// `@(expr)`
    Expr(Expr),
}

/// The roots of references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Root {
    /// `@flow.NAME`
    Flow,
    /// `@extra.KEY`
    Extra,
    /// `@contact.name`
    Contact,
    /// `@trigger.body.x`
    Trigger,
    /// `@webhook.NAME.status`
    Webhook,
    /// `@input`
    Input,
    /// `@child.NAME`: a result of the flow `enter` ran last.
    Child,
    /// `@parent.NAME`: a result of the flow that entered this one.
    Parent,
}

/// Contact fields (docs/language.md §7).
pub const CONTACT_FIELDS: &[&str] =
    &["name", "phone", "email", "language", "timezone", "urn", "channel", "uuid", "groups", "fields"];
/// What `@trigger.` holds: the request that started the run.
pub const TRIGGER_PARTS: &[&str] = &["method", "headers", "query", "body"];
/// Metadata of a webhook call.
pub const WEBHOOK_META: &[&str] = &["status", "attempts", "elapsed_ms", "error", "method", "url"];

impl Root {
    /// What the root holds, as an editor's hover says it.
    pub fn doc(self) -> String {
        match self {
            Root::Flow => "a result of the flow: a `set`, a `wait`, a `webhook` or a `split` names one".into(),
            Root::Extra => "a key of `@extra`: the JSON answers of the webhooks that succeeded before this point, typed by their `expect json` shapes".into(),
            Root::Contact => format!("the run's contact: {}", CONTACT_FIELDS.join(", ")),
            Root::Trigger => "a part of the request that started the run, typed by the trigger's `expect` lines".into(),
            Root::Webhook => format!("a webhook call of the flow: {}", WEBHOOK_META.join(", ")),
            Root::Input => "the last reply of the contact".into(),
            Root::Child => "a result of the flow entered last, defined on every path to its end: `enter FLOW` sets it when the flow completes".into(),
            Root::Parent => "a result of the flow that entered this one, defined at every `enter` of it".into(),
        }
    }

    /// All roots, for did-you-mean.
    pub const ALL: [Root; 8] =
        [Root::Flow, Root::Extra, Root::Contact, Root::Trigger, Root::Webhook, Root::Input, Root::Child, Root::Parent];

    /// Parses a root name.
    pub fn parse(s: &str) -> Option<Root> {
        Root::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The root's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Flow => "flow",
            Root::Extra => "extra",
            Root::Contact => "contact",
            Root::Trigger => "trigger",
            Root::Webhook => "webhook",
            Root::Input => "input",
            Root::Child => "child",
            Root::Parent => "parent",
        }
    }
}

/// `@root.a.b`
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// The root.
    pub root: Root,
    /// The dotted segments after the root.
    pub path: Vec<Spanned<String>>,
    /// The whole reference.
    pub span: Span,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Expressions (docs/language.md §2).
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `"text @flow.x"`
    Str(Template),
    /// `12.5`
    Number(f64),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
    /// `@flow.x`
    Ref(Reference),
    /// `env "VAR"` (connector credentials only)
    Env(Spanned<String>),
    /// `upper(x)`
    Call {
        /// Function name.
        name: Spanned<String>,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `x.key`
    Field(Box<Expr>, Spanned<String>),
    /// `x[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `-x`, `!x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `( x )`
    Group(Box<Expr>),
    /// An expression that could not be built (its error is reported); of unknown type, so it causes
    /// no follow-on errors.
    Error,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

/// Binary operators, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&`
    Concat,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// Binding power: higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Concat => 4,
            Add | Sub => 5,
            Mul | Div => 6,
        }
    }

    /// Whether it compares.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Concat => "&",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
        }
    }

    /// Parses a comparison operator.
    pub fn parse_comparison(s: &str) -> Option<BinaryOp> {
        use BinaryOp::*;
        Some(match s {
            "==" => Eq,
            "!=" => Ne,
            "<" => Lt,
            "<=" => Le,
            ">" => Gt,
            ">=" => Ge,
            _ => return None,
        })
    }
}
