//! The outline of a document (flows with their steps and webhooks, connectors, triggers) and its
//! folding ranges (every block over more than one line).

use lsp_types as lsp;

use super::Document;
use crate::ast::*;

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written; it is deprecated in the protocol.
fn symbol(
    doc: &Document,
    name: String,
    detail: Option<String>,
    kind: lsp::SymbolKind,
    whole: crate::span::Span,
    name_span: crate::span::Span,
    children: Vec<lsp::DocumentSymbol>,
) -> lsp::DocumentSymbol {
    lsp::DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: doc.range(whole),
        selection_range: doc.range(name_span),
        children: (!children.is_empty()).then_some(children),
    }
}

/// Flows (with their steps, webhooks and results), connectors and triggers, in source order.
pub(super) fn outline(doc: &Document) -> Vec<lsp::DocumentSymbol> {
    let file = &doc.analysis.file;
    let mut out: Vec<(usize, lsp::DocumentSymbol)> = Vec::new();
    for f in &file.flows {
        let mut children = Vec::new();
        block_symbols(doc, &f.body, &mut children);
        let detail = f.label.as_ref().map(|l| l.node.clone());
        out.push((
            f.span.start,
            symbol(doc, f.name.node.clone(), detail, lsp::SymbolKind::FUNCTION, f.span, f.name.span, children),
        ));
    }
    for c in &file.connectors {
        out.push((
            c.span.start,
            symbol(
                doc,
                c.name.node.clone(),
                Some("connector".into()),
                lsp::SymbolKind::KEY,
                c.span,
                c.name.span,
                Vec::new(),
            ),
        ));
    }
    for t in &file.triggers {
        let methods: Vec<&str> = t.methods.iter().map(|m| m.node.as_str()).collect();
        out.push((
            t.span.start,
            symbol(
                doc,
                t.suffix.node.clone(),
                Some(methods.join(", ")),
                lsp::SymbolKind::EVENT,
                t.span,
                t.suffix.span,
                Vec::new(),
            ),
        ));
    }
    for c in &file.channels {
        let kind = match c.kind {
            ChannelKind::External { .. } => "external channel",
            ChannelKind::Telegram { .. } => "telegram channel",
            ChannelKind::Twilio { .. } => "twilio channel",
        };
        let item = symbol(
            doc,
            c.name.node.clone(),
            Some(kind.into()),
            lsp::SymbolKind::INTERFACE,
            c.span,
            c.name.span,
            Vec::new(),
        );
        out.push((c.span.start, item));
    }
    for t in &file.message_triggers {
        let name = if t.catchall {
            "catchall".to_string()
        } else {
            t.words.iter().map(|w| format!("\"{}\"", w.node)).collect::<Vec<_>>().join(", ")
        };
        let detail = t.channel.as_ref().map_or("any channel".to_string(), |c| format!("channel {}", c.node));
        let at = t.words.first().map_or(t.span, |w| w.span);
        out.push((t.span.start, symbol(doc, name, Some(detail), lsp::SymbolKind::EVENT, t.span, at, Vec::new())));
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, s)| s).collect()
}

fn block_symbols(doc: &Document, block: &Block, out: &mut Vec<lsp::DocumentSymbol>) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Step { name, body } => {
                let mut children = Vec::new();
                block_symbols(doc, body, &mut children);
                out.push(symbol(
                    doc,
                    name.node.clone(),
                    Some("step".into()),
                    lsp::SymbolKind::NAMESPACE,
                    stmt.span,
                    name.span,
                    children,
                ));
            }
            StmtKind::Webhook(w) => {
                let detail = format!("{} webhook", w.method.node.as_str());
                out.push(symbol(
                    doc,
                    w.name.node.clone(),
                    Some(detail),
                    lsp::SymbolKind::METHOD,
                    stmt.span,
                    w.name.span,
                    Vec::new(),
                ));
                if let Some(b) = &w.on_failure {
                    block_symbols(doc, b, out);
                }
            }
            StmtKind::Wait { name, on_timeout, .. } => {
                out.push(symbol(
                    doc,
                    name.node.clone(),
                    Some("wait".into()),
                    lsp::SymbolKind::VARIABLE,
                    stmt.span,
                    name.span,
                    Vec::new(),
                ));
                on_timeout.iter().for_each(|b| block_symbols(doc, b, out));
            }
            StmtKind::Enter { on_expired, .. } => on_expired.iter().for_each(|b| block_symbols(doc, b, out)),
            StmtKind::Split(s) => {
                if let Some(r) = &s.result {
                    out.push(symbol(
                        doc,
                        r.node.clone(),
                        Some("split".into()),
                        lsp::SymbolKind::VARIABLE,
                        stmt.span,
                        r.span,
                        Vec::new(),
                    ));
                }
                s.cases.iter().for_each(|c| block_symbols(doc, &c.body, out));
                if let Some(o) = &s.other {
                    block_symbols(doc, o, out);
                }
            }
            _ => {}
        }
    }
}

/// A folding range for every item and block that spans more than one line.
pub(super) fn folding(doc: &Document) -> Vec<lsp::FoldingRange> {
    let mut spans = Vec::new();
    let file = &doc.analysis.file;
    for f in &file.flows {
        spans.push(f.span);
        fold_block(&f.body, &mut spans);
    }
    spans.extend(file.triggers.iter().map(|t| t.span));
    let mut out: Vec<lsp::FoldingRange> = spans
        .into_iter()
        .filter_map(|s| {
            let (start, end) = (doc.position(s.start).line, doc.position(s.end.saturating_sub(1)).line);
            (end > start).then_some(lsp::FoldingRange { start_line: start, end_line: end, ..Default::default() })
        })
        .collect();
    out.sort_by_key(|r| (r.start_line, r.end_line));
    out.dedup_by_key(|r| (r.start_line, r.end_line));
    out
}

fn fold_block(block: &Block, out: &mut Vec<crate::span::Span>) {
    for stmt in &block.stmts {
        let nested = crate::control::exits(stmt);
        if !nested.arms.is_empty()
            || !nested.dead.is_empty()
            || matches!(stmt.kind, StmtKind::Webhook(_) | StmtKind::Respond(_))
        {
            out.push(stmt.span);
        }
        for (_, b) in nested.arms {
            fold_block(b, out);
        }
    }
}

/// The token types of [`semantic_tokens`], in legend order.
pub(super) const TOKEN_TYPES: &[lsp::SemanticTokenType] = &[
    lsp::SemanticTokenType::VARIABLE,
    lsp::SemanticTokenType::FUNCTION,
    lsp::SemanticTokenType::NAMESPACE,
    lsp::SemanticTokenType::PROPERTY,
    lsp::SemanticTokenType::COMMENT,
];
/// The token modifiers, in legend order.
pub(super) const TOKEN_MODIFIERS: &[lsp::SemanticTokenModifier] = &[lsp::SemanticTokenModifier::DECLARATION];

/// Semantic tokens: results and webhooks (variables), steps and flows (functions), connectors and
/// channels (namespaces), triggers (properties), definitions marked as declarations, and comments; what a
/// TextMate grammar cannot know.
pub(super) fn semantic_tokens(doc: &Document) -> lsp::SemanticTokens {
    use crate::check::model::DefKind;
    let kind_index = |k: DefKind| -> u32 {
        match k {
            DefKind::Result | DefKind::Webhook => 0,
            DefKind::Step | DefKind::Flow => 1,
            DefKind::Connector | DefKind::Channel => 2,
            DefKind::Trigger => 3,
        }
    };
    let model = &doc.analysis.model;
    let mut tokens: Vec<(crate::span::Span, u32, u32)> = Vec::new();
    tokens.extend(model.definitions.iter().map(|d| (d.span, kind_index(d.kind), 1)));
    tokens.extend(model.uses.iter().map(|u| {
        let span = if matches!(u.kind, DefKind::Result | DefKind::Webhook) { u.whole } else { u.span };
        (span, kind_index(u.kind), 0)
    }));
    tokens.extend(crate::syntax::comments_in(&doc.text, &doc.analysis.file).into_iter().map(|c| (c, 4, 0)));
    tokens.sort_by_key(|(s, ..)| (s.start, s.end));
    tokens.dedup_by_key(|(s, ..)| s.start);
    let mut data = Vec::with_capacity(tokens.len());
    let (mut line, mut col) = (0u32, 0u32);
    for (span, ty, modifiers) in tokens {
        let start = doc.position(span.start);
        let end = doc.position(span.end);
        // Tokens do not cross lines (a reference or comment never does).
        if end.line != start.line || end.character <= start.character {
            continue;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(lsp::SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: ty,
            token_modifiers_bitset: modifiers,
        });
        (line, col) = (start.line, start.character);
    }
    lsp::SemanticTokens { result_id: None, data }
}
