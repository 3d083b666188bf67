//! Top-level items besides flows: connectors, triggers, message triggers, channels, `expect` shapes.

use crate::span::{Span, Spanned};

use super::{Expr, Name, Webhook};

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
    /// `rate N/s`: at most this many messages leave through it a second (`None`: as written, none).
    pub rate: Option<Spanned<Rate>>,
    /// The whole item.
    pub span: Span,
}

/// `rate N/UNIT`: N messages per unit of time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// How many messages.
    pub count: u64,
    /// Per how many milliseconds (1,000, 60,000 or 3,600,000).
    pub per_ms: u64,
}

impl Rate {
    /// Messages a second.
    pub fn per_second(self) -> f64 {
        self.count as f64 * 1000.0 / self.per_ms as f64
    }
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
