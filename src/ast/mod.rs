//! The syntax tree of a `.flow` file, with spans. Built by [`crate::syntax`], read by the checker and
//! the compiler. Every node keeps the span it was written at; spans are left out of equality.

use crate::span::{Span, Spanned};

mod expr;
mod items;
mod stmt;

pub use expr::*;
pub use items::*;
pub use stmt::*;

/// A name as written (`order_status`, `ask`).
pub type Name = Spanned<String>;

/// A whole file: its top-level items in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceFile {
    /// `flow NAME ["Label"] { ... }`
    pub flows: Vec<Flow>,
    /// `connector NAME ...`
    pub connectors: Vec<Connector>,
    /// `trigger webhook "/suffix" ...`
    pub triggers: Vec<Trigger>,
    /// `trigger keyword ...` and `trigger catchall ...`
    pub message_triggers: Vec<MessageTrigger>,
    /// `channel NAME ...`
    pub channels: Vec<Channel>,
    /// Items that failed to parse, as `(keyword, name)` from their first line, so that the checker does
    /// not also call them unknown.
    pub broken: Vec<(String, String)>,
    /// The span of every string literal, in source order: what is inside one is never a comment.
    pub strings: Vec<Span>,
}

impl SourceFile {
    /// Adds what `later` holds, which comes after what this file holds in the source.
    pub fn append(&mut self, mut later: SourceFile) {
        self.flows.append(&mut later.flows);
        self.connectors.append(&mut later.connectors);
        self.triggers.append(&mut later.triggers);
        self.message_triggers.append(&mut later.message_triggers);
        self.channels.append(&mut later.channels);
        self.broken.append(&mut later.broken);
        self.strings.append(&mut later.strings);
    }
}

/// `flow NAME ["Label"] { statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// The flow's name.
    pub name: Name,
    /// The human label, if any.
    pub label: Option<Spanned<String>>,
    /// The flow's statements.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}
