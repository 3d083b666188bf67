//! The import graph of `src/` against ARCHITECTURE.md's layer table: no module imports from a layer
//! below its own, no two top-level modules import each other round a circle, and no two files of one
//! folder do. Imports are read from the text (`crate::NAME` anywhere outside comments and the test
//! modules, `use crate::{A, B}`, `super::SIBLING`), which is how a reader follows them too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layer of each top-level module, from ARCHITECTURE.md.
fn layers() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, layer, modules, _] = cells.as_slice()
            && let Ok(layer) = layer.parse::<u32>()
        {
            for m in modules.split(',') {
                out.insert(m.trim().trim_matches('`').to_string(), layer);
            }
        }
    }
    assert!(out.len() > 20, "the layer table was not found: {out:?}");
    out
}

/// The code of a file without comment lines and without its test module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("\n#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The identifiers that follow `prefix` (`crate::`, `super::`), and those of a braced list after it.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            out.extend(list[..end].split(',').map(|item| ident(item.trim())).filter(|s| !s.is_empty()));
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The top-level module a file of `src/` belongs to ("" for lib.rs and main.rs).
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").replace("lib", "").replace("main", "")
}

fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            return Some(path[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn imports_run_down_the_layers_and_round_no_circle() {
    let layers = layers();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    crate::files_with_extension(&src, "rs", &mut files);
    files.sort();
    let mut upward = Vec::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = top_module(&src, file);
        if module.is_empty() {
            continue;
        }
        let layer =
            *layers.get(&module).unwrap_or_else(|| panic!("`{module}` is not in ARCHITECTURE.md's layer table"));
        let code = code(file);
        for used in named_after(&code, "crate::") {
            let Some(&used_layer) = layers.get(&used) else { continue };
            if used != module {
                top.entry(module.clone()).or_default().insert(used.clone());
            }
            if used_layer > layer {
                upward.push(format!("{} (layer {layer}) imports `{used}` (layer {used_layer})", file.display()));
            }
        }
        // Files of one folder that import each other.
        let dir = file.parent().unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        if name != "mod" && dir != src {
            for used in named_after(&code, "super::") {
                if dir.join(format!("{used}.rs")).is_file() || dir.join(&used).join("mod.rs").is_file() {
                    let key = |n: &str| format!("{}/{n}", dir.display());
                    siblings.entry(key(&name)).or_default().insert(key(&used));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports from a lower layer:\n{}", upward.join("\n"));
    assert_eq!(find_circle(&top), None, "top-level modules in a circle");
    assert_eq!(find_circle(&siblings), None, "files of one folder in a circle");
    // The check sees imports: the command line imports the server, and the server the interpreter.
    assert!(top["cli"].contains("serve") && top["serve"].contains("interp"), "{top:?}");
}
