//! Where webhooks may go: one home for the URL rules that the checker applies to the source and the
//! interpreter and the HTTP client apply again at run time (docs/language.md §6).
//!
//! - a URL is `https://`, or `http://` to a loopback host for local testing;
//! - its scheme, host and port are literal text, so no contact or answer can choose the server;
//! - `flowc serve` connects only to public addresses unless `--allow-network CIDR` names the network
//!   ([`NetworkPolicy`], checked on the resolved address of every connection and redirect).

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

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
pub(crate) enum UrlOrigin<'a> {
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
pub(crate) fn origin(prefix: Option<&str>, whole: bool) -> UrlOrigin<'_> {
    let Some(prefix) = prefix else { return UrlOrigin::NotLiteral };
    let Some((scheme, rest)) = prefix.split_once("://") else { return UrlOrigin::NoScheme };
    match rest.find(['/', '?', '#']) {
        Some(end) => UrlOrigin::Literal { scheme, authority: &rest[..end] },
        None if whole => UrlOrigin::Literal { scheme, authority: rest },
        None => UrlOrigin::HostFromValue { scheme },
    }
}

/// How an incoming header's name is read in `@trigger.headers`: lower case, `-` as `_`
/// (`X-Request-Id` → `x_request_id`). The checker, the server and the simulator all use it.
pub fn header_key(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Whether a header may be sent as it is: the name is an RFC 9110 token and the value holds only
/// visible ASCII, spaces and tabs (no CR or LF that would split the answer, no NUL). Answers built from
/// request data (`respond` headers) go through it; a header that fails is dropped.
pub fn header_ok(name: &str, value: &str) -> bool {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty() && name.bytes().all(token) && value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// The paths `flowc serve` answers itself, by first segment, and what it serves there. A trigger's
/// suffix may not take one (the checker refuses it: the trigger would never be reached). `metrics` and
/// `channels` are reserved for the server's metrics and channel webhooks.
pub const SERVER_PATHS: &[(&str, &str)] = &[
    ("healthz", "health check"),
    ("readyz", "readiness check"),
    ("log", "webhook log"),
    ("runs", "run API (`GET /runs/{id}`)"),
    ("flows", "conversation API (`POST /flows/{name}/runs`)"),
    ("contacts", "contact API (`POST /contacts/{id}/messages`)"),
    ("metrics", "metrics"),
    ("channels", "channel webhooks"),
    ("starts", "group starts (`POST /starts`)"),
    ("ui", "the console"),
];

/// What the server itself answers at a trigger suffix such as `/runs/x`, if anything.
pub fn server_path(suffix: &str) -> Option<&'static str> {
    let first = suffix.trim_start_matches('/').split('/').next()?;
    SERVER_PATHS.iter().find(|(segment, _)| segment.eq_ignore_ascii_case(first)).map(|&(_, what)| what)
}

/// A network in CIDR notation: `10.0.0.0/8`, `fd00::/8`; a bare address is a network of one. A port
/// after it (`127.0.0.1:8081`, `10.0.0.0/8:443`, `[::1]:8080`, `[fd00::]/8:443`) allows that port only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
    port: Option<u16>,
}

/// `s` without a `:PORT` at its end, and the port. A port is read only where it cannot be part of an
/// IPv6 address: after an IPv4 address or network, a `]`, or a `/PREFIX`.
fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let Some((before, after)) = s.rsplit_once(':') else { return Ok((s, None)) };
    let ipv4 = before.contains('.') && !before.contains(':');
    if !(after.bytes().all(|b| b.is_ascii_digit())
        && !after.is_empty()
        && (ipv4 || before.ends_with(']') || before.contains('/')))
    {
        return Ok((s, None));
    }
    match after.parse::<u16>() {
        Ok(port) if port > 0 => Ok((before, Some(port))),
        _ => Err(format!("`{s}`: the port must be a number from 1 to 65535")),
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(whole: &str) -> Result<Self, String> {
        let (s, port) = split_port(whole)?;
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr =
            addr.trim_matches(['[', ']']).parse().map_err(|_| format!("`{s}` is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("`{s}`: the prefix length must be a number from 0 to {max}")),
            },
        };
        // An IPv4 network written in IPv6 (`::ffff:10.0.0.0/104`) is that IPv4 network, as the
        // addresses it is compared with are.
        match (addr, canonical(addr)) {
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) if prefix >= 96 => Ok(Cidr { addr: v4, prefix: prefix - 96, port }),
            _ => Ok(Cidr { addr, prefix, port }),
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.port, self.addr) {
            (None, _) => write!(f, "{}/{}", self.addr, self.prefix),
            (Some(port), IpAddr::V4(_)) => write!(f, "{}/{}:{port}", self.addr, self.prefix),
            (Some(port), IpAddr::V6(_)) => write!(f, "[{}]/{}:{port}", self.addr, self.prefix),
        }
    }
}

impl Cidr {
    /// Whether `ip` is in this network (an IPv4 address also matches in its IPv4-mapped IPv6 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ip = canonical(ip);
        let (net, width) = bits(self.addr);
        let (addr, addr_width) = bits(ip);
        if width != addr_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (addr >> shift)
    }
}

/// Which addresses outgoing calls may reach. The default refuses every address that is not public
/// (loopback, private, link-local, shared, unspecified, multicast, reserved), as RapidPro's mailroom
/// does; `allow` names networks that may be reached anyway (a webhook inside your own network).
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    allow: Vec<Cidr>,
}

impl NetworkPolicy {
    /// A policy that also lets calls reach the networks in `allow`.
    pub fn allowing(allow: Vec<Cidr>) -> Self {
        NetworkPolicy { allow }
    }

    /// Why a call may not connect to `to`, or `None` when it may: a rule with a port allows that
    /// port only (a redirect to another port of an allowed host is refused).
    pub fn refusal(&self, to: std::net::SocketAddr) -> Option<String> {
        let ip = to.ip();
        let reached = canonical(ip);
        let kind = restricted(reached)?;
        if self.allow.iter().any(|net| net.contains(ip) && net.port.is_none_or(|p| p == to.port())) {
            return None;
        }
        let one = if reached.is_ipv4() { 32 } else { 128 };
        Some(format!("refused: {reached} is a {kind} address (allow it with `--allow-network {reached}/{one}`)"))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`, NAT64's `64:ff9b::10.0.0.1`) as the IPv4
/// address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, if it is one.
fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if a == 0 {
                Some("unspecified")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if v4.is_broadcast() || a >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_unique_local() || first & 0xffc0 == 0xfec0 {
                Some("private")
            } else if v6.is_unicast_link_local() {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ip` on a port that no rule names.
    fn any_port(ip: IpAddr) -> std::net::SocketAddr {
        std::net::SocketAddr::new(ip, 0)
    }

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
    fn only_public_addresses_unless_allowed() {
        let policy = NetworkPolicy::default();
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(policy.refusal(any_port(ip)).is_some(), "{ip} must be refused");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(policy.refusal(any_port(ip)), None, "{ip} is public");
        }
        let message = policy.refusal(any_port("169.254.169.254".parse().unwrap())).unwrap();
        assert_eq!(
            message,
            "refused: 169.254.169.254 is a link-local address (allow it with `--allow-network 169.254.169.254/32`)"
        );
        let allowed = NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]);
        assert_eq!(allowed.refusal(any_port("127.0.0.1".parse().unwrap())), None);
        assert_eq!(allowed.refusal(any_port("::ffff:127.0.0.1".parse().unwrap())), None);
        assert_eq!(allowed.refusal(any_port("10.200.0.1".parse().unwrap())), None);
        assert!(allowed.refusal(any_port("127.0.0.2".parse().unwrap())).is_some());
        assert!(allowed.refusal(any_port("192.168.0.1".parse().unwrap())).is_some());
        // The advice works for addresses written in IPv6 too.
        let mapped = policy.refusal(any_port("::ffff:10.0.0.5".parse().unwrap())).unwrap();
        assert!(mapped.contains("`--allow-network 10.0.0.5/32`"), "{mapped}");
        let from_advice = NetworkPolicy::allowing(vec!["10.0.0.5/32".parse().unwrap()]);
        assert_eq!(from_advice.refusal(any_port("::ffff:10.0.0.5".parse().unwrap())), None);
        let written_in_v6 = NetworkPolicy::allowing(vec!["::ffff:10.0.0.0/104".parse().unwrap()]);
        assert_eq!(written_in_v6.refusal(any_port("10.1.2.3".parse().unwrap())), None);
    }

    #[test]
    fn a_rule_with_a_port_allows_that_port_only() {
        let at = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        let policy = NetworkPolicy::allowing(
            ["127.0.0.1:8081", "10.0.0.0/8:443", "[::1]:8080", "[fd00::]/8:443"]
                .iter()
                .map(|r| r.parse().unwrap())
                .collect(),
        );
        assert_eq!(policy.refusal(at("127.0.0.1:8081")), None);
        assert!(policy.refusal(at("127.0.0.1:5432")).is_some(), "another port of an allowed host");
        assert_eq!(policy.refusal(at("10.1.2.3:443")), None);
        assert!(policy.refusal(at("10.1.2.3:80")).is_some());
        assert_eq!(policy.refusal(at("[::1]:8080")), None);
        assert!(policy.refusal(at("[::1]:8081")).is_some());
        assert_eq!(policy.refusal(at("[fd00::5]:443")), None);
        // Without a port a rule allows every port; bare IPv6 addresses keep their colons.
        let any = NetworkPolicy::allowing(vec!["127.0.0.1/32".parse().unwrap(), "::1".parse().unwrap()]);
        assert_eq!(any.refusal(at("127.0.0.1:5432")), None);
        assert_eq!(any.refusal(at("[::1]:22")), None);
        assert_eq!("10.0.0.0/8:443".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8:443");
        assert!("127.0.0.1:0".parse::<Cidr>().is_err());
        assert!("127.0.0.1:70000".parse::<Cidr>().is_err());
    }

    #[test]
    fn networks_parse_or_say_why_not() {
        assert_eq!("10.0.0.0/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8");
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert_eq!("[::1]/128".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("192.168.1.1".parse().unwrap()));
        assert!("::/0".parse::<Cidr>().unwrap().contains("fd00::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().unwrap_err().contains("0 to 32"));
        assert!("localhost".parse::<Cidr>().unwrap_err().contains("not an IP address"));
    }

    #[test]
    fn headers_that_could_split_an_answer_are_refused() {
        assert!(header_ok("X-Order", "A1 b\tc"));
        assert!(!header_ok("X-Order", "1\r\nSet-Cookie: s=evil"));
        assert!(!header_ok("X-Order", "caf\u{e9}"));
        assert!(!header_ok("X Order", "1"));
        assert!(!header_ok("X-Order:", "1"));
        assert!(!header_ok("", "1"));
    }

    #[test]
    fn the_origin_must_be_literal() {
        assert_eq!(origin(Some("https://a.io/x/"), false), UrlOrigin::Literal { scheme: "https", authority: "a.io" });
        assert_eq!(
            origin(Some("https://a.io:8443"), true),
            UrlOrigin::Literal { scheme: "https", authority: "a.io:8443" }
        );
        assert_eq!(origin(Some("https://a.io?q="), false), UrlOrigin::Literal { scheme: "https", authority: "a.io" });
        assert_eq!(origin(Some("https://"), false), UrlOrigin::HostFromValue { scheme: "https" });
        assert_eq!(origin(Some("https://a.io:"), false), UrlOrigin::HostFromValue { scheme: "https" });
        assert_eq!(origin(Some("https://api."), false), UrlOrigin::HostFromValue { scheme: "https" });
        assert_eq!(origin(None, false), UrlOrigin::NotLiteral);
        assert_eq!(origin(Some("api.example.com/"), false), UrlOrigin::NoScheme);
    }
}
