//! Reads on the hottest path straight from SQLite, on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement and
//! every row across a channel to it and back. For the invite page, whose one query takes
//! a few microseconds inside SQLite, those hand-offs and the thread wake-ups they cost were
//! most of the page's time (see BENCHMARKS.md). So the page's lookup, and the session
//! lookup that every signed-in page and API call makes first, read SQLite in place,
//! through rusqlite (which links the same SQLite library as sqlx), on connections kept
//! here. In WAL mode a reader never waits for a writer, so the read does not stall the
//! async worker it runs on; the busy timeout below bounds the rare wait (WAL recovery after
//! a crash). Everything that writes, and every other read, stays with sqlx.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Connections kept for reuse beyond this many are closed after use.
const KEPT: usize = 8;

#[derive(Debug)]
pub struct DirectReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReads {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a read-only connection to the database.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match kept {
            Some(connection) => connection,
            None => self.open()?,
        };
        let outcome = read(&connection);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEPT {
            idle.push(connection);
        }
        outcome
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(Duration::from_millis(200))?;
        Ok(connection)
    }
}
