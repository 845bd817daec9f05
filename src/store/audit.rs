//! SQL for the audit trail.

use sqlx::FromRow;

use super::{contains, Bind, Conn, Filters, Result};
use crate::domain::actor::TenantScope;
use crate::domain::audit::{AuditEvent, AuditQuery, NewAuditEvent};
use crate::domain::clock::Timestamp;

pub async fn insert(conn: &mut Conn, event: &NewAuditEvent) -> Result<()> {
    let (target_type, target_id) = event.target.parts();
    sqlx::query(
        "INSERT INTO audit_events (at, action, actor_id, tenant_id, target_type, target_id, ip, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.at.millis())
    .bind(event.action.name())
    .bind(event.actor_id.map(|id| id.0))
    .bind(event.tenant_id.map(|id| id.0))
    .bind(target_type)
    .bind(target_id)
    .bind(event.ip.as_deref())
    .bind(event.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    action: String,
    actor_id: Option<i64>,
    tenant_id: Option<i64>,
    target_type: Option<String>,
    target_id: Option<i64>,
    ip: Option<String>,
    detail: String,
}

pub async fn list(
    conn: &mut Conn,
    scope: TenantScope,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>> {
    let mut filters = Filters::default();
    if let TenantScope::Only(tenant) = scope {
        filters.add("tenant_id = ?", [Bind::Int(tenant.0)]);
    }
    if let Some(action) = &query.action {
        filters.add("action = ?", [Bind::Text(action.clone())]);
    }
    if let Some(actor) = query.actor_id {
        filters.add("actor_id = ?", [Bind::Int(actor.0)]);
    }
    if let Some(email) = query.actor_email.as_deref() {
        filters.add(
            "actor_id IN (SELECT id FROM users WHERE LOWER(email) LIKE ? ESCAPE '\\')",
            [Bind::Text(contains(email))],
        );
    }
    if let Some(since) = query.since {
        filters.add("at >= ?", [Bind::Int(since.millis())]);
    }
    if let Some(until) = query.until {
        filters.add("at < ?", [Bind::Int(until.millis())]);
    }
    if let Some(before) = query.page.before_id {
        filters.add("id < ?", [Bind::Int(before)]);
    }
    let sql = format!(
        "SELECT id, at, action, actor_id, tenant_id, target_type, target_id, ip, detail \
         FROM audit_events {} ORDER BY id DESC LIMIT {}",
        filters.where_sql(),
        query.page.limit + 1
    );
    let rows: Vec<AuditRow> = filters
        .bind_all(sqlx::query_as(&sql))
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEvent {
            id: row.id,
            at: Timestamp::from_millis(row.at),
            action: row.action,
            actor_id: row.actor_id,
            tenant_id: row.tenant_id,
            target_type: row.target_type,
            target_id: row.target_id,
            ip: row.ip,
            detail: serde_json::from_str(&row.detail).unwrap_or_default(),
        })
        .collect())
}
