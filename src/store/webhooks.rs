//! SQL for webhook endpoints and their delivery log (delivery.md §14). The log is the
//! outbox's own attempts of the endpoint's messages.

use sqlx::FromRow;

use super::{Conn, Result};
use crate::domain::clock::Timestamp;
use crate::domain::outbox::{MessageId, State};
use crate::domain::page::PageRequest;
use crate::domain::tenant::TenantId;
use crate::domain::webhook::{EventTypes, Webhook, WebhookDelivery, WebhookId};

pub struct NewRow<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a EventTypes,
    pub tenant_ids: Option<&'a [TenantId]>,
    pub enabled: bool,
    pub sealed_secret: &'a [u8],
    pub now: Timestamp,
}

fn tenants_to_stored(ids: Option<&[TenantId]>) -> Option<String> {
    ids.map(|ids| {
        ids.iter()
            .map(|id| id.0.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

pub async fn insert(conn: &mut Conn, row: NewRow<'_>) -> Result<WebhookId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO webhooks (url, description, event_types, tenant_ids, enabled, \
         secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         RETURNING id",
    )
    .bind(row.url)
    .bind(row.description)
    .bind(row.event_types.to_stored())
    .bind(tenants_to_stored(row.tenant_ids))
    .bind(i64::from(row.enabled))
    .bind(row.sealed_secret.to_vec())
    .bind(row.now.millis())
    .fetch_one(conn)
    .await?;
    Ok(WebhookId(id))
}

#[derive(FromRow)]
struct WebhookRow {
    id: i64,
    url: String,
    description: String,
    event_types: String,
    tenant_ids: Option<String>,
    enabled: i64,
    disabled_reason: Option<String>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: WebhookId(row.id),
            url: row.url,
            description: row.description,
            event_types: EventTypes::from_stored(&row.event_types),
            tenant_ids: row.tenant_ids.map(|ids| {
                ids.split_whitespace()
                    .filter_map(|id| id.parse().ok())
                    .map(TenantId)
                    .collect()
            }),
            enabled: row.enabled != 0,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        }
    }
}

const SELECT_WEBHOOK: &str = "SELECT id, url, description, event_types, tenant_ids, enabled, \
     disabled_reason, failing_since, created_at, updated_at FROM webhooks";

pub async fn list(conn: &mut Conn) -> Result<Vec<Webhook>> {
    let sql = format!("{SELECT_WEBHOOK} ORDER BY id");
    let rows: Vec<WebhookRow> = sqlx::query_as(&sql).fetch_all(conn).await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// The endpoints that are on, which every change asks for its events.
pub async fn enabled(conn: &mut Conn) -> Result<Vec<Webhook>> {
    let sql = format!("{SELECT_WEBHOOK} WHERE enabled = 1 ORDER BY id");
    let rows: Vec<WebhookRow> = sqlx::query_as(&sql).fetch_all(conn).await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

pub async fn by_id(conn: &mut Conn, id: WebhookId) -> Result<Option<Webhook>> {
    let sql = format!("{SELECT_WEBHOOK} WHERE id = $1");
    let row: Option<WebhookRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(conn).await?;
    Ok(row.map(Webhook::from))
}

pub async fn update(conn: &mut Conn, webhook: &Webhook) -> Result<()> {
    sqlx::query(
        "UPDATE webhooks SET url = $1, description = $2, event_types = $3, tenant_ids = $4, \
         enabled = $5, disabled_reason = $6, failing_since = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(&webhook.url)
    .bind(&webhook.description)
    .bind(webhook.event_types.to_stored())
    .bind(tenants_to_stored(webhook.tenant_ids.as_deref()))
    .bind(i64::from(webhook.enabled))
    .bind(webhook.disabled_reason.as_deref())
    .bind(webhook.failing_since.map(Timestamp::millis))
    .bind(webhook.updated_at.millis())
    .bind(webhook.id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the endpoint, its messages and their attempts. A message being sent right now is
/// let go of instead, so that its worker can still record the attempt; it names no endpoint
/// afterwards and is not sent again.
pub async fn delete(conn: &mut Conn, id: WebhookId) -> Result<()> {
    sqlx::query(
        "DELETE FROM outbox_attempts WHERE message_id IN \
         (SELECT id FROM outbox WHERE webhook_id = $1 AND state <> 'sending')",
    )
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM outbox WHERE webhook_id = $1 AND state <> 'sending'")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE outbox SET webhook_id = NULL WHERE webhook_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes `sealed` the current secret and keeps the current one as the previous until
/// `previous_until`. False if there is no such endpoint.
pub async fn rotate(
    conn: &mut Conn,
    id: WebhookId,
    sealed: &[u8],
    previous_until: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhooks SET previous_secret_sealed = secret_sealed, previous_secret_until = $1, \
         secret_sealed = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(previous_until.millis())
    .bind(sealed.to_vec())
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An endpoint as a delivery needs it: where, whether it is on, and its sealed secrets.
#[derive(FromRow)]
pub struct Destination {
    pub url: String,
    pub enabled: i64,
    pub failing_since: Option<i64>,
    #[sqlx(flatten)]
    pub secrets: SealedSecrets,
}

#[derive(FromRow)]
pub struct SealedSecrets {
    #[sqlx(rename = "secret_sealed")]
    pub current: Vec<u8>,
    #[sqlx(rename = "previous_secret_sealed")]
    pub previous: Option<Vec<u8>>,
    /// Unix milliseconds.
    #[sqlx(rename = "previous_secret_until")]
    pub previous_until: Option<i64>,
}

pub async fn destination(conn: &mut Conn, id: WebhookId) -> Result<Option<Destination>> {
    Ok(sqlx::query_as(
        "SELECT url, enabled, failing_since, secret_sealed, previous_secret_sealed, \
         previous_secret_until FROM webhooks WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?)
}

/// A delivery succeeded: the endpoint's run of failures is over.
pub async fn delivered(conn: &mut Conn, id: WebhookId) -> Result<()> {
    sqlx::query(
        "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery failed: the run of failures began now unless it had begun already. Returns
/// when it began.
pub async fn failed(conn: &mut Conn, id: WebhookId, now: Timestamp) -> Result<Option<Timestamp>> {
    let since: Option<i64> = sqlx::query_scalar(
        "UPDATE webhooks SET failing_since = COALESCE(failing_since, $1) WHERE id = $2 \
         RETURNING failing_since",
    )
    .bind(now.millis())
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .flatten();
    Ok(since.map(Timestamp::from_millis))
}

/// Turns the endpoint off, saying why.
pub async fn disable(conn: &mut Conn, id: WebhookId, reason: &str, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE webhooks SET enabled = 0, disabled_reason = $1, updated_at = $2 \
         WHERE id = $3 AND enabled = 1",
    )
    .bind(reason)
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct DeliveryRow {
    id: i64,
    message_id: i64,
    topic: String,
    attempted_at: i64,
    status_code: Option<i64>,
    duration_ms: i64,
    error: Option<String>,
    state: String,
}

/// The attempts of the endpoint's messages, newest first.
pub async fn deliveries(
    conn: &mut Conn,
    id: WebhookId,
    page: &PageRequest,
) -> Result<Vec<WebhookDelivery>> {
    let before = page.before_id.unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT a.id, a.message_id, o.topic, a.attempted_at, a.status_code, a.duration_ms, \
         a.error, o.state FROM outbox_attempts a JOIN outbox o ON o.id = a.message_id \
         WHERE o.webhook_id = $1 AND a.id < $2 ORDER BY a.id DESC LIMIT {}",
        page.limit + 1
    );
    let rows: Vec<DeliveryRow> = sqlx::query_as(&sql)
        .bind(id.0)
        .bind(before)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| WebhookDelivery {
            id: row.id,
            message_id: MessageId(row.message_id),
            event_type: row.topic,
            attempted_at: Timestamp::from_millis(row.attempted_at),
            status_code: row.status_code,
            duration_ms: row.duration_ms,
            error: row.error,
            retryable: State::from_stored(&row.state) == State::Failed,
        })
        .collect())
}

/// The message a delivery of the endpoint attempted.
pub async fn message_of_delivery(
    conn: &mut Conn,
    id: WebhookId,
    delivery: i64,
) -> Result<Option<MessageId>> {
    let message: Option<i64> = sqlx::query_scalar(
        "SELECT a.message_id FROM outbox_attempts a JOIN outbox o ON o.id = a.message_id \
         WHERE a.id = $1 AND o.webhook_id = $2",
    )
    .bind(delivery)
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(message.map(MessageId))
}

/// Endpoints on and off, for `/metrics`.
pub async fn counts(conn: &mut Conn) -> Result<(i64, i64)> {
    let (on, off): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(CASE WHEN enabled = 1 THEN 1 END), \
         COUNT(CASE WHEN enabled = 0 THEN 1 END) FROM webhooks",
    )
    .fetch_one(conn)
    .await?;
    Ok((on, off))
}
