//! Types of expressions and templates; lookups of keys in declared shapes.

use super::FlowChecker;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::function::Function;
use crate::span::{Span, Spanned};
use crate::types::{Lookup, Ty};

impl<'a> FlowChecker<'a> {
    pub(super) fn template(&mut self, t: &'a Template, node: usize) {
        for part in &t.parts {
            match part {
                TemplatePart::Text(_) => {}
                TemplatePart::Ref(r) => {
                    let ty = self.reference(r, node);
                    if let Some(types) = self.types.as_mut().filter(|_| !self.silent) {
                        types.push((r.span, ty));
                    }
                }
                TemplatePart::Expr(e) => {
                    self.expr(e, node);
                }
            }
        }
    }

    /// The type of an expression, reporting what is wrong in it. `node` is the graph node whose
    /// entry state decides definite assignment (`usize::MAX`: none, while inferring types).
    pub(super) fn expr(&mut self, e: &'a Expr, node: usize) -> Ty {
        let ty = self.expr_type(e, node);
        if let Some(types) = self.types.as_mut().filter(|_| !self.silent) {
            types.push((e.span, ty.clone()));
        }
        ty
    }

    pub(super) fn expr_type(&mut self, e: &'a Expr, node: usize) -> Ty {
        match &e.kind {
            ExprKind::Str(t) => {
                self.template(t, node);
                Ty::Text
            }
            ExprKind::Number(_) => Ty::Number,
            ExprKind::Bool(_) => Ty::Bool,
            // Already reported; of unknown type so that nothing follows from it.
            ExprKind::Error => Ty::Json,
            ExprKind::Null => Ty::Null,
            ExprKind::Ref(r) => self.reference(r, node),
            ExprKind::Env(name) => {
                self.report(
                    Diagnostic::new(
                        Code::EnvOutsideConnector,
                        e.span,
                        format!("`env \"{}\"` can only be used in a connector or `auth signature`", name.node),
                        "secret in a flow",
                    )
                    .with_help(format!(
                        "define a connector, e.g. `connector api bearer env \"{}\"`, and use `auth api` on the webhook",
                        name.node
                    )),
                );
                Ty::Text
            }
            ExprKind::Call { name, args } => {
                let tys: Vec<Ty> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        // `default(@flow.x, ...)` is how a value that may be missing is read.
                        self.may_be_missing = i == 0 && name.node == "default" && matches!(a.kind, ExprKind::Ref(_));
                        let ty = self.expr(a, node);
                        self.may_be_missing = false;
                        ty
                    })
                    .collect();
                let Some(f) = Function::parse(&name.node) else {
                    let close = did_you_mean(&name.node, Function::ALL.iter().map(|f| f.name()));
                    let help = match close {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "`flowc explain functions` lists the functions".into(),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::UnknownFunction,
                            name.span,
                            format!("there is no function `{}`", name.node),
                            "unknown function",
                        )
                        .with_help(help)
                        .with_fix(name.span, close),
                    );
                    return Ty::Json;
                };
                let (min, max) = f.arity();
                if tys.len() < min || tys.len() > max {
                    let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                    self.report(
                        Diagnostic::new(
                            Code::FunctionArguments,
                            e.span,
                            format!("`{}` takes {want} argument(s), not {}", f.name(), tys.len()),
                            "wrong number of arguments",
                        )
                        .with_help(f.doc()),
                    );
                }
                for &i in f.number_params() {
                    if let (Some(ty), Some(arg)) = (tys.get(i), args.get(i))
                        && !ty.is_numeric()
                    {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                arg.span,
                                format!("`{}` needs a number here, not {ty}", f.name()),
                                "not a number",
                            )
                            .with_help("convert text with `number(...)`"),
                        );
                    }
                }
                self.date_call(f, args);
                f.result(&tys)
            }
            ExprKind::Field(base, key) => {
                let ty = self.expr(base, node);
                self.lookup(&ty, key, base.span)
            }
            ExprKind::Index(base, index) => {
                let ty = self.expr(base, node);
                let ity = self.expr(index, node);
                match ty {
                    Ty::List(inner) => {
                        if !ity.is_numeric() {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    index.span,
                                    format!("a list is indexed by a number, not {ity}"),
                                    "not a number",
                                )
                                .with_help("write e.g. `[0]` for the first item"),
                            );
                        }
                        *inner
                    }
                    Ty::Object(_) => match &index.kind {
                        ExprKind::Str(t) if t.as_literal().is_some() => {
                            let key = Spanned::new(t.as_literal().unwrap_or_default(), index.span);
                            self.lookup(&ty, &key, base.span)
                        }
                        _ => Ty::Json,
                    },
                    Ty::Json | Ty::Null => Ty::Json,
                    other => {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                e.span,
                                format!("{other} cannot be indexed"),
                                "not a list or object",
                            )
                            .with_help("only lists and objects have items"),
                        );
                        Ty::Json
                    }
                }
            }
            ExprKind::Unary(op, inner) => {
                let ty = self.expr(inner, node);
                match op {
                    UnaryOp::Neg => {
                        if !ty.is_numeric() {
                            self.mismatch(inner.span, "`-` negates numbers", &ty, "convert with `number(...)`");
                        }
                        Ty::Number
                    }
                    UnaryOp::Not => {
                        if !ty.is_boolean() {
                            self.mismatch(
                                inner.span,
                                "`!` negates true/false",
                                &ty,
                                "compare first, e.g. `!(@flow.x == \"\")`",
                            );
                        }
                        Ty::Bool
                    }
                }
            }
            ExprKind::Binary(op, l, r) => {
                let lt = self.expr(l, node);
                let rt = self.expr(r, node);
                use BinaryOp::*;
                match op {
                    Or | And => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_boolean() {
                                self.mismatch(
                                    side.span,
                                    &format!("`{}` combines true/false values", op.as_str()),
                                    ty,
                                    "compare first, e.g. `@flow.x == \"yes\"`",
                                );
                            }
                        }
                        Ty::Bool
                    }
                    Eq | Ne => Ty::Bool,
                    Lt | Le | Gt | Ge => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_numeric() {
                                self.mismatch(
                                    side.span,
                                    &format!("`{}` compares numbers", op.as_str()),
                                    ty,
                                    "convert text with `number(...)`",
                                );
                            }
                        }
                        Ty::Bool
                    }
                    Concat => Ty::Text,
                    Add | Sub | Mul | Div => {
                        for (side, ty) in [(l, &lt), (r, &rt)] {
                            if !ty.is_numeric() {
                                let help = if matches!(op, Add) && matches!(ty, Ty::Text | Ty::SplitResult) {
                                    "join texts with `&`; convert text to a number with `number(...)`"
                                } else {
                                    "convert text with `number(...)`"
                                };
                                self.mismatch(side.span, &format!("`{}` works on numbers", op.as_str()), ty, help);
                            }
                        }
                        Ty::Number
                    }
                }
            }
            ExprKind::Group(inner) => self.expr(inner, node),
        }
    }

    pub(super) fn mismatch(&mut self, span: Span, what: &str, ty: &Ty, help: &str) {
        self.report(
            Diagnostic::new(Code::TypeMismatch, span, format!("{what}, but this is {ty}"), format!("this is {ty}"))
                .with_help(help.to_string()),
        );
    }

    pub(super) fn lookup(&mut self, ty: &Ty, key: &Spanned<String>, base: Span) -> Ty {
        match ty.field(&key.node) {
            Lookup::Found(t) => t,
            Lookup::NoSuchKey(keys) => {
                let close = did_you_mean(&key.node, keys.iter().map(String::as_str));
                let help = match close {
                    Some(s) => format!("did you mean `{s}`? Declared keys: {}", keys.join(", ")),
                    None if keys.is_empty() => "the declared shape has no keys".to_string(),
                    None => format!(
                        "declared keys: {}; add `{}` to the shape if the data has it",
                        keys.join(", "),
                        key.node
                    ),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownKey,
                        key.span,
                        format!("`{}` is not a key of the declared shape", key.node),
                        "not declared",
                    )
                    .with_help(help)
                    .with_fix(key.span, close),
                );
                Ty::Json
            }
            Lookup::NotAnObject => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        key.span.to(base),
                        format!("{ty} has no key `{}`", key.node),
                        format!("this is {ty}"),
                    )
                    .with_help("only objects have keys"),
                );
                Ty::Json
            }
        }
    }
}
