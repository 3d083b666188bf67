//! The documentation a user gets with the repository: links that lead somewhere, and citations of the
//! language reference that the repository carries (not a file outside it).

use std::path::{Path, PathBuf};

fn files_below(dir: &str, ext: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "target" {
                files_below(path.to_str().unwrap(), ext, out);
            }
        } else if ext.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

#[test]
fn relative_links_in_readme_and_docs_lead_to_files() {
    let mut pages = vec![PathBuf::from("README.md")];
    files_below("docs", &[".md"], &mut pages);
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)\s]*)?\)").unwrap();
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for c in link.captures_iter(&text) {
            let target = &c[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let resolved = page.parent().unwrap_or(Path::new("")).join(target);
            if !resolved.exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(pages.len() > 10, "README and the docs pages");
    assert_eq!(broken, Vec::<String>::new());
}

#[test]
fn the_language_is_cited_from_the_reference_in_the_repository() {
    let mut files = vec![PathBuf::from("README.md"), PathBuf::from("grammar/flow.pest")];
    for dir in ["src", "docs", "examples", "tests/fixtures", "editors/neovim", "editors/helix"] {
        files_below(dir, &[".rs", ".md", ".flow", ".pest", ".lua", ".toml"], &mut files);
    }
    let outside: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| t.contains("shared/LANGUAGE.md") || t.contains("(LANGUAGE.md"))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(outside, Vec::<String>::new(), "cite docs/language.md, which users get");
    let reference = std::fs::read_to_string("docs/language.md").unwrap();
    for section in ["## 2. ", "## 4. ", "## 5. ", "## 6. ", "## 7. ", "## 9. "] {
        assert!(reference.contains(section), "docs/language.md has {section}");
    }
}
