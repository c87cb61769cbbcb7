//! The real ClickHouse engine for the export tests: `chdb-core` (ClickHouse
//! 26.9 in-process) behind `tests/support/chdb_front.py`, a test-only HTTP
//! front that speaks enough of ClickHouse's HTTP interface for the probe's
//! own client. Installed by `scripts/install-chdb` (which `scripts/test-all`
//! runs); when it is not installed the tests say so and skip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running front over a data directory.
pub struct Front {
    child: Option<Child>,
    /// The data directory (kept across restarts).
    pub data: PathBuf,
    /// Its port.
    pub port: u16,
    /// Header lines with the credentials the front requires, if any.
    auth: String,
}

/// Whether the engine is installed; prints a visible skip when not.
pub fn available(what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import chdb, lz4.block, lz4.frame"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        super::skip(&format!(
            "{what}: the ClickHouse engine (chdb-core) is not installed; scripts/install-chdb installs it"
        ));
    }
    ok
}

impl Front {
    /// Starts a front on a free port over `data`.
    pub fn start(data: &Path) -> Front {
        Front::start_on(data, 0)
    }

    /// Starts a front that accepts only `user` with `password`.
    pub fn start_with_credentials(data: &Path, user: &str, password: &str) -> Front {
        let mut front = Front::launch(data, 0, &["--user", user, "--password", password]);
        front.auth = format!("X-ClickHouse-User: {user}\r\nX-ClickHouse-Key: {password}\r\n");
        front
    }

    fn start_on(data: &Path, port: u16) -> Front {
        Front::launch(data, port, &[])
    }

    fn launch(data: &Path, port: u16, extra: &[&str]) -> Front {
        let script = super::project_dir().join("tests/support/chdb_front.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(extra)
            .args(["--port", &port.to_string(), "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the chdb front");
        let stdout = child.stdout.take().expect("front stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the front's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("front said {line:?}"));
        Front {
            child: Some(child),
            data: data.to_owned(),
            port,
            auth: String::new(),
        }
    }

    /// The URL for `--clickhouse-url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the front (SIGKILL: an outage, not a shutdown) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        let mut again = Front::start_on(&self.data, self.port);
        self.child = again.child.take();
    }

    /// Runs `sql`, returning the response body (TabSeparated unless the
    /// query says otherwise); panics with the engine's message on an error.
    pub fn query(&self, sql: &str) -> String {
        let (status, body) = self.post(sql);
        assert_eq!(status, 200, "{sql}\n{body}");
        body
    }

    /// A query answering one number.
    pub fn number(&self, sql: &str) -> f64 {
        let text = self.query(sql);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {text:?}"))
    }

    /// Status and body of a POST of `sql`.
    pub fn post(&self, sql: &str) -> (u16, String) {
        super::http_with(self.port, "POST", "/", &self.auth, sql)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("voxprobe-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
