//! RapidPro's Excellent templates as flowc templates: the references flowc has are renamed
//! (`@results.x` → `@flow.x`, `@input.text` → `@input`, `@fields.k` → `@contact.fields.k`,
//! `@legacy_extra.k` and `@webhook.json.k` → `@extra.k`); anything else (`@(...)` expressions, roots
//! flowc does not have) is kept as literal text and named, so that the caller reports it.

/// A template converted: its flowc text (inside a string literal, escaped) and what was left as text.
pub(super) struct Converted {
    pub(super) text: String,
    pub(super) kept: Vec<String>,
}

/// The contact fields a flow can read by name (the rest are custom fields).
const CONTACT: &[&str] = &["name", "language", "urn", "channel", "timezone", "phone", "email"];

/// A character of a name in an Excellent reference: letters of any script, digits, `_`.
fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A result or field key as flowc writes a name: lower case, `_` for anything else, and a `_` after a
/// word flowc keeps for itself (`flow_`).
pub(super) fn key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    // Accents come off (`Âge` → `age`, `Inscrição` → `inscricao`); other scripts' letters are left out.
    for c in name.trim().nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("r_{out}")
    } else if crate::syntax::keywords::is_reserved(&out) {
        format!("{out}_")
    } else {
        out
    }
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
    convert_after(template, None)
}

/// Converts an Excellent template; `@webhook.status` is the status of `last_webhook`, the call made
/// last before it (RapidPro's `@webhook` is the last call).
pub(super) fn convert_after(template: &str, last_webhook: Option<&str>) -> Converted {
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
            match excellent(&expr[1..expr.len().saturating_sub(1)], last_webhook) {
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
        match reference(path, last_webhook) {
            Some(flowc) => text.push_str(&flowc),
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
pub(super) fn date_argument(arg: &str, last_webhook: Option<&str>) -> Option<String> {
    let arg = arg.trim();
    if let Some(inner) = arg.strip_prefix("@(").and_then(|a| a.strip_suffix(')')) {
        return excellent(inner, last_webhook);
    }
    if let Some(path) = arg.strip_prefix('@') {
        return reference(path, last_webhook);
    }
    Some(format!("\"{}\"", escape(arg)))
}

/// An Excellent expression (the inside of `@(...)`) as a flowc expression, when every part of it has
/// a flowc counterpart: references flowc has, the functions of flowc's library (Excellent's names are
/// case-insensitive), text and numbers, `&`, arithmetic, and comparisons (`=` is `==`, `<>` is `!=`).
fn excellent(expr: &str, last_webhook: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => out.push(' '),
            '"' => {
                // Excellent text: `\"` and `""` are a quote.
                out.push('"');
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            let (_, next) = chars.next()?;
                            out.push('\\');
                            out.push(next);
                        }
                        '"' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                            chars.next();
                            out.push_str("\\\"");
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        '@' => out.push_str("@@"),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                if !closed {
                    return None;
                }
                out.push('"');
            }
            '(' | ')' | ',' | '+' | '-' | '*' | '/' | '&' | '[' | ']' => out.push(c),
            // `.key` after `]` or `)`: a field of what comes before.
            '.' => {
                out.push('.');
                let start = i + 1;
                let mut end = start;
                while let Some(&(j, n)) = chars.peek().filter(|&&(_, n)| ident_char(n)) {
                    end = j + n.len_utf8();
                    chars.next();
                }
                if end == start {
                    return None;
                }
                out.push_str(&expr[start..end]);
            }
            '=' => out.push_str("=="),
            '<' if chars.peek().is_some_and(|&(_, n)| n == '>') => {
                chars.next();
                out.push_str("!=");
            }
            '<' | '>' | '!' => out.push(c),
            c if c.is_ascii_digit() => {
                out.push(c);
                while let Some(&(_, n)) = chars.peek().filter(|&&(_, n)| n.is_ascii_digit() || n == '.') {
                    out.push(n);
                    chars.next();
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = chars.peek() {
                    if !(ident_char(n) || n == '.') {
                        break;
                    }
                    end = j + n.len_utf8();
                    chars.next();
                }
                let word = &expr[i..end];
                let call = chars.peek().is_some_and(|&(_, n)| n == '(');
                match word.to_ascii_lowercase().as_str() {
                    w if call => out.push_str(crate::function::Function::parse(w)?.name()),
                    "true" | "false" | "null" => out.push_str(&word.to_ascii_lowercase()),
                    _ => out.push_str(&reference(word, last_webhook)?),
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A reference flowc has, as flowc writes it.
pub(super) fn reference(path: &str, last_webhook: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["input"] | ["input", "text"] => Some("@input".into()),
        // `@flow.x` is the legacy (before spec 11) spelling of `@results.x`.
        ["results", name] | ["results", name, "value"] | ["flow", name] | ["flow", name, "value"] => {
            Some(format!("@flow.{}", key(name)))
        }
        ["results", name, "category"] => Some(format!("@flow.{}.category", key(name))),
        ["results", name, "extra", rest @ ..] if !rest.is_empty() => {
            Some(format!("@flow.{}.extra.{}", key(name), rest.join(".")))
        }
        ["fields", k] | ["contact", "fields", k] => Some(format!("@contact.fields.{}", key(k))),
        ["contact", f] if CONTACT.contains(f) => Some(format!("@contact.{f}")),
        ["contact"] => Some("@contact.name".into()),
        // The last webhook's JSON answer: `@extra` in flowc (`@webhook.KEY` before spec 11).
        ["legacy_extra", k] | ["webhook", "json", k] => Some(format!("@extra.{}", key(k))),
        ["webhook", k] if *k != "status" => Some(format!("@extra.{}", key(k))),
        ["webhook", "status"] => last_webhook.map(|w| format!("@webhook.{w}.status")),
        // The call itself, as goflow writes it: its method and URL.
        ["webhook"] => last_webhook.map(|w| format!("@webhook.{w}.method @webhook.{w}.url")),
        // A flow started with params (RapidPro's API): in flowc, a webhook trigger's JSON body.
        ["trigger", "params", rest @ ..] if !rest.is_empty() => Some(format!("@trigger.body.{}", rest.join("."))),
        ["urns", "tel"] => Some("@contact.phone".into()),
        ["urns", "mailto"] => Some("@contact.email".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_flowc_has_are_renamed_and_the_rest_kept_as_text() {
        let c = convert("Hi @contact.name, you said @results.Favorite_Color (@results.favorite_color.category) \"ok\"");
        assert_eq!(
            c.text,
            "Hi @contact.name, you said @flow.favorite_color (@flow.favorite_color.category) \\\"ok\\\""
        );
        assert!(c.kept.is_empty());
        let c =
            convert("@input.text at @fields.age. Mail me@example.com @@home; @(word(contact.name, 0)) @contact.uuid");
        assert_eq!(
            c.text,
            "@input at @contact.fields.age. Mail me@example.com @@home; @@(word(contact.name, 0)) @@contact.uuid"
        );
        assert_eq!(c.kept, ["@(word(contact.name, 0))", "@contact.uuid"]);
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
