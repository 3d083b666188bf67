//! `flowc serve` as a process of its own, for the tests that need one (a restart, a signal, the
//! process's threads and open files), shared by the test binaries that include this file.

use std::process::{Command, Stdio};

/// A conversation with two waits, the flow the serve tests talk to.
pub const SURVEY: &str = r#"
flow survey {
  send "How old are you?"
  wait age timeout 1h
  split @flow.age {
    case has_number_gt 17 as Adult { send "Welcome!" }
    other { send "Sorry, adults only." }
  }
  send "What is your e-mail?"
  wait address timeout 1h
  send "Thanks, we will write to @flow.address."
}
"#;

/// A directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        let dir = std::env::temp_dir().join(format!("flowc-{tag}-{}-{:x}", std::process::id(), h.finish()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `flowc serve` process that is killed when the test ends, also when it fails.
pub struct Spawned(std::process::Child);

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `flowc serve` binary on `flow` and `db` with extra arguments and its standard error
/// going to `stderr`; returns the process and its base URL (`http://127.0.0.1:PORT`), read from the
/// first line it prints.
/// The operator token the tests' servers are started with (`FLOWC_API_TOKEN`).
pub const OPERATOR_TOKEN: &str = "test-operator-token";

pub fn spawn_serve(flow: &std::path::Path, db: &std::path::Path, extra: &[&str], stderr: Stdio) -> (Spawned, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["serve", flow.to_str().unwrap(), "--addr", "127.0.0.1:0", "--db", db.to_str().unwrap()])
        .args(extra)
        .env("FLOWC_API_TOKEN", OPERATOR_TOKEN)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (Spawned(child), base)
}
