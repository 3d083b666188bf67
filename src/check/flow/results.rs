//! Results that nothing reads.

use super::FlowChecker;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use rustc_hash::FxHashSet as HashSet;

impl<'a> FlowChecker<'a> {
    pub(super) fn unused_results(&mut self) {
        // Another flow may read them, as `@child.NAME` or `@parent.NAME`.
        if self.sends_all_results(&self.flow.body) || self.enters.shares_results(&self.flow.name.node) {
            return;
        }
        let mut defs: Vec<(&'a Name, &'static str)> = Vec::new();
        collect_results(&self.flow.body, &mut defs);
        let mut warned: HashSet<&str> = HashSet::default();
        for (name, kind) in defs {
            if self.reads.contains(name.node.as_str())
                || (kind == "wait" && self.input_read)
                || !warned.insert(&name.node)
            {
                continue;
            }
            self.report(
                Diagnostic::new(Code::UnusedResult, name.span, format!("`@flow.{}` is saved but never read", name.node), "never read")
                    .with_help(match kind {
                        "wait" => "read the reply with `@flow.NAME`, or split on it; a `wait` whose answer is ignored can drop its name only if nothing else needs it",
                        _ => "use the value, or remove the statement",
                    }),
            );
        }
    }

    /// A POST/PUT/PATCH without `body` sends every result, so every result counts as read.
    pub(super) fn sends_all_results(&self, block: &'a Block) -> bool {
        block.stmts.iter().any(|s| match &s.kind {
            StmtKind::Webhook(w) => {
                (w.body.is_none() && w.method.node.has_body())
                    || w.on_failure.as_ref().is_some_and(|b| self.sends_all_results(b))
            }
            StmtKind::Wait { on_timeout, .. } => on_timeout.iter().any(|b| self.sends_all_results(b)),
            StmtKind::Split(sp) => {
                sp.cases.iter().any(|c| self.sends_all_results(&c.body))
                    || sp.other.as_ref().is_some_and(|o| self.sends_all_results(o))
            }
            StmtKind::Step { body, .. } => self.sends_all_results(body),
            _ => false,
        })
    }
}

pub(super) fn collect_results<'a>(block: &'a Block, out: &mut Vec<(&'a Name, &'static str)>) {
    for s in &block.stmts {
        match &s.kind {
            StmtKind::Wait { name, on_timeout, .. } => {
                out.push((name, "wait"));
                on_timeout.iter().for_each(|b| collect_results(b, out));
            }
            StmtKind::Set { name, .. } => out.push((name, "set")),
            StmtKind::Split(sp) => {
                if let Some(r) = &sp.result {
                    out.push((r, "split"));
                }
                sp.cases.iter().for_each(|c| collect_results(&c.body, out));
                if let Some(o) = &sp.other {
                    collect_results(o, out);
                }
            }
            StmtKind::Webhook(w) => {
                if let Some(b) = &w.on_failure {
                    collect_results(b, out);
                }
            }
            StmtKind::Step { body, .. } => collect_results(body, out),
            _ => {}
        }
    }
}
