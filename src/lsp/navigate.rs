//! Hover, go to definition, find references and rename: queries on the document's model.

use std::collections::HashMap;

use lsp_types::{self as lsp, Uri};

use super::Document;
use crate::check::model::{DefKind, Definition, Model, Use};
use crate::span::Span;

/// What stands at a position: a use of a name, or a definition's name.
enum Target<'m> {
    Use(&'m Use),
    Def(&'m Definition),
}

fn target_at(model: &Model, pos: usize) -> Option<Target<'_>> {
    let inside = |s: Span| s.start <= pos && pos <= s.end;
    if let Some(u) = model.uses.iter().filter(|u| inside(u.span)).min_by_key(|u| u.span.len()) {
        return Some(Target::Use(u));
    }
    model.definitions.iter().find(|d| inside(d.span)).map(Target::Def)
}

/// Kinds that are one name: a webhook's name is both its result `@flow.NAME` and `@webhook.NAME`.
fn same_name(a: DefKind, b: DefKind) -> bool {
    a == b || matches!((a, b), (DefKind::Result, DefKind::Webhook) | (DefKind::Webhook, DefKind::Result))
}

/// The definitions a target stands for: every definition of its name (a result defined in several
/// places is one name; a webhook's result and call are one name).
fn definitions_of(model: &Model, target: &Target<'_>) -> Vec<usize> {
    let (kind, name, flow) = match target {
        Target::Use(u) => match u.targets.first() {
            Some(&i) => (u.kind, u.name.as_str(), model.definitions[i].flow.as_deref()),
            None => return Vec::new(),
        },
        Target::Def(d) => (d.kind, d.name.as_str(), d.flow.as_deref()),
    };
    model
        .definitions
        .iter()
        .enumerate()
        .filter(|(_, o)| o.name == name && o.flow.as_deref() == flow && same_name(o.kind, kind))
        .map(|(j, _)| j)
        .collect()
}

/// [`definitions_of`], one for each place: a webhook defines its result and its call at one name,
/// which is one place to go to and one line to show.
fn places_of(model: &Model, target: &Target<'_>) -> Vec<usize> {
    let mut defs = definitions_of(model, target);
    let mut seen: Vec<Span> = Vec::new();
    defs.retain(|&i| {
        let span = model.definitions[i].span;
        let new = !seen.contains(&span);
        seen.push(span);
        new
    });
    defs
}

fn kind_word(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Flow => "flow",
        DefKind::Connector => "connector",
        DefKind::Trigger => "trigger",
        DefKind::Step => "step",
        DefKind::Result => "result",
        DefKind::Webhook => "webhook",
        DefKind::Channel => "channel",
    }
}

/// Hover: what a name is, where it is defined, its type; a function's or split test's documentation;
/// a diagnostic code's page.
pub(super) fn hover(doc: &Document, position: lsp::Position) -> Option<lsp::Hover> {
    let pos = doc.offset(position);
    let model = &doc.analysis.model;
    let mut text = String::new();
    if let Some(target) = target_at(model, pos) {
        let (kind, name) = match &target {
            Target::Use(u) => (u.kind, u.name.as_str()),
            Target::Def(d) => (d.kind, d.name.as_str()),
        };
        // `@child.NAME` and `@parent.NAME` are results of another flow.
        let root = match &target {
            Target::Use(u) if kind == DefKind::Result => {
                let written = doc.text.get(u.whole.start..u.whole.end).unwrap_or_default();
                ["@child.", "@parent."].into_iter().find(|r| written.starts_with(r)).unwrap_or("@flow.")
            }
            _ => "@flow.",
        };
        let shown = match kind {
            DefKind::Result => format!("{root}{name}"),
            DefKind::Webhook => format!("@webhook.{name}"),
            _ => name.to_string(),
        };
        text.push_str(&format!("**{}** `{shown}`", kind_word(kind)));
        let defs = places_of(model, &target);
        if defs.is_empty() {
            text.push_str("\n\nnot defined in this file");
        } else if let Target::Use(u) = &target
            && u.kind == DefKind::Result
            && root == "@flow."
            && model.definite_at(pos).is_some_and(|names| !names.iter().any(|n| n == name))
        {
            text.push_str("\n\n**may be missing here**: some path to this point does not define it");
        }
        for i in defs {
            let d = &model.definitions[i];
            let line = doc.position(d.site.start).line + 1;
            let in_flow = match (&d.flow, root) {
                (Some(f), "@child." | "@parent.") => format!(" of flow `{f}`"),
                _ => String::new(),
            };
            text.push_str(&format!("\n\ndefined by `{}` on line {line}{in_flow}", d.by));
        }
    }
    if text.is_empty()
        && let Some(root) = reference_root(doc, pos)
    {
        // `@flow.` and `@webhook.` name definitions, which say what they are above.
        use crate::ast::Root;
        if let Some(r) = Root::parse(root).filter(|r| !matches!(r, Root::Flow | Root::Webhook)) {
            text.push_str(&r.doc());
        }
    }
    // A function or a test: what it does, then the type of the call.
    if text.is_empty()
        && let Some(word) = word_doc(doc, pos)
    {
        text = word;
    }
    let ty = model.type_at(pos);
    if let Some(ty) = ty {
        text.push_str(&format!("{}type: `{}`", if text.is_empty() { "" } else { "\n\n" }, ty));
    }
    // A diagnostic here: its code's page, as `flowc explain` prints it.
    for d in doc.analysis.diagnostics.iter().filter(|d| d.span().start <= pos && pos <= d.span().end) {
        text.push_str(&format!("{}---\n\n{}", if text.is_empty() { "" } else { "\n\n" }, d.code.page()));
    }
    if text.is_empty() {
        return None;
    }
    Some(lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: text }),
        range: None,
    })
}

/// The root of the `@root.path` reference around `pos`, if there is one.
fn reference_root(doc: &Document, pos: usize) -> Option<&str> {
    let is_ref = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let start = doc.text[..pos].rfind(|c: char| !is_ref(c))?;
    if doc.text.as_bytes()[start] != b'@' {
        return None;
    }
    let rest = &doc.text[start + 1..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Documentation of the word at `pos`: a function, a split test, or a diagnostic code.
fn word_doc(doc: &Document, pos: usize) -> Option<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let start = doc.text[..pos].char_indices().rev().find(|&(_, c)| !is_word(c)).map_or(0, |(i, c)| i + c.len_utf8());
    let end = doc.text[pos..].find(|c: char| !is_word(c)).map_or(doc.text.len(), |i| pos + i);
    let word = doc.text.get(start..end)?.trim_matches(':');
    if let Some(f) = crate::function::Function::parse(word) {
        return Some(f.doc().to_string());
    }
    if let Some(t) = crate::split_test::SplitTest::parse(word) {
        return Some(t.doc().to_string());
    }
    crate::diagnostic::Code::lookup(word).filter(|_| word.contains("::")).map(|c| c.page().to_string())
}

/// Go to definition.
pub(super) fn definition(doc: &Document, uri: &Uri, position: lsp::Position) -> Vec<lsp::Location> {
    let model = &doc.analysis.model;
    let Some(target) = target_at(model, doc.offset(position)) else { return Vec::new() };
    places_of(model, &target)
        .into_iter()
        .map(|i| lsp::Location::new(uri.clone(), doc.range(model.definitions[i].span)))
        .collect()
}

/// Every use of the name at the position (and its definitions, when asked).
pub(super) fn references(doc: &Document, uri: &Uri, position: lsp::Position, declarations: bool) -> Vec<lsp::Location> {
    spans_of(doc, doc.offset(position), declarations)
        .into_iter()
        .map(|s| lsp::Location::new(uri.clone(), doc.range(s)))
        .collect()
}

fn spans_of(doc: &Document, pos: usize, declarations: bool) -> Vec<Span> {
    let model = &doc.analysis.model;
    let Some(target) = target_at(model, pos) else { return Vec::new() };
    let defs = definitions_of(model, &target);
    let mut spans: Vec<Span> = Vec::new();
    if declarations {
        spans.extend(defs.iter().map(|&i| model.definitions[i].span));
    }
    for &i in &defs {
        spans.extend(model.uses_of(i).map(|u| u.span));
    }
    if defs.is_empty()
        && let Target::Use(u) = target
    {
        spans.push(u.span);
    }
    spans.sort_by_key(|s| s.start);
    spans.dedup();
    spans
}

/// The range of the name a rename would change, or `None` where nothing can be renamed.
pub(super) fn prepare_rename(doc: &Document, position: lsp::Position) -> Option<lsp::PrepareRenameResponse> {
    let model = &doc.analysis.model;
    let target = target_at(model, doc.offset(position))?;
    let span = match &target {
        Target::Use(u) if !u.targets.is_empty() => u.span,
        Target::Def(d) if d.kind != DefKind::Trigger => d.span,
        _ => return None,
    };
    Some(lsp::PrepareRenameResponse::Range(doc.range(span)))
}

/// Renames a result, step, webhook, connector or flow and every use of it in the file.
pub(super) fn rename(
    doc: &Document,
    uri: &Uri,
    position: lsp::Position,
    new_name: &str,
) -> Result<lsp::WorkspaceEdit, String> {
    let valid = new_name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !crate::syntax::is_reserved(new_name);
    if !valid {
        return Err(format!("`{new_name}` is not a name (letters, digits and `_`, not a keyword)"));
    }
    let pos = doc.offset(position);
    if prepare_rename(doc, position).is_none() {
        return Err("there is nothing to rename here".into());
    }
    // Renaming onto a name already taken would merge two things silently.
    let model = &doc.analysis.model;
    if let Some(target) = target_at(model, pos)
        && let Some(&first) = definitions_of(model, &target).first()
    {
        let d = &model.definitions[first];
        if model.definitions.iter().any(|o| same_name(o.kind, d.kind) && o.name == new_name && o.flow == d.flow) {
            return Err(format!("`{new_name}` is already defined here"));
        }
    }
    let edits: Vec<lsp::TextEdit> = spans_of(doc, pos, true)
        .into_iter()
        .map(|s| lsp::TextEdit { range: doc.range(s), new_text: new_name.to_string() })
        .collect();
    Ok(lsp::WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..Default::default() })
}
