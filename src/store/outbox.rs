//! SQL for the outbox (delivery.md §8). Claiming is the one place the engines differ in
//! their SQL: PostgreSQL skips rows another process has locked (`FOR UPDATE SKIP LOCKED`),
//! SQLite claims under its single write lock, which `Db::begin` takes up front.

use sqlx::FromRow;

use super::{Bind, Conn, Engine, Filters, Result};
use crate::domain::actor::TenantScope;
use crate::domain::clock::Timestamp;
use crate::domain::invite::InviteId;
use crate::domain::outbox::{Delivery, Kind, Message, MessageId, MessageQuery, State};
use crate::domain::recovery::ResetId;
use crate::domain::tenant::TenantId;
use crate::domain::user::UserId;
use crate::domain::webhook::WebhookId;

pub struct NewMessage<'a> {
    pub kind: Kind,
    pub topic: &'a str,
    pub tenant_id: Option<TenantId>,
    pub invite_id: Option<InviteId>,
    pub password_reset_id: Option<ResetId>,
    pub subject: &'a str,
    pub payload: &'a str,
    pub sealed: Option<Vec<u8>>,
    pub due_at: Timestamp,
    pub now: Timestamp,
}

pub async fn insert(conn: &mut Conn, message: NewMessage<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (kind, topic, tenant_id, invite_id, password_reset_id, subject, \
         payload, sealed, state, attempts, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $10)",
    )
    .bind(message.kind.as_str())
    .bind(message.topic)
    .bind(message.tenant_id.map(|id| id.0))
    .bind(message.invite_id.map(|id| id.0))
    .bind(message.password_reset_id.map(|id| id.0))
    .bind(message.subject)
    .bind(message.payload)
    .bind(message.sealed)
    .bind(message.now.millis())
    .bind(message.due_at.millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes an event for webhook `endpoint`; returns the message's id, the `webhook-id` its
/// receiver sees on every attempt.
pub async fn insert_webhook(
    conn: &mut Conn,
    message: NewMessage<'_>,
    endpoint: WebhookId,
) -> Result<MessageId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (kind, topic, tenant_id, webhook_id, subject, payload, state, \
         attempts, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $8) RETURNING id",
    )
    .bind(message.kind.as_str())
    .bind(message.topic)
    .bind(message.tenant_id.map(|id| id.0))
    .bind(endpoint.0)
    .bind(message.subject)
    .bind(message.payload)
    .bind(message.now.millis())
    .bind(message.due_at.millis())
    .fetch_one(conn)
    .await?;
    Ok(MessageId(id))
}

/// A message claimed for one delivery attempt.
#[derive(Debug, FromRow)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub topic: String,
    pub tenant_id: Option<i64>,
    pub invite_id: Option<i64>,
    pub password_reset_id: Option<i64>,
    pub webhook_id: Option<i64>,
    pub payload: String,
    pub sealed: Option<Vec<u8>>,
    pub attempts: i64,
    pub created_at: i64,
}

/// Claims up to `limit` due messages of `kind` until `lease_until`: each becomes `sending`, its
/// attempt is counted, and it is due again when the lease runs out (a process that died
/// holding it left it to be claimed again).
pub async fn claim(
    conn: &mut Conn,
    engine: Engine,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
    kind: Kind,
) -> Result<Vec<Claimed>> {
    let skip_locked = match engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, locked_until = $1, \
         next_attempt_at = $1 \
         WHERE id IN (SELECT id FROM outbox WHERE state IN ('queued', 'sending') \
           AND kind = $4 AND next_attempt_at <= $2 \
           ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) \
         RETURNING id, kind, topic, tenant_id, invite_id, password_reset_id, webhook_id, payload, \
         sealed, attempts, created_at"
    );
    Ok(sqlx::query_as(&sql)
        .bind(lease_until.millis())
        .bind(now.millis())
        .bind(limit)
        .bind(kind.as_str())
        .fetch_all(conn)
        .await?)
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed for now; due again at the given time.
    Retry(Timestamp),
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry(_) => "retry",
            Self::Failed => "failed",
        }
    }
}

/// What one attempt came to, as recorded.
pub struct Finished<'a> {
    pub id: i64,
    pub outcome: Outcome,
    pub error: Option<&'a str>,
    /// A webhook receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
}

/// Attempts written by one statement.
const FINISH_CHUNK: usize = 16;

/// Records a round's attempts and their messages' new states; a sent message loses its
/// sealed copy. The attempts are one statement and the sent messages another, as a round is
/// mostly successes; a retry or a failure is a statement of its own.
pub async fn finish_all(conn: &mut Conn, attempts: &[Finished<'_>], now: Timestamp) -> Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    // In chunks: SQLite looks each `$n` up by name as it binds, so one statement with
    // hundreds of parameters costs more than several with a few dozen.
    for chunk in attempts.chunks(FINISH_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|n| {
                let first = n * 5 + 2;
                format!(
                    "(${}, $1, ${}, ${}, ${}, ${})",
                    first,
                    first + 1,
                    first + 2,
                    first + 3,
                    first + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox_attempts (message_id, attempted_at, outcome, error, duration_ms, \
             status_code) VALUES {}",
            rows.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(now.millis());
        for attempt in chunk {
            insert = insert
                .bind(attempt.id)
                .bind(attempt.outcome.as_str())
                .bind(attempt.error)
                .bind(attempt.duration_ms)
                .bind(attempt.status_code);
        }
        insert.execute(&mut *conn).await?;
    }

    let sent: Vec<i64> = attempts
        .iter()
        .filter(|attempt| attempt.outcome == Outcome::Sent)
        .map(|attempt| attempt.id)
        .collect();
    for sent in sent.chunks(FINISH_CHUNK) {
        let placeholders: Vec<String> = (0..sent.len()).map(|n| format!("${}", n + 2)).collect();
        let sql = format!(
            "UPDATE outbox SET state = 'sent', sent_at = $1, sealed = NULL, locked_until = NULL, \
             last_error = NULL WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut update = sqlx::query(&sql).bind(now.millis());
        for id in sent {
            update = update.bind(*id);
        }
        update.execute(&mut *conn).await?;
    }

    for attempt in attempts {
        let query = match attempt.outcome {
            Outcome::Sent => continue,
            Outcome::Retry(due) => sqlx::query(
                "UPDATE outbox SET state = 'queued', next_attempt_at = $1, locked_until = NULL, \
                 last_error = $2 WHERE id = $3 AND state = 'sending'",
            )
            .bind(due.millis())
            .bind(attempt.error)
            .bind(attempt.id),
            Outcome::Failed => sqlx::query(
                "UPDATE outbox SET state = 'failed', locked_until = NULL, last_error = $1 \
                 WHERE id = $2 AND state = 'sending'",
            )
            .bind(attempt.error)
            .bind(attempt.id),
        };
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Gives back claimed messages that were not attempted (the process is stopping): due at
/// once, their attempt not counted.
pub async fn release(conn: &mut Conn, ids: &[i64], now: Timestamp) -> Result<()> {
    for id in ids {
        sqlx::query(
            "UPDATE outbox SET state = 'queued', next_attempt_at = $1, locked_until = NULL, \
             attempts = attempts - 1 WHERE id = $2 AND state = 'sending'",
        )
        .bind(now.millis())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `invite` stopped being pending (accepted, revoked or superseded): the sealed token of
/// every message about it is erased, and its reminder, if still waiting, is cancelled.
pub async fn invite_closed(conn: &mut Conn, invite: InviteId) -> Result<()> {
    sqlx::query("UPDATE outbox SET sealed = NULL WHERE invite_id = $1 AND sealed IS NOT NULL")
        .bind(invite.0)
        .execute(&mut *conn)
        .await?;
    // One statement on the accept and revoke paths. A reminder that was ever attempted (it
    // has attempt rows) or is being attempted now is left to its worker, which finds the
    // invite no longer pending and does nothing.
    sqlx::query(
        "DELETE FROM outbox WHERE invite_id = $1 AND topic = 'reminder' \
         AND state = 'queued' AND attempts = 0",
    )
    .bind(invite.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases the sealed token of every message about a reset link of `user` (one was used, or
/// a newer one superseded them).
pub async fn erase_sealed_for_resets_of(conn: &mut Conn, user: UserId) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET sealed = NULL WHERE sealed IS NOT NULL AND password_reset_id IN \
         (SELECT id FROM password_resets WHERE user_id = $1)",
    )
    .bind(user.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases the sealed tokens of invites and reset links that expired; how many it erased.
pub async fn erase_sealed_of_expired(conn: &mut Conn, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET sealed = NULL WHERE sealed IS NOT NULL AND (invite_id IN \
         (SELECT id FROM invites WHERE expires_at <= $1) OR password_reset_id IN \
         (SELECT id FROM password_resets WHERE expires_at <= $1))",
    )
    .bind(now.millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Puts a message back in the queue, due now, with a fresh schedule. False if it is being
/// sent or was already sent.
pub async fn requeue(conn: &mut Conn, id: MessageId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = $1, \
         locked_until = NULL WHERE id = $2 AND state IN ('failed', 'queued')",
    )
    .bind(now.millis())
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(FromRow)]
struct MessageRow {
    id: i64,
    kind: String,
    topic: String,
    tenant_id: Option<i64>,
    invite_id: Option<i64>,
    subject: String,
    state: String,
    attempts: i64,
    created_at: i64,
    next_attempt_at: i64,
    sent_at: Option<i64>,
    last_error: Option<String>,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        let state = State::from_stored(&row.state);
        Message {
            id: MessageId(row.id),
            kind: Kind::from_stored(&row.kind),
            topic: row.topic,
            tenant_id: row.tenant_id.map(TenantId),
            invite_id: row.invite_id.map(InviteId),
            subject: row.subject,
            state,
            attempts: row.attempts,
            created_at: Timestamp::from_millis(row.created_at),
            next_attempt_at: matches!(state, State::Queued | State::Sending)
                .then(|| Timestamp::from_millis(row.next_attempt_at)),
            sent_at: row.sent_at.map(Timestamp::from_millis),
            last_error: row.last_error,
        }
    }
}

const SELECT_MESSAGE: &str = "SELECT id, kind, topic, tenant_id, invite_id, subject, state, \
     attempts, created_at, next_attempt_at, sent_at, last_error FROM outbox";

pub async fn by_id(conn: &mut Conn, id: MessageId) -> Result<Option<Message>> {
    let sql = format!("{SELECT_MESSAGE} WHERE id = $1");
    let row: Option<MessageRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(conn).await?;
    Ok(row.map(Message::from))
}

/// Messages in `scope`, newest first. Reminders wait in the same table but are not listed:
/// they send nothing themselves, and the invite e-mail one causes is listed once written.
pub async fn list(
    conn: &mut Conn,
    scope: TenantScope,
    query: &MessageQuery,
) -> Result<Vec<Message>> {
    let mut filters = Filters::default();
    filters.add("topic <> 'reminder'", []);
    if let TenantScope::Only(tenant) = scope {
        // A client admin sees their tenant's e-mails, never the MSP's webhooks.
        filters.add("tenant_id = ? AND kind = 'email'", [Bind::Int(tenant.0)]);
    }
    if let Some(state) = query.state {
        filters.add("state = ?", [Bind::Text(state.as_str().to_owned())]);
    }
    if let Some(kind) = query.kind {
        filters.add("kind = ?", [Bind::Text(kind.as_str().to_owned())]);
    }
    if let Some(before) = query.page.before_id {
        filters.add("id < ?", [Bind::Int(before)]);
    }
    let sql = format!(
        "{SELECT_MESSAGE} {} ORDER BY id DESC LIMIT {}",
        filters.where_sql(),
        query.page.limit + 1
    );
    let rows: Vec<MessageRow> = filters
        .bind_all(sqlx::query_as(&sql))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(Message::from).collect())
}

/// The columns `invites.rs` reads with an invite to show its e-mail's delivery: its latest
/// invite e-mail, if it was e-mailed.
pub const DELIVERY_COLUMNS: &str = "o.state AS delivery_state, o.attempts AS delivery_attempts, \
     o.sent_at AS delivery_sent_at, o.last_error AS delivery_error";
pub const DELIVERY_JOIN: &str = "LEFT JOIN outbox o ON o.id = \
     (SELECT MAX(m.id) FROM outbox m WHERE m.invite_id = i.id AND m.topic = 'invite')";

#[derive(Debug, Default, FromRow)]
pub struct DeliveryRow {
    delivery_state: Option<String>,
    delivery_attempts: Option<i64>,
    delivery_sent_at: Option<i64>,
    delivery_error: Option<String>,
}

impl DeliveryRow {
    pub fn into_delivery(self) -> Option<Delivery> {
        let state = State::from_stored(self.delivery_state.as_deref()?);
        Some(Delivery {
            state,
            attempts: self.delivery_attempts.unwrap_or(0),
            sent_at: self.delivery_sent_at.map(Timestamp::from_millis),
            last_error: self.delivery_error,
        })
    }
}

/// Messages by kind and state, for `/metrics`; reminders are not messages (see `list`).
pub async fn counts(conn: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT kind, state, COUNT(*) FROM outbox WHERE topic <> 'reminder' \
         GROUP BY kind, state ORDER BY kind, state",
    )
    .fetch_all(conn)
    .await?)
}

/// When the oldest due message became due, if one is.
pub async fn oldest_due(conn: &mut Conn, now: Timestamp) -> Result<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1",
    )
    .bind(now.millis())
    .fetch_one(conn)
    .await?;
    Ok(at.map(Timestamp::from_millis))
}

/// When the next message of `kind` is due, for a lane deciding whether to claim.
pub async fn next_due(conn: &mut Conn, kind: Kind) -> Result<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('queued', 'sending') \
         AND kind = $1",
    )
    .bind(kind.as_str())
    .fetch_one(conn)
    .await?;
    Ok(at.map(Timestamp::from_millis))
}
