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

/// Whether `word` is a keyword that cannot be a name (docs/language.md §2).
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
    if let Some(at) = lone_cr(src) {
        diags.push(error::lone_cr(at));
    }
    for (part, mut part_diags) in parts {
        file.append(part);
        diags.append(&mut part_diags);
    }
    (file, diags)
}

/// The first carriage return that is not followed by a line feed: classic Mac OS line breaks, which
/// flowc does not read as line breaks (the file would be one long line).
fn lone_cr(src: &str) -> Option<usize> {
    let b = src.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n'))
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
        call_limit::cover(text.len());
        match FlowParser::parse(Rule::chunk, text) {
            Err(err) if call_limit::reached(&err) => {
                diags.push(error::too_complex(chunk_start, text));
                if let Some(item) = broken_item(text) {
                    file.broken.push(item);
                }
            }
            Ok(mut pairs) => {
                let mut builder = build::Builder::new(chunk_start);
                let mut items = SourceFile::default();
                builder.chunk(pairs.next().expect("pest returns the chunk pair"), &mut items);
                if let Some((open, end)) = builder.unclosed {
                    // What comes after the place the `}` was meant for is read inside the wrong block:
                    // errors there are echoes of the missing `}`.
                    if let Some(cut) = findings.close_before {
                        builder.diags.retain(|d| d.span().start < chunk_start + cut);
                    }
                    diags.append(&mut builder.diags);
                    // A block left open ran to the end of the item: what it holds is not what the
                    // writer meant, so the item counts as broken (its name is still known).
                    diags.push(error::unclosed(&findings, chunk_start, open, end));
                    if let Some(item) = broken_item(text) {
                        file.broken.push(item);
                    }
                    continue;
                }
                diags.append(&mut builder.diags);
                builder.strings.sort_by_key(|s| s.start);
                items.strings = builder.strings;
                file.append(items);
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

/// pest's call limit, the safety net under the grammar's linear time: the grammar is written so that no
/// input makes pest try a rule twice at one place more than a few times (a block never fails once its
/// `{` is read, recovery groups never fail, a statement is not parsed again for what follows it), so a
/// clean item takes under 15 calls a byte and the worst fixture 50. Should a shape still escape that,
/// the parse stops at [`CALLS_PER_BYTE`] times the item's size with a diagnostic instead of running on.
mod call_limit {
    use std::num::NonZeroUsize;
    use std::sync::Mutex;

    /// Calls allowed per byte of the largest item parsed so far (a small item gets as many as 5,000
    /// bytes would). `FLOWC_PARSER_CALLS_PER_BYTE` sets another figure (for tests of the limit).
    pub(super) const CALLS_PER_BYTE: usize = 200;

    fn per_byte() -> usize {
        static PER_BYTE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *PER_BYTE.get_or_init(|| {
            std::env::var("FLOWC_PARSER_CALLS_PER_BYTE").ok().and_then(|v| v.parse().ok()).unwrap_or(CALLS_PER_BYTE)
        })
    }

    /// The limit now set. pest's limit is one process-wide number read when a parse starts, and parses
    /// run on several threads: it only ever grows, so that a parse never sees a limit below its own.
    static SET: Mutex<usize> = Mutex::new(0);

    /// Makes the limit cover an item of `len` bytes.
    pub(super) fn cover(len: usize) {
        let want = len.max(5000).saturating_mul(per_byte()).max(1);
        let mut set = SET.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if want > *set {
            *set = want;
            pest::set_call_limit(NonZeroUsize::new(want));
        }
    }

    /// Whether a parse stopped at the limit.
    pub(super) fn reached<R: pest::RuleType>(err: &pest::error::Error<R>) -> bool {
        matches!(&err.variant, pest::error::ErrorVariant::CustomError { message } if message.contains("call limit"))
    }
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
