//! SQL for sessions and API tokens.

use rusqlite::OptionalExtension;
use sqlx::FromRow;

use super::{Conn, Db, Result};
use crate::domain::clock::Timestamp;
use crate::domain::email::Email;
use crate::domain::name::Name;
use crate::domain::role::Role;
use crate::domain::session::{Client, SessionId, SessionInfo, SessionKind};
use crate::domain::tenant::TenantId;
use crate::domain::token::TokenDigest;
use crate::domain::user::{User, UserId};

pub struct NewSession<'a> {
    pub digest: TokenDigest,
    pub user: UserId,
    pub kind: SessionKind,
    pub client: &'a Client,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert(conn: &mut Conn, session: NewSession<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions \
           (token_digest, user_id, kind, created_at, last_seen_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(session.digest.to_vec())
    .bind(session.user.0)
    .bind(session.kind.as_str())
    .bind(session.now.millis())
    .bind(session.expires_at.millis())
    .bind(session.client.ip.as_deref())
    .bind(session.client.user_agent.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct SessionInfoRow {
    id: i64,
    kind: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// A user's sessions that are neither revoked nor past their absolute end, newest first.
pub async fn live_for_user(
    conn: &mut Conn,
    user: UserId,
    now: Timestamp,
) -> Result<Vec<SessionInfo>> {
    let rows: Vec<SessionInfoRow> = sqlx::query_as(
        "SELECT id, kind, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC",
    )
    .bind(user.0)
    .bind(now.millis())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            id: SessionId(row.id),
            kind: if row.kind == "api" {
                SessionKind::Api
            } else {
                SessionKind::Web
            },
            created_at: Timestamp::from_millis(row.created_at),
            last_used_at: Timestamp::from_millis(row.last_seen_at),
            expires_at: Timestamp::from_millis(row.expires_at),
            ip: row.ip,
            user_agent: row.user_agent,
        })
        .collect())
}

/// Ends one of `user`'s sessions; false if they have no such live session.
pub async fn revoke_one_of(
    conn: &mut Conn,
    user: UserId,
    id: SessionId,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(id.0)
    .bind(user.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session of `user` but `keep`.
pub async fn revoke_all_but(
    conn: &mut Conn,
    user: UserId,
    keep: SessionId,
    now: Timestamp,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(user.0)
    .bind(keep.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[derive(FromRow)]
pub struct SessionRow {
    pub session_id: i64,
    pub kind: String,
    pub last_seen_at: i64,
    pub expires_at: i64,
    #[sqlx(flatten)]
    pub user: UserRowForSession,
}

/// The session's user, selected with the session in one query.
#[derive(FromRow)]
pub struct UserRowForSession {
    pub id: i64,
    pub tenant_id: i64,
    pub email: String,
    pub name: String,
    pub role_id: i64,
    pub created_at: i64,
}

impl UserRowForSession {
    /// The query only finds sessions of active users.
    fn to_user(&self) -> User {
        User {
            id: UserId(self.id),
            tenant_id: TenantId(self.tenant_id),
            email: Email::from_stored(self.email.clone()),
            name: Name::from_stored(self.name.clone()),
            // The schema's CHECK holds role_id to the catalogue.
            role: Role::from_id(self.role_id).unwrap_or(Role::ClientUser),
            active: true,
            created_at: Timestamp::from_millis(self.created_at),
        }
    }
}

const SELECT_LIVE: &str = "SELECT s.id AS session_id, s.kind, s.last_seen_at, s.expires_at, \
       u.id, u.tenant_id, u.email, u.name, u.role_id, u.created_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_digest = $1 AND s.revoked_at IS NULL AND u.deactivated_at IS NULL";

impl SessionRow {
    /// The row as rusqlite reads it (`direct.rs`), by the names `SELECT_LIVE` gives.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            session_id: row.get("session_id")?,
            kind: row.get("kind")?,
            last_seen_at: row.get("last_seen_at")?,
            expires_at: row.get("expires_at")?,
            user: UserRowForSession {
                id: row.get("id")?,
                tenant_id: row.get("tenant_id")?,
                email: row.get("email")?,
                name: row.get("name")?,
                role_id: row.get("role_id")?,
                created_at: row.get("created_at")?,
            },
        })
    }

    fn with_user(self) -> (SessionRow, User) {
        let user = self.user.to_user();
        (self, user)
    }
}

/// A live (not revoked) session of an active user, by its token's digest, inside a
/// transaction.
pub async fn live_by_digest(
    conn: &mut Conn,
    digest: TokenDigest,
) -> Result<Option<(SessionRow, User)>> {
    let row: Option<SessionRow> = sqlx::query_as(SELECT_LIVE)
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(SessionRow::with_user))
}

/// The same, for a request that presents a token: every signed-in page and API call asks
/// it, so on SQLite it is read in place (`direct.rs`) with the same SQL.
pub async fn live_for_request(db: &Db, digest: TokenDigest) -> Result<Option<(SessionRow, User)>> {
    let row = match db.direct() {
        Some(direct) => direct.read(|conn| {
            conn.prepare_cached(SELECT_LIVE)?
                .query_row([digest.to_vec()], SessionRow::from_sqlite)
                .optional()
        })?,
        None => {
            let mut conn = db.read().await?;
            sqlx::query_as(SELECT_LIVE)
                .bind(digest.to_vec())
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    Ok(row.map(SessionRow::with_user))
}

pub async fn touch(conn: &mut Conn, session_id: i64, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(session_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke(conn: &mut Conn, digest: TokenDigest, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE token_digest = $2 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(digest.to_vec())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn revoke_all_for_user(conn: &mut Conn, user: UserId, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(user.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
