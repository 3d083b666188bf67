//! References: definite assignment over the graph (a read where some path has not defined the
//! value), and the types of `@extra`, `@trigger`, `@webhook` and `@contact`.

use super::super::cfg::{Fact, describe_path};
use super::{CONTACT_FIELDS, FlowChecker, Missing, WEBHOOK_META};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::net::header_key;
use crate::span::Spanned;
use crate::types::Ty;

impl<'a> FlowChecker<'a> {
    /// Reports when `fact` does not hold on every path to `node`.
    pub(super) fn require(&mut self, node: usize, fact: Fact, missing: Missing) -> bool {
        if node == usize::MAX || self.graph.must_have(node, &fact) {
            return true;
        }
        let path = self.graph.path_without(self.src, self.lines, node, &fact);
        let mut d = Diagnostic::new(missing.code, missing.span, missing.message, "not defined on every path to here")
            .with_help(format!("it is missing on this path: {}. {}", describe_path(&path), missing.advice));
        if let Some(at) = missing.defined_at {
            d = d.with_label(at, "defined here");
        }
        self.report(d);
        false
    }

    /// [`Self::require`], unless the read may be missing (`lenient`).
    fn require_unless(&mut self, lenient: bool, node: usize, fact: Fact, missing: Missing) -> bool {
        lenient || self.require(node, fact, missing)
    }

    pub(super) fn reference(&mut self, r: &'a Reference, node: usize) -> Ty {
        // Read as `default`'s first argument, it may be missing on some paths (not what is inside it).
        let lenient = std::mem::take(&mut self.may_be_missing);
        let mut rest: &[Spanned<String>] = &r.path;
        let ty = match r.root {
            Root::Flow => {
                let Some((name, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                if !self.silent {
                    self.reads.insert(&name.node);
                }
                let Some((ty, def)) = self.vars.get(name.node.as_str()).cloned() else {
                    let close = did_you_mean(&name.node, self.vars.keys().copied());
                    let help = match close {
                        Some(s) => format!("did you mean `@flow.{s}`?"),
                        None => format!(
                            "save it first with `wait {0}`, `set {0} = ...`, `split {0} = ...` or `webhook {0} ...`",
                            name.node
                        ),
                    };
                    if node != usize::MAX {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownVariable,
                                r.span,
                                format!("nothing in this flow saves `@flow.{}`", name.node),
                                "unknown variable",
                            )
                            .with_help(help)
                            .with_fix(name.span, close),
                        );
                    }
                    return Ty::Json;
                };
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: format!("`@flow.{}` may not be defined here", name.node),
                    advice: format!("Define it on that path, or use `default(@flow.{}, \"\")`.", name.node),
                    defined_at: Some(def),
                };
                self.require_unless(lenient, node, Fact::FlowVar(name.node.clone()), missing);
                ty
            }
            Root::Child | Root::Parent => {
                let Some((name, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                match r.root {
                    Root::Child => self.child_result(r, name, node, lenient),
                    _ => self.parent_result(r, name, lenient),
                }
            }
            Root::Input if self.input_at_start => {
                self.input_read = true;
                Ty::Text
            }
            Root::Input => {
                self.input_read = true;
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: "`@input` may be read before any reply".into(),
                    advice: "`@input` is the last reply to a `wait` (or, in a flow a keyword or catchall trigger starts, the message that started it).".into(),
                    defined_at: None,
                };
                self.require_unless(lenient, node, Fact::Input, missing);
                Ty::Text
            }
            Root::Extra => {
                if node != usize::MAX && self.graph.fact(&Fact::Extra).is_none() {
                    self.report(
                        Diagnostic::new(
                            Code::ExtraBeforeWebhook,
                            r.span,
                            "`@extra` is read, but this flow calls no webhook",
                            "nothing fills @extra",
                        )
                        .with_help("`@extra` holds the JSON answer of the last successful webhook"),
                    );
                    return Ty::Json;
                }
                let missing = Missing {
                    code: Code::ExtraBeforeWebhook,
                    span: r.span,
                    message: "`@extra` may be read before any webhook succeeded".into(),
                    advice: "`@extra` is filled by a webhook that succeeds.".into(),
                    defined_at: None,
                };
                self.require_unless(lenient, node, Fact::Extra, missing);
                self.extra_type(node)
            }
            Root::Contact => {
                let Some((field, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                if !CONTACT_FIELDS.contains(&field.node.as_str()) {
                    let close = did_you_mean(&field.node, CONTACT_FIELDS.iter().copied());
                    let help = match close {
                        Some(s) => format!("did you mean `@contact.{s}`?"),
                        None => format!(
                            "contacts have {}; custom fields are `@contact.fields.NAME`",
                            CONTACT_FIELDS.join(", ")
                        ),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownVariable,
                            field.span,
                            format!("contacts have no `{}`", field.node),
                            "unknown contact field",
                        )
                        .with_help(help)
                        .with_fix(field.span, close),
                    );
                    return Ty::Json;
                }
                if field.node == "groups" {
                    return match tail {
                        [] => Ty::List(Box::new(Ty::Text)),
                        [index, ..] => self.lookup(&Ty::List(Box::new(Ty::Text)), index, r.span),
                    };
                }
                if field.node == "fields" {
                    return match tail {
                        [] => Ty::Json,
                        [_] => Ty::Text,
                        [_, more, ..] => self.lookup(&Ty::Text, more, r.span),
                    };
                }
                Ty::Text
            }
            Root::Trigger => {
                if self.triggers.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::NoTrigger,
                            r.span,
                            format!("no trigger starts `{}`, so `@trigger` is empty", self.flow.name.node),
                            "no trigger",
                        )
                        .with_help(format!(
                            "add `trigger webhook \"/{0}\" methods POST {{ start {0} }}`",
                            self.flow.name.node
                        )),
                    );
                    return Ty::Json;
                }
                let Some((part, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                match part.node.as_str() {
                    "headers" => self.trigger_headers(),
                    "query" => self.trigger_query(),
                    "body" => self.trigger_body(),
                    "method" => Ty::Text,
                    other => {
                        let help = match did_you_mean(other, crate::ast::TRIGGER_PARTS.iter().copied()) {
                            Some(s) => format!("did you mean `@trigger.{s}`?"),
                            None => "a trigger has `method`, `headers`, `query` and `body`".into(),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::UnknownVariable,
                                part.span,
                                format!("a trigger has no `{other}`"),
                                "unknown",
                            )
                            .with_help(help),
                        );
                        return Ty::Json;
                    }
                }
            }
            Root::Webhook => {
                let Some((name, tail)) = r.path.split_first() else {
                    return Ty::Json;
                };
                if self.broken_webhooks.contains(name.node.as_str()) {
                    return Ty::Json;
                }
                if !self.webhooks.contains_key(name.node.as_str()) {
                    let close = did_you_mean(&name.node, self.webhooks.keys().copied());
                    let help = match close {
                        Some(s) => format!("did you mean `@webhook.{s}`?"),
                        None => "`@webhook.NAME` describes a `webhook NAME ...` call of this flow".into(),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownVariable,
                            name.span,
                            format!("this flow has no webhook `{}`", name.node),
                            "unknown webhook",
                        )
                        .with_help(help)
                        .with_fix(name.span, close),
                    );
                    return Ty::Json;
                }
                let missing = Missing {
                    code: Code::UndefinedVariable,
                    span: r.span,
                    message: format!("`@webhook.{}` may be read before the call", name.node),
                    advice: "It describes the call once it has been made.".into(),
                    defined_at: None,
                };
                self.require_unless(lenient, node, Fact::WebhookMeta(name.node.clone()), missing);
                let Some((meta, tail)) = tail.split_first() else {
                    return Ty::Json;
                };
                rest = tail;
                match meta.node.as_str() {
                    "status" | "attempts" | "elapsed_ms" => Ty::Number,
                    "error" | "method" | "url" => Ty::Text,
                    other => {
                        let close = did_you_mean(other, WEBHOOK_META.iter().copied());
                        let help = match close {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("a call has {}", WEBHOOK_META.join(", ")),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::UnknownKey,
                                meta.span,
                                format!("a webhook call has no `{other}`"),
                                "unknown",
                            )
                            .with_help(help)
                            .with_fix(meta.span, close),
                        );
                        return Ty::Json;
                    }
                }
            }
        };
        let mut ty = ty;
        for seg in rest {
            ty = self.lookup(&ty, seg, r.span);
        }
        ty
    }

    /// `@child.NAME`: defined where the flow entered last completed with it (docs/language.md §4.11).
    fn child_result(&mut self, r: &Reference, name: &Spanned<String>, node: usize, lenient: bool) -> Ty {
        let flow = self.flow.name.node.as_str();
        let at_every_end = self.enters.child(flow, &name.node);
        if at_every_end.is_none()
            && let Some((ty, flows)) = self.enters.child_sometimes(flow, &name.node)
        {
            // RapidPro reads it as empty text where the child did not set it.
            if !lenient && node != usize::MAX {
                let named: Vec<String> = flows.iter().map(|f| format!("`{f}`")).collect();
                self.report(
                    Diagnostic::new(
                        Code::UndefinedVariable,
                        r.span,
                        format!("`@child.{}` may not be defined here", name.node),
                        "not defined on every path to the entered flow's end",
                    )
                    .with_help(format!(
                        "{} sets `{}` on some paths only. Define it on every path to its end, or use `default(@child.{}, \"\")`.",
                        named.join(" or "),
                        name.node,
                        name.node
                    )),
                );
            }
            return ty;
        }
        let Some(ty) = at_every_end else {
            let names = self.enters.child_names(flow);
            let close = did_you_mean(&name.node, names.iter().copied());
            let (message, help) = if self.enters.children_of(flow).is_empty() {
                (
                    format!("`{flow}` enters no flow, so `@child.{}` is never set", name.node),
                    "`@child.NAME` is a result of the flow `enter FLOW` ran, once it completes".to_string(),
                )
            } else {
                let entered: Vec<String> =
                    self.enters.children_of(flow).iter().map(|c| format!("`{c}`")).collect::<Vec<_>>();
                (
                    format!("no flow that `{flow}` enters defines `{}` on every path to its end", name.node),
                    match &close {
                        Some(s) => format!("did you mean `@child.{s}`?"),
                        None => format!(
                            "`@child.NAME` reads a result that {} defines on every path to its end",
                            entered.join(" or ")
                        ),
                    },
                )
            };
            if node != usize::MAX {
                self.report(
                    Diagnostic::new(Code::UnknownVariable, r.span, message, "unknown child result")
                        .with_help(help)
                        .with_fix(name.span, close),
                );
            }
            return Ty::Json;
        };
        let missing = Missing {
            code: Code::UndefinedVariable,
            span: r.span,
            message: format!("`@child.{}` may not be defined here", name.node),
            advice: "`@child.NAME` is set when the flow entered last completes.".into(),
            defined_at: None,
        };
        self.require_unless(lenient, node, Fact::ChildVar(name.node.clone()), missing);
        ty
    }

    /// `@parent.NAME`: a result that every `enter` of this flow has defined.
    fn parent_result(&mut self, r: &Reference, name: &Spanned<String>, lenient: bool) -> Ty {
        let flow = self.flow.name.node.as_str();
        let Some(defined) = self.enters.parent(flow) else {
            self.report(
                Diagnostic::new(
                    Code::UnknownVariable,
                    r.span,
                    format!("no flow enters `{flow}`, so `@parent.{}` is never set", name.node),
                    "no parent",
                )
                .with_help("`@parent.NAME` is a result of the flow that ran `enter` of this one"),
            );
            return Ty::Json;
        };
        if let Some((_, ty)) = defined.iter().find(|(n, _)| *n == name.node) {
            return ty.clone();
        }
        if lenient {
            return Ty::Json;
        }
        let close = did_you_mean(&name.node, defined.iter().map(|(n, _)| n.as_str()));
        self.report(
            Diagnostic::new(
                Code::UndefinedVariable,
                r.span,
                format!(
                    "`@parent.{}` is not defined at every `enter {flow}` (or `enter` of a flow that hands over to it)",
                    name.node
                ),
                "not defined by every parent",
            )
            .with_help(match &close {
                Some(s) => format!("did you mean `@parent.{s}`?"),
                None => format!(
                    "every flow that enters `{flow}` must have defined it on every path to its `enter`, or read `default(@parent.{}, \"\")`",
                    name.node
                ),
            })
            .with_fix(name.span, close),
        );
        Ty::Json
    }

    /// The type of `@extra` at `node`: the answers of every webhook that may have succeeded, merged.
    pub(super) fn extra_type(&self, node: usize) -> Ty {
        if node == usize::MAX {
            return Ty::Json;
        }
        let mut ty: Option<Ty> = None;
        for (i, stmt) in self.graph.webhooks.iter().enumerate() {
            if !self.graph.may_have(node, &Fact::WebhookSucceeded(i)) {
                continue;
            }
            let StmtKind::Webhook(w) = &stmt.kind else {
                continue;
            };
            let Some(shape) = &w.expect else {
                return Ty::Json;
            };
            let t = Ty::from_shape(shape);
            if !matches!(t, Ty::Object(_)) {
                return Ty::Json;
            }
            ty = Some(match ty {
                None => t,
                Some(prev) => Ty::join(&prev, &t),
            });
        }
        ty.unwrap_or(Ty::Json)
    }

    pub(super) fn trigger_shape(&self, pick: impl Fn(&'a Trigger) -> Option<Ty>) -> Ty {
        match self.triggers {
            [one] => pick(one).unwrap_or(Ty::Json),
            _ => Ty::Json,
        }
    }

    pub(super) fn trigger_headers(&self) -> Ty {
        self.trigger_shape(|t| {
            let fields: Vec<crate::types::Field> = t
                .expects
                .iter()
                .filter_map(|e| match e {
                    Expect::Header(name, shape) => Some(crate::types::Field {
                        key: header_key(&name.node),
                        optional: true,
                        ty: Ty::from_shape(shape),
                    }),
                    _ => None,
                })
                .collect();
            (!fields.is_empty()).then(|| Ty::Object(std::sync::Arc::new(fields)))
        })
    }

    pub(super) fn trigger_query(&self) -> Ty {
        self.trigger_shape(|t| {
            let fields: Vec<crate::types::Field> = t
                .expects
                .iter()
                .filter_map(|e| match e {
                    Expect::Query(name, shape) => {
                        Some(crate::types::Field { key: name.node.clone(), optional: true, ty: Ty::from_shape(shape) })
                    }
                    _ => None,
                })
                .collect();
            (!fields.is_empty()).then(|| Ty::Object(std::sync::Arc::new(fields)))
        })
    }

    pub(super) fn trigger_body(&self) -> Ty {
        self.trigger_shape(|t| {
            t.expects.iter().find_map(|e| match e {
                Expect::Body(shape) => Some(Ty::from_shape(shape)),
                _ => None,
            })
        })
    }

    // ------------------------------------------------------------ whole-flow rules
}
