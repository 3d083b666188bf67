//! The checker: names, types and definite assignment over the control-flow graph (docs/language.md §7).
//! Takes a parsed [`SourceFile`], returns every diagnostic it finds; it never stops at the first.

mod cfg;
mod channel;
pub(crate) mod defs;
pub(crate) mod enter;
pub(crate) mod flow;
pub mod model;
mod url;

use std::collections::HashMap;

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{Span, Spanned};

/// Checks a parsed file. `src` is the file's text (for line numbers in path descriptions).
pub fn check(src: &str, file: &SourceFile) -> Vec<Diagnostic> {
    run(src, file, false).0
}

/// Checks a parsed file and returns what it learned too: definitions, uses and types
/// ([`model::Model`]), for editors.
pub fn check_with_model(src: &str, file: &SourceFile) -> (Vec<Diagnostic>, model::Model) {
    run(src, file, true)
}

/// Checks; builds the model only when `want_model` (batch checking does not pay for it).
fn run(src: &str, file: &SourceFile, want_model: bool) -> (Vec<Diagnostic>, model::Model) {
    let mut diags = Vec::new();
    duplicates(file.flows.iter().map(|f| &f.name), "flow", &mut diags);
    duplicates(file.connectors.iter().map(|c| &c.name), "connector", &mut diags);
    for c in &file.connectors {
        connector(c, &mut diags);
    }
    let mut starters: HashMap<&str, Vec<&Trigger>> = HashMap::new();
    let mut suffixes: HashMap<&str, Span> = HashMap::new();
    for t in &file.triggers {
        trigger(t, file, &mut diags);
        if let Some(&first) = suffixes.get(t.suffix.node.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    t.suffix.span,
                    format!("two triggers listen on \"{}\"", t.suffix.node),
                    "second trigger",
                )
                .with_label(first, "first trigger")
                .with_help("give each trigger its own suffix, or list several methods on one trigger"),
            );
        } else {
            suffixes.insert(&t.suffix.node, t.suffix.span);
        }
        if let Some(start) = t.starts.first() {
            starters.entry(start.node.as_str()).or_default().push(t);
        }
    }
    let mut listening: HashMap<String, Span> = suffixes.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    channel::channels(src, file, &mut listening, &mut diags);
    channel::message_triggers(file, &mut diags);
    let lines = crate::span::LineIndex::new(src);
    let (enters, enter_diags) = enter::Enters::of(src, &lines, file);
    diags.extend(enter_diags);
    let at = flow::InFile { src, lines: &lines, file, enters: &enters };
    // Flows are checked independently, on several threads for large files.
    let per_flow = crate::parallel::map_chunked(
        &file.flows,
        |f| f.span.len(),
        |flows| {
            let mut diags = Vec::new();
            let mut types = Vec::new();
            let mut definite = Vec::new();
            for f in flows {
                let triggers = starters.get(f.name.node.as_str()).cloned().unwrap_or_default();
                let model = want_model.then_some((&mut types, &mut definite));
                flow::FlowChecker::run(&at, f, &triggers, &mut diags, model);
            }
            (diags, types, definite)
        },
    );
    let mut model = if want_model { model::resolve(file) } else { model::Model::default() };
    if want_model {
        for f in &file.flows {
            let name = f.name.node.as_str();
            let children = enters.child_names(name);
            if !children.is_empty() {
                model.children.push((name.to_string(), children.iter().map(|s| s.to_string()).collect()));
            }
            if let Some(parent) = enters.parent(name) {
                model.parents.push((name.to_string(), parent.iter().map(|(n, _)| n.clone()).collect()));
            }
        }
    }
    for (d, t, defined) in per_flow {
        diags.extend(d);
        model.types.extend(t);
        model.definite.extend(defined);
    }
    (diags, model)
}

/// One file of a project, as `flowc check` and `flowc serve` see it.
pub struct ProjectFile<'a> {
    /// The path as shown in messages.
    pub name: &'a str,
    /// The text.
    pub src: &'a str,
    /// What parsed.
    pub file: &'a SourceFile,
}

/// The rules across the files given together (docs/language.md §8), the same that `flowc serve` enforces
/// before it starts: flow names and trigger suffixes are unique across files. Returns the diagnostics
/// of each file, in the order of `files`; the first definition wins and each later one is reported.
/// Duplicates within one file are [`check`]'s.
pub fn project(files: &[ProjectFile<'_>]) -> Vec<Vec<Diagnostic>> {
    let mut out: Vec<Vec<Diagnostic>> = files.iter().map(|_| Vec::new()).collect();
    let mut flows: HashMap<&str, (usize, Span)> = HashMap::new();
    let mut suffixes: HashMap<&str, (usize, Span, &str)> = HashMap::new();
    let mut channels: HashMap<&str, (usize, Span)> = HashMap::new();
    let mut keywords: HashMap<(String, Option<&str>), (usize, Span)> = HashMap::new();
    let mut indexes: HashMap<usize, crate::span::LineIndex> = HashMap::new();
    let mut place = |i: usize, span: Span| {
        let f = &files[i];
        let index = indexes.entry(i).or_insert_with(|| crate::span::LineIndex::new(f.src));
        let (line, column) = index.line_col(f.src, span.start);
        format!("{}:{line}:{column}", f.name)
    };
    for (i, f) in files.iter().enumerate() {
        for flow in &f.file.flows {
            match flows.get(flow.name.node.as_str()) {
                Some(&(first, span)) if first != i => out[i].push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        flow.name.span,
                        format!("the flow `{}` is also defined in {}", flow.name.node, place(first, span)),
                        "defined again",
                    )
                    .with_help(
                        "flow names are unique across the files checked and served together \
                         (`flowc serve` would refuse to start); rename one of them",
                    ),
                ),
                Some(_) => {}
                None => {
                    flows.insert(&flow.name.node, (i, flow.name.span));
                }
            }
        }
        for c in &f.file.channels {
            match channels.get(c.name.node.as_str()) {
                Some(&(first, span)) if first != i => out[i].push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        c.name.span,
                        format!("the channel `{}` is also defined in {}", c.name.node, place(first, span)),
                        "defined again",
                    )
                    .with_help(
                        "channel names are unique across the files served together: a contact's channel is \
                         found by name; rename one of them",
                    ),
                ),
                Some(_) => {}
                None => {
                    channels.insert(&c.name.node, (i, c.name.span));
                }
            }
        }
        for t in &f.file.message_triggers {
            let channel = t.channel.as_ref().map(|c| c.node.as_str());
            let mut keys: Vec<(String, Span)> =
                t.words.iter().map(|w| (w.node.trim().to_lowercase(), w.span)).collect();
            if t.catchall {
                keys.push((String::new(), t.span));
            }
            for (word, span) in keys {
                match keywords.get(&(word.clone(), channel)) {
                    Some(&(first, at)) if first != i => {
                        let what =
                            if word.is_empty() { "a catchall".to_string() } else { format!("the keyword \"{word}\"") };
                        out[i].push(
                            Diagnostic::new(
                                Code::MessageTrigger,
                                span,
                                format!("{what} is also taken by a trigger in {}", place(first, at)),
                                "taken twice",
                            )
                            .with_help("the first trigger would always win; keep one per channel across the files served together"),
                        )
                    }
                    Some(_) => {}
                    None => {
                        keywords.insert((word, channel), (i, span));
                    }
                }
            }
        }
        let receives = f.file.channels.iter().flat_map(|c| c.kind.receives().map(|(s, _)| (s, "a channel")));
        for (suffix, kind) in f.file.triggers.iter().map(|t| (&t.suffix, "a trigger")).chain(receives) {
            match suffixes.get(suffix.node.as_str()) {
                Some(&(first, span, other)) if first != i => out[i].push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        suffix.span,
                        format!("{other} in {} already listens on \"{}\"", place(first, span), suffix.node),
                        "second one",
                    )
                    .with_help(
                        "the paths of triggers and channels are unique across the files served together; give \
                         this one its own suffix, or list several methods on one trigger",
                    ),
                ),
                Some(_) => {}
                None => {
                    suffixes.insert(&suffix.node, (i, suffix.span, kind));
                }
            }
        }
    }
    out
}

/// Reports names that occur twice.
fn duplicates<'a>(names: impl Iterator<Item = &'a Name>, what: &str, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for n in names {
        if let Some(&first) = seen.get(n.node.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    n.span,
                    format!("the {what} `{}` is defined twice", n.node),
                    format!("second {what}"),
                )
                .with_label(first, format!("first {what}"))
                .with_help(format!("rename one of them; {what} names are unique")),
            );
        } else {
            seen.insert(&n.node, n.span);
        }
    }
}

fn connector(c: &Connector, diags: &mut Vec<Diagnostic>) {
    let secrets: Vec<(&Expr, &str)> = match &c.auth {
        ConnectorAuth::Basic { user, password } => vec![(user, "user"), (password, "password")],
        ConnectorAuth::Bearer { token } => vec![(token, "token")],
        ConnectorAuth::ApiKey { value, .. } => vec![(value, "key")],
    };
    for (e, what) in secrets {
        match &e.kind {
            ExprKind::Env(name) => {
                if !valid_env_name(&name.node) {
                    diags.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            name.span,
                            format!("\"{}\" is not an environment variable name", name.node),
                            "invalid name",
                        )
                        .with_help("environment variable names use letters, digits and `_`, e.g. ORDERS_TOKEN"),
                    );
                }
            }
            ExprKind::Str(t) if t.as_literal().is_some() && what == "user" => {}
            ExprKind::Str(_) | ExprKind::Number(_) => diags.push(
                Diagnostic::new(
                    Code::LiteralSecret,
                    e.span,
                    format!("the connector's {what} is written into the file"),
                    "secret in source",
                )
                .with_help(format!(
                    "read it from the environment: `env \"{}_{}\"`",
                    c.name.node.to_uppercase(),
                    what.to_uppercase()
                )),
            ),
            _ => diags.push(
                Diagnostic::new(
                    Code::TypeMismatch,
                    e.span,
                    format!("a connector's {what} must be `env \"VAR\"` or literal text"),
                    "not allowed here",
                )
                .with_help("connectors are read when the file loads; they cannot use flow variables"),
            ),
        }
    }
}

fn valid_env_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !s.as_bytes()[0].is_ascii_digit()
}

fn trigger(t: &Trigger, file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    suffix_rules(&t.suffix, "trigger", diags);
    methods_rules(t, diags);
    if let Some(auth) = &t.auth {
        auth_rules(auth, file, diags);
    }
    expects_rules(t, diags);
    starts_rules(&t.starts, t.span, file, diags);
    channel::start_for(t, file, diags);
}

/// The rules for a path that `flowc serve` listens on: a trigger's suffix or a channel's `receive`.
fn suffix_rules(at: &Spanned<String>, kind: &str, diags: &mut Vec<Diagnostic>) {
    let suffix = &at.node;
    if !suffix.starts_with('/') {
        diags.push(
            Diagnostic::new(
                Code::InvalidSuffix,
                at.span,
                format!("the suffix \"{suffix}\" does not start with `/`"),
                "missing leading `/`",
            )
            .with_help(format!("write \"/{}\"", suffix.trim_start_matches('/'))),
        );
    }
    if suffix.chars().any(char::is_whitespace) {
        diags.push(
            Diagnostic::new(
                Code::InvalidSuffix,
                at.span,
                format!("a {kind} suffix cannot contain spaces"),
                "contains a space",
            )
            .with_help(format!(
                "use hyphens or underscores instead, e.g. \"{}\"",
                suffix.split_whitespace().collect::<Vec<_>>().join("-")
            )),
        );
    } else if let Some(bad) = suffix.chars().find(|c| !(c.is_ascii_alphanumeric() || "/-_.~".contains(*c))) {
        diags.push(
            Diagnostic::new(
                Code::InvalidSuffix,
                at.span,
                format!("`{bad}` is not allowed in a {kind} suffix"),
                "invalid character",
            )
            .with_help("suffixes use letters, digits and - _ . ~ /"),
        );
    }
    if let Some(what) = crate::net::server_path(suffix) {
        let first = suffix.trim_start_matches('/').split('/').next().unwrap_or_default();
        diags.push(
            Diagnostic::new(
                Code::InvalidSuffix,
                at.span,
                format!("\"{suffix}\" belongs to `flowc serve`'s {what}, so this {kind} would never run"),
                "taken by the server",
            )
            .with_help(format!(
                "choose another suffix, e.g. \"/hooks/{}\"; paths under /{first} belong to the server",
                suffix.trim_start_matches('/')
            )),
        );
    }
}

fn methods_rules(t: &Trigger, diags: &mut Vec<Diagnostic>) {
    let mut seen: Vec<&str> = Vec::new();
    let allowed = |name: &str| Method::parse(name).is_some_and(|m| Method::TRIGGER.contains(&m));
    for m in &t.methods {
        let upper = m.node.to_ascii_uppercase();
        if !allowed(&m.node) {
            let help = if allowed(&upper) {
                format!("methods are written in upper case: `{upper}`")
            } else {
                format!("a trigger accepts {}", Method::list(&Method::TRIGGER, ", "))
            };
            diags.push(
                Diagnostic::new(
                    Code::TriggerMethod,
                    m.span,
                    format!("`{}` is not a trigger method", m.node),
                    "not allowed",
                )
                .with_help(help),
            );
        } else if seen.contains(&m.node.as_str()) {
            diags.push(
                Diagnostic::new(Code::DuplicateName, m.span, format!("`{}` is listed twice", m.node), "listed before")
                    .with_help("list each method once"),
            );
        }
        seen.push(&m.node);
    }
}

/// An incoming request's authentication: an `api_key` connector or a signature secret.
fn auth_rules(auth: &TriggerAuth, file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    match Some(auth) {
        Some(TriggerAuth::Connector(name)) => match file.connectors.iter().find(|c| c.name.node == name.node) {
            None if is_broken(file, "connector", &name.node) => {}
            None => diags.push(unknown_connector(name, file)),
            Some(c) if !matches!(c.auth, ConnectorAuth::ApiKey { .. }) => diags.push(
                Diagnostic::new(
                    Code::TriggerAuth,
                    name.span,
                    format!("`{}` is not an `api_key` connector", name.node),
                    "cannot check incoming requests",
                )
                .with_label(c.name.span, "defined here")
                .with_help(
                    "incoming requests are authenticated by an `api_key` connector or `auth signature env \"SECRET\"`",
                ),
            ),
            Some(_) => {}
        },
        Some(TriggerAuth::Signature { env }) if !valid_env_name(&env.node) => diags.push(
            Diagnostic::new(
                Code::TypeMismatch,
                env.span,
                format!("\"{}\" is not an environment variable name", env.node),
                "invalid name",
            )
            .with_help("environment variable names use letters, digits and `_`, e.g. WEBHOOK_SECRET"),
        ),
        _ => {}
    }
}

fn expects_rules(t: &Trigger, diags: &mut Vec<Diagnostic>) {
    let twice = |span: Span, first: Span, message: String, help: &str| {
        Diagnostic::new(Code::DuplicateOption, span, message, "second one")
            .with_label(first, "first one")
            .with_help(help)
    };
    let (mut body, mut headers, mut queries): (Option<Span>, Vec<&Spanned<String>>, Vec<&Spanned<String>>) =
        (None, vec![], vec![]);
    for e in &t.expects {
        match e {
            Expect::Body(shape) => {
                if let Some(first) = body {
                    diags.push(twice(
                        shape.span,
                        first,
                        "`expect body` is given twice".into(),
                        "declare the body once",
                    ));
                }
                body = Some(shape.span);
            }
            Expect::Header(name, _) => {
                let norm = crate::net::header_key(&name.node);
                if let Some(first) = headers.iter().find(|h| crate::net::header_key(&h.node) == norm) {
                    let message = format!("header \"{}\" is declared twice", name.node);
                    diags.push(twice(
                        name.span,
                        first.span,
                        message,
                        "header names are compared without regard to case",
                    ));
                }
                headers.push(name);
            }
            Expect::Query(name, _) => {
                if let Some(first) = queries.iter().find(|q| q.node == name.node) {
                    let message = format!("query \"{}\" is declared twice", name.node);
                    diags.push(twice(name.span, first.span, message, "declare each parameter once"));
                }
                queries.push(name);
            }
        }
    }
}

/// A trigger starts exactly one flow, defined in the file.
fn starts_rules(starts: &[Name], span: Span, file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    match starts {
        [] => diags.push(
            Diagnostic::new(Code::TriggerStart, span, "this trigger starts no flow", "no `start`")
                .with_help("add `start FLOW` inside the trigger's block"),
        ),
        [start, rest @ ..] => {
            for extra in rest {
                diags.push(
                    Diagnostic::new(
                        Code::TriggerStart,
                        extra.span,
                        "a trigger starts exactly one flow",
                        "second `start`",
                    )
                    .with_label(start.span, "first `start`")
                    .with_help("use one trigger per flow"),
                );
            }
            if !file.flows.iter().any(|f| f.name.node == start.node) && !is_broken(file, "flow", &start.node) {
                let close = did_you_mean(&start.node, file.flows.iter().map(|f| f.name.node.as_str()));
                let help = match close {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "name a flow defined in this file".to_string(),
                };
                diags.push(
                    Diagnostic::new(
                        Code::UnknownFlow,
                        start.span,
                        format!("there is no flow `{}`", start.node),
                        "unknown flow",
                    )
                    .with_help(help)
                    .with_fix(start.span, close),
                );
            }
        }
    }
}

/// Whether an item of this kind and name exists but failed to parse (already reported).
pub(crate) fn is_broken(file: &SourceFile, kind: &str, name: &str) -> bool {
    file.broken.iter().any(|(k, n)| k == kind && n == name)
}

/// How a header name is read in references: lower case, `-` as `_`.
pub(crate) fn unknown_connector(name: &Name, file: &SourceFile) -> Diagnostic {
    let close = did_you_mean(&name.node, file.connectors.iter().map(|c| c.name.node.as_str()));
    let help = match close {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("define it: `connector {} bearer env \"TOKEN\"`", name.node),
    };
    Diagnostic::new(
        Code::UnknownConnector,
        name.span,
        format!("there is no connector `{}`", name.node),
        "unknown connector",
    )
    .with_help(help)
    .with_fix(name.span, close)
}
