//! Completion: `@` references (the results defined on every path to the cursor, contact fields, the
//! declared keys of `@extra` and `@trigger`, webhook metadata), split tests after `case`, steps after
//! `goto`, connectors after `auth`, flows after `start` and `enter`, and statement keywords at the start
//! of a line.

use lsp_types as lsp;

use super::Document;
use crate::check::model::DefKind;
use crate::split_test::SplitTest;

fn item(label: &str, kind: lsp::CompletionItemKind, detail: Option<String>) -> lsp::CompletionItem {
    lsp::CompletionItem { label: label.to_string(), kind: Some(kind), detail, ..Default::default() }
}

/// The completions at a position.
pub(super) fn complete(doc: &Document, position: lsp::Position) -> Vec<lsp::CompletionItem> {
    let pos = doc.offset(position);
    let line_start = doc.text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let before = &doc.text[line_start..pos];
    let model = &doc.analysis.model;
    // The flow the cursor is in.
    let flow =
        doc.analysis.file.flows.iter().find(|f| f.span.start <= pos && pos <= f.span.end).map(|f| f.name.node.as_str());

    // `@root.partial`: the reference being typed.
    if let Some(at) = before.rfind('@') {
        let typed = &before[at + 1..];
        // `info@flow.io` and `@@` are literal text, not references.
        let literal = before[..at].ends_with(|c: char| c.is_alphanumeric() || c == '@');
        if !literal && typed.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            let mut segments: Vec<&str> = typed.split('.').collect();
            segments.pop(); // what is being typed now
            return match segments.as_slice() {
                [] => crate::ast::Root::ALL
                    .iter()
                    .map(|r| item(r.as_str(), lsp::CompletionItemKind::MODULE, Some(r.doc())))
                    .collect(),
                ["flow"] => {
                    // The results defined on every path to here; where the checker has no statement
                    // around the cursor (the text does not parse there yet), those written before it.
                    let definite = model.definite_at(pos);
                    let mut seen = std::collections::HashSet::new();
                    model
                        .definitions
                        .iter()
                        .filter(|d| d.kind == DefKind::Result && d.flow.as_deref() == flow)
                        .filter(|d| match definite {
                            Some(names) => names.contains(&d.name),
                            None => d.site.start < pos,
                        })
                        .filter(|d| seen.insert(d.name.clone()))
                        .map(|d| item(&d.name, lsp::CompletionItemKind::VARIABLE, Some(format!("from `{}`", d.by))))
                        .collect()
                }
                ["webhook"] => model
                    .definitions
                    .iter()
                    .filter(|d| d.kind == DefKind::Webhook && d.flow.as_deref() == flow)
                    .map(|d| item(&d.name, lsp::CompletionItemKind::FUNCTION, None))
                    .collect(),
                ["webhook", _] => {
                    crate::ast::WEBHOOK_META.iter().map(|k| item(k, lsp::CompletionItemKind::FIELD, None)).collect()
                }
                ["contact"] => {
                    crate::ast::CONTACT_FIELDS.iter().map(|k| item(k, lsp::CompletionItemKind::FIELD, None)).collect()
                }
                ["extra", rest @ ..] => shape_keys(doc, flow, rest, pos),
                // The results of the flows this one enters, defined at their end; of the flows that
                // enter this one, defined at every `enter`.
                [root @ ("child" | "parent")] => {
                    let list = if *root == "child" { &model.children } else { &model.parents };
                    let detail = if *root == "child" { "from the flow entered" } else { "from the flow that entered" };
                    list.iter()
                        .filter(|(f, _)| Some(f.as_str()) == flow)
                        .flat_map(|(_, names)| names)
                        .map(|n| item(n, lsp::CompletionItemKind::VARIABLE, Some(detail.into())))
                        .collect()
                }
                _ => Vec::new(),
            };
        }
    }
    // A name being typed where a value goes (`@(upp`, `set x = len`, `f(a, tr`): the functions.
    let name_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let quotes = before.matches('"').count() - before.matches("\\\"").count();
    let in_text = quotes % 2 == 1 && !before[before.rfind('"').unwrap_or(0)..].contains("@(");
    if name_start < before.len()
        && !in_text
        && before[..name_start].trim_end().ends_with(['(', ',', '=', '+', '-', '*', '/', '&', '|', '!', '<', '>'])
    {
        let typed = &before[name_start..];
        return crate::function::Function::ALL
            .iter()
            .filter(|f| f.name().starts_with(typed))
            .map(|f| item(f.name(), lsp::CompletionItemKind::FUNCTION, Some(f.doc().to_string())))
            .collect();
    }
    let words: Vec<&str> = before.split_whitespace().collect();
    let ends_in_space = before.ends_with(char::is_whitespace);
    let last = if ends_in_space { words.last().copied() } else { words.len().checked_sub(2).map(|i| words[i]) };
    match last {
        Some("case") => SplitTest::ALL.iter().map(|t| test_item(*t)).collect(),
        Some("goto") => names(model, DefKind::Step, flow),
        Some("auth") => names(model, DefKind::Connector, None),
        Some("start" | "enter") => names(model, DefKind::Flow, None),
        // `via NAME`, and `channel NAME` in a trigger (elsewhere `channel` defines one).
        Some("via") => names(model, DefKind::Channel, None),
        Some("channel") if words.first() == Some(&"trigger") => names(model, DefKind::Channel, None),
        Some("dates") if words.len() <= 2 => crate::dates::DateOrder::ALL
            .iter()
            .map(|o| item(o.name(), lsp::CompletionItemKind::ENUM_MEMBER, None))
            .collect(),
        // The first word of a line, or an empty line.
        _ if words.is_empty() || (words.len() == 1 && !ends_in_space) => {
            use crate::syntax::keywords;
            let mut keywords: Vec<&str> = match context_at(&doc.analysis.file, pos) {
                Context::TopLevel => keywords::ITEMS,
                Context::Statements => keywords::STATEMENTS,
                Context::SplitClauses => keywords::SPLIT_CLAUSES,
                Context::WebhookOptions => keywords::WEBHOOK_OPTIONS,
                Context::RespondOptions => keywords::RESPOND_OPTIONS,
                Context::TriggerLines => keywords::TRIGGER_LINES,
                Context::WaitBlock => keywords::WAIT_CLAUSES,
            }
            .to_vec();
            keywords.sort_unstable();
            keywords.into_iter().map(|k| item(k, lsp::CompletionItemKind::KEYWORD, None)).collect()
        }
        _ => Vec::new(),
    }
}

fn names(model: &crate::check::model::Model, kind: DefKind, flow: Option<&str>) -> Vec<lsp::CompletionItem> {
    let mut seen = std::collections::HashSet::new();
    model
        .definitions
        .iter()
        .filter(|d| {
            d.kind == kind
                && (matches!(kind, DefKind::Flow | DefKind::Connector | DefKind::Channel) || d.flow.as_deref() == flow)
        })
        .filter(|d| seen.insert(d.name.clone()))
        .map(|d| item(&d.name, lsp::CompletionItemKind::REFERENCE, None))
        .collect()
}

/// The keys of `@extra` below `path`, from the `expect json` shapes of the flow's webhooks that end
/// before `pos` (inside a webhook's own options, `@extra` is still the answer of the one before).
fn shape_keys(doc: &Document, flow: Option<&str>, path: &[&str], pos: usize) -> Vec<lsp::CompletionItem> {
    let Some(f) = doc.analysis.file.flows.iter().find(|f| Some(f.name.node.as_str()) == flow) else {
        return Vec::new();
    };
    let mut shapes = Vec::new();
    collect_expects(&f.body, pos, &mut shapes);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for shape in shapes {
        let mut at = shape;
        for key in path {
            let crate::ast::ShapeKind::Object(fields) = &at.kind else { break };
            match fields.iter().find(|f| f.key.node == *key) {
                Some(f) => at = &f.shape,
                None => break,
            }
        }
        if let crate::ast::ShapeKind::Object(fields) = &at.kind {
            for field in fields {
                if seen.insert(field.key.node.clone()) {
                    let detail = if field.optional { "may be missing" } else { "always there" };
                    out.push(item(&field.key.node, lsp::CompletionItemKind::FIELD, Some(detail.into())));
                }
            }
        }
    }
    out
}

fn collect_expects<'a>(block: &'a crate::ast::Block, before: usize, out: &mut Vec<&'a crate::ast::Shape>) {
    for stmt in &block.stmts {
        if let crate::ast::StmtKind::Webhook(w) = &stmt.kind
            && let Some(shape) = &w.expect
            && stmt.span.end <= before
        {
            out.push(shape);
        }
        for (_, b) in crate::control::exits(stmt).arms {
            collect_expects(b, before, out);
        }
    }
}

/// A split test with its arguments as placeholders (`has_number_between ${1:MIN} ${2:MAX}`).
fn test_item(t: SplitTest) -> lsp::CompletionItem {
    let mut snippet = t.name().to_string();
    for (i, placeholder) in t.placeholders().iter().enumerate() {
        snippet.push_str(&format!(" ${{{}:{placeholder}}}", i + 1));
    }
    lsp::CompletionItem {
        label: t.name().to_string(),
        kind: Some(lsp::CompletionItemKind::FUNCTION),
        detail: Some(t.doc().to_string()),
        insert_text: Some(snippet),
        insert_text_format: Some(lsp::InsertTextFormat::SNIPPET),
        ..Default::default()
    }
}

/// What may be written at a position.
enum Context {
    TopLevel,
    Statements,
    SplitClauses,
    WebhookOptions,
    RespondOptions,
    TriggerLines,
    WaitBlock,
}

/// The kind of block the position is directly in.
fn context_at(file: &crate::ast::SourceFile, pos: usize) -> Context {
    use crate::ast::StmtKind;
    let inside = |s: crate::span::Span| s.start < pos && pos < s.end;
    if file.triggers.iter().any(|t| inside(t.span)) {
        return Context::TriggerLines;
    }
    let Some(flow) = file.flows.iter().find(|f| inside(f.body.span)) else { return Context::TopLevel };
    let mut block = &flow.body;
    'down: loop {
        for stmt in &block.stmts {
            if !inside(stmt.span) {
                continue;
            }
            for (_, nested) in crate::control::exits(stmt).arms {
                if inside(nested.span) {
                    block = nested;
                    continue 'down;
                }
            }
            return match &stmt.kind {
                StmtKind::Split(_) => Context::SplitClauses,
                StmtKind::Webhook(_) => Context::WebhookOptions,
                StmtKind::Respond(_) => Context::RespondOptions,
                StmtKind::Wait { .. } | StmtKind::Enter { .. } => Context::WaitBlock,
                _ => Context::Statements,
            };
        }
        return Context::Statements;
    }
}
