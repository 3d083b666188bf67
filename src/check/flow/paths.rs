//! Rules about paths: unreachable statements, and the respond rules of triggered flows.

use super::super::cfg::{EXIT, Fact, NodeKind, describe_path};
use super::FlowChecker;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

impl<'a> FlowChecker<'a> {
    /// Warns once per run of statements that no path reaches.
    pub(super) fn reachability(&mut self, block: &'a Block, parent_reachable: bool) {
        let mut prev_reachable = parent_reachable;
        let is_reachable =
            |s: &Stmt| self.graph.node_of.get(&(s as *const Stmt)).is_some_and(|&n| self.graph.reachable(n));
        let reachable_flags: Vec<bool> = block.stmts.iter().map(is_reachable).collect();
        for (i, stmt) in block.stmts.iter().enumerate() {
            let reachable = reachable_flags[i];
            if !reachable && prev_reachable {
                // The run of statements no path reaches, up to the next one a path does (a step a
                // `goto` reaches).
                let end = (i..block.stmts.len()).take_while(|&j| !reachable_flags[j]).last().unwrap_or(i);
                let last = block.stmts[end].span;
                let why = if i == 0 {
                    "nothing leads into this block"
                } else {
                    "the statement before always ends the run or jumps away"
                };
                self.report(
                    Diagnostic::new(
                        Code::Unreachable,
                        stmt.span.to(last),
                        "unreachable statement",
                        "no path reaches this",
                    )
                    .with_help(format!("{why}; remove this code or make it a `step` that a `goto` reaches")),
                );
            }
            if reachable {
                self.nested_reachability(stmt);
            }
            prev_reachable = reachable;
        }
    }

    pub(super) fn nested_reachability(&mut self, stmt: &'a Stmt) {
        match &stmt.kind {
            StmtKind::Wait { on_timeout, timeout: Some(_), .. } => {
                on_timeout.iter().take(1).for_each(|b| self.reachability(b, true))
            }
            StmtKind::Webhook(w) => {
                if let Some(b) = &w.on_failure {
                    self.reachability(b, true);
                }
            }
            StmtKind::Split(s) => {
                s.cases.iter().for_each(|c| self.reachability(&c.body, true));
                if let Some(o) = &s.other {
                    self.reachability(o, true);
                }
            }
            StmtKind::Step { body, .. } => self.reachability(body, true),
            _ => {}
        }
    }

    /// A webhook trigger without `for URN via CHANNEL` starts runs that belong to no contact: no reply
    /// reaches them, so a `wait` without `on timeout` only expires the run (one with `on timeout` is a
    /// timer, which is fine).
    pub(super) fn waits_without_contact(&mut self) {
        let Some(trigger) = self.triggers.iter().find(|t| t.start_for.is_none()) else { return };
        let wait = (0..self.graph.nodes.len()).find(|&n| {
            self.graph.reachable(n)
                && matches!(
                    self.graph.nodes[n].kind,
                    NodeKind::Stmt(Stmt { kind: StmtKind::Wait { on_timeout, .. }, .. }) if on_timeout.is_empty()
                )
        });
        let Some(n) = wait else { return };
        let start = trigger.starts.first().map_or(trigger.span, |s| s.span);
        let timed = matches!(
            self.graph.nodes[n].kind,
            NodeKind::Stmt(Stmt { kind: StmtKind::Wait { timeout: Some(_), .. }, .. })
        );
        // Where the request carries the contact's number: the body of a POST, PUT or PATCH, else the query.
        let part = if trigger.methods.iter().any(|m| matches!(m.node.as_str(), "POST" | "PUT" | "PATCH")) {
            "body"
        } else {
            "query"
        };
        let d = Diagnostic::new(
            Code::WaitWithoutContact,
            self.node_span(n),
            format!("runs that \"{}\" starts belong to no contact, so no reply reaches this `wait`", trigger.suffix.node),
            if timed { "can only expire" } else { "waits forever" },
        )
        .with_label(start, "started without a contact")
        .with_help(format!(
            "start the run for a contact, e.g. `start {} for \"tel:\" & @trigger.{part}.phone via CHANNEL`, or give the wait an `on timeout` to use it as a timer",
            self.flow.name.node
        ));
        self.report(d);
    }

    pub(super) fn respond_rules(&mut self) {
        let responds: Vec<usize> = (0..self.graph.nodes.len())
            .filter(|&n| matches!(self.graph.nodes[n].kind, NodeKind::Stmt(Stmt { kind: StmtKind::Respond(_), .. })))
            .collect();
        for &n in &responds {
            if self.graph.reachable(n) && self.graph.may_have(n, &Fact::Responded) {
                let span = self.node_span(n);
                // The respond that comes before this one on a path: the nearest that reaches it.
                let earlier = responds
                    .iter()
                    .copied()
                    .filter(|&m| m != n && self.graph.reachable(m))
                    .filter_map(|m| self.graph.distance(m, n).map(|d| (d, m)))
                    .min()
                    .map(|(_, m)| m);
                let mut d = Diagnostic::new(
                    Code::DoubleRespond,
                    span,
                    "this run may already have responded",
                    "second respond on some path",
                )
                .with_help("a caller gets one answer: make sure only one `respond` runs on each path");
                match earlier {
                    Some(m) => d = d.with_label(self.node_span(m), "responded here first"),
                    None => {
                        d = d.with_help(
                            "a caller gets one answer, but a loop (`goto`) comes back to this `respond`: \
                             respond before the loop, or leave the loop after responding",
                        )
                    }
                }
                self.report(d);
            }
        }
        if responds.is_empty() || self.triggers.is_empty() {
            return;
        }
        let first_respond = self.node_span(responds[0]);
        for n in 0..self.graph.nodes.len() {
            if !self.graph.reachable(n) || self.graph.must_have(n, &Fact::Responded) {
                continue;
            }
            let (is_end, is_wait) = match &self.graph.nodes[n].kind {
                NodeKind::Exit => (true, false),
                NodeKind::Stmt(Stmt { kind: StmtKind::Stop, .. }) => (true, false),
                NodeKind::Stmt(Stmt { kind: StmtKind::Wait { .. }, .. }) => (false, true),
                _ => (false, false),
            };
            if !is_end && !is_wait {
                continue;
            }
            let path = describe_path(&self.graph.path_without(self.src, self.lines, n, &Fact::Responded));
            let span = if n == EXIT {
                Span::new(self.flow.body.span.end - 1, self.flow.body.span.end)
            } else {
                self.node_span(n)
            };
            let d = if is_end {
                Diagnostic::new(
                    Code::MissingRespond,
                    span,
                    "the run can end here without answering its caller",
                    "ends without `respond`",
                )
                .with_label(first_respond, "another path responds")
                .with_help(format!("the path: {path}. Add a `respond` on it (e.g. `respond status 500`)"))
            } else {
                Diagnostic::new(
                    Code::WaitBeforeRespond,
                    span,
                    "the caller is still waiting for its answer at this `wait`",
                    "waits before responding",
                )
                .with_label(first_respond, "the answer is sent here")
                .with_help(format!("the path: {path}. `respond` first (e.g. `respond 202`), then wait for the contact"))
            };
            self.report(d);
        }
    }

    pub(super) fn node_span(&self, n: usize) -> Span {
        match self.graph.nodes[n].kind {
            NodeKind::Stmt(s) => s.span,
            _ => self.flow.name.span,
        }
    }
}
