//! `flowc graph`: every example as Mermaid and DOT (snapshots, so a change to the layout of a picture
//! shows in review), and DOT rendered to PNG by Graphviz.

use std::process::Command;

#[test]
fn every_example_has_a_picture() {
    insta::glob!("../../examples", "*.flow", |path| {
        let mermaid = Command::new(env!("CARGO_BIN_EXE_flowc")).arg("graph").arg(path).output().unwrap();
        assert_eq!(mermaid.status.code(), Some(0), "{}", String::from_utf8_lossy(&mermaid.stderr));
        let dot =
            Command::new(env!("CARGO_BIN_EXE_flowc")).args(["graph", "--format", "dot"]).arg(path).output().unwrap();
        assert_eq!(dot.status.code(), Some(0));
        insta::assert_snapshot!(format!(
            "{}\n---\n{}",
            String::from_utf8_lossy(&mermaid.stdout),
            String::from_utf8_lossy(&dot.stdout)
        ));
    });
}

#[test]
fn graphviz_draws_every_example() {
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipped: Graphviz's `dot` is not installed (.ci/run installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flowc-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "flow") {
            continue;
        }
        let dot =
            Command::new(env!("CARGO_BIN_EXE_flowc")).args(["graph", "--format", "dot"]).arg(&path).output().unwrap();
        let source = dir.join("g.dot");
        std::fs::write(&source, &dot.stdout).unwrap();
        let png = dir.join("g.png");
        let drawn = Command::new("dot").arg("-Tpng").arg(&source).arg("-o").arg(&png).output().unwrap();
        assert!(drawn.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&drawn.stderr));
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000, "{}: no picture", path.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn graph_refuses_bad_input_clearly() {
    let o = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["graph", "--flow", "nope", "examples/order_status.flow"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no flow `nope` (it has: order_status)"));
}
