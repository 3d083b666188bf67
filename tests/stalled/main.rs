//! `flowc serve` against 5,000 stalled connections, in a test binary of its own: holding that many
//! sockets slowed the in-process webhook tests of the integration binary when both ran at once.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

#[path = "../common/serve_process.rs"]
mod serve_process;

use serve_process::{OPERATOR_TOKEN, SURVEY, TempDir, spawn_serve};

/// A JSON POST on a connection of its own; the whole answer as text.
fn post(addr: &str, path: &str, body: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let ask = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    c.write_all(ask.as_bytes()).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    answer
}

/// The `Threads:` line of a process's /proc status.
fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
}

/// How many files a process has open.
fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// The soft limit on open files of this process, raised first as far as the hard limit allows up to
/// what 5,000 connections at both ends need (the server started here inherits it).
fn open_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the struct given, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < 12_000 {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max.min(12_000), rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(1024)
}

#[test]
fn thousands_of_stalled_connections_neither_add_threads_nor_stop_other_requests_and_time_out() {
    // 5,000 as the issue asks; fewer only where the file limit cannot hold them (both ends are here).
    let stalled_count = 5_000.min(open_file_limit().saturating_sub(200) / 2);
    // Said, not silent: a machine whose hard limit is below what 5,000 need runs fewer.
    eprintln!("stalled connections: {stalled_count}");
    let dir = TempDir::new("stalled");
    let flow = dir.0.join("survey.flow");
    std::fs::write(&flow, SURVEY).unwrap();
    let extra =
        ["--workers", "4", "--header-timeout", "2", "--no-access-log", "--max-connections-per-address", "10000"];
    let (child, base) = spawn_serve(&flow, &dir.0.join("flowc.db"), &extra, Stdio::null());
    let addr = base.trim_start_matches("http://").to_string();
    let before = threads_of(child.id());
    let fds_before = fds_of(child.id());
    let mut stalled = Vec::with_capacity(stalled_count);
    for _ in 0..stalled_count {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(b"POST /flows/survey/runs HTTP/1.1\r\nHost: x\r\nContent-Le").unwrap();
        stalled.push(c);
    }
    // Others are still answered while every stalled connection is held.
    for i in 0..20 {
        let answer = post(&addr, "/flows/survey/runs", &format!(r#"{{"contact": {{"id": "s{i}"}}}}"#));
        assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    }
    let during = threads_of(child.id());
    assert_eq!(during, before, "no thread per connection ({stalled_count} stalled)");
    assert!(during <= 4 + 9, "{during} threads");
    // Past the header timeout the server closes every stalled connection: its open files fall back to
    // what it had before (within 15 s; the timeout is 2 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while fds_of(child.id()) > fds_before + 8 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = fds_of(child.id()).saturating_sub(fds_before);
    assert!(left <= 8, "{left} of {stalled_count} stalled connections still open");
    // And the clients see the close.
    for c in stalled.iter_mut().take(100) {
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 256];
        let closed = loop {
            match c.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue, // an answer before the close
                Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        };
        assert!(closed);
    }
}
