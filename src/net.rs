//! Where webhooks may go: one home for the URL rules that the checker applies to the source and the
//! interpreter and the HTTP client apply again at run time (LANGUAGE.md §6).
//!
//! - a URL is `https://`, or `http://` to a loopback host for local testing;
//! - its scheme, host and port are literal text, so no contact or answer can choose the server;

/// The host of a URL's authority (`user@host:port` → `host`; `[::1]:9` → `[::1]`).
pub(crate) fn host(authority: &str) -> &str {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rfind(':') {
        Some(i) if !host.ends_with(']') => &host[..i],
        _ => host,
    }
}

/// Hosts that plain `http://` may reach.
pub(crate) fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether a URL may be called: https, or http to a loopback host. Returns the reason it may not.
pub fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("\"{url}\" is not an absolute URL"));
    };
    let host = host(&rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]);
    if host.is_empty() {
        return Err(format!("\"{url}\" has no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!("refusing plain http:// to {host}: only https:// is allowed, except for loopback hosts")),
        other => Err(format!("`{other}://` URLs cannot be called")),
    }
}

/// The literal start of a URL template (the text before its first interpolation), split into scheme
/// and authority, when it holds the whole origin: `scheme://host[:port]` ended by `/`, `?`, `#`, or by
/// the end of a URL that has no interpolation at all.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Origin<'a> {
    /// The scheme (as written) and the authority.
    Literal { scheme: &'a str, authority: &'a str },
    /// The URL starts with an interpolation: the whole address comes from a value.
    NotLiteral,
    /// No `://` in the literal start.
    NoScheme,
    /// An interpolation comes before the path begins: part of the host or port comes from a value.
    HostFromValue { scheme: &'a str },
}

/// Splits the literal start of a URL template. `prefix` is its first literal part (`None` when it
/// starts with an interpolation); `whole` says whether that part is the entire URL.
pub(crate) fn origin(prefix: Option<&str>, whole: bool) -> Origin<'_> {
    let Some(prefix) = prefix else { return Origin::NotLiteral };
    let Some((scheme, rest)) = prefix.split_once("://") else { return Origin::NoScheme };
    match rest.find(['/', '?', '#']) {
        Some(end) => Origin::Literal { scheme, authority: &rest[..end] },
        None if whole => Origin::Literal { scheme, authority: rest },
        None => Origin::HostFromValue { scheme },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://api.example.com/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        assert!(check_url("http://[::1]:9/x").is_ok());
        assert!(check_url("http://example.com/x").unwrap_err().contains("refusing plain http://"));
        assert!(check_url("http://localhost.evil.com/").is_err());
        assert!(check_url("ftp://x.io/").is_err());
        assert!(check_url("/relative").is_err());
        assert!(check_url("https:///nohost").is_err());
    }

    #[test]
    fn the_origin_must_be_literal() {
        assert_eq!(origin(Some("https://a.io/x/"), false), Origin::Literal { scheme: "https", authority: "a.io" });
        assert_eq!(
            origin(Some("https://a.io:8443"), true),
            Origin::Literal { scheme: "https", authority: "a.io:8443" }
        );
        assert_eq!(origin(Some("https://a.io?q="), false), Origin::Literal { scheme: "https", authority: "a.io" });
        assert_eq!(origin(Some("https://"), false), Origin::HostFromValue { scheme: "https" });
        assert_eq!(origin(Some("https://a.io:"), false), Origin::HostFromValue { scheme: "https" });
        assert_eq!(origin(Some("https://api."), false), Origin::HostFromValue { scheme: "https" });
        assert_eq!(origin(None, false), Origin::NotLiteral);
        assert_eq!(origin(Some("api.example.com/"), false), Origin::NoScheme);
    }
}
