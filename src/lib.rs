//! flowc: a compiler, checker and interpreter for the flow language, the textual way to write SMS,
//! chat and call-centre automations that call webhooks.
//!
//! The stages, each a module of its own:
//!
//! ```text
//! source ──syntax──▶ ast::SourceFile ──check──▶ diagnostics
//!                          │
//!                          └──compile──▶ program::Program (flat instructions, slots, templates)
//! ```
//!
//! ```
//! let src = r#"
//! flow hello {
//!   wait name timeout 1h
//!   send "Hello @flow.name!"
//! }
//! "#;
//! let (program, warnings) = flowc::compile_source(src).expect("the flow is valid");
//! assert!(warnings.is_empty());
//! assert_eq!(program.flows[0].slots, ["name"]);
//! ```
#![warn(missing_docs, unreachable_pub)]

/// `eprintln!` that never panics: with standard error closed (`flowc ... 2>&1 | head -1`) the line is
/// lost and the command goes on, as it does when standard output is closed. Defined before the
/// modules, so that it is the `eprintln!` they all use.
macro_rules! eprintln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod ast;
pub mod check;
pub mod cli;
pub mod compile;
pub(crate) mod control;
pub mod dates;
pub mod diagnostic;
pub mod flowtest;
pub mod fmt;
pub mod function;
pub mod graph;
pub mod http;
pub mod interp;
pub mod lsp;
pub mod net;
pub mod outgoing;
mod parallel;
pub mod program;
pub mod project;
pub mod rapidpro;
pub mod report;
pub mod serve;
pub mod span;
pub mod split_test;
pub mod syntax;
pub mod time;
pub mod types;
pub mod webhook_log;

use diagnostic::Diagnostic;

/// Parses and checks a source file: the syntax tree and every diagnostic, sorted by position.
pub fn check_source(src: &str) -> (ast::SourceFile, Vec<Diagnostic>) {
    let (file, mut diags) = syntax::parse(src);
    diags.extend(check::check(src, &file));
    diagnostic::sort(&mut diags);
    (file, diags)
}

/// Everything the front end learns about a file: the tree (with error nodes where it did not parse),
/// every diagnostic, and the model of definitions, uses and types that editors query.
pub struct Analysis {
    /// The syntax tree.
    pub file: ast::SourceFile,
    /// Syntax and check diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// Definitions, uses and types.
    pub model: check::model::Model,
}

/// Parses and checks a source file, keeping what the checker learned ([`Analysis`]).
pub fn analyze(src: &str) -> Analysis {
    let (file, mut diagnostics) = syntax::parse(src);
    let (more, model) = check::check_with_model(src, &file);
    diagnostics.extend(more);
    diagnostic::sort(&mut diagnostics);
    Analysis { file, diagnostics, model }
}

/// The spans of secrets written literally into connectors. Anything that shows source text (rendered
/// diagnostics) masks them with [`diagnostic::mask`].
pub fn secret_spans(file: &ast::SourceFile) -> Vec<span::Span> {
    use ast::{ConnectorAuth, ExprKind};
    let mut spans = Vec::new();
    for c in &file.connectors {
        let secrets = match &c.auth {
            ConnectorAuth::Basic { password, .. } => vec![password],
            ConnectorAuth::Bearer { token } => vec![token],
            ConnectorAuth::ApiKey { value, .. } => vec![value],
        };
        for e in secrets {
            if !matches!(e.kind, ExprKind::Env(_)) {
                spans.push(e.span);
            }
        }
    }
    spans
}

/// Parses, checks and compiles a source file. Returns the program and the warnings, or every
/// diagnostic when there is an error.
pub fn compile_source(src: &str) -> Result<(program::Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (file, diags) = check_source(src);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok((compile::compile(&file), diags))
}
