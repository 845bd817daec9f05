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
