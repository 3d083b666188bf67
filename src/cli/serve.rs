//! `flowc serve`: its options, the server's settings they make, and the start-up report.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

use super::{DIAGNOSTICS, OK, Route, USAGE, out, parse_route, parse_zone, plural, report};

/// `flowc serve`'s options.
#[derive(clap::Args)]
pub(super) struct ServeArgs {
    /// Files or directories of flows.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Where runs, contacts, messages and the webhook log live: a SQLite file, or a PostgreSQL URL
    /// (postgres://user:password@host:5432/db) for several servers on one database.
    #[arg(long, default_value = "flowc.db")]
    db: PathBuf,
    /// Worker threads handling requests (each blocks while its flow calls a webhook).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    workers: u16,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// Let webhooks reach this network although it is not public (loopback, private, link-local),
    /// e.g. 10.0.0.0/8 or 127.0.0.1/32; repeat for several.
    #[arg(long = "allow-network", value_name = "CIDR", value_delimiter = ',')]
    allow_network: Vec<crate::net::Cidr>,
    /// Delete ended runs, their events and webhook log lines older than this (e.g. 30d, 12h), or
    /// `never`; waiting runs are never deleted.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_retain)]
    retain: Retain,
    /// Do not write a line per request to stderr.
    #[arg(long)]
    no_access_log: bool,
    /// Answer /metrics only with an operator token (FLOWC_API_TOKEN), like the contacts, runs and log.
    #[arg(long)]
    private_metrics: bool,
    /// Connections held at once; past it a connection is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Connections one client address may hold at once (default: a quarter of --max-connections;
    /// behind a reverse proxy, whose address every connection has, set it to --max-connections).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_address: Option<u32>,
    /// Messages delivered at once per channel (each contact's still one at a time, in order).
    #[arg(long, value_name = "N", default_value_t = crate::serve::DEFAULT_OUTBOX_CONCURRENCY as u32,
              value_parser = clap::value_parser!(u32).range(1..=1024))]
    outbox_concurrency: u32,
    /// Runs a second a group start (`POST /starts`, `flowc start`) begins at most; a start may ask for
    /// fewer.
    #[arg(long, value_name = "N", default_value_t = crate::serve::DEFAULT_START_RATE as u32,
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
    start_rate: u32,
    /// Deliver `email` statements through this SMTP relay: smtps://[USER@]HOST[:465] (TLS) or
    /// smtp://[USER@]HOST[:587] (STARTTLS; plain only to a loopback host). The password comes from
    /// FLOWC_SMTP_PASSWORD. Without it e-mails are recorded as events only.
    #[arg(long, value_name = "URL", requires = "smtp_from")]
    smtp: Option<String>,
    /// The From address of the e-mails (`Flows <flows@example.com>` or `flows@example.com`).
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    smtp_from: Option<String>,
    /// Seconds a client has to send a request's headers, and that an idle connection stays open.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Send webhook calls and channel deliveries to URLs starting with FROM to TO instead (staging,
    /// tests), e.g. https://api.telegram.org=http://127.0.0.1:9000; repeat for several.
    #[arg(long = "route", value_name = "FROM=TO", value_parser = parse_route)]
    routes: Vec<Route>,
    /// The URL the server is reached at from outside, e.g. https://bots.example.com: Twilio signs
    /// the full URL it calls (default: rebuilt from the Host and X-Forwarded-Proto headers).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// The time zone of contacts that have none (an IANA name such as Africa/Kigali; default UTC):
    /// where today() begins and dates written by contacts are read.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    timezone: Option<jiff::tz::TimeZone>,
}

/// Serves until SIGTERM, SIGINT or SIGHUP.
pub(super) fn run(args: ServeArgs) -> u8 {
    let ServeArgs {
        paths,
        addr,
        db,
        workers,
        max_body,
        allow_network,
        retain,
        no_access_log,
        private_metrics,
        max_connections,
        max_connections_per_address,
        outbox_concurrency,
        start_rate,
        smtp,
        smtp_from,
        header_timeout,
        body_timeout,
        routes,
        public_url,
        timezone,
    } = args;
    let network = crate::net::NetworkPolicy::allowing(allow_network);
    let mailer = match (smtp, smtp_from) {
        (Some(url), Some(from)) => {
            let password = std::env::var("FLOWC_SMTP_PASSWORD").ok().filter(|p| !p.is_empty());
            match crate::serve::email::Mailer::new(&url, &from, password, &network) {
                Ok(m) => Some(std::sync::Arc::new(m)),
                Err(e) => {
                    eprintln!("flowc: {e}");
                    return USAGE;
                }
            }
        }
        _ => None,
    };
    let config = crate::serve::Config {
        smtp: mailer,
        workers: usize::from(workers),
        max_body,
        network,
        retain: retain.0,
        access_log: !no_access_log,
        max_connections: max_connections as usize,
        header_timeout: std::time::Duration::from_secs(header_timeout),
        body_timeout: std::time::Duration::from_secs(body_timeout),
        handle_signals: true,
        routes: routes.into_iter().map(|Route(from, to)| (from, to)).collect(),
        public_url,
        timezone,
        api_tokens: crate::serve::api_tokens(&std::env::var("FLOWC_API_TOKEN").unwrap_or_default()),
        private_metrics,
        max_connections_per_address: max_connections_per_address.map(|n| n as usize),
        outbox_concurrency: outbox_concurrency as usize,
        start_rate: f64::from(start_rate),
        ..crate::serve::Config::default()
    };
    serve(&paths, &addr, &db, config)
}

/// Operator tokens shorter than this are warned about at start-up.
const MIN_TOKEN_CHARS: usize = 16;

/// `--retain`: how long ended runs are kept.

#[derive(Clone, Copy, Debug)]
struct Retain(Option<std::time::Duration>);

fn parse_retain(s: &str) -> Result<Retain, String> {
    if s == "never" {
        return Ok(Retain(None));
    }
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().map_err(|_| format!("`{s}` is not a duration such as 30d, 12h or never"))?;
    // Minutes and up: a retention in seconds is a typo.
    let unit = &s[digits..];
    let Some(unit_ms) = crate::time::unit_ms(unit).filter(|_| matches!(unit, "m" | "h" | "d")) else {
        return Err(format!("`{s}`: use m, h or d (30d, 12h, 90m), or never"));
    };
    if n == 0 {
        return Err("a retention of 0 would delete runs as they end; use never to keep them".into());
    }
    Ok(Retain(Some(std::time::Duration::from_millis(n.saturating_mul(unit_ms)))))
}

/// The store at `db`: a PostgreSQL URL, or a SQLite file.
pub(super) fn open_store(db: &Path) -> Result<Box<dyn crate::serve::store::Store>, String> {
    use crate::serve::store::{PostgresStore, SqliteStore, Store};
    let url = db.to_str().filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
    let opened = match url {
        Some(url) => PostgresStore::connect(url).map(|s| Box::new(s) as Box<dyn Store>),
        None => SqliteStore::open(db).map(|s| Box::new(s) as Box<dyn Store>),
    };
    opened.map_err(|e| {
        // A URL may carry a password: name only what follows it.
        let shown = match url {
            Some(u) => u.rsplit('@').next().unwrap_or(u).to_string(),
            None => db.display().to_string(),
        };
        format!("cannot open the database {shown}: {e}")
    })
}

fn serve(paths: &[PathBuf], addr: &str, db: &Path, config: crate::serve::Config) -> u8 {
    let files = match crate::project::files(paths, "flow") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    // The same checks as `flowc check` on the same files: what check passes, serve accepts.
    let checked = match crate::project::check(&files) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    for c in &checked {
        report(&c.name, &c.shown, &c.diags);
    }
    if checked.iter().any(|c| c.diags.iter().any(Diagnostic::is_error)) {
        eprintln!("flowc: not serving: fix the errors above (`flowc check` shows them too)");
        return DIAGNOSTICS;
    }
    let programs: Vec<crate::serve::Served> = checked
        .iter()
        .map(|c| crate::serve::Served::from_source(&c.name, &c.src, crate::compile::compile(&c.file)))
        .collect();
    // Every secret a served file names must be there now, not at the first request that needs it.
    let mut missing: Vec<&str> = programs
        .iter()
        .flat_map(|p| p.program().env_names())
        .filter(|name| std::env::var_os(name).is_none_or(|v| v.is_empty()))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        let (these, are, them) = if missing.len() == 1 {
            ("this environment variable", "is", "it")
        } else {
            ("these environment variables", "are", "them")
        };
        eprintln!(
            "flowc: not serving: {these} {are} not set: {} (the served files read secrets from {them}; set {them})",
            missing.join(", ")
        );
        return USAGE;
    }
    let store = match open_store(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let sends_email = programs.iter().any(|p| {
        p.program().flows.iter().any(|f| f.code.iter().any(|i| matches!(i, crate::program::Instr::Email { .. })))
    });
    if sends_email && config.smtp.is_none() {
        eprintln!("flowc: the flows send e-mail, recorded as events only: --smtp and --smtp-from deliver it");
    }
    // Webhook triggers and message triggers (keywords, catchalls) alike.
    let (flow_count, trigger_count) = programs.iter().fold((0, 0), |(f, t), p| {
        let program = p.program();
        (f + program.flows.len(), t + program.triggers.len() + program.message_triggers.len())
    });
    let mut routes: Vec<(String, String, String)> = programs
        .iter()
        .flat_map(|p| {
            let program = p.program();
            program.triggers.iter().map(|t| {
                let flow = format!("flow {}", program.flows[t.flow].name);
                (crate::ast::Method::list(&t.methods, ","), t.suffix.clone(), flow)
            })
        })
        .collect();
    // Then where each channel's messages arrive, and what messages start.
    let mut messages = Vec::new();
    for p in &programs {
        let program = p.program();
        for c in &program.channels {
            routes.push(("POST".into(), c.receive.clone(), format!("channel {}", c.name)));
        }
        for t in &program.message_triggers {
            let what = if t.words.is_empty() {
                "any other message".to_string()
            } else {
                format!("keyword {}", t.words.join(", "))
            };
            let on = t.channel.as_ref().map_or(String::new(), |c| format!(" on {c}"));
            messages.push(format!("  {what}{on} -> flow {}\n", program.flows[t.flow].name));
        }
    }
    // Every connection is a file descriptor: the cap must fit the open-file limit.
    let (cap, notice) = match crate::serve::limits::fit(config.max_connections, config.workers) {
        Ok(fit) => fit,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    if let Some(n) = notice {
        eprintln!("flowc: {n}");
    }
    let config = crate::serve::Config { max_connections: cap, ..config };
    let mail = match &config.smtp {
        Some(m) => format!("  e-mail: {m}\n"),
        None => String::new(),
    };
    // A short token can be guessed: nothing slows down wrong ones (docs/serve.md).
    if let Some(short) = config.api_tokens.iter().map(|t| t.chars().count()).filter(|&n| n < MIN_TOKEN_CHARS).min() {
        eprintln!(
            "flowc: warning: FLOWC_API_TOKEN holds a token of {short} characters, which can be guessed; \
             use {MIN_TOKEN_CHARS} or more random ones (openssl rand -hex 32)"
        );
    }
    let operator = match config.api_tokens.len() {
        0 => "  operator API (contacts, runs, messages, log): closed; set FLOWC_API_TOKEN to open it\n".to_string(),
        n => {
            format!("  operator API (contacts, runs, messages, log): {} (Authorization: Bearer)\n", plural(n, "token"))
        }
    };
    match crate::serve::Server::start(addr, programs, store, config) {
        Ok(server) => {
            // The first line ends with the address (scripts read it); then a line per trigger.
            let mut banner = format!(
                "flowc: serving {} and {} on http://{}\n",
                plural(flow_count, "flow"),
                plural(trigger_count, "trigger"),
                server.addr()
            );
            for (methods, suffix, target) in routes {
                banner.push_str(&format!("  {methods} http://{}{suffix} -> {target}\n", server.addr()));
            }
            banner.extend(messages);
            banner.push_str(&mail);
            banner.push_str(&operator);
            let _ = out::emit(&banner);
            // Until SIGTERM or SIGINT: then requests in flight finish and every step is committed.
            server.wait();
            eprintln!("flowc: stopped");
            OK
        }
        Err(e) => {
            eprintln!("flowc: {e}");
            USAGE
        }
    }
}
