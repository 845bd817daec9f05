//! What the tests that run the real binary (`cli.rs`, `ops.rs`) share: a database on each
//! engine to run it against.

#![allow(dead_code)] // each test crate uses its own part of this

/// A new, empty PostgreSQL database named after `crate_name`, or `None` (said on stderr)
/// when `TETHER_TEST_DATABASE_URL` names no server.
pub fn fresh_postgres_url(crate_name: &str) -> Option<String> {
    let Some(server) = std::env::var("TETHER_TEST_DATABASE_URL").ok() else {
        eprintln!("TETHER_TEST_DATABASE_URL is not set: PostgreSQL not tested");
        return None;
    };
    let (base, _) = server.rsplit_once('/')?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let url = format!(
        "{base}/tether_test_{crate_name}_{}_{nanos}",
        std::process::id()
    );
    tokio::runtime::Runtime::new().ok()?.block_on(async {
        use sqlx::migrate::MigrateDatabase;
        sqlx::any::install_default_drivers();
        sqlx::Any::create_database(&url)
            .await
            .expect("a fresh database");
    });
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
