//! Source text → [`SourceFile`]. The only module that knows pest: the grammar lives in
//! `grammar/flow.pest`, pairs are turned into the owned AST at once (`build.rs`), and pest errors are
//! rewritten into diagnostics a user understands (`error.rs`).
//!
//! A file is split into chunks, one per top-level item (a line that starts with `flow`, `connector` or
//! `trigger`), and each chunk is parsed on its own, so a syntax error in one item is reported and the
//! checker still sees every other item.

mod build;
mod error;
pub(crate) mod keywords;
mod scan;

use pest::Parser;

use crate::ast::SourceFile;
use crate::diagnostic::Diagnostic;

pub(crate) use build::MAX_DEPTH;

mod grammar {
    #![allow(missing_docs, unreachable_pub)]
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/flow.pest"]
    pub(super) struct FlowParser;
}

use grammar::{FlowParser, Rule};

/// The `//` comments of `src` that stand in code, in order: the grammar skips comments, so the
/// formatter takes them from here. Strings are told apart by the parser (a literal `@(` without its
/// `)` is text), so this parses the file.
pub fn comments(src: &str) -> Vec<crate::span::Span> {
    comments_in(src, &parse(src).0)
}

/// [`comments`] for a file already parsed into `file`.
pub fn comments_in(src: &str, file: &SourceFile) -> Vec<crate::span::Span> {
    scan::comments(src, &file.strings)
}

/// Whether `word` is a keyword that cannot be a name (LANGUAGE.md §2).
pub fn is_reserved(word: &str) -> bool {
    keywords::is_reserved(word)
}

/// Source bytes → text. Bytes that are not UTF-8 are a problem in the file, not an I/O error: the
/// error holds the text with them replaced by U+FFFD (for rendering; every offset up to the first bad
/// byte is unchanged) and a diagnostic at the first bad byte.
pub fn decode(bytes: Vec<u8>) -> Result<String, Box<(String, Diagnostic)>> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bad = e.utf8_error().error_len().unwrap_or(e.as_bytes().len() - at);
            let shown = e.as_bytes()[at..at + bad].iter().map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(" ");
            let what = if bad == 1 { "byte" } else { "bytes" };
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The span is the bad bytes of the file; bytes before them are the same in `text`.
            let diag = Diagnostic::new(
                crate::diagnostic::Code::InvalidUtf8,
                crate::span::Span::new(at, at + bad),
                format!(
                    "this file is not UTF-8 text: the {what} {shown} here {} not a UTF-8 character",
                    if bad == 1 { "is" } else { "are" }
                ),
                "not UTF-8",
            )
            .with_help(
                "save the file as UTF-8 (editors call it \"UTF-8\" or \"Unicode\"; Latin-1 and Windows-1252 are not)",
            );
            Err(Box::new((text, diag)))
        }
    }
}

/// Parses a whole file. Returns the items that parsed and every diagnostic found on the way.
pub fn parse(src: &str) -> (SourceFile, Vec<Diagnostic>) {
    let start = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let chunks = chunks(src, start);
    let parts = crate::parallel::map_chunked(&chunks, |&(s, e)| e - s, |group| parse_chunks(src, group));
    let mut file = SourceFile::default();
    let mut diags = Vec::new();
    for (part, mut part_diags) in parts {
        file.flows.extend(part.flows);
        file.connectors.extend(part.connectors);
        file.triggers.extend(part.triggers);
        file.message_triggers.extend(part.message_triggers);
        file.channels.extend(part.channels);
        file.broken.extend(part.broken);
        file.strings.extend(part.strings);
        diags.append(&mut part_diags);
    }
    (file, diags)
}

/// Parses consecutive chunks of `src`.
fn parse_chunks(src: &str, chunks: &[(usize, usize)]) -> (SourceFile, Vec<Diagnostic>) {
    let mut file = SourceFile::default();
    let mut diags = Vec::new();
    for &(chunk_start, chunk_end) in chunks {
        let text = &src[chunk_start..chunk_end];
        let findings = scan::scan(text);
        if let Some(at) = findings.too_deep {
            diags.push(error::too_deep(chunk_start + at));
            if let Some(item) = broken_item(text) {
                file.broken.push(item);
            }
            continue;
        }
        match FlowParser::parse(Rule::chunk, text) {
            Ok(mut pairs) => {
                let mut builder = build::Builder::new(chunk_start);
                builder.chunk(pairs.next().expect("pest returns the chunk pair"), &mut file);
                diags.append(&mut builder.diags);
                builder.strings.sort_by_key(|s| s.start);
                file.strings.append(&mut builder.strings);
            }
            Err(err) => {
                diags.push(error::convert(err, text, chunk_start, &findings, Rule::chunk));
                if let Some(item) = broken_item(text) {
                    file.broken.push(item);
                }
            }
        }
    }
    (file, diags)
}

/// Byte ranges of the top-level items: each starts at a line beginning (column 0) with an item keyword.
fn chunks(src: &str, start: usize) -> Vec<(usize, usize)> {
    let mut starts = vec![start];
    let mut pos = start;
    for line in src[start..].split_inclusive('\n') {
        if pos != start && starts_item(line) {
            starts.push(pos);
        }
        pos += line.len();
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(src.len());
        out.push((s, e));
    }
    out
}

/// The keyword and name of the item a chunk holds (`flow order_event {` → `("flow", "order_event")`).
fn broken_item(chunk: &str) -> Option<(String, String)> {
    let line = chunk.lines().find(|l| starts_item(l))?;
    let mut words = line.split_whitespace();
    let kw = words.next()?.to_string();
    let name: String = words.next()?.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some((kw, name))
}

fn starts_item(line: &str) -> bool {
    keywords::ITEMS.iter().any(|kw| line.strip_prefix(kw).is_some_and(|rest| rest.starts_with([' ', '\t'])))
}

/// Runs only the pest parser over every chunk (no AST), returning how many tokens it produced. For the
/// benchmark that separates pest's share of parsing from the AST builder's.
#[doc(hidden)]
pub fn pest_only(src: &str) -> usize {
    let start = if src.starts_with('\u{feff}') { 3 } else { 0 };
    chunks(src, start)
        .into_iter()
        .map(|(s, e)| FlowParser::parse(Rule::chunk, &src[s..e]).map_or(0, |p| p.flatten().count()))
        .sum()
}
