//! One test binary for the whole crate: each module tests one surface.

mod channels;
mod cli;
mod codes;
mod conformance;
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
