//! RapidPro's Excellent templates as flowc templates: the references flowc has are renamed
//! (`@results.x` → `@flow.x`, `@input.text` → `@input`, `@fields.k` → `@contact.fields.k`,
//! `@legacy_extra.k` and `@webhook.json.k` → `@extra.k`); anything else (`@(...)` expressions, roots
//! flowc does not have) is kept as literal text and named, so that the caller reports it.

use super::names::{ident_char, reference};

/// A template converted: its flowc text (inside a string literal, escaped) and what was left as text.
pub(super) struct Converted {
    pub(super) text: String,
    pub(super) kept: Vec<String>,
}

/// `text` inside a flowc string literal.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// Converts an Excellent template.
#[cfg(test)]
fn convert(template: &str) -> Converted {
    convert_after(template, super::names::Calls::default())
}

/// Converts an Excellent template; `@webhook.status` is the status of `last_webhook`, the call made
/// last before it (RapidPro's `@webhook` is the last call).
pub(super) fn convert_after(template: &str, calls: super::names::Calls<'_>) -> Converted {
    let mut text = String::new();
    let mut kept = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('@') {
        text.push_str(&escape(&rest[..at]));
        let after = &rest[at + 1..];
        // `@@` is an `@`, wherever it stands.
        if let Some(tail) = after.strip_prefix('@') {
            text.push_str("@@");
            rest = tail;
            continue;
        }
        // `ops@example.com`: an `@` right after a letter or digit is text, in RapidPro as in flowc.
        if rest[..at].ends_with(|c: char| c.is_alphanumeric()) {
            text.push('@');
            rest = after;
            continue;
        }
        if after.starts_with('(') {
            // An expression: up to its closing parenthesis, outside strings.
            let (mut depth, mut in_str, mut end) = (0usize, false, after.len());
            for (i, c) in after.char_indices() {
                match c {
                    '"' => in_str = !in_str,
                    '(' if !in_str => depth += 1,
                    ')' if !in_str => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let expr = &after[..end];
            match super::expression::convert(&expr[1..expr.len().saturating_sub(1)], calls) {
                Some(flowc) => {
                    text.push_str("@(");
                    text.push_str(&flowc);
                    text.push(')');
                }
                None => {
                    kept.push(format!("@{expr}"));
                    text.push_str("@@");
                    text.push_str(&escape(expr));
                }
            }
            rest = &after[end..];
            continue;
        }
        let len = after.char_indices().find(|&(_, c)| !(ident_char(c) || c == '.')).map_or(after.len(), |(i, _)| i);
        let path = after[..len].trim_end_matches('.');
        let tail = &after[path.len()..];
        if path.is_empty() {
            text.push_str("@@");
            rest = after;
            continue;
        }
        match reference(path, calls) {
            // A reference as it is; an expression inside `@( )`.
            Some(flowc) if flowc.starts_with('@') && !flowc.contains(' ') => text.push_str(&flowc),
            Some(flowc) => {
                text.push_str("@(");
                text.push_str(&flowc);
                text.push(')');
            }
            None => {
                kept.push(format!("@{path}"));
                text.push_str("@@");
                text.push_str(&escape(path));
            }
        }
        rest = tail;
    }
    text.push_str(&escape(rest));
    Converted { text, kept }
}

/// A test's date argument as flowc writes it: an expression (`@(today())` → `today()`), a reference, or
/// text read in the flow's date order.
pub(super) fn date_argument(arg: &str, calls: super::names::Calls<'_>) -> Option<String> {
    let arg = arg.trim();
    if let Some(inner) = arg.strip_prefix("@(").and_then(|a| a.strip_suffix(')')) {
        return super::expression::convert(inner, calls);
    }
    if let Some(path) = arg.strip_prefix('@') {
        return reference(path, calls);
    }
    Some(format!("\"{}\"", escape(arg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rapidpro::names::key;

    #[test]
    fn references_flowc_has_are_renamed_and_the_rest_kept_as_text() {
        let c = convert("Hi @contact.name, you said @results.Favorite_Color (@results.favorite_color.category) \"ok\"");
        assert_eq!(
            c.text,
            "Hi @contact.name, you said @flow.favorite_color (@flow.favorite_color.category) \\\"ok\\\""
        );
        assert!(c.kept.is_empty());
        let c = convert(
            "@input.text at @fields.age. Mail me@example.com @@home; @(format_location(contact.name)) @contact.tickets",
        );
        assert_eq!(
            c.text,
            "@input at @contact.fields.age. Mail me@example.com @@home; @@(format_location(contact.name)) @@contact.tickets"
        );
        assert_eq!(c.kept, ["@(format_location(contact.name))", "@contact.tickets"]);
        // Expressions whose every part flowc has are expressions in flowc too.
        let c =
            convert("@(UPPER(contact.name) & \"!\") @(url_encode(results.city)) @(results.age = 3) @(x <> \"a@b\")");
        assert_eq!(
            c.text,
            "@(upper(@contact.name) & \"!\") @(url_encode(@flow.city)) @(@flow.age == 3) @@(x <> \\\"a@b\\\")"
        );
        assert_eq!(key("Favorite Color!"), "favorite_color");
        assert_eq!(key("Âge de l'élève"), "age_de_l_eleve");
        assert_eq!(key("Inscrição 日本"), "inscricao");
        assert_eq!(convert("mail test@@example.com or @@home").text, "mail test@@example.com or @@home");
        assert_eq!(convert("@results.âge").text, "@flow.age");
        assert_eq!(key("1st"), "r_1st");
    }
}
