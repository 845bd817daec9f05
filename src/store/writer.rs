//! SQLite's writes, committed together: group commit.
//!
//! SQLite has one write lock per database and, at `synchronous = FULL`, makes each commit
//! durable with an fsync of the log, so writes one transaction at a time can go no faster
//! than the disk syncs (BENCHMARKS.md: invite creation was a fifth of raw single-row
//! inserts). Here this process's writers take turns on one connection whose transaction
//! they share: each request runs inside a savepoint of its own, so its failure or its
//! abandonment undoes its writes alone, and releases it when it commits; the shared
//! transaction is then committed by the first request that finds nobody else's work left
//! to wait for, and every request whose work it holds is answered only after that commit
//! is durable. Under load one fsync makes many requests durable; alone, a request commits
//! at once, as before. The same statements run in the same order as with a transaction of
//! their own: only the commits are fewer.
//!
//! Every step that changes the shared transaction's state (begin, release, commit, the
//! rollback of an abandoned savepoint) runs in a task of its own, so that a request dropped
//! midway (its client went away) never leaves the transaction half-changed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyPool, Executor};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::{Conn, Result};

/// The most requests one commit makes durable, to bound how long the first of them waits.
const MAX_BATCH: usize = 64;

/// A request's savepoint; the name is ours alone (sqlx names its own `_sqlx_savepoint_N`).
const SAVEPOINT: &str = "SAVEPOINT tether_request";
const RELEASE: &str = "RELEASE tether_request";
const ROLLBACK: &str = "ROLLBACK TO tether_request; RELEASE tether_request";

/// What a commit's waiters learn: that their work is durable, or why it is not.
type Outcome = Option<std::result::Result<(), String>>;

#[derive(Debug)]
pub struct Shared {
    /// The transaction the requests share, while one is open.
    open: Option<sqlx::Transaction<'static, Any>>,
    /// Requests whose savepoints were released into `open` and wait for its commit.
    released: usize,
    /// A request's savepoint is open: its request holds the turn, or went away holding it.
    in_savepoint: bool,
    /// Tells the waiters of the open transaction how its commit went.
    outcome: watch::Sender<Outcome>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            open: None,
            released: 0,
            in_savepoint: false,
            outcome: watch::channel(None).0,
        }
    }
}

impl Shared {
    fn conn(&mut self) -> Option<&mut Conn> {
        self.open.as_deref_mut()
    }

    /// Undoes the savepoint of a request that went away without committing.
    async fn roll_back_abandoned(&mut self) -> Result<()> {
        if self.in_savepoint {
            if let Some(conn) = self.conn() {
                conn.execute(sqlx::raw_sql(ROLLBACK)).await?;
            }
            self.in_savepoint = false;
        }
        Ok(())
    }

    /// Opens a savepoint for the next request, and the shared transaction if none is open.
    async fn enter(&mut self, pool: &AnyPool) -> Result<()> {
        self.roll_back_abandoned().await?;
        if self.open.is_none() {
            self.open = Some(pool.begin_with("BEGIN IMMEDIATE").await?);
        }
        if let Some(conn) = self.conn() {
            conn.execute(SAVEPOINT).await?;
            self.in_savepoint = true;
        }
        Ok(())
    }

    /// Commits the shared transaction and tells its waiters how it went.
    async fn commit(&mut self) -> Result<()> {
        let rolled_back = self.roll_back_abandoned().await;
        let committed = match (rolled_back, self.open.take()) {
            (Ok(()), Some(open)) => open.commit().await.map_err(super::Error::from),
            (Ok(()), None) => Ok(()),
            (Err(error), _) => Err(error),
        };
        self.released = 0;
        let told = committed.as_ref().map(|_| ()).map_err(ToString::to_string);
        self.outcome.send_replace(Some(told));
        self.outcome = watch::channel(None).0;
        committed
    }
}

/// This process's turn at SQLite's write lock, and the transaction the turns share.
#[derive(Debug, Clone)]
pub struct Writer {
    pool: AnyPool,
    shared: Arc<Mutex<Shared>>,
}

impl Writer {
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            shared: Arc::default(),
        }
    }

    /// Waits for the turn (in order of arrival), then opens the request's savepoint.
    pub async fn begin(&self, timeout: Duration) -> Result<Turn> {
        let turn = tokio::time::timeout(timeout, self.shared.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        let writer = self.clone();
        // A `Turn` comes out of the task: if this request is gone by then, dropping it ends
        // the savepoint as any abandoned turn's is ended.
        let entered = tokio::spawn(async move {
            let mut turn = turn;
            if let Err(error) = turn.enter(&writer.pool).await {
                // Nobody's work waits in a transaction this begun: end it rather than hold
                // the write lock until the next writer comes.
                if turn.released == 0 {
                    let _ = turn.commit().await;
                }
                return Err(error);
            }
            Ok(Turn {
                turn: Some(turn),
                writer,
            })
        });
        entered.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// A request's turn: its savepoint in the shared transaction, which it reads and writes
/// through as a `Conn`.
pub struct Turn {
    /// Taken by `commit` and by `drop`; present for the whole of the turn's use.
    turn: Option<OwnedMutexGuard<Shared>>,
    writer: Writer,
}

impl Turn {
    /// The shared transaction's connection. `begin` opened the transaction and only
    /// `commit` and `drop` take the turn, so while the turn is in use both are there.
    pub fn conn(&mut self) -> &mut Conn {
        match self.turn.as_mut().and_then(|turn| turn.conn()) {
            Some(conn) => conn,
            None => unreachable!("a turn is used between begin and commit only"),
        }
    }

    pub fn conn_ref(&self) -> &Conn {
        match self.turn.as_ref().and_then(|turn| turn.open.as_deref()) {
            Some(conn) => conn,
            None => unreachable!("a turn is used between begin and commit only"),
        }
    }

    /// Releases the savepoint, and returns once the shared transaction holding it is
    /// durably committed, by this request or by another.
    pub async fn commit(mut self) -> Result<()> {
        let Some(turn) = self.turn.take() else {
            return Ok(());
        };
        let writer = self.writer.clone();
        tokio::spawn(release_and_wait(turn, writer))
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

async fn release_and_wait(mut turn: OwnedMutexGuard<Shared>, writer: Writer) -> Result<()> {
    if let Some(conn) = turn.conn() {
        if let Err(error) = conn.execute(RELEASE).await {
            // Its work undone, the others' committed: nobody is left holding the lock.
            let _ = turn.commit().await;
            return Err(error.into());
        }
    }
    turn.in_savepoint = false;
    turn.released += 1;
    if turn.released >= MAX_BATCH {
        return turn.commit().await;
    }
    let mut outcome = turn.outcome.subscribe();
    let seen = outcome.clone();
    drop(turn);
    // Others who were waiting for the turn add their work to the same commit. Whoever gets
    // the turn next while this transaction is still open commits it, which is this request
    // once everyone queued ahead of it has had their turn.
    let told = async {
        match outcome.wait_for(Option::is_some).await {
            Ok(told) => told_as_result(&told),
            Err(_) => Err(sqlx::Error::WorkerCrashed.into()),
        }
    };
    tokio::select! {
        told = told => told,
        mut turn = writer.shared.clone().lock_owned() => {
            // Each transaction tells its own channel: nothing told yet means it is still
            // open, and this request commits it.
            let told = seen.borrow().clone();
            match told {
                None => turn.commit().await,
                told => told_as_result(&told),
            }
        }
    }
}

fn told_as_result(told: &Outcome) -> Result<()> {
    match told {
        Some(Ok(())) => Ok(()),
        Some(Err(error)) => {
            Err(sqlx::Error::Protocol(format!("the shared commit failed: {error}")).into())
        }
        None => Err(sqlx::Error::WorkerCrashed.into()),
    }
}

impl Drop for Turn {
    /// A turn dropped without `commit` (an error, or its request went away): its savepoint
    /// is rolled back and the shared transaction, with the work others released into it,
    /// committed.
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Committing now, rather than leaving it to the next writer, keeps the write lock
        // from being held while nobody writes.
        runtime.spawn(async move {
            let mut turn = turn;
            if let Err(error) = turn.commit().await {
                tracing::warn!(%error, "a shared write transaction could not be committed");
            }
        });
    }
}
