//! The checker's diagnostics as LSP diagnostics: severity, the stable code (hovering it shows its page,
//! as `flowc explain` does), the help line, secondary labels as related information.

use lsp_types::{self as lsp, Uri};

use super::Document;
use crate::diagnostic::Severity;

/// The document's diagnostics for the client, and `extra` ones about it (from the project).
pub(super) fn to_lsp(uri: &Uri, doc: &Document, extra: &[crate::diagnostic::Diagnostic]) -> Vec<lsp::Diagnostic> {
    doc.analysis
        .diagnostics
        .iter()
        .chain(extra)
        .map(|d| {
            let code = d.code.as_str();
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let related: Vec<lsp::DiagnosticRelatedInformation> = d
                .labels
                .iter()
                .skip(1)
                .map(|l| lsp::DiagnosticRelatedInformation {
                    location: lsp::Location::new(uri.clone(), doc.range(l.span)),
                    message: l.text.clone(),
                })
                .collect();
            lsp::Diagnostic {
                range: doc.range(d.span()),
                severity: Some(match d.severity {
                    Severity::Error => lsp::DiagnosticSeverity::ERROR,
                    Severity::Warning => lsp::DiagnosticSeverity::WARNING,
                }),
                code: Some(lsp::NumberOrString::String(code.to_string())),
                source: Some("flowc".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..Default::default()
            }
        })
        .collect()
}
