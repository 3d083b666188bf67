//! The open-file limit against the connection cap: every connection is a file descriptor, and a
//! server that reaches the limit stops accepting (and cannot open its database or call webhooks). At
//! start the soft limit is raised as far as the cap needs (up to the hard limit); where it cannot be,
//! the cap is lowered to fit, and the start-up says so.

/// Descriptors kept for everything that is not an incoming connection: the database and its WAL, the
/// log, a webhook call per worker, the outbox sender, PostgreSQL's connections.
pub fn reserve(workers: usize) -> u64 {
    64 + workers as u64
}

/// Fewest connections a server starts with: below this the limit is a mistake to fix, not a cap.
const FEWEST: u64 = 16;

/// The connection cap that fits the open-file limit, raising the soft limit if that is needed and
/// allowed, and a line to print when the limit was raised or the cap lowered; an error when the limit
/// cannot hold the reserve and a few connections.
pub fn fit(max_connections: usize, workers: usize) -> Result<(usize, Option<String>), String> {
    let needed = max_connections as u64 + reserve(workers);
    let Some((soft, hard)) = nofile() else { return Ok((max_connections, None)) };
    if soft >= needed {
        return Ok((max_connections, None));
    }
    let target = needed.min(hard);
    if target > soft && raise(target) && target >= needed {
        return Ok((max_connections, Some(format!("the open-file limit was {soft}: raised to {target}"))));
    }
    let limit = nofile().map_or(soft, |(s, _)| s);
    let fewest = reserve(workers) + FEWEST.min(max_connections as u64);
    if limit < fewest {
        return Err(format!(
            "the open-file limit (ulimit -n) is {limit}, and flowc serve needs at least {fewest} with --workers {workers} \
             (64, one per worker and {} connections): raise it (ulimit -n 4096) or lower --workers",
            FEWEST.min(max_connections as u64)
        ));
    }
    let cap = (limit - reserve(workers)).min(max_connections as u64) as usize;
    Ok((
        cap,
        Some(format!(
            "the open-file limit (ulimit -n) is {limit} and the hard limit {hard}: at most {cap} connections at once, not the {max_connections} asked for"
        )),
    ))
}

#[cfg(unix)]
#[allow(clippy::unnecessary_cast, reason = "rlim_t is not u64 on every platform")]
fn nofile() -> Option<(u64, u64)> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
    ok.then_some((r.rlim_cur as u64, r.rlim_max as u64))
}

#[cfg(unix)]
#[allow(clippy::unnecessary_cast, reason = "rlim_t is not u64 on every platform")]
fn raise(to: u64) -> bool {
    let Some((_, hard)) = nofile() else { return false };
    let r = libc::rlimit { rlim_cur: to as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: setrlimit reads the struct we own; the soft limit stays within the hard one.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) == 0 }
}

#[cfg(not(unix))]
fn nofile() -> Option<(u64, u64)> {
    None
}

#[cfg(not(unix))]
fn raise(_: u64) -> bool {
    false
}
