//! A flow's settings: `numbers decimal` and `dates`, which come first in the flow's body, once each.

use super::FlowChecker;
use crate::ast::*;
use crate::dates::DateOrder;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Spanned;

impl<'a> FlowChecker<'a> {
    /// Reads the settings at the top of `body`: where they end, the date order, settings given twice.
    pub(super) fn settings(&mut self, body: &'a Block) {
        let mut seen: Vec<(&'static str, crate::span::Span)> = Vec::new();
        for stmt in &body.stmts {
            let kind = match &stmt.kind {
                StmtKind::Numbers { .. } => "numbers decimal",
                StmtKind::Dates { order } => {
                    if let Some(o) = DateOrder::parse(&order.node) {
                        self.date_order = o;
                    }
                    "dates"
                }
                _ => {
                    self.settings_end = stmt.span.start;
                    return;
                }
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == kind) {
                self.report(
                    Diagnostic::new(code_of(kind), stmt.span, format!("`{kind}` is set twice"), "second setting")
                        .with_label(*first, "first setting")
                        .with_help("keep one"),
                );
            } else {
                seen.push((kind, stmt.span));
            }
        }
    }

    /// A setting that is not among the first statements of the flow's body.
    pub(super) fn misplaced_setting(&mut self, stmt: &Stmt, kind: &str) {
        if stmt.span.start <= self.settings_end {
            return;
        }
        self.report(
            Diagnostic::new(
                code_of(kind),
                stmt.span,
                format!("`{kind}` must be among the first statements of the flow"),
                "not at the top",
            )
            .with_help("settings apply to the whole flow: move it to the top of the flow's body"),
        );
    }

    /// The word after `dates`.
    pub(super) fn date_order_word(&mut self, order: &Spanned<String>) {
        if DateOrder::parse(&order.node).is_some() {
            return;
        }
        let word = order.node.trim_matches('"').to_ascii_lowercase();
        let close = DateOrder::parse(&word)
            .map(|o| o.name())
            .or_else(|| did_you_mean(&word, DateOrder::ALL.iter().map(|o| o.name())));
        let orders = "`dates day_first` (31.12.2026, the default), `dates month_first` (12/31/2026) or `dates year_first` (2026-12-31)";
        let help = match close {
            Some(c) if order.node.starts_with('"') => format!("write the order without quotes: `dates {c}`"),
            Some(c) => format!("did you mean `{c}`? (orders are {orders})"),
            None => format!("write {orders}"),
        };
        self.report(
            Diagnostic::new(
                Code::DatesOrder,
                order.span,
                format!("`{}` is not a date order", order.node),
                "unknown order",
            )
            .with_help(help)
            .with_fix(order.span, close),
        );
    }
}

/// The code of a setting's diagnostics.
fn code_of(kind: &str) -> Code {
    if kind == "dates" { Code::DatesOrder } else { Code::NumbersDecimal }
}
