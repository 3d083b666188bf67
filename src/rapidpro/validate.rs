//! What goflow refuses in a flow definition (its `definition` package's checks), refused here before
//! anything is imported: one line naming the flow, the node and the problem.

use std::collections::HashSet;

use serde_json::Value;

/// The flow types RapidPro has.
const FLOW_TYPES: &[&str] = &["messaging", "messaging_background", "messaging_offline", "voice"];

/// Actions only a voice flow may hold.
const VOICE_ONLY: &[&str] = &["say_msg", "play_audio"];

/// goflow's limits.
const MAX_NODES: usize = 1000;
const MAX_PER_NODE: usize = 100;
const MAX_ARGUMENTS: usize = 10;
const MAX_NAME: usize = 64;

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// The first problem goflow would refuse the flow for, said in one line.
pub(super) fn check(flow: &Value) -> Result<(), String> {
    let name = flow["name"].as_str().unwrap_or("?");
    // A name too long to be valid is named by its beginning.
    let title: String = if name.chars().count() > MAX_NAME {
        name.chars().take(MAX_NAME).chain("…".chars()).collect()
    } else {
        name.to_string()
    };
    let fail = |what: String| Err(format!("flow `{title}`: {what}"));
    if name.chars().count() > MAX_NAME {
        return fail(format!("the name is longer than {MAX_NAME} characters"));
    }
    let kind = flow["type"].as_str().unwrap_or("messaging");
    if !FLOW_TYPES.contains(&kind) {
        return fail(format!("`{kind}` is not a flow type ({})", FLOW_TYPES.join(", ")));
    }
    let nodes = flow["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
    if nodes.len() > MAX_NODES {
        return fail(format!("more than {MAX_NODES} nodes ({})", nodes.len()));
    }
    let mut uuids = HashSet::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(uuid) = node["uuid"].as_str() else { return fail(format!("node {} is empty or has no uuid", i + 1)) };
        if !uuids.insert(uuid) {
            return fail(format!("the node {uuid} appears twice"));
        }
    }
    for node in nodes {
        let uuid = node["uuid"].as_str().unwrap_or_default();
        let at = |what: String| fail(format!("node {uuid}: {what}"));
        let actions = node["actions"].as_array().map(Vec::as_slice).unwrap_or_default();
        if actions.len() > MAX_PER_NODE {
            return at(format!("more than {MAX_PER_NODE} actions ({})", actions.len()));
        }
        for (i, action) in actions.iter().enumerate() {
            let Some(t) = action["type"].as_str() else { return at(format!("action {} has no type", i + 1)) };
            if VOICE_ONLY.contains(&t) && kind != "voice" {
                return at(format!("the action {t} is for voice flows, not a flow of type {kind}"));
            }
            if t == "send_msg" && action["text"].as_str().is_none_or(str::is_empty) {
                return at("a send_msg action has no text".into());
            }
            for group in action["groups"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if group["name"].as_str().is_some_and(|n| n.chars().count() > MAX_NAME) {
                    return at(format!("a group's name is longer than {MAX_NAME} characters"));
                }
            }
            if t == "call_webhook" {
                let method = action["method"].as_str().unwrap_or("GET");
                if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                    return at(format!("the webhook method {method:?} is not an HTTP method"));
                }
                let headers = action["headers"].as_object().into_iter().flat_map(|h| h.keys());
                for name in headers {
                    if name.is_empty()
                        || !name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
                    {
                        return at(format!("the webhook header {name:?} is not a valid HTTP header name"));
                    }
                }
            }
        }
        let exits = node["exits"].as_array().map(Vec::as_slice).unwrap_or_default();
        if exits.is_empty() {
            return at("it has no exits".into());
        }
        if exits.len() > MAX_PER_NODE {
            return at(format!("more than {MAX_PER_NODE} exits ({})", exits.len()));
        }
        let mut exit_uuids = HashSet::new();
        for (i, exit) in exits.iter().enumerate() {
            let Some(exit_uuid) = exit["uuid"].as_str() else { return at(format!("exit {} is empty", i + 1)) };
            exit_uuids.insert(exit_uuid);
            if let Some(destination) = exit["destination_uuid"].as_str()
                && !uuids.contains(destination)
            {
                return at(format!("the exit {exit_uuid} goes to {destination}, which is not a node of the flow"));
            }
        }
        let router = &node["router"];
        if router.is_null() {
            continue;
        }
        let categories = router["categories"].as_array().map(Vec::as_slice).unwrap_or_default();
        if categories.len() > MAX_PER_NODE {
            return at(format!("more than {MAX_PER_NODE} categories ({})", categories.len()));
        }
        if count(&router["cases"]) > MAX_PER_NODE {
            return at(format!("more than {MAX_PER_NODE} cases ({})", count(&router["cases"])));
        }
        let mut category_uuids = HashSet::new();
        for category in categories {
            if !category["exit_uuid"].is_string() {
                return at(format!("the category {:?} has no exit", category["name"].as_str().unwrap_or("?")));
            }
            category_uuids.extend(category["uuid"].as_str());
        }
        let known = |c: &Value| c.as_str().is_none_or(|c| category_uuids.contains(c));
        for case in router["cases"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let case_uuid = case["uuid"].as_str().unwrap_or("?");
            if !known(&case["category_uuid"]) {
                return at(format!("the case {case_uuid} goes to a category the router does not have"));
            }
            if count(&case["arguments"]) > MAX_ARGUMENTS {
                return at(format!("the case {case_uuid} has more than {MAX_ARGUMENTS} arguments"));
            }
        }
        if !known(&router["default_category_uuid"]) {
            return at("the default category is not one of the router's".into());
        }
        if !known(&router["wait"]["timeout"]["category_uuid"]) {
            return at("the timeout's category is not one of the router's".into());
        }
        if router["wait"]["type"].as_str() == Some("msg") && kind == "messaging_background" {
            return at("a flow of type messaging_background cannot wait for a message".into());
        }
    }
    if let Some(localization) = flow["localization"].as_object() {
        for (language, items) in localization {
            if isolang::Language::from_639_3(language).is_none() {
                return fail(format!("the translation language {language:?} is not an ISO 639-3 code"));
            }
            for (item, props) in items.as_object().into_iter().flatten() {
                let is_uuid = item.len() == 36 && item.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
                if !is_uuid {
                    return fail(format!("the translation into {language} names {item:?}, which is not a UUID"));
                }
                for prop in props.as_object().into_iter().flat_map(|p| p.keys()) {
                    if prop.chars().count() > MAX_NAME || !prop.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        return fail(format!("the translation of {item} has the property {prop:?}, which is not one"));
                    }
                }
            }
        }
    }
    Ok(())
}
