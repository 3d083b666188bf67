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
        for change in changes {
            match change.range {
                Some(range) => {
                    let (start, end) = (self.offset(range.start), self.offset(range.end));
                    self.text.replace_range(start..end.max(start), &change.text);
                }
                None => self.text.clone_from(&change.text),
            }
            self.lines = LineIndex::new(&self.text);
        }
        self.version = version;
        self.analysis = crate::analyze(&self.text);
    }

    /// The byte offset of an LSP position (clamped to the text).
    pub fn offset(&self, p: lsp::Position) -> usize {
        if p.line as usize >= self.lines.line_count() {
            return self.text.len();
        }
        self.lines.offset_utf16(&self.text, p.line as usize, p.character as usize)
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
