//! What the checker knows about a file, kept for editors: every definition, every use with the
//! definitions it resolves to, and the type of every expression and reference. Hover, go to definition,
//! find references, rename and completion are queries on it.
//!
//! Definitions and uses are found by [`resolve`], a pass of its own over the syntax tree (it works on
//! trees with syntax errors too: an error statement that names what it defines still defines it); the
//! types come from the flow checker as it types each expression.

use crate::ast::*;
use crate::span::Span;
use crate::types::Ty;

/// What a definition defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// `flow NAME { ... }`
    Flow,
    /// `connector NAME ...`
    Connector,
    /// `trigger webhook "/suffix" ...` (named by its suffix)
    Trigger,
    /// `step NAME { ... }`
    Step,
    /// A result `@flow.NAME`: `wait NAME`, `set NAME =`, `split NAME =`, `webhook NAME` (the answer).
    Result,
    /// `webhook NAME ...`: the call, read as `@webhook.NAME.*`.
    Webhook,
    /// `channel NAME ...`
    Channel,
}

/// One definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// What it defines.
    pub kind: DefKind,
    /// The name (a trigger's suffix).
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// The flow it belongs to (steps, results, webhooks); `None` for items.
    pub flow: Option<String>,
    /// The statement or item that defines it (hover shows it).
    pub site: Span,
    /// The keyword of the defining statement (`wait`, `set`, `split`, `webhook`, `step`, ...).
    pub by: &'static str,
}

/// One use of a name.
#[derive(Clone, Debug, PartialEq)]
pub struct Use {
    /// What kind of definition it refers to.
    pub kind: DefKind,
    /// The name as used.
    pub name: String,
    /// Where the name is written (for `@flow.NAME`, the `NAME` segment).
    pub span: Span,
    /// The whole reference (`@flow.NAME.category`) or the statement word (`goto NAME`).
    pub whole: Span,
    /// Indices into [`Model::definitions`] that it resolves to (a result may be defined in several
    /// places); empty when it resolves to nothing.
    pub targets: Vec<usize>,
}

/// What the checker knows about a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    /// Every definition, in source order within each kind of pass.
    pub definitions: Vec<Definition>,
    /// Every use of a flow, connector, step, result or webhook name.
    pub uses: Vec<Use>,
    /// The type of every expression and reference the checker typed, by span.
    pub types: Vec<(Span, Ty)>,
    /// For each statement, the `@flow` results defined on every path into it (definite assignment):
    /// what completion offers there.
    pub definite: Vec<(Span, Vec<String>)>,
    /// For each flow that enters others: the names `@child.` can take in it.
    pub children: Vec<(String, Vec<String>)>,
    /// For each flow that others enter: the names `@parent.` can take in it.
    pub parents: Vec<(String, Vec<String>)>,
}

impl Model {
    /// The definitions of `kind` named `name` (in `flow`, for flow-local kinds).
    pub fn find(&self, kind: DefKind, name: &str, flow: Option<&str>) -> Vec<&Definition> {
        self.definitions.iter().filter(|d| d.kind == kind && d.name == name && d.flow.as_deref() == flow).collect()
    }

    /// The uses whose targets include definition `index`.
    pub fn uses_of(&self, index: usize) -> impl Iterator<Item = &Use> {
        self.uses.iter().filter(move |u| u.targets.contains(&index))
    }

    /// The results defined on every path to byte `pos` (those of the innermost statement around it).
    pub fn definite_at(&self, pos: usize) -> Option<&[String]> {
        self.definite
            .iter()
            .filter(|(s, _)| s.start <= pos && pos <= s.end)
            .min_by_key(|(s, _)| s.len())
            .map(|(_, names)| names.as_slice())
    }

    /// The innermost typed expression or reference at byte `pos`.
    pub fn type_at(&self, pos: usize) -> Option<&Ty> {
        self.types
            .iter()
            .filter(|(s, _)| s.start <= pos && pos < s.end.max(s.start + 1))
            .min_by_key(|(s, _)| s.len())
            .map(|(_, t)| t)
    }
}

/// Finds every definition and use of a file and resolves the uses.
pub fn resolve(file: &SourceFile) -> Model {
    let mut r = Resolver::default();
    for f in &file.flows {
        r.def(DefKind::Flow, &f.name, None, f.span, "flow");
    }
    for c in &file.connectors {
        r.def(DefKind::Connector, &c.name, None, c.span, "connector");
    }
    for t in &file.triggers {
        r.def(DefKind::Trigger, &t.suffix, None, t.span, "trigger");
        for s in &t.starts {
            r.use_(DefKind::Flow, s, s.span, None);
        }
        if let Some(TriggerAuth::Connector(name)) = &t.auth {
            r.use_(DefKind::Connector, name, name.span, None);
        }
        if let Some(f) = &t.start_for {
            r.use_(DefKind::Channel, &f.channel, f.channel.span, None);
        }
    }
    for c in &file.channels {
        r.def(DefKind::Channel, &c.name, None, c.span, "channel");
        for (_, auth) in c.kind.receives() {
            if let Some(TriggerAuth::Connector(name)) = auth {
                r.use_(DefKind::Connector, name, name.span, None);
            }
        }
        for w in c.kind.sends() {
            if let Some(a) = &w.auth {
                r.use_(DefKind::Connector, a, a.span, None);
            }
        }
    }
    for t in &file.message_triggers {
        for s in &t.starts {
            r.use_(DefKind::Flow, s, s.span, None);
        }
        if let Some(c) = &t.channel {
            r.use_(DefKind::Channel, c, c.span, None);
        }
    }
    for f in &file.flows {
        r.flow = Some(f.name.node.clone());
        r.block_defs(&f.body);
        r.block_uses(&f.body);
    }
    r.flow = None;
    // Resolve: by name, within the flow for flow-local kinds.
    let Resolver { definitions, mut uses, enters, across, .. } = r;
    let mut by_name: std::collections::HashMap<(DefKind, &str, Option<&str>), Vec<usize>> =
        std::collections::HashMap::with_capacity(definitions.len());
    for (i, d) in definitions.iter().enumerate() {
        by_name.entry((d.kind, d.name.as_str(), d.flow.as_deref())).or_default().push(i);
    }
    // `@child.NAME` and `@parent.NAME` resolve in the flows entered and entering, each looked up once.
    let across: std::collections::HashMap<usize, bool> = across.into_iter().collect();
    let mut entered: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    let mut entering: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for (from, to) in &enters {
        entered.entry(from.as_str()).or_default().push(to.as_str());
        entering.entry(to.as_str()).or_default().push(from.as_str());
    }
    for list in entered.values_mut().chain(entering.values_mut()) {
        list.sort_unstable();
        list.dedup();
    }
    for (i, (flow, u)) in uses.iter_mut().enumerate() {
        let flows: Vec<Option<&str>> = match (across.get(&i), flow.as_deref()) {
            (Some(false), Some(f)) => entered.get(f).into_iter().flatten().map(|c| Some(*c)).collect(),
            (Some(true), Some(f)) => entering.get(f).into_iter().flatten().map(|p| Some(*p)).collect(),
            _ => vec![flow.as_deref()],
        };
        for f in &flows {
            u.targets.extend(by_name.get(&(u.kind, u.name.as_str(), *f)).into_iter().flatten());
        }
        // Definitions in several flows, in the order they are written (each list is in order).
        if flows.len() > 1 {
            u.targets.sort_unstable();
            u.targets.dedup();
        }
    }
    Model {
        definitions,
        uses: uses.into_iter().map(|(_, u)| u).collect(),
        types: Vec::new(),
        definite: Vec::new(),
        children: Vec::new(),
        parents: Vec::new(),
    }
}

#[derive(Default)]
struct Resolver {
    definitions: Vec<Definition>,
    /// Uses with the flow they are in (`None`: file level).
    uses: Vec<(Option<String>, Use)>,
    flow: Option<String>,
    /// `enter`s: the flow each is in and the flow it names.
    enters: Vec<(String, String)>,
    /// Uses (by index) that are `@child.NAME` (`false`) or `@parent.NAME` (`true`).
    across: Vec<(usize, bool)>,
}

impl Resolver {
    fn def(&mut self, kind: DefKind, name: &Name, flow: Option<String>, site: Span, by: &'static str) {
        self.definitions.push(Definition { kind, name: name.node.clone(), span: name.span, flow, site, by });
    }

    fn local(&mut self, kind: DefKind, name: &Name, site: Span, by: &'static str) {
        let flow = self.flow.clone();
        self.def(kind, name, flow, site, by);
    }

    fn use_(&mut self, kind: DefKind, name: &Name, whole: Span, flow: Option<String>) {
        let u = Use { kind, name: name.node.clone(), span: name.span, whole, targets: Vec::new() };
        self.uses.push((flow, u));
    }

    fn block_defs(&mut self, block: &Block) {
        use crate::check::defs::{DefinedBy, each_definition};
        each_definition(block, &mut |d| {
            let kinds: &[DefKind] = match d.by {
                DefinedBy::Step => &[DefKind::Step],
                DefinedBy::Webhook => &[DefKind::Result, DefKind::Webhook],
                _ => &[DefKind::Result],
            };
            for kind in kinds {
                self.local(*kind, d.name, d.stmt.span, d.by.keyword());
            }
        });
    }

    fn block_uses(&mut self, block: &Block) {
        for stmt in &block.stmts {
            self.stmt_uses(stmt);
        }
    }

    fn stmt_uses(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Send { text, replies } => {
                self.template(text);
                replies.iter().for_each(|r| self.template(r));
            }
            StmtKind::Wait { on_timeout, .. } => on_timeout.iter().for_each(|b| self.block_uses(b)),
            StmtKind::Enter { flow, on_expired, .. } => {
                self.use_(DefKind::Flow, flow, flow.span, None);
                if let Some(from) = &self.flow {
                    self.enters.push((from.clone(), flow.node.clone()));
                }
                on_expired.iter().for_each(|b| self.block_uses(b));
            }
            StmtKind::Webhook(w) => {
                self.template(&w.url);
                for (_, e) in w.headers.iter().chain(&w.query) {
                    self.expr(e);
                }
                if let Some(a) = &w.auth {
                    self.use_(DefKind::Connector, a, a.span, None);
                }
                if let Some(b) = &w.body {
                    self.body(&b.node);
                }
                if let Some(b) = &w.on_failure {
                    self.block_uses(b);
                }
            }
            StmtKind::Split(s) => {
                self.expr(&s.operand);
                for case in &s.cases {
                    match &case.test.kind {
                        TestKind::Compare { value, .. } => self.expr(value),
                        TestKind::Named { args, .. } => args.iter().for_each(|a| self.expr(a)),
                    }
                    self.block_uses(&case.body);
                }
                if let Some(o) = &s.other {
                    self.block_uses(o);
                }
            }
            StmtKind::Set { value, .. } | StmtKind::SetContact { value, .. } => self.expr(value),
            StmtKind::Step { body, .. } => self.block_uses(body),
            StmtKind::Goto { target } => {
                let flow = self.flow.clone();
                self.use_(DefKind::Step, target, stmt.span, flow);
            }
            StmtKind::Email { to, subject, body } => {
                self.template(to);
                self.template(subject);
                self.template(body);
            }
            StmtKind::Respond(r) => {
                if let RespondStatus::Dynamic(e) = &r.status {
                    self.expr(e);
                }
                for (_, e) in &r.headers {
                    self.expr(e);
                }
                if let Some(b) = &r.body {
                    self.body(&b.node);
                }
            }
            StmtKind::Error { reads, .. } => {
                for name in reads {
                    let flow = self.flow.clone();
                    self.use_(DefKind::Result, name, name.span, flow);
                }
            }
            StmtKind::Numbers { .. } | StmtKind::Dates { .. } | StmtKind::Stop => {}
        }
    }

    fn body(&mut self, body: &Body) {
        match body {
            Body::Json(j) => self.json(j),
            Body::Xml(t) | Body::Text(t) => self.template(t),
            Body::Form(fields) => fields.iter().for_each(|(_, e)| self.expr(e)),
        }
    }

    fn json(&mut self, j: &Json) {
        match j {
            Json::Object(members, _) => members.iter().for_each(|(_, v)| self.json(v)),
            Json::Array(items, _) => items.iter().for_each(|v| self.json(v)),
            Json::Expr(e) => self.expr(e),
        }
    }

    fn template(&mut self, t: &Template) {
        for part in &t.parts {
            match part {
                TemplatePart::Ref(r) => self.reference(r),
                TemplatePart::Expr(e) => self.expr(e),
                TemplatePart::Text(_) => {}
            }
        }
    }

    fn reference(&mut self, r: &Reference) {
        let flow = self.flow.clone();
        match (r.root, r.path.first()) {
            (Root::Flow, Some(name)) => self.use_(DefKind::Result, name, r.span, flow),
            (Root::Webhook, Some(name)) => self.use_(DefKind::Webhook, name, r.span, flow),
            (Root::Child | Root::Parent, Some(name)) => {
                self.across.push((self.uses.len(), r.root == Root::Parent));
                self.use_(DefKind::Result, name, r.span, flow);
            }
            _ => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Str(t) => self.template(t),
            ExprKind::Ref(r) => self.reference(r),
            ExprKind::Call { args, .. } => args.iter().for_each(|a| self.expr(a)),
            ExprKind::Field(base, _) => self.expr(base),
            ExprKind::Index(base, index) => {
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Unary(_, inner) | ExprKind::Group(inner) => self.expr(inner),
            ExprKind::Binary(_, l, r) => {
                self.expr(l);
                self.expr(r);
            }
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null | ExprKind::Env(_) | ExprKind::Error => {}
        }
    }
}
