//! The rules for channels and for the triggers that messages start (docs/language.md §9).

use std::collections::HashMap;

use super::{auth_rules, is_broken, starts_rules, suffix_rules, unknown_connector};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// Checks every channel; `suffixes` holds the paths the triggers listen on, and gains the channels'.
/// The highest `rate` a channel may have, in messages a second.
const MAX_RATE: f64 = 10_000.0;

pub(super) fn channels(
    src: &str,
    file: &SourceFile,
    suffixes: &mut HashMap<String, Span>,
    diags: &mut Vec<Diagnostic>,
) {
    super::duplicates(file.channels.iter().map(|c| &c.name), "channel", diags);
    for c in &file.channels {
        if let Some(r) = &c.rate
            && (r.node.count == 0 || r.node.per_second() > MAX_RATE)
        {
            diags.push(
                Diagnostic::new(
                    Code::DurationRange,
                    r.span,
                    format!("a channel's rate is 1 message an hour to {MAX_RATE} a second"),
                    "out of range",
                )
                .with_help("write the gateway's limit, as `rate 30/s`; leave `rate` out for no limit"),
            );
        }
        match &c.kind {
            ChannelKind::External { .. } => {}
            ChannelKind::Telegram { token, secret } => {
                env_names([Some(token), secret.as_ref()].into_iter().flatten(), diags);
                continue;
            }
            ChannelKind::Twilio { account, token, from } => {
                env_names([account, token].into_iter(), diags);
                let number = from.node.strip_prefix("whatsapp:").unwrap_or(&from.node);
                let digits = number.strip_prefix('+').unwrap_or_default();
                if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    diags.push(
                        Diagnostic::new(
                            Code::ChannelLines,
                            from.span,
                            format!("\"{}\" is not a phone number in E.164 form", from.node),
                            "not a number",
                        )
                        .with_help("write the Twilio number as \"+15550001111\" (or \"whatsapp:+15550001111\")"),
                    );
                }
                continue;
            }
        }
        let receives: Vec<_> = c.kind.receives().collect();
        let sends: Vec<_> = c.kind.sends().collect();
        lines_once(c, "receive", receives.iter().map(|(s, _)| s.span), "receive \"/sms/in\"", diags);
        lines_once(
            c,
            "send",
            sends.iter().map(|w| w.url.span),
            "send POST \"https://gateway.example.com/send\"",
            diags,
        );
        for (suffix, auth) in receives {
            suffix_rules(suffix, "channel", diags);
            if let Some(auth) = auth {
                auth_rules(auth, file, diags);
            }
            if let Some(&first) = suffixes.get(&suffix.node) {
                diags.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        suffix.span,
                        format!("something else already listens on \"{}\"", suffix.node),
                        "taken",
                    )
                    .with_label(first, "first one")
                    .with_help("give the channel's `receive` a path of its own"),
                );
            } else {
                suffixes.insert(suffix.node.clone(), suffix.span);
            }
        }
        for w in sends {
            send(src, file, w, diags);
        }
    }
}

/// Names of environment variables, which hold a channel's secrets.
fn env_names<'a>(names: impl Iterator<Item = &'a crate::span::Spanned<String>>, diags: &mut Vec<Diagnostic>) {
    for n in names {
        if !super::valid_env_name(&n.node) {
            diags.push(
                Diagnostic::new(
                    Code::TypeMismatch,
                    n.span,
                    format!("\"{}\" is not an environment variable name", n.node),
                    "invalid name",
                )
                .with_help("environment variable names use letters, digits and `_`, e.g. TELEGRAM_TOKEN"),
            );
        }
    }
}

/// Exactly one line of `kind` in channel `c`.
fn lines_once(c: &Channel, kind: &str, spans: impl Iterator<Item = Span>, example: &str, diags: &mut Vec<Diagnostic>) {
    let spans: Vec<Span> = spans.collect();
    match spans.as_slice() {
        [] => diags.push(
            Diagnostic::new(
                Code::ChannelLines,
                c.name.span,
                format!("the channel `{}` has no `{kind}` line", c.name.node),
                format!("no `{kind}`"),
            )
            .with_help(format!("an external channel needs one `{kind}` line, e.g. `{example}`")),
        ),
        [first, rest @ ..] => {
            for extra in rest {
                diags.push(
                    Diagnostic::new(
                        Code::ChannelLines,
                        *extra,
                        format!("the channel `{}` has a second `{kind}` line", c.name.node),
                        format!("second `{kind}`"),
                    )
                    .with_label(*first, "first one")
                    .with_help(format!("a channel has one `{kind}` line; define another channel for another gateway")),
                );
            }
        }
    }
}

/// A channel's `send`: a literal URL under the webhook URL rules, a connector that exists, and only the
/// options that delivering a message uses.
fn send(src: &str, file: &SourceFile, w: &Webhook, diags: &mut Vec<Diagnostic>) {
    if w.url.parts.iter().any(|p| !matches!(p, TemplatePart::Text(_))) {
        diags.push(
            Diagnostic::new(
                Code::InvalidUrl,
                w.url.span,
                "a channel's `send` URL is written literally",
                "holds a value",
            )
            .with_help(
                "the message, its id and the contact's address travel in the body; write the gateway's URL as is",
            ),
        );
    } else {
        diags.extend(super::url::check(src, &w.url));
    }
    if let Some(name) = &w.auth
        && !file.connectors.iter().any(|c| c.name.node == name.node)
        && !is_broken(file, "connector", &name.node)
    {
        diags.push(unknown_connector(name, file));
    }
    if let Some(t) = w.timeout.as_ref().filter(|t| t.node.millis == 0 || t.node.millis > 60_000) {
        diags.push(
            Diagnostic::new(Code::DurationRange, t.span, "a channel's `timeout` is from 1 ms to 60 s", "out of range")
                .with_help("a gateway that takes longer than a minute to take a message is retried"),
        );
    }
    if let Some(r) = &w.retries
        && (r.node.fract() != 0.0 || !(0.0..=10.0).contains(&r.node))
    {
        diags.push(
            Diagnostic::new(
                Code::RetriesRange,
                r.span,
                "a channel's `retries` is a whole number from 0 to 10",
                "out of range",
            )
            .with_help("a message is tried at most 11 times before it is marked failed"),
        );
    }
    let refused: [(&str, Option<Span>); 4] = [
        ("body", w.body.as_ref().map(|b| b.span)),
        ("expect json", w.expect.as_ref().map(|e| e.span)),
        ("on failure", w.on_failure.as_ref().map(|b| b.span)),
        ("query", w.query.first().map(|q| q.0.span)),
    ];
    for (what, span) in refused {
        if let Some(span) = span {
            diags.push(
                Diagnostic::new(
                    Code::ChannelLines,
                    span,
                    format!("a channel's `send` takes no `{what}`"),
                    "not a channel option",
                )
                .with_help(
                    "flowc posts {\"id\", \"to\", \"text\", \"run_id\"} as JSON; a channel's `send` takes `auth`, \
                     `header`, `timeout`, `retries` and `backoff`",
                ),
            );
        }
    }
    for (name, value) in &w.headers {
        let literal = match &value.kind {
            ExprKind::Str(t) => t.as_literal().is_some(),
            ExprKind::Env(_) | ExprKind::Number(_) => true,
            _ => false,
        };
        if !literal {
            diags.push(
                Diagnostic::new(
                    Code::ChannelLines,
                    value.span,
                    format!("the header \"{}\" of a channel's `send` must be literal text or `env \"VAR\"`", name.node),
                    "holds a value",
                )
                .with_help("a channel is not a run: it has no variables to read"),
            );
        }
    }
}

/// `trigger keyword` and `trigger catchall`: words, channels, starts.
pub(super) fn message_triggers(file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    let mut words: HashMap<(String, Option<&str>), Span> = HashMap::new();
    let mut catchalls: HashMap<Option<&str>, Span> = HashMap::new();
    for t in &file.message_triggers {
        let channel = t.channel.as_ref().map(|c| c.node.as_str());
        if let Some(c) = &t.channel {
            diags.extend(unknown_channel(c, file));
        }
        for w in &t.words {
            let word = w.node.trim();
            if word.is_empty() || word.chars().any(char::is_whitespace) {
                diags.push(
                    Diagnostic::new(
                        Code::MessageTrigger,
                        w.span,
                        if word.is_empty() { "a keyword cannot be empty".to_string() } else { format!("\"{}\" is more than one word", w.node) },
                        "not one word",
                    )
                    .with_help("a keyword is matched against the first word of a message; list several words as \"join\", \"start\""),
                );
                continue;
            }
            let key = (word.to_lowercase(), channel);
            if let Some(&first) = words.get(&key) {
                diags.push(
                    Diagnostic::new(
                        Code::MessageTrigger,
                        w.span,
                        format!("the keyword \"{word}\" is taken by another trigger"),
                        "second one",
                    )
                    .with_label(first, "first one")
                    .with_help("keywords are compared without regard to case; the first trigger would always win"),
                );
            } else {
                words.insert(key, w.span);
            }
        }
        if t.catchall {
            if let Some(&first) = catchalls.get(&channel) {
                diags.push(
                    Diagnostic::new(
                        Code::MessageTrigger,
                        t.span,
                        "a second `catchall` for the same messages",
                        "second one",
                    )
                    .with_label(first, "first one")
                    .with_help("keep one `catchall` per channel (and one without a channel)"),
                );
            } else {
                catchalls.insert(channel, t.span);
            }
        }
        for e in &t.expects {
            diags.push(
                Diagnostic::new(Code::MessageTrigger, *e, "a message trigger takes no `expect`", "not allowed here")
                    .with_help(
                        "messages have a text and a contact; `expect` declares the request of a `trigger webhook`",
                    ),
            );
        }
        for f in &t.start_for {
            diags.push(
                Diagnostic::new(
                    Code::MessageTrigger,
                    *f,
                    "a message trigger's run already has its contact",
                    "not allowed here",
                )
                .with_help("the run belongs to the contact who sent the message; drop `for ... via ...`"),
            );
        }
        starts_rules(&t.starts, t.span, file, diags);
    }
}

/// `start FLOW for URN via CHANNEL`: the channel exists. (The URN's expression is checked with the
/// flow, where `@trigger` has its type.)
pub(super) fn start_for(t: &Trigger, file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    if let Some(f) = &t.start_for {
        diags.extend(unknown_channel(&f.channel, file));
    }
}

/// `c` names no channel of the file (and no broken one, already reported).
fn unknown_channel(c: &Name, file: &SourceFile) -> Option<Diagnostic> {
    if file.channels.iter().any(|ch| ch.name.node == c.node) || is_broken(file, "channel", &c.node) {
        return None;
    }
    let close = did_you_mean(&c.node, file.channels.iter().map(|ch| ch.name.node.as_str()));
    let help = match close {
        Some(s) => format!("did you mean `{s}`?"),
        None => "define it with `channel NAME external { receive ...; send ... }`".to_string(),
    };
    Some(
        Diagnostic::new(Code::UnknownChannel, c.span, format!("there is no channel `{}`", c.node), "unknown channel")
            .with_help(help)
            .with_fix(c.span, close),
    )
}
