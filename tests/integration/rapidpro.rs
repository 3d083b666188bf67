//! `flowc import rapidpro` (docs/rapidpro.md): a hand-written export of every construct the first round
//! imports (snapshot), and the real exports of `../shared/rapidpro/real` read where they lie.

use std::path::{Path, PathBuf};

use serde_json::json;

/// An export written for this test: a survey with a wait and its timeout, a split on the reply with
/// categories, results and contact fields, a webhook with RapidPro's Success/Failure split, an e-mail,
/// a keyword trigger, and what flowc does not have yet: a subflow, a scheduled trigger, a group.
fn survey_export() -> String {
    json!({
        "version": "13",
        "site": "https://textit.example",
        "flows": [{
            "uuid": "0b3f1c2e-0000-4000-8000-000000000001",
            "name": "Age Survey",
            "spec_version": "13.1.0",
            "language": "eng",
            "type": "messaging",
            "nodes": [
                {
                    "uuid": "aaaa0001-0000-4000-8000-000000000000",
                    "actions": [{"uuid": "a1", "type": "send_msg", "text": "Hi @contact.name! How old are you?"}],
                    "exits": [{"uuid": "e1", "destination_uuid": "aaaa0002-0000-4000-8000-000000000000"}]
                },
                {
                    "uuid": "aaaa0002-0000-4000-8000-000000000000",
                    "actions": [],
                    "router": {
                        "type": "switch",
                        "operand": "@input.text",
                        "result_name": "Age",
                        "wait": {"type": "msg", "timeout": {"seconds": 600, "category_uuid": "c4"}},
                        "cases": [
                            {"uuid": "k1", "type": "has_number_between", "arguments": ["0", "17"], "category_uuid": "c1"},
                            {"uuid": "k2", "type": "has_number_gte", "arguments": ["18"], "category_uuid": "c2"}
                        ],
                        "categories": [
                            {"uuid": "c1", "name": "Minor", "exit_uuid": "x1"},
                            {"uuid": "c2", "name": "Adult", "exit_uuid": "x2"},
                            {"uuid": "c3", "name": "Other", "exit_uuid": "x3"},
                            {"uuid": "c4", "name": "No Response", "exit_uuid": "x4"}
                        ],
                        "default_category_uuid": "c3"
                    },
                    "exits": [
                        {"uuid": "x1", "destination_uuid": "aaaa0003-0000-4000-8000-000000000000"},
                        {"uuid": "x2", "destination_uuid": "aaaa0004-0000-4000-8000-000000000000"},
                        {"uuid": "x3", "destination_uuid": "aaaa0001-0000-4000-8000-000000000000"},
                        {"uuid": "x4"}
                    ]
                },
                {
                    "uuid": "aaaa0003-0000-4000-8000-000000000000",
                    "actions": [
                        {"uuid": "a2", "type": "send_msg", "text": "Sorry, you must be 18."},
                        {"uuid": "a3", "type": "enter_flow", "flow": {"uuid": "f2", "name": "Parental Consent"}}
                    ],
                    "exits": [{"uuid": "e3"}]
                },
                {
                    "uuid": "aaaa0004-0000-4000-8000-000000000000",
                    "actions": [
                        {"uuid": "a4", "type": "set_contact_field", "field": {"key": "age", "name": "Age"}, "value": "@results.age"},
                        {"uuid": "a5", "type": "set_run_result", "name": "Signed Up", "value": "yes"},
                        {"uuid": "a6", "type": "call_webhook", "method": "POST", "url": "https://crm.example.com/signups",
                         "headers": {"Content-Type": "application/json"},
                         "body": "{\"age\": \"@results.age\"}", "result_name": "CRM"}
                    ],
                    "router": {
                        "type": "switch",
                        "operand": "@results.crm.category",
                        "cases": [{"uuid": "k3", "type": "has_only_text", "arguments": ["Success"], "category_uuid": "c5"}],
                        "categories": [
                            {"uuid": "c5", "name": "Success", "exit_uuid": "x5"},
                            {"uuid": "c6", "name": "Failure", "exit_uuid": "x6"}
                        ],
                        "default_category_uuid": "c6"
                    },
                    "exits": [
                        {"uuid": "x5", "destination_uuid": "aaaa0005-0000-4000-8000-000000000000"},
                        {"uuid": "x6", "destination_uuid": "aaaa0006-0000-4000-8000-000000000000"}
                    ]
                },
                {
                    "uuid": "aaaa0005-0000-4000-8000-000000000000",
                    "actions": [{"uuid": "a7", "type": "send_msg", "text": "Welcome aboard, @results.age is fine."}],
                    "exits": [{"uuid": "e5"}]
                },
                {
                    "uuid": "aaaa0006-0000-4000-8000-000000000000",
                    "actions": [{"uuid": "a8", "type": "send_email", "addresses": ["ops@example.com"],
                                 "subject": "CRM down", "body": "Could not sign up @contact.name"}],
                    "exits": [{"uuid": "e6"}]
                }
            ]
        }],
        "campaigns": [],
        "triggers": [
            {"trigger_type": "K", "keyword": "age", "flow": {"uuid": "0b3f1c2e-0000-4000-8000-000000000001", "name": "Age Survey"},
             "groups": [], "channel": null},
            {"trigger_type": "S", "flow": {"uuid": "0b3f1c2e-0000-4000-8000-000000000001", "name": "Age Survey"}}
        ],
        "fields": [{"key": "age", "name": "Age", "type": "numeric"}],
        "groups": [{"uuid": "9c0e0000-0000-4000-8000-000000000000", "name": "Adults", "query": null}]
    })
    .to_string()
}

#[test]
fn an_export_becomes_a_flow_that_checks_with_what_flowc_lacks_named() {
    let flows = flowc::rapidpro::import(&survey_export()).unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow.name, "age_survey");
    insta::assert_snapshot!(flow.text);
    let missing: Vec<(&str, &str)> = flow.unsupported.iter().map(|u| (u.node.as_str(), u.construct.as_str())).collect();
    assert_eq!(
        missing,
        [
            ("", "a trigger of type S"),
            (
                "aaaa0003-0000-4000-8000-000000000000",
                "the action enter_flow to \"Parental Consent\" (a flow outside the export)"
            ),
        ]
    );
    let (_, diags) = flowc::check_source(&flow.text);
    assert!(!diags.iter().any(flowc::diagnostic::Diagnostic::is_error), "{diags:#?}");
    assert_eq!(flowc::fmt::format(&flow.text).unwrap(), flow.text, "fmt leaves it unchanged");
}

#[test]
fn nodes_whose_uuids_begin_alike_get_steps_of_their_own() {
    let export = json!({"flows": [{
        "uuid": "f1", "name": "Twins", "spec_version": "13.0.0", "language": "eng", "type": "messaging",
        "nodes": [
            {"uuid": "12345678-aaaa-4000-8000-000000000000", "actions": [{"uuid": "a1", "type": "send_msg", "text": "one"}],
             "exits": [{"uuid": "e1", "destination_uuid": "12345678-bbbb-4000-8000-000000000000"}]},
            {"uuid": "12345678-bbbb-4000-8000-000000000000", "actions": [{"uuid": "a2", "type": "send_msg", "text": "two"}],
             "exits": [{"uuid": "e2", "destination_uuid": "12345678-aaaa-4000-8000-000000000000"}]}
        ]
    }]});
    let flow = &flowc::rapidpro::import(&export.to_string()).unwrap()[0];
    assert!(flow.text.contains("step n_12345678 {") && flow.text.contains("step n_12345678b {"), "{}", flow.text);
    let (_, diags) = flowc::check_source(&flow.text);
    assert!(!diags.iter().any(flowc::diagnostic::Diagnostic::is_error), "{diags:#?}");
}

#[test]
fn what_is_not_an_export_gets_one_line() {
    for (text, says) in [
        ("[1, 2]", "not a RapidPro export"),
        ("{\"flows\": 3}", "not a RapidPro export"),
        ("{\"definition\": {}, \"name\": \"Old\", \"flow_type\": \"F\"}", "before version 7"),
        ("not json", "not JSON"),
        ("{\"version\": \"13\", \"flows\": []}", "has no flows"),
        ("{\"flows\": \"x\"}", "is not a list"),
        ("{\"flows\": [{\"name\": \"x\"}]}", "has no `nodes`"),
    ] {
        let err = flowc::rapidpro::import(text).err().unwrap_or_else(|| panic!("{text} imported"));
        assert!(err.contains(says) && !err.contains('\n'), "{text}: {err}");
    }
}

/// `../shared/rapidpro` (the project's test data, read where it lies): `FLOWC_SHARED` names the shared
/// folder where the repository is not beside it (a clone elsewhere); else the folder beside the
/// repository, else `/work/shared`, where this project's machines keep it.
pub(crate) fn rapidpro_data() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("FLOWC_SHARED").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    let found = candidates.into_iter().flatten().map(|s| s.join("rapidpro")).find(|p| p.is_dir());
    if found.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI needs the shared rapidpro folder (FLOWC_SHARED)");
        eprintln!("skipped: no shared rapidpro folder (set FLOWC_SHARED)");
    }
    found
}

/// Every real export of spec 13.x and later imports into flows that check (warnings aside) and that
/// `flowc fmt` leaves as they are; the older ones and the files that are not exports are refused in
/// one line.
#[test]
fn the_real_exports_import_into_flows_that_check() {
    let Some(data) = rapidpro_data() else { return };
    let real = data.join("real");
    let mut files = Vec::new();
    crate::files_with_extension(&real, "json", &mut files);
    files.sort();
    let mut imported = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match flowc::rapidpro::import(&text) {
            Ok(flows) => {
                for flow in flows {
                    let (_, diags) = flowc::check_source(&flow.text);
                    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).map(|d| &d.message).collect();
                    assert!(errors.is_empty(), "{} / {}: {errors:?}\n{}", file.display(), flow.name, flow.text);
                    assert_eq!(flowc::fmt::format(&flow.text).unwrap(), flow.text, "{}", file.display());
                    imported += 1;
                }
            }
            Err(e) => assert!(
                (e.contains("before version 7") || e.contains("not a RapidPro export")) && !e.contains('\n'),
                "{}: {e}",
                file.display()
            ),
        }
    }
    assert!(imported >= 8, "only {imported} flows imported");
}

#[test]
fn flowc_import_rapidpro_writes_the_flows_and_names_what_it_kept_as_comments() {
    use crate::cli::{flowc, stderr};
    let dir = crate::serve_process::TempDir::new("import");
    let export = dir.0.join("export.json");
    std::fs::write(&export, survey_export()).unwrap();
    let out = dir.0.join("flows");
    let o = flowc(&["import", "rapidpro", export.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(
        "node aaaa0003-0000-4000-8000-000000000000: the action enter_flow to \"Parental Consent\" (a flow outside the export) is not imported"
    ));
    let checked = flowc(&["check", out.join("age_survey.flow").to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    // To standard output, in a pipe; the workspace's date order written into each flow.
    let o = flowc(&["import", "rapidpro", export.to_str().unwrap(), "--dates", "month_first"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with(
            "// Imported from RapidPro (flow 0b3f1c2e-0000-4000-8000-000000000001, language eng).\nflow age_survey \"Age Survey\" {\n  dates month_first\n"
        ),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = flowc(&["import", "rapidpro", export.to_str().unwrap(), "--dates", "sideways"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Not an export; not a file.
    std::fs::write(&export, "{\"hello\": 1}").unwrap();
    let o = flowc(&["import", "rapidpro", export.to_str().unwrap()]);
    assert_eq!((o.status.code(), stderr(&o).lines().count()), (Some(1), 1), "{}", stderr(&o));
    let o = flowc(&["import", "rapidpro", dir.0.join("nope.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// goflow's broken flows (`../shared/rapidpro/goflow/broken_flows`, with the errors goflow gives in
/// `broken_flows_expected.json`): each is refused in one line that names what goflow names (the node,
/// the case, the limit), never imported and never a panic.
#[test]
fn goflows_broken_flows_are_refused_in_one_line() {
    let Some(data) = rapidpro_data() else { return };
    let goflow = data.join("goflow");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(goflow.join("broken_flows_expected.json")).unwrap()).unwrap();
    let cases = expected["cases"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let goflow_says = case["error"].as_str().unwrap();
        let text = std::fs::read_to_string(goflow.join("broken_flows").join(file)).unwrap();
        let err = flowc::rapidpro::import(&text).err().unwrap_or_else(|| panic!("{file} was imported ({goflow_says})"));
        assert!(!err.contains('\n'), "{file}: {err}");
        // The node goflow names, when it names one.
        if let Some(at) = goflow_says.find("node[uuid=") {
            let node = &goflow_says[at + 10..at + 46];
            assert!(err.contains(node), "{file}: {err} (goflow: {goflow_says})");
        }
    }
}

/// Every value of an export replaced, one at a time, by null, a number, a string, an empty array or an
/// empty object: the import answers (flows that read back, or one line) and never panics.
#[test]
fn an_export_with_any_value_of_the_wrong_kind_never_panics() {
    fn paths(v: &serde_json::Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let mut p = at.clone();
                    p.push(k.clone());
                    paths(x, p, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let mut p = at.clone();
                    p.push(i.to_string());
                    paths(x, p, out);
                }
            }
            _ => {}
        }
    }
    let export: serde_json::Value = serde_json::from_str(&survey_export()).unwrap();
    let mut all = Vec::new();
    paths(&export, Vec::new(), &mut all);
    assert!(all.len() > 150, "{}", all.len());
    let replacements =
        [json!(null), json!(7), json!("x"), json!([]), json!({}), json!("flow"), json!("a\"b} @(x\n{ //")];
    let mut answered = 0;
    for path in &all {
        for r in &replacements {
            let mut changed = export.clone();
            let mut at = &mut changed;
            for key in path {
                at = match at {
                    serde_json::Value::Object(m) => m.get_mut(key).unwrap(),
                    serde_json::Value::Array(a) => &mut a[key.parse::<usize>().unwrap()],
                    _ => unreachable!(),
                };
            }
            *at = r.clone();
            match flowc::rapidpro::import(&changed.to_string()) {
                // What comes in reads back: the importer never writes a text flowc cannot parse.
                Ok(flows) => {
                    for f in flows {
                        let unreadable = f.unsupported.iter().find(|u| u.construct.contains("cannot read back"));
                        assert!(unreadable.is_none(), "{path:?} = {r}: {unreadable:?}\n{}", f.text);
                    }
                }
                Err(e) => assert!(!e.contains('\n'), "{path:?} = {r}: {e}"),
            }
            answered += 1;
        }
    }
    assert_eq!(answered, all.len() * replacements.len());
}

/// goflow's legacy vectors (`goflow/legacy/`): each legacy rule test, action and rule set migrated by
/// flowc and compared with goflow's spec 13 form; UUIDs goflow makes up are not compared.
#[test]
fn legacy_flows_migrate_as_goflow_migrates_them() {
    use serde_json::Value;
    let Some(data) = rapidpro_data() else { return };
    let read = |name: &str| -> Vec<Value> {
        serde_json::from_str(&std::fs::read_to_string(data.join("goflow/legacy").join(name)).unwrap()).unwrap()
    };
    // One rule set holding `node`'s parts, in a legacy flow, migrated; its node back.
    let migrate = |action_sets: Value, rule_sets: Value| -> Value {
        let flow = json!({"base_language": "eng", "flow_type": "M", "version": "11.12",
            "metadata": {"uuid": "f", "name": "Vectors"}, "action_sets": action_sets, "rule_sets": rule_sets});
        flowc::rapidpro::migrate_legacy(&flow).unwrap()["nodes"][0].clone()
    };
    let mut differ = Vec::new();
    let tests = read("tests.json");
    for v in &tests {
        let rule = json!({"uuid": "r1", "test": v["legacy_test"], "category": {"eng": "Yes"}, "destination": null});
        let node = migrate(
            json!([]),
            json!([{"uuid": "n", "ruleset_type": "wait_message", "label": "L",
            "operand": "@step.value", "rules": [rule], "config": {}}]),
        );
        let case = &node["router"]["cases"][0];
        let expected = &v["expected_case"];
        let args = |c: &Value| c["arguments"].as_array().cloned().unwrap_or_default();
        if case["type"] != expected["type"] || args(case) != args(expected) {
            differ.push(format!("test {}: {} {:?}", v["legacy_test"], case["type"], args(case)));
        }
    }
    let actions = read("actions.json");
    for v in &actions {
        let node = migrate(json!([{"uuid": "a", "actions": [v["legacy_action"]], "exit_uuid": "x"}]), json!([]));
        let action = &node["actions"][0];
        let expected = &v["expected_action"];
        let same =
            ["type", "text", "name", "value", "field", "language", "addresses", "subject", "body", "scheme", "path"]
                .iter()
                .all(|k| action[k] == expected[k] || expected[k].is_null());
        if !same {
            differ.push(format!("action {}: {action}", v["legacy_action"]["type"]));
        }
    }
    let rulesets = read("rulesets.json");
    for v in &rulesets {
        let node = migrate(json!([]), json!([v["legacy_ruleset"]]));
        let expected = &v["expected_node"];
        let shape = |n: &Value| {
            let r = &n["router"];
            let names = |k: &str, f: &str| -> Vec<Value> {
                r[k].as_array().into_iter().flatten().map(|x| x[f].clone()).collect()
            };
            let actions: Vec<Value> =
                n["actions"].as_array().into_iter().flatten().map(|a| a["type"].clone()).collect();
            let exits: Vec<Value> =
                n["exits"].as_array().into_iter().flatten().map(|e| e["destination_uuid"].clone()).collect();
            (
                r["type"].clone(),
                r["result_name"].clone(),
                names("categories", "name"),
                names("cases", "type"),
                names("cases", "arguments"),
                r["wait"]["type"].clone(),
                r["wait"]["timeout"]["seconds"].clone(),
                actions,
                exits,
            )
        };
        if shape(&node) != shape(expected) {
            differ.push(format!("rule set {}: {:?}", v["legacy_ruleset"]["uuid"], shape(&node)));
        }
    }
    let total = tests.len() + actions.len() + rulesets.len();
    println!("{} of {total} legacy vectors migrate as goflow migrates them", total - differ.len());
    for d in &differ {
        println!("  differs: {d}");
    }
    // Two are left: saving `first_name` (goflow rewrites the whole name with `word_slice`) and the
    // airtime rule set (flowc has no airtime).
    assert!(differ.len() <= 2, "{differ:#?}");
}

/// `import(export(F))` for every example and valid fixture: the flows come back with the same names,
/// variables and webhooks, check without errors, and send the same messages on a run with no network.
/// A flow started by a webhook trigger comes back started by one (RapidPro's params are its JSON body);
/// `respond` has no counterpart in RapidPro and is left out, so answers are not compared.
#[test]
fn exported_flows_import_back_as_the_same_flows() {
    use flowc::interp::{self, Event, RunOptions};
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["examples", "tests/fixtures/valid"] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "flow") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    let mut compared = 0;
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let (file, _) = flowc::check_source(&src);
        let exported = flowc::rapidpro::export(&[(&src, &file)]);
        let text = serde_json::to_string(&exported.json).unwrap();
        let flows = flowc::rapidpro::import(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back: String = flows.iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join("\n");
        let (original, _) = flowc::compile_source(&src).unwrap();
        let (again, _) = flowc::compile_source(&back).unwrap_or_else(|d| {
            panic!("{}: {:?}\n{back}", path.display(), d.iter().map(|d| &d.message).collect::<Vec<_>>())
        });
        for flow in &original.flows {
            let twin = again
                .flows
                .iter()
                // A labelled flow goes out under its label and comes back named after it.
                .find(|f| f.name == flow.name || flow.label.is_some() && f.label == flow.label)
                .unwrap_or_else(|| panic!("{}: {}", path.display(), flow.name));
            let sorted = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v
            };
            assert_eq!(sorted(&flow.slots), sorted(&twin.slots), "{}: {} variables", path.display(), flow.name);
            assert_eq!(sorted(&flow.webhooks), sorted(&twin.webhooks), "{}: {} webhooks", path.display(), flow.name);
            // A conversation: the run started, then each reply of `script` while it waits (a timeout
            // for `None`), and what it said and did at each turn.
            let said = |program: &flowc::program::Program, name: &str, script: &[Option<&str>]| -> Vec<String> {
                let env = |_: &str| None;
                let options = RunOptions { env: &env, now_ms: Some(1_800_000_000_000), ..RunOptions::default() };
                let contact = serde_json::json!({"name": "Ann", "fields": {}});
                let mut out = interp::start(program, Some(name), "rt", contact, None, &options).unwrap();
                let mut lines = Vec::new();
                let mut turn = script.iter();
                loop {
                    lines.extend(out.events.iter().filter_map(|e| match e {
                        Event::MessageSent { text, quick_replies } => Some(format!("{text} {quick_replies:?}")),
                        Event::Waiting { name, .. } => Some(format!("(waits for {name})")),
                        // RapidPro's values are text: `34` comes back as "34".
                        Event::ContactUpdated { field, value } if value.is_null() => Some(format!("(clears {field})")),
                        Event::ContactUpdated { field, value } => {
                            Some(format!("(sets {field} = {})", interp::value_text(value)))
                        }
                        Event::WebhookCalled { name, .. } => Some(format!("(calls {name})")),
                        Event::EmailSent { to, subject, .. } => Some(format!("(mails {to}: {subject})")),
                        Event::RunEnded { status, .. } => Some(format!("(ends {})", status.as_str())),
                        _ => None,
                    }));
                    let (interp::RunStatus::Waiting, Some(next)) = (out.state.status, turn.next()) else { break };
                    let how = next.map_or(interp::Resume::Timeout, |r| interp::Resume::Reply(r.to_string()));
                    out = interp::resume(program, out.state, how, &options).unwrap();
                }
                lines
            };
            let scripts: [&[Option<&str>]; 4] = [
                &[],
                &[Some("yes"), Some("1"), Some("Ann Lee"), Some("2")],
                &[Some("no"), Some("2"), Some("24.12.2026"), Some("stop")],
                &[None, Some("hello"), None, Some("3")],
            ];
            // A flowc wait that times out without `on timeout` expires its flow; RapidPro's timeout
            // category ends the flow as completed, so a flow that entered it goes on at Complete rather
            // than at `on expired` (docs/rapidpro.md). Flows that enter others are compared on replies.
            let enters = flow.code.iter().any(|i| matches!(i, flowc::program::Instr::Enter { .. }));
            for script in scripts.into_iter().filter(|s| !enters || s.iter().all(Option::is_some)) {
                let (a, b) = (said(&original, &flow.name, script), said(&again, &twin.name, script));
                // RapidPro ends a run one way: flowc's `stop` (stopped) and a timeout with no `on timeout`
                // (expired) come back as the end of the flow (completed). A failure stays a failure.
                let ended = |v: Vec<String>| -> Vec<String> {
                    v.into_iter()
                        .map(|s| match s.as_str() {
                            "(ends completed)" | "(ends stopped)" | "(ends expired)" => "(ends)".to_string(),
                            _ => s,
                        })
                        .collect()
                };
                let (a, b) = (ended(a), ended(b));
                assert_eq!(a, b, "{}: {} runs differently on {script:?}\n{back}", path.display(), flow.name);
            }
            compared += 1;
        }
    }
    assert!(compared >= 15, "only {compared} flows compared");
}

/// `export(import(E))` for every real spec 13 export: each node of E that imported whole comes back
/// with its UUID, its actions (types, and texts where flowc keeps them as written), its cases (tests and
/// arguments), its categories and where each exit leads.
#[test]
fn real_exports_export_back_with_their_node_graph() {
    use serde_json::Value;
    let Some(data) = rapidpro_data() else { return };
    let mut files = Vec::new();
    crate::files_with_extension(&data.join("real"), "json", &mut files);
    files.sort();
    let shape = |n: &Value| {
        let r = &n["router"];
        let category = |uuid: &Value| {
            r["categories"].as_array().into_iter().flatten().find(|c| c["uuid"] == *uuid).map(|c| c["name"].clone())
        };
        let exit_of = |uuid: &Value| {
            n["exits"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["uuid"] == *uuid)
                .map(|e| e["destination_uuid"].clone())
        };
        let actions: Vec<(Value, Value)> = n["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (a["type"].clone(), json!(a["text"].as_str().map(|t| t.replace("@webhook.json.", "@webhook.")))))
            .collect();
        let cases: Vec<(Value, Value, Option<Value>)> = r["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                // flowc knows a group by its name: the UUID RapidPro gave it is the workspace's.
                let args = match c["type"].as_str() {
                    Some("has_group") => json!(c["arguments"].as_array().and_then(|a| a.last()).cloned()),
                    _ => c["arguments"].clone(),
                };
                (c["type"].clone(), args, category(&c["category_uuid"]))
            })
            .collect();
        let mut categories: Vec<(Value, Option<Value>)> = r["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (c["name"].clone(), exit_of(&c["exit_uuid"]).map(|d| if d.is_null() { json!(null) } else { d })))
            .collect();
        categories.sort_by_key(|c| c.0.to_string());
        let exits: Vec<Value> = if r.is_object() {
            Vec::new()
        } else {
            n["exits"].as_array().into_iter().flatten().map(|e| e["destination_uuid"].clone()).collect()
        };
        (actions, cases, categories, exits)
    };
    let mut compared = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(original) = serde_json::from_str::<Value>(&text) else { continue };
        let Some(flows) = original["flows"].as_array() else { continue };
        if flows.iter().any(|f| f["nodes"].is_null()) {
            continue;
        }
        let Ok(imported) = flowc::rapidpro::import(&text) else { continue };
        let partial: Vec<String> = imported.iter().flat_map(|f| &f.unsupported).map(|u| u.node.clone()).collect();
        let sources: Vec<String> = imported.iter().map(|f| f.text.clone()).collect();
        let asts: Vec<_> = sources.iter().map(|s| flowc::check_source(s).0).collect();
        let pairs: Vec<(&str, &flowc::ast::SourceFile)> = sources.iter().map(String::as_str).zip(&asts).collect();
        let exported = flowc::rapidpro::export(&pairs).json;
        // Each flow keeps its UUID, name and language.
        for (flow, back) in flows.iter().zip(exported["flows"].as_array().unwrap()) {
            for key in ["uuid", "name", "language"] {
                assert_eq!(flow[key], back[key], "{}: {key}", file.display());
            }
        }
        let back: Vec<&Value> =
            exported["flows"].as_array().unwrap().iter().flat_map(|f| f["nodes"].as_array().unwrap()).collect();
        for node in flows.iter().flat_map(|f| f["nodes"].as_array().unwrap()) {
            let uuid = node["uuid"].as_str().unwrap();
            if partial.iter().any(|p| p == uuid) {
                continue;
            }
            let twin = back
                .iter()
                .find(|n| n["uuid"] == uuid)
                .unwrap_or_else(|| panic!("{}: node {uuid} is gone", file.display()));
            assert_eq!(shape(node), shape(twin), "{}: node {uuid}", file.display());
            compared += 1;
        }
    }
    println!("{compared} nodes export back as they were");
    assert!(compared >= 40, "only {compared} nodes compared");
}

#[test]
fn flowc_export_rapidpro_writes_an_export_and_refuses_flows_with_errors() {
    use crate::cli::{flowc, stderr};
    let dir = crate::serve_process::TempDir::new("export");
    let out = dir.0.join("export.json");
    let o = flowc(&["export", "rapidpro", "examples/sms_signup.flow", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("wrote") && stderr(&o).contains("its channel `sms` is left out"), "{}", stderr(&o));
    let export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(export["version"], "13");
    assert!(export["triggers"].as_array().unwrap().iter().any(|t| t["trigger_type"] == "K"), "{export}");
    // The same UUIDs every time, and on standard output.
    let again = flowc(&["export", "rapidpro", "examples/sms_signup.flow"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again, export);
    // A connector's secret is never written, even one written literally.
    let secret = dir.0.join("secret.flow");
    std::fs::write(
        &secret,
        "connector api bearer \"s3cr3t-t0ken-value\"\nflow f {\n  webhook w GET \"https://api.example.com/x\" { auth api }\n}\n",
    )
    .unwrap();
    let o = flowc(&["export", "rapidpro", secret.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("s3cr3t"), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(!stderr(&o).contains("s3cr3t"));
    assert!(stderr(&o).contains("is not exported; its Authorization header holds a placeholder"), "{}", stderr(&o));
    // A key that travels in the query has its placeholder there.
    std::fs::write(
        &secret,
        "connector api api_key query \"key\" \"s3cr3t-t0ken-value\"\nflow f {\n  webhook w GET \"https://api.example.com/x\" { auth api }\n}\n",
    )
    .unwrap();
    let o = flowc(&["export", "rapidpro", secret.to_str().unwrap()]);
    let export: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let call = &export["flows"][0]["nodes"][0]["actions"][0];
    assert_eq!(call["url"], "https://api.example.com/x?key=REPLACE-WITH-SECRET-OF-API", "{call}");
    assert!(stderr(&o).contains("its `key` query parameter holds a placeholder"), "{}", stderr(&o));
    // A flow with errors is refused with its diagnostics; a missing path in one line.
    let bad = dir.0.join("bad.flow");
    std::fs::write(&bad, "flow f {\n  send \"@flow.nope\"\n}\n").unwrap();
    let o = flowc(&["export", "rapidpro", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown_variable") && stderr(&o).contains("fix the errors"), "{}", stderr(&o));
    let o = flowc(&["export", "rapidpro", "no/such.flow"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}
