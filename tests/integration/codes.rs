//! Every diagnostic code has an `explain` page whose example really triggers that code.

use flowc::diagnostic::{Code, Severity};

fn example(page: &str) -> Option<&str> {
    let start = page.find("```flow\n")? + "```flow\n".len();
    let end = start + page[start..].find("\n```")?;
    Some(&page[start..end])
}

#[test]
fn every_page_example_triggers_its_code() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let page = code.page();
        assert!(page.starts_with(&format!("# {}\n", code.as_str())), "{code}: page title");
        for section in ["## What triggers it", "## Example", "## Fix"] {
            assert!(page.contains(section), "{code}: page lacks {section}");
        }
        let severity = match code.severity() {
            Severity::Error => "**error**",
            Severity::Warning => "**warning**",
        };
        assert!(page.contains(severity), "{code}: page does not state its severity");
        let Some(src) = example(page) else {
            failures.push(format!("{code}: no ```flow example"));
            continue;
        };
        let diags = if code == Code::InvalidUtf8 {
            // The page shows the file as it would look if it were UTF-8; its `é` stands for the Latin-1 byte.
            let bytes: Vec<u8> = src.chars().map(|c| if c == 'é' { 0xE9 } else { c as u8 }).collect();
            flowc::syntax::decode(bytes).err().map(|e| vec![e.1]).unwrap_or_default()
        } else {
            flowc::check_source(src).1
        };
        if !diags.iter().any(|d| d.code == code) {
            let got: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
            failures.push(format!("{code}: example gives {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn codes_are_unique_and_found_by_short_name() {
    let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Code::ALL.len());
    for &code in Code::ALL {
        let short = code.as_str().rsplit("::").next().unwrap();
        assert_eq!(Code::lookup(short), Some(code));
        assert_eq!(Code::lookup(code.as_str()), Some(code));
    }
}
