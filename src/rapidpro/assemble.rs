//! The imported flows as files: flows that enter one another in one text (`enter` runs a flow of the
//! same file), with the reads RapidPro finds empty written as such.

use std::collections::HashMap;

/// A construct that was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The flow's name.
    pub flow: String,
    /// The node's UUID.
    pub node: String,
    /// What it is (`enter_flow`, `has_group`, `@(upper(...))`).
    pub construct: String,
}

/// A flow brought in.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The flow's name in flowc (a `.flow` file is named after it); with flows it enters, the first's.
    pub name: String,
    /// The flows in the text, by name, with their RapidPro UUIDs: one, or flows that enter one another
    /// (`enter` runs a flow of the same file).
    pub flows: Vec<(String, String)>,
    /// Its text, formatted as `flowc fmt` writes it.
    pub text: String,
    /// What it holds only as comments.
    pub unsupported: Vec<Unsupported>,
}

/// The flows that enter one another, each set as one text (named after its first flow), with reads
/// RapidPro finds empty written as such; the others as they are.
pub(super) fn together(flows: Vec<Imported>) -> Vec<Imported> {
    // Union-find over `enter`: a flow's set is the first flow of it.
    let index: HashMap<String, usize> = flows.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
    let mut set: Vec<usize> = (0..flows.len()).collect();
    fn root(set: &mut [usize], mut i: usize) -> usize {
        while set[i] != i {
            set[i] = set[set[i]];
            i = set[i];
        }
        i
    }
    for (i, f) in flows.iter().enumerate() {
        for line in f.text.lines() {
            let entered = line.trim().strip_prefix("enter ").and_then(|rest| rest.split_whitespace().next());
            if let Some(&j) = entered.and_then(|name| index.get(name)) {
                let (a, b) = (root(&mut set, i), root(&mut set, j));
                set[a.max(b)] = a.min(b);
            }
        }
    }
    let mut out: Vec<Imported> = Vec::new();
    let mut at: HashMap<usize, usize> = HashMap::new();
    for (i, f) in flows.into_iter().enumerate() {
        let r = root(&mut set, i);
        match at.get(&r) {
            Some(&k) => {
                let first = &mut out[k];
                first.text.push('\n');
                first.text.push_str(&f.text);
                first.flows.extend(f.flows);
                first.unsupported.extend(f.unsupported);
            }
            None => {
                at.insert(r, out.len());
                out.push(f);
            }
        }
    }
    for f in &mut out {
        f.text = empty_when_missing(std::mem::take(&mut f.text));
    }
    out
}

/// RapidPro reads a result or `@webhook` answer that no path has set yet as empty text; flowc's checker
/// refuses such a read. Each read the checker names (`undefined_variable`, `extra_before_webhook`) is
/// written as RapidPro reads it: `default(REF, "")`. A result that nothing in the flow saves
/// (`unknown_variable`: RapidPro reads it as empty text, and reports an error) is written as empty text.
fn empty_when_missing(mut text: String) -> String {
    use crate::diagnostic::Code;
    for _ in 0..4 {
        let (file, diags) = crate::check_source(&text);
        let mut spans: Vec<(crate::span::Span, bool)> = diags
            .iter()
            .filter_map(|d| match d.code {
                Code::UndefinedVariable | Code::ExtraBeforeWebhook => Some((d.span(), false)),
                Code::UnknownVariable => Some((d.span(), true)),
                _ => None,
            })
            .filter(|(s, never)| {
                text.get(s.start..s.end).is_some_and(|r| {
                    let prefix = if *never { "@flow." } else { "@" };
                    r.starts_with(prefix) && !r.contains(char::is_whitespace)
                })
            })
            .collect();
        spans.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
        spans.dedup();
        if spans.is_empty() {
            break;
        }
        for (span, never) in spans {
            let reference = text[span.start..span.end].to_string();
            let in_text = file.strings.iter().any(|s| s.start < span.start && span.end < s.end);
            let wrapped = match (never, in_text) {
                (true, true) => String::new(),
                (true, false) => "\"\"".to_string(),
                (false, true) => format!("@(default({reference}, \"\"))"),
                (false, false) => format!("default({reference}, \"\")"),
            };
            text.replace_range(span.start..span.end, &wrapped);
        }
        match crate::fmt::format(&text) {
            Ok(t) => text = t,
            Err(_) => break,
        }
    }
    text
}
