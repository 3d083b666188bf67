//! `flowc graph`: a flow as a diagram (Mermaid or Graphviz DOT). Nodes are the statements that route
//! (waits, webhooks, splits, steps, responds, stops) and runs of plain statements (`send`, `set`,
//! `email`) folded into one; edges follow `crate::control` (the checker's and the compiler's
//! description of control flow), labelled with what was decided: a reply or a timeout, a call's success
//! or failure, a split's category. ChartNode ids come from names and positions within named steps, not from
//! line numbers, so that a picture diffs well when the flow changes.

use std::fmt::Write;

use crate::ast::*;
use crate::control::{Arm, Next};

/// The diagram languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart` (renders on GitHub in Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

#[derive(Clone, Copy, PartialEq)]
enum NodeShape {
    Start,
    End,
    Action,
    Decision,
    Step,
}

struct ChartNode {
    id: String,
    label: String,
    shape: NodeShape,
}

/// The diagram of `flows` in `format`: one picture, with a box per flow when there are several.
pub fn render_all(flows: &[&Flow], format: Format) -> String {
    if let [flow] = flows {
        return render(flow, format);
    }
    let parts: Vec<Chart> = flows.iter().map(|f| build(f, &format!("{}__", f.name.node))).collect();
    match format {
        Format::Mermaid => {
            let mut out = String::from("flowchart TD\n");
            for (flow, g) in flows.iter().zip(&parts) {
                let _ = writeln!(out, "  subgraph {}__flow [\"{}\"]", flow.name.node, mermaid_text(&flow.name.node));
                out.push_str(&g.mermaid_nodes("    "));
                out.push_str("  end\n");
            }
            for g in &parts {
                out.push_str(&g.mermaid_edges());
            }
            for (from, to) in entered(flows, &parts) {
                let _ = writeln!(out, "  {from} -.->|enter| {to}");
            }
            out
        }
        Format::Dot => {
            let mut out = String::from(
                "digraph flows {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
            );
            for (flow, g) in flows.iter().zip(&parts) {
                let _ = writeln!(
                    out,
                    "  subgraph cluster_{} {{\n    label={};",
                    flow.name.node,
                    dot_quote(&flow.name.node)
                );
                out.push_str(&g.dot_body("    "));
                out.push_str("  }\n");
            }
            for (from, to) in entered(flows, &parts) {
                let _ = writeln!(out, "  {from} -> {to} [style=dashed, label=\"enter\"];");
            }
            out.push_str("}\n");
            out
        }
    }
}

/// The `enter` edges between the flows of one picture: from each `enter` node to the start of the
/// flow it enters (node ids).
fn entered(flows: &[&Flow], parts: &[Chart]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in parts {
        for (n, target) in &g.enters {
            let start = flows.iter().position(|f| f.name.node == *target).and_then(|i| parts[i].nodes.first());
            if let Some(start) = start {
                out.push((g.nodes[*n].id.clone(), start.id.clone()));
            }
        }
    }
    out
}

/// The diagram of `flow` in `format`.
pub fn render(flow: &Flow, format: Format) -> String {
    let g = build(flow, "");
    match format {
        Format::Mermaid => g.mermaid(),
        Format::Dot => g.dot(&flow.name.node),
    }
}

fn build(flow: &Flow, prefix: &str) -> Chart {
    let mut g = Chart {
        nodes: Vec::new(),
        edges: Vec::new(),
        steps: Vec::new(),
        gotos: Vec::new(),
        enters: Vec::new(),
        used: Default::default(),
        prefix: prefix.to_string(),
    };
    let start = g.node(&format!("{}_start", flow.name.node), flow.name.node.clone(), NodeShape::Start);
    let ends = g.block(&flow.body, vec![(start, None)], &flow.name.node);
    if !ends.is_empty() {
        // Not `end`: a word of Mermaid's own.
        let end = g.node(&format!("{}_end", flow.name.node), "end".into(), NodeShape::End);
        g.connect(ends, end);
    }
    for (from, target, label) in std::mem::take(&mut g.gotos) {
        if let Some(&(_, step)) = g.steps.iter().find(|(name, _)| *name == target) {
            let label = label.map_or_else(|| "goto".to_string(), |l| format!("{l} → goto"));
            g.edges.push((from, step, Some(label)));
        }
    }
    g
}

/// Text in a Mermaid label: quotes and angle brackets as Mermaid's entity codes, line breaks as `<br/>`.
fn mermaid_text(s: &str) -> String {
    s.replace('#', "#35;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;").replace('\n', "<br/>")
}

/// A DOT string literal.
fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

type Loose = Vec<(usize, Option<String>)>;

struct Chart {
    nodes: Vec<ChartNode>,
    edges: Vec<(usize, usize, Option<String>)>,
    steps: Vec<(String, usize)>,
    gotos: Vec<(usize, String, Option<String>)>,
    /// `enter FLOW` nodes and the flow each enters: drawn to that flow's start when it is in the
    /// same picture.
    enters: Vec<(usize, String)>,
    used: std::collections::HashMap<String, usize>,
    /// Prefix of every id (the flow's name when several flows share one picture).
    prefix: String,
}

impl Chart {
    /// A node with an id made unique (and stable: the same flow gives the same ids).
    fn node(&mut self, id: &str, label: String, shape: NodeShape) -> usize {
        let base: String = format!(
            "{}{}",
            self.prefix,
            id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>()
        );
        // Unique among every id given so far (`x_2` may also be a name of the flow's own).
        let mut n = *self.used.get(&base).unwrap_or(&0);
        let id = loop {
            n += 1;
            let candidate = if n == 1 { base.clone() } else { format!("{base}_{n}") };
            if !self.nodes.iter().any(|node| node.id == candidate) {
                break candidate;
            }
        };
        self.used.insert(base, n);
        self.nodes.push(ChartNode { id, label, shape });
        self.nodes.len() - 1
    }

    fn connect(&mut self, preds: Loose, to: usize) {
        for (from, label) in preds {
            self.edges.push((from, to, label));
        }
    }

    /// Lowers a block whose entry edges are `preds`; returns the edges that leave it at its end.
    /// `scope` names the nearest step (or the flow), for node ids.
    fn block(&mut self, block: &Block, mut preds: Loose, scope: &str) -> Loose {
        let mut plain: Vec<String> = Vec::new();
        let mut plain_start: Option<usize> = None;
        for stmt in &block.stmts {
            // Statements nothing falls into are still drawn: a `goto` may reach them.
            if let Some(line) = plain_line(stmt) {
                plain.push(line);
                plain_start.get_or_insert(stmt.span.start);
                continue;
            }
            if !plain.is_empty() {
                preds = self.flush(&mut plain, preds, scope);
            }
            preds = self.stmt(stmt, preds, scope);
        }
        if !plain.is_empty() {
            preds = self.flush(&mut plain, preds, scope);
        }
        preds
    }

    /// A node for a run of plain statements.
    fn flush(&mut self, plain: &mut Vec<String>, preds: Loose, scope: &str) -> Loose {
        let label = std::mem::take(plain).join("\n");
        let n = self.node(&format!("{scope}_do"), label, NodeShape::Action);
        self.connect(preds, n);
        vec![(n, None)]
    }

    fn stmt(&mut self, stmt: &Stmt, preds: Loose, scope: &str) -> Loose {
        let (id, label, shape) = match &stmt.kind {
            StmtKind::Wait { name, .. } => {
                (format!("wait_{}", name.node), format!("wait {}", name.node), NodeShape::Decision)
            }
            StmtKind::Webhook(w) => (
                format!("webhook_{}", w.name.node),
                format!("{} {}", w.method.node.as_str(), w.name.node),
                NodeShape::Decision,
            ),
            StmtKind::Split(s) => {
                let what = match &s.result {
                    Some(r) => format!("split {}", r.node),
                    None => format!("split {}", short(&operand_text(&s.operand))),
                };
                (format!("{scope}_split"), what, NodeShape::Decision)
            }
            StmtKind::Step { name, .. } => {
                (format!("step_{}", name.node), format!("step {}", name.node), NodeShape::Step)
            }
            StmtKind::Respond(r) => {
                let code = match &r.status {
                    RespondStatus::Code(c) => c.node.to_string(),
                    RespondStatus::Dynamic(_) => "status".into(),
                };
                (format!("{scope}_respond"), format!("respond {code}"), NodeShape::Action)
            }
            StmtKind::Goto { target } => {
                // A goto is an edge, not a node.
                for (from, label) in preds {
                    self.gotos.push((from, target.node.clone(), label));
                }
                return Vec::new();
            }
            StmtKind::Stop => (format!("{scope}_stop"), "stop".into(), NodeShape::End),
            StmtKind::Enter { flow, terminal: Some(_), .. } => {
                (format!("enter_{}_terminal", flow.node), format!("enter {} (terminal)", flow.node), NodeShape::End)
            }
            StmtKind::Enter { flow, .. } => {
                (format!("enter_{}", flow.node), format!("enter {}", flow.node), NodeShape::Decision)
            }
            _ => (format!("{scope}_stmt"), "…".into(), NodeShape::Action),
        };
        let n = self.node(&id, label, shape);
        self.connect(preds, n);
        if let StmtKind::Step { name, .. } = &stmt.kind {
            self.steps.push((name.node.clone(), n));
        }
        if let StmtKind::Enter { flow, .. } = &stmt.kind {
            self.enters.push((n, flow.node.clone()));
        }
        if let StmtKind::Wait { timeout: Some(_), on_timeout, .. } = &stmt.kind
            && on_timeout.is_empty()
        {
            let expired = self.node(&format!("{id}_expired"), "expired".into(), NodeShape::End);
            self.edges.push((n, expired, Some("timeout".into())));
        }
        if let StmtKind::Enter { terminal: None, on_expired, .. } = &stmt.kind
            && on_expired.is_empty()
        {
            let expired = self.node(&format!("{id}_expired"), "expired".into(), NodeShape::End);
            self.edges.push((n, expired, Some("expired".into())));
        }
        let exits = crate::control::exits(stmt);
        let mut out: Loose = match exits.next {
            Some(Next::Always) => vec![(n, None)],
            Some(Next::Reply) => vec![(n, Some("reply".into()))],
            Some(Next::Success) => vec![(n, Some("ok".into()))],
            Some(Next::NoMatch) => vec![(n, Some("no match".into()))],
            Some(Next::Complete) => vec![(n, Some("completed".into()))],
            None => Vec::new(),
        };
        for (arm, block) in exits.arms {
            // Ids inside an arm carry its name, so that adding a case does not renumber the others.
            let (label, inner_scope) = match arm {
                Arm::Timeout(name) => (Some("timeout".to_string()), format!("{}_timeout", name.node)),
                Arm::Failure(name) => (Some("failure".to_string()), format!("{}_failure", name.node)),
                Arm::Case(_, case) => (Some(category(case)), format!("{id}_{}", category(case))),
                Arm::Other => (Some("other".to_string()), format!("{id}_other")),
                Arm::Body(name) => (None, name.node.clone()),
                Arm::Expired(flow) => (Some("expired".to_string()), format!("{id}_{}_expired", flow.node)),
            };
            out.extend(self.block(block, vec![(n, label)], &inner_scope));
        }
        out
    }

    fn mermaid(&self) -> String {
        format!("flowchart TD\n{}{}", self.mermaid_nodes("  "), self.mermaid_edges())
    }

    fn mermaid_nodes(&self, indent: &str) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let label = mermaid_text(&node.label);
            let _ = match node.shape {
                NodeShape::Start => writeln!(out, "{indent}{}([\"{label}\"])", node.id),
                NodeShape::End => writeln!(out, "{indent}{}((\"{label}\"))", node.id),
                NodeShape::Action => writeln!(out, "{indent}{}[\"{label}\"]", node.id),
                NodeShape::Decision => writeln!(out, "{indent}{}{{\"{label}\"}}", node.id),
                NodeShape::Step => writeln!(out, "{indent}{}[[\"{label}\"]]", node.id),
            };
        }
        out
    }

    fn mermaid_edges(&self) -> String {
        let mut out = String::new();
        for (from, to, label) in &self.edges {
            let (from, to) = (&self.nodes[*from].id, &self.nodes[*to].id);
            let _ = match label {
                Some(l) => writeln!(out, "  {from} -->|\"{}\"| {to}", mermaid_text(l)),
                None => writeln!(out, "  {from} --> {to}"),
            };
        }
        out
    }

    fn dot(&self, name: &str) -> String {
        format!(
            "digraph {} {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n{}}}\n",
            dot_quote(name),
            self.dot_body("  ")
        )
    }

    fn dot_body(&self, indent: &str) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let shape = match node.shape {
                NodeShape::Start => "oval",
                NodeShape::End => "doublecircle",
                NodeShape::Action => "box",
                NodeShape::Decision => "diamond",
                NodeShape::Step => "box3d",
            };
            let _ = writeln!(out, "{indent}{} [label={}, shape={shape}];", node.id, dot_quote(&node.label));
        }
        for (from, to, label) in &self.edges {
            let (from, to) = (&self.nodes[*from].id, &self.nodes[*to].id);
            let _ = match label {
                Some(l) => writeln!(out, "{indent}{from} -> {to} [label={}];", dot_quote(l)),
                None => writeln!(out, "{indent}{from} -> {to};"),
            };
        }
        out
    }
}

/// The one-line text of a plain statement, shortened; `None` for statements that route.
fn plain_line(stmt: &Stmt) -> Option<String> {
    Some(match &stmt.kind {
        StmtKind::Send { text, .. } => format!("send {}", short(&template_text(text))),
        StmtKind::Set { name, .. } => format!("set {}", name.node),
        StmtKind::SetContact { target, .. } => format!("set {}", target.node.reference()),
        StmtKind::Email { to, .. } => format!("email {}", short(&template_text(to))),
        StmtKind::Numbers { decimal } => format!("numbers decimal \"{}\"", decimal.node),
        StmtKind::Dates { order } => format!("dates {}", order.node),
        _ => return None,
    })
}

/// A case's category: `as` name, else its test.
fn category(case: &Case) -> String {
    if let Some(c) = &case.category {
        return c.node.clone();
    }
    match &case.test.kind {
        TestKind::Named { name, .. } => name.node.clone(),
        TestKind::Compare { op, .. } => op.as_str().to_string(),
    }
}

fn template_text(t: &Template) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(s) => s.clone(),
            TemplatePart::Ref(r) => {
                format!("@{}{}", r.root.as_str(), r.path.iter().map(|s| format!(".{}", s.node)).collect::<String>())
            }
            TemplatePart::Expr(_) => "@(…)".into(),
        })
        .collect()
}

fn operand_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Ref(r) => {
            format!("@{}{}", r.root.as_str(), r.path.iter().map(|s| format!(".{}", s.node)).collect::<String>())
        }
        _ => "…".into(),
    }
}

/// At most 32 characters, cut with `…`.
fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= 32 { s } else { format!("{}…", s.chars().take(31).collect::<String>()) }
}
