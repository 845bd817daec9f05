//! SQL for users.

use sqlx::FromRow;

use super::{contains, Bind, Conn, Filters, Result};
use crate::domain::actor::TenantScope;
use crate::domain::clock::Timestamp;
use crate::domain::email::Email;
use crate::domain::name::Name;
use crate::domain::password::PasswordDigest;
use crate::domain::role::Role;
use crate::domain::tenant::TenantId;
use crate::domain::user::{User, UserId, UserQuery};

const SELECT_USER: &str =
    "SELECT id, tenant_id, email, name, role_id, deactivated_at, created_at FROM users";

#[derive(FromRow)]
struct UserRow {
    id: i64,
    tenant_id: i64,
    email: String,
    name: String,
    role_id: i64,
    deactivated_at: Option<i64>,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id),
            tenant_id: TenantId(row.tenant_id),
            email: Email::from_stored(row.email),
            name: Name::from_stored(row.name),
            // The schema's CHECK holds role_id to the catalogue.
            role: Role::from_id(row.role_id).unwrap_or(Role::ClientUser),
            active: row.deactivated_at.is_none(),
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

pub struct NewUser<'a> {
    pub tenant_id: TenantId,
    pub email: &'a Email,
    pub name: &'a Name,
    pub role: Role,
    pub password: &'a PasswordDigest,
    pub now: Timestamp,
}

pub async fn insert(conn: &mut Conn, user: NewUser<'_>) -> Result<UserId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, name, role_id, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user.tenant_id.0)
    .bind(user.email.as_str())
    .bind(user.name.as_str())
    .bind(user.role.id())
    .bind(user.password.as_str())
    .bind(user.now.millis())
    .fetch_one(conn)
    .await?;
    Ok(UserId(id))
}

pub async fn by_id(conn: &mut Conn, id: UserId) -> Result<Option<User>> {
    let sql = format!("{SELECT_USER} WHERE id = $1");
    let row: Option<UserRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(conn).await?;
    Ok(row.map(User::from))
}

#[derive(FromRow)]
struct UserWithPasswordRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

pub async fn by_email_with_password(
    conn: &mut Conn,
    email: &Email,
) -> Result<Option<(User, PasswordDigest)>> {
    let row: Option<UserWithPasswordRow> = sqlx::query_as(
        "SELECT id, tenant_id, email, name, role_id, deactivated_at, created_at, password_hash \
         FROM users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| {
        (
            row.user.into(),
            PasswordDigest::from_stored(row.password_hash),
        )
    }))
}

/// The stored password digest of a user.
pub async fn password_of(conn: &mut Conn, id: UserId) -> Result<Option<PasswordDigest>> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?;
    Ok(stored.map(PasswordDigest::from_stored))
}

pub async fn set_password(conn: &mut Conn, id: UserId, digest: &PasswordDigest) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(digest.as_str())
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_name(conn: &mut Conn, id: UserId, name: &Name) -> Result<()> {
    sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
        .bind(name.as_str())
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether any user, active or not, holds this email.
pub async fn email_taken(conn: &mut Conn, email: &Email) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

pub async fn list(conn: &mut Conn, scope: TenantScope, query: &UserQuery) -> Result<Vec<User>> {
    let mut filters = Filters::default();
    if let TenantScope::Only(tenant) = scope {
        filters.add("tenant_id = ?", [Bind::Int(tenant.0)]);
    }
    if let Some(role) = query.role {
        filters.add("role_id = ?", [Bind::Int(role.id())]);
    }
    match query.active {
        Some(true) => filters.add("deactivated_at IS NULL", []),
        Some(false) => filters.add("deactivated_at IS NOT NULL", []),
        None => {}
    }
    if let Some(text) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = contains(text);
        filters.add(
            "(LOWER(email) LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')",
            [Bind::Text(pattern.clone()), Bind::Text(pattern)],
        );
    }
    if let Some(before) = query.page.before_id {
        filters.add("id < ?", [Bind::Int(before)]);
    }
    let sql = format!(
        "{SELECT_USER} {} ORDER BY id DESC LIMIT {}",
        filters.where_sql(),
        query.page.limit + 1
    );
    let rows: Vec<UserRow> = filters
        .bind_all(sqlx::query_as(&sql))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// Writes a user's name, role and activity; a deactivated user keeps the time they were
/// first deactivated.
pub async fn update(
    conn: &mut Conn,
    id: UserId,
    name: &Name,
    role: Role,
    active: bool,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET name = $1, role_id = $2, \
           deactivated_at = CASE WHEN $3 = 1 THEN NULL ELSE COALESCE(deactivated_at, $4) END \
         WHERE id = $5",
    )
    .bind(name.as_str())
    .bind(role.id())
    .bind(i64::from(active))
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_active_with_role(conn: &mut Conn, role: Role) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role_id = $1 AND deactivated_at IS NULL",
    )
    .bind(role.id())
    .fetch_one(conn)
    .await?)
}

/// Locks a user's row until the transaction ends, so that their name, role and activity are
/// read and written by one change at a time (a no-op write: PostgreSQL holds the row lock to
/// commit; SQLite's writer holds the whole database). False if there is no such user.
pub async fn lock(conn: &mut Conn, id: UserId) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET name = name WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// As `lock`, but only while the user is active: false once they are deactivated. Under
/// READ COMMITTED a concurrent deactivation either commits first (and this sees it) or waits
/// for this transaction, and then ends what it started.
pub async fn lock_if_active(conn: &mut Conn, id: UserId) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET name = name WHERE id = $1 AND deactivated_at IS NULL")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a row lock that serialises changes to who administers the MSP, so that two admins
/// demoting each other at once cannot leave none. A no-op write on the MSP tenant's row:
/// PostgreSQL locks the row until commit, SQLite already holds its single write lock.
pub async fn lock_admin_changes(conn: &mut Conn) -> Result<()> {
    sqlx::query("UPDATE tenants SET kind = kind WHERE kind = 'msp'")
        .execute(conn)
        .await?;
    Ok(())
}

/// Who can re-issue `tenant`'s invites when their inviter cannot: its active client admins
/// and the MSP's active admins.
pub async fn active_admins_for(conn: &mut Conn, tenant: TenantId) -> Result<Vec<User>> {
    let sql = format!(
        "{SELECT_USER} WHERE deactivated_at IS NULL \
         AND ((tenant_id = $1 AND role_id = $2) OR role_id = $3) ORDER BY id"
    );
    let rows: Vec<UserRow> = sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(Role::ClientAdmin.id())
        .bind(Role::MspAdmin.id())
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}
