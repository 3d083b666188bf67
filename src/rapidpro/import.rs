//! An export's flows as `.flow` texts (see the module's documentation).

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde_json::Value;

use super::names::key;
use super::template::{self, convert_after, escape};
use crate::split_test::{ArgKind, SplitTest};

pub use super::assemble::{Imported, Unsupported};

/// The flows of an export (or of one flow definition); an error, on one line, when `json` is neither.
pub fn import(json: &str) -> Result<Vec<Imported>, String> {
    import_with(json, None)
}

/// [`import`], with the order in which the workspace reads dates (`day_first`, `month_first`,
/// `year_first`): RapidPro keeps it for the whole workspace, not in the export, so it is given here and
/// written into each flow as its `dates` setting.
pub fn import_with(json: &str, dates: Option<&str>) -> Result<Vec<Imported>, String> {
    if let Some(d) = dates.filter(|d| crate::dates::DateOrder::parse(d).is_none()) {
        return Err(format!("unknown date order `{d}` (day_first, month_first or year_first)"));
    }
    import_all(json, dates).map_err(|e| comment(&e))
}

fn import_all(json: &str, dates: Option<&str>) -> Result<Vec<Imported>, String> {
    // A byte-order mark, as some editors save JSON, is not part of it.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let root: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let flows: Vec<&Value> = match (&root["flows"], &root["nodes"]) {
        (Value::Array(flows), _) if flows.is_empty() => return Err("the export has no flows".into()),
        (Value::Array(flows), _) => flows.iter().collect(),
        (Value::Null, Value::Array(_)) => vec![&root],
        (Value::Null, _) if super::legacy::is_legacy(&root) => vec![&root],
        (Value::Null, _) => return Err("not a RapidPro export: it has no `flows` (nor a flow's `nodes`)".into()),
        (_, _) => return Err("not a RapidPro export: its `flows` is not a list".into()),
    };
    let mut names = HashSet::new();
    // Keywords (and the catch-all) the triggers written so far take: without their channels, a second
    // one would never fire.
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    let mut migrated = Vec::new();
    for flow in &flows {
        if super::legacy::is_legacy(flow) {
            migrated.push(Some(super::legacy::migrate(flow)?));
        } else {
            migrated.push(None);
        }
    }
    let flows: Vec<&Value> = flows.into_iter().zip(&migrated).map(|(f, m)| m.as_ref().unwrap_or(f)).collect();
    // Every flow's name first: `enter` names the flow it runs.
    let mut flow_names: HashMap<String, String> = HashMap::new();
    let mut ordered = Vec::new();
    for flow in &flows {
        super::validate::check(flow)?;
        let mut name = key(flow["name"].as_str().unwrap_or("flow"));
        while !names.insert(name.clone()) {
            name.push_str("_2");
        }
        flow_names.insert(flow["uuid"].as_str().unwrap_or_default().to_string(), name.clone());
        ordered.push(name);
    }
    for (flow, name) in flows.iter().copied().zip(ordered) {
        let mut imported = Flow::new(flow, name)?;
        imported.flow_names = flow_names.clone();
        let languages: Vec<&str> =
            flow["localization"].as_object().map(|l| l.keys().map(String::as_str).collect()).unwrap_or_default();
        if !languages.is_empty() {
            imported.unsupported.push(Unsupported {
                flow: imported.title.clone(),
                node: String::new(),
                construct: format!("its translations into {} (flowc sends the base language)", languages.join(", ")),
            });
        }
        imported.dates = dates.map(str::to_string);
        // A group an action names by UUID has the name the export's `groups` give it.
        imported.group_names = root["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| Some((g["uuid"].as_str()?.to_string(), g["name"].as_str()?.to_string())))
            .collect();
        imported.triggers(&root["triggers"], flow["uuid"].as_str().unwrap_or_default(), &mut taken);
        out.push(imported.import());
    }
    let mut out = super::assemble::together(out);
    // What the export holds beyond its flows and their triggers.
    if let Some(first) = out.first_mut() {
        // Groups need nothing: a flowc contact joins a group by its name. Campaigns are not in flowc.
        let n = root["campaigns"].as_array().map_or(0, Vec::len);
        if n > 0 {
            first.unsupported.push(Unsupported {
                flow: String::new(),
                node: String::new(),
                construct: format!("the export's {n} campaign{}", if n == 1 { "" } else { "s" }),
            });
        }
    }
    Ok(out)
}

/// One flow being imported.
struct Flow<'j> {
    name: String,
    title: String,
    nodes: Vec<&'j Value>,
    /// Step names by node UUID.
    steps: HashMap<&'j str, String>,
    unsupported: Vec<Unsupported>,
    /// Whether an exit ends the run (a `goto finished` to the flow's end).
    ends: bool,
    /// The export's triggers that start this flow, as flowc writes them.
    trigger_lines: Vec<String>,
    /// The text written so far.
    out: String,
    /// The webhook written last: what `@webhook` means after it.
    last_webhook: Option<String>,
    /// The result names of the flow's webhook calls, as flowc names them.
    call_results: Vec<String>,
    /// The workspace's date order, when given.
    dates: Option<String>,
    /// The export's groups: names by UUID.
    group_names: HashMap<String, String>,
    /// The export's flows: names in flowc by UUID.
    flow_names: HashMap<String, String>,
    /// The flow's UUID and language, kept in its first comment for the way back.
    uuid: String,
    language: String,
}

impl<'j> Flow<'j> {
    fn new(flow: &'j Value, name: String) -> Result<Self, String> {
        let title = flow["name"].as_str().unwrap_or_default().to_string();
        let Some(nodes) = flow["nodes"].as_array() else {
            return Err(format!("flow `{title}` has no `nodes`"));
        };
        let nodes: Vec<&Value> = nodes.iter().collect();
        let mut steps = HashMap::new();
        for node in &nodes {
            let Some(uuid) = node["uuid"].as_str() else { return Err(format!("flow `{title}`: a node has no uuid")) };
            if steps.contains_key(uuid) {
                return Err(format!("flow `{title}`: the node {uuid} appears twice"));
            }
            // Eight characters of the UUID, more when another node's begin the same way.
            let chars: Vec<char> = uuid.chars().filter(char::is_ascii_alphanumeric).collect();
            let mut len = 8.min(chars.len());
            let mut name = format!("n_{}", chars[..len].iter().collect::<String>());
            while steps.values().any(|s: &String| *s == name) && len < chars.len() {
                len += 1;
                name = format!("n_{}", chars[..len].iter().collect::<String>());
            }
            steps.insert(uuid, name);
        }
        // A call with a result name saves its status there (RapidPro), its answer as `@flow.NAME`.
        let call_results = nodes
            .iter()
            .flat_map(|n| n["actions"].as_array().into_iter().flatten())
            .filter(|a| a["type"].as_str() == Some("call_webhook"))
            .filter_map(|a| a["result_name"].as_str().map(key))
            .collect();
        Ok(Flow {
            name,
            title,
            nodes,
            steps,
            unsupported: Vec::new(),
            ends: false,
            trigger_lines: Vec::new(),
            out: String::new(),
            last_webhook: None,
            call_results,
            dates: None,
            group_names: HashMap::new(),
            flow_names: HashMap::new(),
            uuid: flow["uuid"].as_str().unwrap_or_default().to_string(),
            language: flow["language"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The export's keyword (`K`) and catch-all (`C`) triggers of the flow `uuid`; the other kinds are
    /// named as not imported.
    fn triggers(&mut self, triggers: &Value, uuid: &str, taken: &mut HashSet<String>) {
        for trigger in triggers.as_array().map(Vec::as_slice).unwrap_or_default() {
            if trigger["flow"]["uuid"].as_str() != Some(uuid) {
                continue;
            }
            let kind = trigger["trigger_type"].as_str().unwrap_or_default();
            let line = match (kind, trigger["keyword"].as_str()) {
                ("K", Some(word)) if !word.trim().is_empty() => {
                    format!("trigger keyword \"{}\" {{ start {} }}", escape(word.trim()), self.name)
                }
                ("C", _) => format!("trigger catchall {{ start {} }}", self.name),
                _ => {
                    let construct = format!("a trigger of type {kind}");
                    self.unsupported.push(Unsupported { flow: self.title.clone(), node: String::new(), construct });
                    continue;
                }
            };
            if trigger["channel"].is_object() {
                let construct = "a trigger's channel (flowc's trigger starts the flow on every channel)".to_string();
                self.unsupported.push(Unsupported { flow: self.title.clone(), node: String::new(), construct });
            }
            let word =
                trigger["keyword"].as_str().map_or_else(|| "the catch-all".to_string(), |w| w.trim().to_lowercase());
            if !taken.insert(if kind == "C" { "the catch-all".to_string() } else { word.clone() }) {
                let construct =
                    format!("a second trigger for {word:?} (another flow's trigger takes it on every channel)");
                self.unsupported.push(Unsupported { flow: self.title.clone(), node: String::new(), construct });
                continue;
            }
            self.trigger_lines.push(line);
        }
    }

    fn unsupported(&mut self, node: &Value, construct: impl Into<String>) {
        let construct = construct.into();
        let node = node["uuid"].as_str().unwrap_or_default().to_string();
        // Said once per node.
        if self.unsupported.iter().any(|u| u.node == node && u.construct == construct) {
            return;
        }
        let _ = writeln!(self.out, "// flowc import: not imported: {}", comment(&construct));
        self.unsupported.push(Unsupported { flow: self.title.clone(), node, construct });
    }

    /// The flow's calls, for what `@webhook` and a call's result mean here.
    fn calls(&self) -> super::names::Calls<'_> {
        super::names::Calls { last: self.last_webhook.as_deref(), results: &self.call_results }
    }

    /// A template as a flowc string literal, reporting what it keeps as text.
    fn string(&mut self, node: &Value, template: &str) -> String {
        let converted = convert_after(template, self.calls());
        for kept in converted.kept {
            self.unsupported(node, format!("the expression {kept}"));
        }
        format!("\"{}\"", converted.text)
    }

    /// A value to save: a template that is one reference or one expression and nothing else is that
    /// expression (a missing value stays missing, a number a number); any other is text.
    fn value(&mut self, node: &Value, template: &str) -> String {
        let text = self.string(node, template);
        let inner = &text[1..text.len() - 1];
        let single_reference = inner.starts_with('@')
            && !inner.starts_with("@@")
            && !inner.starts_with("@(")
            && inner[1..].chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let single_expression =
            inner.starts_with("@(") && !inner.contains('"') && super::expression::one_group(&inner[1..]);
        if single_reference {
            inner.to_string()
        } else if single_expression {
            inner[1..].to_string()
        } else {
            text
        }
    }

    /// Where an exit goes: its node's step, or the flow's end.
    fn goto(&mut self, destination: Option<&str>) -> String {
        match destination.and_then(|d| self.steps.get(d)) {
            Some(step) => format!("goto {step}"),
            None => {
                self.ends = true;
                "goto finished".into()
            }
        }
    }

    fn import(mut self) -> Imported {
        let (uuid, language) = (comment(&self.uuid), comment(&self.language));
        let _ = writeln!(self.out, "// Imported from RapidPro (flow {uuid}, language {language}).");
        // The flow's name as RapidPro shows it is the flow's label.
        let _ = writeln!(self.out, "flow {} \"{}\" {{", self.name, escape(&self.title).replace('@', "@@"));
        if let Some(d) = &self.dates {
            let _ = writeln!(self.out, "dates {d}");
        }
        let nodes = self.nodes.clone();
        for (i, node) in nodes.iter().enumerate() {
            let next = nodes.get(i + 1).and_then(|n| n["uuid"].as_str());
            self.node(node, next);
        }
        if self.ends {
            self.out.push_str("step finished {\n}\n");
        }
        self.out.push_str("}\n");
        for line in std::mem::take(&mut self.trigger_lines) {
            let _ = writeln!(self.out, "{line}");
        }
        if self.out.contains("@trigger.body") {
            let _ = writeln!(
                self.out,
                "// RapidPro starts this flow with params (`@trigger.params`): here, a POST of them as JSON.\n\
                 trigger webhook \"/{}\" methods POST {{ start {} }}",
                self.name.replace('_', "-"),
                self.name
            );
        }
        let text = match crate::fmt::format(&self.out) {
            Ok(text) => text,
            Err(e) => {
                // The importer's own mistake: said, never written silently.
                self.unsupported.push(Unsupported {
                    flow: self.title.clone(),
                    node: String::new(),
                    construct: format!("a text flowc cannot read back ({e:?})"),
                });
                self.out.clone()
            }
        };
        Imported {
            flows: vec![(self.name.clone(), self.uuid.clone())],
            name: self.name,
            text,
            unsupported: self.unsupported,
        }
    }

    fn node(&mut self, node: &'j Value, next: Option<&str>) {
        let uuid = node["uuid"].as_str().unwrap_or_default();
        let _ = writeln!(self.out, "// node {}", comment(uuid));
        let _ = writeln!(self.out, "step {} {{", self.steps[uuid]);
        let actions = node["actions"].as_array().cloned().unwrap_or_default();
        let exits = node["exits"].as_array().cloned().unwrap_or_default();
        let webhook_split = webhook_split(node);
        let enter_split = enter_split(node);
        for (i, action) in actions.iter().enumerate() {
            if (webhook_split.is_some() || enter_split.is_some()) && i + 1 == actions.len() {
                break;
            }
            self.action(node, action);
        }
        if let Some((complete, expired)) = enter_split {
            self.enter(node, actions.last().unwrap_or(&Value::Null), complete, expired);
            self.out.push_str("}\n");
            return;
        }
        match (&node["router"], webhook_split) {
            (_, Some((success, failure))) => {
                let call = actions.last().cloned().unwrap_or_default();
                let failure = self.goto(failure.as_deref());
                self.webhook(node, &call, Some(failure));
                let success = self.goto(success.as_deref());
                let _ = writeln!(self.out, "{success}");
            }
            (Value::Object(_), None) => self.router(node),
            _ => {
                let destination = exits.first().and_then(|e| e["destination_uuid"].as_str());
                // A node that leads to the next one falls through its step's end.
                if destination.is_none() || destination != next {
                    let goto = self.goto(destination);
                    let _ = writeln!(self.out, "{goto}");
                }
            }
        }
        self.out.push_str("}\n");
    }

    fn action(&mut self, node: &Value, action: &Value) {
        let kind = action["type"].as_str().unwrap_or_default();
        match kind {
            "send_msg" => {
                let text = self.string(node, action["text"].as_str().unwrap_or_default());
                // Quick replies are text, or (spec 14.4) objects with their text.
                let replies: Vec<String> = action["quick_replies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().or_else(|| r["text"].as_str()))
                    .map(str::to_string)
                    .collect();
                let replies: Vec<String> = replies.iter().map(|r| self.string(node, r)).collect();
                if replies.is_empty() {
                    let _ = writeln!(self.out, "send {text}");
                } else {
                    let _ = writeln!(self.out, "send {text} replies {}", replies.join(", "));
                }
                if action["attachments"].as_array().is_some_and(|a| !a.is_empty()) {
                    self.unsupported(node, "send_msg attachments");
                }
            }
            "set_run_result" => {
                let name = key(action["name"].as_str().unwrap_or("result"));
                let value = self.value(node, action["value"].as_str().unwrap_or_default());
                match action["category"].as_str().filter(|c| !c.is_empty()) {
                    Some(c) => {
                        let _ = writeln!(self.out, "set {name} = {value} as \"{}\"", escape(c));
                    }
                    None => {
                        let _ = writeln!(self.out, "set {name} = {value}");
                    }
                }
            }
            "set_contact_field" => {
                let field = key(action["field"]["key"].as_str().unwrap_or("field"));
                let value = self.value(node, action["value"].as_str().unwrap_or_default());
                let _ = writeln!(self.out, "set @contact.fields.{field} = {value}");
            }
            "set_contact_name" => {
                let value = self.string(node, action["name"].as_str().unwrap_or_default());
                let _ = writeln!(self.out, "set @contact.name = {value}");
            }
            "set_contact_language" => {
                let value = self.string(node, action["language"].as_str().unwrap_or_default());
                let _ = writeln!(self.out, "set @contact.language = {value}");
            }
            "send_email" => {
                let to: Vec<&str> = action["addresses"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let to = self.string(node, &to.join(", "));
                let subject = self.string(node, action["subject"].as_str().unwrap_or_default());
                let body = self.string(node, action["body"].as_str().unwrap_or_default());
                let _ = writeln!(self.out, "email {to} subject {subject} body {body}");
            }
            "call_webhook" => self.webhook(node, action, None),
            "add_contact_groups" | "remove_contact_groups" => {
                let op = if kind == "add_contact_groups" { "+=" } else { "-=" };
                if action["all_groups"].as_bool() == Some(true) {
                    self.unsupported(node, "removing the contact from all its groups");
                }
                for group in action["groups"].as_array().cloned().unwrap_or_default() {
                    // A group by name, or (`name_match`) a name worked out from a template.
                    let by_uuid = group["uuid"].as_str().and_then(|u| self.group_names.get(u)).cloned();
                    let name = by_uuid
                        .or_else(|| group["name"].as_str().map(str::to_string))
                        .or_else(|| group["name_match"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    if name.trim().is_empty() {
                        continue;
                    }
                    let name = self.value(node, &name);
                    let _ = writeln!(self.out, "set @contact.groups {op} {name}");
                }
            }
            other => self.unsupported(node, format!("the action {other}")),
        }
    }

    /// `enter_flow`: an `enter` statement, with where the node goes when the flow completes and when it
    /// expires.
    fn enter(&mut self, node: &Value, action: &Value, complete: Option<String>, expired: Option<String>) {
        let uuid = action["flow"]["uuid"].as_str().unwrap_or_default();
        let Some(flow) = self.flow_names.get(uuid).cloned() else {
            let name = action["flow"]["name"].as_str().unwrap_or("?");
            self.unsupported(node, format!("the action enter_flow to {name:?} (a flow outside the export)"));
            let goto = self.goto(complete.as_deref());
            let _ = writeln!(self.out, "{goto}");
            return;
        };
        if action["terminal"].as_bool() == Some(true) {
            let _ = writeln!(self.out, "enter {flow} terminal");
            return;
        }
        let expired = self.goto(expired.as_deref());
        let complete = self.goto(complete.as_deref());
        let _ = writeln!(self.out, "enter {flow} {{\non expired {{ {expired} }}\n}}\n{complete}");
    }

    /// A `webhook` statement; with `on_failure`, the block its failure runs.
    fn webhook(&mut self, node: &Value, action: &Value, on_failure: Option<String>) {
        let step = self.steps.get(node["uuid"].as_str().unwrap_or_default()).cloned().unwrap_or_default();
        let name =
            action["result_name"].as_str().map_or_else(|| format!("webhook_{}", step.trim_start_matches("n_")), key);
        let mut method = action["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        if method == "HEAD" {
            self.unsupported(node, "the method HEAD (written as GET)");
            method = "GET".into();
        }
        let url = self.string(node, action["url"].as_str().unwrap_or_default());
        let mut options = Vec::new();
        if let Some(headers) = action["headers"].as_object() {
            for (k, v) in headers {
                let value = self.string(node, v.as_str().unwrap_or_default());
                options.push(format!("header \"{}\" = {value}", escape(k)));
            }
        }
        if let Some(body) = action["body"].as_str().filter(|b| !b.trim().is_empty()) {
            let body = self.string(node, body);
            options.push(format!("body text {body}"));
        }
        if let Some(failure) = on_failure {
            options.push(format!("on failure {{ {failure} }}"));
        }
        self.last_webhook = Some(name.clone());
        if options.is_empty() {
            let _ = writeln!(self.out, "webhook {name} {method} {url}");
        } else {
            let _ = writeln!(self.out, "webhook {name} {method} {url} {{\n{}\n}}", options.join("\n"));
        }
    }

    fn router(&mut self, node: &'j Value) {
        let router = &node["router"];
        if router["type"].as_str() != Some("switch") {
            let kind = router["type"].as_str().unwrap_or("?").to_string();
            self.unsupported(node, format!("a {kind} router"));
            return;
        }
        let exits: HashMap<&str, Option<&str>> = node["exits"]
            .as_array()
            .map(|e| e.iter().filter_map(|x| Some((x["uuid"].as_str()?, x["destination_uuid"].as_str()))).collect())
            .unwrap_or_default();
        let categories: HashMap<&str, (&str, Option<&str>)> = router["categories"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|x| {
                        let exit = x["exit_uuid"].as_str().and_then(|e| exits.get(e).copied()).flatten();
                        Some((x["uuid"].as_str()?, (x["name"].as_str().unwrap_or_default(), exit)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let result = router["result_name"].as_str().filter(|r| !r.is_empty()).map(key);
        let given = router["operand"].as_str().unwrap_or("@input.text").to_string();
        // What the split reads, as flowc writes it; the reply of a wait is its result.
        let mut operand = None;
        if router["wait"]["type"].as_str() == Some("msg") {
            let wait_name = result
                .clone()
                .unwrap_or_else(|| format!("reply_{}", &self.steps[node["uuid"].as_str().unwrap_or_default()][2..]));
            let timeout = &router["wait"]["timeout"];
            match (timeout["seconds"].as_u64(), timeout["category_uuid"].as_str()) {
                (Some(seconds), Some(category)) => {
                    let (name, destination) = categories.get(category).copied().unwrap_or(("", None));
                    let goto = self.goto(destination);
                    // RapidPro saves the result of a wait that timed out: no value, the timeout's category.
                    let save = match &result {
                        Some(r) => format!("set {r} = \"\" as \"{}\"\n", escape(name)),
                        None => String::new(),
                    };
                    let _ =
                        writeln!(self.out, "wait {wait_name} timeout {seconds}s {{ on timeout {{ {save}{goto} }} }}");
                }
                _ => {
                    let _ = writeln!(self.out, "wait {wait_name}");
                }
            }
            if given == "@input.text" || given == "@input" {
                operand = Some(format!("@flow.{wait_name}"));
            }
        } else if !router["wait"].is_null() {
            self.unsupported(node, format!("a {} wait", router["wait"]["type"].as_str().unwrap_or("?")));
        }
        let operand = match operand {
            Some(o) => o,
            None => match super::names::reference(given.trim_start_matches('@'), self.calls()) {
                Some(r) if given.starts_with('@') && !given.contains(' ') => r,
                _ => self.string(node, &given),
            },
        };
        // A wait whose every reply goes one way (RapidPro's "All Responses") needs no split.
        let cases_empty = router["cases"].as_array().is_none_or(Vec::is_empty);
        if router["wait"]["type"].as_str() == Some("msg") && cases_empty && categories.len() <= 2 {
            let default = router["default_category_uuid"].as_str().and_then(|c| categories.get(c)).copied();
            if let Some((name, destination)) = default {
                // The reply is saved with its category, as RapidPro saves it.
                if let Some(r) = &result {
                    let _ = writeln!(self.out, "set {r} = @flow.{r} as \"{}\"", escape(name));
                }
                let goto = self.goto(destination);
                let _ = writeln!(self.out, "{goto}");
                return;
            }
        }
        let head = match &result {
            Some(r) => format!("split {r} = {operand} {{"),
            None => format!("split {operand} {{"),
        };
        let _ = writeln!(self.out, "{head}");
        for case in router["cases"].as_array().cloned().unwrap_or_default() {
            let kind = case["type"].as_str().unwrap_or_default();
            let Some(test) = SplitTest::parse(kind) else {
                self.unsupported(node, format!("the test {kind}"));
                continue;
            };
            let mut args: Vec<String> = case["arguments"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
                .unwrap_or_default();
            // RapidPro names a group by its UUID and its name: flowc by its name.
            if test == SplitTest::HasGroup && args.len() == 2 {
                args.remove(0);
            }
            let mut written = Vec::new();
            for (arg, kind) in args.iter().zip(test.args()) {
                match kind {
                    ArgKind::Number if arg.trim().parse::<f64>().is_ok() => written.push(arg.trim().to_string()),
                    ArgKind::Date => match template::date_argument(arg, self.calls()) {
                        Some(a) => written.push(a),
                        None => {
                            self.unsupported(node, format!("the argument {arg:?} of {}", test.name()));
                            written.clear();
                            break;
                        }
                    },
                    ArgKind::Text | ArgKind::Regex => written.push(self.string(node, arg)),
                    _ => {
                        self.unsupported(node, format!("the argument {arg:?} of {kind:?} to {}", test.name()));
                        written.clear();
                        break;
                    }
                }
            }
            if written.len() < test.args().len() - test.optional() {
                continue;
            }
            let (category, destination) =
                case["category_uuid"].as_str().and_then(|c| categories.get(c)).copied().unwrap_or(("", None));
            let goto = self.goto(destination);
            let args = if written.is_empty() { String::new() } else { format!(" {}", written.join(" ")) };
            let _ = writeln!(self.out, "case {}{args} as \"{}\" {{ {goto} }}", test.name(), escape(category));
        }
        let default = router["default_category_uuid"].as_str().and_then(|c| categories.get(c)).copied();
        if let Some((_, destination)) = default {
            let goto = self.goto(destination);
            let _ = writeln!(self.out, "other {{ {goto} }}");
        }
        self.out.push_str("}\n");
        // No case matched and no other: the run ends, as in RapidPro.
        if default.is_none() {
            let goto = self.goto(None);
            let _ = writeln!(self.out, "{goto}");
        }
    }
}

/// `text` on one comment line: what would end the line (or the comment) becomes a space.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c }).collect()
}

/// An enter_flow node's destinations when the flow completes and when it expires: its last action
/// enters a flow, and its router (if any) splits on `@child.status` (`@child.run.status` before 13.x).
fn enter_split(node: &Value) -> Option<(Option<String>, Option<String>)> {
    let last = node["actions"].as_array()?.last()?;
    if last["type"].as_str() != Some("enter_flow") {
        return None;
    }
    let exits: HashMap<&str, Option<&str>> = node["exits"]
        .as_array()?
        .iter()
        .filter_map(|x| Some((x["uuid"].as_str()?, x["destination_uuid"].as_str())))
        .collect();
    let router = &node["router"];
    if router.is_null() {
        let only = node["exits"][0]["destination_uuid"].as_str().map(str::to_string);
        return Some((only.clone(), only));
    }
    let operand = router["operand"].as_str().unwrap_or_default();
    if !["@child.status", "@child.run.status"].contains(&operand) {
        return None;
    }
    let categories = router["categories"].as_array()?;
    let destination = |category: &str| {
        categories
            .iter()
            .find(|c| c["uuid"].as_str() == Some(category))
            .and_then(|c| c["exit_uuid"].as_str())
            .and_then(|e| exits.get(e).copied().flatten())
            .map(str::to_string)
    };
    let mut complete = None;
    let mut expired = None;
    for case in router["cases"].as_array().into_iter().flatten() {
        let word = case["arguments"][0].as_str().unwrap_or_default().to_lowercase();
        let category = case["category_uuid"].as_str().unwrap_or_default();
        match word.as_str() {
            "completed" => complete = Some(destination(category)),
            "expired" => expired = Some(destination(category)),
            _ => {}
        }
    }
    let other = router["default_category_uuid"].as_str().and_then(destination);
    Some((complete.unwrap_or_else(|| other.clone()), expired.unwrap_or(other)))
}

/// A webhook node's Success and Failure destinations: its last action calls a webhook and its router
/// splits on that call's category (`@results.X.category` is "Success" or "Failure", 13.x) or status.
fn webhook_split(node: &Value) -> Option<(Option<String>, Option<String>)> {
    let last = node["actions"].as_array()?.last()?;
    if last["type"].as_str() != Some("call_webhook") {
        return None;
    }
    let router = &node["router"];
    let exits: HashMap<&str, Option<&str>> = node["exits"]
        .as_array()?
        .iter()
        .filter_map(|x| Some((x["uuid"].as_str()?, x["destination_uuid"].as_str())))
        .collect();
    let mut success = None;
    let mut failure = None;
    for c in router["categories"].as_array()? {
        let destination = c["exit_uuid"].as_str().and_then(|e| exits.get(e).copied()).flatten().map(str::to_string);
        match c["name"].as_str() {
            Some("Success") => success = Some(destination),
            Some("Failure") => failure = Some(destination),
            _ => return None,
        }
    }
    Some((success?, failure?))
}
