//! `flowc lsp`: the language server, over stdio (`lsp-server`, as rust-analyzer and nil do). Each open
//! document keeps the text as the client has it and a snapshot: the last text analysed with its tree,
//! diagnostics and model. Edits are applied at once; analysis runs on a background thread, which takes
//! only the newest version of each document (a burst of keystrokes is one analysis), and diagnostics are
//! published only for the version the client has now. Requests are answered meanwhile: hover,
//! definition, references, symbols, folding and semantic tokens from the snapshot; completion, rename,
//! code actions and formatting, which must match the client's text, on it (analysing it first when the
//! snapshot is older). Messages that have arrived together are read together, so a request the client
//! cancelled meanwhile (`$/cancelRequest`) is answered as cancelled without being worked on. One file a
//! concern: `document.rs` (text, edits, positions), `diagnostics.rs`, `navigate.rs` (hover, definition,
//! references, rename), `symbols.rs` (outline, folding), `completion.rs`, and formatting here.

mod completion;
mod diagnostics;
mod document;
mod navigate;
mod symbols;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::Notification as _;
use lsp_types::{self as lsp, Uri};

pub use document::Document;

/// Serves the protocol on `conn` until the client shuts it down.
pub fn serve(conn: Connection) -> Result<(), String> {
    let capabilities = lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Kind(lsp::TextDocumentSyncKind::INCREMENTAL)),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        folding_range_provider: Some(lsp::FoldingRangeProviderCapability::Simple(true)),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
            lsp::SemanticTokensOptions {
                legend: lsp::SemanticTokensLegend {
                    token_types: symbols::TOKEN_TYPES.to_vec(),
                    token_modifiers: symbols::TOKEN_MODIFIERS.to_vec(),
                },
                full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                range: None,
                work_done_progress_options: Default::default(),
            },
        )),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec!["@".into(), ".".into(), " ".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let caps = serde_json::to_value(capabilities).map_err(|e| e.to_string())?;
    let (id, params) = conn.initialize_start().map_err(|e| format!("initialization failed: {e}"))?;
    let result = serde_json::json!({
        "capabilities": caps,
        "serverInfo": { "name": "flowc", "version": env!("CARGO_PKG_VERSION") },
    });
    conn.initialize_finish(id, result).map_err(|e| format!("initialization failed: {e}"))?;
    let root = params["workspaceFolders"][0]["uri"].as_str().or(params["rootUri"].as_str()).and_then(path_of);
    let workspace = root.map(|r| Workspace::load(&r)).unwrap_or_default();
    let analyzer = Analyzer::start();
    let mut server = LanguageServer { conn: &conn, docs: HashMap::new(), workspace, analyzer, shutting_down: false };
    server.run()
}

/// An open document: the text as the client has it now, and the last analysis finished.
struct Open {
    text: String,
    lines: crate::span::LineIndex,
    version: i32,
    snapshot: Arc<Document>,
}

impl Open {
    fn fresh(&self) -> bool {
        self.snapshot.version == self.version
    }
}

/// A text to analyse, and the analysis of one.
struct AnalysisJob {
    uri: Uri,
    version: i32,
    text: String,
}

/// The background thread that analyses documents, newest version first.
struct Analyzer {
    jobs: crossbeam_channel::Sender<AnalysisJob>,
    done: crossbeam_channel::Receiver<(Uri, Document)>,
}

impl Analyzer {
    fn start() -> Analyzer {
        let (jobs, todo) = crossbeam_channel::unbounded::<AnalysisJob>();
        let (finished, done) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("flowc-lsp-analysis".into())
            .spawn(move || {
                while let Ok(first) = todo.recv() {
                    // Versions replaced while the last analysis ran are never analysed.
                    let mut latest = vec![first];
                    while let Ok(job) = todo.try_recv() {
                        match latest.iter_mut().find(|j| j.uri == job.uri) {
                            Some(old) => *old = job,
                            None => latest.push(job),
                        }
                    }
                    for job in latest {
                        let doc = Document::new(job.text, job.version);
                        if finished.send((job.uri, doc)).is_err() {
                            return;
                        }
                    }
                }
            })
            .expect("a thread for analysis");
        Analyzer { jobs, done }
    }
}

/// What the main loop waits for.
enum Signal {
    Message(Message),
    Analyzed(Uri, Box<Document>),
}

/// The id of the request a `$/cancelRequest` notification cancels.
fn cancelled_id(n: &Notification) -> Option<RequestId> {
    if n.method != lsp::notification::Cancel::METHOD {
        return None;
    }
    match &n.params["id"] {
        serde_json::Value::Number(i) => i.as_i64().and_then(|i| i32::try_from(i).ok()).map(RequestId::from),
        serde_json::Value::String(s) => Some(RequestId::from(s.clone())),
        _ => None,
    }
}

/// Messages read at once at most, so that a client that never stops writing is still answered.
const MAX_BATCH: usize = 4096;

struct LanguageServer<'c> {
    conn: &'c Connection,
    docs: HashMap<Uri, Open>,
    workspace: Workspace,
    analyzer: Analyzer,
    /// `shutdown` was answered: requests are refused until `exit`.
    shutting_down: bool,
}

/// The `.flow` files of the workspace folder as they are on disk, parsed once: the project that open
/// documents are checked with (`flowc check`'s and `flowc serve`'s rules across files).
#[derive(Default)]
struct Workspace {
    /// Path, text and tree of each file.
    files: Vec<(std::path::PathBuf, String, crate::ast::SourceFile)>,
    /// The folder.
    root: Option<std::path::PathBuf>,
}

impl Workspace {
    /// Takes the text of a file of the workspace as it now is (saved, closed, or new under the root).
    fn update(&mut self, path: &std::path::Path, text: String) {
        let file = crate::syntax::parse(&text).0;
        match self.files.iter_mut().find(|(p, ..)| p == path) {
            Some(entry) => *entry = (path.to_path_buf(), text, file),
            None if self.root.as_ref().is_some_and(|r| path.starts_with(r)) => {
                self.files.push((path.to_path_buf(), text, file));
                self.files.sort_by(|a, b| a.0.cmp(&b.0));
            }
            None => {}
        }
    }

    /// The project of a file when the client names no root folder: the nearest folder above it with a
    /// `flowc.toml` or a `.git`, else the file's own folder (without its subfolders).
    fn around(file: &std::path::Path) -> Workspace {
        let folder = file.parent().unwrap_or(std::path::Path::new("/"));
        match folder.ancestors().find(|d| d.join("flowc.toml").is_file() || d.join(".git").exists()) {
            Some(root) => Workspace::load(root),
            None => Workspace::load_flat(folder),
        }
    }

    /// The `.flow` files directly in `folder`.
    fn load_flat(folder: &std::path::Path) -> Workspace {
        Workspace::read(folder, flow_files(folder, 0))
    }

    fn load(root: &std::path::Path) -> Workspace {
        Workspace::read(root, flow_files(root, MAX_WORKSPACE_DEPTH))
    }

    fn read(root: &std::path::Path, mut paths: Vec<std::path::PathBuf>) -> Workspace {
        paths.sort();
        let files = paths
            .into_iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).ok()?;
                let file = crate::syntax::parse(&text).0;
                Some((p, text, file))
            })
            .collect();
        Workspace { files, root: Some(root.to_path_buf()) }
    }
}

/// Most files and bytes of a workspace that are read (a folder such as a home directory must not
/// stall the server).
const MAX_WORKSPACE_FILES: usize = 2_000;
const MAX_WORKSPACE_FILE_BYTES: u64 = 4 << 20;

/// How many folders down a workspace is read.
const MAX_WORKSPACE_DEPTH: usize = 8;

/// `.flow` files in `dir` and the folders below it, `levels` down (0: `dir` alone), the project's
/// walk ([`crate::project::Walk`]) with the workspace's bounds; folders that cannot be read are left out.
fn flow_files(dir: &std::path::Path, levels: usize) -> Vec<std::path::PathBuf> {
    let walk = crate::project::Walk {
        levels,
        max_files: MAX_WORKSPACE_FILES,
        max_bytes: MAX_WORKSPACE_FILE_BYTES,
        strict: false,
        ..crate::project::Walk::default()
    };
    walk.files(dir).unwrap_or_default()
}

/// The path of a `file:` URI.
fn path_of(uri: &str) -> Option<std::path::PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None; // another host's file
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = rest
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(std::path::PathBuf::from(String::from_utf8(out).ok()?))
}

impl LanguageServer<'_> {
    fn send(&self, msg: Message) {
        // The client went away: the loop ends when the channel closes.
        let _ = self.conn.sender.send(msg);
    }

    /// Reads messages and analyses until `exit`.
    fn run(&mut self) -> Result<(), String> {
        loop {
            let first = crossbeam_channel::select! {
                recv(self.conn.receiver) -> msg => match msg {
                    Ok(msg) => Signal::Message(msg),
                    Err(_) => return Ok(()),
                },
                recv(self.analyzer.done) -> done => match done {
                    Ok((uri, doc)) => Signal::Analyzed(uri, Box::new(doc)),
                    Err(_) => return Err("the analysis thread stopped".into()),
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH
                && let Ok(msg) = self.conn.receiver.try_recv()
            {
                batch.push(Signal::Message(msg));
            }
            let cancelled: HashSet<RequestId> = batch
                .iter()
                .filter_map(|e| match e {
                    Signal::Message(Message::Notification(n)) => cancelled_id(n),
                    _ => None,
                })
                .collect();
            let mut changed: Vec<Uri> = Vec::new();
            for event in batch {
                match event {
                    Signal::Analyzed(uri, doc) => self.analyzed(uri, *doc),
                    Signal::Message(Message::Request(req)) => {
                        if cancelled.contains(&req.id) {
                            self.refuse(req.id, lsp_server::ErrorCode::RequestCanceled, "cancelled by the client");
                        } else if self.shutting_down {
                            self.refuse(req.id, lsp_server::ErrorCode::InvalidRequest, "the server is shutting down");
                        } else if req.method == <lsp::request::Shutdown as lsp::request::Request>::METHOD {
                            self.shutting_down = true;
                            self.send(Message::Response(Response::new_ok(req.id, serde_json::Value::Null)));
                        } else {
                            self.request(req);
                        }
                    }
                    Signal::Message(Message::Notification(n)) if n.method == lsp::notification::Exit::METHOD => {
                        return if self.shutting_down { Ok(()) } else { Err("exit without shutdown".into()) };
                    }
                    Signal::Message(Message::Notification(n)) => self.notification(n, &mut changed),
                    Signal::Message(Message::Response(_)) => {}
                }
            }
            for uri in changed {
                if let Some(open) = self.docs.get(&uri) {
                    let job = AnalysisJob { uri, version: open.version, text: open.text.clone() };
                    // The thread lives as long as the server; a send can only fail if it panicked.
                    let _ = self.analyzer.jobs.send(job);
                }
            }
        }
    }

    fn refuse(&self, id: RequestId, code: lsp_server::ErrorCode, message: &str) {
        self.send(Message::Response(Response::new_err(id, code as i32, message.into())));
    }

    /// An analysis came back: it becomes the document's snapshot, and its diagnostics are published
    /// when it is of the text the client has now (an older one only answers requests until the next).
    fn analyzed(&mut self, uri: Uri, doc: Document) {
        let Some(open) = self.docs.get_mut(&uri) else { return };
        if doc.version <= open.snapshot.version {
            return;
        }
        open.snapshot = Arc::new(doc);
        if open.fresh() {
            self.publish_all(&uri);
        }
    }

    /// Analyses the document now if its snapshot is older than its text (for requests whose answer
    /// must match the client's text).
    fn refresh(&mut self, uri: &Uri) {
        let Some(open) = self.docs.get_mut(uri) else { return };
        if open.fresh() {
            return;
        }
        open.snapshot = Arc::new(Document::new(open.text.clone(), open.version));
        self.publish_all(uri);
    }

    fn notification(&mut self, n: Notification, changed: &mut Vec<Uri>) {
        match n.method.as_str() {
            lsp::notification::DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params) {
                    let item = p.text_document;
                    // Markdown, TOML and the rest may be sent by clients that attach to every buffer.
                    if item.language_id != "flow" && !item.uri.path().as_str().ends_with(".flow") {
                        return;
                    }
                    if let Some(path) = path_of(item.uri.as_str()) {
                        if self.workspace.root.is_none() {
                            self.workspace = Workspace::around(&path);
                        }
                        if !self.workspace.files.iter().any(|(f, ..)| *f == path) {
                            self.workspace.update(&path, item.text.clone());
                        }
                    }
                    let snapshot = Arc::new(Document::new(item.text, item.version));
                    let open = Open {
                        text: snapshot.text.clone(),
                        lines: snapshot.lines.clone(),
                        version: item.version,
                        snapshot,
                    };
                    self.docs.insert(item.uri.clone(), open);
                    self.publish_all(&item.uri);
                }
            }
            lsp::notification::DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params)
                    && let Some(open) = self.docs.get_mut(&p.text_document.uri)
                {
                    document::edit(&mut open.text, &mut open.lines, &p.content_changes);
                    open.version = p.text_document.version;
                    if !changed.contains(&p.text_document.uri) {
                        changed.push(p.text_document.uri);
                    }
                }
            }
            lsp::notification::DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params) {
                    if self.docs.remove(&p.text_document.uri).is_none() {
                        return;
                    }
                    // Closed: the file counts as it is on disk again.
                    if let Some(path) = path_of(p.text_document.uri.as_str())
                        && let Ok(text) = std::fs::read_to_string(&path)
                    {
                        self.workspace.update(&path, text);
                    }
                    self.publish_others(None);
                    let params = lsp::PublishDiagnosticsParams {
                        uri: p.text_document.uri,
                        diagnostics: Vec::new(),
                        version: None,
                    };
                    self.send(Message::Notification(Notification::new(
                        lsp::notification::PublishDiagnostics::METHOD.into(),
                        params,
                    )));
                }
            }
            _ => {}
        }
    }

    /// The project's diagnostics about `doc`: the workspace's files, with open documents as edited.
    fn project_diagnostics(&self, uri: &Uri, doc: &Document) -> Vec<crate::diagnostic::Diagnostic> {
        let Some(this) = path_of(uri.as_str()) else { return Vec::new() };
        if self.workspace.files.is_empty() {
            return Vec::new();
        }
        let open: HashMap<std::path::PathBuf, &Document> =
            self.docs.iter().filter_map(|(u, d)| Some((path_of(u.as_str())?, &*d.snapshot))).collect();
        let names: Vec<String> = self.workspace.files.iter().map(|(p, ..)| p.display().to_string()).collect();
        let mut files: Vec<crate::check::ProjectFile<'_>> = Vec::new();
        let mut index = None;
        for ((path, text, file), name) in self.workspace.files.iter().zip(&names) {
            let (src, file) = if *path == this {
                index = Some(files.len());
                (doc.text.as_str(), &doc.analysis.file)
            } else if let Some(d) = open.get(path) {
                (d.text.as_str(), &d.analysis.file)
            } else {
                (text.as_str(), file)
            };
            files.push(crate::check::ProjectFile { name, src, file });
        }
        let Some(index) = index else { return Vec::new() };
        crate::check::project(&files).swap_remove(index)
    }

    /// Publishes the diagnostics of `changed`, then of every other open document, whose project
    /// diagnostics may have changed with it (the project check is cheap).
    fn publish_all(&self, changed: &Uri) {
        if let Some(open) = self.docs.get(changed) {
            self.publish(changed, &open.snapshot);
        }
        self.publish_others(Some(changed));
    }

    fn publish_others(&self, except: Option<&Uri>) {
        if self.workspace.files.is_empty() {
            return;
        }
        // A document whose newer text is being analysed is published when that analysis is done.
        for (uri, open) in self.docs.iter().filter(|(u, o)| Some(*u) != except && o.fresh()) {
            self.publish(uri, &open.snapshot);
        }
    }

    fn publish(&self, uri: &Uri, doc: &Document) {
        let project = self.project_diagnostics(uri, doc);
        let params = lsp::PublishDiagnosticsParams {
            uri: uri.clone(),
            diagnostics: diagnostics::to_lsp(uri, doc, &project),
            version: Some(doc.version),
        };
        self.send(Message::Notification(Notification::new(
            lsp::notification::PublishDiagnostics::METHOD.into(),
            params,
        )));
    }

    fn request(&mut self, req: Request) {
        let id = req.id.clone();
        let result = self.answer(req);
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        self.send(Message::Response(response));
    }

    /// The result of a request, or an error code and message.
    fn answer(&mut self, req: Request) -> Result<serde_json::Value, (lsp_server::ErrorCode, String)> {
        use lsp::request::*;
        fn params<P: serde::de::DeserializeOwned>(
            req: lsp_server::Request,
        ) -> Result<P, (lsp_server::ErrorCode, String)> {
            serde_json::from_value(req.params).map_err(|e| (lsp_server::ErrorCode::InvalidParams, e.to_string()))
        }
        let to_json = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| (lsp_server::ErrorCode::InternalError, e.to_string()))
        };
        let method = req.method.clone();
        if matches!(
            method.as_str(),
            Completion::METHOD
                | Rename::METHOD
                | CodeActionRequest::METHOD
                | Formatting::METHOD
                | PrepareRenameRequest::METHOD
        ) && let Some(uri) = req.params["textDocument"]["uri"].as_str().and_then(|u| u.parse::<Uri>().ok())
        {
            self.refresh(&uri);
        }
        match method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp::HoverParams = params(req)?;
                let doc = self.doc(&p.text_document_position_params.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(navigate::hover(doc, p.text_document_position_params.position)))
            }
            GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = params(req)?;
                let uri = p.text_document_position_params.text_document.uri;
                let doc = self.doc(&uri)?;
                let doc = &*doc;
                let locations = navigate::definition(doc, &uri, p.text_document_position_params.position);
                to_json(serde_json::to_value(lsp::GotoDefinitionResponse::Array(locations)))
            }
            References::METHOD => {
                let p: lsp::ReferenceParams = params(req)?;
                let uri = p.text_document_position.text_document.uri;
                let doc = self.doc(&uri)?;
                let doc = &*doc;
                let locations =
                    navigate::references(doc, &uri, p.text_document_position.position, p.context.include_declaration);
                to_json(serde_json::to_value(locations))
            }
            PrepareRenameRequest::METHOD => {
                let p: lsp::TextDocumentPositionParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(navigate::prepare_rename(doc, p.position)))
            }
            Rename::METHOD => {
                let p: lsp::RenameParams = params(req)?;
                let uri = p.text_document_position.text_document.uri;
                let doc = self.doc(&uri)?;
                let doc = &*doc;
                let edit = navigate::rename(doc, &uri, p.text_document_position.position, &p.new_name)
                    .map_err(|m| (lsp_server::ErrorCode::InvalidParams, m))?;
                to_json(serde_json::to_value(edit))
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp::DocumentSymbolParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(lsp::DocumentSymbolResponse::Nested(symbols::outline(doc))))
            }
            FoldingRangeRequest::METHOD => {
                let p: lsp::FoldingRangeParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(symbols::folding(doc)))
            }
            Formatting::METHOD => {
                let p: lsp::DocumentFormattingParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(format(doc)?))
            }
            SemanticTokensFullRequest::METHOD => {
                let p: lsp::SemanticTokensParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(lsp::SemanticTokensResult::Tokens(symbols::semantic_tokens(doc))))
            }
            CodeActionRequest::METHOD => {
                let p: lsp::CodeActionParams = params(req)?;
                let doc = self.doc(&p.text_document.uri)?;
                let doc = &*doc;
                to_json(serde_json::to_value(quick_fixes(doc, &p.text_document.uri, p.range)))
            }
            Completion::METHOD => {
                let p: lsp::CompletionParams = params(req)?;
                let doc = self.doc(&p.text_document_position.text_document.uri)?;
                let doc = &*doc;
                let items = completion::complete(doc, p.text_document_position.position);
                to_json(serde_json::to_value(lsp::CompletionResponse::Array(items)))
            }
            _ => Err((lsp_server::ErrorCode::MethodNotFound, format!("flowc lsp does not answer {method}"))),
        }
    }

    /// The document's snapshot: the last analysis finished.
    fn doc(&self, uri: &Uri) -> Result<Arc<Document>, (lsp_server::ErrorCode, String)> {
        self.docs.get(uri).map(|o| Arc::clone(&o.snapshot)).ok_or_else(|| {
            (lsp_server::ErrorCode::InvalidParams, format!("{} is not an open .flow document", uri.as_str()))
        })
    }
}

/// A quick fix for every exact fix of a diagnostic that touches `range` (did-you-means, `http://` →
/// `https://`, `get` → `GET`, a missing duration unit, `@flw.` → `@flow.`).
fn quick_fixes(doc: &Document, uri: &Uri, range: lsp::Range) -> Vec<lsp::CodeActionOrCommand> {
    let (start, end) = (doc.offset(range.start), doc.offset(range.end));
    let uri_diagnostics = diagnostics::to_lsp(uri, doc, &[]);
    let mut out = Vec::new();
    for (d, shown) in doc.analysis.diagnostics.iter().zip(uri_diagnostics) {
        let span = d.span();
        if span.end < start || span.start > end {
            continue;
        }
        for fix in &d.fixes {
            let edit = lsp::TextEdit { range: doc.range(fix.span), new_text: fix.replacement.clone() };
            out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: format!(
                    "Replace `{}` with `{}`",
                    doc.text.get(fix.span.start..fix.span.end).unwrap_or(""),
                    fix.replacement
                ),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![shown.clone()]),
                edit: Some(lsp::WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..Default::default()
                }),
                is_preferred: Some(d.fixes.len() == 1),
                ..Default::default()
            }));
        }
    }
    out
}

/// `flowc fmt` as the lines it changes, each group of changed lines one edit, so that the cursor and
/// marks on the other lines stay where they are; refused (an error) when the file has syntax errors.
fn format(doc: &Document) -> Result<Vec<lsp::TextEdit>, (lsp_server::ErrorCode, String)> {
    match crate::fmt::format(&doc.text) {
        Ok(formatted) => Ok(line_edits(doc, &formatted)),
        Err(crate::fmt::FmtError::Syntax(_)) => {
            Err((lsp_server::ErrorCode::RequestFailed, "not formatting: the file has syntax errors".into()))
        }
    }
}

/// The edits that turn the document's text into `new`, line by line. A diff that takes too long (a
/// file rewritten from top to bottom) gives fewer, larger edits rather than waiting.
fn line_edits(doc: &Document, new: &str) -> Vec<lsp::TextEdit> {
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_millis(200))
        .diff_lines(doc.text.as_str(), new);
    let (old_lines, new_lines) = (diff.old_slices(), diff.new_slices());
    // Byte offset of each old line's start (and of the end).
    let mut starts = Vec::with_capacity(old_lines.len() + 1);
    let mut at = 0;
    for line in old_lines {
        starts.push(at);
        at += line.len();
    }
    starts.push(at);
    diff.grouped_ops(0)
        .into_iter()
        .filter_map(|group| {
            let (first, last) = (group.first()?, group.last()?);
            let old = first.old_range().start..last.old_range().end;
            let new = first.new_range().start..last.new_range().end;
            let span = crate::span::Span::new(starts[old.start], starts[old.end]);
            Some(lsp::TextEdit { range: doc.range(span), new_text: new_lines[new].concat() })
        })
        .collect()
}

/// Runs the server on standard input and output (`flowc lsp`).
pub fn main() -> Result<(), String> {
    let (conn, threads) = Connection::stdio();
    serve(conn)?;
    threads.join().map_err(|e| e.to_string())
}
