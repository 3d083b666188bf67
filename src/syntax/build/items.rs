//! Top-level items: connectors, triggers, message triggers and channels; methods and durations.

use pest::iterators::Pair;

use super::{Builder, inner};
use crate::ast::*;
use crate::diagnostic::Code;
use crate::span::Spanned;
use crate::syntax::Rule;

impl Builder {
    pub(super) fn connector(&mut self, pair: Pair<'_, Rule>) -> Connector {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let name = self.name(it.next().expect("grammar"));
        let auth_pair = it.next().expect("grammar");
        let rule = auth_pair.as_rule();
        let mut parts = auth_pair.into_inner();
        let auth = match rule {
            Rule::auth_basic => {
                parts.next();
                let user = self.simple_operand(parts.next().expect("grammar"));
                let password = self.simple_operand(parts.next().expect("grammar"));
                ConnectorAuth::Basic { user, password }
            }
            Rule::auth_bearer => {
                parts.next();
                ConnectorAuth::Bearer { token: self.simple_operand(parts.next().expect("grammar")) }
            }
            _ => {
                parts.next();
                let place = if parts.next().expect("grammar").as_rule() == Rule::kw_header {
                    KeyPlace::Header
                } else {
                    KeyPlace::Query
                };
                let key_name = self.plain_string(parts.next().expect("grammar"));
                let value = self.simple_operand(parts.next().expect("grammar"));
                ConnectorAuth::ApiKey { place, name: key_name, value }
            }
        };
        Connector { name, auth, span }
    }

    pub(super) fn trigger_auth(&mut self, p: Pair<'_, Rule>) -> TriggerAuth {
        let a = inner(p).next().expect("grammar");
        match a.as_rule() {
            Rule::signature_auth => {
                let env = inner(a).next().expect("grammar");
                let s = inner(env).next().expect("grammar");
                TriggerAuth::Signature { env: self.plain_string(s) }
            }
            _ => TriggerAuth::Connector(Spanned::new(a.as_str().to_string(), self.span(&a))),
        }
    }

    pub(super) fn message_trigger(&mut self, pair: Pair<'_, Rule>) -> MessageTrigger {
        let span = self.span(&pair);
        let mut t = MessageTrigger {
            words: Vec::new(),
            catchall: false,
            channel: None,
            starts: Vec::new(),
            expects: Vec::new(),
            start_for: Vec::new(),
            span,
        };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::keyword_words => {
                    for w in inner(p).filter(|w| w.as_rule() == Rule::plain_string) {
                        let word = self.plain_string(w);
                        t.words.push(word);
                    }
                }
                Rule::kw_catchall => t.catchall = true,
                Rule::trigger_channel => {
                    let n = inner(p).next().expect("grammar");
                    t.channel = Some(Spanned::new(n.as_str().to_string(), self.span(&n)));
                }
                Rule::trigger_block => {
                    for s in self.items(p, Rule::trigger_alone) {
                        match s.as_rule() {
                            Rule::bad => {
                                self.bad(&s, Rule::trigger_alone);
                            }
                            Rule::start_stmt => {
                                let mut parts = inner(s);
                                let n = parts.next().expect("grammar");
                                t.starts.push(Spanned::new(n.as_str().to_string(), self.span(&n)));
                                if let Some(f) = parts.next() {
                                    t.start_for.push(self.span(&f));
                                }
                            }
                            _ => t.expects.push(self.span(&s)),
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    pub(super) fn channel(&mut self, pair: Pair<'_, Rule>) -> Channel {
        let span = self.span(&pair);
        let mut it = inner(pair);
        let name = self.name(it.next().expect("grammar"));
        let mut lines = Vec::new();
        let env_name = |b: &mut Self, p: Pair<'_, Rule>| {
            let s = inner(p).next().expect("grammar");
            b.plain_string(s)
        };
        let kind = it.next();
        let rate = kind
            .as_ref()
            .and_then(|k| inner(k.clone()).find(|p| p.as_rule() == Rule::channel_rate))
            .and_then(|r| self.rate(r));
        if let Some(k) = kind.as_ref().filter(|k| k.as_rule() == Rule::channel_telegram) {
            let mut parts = inner(k.clone()).filter(|p| p.as_rule() != Rule::channel_rate);
            let token = env_name(self, parts.next().expect("grammar"));
            let secret = parts.next().map(|p| env_name(self, p));
            return Channel { name, kind: ChannelKind::Telegram { token, secret }, rate, span };
        }
        if let Some(k) = kind.as_ref().filter(|k| k.as_rule() == Rule::channel_twilio) {
            let mut parts = inner(k.clone()).filter(|p| p.as_rule() != Rule::channel_rate);
            let account = env_name(self, parts.next().expect("grammar"));
            let token = env_name(self, parts.next().expect("grammar"));
            let from = self.plain_string(parts.next().expect("grammar"));
            return Channel { name, kind: ChannelKind::Twilio { account, token, from }, rate, span };
        }
        if let Some(external) = kind {
            for block in inner(external).filter(|p| p.as_rule() == Rule::channel_block) {
                for line in self.items(block, Rule::channel_alone) {
                    match line.as_rule() {
                        Rule::bad => {
                            self.bad(&line, Rule::channel_alone);
                        }
                        Rule::channel_receive => {
                            let span = self.span(&line);
                            let mut parts = inner(line);
                            let suffix = self.plain_string(parts.next().expect("grammar"));
                            let auth = parts.next().map(|a| self.trigger_auth(a));
                            lines.push(ChannelLine::Receive { suffix, auth, span });
                        }
                        _ => {
                            let span = self.span(&line);
                            let request = Box::new(self.webhook_after_name(name.clone(), inner(line)));
                            lines.push(ChannelLine::Send { request, span });
                        }
                    }
                }
            }
        }
        Channel { name, kind: ChannelKind::External { lines }, rate, span }
    }

    /// `rate N/s`, `N/m` or `N/h`; another unit is reported.
    fn rate(&mut self, pair: Pair<'_, Rule>) -> Option<Spanned<Rate>> {
        let value = inner(pair).next()?;
        let span = self.span(&value);
        let (count, unit) = value.as_str().split_once('/')?;
        let per_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => {
                self.error(
                    Code::DurationUnit,
                    span,
                    format!("`{}` is not a rate", value.as_str()),
                    "messages per `s`, `m` or `h`",
                    Some(format!("write `rate {count}/s` (a second), `{count}/m` (a minute) or `{count}/h` (an hour)")),
                );
                return None;
            }
        };
        let count = count.parse().unwrap_or(u64::MAX);
        Some(Spanned::new(Rate { count, per_ms }, span))
    }

    pub(super) fn trigger(&mut self, pair: Pair<'_, Rule>) -> Trigger {
        let span = self.span(&pair);
        let mut t = Trigger {
            suffix: Spanned::new(String::new(), span),
            methods: Vec::new(),
            auth: None,
            expects: Vec::new(),
            starts: Vec::new(),
            start_for: None,
            span,
        };
        for p in inner(pair) {
            match p.as_rule() {
                Rule::plain_string => t.suffix = self.plain_string(p),
                Rule::method => t.methods.push(Spanned::new(p.as_str().to_string(), self.span(&p))),
                Rule::trigger_auth => t.auth = Some(self.trigger_auth(p)),
                Rule::trigger_block => {
                    for s in self.items(p, Rule::trigger_alone) {
                        let rule = s.as_rule();
                        if rule == Rule::bad {
                            self.bad(&s, Rule::trigger_alone);
                            continue;
                        }
                        let mut it = inner(s);
                        match rule {
                            Rule::expect_header => {
                                let name = self.plain_string(it.next().expect("grammar"));
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Header(name, shape));
                            }
                            Rule::expect_query => {
                                let name = self.key(it.next().expect("grammar"));
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Query(name, shape));
                            }
                            Rule::expect_body => {
                                let shape = self.shape(it.next().expect("grammar"));
                                t.expects.push(Expect::Body(shape));
                            }
                            _ => {
                                let n = it.next().expect("grammar");
                                t.starts.push(Spanned::new(n.as_str().to_string(), self.span(&n)));
                                if let Some(f) = it.next() {
                                    let span = self.span(&f);
                                    let mut parts = inner(f);
                                    let urn = self.expr(parts.next().expect("grammar"));
                                    let c = parts.next().expect("grammar");
                                    let channel = Spanned::new(c.as_str().to_string(), self.span(&c));
                                    if t.start_for.is_none() {
                                        t.start_for = Some(StartFor { urn, channel, span });
                                    }
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        t
    }

    pub(super) fn method(&mut self, pair: Pair<'_, Rule>) -> Spanned<Method> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let method = match Method::parse(text) {
            Some(m) => m,
            None => {
                let upper = text.to_ascii_uppercase();
                let help = match Method::parse(&upper) {
                    Some(m) => format!("methods are written in upper case: `{}`", m.as_str()),
                    None => format!("use one of {}", Method::list(&Method::ALL, ", ")),
                };
                self.error(
                    Code::InvalidMethod,
                    span,
                    format!("`{text}` is not an HTTP method"),
                    "unknown method",
                    Some(help),
                );
                if Method::parse(&upper).is_some() {
                    self.fix(span, std::slice::from_ref(&upper));
                }
                Method::parse(&upper).unwrap_or(Method::GET)
            }
        };
        Spanned::new(method, span)
    }

    pub(super) fn duration(&mut self, pair: Pair<'_, Rule>) -> Spanned<Duration> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (num, unit) = text.split_at(split);
        let Some(unit_ms) = crate::time::unit_ms(unit) else {
            let (message, help) = if unit.is_empty() {
                (
                    format!("`{text}` needs a unit"),
                    format!("write `{num}s` for seconds or `{num}m` for minutes (units: ms, s, m, h, d)"),
                )
            } else {
                let suggestion = match unit {
                    "sec" | "secs" | "second" | "seconds" => "s",
                    "min" | "mins" | "minute" | "minutes" => "m",
                    "hr" | "hrs" | "hour" | "hours" => "h",
                    "day" | "days" => "d",
                    "msec" | "millis" => "ms",
                    _ => "",
                };
                let help = if suggestion.is_empty() {
                    "units are ms, s, m, h and d".to_string()
                } else {
                    format!("write `{num}{suggestion}`; units are ms, s, m, h and d")
                };
                (format!("unknown duration unit `{unit}`"), help)
            };
            self.error(Code::DurationUnit, span, message, "not a duration", Some(help));
            let fixes: Vec<String> = match unit {
                "" => vec![format!("{num}s"), format!("{num}m")],
                "sec" | "secs" | "second" | "seconds" => vec![format!("{num}s")],
                "min" | "mins" | "minute" | "minutes" => vec![format!("{num}m")],
                "hr" | "hrs" | "hour" | "hours" => vec![format!("{num}h")],
                "day" | "days" => vec![format!("{num}d")],
                "msec" | "millis" => vec![format!("{num}ms")],
                _ => Vec::new(),
            };
            self.fix(span, &fixes);
            return Spanned::new(Duration { millis: 1000 }, span);
        };
        let millis = match num.parse::<u64>() {
            Ok(n) => n.checked_mul(unit_ms),
            Err(_) if num.contains('.') => {
                self.error(
                    Code::DurationUnit,
                    span,
                    format!("durations are whole numbers: `{text}`"),
                    "fractional duration",
                    Some("use a smaller unit, e.g. `1500ms` instead of `1.5s`".into()),
                );
                return Spanned::new(Duration { millis: 1000 }, span);
            }
            Err(_) => None,
        };
        let Some(millis) = millis else {
            self.error(
                Code::DurationRange,
                span,
                format!("`{text}` is too long a duration"),
                "too long",
                Some("durations are limited to 365d".into()),
            );
            return Spanned::new(Duration { millis: u64::MAX }, span);
        };
        Spanned::new(Duration { millis }, span)
    }
}
