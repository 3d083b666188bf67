//! Names and types of `@flow` results: every definition, the type of each, duplicates.

use super::super::cfg::NodeKind;
use super::FlowChecker;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::types::Ty;

impl<'a> FlowChecker<'a> {
    pub(super) fn define(&mut self, name: &'a Name, ty: Ty) {
        let entry = self.vars.entry(name.node.as_str()).or_insert((ty.clone(), name.span));
        if entry.0 != ty {
            entry.0 = Ty::join(&entry.0, &ty);
        }
    }

    pub(super) fn collect_names(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Wait { name, on_timeout, .. } => {
                    self.define(name, Ty::Text);
                    for b in on_timeout {
                        self.collect_names(b);
                    }
                }
                StmtKind::Webhook(w) => {
                    let ty = w.expect.as_ref().map_or(Ty::Json, Ty::from_shape);
                    self.define(&w.name, ty);
                    if let Some(first) = self.webhooks.get(w.name.node.as_str()) {
                        let first = first.name.span;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateName,
                                w.name.span,
                                format!("two webhooks are named `{}`", w.name.node),
                                "second webhook",
                            )
                            .with_label(first, "first webhook")
                            .with_help("give each call its own name so `@webhook.NAME` and `@flow.NAME` say which one"),
                        );
                    } else {
                        self.webhooks.insert(&w.name.node, w);
                    }
                    if let Some(b) = &w.on_failure {
                        self.collect_names(b);
                    }
                }
                StmtKind::Split(s) => {
                    if let Some(r) = &s.result {
                        self.define(r, Ty::SplitResult);
                    }
                    for case in &s.cases {
                        self.collect_names(&case.body);
                    }
                    if let Some(o) = &s.other {
                        self.collect_names(o);
                    }
                }
                StmtKind::Set { name, .. } => self.define(name, Ty::Json),
                StmtKind::Error { keyword, name: Some(name), .. } if keyword.as_deref() != Some("step") => {
                    self.define(name, Ty::Json);
                    if keyword.as_deref() == Some("webhook") {
                        self.broken_webhooks.insert(&name.node);
                    }
                }
                StmtKind::Step { name, body } => {
                    let first = self.graph.steps.get(name.node.as_str()).copied();
                    if let Some(first) = first
                        && let NodeKind::Stmt(s) = self.graph.nodes[first].kind
                        && !std::ptr::eq(s, stmt)
                    {
                        let first_span = match &s.kind {
                            StmtKind::Step { name, .. } => name.span,
                            _ => s.span,
                        };
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateName,
                                name.span,
                                format!("the step `{}` is defined twice", name.node),
                                "second step",
                            )
                            .with_label(first_span, "first step")
                            .with_help("step names are unique within a flow; `goto` needs to know which one"),
                        );
                    }
                    self.collect_names(body);
                }
                _ => {}
            }
        }
    }

    /// Types of `set` variables, in source order, from what is known so far.
    pub(super) fn infer_set_types(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Set { name, value } => {
                    let ty = self.expr(value, usize::MAX);
                    if let Some(entry) = self.vars.get_mut(name.node.as_str()) {
                        entry.0 = if entry.0 == Ty::Json { ty } else { Ty::join(&entry.0, &ty) };
                    }
                }
                StmtKind::Wait { on_timeout, .. } => on_timeout.iter().for_each(|b| self.infer_set_types(b)),
                StmtKind::Webhook(w) => {
                    if let Some(b) = &w.on_failure {
                        self.infer_set_types(b);
                    }
                }
                StmtKind::Split(s) => {
                    s.cases.iter().for_each(|c| self.infer_set_types(&c.body));
                    if let Some(o) = &s.other {
                        self.infer_set_types(o);
                    }
                }
                StmtKind::Step { body, .. } => self.infer_set_types(body),
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ statements
}
