//! `flowc explain`: a diagnostic code's page, or the list of codes; the split tests' catalogue.

use crate::diagnostic::Code;
use crate::split_test::{ArgKind, SplitTest};

use super::{OK, USAGE, out};

pub(super) fn run(code: Option<&str>) -> u8 {
    let Some(code) = code else {
        let mut text = String::from("Diagnostic codes (flowc explain CODE shows one):\n\n");
        for c in Code::ALL {
            text += &format!("  {:<42} {:<8} {}\n", c.as_str(), c.severity().as_str(), c.summary());
        }
        return out::emit(&text).map_or_else(|status| status, |()| OK);
    };
    if code == "functions" {
        let mut text = String::from("Functions (docs/language.md §11):\n\n");
        for f in crate::function::Function::ALL {
            text += &format!("  {}\n", f.doc());
        }
        return out::emit(&text).map_or_else(|status| status, |()| OK);
    }
    if let Some(f) = crate::function::Function::parse(code) {
        return out::emit(&format!("{}\n", f.doc())).map_or_else(|status| status, |()| OK);
    }
    if code == "tests" {
        return out::emit(&tests_table()).map_or_else(|status| status, |()| OK);
    }
    if let Some(test) = SplitTest::parse(code) {
        let text = format!("{}\n\nFor example: case {} as Name {{ ... }}\n", test.doc(), test.example());
        return out::emit(&text).map_or_else(|status| status, |()| OK);
    }
    match Code::lookup(code) {
        Some(c) => out::emit(c.page()).map_or_else(|status| status, |()| OK),
        None => {
            let names = Code::ALL.iter().map(|c| c.as_str().rsplit("::").next().unwrap_or(""));
            match crate::diagnostic::did_you_mean(code.rsplit("::").next().unwrap_or(code), names) {
                Some(s) => {
                    eprintln!("flowc: unknown code `{code}`; did you mean `{s}`? (`flowc explain` lists all codes)")
                }
                None => eprintln!("flowc: unknown code `{code}` (`flowc explain` lists all codes)"),
            }
            USAGE
        }
    }
}

/// The split tests as a Markdown table (docs/language.md §5.1 points here): how each is written, its
/// arguments, when it matches and what it matches.
fn tests_table() -> String {
    let mut text = String::from(
        "Split tests (docs/language.md §5): `case TEST ARGS as Category { ... }`\n\n\
         | test | arguments | matches when the text... | matched value |\n|---|---|---|---|\n",
    );
    for t in SplitTest::ALL {
        let usage = std::iter::once(t.name()).chain(t.placeholders().iter().copied()).collect::<Vec<_>>().join(" ");
        let kinds: Vec<&str> = t
            .args()
            .iter()
            .map(|k| match k {
                ArgKind::Text => "text",
                ArgKind::Number => "number",
                ArgKind::Regex => "regex",
                ArgKind::Date => "date",
            })
            .collect();
        let args = match (kinds.is_empty(), t.optional()) {
            (true, _) => "–".to_string(),
            (false, 0) => kinds.join(", "),
            (false, _) => format!("{} (optional)", kinds.join(", ")),
        };
        text += &format!("| `{usage}` | {args} | {} | {} |\n", t.when(), t.matched());
    }
    text
}
