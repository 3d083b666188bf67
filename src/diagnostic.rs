//! Diagnostics: stable codes, severities, labelled spans and help, rendered with miette.
//!
//! Every stage returns plain [`Diagnostic`] values (data apart from wording); rendering to text or JSON
//! happens only at the edge, in the CLI.

use std::fmt;

use crate::span::{LineIndex, Span};

macro_rules! codes {
    ($($variant:ident => $group:literal / $name:literal : $summary:literal,)*) => {
        /// Every stable diagnostic code. Each has a page in `docs/codes/` that `flowc explain` prints.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// All codes, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable name, e.g. `flowc::check::undefined_variable`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!("flowc::", $group, "::", $name),)*
                }
            }

            /// The documentation page (Markdown).
            pub fn page(self) -> &'static str {
                match self {
                    $(Code::$variant => include_str!(concat!("../docs/codes/", $group, "/", $name, ".md")),)*
                }
            }

            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }
        }
    };
}

codes! {
    Unexpected => "syntax" / "unexpected": "The parser met something it did not expect.",
    UnterminatedString => "syntax" / "unterminated_string": "A string has no closing quote on its line.",
    InvalidEscape => "syntax" / "invalid_escape": "A backslash escape that strings do not support.",
    ControlCharacter => "syntax" / "control_character": "A raw control character (such as a tab) inside a string.",
    InvalidUtf8 => "syntax" / "invalid_utf8": "A file that is not UTF-8 text.",
    UnclosedBlock => "syntax" / "unclosed_block": "A `{` that is never closed.",
    TooDeep => "syntax" / "too_deep": "Nesting or an expression beyond the parser's limits.",
    DurationUnit => "syntax" / "duration_unit": "A duration without a valid unit.",
    InvalidMethod => "syntax" / "invalid_method": "An HTTP method that is not an upper-case method name.",
    ChainedComparison => "syntax" / "chained_comparison": "Two comparisons in a row without parentheses.",
    DuplicateOption => "syntax" / "duplicate_option": "An option written twice in one webhook, wait or respond.",
    ReservedName => "syntax" / "reserved_name": "A keyword used as a name.",
    IndexInTemplate => "syntax" / "index_in_template": "`[index]` right after a reference inside a string, which templates do not read.",
    UnknownType => "syntax" / "unknown_type": "A shape type other than text, number, bool, json, [T] or { ... }.",
    SetTarget => "syntax" / "set_target": "`set` of a reference that a flow cannot set.",
    UndefinedVariable => "check" / "undefined_variable": "A variable read where some path has not defined it.",
    ExtraBeforeWebhook => "check" / "extra_before_webhook": "`@extra` read where no webhook has succeeded on some path.",
    NoTrigger => "check" / "no_trigger": "`@trigger` in a flow that no trigger starts.",
    UnknownVariable => "check" / "unknown_variable": "A reference to a variable that does not exist anywhere.",
    UnknownKey => "check" / "unknown_key": "A key outside a declared shape.",
    TypeMismatch => "check" / "type_mismatch": "A value of the wrong type for its place.",
    UnknownStep => "check" / "unknown_step": "`goto` to a step that does not exist.",
    DuplicateName => "check" / "duplicate_name": "Two things of one kind with the same name.",
    InvalidUrl => "check" / "invalid_url": "A webhook URL that cannot be sent.",
    InsecureUrl => "check" / "insecure_url": "A plain `http://` URL to a host that is not loopback.",
    InvalidSuffix => "check" / "invalid_suffix": "A trigger suffix that does not start with `/`, has spaces, or is a path the server answers itself.",
    RetriesRange => "check" / "retries_range": "`retries` outside 0 to 4.",
    InvalidStatus => "check" / "invalid_status": "A `respond` status code outside 200, 201, 202, 204.",
    UnknownConnector => "check" / "unknown_connector": "`auth` names a connector that does not exist.",
    InvalidRegex => "check" / "invalid_regex": "A `has_pattern` regular expression that does not compile.",
    EmptyRange => "check" / "empty_range": "`has_number_between MIN MAX` with MIN greater than MAX.",
    UnknownTest => "check" / "unknown_test": "A split test name that does not exist.",
    TestArguments => "check" / "test_arguments": "A split test with the wrong number or kind of arguments.",
    UnknownFunction => "check" / "unknown_function": "A call to a function that does not exist.",
    FunctionArguments => "check" / "function_arguments": "A function called with the wrong number of arguments.",
    UnknownFlow => "check" / "unknown_flow": "A trigger starts, or an `enter` runs, a flow that does not exist.",
    EnterCycle => "check" / "enter_cycle": "Flows that enter each other before they wait, stop or end, so a run would never end.",
    UnknownChannel => "check" / "unknown_channel": "A trigger names a channel that does not exist.",
    ChannelLines => "check" / "channel_lines": "An external channel without exactly one `receive` and one `send`, or with a `send` option that channels do not take.",
    MessageTrigger => "check" / "message_trigger": "A keyword or catchall trigger that cannot work as written.",
    TriggerStart => "check" / "trigger_start": "A trigger without exactly one `start`.",
    TriggerMethod => "check" / "trigger_method": "A trigger method other than POST, GET, DELETE, PATCH.",
    TriggerAuth => "check" / "trigger_auth": "A trigger authenticated by a connector that is not `api_key`.",
    MissingRespond => "check" / "missing_respond": "A path that ends without `respond` while another path responds.",
    DoubleRespond => "check" / "double_respond": "Two `respond`s on one path.",
    WaitWithoutContact => "check" / "wait_without_contact": "A `wait` that runs without a contact to reach, where it can only expire.",
    WaitBeforeRespond => "check" / "wait_before_respond": "A `wait` before the `respond` the caller is waiting for.",
    RespondWithoutTrigger => "check" / "respond_without_trigger": "`respond` in a flow that no trigger starts.",
    TimeoutBlock => "check" / "timeout_block": "An `on timeout` without a `timeout`, an `on expired` on a terminal `enter`, or more than one of either.",
    NumbersDecimal => "check" / "numbers_decimal": "A misplaced or invalid `numbers decimal`.",
    DatesOrder => "check" / "dates_order": "A misplaced or unknown `dates` setting.",
    DateLiteral => "check" / "date_literal": "A date, unit, date format or time zone written in the flow that cannot be read.",
    EnvOutsideConnector => "check" / "env_outside_connector": "`env \"X\"` outside a connector or signature.",
    DurationRange => "check" / "duration_range": "A duration of zero or beyond its limit.",
    Unreachable => "check" / "unreachable": "Statements that no path reaches.",
    UnusedResult => "check" / "unused_result": "A result that nothing reads.",
    UnhandledFailure => "check" / "unhandled_failure": "A webhook whose failure nothing handles.",
    SuspiciousReference => "check" / "suspicious_reference": "Literal `@text` that looks like a misspelt variable.",
    LiteralSecret => "check" / "literal_secret": "A connector secret written into the file instead of `env`.",
}

impl Code {
    /// Finds a code by its full name (`flowc::check::unknown_step`) or its last part (`unknown_step`).
    pub fn lookup(name: &str) -> Option<Code> {
        let name = name.trim();
        Code::ALL.iter().copied().find(|c| c.as_str() == name || c.as_str().rsplit("::").next() == Some(name))
    }

    /// The severity diagnostics with this code have.
    pub fn severity(self) -> Severity {
        match self {
            Code::Unreachable
            | Code::UnusedResult
            | Code::UnhandledFailure
            | Code::SuspiciousReference
            | Code::LiteralSecret
            | Code::WaitWithoutContact => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is wrong; `flowc check` exits 1.
    Error,
    /// Probably a mistake; exits 1 only under `--deny-warnings`.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A labelled span.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there.
    pub text: String,
}

/// An exact fix: replace the text at `span` with `replacement` (an editor's quick fix).
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// What to replace.
    pub span: Span,
    /// The new text.
    pub replacement: String,
}

/// One finding about a source file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning (from the code).
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The primary label first, then related places.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// Exact fixes, when there is one (a did-you-mean, `http://` → `https://`, `get` → `GET`).
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    /// A diagnostic with `code` at `span`, labelled `label`.
    pub fn new(code: Code, span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: vec![Label { span, text: label.into() }],
            help: None,
            fixes: Vec::new(),
        }
    }

    /// Adds an exact fix: `replacement` instead of the text at `span` (nothing when it is `None`).
    pub fn with_fix(mut self, span: Span, replacement: Option<impl Into<String>>) -> Self {
        if let Some(r) = replacement {
            self.fixes.push(Fix { span, replacement: r.into() });
        }
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into() });
        self
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels.first().map_or(Span::default(), |l| l.span)
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic as miette does, with the source excerpt. `color` selects ANSI colours;
    /// without it the output is stable text for snapshots. For many diagnostics of one file, index it
    /// once and use [`Diagnostic::render_indexed`].
    pub fn render(&self, file_name: &str, src: &str, color: bool) -> String {
        self.render_indexed(file_name, src, &LineIndex::new(src), color)
    }

    /// [`Diagnostic::render`] with the file's line index: the cost depends on the excerpt, not on the
    /// file's size, and the column shown is counted in characters, as in the JSON output.
    pub fn render_indexed(&self, file_name: &str, src: &str, index: &LineIndex, color: bool) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_links(false).with_width(100);
        let report = Rendered { diag: self, source: Excerpts { name: file_name, src, index } };
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out
    }

    /// The JSON object `flowc check --format json` prints for this diagnostic: the primary span's start
    /// and end as 1-based lines and character columns, and every secondary label.
    pub fn to_json(&self, file_name: &str, src: &str, index: &LineIndex) -> serde_json::Value {
        let span = self.span();
        let (line, column) = index.line_col(src, span.start);
        let (end_line, end_column) = index.line_col(src, crate::span::ceil_char_boundary(src, span.end));
        let related: Vec<serde_json::Value> = self
            .labels
            .iter()
            .skip(1)
            .map(|l| {
                let (line, column) = index.line_col(src, l.span.start);
                let (end_line, end_column) = index.line_col(src, crate::span::ceil_char_boundary(src, l.span.end));
                serde_json::json!({
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "span": { "start": l.span.start, "end": l.span.end },
                    "label": l.text,
                })
            })
            .collect();
        serde_json::json!({
            "file": file_name,
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "span": { "start": span.start, "end": span.end },
            "severity": self.severity.as_str(),
            "code": self.code.as_str(),
            "message": self.message,
            "label": self.labels.first().map(|l| l.text.as_str()),
            "help": self.help,
            "related": related,
        })
    }
}

/// A copy of `src` with every byte of `spans` masked by `*` (multi-byte characters become several `*`,
/// so byte offsets stay valid). Used to render excerpts without the literal secrets they contain.
pub fn mask(src: &str, spans: &[Span]) -> String {
    if spans.is_empty() {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len());
    for (i, c) in src.char_indices() {
        if spans.iter().any(|s| s.start <= i && i < s.end) && !matches!(c, '"' | '\n') {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// Sorts diagnostics by position, then code, and drops exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| (d.span().start, d.span().end, d.code));
    diags.dedup();
}

struct Rendered<'a> {
    diag: &'a Diagnostic,
    source: Excerpts<'a>,
}

/// A file as miette reads it: each excerpt is cut from the lines around its span with the line index,
/// instead of miette's scan from the start of the file for every label (which made rendering
/// quadratic in the number of diagnostics). Columns are characters, as in the JSON output.
struct Excerpts<'a> {
    name: &'a str,
    src: &'a str,
    index: &'a LineIndex,
}

impl miette::SourceCode for Excerpts<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let (start, end) = (span.offset(), span.offset() + span.len());
        if end > self.src.len() {
            return Err(miette::MietteError::OutOfBounds);
        }
        let first = self.index.line(start).saturating_sub(before);
        // One line more than asked for after the span: miette stops on its own once it has enough.
        let last = self.index.line(end.saturating_sub(1).max(start)) + after + 1;
        let window_start = self.index.line_start(first, self.src);
        let window_end = self.index.line_start(last + 1, self.src);
        let window = &self.src.as_bytes()[window_start..window_end];
        let local = miette::SourceSpan::new((start - window_start).into(), span.len());
        let inner = window.read_span(&local, before, after)?;
        let data_start = inner.span().offset() + window_start;
        let column = if before == 0 {
            // A read without context starts at the span: its column is where the report header points.
            self.index.position(self.src, start).column
        } else {
            inner.column()
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            miette::SourceSpan::new(data_start.into(), inner.span().len()),
            inner.line() + first,
            column,
            inner.line_count() + first,
        )))
    }
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let src_len = self.source.src.len();
        Some(Box::new(self.diag.labels.iter().enumerate().map(move |(i, l)| {
            let start = l.span.start.min(src_len);
            let end = l.span.end.clamp(start, src_len);
            let text = if l.text.is_empty() { None } else { Some(l.text.clone()) };
            if i == 0 {
                miette::LabeledSpan::new_primary_with_span(text, Span::new(start, end))
            } else {
                miette::LabeledSpan::new_with_span(text, Span::new(start, end))
            }
        })))
    }
}

/// Edit distance for did-you-mean suggestions.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}
