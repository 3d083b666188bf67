//! The keywords of the language, in one place: the grammar's `kw_*` rules spell them for pest (a test
//! below holds the two together), and the builder, the error messages, the chunker and the formatter
//! read them from here.

/// Words that begin a top-level item (a chunk starts at a line that begins with one).
pub(crate) const ITEMS: &[&str] = &["flow", "connector", "trigger", "channel"];

/// Words that begin a statement.
pub(crate) const STATEMENTS: &[&str] = &[
    "send", "wait", "webhook", "split", "set", "step", "goto", "email", "respond", "stop", "enter", "numbers", "dates",
];

/// Statements that define the name written right after them (`set NAME = ...`).
pub(crate) const DEFINING: &[&str] = &["set", "wait", "webhook", "step", "split"];

/// Words that begin a clause or a trigger line.
pub(crate) const CLAUSES: &[&str] = &["case", "other", "on", "start", "expect"];

/// The clauses of a `split`.
pub(crate) const SPLIT_CLAUSES: &[&str] = &["case", "other"];

/// The clause of a `wait` block (`on timeout`) and of an `enter` block (`on expired`).
pub(crate) const WAIT_CLAUSES: &[&str] = &["on"];

/// The lines of a trigger's block.
pub(crate) const TRIGGER_LINES: &[&str] = &["expect", "start"];

/// The options of a webhook statement's block.
pub(crate) const WEBHOOK_OPTIONS: &[&str] =
    &["header", "query", "auth", "body", "timeout", "retries", "backoff", "expect", "on"];

/// The options of a `respond` block.
pub(crate) const RESPOND_OPTIONS: &[&str] = &["header", "body"];

/// Other words that cannot be names: values, and the words kept for later (docs/language.md §2.4).
pub(crate) const OTHER_RESERVED: &[&str] = &["env", "signature", "true", "false", "null"];

/// Whether `word` cannot be a name (docs/language.md §2). Option words (`status`, `body`, `timeout`, `as`,
/// ...) only follow a keyword or a value, so they stay free for names.
pub(crate) fn is_reserved(word: &str) -> bool {
    [ITEMS, STATEMENTS, CLAUSES, OTHER_RESERVED].iter().any(|list| list.contains(&word))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword listed here has its atomic rule in the grammar, spelled the same.
    #[test]
    fn the_grammar_spells_every_keyword() {
        let grammar = include_str!("../../grammar/flow.pest");
        let future: [&str; 0] = [];
        for word in [ITEMS, STATEMENTS, CLAUSES, OTHER_RESERVED].concat() {
            if future.contains(&word) {
                continue;
            }
            let rule = format!("kw_{word}");
            let line = grammar.lines().find(|l| l.split_whitespace().next() == Some(rule.as_str()));
            let line = line.unwrap_or_else(|| panic!("the grammar has no rule {rule}"));
            assert!(line.contains(&format!("\"{word}\" ~ !ident_char")), "{rule}: {line}");
        }
        assert!(DEFINING.iter().all(|w| STATEMENTS.contains(w)));
    }
}
