//! Dates, units, formats and zones written literally where the date tests and functions read them.

use super::FlowChecker;
use crate::ast::*;
use crate::dates;
use crate::diagnostic::{Code, Diagnostic};
use crate::function::Function;
use crate::types::Ty;

impl<'a> FlowChecker<'a> {
    /// The date argument of `has_date_lt`/`_eq`/`_gt`.
    pub(super) fn date_arg(&mut self, test: &str, arg: &Expr, ty: &Ty) {
        if matches!(ty, Ty::Number | Ty::Bool | Ty::List(_) | Ty::Object(_)) {
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    arg.span,
                    format!("`{test}` expects a date here, not {ty}"),
                    "not a date",
                )
                .with_help("write a date such as `today()`, `datetime_add(today(), 7, \"D\")` or \"2026-11-23\""),
            );
            return;
        }
        self.literal_date(arg);
    }

    /// The literal arguments of the date functions.
    pub(super) fn date_call(&mut self, f: Function, args: &[Expr]) {
        match f {
            Function::DatetimeAdd | Function::FormatDate | Function::Weekday => {}
            _ => return,
        }
        if let Some(a) = args.first() {
            self.literal_date(a);
        }
        match f {
            Function::DatetimeAdd => {
                if let Some(Expr { kind: ExprKind::Number(n), span }) = args.get(1)
                    && n.fract() != 0.0
                {
                    self.report(
                        Diagnostic::new(
                            Code::DateLiteral,
                            *span,
                            format!("{n} is not a whole number of units"),
                            "not whole",
                        )
                        .with_help("add whole units, or a smaller unit: 90 \"m\" for an hour and a half"),
                    );
                }
                if let Some((unit, span)) = args.get(2).and_then(literal)
                    && !dates::UNITS.contains(&unit.as_str())
                {
                    let upper = unit.to_uppercase();
                    let hint = if dates::UNITS.contains(&upper.as_str()) {
                        format!(" (days, weeks, months and years are capitals: \"{upper}\")")
                    } else {
                        String::new()
                    };
                    self.report(
                        Diagnostic::new(
                            Code::DateLiteral,
                            span,
                            format!("\"{unit}\" is not a unit of `datetime_add`{hint}"),
                            "unknown unit",
                        )
                        .with_help(
                            "units are s (seconds), m (minutes), h (hours), D (days), W (weeks), M (months), Y (years)",
                        ),
                    );
                }
            }
            Function::FormatDate => {
                if let Some((format, span)) = args.get(1).and_then(literal)
                    && let Err(e) = dates::check_format(&format)
                {
                    // The token itself when the literal is written without escapes.
                    let written = self.src.get(span.start + 1..span.end.saturating_sub(1));
                    let span = match written {
                        Some(w) if w == format => {
                            let byte = |c: usize| format.char_indices().nth(c).map_or(format.len(), |(b, _)| b);
                            let start = span.start + 1 + byte(e.at);
                            crate::span::Span::new(start, span.start + 1 + byte(e.at + e.len))
                        }
                        _ => span,
                    };
                    self.report(
                        Diagnostic::new(Code::DateLiteral, span, e.message, "here")
                            .with_help("for example \"DD/MM/YYYY tt:mm\" or \"YYYY-MM-DDTtt:mm:ssZ\""),
                    );
                }
                if let Some(arg) = args.get(2) {
                    // `""` is the contact's zone, as `@contact.timezone` of a contact without one.
                    self.literal_zone(arg, true);
                }
            }
            _ => {}
        }
    }

    /// A time zone written literally; `""` is the server's default where `empty_ok`.
    pub(super) fn literal_zone(&mut self, arg: &Expr, empty_ok: bool) {
        if let ExprKind::Number(n) = &arg.kind {
            self.report(
                Diagnostic::new(Code::DateLiteral, arg.span, format!("{n} is not a time zone"), "a number")
                    .with_help("time zones are IANA names in quotes: \"Africa/Kigali\", \"America/New_York\", \"UTC\""),
            );
            return;
        }
        if let Some((name, span)) = literal(arg)
            && !(empty_ok && name.is_empty())
            && let Err(e) = dates::zone(&name)
        {
            self.report(Diagnostic::new(Code::DateLiteral, span, e, "unknown time zone").with_help(
                "time zones are IANA names: \"Africa/Kigali\", \"Europe/Paris\", \"America/New_York\", \"UTC\"",
            ));
        }
    }

    /// A date written literally, read in the flow's `dates` order.
    fn literal_date(&mut self, arg: &Expr) {
        let Some((text, span)) = literal(arg) else { return };
        let calendar = dates::Calendar { order: self.date_order, ..dates::Calendar::default() };
        if dates::read(&text, &calendar).is_none() {
            let example = match self.date_order {
                dates::DateOrder::DayFirst => "\"31.12.2026\"",
                dates::DateOrder::MonthFirst => "\"12/31/2026\"",
                dates::DateOrder::YearFirst => "\"2026-12-31\"",
            };
            self.report(
                Diagnostic::new(Code::DateLiteral, span, format!("\"{text}\" is not a date"), "not a date").with_help(
                    format!(
                        "write an ISO 8601 date (\"2026-12-31\") or day, month and year in the flow's order ({} reads {example})",
                        self.date_order.name()
                    ),
                ),
            );
        }
    }
}

/// A string argument with no references in it, and its span.
fn literal(arg: &Expr) -> Option<(String, crate::span::Span)> {
    match &arg.kind {
        ExprKind::Str(t) => t.as_literal().map(|s| (s.to_string(), arg.span)),
        _ => None,
    }
}
