//! The control-flow graph of one flow and the dataflow over it.
//!
//! Each statement becomes a node; the things a statement defines are attached to its out-edges,
//! because they differ per edge (a webhook defines `@flow.NAME` and `@extra` only on success, a wait
//! defines its variable only when a reply arrives). Two analyses run over the graph:
//! * *must*: facts true on every path to a node (definite assignment, "has responded");
//! * *may*: facts true on some path (which webhooks may have filled `@extra`, "may have responded").
//!
//! When a must-fact is missing at a node, [`Graph::path_without`] finds a path that shows why.

use rustc_hash::FxHashMap as HashMap;

use crate::ast::{Block, Stmt, StmtKind, TestKind};
use crate::span::{LineIndex, Span};

/// Something that can be true at a point of the flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Fact {
    /// `@flow.NAME` holds a value.
    FlowVar(String),
    /// `@input` holds a reply.
    Input,
    /// Some webhook succeeded, so `@extra` holds its answer.
    Extra,
    /// `@webhook.NAME.*` describes a finished call.
    WebhookMeta(String),
    /// The webhook statement with this index succeeded.
    WebhookSucceeded(usize),
    /// The run has answered its trigger.
    Responded,
    /// `@child.NAME` holds a value: the flow last entered completed with it defined.
    ChildVar(String),
}

/// The fact sets of every node, stored flat: `words` `u64`s per node, so that the analysis allocates
/// nothing per edge.
pub(crate) struct FactTable {
    words: usize,
    bits: Vec<u64>,
}

impl FactTable {
    fn new(nodes: usize, facts: usize) -> Self {
        let words = facts.div_ceil(64).max(1);
        FactTable { words, bits: vec![0; nodes * words] }
    }

    fn row(&self, node: usize) -> &[u64] {
        &self.bits[node * self.words..(node + 1) * self.words]
    }

    pub(crate) fn has(&self, node: usize, fact: usize) -> bool {
        self.row(node)[fact / 64] & (1 << (fact % 64)) != 0
    }

    /// Merges `incoming` into `node` with intersection (`must`) or union; whether it changed.
    fn merge(&mut self, node: usize, incoming: &[u64], intersect: bool) -> bool {
        let mut changed = false;
        for (a, &b) in self.bits[node * self.words..(node + 1) * self.words].iter_mut().zip(incoming) {
            let n = if intersect { *a & b } else { *a | b };
            changed |= n != *a;
            *a = n;
        }
        changed
    }

    fn set_row(&mut self, node: usize, row: &[u64]) {
        self.bits[node * self.words..(node + 1) * self.words].copy_from_slice(row);
    }
}

/// A decision taken on an edge, kept as data; it becomes text only when a path is described.
#[derive(Clone, Debug)]
pub(crate) enum Choice<'a> {
    /// A reply arrives for `wait NAME`.
    Reply(&'a str),
    /// `wait NAME` times out.
    Timeout(&'a str),
    /// `webhook NAME` succeeds.
    Succeeds(&'a str),
    /// `webhook NAME` fails.
    Fails(&'a str),
    /// A case with this test matches.
    Case(&'a TestKind),
    /// The split goes to `other`.
    Other,
    /// No case matches and there is no `other`.
    NoMatch,
    /// `goto NAME`.
    Goto(&'a str),
    /// The flow `enter NAME` runs completes.
    Completes(&'a str),
    /// The flow `enter NAME` runs expires.
    Expires(&'a str),
}

/// An edge: where it goes, what it defines, and the decision it stands for.
#[derive(Debug)]
pub(crate) struct Edge<'a> {
    pub(crate) to: usize,
    pub(crate) defines: Vec<usize>,
    /// Whether the edge forgets every `@child.NAME` before it defines its own (an `enter`: the flow
    /// entered now is the child).
    pub(crate) new_child: bool,
    pub(crate) label: Option<(Choice<'a>, Span)>,
}

/// What a node stands for.
#[derive(Debug)]
pub(crate) enum NodeKind<'a> {
    /// Where the run starts.
    Entry,
    /// The end of the flow's body, reached by falling through.
    Exit,
    /// A statement.
    Stmt(&'a Stmt),
}

/// A node and its out-edges.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub(crate) kind: NodeKind<'a>,
    pub(crate) edges: Vec<Edge<'a>>,
}

/// The graph of one flow with the results of both analyses.
pub(crate) struct Graph<'a> {
    pub(crate) nodes: Vec<Node<'a>>,
    pub(crate) facts: HashMap<Fact, usize>,
    /// Must-facts at each node's entry (meaningful where `reached`).
    pub(crate) must: FactTable,
    /// May-facts at each node's entry.
    pub(crate) may: FactTable,
    /// Whether some path reaches each node.
    pub(crate) reached: Vec<bool>,
    /// Statement (by address) → node.
    pub(crate) node_of: HashMap<*const Stmt, usize>,
    /// Step name → its node.
    pub(crate) steps: HashMap<&'a str, usize>,
    /// The webhook statements in order; `Fact::WebhookSucceeded(i)` refers to `webhooks[i]`.
    pub(crate) webhooks: Vec<&'a Stmt>,
}

pub(crate) const ENTRY: usize = 0;
pub(crate) const EXIT: usize = 1;

type OpenEdges<'a> = (usize, Vec<usize>, Option<(Choice<'a>, Span)>);

/// The results a flow defines on every path to its end, by flow name: what `@child.NAME` holds after
/// `enter FLOW` completes.
pub(crate) type ChildResults<'a> = dyn Fn(&str) -> Vec<String> + 'a;

struct Lower<'a, 'c> {
    nodes: Vec<Node<'a>>,
    facts: HashMap<Fact, usize>,
    node_of: HashMap<*const Stmt, usize>,
    steps: HashMap<&'a str, usize>,
    gotos: Vec<(usize, &'a str, Span)>,
    webhooks: Vec<&'a Stmt>,
    children: &'c ChildResults<'c>,
}

impl<'a> Lower<'a, '_> {
    fn fact(&mut self, f: Fact) -> usize {
        let n = self.facts.len();
        *self.facts.entry(f).or_insert(n)
    }

    fn connect(&mut self, preds: Vec<OpenEdges<'a>>, to: usize) {
        for (from, defines, label) in preds {
            let new_child = matches!(label, Some((Choice::Completes(_) | Choice::Expires(_), _)));
            self.nodes[from].edges.push(Edge { to, defines, new_child, label });
        }
    }

    fn block(&mut self, block: &'a Block, mut preds: Vec<OpenEdges<'a>>) -> Vec<OpenEdges<'a>> {
        for stmt in &block.stmts {
            preds = self.stmt(stmt, preds);
        }
        preds
    }

    /// Lowers one statement: a node, and the edges out of it that `crate::control` describes, each
    /// with the facts it establishes and the decision it stands for.
    fn stmt(&mut self, stmt: &'a Stmt, preds: Vec<OpenEdges<'a>>) -> Vec<OpenEdges<'a>> {
        use crate::control::{Arm, Next};
        let n = self.nodes.len();
        self.nodes.push(Node { kind: NodeKind::Stmt(stmt), edges: Vec::new() });
        self.node_of.insert(stmt as *const Stmt, n);
        self.connect(preds, n);
        let exits = crate::control::exits(stmt);
        // Facts of a split's result hold on every way out of it; a webhook's call facts likewise.
        let split_result: Vec<usize> = match &stmt.kind {
            StmtKind::Split(s) => s.result.iter().map(|r| self.fact(Fact::FlowVar(r.node.clone()))).collect(),
            _ => Vec::new(),
        };
        let mut outs = Vec::new();
        match exits.next {
            Some(Next::Always) => {
                let facts = self.plain_facts(stmt);
                outs.push((n, facts, None));
            }
            Some(Next::Reply) => {
                if let StmtKind::Wait { name, .. } = &stmt.kind {
                    let facts = vec![self.fact(Fact::FlowVar(name.node.clone())), self.fact(Fact::Input)];
                    outs.push((n, facts, Some((Choice::Reply(&name.node), stmt.span))));
                }
            }
            Some(Next::Success) => {
                if let StmtKind::Webhook(w) = &stmt.kind {
                    let index = self.webhooks.len();
                    self.webhooks.push(stmt);
                    let facts = vec![
                        self.fact(Fact::FlowVar(w.name.node.clone())),
                        self.fact(Fact::Extra),
                        self.fact(Fact::WebhookMeta(w.name.node.clone())),
                        self.fact(Fact::WebhookSucceeded(index)),
                    ];
                    outs.push((n, facts, Some((Choice::Succeeds(&w.name.node), stmt.span))));
                }
            }
            Some(Next::NoMatch) => outs.push((n, split_result.clone(), Some((Choice::NoMatch, stmt.span)))),
            Some(Next::Complete) => {
                if let StmtKind::Enter { flow, .. } = &stmt.kind {
                    let facts = (self.children)(&flow.node).into_iter().map(|r| self.fact(Fact::ChildVar(r))).collect();
                    outs.push((n, facts, Some((Choice::Completes(&flow.node), stmt.span))));
                }
            }
            None => {}
        }
        for (arm, block) in exits.arms {
            let (defines, label) = match arm {
                Arm::Timeout(name) => (Vec::new(), Some((Choice::Timeout(&name.node), stmt.span))),
                Arm::Failure(name) => (
                    vec![self.fact(Fact::WebhookMeta(name.node.clone()))],
                    Some((Choice::Fails(&name.node), stmt.span)),
                ),
                Arm::Case(_, case) => (split_result.clone(), Some((Choice::Case(&case.test.kind), case.span))),
                Arm::Other => (split_result.clone(), Some((Choice::Other, stmt.span))),
                Arm::Body(name) => {
                    self.steps.entry(name.node.as_str()).or_insert(n);
                    (Vec::new(), None)
                }
                Arm::Expired(flow) => (Vec::new(), Some((Choice::Expires(&flow.node), stmt.span))),
            };
            outs.extend(self.block(block, vec![(n, defines, label)]));
        }
        for block in exits.dead {
            // Never runs, but is still checked: lowered with nothing leading in.
            outs.extend(self.block(block, Vec::new()));
        }
        if let Some(target) = exits.goto {
            self.gotos.push((n, target.node.as_str(), stmt.span));
        }
        outs
    }

    /// What a statement that simply goes on to the next one establishes.
    fn plain_facts(&mut self, stmt: &'a Stmt) -> Vec<usize> {
        match &stmt.kind {
            StmtKind::Set { name, .. } => vec![self.fact(Fact::FlowVar(name.node.clone()))],
            StmtKind::Respond(_) => vec![self.fact(Fact::Responded)],
            // A statement that did not parse defines what its name says it would, so that one error
            // does not bring others after it.
            StmtKind::Error { keyword, name: Some(name), .. } => match keyword.as_deref() {
                Some("step") => {
                    self.steps.entry(name.node.as_str()).or_insert(self.nodes.len() - 1);
                    Vec::new()
                }
                Some("webhook") => vec![
                    self.fact(Fact::FlowVar(name.node.clone())),
                    self.fact(Fact::Extra),
                    self.fact(Fact::WebhookMeta(name.node.clone())),
                ],
                _ => vec![self.fact(Fact::FlowVar(name.node.clone()))],
            },
            _ => Vec::new(),
        }
    }
}

impl<'a> Graph<'a> {
    /// Builds the graph of a flow body and runs both analyses; `children` says what the flows it enters
    /// define on every path to their end.
    pub(crate) fn build(body: &'a Block, children: &ChildResults<'_>) -> Graph<'a> {
        let mut lower = Lower {
            nodes: vec![Node { kind: NodeKind::Entry, edges: vec![] }, Node { kind: NodeKind::Exit, edges: vec![] }],
            facts: HashMap::default(),
            node_of: HashMap::default(),
            steps: HashMap::default(),
            gotos: Vec::new(),
            webhooks: Vec::new(),
            children,
        };
        let outs = lower.block(body, vec![(ENTRY, vec![], None)]);
        lower.connect(outs, EXIT);
        for (from, target, span) in std::mem::take(&mut lower.gotos) {
            if let Some(&to) = lower.steps.get(target) {
                lower.nodes[from].edges.push(Edge {
                    to,
                    defines: vec![],
                    new_child: false,
                    label: Some((Choice::Goto(target), span)),
                });
            }
        }
        let mut g = Graph {
            must: FactTable::new(0, 0),
            may: FactTable::new(0, 0),
            reached: Vec::new(),
            nodes: lower.nodes,
            facts: lower.facts,
            node_of: lower.node_of,
            steps: lower.steps,
            webhooks: lower.webhooks,
        };
        g.analyse();
        g
    }

    fn analyse(&mut self) {
        let n_facts = self.facts.len();
        let n = self.nodes.len();
        self.must = FactTable::new(n, n_facts);
        self.may = FactTable::new(n, n_facts);
        self.reached = vec![false; n];
        self.reached[ENTRY] = true;
        let words = self.must.words;
        let (mut must_out, mut may_out) = (vec![0u64; words], vec![0u64; words]);
        // The `@child.NAME` facts, which an `enter` forgets.
        let mut children = vec![0u64; words];
        for (fact, &i) in &self.facts {
            if matches!(fact, Fact::ChildVar(_)) {
                children[i / 64] |= 1 << (i % 64);
            }
        }
        let mut work = vec![ENTRY];
        let mut queued = vec![false; n];
        queued[ENTRY] = true;
        while let Some(node) = work.pop() {
            queued[node] = false;
            for e in &self.nodes[node].edges {
                must_out.copy_from_slice(self.must.row(node));
                may_out.copy_from_slice(self.may.row(node));
                if e.new_child {
                    for ((m, y), c) in must_out.iter_mut().zip(may_out.iter_mut()).zip(&children) {
                        *m &= !c;
                        *y &= !c;
                    }
                }
                for &f in &e.defines {
                    must_out[f / 64] |= 1 << (f % 64);
                    may_out[f / 64] |= 1 << (f % 64);
                }
                let changed = if self.reached[e.to] {
                    self.must.merge(e.to, &must_out, true)
                } else {
                    self.reached[e.to] = true;
                    self.must.set_row(e.to, &must_out);
                    true
                };
                let changed = self.may.merge(e.to, &may_out, false) | changed;
                if changed && !queued[e.to] {
                    queued[e.to] = true;
                    work.push(e.to);
                }
            }
        }
    }

    /// The index of a fact, if the flow ever defines it.
    pub(crate) fn fact(&self, f: &Fact) -> Option<usize> {
        self.facts.get(f).copied()
    }

    /// Whether `fact` holds on every path to `node`. An undefined fact never holds.
    pub(crate) fn must_have(&self, node: usize, fact: &Fact) -> bool {
        match self.fact(fact) {
            _ if !self.reached[node] => true,
            Some(i) => self.must.has(node, i),
            None => false,
        }
    }

    /// Whether `fact` holds on some path to `node`.
    pub(crate) fn may_have(&self, node: usize, fact: &Fact) -> bool {
        self.fact(fact).is_some_and(|i| self.may.has(node, i))
    }

    /// Whether some path reaches `node`.
    pub(crate) fn reachable(&self, node: usize) -> bool {
        self.reached[node]
    }

    /// How many edges the shortest way from `from` to `to` takes (at least one: a node reaches itself
    /// only around a loop); `None` when there is none.
    pub(crate) fn distance(&self, from: usize, to: usize) -> Option<usize> {
        let mut dist: Vec<Option<usize>> = vec![None; self.nodes.len()];
        let mut queue = std::collections::VecDeque::new();
        for e in &self.nodes[from].edges {
            if dist[e.to].is_none() {
                dist[e.to] = Some(1);
                queue.push_back(e.to);
            }
        }
        while let Some(node) = queue.pop_front() {
            let d = dist[node]?;
            if node == to {
                return Some(d);
            }
            for e in &self.nodes[node].edges {
                if dist[e.to].is_none() {
                    dist[e.to] = Some(d + 1);
                    queue.push_back(e.to);
                }
            }
        }
        None
    }

    /// A shortest path from the start to `target` on which `fact` is never established, described by
    /// the decisions taken on it (`line 7: \`wait x\` times out`, ...).
    pub(crate) fn path_without(&self, src: &str, lines: &LineIndex, target: usize, fact: &Fact) -> Vec<String> {
        let avoid = self.fact(fact);
        let n = self.nodes.len();
        let mut prev: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([ENTRY]);
        seen[ENTRY] = true;
        while let Some(node) = queue.pop_front() {
            if node == target {
                break;
            }
            for (i, e) in self.nodes[node].edges.iter().enumerate() {
                if seen[e.to] || avoid.is_some_and(|f| e.defines.contains(&f)) {
                    continue;
                }
                seen[e.to] = true;
                prev[e.to] = Some((node, i));
                queue.push_back(e.to);
            }
        }
        let mut labels = Vec::new();
        let mut cur = target;
        while let Some((p, i)) = prev[cur] {
            if let Some((choice, span)) = &self.nodes[p].edges[i].label {
                labels.push(describe_choice(src, lines, choice, *span));
            }
            cur = p;
        }
        labels.reverse();
        labels
    }
}

fn describe_choice(src: &str, lines: &LineIndex, choice: &Choice<'_>, span: Span) -> String {
    let line = lines.line_col(src, span.start).0;
    let what = match choice {
        Choice::Reply(name) => format!("a reply to `wait {name}`"),
        Choice::Timeout(name) => format!("`wait {name}` times out"),
        Choice::Succeeds(name) => format!("`webhook {name}` succeeds"),
        Choice::Fails(name) => format!("`webhook {name}` fails"),
        Choice::Case(TestKind::Named { name, .. }) => format!("`case {}` matches", name.node),
        Choice::Case(TestKind::Compare { op, .. }) => format!("`case {}` matches", op.as_str()),
        Choice::Other => "the split goes to `other`".to_string(),
        Choice::NoMatch => "no case of the split matches".to_string(),
        Choice::Goto(target) => format!("`goto {target}`"),
        Choice::Completes(flow) => format!("`enter {flow}` completes"),
        Choice::Expires(flow) => format!("`enter {flow}` expires"),
    };
    format!("line {line}: {what}")
}

/// Formats a path for a help line.
pub(crate) fn describe_path(steps: &[String]) -> String {
    if steps.is_empty() { "straight from the start of the flow".to_string() } else { steps.join(" → ") }
}
