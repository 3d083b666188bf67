//! The main test binary: each module tests one surface (tests/stalled is the other binary).

mod channels;
mod cli;
mod codes;
mod conformance;
mod console;
mod docs;
mod email;
mod fixtures;
mod format;
mod graph;
mod layers;
mod lsp;
mod model;
#[path = "../common/postgres.rs"]
mod postgres;
mod rapidpro;
mod rapidpro_replay;
mod robustness;
mod runs;
mod serve;
#[path = "../common/serve_process.rs"]
mod serve_process;
mod server;
mod starts;
mod store;
mod webhooks;
mod work_limit;

/// Every file below `dir` (folders included) whose extension is `ext`, into `out`.
pub(crate) fn files_with_extension(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with_extension(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Today's date in `zone` (an IANA name), as `today()` writes it.
pub(crate) fn today_in(zone: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get(zone).unwrap());
    flowc::dates::date_iso(now.date())
}

/// A valid file of about `len` bytes: flows named `{tag}_0`, `{tag}_1`, ..., each with a wait, a split
/// and a step.
pub(crate) fn valid_flows(len: usize, tag: &str) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < len {
        s.push_str(&format!(
            "flow {tag}_{i} {{\n  wait a timeout 1m {{\n    on timeout {{ send \"bye @contact.name\"; stop }}\n  }}\n  split @flow.a {{\n    case has_text as T {{ send \"@(upper(@flow.a))\" }}\n    other {{ goto s }}\n  }}\n  step s {{ stop }}\n}}\n"
        ));
        i += 1;
    }
    s
}
