//! A byte-level bracket-and-string scanner over one item.
//!
//! It runs before pest on every item to bound nesting: every recursive rule of the grammar passes
//! through `(`, `[`, `{` or `@(`, so an item with at most [`MAX_DEPTH`] open brackets cannot recurse
//! deeper than that in pest (whose own stack probe stays on as published: this bound is what keeps
//! deep input an error instead of a crash on every platform). When pest then fails, the same findings explain the failure better than
//! pest's furthest position: an unterminated string is reported where it starts, and a missing `}` at
//! the block that lost it.

use super::MAX_DEPTH;

/// What the scanner found, each the first of its kind.
#[derive(Default)]
pub(super) struct Findings {
    /// A string opened at this byte has no closing quote on its line.
    pub(super) unterminated_string: Option<usize>,
    /// Nesting passes the limit at this byte.
    pub(super) too_deep: Option<usize>,
    /// The `{` at this byte is probably the one that is never closed.
    pub(super) unclosed: Option<usize>,
    /// Where the unclosed block's `}` was probably meant to go: before the less indented `}` that
    /// revealed it.
    pub(super) close_before: Option<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    /// Code; the byte of the opening bracket and the indentation of its line.
    Bracket(u8, usize, usize),
    /// `@(` inside a string: code until its `)`.
    Interp,
    /// A string opened at this byte.
    Str(usize),
}

/// Scans `src`. Plain strings (regexes, labels) are scanned like templates, so a literal `@(` in one
/// counts as nesting: the count can only be too high, never too low.
pub(super) fn scan(src: &str) -> Findings {
    let b = src.as_bytes();
    let mut found = Findings::default();
    let mut stack: Vec<Ctx> = Vec::new();
    let mut depth = 0usize;
    // Start and indentation of the current line, kept up to date so that no position is looked up
    // twice (the scan stays linear however long a line is).
    let (mut line_start, mut indent, mut in_indent) = (0usize, 0usize, true);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            (line_start, indent, in_indent) = (i + 1, 0, true);
        } else if in_indent && (c == b' ' || c == b'\t') {
            indent += 1;
        } else {
            in_indent = false;
        }
        if let Some(&Ctx::Str(start)) = stack.last() {
            match c {
                b'"' => {
                    stack.pop();
                }
                b'\\' if i + 1 < b.len() && b[i + 1] != b'\n' => i += 1,
                b'\n' | b'\r' => {
                    // The string ends here for the scanner; carry on in code to keep counting depth.
                    found.unterminated_string.get_or_insert(start);
                    stack.pop();
                }
                b'@' if b.get(i + 1) == Some(&b'@') => i += 1,
                b'@' if b.get(i + 1) == Some(&b'(') => {
                    depth += 1;
                    if depth > MAX_DEPTH && found.too_deep.is_none() {
                        found.too_deep = Some(i);
                    }
                    stack.push(Ctx::Interp);
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => stack.push(Ctx::Str(i)),
            b'/' if b.get(i + 1) == Some(&b'/') => {
                // Up to the line break, which the loop then handles.
                while i + 1 < b.len() && b[i + 1] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH && found.too_deep.is_none() {
                    found.too_deep = Some(i);
                }
                stack.push(Ctx::Bracket(c, i, indent));
            }
            b')' | b']' | b'}' => {
                if c == b'}' {
                    // A `}` at a lower indentation than the block on top of the stack suggests that block
                    // lost its own `}`.
                    if let Some(&Ctx::Bracket(b'{', open, open_indent)) = stack.last() {
                        let only_ws = i - line_start == indent;
                        if only_ws && indent < open_indent && found.unclosed.is_none() {
                            found.unclosed = Some(open);
                            found.close_before = Some(i);
                        }
                    }
                }
                if matches!(stack.last(), Some(Ctx::Bracket(..)) | Some(Ctx::Interp)) {
                    stack.pop();
                    depth = depth.saturating_sub(1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(Ctx::Str(start)) = stack.last() {
        found.unterminated_string.get_or_insert(*start);
    }
    if found.unclosed.is_none() {
        // The innermost `{` still open at the end is the likeliest culprit.
        found.unclosed = stack.iter().rev().find_map(|c| match c {
            Ctx::Bracket(b'{', open, _) => Some(*open),
            _ => None,
        });
    } else if !stack.iter().any(|c| matches!(c, Ctx::Bracket(b'{', ..))) {
        // Every `{` was closed after all: the indentation was only unusual.
        found.unclosed = None;
        found.close_before = None;
    }
    found
}

/// The `//` comments of a file that stand in code, in order, each without the spaces after it.
/// `strings` are the spans of the file's string literals as the parser read them (sorted); a string
/// the parser did not reach (in an item that failed to parse) is skipped by its quotes.
pub(crate) fn comments(src: &str, strings: &[crate::span::Span]) -> Vec<crate::span::Span> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut next_string = 0;
    let mut i = 0;
    while i < b.len() {
        while next_string < strings.len() && strings[next_string].end <= i {
            next_string += 1;
        }
        if let Some(s) = strings.get(next_string).filter(|s| s.start <= i) {
            i = s.end;
            continue;
        }
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
                let text_end = i + src[i..end].trim_end().len();
                out.push(crate::span::Span::new(i, text_end));
                i = end;
                continue;
            }
            // A string outside what parsed: to its closing quote or the end of its line.
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}
