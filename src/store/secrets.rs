//! SQL for process-independent secrets, created once and shared by every process.

use super::{Conn, Result};

/// The secret called `name`, created from `fresh` if none exists yet. Processes starting at
/// once all end up with the first one written: the losers' inserts do nothing.
pub async fn get_or_create(conn: &mut Conn, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
    sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.to_vec())
        .execute(&mut *conn)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(conn)
            .await?,
    )
}
