//! Top-level items: flows, connectors, triggers, message triggers and channels.

use crate::ast::*;
use crate::span::Span;

use super::{Opt, Printer};

impl<'a> Printer<'a> {
    pub(super) fn flow(&mut self, f: &Flow) -> usize {
        let mut header = format!("flow {}", f.name.node);
        if let Some(label) = &f.label {
            header.push(' ');
            header.push_str(self.text(label.span));
        }
        self.open_block(&header, &f.body);
        f.span.end
    }

    pub(super) fn connector(&mut self, c: &Connector) -> usize {
        let auth = match &c.auth {
            ConnectorAuth::Basic { user, password } => format!("basic {} {}", self.expr(user), self.expr(password)),
            ConnectorAuth::Bearer { token } => format!("bearer {}", self.expr(token)),
            ConnectorAuth::ApiKey { place, name, value } => {
                let place = match place {
                    KeyPlace::Header => "header",
                    KeyPlace::Query => "query",
                };
                format!("api_key {place} {} {}", self.text(name.span), self.expr(value))
            }
        };
        self.push_line(&format!("connector {} {auth}", c.name.node));
        self.trailing(c.span.end);
        c.span.end
    }

    pub(super) fn trigger(&mut self, t: &Trigger) -> usize {
        let methods: Vec<&str> = t.methods.iter().map(|m| self.text(m.span)).collect();
        let mut header = format!("trigger webhook {} methods {}", self.text(t.suffix.span), methods.join(", "));
        match &t.auth {
            Some(TriggerAuth::Connector(name)) => header.push_str(&format!(" auth {}", name.node)),
            Some(TriggerAuth::Signature { env }) => {
                header.push_str(&format!(" auth signature env {}", self.text(env.span)))
            }
            None => {}
        }
        let mut opts: Vec<(usize, Opt<'_>)> = Vec::new();
        for e in &t.expects {
            let at = match e {
                Expect::Header(name, _) | Expect::Query(name, _) => name.span.start,
                Expect::Body(shape) => shape.span.start,
            };
            opts.push((at, Opt::TriggerExpect(e)));
        }
        for s in &t.starts {
            // The `for ... via ...` clause follows its `start`, before any other `start`.
            let clause = t.start_for.as_ref().filter(|f| {
                f.span.start >= s.span.end
                    && t.starts.iter().all(|o| o.span.start <= s.span.start || o.span.start > f.span.start)
            });
            opts.push((s.span.start, clause.map_or(Opt::Start(s), |f| Opt::StartFor(s, f))));
        }
        opts.sort_by_key(|(at, _)| *at);
        let head_end = match &t.auth {
            Some(TriggerAuth::Connector(name)) => name.span.end,
            Some(TriggerAuth::Signature { env }) => env.span.end,
            None => t.methods.last().map_or(t.suffix.span.end, |m| m.span.end),
        };
        self.options_block(&header, opts, head_end, Span::new(t.span.start, t.span.end), false);
        t.span.end
    }

    pub(super) fn message_trigger(&mut self, t: &MessageTrigger) -> usize {
        if !t.start_for.is_empty() {
            // A clause the checker refuses: kept as written rather than dropped.
            let text = self.text(t.span).to_string();
            self.push_line(&text);
            return t.span.end;
        }
        let mut header = if t.catchall {
            "trigger catchall".to_string()
        } else {
            let words: Vec<&str> = t.words.iter().map(|w| self.text(w.span)).collect();
            format!("trigger keyword {}", words.join(", "))
        };
        if let Some(c) = &t.channel {
            header.push_str(&format!(" channel {}", c.node));
        }
        let mut opts: Vec<(usize, Opt<'_>)> = t.starts.iter().map(|s| (s.span.start, Opt::Start(s))).collect();
        opts.extend(t.expects.iter().map(|e| (e.start, Opt::Raw(*e))));
        opts.sort_by_key(|(at, _)| *at);
        let head_end = match (&t.channel, t.words.last()) {
            (Some(c), _) => c.span.end,
            (None, Some(w)) => w.span.end,
            (None, None) => {
                self.src[t.span.start..t.span.end].find("catchall").map_or(t.span.start, |i| t.span.start + i + 8)
            }
        };
        self.options_block(&header, opts, head_end, t.span, true);
        t.span.end
    }

    pub(super) fn channel(&mut self, c: &Channel) -> usize {
        let lines = match &c.kind {
            ChannelKind::External { lines } => lines,
            ChannelKind::Telegram { token, secret } => {
                let mut line = format!("channel {} telegram token env {}", c.name.node, self.text(token.span));
                if let Some(s) = secret {
                    line.push_str(&format!(" secret env {}", self.text(s.span)));
                }
                if let Some(r) = &c.rate {
                    line.push_str(&format!(" rate {}", self.text(r.span)));
                }
                self.push_line(&line);
                self.trailing(c.span.end);
                return c.span.end;
            }
            ChannelKind::Twilio { account, token, from } => {
                let mut line = format!(
                    "channel {} twilio account env {} token env {} from {}",
                    c.name.node,
                    self.text(account.span),
                    self.text(token.span),
                    self.text(from.span)
                );
                if let Some(r) = &c.rate {
                    line.push_str(&format!(" rate {}", self.text(r.span)));
                }
                self.push_line(&line);
                self.trailing(c.span.end);
                return c.span.end;
            }
        };
        let brace = self.src[c.name.span.end..c.span.end].find('{').map_or(c.span.end, |i| c.name.span.end + i);
        let rate = c.rate.as_ref().map(|r| format!(" rate {}", self.text(r.span))).unwrap_or_default();
        self.push_line(&format!("channel {} external{rate} {{", c.name.node));
        self.trailing(brace + 1);
        self.indent += 1;
        let mut prev = brace + 1;
        for (i, line) in lines.iter().enumerate() {
            match line {
                ChannelLine::Receive { suffix, auth, span } => {
                    self.gap(prev, span.start, i == 0);
                    let mut text = format!("receive {}", self.text(suffix.span));
                    match auth {
                        Some(TriggerAuth::Connector(name)) => text.push_str(&format!(" auth {}", name.node)),
                        Some(TriggerAuth::Signature { env }) => {
                            text.push_str(&format!(" auth signature env {}", self.text(env.span)))
                        }
                        None => {}
                    }
                    self.push_line(&text);
                    self.trailing(span.end);
                    prev = span.end;
                }
                ChannelLine::Send { request, span } => {
                    self.gap(prev, span.start, i == 0);
                    let head = format!("send {} {}", request.method.node.as_str(), self.text(request.url.span));
                    let opts = self.webhook_opts(request);
                    self.options_block(&head, opts, request.url.span.end, *span, true);
                    prev = span.end;
                }
            }
        }
        self.gap_closing(prev, c.span.end.saturating_sub(1), lines.is_empty());
        self.indent -= 1;
        self.push_line("}");
        self.trailing(c.span.end);
        c.span.end
    }
}
