//! A real PostgreSQL server for tests, from the machine's binaries (Debian's `postgresql` package):
//! `initdb` into a temporary directory and `pg_ctl start` on a free port of 127.0.0.1, stopped and
//! deleted when dropped. As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses
//! to run as root. `Postgres::start` returns `None`, after printing why, when no server binary exists.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
}

/// The directory holding `initdb` and `pg_ctl`: on the PATH, or Debian's versioned directory.
fn binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file()));
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Postgres {
    /// A new server with an empty cluster, or `None` (printed) when this machine has no PostgreSQL.
    pub fn start(tag: &str) -> Option<Postgres> {
        let Some(bin) = binaries() else {
            // In CI a missing part fails the run; elsewhere the test says why it did not run.
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but PostgreSQL (initdb, pg_ctl) is missing");
            eprintln!("skipping the PostgreSQL part: no initdb/pg_ctl on the PATH or in /usr/lib/postgresql");
            return None;
        };
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("flowc-pg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if as_postgres {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().unwrap().success();
            assert!(ok, "cannot give {} to the postgres user", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres { dir, bin, as_postgres, port };
        let data = pg.dir.join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-U", "flowc", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            pg.dir.display()
        );
        let log = pg.dir.join("log");
        pg.run("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd.args(args).current_dir(&self.dir).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A URL for a new, empty database on this server.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://flowc@127.0.0.1:{}/postgres", self.port);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("postgres://flowc@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server as an operator's restart does (`-m fast`: every connection is cut, what was
    /// committed is flushed; an immediate stop would lose commits here, where the test cluster runs
    /// with `synchronous_commit=off`) and starts it again on the same port, after `down`.
    #[allow(dead_code)]
    pub fn restart(&self, down: std::time::Duration) {
        let data = self.dir.join("data");
        self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"]);
        std::thread::sleep(down);
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]);
    }

    /// The data directory (for reading the server's log when a test fails).
    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let program = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let _ = cmd.args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]).stdout(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
