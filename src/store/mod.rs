//! The store: Tether's SQL for SQLite and PostgreSQL, its transactions and migrations.
//!
//! Why sqlx's `Any` driver: every query is written once, with `$1` placeholders (which
//! SQLite also understands), and runs on either engine through one pool type and one
//! transaction type, so the domain exists once and never branches on the engine. The
//! driver's one limitation, no chrono types, does not touch us: times are stored as
//! integer Unix milliseconds and flags as nullable timestamps, which both engines decode
//! identically. Engine differences live in the two migration folders, in `Db::connect` and
//! `Db::begin` below, in the outbox's claim (`outbox.rs`: PostgreSQL skips locked rows),
//! in `direct.rs` (the invite link's and the session's lookups read in place on SQLite,
//! with the same SQL text), and in `writer.rs` (SQLite's writers sharing commits), and
//! nowhere else.
//!
//! The store answers in its own error (`error.rs`): a unique constraint the rules give a
//! meaning to is named there once, so the domain maps store errors in one place and no
//! layer above the store sees a driver's error.

pub mod audit;
pub mod direct;
mod error;
pub mod invites;
pub mod outbox;
pub mod resets;
pub mod secrets;
pub mod sessions;
pub mod tenants;
pub mod users;
pub mod webhooks;
mod writer;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use self::direct::DirectReads;
use self::writer::{Turn, Writer};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, ConnectOptions, Executor};

pub use self::error::{Constraint, Error, Result, Unavailable};

pub type Conn = sqlx::AnyConnection;
/// A pooled connection for reads outside a transaction; store functions take it as a `Conn`.
pub type ReadConn = sqlx::pool::PoolConnection<Any>;

/// A transaction that will write, from `Db::begin`. Store functions take it as a `Conn`.
pub enum Tx {
    /// PostgreSQL: a transaction of its own.
    Own(sqlx::Transaction<'static, Any>),
    /// SQLite: a savepoint in the transaction this process's writers share (`writer.rs`).
    Shared(Turn),
}

impl Tx {
    /// Keeps the writes; returns once they are durable.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Own(inner) => Ok(inner.commit().await?),
            Tx::Shared(turn) => turn.commit().await,
        }
    }
}

impl Deref for Tx {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        match self {
            Tx::Own(inner) => inner,
            Tx::Shared(turn) => turn.conn_ref(),
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            Tx::Own(inner) => inner,
            Tx::Shared(turn) => turn.conn(),
        }
    }
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Applied to every SQLite connection. WAL lets pages be read while a write commits;
/// `synchronous = FULL` makes each commit durable across a power cut, not only across a
/// crash of the process (product.md §6 asks for durable commits: an invite or account
/// whose creation was answered must exist afterwards); the busy timeout makes a second
/// process (say `tether invite create` beside a running server) wait for the write lock
/// instead of failing; `secure_delete` overwrites deleted content with zeros, so a token
/// sealed in the outbox does not linger in the file once it is erased (delivery.md §8).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; \
     PRAGMA secure_delete = ON;";

/// How long a writer waits for its turn before giving up, as the busy timeout would.
const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "the database URL {0:?} is not supported; use a file path, sqlite://FILE or postgres://…"
    )]
    UnsupportedUrl(String),
    #[error("could not open the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("could not bring the database schema up to date: {0}")]
    Migration(String),
}

/// A pool of connections to one database, on either engine.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
    /// On SQLite, this process's writers, taking turns; see `Db::begin`.
    writer: Option<Writer>,
    /// On SQLite (a file, not in memory), reads that bypass sqlx; see `direct.rs`.
    direct: Option<Arc<DirectReads>>,
}

impl Db {
    /// Opens the database at `url`: a PostgreSQL URL, an `sqlite:` URL or a plain file
    /// path (created if missing).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = normalise_url(url)?;
        let shown = redact_password(&url);
        let unreachable = |e: sqlx::Error| ConnectError::Unreachable {
            url: shown.clone(),
            reason: describe_connect_error(&e),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(unreachable)?
            .disable_statement_logging();
        // One direct connection first: its error says what is wrong (refused, unknown host,
        // bad password), where the pool would only report that it timed out.
        let probe = options.connect().await.map_err(unreachable)?;
        drop(probe);
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10));
        if engine == Engine::Sqlite {
            // A SQLite connection is an open file: unlike a server connection it cannot go
            // stale, so the pool's ping before each use would only add a round trip to the
            // connection's worker thread to every query (a third of the invite page's time).
            pool_options = pool_options
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(sqlx::raw_sql(SQLITE_PRAGMAS)).await?;
                        Ok(())
                    })
                });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        let direct = match engine {
            Engine::Sqlite => SqliteConnectOptions::from_str(&url)
                .ok()
                .map(|options| options.get_filename().to_path_buf())
                .filter(|path| !path.as_os_str().is_empty() && path.as_os_str() != ":memory:")
                .map(|path| Arc::new(DirectReads::new(path))),
            Engine::Postgres => None,
        };
        let writer = (engine == Engine::Sqlite).then(|| Writer::new(pool.clone()));
        Ok(Self {
            pool,
            engine,
            writer,
            direct,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Applies pending migrations. On PostgreSQL the migrator holds an advisory lock, so
    /// several processes starting at once migrate the database exactly once.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| ConnectError::Migration(e.to_string()))
    }

    /// Begins a transaction that will write.
    ///
    /// On SQLite, this process's writers take turns in order of arrival (`writer.rs`), each
    /// in a savepoint of a transaction they share, which holds SQLite's write lock from its
    /// start (`BEGIN IMMEDIATE`: a deferred transaction that read first could not upgrade to
    /// a writer once another connection had committed, and would fail instead of waiting).
    /// SQLite's own busy handler sleeps and retries, so an unlucky writer would wait on while
    /// others overtook it (under 64 concurrent invite creations the slowest 1% waited 850
    /// ms); the turns are fair, and the busy timeout still arbitrates between processes.
    /// Committing the turns' work together makes one fsync serve many requests.
    pub async fn begin(&self) -> Result<Tx> {
        if let Some(writer) = &self.writer {
            return Ok(Tx::Shared(writer.begin(WRITE_TURN_TIMEOUT).await?));
        }
        // BEGIN runs in a task of its own. A request is dropped wherever it is when its
        // client goes away; dropped just as BEGIN was answered, it would lose the answer and
        // with it the only handle that could end the transaction, and the connection would
        // go back to the pool inside it. A task runs to its end, and a transaction that
        // nobody then takes is dropped, which rolls it back.
        let pool = self.pool.clone();
        let begun = tokio::spawn(async move { pool.begin().await });
        let inner = begun.await.map_err(|_| sqlx::Error::WorkerCrashed)??;
        Ok(Tx::Own(inner))
    }

    /// Direct reads of the SQLite file, for the hottest lookups; `None` on PostgreSQL.
    pub fn direct(&self) -> Option<&DirectReads> {
        self.direct.as_deref()
    }

    /// A connection for single reads outside a transaction.
    pub async fn read(&self) -> Result<ReadConn> {
        Ok(self.pool.acquire().await?)
    }

    /// The pool itself, for tests that look at the database directly.
    pub fn reader(&self) -> &AnyPool {
        &self.pool
    }

    /// On SQLite, moves the write-ahead log into the database file and empties it, so that
    /// bytes erased from the outbox (`secure_delete` zeroes them in the file) do not linger
    /// in old log frames. It gives up at once, harmlessly, while readers hold the log; a
    /// later call does it. Nothing to do on PostgreSQL.
    pub async fn truncate_log_when_idle(&self) {
        if self.engine == Engine::Sqlite {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
            {
                tracing::debug!(%error, "the write-ahead log could not be checkpointed now");
            }
        }
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn normalise_url(url: &str) -> Result<(Engine, String), ConnectError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Engine::Postgres, url.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let with_mode = if rest.contains("mode=") {
            url.to_owned()
        } else if rest.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        return Ok((Engine::Sqlite, with_mode));
    }
    if url.is_empty() || url.contains("://") {
        return Err(ConnectError::UnsupportedUrl(redact_password(url)));
    }
    Ok((Engine::Sqlite, format!("sqlite://{url}?mode=rwc")))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn describe_connect_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => String::from("timed out waiting for a connection"),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Configuration(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// Values bound to a query built from optional filters.
#[derive(Debug, Clone)]
pub enum Bind {
    Int(i64),
    Text(String),
}

/// A `LIKE … ESCAPE '\'` pattern for "contains this text, in any case": the typed text is
/// matched as it is, its `%` and `_` escaped rather than wildcards. Compare with `LOWER(column)`.
pub(crate) fn contains(text: &str) -> String {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A `WHERE` clause assembled from the filters a caller gave, with numbered placeholders
/// that both engines accept.
#[derive(Debug, Default)]
pub struct Filters {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filters {
    /// Adds a condition; each `?` in `clause` becomes the next numbered placeholder.
    pub fn add(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) {
        let mut text = String::with_capacity(clause.len() + 4);
        let mut values = values.into_iter();
        for ch in clause.chars() {
            if ch == '?' {
                if let Some(value) = values.next() {
                    self.binds.push(value);
                    text.push_str(&format!("${}", self.binds.len()));
                    continue;
                }
            }
            text.push(ch);
        }
        self.clauses.push(text);
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn bind_all<'q, O>(
        &self,
        mut query: sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>> {
        for bind in &self.binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}

/// A savepoint in the transaction on `conn`: `commit` keeps its writes, and dropping it
/// undoes them alone, leaving the transaction usable (on PostgreSQL too, after an error).
pub struct Savepoint<'c>(sqlx::Transaction<'c, Any>);

impl Savepoint<'_> {
    pub async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }
}

impl Deref for Savepoint<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl DerefMut for Savepoint<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

pub async fn savepoint(conn: &mut Conn) -> Result<Savepoint<'_>> {
    Ok(Savepoint(sqlx::Connection::begin(conn).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_and_urls_pick_the_engine() {
        assert_eq!(
            normalise_url("tether.db").unwrap(),
            (Engine::Sqlite, String::from("sqlite://tether.db?mode=rwc"))
        );
        assert_eq!(normalise_url("postgres://x/y").unwrap().0, Engine::Postgres);
        assert_eq!(
            normalise_url("sqlite:data.db").unwrap().1,
            "sqlite:data.db?mode=rwc"
        );
        assert!(normalise_url("mysql://x/y").is_err());
    }

    #[test]
    fn passwords_in_urls_are_not_shown() {
        assert_eq!(
            redact_password("postgres://tether:s3cret@db:5432/tether"),
            "postgres://tether:***@db:5432/tether"
        );
    }

    #[test]
    fn filters_number_their_placeholders() {
        let mut filters = Filters::default();
        filters.add("tenant_id = ?", [Bind::Int(5)]);
        filters.add("email = ?", [Bind::Text("a@b.co".into())]);
        assert_eq!(filters.where_sql(), "WHERE tenant_id = $1 AND email = $2");
    }
}
