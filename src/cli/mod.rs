//! The `flowc` command line: subcommands and exit codes (0 ok, 1 diagnostics, 2 usage or I/O).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Code, Diagnostic, Severity};

mod out;
mod run;

/// Exit status for success.
const OK: u8 = 0;
/// Exit status when a checked file has errors.
const DIAGNOSTICS: u8 = 1;
/// Exit status for bad arguments or unreadable files.
const USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "flowc",
    version,
    about = "Check, compile and run .flow files: SMS, chat and call-centre automations as text."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and type-check files; a directory means every .flow file below it.
    Check {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Exit 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite files in the one canonical layout (every comment kept); files with syntax errors are left alone.
    Fmt {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Change nothing: name the files that are not formatted and exit 1 if there are any. A file is
        /// formatted when it is byte for byte what fmt would write, in its own line endings (CRLF stays
        /// CRLF) and with its byte-order mark if it has one.
        #[arg(long)]
        check: bool,
    },
    /// Run flow tests (NAME.flowtest beside NAME.flow) against their golden transcripts.
    Test {
        /// Test files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Rewrite the golden files with what the runs do now.
        #[arg(long)]
        update: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TestFormat::Human)]
        format: TestFormat,
    },
    /// Run the language server on standard input and output (for editors).
    Lsp {
        /// Talk over standard input and output: the only transport, accepted because clients pass it.
        #[arg(long)]
        stdio: bool,
    },
    /// Draw a flow: steps, waits, webhooks, splits and their edges, as Mermaid or Graphviz DOT.
    Graph {
        /// The .flow file.
        file: PathBuf,
        /// Which flow (default: every flow of the file).
        #[arg(long)]
        flow: Option<String>,
        /// The diagram language.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the compiled program as stable, pretty JSON.
    Compile {
        /// The .flow file.
        file: PathBuf,
    },
    /// Run a flow in the simulator: replies from --input or the terminal, webhooks from --mock or the network.
    Run(Box<run::RunArgs>),
    /// Serve triggers (incoming webhooks) and conversations over HTTP, keeping runs in SQLite.
    Serve {
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
    },
    /// Show the webhook log as a table.
    Log {
        /// The log file (default: ~/.local/state/flowc/webhooks.jsonl).
        file: Option<PathBuf>,
        /// Read the log of `flowc serve` from its database instead.
        #[arg(long, conflicts_with = "file")]
        db: Option<PathBuf>,
        /// Only failed attempts.
        #[arg(long)]
        failed: bool,
        /// Only this webhook.
        #[arg(long, value_name = "NAME")]
        webhook: Option<String>,
        /// Print the entries as JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Explain a diagnostic code, e.g. `flowc explain undefined_variable`; without a code, list them.
    Explain {
        /// The code, with or without its `flowc::check::` prefix.
        code: Option<String>,
    },
}

/// `--retain`: how long ended runs are kept.
/// `--route FROM=TO`: calls to URLs that start with FROM go to TO instead.
#[derive(Clone, Debug)]
pub(crate) struct Route(pub(crate) String, pub(crate) String);

pub(crate) fn parse_route(s: &str) -> Result<Route, String> {
    let Some((from, to)) = s.split_once('=') else {
        return Err(format!("`{s}`: give FROM=TO URL prefixes, e.g. https://api.telegram.org=http://127.0.0.1:9000"));
    };
    if from.is_empty() {
        return Err(format!("`{s}`: FROM is empty"));
    }
    crate::net::check_url(to).map_err(|e| format!("`{s}`: {e}"))?;
    Ok(Route(from.to_string(), to.to_string()))
}

#[derive(Clone, Copy, Debug)]
struct Retain(Option<std::time::Duration>);

/// `--timezone`: an IANA time zone name.
pub(super) fn parse_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    crate::dates::zone(name)
}

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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TestFormat {
    /// A line per test, a diff per failure.
    Human,
    /// JUnit XML on standard output, for CI dashboards.
    Junit,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// Mermaid `flowchart` (renders on GitHub in Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Rendered reports with source excerpts.
    Human,
    /// A JSON array with one object per diagnostic.
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version as clap writes them; a bad argument on one line, as flowc's own errors.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(OK);
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(USAGE);
        }
        Err(e) => {
            eprintln!("flowc: {}", one_line_error(&e.render().to_string()));
            return ExitCode::from(USAGE);
        }
    };
    // Parsing and checking recurse on nesting (bounded at 100 levels); a generous stack keeps that far
    // from the limit on every platform.
    let worker = std::thread::Builder::new().stack_size(64 << 20).spawn(move || run(cli));
    let code = match worker.map(|h| h.join()) {
        Ok(Ok(_)) if out::failed() => USAGE,
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("flowc: internal error");
            USAGE
        }
    };
    ExitCode::from(code)
}

fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check { paths, format, deny_warnings } => check(&paths, format, deny_warnings),
        Command::Compile { file } => compile(&file),
        Command::Fmt { paths, check } => fmt(&paths, check),
        Command::Graph { file, flow, format } => graph(&file, flow.as_deref(), format),
        Command::Test { paths, update, format } => flow_tests(&paths, update, format),
        // The protocol asks for 1 when the client exits without shutting the server down.
        Command::Lsp { stdio: _ } => match crate::lsp::main() {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("flowc lsp: {e}");
                DIAGNOSTICS
            }
        },
        Command::Explain { code } => explain(code.as_deref()),
        Command::Run(args) => run::run(*args).unwrap_or_else(|run::Failure(message, code)| {
            eprintln!("flowc: {message}");
            code
        }),
        Command::Log { file, db, failed, webhook, json } => show_log(file, db, failed, webhook.as_deref(), json),
        Command::Serve {
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
            smtp,
            smtp_from,
            header_timeout,
            body_timeout,
            routes,
            public_url,
            timezone,
        } => {
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
                ..crate::serve::Config::default()
            };
            serve(&paths, &addr, &db, config)
        }
    }
}

/// clap's error text on one line: the message, then its tips in parentheses; the usage line and the
/// pointer to `--help` are left out.
fn one_line_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let tips: Vec<&str> = lines
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(|l| l.strip_prefix("tip: ").unwrap_or(l))
        .collect();
    match (tips.is_empty(), message.ends_with(':')) {
        (true, _) => message.to_string(),
        // "the following required arguments were not provided:" and their names.
        (false, true) => format!("{message} {}", tips.join(", ")),
        (false, false) => format!("{message} ({})", tips.join("; ")),
    }
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Every `.flow` file named or below a named directory, in a stable order, each once (`a.flow ./a.flow`
/// and a file inside a named directory are one file).
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = collect_all(paths)?;
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

fn collect_all(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {}", p.display(), io_reason(&e)))?;
        if meta.is_dir() {
            let before = out.len();
            walk(p, &mut out).map_err(|e| format!("cannot read {}: {}", p.display(), io_reason(&e)))?;
            if out.len() == before {
                return Err(format!("no .flow files found under {}", p.display()));
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
    Ok(())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// Reads a `.flow` file: its text, or the text with what is not UTF-8 replaced and the diagnostic that
/// says so. Only a file that cannot be read at all is an error.
pub(crate) fn read(path: &Path) -> Result<Result<String, Box<(String, Diagnostic)>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    Ok(crate::syntax::decode(bytes))
}

/// A file read and checked as part of the project it was given with.
struct Checked {
    /// The path as shown in messages.
    name: String,
    /// The text (with what is not UTF-8 replaced).
    src: String,
    /// The text with literal secrets masked, for rendering.
    shown: String,
    file: crate::ast::SourceFile,
    /// The file's diagnostics and the project's about it, sorted.
    diags: Vec<Diagnostic>,
}

/// Reads and checks `files` as one project: each file on its own, then the rules across files that
/// `flowc serve` enforces (docs/language.md §8). Only a file that cannot be read at all is an error.
fn check_project(files: &[PathBuf]) -> Result<Vec<Checked>, String> {
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let (src, file, diags) = match read(path)? {
            Ok(src) => {
                let (file, diags) = crate::check_source(&src);
                (src, file, diags)
            }
            Err(invalid) => {
                let (text, diag) = *invalid;
                (text, crate::ast::SourceFile::default(), vec![diag])
            }
        };
        let shown = crate::diagnostic::mask(&src, &crate::secret_spans(&file));
        out.push(Checked { name, src, shown, file, diags });
    }
    let views: Vec<crate::check::ProjectFile<'_>> =
        out.iter().map(|c| crate::check::ProjectFile { name: &c.name, src: &c.src, file: &c.file }).collect();
    let across = crate::check::project(&views);
    for (checked, mut more) in out.iter_mut().zip(across) {
        if !more.is_empty() {
            checked.diags.append(&mut more);
            crate::diagnostic::sort(&mut checked.diags);
        }
    }
    Ok(out)
}

fn check(paths: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let checked = match collect(paths).and_then(|files| check_project(&files)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let mut json = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    let color = color();
    let mut stderr = std::io::stderr().lock();
    for Checked { name, src, shown, diags, .. } in &checked {
        let index = crate::span::LineIndex::new(src);
        for d in diags {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            match format {
                Format::Human => {
                    let _ = write!(stderr, "{}", d.render_indexed(name, shown, &index, color));
                }
                Format::Json | Format::Github | Format::Sarif => json.push(d.to_json(name, src, &index)),
            }
        }
    }
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".into());
            if let Err(status) = out::emit(&(text + "\n")) {
                return status;
            }
        }
        Format::Github => {
            let text: String = json.iter().map(crate::report::github).collect();
            if let Err(status) = out::emit(&text) {
                return status;
            }
        }
        Format::Sarif => {
            let text = serde_json::to_string_pretty(&crate::report::sarif(&json)).unwrap_or_default();
            if let Err(status) = out::emit(&(text + "\n")) {
                return status;
            }
        }
        Format::Human => {
            let _ = writeln!(stderr, "{}", summary(checked.len(), errors, warnings));
        }
    }
    if errors > 0 || (deny_warnings && warnings > 0) { DIAGNOSTICS } else { OK }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    format!("checked {}: {}, {}", plural(files, "file"), plural(errors, "error"), plural(warnings, "warning"))
}

pub(crate) fn report(name: &str, src: &str, diags: &[Diagnostic]) {
    let color = color();
    let mut stderr = std::io::stderr().lock();
    let index = crate::span::LineIndex::new(src);
    for d in diags {
        let _ = write!(stderr, "{}", d.render_indexed(name, src, &index, color));
    }
}

/// A file read and compiled, with what diagnostics may show of it.
pub(crate) struct Loaded {
    /// The path as shown in messages.
    pub(crate) name: String,
    /// The source with literal secrets masked, for rendering diagnostics.
    pub(crate) shown: String,
    /// The program and its warnings, or every diagnostic.
    pub(crate) result: Result<(crate::program::Program, Vec<Diagnostic>), Vec<Diagnostic>>,
}

/// Reads and compiles a file (an unreadable file is the error).
pub(crate) fn load(path: &Path) -> Result<Loaded, String> {
    let name = path.display().to_string();
    match read(path)? {
        Ok(src) => {
            let shown = crate::diagnostic::mask(&src, &crate::secret_spans(&crate::syntax::parse(&src).0));
            Ok(Loaded { name, shown, result: crate::compile_source(&src) })
        }
        Err(invalid) => {
            let (shown, diag) = *invalid;
            Ok(Loaded { name, shown, result: Err(vec![diag]) })
        }
    }
}

fn compile(path: &Path) -> u8 {
    let Loaded { name, shown, result } = match load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    match result {
        Ok((program, warnings)) => {
            report(&name, &shown, &warnings);
            // The review format, with each instruction's source line (literal secrets masked).
            match serde_json::to_string_pretty(&crate::compile::review(&program, &shown)) {
                Ok(json) => match out::emit(&(json + "\n")) {
                    Ok(()) => OK,
                    Err(status) => status,
                },
                Err(e) => {
                    eprintln!("flowc: cannot print the program: {e}");
                    USAGE
                }
            }
        }
        Err(diags) => {
            report(&name, &shown, &diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            eprintln!("flowc: {} not compiled: {}", name, plural(errors, "error"));
            DIAGNOSTICS
        }
    }
}

/// The store at `db`: a PostgreSQL URL, or a SQLite file.
fn open_store(db: &Path) -> Result<Box<dyn crate::serve::store::Store>, String> {
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

/// Whether `path` is an SQLite database (its header), such as `flowc serve`'s `flowc.db`.
fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).is_ok() && &header == b"SQLite format 3\0"
}

fn show_log(file: Option<PathBuf>, db: Option<PathBuf>, failed: bool, webhook: Option<&str>, json: bool) -> u8 {
    // `flowc log flowc.db` or a PostgreSQL URL means the server's log; so does a bare `flowc log` where
    // there is no log of `flowc run` but a `flowc.db` here.
    let (file, db) = match (file, db) {
        (Some(f), None)
            if is_sqlite(&f)
                || f.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://")) =>
        {
            (None, Some(f))
        }
        (None, None) if !crate::webhook_log::default_path().exists() && Path::new("flowc.db").is_file() => {
            eprintln!("flowc: reading the log of flowc serve's database flowc.db (give a file or --db to choose)");
            (None, Some(PathBuf::from("flowc.db")))
        }
        other => other,
    };
    let (entries, skipped) = if let Some(db) = db {
        let is_url = db.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
        if !is_url && !db.exists() {
            eprintln!("flowc: cannot read {}: no such file or directory", db.display());
            return USAGE;
        }
        match open_store(&db).and_then(|s| s.read_log(webhook, failed, 10_000).map_err(|e| e.to_string())) {
            Ok(mut entries) => {
                entries.reverse();
                (entries, 0)
            }
            Err(e) => {
                eprintln!("flowc: cannot read the webhook log: {e}");
                return USAGE;
            }
        }
    } else {
        let named = file.is_some();
        let path = file.unwrap_or_else(crate::webhook_log::default_path);
        match crate::webhook_log::read(&path) {
            Ok(r) => r,
            Err(e) if !named && e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "flowc: no webhook log yet: flowc run writes {}; for flowc serve's, give its database (flowc log --db flowc.db)",
                    path.display()
                );
                return USAGE;
            }
            Err(e) => {
                eprintln!("flowc: cannot read the webhook log {}: {}", path.display(), io_reason(&e));
                return USAGE;
            }
        }
    };
    let shown: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| !failed || crate::webhook_log::failed(e))
        .filter(|e| webhook.is_none_or(|w| e["webhook"].as_str() == Some(w)))
        .collect();
    let written = if json {
        shown.iter().take_while(|_| !out::closed()).try_for_each(|e| out::emit(&format!("{e}\n")))
    } else {
        out::emit(&crate::webhook_log::table(&shown))
    };
    if let Err(status) = written {
        return status;
    }
    if skipped > 0 {
        let what = if skipped == 1 { "is not a log entry" } else { "are not log entries" };
        eprintln!("flowc: skipped {} that {what}", plural(skipped, "line"));
    }
    OK
}

fn serve(paths: &[PathBuf], addr: &str, db: &Path, config: crate::serve::Config) -> u8 {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    // The same checks as `flowc check` on the same files: what check passes, serve accepts.
    let checked = match check_project(&files) {
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

/// `flowc fmt`: formats each file in place (written to a temporary file beside it, then renamed over
/// it, so a crash never leaves half a file), or with `--check` names those that would change.
fn fmt(paths: &[PathBuf], check: bool) -> u8 {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let (mut refused, mut changed) = (0usize, 0usize);
    for path in &files {
        let name = path.display().to_string();
        let src = match read(path) {
            Ok(Ok(src)) => src,
            Ok(Err(invalid)) => {
                let (text, diag) = *invalid;
                report(&name, &text, &[diag]);
                refused += 1;
                continue;
            }
            Err(e) => {
                eprintln!("flowc: {e}");
                return USAGE;
            }
        };
        let formatted = match crate::fmt::format(&src) {
            Ok(f) => f,
            Err(crate::fmt::FmtError::Syntax(diags)) => {
                report(&name, &src, &diags);
                eprintln!("flowc: not formatting {name}: fix its syntax errors first");
                refused += 1;
                continue;
            }
        };
        if formatted == src {
            continue;
        }
        changed += 1;
        if check {
            eprintln!("{name}: not formatted");
            continue;
        }
        if let Err(e) = write_atomically(path, &formatted) {
            eprintln!("flowc: cannot write {name}: {e}");
            return USAGE;
        }
    }
    let verb = if check { "would reformat" } else { "reformatted" };
    eprintln!("flowc fmt: {verb} {} of {}", plural(changed, "file"), plural(files.len(), "file"));
    if refused > 0 || (check && changed > 0) { DIAGNOSTICS } else { OK }
}

/// `.flowtest` files named or below named directories, in order.
fn collect_tests(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {}", p.display(), io_reason(&e)))?;
        if meta.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| e.to_string())?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for path in entries {
                    let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    if path.is_dir() && !hidden && !path.ends_with("target") {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "flowtest") {
                        out.push(path);
                    }
                }
            }
        } else if p.extension().is_some_and(|e| e == "flow") {
            return Err(format!(
                "{} is a flow; give its tests, {}",
                p.display(),
                p.with_extension("flowtest").display()
            ));
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `flowc test`: runs the test files on all cores, compares each with its golden file, prints a diff
/// per mismatch (or rewrites the golden files with `--update`), and exits 1 when any test failed.
fn flow_tests(paths: &[PathBuf], update: bool, format: TestFormat) -> u8 {
    let paths = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    let files = match collect_tests(&paths) {
        Ok(f) if f.is_empty() => {
            eprintln!(
                "flowc: no .flowtest files found under {}",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            return USAGE;
        }
        Ok(f) => f,
        Err(e) => {
            eprintln!("flowc: {e}");
            return USAGE;
        }
    };
    let reports: Vec<crate::flowtest::FileReport> =
        crate::parallel::map_each(&files, |path| crate::flowtest::run_file(path));
    let (mut passed, mut failed, mut held) = (0usize, 0usize, 0usize);
    let mut human = String::new();
    let mut judged = Vec::new();
    for report in reports {
        let mut failures: Vec<Option<String>> = Vec::new();
        let name = report.path.display().to_string();
        if let Some(e) = &report.error {
            failed += 1;
            human.push_str(&format!("FAILED {name}: {e}\n"));
            judged.push((report, failures));
            continue;
        }
        let golden_path = report.golden_path();
        let expected = std::fs::read_to_string(&golden_path).ok();
        let got = report.golden_text();
        let broken: Vec<&str> =
            report.outcomes.iter().filter(|o| o.transcript.is_err()).map(|o| o.name.as_str()).collect();
        if update && !broken.is_empty() {
            // A test that cannot run is not a transcript to keep.
            for o in report.outcomes.iter().filter(|o| o.transcript.is_err()) {
                failed += 1;
                human.push_str(&format!(
                    "FAILED {name}: {}\n{}\n",
                    o.name,
                    o.transcript.as_ref().err().map_or("", String::as_str)
                ));
            }
            let others = report.outcomes.len() - broken.len();
            held += others;
            human.push_str(&format!(
                "not updated: {} (a test that cannot run is not written, and the file's other {} wait for it)\n",
                golden_path.display(),
                plural(others, "test")
            ));
            failures = report.outcomes.iter().map(|o| o.transcript.as_ref().err().cloned()).collect();
            judged.push((report, failures));
            continue;
        }
        if update {
            if expected.as_deref() != Some(got.as_str())
                && let Err(e) = write_atomically(&golden_path, &got)
            {
                eprintln!("flowc: cannot write {}: {e}", golden_path.display());
                return USAGE;
            }
            passed += report.outcomes.len();
            human.push_str(&format!("updated {} ({})\n", golden_path.display(), plural(report.outcomes.len(), "test")));
            failures = vec![None; report.outcomes.len()];
            judged.push((report, failures));
            continue;
        }
        // Compare test by test: each `=== name` section of the golden file.
        let sections = split_sections(expected.as_deref().unwrap_or_default());
        for o in &report.outcomes {
            let mut mine = String::new();
            match &o.transcript {
                Ok(t) => mine.push_str(t),
                Err(e) => mine.push_str(&format!("error: {e}\n")),
            }
            let mismatch = match (&expected, sections.get(o.name.as_str())) {
                // A test that cannot run fails with the reason, golden file or not.
                _ if o.transcript.is_err() => o.transcript.as_ref().err().map(|e| format!("{e}\n")),
                (None, _) => Some(format!("no golden file {}; run `flowc test --update`\n", golden_path.display())),
                (_, None) => Some("not in the golden file; run `flowc test --update`\n".to_string()),
                (_, Some(want)) if !same_lines(want, &mine) => Some(crate::flowtest::diff(want, &mine)),
                _ => None,
            };
            match &mismatch {
                None => {
                    passed += 1;
                    human.push_str(&format!("ok     {name}: {}\n", o.name));
                }
                Some(d) => {
                    failed += 1;
                    human.push_str(&format!("FAILED {name}: {}\n{d}", o.name));
                }
            }
            failures.push(mismatch);
        }
        judged.push((report, failures));
    }
    let written = match format {
        TestFormat::Human => {
            human.push_str(&format!("{passed} passed, {failed} failed"));
            if held > 0 {
                human.push_str(&format!(", {held} not updated"));
            }
            human.push('\n');
            out::emit(&human)
        }
        TestFormat::Junit => out::emit(&crate::flowtest::junit(&judged)),
    };
    if let Err(status) = written {
        return status;
    }
    if failed > 0 { DIAGNOSTICS } else { OK }
}

/// Whether two transcripts say the same, whatever spaces end their lines (editors strip them).
fn same_lines(a: &str, b: &str) -> bool {
    a.trim_end().lines().map(str::trim_end).eq(b.trim_end().lines().map(str::trim_end))
}

/// The sections of a golden file by test name (`=== name` lines start them).
fn split_sections(text: &str) -> std::collections::HashMap<&str, String> {
    let mut out = std::collections::HashMap::new();
    let mut current: Option<&str> = None;
    let mut body = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ").map(str::trim) {
            if let Some(c) = current.take() {
                out.insert(c, std::mem::take(&mut body));
            }
            current = Some(name);
        } else if current.is_some() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some(c) = current {
        out.insert(c, body);
    }
    out
}

/// `flowc graph`: the diagram of one flow, or of each flow of the file in turn. A file with syntax
/// errors is refused; check errors do not stop the picture (it helps to find them).
fn graph(path: &Path, flow: Option<&str>, format: GraphFormat) -> u8 {
    let name = path.display().to_string();
    let src = match read(path) {
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

/// Replaces `path` with `text` through a temporary file in the same folder and a rename.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.flowc-fmt-{}", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn explain(code: Option<&str>) -> u8 {
    let Some(code) = code else {
        let mut text = String::from("Diagnostic codes (flowc explain CODE shows one):\n\n");
        for c in Code::ALL {
            text += &format!("  {:<42} {:<8} {}\n", c.as_str(), c.severity().as_str(), c.summary());
        }
        return out::emit(&text).map_or_else(|status| status, |()| OK);
    };
    match Code::lookup(code) {
        Some(c) => out::emit(c.page()).map_or_else(|status| status, |()| OK),
        None => {
            let names = Code::ALL.iter().map(|c| c.as_str().rsplit("::").next().unwrap_or(""));
            match crate::diagnostic::did_you_mean(code.rsplit("::").next().unwrap_or(code), names) {
                Some(s) => {
                    eprintln!("flowc: unknown code `{code}`; did you mean `{s}`? (`flowc explain` lists all codes)")
                }
                None => eprintln!("flowc: unknown code `{code}` (`flowc explain` lists all codes)"),
            }
            USAGE
        }
    }
}
