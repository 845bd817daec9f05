//! What the tests share: a fresh database on each engine — for the tests that run the real
//! binary (`cli.rs`, `ops.rs`) and for the suite's `TestApp`.

#![allow(dead_code)] // each test crate uses its own part of this

/// A new, empty PostgreSQL database named after `crate_name`, or `None` (said on stderr)
/// when `TETHER_TEST_DATABASE_URL` names no server. For tests that are not async.
pub fn fresh_postgres_url(crate_name: &str) -> Option<String> {
    tokio::runtime::Runtime::new()
        .ok()?
        .block_on(create_postgres_database(crate_name))
}

/// As `fresh_postgres_url`, inside a test's own runtime: the suite's `TestApp` and the
/// binary's tests share this one way of making a database.
pub async fn create_postgres_database(crate_name: &str) -> Option<String> {
    use sqlx::migrate::MigrateDatabase;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CREATED: AtomicUsize = AtomicUsize::new(0);

    let Some(server) = std::env::var("TETHER_TEST_DATABASE_URL").ok() else {
        eprintln!("TETHER_TEST_DATABASE_URL is not set: PostgreSQL not tested");
        return None;
    };
    let (base, _) = server.rsplit_once('/')?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = CREATED.fetch_add(1, Ordering::SeqCst);
    let url = format!(
        "{base}/tether_test_{crate_name}_{}_{n}_{nanos}",
        std::process::id()
    );
    sqlx::any::install_default_drivers();
    sqlx::Any::create_database(&url)
        .await
        .expect("a fresh database");
    Some(url)
}

/// Runs `test` against a SQLite file in a directory of its own.
pub fn on_sqlite(test: impl FnOnce(&str)) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("tether.db");
    test(database.to_str().expect("a UTF-8 path"));
}

/// Runs `test` against a fresh PostgreSQL database, when a server is configured.
pub fn on_postgres(crate_name: &str, test: impl FnOnce(&str)) {
    if let Some(url) = fresh_postgres_url(crate_name) {
        test(&url);
    }
}

/// How many migrations PostgreSQL has: each is recorded once in `_sqlx_migrations`.
pub fn postgres_migrations() -> i64 {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let files = std::fs::read_dir(folder).map_or(0, |entries| entries.count());
    i64::try_from(files).unwrap_or(i64::MAX)
}

/// A Python that can run the test SMTP server (`tests/mail/smtp_sink.py`, on aiosmtpd):
/// the system's when it has Debian's `python3-aiosmtpd`, otherwise a virtual environment
/// under the target directory that pip fills once.
pub fn smtp_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let has_aiosmtpd = |python: &std::path::Path| {
                Command::new(python)
                    .args(["-c", "import aiosmtpd"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            for system in ["/usr/bin/python3", "python3"] {
                if has_aiosmtpd(std::path::Path::new(system)) {
                    return PathBuf::from(system);
                }
            }
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let venv = root.join("smtp-venv");
            let python = venv.join("bin/python");
            if has_aiosmtpd(&python) {
                return python;
            }
            // Made beside and renamed into place, so test processes racing here all end up
            // with one complete environment.
            let building = root.join(format!("smtp-venv-{}", std::process::id()));
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&building)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(building.join("bin/python"))
                    .args(["-m", "pip", "install", "-q", "aiosmtpd>=1.4,<2"])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(made, "could not install aiosmtpd for the SMTP tests");
            if std::fs::rename(&building, &venv).is_err() {
                let _ = std::fs::remove_dir_all(&building);
            }
            python
        })
        .clone()
}

/// A real SMTP server on loopback (aiosmtpd) that saves every message it accepts.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a server; `options` are `smtp_sink.py`'s (`--refuse-first N`,
    /// `--reject-word WORD`).
    pub fn start(options: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Self::start_on(port, options)
    }

    pub fn start_on(port: u16, options: &[&str]) -> Self {
        Self::start_into(
            port,
            tempfile::tempdir().expect("a folder for mail"),
            options,
        )
    }

    /// Starts a server that saves into `dir` (say, one a stopped server used).
    pub fn start_into(port: u16, dir: tempfile::TempDir, options: &[&str]) -> Self {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/smtp_sink.py");
        let mut child = std::process::Command::new(smtp_python())
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .args(options)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the SMTP server starts");
        let stdout = child.stdout.take().expect("its output");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the SMTP server says it is ready");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Self { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// The messages received so far, oldest first.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Waits (up to `seconds`) until at least `count` messages arrived; how many did.
    pub fn wait_for(&self, count: usize, seconds: u64) -> usize {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let received = self.files().len();
            if received >= count || std::time::Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stops the server, keeping what it received.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.halt();
        let dir = tempfile::tempdir().expect("a folder");
        std::mem::replace(&mut self.dir, dir)
    }

    fn halt(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The messages in `files` as Python's `email` package reads them (`tests/mail/read_mail.py`).
pub fn read_mail(files: &[std::path::PathBuf]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/read_mail.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 reads the mail");
    assert!(
        output.status.success(),
        "read_mail.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("read_mail.py prints JSON")
}
