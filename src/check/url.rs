//! The rules for a URL that flowc calls (a webhook's, a channel's `send`): a literal scheme, host and
//! port, https:// except for loopback hosts, no spaces (docs/language.md §6).

use crate::ast::{Template, TemplatePart};
use crate::diagnostic::{Code, Diagnostic};
use crate::net::UrlOrigin;
use crate::span::Span;

/// What is wrong with `url` (in `src`), at most one problem.
pub(crate) fn check(src: &str, url: &Template) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for part in &url.parts {
        if let TemplatePart::Text(t) = part
            && t.chars().any(char::is_whitespace)
        {
            out.push(
                Diagnostic::new(Code::InvalidUrl, url.span, "a URL cannot contain spaces", "contains a space")
                    .with_help("write %20, or pass values with `query \"name\" = ...`, which encodes them"),
            );
            return out;
        }
    }
    let first = match url.parts.first() {
        Some(TemplatePart::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let (scheme, authority) = match crate::net::origin(first, url.parts.len() == 1) {
        UrlOrigin::Literal { scheme, authority } => (scheme.to_ascii_lowercase(), authority),
        UrlOrigin::NoScheme => {
            let prefix = first.unwrap_or_default();
            out.push(
                Diagnostic::new(Code::InvalidUrl, url.span, "a webhook URL starts with `https://`", "no scheme")
                    .with_help(format!("write \"https://{}\"", prefix.trim_start_matches('/'))),
            );
            return out;
        }
        UrlOrigin::NotLiteral | UrlOrigin::HostFromValue { .. } => {
            out.push(
                Diagnostic::new(
                    Code::InvalidUrl,
                    url.span,
                    "the scheme, host and port of a URL must be written literally",
                    "the server would come from a value",
                )
                .with_help(
                    "write the host in the URL and put values in the path or query, e.g. \
                     \"https://api.example.com/contacts/@contact.fields.id\"; a value that picks the server \
                     would let a contact or an answer send the call anywhere",
                ),
            );
            return out;
        }
    };
    if authority.is_empty() {
        out.push(
            Diagnostic::new(Code::InvalidUrl, url.span, "the URL has no host", "no host")
                .with_help("write the service's address, e.g. \"https://api.example.com/orders\""),
        );
        return out;
    }
    match scheme.as_str() {
        "https" => {}
        "http" => {
            if !crate::net::is_loopback(crate::net::host(authority)) {
                out.push(
                    Diagnostic::new(
                        Code::InsecureUrl,
                        url.span,
                        "plain `http://` is only allowed for loopback hosts",
                        "not encrypted",
                    )
                    .with_help(format!(
                        "use \"https://{}\"; http:// is accepted only for localhost, 127.0.0.1 and [::1]",
                        first.and_then(|t| t.split_once("://")).map_or("", |(_, rest)| rest)
                    ))
                    .with_fix(
                        Span::new(url.span.start + 1, url.span.start + 5),
                        src[url.span.start..].starts_with("\"http://").then_some("https"),
                    ),
                );
            }
        }
        other => out.push(
            Diagnostic::new(
                Code::InvalidUrl,
                url.span,
                format!("`{other}://` URLs cannot be called"),
                "unsupported scheme",
            )
            .with_help("webhooks call https:// URLs"),
        ),
    }
    out
}
