//! SQL for password reset links. As with invites, the database settles races: using a link
//! is one conditional `UPDATE` whose affected-row count says whether this request won.

use sqlx::FromRow;

use super::{Conn, Result};
use crate::domain::clock::Timestamp;
use crate::domain::recovery::{ResetId, ResetState};
use crate::domain::token::TokenDigest;
use crate::domain::user::UserId;

pub struct NewReset {
    pub digest: TokenDigest,
    pub user: UserId,
    pub created_by: Option<UserId>,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// Supersedes the user's open links, then writes the new one; its id.
pub async fn insert_superseding(conn: &mut Conn, reset: NewReset) -> Result<ResetId> {
    supersede_open(conn, reset.user, reset.now).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO password_resets (token_digest, user_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(reset.digest.to_vec())
    .bind(reset.user.0)
    .bind(reset.created_by.map(|id| id.0))
    .bind(reset.now.millis())
    .bind(reset.expires_at.millis())
    .fetch_one(conn)
    .await?;
    Ok(ResetId(id))
}

/// Ends every open link of the user (a newer one was made, or one was used).
pub async fn supersede_open(conn: &mut Conn, user: UserId, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE password_resets SET superseded_at = $1 \
         WHERE user_id = $2 AND used_at IS NULL AND superseded_at IS NULL",
    )
    .bind(now.millis())
    .bind(user.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[derive(FromRow)]
struct ResetRow {
    id: i64,
    user_id: i64,
    expires_at: i64,
    used_at: Option<i64>,
    superseded_at: Option<i64>,
}

/// A link by its token's digest: its id, its user and what state it is in at `now`.
pub async fn by_digest(
    conn: &mut Conn,
    digest: TokenDigest,
    now: Timestamp,
) -> Result<Option<(ResetId, UserId, Timestamp, ResetState)>> {
    let row: Option<ResetRow> = sqlx::query_as(
        "SELECT id, user_id, expires_at, used_at, superseded_at FROM password_resets \
         WHERE token_digest = $1",
    )
    .bind(digest.to_vec())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| {
        let state = match (row.used_at, row.superseded_at) {
            (Some(_), _) => ResetState::Used,
            (None, Some(_)) => ResetState::Superseded,
            (None, None) if row.expires_at <= now.millis() => ResetState::Expired,
            (None, None) => ResetState::Open,
        };
        (
            ResetId(row.id),
            UserId(row.user_id),
            Timestamp::from_millis(row.expires_at),
            state,
        )
    }))
}

/// Uses the link if it is still open at `now`; false if another request used it first, or it
/// was superseded or expired meanwhile.
pub async fn claim(conn: &mut Conn, id: ResetId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE password_resets SET used_at = $1 \
         WHERE id = $2 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $1",
    )
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
