//! `flowc start`: a group start on a running `flowc serve`, through its operator API (`POST /starts`),
//! followed until it ends (docs/serve.md, "Group starts").

use std::time::Duration;

use serde_json::{Value, json};

use super::{DIAGNOSTICS, OK, USAGE, out};

/// What to start, for whom, and on which server.
#[derive(clap::Args)]
pub(super) struct StartArgs {
    /// The flow to start.
    flow: String,
    /// Start it for the contacts of this group (repeat for several).
    #[arg(long = "group", value_name = "NAME")]
    groups: Vec<String>,
    /// Start it for this contact (repeat for several); a URN nothing knows yet becomes a contact.
    #[arg(long = "urn", value_name = "URN")]
    urns: Vec<String>,
    /// Read more URNs from this file, one a line (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    urns_from: Option<std::path::PathBuf>,
    /// Stop the run a contact is in and start this one (by default such contacts are skipped).
    #[arg(long)]
    interrupt: bool,
    /// Runs a second at most (the server's --start-rate caps it).
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// The channel of the contacts the start creates.
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
    /// The server (its operator token from FLOWC_API_TOKEN).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Print the start as the server took it and return, without following it.
    #[arg(long)]
    no_wait: bool,
}

pub(super) fn run(args: StartArgs) -> u8 {
    let mut urns = args.urns.clone();
    if let Some(path) = &args.urns_from {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                Ok(_) => s,
                Err(e) => {
                    eprintln!("flowc: cannot read standard input: {e}");
                    return USAGE;
                }
            }
        } else {
            match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("flowc: cannot read {}: {}", path.display(), crate::project::io_reason(&e));
                    return USAGE;
                }
            }
        };
        urns.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    if args.groups.is_empty() && urns.is_empty() {
        eprintln!("flowc: give the contacts to start: --group NAME, --urn URN or --urns-from FILE");
        return USAGE;
    }
    let token = std::env::var("FLOWC_API_TOKEN").unwrap_or_default();
    let token = token.split(',').next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        eprintln!("flowc: set FLOWC_API_TOKEN to one of the server's operator tokens");
        return USAGE;
    }
    let base = args.server.trim_end_matches('/').to_string();
    let mut body = json!({
        "flow": args.flow,
        "groups": args.groups,
        "urns": urns,
        "running": if args.interrupt { "interrupt" } else { "skip" },
    });
    if let Some(r) = args.rate {
        body["rate"] = json!(r);
    }
    if let Some(c) = &args.channel {
        body["channel"] = json!(c);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let call = |method: &str, path: &str, body: Option<&Value>| -> Result<(u16, Value), String> {
        let url = format!("{base}{path}");
        let auth = format!("Bearer {token}");
        let answer = match (method, body) {
            ("POST", Some(b)) => agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b.to_string().as_bytes()),
            _ => agent.get(&url).header("Authorization", &auth).call(),
        };
        let mut answer = answer.map_err(|e| format!("cannot reach {base}: {e}"))?;
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().map_err(|e| format!("{base}: {e}"))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, json))
    };
    let start = match call("POST", "/starts", Some(&body)) {
        Ok((202, start)) => start,
        Ok((status, answer)) => {
            let why = answer["error"].as_str().map_or_else(|| answer.to_string(), str::to_string);
            eprintln!("flowc: the server refused the start ({status}): {why}");
            return if status >= 500 { DIAGNOSTICS } else { USAGE };
        }
        Err(e) => {
            eprintln!("flowc: {e}");
            return DIAGNOSTICS;
        }
    };
    let id = start["id"].as_str().unwrap_or_default().to_string();
    eprintln!("flowc: start {id} of {} is running", args.flow);
    let mut last = start;
    if !args.no_wait {
        let mut said = String::new();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            match call("GET", &format!("/starts/{id}"), None) {
                Ok((200, s)) => last = s,
                Ok((status, answer)) => {
                    eprintln!("flowc: cannot follow start {id} ({status}): {answer}");
                    return DIAGNOSTICS;
                }
                Err(e) => {
                    eprintln!("flowc: {e}");
                    return DIAGNOSTICS;
                }
            }
            let progress =
                format!("started {}, skipped {}, failed {}", last["started"], last["skipped"], last["failed"]);
            if progress != said {
                eprintln!("flowc: {id}: {progress}");
                said = progress;
            }
            if last["status"] != "running" {
                break;
            }
        }
    }
    if let Err(status) = out::emit(&format!("{}\n", serde_json::to_string_pretty(&last).unwrap_or_default())) {
        return status;
    }
    match last["status"].as_str() {
        Some("running" | "completed") => OK,
        _ => DIAGNOSTICS,
    }
}
