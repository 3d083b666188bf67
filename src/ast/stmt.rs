//! Statements and what they hold: webhooks, bodies, JSON, splits, cases, tests, responses.

use crate::span::{Span, Spanned};

use super::{BinaryOp, Block, Expr, Name, Shape, Template};

/// A statement with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The statements of docs/language.md §4.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `numbers decimal ","`
    Numbers {
        /// The decimal separator as written.
        decimal: Spanned<String>,
    },
    /// `dates day_first|month_first|year_first`
    Dates {
        /// The order as written.
        order: Spanned<String>,
    },
    /// `send TEMPLATE [replies TEMPLATE, ...]`
    Send {
        /// The message.
        text: Template,
        /// Quick replies offered with it.
        replies: Vec<Template>,
    },
    /// `wait NAME [timeout DURATION] [{ on timeout { ... } }]`
    Wait {
        /// Saves the reply as `@flow.NAME`.
        name: Name,
        /// How long to wait.
        timeout: Option<Spanned<Duration>>,
        /// `on timeout` blocks (one is valid; the checker reports more).
        on_timeout: Vec<Block>,
    },
    /// `webhook NAME METHOD URL [{ options }]`
    Webhook(Box<Webhook>),
    /// `split [NAME =] EXPR { case ... other ... }`
    Split(Box<Split>),
    /// `set NAME = EXPR [as Category]`
    Set {
        /// Saved as `@flow.NAME`.
        name: Name,
        /// The value.
        value: Expr,
        /// A category, as a split's result has (RapidPro's set_run_result with a category).
        category: Option<Spanned<String>>,
    },
    /// `set @contact.name = EXPR`, `set @contact.language = EXPR`, `set @contact.fields.KEY = EXPR`
    SetContact {
        /// What is set; the span covers the whole reference.
        target: Spanned<ContactTarget>,
        /// The value.
        value: Expr,
    },
    /// `step NAME { ... }`
    Step {
        /// The step's name, a `goto` target.
        name: Name,
        /// Its statements.
        body: Block,
    },
    /// `goto NAME`
    Goto {
        /// The step to jump to.
        target: Name,
    },
    /// `email TO subject TEMPLATE body TEMPLATE`
    Email {
        /// Recipient.
        to: Template,
        /// Subject line.
        subject: Template,
        /// Body text.
        body: Template,
    },
    /// `respond CODE [{ ... }]`
    Respond(Box<Respond>),
    /// `stop`
    Stop,
    /// `enter FLOW [terminal] [{ on expired { ... } }]`: runs another flow for the same contact and goes
    /// on when it completes (RapidPro's enter_flow).
    Enter {
        /// The flow entered.
        flow: Name,
        /// `terminal`: the contact is handed over and this run ends (it never comes back).
        terminal: Option<Span>,
        /// `on expired` blocks, run when the entered flow expires (one is valid; the checker reports
        /// more).
        on_expired: Vec<Block>,
    },
    /// A statement that did not parse (its syntax error is reported). What can be read of it is kept so
    /// that the rest of the flow is checked as if it were there: `set total = @flow.` still defines
    /// `@flow.total`, and `step ask {` with an error inside is still a `goto` target.
    Error {
        /// The keyword it starts with, if it is one (`set`, `wait`, ...).
        keyword: Option<String>,
        /// The name it defines: `set NAME`, `wait NAME`, `webhook NAME`, `split NAME =`, `step NAME`.
        name: Option<Name>,
        /// The `@flow.NAME`s written in it, so that the results they read are not reported as unread.
        reads: Vec<Name>,
    },
}

/// The parts of a contact that a flow can set (RapidPro's "update contact").
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactTarget {
    /// `@contact.name`
    Name,
    /// `@contact.language`
    Language,
    /// `@contact.timezone`
    Timezone,
    /// `@contact.fields.KEY`
    Field(String),
    /// `@contact.groups += NAME`
    GroupAdd,
    /// `@contact.groups -= NAME`
    GroupRemove,
}

impl ContactTarget {
    /// The reference that names it, e.g. `@contact.fields.age`.
    pub fn reference(&self) -> String {
        match self {
            ContactTarget::Name => "@contact.name".into(),
            ContactTarget::Language => "@contact.language".into(),
            ContactTarget::Timezone => "@contact.timezone".into(),
            ContactTarget::Field(k) => format!("@contact.fields.{k}"),
            ContactTarget::GroupAdd | ContactTarget::GroupRemove => "@contact.groups".into(),
        }
    }

    /// How it is set: `=`, or `+=` / `-=` for groups.
    pub fn op(&self) -> &'static str {
        match self {
            ContactTarget::GroupAdd => "+=",
            ContactTarget::GroupRemove => "-=",
            _ => "=",
        }
    }
}

/// A duration in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration {
    /// Milliseconds.
    pub millis: u64,
}

/// HTTP methods a webhook can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    /// GET
    GET,
    /// POST
    POST,
    /// PUT
    PUT,
    /// PATCH
    PATCH,
    /// DELETE
    DELETE,
}

impl Method {
    /// Every method a webhook may use, in the order messages list them.
    pub const ALL: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    /// The methods a trigger may accept (docs/language.md §3).
    pub const TRIGGER: [Method; 4] = [Method::POST, Method::GET, Method::DELETE, Method::PATCH];

    /// The names of `methods`, joined by `sep` (`GET, POST, ...`).
    pub fn list(methods: &[Method], sep: &str) -> String {
        methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(sep)
    }

    /// Parses an upper-case method name.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
        }
    }

    /// Whether the method carries a body by default.
    pub fn has_body(self) -> bool {
        matches!(self, Method::POST | Method::PUT | Method::PATCH)
    }
}

/// `webhook NAME METHOD URL { options }`
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    /// The call's name: `@flow.NAME`, `@webhook.NAME.*`.
    pub name: Name,
    /// The HTTP method.
    pub method: Spanned<Method>,
    /// The URL template.
    pub url: Template,
    /// `header "K" = EXPR`
    pub headers: Vec<(Spanned<String>, Expr)>,
    /// `query "k" = EXPR`
    pub query: Vec<(Spanned<String>, Expr)>,
    /// `auth CONNECTOR`
    pub auth: Option<Name>,
    /// `body json|xml|text|form ...`
    pub body: Option<Spanned<Body>>,
    /// `timeout DURATION`
    pub timeout: Option<Spanned<Duration>>,
    /// `retries N` as written (validated by the checker).
    pub retries: Option<Spanned<f64>>,
    /// `backoff DURATION`
    pub backoff: Option<Spanned<Duration>>,
    /// `expect json { ... }`
    pub expect: Option<Shape>,
    /// `on failure { ... }`
    pub on_failure: Option<Block>,
}

/// A request or response body.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// `json { ... }`
    Json(Json),
    /// `xml "..."`
    Xml(Template),
    /// `text "..."`
    Text(Template),
    /// `form { k: EXPR }`
    Form(Vec<(Spanned<String>, Expr)>),
}

/// A JSON literal whose values may be expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `{ "k": v, k: v }`
    Object(Vec<(Spanned<String>, Json)>, Span),
    /// `[a, b]`
    Array(Vec<Json>, Span),
    /// Any expression, including string templates and numbers.
    Expr(Expr),
}

/// `split [NAME =] EXPR { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// `NAME =`: saves the result.
    pub result: Option<Name>,
    /// What is tested.
    pub operand: Expr,
    /// The cases, in order.
    pub cases: Vec<Case>,
    /// `other { ... }`
    pub other: Option<Block>,
}

/// `case TEST [as Category] { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The test.
    pub test: Test,
    /// `as Category`
    pub category: Option<Spanned<String>>,
    /// What runs when it matches.
    pub body: Block,
    /// The whole case.
    pub span: Span,
}

/// A split test.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    /// What it is.
    pub kind: TestKind,
    /// Where it was written.
    pub span: Span,
}

/// The two forms of tests.
#[derive(Clone, Debug, PartialEq)]
pub enum TestKind {
    /// `== EXPR`, `< EXPR`, ...
    Compare {
        /// The operator.
        op: BinaryOp,
        /// The right-hand side.
        value: Expr,
    },
    /// `has_any_word "a b"`, `has_number_between 1 10`, ...
    Named {
        /// The test's name as written.
        name: Spanned<String>,
        /// Its arguments.
        args: Vec<Expr>,
    },
}

/// `respond CODE { ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Respond {
    /// The status.
    pub status: RespondStatus,
    /// `header "K" = EXPR`
    pub headers: Vec<(Spanned<String>, Expr)>,
    /// `body json {...}` or `body text "..."`
    pub body: Option<Spanned<Body>>,
}

/// The status of a `respond`.
#[derive(Clone, Debug, PartialEq)]
pub enum RespondStatus {
    /// `respond 200`
    Code(Spanned<u32>),
    /// `respond status EXPR`
    Dynamic(Expr),
}
