//! Names and types of `@flow` results: every definition, the type of each, duplicates.

use super::super::cfg::NodeKind;
use super::super::defs::{DefinedBy, each_definition};
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
        each_definition(block, &mut |d| match (d.by, d.webhook) {
            // A step that did not parse defines no result.
            (DefinedBy::Step, _) if d.broken => {}
            _ if d.broken => {
                self.define(d.name, Ty::Json);
                if d.by == DefinedBy::Webhook {
                    self.broken_webhooks.insert(&d.name.node);
                }
            }
            (DefinedBy::Wait, _) => self.define(d.name, Ty::Text),
            (DefinedBy::Set, _) => self.define(d.name, Ty::Json),
            (DefinedBy::Split, _) => self.define(d.name, Ty::SplitResult),
            (DefinedBy::Webhook, Some(w)) => self.webhook_defined(w),
            (DefinedBy::Webhook, None) => {}
            (DefinedBy::Step, _) => self.step_defined(d.name, d.stmt),
        });
    }

    /// A webhook's result, and its name taken once per flow.
    fn webhook_defined(&mut self, w: &'a Webhook) {
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
    }

    /// A step's name, taken once per flow.
    fn step_defined(&mut self, name: &'a Name, stmt: &'a Stmt) {
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
    }

    /// Types of `set` variables, in source order, from what is known so far.
    pub(super) fn infer_set_types(&mut self, block: &'a Block) {
        for stmt in &block.stmts {
            match &stmt.kind {
                StmtKind::Set { name, value, category } => {
                    let ty = self.expr(value, usize::MAX);
                    // A value with a category reads like a split's result (`.category`, `.value`).
                    let ty = if category.is_some() { Ty::SplitResult } else { ty };
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
