//! `flowc export rapidpro`: checked flows as a RapidPro export (flow spec 13, `version "13"`).
//!
//! Each flow's statements become nodes: consecutive sends, sets and e-mails one node of actions; a
//! `wait` a node that waits for a reply (with the `split` of that reply that follows it, one node, as
//! RapidPro's editor draws it); a `split` a switch router; a `webhook` a call with its Success/Failure
//! split. Blocks continue where control goes after them, `goto` to the step's first node, and the end
//! of the flow (or `stop`) is an exit without a destination. UUIDs are derived from the flow's name and
//! each statement's place in it, so exporting again gives the same UUIDs; a step imported from
//! RapidPro (`// node UUID` above it) keeps its node's UUID. What RapidPro has no counterpart for
//! (`respond`, webhook triggers, retries, a connector's secret) is left out and said in a warning.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::excellent::{self, template};
use crate::ast::{
    BinaryOp, Block, Body, ContactTarget, ExprKind, Flow, Json, SourceFile, Split, Stmt, StmtKind, TestKind,
};
use crate::time::derived_uuid as derived;

/// An export and what did not go into it.
pub struct Exported {
    /// The export, as RapidPro's editor imports it.
    pub json: Value,
    /// What was left out or changed, one line each.
    pub warnings: Vec<String>,
}

/// Exports every flow of `files` (each a source text and its checked AST), with their keyword and
/// catch-all triggers.
pub fn export(files: &[(&str, &SourceFile)]) -> Exported {
    let mut flows = Vec::new();
    let mut warnings = Vec::new();
    let mut triggers = Vec::new();
    let mut fields = std::collections::BTreeSet::new();
    let mut groups = std::collections::BTreeSet::new();
    let mut uuids = HashMap::new();
    // Every flow's UUID and name first: `enter` names the flow it runs.
    let mut identities: HashMap<String, (String, String)> = HashMap::new();
    for (src, file) in files {
        for flow in &file.flows {
            let f = FlowExport::new(flow, src, &file.connectors);
            let uuid = f.imported().map_or_else(|| flow_uuid(&flow.name.node), |(u, _)| u);
            identities.insert(flow.name.node.clone(), (uuid, f.title()));
        }
    }
    for (src, file) in files {
        for flow in &file.flows {
            let mut f = FlowExport::new(flow, src, &file.connectors);
            f.identities = identities.clone();
            let exported = f.export();
            uuids.insert(flow.name.node.clone(), (exported["uuid"].clone(), exported["name"].clone()));
            flows.push(exported);
            warnings.append(&mut f.warnings);
            fields.append(&mut f.fields);
            groups.append(&mut f.groups);
        }
    }
    for (_, file) in files {
        for t in &file.message_triggers {
            let Some(start) = t.starts.first() else { continue };
            let (uuid, name) =
                uuids.get(&start.node).cloned().unwrap_or((json!(flow_uuid(&start.node)), json!(start.node)));
            let flow = json!({ "uuid": uuid, "name": name });
            let channel = t.channel.as_ref().map(|c| {
                let what = if t.catchall { "catch-all".to_string() } else { format!("keyword {:?}", t.words.first().map_or("", |w| w.node.as_str())) };
                warnings.push(format!(
                    "the {what} trigger of flow `{}`: its channel `{}` is left out (RapidPro's trigger names its own channel): choose it in RapidPro",
                    start.node, c.node
                ));
            });
            let _ = channel;
            if t.catchall {
                triggers.push(
                    json!({ "trigger_type": "C", "flow": flow, "groups": [], "exclude_groups": [], "channel": null }),
                );
            }
            for word in &t.words {
                triggers.push(json!({
                    "trigger_type": "K", "keyword": word.node, "match_type": "F", "flow": flow,
                    "groups": [], "exclude_groups": [], "channel": null,
                }));
            }
        }
        for t in &file.triggers {
            warnings.push(format!(
                "the webhook trigger `{}` is left out: RapidPro flows are not started by HTTP requests to a path",
                t.suffix.node
            ));
        }
    }
    let fields: Vec<Value> = fields.into_iter().map(|k| json!({ "key": k, "name": k, "type": "text" })).collect();
    // The groups the flows put contacts in, as RapidPro exports them (a static group has no query).
    let groups: Vec<Value> =
        groups.into_iter().map(|g| json!({ "uuid": derived("group", &g), "name": g, "query": null })).collect();
    // Each thing said once, in the order first met.
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Exported {
        json: json!({
            "version": "13",
            "site": "https://app.rapidpro.io",
            "flows": flows,
            "campaigns": [],
            "triggers": triggers,
            "fields": fields,
            "groups": groups,
        }),
        warnings,
    }
}

/// A flow's UUID: derived from its name.
fn flow_uuid(name: &str) -> String {
    derived(name, "flow")
}

/// Where control goes.
#[derive(Clone, Debug, PartialEq)]
enum Dest {
    Node(String),
    Step(String),
    End,
}

struct Node {
    uuid: String,
    /// Where its first statement starts (nodes are written in source order).
    at: usize,
    actions: Vec<Value>,
    router: Option<Value>,
    exits: Vec<(String, Dest)>,
    ui: &'static str,
}

struct FlowExport<'a> {
    flow: &'a Flow,
    src: &'a str,
    connectors: &'a [crate::ast::Connector],
    nodes: Vec<Node>,
    steps: HashMap<String, Dest>,
    warnings: Vec<String>,
    fields: std::collections::BTreeSet<String>,
    groups: std::collections::BTreeSet<String>,
    /// Every flow's UUID and RapidPro name, by flowc name.
    identities: HashMap<String, (String, String)>,
}

impl<'a> FlowExport<'a> {
    fn new(flow: &'a Flow, src: &'a str, connectors: &'a [crate::ast::Connector]) -> Self {
        FlowExport {
            flow,
            src,
            connectors,
            nodes: Vec::new(),
            steps: HashMap::new(),
            warnings: Vec::new(),
            fields: Default::default(),
            groups: Default::default(),
            identities: HashMap::new(),
        }
    }

    /// The flow's name in RapidPro: its label, else its name.
    fn title(&self) -> String {
        self.flow.label.as_ref().map_or_else(|| self.flow.name.node.clone(), |l| l.node.clone())
    }

    fn uuid(&self, key: &str) -> String {
        derived(&self.flow.name.node, key)
    }

    fn warn(&mut self, what: String) {
        self.warnings.push(format!("flow `{}`: {what}", self.flow.name.node));
    }

    fn export(&mut self) -> Value {
        let entry = self.block(&self.flow.body, "", Dest::End);
        let entry = self.resolve(&entry);
        let mut nodes = std::mem::take(&mut self.nodes);
        let entry_uuid = match &entry {
            Dest::Node(u) => Some(u.clone()),
            _ => None,
        };
        nodes.sort_by_key(|n| (Some(&n.uuid) != entry_uuid.as_ref(), n.at));
        let resolved: Vec<Vec<(String, Dest)>> =
            nodes.iter().map(|n| n.exits.iter().map(|(u, d)| (u.clone(), self.resolve(d))).collect()).collect();
        let positions = layout(&nodes, &resolved);
        let mut ui = Map::new();
        let mut out = Vec::new();
        for (node, exits) in nodes.iter().zip(&resolved) {
            let exits: Vec<Value> = exits
                .iter()
                .map(|(uuid, d)| match d {
                    Dest::Node(n) => json!({ "uuid": uuid, "destination_uuid": n }),
                    _ => json!({ "uuid": uuid, "destination_uuid": null }),
                })
                .collect();
            let mut n = json!({ "uuid": node.uuid, "actions": node.actions, "exits": exits });
            if let Some(r) = &node.router {
                n["router"] = r.clone();
            }
            out.push(n);
            let (left, top) = positions[&node.uuid];
            ui.insert(node.uuid.clone(), json!({ "position": { "left": left, "top": top }, "type": node.ui }));
        }
        let name = self.flow.name.node.clone();
        // RapidPro shows a flow's label as its name.
        let title = self.title();
        let (uuid, language) = self.imported().unwrap_or_else(|| (flow_uuid(&name), "und".to_string()));
        json!({
            "uuid": uuid,
            "name": title,
            "spec_version": "13.2.0",
            "language": language,
            "type": "messaging",
            "revision": 1,
            "expire_after_minutes": 10080,
            "localization": {},
            "nodes": out,
            "_ui": { "nodes": ui, "stickies": {} },
        })
    }

    /// A flow imported from RapidPro keeps its UUID and language in the comment above it:
    /// `// Imported from RapidPro (flow UUID, language eng).`
    fn imported(&self) -> Option<(String, String)> {
        let before = &self.src[..self.flow.span.start.min(self.src.len())];
        let line = before.trim_end().lines().last()?.trim();
        let rest = line.strip_prefix("// Imported from RapidPro (flow ")?;
        let (uuid, rest) = rest.split_once(", language ")?;
        let language = rest.strip_suffix(").")?;
        let valid = uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        valid.then(|| (uuid.to_string(), if language.is_empty() { "und".into() } else { language.to_string() }))
    }

    /// A step's first node, following steps that are empty.
    fn resolve(&self, d: &Dest) -> Dest {
        let mut d = d.clone();
        for _ in 0..=self.steps.len() {
            match d {
                Dest::Step(ref s) => d = self.steps.get(s).cloned().unwrap_or(Dest::End),
                _ => return d,
            }
        }
        Dest::End
    }

    /// The UUID a step imported from RapidPro keeps: the `// node UUID` comment above it.
    fn kept_uuid(&self, stmt: &Stmt) -> Option<String> {
        let before = &self.src[..stmt.span.start.min(self.src.len())];
        let line = before.trim_end().lines().last()?.trim();
        let uuid = line.strip_prefix("// node ")?.trim();
        (uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then(|| uuid.to_string())
    }

    /// The nodes of `block`, continuing to `next`; its entry.
    fn block(&mut self, block: &Block, path: &str, next: Dest) -> Dest {
        let stmts = &block.stmts;
        let mut cont = next;
        let mut pending: Vec<(usize, &Stmt)> = Vec::new();
        let mut i = stmts.len();
        while i > 0 {
            i -= 1;
            let stmt = &stmts[i];
            if is_action(stmt) {
                // `set NAME = @flow.NAME as "Category"` after `wait NAME` is what the wait node saves.
                let saved = i > 0
                    && matches!(&stmts[i - 1].kind, StmtKind::Wait { name, .. } if saves_reply(stmt, &name.node).is_some());
                if !saved {
                    pending.push((i, stmt));
                }
                continue;
            }
            cont = self.flush(&mut pending, path, cont);
            let key = format!("{path}/{i}");
            cont = match &stmt.kind {
                StmtKind::Goto { target } => Dest::Step(target.node.clone()),
                StmtKind::Stop => Dest::End,
                StmtKind::Step { name, body } => {
                    let entry = self.block(body, &format!("{path}/{}", name.node), cont);
                    // A step imported from RapidPro gives its first node the node's own UUID.
                    let entry = match (self.kept_uuid(stmt), entry) {
                        (Some(uuid), Dest::Node(first)) => {
                            self.rename(first, uuid.clone());
                            Dest::Node(uuid)
                        }
                        (_, e) => e,
                    };
                    self.steps.insert(name.node.clone(), entry.clone());
                    entry
                }
                StmtKind::Wait { name, timeout, on_timeout } => {
                    // A wait and the split of its reply right after it are one node.
                    let split = match stmts.get(i + 1).map(|s| &s.kind) {
                        Some(StmtKind::Split(s)) if reads_reply(s, &name.node) => Some(&**s),
                        _ => None,
                    };
                    let after = cont.clone();
                    // `set NAME = "" as "Category"` first on timeout is what RapidPro's timeout category
                    // saves by itself.
                    let mut timeout_name = "No Response".to_string();
                    let timeout_to = on_timeout.first().map(|b| {
                        let saves = match b.stmts.first().map(|s| &s.kind) {
                            Some(StmtKind::Set { name: n, value, category: Some(c) })
                                if n.node == name.node
                                    && matches!(&value.kind, ExprKind::Str(t) if t.as_literal().is_some_and(|s| s.is_empty())) =>
                            {
                                Some(c.node.clone())
                            }
                            _ => None,
                        };
                        match saves {
                            Some(c) => {
                                timeout_name = c;
                                let rest = Block { stmts: b.stmts[1..].to_vec(), span: b.span };
                                self.block(&rest, &format!("{key}/timeout"), after.clone())
                            }
                            None => self.block(b, &format!("{key}/timeout"), after.clone()),
                        }
                    });
                    let timeout = timeout.as_ref().map(|t| (t.node.millis / 1000, timeout_name));
                    let all = stmts.get(i + 1).and_then(|s| saves_reply(s, &name.node));
                    self.wait(stmt, &key, name, timeout, timeout_to, split, after, all)
                }
                StmtKind::Split(s) => {
                    // Already part of the wait before it.
                    if i > 0
                        && let StmtKind::Wait { name, .. } = &stmts[i - 1].kind
                        && reads_reply(s, &name.node)
                    {
                        continue;
                    }
                    self.split(stmt, &key, s, None, cont)
                }
                StmtKind::Webhook(w) => {
                    let failure = match &w.on_failure {
                        Some(b) => self.block(b, &format!("{key}/failure"), cont.clone()),
                        None => Dest::End,
                    };
                    self.webhook(stmt, &key, w, cont, failure)
                }
                StmtKind::Respond(_) => {
                    self.warn("`respond` is left out: a RapidPro flow does not answer an HTTP request".into());
                    cont
                }
                StmtKind::Enter { flow, terminal, on_expired } => {
                    let expired = match on_expired.first() {
                        Some(b) if terminal.is_none() => self.block(b, &format!("{key}/expired"), cont.clone()),
                        // A flow that expires inside `enter` without `on expired` expires this run too.
                        _ => Dest::End,
                    };
                    self.enter(stmt, &key, &flow.node, terminal.is_some(), cont, expired)
                }
                _ => cont,
            };
        }
        self.flush(&mut pending, path, cont)
    }

    /// Gives node `from` the UUID `to`, and every exit that led to it.
    fn rename(&mut self, from: String, to: String) {
        for n in &mut self.nodes {
            if n.uuid == from {
                n.uuid = to.clone();
            }
            for (_, d) in &mut n.exits {
                if *d == Dest::Node(from.clone()) {
                    *d = Dest::Node(to.clone());
                }
            }
        }
        for d in self.steps.values_mut() {
            if *d == Dest::Node(from.clone()) {
                *d = Dest::Node(to.clone());
            }
        }
    }

    /// The actions gathered (in reverse) as one node leading to `cont`.
    fn flush(&mut self, pending: &mut Vec<(usize, &Stmt)>, path: &str, cont: Dest) -> Dest {
        if pending.is_empty() {
            return cont;
        }
        pending.reverse();
        let (first, stmt) = pending[0];
        let key = format!("{path}/{first}");
        let uuid = self.uuid(&key);
        let mut actions = Vec::new();
        for (n, (_, s)) in pending.iter().enumerate() {
            if let Some(a) = self.action(s, &format!("{key}/a{n}")) {
                actions.push(a);
            }
        }
        pending.clear();
        let exit = self.uuid(&format!("{key}/exit"));
        self.nodes.push(Node {
            uuid: uuid.clone(),
            at: stmt.span.start,
            actions,
            router: None,
            exits: vec![(exit, cont)],
            ui: "execute_actions",
        });
        Dest::Node(uuid)
    }

    fn action(&mut self, stmt: &Stmt, key: &str) -> Option<Value> {
        let uuid = self.uuid(key);
        Some(match &stmt.kind {
            StmtKind::Send { text, replies } => {
                let replies: Vec<String> = replies.iter().map(template).collect();
                json!({ "uuid": uuid, "type": "send_msg", "text": template(text), "attachments": [], "quick_replies": replies })
            }
            StmtKind::Set { name, value, category } => json!({
                "uuid": uuid, "type": "set_run_result", "name": name.node, "value": excellent::value(value),
                "category": category.as_ref().map(|c| c.node.clone()).unwrap_or_default(),
            }),
            StmtKind::SetContact { target, value } => match &target.node {
                ContactTarget::Name => {
                    json!({ "uuid": uuid, "type": "set_contact_name", "name": excellent::value(value) })
                }
                ContactTarget::Language => {
                    json!({ "uuid": uuid, "type": "set_contact_language", "language": excellent::value(value) })
                }
                ContactTarget::Timezone => {
                    json!({ "uuid": uuid, "type": "set_contact_timezone", "timezone": excellent::value(value) })
                }
                ContactTarget::GroupAdd | ContactTarget::GroupRemove => {
                    let kind = if target.node == ContactTarget::GroupAdd {
                        "add_contact_groups"
                    } else {
                        "remove_contact_groups"
                    };
                    let name = excellent::value(value);
                    self.groups.insert(name.clone());
                    json!({ "uuid": uuid, "type": kind, "groups": [{ "uuid": derived("group", &name), "name": name }] })
                }
                ContactTarget::Field(key) => {
                    self.fields.insert(key.clone());
                    json!({ "uuid": uuid, "type": "set_contact_field", "field": { "key": key, "name": key }, "value": excellent::value(value) })
                }
            },
            StmtKind::Email { to, subject, body } => json!({
                "uuid": uuid, "type": "send_email", "addresses": [template(to)], "subject": template(subject), "body": template(body),
            }),
            _ => return None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn wait(
        &mut self,
        stmt: &Stmt,
        key: &str,
        name: &crate::ast::Name,
        timeout: Option<(u64, String)>,
        timeout_to: Option<Dest>,
        split: Option<&Split>,
        cont: Dest,
        all: Option<String>,
    ) -> Dest {
        let mut dest = match split {
            Some(s) => self.split(stmt, key, s, Some(name.node.as_str()), cont.clone()),
            None => {
                let uuid = self.uuid(key);
                let (category, exit) = (self.uuid(&format!("{key}/all")), self.uuid(&format!("{key}/all/exit")));
                let router = json!({
                    "type": "switch", "operand": "@input.text", "result_name": name.node, "cases": [],
                    "categories": [{ "uuid": category, "name": all.unwrap_or_else(|| "All Responses".into()), "exit_uuid": exit }],
                    "default_category_uuid": category,
                });
                self.nodes.push(Node {
                    uuid: uuid.clone(),
                    at: stmt.span.start,
                    actions: vec![],
                    router: Some(router),
                    exits: vec![(exit, cont.clone())],
                    ui: "wait_for_response",
                });
                Dest::Node(uuid)
            }
        };
        let Dest::Node(uuid) = &mut dest else { return dest };
        let node = self.nodes.iter_mut().find(|n| &n.uuid == uuid).expect("just made");
        node.ui = "wait_for_response";
        let router = node.router.as_mut().expect("a router");
        router["operand"] = json!("@input.text");
        router["result_name"] = json!(name.node);
        router["wait"] = json!({ "type": "msg" });
        if let Some((seconds, timeout_name)) = timeout {
            let (category, exit) = (
                derived(&self.flow.name.node, &format!("{key}/timeout")),
                derived(&self.flow.name.node, &format!("{key}/timeout/exit")),
            );
            router["categories"]
                .as_array_mut()
                .expect("categories")
                .push(json!({ "uuid": category, "name": timeout_name, "exit_uuid": exit }));
            router["wait"]["timeout"] = json!({ "seconds": seconds, "category_uuid": category });
            node.exits.push((exit, timeout_to.unwrap_or(Dest::End)));
        }
        dest
    }

    /// A switch router on `s`'s operand (the reply when `wait` names it).
    fn split(&mut self, stmt: &Stmt, key: &str, s: &Split, wait: Option<&str>, cont: Dest) -> Dest {
        let uuid = self.uuid(key);
        let mut categories: Vec<Value> = Vec::new();
        let mut cases = Vec::new();
        let mut exits = Vec::new();
        for (n, case) in s.cases.iter().enumerate() {
            let (kind, args) = match &case.test.kind {
                TestKind::Named { name, args } if name.node == "has_group" => {
                    // RapidPro names the group by its UUID and its name.
                    let group = args.first().map(excellent::value).unwrap_or_default();
                    self.groups.insert(group.clone());
                    (name.node.clone(), vec![derived("group", &group), group])
                }
                TestKind::Named { name, args } => {
                    (name.node.clone(), args.iter().map(excellent::value).collect::<Vec<_>>())
                }
                TestKind::Compare { op, value } => match op {
                    BinaryOp::Eq => ("has_only_text".to_string(), vec![excellent::value(value)]),
                    BinaryOp::Lt => ("has_number_lt".into(), vec![excellent::value(value)]),
                    BinaryOp::Le => ("has_number_lte".into(), vec![excellent::value(value)]),
                    BinaryOp::Gt => ("has_number_gt".into(), vec![excellent::value(value)]),
                    BinaryOp::Ge => ("has_number_gte".into(), vec![excellent::value(value)]),
                    _ => {
                        self.warn(format!("a case `{}` has no RapidPro test and is left out", op.as_str()));
                        continue;
                    }
                },
            };
            let name = match &case.category {
                Some(c) => c.node.clone(),
                None => kind.clone(),
            };
            let (category, exit) = (self.uuid(&format!("{key}/c{n}")), self.uuid(&format!("{key}/c{n}/exit")));
            let dest = self.block(&case.body, &format!("{key}/c{n}"), cont.clone());
            categories.push(json!({ "uuid": category, "name": name, "exit_uuid": exit }));
            exits.push((exit, dest));
            let mut c = json!({ "uuid": self.uuid(&format!("{key}/k{n}")), "type": kind, "category_uuid": category });
            c["arguments"] = json!(args);
            cases.push(c);
        }
        let (other, exit) = (self.uuid(&format!("{key}/other")), self.uuid(&format!("{key}/other/exit")));
        let dest = match &s.other {
            Some(b) => self.block(b, &format!("{key}/other"), cont),
            None => cont,
        };
        // A split with no cases sends every value one way: RapidPro's editor calls that "All Responses".
        let name = if cases.is_empty() { "All Responses" } else { "Other" };
        categories.push(json!({ "uuid": other, "name": name, "exit_uuid": exit }));
        exits.push((exit, dest));
        let operand = match wait {
            Some(_) => "@input.text".to_string(),
            None => excellent::value(&s.operand),
        };
        let mut router = json!({
            "type": "switch", "operand": operand, "cases": cases, "categories": categories, "default_category_uuid": other,
        });
        if let Some(r) = &s.result {
            router["result_name"] = json!(r.node);
        }
        self.nodes.push(Node {
            uuid: uuid.clone(),
            at: stmt.span.start,
            actions: vec![],
            router: Some(router),
            exits,
            ui: "split_by_expression",
        });
        Dest::Node(uuid)
    }

    /// `enter FLOW`: an enter_flow node whose router goes on when the flow completes and when it
    /// expires (RapidPro's Complete and Expired categories).
    fn enter(&mut self, stmt: &Stmt, key: &str, flow: &str, terminal: bool, complete: Dest, expired: Dest) -> Dest {
        let uuid = self.uuid(key);
        let (flow_uuid, name) = self.identities.get(flow).cloned().unwrap_or_else(|| (flow_uuid(flow), flow.into()));
        let action = json!({
            "uuid": self.uuid(&format!("{key}/enter")), "type": "enter_flow",
            "flow": { "uuid": flow_uuid, "name": name }, "terminal": terminal,
        });
        if terminal {
            let exit = self.uuid(&format!("{key}/exit"));
            self.nodes.push(Node {
                uuid: uuid.clone(),
                at: stmt.span.start,
                actions: vec![action],
                router: None,
                exits: vec![(exit, Dest::End)],
                ui: "split_by_subflow",
            });
            return Dest::Node(uuid);
        }
        let (done, done_exit) = (self.uuid(&format!("{key}/complete")), self.uuid(&format!("{key}/complete/exit")));
        let (late, late_exit) = (self.uuid(&format!("{key}/expired")), self.uuid(&format!("{key}/expired/exit")));
        let router = json!({
            "type": "switch", "operand": "@child.status",
            "cases": [
                { "uuid": self.uuid(&format!("{key}/case/complete")), "type": "has_only_text", "arguments": ["completed"], "category_uuid": done },
                { "uuid": self.uuid(&format!("{key}/case/expired")), "type": "has_only_text", "arguments": ["expired"], "category_uuid": late },
            ],
            "categories": [
                { "uuid": done, "name": "Complete", "exit_uuid": done_exit },
                { "uuid": late, "name": "Expired", "exit_uuid": late_exit },
            ],
            "default_category_uuid": late,
        });
        self.nodes.push(Node {
            uuid: uuid.clone(),
            at: stmt.span.start,
            actions: vec![action],
            router: Some(router),
            exits: vec![(done_exit, complete), (late_exit, expired)],
            ui: "split_by_subflow",
        });
        Dest::Node(uuid)
    }

    fn webhook(&mut self, stmt: &Stmt, key: &str, w: &crate::ast::Webhook, success: Dest, failure: Dest) -> Dest {
        let uuid = self.uuid(key);
        let mut url = template(&w.url);
        for (n, (k, v)) in w.query.iter().enumerate() {
            url.push(if n == 0 && !url.contains('?') { '?' } else { '&' });
            url.push_str(&format!("{}={}", k.node, excellent::value(v)));
        }
        let mut headers = Map::new();
        for (k, v) in &w.headers {
            headers.insert(k.node.clone(), json!(excellent::value(v)));
        }
        if let Some(connector) = &w.auth {
            // Where the connector puts its secret, a placeholder for it: the secret itself never leaves.
            use crate::ast::{ConnectorAuth, KeyPlace};
            let placeholder = format!("REPLACE-WITH-SECRET-OF-{}", connector.node.to_uppercase());
            let kind = self.connectors.iter().find(|c| c.name.node == connector.node).map(|c| &c.auth);
            let place = match kind {
                Some(ConnectorAuth::Basic { .. }) => {
                    headers.insert("Authorization".into(), json!(format!("Basic {placeholder}")));
                    "its Authorization header".to_string()
                }
                Some(ConnectorAuth::ApiKey { place: KeyPlace::Header, name, .. }) => {
                    headers.insert(name.node.clone(), json!(placeholder));
                    format!("its {} header", name.node)
                }
                Some(ConnectorAuth::ApiKey { place: KeyPlace::Query, name, .. }) => {
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(&format!("{}={placeholder}", name.node));
                    format!("its `{}` query parameter", name.node)
                }
                _ => {
                    headers.insert("Authorization".into(), json!(format!("Bearer {placeholder}")));
                    "its Authorization header".to_string()
                }
            };
            self.warn(format!(
                "webhook `{}`: the secret of connector `{}` is not exported; {place} holds a placeholder to replace in RapidPro",
                w.name.node, connector.node
            ));
        }
        let body = match w.body.as_ref().map(|b| &b.node) {
            None => String::new(),
            Some(Body::Text(t) | Body::Xml(t)) => template(t),
            Some(Body::Json(j)) => {
                headers.entry("Content-Type").or_insert(json!("application/json"));
                json_text(j)
            }
            Some(Body::Form(fields)) => {
                headers.entry("Content-Type").or_insert(json!("application/x-www-form-urlencoded"));
                fields.iter().map(|(k, v)| format!("{}={}", k.node, excellent::value(v))).collect::<Vec<_>>().join("&")
            }
        };
        if w.retries.is_some() || w.backoff.is_some() || w.timeout.is_some() || w.expect.is_some() {
            self.warn(format!("webhook `{}`: its timeout, retries, backoff and expect are flowc's only", w.name.node));
        }
        let action = json!({
            "uuid": self.uuid(&format!("{key}/call")), "type": "call_webhook", "method": w.method.node.as_str(),
            "url": url, "headers": headers, "body": body, "result_name": w.name.node,
        });
        let (ok, ok_exit) = (self.uuid(&format!("{key}/success")), self.uuid(&format!("{key}/success/exit")));
        let (bad, bad_exit) = (self.uuid(&format!("{key}/failure")), self.uuid(&format!("{key}/failure/exit")));
        let router = json!({
            "type": "switch", "operand": format!("@results.{}.category", w.name.node),
            "cases": [{ "uuid": self.uuid(&format!("{key}/case")), "type": "has_only_text", "arguments": ["Success"], "category_uuid": ok }],
            "categories": [
                { "uuid": ok, "name": "Success", "exit_uuid": ok_exit },
                { "uuid": bad, "name": "Failure", "exit_uuid": bad_exit },
            ],
            "default_category_uuid": bad,
        });
        self.nodes.push(Node {
            uuid: uuid.clone(),
            at: stmt.span.start,
            actions: vec![action],
            router: Some(router),
            exits: vec![(ok_exit, success), (bad_exit, failure)],
            ui: "split_by_webhook",
        });
        Dest::Node(uuid)
    }
}

/// The category of `set NAME = @flow.NAME as "Category"`, which saves the reply of `wait NAME`.
fn saves_reply(stmt: &Stmt, wait: &str) -> Option<String> {
    match &stmt.kind {
        StmtKind::Set { name, value, category: Some(c) } if name.node == wait => match &value.kind {
            ExprKind::Ref(r) if r.root == crate::ast::Root::Flow && r.path.len() == 1 && r.path[0].node == wait => {
                Some(c.node.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_action(stmt: &Stmt) -> bool {
    matches!(
        stmt.kind,
        StmtKind::Send { .. } | StmtKind::Set { .. } | StmtKind::SetContact { .. } | StmtKind::Email { .. }
    )
}

/// Whether a split tests the reply of `wait NAME`: `split [NAME =] @flow.NAME`.
fn reads_reply(s: &Split, wait: &str) -> bool {
    let reads = matches!(&s.operand.kind, ExprKind::Ref(r)
        if r.root == crate::ast::Root::Flow && r.path.len() == 1 && r.path[0].node == wait);
    reads && s.result.as_ref().is_none_or(|r| r.node == wait)
}

/// A JSON body as text with `@(...)` where it has expressions.
fn json_text(j: &Json) -> String {
    match j {
        Json::Object(fields, _) => {
            let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{}\": {}", k.node, json_text(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
        Json::Array(items, _) => format!("[{}]", items.iter().map(json_text).collect::<Vec<_>>().join(", ")),
        Json::Expr(e) => match &e.kind {
            ExprKind::Str(t) => format!("\"{}\"", template(t).replace('"', "\\\"")),
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => excellent::expr(e),
            _ => format!("@(json({}))", excellent::expr(e)),
        },
    }
}

/// Positions for the editor: nodes in layers by their distance from the entry, side by side in a layer.
fn layout(nodes: &[Node], exits: &[Vec<(String, Dest)>]) -> HashMap<String, (i64, i64)> {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.uuid.as_str(), i)).collect();
    let mut depth = vec![usize::MAX; nodes.len()];
    let mut queue = std::collections::VecDeque::new();
    if !nodes.is_empty() {
        depth[0] = 0;
        queue.push_back(0);
    }
    while let Some(i) = queue.pop_front() {
        for (_, d) in &exits[i] {
            if let Dest::Node(u) = d
                && let Some(&j) = index.get(u.as_str())
                && depth[j] == usize::MAX
            {
                depth[j] = depth[i] + 1;
                queue.push_back(j);
            }
        }
    }
    let deepest = depth.iter().filter(|d| **d != usize::MAX).max().copied().unwrap_or(0);
    let mut per_layer: HashMap<usize, i64> = HashMap::new();
    let mut out = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let layer = if depth[i] == usize::MAX { deepest + 1 } else { depth[i] };
        let column = per_layer.entry(layer).or_insert(0);
        out.insert(n.uuid.clone(), (*column * 300, layer as i64 * 180));
        *column += 1;
    }
    out
}
