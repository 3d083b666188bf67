//! The `flowc` command line: subcommands and exit codes (0 ok, 1 diagnostics, 2 usage or I/O).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostic;

mod check;
mod compile;
mod explain;
mod export;
mod fmt;
mod graph;
mod import;
mod log;
mod out;
mod run;
mod serve;
mod start;
mod test;

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
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
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
    /// Serve triggers (incoming webhooks) and conversations over HTTP, keeping runs in SQLite or PostgreSQL.
    Serve(Box<serve::ServeArgs>),
    /// Start a flow for groups of contacts and lists of URNs on a running server, and follow it.
    Start(Box<start::StartArgs>),
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
    /// Bring flows in from another tool: `flowc import rapidpro EXPORT.json [-o DIR]`.
    Import {
        /// Where the flows come from.
        #[arg(value_enum)]
        from: ImportFormat,
        /// The export (RapidPro/TextIt: spec 13.x or 14.x, or a legacy flow of format 7 to 11.x).
        file: PathBuf,
        /// Write a .flow file per flow into this folder (default: every flow to standard output).
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// The workspace's date order (RapidPro keeps it outside the export): written into each flow.
        #[arg(long, value_name = "ORDER", value_parser = ["day_first", "month_first", "year_first"])]
        dates: Option<String>,
    },
    /// Write flows as an export another tool imports, e.g. `flowc export rapidpro flows/ -o export.json`.
    Export {
        /// Where the flows go.
        #[arg(value_enum)]
        to: ImportFormat,
        /// A .flow file or a folder of them.
        path: PathBuf,
        /// Write the export to this file (default: standard output).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Explain a diagnostic code, e.g. `flowc explain undefined_variable`; without a code, list them.
    /// `flowc explain tests` lists the split tests, `flowc explain has_phone` shows one; `flowc explain
    /// functions` lists the functions, `flowc explain word` shows one.
    Explain {
        /// The code, with or without its `flowc::check::` prefix; `tests`, or a split test's name.
        code: Option<String>,
    },
}

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

/// `--timezone`: an IANA time zone name.
pub(super) fn parse_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    crate::dates::zone(name)
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImportFormat {
    /// A RapidPro or TextIt export.
    Rapidpro,
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
enum CheckFormat {
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
        Command::Check { paths, format, deny_warnings } => check::run(&paths, format, deny_warnings),
        Command::Compile { file } => compile::run(&file),
        Command::Fmt { paths, check } => fmt::run(&paths, check),
        Command::Graph { file, flow, format } => graph::run(&file, flow.as_deref(), format),
        Command::Test { paths, update, format } => test::run(&paths, update, format),
        // The protocol asks for 1 when the client exits without shutting the server down.
        Command::Lsp { stdio: _ } => match crate::lsp::main() {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("flowc lsp: {e}");
                DIAGNOSTICS
            }
        },
        Command::Explain { code } => explain::run(code.as_deref()),
        Command::Import { from: ImportFormat::Rapidpro, file, out, dates } => {
            import::run(&file, out.as_ref(), dates.as_deref())
        }
        Command::Export { to: ImportFormat::Rapidpro, path, out } => export::run(&path, out.as_ref()),
        Command::Run(args) => run::run(*args).unwrap_or_else(|run::RunFailure(message, code)| {
            eprintln!("flowc: {message}");
            code
        }),
        Command::Log { file, db, failed, webhook, json } => log::run(file, db, failed, webhook.as_deref(), json),
        Command::Serve(args) => serve::run(*args),
        Command::Start(args) => start::run(*args),
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

pub(crate) fn report(name: &str, src: &str, diags: &[Diagnostic]) {
    let color = color();
    let mut stderr = std::io::stderr().lock();
    let index = crate::span::LineIndex::new(src);
    for d in diags {
        let _ = write!(stderr, "{}", d.render_indexed(name, src, &index, color));
    }
}
