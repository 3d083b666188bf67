//! Checks one flow, as passes over its statements and its control-flow graph, each in a file of its
//! own: names (`names.rs`), statement rules (`statements.rs`), split tests (`tests.rs`), types
//! (`types.rs`), references and definite assignment (`references.rs`), paths: reachability and the
//! respond rules (`paths.rs`), and unused results (`results.rs`).

mod date_literals;
mod enters;
mod names;
mod paths;
mod references;
mod results;
mod settings;
mod statements;
mod tests;
mod types;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::cfg::{Graph, NodeKind};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::types::Ty;

pub(crate) use crate::ast::{CONTACT_FIELDS, WEBHOOK_META};

/// Longest wait and webhook timeouts.
const MAX_WAIT_MS: u64 = 365 * 86_400_000;
const MAX_WEBHOOK_TIMEOUT_MS: u64 = 300_000;
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// Where a flow's part of the model goes: the types of expressions, and the results defined on every
/// path into each statement.
pub(crate) type ModelOut<'a> = (&'a mut Vec<(Span, Ty)>, &'a mut Vec<(Span, Vec<String>)>);

/// What to report when a fact is missing at a read.
struct Missing {
    code: Code,
    span: Span,
    message: String,
    /// Appended to the help line after the path.
    advice: String,
    defined_at: Option<Span>,
}

pub(crate) struct FlowChecker<'a> {
    src: &'a str,
    /// Line numbers for path descriptions.
    lines: &'a crate::span::LineIndex,
    file: &'a SourceFile,
    flow: &'a Flow,
    graph: Graph<'a>,
    triggers: &'a [&'a Trigger],
    diags: &'a mut Vec<Diagnostic>,
    /// The type of every expression and reference typed (not while inferring), when a model is wanted.
    types: Option<&'a mut Vec<(Span, Ty)>>,
    /// Type and first definition of each `@flow.NAME`.
    vars: HashMap<&'a str, (Ty, Span)>,
    /// Webhook names of this flow and their statements.
    webhooks: HashMap<&'a str, &'a Webhook>,
    /// Webhooks whose statement did not parse: reads of `@webhook.NAME` are not reported.
    broken_webhooks: HashSet<&'a str>,
    /// Names read as `@flow.NAME`.
    reads: HashSet<&'a str>,
    input_read: bool,
    /// A keyword or catchall of the file starts this flow: `@input` is the message from the start.
    input_at_start: bool,
    /// Where the flow's settings (`numbers`, `dates`) end: a setting after this offset is misplaced.
    settings_end: usize,
    /// The flow's `dates` setting, for date literals.
    date_order: crate::dates::DateOrder,
    /// When set, expression typing reports nothing (used while inferring `set` types).
    silent: bool,
    /// The reference checked next is `default`'s first argument: it may be undefined.
    may_be_missing: bool,
    /// What the flows this one enters, and the flows that enter it, define (`@child`, `@parent`).
    enters: &'a super::enter::Enters<'a>,
}

/// The file a flow is checked in: its text, lines, items and what its `enter`s connect.
pub(crate) struct InFile<'a> {
    pub(crate) src: &'a str,
    pub(crate) lines: &'a crate::span::LineIndex,
    pub(crate) file: &'a SourceFile,
    pub(crate) enters: &'a super::enter::Enters<'a>,
}

impl<'a> FlowChecker<'a> {
    /// A checker of `flow` with its graph built and the names and types of its results known.
    fn new(
        at: &InFile<'a>,
        flow: &'a Flow,
        triggers: &'a [&'a Trigger],
        diags: &'a mut Vec<Diagnostic>,
        types: Option<&'a mut Vec<(Span, Ty)>>,
    ) -> FlowChecker<'a> {
        let (src, lines, file, enters) = (at.src, at.lines, at.file, at.enters);
        let graph = Graph::build(&flow.body, &|child| enters.child_results(child));
        let mut c = FlowChecker {
            src,
            lines,
            file,
            flow,
            graph,
            triggers,
            diags,
            types,
            vars: HashMap::default(),
            webhooks: HashMap::default(),
            broken_webhooks: HashSet::default(),
            reads: HashSet::default(),
            input_read: false,
            input_at_start: file.message_triggers.iter().any(|t| t.starts.iter().any(|s| s.node == flow.name.node)),
            settings_end: usize::MAX,
            date_order: crate::dates::DateOrder::default(),
            silent: false,
            may_be_missing: false,
            enters,
        };
        c.collect_names(&flow.body);
        c.silent = true;
        c.infer_set_types(&flow.body);
        c.silent = false;
        c
    }

    /// What the other flows of the file need to know of `flow` (docs/language.md §4.11): the results it
    /// defines on every path to its end, what is defined where it enters another flow, and where its
    /// start leads before anything else.
    pub(crate) fn summarize(at: &InFile<'a>, flow: &'a Flow) -> super::enter::Summary {
        let mut diags = Vec::new();
        let mut c = FlowChecker::new(at, flow, &[], &mut diags, None);
        c.silent = true;
        c.summary()
    }

    pub(crate) fn run(
        at: &InFile<'a>,
        flow: &'a Flow,
        triggers: &'a [&'a Trigger],
        diags: &'a mut Vec<Diagnostic>,
        model: Option<ModelOut<'a>>,
    ) {
        let (types, definite) = match model {
            Some((t, d)) => (Some(t), Some(d)),
            None => (None, None),
        };
        let mut c = FlowChecker::new(at, flow, triggers, diags, types);
        c.settings(&flow.body);
        for stmt in &flow.body.stmts {
            if let StmtKind::Numbers { decimal } = &stmt.kind
                && decimal.node != ","
                && decimal.node != "."
            {
                c.report(
                    Diagnostic::new(
                        Code::NumbersDecimal,
                        decimal.span,
                        format!("\"{}\" is not a decimal separator", decimal.node),
                        "not `,` or `.`",
                    )
                    .with_help("write `numbers decimal \",\"` (or \".\", the default)"),
                );
            }
        }
        for node in 0..c.graph.nodes.len() {
            if let NodeKind::Stmt(stmt) = c.graph.nodes[node].kind {
                c.stmt(stmt, node);
            }
        }
        // `start FLOW for URN via CHANNEL`: the URN is computed from the request before the run starts.
        for f in c.triggers.iter().filter_map(|t| t.start_for.as_ref()) {
            let ty = c.expr(&f.urn, super::cfg::ENTRY);
            if matches!(ty, Ty::List(_) | Ty::Object(_) | Ty::Bool) {
                c.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        f.urn.span,
                        format!("a contact's URN is text, not {ty}"),
                        "not text",
                    )
                    .with_help("build it from the request, e.g. `\"tel:\" & @trigger.body.phone`"),
                );
            }
        }
        c.reachability(&flow.body, true);
        c.respond_rules();
        c.waits_without_contact();
        c.unused_results();
        // For the model: the results defined on every path into each statement.
        if let Some(out) = definite {
            let mut names: Vec<&str> = c.vars.keys().copied().collect();
            names.sort_unstable();
            for node in 0..c.graph.nodes.len() {
                if let NodeKind::Stmt(stmt) = c.graph.nodes[node].kind
                    && c.graph.reachable(node)
                {
                    let defined = names
                        .iter()
                        .filter(|n| c.graph.must_have(node, &super::cfg::Fact::FlowVar((**n).to_string())))
                        .map(|n| n.to_string())
                        .collect();
                    out.push((stmt.span, defined));
                }
            }
        }
    }

    fn report(&mut self, d: Diagnostic) {
        if !self.silent {
            self.diags.push(d);
        }
    }

    // ------------------------------------------------------------ names and types of variables
}
