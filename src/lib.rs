//! flowc: a compiler, checker and interpreter for the flow language.
#![warn(missing_docs, unreachable_pub)]

pub mod ast;
pub mod diagnostic;
pub mod span;
pub mod syntax;
pub mod check;
pub mod function;
pub mod split_test;
pub mod types;
