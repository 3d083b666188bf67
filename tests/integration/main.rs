//! The main test binary: each module tests one surface (tests/stalled is the other binary).

mod channels;
mod cli;
mod codes;
mod conformance;
mod docs;
mod fixtures;
mod format;
mod graph;
mod lsp;
mod model;
#[path = "../common/postgres.rs"]
mod postgres;
mod robustness;
mod runs;
mod serve;
#[path = "../common/serve_process.rs"]
mod serve_process;
mod server;
mod store;
mod webhooks;
mod work_limit;

/// Today's date in `zone` (an IANA name), as `today()` writes it.
pub(crate) fn today_in(zone: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get(zone).unwrap());
    flowc::dates::date_iso(now.date())
}
