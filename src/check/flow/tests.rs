//! Split tests: names, argument kinds and counts, regexes, ranges.

use super::FlowChecker;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Spanned;
use crate::split_test::{ArgKind, SplitTest};
use crate::types::Ty;

impl<'a> FlowChecker<'a> {
    pub(super) fn named_test(&mut self, name: &Spanned<String>, args: &'a [Expr], node: usize) {
        let Some(test) = SplitTest::parse(&name.node) else {
            let close = did_you_mean(&name.node, SplitTest::ALL.iter().map(|t| t.name()));
            let help = match close {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "`flowc explain tests` lists the tests; `==`, `<` and the other comparisons test any value".into()
                }
            };
            self.report(
                Diagnostic::new(
                    Code::UnknownTest,
                    name.span,
                    format!("there is no test `{}`", name.node),
                    "unknown test",
                )
                .with_help(help)
                .with_fix(name.span, close),
            );
            for a in args {
                self.expr(a, node);
            }
            return;
        };
        let kinds = test.args();
        let min = kinds.len() - test.optional();
        if args.len() < min || args.len() > kinds.len() {
            let want = if min == kinds.len() { format!("{min}") } else { format!("{min} or {}", kinds.len()) };
            let span = args.iter().fold(name.span, |s, a| s.to(a.span));
            let example = test.example();
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    span,
                    format!("`{}` takes {want} argument(s), not {}", test.name(), args.len()),
                    "wrong number of arguments",
                )
                .with_help(format!("for example: `{example}`")),
            );
        }
        for (arg, kind) in args.iter().zip(kinds) {
            let ty = self.expr(arg, node);
            match kind {
                ArgKind::Number if !ty.is_numeric() => self.report(
                    Diagnostic::new(
                        Code::TestArguments,
                        arg.span,
                        format!("`{}` expects a number here, not {ty}", test.name()),
                        "not a number",
                    )
                    .with_help("write a number such as `10` or `-2.5`"),
                ),
                ArgKind::Text if !matches!(ty, Ty::Text | Ty::Json | Ty::SplitResult) => self.report(
                    Diagnostic::new(
                        Code::TestArguments,
                        arg.span,
                        format!("`{}` expects text here, not {ty}", test.name()),
                        "not text",
                    )
                    .with_help("write the words in double quotes, e.g. \"yes y\""),
                ),
                ArgKind::Regex => self.regex(arg),
                ArgKind::Date => self.date_arg(test.name(), arg, &ty),
                _ => {}
            }
        }
        if test == SplitTest::HasNumberBetween
            && let [Expr { kind: ExprKind::Number(lo), .. }, Expr { kind: ExprKind::Number(hi), .. }] = args
            && lo > hi
        {
            let span = args[0].span.to(args[1].span);
            self.report(
                Diagnostic::new(
                    Code::EmptyRange,
                    span,
                    format!("{lo} is greater than {hi}, so nothing matches"),
                    "empty range",
                )
                .with_help(format!("write the smaller bound first: `has_number_between {hi} {lo}`")),
            );
        }
        if test == SplitTest::HasPhone
            && let Some(Expr { kind: ExprKind::Str(t), span }) = args.first()
            && let Some(cc) = t.as_literal()
            && (cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()))
        {
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    *span,
                    format!("\"{cc}\" is not a country code"),
                    "not an ISO 3166 code",
                )
                .with_help("write the two-letter country code in capitals, e.g. \"RW\" or \"US\""),
            );
        }
    }

    pub(super) fn regex(&mut self, arg: &Expr) {
        let ExprKind::Str(t) = &arg.kind else {
            self.report(
                Diagnostic::new(
                    Code::TestArguments,
                    arg.span,
                    "`has_pattern` takes a regular expression in double quotes",
                    "not a string",
                )
                .with_help("write the pattern literally, e.g. `has_pattern \"^order (\\\\d+)\"`"),
            );
            return;
        };
        let pattern = t.as_literal().unwrap_or_default();
        if let Err(e) =
            regex::RegexBuilder::new(&pattern).case_insensitive(true).multi_line(true).size_limit(1 << 20).build()
        {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            self.report(
                Diagnostic::new(
                    Code::InvalidRegex,
                    arg.span,
                    format!("invalid regular expression: {last}"),
                    "does not compile",
                )
                .with_help("backslashes are doubled inside strings: write \"\\\\d+\" for the regex \\d+"),
            );
        }
    }

    // ------------------------------------------------------------ expressions and references
}
