//! RapidPro's names in flowc: result and field keys as flowc writes names, and the references of
//! Excellent that flowc has, as flowc writes them.

/// The contact fields a flow can read by name (the rest are custom fields).
const CONTACT: &[&str] = &["name", "language", "urn", "channel", "timezone", "phone", "email", "uuid", "groups"];

/// A character of a name in an Excellent reference: letters of any script, digits, `_`.
pub(super) fn ident_char(c: char) -> bool {
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

/// The webhook calls of the flow being imported, for what `@webhook` and `@results.CALL` mean.
#[derive(Clone, Copy, Default)]
pub(super) struct Calls<'a> {
    /// The call made last before the text: RapidPro's `@webhook` is the last call.
    pub(super) last: Option<&'a str>,
    /// The result names of the flow's calls, as flowc names them.
    pub(super) results: &'a [String],
}

/// A reference flowc has, as flowc writes it: a reference, or an expression (which a template writes
/// inside `@( )`).
pub(super) fn reference(path: &str, calls: Calls<'_>) -> Option<String> {
    let last_webhook = calls.last;
    let parts: Vec<&str> = path.split('.').collect();
    // A call's result is its status, with Success or Failure as its category, the request as its input
    // and the answer as its extra (`@flow.CALL` in flowc).
    if let ["results" | "flow", name, rest @ ..] = parts.as_slice()
        && let k = key(name)
        && calls.results.contains(&k)
    {
        return match rest {
            [] | ["value"] => Some(format!("@webhook.{k}.status")),
            ["category" | "category_localized"] => {
                Some(format!("if(@webhook.{k}.error == null, \"Success\", \"Failure\")"))
            }
            ["input" | "text"] => Some(format!("@webhook.{k}.method & \" \" & @webhook.{k}.url")),
            ["extra"] => Some(format!("@flow.{k}")),
            ["extra", more @ ..] => Some(format!("@flow.{k}.{}", more.join("."))),
            _ => None,
        };
    }
    match parts.as_slice() {
        ["input"] | ["input", "text"] => Some("@input".into()),
        // `@flow.x` is the legacy (before spec 11) spelling of `@results.x`.
        ["results", name] | ["results", name, "value"] | ["flow", name] | ["flow", name, "value"] => {
            Some(format!("@flow.{}", key(name)))
        }
        // flowc sends the base language, whose category names are the categories themselves.
        ["results", name, "category" | "category_localized"] => Some(format!("@flow.{}.category", key(name))),
        ["results", name, "extra", rest @ ..] if !rest.is_empty() => {
            Some(format!("@flow.{}.extra.{}", key(name), rest.join(".")))
        }
        // The results of the flow entered last, and of the flow that entered this one (`@child.x` and
        // `@parent.x` before spec 11).
        ["child" | "parent", "results", name] | ["child" | "parent", "results", name, "value"] => {
            Some(format!("@{}.{}", parts[0], key(name)))
        }
        ["child" | "parent", "results", name, "category" | "category_localized"] => {
            Some(format!("@{}.{}.category", parts[0], key(name)))
        }
        ["child" | "parent", name]
            if !["status", "run", "contact", "uuid", "flow", "fields", "urns"].contains(name) =>
        {
            Some(format!("@{}.{}", parts[0], key(name)))
        }
        ["fields", k] | ["contact", "fields", k] => Some(format!("@contact.fields.{}", key(k))),
        ["contact", f] if CONTACT.contains(f) => Some(format!("@contact.{f}")),
        ["contact"] => Some("@contact.name".into()),
        // The last webhook's JSON answer: `@extra` in flowc (`@webhook.KEY` before spec 11).
        ["legacy_extra", k] | ["webhook", "json", k] => Some(format!("@extra.{}", key(k))),
        ["webhook", k] if *k != "status" => Some(format!("@extra.{}", key(k))),
        ["webhook", "status"] => last_webhook.map(|w| format!("@webhook.{w}.status")),
        // The call itself, as goflow writes it: its method and URL.
        ["webhook"] => last_webhook.map(|w| format!("@webhook.{w}.method & \" \" & @webhook.{w}.url")),
        // A flow started with params (RapidPro's API): in flowc, a webhook trigger's JSON body.
        ["trigger", "params", rest @ ..] if !rest.is_empty() => Some(format!("@trigger.body.{}", rest.join("."))),
        ["urns", "tel"] => Some("@contact.phone".into()),
        ["node", "visit_count"] => Some("@(visit_count())".into()),
        ["urns", "mailto"] => Some("@contact.email".into()),
        _ => None,
    }
}
