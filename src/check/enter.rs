//! `enter FLOW` across the flows of a file (docs/language.md §4.11): which flow each `enter` names, what
//! a flow defines on every path to its end (`@child.NAME` after `enter` completes), what every `enter`
//! of a flow has defined when it runs (`@parent.NAME` inside it), and flows that enter each other
//! before anything else, which would never end.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::flow::{FlowChecker, InFile};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;
use crate::types::Ty;

/// Results by name, with their types and where each is first defined.
pub(crate) type Results = Vec<(String, Ty, Span)>;

/// What the rest of the file needs to know of one flow.
pub(crate) struct Summary {
    /// Results defined on every path to the flow's end, with their types and first definitions.
    pub(crate) results: Results,
    /// Every result the flow defines somewhere.
    pub(crate) all: Results,
    /// Each `enter` (not terminal) that some path reaches: the flow it names and the results defined
    /// on every path to it.
    pub(crate) sites: Vec<(Name, Vec<(String, Ty)>)>,
    /// Whether the flow can wait, stop or end before it enters another flow.
    pub(crate) ends_alone: bool,
    /// The `enter`s the flow can reach before it waits, stops or ends.
    pub(crate) first_enters: Vec<Name>,
    /// The flows it may hand over to (`enter FLOW terminal`).
    pub(crate) hands_over: Vec<Name>,
    /// Whether it may run off its own end.
    pub(crate) ends_itself: bool,
}

/// What `enter` connects in one file; empty when no flow enters another.
#[derive(Default)]
pub(crate) struct Enters<'a> {
    /// For each flow that some `enter` names: its results defined on every path to its end.
    results: HashMap<&'a str, Results>,
    /// For each flow that some `enter` names: every result it defines somewhere.
    all: HashMap<&'a str, Results>,
    /// For each flow that some `enter` (not terminal) names: the results defined at every one of them.
    parents: HashMap<&'a str, Vec<(String, Ty)>>,
    /// Flows that enter others (not terminally), by the flows they enter.
    children: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Enters<'a> {
    /// Summarizes the flows of `file` that enter or are entered, and reports `enter`s of flows that do
    /// not exist and cycles that cannot end.
    pub(crate) fn of(
        src: &'a str,
        lines: &'a crate::span::LineIndex,
        file: &'a SourceFile,
    ) -> (Enters<'a>, Vec<Diagnostic>) {
        let mut enters = Enters::default();
        let mut diags = Vec::new();
        let named: Vec<Vec<&'a Stmt>> = file.flows.iter().map(|f| enters_in(&f.body)).collect();
        if named.iter().all(Vec::is_empty) {
            return (enters, diags);
        }
        let flows: HashMap<&str, &Flow> = file.flows.iter().map(|f| (f.name.node.as_str(), f)).collect();
        let mut targets: HashSet<&str> = HashSet::default();
        for (f, stmts) in file.flows.iter().zip(&named) {
            for stmt in stmts {
                let StmtKind::Enter { flow: target, terminal, .. } = &stmt.kind else { continue };
                if !flows.contains_key(target.node.as_str()) {
                    let close = did_you_mean(&target.node, flows.keys().copied());
                    diags.push(
                        Diagnostic::new(
                            Code::UnknownFlow,
                            target.span,
                            format!("there is no flow `{}` in this file", target.node),
                            "unknown flow",
                        )
                        .with_help(match &close {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "`enter` runs a flow of the same file".into(),
                        })
                        .with_fix(target.span, close),
                    );
                    continue;
                }
                targets.insert(&target.node);
                if terminal.is_none() {
                    enters.children.entry(&f.name.node).or_default().push(&target.node);
                }
            }
        }
        let none = Enters::default();
        let at = InFile { src, lines, file, enters: &none };
        let mut summaries: HashMap<&'a str, Summary> = HashMap::default();
        for (f, stmts) in file.flows.iter().zip(&named) {
            if !stmts.is_empty() || targets.contains(f.name.node.as_str()) {
                summaries.insert(&f.name.node, FlowChecker::summarize(&at, f));
            }
        }
        let ended = ended_with(&summaries);
        for (name, s) in &summaries {
            if targets.contains(name) {
                // What a flow that entered it gets back: the results at its own end, and at the end of
                // every flow it may hand over to.
                let results = ended.get(name).cloned().flatten().unwrap_or_default();
                enters.results.insert(name, results);
                let mut all = s.all.clone();
                for b in &s.hands_over {
                    if let Some(other) = summaries.get(b.node.as_str()) {
                        all.extend(other.all.iter().filter(|(n, _, _)| !s.all.iter().any(|(m, _, _)| m == n)).cloned());
                    }
                }
                enters.all.insert(name, all);
            }
            for (target, defined) in &s.sites {
                let Some((&key, _)) = flows.get_key_value(target.node.as_str()) else { continue };
                match enters.parents.get_mut(key) {
                    None => {
                        enters.parents.insert(key, defined.clone());
                    }
                    Some(all) => all.retain(|(n, _)| defined.iter().any(|(d, _)| d == n)),
                }
            }
        }
        // A flow handed over to has the parent of the flow that handed over (what every such flow's
        // parents define). A worklist: a flow is looked at again only when its parents changed, and a
        // set only shrinks, so this is linear in the hand-overs and the names.
        let mut work: Vec<&str> = summaries.keys().copied().filter(|n| enters.parents.contains_key(n)).collect();
        while let Some(name) = work.pop() {
            let (Some(s), Some(inherited)) = (summaries.get(name), enters.parents.get(name).cloned()) else { continue };
            for b in &s.hands_over {
                let Some((&key, _)) = flows.get_key_value(b.node.as_str()) else { continue };
                let changed = match enters.parents.get_mut(key) {
                    None => {
                        enters.parents.insert(key, inherited.clone());
                        true
                    }
                    Some(all) => {
                        let before = all.len();
                        all.retain(|(n, _)| inherited.iter().any(|(d, _)| d == n));
                        all.len() != before
                    }
                };
                if changed {
                    work.push(key);
                }
            }
        }
        cycles(&summaries, &flows, &mut diags);
        (enters, diags)
    }

    /// The results `flow` defines on every path to its end (what `@child` holds once it completes).
    pub(crate) fn child_results(&self, flow: &str) -> Vec<String> {
        self.results.get(flow).map(|r| r.iter().map(|(n, _, _)| n.clone()).collect()).unwrap_or_default()
    }

    /// The flows `flow` enters (not terminally).
    pub(crate) fn children_of(&self, flow: &str) -> &[&'a str] {
        self.children.get(flow).map_or(&[], Vec::as_slice)
    }

    /// `@child.NAME` in `flow`: its type, joined over the flows `flow` enters that define it on every
    /// path to their end.
    pub(crate) fn child(&self, flow: &str, name: &str) -> Option<Ty> {
        self.children_of(flow)
            .iter()
            .filter_map(|child| self.results.get(child)?.iter().find(|(n, _, _)| n == name).map(|(_, ty, _)| ty))
            .fold(None, |acc: Option<Ty>, ty| Some(acc.map_or_else(|| ty.clone(), |t| Ty::join(&t, ty))))
    }

    /// The flows `flow` enters that define `name` somewhere, but not on every path to their end.
    pub(crate) fn child_sometimes(&self, flow: &str, name: &str) -> Option<(Ty, Vec<&'a str>)> {
        let mut found: Option<(Ty, Vec<&'a str>)> = None;
        for &child in self.children_of(flow) {
            if let Some((_, ty, _)) = self.all.get(child).into_iter().flatten().find(|(n, _, _)| n == name) {
                found = Some(match found {
                    None => (ty.clone(), vec![child]),
                    Some((t, mut flows)) => {
                        flows.push(child);
                        (Ty::join(&t, ty), flows)
                    }
                });
            }
        }
        found
    }

    /// The names `@child.` can take in `flow`.
    pub(crate) fn child_names(&self, flow: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .children_of(flow)
            .iter()
            .flat_map(|c| self.results.get(c).into_iter().flatten().map(|(n, _, _)| n.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// What every `enter` of `flow` has defined: `None` when no `enter` names it.
    pub(crate) fn parent(&self, flow: &str) -> Option<&[(String, Ty)]> {
        self.parents.get(flow).map(Vec::as_slice)
    }

    /// Whether the results of `flow` can be read by other flows (it enters one, or is entered).
    pub(crate) fn shares_results(&self, flow: &str) -> bool {
        self.results.contains_key(flow) || self.children.contains_key(flow)
    }
}

/// What each summarized flow ends with: the results at its own end and at the end of every flow it may
/// hand over to (those defined in all of them); `None` when it cannot end (or hands over round a
/// cycle). Each flow is worked out once, after the flows it hands over to (an explicit stack: a chain
/// of hand-overs as long as the file is neither deep recursion nor quadratic).
fn ended_with<'a>(summaries: &HashMap<&'a str, Summary>) -> HashMap<&'a str, Option<Results>> {
    let mut done: HashMap<&'a str, Option<Results>> = HashMap::default();
    let mut open: HashSet<&'a str> = HashSet::default();
    for &root in summaries.keys() {
        let mut stack = vec![(root, false)];
        while let Some((flow, expanded)) = stack.pop() {
            if done.contains_key(flow) {
                continue;
            }
            let Some(s) = summaries.get(flow) else { continue };
            let targets =
                || s.hands_over.iter().filter_map(|b| summaries.get_key_value(b.node.as_str()).map(|(k, _)| *k));
            if !expanded {
                open.insert(flow);
                stack.push((flow, true));
                // A flow still open is on the way here: a cycle, which ends nothing.
                stack.extend(targets().filter(|t| !done.contains_key(t) && !open.contains(t)).map(|t| (t, false)));
                continue;
            }
            let mut ends: Vec<&Results> = Vec::new();
            if s.ends_itself {
                ends.push(&s.results);
            }
            ends.extend(targets().filter_map(|t| done.get(t).and_then(Option::as_ref)));
            let result = ends.split_first().map(|(first, rest)| {
                first
                    .iter()
                    .filter_map(|(n, t, at)| {
                        rest.iter()
                            .try_fold(t.clone(), |ty, other| {
                                other.iter().find(|(m, _, _)| m == n).map(|(_, u, _)| Ty::join(&ty, u))
                            })
                            .map(|ty| (n.clone(), ty, *at))
                    })
                    .collect()
            });
            open.remove(flow);
            done.insert(flow, result);
        }
    }
    done
}

/// The `enter` statements of a block, nested ones included.
fn enters_in(block: &Block) -> Vec<&Stmt> {
    let mut out = Vec::new();
    let mut stack = vec![block];
    while let Some(b) = stack.pop() {
        for stmt in &b.stmts {
            if matches!(stmt.kind, StmtKind::Enter { .. }) {
                out.push(stmt);
            }
            let exits = crate::control::exits(stmt);
            stack.extend(exits.arms.iter().map(|(_, b)| *b));
            stack.extend(exits.dead);
        }
    }
    out
}

/// Reports flows that enter each other before they wait, stop or end: a run would enter them one in
/// another without end (goflow fails such a run after 100 steps; flowc refuses the file).
fn cycles(summaries: &HashMap<&str, Summary>, flows: &HashMap<&str, &Flow>, diags: &mut Vec<Diagnostic>) {
    // A flow can end when it can on its own, or when a flow it may enter first can (or is not known
    // here). Worked backwards from the flows that can, each `enter` followed once.
    let mut entered_by: HashMap<&str, Vec<&str>> = HashMap::default();
    let mut can_end: HashSet<&str> = HashSet::default();
    for (&name, s) in summaries {
        let mut alone = s.ends_alone;
        for e in &s.first_enters {
            let n = e.node.as_str();
            match summaries.get_key_value(n) {
                Some((&known, _)) if flows.contains_key(n) => entered_by.entry(known).or_default().push(name),
                _ => alone = true,
            }
        }
        if alone {
            can_end.insert(name);
        }
    }
    let mut work: Vec<&str> = can_end.iter().copied().collect();
    while let Some(flow) = work.pop() {
        for &by in entered_by.get(flow).into_iter().flatten() {
            if can_end.insert(by) {
                work.push(by);
            }
        }
    }
    let mut stuck: Vec<(&str, &Summary)> = summaries
        .iter()
        .filter(|(n, s)| !can_end.contains(*n) && !s.first_enters.is_empty())
        .map(|(n, s)| (*n, s))
        .collect();
    stuck.sort_by_key(|(_, s)| s.first_enters[0].span.start);
    for (name, s) in stuck {
        let first = &s.first_enters[0];
        let mut others: Vec<String> = Vec::new();
        for e in &s.first_enters {
            let named = format!("`{}`", e.node);
            if !others.contains(&named) {
                others.push(named);
            }
        }
        diags.push(
            Diagnostic::new(
                Code::EnterCycle,
                first.span,
                format!("`{name}` enters {} before anything else, and never comes back", others.join(" or ")),
                "a cycle of `enter` that cannot end",
            )
            .with_help(
                "each flow of the cycle enters the next before it waits, stops or ends, so a run would enter \
                 them one in another without end: wait for a reply first, or enter only on some path",
            ),
        );
    }
}
