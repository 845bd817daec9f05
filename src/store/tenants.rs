//! SQL for tenants and their logos.

use sqlx::FromRow;

use super::{Conn, Result};
use crate::domain::actor::TenantScope;
use crate::domain::allowed_domains::AllowedDomains;
use crate::domain::clock::Timestamp;
use crate::domain::name::Name;
use crate::domain::tenant::{AccentColour, Logo, Slug, Tenant, TenantId, TenantKind};

const SELECT_TENANT: &str =
    "SELECT t.id, t.kind, t.name, t.slug, t.accent_colour, t.created_at, t.invite_reminders, \
     t.allowed_email_domains, l.etag AS logo_etag FROM tenants t LEFT JOIN tenant_logos l ON l.tenant_id = t.id";

#[derive(FromRow)]
pub(super) struct TenantRow {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) slug: Option<String>,
    pub(super) accent_colour: String,
    pub(super) created_at: i64,
    pub(super) invite_reminders: i64,
    pub(super) allowed_email_domains: String,
    pub(super) logo_etag: Option<String>,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Tenant {
            id: TenantId(row.id),
            kind: TenantKind::from_stored(&row.kind),
            name: Name::from_stored(row.name),
            slug: row.slug.map(Slug::from_stored),
            accent_colour: AccentColour::from_stored(row.accent_colour),
            logo_etag: row.logo_etag,
            created_at: Timestamp::from_millis(row.created_at),
            invite_reminders: row.invite_reminders != 0,
            allowed_email_domains: AllowedDomains::from_stored(&row.allowed_email_domains),
        }
    }
}

pub async fn insert(
    conn: &mut Conn,
    kind: TenantKind,
    name: &Name,
    slug: Option<&Slug>,
    accent_colour: &AccentColour,
    allowed_email_domains: &AllowedDomains,
    now: Timestamp,
) -> Result<TenantId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tenants (kind, name, slug, accent_colour, allowed_email_domains, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(name.as_str())
    .bind(slug.map(Slug::as_str))
    .bind(accent_colour.as_str())
    .bind(allowed_email_domains.to_stored())
    .bind(now.millis())
    .fetch_one(conn)
    .await?;
    Ok(TenantId(id))
}

pub async fn by_id(conn: &mut Conn, id: TenantId) -> Result<Option<Tenant>> {
    let sql = format!("{SELECT_TENANT} WHERE t.id = $1");
    let row: Option<TenantRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(conn).await?;
    Ok(row.map(Tenant::from))
}

pub async fn by_slug(conn: &mut Conn, slug: &str) -> Result<Option<Tenant>> {
    let sql = format!("{SELECT_TENANT} WHERE t.slug = $1");
    let row: Option<TenantRow> = sqlx::query_as(&sql).bind(slug).fetch_optional(conn).await?;
    Ok(row.map(Tenant::from))
}

pub async fn msp(conn: &mut Conn) -> Result<Option<Tenant>> {
    let sql = format!("{SELECT_TENANT} WHERE t.kind = 'msp'");
    let row: Option<TenantRow> = sqlx::query_as(&sql).fetch_optional(conn).await?;
    Ok(row.map(Tenant::from))
}

/// A tenant with the counts the consoles show beside it.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub tenant: Tenant,
    pub active_users: i64,
    pub pending_invites: i64,
}

#[derive(FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    tenant: TenantRow,
    active_users: i64,
    pending_invites: i64,
}

/// Tenants in scope, MSP first, then clients by name.
pub async fn list(
    conn: &mut Conn,
    scope: TenantScope,
    now: Timestamp,
) -> Result<Vec<TenantSummary>> {
    let (filter, tenant) = match scope {
        TenantScope::All => ("", None),
        TenantScope::Only(id) => ("WHERE t.id = $2", Some(id.0)),
    };
    let sql = format!(
        "SELECT t.id, t.kind, t.name, t.slug, t.accent_colour, t.created_at, t.invite_reminders, \
           t.allowed_email_domains, l.etag AS logo_etag, \
           (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id AND u.deactivated_at IS NULL) AS active_users, \
           (SELECT COUNT(*) FROM invites i WHERE i.tenant_id = t.id AND i.accepted_at IS NULL \
              AND i.revoked_at IS NULL AND i.expires_at > $1) AS pending_invites \
         FROM tenants t LEFT JOIN tenant_logos l ON l.tenant_id = t.id {filter} \
         ORDER BY CASE WHEN t.kind = 'msp' THEN 0 ELSE 1 END, LOWER(t.name), t.id"
    );
    let mut query = sqlx::query_as::<_, SummaryRow>(&sql).bind(now.millis());
    if let Some(tenant) = tenant {
        query = query.bind(tenant);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|row| TenantSummary {
            tenant: row.tenant.into(),
            active_users: row.active_users,
            pending_invites: row.pending_invites,
        })
        .collect())
}

pub async fn update(
    conn: &mut Conn,
    id: TenantId,
    name: &Name,
    accent_colour: &AccentColour,
    invite_reminders: bool,
    allowed_email_domains: &AllowedDomains,
) -> Result<()> {
    sqlx::query(
        "UPDATE tenants SET name = $1, accent_colour = $2, invite_reminders = $3, \
           allowed_email_domains = $4 WHERE id = $5",
    )
    .bind(name.as_str())
    .bind(accent_colour.as_str())
    .bind(i64::from(invite_reminders))
    .bind(allowed_email_domains.to_stored())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_logo(conn: &mut Conn, id: TenantId, logo: &Logo, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenant_logos (tenant_id, content_type, bytes, etag, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET content_type = excluded.content_type, \
           bytes = excluded.bytes, etag = excluded.etag, updated_at = excluded.updated_at",
    )
    .bind(id.0)
    .bind(logo.kind.content_type())
    .bind(logo.bytes.clone())
    .bind(logo.etag())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_logo(conn: &mut Conn, id: TenantId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM tenant_logos WHERE tenant_id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A logo as served: its sniffed type, bytes and ETag.
#[derive(Debug, Clone, FromRow)]
pub struct LogoFile {
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub etag: String,
}

pub async fn logo(conn: &mut Conn, id: TenantId) -> Result<Option<LogoFile>> {
    Ok(
        sqlx::query_as("SELECT content_type, bytes, etag FROM tenant_logos WHERE tenant_id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?,
    )
}

/// Inserts the MSP tenant unless one exists; a concurrent process's insert wins quietly.
pub async fn insert_msp_if_missing(
    conn: &mut Conn,
    name: &Name,
    accent_colour: &AccentColour,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenants (kind, name, slug, accent_colour, created_at) \
         VALUES ('msp', $1, NULL, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name.as_str())
    .bind(accent_colour.as_str())
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(())
}
