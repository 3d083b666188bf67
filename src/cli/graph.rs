//! `flowc graph`: a flow as Mermaid or Graphviz DOT.

use std::path::Path;

use crate::diagnostic::Diagnostic;

use super::{DIAGNOSTICS, GraphFormat, OK, USAGE, out, report};

/// `flowc graph`: the diagram of one flow, or of each flow of the file in turn. A file with syntax
/// errors is refused; check errors do not stop the picture (it helps to find them).
pub(super) fn run(path: &Path, flow: Option<&str>, format: GraphFormat) -> u8 {
    let name = path.display().to_string();
    let src = match crate::project::read(path) {
        Ok(Ok(src)) => src,
        Ok(Err(invalid)) => {
            let (text, diag) = *invalid;
            report(&name, &text, &[diag]);
            return DIAGNOSTICS;
        }
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let (file, diags) = crate::syntax::parse(&src);
    if diags.iter().any(Diagnostic::is_error) {
        report(&name, &src, &diags);
        eprintln!("flowc: cannot draw {name}: fix its syntax errors first");
        return DIAGNOSTICS;
    }
    let flows: Vec<&crate::ast::Flow> = match flow {
        Some(wanted) => match file.flows.iter().find(|f| f.name.node == wanted) {
            Some(f) => vec![f],
            None => {
                let names: Vec<&str> = file.flows.iter().map(|f| f.name.node.as_str()).collect();
                eprintln!("flowc: {name} has no flow `{wanted}` (it has: {})", names.join(", "));
                return USAGE;
            }
        },
        None => file.flows.iter().collect(),
    };
    if flows.is_empty() {
        eprintln!("flowc: {name} has no flow to draw");
        return USAGE;
    }
    let format = match format {
        GraphFormat::Mermaid => crate::graph::Format::Mermaid,
        GraphFormat::Dot => crate::graph::Format::Dot,
    };
    match out::emit(&crate::graph::render_all(&flows, format)) {
        Ok(()) => OK,
        Err(status) => status,
    }
}
