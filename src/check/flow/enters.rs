//! What a flow tells the others of its file through `enter` (`super::super::enter`): its results at its
//! end, what is defined where it enters another flow, and what its start leads to.

use super::super::cfg::{ENTRY, EXIT, Fact, NodeKind};
use super::super::enter::Summary;
use super::FlowChecker;
use crate::ast::*;

impl FlowChecker<'_> {
    /// The results defined on every path into `node`, with their types, sorted by name.
    fn defined_at(&self, node: usize) -> Vec<(String, crate::types::Ty, crate::span::Span)> {
        let mut out: Vec<_> = self
            .vars
            .iter()
            .filter(|(name, _)| self.graph.must_have(node, &Fact::FlowVar((*name).to_string())))
            .map(|(name, (ty, at))| (name.to_string(), ty.clone(), *at))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub(super) fn summary(&self) -> Summary {
        let results = if self.graph.reachable(EXIT) { self.defined_at(EXIT) } else { Vec::new() };
        let mut all: Vec<_> = self.vars.iter().map(|(n, (t, at))| (n.to_string(), t.clone(), *at)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sites = Vec::new();
        let mut hands_over = Vec::new();
        for (node, n) in self.graph.nodes.iter().enumerate() {
            match n.kind {
                NodeKind::Stmt(Stmt { kind: StmtKind::Enter { flow, terminal: None, .. }, .. })
                    if self.graph.reachable(node) =>
                {
                    let defined = self.defined_at(node).into_iter().map(|(n, t, _)| (n, t)).collect();
                    sites.push((flow.clone(), defined));
                }
                NodeKind::Stmt(Stmt { kind: StmtKind::Enter { flow, terminal: Some(_), .. }, .. })
                    if self.graph.reachable(node) =>
                {
                    hands_over.push(flow.clone());
                }
                _ => {}
            }
        }
        let ends_itself = self.graph.reachable(EXIT);
        // Where the start leads before a wait, a stop, the end or an `enter`.
        let mut ends_alone = false;
        let mut first_enters = Vec::new();
        let mut seen = vec![false; self.graph.nodes.len()];
        let mut stack = vec![ENTRY];
        seen[ENTRY] = true;
        while let Some(node) = stack.pop() {
            match &self.graph.nodes[node].kind {
                NodeKind::Exit => {
                    ends_alone = true;
                    continue;
                }
                NodeKind::Stmt(Stmt { kind: StmtKind::Wait { .. } | StmtKind::Stop, .. }) => {
                    ends_alone = true;
                    continue;
                }
                NodeKind::Stmt(Stmt { kind: StmtKind::Enter { flow, .. }, .. }) => {
                    first_enters.push(flow.clone());
                    continue;
                }
                _ => {}
            }
            for e in &self.graph.nodes[node].edges {
                if !seen[e.to] {
                    seen[e.to] = true;
                    stack.push(e.to);
                }
            }
        }
        first_enters.sort_by_key(|n: &Name| n.span.start);
        Summary { results, all, sites, ends_alone, first_enters, hands_over, ends_itself }
    }
}
