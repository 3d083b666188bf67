//! `flowc lsp` over the protocol, in process (`Connection::memory()` driving the real server loop):
//! open → diagnostics → incremental edit → new diagnostics → hover → definition → references → rename →
//! completion → symbols → folding → formatting → shutdown.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::collections::HashMap;

struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), String>>>,
    next: i32,
}

impl Client {
    fn start() -> Client {
        Client::start_in(None)
    }

    fn start_in(root: Option<&str>) -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || flowc::lsp::serve(server));
        let mut c = Client { conn: client, server: Some(handle), next: 0 };
        let caps = c.request("initialize", json!({"capabilities": {}, "rootUri": root}));
        assert!(caps["capabilities"]["hoverProvider"].as_bool().unwrap(), "{caps}");
        c.notify("initialized", json!({}));
        c
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).unwrap();
        loop {
            match self.conn.receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("an answer") {
                Message::Response(r) if r.id == id => {
                    return match r.response_result {
                        Ok(v) => v,
                        Err(e) => json!({"error": e.message}),
                    };
                }
                _ => {}
            }
        }
    }

    /// A request with the id `id`, answered (for a client that is not `mut`).
    fn request_on(c: &Client, id: i32, method: &str, params: Value) -> Value {
        let id = RequestId::from(id);
        c.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).unwrap();
        loop {
            match c.conn.receiver.recv_timeout(std::time::Duration::from_secs(60)).expect("an answer") {
                Message::Response(r) if r.id == id => return r.response_result.unwrap_or(Value::Null),
                _ => {}
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap();
    }

    /// The next diagnostics published for the document.
    fn diagnostics(&self) -> Vec<Value> {
        loop {
            match self.conn.receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("diagnostics") {
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    return n.params["diagnostics"].as_array().unwrap().clone();
                }
                _ => {}
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        if let Some(h) = self.server.take() {
            assert!(h.join().unwrap().is_ok());
        }
    }
}

/// `text` after LSP edits (line and character positions; ASCII text), applied from the last.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + p["character"].as_u64().unwrap() as usize
    };
    let mut edits: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| (offset(&e["range"]["start"]), offset(&e["range"]["end"]), e["newText"].as_str().unwrap()))
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, new);
    }
    out
}

const URI: &str = "file:///nonexistent-flowc-lsp/survey.flow";

const SURVEY: &str = r#"connector crm bearer env "CRM_TOKEN"
flow survey {
  step ask {
    send "How old are you?"
    wait age timeout 1h
  }
  webhook save POST "https://crm.example.com/x" {
    auth crm
    expect json { id: text, tier?: text }
    on failure { goto ask }
  }
  split group = @flow.age {
    case has_number_gt 17 as Adult { send "Adult @flow.group" }
    other { goto ask }
  }
  send "Thanks @flow.age, id @extra.id"
}
"#;

/// The LSP position (line, UTF-16 column) of the `n`th occurrence of `needle`, plus `offset` characters.
fn at(text: &str, needle: &str, n: usize, offset: usize) -> Value {
    let index = text.match_indices(needle).nth(n).unwrap_or_else(|| panic!("{needle} #{n}")).0 + offset;
    let line = text[..index].matches('\n').count();
    let col = text[..index].rsplit('\n').next().unwrap().encode_utf16().count();
    json!({"line": line, "character": col})
}

fn doc_pos(needle: &str, n: usize, offset: usize) -> Value {
    json!({"textDocument": {"uri": URI}, "position": at(SURVEY, needle, n, offset)})
}

#[test]
fn a_session_in_the_editor() {
    let mut c = Client::start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": URI, "languageId": "flow", "version": 1, "text": SURVEY}}),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new(), "the file is clean");

    // An incremental edit: `@flow.age` → `@flow.agee` in the last line.
    let pos = at(SURVEY, "@flow.age,", 0, 9);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"range": {"start": pos, "end": pos}, "text": "e"}]}),
    );
    let diags = c.diagnostics();
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "flowc::check::unknown_variable");
    assert_eq!(diags[0]["range"]["start"]["line"], 15);
    assert!(diags[0]["message"].as_str().unwrap().contains("help: did you mean"), "{diags:?}");
    // Back to the original, in full.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": SURVEY}]}),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new());

    // Hover on `@flow.age`: a result of `wait`, text.
    let hover = c.request("textDocument/hover", doc_pos("@flow.age", 0, 7));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("@flow.age") && text.contains("`wait` on line 5") && text.contains("type: `text`"), "{text}");
    let extra = c.request("textDocument/hover", doc_pos("@extra.id", 0, 8));
    let extra = extra["contents"]["value"].as_str().unwrap();
    assert!(extra.contains("`expect json` shapes") && extra.contains("type: `text`"), "{extra}");
    let test_doc = c.request("textDocument/hover", doc_pos("has_number_gt", 0, 3));
    assert!(
        test_doc["contents"]["value"].as_str().unwrap().contains("matches when the text contains a number above N")
    );

    // Definition of `goto ask` → the step's name.
    let def = c.request("textDocument/definition", doc_pos("goto ask", 0, 6));
    assert_eq!(def[0]["range"]["start"], at(SURVEY, "ask {", 0, 0), "{def}");
    // References of the step: its definition and both gotos.
    let refs = c.request("textDocument/references", json!({"textDocument": {"uri": URI}, "position": at(SURVEY, "ask {", 0, 1), "context": {"includeDeclaration": true}}));
    assert_eq!(refs.as_array().unwrap().len(), 3, "{refs}");

    // Rename the result `age` everywhere.
    let prepared = c.request("textDocument/prepareRename", doc_pos("wait age", 0, 6));
    assert_eq!(prepared["start"], at(SURVEY, "age timeout", 0, 0));
    let edit = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": at(SURVEY, "wait age", 0, 6), "newName": "years"}),
    );
    let edits = edit["changes"][URI].as_array().unwrap();
    assert_eq!(edits.len(), 3, "the wait and two reads: {edit}");
    assert!(edits.iter().all(|e| e["newText"] == "years"));
    let bad = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": at(SURVEY, "wait age", 0, 6), "newName": "send"}),
    );
    assert!(bad["error"].as_str().unwrap().contains("not a name"), "{bad}");

    // Completion: results defined before the cursor, declared @extra keys, split tests, steps.
    let labels = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
    };
    let flow_refs = labels(&c.request("textDocument/completion", doc_pos("@flow.group\"", 0, 6)));
    assert!(flow_refs.contains(&"age".to_string()) && flow_refs.contains(&"save".to_string()), "{flow_refs:?}");
    let extra = labels(&c.request("textDocument/completion", doc_pos("@extra.id", 0, 7)));
    assert_eq!(extra, ["id", "tier"]);
    let tests = labels(&c.request("textDocument/completion", doc_pos("has_number_gt", 0, 0)));
    assert!(tests.contains(&"has_phone".to_string()), "{tests:?}");
    let between = c.request("textDocument/completion", doc_pos("has_number_gt", 0, 0));
    let gt = between.as_array().unwrap().iter().find(|i| i["label"] == "has_number_gt").unwrap();
    assert_eq!(gt["insertText"], "has_number_gt ${1:N}");
    // Keywords valid where the cursor is: options inside a webhook, clauses inside a split.
    let options = labels(&c.request("textDocument/completion", doc_pos("    auth crm", 0, 5)));
    assert!(options.contains(&"retries".to_string()) && !options.contains(&"send".to_string()), "{options:?}");
    let clauses = labels(&c.request("textDocument/completion", doc_pos("    other { goto", 0, 5)));
    assert_eq!(clauses, ["case", "other"]);
    let steps = labels(&c.request("textDocument/completion", doc_pos("goto ask", 0, 5)));
    assert_eq!(steps, ["ask"]);

    // Outline and folding.
    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": URI}}));
    let names: Vec<&str> = symbols.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["crm", "survey"]);
    let children: Vec<&str> =
        symbols[1]["children"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(children, ["ask", "save", "group"]);
    let folds = c.request("textDocument/foldingRange", json!({"textDocument": {"uri": URI}}));
    assert!(folds.as_array().unwrap().iter().any(|f| f["startLine"] == 1 && f["endLine"] == 16), "{folds}");

    // Semantic tokens: five numbers a token; the first is `crm`, a connector defined on line 0.
    let tokens = c.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": URI}}));
    let data = tokens["data"].as_array().unwrap();
    assert_eq!(data.len() % 5, 0);
    assert!(data.len() / 5 >= 12, "{tokens}");
    assert_eq!(&data[..5], &[json!(0), json!(10), json!(3), json!(2), json!(1)]);

    // Formatting: already formatted → no edit; a messy edit → one edit; syntax errors → refused.
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, json!([]));
    let messy = SURVEY.replace("  send \"Thanks", "      send   \"Thanks");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 4}, "contentChanges": [{"text": messy}]}),
    );
    c.diagnostics();
    let fixed = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    // Only the line that changes is replaced: the cursor and marks elsewhere stay put.
    let edits = fixed.as_array().unwrap();
    let line = SURVEY.lines().position(|l| l.contains("send \"Thanks")).unwrap() as u64;
    assert_eq!(edits.len(), 1, "{fixed}");
    assert_eq!(edits[0]["range"]["start"], json!({"line": line, "character": 0}), "{fixed}");
    assert_eq!(edits[0]["range"]["end"], json!({"line": line + 1, "character": 0}), "{fixed}");
    assert_eq!(apply_edits(&messy, edits), SURVEY);
    c.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 5}, "contentChanges": [{"text": "flow f {\n  sned \"x\"\n}\n"}]}));
    assert_eq!(c.diagnostics()[0]["code"], "flowc::syntax::unexpected");
    let refused = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert!(refused["error"].as_str().unwrap().contains("syntax errors"), "{refused}");
}

#[test]
fn quick_fixes_apply_the_exact_fix_of_each_diagnostic() {
    let mut c = Client::start();
    let text = "flow f {\n  wait age timeout 10\n  webhook w get \"http://api.example.com/x\" { on failure { stop } }\n  send \"@flw.age @(upper(@flow.ag))\"\n  goto nowher\n  step nowhere { stop }\n}\n";
    let uri = "file:///nonexistent-flowc-lsp/fixes.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    let diags = c.diagnostics();
    assert!(diags.len() >= 5, "{diags:?}");
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 7, "character": 0}});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    for expected in [
        "Replace `10` with `10s`",
        "Replace `10` with `10m`",
        "Replace `get` with `GET`",
        "Replace `http` with `https`",
        "Replace `flw` with `flow`",
        "Replace `ag` with `age`",
        "Replace `nowher` with `nowhere`",
    ] {
        assert!(titles.contains(&expected), "{expected} not in {titles:?}");
    }
    let http = actions.as_array().unwrap().iter().find(|a| a["title"] == "Replace `http` with `https`").unwrap();
    assert_eq!(http["kind"], "quickfix");
    assert_eq!(http["edit"]["changes"][uri][0]["range"]["start"], json!({"line": 2, "character": 17}));
}

#[test]
fn completion_offers_what_every_path_defines_and_hover_says_what_may_be_missing() {
    let mut c = Client::start();
    let text =
        "flow f {\n  wait a timeout 1m { on timeout { send \"late\" } }\n  set b = 1\n  send \"@flow.a @flow.b\"\n}\n";
    let uri = "file:///nonexistent-flowc-lsp/paths.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    c.diagnostics();
    let at_b = at(text, "@flow.b", 0, 6);
    let items = c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": at_b}));
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["b"], "`a` is missing when the wait times out");
    let hover =
        c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at(text, "@flow.a", 0, 7)}));
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(hover_text.contains("may be missing here"), "{hover}");
    // The diagnostic there: its code's page.
    assert!(hover_text.contains("# flowc::check::undefined_variable"), "{hover}");
}

#[test]
fn the_workspace_folder_is_one_project() {
    let dir = std::env::temp_dir().join(format!("flowc-lsp-project-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = "trigger webhook \"/signup\" methods POST { start welcome }\nflow welcome {\n  stop\n}\n";
    std::fs::write(dir.join("a.flow"), flow).unwrap();
    std::fs::write(dir.join("b.flow"), flow).unwrap();
    let root = format!("file://{}", dir.display());
    let c = Client::start_in(Some(&root));
    let uri = format!("{root}/b.flow");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": flow}}),
    );
    let diags = c.diagnostics();
    let messages: Vec<&str> = diags.iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("is also defined in") && m.contains("a.flow")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("already listens on \"/signup\"")), "{messages:?}");
    // Renamed in the editor, before it is saved: the conflict is gone.
    let renamed = flow.replace("/signup", "/join").replace("welcome", "hello");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": renamed}]}),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new());
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_webhook_name_is_one_name_and_renames_do_not_merge_names() {
    let mut c = Client::start();
    let text = "flow f {\n  webhook w GET \"https://x.example.com/\" { on failure { stop } }\n  set total = 1\n  send \"@flow.w @webhook.w.status @flow.total\"\n}\n";
    let uri = "file:///nonexistent-flowc-lsp/webhook.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    c.diagnostics();
    let edit = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": at(text, "@webhook.w", 0, 9), "newName": "v"}),
    );
    let edits = edit["changes"][uri].as_array().unwrap();
    assert_eq!(edits.len(), 3, "the webhook's name, @flow.w and @webhook.w: {edit}");
    let taken = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": at(text, "@flow.w ", 0, 6), "newName": "total"}),
    );
    assert!(taken["error"].as_str().unwrap().contains("already defined"), "{taken}");
    // One place, said once: definition and hover of `@webhook.w` (its call and result share the name).
    let defs = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": at(text, "@webhook.w", 0, 9)}),
    );
    assert_eq!(defs.as_array().unwrap().len(), 1, "{defs}");
    let hover = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at(text, "@webhook.w", 0, 9)}));
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert_eq!(shown.matches("defined by").count(), 1, "{shown}");
}

#[test]
fn crlf_positions_past_the_end_of_a_line_stay_before_the_line_break() {
    let mut c = Client::start();
    let uri = "file:///nonexistent-flowc-lsp/crlf.flow";
    let text = "flow f {\r\n  stop\r\n}\r\n";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new());
    // Append past the end of line 1: the text goes before its CRLF, the file still parses.
    let past = json!({"line": 1, "character": 99});
    c.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": {"start": past, "end": past}, "text": "  // end"}]}));
    assert_eq!(c.diagnostics(), Vec::<Value>::new());
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, json!([]), "a CRLF file in the layout needs no edit");
}

#[test]
fn exit_without_shutdown_is_an_error() {
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || flowc::lsp::serve(server));
    client
        .sender
        .send(Message::Request(Request::new(RequestId::from(1), "initialize".into(), json!({"capabilities": {}}))))
        .unwrap();
    let _ = client.receiver.recv();
    client.sender.send(Message::Notification(Notification::new("initialized".into(), json!({})))).unwrap();
    client.sender.send(Message::Notification(Notification::new("exit".into(), Value::Null))).unwrap();
    assert!(handle.join().unwrap().is_err());
}

#[test]
fn channels_are_names_to_go_to_find_rename_and_complete() {
    let mut c = Client::start();
    let text = "channel sms external {\n  receive \"/sms/in\"\n  send POST \"https://gw.example.com/send\"\n}\n\
                trigger keyword \"join\" channel sms { start welcome }\n\
                trigger webhook \"/signup\" methods POST {\n  expect body { phone: text }\n  start welcome for \"tel:\" & @trigger.body.phone via sms\n}\n\
                flow welcome {\n  send \"Hi\"\n}\n";
    let uri = "file:///nonexistent-flowc-lsp/channels.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    let diags = c.diagnostics();
    assert!(diags.is_empty(), "{diags:?}");
    let def = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": at(text, "via sms", 0, 5)}),
    );
    assert_eq!(def[0]["range"]["start"], json!({"line": 0, "character": 8}), "{def}");
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": at(text, "channel sms", 0, 9), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(refs.as_array().unwrap().len(), 3, "the channel and its two uses: {refs}");
    let renamed = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": at(text, "channel sms {", 0, 9), "newName": "texts"}),
    );
    assert_eq!(renamed["changes"][uri].as_array().unwrap().len(), 3, "{renamed}");
    // Completion after `via `.
    let edited = text.replace("via sms", "via ");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    c.diagnostics();
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": at(&edited, "via ", 0, 4)}),
    );
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["sms"], "{items}");
}

#[test]
fn date_settings_and_tests_are_completed_and_explained() {
    let mut c = Client::start();
    let text = "flow f {\n  dates \n  wait when timeout 1d\n  split @flow.when {\n    case has_date_gt today() { send \"ok\" }\n  }\n}\n";
    let uri = "file:///nonexistent-flowc-lsp/dates.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    c.diagnostics();
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": at(text, "dates ", 0, 6)}),
    );
    let labels: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["day_first", "month_first", "year_first"], "{items}");
    let edited = text.replace("dates \n", "dates month_first\n");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let diags = c.diagnostics();
    assert!(diags.is_empty(), "{diags:?}");
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": at(&edited, "has_date_gt", 0, 3)}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("matches when the text contains a date after the argument"),
        "{hover}"
    );
    let hover = c
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at(&edited, "today()", 0, 2)}));
    assert!(hover["contents"]["value"].as_str().unwrap().contains("contact's time zone"), "{hover}");
}

/// The next message other than a publish for another document: the publish's version and
/// diagnostics, for `uri`.
fn next_publish(c: &Client, uri: &str) -> (i64, Vec<Value>) {
    loop {
        match c.conn.receiver.recv_timeout(std::time::Duration::from_secs(60)).expect("diagnostics") {
            Message::Notification(n) if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri => {
                return (
                    n.params["version"].as_i64().unwrap_or(-1),
                    n.params["diagnostics"].as_array().unwrap().clone(),
                );
            }
            _ => {}
        }
    }
}

#[test]
fn a_burst_of_changes_is_analysed_once_and_only_the_newest_version_is_published() {
    let c = Client::start();
    let uri = "file:///nonexistent-flowc-burst/big.flow";
    let text = crate::valid_flows(200 * 1024, "f");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    assert_eq!(next_publish(&c, uri), (1, Vec::new()));
    // 200 keystrokes at once at the start of line 1 ("  wait a ..."): typing `//`, then more, then a
    // broken statement in the last one.
    for v in 2..=201 {
        let at = json!({"line": 1, "character": 0});
        let typed = if v == 201 { "  sned \"x\"\n" } else { " " };
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"range": {"start": at, "end": at}, "text": typed}]}),
        );
    }
    let (version, diags) = next_publish(&c, uri);
    assert_eq!(version, 201, "only the newest version is published");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "flowc::syntax::unexpected");
    assert_eq!(diags[0]["range"]["start"]["line"], 1);
    // Nothing else was published for the replaced versions.
    let hover = Client::request_on(
        &c,
        900,
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}),
    );
    assert!(hover.is_object(), "{hover}");
}

#[test]
fn a_request_cancelled_before_it_is_worked_on_is_answered_as_cancelled() {
    let c = Client::start();
    let uri = "file:///nonexistent-flowc-cancel/big.flow";
    let text = crate::valid_flows(300 * 1024, "f").replace("flow f_0 {\n  wait", "flow f_0 {\n    wait");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    next_publish(&c, uri);
    // Formatting a large file keeps the server busy while the hover and its cancellation arrive.
    let format = Request::new(
        RequestId::from(101),
        "textDocument/formatting".into(),
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let hover = Request::new(
        RequestId::from(102),
        "textDocument/hover".into(),
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}),
    );
    c.conn.sender.send(Message::Request(format)).unwrap();
    c.conn.sender.send(Message::Request(hover)).unwrap();
    c.notify("$/cancelRequest", json!({"id": 102}));
    let mut answers = HashMap::new();
    while answers.len() < 2 {
        if let Message::Response(r) = c.conn.receiver.recv_timeout(std::time::Duration::from_secs(60)).unwrap() {
            answers.insert(r.id.to_string(), r);
        }
    }
    assert!(answers["101"].response_result.is_ok(), "formatting is answered");
    assert_eq!(answers["102"].response_result.as_ref().err().map(|e| e.code), Some(-32800), "{:?}", answers["102"]);
}

#[test]
fn the_server_says_who_it_is_refuses_requests_after_shutdown_and_ignores_other_languages() {
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || flowc::lsp::serve(server));
    let mut c = Client { conn: client, server: None, next: 0 };
    let init = c.request("initialize", json!({"capabilities": {}}));
    assert_eq!(init["serverInfo"]["name"], "flowc", "{init}");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    c.notify("initialized", json!({}));
    // A Markdown file (clients may send every buffer): not checked as a flow.
    c.notify("textDocument/didOpen", json!({"textDocument": {"uri": "file:///nonexistent-flowc-md/README.md", "languageId": "markdown", "version": 1, "text": "# flowc\n\nRun `flowc check`.\n"}}));
    let flow = "file:///nonexistent-flowc-md/a.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": flow, "languageId": "flow", "version": 1, "text": "flow a {\n  stop\n}\n"}}),
    );
    match c.conn.receiver.recv_timeout(std::time::Duration::from_secs(10)).unwrap() {
        Message::Notification(n) => assert_eq!(n.params["uri"], flow, "the first publish is the flow's"),
        other => panic!("{other:?}"),
    }
    let md = c.request("textDocument/hover", json!({"textDocument": {"uri": "file:///nonexistent-flowc-md/README.md"}, "position": {"line": 0, "character": 2}}));
    assert!(md["error"].as_str().unwrap().contains("not an open .flow document"), "{md}");
    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    let after = c
        .request("textDocument/hover", json!({"textDocument": {"uri": flow}, "position": {"line": 0, "character": 6}}));
    assert!(after["error"].as_str().unwrap().contains("shutting down"), "{after}");
    c.notify("exit", Value::Null);
    assert!(handle.join().unwrap().is_ok());
    std::mem::forget(c);
}

#[test]
fn functions_keywords_on_empty_lines_and_extra_keys_of_webhooks_before_the_cursor_are_completed() {
    let mut c = Client::start();
    let text = "flow f {\n  webhook a GET \"https://x.example.com/a\" {\n    expect json { first: text }\n    on failure { stop }\n  }\n  webhook b POST \"https://x.example.com/b\" {\n    body json { \"k\": @extra. }\n    expect json { second: text }\n    on failure { stop }\n  }\n  send \"@(upp\"\n  set n = len\n  send \"(up\"\n  \n}\n";
    let uri = "file:///nonexistent-flowc-complete/c.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    c.diagnostics();
    let labels = |c: &mut Client, needle: &str, add: usize| -> Vec<String> {
        let items = c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": at(text, needle, 0, add)}),
        );
        items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(labels(&mut c, "@(upp", 5), ["upper"], "a function inside @(");
    assert!(labels(&mut c, "= len", 5).contains(&"length".to_string()), "a function after =");
    assert!(labels(&mut c, "\"(up", 4).is_empty(), "text in a string is not a call");
    // Inside b's own options, @extra is a's answer: a's keys, not b's.
    assert_eq!(labels(&mut c, "@extra. }", 7), ["first"]);
    // An empty indented line: the statement keywords.
    let empty = labels(&mut c, "  \n}", 2);
    assert!(empty.contains(&"send".to_string()) && empty.contains(&"wait".to_string()), "{empty:?}");
}

/// Without a root from the client, a file's project is the nearest folder with a `flowc.toml` (or a
/// `.git`) above it, else its own folder: copies elsewhere are not duplicate names.
#[test]
fn without_a_root_the_project_is_found_from_the_file() {
    let tmp = crate::serve_process::TempDir::new("lsp-root");
    let dir = &tmp.0;
    let flow = "flow welcome {\n  stop\n}\n";
    for sub in ["proj/sub", "lone", "lone/deeper"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("proj/flowc.toml"), "").unwrap();
    std::fs::write(dir.join("proj/a.flow"), flow).unwrap();
    std::fs::write(dir.join("proj/sub/b.flow"), flow).unwrap();
    std::fs::write(dir.join("lone/deeper/copy.flow"), flow).unwrap();
    std::fs::write(dir.join("lone/d.flow"), flow).unwrap();
    let messages = |path: &str| {
        let c = Client::start();
        let uri = format!("file://{}", dir.join(path).display());
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": flow}}),
        );
        let diags = c.diagnostics();
        diags.iter().map(|d| d["message"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let in_project = messages("proj/sub/b.flow");
    assert!(in_project.iter().any(|m| m.contains("is also defined in") && m.contains("a.flow")), "{in_project:?}");
    assert_eq!(
        messages("lone/d.flow"),
        Vec::<String>::new(),
        "a copy in a subfolder of an unmarked folder is not the same project"
    );
}

#[test]
fn child_and_parent_results_are_completed_explained_and_lead_to_the_other_flow() {
    let mut c = Client::start();
    let text = "flow main {\n  set tier = \"gold\"\n  enter survey {\n    on expired { stop }\n  }\n  send \"@child.name @child.\"\n}\n\nflow survey {\n  send \"@parent.tier @parent.\"\n  wait name\n}\n";
    let uri = "file:///nonexistent-flowc-enter/e.flow";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}}),
    );
    let diags = c.diagnostics();
    assert!(diags.iter().all(|d| d["severity"] != 1), "{diags:?}");
    let labels = |c: &mut Client, needle: &str, add: usize| -> Vec<String> {
        let items = c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": at(text, needle, 0, add)}),
        );
        items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(labels(&mut c, "@child.\"", 7), ["name"], "the child's results at its end");
    assert_eq!(labels(&mut c, "@parent.\"", 8), ["tier"], "the parent's results at its `enter`");
    assert_eq!(labels(&mut c, "survey {", 0), ["main", "survey"], "`enter ` completes flow names");
    // Definition of `@child.name`: the child's `wait name`.
    let def = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": at(text, "@child.name", 0, 8)}),
    );
    assert_eq!(def[0]["range"]["start"], json!({"line": 10, "character": 7}), "{def}");
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": at(text, "@parent.tier", 0, 9)}),
    );
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(hover_text.contains("`@parent.tier`") && hover_text.contains("of flow `main`"), "{hover}");
}
