//! Diagnostics in the formats CI systems read: GitHub Actions workflow commands (annotations on the
//! pull request) and SARIF 2.1.0 (code scanning). Both start from the JSON form of a diagnostic
//! ([`crate::diagnostic::Diagnostic::to_json`]), so lines and columns agree with every other output.

use serde_json::{Value, json};

use crate::diagnostic::{Code, Severity};

/// One diagnostic as a GitHub Actions workflow command (`::error file=...::message`), escaped as
/// GitHub documents: `%`, CR and LF in the message; also `:` and `,` in properties.
pub fn github(d: &Value) -> String {
    let data = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let level = if d["severity"] == "warning" { "warning" } else { "error" };
    let mut message = d["message"].as_str().unwrap_or_default().to_string();
    if let Some(help) = d["help"].as_str() {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
        property(d["file"].as_str().unwrap_or_default()),
        d["line"],
        d["column"],
        d["end_line"],
        d["end_column"],
        property(d["code"].as_str().unwrap_or_default()),
        data(&message)
    )
}

/// A file path as a URI reference: relative to the working directory when it is below it (forward
/// slashes, characters outside the URI's set percent-encoded, `./` before a first segment with a `:`,
/// which would read as a scheme), else an absolute `file://` URI.
fn uri(path: &str) -> String {
    let mut path = path.replace('\\', "/");
    if path.starts_with('/')
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(relative) = std::path::Path::new(&path).strip_prefix(&cwd)
    {
        path = relative.to_string_lossy().replace('\\', "/");
    }
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.starts_with('/') {
        format!("file://{out}")
    } else if out.split('/').next().is_some_and(|first| first.contains(':')) {
        format!("./{out}")
    } else {
        out
    }
}

fn region(v: &Value) -> Value {
    json!({
        "startLine": v["line"],
        "startColumn": v["column"],
        "endLine": v["end_line"],
        "endColumn": v["end_column"],
    })
}

/// A SARIF 2.1.0 log of `diagnostics` (their JSON forms): one run of flowc, every diagnostic code as a
/// rule (stable `ruleId` = the code, with its summary and its explain page as help), results with
/// relative URIs and columns counted in code points, as flowc counts them.
pub fn sarif(diagnostics: &[Value]) -> Value {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.as_str().rsplit("::").next().unwrap_or_default(),
                "shortDescription": { "text": c.summary() },
                "fullDescription": { "text": c.summary() },
                "help": { "text": c.page(), "markdown": c.page() },
                "defaultConfiguration": {
                    "level": match c.severity() { Severity::Error => "error", Severity::Warning => "warning" }
                },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let code = d["code"].as_str().unwrap_or_default();
            let index = Code::ALL.iter().position(|c| c.as_str() == code).unwrap_or(0);
            let file = uri(d["file"].as_str().unwrap_or_default());
            let mut text = d["message"].as_str().unwrap_or_default().to_string();
            if let Some(help) = d["help"].as_str() {
                text.push_str(" Help: ");
                text.push_str(help);
            }
            let related: Vec<Value> = d["related"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, r)| {
                    json!({
                        "id": i,
                        "message": { "text": r["label"].as_str().unwrap_or_default() },
                        "physicalLocation": { "artifactLocation": { "uri": file }, "region": region(r) },
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": code,
                "ruleIndex": index,
                "level": if d["severity"] == "warning" { "warning" } else { "error" },
                "message": { "text": text },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": file }, "region": region(d) } }],
            });
            if !related.is_empty() {
                result["relatedLocations"] = Value::Array(related);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "flowc", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_commands_escape_as_documented() {
        let d = json!({"file": "a,b:c.flow", "line": 2, "column": 3, "end_line": 2, "end_column": 9,
            "severity": "error", "code": "flowc::check::x", "message": "50% off\nnow", "help": null});
        assert_eq!(
            github(&d),
            "::error file=a%2Cb%3Ac.flow,line=2,col=3,endLine=2,endColumn=9,title=flowc%3A%3Acheck%3A%3Ax::50%25 off%0Anow\n"
        );
    }

    #[test]
    fn uris_are_relative_references() {
        assert_eq!(uri("./flows/my order.flow"), "flows/my%20order.flow");
        assert_eq!(uri("flows\\a.flow"), "flows/a.flow");
        assert_eq!(uri("x:y.flow"), "./x:y.flow");
        assert_eq!(uri("/nowhere/near/a b.flow"), "file:///nowhere/near/a%20b.flow");
    }
}
