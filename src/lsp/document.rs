//! An open document: its text, version, line index and analysis, kept up to date through full and
//! incremental changes; conversions between LSP positions (UTF-16) and byte offsets.

use lsp_types as lsp;

use crate::span::{LineIndex, Span};

/// An open document and what the front end knows about it.
pub struct Document {
    /// The text.
    pub text: String,
    /// The client's version of it.
    pub version: i32,
    /// Lines of the text.
    pub lines: LineIndex,
    /// Tree, diagnostics and model of the text.
    pub analysis: crate::Analysis,
}

impl Document {
    /// A document with this text, analysed.
    pub fn new(text: String, version: i32) -> Self {
        let lines = LineIndex::new(&text);
        let analysis = crate::analyze(&text);
        Document { text, version, lines, analysis }
    }

    /// Applies the client's changes (whole text or ranges) and analyses the result.
    pub fn apply(&mut self, changes: &[lsp::TextDocumentContentChangeEvent], version: i32) {
        edit(&mut self.text, &mut self.lines, changes);
        self.version = version;
        self.analysis = crate::analyze(&self.text);
    }

    /// The byte offset of an LSP position (clamped to the text).
    pub fn offset(&self, p: lsp::Position) -> usize {
        offset(&self.text, &self.lines, p)
    }

    /// The LSP position of a byte offset.
    pub fn position(&self, offset: usize) -> lsp::Position {
        let p = self.lines.position(&self.text, offset);
        lsp::Position::new(p.line as u32, p.utf16 as u32)
    }

    /// The LSP range of a span.
    pub fn range(&self, span: Span) -> lsp::Range {
        lsp::Range::new(self.position(span.start), self.position(span.end))
    }
}

/// The byte offset of an LSP position in `text` (clamped to it).
pub(super) fn offset(text: &str, lines: &LineIndex, p: lsp::Position) -> usize {
    if p.line as usize >= lines.line_count() {
        return text.len();
    }
    lines.offset_utf16(text, p.line as usize, p.character as usize)
}

/// Applies the client's changes (whole text or ranges) to `text` and its line index.
pub(super) fn edit(text: &mut String, lines: &mut LineIndex, changes: &[lsp::TextDocumentContentChangeEvent]) {
    for change in changes {
        match change.range {
            Some(range) => {
                let (start, end) = (offset(text, lines, range.start), offset(text, lines, range.end));
                text.replace_range(start..end.max(start), &change.text);
            }
            None => text.clone_from(&change.text),
        }
        *lines = LineIndex::new(text);
    }
}
