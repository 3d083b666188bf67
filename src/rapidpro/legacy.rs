//! Legacy RapidPro flows (export versions 7 to 11.x: `action_sets` and `rule_sets`) rewritten as a
//! spec 13 flow definition, which the importer then reads like any other. The rewrite follows goflow's
//! own legacy migration (its vectors are in `../shared/rapidpro/goflow/legacy`): action sets become nodes
//! with one exit, rule sets become switch routers (a wait for `wait_*` rule sets, a webhook call with its
//! Success/Failure split for `webhook`), rules become cases grouped under their categories, and the old
//! expressions (`@step.value`, `@flow.x`, `@contact.field`, `@extra.x`) their spec 13 spellings.
//!
//! What goflow creates and the legacy flow has no UUID for (categories, cases, the webhook's action) gets
//! one derived from the rule or rule set it comes from, so an import is the same every time.

use serde_json::{Map, Value, json};

use crate::time::derived_uuid as derived;

/// The contact's own attributes in legacy expressions; any other `@contact.x` is a field.
const CONTACT_ATTRIBUTES: &[&str] =
    &["name", "first_name", "language", "uuid", "groups", "tel", "tel_e164", "mailto", "telegram", "twitter"];

/// Whether `flow` is a legacy definition (goflow's test: one of these keys).
pub(super) fn is_legacy(flow: &Value) -> bool {
    ["action_sets", "rule_sets", "flow_type"].iter().any(|k| flow.get(k).is_some())
}

/// The spec 13 definition of a legacy flow (export versions 7 to 11.x), or why it cannot be read.
pub fn migrate(flow: &Value) -> Result<Value, String> {
    if flow.get("definition").is_some() {
        let name = flow["name"].as_str().unwrap_or("?");
        return Err(format!(
            "flow `{name}` is in RapidPro's format before version 7 (its definition wrapped): export it again from a current RapidPro"
        ));
    }
    let meta = &flow["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let version = match &flow["version"] {
        Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        _ => 11.0,
    };
    if version > 0.0 && version < 7.0 {
        return Err(format!("flow `{name}` is in RapidPro's format version {version}, before 7: export it again"));
    }
    let lang = flow["base_language"].as_str().filter(|l| !l.is_empty()).unwrap_or("base").to_string();
    let m = Migration { lang: &lang };
    let entry = flow["entry"].as_str();
    let mut nodes: Vec<(bool, i64, i64, Value)> = Vec::new();
    for set in flow["action_sets"].as_array().into_iter().flatten() {
        let uuid = set["uuid"].as_str().unwrap_or_default();
        let actions: Vec<Value> = set["actions"].as_array().into_iter().flatten().map(|a| m.action(a)).collect();
        let exit_uuid = set["exit_uuid"].as_str().map_or_else(|| derived(uuid, "exit"), str::to_string);
        let mut exit = json!({ "uuid": exit_uuid });
        if let Some(d) = set["destination"].as_str() {
            exit["destination_uuid"] = json!(d);
        }
        let node = json!({ "uuid": uuid, "actions": actions, "exits": [exit] });
        nodes.push((entry == Some(uuid), position(set, "y"), position(set, "x"), node));
    }
    for set in flow["rule_sets"].as_array().into_iter().flatten() {
        let uuid = set["uuid"].as_str().unwrap_or_default();
        nodes.push((entry == Some(uuid), position(set, "y"), position(set, "x"), m.ruleset(set)?));
    }
    // The entry first (a spec 13 flow starts at its first node), then top to bottom, left to right.
    nodes.sort_by_key(|(is_entry, y, x, _)| (!is_entry, *y, *x));
    let flow_type = match flow["flow_type"].as_str() {
        Some("V") => "voice",
        Some("S") => "messaging_offline",
        _ => "messaging",
    };
    Ok(json!({
        "uuid": meta["uuid"].as_str().unwrap_or_default(),
        "name": name,
        "spec_version": "13.0.0",
        "language": lang,
        "type": flow_type,
        "revision": meta["revision"].as_i64().unwrap_or(0),
        "expire_after_minutes": meta["expires"].as_i64().unwrap_or(0),
        "nodes": nodes.into_iter().map(|(_, _, _, n)| n).collect::<Vec<_>>(),
    }))
}

fn position(set: &Value, axis: &str) -> i64 {
    set[axis].as_f64().map_or(0, |v| v as i64)
}

struct Migration<'a> {
    /// The flow's base language: the translation a localised text is read in.
    lang: &'a str,
}

impl Migration<'_> {
    /// A localised text (`{lang: text}`) in the base language, or a plain one, as a spec 13 template.
    fn text(&self, v: &Value) -> String {
        let raw = match v {
            Value::String(s) => s.clone(),
            Value::Object(m) => m
                .get(self.lang)
                .or_else(|| m.get("base"))
                .or_else(|| m.values().next())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        expression(&raw)
    }

    fn action(&self, a: &Value) -> Value {
        let uuid = a["uuid"].as_str().unwrap_or_default();
        let mut out = match a["type"].as_str().unwrap_or_default() {
            "reply" | "send" => {
                let kind = if a["type"] == "send" { "send_broadcast" } else { "send_msg" };
                let mut out = json!({ "type": kind, "text": self.text(&a["msg"]) });
                let media = self.text(&a["media"]);
                if !media.is_empty() {
                    out["attachments"] = json!([media]);
                }
                let replies: Vec<String> =
                    a["quick_replies"].as_array().into_iter().flatten().map(|q| self.text(q)).collect();
                if !replies.is_empty() {
                    out["quick_replies"] = json!(replies);
                }
                out
            }
            "save" => {
                let field = a["field"].as_str().unwrap_or_default();
                let value = expression(a["value"].as_str().unwrap_or_default());
                let value = if value == "@(\"\")" { String::new() } else { value };
                match field {
                    "name" => json!({ "type": "set_contact_name", "name": value }),
                    "tel_e164" | "tel" | "mailto" | "twitter" | "telegram" | "facebook" | "whatsapp" => {
                        let scheme = if field == "tel_e164" { "tel" } else { field };
                        json!({ "type": "add_contact_urn", "scheme": scheme, "path": value })
                    }
                    _ => json!({
                        "type": "set_contact_field",
                        "field": { "key": field, "name": a["label"].as_str().unwrap_or(field) },
                        "value": value,
                    }),
                }
            }
            "lang" => json!({ "type": "set_contact_language", "language": a["lang"].as_str().unwrap_or_default() }),
            "email" => {
                let to: Vec<String> =
                    a["emails"].as_array().into_iter().flatten().filter_map(Value::as_str).map(expression).collect();
                json!({
                    "type": "send_email",
                    "addresses": to,
                    "subject": expression(a["subject"].as_str().unwrap_or_default()),
                    "body": expression(a["msg"].as_str().unwrap_or_default()),
                })
            }
            "add_group" | "del_group" => {
                let kind = if a["type"] == "add_group" { "add_contact_groups" } else { "remove_contact_groups" };
                json!({ "type": kind, "groups": a["groups"].clone() })
            }
            "flow" => json!({ "type": "enter_flow", "flow": a["flow"].clone(), "terminal": true }),
            "trigger-flow" => json!({ "type": "start_session", "flow": a["flow"].clone() }),
            "channel" => json!({ "type": "set_contact_channel" }),
            "add_label" => json!({ "type": "add_input_labels" }),
            "say" => json!({ "type": "say_msg", "text": self.text(&a["msg"]) }),
            "play" => json!({ "type": "play_audio" }),
            "api" => json!({
                "type": "call_webhook",
                "method": a["action"].as_str().unwrap_or("POST"),
                "url": expression(a["webhook"].as_str().unwrap_or_default()),
            }),
            other => json!({ "type": format!("legacy {other}") }),
        };
        out["uuid"] = json!(uuid);
        out
    }

    /// A rule set as a node: its router, and for a webhook its call.
    fn ruleset(&self, set: &Value) -> Result<Value, String> {
        let uuid = set["uuid"].as_str().unwrap_or_default();
        let kind = set["ruleset_type"].as_str().unwrap_or("wait_message");
        let label = set["label"].as_str().unwrap_or_default();
        let config = &set["config"];
        let mut actions = Vec::new();
        let mut operand = expression(set["operand"].as_str().unwrap_or("@step.value"));
        let mut wait = Value::Null;
        match kind {
            k if k.starts_with("wait_") => {
                operand = "@input.text".into();
                wait = json!({ "type": "msg" });
            }
            "webhook" | "resthook" => {
                let mut call = if kind == "webhook" {
                    json!({
                        "type": "call_webhook",
                        "method": config["webhook_action"].as_str().unwrap_or("POST"),
                        "url": expression(config["webhook"].as_str().unwrap_or_default()),
                    })
                } else {
                    json!({ "type": "call_resthook", "resthook": config["resthook"].clone() })
                };
                if let Some(headers) = config["webhook_headers"].as_array() {
                    let h: Map<String, Value> = headers
                        .iter()
                        .filter_map(|h| {
                            Some((h["name"].as_str()?.to_string(), json!(expression(h["value"].as_str()?))))
                        })
                        .collect();
                    call["headers"] = Value::Object(h);
                }
                call["uuid"] = json!(derived(uuid, "webhook"));
                call["result_name"] = json!(label);
                actions.push(call);
                operand = format!("@results.{}.category", super::names::key(label));
            }
            "subflow" => {
                let flow = config["flow"].clone();
                actions.push(json!({ "type": "enter_flow", "uuid": derived(uuid, "subflow"), "flow": flow }));
                operand = "@child.run.status".into();
            }
            "form_field" => {
                let index = config["field_index"].as_i64().unwrap_or(0);
                let delimiter = config["field_delimiter"].as_str().unwrap_or(" ");
                let inner = operand.trim_start_matches('@').to_string();
                operand = format!("@(field({inner}, {index}, \"{delimiter}\"))");
            }
            _ => {}
        }
        let mut categories: Vec<Value> = Vec::new();
        let mut exits: Vec<Value> = Vec::new();
        let mut cases: Vec<Value> = Vec::new();
        let mut default = None;
        let mut timeout = None;
        for rule in set["rules"].as_array().into_iter().flatten() {
            let rule_uuid = rule["uuid"].as_str().unwrap_or_default();
            let name = self.text(&rule["category"]);
            let is_default = rule["test"]["type"] == "true";
            // Rules of one category and one destination share it (the catch-all always has its own).
            let destination = rule["destination"].as_str();
            let shared = categories.iter().zip(&exits).find(|(c, e)| {
                !is_default && c["name"] == name.as_str() && e["destination_uuid"].as_str() == destination
            });
            let category_uuid = match shared {
                Some((c, _)) => c["uuid"].as_str().unwrap_or_default().to_string(),
                None => {
                    let category_uuid = derived(rule_uuid, "category");
                    categories.push(json!({ "uuid": category_uuid, "name": name, "exit_uuid": rule_uuid }));
                    let mut exit = json!({ "uuid": rule_uuid });
                    if let Some(d) = rule["destination"].as_str() {
                        exit["destination_uuid"] = json!(d);
                    }
                    exits.push(exit);
                    category_uuid
                }
            };
            let test = &rule["test"];
            match test["type"].as_str().unwrap_or_default() {
                "true" => default = Some(category_uuid),
                "timeout" => {
                    let minutes = test["minutes"].as_i64().unwrap_or(0);
                    timeout = Some(json!({ "seconds": minutes * 60, "category_uuid": category_uuid }));
                }
                _ => {
                    let (kind, arguments) = self.test(test);
                    let mut case =
                        json!({ "uuid": derived(rule_uuid, "case"), "type": kind, "category_uuid": category_uuid });
                    if !arguments.is_empty() {
                        case["arguments"] = json!(arguments);
                    }
                    cases.push(case);
                }
            }
        }
        if default.is_none() && matches!(kind, "webhook" | "resthook") {
            // A call that did not succeed failed.
            default =
                categories.iter().find(|c| c["name"] == "Failure").and_then(|c| c["uuid"].as_str()).map(str::to_string);
        }
        if kind == "random" {
            cases.clear();
        }
        if let (Some(t), true) = (timeout, wait.is_object()) {
            wait["timeout"] = t;
        }
        let mut router = json!({
            "type": if kind == "random" { "random" } else { "switch" },
            "operand": operand,
            "cases": cases,
            "categories": categories,
        });
        if let Some(d) = default {
            router["default_category_uuid"] = json!(d);
        }
        if !label.is_empty() && !matches!(kind, "webhook" | "resthook") {
            router["result_name"] = json!(label);
        }
        if wait.is_object() {
            router["wait"] = wait;
        }
        Ok(json!({ "uuid": uuid, "actions": actions, "router": router, "exits": exits }))
    }

    /// A legacy rule's test as a case type and its arguments.
    fn test(&self, test: &Value) -> (String, Vec<String>) {
        let kind = test["type"].as_str().unwrap_or_default();
        let arg = |v: &Value| self.text(v);
        let one = |name: &str| (name.to_string(), vec![arg(&test["test"])]);
        match kind {
            "contains" => one("has_all_words"),
            "contains_any" => one("has_any_word"),
            "contains_phrase" => one("has_phrase"),
            "contains_only_phrase" => one("has_only_phrase"),
            "starts" => one("has_beginning"),
            "regex" => one("has_pattern"),
            "number" => ("has_number".into(), vec![]),
            "between" => ("has_number_between".into(), vec![arg(&test["min"]), arg(&test["max"])]),
            "eq" | "lt" | "lte" | "gt" | "gte" => one(&format!("has_number_{kind}")),
            "date" => ("has_date".into(), vec![]),
            "date_equal" => one("has_date_eq"),
            "date_after" => one("has_date_gt"),
            "date_before" => one("has_date_lt"),
            "not_empty" => ("has_text".into(), vec![]),
            "phone" => ("has_phone".into(), vec![]),
            "has_email" => ("has_email".into(), vec![]),
            "state" => ("has_state".into(), vec![]),
            "district" => one("has_district"),
            "ward" => ("has_ward".into(), vec![arg(&test["district"]), arg(&test["state"])]),
            "in_group" => {
                let g = &test["test"];
                ("has_group".into(), vec![arg(&g["uuid"]), arg(&g["name"])])
            }
            "subflow" => ("has_only_text".into(), vec![test["exit_type"].as_str().unwrap_or_default().to_string()]),
            "webhook_status" => {
                let status = if test["status"] == "success" { "Success" } else { "Failure" };
                ("has_only_text".into(), vec![status.to_string()])
            }
            other => (format!("legacy {other}"), vec![]),
        }
    }
}

/// A legacy template in spec 13 spelling: `@step.value` → `@input.text`, `@flow.x` → `@results.x`,
/// `@contact.field` → `@fields.field`, `@extra.x` → `@legacy_extra.x`. Expressions in `@(...)` are
/// left as they are.
pub(super) fn expression(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('@') {
            out.push_str("@@");
            rest = tail;
            continue;
        }
        // `@(date.today + N)`: N days from today.
        if let Some(days) = after.strip_prefix("(date.today").and_then(|t| t.split_once(')')) {
            let n = days.0.replace(' ', "");
            let n = n.strip_prefix('+').unwrap_or(&n).replace("--", "");
            let n = match n.strip_prefix('-') {
                Some(m) if !m.starts_with('-') && !n.is_empty() => format!("-{m}"),
                _ => n.clone(),
            };
            if n.is_empty() || n.parse::<i64>().is_ok() {
                let n = if n.is_empty() { "0".to_string() } else { n };
                out.push_str(&format!("@(datetime_add(today(), {n}, \"D\"))"));
                rest = days.1;
                continue;
            }
        }
        if rest[..at].ends_with(|c: char| c.is_alphanumeric()) || after.starts_with('(') || after.is_empty() {
            out.push('@');
            rest = after;
            continue;
        }
        let len = after
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .map_or(after.len(), |(i, _)| i);
        let path = after[..len].trim_end_matches('.');
        let parts: Vec<&str> = path.split('.').collect();
        let renamed = match parts.as_slice() {
            ["step", "value"] | ["step"] => "input".to_string(),
            ["step", "contact", rest @ ..] => contact(rest),
            ["flow", name, "text"] => format!("results.{name}.input"),
            ["flow", name, "time"] => format!("results.{name}.created_on"),
            ["flow", rest @ ..] if !rest.is_empty() => format!("results.{}", rest.join(".")),
            ["contact", rest @ ..] => contact(rest),
            ["extra", rest @ ..] => ["legacy_extra"].iter().chain(rest).copied().collect::<Vec<_>>().join("."),
            ["date", "today"] => "(today())".into(),
            ["date", "now"] | ["date"] => "(now())".into(),
            ["date", "yesterday"] => "(datetime_add(now(), -1, \"D\"))".into(),
            ["date", "tomorrow"] => "(datetime_add(now(), 1, \"D\"))".into(),
            _ => path.to_string(),
        };
        out.push('@');
        out.push_str(&renamed);
        rest = &after[path.len()..];
    }
    out.push_str(rest);
    out
}

fn contact(rest: &[&str]) -> String {
    match rest {
        [] => "contact".into(),
        [attribute] if CONTACT_ATTRIBUTES.contains(attribute) => format!("contact.{attribute}"),
        [field, more @ ..] => ["fields", field].iter().chain(more).copied().collect::<Vec<_>>().join("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_references_take_their_spec_13_names() {
        assert_eq!(
            expression("Hi @contact.name from @contact.city, you said @step.value (@flow.color.category) @extra.id"),
            "Hi @contact.name from @fields.city, you said @input (@results.color.category) @legacy_extra.id"
        );
        assert_eq!(
            expression("mail bob@example.com @@ @(upper(contact.name))"),
            "mail bob@example.com @@ @(upper(contact.name))"
        );
        assert_eq!(derived("a", "b"), derived("a", "b"));
        assert_ne!(derived("a", "b"), derived("a", "c"));
        assert_eq!(derived("a", "b").len(), 36);
    }
}
