//! A small bracket-and-string scanner, run only on a chunk that failed to parse, to explain the failure
//! better than the parser's furthest position can: an unterminated string is reported where it starts,
//! nesting past the limit where it passes it, and a missing `}` at the block that was never closed.

use super::MAX_DEPTH;

/// What the scanner found.
pub(super) enum Finding {
    /// A string opened at this byte has no closing quote on its line.
    UnterminatedString(usize),
    /// Nesting passes the limit at this byte.
    TooDeep(usize),
    /// The `{` at this byte is probably the one that is never closed.
    Unclosed(usize),
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

fn indent_at(src: &[u8], pos: usize) -> usize {
    let line_start = src[..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    src[line_start..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// Scans `src`. Plain strings (regexes, labels) are scanned like templates, so a literal `@(` inside one
/// can mislead it: that is why this runs only to explain a parse error, never to decide validity.
pub(super) fn scan(src: &str) -> Option<Finding> {
    let b = src.as_bytes();
    let mut stack: Vec<Ctx> = Vec::new();
    let mut depth = 0usize;
    let mut suspect_unclosed: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(&Ctx::Str(start)) = stack.last() {
            match c {
                b'"' => {
                    stack.pop();
                }
                b'\\' if i + 1 < b.len() && b[i + 1] != b'\n' => i += 1,
                b'\n' | b'\r' => return Some(Finding::UnterminatedString(start)),
                b'@' if b.get(i + 1) == Some(&b'@') => i += 1,
                b'@' if b.get(i + 1) == Some(&b'(')
                    && !(i > 0 && b[i - 1].is_ascii_alphanumeric()) =>
                {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(Finding::TooDeep(i));
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
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(Finding::TooDeep(i));
                }
                stack.push(Ctx::Bracket(c, i, indent_at(b, i)));
            }
            b')' | b']' | b'}' => {
                if c == b'}' {
                    // A `}` at a lower indentation than the block on top of the stack suggests that block
                    // lost its own `}`.
                    if let Some(&Ctx::Bracket(b'{', open, indent)) = stack.last() {
                        let line_start = b[..i]
                            .iter()
                            .rposition(|&x| x == b'\n')
                            .map_or(0, |p| p + 1);
                        let only_ws = b[line_start..i].iter().all(|&x| x == b' ' || x == b'\t');
                        if only_ws && i - line_start < indent && suspect_unclosed.is_none() {
                            suspect_unclosed = Some(open);
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
        return Some(Finding::UnterminatedString(*start));
    }
    let unclosed = stack.iter().find_map(|c| match c {
        Ctx::Bracket(b'{', open, _) => Some(*open),
        _ => None,
    });
    match (suspect_unclosed, unclosed) {
        (Some(s), Some(_)) => Some(Finding::Unclosed(s)),
        (None, Some(u)) => {
            // The innermost unclosed `{` is the likeliest culprit.
            let inner = stack.iter().rev().find_map(|c| match c {
                Ctx::Bracket(b'{', open, _) => Some(*open),
                _ => None,
            });
            Some(Finding::Unclosed(inner.unwrap_or(u)))
        }
        _ => None,
    }
}
