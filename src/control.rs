//! How control moves through statements: the one description that the checker's control-flow graph
//! (`check::cfg`) and the compiler's jumps (`compile`) both follow. Which nested blocks can run and
//! how they are entered, whether a statement can go straight on to the next, and whether a block can
//! fall off its end are decided here and nowhere else.

use crate::ast::{Block, Case, Name, Stmt, StmtKind};

/// A way into a nested block.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arm<'a> {
    /// `wait NAME timeout D { on timeout { ... } }`: the wait expired (the first block, and only with a
    /// timeout).
    Timeout(&'a Name),
    /// `webhook NAME ... { on failure { ... } }`: the call failed.
    Failure(&'a Name),
    /// `case` number `.0` of a split matched.
    Case(usize, &'a Case),
    /// No case matched and the split has `other`.
    Other,
    /// `step NAME { ... }`: control enters the step's body.
    Body(&'a Name),
    /// `enter FLOW { on expired { ... } }`: the entered flow expired (the first block).
    Expired(&'a Name),
}

/// How control goes straight from a statement to the next one, without entering a nested block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Always (`send`, `set`, ...).
    Always,
    /// When the contact replies to a `wait`.
    Reply,
    /// When a webhook succeeds.
    Success,
    /// When no case of a split without `other` matches.
    NoMatch,
    /// When the flow an `enter` runs completes.
    Complete,
}

/// Where control can go from a statement. A nested block that falls off its end continues after the
/// statement.
pub(crate) struct Exits<'a> {
    /// The nested blocks that can run, in source order, with the way into each.
    pub(crate) arms: Vec<(Arm<'a>, &'a Block)>,
    /// Nested blocks that never run (a second `on timeout`, or one on a wait without `timeout`): the
    /// checker still checks them, with nothing leading in.
    pub(crate) dead: Vec<&'a Block>,
    /// How the statement goes on to the next one, if it can.
    pub(crate) next: Option<Next>,
    /// `goto NAME`: the step control jumps to.
    pub(crate) goto: Option<&'a Name>,
}

/// Where control can go from `stmt`.
pub(crate) fn exits(stmt: &Stmt) -> Exits<'_> {
    let mut e = Exits { arms: Vec::new(), dead: Vec::new(), next: Some(Next::Always), goto: None };
    match &stmt.kind {
        StmtKind::Wait { name, timeout, on_timeout } => {
            e.next = Some(Next::Reply);
            for (i, block) in on_timeout.iter().enumerate() {
                if i == 0 && timeout.is_some() {
                    e.arms.push((Arm::Timeout(name), block));
                } else {
                    e.dead.push(block);
                }
            }
        }
        StmtKind::Webhook(w) => {
            e.next = Some(Next::Success);
            if let Some(block) = &w.on_failure {
                e.arms.push((Arm::Failure(&w.name), block));
            }
        }
        StmtKind::Split(s) => {
            e.arms.extend(s.cases.iter().enumerate().map(|(i, c)| (Arm::Case(i, c), &c.body)));
            match &s.other {
                Some(other) => {
                    e.arms.push((Arm::Other, other));
                    e.next = None;
                }
                None => e.next = Some(Next::NoMatch),
            }
        }
        StmtKind::Step { name, body } => {
            e.arms.push((Arm::Body(name), body));
            e.next = None;
        }
        StmtKind::Goto { target } => {
            e.next = None;
            e.goto = Some(target);
        }
        StmtKind::Enter { flow, terminal, on_expired } => {
            // A terminal `enter` hands the contact over: nothing after it runs.
            e.next = if terminal.is_some() { None } else { Some(Next::Complete) };
            for (i, block) in on_expired.iter().enumerate() {
                if i == 0 && terminal.is_none() {
                    e.arms.push((Arm::Expired(flow), block));
                } else {
                    e.dead.push(block);
                }
            }
        }
        StmtKind::Stop => e.next = None,
        StmtKind::Numbers { .. }
        | StmtKind::Dates { .. }
        | StmtKind::Send { .. }
        | StmtKind::Set { .. }
        | StmtKind::SetContact { .. }
        | StmtKind::Email { .. }
        | StmtKind::Respond(_)
        | StmtKind::Error { .. } => {}
    }
    e
}

/// Whether control can fall off the end of `block`: false when its last statement stops or jumps.
pub(crate) fn falls_through(block: &Block) -> bool {
    !matches!(
        block.stmts.last(),
        Some(Stmt { kind: StmtKind::Stop | StmtKind::Goto { .. } | StmtKind::Enter { terminal: Some(_), .. }, .. })
    )
}
