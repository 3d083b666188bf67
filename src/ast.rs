//! The syntax tree of a `.flow` file, with spans. Built by [`crate::syntax`], read by the checker and
//! the compiler. Every node keeps the span it was written at; spans are left out of equality.

use crate::span::{Span, Spanned};

/// A name as written (`order_status`, `ask`).
pub type Name = Spanned<String>;

/// A whole file: its top-level items in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceFile {
    /// `flow NAME ["Label"] { ... }`
    pub flows: Vec<Flow>,
    /// `connector NAME ...`
    pub connectors: Vec<Connector>,
    /// `trigger webhook "/suffix" ...`
    pub triggers: Vec<Trigger>,
    /// `trigger keyword ...` and `trigger catchall ...`
    pub message_triggers: Vec<MessageTrigger>,
    /// `channel NAME ...`
    pub channels: Vec<Channel>,
    /// Items that failed to parse, as `(keyword, name)` from their first line, so that the checker does
    /// not also call them unknown.
    pub broken: Vec<(String, String)>,
    /// The span of every string literal, in source order: what is inside one is never a comment.
    pub strings: Vec<Span>,
}

impl SourceFile {
    /// Adds what `later` holds, which comes after what this file holds in the source.
    pub fn append(&mut self, mut later: SourceFile) {
        self.flows.append(&mut later.flows);
        self.connectors.append(&mut later.connectors);
        self.triggers.append(&mut later.triggers);
        self.message_triggers.append(&mut later.message_triggers);
        self.channels.append(&mut later.channels);
        self.broken.append(&mut later.broken);
        self.strings.append(&mut later.strings);
    }
}

/// `flow NAME ["Label"] { statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// The flow's name.
    pub name: Name,
    /// The human label, if any.
    pub label: Option<Spanned<String>>,
    /// The flow's statements.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// `connector NAME basic USER PASSWORD` and the other kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct Connector {
    /// The connector's name.
    pub name: Name,
    /// How it authenticates.
    pub auth: ConnectorAuth,
    /// The whole item.
    pub span: Span,
}

/// The credentials of a connector. The expressions are usually `env "VAR"`.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectorAuth {
    /// `basic USER PASSWORD`
    Basic {
        /// User name.
        user: Expr,
        /// Password.
        password: Expr,
    },
    /// `bearer TOKEN`
    Bearer {
        /// The token.
        token: Expr,
    },
    /// `api_key header "X-Api-Key" VALUE` or `api_key query "key" VALUE`
    ApiKey {
        /// Where the key travels.
        place: KeyPlace,
        /// The header or query parameter name.
        name: Spanned<String>,
        /// The key.
        value: Expr,
    },
}

/// Where an API key travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPlace {
    /// In a request header.
    Header,
    /// In the query string.
    Query,
}

/// `trigger webhook "/suffix" methods POST [auth ...] { expect ...; start FLOW }`
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    /// The URL suffix, e.g. `/orders`.
    pub suffix: Spanned<String>,
    /// Accepted methods as written.
    pub methods: Vec<Spanned<String>>,
    /// Inbound authentication.
    pub auth: Option<TriggerAuth>,
    /// Declared data structure.
    pub expects: Vec<Expect>,
    /// `start FLOW` statements (exactly one is valid).
    pub starts: Vec<Name>,
    /// `for URN via CHANNEL` after the first `start`: the contact the run belongs to.
    pub start_for: Option<StartFor>,
    /// The whole item.
    pub span: Span,
}

/// `start FLOW for URN_EXPR via CHANNEL`: a triggered run that belongs to a contact, so that its
/// messages go out through the channel and its `wait` takes the contact's next message.
#[derive(Clone, Debug, PartialEq)]
pub struct StartFor {
    /// The contact's URN, computed from the request (`"tel:" & @trigger.body.phone`).
    pub urn: Expr,
    /// The channel the contact talks on.
    pub channel: Name,
    /// From `for` to the channel's name.
    pub span: Span,
}

/// `trigger keyword "w1", "w2" [channel NAME] { start FLOW }` or `trigger catchall [channel NAME] { ... }`:
/// a flow started by a contact's message.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageTrigger {
    /// The keywords (none for `catchall`).
    pub words: Vec<Spanned<String>>,
    /// Whether it is `catchall`.
    pub catchall: bool,
    /// `channel NAME`: only messages that arrive on that channel.
    pub channel: Option<Name>,
    /// `start FLOW` lines (exactly one is valid).
    pub starts: Vec<Name>,
    /// `expect` lines, which only webhook triggers take (reported by the checker).
    pub expects: Vec<Span>,
    /// `for ... via ...` clauses, which only webhook triggers take (reported by the checker).
    pub start_for: Vec<Span>,
    /// The whole item.
    pub span: Span,
}

/// `channel NAME KIND ...`: how flows reach people and hear from them (docs/language.md §9).
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// The channel's name.
    pub name: Name,
    /// What kind of channel.
    pub kind: ChannelKind,
    /// The whole item.
    pub span: Span,
}

/// The kinds of channel.
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelKind {
    /// `external { receive "/suffix" [auth ...]; send METHOD "URL" [{ options }] }`: any gateway.
    External {
        /// Its `receive` and `send` lines in source order (exactly one of each is valid).
        lines: Vec<ChannelLine>,
    },
    /// `telegram token env "T" [secret env "S"]`: a Telegram bot; updates arrive at `/channels/NAME`.
    Telegram {
        /// The environment variable that holds the bot token.
        token: Spanned<String>,
        /// The one that holds the webhook's secret token, checked on every update.
        secret: Option<Spanned<String>>,
    },
    /// `twilio account env "SID" token env "T" from "+1..."`: Twilio SMS or WhatsApp; webhooks arrive
    /// at `/channels/NAME`, signed with the auth token.
    Twilio {
        /// The environment variable that holds the account SID.
        account: Spanned<String>,
        /// The one that holds the auth token.
        token: Spanned<String>,
        /// The number messages are sent from (`whatsapp:+1...` for WhatsApp).
        from: Spanned<String>,
    },
}

/// A line of an `external` channel.
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelLine {
    /// `receive "/suffix" [auth ...]`: where the gateway posts incoming messages.
    Receive {
        /// The suffix.
        suffix: Spanned<String>,
        /// Its authentication.
        auth: Option<TriggerAuth>,
        /// The line.
        span: Span,
    },
    /// `send METHOD "URL" [{ options }]`: the request that delivers a message (named after the channel).
    Send {
        /// The request.
        request: Box<Webhook>,
        /// The line.
        span: Span,
    },
}

impl ChannelKind {
    /// The `receive` lines of an external channel: suffix and authentication.
    pub fn receives(&self) -> impl Iterator<Item = (&Spanned<String>, Option<&TriggerAuth>)> {
        let lines: &[ChannelLine] = match self {
            ChannelKind::External { lines } => lines,
            _ => &[],
        };
        lines.iter().filter_map(|l| match l {
            ChannelLine::Receive { suffix, auth, .. } => Some((suffix, auth.as_ref())),
            ChannelLine::Send { .. } => None,
        })
    }

    /// The `send` lines of an external channel.
    pub fn sends(&self) -> impl Iterator<Item = &Webhook> {
        let lines: &[ChannelLine] = match self {
            ChannelKind::External { lines } => lines,
            _ => &[],
        };
        lines.iter().filter_map(|l| match l {
            ChannelLine::Send { request, .. } => Some(&**request),
            ChannelLine::Receive { .. } => None,
        })
    }
}

/// Inbound authentication of a trigger.
#[derive(Clone, Debug, PartialEq)]
pub enum TriggerAuth {
    /// `auth NAME`: an `api_key` connector.
    Connector(Name),
    /// `auth signature env "SECRET"`: Standard Webhooks signatures.
    Signature {
        /// The environment variable that holds the secret.
        env: Spanned<String>,
    },
}

/// One `expect` line of a trigger.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// `expect header "X-Id": text`
    Header(Spanned<String>, Shape),
    /// `expect query page: number`
    Query(Spanned<String>, Shape),
    /// `expect body { ... }`
    Body(Shape),
}

/// A declared data shape: `text`, `[T]`, `{ key: T, key?: T }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// What it is.
    pub kind: ShapeKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of [`Shape`].
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeKind {
    /// `text`
    Text,
    /// `number`
    Number,
    /// `bool`
    Bool,
    /// `json`: anything.
    Json,
    /// `[T]`
    List(Box<Shape>),
    /// `{ key: T, key?: T }`
    Object(Vec<ShapeField>),
}

/// `key: T` or `key?: T` in an object shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeField {
    /// The key.
    pub key: Spanned<String>,
    /// Written with `?`.
    pub optional: bool,
    /// The value's shape.
    pub shape: Shape,
}

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
    /// `send TEMPLATE`
    Send {
        /// The message.
        text: Template,
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
    /// `set NAME = EXPR`
    Set {
        /// Saved as `@flow.NAME`.
        name: Name,
        /// The value.
        value: Expr,
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
}

impl ContactTarget {
    /// The reference that names it, e.g. `@contact.fields.age`.
    pub fn reference(&self) -> String {
        match self {
            ContactTarget::Name => "@contact.name".into(),
            ContactTarget::Language => "@contact.language".into(),
            ContactTarget::Timezone => "@contact.timezone".into(),
            ContactTarget::Field(k) => format!("@contact.fields.{k}"),
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
}

impl Root {
    /// All roots, for did-you-mean.
    pub const ALL: [Root; 6] = [Root::Flow, Root::Extra, Root::Contact, Root::Trigger, Root::Webhook, Root::Input];

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
