//! The compiled program: flat instructions per flow, variables resolved to slots, templates and
//! expressions pre-parsed. This is what `flowc compile` prints (as stable, pretty JSON) and what the
//! interpreter runs. Secrets appear only as environment variable names.

use serde::{Serialize, Serializer};

use crate::ast::{BinaryOp, KeyPlace, Method, Root, UnaryOp};
use crate::function::Function;
use crate::split_test::SplitTest;

/// Every flow, connector and trigger of one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    /// Connectors, referred to by index.
    pub connectors: Vec<ConnectorDef>,
    /// Incoming webhook listeners.
    pub triggers: Vec<TriggerDef>,
    /// Flows that messages start: `trigger keyword` and `trigger catchall`, in source order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub message_triggers: Vec<MessageTriggerDef>,
    /// Channels, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelDef>,
    /// The flows, referred to by index.
    pub flows: Vec<FlowProgram>,
}

/// The signing secret of an inbound `auth`, hidden wherever it could be shown.
fn signing(auth: &Option<TriggerAuthDef>) -> Option<(Source<'_>, bool)> {
    match auth {
        Some(TriggerAuthDef::Signature { env }) => Some((Source::Env(env.as_str()), true)),
        _ => None,
    }
}

/// Where a secret of a trigger or channel comes from.
pub(crate) enum Source<'a> {
    /// An environment variable, by name.
    Env(&'a str),
    /// A header value: from the environment, or literal.
    Value(&'a Secret),
}

impl Program {
    /// Every environment variable the program reads a secret from (connectors, trigger signatures,
    /// channels), sorted and once each: `flowc serve` refuses to start while one is not set, rather
    /// than failing at the first request that needs it.
    pub fn env_names(&self) -> Vec<&str> {
        let mut secrets: Vec<&Secret> = Vec::new();
        for c in &self.connectors {
            match &c.auth {
                AuthDef::Basic { user, password } => secrets.extend([user, password]),
                AuthDef::Bearer { token } => secrets.push(token),
                AuthDef::ApiKey { value, .. } => secrets.push(value),
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (source, _) in self.trigger_and_channel_secrets() {
            match source {
                Source::Env(name) => names.push(name),
                Source::Value(secret) => secrets.push(secret),
            }
        }
        names.extend(secrets.into_iter().filter_map(|s| match s {
            Secret::Env(v) => Some(v.as_str()),
            Secret::Literal(_) => None,
        }));
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The secrets of triggers and channels (signing secrets, channel tokens, gateway header values),
    /// each with whether it is hidden wherever it could be shown: Twilio's account SID and a literal
    /// header value (a content type) are not.
    pub(crate) fn trigger_and_channel_secrets(&self) -> Vec<(Source<'_>, bool)> {
        let mut out: Vec<(Source<'_>, bool)> = self.triggers.iter().filter_map(|t| signing(&t.auth)).collect();
        for c in &self.channels {
            match &c.kind {
                ChannelKindDef::External { auth, send } => {
                    out.extend(signing(auth));
                    out.extend(send.headers.iter().map(|(_, v)| (Source::Value(v), matches!(v, Secret::Env(_)))));
                }
                ChannelKindDef::Telegram { token, secret } => {
                    out.push((Source::Env(token.as_str()), true));
                    out.extend(secret.as_deref().map(|s| (Source::Env(s), true)));
                }
                ChannelKindDef::Twilio { account, token, .. } => {
                    out.push((Source::Env(account.as_str()), false));
                    out.push((Source::Env(token.as_str()), true));
                }
            }
        }
        out
    }
}

/// `trigger keyword ...` or `trigger catchall ...`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageTriggerDef {
    /// The keywords in lower case (empty for a catchall).
    pub words: Vec<String>,
    /// Only messages from this channel.
    pub channel: Option<String>,
    /// Index of the flow it starts.
    pub flow: usize,
}

/// `channel NAME ...`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelDef {
    /// The channel's name.
    pub name: String,
    /// Where its incoming messages arrive (a path of `flowc serve`).
    pub receive: String,
    /// What kind of channel, with its settings.
    pub kind: ChannelKindDef,
    /// Messages a second it sends at most (`rate`, or its kind's default); `None`: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// The kinds of channel, compiled. Secrets are named by environment variable.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKindDef {
    /// Any gateway.
    External {
        /// How incoming requests are authenticated.
        auth: Option<TriggerAuthDef>,
        /// How a message is delivered.
        send: ChannelSend,
    },
    /// A Telegram bot.
    Telegram {
        /// The bot token's environment variable.
        token: String,
        /// The webhook secret's environment variable.
        secret: Option<String>,
    },
    /// Twilio SMS or WhatsApp.
    Twilio {
        /// The account SID's environment variable.
        account: String,
        /// The auth token's environment variable.
        token: String,
        /// The sending number.
        from: String,
    },
}

/// The request that delivers a message through an external channel: `{"id", "to", "text", "run_id"}`
/// as JSON, with the message id as `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelSend {
    /// Method.
    pub method: crate::ast::Method,
    /// The gateway's URL.
    pub url: String,
    /// Connector index.
    pub auth: Option<usize>,
    /// Extra headers.
    pub headers: Vec<(String, Secret)>,
    /// Per attempt.
    pub timeout_ms: u64,
    /// Attempts after the first before the message is marked failed.
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff_ms: u64,
}

/// A connector with its credentials' sources.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectorDef {
    /// The connector's name.
    pub name: String,
    /// How it authenticates.
    pub auth: AuthDef,
}

/// Connector credentials.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthDef {
    /// HTTP Basic.
    Basic {
        /// User name.
        user: Secret,
        /// Password.
        password: Secret,
    },
    /// `Authorization: Bearer ...`
    Bearer {
        /// The token.
        token: Secret,
    },
    /// A key in a header or the query string.
    ApiKey {
        /// Header or query.
        place: KeyPlace,
        /// Header or parameter name.
        name: String,
        /// The key.
        value: Secret,
    },
}

/// Where a credential comes from. A literal (which the checker warns about) is never printed.
#[derive(Clone, Debug, PartialEq)]
pub enum Secret {
    /// `env "VAR"`: read from the environment when used.
    Env(String),
    /// Written into the file.
    Literal(String),
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Secret::Env(name) => map.serialize_entry("env", name)?,
            Secret::Literal(_) => map.serialize_entry("literal", "***")?,
        }
        map.end()
    }
}

/// `trigger webhook "/suffix" ...`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TriggerDef {
    /// URL suffix.
    pub suffix: String,
    /// Accepted methods.
    pub methods: Vec<crate::ast::Method>,
    /// Inbound authentication.
    pub auth: Option<TriggerAuthDef>,
    /// Index of the flow it starts.
    pub flow: usize,
    /// Declared headers (name as sent → shape).
    pub headers: Vec<(String, serde_json::Value)>,
    /// Declared query parameters.
    pub query: Vec<(String, serde_json::Value)>,
    /// Declared body shape.
    pub body: Option<serde_json::Value>,
    /// `start FLOW for URN via CHANNEL`: the contact the run belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<TriggerContact>,
}

/// The contact of a triggered run: its URN computed from the request, and its channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TriggerContact {
    /// The URN.
    pub urn: Ex,
    /// The channel's name.
    pub channel: String,
}

/// Inbound authentication of a trigger.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerAuthDef {
    /// An `api_key` connector, by index.
    Connector(usize),
    /// Standard Webhooks signatures with the secret in this environment variable.
    Signature {
        /// Environment variable name.
        env: String,
    },
}

/// One compiled flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowProgram {
    /// The flow's name.
    pub name: String,
    /// Its label.
    pub label: Option<String>,
    /// The decimal separator for numbers in replies: `.` or `,`.
    pub decimal: char,
    /// How dates in replies are read (`dates`); left out of the compiled output when `day_first`.
    #[serde(default, skip_serializing_if = "crate::program::is_day_first")]
    pub dates: crate::dates::DateOrder,
    /// `@flow.NAME` variables; instructions refer to them by index.
    pub slots: Vec<String>,
    /// Webhook names; `@webhook.NAME` refers to them by index.
    pub webhooks: Vec<String>,
    /// The instructions; the run starts at 0 and completes when it reaches `End`.
    pub code: Vec<Instr>,
    /// Where each `step` begins, in order: a turn that enters steps more than
    /// [`crate::interp::MAX_STEP_VISITS`] times fails (RapidPro's loop guard).
    #[serde(skip)]
    pub step_starts: Vec<usize>,
    /// For review (`flowc compile`'s output), not for running: the statement each instruction comes
    /// from, and a name for each instruction that control jumps to.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where instructions come from, for `flowc compile`'s review format (`crate::compile::review`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    /// The span of the statement each instruction was compiled from (parallel to `code`).
    pub spans: Vec<crate::span::Span>,
    /// Names of jump targets: a step's name, `NAME.timeout`, `NAME.failure`, `SPLIT.CATEGORY`, ...
    pub labels: Vec<(usize, String)>,
}

/// One instruction. Targets are indices into `code`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Instr {
    /// Send a message.
    Send {
        /// The message.
        text: Tpl,
        /// Its quick replies.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        replies: Vec<Tpl>,
    },
    /// Pause for a reply; the reply goes to `slot` and the run resumes at the next instruction. On
    /// timeout the run jumps to `on_timeout`, or ends as expired when there is none.
    Wait {
        /// Variable for the reply.
        slot: usize,
        /// How long to wait.
        timeout_ms: Option<u64>,
        /// Where a timeout continues.
        on_timeout: Option<usize>,
    },
    /// Call a webhook; success continues at the next instruction.
    Webhook(Box<WebhookCall>),
    /// Route on the first matching case.
    Split(Box<SplitInstr>),
    /// Save a value.
    Set {
        /// Variable.
        slot: usize,
        /// Value.
        value: Ex,
        /// Its category (`set NAME = VALUE as Category`).
        #[serde(skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// Update the contact (name, language or a field).
    SetContact {
        /// What is set.
        target: crate::ast::ContactTarget,
        /// Value.
        value: Ex,
    },
    /// Continue at `target`.
    Jump {
        /// Where.
        target: usize,
    },
    /// Send an e-mail.
    Email {
        /// Recipient.
        to: Tpl,
        /// Subject.
        subject: Tpl,
        /// Body.
        body: Tpl,
    },
    /// Answer the incoming webhook.
    Respond(Box<RespondInstr>),
    /// End the run as stopped.
    Stop,
    /// End the run as completed.
    End,
    /// Run another flow for the same contact: when it completes, continue at the next instruction
    /// with its results as `@child`; when it expires, jump to `on_expired`, or end as expired when
    /// there is none. A terminal `enter` ends this run and hands the contact over.
    Enter {
        /// The flow's name.
        flow: String,
        /// Whether the run ends here (`enter FLOW terminal`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        terminal: bool,
        /// Where an expired child continues.
        on_expired: Option<usize>,
    },
}

/// A compiled `webhook` statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebhookCall {
    /// The call's name.
    pub name: String,
    /// Index in `FlowProgram::webhooks`.
    pub webhook: usize,
    /// Variable for the answer (`@flow.NAME`).
    pub slot: usize,
    /// HTTP method.
    pub method: Method,
    /// URL; interpolated values are percent-encoded.
    pub url: Tpl,
    /// Headers.
    pub headers: Vec<(String, Ex)>,
    /// Query parameters.
    pub query: Vec<(String, Ex)>,
    /// Connector index.
    pub auth: Option<usize>,
    /// The body.
    pub body: BodyInstr,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retries after the first attempt (0–4).
    pub retries: u32,
    /// First retry delay; doubles each time, with jitter.
    pub backoff_ms: u64,
    /// Declared answer shape.
    pub expect: Option<serde_json::Value>,
    /// Where a failure continues; `None` fails the run.
    pub on_failure: Option<usize>,
}

/// A request or response body.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyInstr {
    /// No body.
    None,
    /// Every variable collected so far, as JSON (docs/language.md §6).
    Default,
    /// `application/json`
    Json(JsonTpl),
    /// `application/xml`
    Xml(Tpl),
    /// `text/plain; charset=utf-8`
    Text(Tpl),
    /// `application/x-www-form-urlencoded`
    Form(Vec<(String, Ex)>),
}

/// A JSON literal whose leaves are expressions.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonTpl {
    /// An object, keys in source order.
    Object(Vec<(String, JsonTpl)>),
    /// An array.
    Array(Vec<JsonTpl>),
    /// A value.
    Value(Ex),
}

/// A compiled `split`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitInstr {
    /// What is tested.
    pub operand: Ex,
    /// Where `split NAME =` saves the result.
    pub result: Option<usize>,
    /// The cases in order.
    pub cases: Vec<CaseInstr>,
    /// Where the run goes when no case matches (the `other` block or the end of the split).
    pub other: usize,
}

/// One compiled case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseInstr {
    /// The test.
    pub test: TestInstr,
    /// The category name.
    pub category: String,
    /// Where it continues.
    pub target: usize,
}

/// A compiled test.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestInstr {
    /// A named test with its arguments.
    Named {
        /// Which test.
        test: SplitTest,
        /// Its arguments.
        args: Vec<Ex>,
    },
    /// `== EXPR` and friends.
    Compare {
        /// The operator.
        op: BinaryOp,
        /// The right-hand side.
        value: Ex,
    },
}

/// A compiled `respond`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RespondInstr {
    /// The status: a number, or an expression checked at run time.
    pub status: Ex,
    /// Headers.
    pub headers: Vec<(String, Ex)>,
    /// Body.
    pub body: BodyInstr,
}

/// A pre-parsed template: literal text and interpolations.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Tpl(pub Vec<TplPart>);

/// A piece of a template. Literal text prints as a plain JSON string.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TplPart {
    /// Literal text.
    Text(String),
    /// An interpolated value.
    Value(Ex),
}

/// A resolved reference: the root, the slot for `@flow`/`@webhook`, and the key path below it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ref {
    /// The root.
    pub root: Root,
    /// Slot of `@flow.NAME` or index of `@webhook.NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<usize>,
    /// Keys below.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ex {
    /// A constant.
    Lit(serde_json::Value),
    /// A template.
    Tpl(Tpl),
    /// A variable.
    Ref(Ref),
    /// A function call.
    Call(Function, Vec<Ex>),
    /// `x.key`
    Field(Box<Ex>, String),
    /// `x[i]`
    Index(Box<Ex>, Box<Ex>),
    /// `-x`, `!x`
    Unary(UnaryOp, Box<Ex>),
    /// `a op b`
    Binary(BinaryOp, Box<Ex>, Box<Ex>),
}

/// Whether a flow reads dates in the default order (kept out of the compiled output).
pub(crate) fn is_day_first(order: &crate::dates::DateOrder) -> bool {
    *order == crate::dates::DateOrder::DayFirst
}
