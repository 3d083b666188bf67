//! What defines a name in a flow, in one walk that the checker and the editor model both take: `wait`,
//! `set`, `webhook` and `split` define results (`@flow.NAME`; a webhook also `@webhook.NAME`), `step`
//! defines a step. A statement that did not parse still defines the name written after its keyword,
//! so that a half-typed line does not turn every use of its name into an error.

use crate::ast::{Block, Name, Stmt, StmtKind, Webhook};

/// The statement that defines a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefinedBy {
    Wait,
    Set,
    Webhook,
    Split,
    Step,
}

impl DefinedBy {
    /// The keyword of the statement.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            DefinedBy::Wait => "wait",
            DefinedBy::Set => "set",
            DefinedBy::Webhook => "webhook",
            DefinedBy::Split => "split",
            DefinedBy::Step => "step",
        }
    }

    /// The statement a keyword begins, when it defines a name.
    fn of_keyword(word: &str) -> Option<DefinedBy> {
        [DefinedBy::Wait, DefinedBy::Set, DefinedBy::Webhook, DefinedBy::Split, DefinedBy::Step]
            .into_iter()
            .find(|d| d.keyword() == word)
    }
}

/// A name a statement defines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defined<'a> {
    /// Which statement.
    pub(crate) by: DefinedBy,
    /// The name as written.
    pub(crate) name: &'a Name,
    /// The statement.
    pub(crate) stmt: &'a Stmt,
    /// The call, for a webhook that parsed.
    pub(crate) webhook: Option<&'a Webhook>,
    /// Whether the statement did not parse.
    pub(crate) broken: bool,
}

/// Calls `f` with every name `block` and the blocks inside it define, in source order (a statement's
/// name before the names of the blocks it holds).
pub(crate) fn each_definition<'a>(block: &'a Block, f: &mut dyn FnMut(Defined<'a>)) {
    for stmt in &block.stmts {
        let def = |by, name, webhook, broken| Defined { by, name, stmt, webhook, broken };
        match &stmt.kind {
            StmtKind::Wait { name, on_timeout, .. } => {
                f(def(DefinedBy::Wait, name, None, false));
                on_timeout.iter().for_each(|b| each_definition(b, f));
            }
            StmtKind::Set { name, .. } => f(def(DefinedBy::Set, name, None, false)),
            StmtKind::Webhook(w) => {
                f(def(DefinedBy::Webhook, &w.name, Some(w), false));
                if let Some(b) = &w.on_failure {
                    each_definition(b, f);
                }
            }
            StmtKind::Split(s) => {
                if let Some(r) = &s.result {
                    f(def(DefinedBy::Split, r, None, false));
                }
                s.cases.iter().for_each(|c| each_definition(&c.body, f));
                if let Some(o) = &s.other {
                    each_definition(o, f);
                }
            }
            StmtKind::Step { name, body } => {
                f(def(DefinedBy::Step, name, None, false));
                each_definition(body, f);
            }
            StmtKind::Error { keyword: Some(keyword), name: Some(name), .. } => {
                if let Some(by) = DefinedBy::of_keyword(keyword) {
                    f(def(by, name, None, true));
                }
            }
            _ => {}
        }
    }
}
