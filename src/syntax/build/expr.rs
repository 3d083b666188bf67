//! Expressions: operators by precedence, operands, postfix access, function calls.

use pest::iterators::{Pair, Pairs};

use super::{Builder, MAX_EXPR_NODES, inner};
use crate::ast::*;
use crate::diagnostic::{Code, did_you_mean};
use crate::span::{Span, Spanned};
use crate::syntax::Rule;

impl Builder {
    pub(super) fn count_node(&mut self, span: Span) -> bool {
        self.expr_nodes += 1;
        if self.expr_nodes == MAX_EXPR_NODES + 1 {
            self.error(
                Code::TooDeep,
                span,
                format!("expression has more than {MAX_EXPR_NODES} operators"),
                "expression too long",
                Some("split it into several `set` statements".into()),
            );
        }
        self.expr_nodes <= MAX_EXPR_NODES
    }

    pub(crate) fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        if self.expr_nesting == 0 {
            self.expr_nodes = 0;
        }
        self.expr_nesting += 1;
        let e = self.expr_inner(pair.into_inner());
        self.expr_nesting -= 1;
        e
    }

    /// Precedence climbing over the flat operand/operator list, without recursion per operator.
    pub(super) fn expr_inner(&mut self, pairs: Pairs<'_, Rule>) -> Expr {
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(BinaryOp, Span)> = Vec::new();
        for p in pairs {
            if p.as_rule() == Rule::operand {
                operands.push(self.operand(p));
                continue;
            }
            let span = self.span(&p);
            let op = match p.as_str() {
                "||" => BinaryOp::Or,
                "&&" => BinaryOp::And,
                "&" => BinaryOp::Concat,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                other => BinaryOp::parse_comparison(other).unwrap_or(BinaryOp::Eq),
            };
            if !self.count_node(span) {
                continue;
            }
            while let Some(&(top, _)) = ops.last() {
                if top.precedence() >= op.precedence() {
                    self.reduce(&mut operands, &mut ops);
                } else {
                    break;
                }
            }
            ops.push((op, span));
        }
        while !ops.is_empty() {
            self.reduce(&mut operands, &mut ops);
        }
        operands.pop().unwrap_or(Expr { kind: ExprKind::Error, span: Span::default() })
    }

    pub(super) fn reduce(&mut self, operands: &mut Vec<Expr>, ops: &mut Vec<(BinaryOp, Span)>) {
        let Some((op, op_span)) = ops.pop() else {
            return;
        };
        let (Some(rhs), Some(lhs)) = (operands.pop(), operands.pop()) else {
            return;
        };
        if op.is_comparison() {
            let chained =
                [&lhs, &rhs].into_iter().any(|e| matches!(e.kind, ExprKind::Binary(o, ..) if o.is_comparison()));
            if chained {
                self.error(
                    Code::ChainedComparison,
                    op_span,
                    "comparisons cannot be chained",
                    "second comparison",
                    Some("combine them with `&&`, e.g. `@a < @b && @b < @c`, or add parentheses".into()),
                );
            }
        }
        let span = lhs.span.to(rhs.span);
        operands.push(Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span });
    }

    pub(super) fn operand(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let mut prefixes: Vec<(UnaryOp, Span)> = Vec::new();
        let mut expr: Option<Expr> = None;
        for p in pair.into_inner() {
            let span = self.span(&p);
            match p.as_rule() {
                Rule::prefix => {
                    if self.count_node(span) {
                        let op = if p.as_str() == "-" { UnaryOp::Neg } else { UnaryOp::Not };
                        prefixes.push((op, span));
                    }
                }
                Rule::field | Rule::index => {
                    let Some(base) = expr.take() else { continue };
                    expr = Some(if self.count_node(span) { self.postfix(base, p) } else { base });
                }
                _ => expr = Some(self.primary(p)),
            }
        }
        let mut expr = expr.unwrap_or(Expr { kind: ExprKind::Error, span: Span::default() });
        while let Some((op, span)) = prefixes.pop() {
            let span = span.to(expr.span);
            expr = Expr { kind: ExprKind::Unary(op, Box::new(expr)), span };
        }
        expr
    }

    pub(super) fn postfix(&mut self, base: Expr, p: Pair<'_, Rule>) -> Expr {
        let span = base.span.to(self.span(&p));
        let kind = if p.as_rule() == Rule::field {
            let seg = p.into_inner().next().expect("grammar: field segment");
            ExprKind::Field(Box::new(base), Spanned::new(seg.as_str().to_string(), self.span(&seg)))
        } else {
            let ispan = self.span(&p);
            if !self.enter(ispan) {
                self.leave();
                return base;
            }
            let idx = self.expr(p.into_inner().next().expect("grammar: index expr"));
            self.leave();
            ExprKind::Index(Box::new(base), Box::new(idx))
        };
        Expr { kind, span }
    }

    pub(super) fn primary(&mut self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::string => ExprKind::Str(self.template(p)),
            Rule::number | Rule::signed_number => ExprKind::Number(p.as_str().parse().unwrap_or(0.0)),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::kw_null => ExprKind::Null,
            Rule::env_ref => {
                let s = inner(p).next().expect("grammar: env name");
                ExprKind::Env(self.plain_string(s))
            }
            Rule::call => {
                if !self.enter(span) {
                    self.leave();
                    return Expr { kind: ExprKind::Error, span };
                }
                let mut it = p.into_inner();
                let n = it.next().expect("grammar: call name");
                let name = Spanned::new(n.as_str().to_string(), self.span(&n));
                let args = it.map(|a| self.expr(a)).collect();
                self.leave();
                ExprKind::Call { name, args }
            }
            Rule::reference => match self.reference_parts(p.as_str(), span) {
                Ok(r) => ExprKind::Ref(r),
                Err(root) => {
                    let close = did_you_mean(root, Root::ALL.map(Root::as_str));
                    let help = match close {
                        Some(c) => format!(
                            "did you mean `@{c}`? Variables start with @flow, @extra, @contact, @trigger, @webhook or @input"
                        ),
                        None => "variables start with @flow, @extra, @contact, @trigger, @webhook or @input".into(),
                    };
                    self.error(
                        Code::UnknownVariable,
                        span,
                        format!("`@{root}` is not a variable"),
                        "unknown variable",
                        Some(help),
                    );
                    if let Some(close) = close {
                        self.fix(Span::new(span.start + 1, span.start + 1 + root.len()), &[close.to_string()]);
                    }
                    ExprKind::Error
                }
            },
            Rule::group | Rule::at_group => {
                if !self.enter(span) {
                    self.leave();
                    return Expr { kind: ExprKind::Error, span };
                }
                let e = self.expr(p.into_inner().next().expect("grammar: group expr"));
                self.leave();
                ExprKind::Group(Box::new(e))
            }
            Rule::operand_simple => return self.operand(p),
            _ => ExprKind::Error,
        };
        Expr { kind, span }
    }

    pub(super) fn simple_operand(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let p = pair.into_inner().next().expect("grammar: simple operand");
        if self.expr_nesting == 0 {
            self.expr_nodes = 0;
        }
        self.primary(p)
    }
}

/// The `[0]`, `[-1]` or `["key"]` that `text` starts with, if it does: an index written right after a
/// reference inside a string, which templates do not read.
pub(super) fn bracket_index(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('[')?;
    let end = rest.find(']')?;
    let inner = &rest[..end];
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    let index = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        || (inner.len() >= 2 && inner.starts_with('"') && inner.ends_with('"'));
    index.then(|| &text[..end + 2])
}
