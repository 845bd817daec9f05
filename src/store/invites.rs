//! SQL for invites. Races are settled here, by the database: claiming and revoking are
//! conditional `UPDATE`s whose affected-row count says who won, and the partial unique
//! index `invites_one_open_per_email` refuses a second open invite for one email.

use rusqlite::OptionalExtension;
use sqlx::FromRow;

use super::outbox::DeliveryRow;
use super::tenants::TenantRow;
use super::{Bind, Conn, Db, Filters, Result};
use crate::domain::actor::TenantScope;
use crate::domain::clock::Timestamp;
use crate::domain::email::Email;
use crate::domain::invite::{
    Invite, InviteId, InviteQuery, InviteStatus, RevokeReason, StatusFilter,
};
use crate::domain::name::Name;
use crate::domain::role::Role;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::token::TokenDigest;
use crate::domain::user::UserId;

/// The columns of an `InviteRow`, once for every query that reads one (a macro, so that
/// `concat!` can build each query's text at compile time).
macro_rules! invite_columns {
    () => {
        "i.id, i.email, i.name, i.role_id, i.tenant_id, i.created_at, i.expires_at, \
         i.created_by, c.email AS created_by_email, i.accepted_at, i.accepted_user_id, \
         i.revoked_at, i.revoked_by, i.revoke_reason, i.renewal_requested_at"
    };
}

/// An invite with how its e-mail is doing (`outbox::DELIVERY_COLUMNS`), its text built once.
fn select_invite() -> &'static str {
    static SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {}, {} FROM invites i LEFT JOIN users c ON c.id = i.created_by {}",
            invite_columns!(),
            super::outbox::DELIVERY_COLUMNS,
            super::outbox::DELIVERY_JOIN
        )
    });
    &SELECT
}

#[derive(FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    invite: InviteRow,
    #[sqlx(flatten)]
    delivery: DeliveryRow,
}

impl ListedRow {
    fn into_invite(self, now: Timestamp) -> Invite {
        Invite {
            delivery: self.delivery.into_delivery(),
            ..self.invite.into_invite(now)
        }
    }
}

#[derive(FromRow)]
struct InviteRow {
    id: i64,
    email: Option<String>,
    name: Option<String>,
    role_id: i64,
    tenant_id: i64,
    created_at: i64,
    expires_at: i64,
    created_by: Option<i64>,
    created_by_email: Option<String>,
    accepted_at: Option<i64>,
    accepted_user_id: Option<i64>,
    revoked_at: Option<i64>,
    revoked_by: Option<i64>,
    revoke_reason: Option<String>,
    renewal_requested_at: Option<i64>,
}

impl InviteRow {
    /// The row as rusqlite reads it (`direct.rs`), by the names `invite_columns!` gives: the
    /// two drivers share no row trait, so this mirrors sqlx's `FromRow` above.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            name: row.get("name")?,
            role_id: row.get("role_id")?,
            tenant_id: row.get("tenant_id")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
            created_by: row.get("created_by")?,
            created_by_email: row.get("created_by_email")?,
            accepted_at: row.get("accepted_at")?,
            accepted_user_id: row.get("accepted_user_id")?,
            revoked_at: row.get("revoked_at")?,
            revoked_by: row.get("revoked_by")?,
            revoke_reason: row.get("revoke_reason")?,
            renewal_requested_at: row.get("renewal_requested_at")?,
        })
    }

    fn into_invite(self, now: Timestamp) -> Invite {
        let revoke_reason = self.revoke_reason.as_deref().map(RevokeReason::from_stored);
        let accepted_at = self.accepted_at.map(Timestamp::from_millis);
        let revoked_at = self.revoked_at.map(Timestamp::from_millis);
        let expires_at = Timestamp::from_millis(self.expires_at);
        Invite {
            id: InviteId(self.id),
            email: self.email.map(Email::from_stored),
            name: self.name.map(Name::from_stored),
            // The schema's CHECK holds role_id to the catalogue.
            role: Role::from_id(self.role_id).unwrap_or(Role::ClientUser),
            tenant_id: TenantId(self.tenant_id),
            status: InviteStatus::derive(accepted_at, revoked_at, expires_at, now),
            created_at: Timestamp::from_millis(self.created_at),
            expires_at,
            created_by: self
                .created_by
                .zip(self.created_by_email)
                .map(|(id, email)| (UserId(id), Email::from_stored(email))),
            accepted_at,
            accepted_user_id: self.accepted_user_id.map(UserId),
            revoked_at,
            revoked_by: self.revoked_by.map(UserId),
            revoke_reason,
            renewal_requested_at: self.renewal_requested_at.map(Timestamp::from_millis),
            delivery: None,
        }
    }
}

pub struct NewInvite<'a> {
    pub digest: TokenDigest,
    pub email: Option<&'a Email>,
    pub name: Option<&'a Name>,
    pub role: Role,
    pub tenant_id: TenantId,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert(conn: &mut Conn, invite: NewInvite<'_>) -> Result<InviteId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invites (token_digest, email, name, role_id, tenant_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(invite.digest.to_vec())
    .bind(invite.email.map(Email::as_str))
    .bind(invite.name.map(Name::as_str))
    .bind(invite.role.id())
    .bind(invite.tenant_id.0)
    .bind(invite.created_by.map(|id| id.0))
    .bind(invite.created_at.millis())
    .bind(invite.expires_at.millis())
    .fetch_one(conn)
    .await?;
    Ok(InviteId(id))
}

pub async fn by_id(conn: &mut Conn, id: InviteId, now: Timestamp) -> Result<Option<Invite>> {
    let sql = format!("{} WHERE i.id = $1", select_invite());
    let row: Option<ListedRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(conn).await?;
    Ok(row.map(|row| row.into_invite(now)))
}

pub const SELECT_LINK: &str = concat!(
    "SELECT ",
    invite_columns!(),
    ", t.kind AS tenant_kind, t.name AS tenant_name, t.slug AS tenant_slug, \
       t.accent_colour AS tenant_accent_colour, t.created_at AS tenant_created_at, \
       t.invite_reminders AS tenant_invite_reminders, \
       t.allowed_email_domains AS tenant_allowed_email_domains, \
       l.etag AS tenant_logo_etag \
     FROM invites i JOIN tenants t ON t.id = i.tenant_id \
       LEFT JOIN users c ON c.id = i.created_by \
       LEFT JOIN tenant_logos l ON l.tenant_id = i.tenant_id \
     WHERE i.token_digest = $1"
);

/// The invite a link's token names, with its tenant, in one query: the setup page, which
/// shows both, is the page recipients load most. On SQLite it is read in place (`direct`).
pub async fn link_by_digest(
    db: &Db,
    digest: TokenDigest,
    now: Timestamp,
) -> Result<Option<(Invite, Tenant)>> {
    let row = match db.direct() {
        Some(direct) => direct.read(|conn| {
            conn.prepare_cached(SELECT_LINK)?
                .query_row([digest.to_vec()], LinkRow::from_sqlite)
                .optional()
        })?,
        None => {
            let mut conn = db.read().await?;
            sqlx::query_as(SELECT_LINK)
                .bind(digest.to_vec())
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    Ok(row.map(|row: LinkRow| {
        let tenant = TenantRow {
            id: row.invite.tenant_id,
            kind: row.tenant_kind,
            name: row.tenant_name,
            slug: row.tenant_slug,
            accent_colour: row.tenant_accent_colour,
            created_at: row.tenant_created_at,
            invite_reminders: row.tenant_invite_reminders,
            allowed_email_domains: row.tenant_allowed_email_domains,
            logo_etag: row.tenant_logo_etag,
        };
        (row.invite.into_invite(now), Tenant::from(tenant))
    }))
}

impl LinkRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            invite: InviteRow::from_sqlite(row)?,
            tenant_kind: row.get("tenant_kind")?,
            tenant_name: row.get("tenant_name")?,
            tenant_slug: row.get("tenant_slug")?,
            tenant_accent_colour: row.get("tenant_accent_colour")?,
            tenant_created_at: row.get("tenant_created_at")?,
            tenant_invite_reminders: row.get("tenant_invite_reminders")?,
            tenant_allowed_email_domains: row.get("tenant_allowed_email_domains")?,
            tenant_logo_etag: row.get("tenant_logo_etag")?,
        })
    }
}

#[derive(FromRow)]
struct LinkRow {
    #[sqlx(flatten)]
    invite: InviteRow,
    tenant_kind: String,
    tenant_name: String,
    tenant_slug: Option<String>,
    tenant_accent_colour: String,
    tenant_created_at: i64,
    tenant_invite_reminders: i64,
    tenant_allowed_email_domains: String,
    tenant_logo_etag: Option<String>,
}

/// The invite for `email` that is neither accepted nor revoked (pending or expired), if any.
pub async fn open_for_email(
    conn: &mut Conn,
    email: &Email,
    now: Timestamp,
) -> Result<Option<Invite>> {
    let sql = format!(
        "{} WHERE i.email = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL",
        select_invite()
    );
    let row: Option<ListedRow> = sqlx::query_as(&sql)
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| row.into_invite(now)))
}

/// Open first-admin invites (those without an email) in `tenant`.
pub async fn open_without_email(conn: &mut Conn, tenant: TenantId) -> Result<Vec<InviteId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM invites WHERE email IS NULL AND tenant_id = $1 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(tenant.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(InviteId).collect())
}

/// What `list` and `count` filter by: the scope, the status, the address and a renewal
/// request; not the page.
fn filters(
    scope: TenantScope,
    query: &InviteQuery,
    email: Option<&Email>,
    now: Timestamp,
) -> Filters {
    let mut filters = Filters::default();
    if let TenantScope::Only(tenant) = scope {
        filters.add("i.tenant_id = ?", [Bind::Int(tenant.0)]);
    }
    match query.status {
        StatusFilter::All => {}
        StatusFilter::Only(InviteStatus::Pending) => filters.add(
            "i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?",
            [Bind::Int(now.millis())],
        ),
        StatusFilter::Only(InviteStatus::Expired) => filters.add(
            "i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at <= ?",
            [Bind::Int(now.millis())],
        ),
        StatusFilter::Only(InviteStatus::Accepted) => filters.add("i.accepted_at IS NOT NULL", []),
        StatusFilter::Only(InviteStatus::Revoked) => filters.add("i.revoked_at IS NOT NULL", []),
        StatusFilter::Open => filters.add("i.accepted_at IS NULL AND i.revoked_at IS NULL", []),
    }
    if let Some(email) = email {
        filters.add("i.email = ?", [Bind::Text(email.as_str().to_owned())]);
    }
    if query.renewal_requested {
        filters.add(WAITING_FOR_RENEWAL, []);
    }
    filters
}

pub async fn list(
    conn: &mut Conn,
    scope: TenantScope,
    query: &InviteQuery,
    email: Option<&Email>,
    now: Timestamp,
) -> Result<Vec<Invite>> {
    let mut filters = filters(scope, query, email, now);
    if let Some(before) = query.page.before_id {
        filters.add("i.id < ?", [Bind::Int(before)]);
    }
    let sql = format!(
        "{} {} ORDER BY i.id DESC LIMIT {}",
        select_invite(),
        filters.where_sql(),
        query.page.limit + 1
    );
    let rows: Vec<ListedRow> = filters
        .bind_all(sqlx::query_as(&sql))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| row.into_invite(now)).collect())
}

/// How many invites `list` would list over all its pages.
pub async fn count(
    conn: &mut Conn,
    scope: TenantScope,
    query: &InviteQuery,
    email: Option<&Email>,
    now: Timestamp,
) -> Result<i64> {
    let filters = filters(scope, query, email, now);
    let sql = format!("SELECT COUNT(*) FROM invites i {}", filters.where_sql());
    let (count,): (i64,) = filters
        .bind_all(sqlx::query_as(&sql))
        .fetch_one(conn)
        .await?;
    Ok(count)
}

/// A renewal request nobody has answered yet: no invite for the address was made since it was
/// asked for, and the address has no account.
const WAITING_FOR_RENEWAL: &str = "i.renewal_requested_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM invites n WHERE n.email = i.email AND n.id > i.id \
       AND n.created_at >= i.renewal_requested_at) \
     AND NOT EXISTS (SELECT 1 FROM users u WHERE u.email = i.email)";

/// Records that the recipient asked for a fresh link; false if they already had.
pub async fn request_renewal(conn: &mut Conn, id: InviteId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE invites SET renewal_requested_at = $1 \
         WHERE id = $2 AND renewal_requested_at IS NULL AND accepted_at IS NULL",
    )
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims a pending invite for accepting it: true only for the one caller that found it
/// still pending at this instant.
pub async fn claim(conn: &mut Conn, id: InviteId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE invites SET accepted_at = $1 \
         WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_accepted_user(conn: &mut Conn, id: InviteId, user: UserId) -> Result<()> {
    sqlx::query("UPDATE invites SET accepted_user_id = $1 WHERE id = $2")
        .bind(user.0)
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes an invite that is neither accepted nor revoked; false if it no longer was.
pub async fn revoke(
    conn: &mut Conn,
    id: InviteId,
    by: Option<UserId>,
    reason: RevokeReason,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE invites SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
         WHERE id = $4 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(by.map(|id| id.0))
    .bind(reason.as_str())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The addresses of `tenant`'s pending invites.
pub async fn pending_emails(
    conn: &mut Conn,
    tenant: TenantId,
    now: Timestamp,
) -> Result<Vec<Email>> {
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM invites WHERE tenant_id = $1 AND email IS NOT NULL \
         AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(tenant.0)
    .bind(now.millis())
    .fetch_all(conn)
    .await?;
    Ok(emails.into_iter().map(Email::from_stored).collect())
}
