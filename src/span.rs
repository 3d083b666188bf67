//! Byte ranges into a source file.

use std::fmt;

/// A byte range `start..end` in one source file. Spans never take part in equality of AST nodes, so
/// that tests can compare trees without positions.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The empty span at `pos`.
    pub fn at(pos: usize) -> Self {
        Span::new(pos, pos)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.len()).into()
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

/// Where each line of a file starts, computed once, so that a byte offset becomes a line and column in
/// logarithmic time however many positions are asked for (rendering thousands of diagnostics, an
/// editor's every keystroke). A line ends at `\n` (so CRLF is one line break).
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    /// Byte offset of the first byte of each line; the first is 0.
    starts: Vec<usize>,
    /// Whether the whole text is ASCII (then characters, UTF-16 units and bytes are the same columns).
    ascii: bool,
}

/// A position in a file: 0-based line, and the column counted three ways (all 0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The line, from 0.
    pub line: usize,
    /// The column in characters (Unicode scalar values), from 0: what people and `flowc check` count.
    pub column: usize,
    /// The column in UTF-16 code units, from 0: what the Language Server Protocol counts.
    pub utf16: usize,
    /// The column in bytes, from 0.
    pub byte: usize,
}

impl LineIndex {
    /// Indexes `src`.
    pub fn new(src: &str) -> Self {
        let mut starts = Vec::with_capacity(src.len() / 32 + 1);
        starts.push(0);
        starts.extend(src.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts, ascii: src.is_ascii() }
    }

    /// How many lines the text has (a final line without `\n` counts; an empty text has one line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The 0-based line that holds byte `pos` (a position past the end is on the last line).
    pub fn line(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }

    /// The byte offset where 0-based `line` starts (the end of the text past the last line).
    pub fn line_start(&self, line: usize, src: &str) -> usize {
        self.starts.get(line).copied().unwrap_or(src.len())
    }

    /// The position of byte `pos` of `src` (the text this index was made from). A position inside a
    /// character counts as that character's start; a position past the end, as the end.
    pub fn position(&self, src: &str, pos: usize) -> Position {
        let pos = floor_char_boundary(src, pos.min(src.len()));
        let line = self.line(pos);
        let start = self.starts[line].min(pos);
        let text = &src[start..pos];
        let byte = pos - start;
        if self.ascii {
            return Position { line, column: byte, utf16: byte, byte };
        }
        let column = text.chars().count();
        let utf16 = text.chars().map(char::len_utf16).sum();
        Position { line, column, utf16, byte }
    }

    /// Line and column, both 1-based, the column in characters: what diagnostics show.
    pub fn line_col(&self, src: &str, pos: usize) -> (usize, usize) {
        let p = self.position(src, pos);
        (p.line + 1, p.column + 1)
    }

    /// The byte offset of 0-based `line` and UTF-16 `utf16` column (an editor's position), clamped to
    /// the line's end.
    pub fn offset_utf16(&self, src: &str, line: usize, utf16: usize) -> usize {
        let start = self.line_start(line, src);
        let end = self.line_start(line + 1, src);
        let mut units = 0;
        for (i, c) in src[start..end].char_indices() {
            // A position past the line's end is its end, before `\r\n` as before `\n`.
            if units >= utf16 || c == '\n' || (c == '\r' && src[start + i..].starts_with("\r\n")) {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }
}

/// Line and column (both 1-based, column counted in characters) of byte `pos` in `src`. Scans the text:
/// for many positions in one file, make a [`LineIndex`] once.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    LineIndex::new(&src[..floor_char_boundary(src, pos.min(src.len()))]).line_col(src, pos)
}

/// `pos`, moved forward to the next character boundary (an end inside a character ends after it).
pub fn ceil_char_boundary(s: &str, mut pos: usize) -> usize {
    pos = pos.min(s.len());
    while !s.is_char_boundary(pos) {
        pos += 1;
    }
    pos
}

fn floor_char_boundary(s: &str, mut pos: usize) -> usize {
    while pos > 0 && !s.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_utf16_units() {
        let src = "flow f {\r\n  send \"Olá café 🎉 @flow.x\"\n}";
        let index = LineIndex::new(src);
        assert_eq!(index.line_count(), 3);
        let at = src.find("@flow").unwrap();
        let p = index.position(src, at);
        assert_eq!((p.line, p.column, p.utf16, p.byte), (1, 19, 20, 24));
        assert_eq!(index.line_col(src, at), (2, 20));
        assert_eq!(line_col(src, at), (2, 20));
        assert_eq!(index.offset_utf16(src, 1, 20), at);
        assert_eq!(index.offset_utf16(src, 1, 999), src.rfind('\n').unwrap());
        assert_eq!(index.line_col(src, src.len() + 10), (3, 2));
        assert_eq!(index.line_col(src, 0), (1, 1));
        // Inside the emoji: its start.
        let emoji = src.find('🎉').unwrap();
        assert_eq!(index.position(src, emoji + 2).column, index.position(src, emoji).column);
    }
}
