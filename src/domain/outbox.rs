//! The outbox (delivery.md §8): everything Tether sends is first a row written in the
//! transaction of the change that causes it, so a committed change always gets its
//! messages and a rolled-back one never does. Workers in every `serve` process claim due
//! messages under a lease, deliver them, record each attempt and retry on the Standard
//! Webhooks schedule.
//!
//! Why our own: the job-queue crates either keep their own pool and so cannot enqueue
//! inside our sqlx transaction (apalis, fang), or run on PostgreSQL alone (underway,
//! sqlxmq). What we need is small — one table, one claim query, one schedule — so it is
//! this module and `store/outbox.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::actor::{Action, Actor};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Conflict, Error, FieldError, Result};
use super::invite::InviteId;
use super::mail::{self, Branding, InviteLetter, Mailer};
use super::page::{Page, PageRequest};
use super::recovery::ResetId;
use super::seal::Sealer;
use super::tenant::{Tenant, TenantId};
use super::token::Token;
use super::webhook::{WebhookId, FAILING_LIMIT};
use super::webhook_sender::Signed;
use super::webhook_signing::{signature_header, WebhookSecret};
use super::Tether;
use crate::store::{self, outbox::Outcome, Conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Webhook,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    pub(crate) fn from_stored(stored: &str) -> Self {
        if stored == "webhook" {
            Self::Webhook
        } else {
            Self::Email
        }
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match input {
            "email" => Ok(Self::Email),
            "webhook" => Ok(Self::Webhook),
            _ => Err(FieldError::new(
                "kind",
                "invalid_kind",
                "kind must be email or webhook.",
            )),
        }
    }
}

/// `queued` → `sending` → `sent` | `failed`, and back to `queued` for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [Self::Queued, Self::Sending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn from_stored(stored: &str) -> Self {
        match stored {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == input)
            .ok_or_else(|| {
                FieldError::new(
                    "state",
                    "invalid_state",
                    "state must be one of queued, sending, sent or failed.",
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId(pub i64);

/// A message as the outbox lists it; never with its payload's secrets.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: MessageId,
    pub kind: Kind,
    pub topic: String,
    pub tenant_id: Option<TenantId>,
    pub invite_id: Option<InviteId>,
    /// What it is about, for people: "invite 17 to alice@acme.com".
    pub subject: String,
    pub state: State,
    pub attempts: i64,
    pub created_at: Timestamp,
    /// When it will be tried next; `None` once sent or failed.
    pub next_attempt_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub state: Option<State>,
    pub kind: Option<Kind>,
    pub page: PageRequest,
}

/// How an invite's e-mail is doing (the `Invite` object's `delivery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub state: State,
    pub attempts: i64,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// What a message says, stored as its payload. Secrets are never here: an invite's token
/// travels sealed beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "letter", rename_all = "snake_case")]
pub(crate) enum Letter {
    Invite {
        to: String,
        name: Option<String>,
        role_label: String,
        inviter_name: Option<String>,
        inviter_email: Option<String>,
        expires_at: i64,
        /// A reminder's fresh link: the text says the invitation expires soon.
        #[serde(default)]
        reminder: bool,
    },
    /// Due a day before an e-mailed invite expires: re-issues it and e-mails the fresh link
    /// (delivery.md §11). Says nothing itself, so the outbox does not list it.
    Reminder,
    /// A password reset link (delivery.md §10); its token travels sealed beside it.
    PasswordReset {
        to: String,
        name: String,
        /// Asked for by its owner, rather than issued by an admin.
        requested: bool,
        expires_at: i64,
    },
    /// A recipient asked for a fresh invite link (delivery.md §11), to someone who can send one.
    RenewalRequested {
        to: String,
        invitee: String,
        role_label: String,
        /// Why the link no longer works, to follow "it": "expired on 3 Dec 2026".
        reason: String,
        /// Where the person told can re-issue it.
        console: String,
        requested_at: i64,
    },
    /// "Your password was changed", so that a change the owner did not make is noticed.
    PasswordChanged {
        to: String,
        name: String,
        changed_at: i64,
    },
}

impl Letter {
    fn topic(&self) -> &'static str {
        match self {
            Self::Invite { .. } => "invite",
            Self::Reminder => "reminder",
            Self::PasswordReset { .. } => "password_reset",
            Self::RenewalRequested { .. } => "renewal_requested",
            Self::PasswordChanged { .. } => "password_changed",
        }
    }
}

/// Waits after the first attempt, after the second, …: the Standard Webhooks schedule
/// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), ten attempts in about three
/// days. A message whose tenth attempt fails has failed.
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Each wait is stretched or shortened by up to this fraction, so that messages that
/// failed together are not retried together.
pub const JITTER: f64 = 0.1;

/// How long a claim holds a message; one attempt takes at most the SMTP timeout (20 s).
pub const LEASE: Duration = Duration::from_secs(60);

/// How one kind of message is delivered: how many a lane claims at once, and how many lanes
/// each process runs. A lane waits for the slowest attempt of its batch before it records the
/// batch and claims the next; the other lanes keep the receiver busy meanwhile.
struct Lane {
    kind: Kind,
    batch: i64,
    lanes: usize,
}

impl Lane {
    fn batch_size(&self) -> usize {
        usize::try_from(self.batch).unwrap_or(1)
    }
}

/// E-mail: four lanes of eight, about 80% of lettre's own throughput, where one lane of 32
/// made 63% and eight of four 75% (more transactions); `BENCHMARKS.md`.
const MAIL: Lane = Lane {
    kind: Kind::Email,
    batch: 8,
    lanes: 4,
};

/// Webhooks: a receiver answers in a few milliseconds, so what limits them is the claim's and
/// the record's write transactions, not the network. Two lanes of 128: eight of a claim made
/// 9% of reqwest's own rate to a local receiver, 128 make about 42% (`BENCHMARKS.md`).
const WEBHOOKS: Lane = Lane {
    kind: Kind::Webhook,
    batch: 128,
    lanes: 2,
};

/// How long a lane lets messages gather before it claims a batch that was not full. Each
/// claim and each record is a write transaction, which on SQLite waits for the one write
/// lock that invite creation needs too: claiming one message per invite under a load of
/// invites would double the writes. A few milliseconds of the e-mail's latency buy that.
const GATHER: Duration = Duration::from_millis(25);

/// How often an idle worker looks for work that another process enqueued.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How long a stopping worker lets its attempts in flight finish.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// The wait after `attempts` failed attempts, with its jitter (`spread` in [-1, 1]); `None`
/// when the schedule is spent.
pub fn retry_delay(attempts: i64, spread: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = RETRY_SCHEDULE.get(index)?;
    Some(base.mul_f64(1.0 + JITTER * spread.clamp(-1.0, 1.0)))
}

/// A random number in [-1, 1] for the jitter.
fn spread() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::getrandom(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// The error a refused `send_email` answers with.
pub fn email_not_configured() -> Error {
    Error::Validation(vec![FieldError::new(
        "send_email",
        "email_not_configured",
        "E-mail is not set up on this server, so the link cannot be sent; copy it instead.",
    )])
}

/// How often a process sweeps the sealed tokens of invites that expired (expiry has no
/// event of its own to erase them in).
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

/// The outbox's state in one process.
#[derive(Default)]
pub(crate) struct Local {
    /// Seals tokens in transit; its key is read from the database on first use.
    sealer: tokio::sync::OnceCell<Sealer>,
    /// Wakes this process's e-mail lanes when a message was enqueued.
    due_mail: tokio::sync::Notify,
    /// Wakes this process's webhook lanes when an event was written.
    due_webhooks: tokio::sync::Notify,
    /// When this process last swept expired invites' sealed tokens (Unix ms; 0: never).
    swept_at: std::sync::atomic::AtomicI64,
    /// A delivery erased a sealed token since the write-ahead log was last emptied.
    erased_since_checkpoint: std::sync::atomic::AtomicBool,
}

impl Local {
    fn due(&self, kind: Kind) -> &tokio::sync::Notify {
        match kind {
            Kind::Email => &self.due_mail,
            Kind::Webhook => &self.due_webhooks,
        }
    }
}

/// What one attempt came to.
struct Attempt {
    id: i64,
    kind: Kind,
    outcome: Outcome,
    error: Option<String>,
    duration_ms: i64,
    /// The webhook endpoint it went to.
    endpoint: Option<WebhookId>,
    /// The invite whose e-mail it was.
    invite_email: Option<InviteId>,
    reply: Reply,
}

/// What a webhook receiver answered, beyond success or failure.
#[derive(Debug, Default)]
struct Reply {
    status_code: Option<i64>,
    retry_after: Option<Duration>,
    /// Not sent because the endpoint is off: says nothing about the endpoint.
    endpoint_off: bool,
    /// The endpoint was in a run of failures, which a success ends.
    was_failing: bool,
}

/// A webhook endpoint as one round of deliveries found it.
enum Endpoint {
    Ready(Ready),
    Removed,
    /// The database or the sealing key failed us; the message is tried again.
    Unreadable,
}

struct Ready {
    url: String,
    enabled: bool,
    failing: bool,
    /// The current secret, and the previous one during its last 24 hours.
    secrets: Vec<WebhookSecret>,
}

/// `FAILING_LIMIT` in milliseconds.
const FAILING_LIMIT_MS: i64 = FAILING_LIMIT.as_millis() as i64;

/// A status code with its reason phrase: "500 Internal Server Error".
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// A renewal request's news for one person.
pub(crate) struct RenewalLetter<'a> {
    pub to: &'a Email,
    pub invitee: &'a Email,
    pub reason: String,
    pub console: String,
}

/// What a message's sealed token belongs to, whose end erases it.
enum About {
    Invite(InviteId),
    PasswordReset(ResetId),
    Nothing,
}

/// Who an invite is from, for its e-mail's text and `Reply-To`.
pub(crate) struct Inviter<'a> {
    pub name: &'a str,
    pub email: &'a Email,
}

impl Tether {
    /// Whether e-mail is set up, so that links can be sent.
    pub fn mail_enabled(&self) -> bool {
        self.mailer.is_some()
    }

    /// Where mail goes, for people; `None` when e-mail is off.
    pub fn mail_transport(&self) -> Option<&str> {
        self.mailer.as_deref().map(Mailer::describe)
    }

    /// The key tokens in transit are sealed under, made at first start. Read it before
    /// beginning a transaction that enqueues: on SQLite its first read, on a connection of
    /// its own, would wait for that transaction's write lock.
    pub(crate) async fn sealer(&self) -> Result<&Sealer> {
        self.outbox
            .sealer
            .get_or_try_init(|| async {
                let fresh = Sealer::fresh_key()?;
                let mut conn = self.db.read().await?;
                let key =
                    store::secrets::get_or_create(&mut conn, "outbox_sealing_key", &fresh).await?;
                Sealer::new(&key)
            })
            .await
    }

    /// Writes an invite's e-mail into the outbox inside the invite's own transaction, its
    /// token sealed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enqueue_invite_email(
        &self,
        tx: &mut Conn,
        sealer: &Sealer,
        invite: InviteId,
        tenant: &Tenant,
        to: &Email,
        name: Option<&str>,
        role_label: &str,
        inviter: Option<Inviter<'_>>,
        token: &Token,
        expires_at: Timestamp,
        reminder: bool,
        now: Timestamp,
    ) -> Result<()> {
        let sealed = sealer.seal(token, &seal_context(invite))?;
        let letter = Letter::Invite {
            to: to.as_str().to_owned(),
            name: name.map(str::to_owned),
            role_label: role_label.to_owned(),
            inviter_name: inviter.as_ref().map(|i| i.name.to_owned()),
            inviter_email: inviter.as_ref().map(|i| i.email.as_str().to_owned()),
            expires_at: expires_at.millis(),
            reminder,
        };
        let subject = format!("invite {} to {}", invite.0, to.as_str());
        self.enqueue(
            tx,
            &letter,
            Some(tenant.id),
            About::Invite(invite),
            &subject,
            Some(sealed),
            now,
        )
        .await
    }

    /// Schedules an e-mailed invite's reminder, due at `due_at`, inside the invite's own
    /// transaction.
    pub(crate) async fn enqueue_reminder(
        &self,
        tx: &mut Conn,
        invite: InviteId,
        tenant: TenantId,
        to: &Email,
        due_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let payload = serde_json::to_string(&Letter::Reminder)
            .map_err(|e| Error::Internal(format!("an outbox payload did not serialise: {e}")))?;
        let subject = format!("reminder of invite {} to {}", invite.0, to.as_str());
        store::outbox::insert(
            tx,
            store::outbox::NewMessage {
                kind: Kind::Email,
                topic: Letter::Reminder.topic(),
                tenant_id: Some(tenant),
                invite_id: Some(invite),
                password_reset_id: None,
                subject: &subject,
                payload: &payload,
                sealed: None,
                due_at,
                now,
            },
        )
        .await?;
        Ok(())
    }

    /// Writes a password reset link's e-mail into the outbox inside the transaction that made
    /// the link, its token sealed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enqueue_password_reset(
        &self,
        tx: &mut Conn,
        sealer: &Sealer,
        reset: ResetId,
        user: &super::user::User,
        requested: bool,
        token: &Token,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let sealed = sealer.seal(token, &reset_seal_context(reset))?;
        let letter = Letter::PasswordReset {
            to: user.email.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            requested,
            expires_at: expires_at.millis(),
        };
        let subject = format!("password reset link for {}", user.email.as_str());
        self.enqueue(
            tx,
            &letter,
            Some(user.tenant_id),
            About::PasswordReset(reset),
            &subject,
            Some(sealed),
            now,
        )
        .await
    }

    /// Writes the news of a renewal request to one person who can answer it, inside the
    /// request's transaction.
    pub(crate) async fn enqueue_renewal_request(
        &self,
        tx: &mut Conn,
        invite: &super::invite::Invite,
        letter: RenewalLetter<'_>,
        now: Timestamp,
    ) -> Result<()> {
        let subject = format!(
            "new link for invite {} asked for, to {}",
            invite.id.0,
            letter.to.as_str()
        );
        let letter = Letter::RenewalRequested {
            to: letter.to.as_str().to_owned(),
            invitee: letter.invitee.as_str().to_owned(),
            role_label: invite.role.label().to_owned(),
            reason: letter.reason,
            console: letter.console,
            requested_at: now.millis(),
        };
        self.enqueue(
            tx,
            &letter,
            Some(invite.tenant_id),
            About::Nothing,
            &subject,
            None,
            now,
        )
        .await
    }

    /// Writes the "your password was changed" notice into the outbox inside the change's own
    /// transaction, when e-mail is set up.
    pub(crate) async fn enqueue_password_changed(
        &self,
        tx: &mut Conn,
        user: &super::user::User,
        now: Timestamp,
    ) -> Result<bool> {
        if !self.mail_enabled() {
            return Ok(false);
        }
        let letter = Letter::PasswordChanged {
            to: user.email.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            changed_at: now.millis(),
        };
        let subject = format!("password changed for {}", user.email.as_str());
        self.enqueue(
            tx,
            &letter,
            Some(user.tenant_id),
            About::Nothing,
            &subject,
            None,
            now,
        )
        .await?;
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    async fn enqueue(
        &self,
        tx: &mut Conn,
        letter: &Letter,
        tenant: Option<TenantId>,
        about: About,
        subject: &str,
        sealed: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<()> {
        let (invite_id, password_reset_id) = match about {
            About::Invite(invite) => (Some(invite), None),
            About::PasswordReset(reset) => (None, Some(reset)),
            About::Nothing => (None, None),
        };
        let payload = serde_json::to_string(letter)
            .map_err(|e| Error::Internal(format!("an outbox payload did not serialise: {e}")))?;
        store::outbox::insert(
            tx,
            store::outbox::NewMessage {
                kind: Kind::Email,
                topic: letter.topic(),
                tenant_id: tenant,
                invite_id,
                password_reset_id,
                subject,
                payload: &payload,
                sealed,
                due_at: now,
                now,
            },
        )
        .await?;
        Ok(())
    }

    /// Tells this process's e-mail lanes that a message is due, once its transaction
    /// committed.
    pub(crate) fn wake_delivery(&self) {
        self.outbox.due_mail.notify_one();
    }

    /// Tells this process's webhook lanes that an event is due.
    pub(crate) fn wake_webhooks(&self) {
        self.outbox.due_webhooks.notify_one();
    }

    /// One round of delivery of each kind: claims what is due, attempts it, records each
    /// outcome. Returns how many messages it attempted. Tests call it with a manual clock;
    /// `run_delivery`'s lanes call `deliver_round` in a loop.
    pub async fn deliver_due(&self) -> Result<usize> {
        let mut attempted = 0;
        if self.mailer.is_some() {
            attempted += self.deliver_round(&MAIL).await?;
        }
        attempted += self.deliver_round(&WEBHOOKS).await?;
        Ok(attempted)
    }

    async fn deliver_round(&self, lane: &Lane) -> Result<usize> {
        let now = self.now();
        let sweep = self.expiry_sweep_due(now);
        // Claiming is a write; on SQLite it waits for the one write lock. An idle outbox is
        // seen with a read.
        if !sweep && !self.anything_due(lane.kind, now).await? {
            self.checkpoint_if_erased().await;
            return Ok(0);
        }
        let claimed = {
            let mut tx = self.db.begin().await?;
            if sweep {
                store::outbox::erase_sealed_of_expired(&mut tx, now).await?;
            }
            let claimed = store::outbox::claim(
                &mut tx,
                self.db.engine(),
                now,
                now.plus(LEASE),
                lane.batch,
                lane.kind,
            )
            .await?;
            tx.commit().await?;
            claimed
        };
        if claimed.is_empty() {
            self.checkpoint_if_erased().await;
            return Ok(0);
        }
        let count = claimed.len();
        let endpoints = Arc::new(self.endpoints_of(&claimed, now).await);
        let mut attempts = tokio::task::JoinSet::new();
        for message in claimed {
            let (tether, endpoints) = (self.clone(), endpoints.clone());
            attempts.spawn(async move { tether.attempt(message, &endpoints).await });
        }
        let mut finished = Vec::with_capacity(count);
        while let Some(done) = attempts.join_next().await {
            match done {
                Ok(attempt) => finished.push(attempt),
                Err(error) => tracing::error!(%error, "a delivery attempt panicked"),
            }
        }
        self.record_attempts(&finished).await?;
        Ok(count)
    }

    /// The webhook endpoints a round's messages go to, each read and unsealed once.
    async fn endpoints_of(
        &self,
        claimed: &[store::outbox::Claimed],
        now: Timestamp,
    ) -> HashMap<i64, Endpoint> {
        let mut endpoints = HashMap::new();
        for id in claimed.iter().filter_map(|message| message.webhook_id) {
            if endpoints.contains_key(&id) {
                continue;
            }
            let endpoint = match self.endpoint(WebhookId(id), now).await {
                Ok(Some(ready)) => Endpoint::Ready(ready),
                Ok(None) => Endpoint::Removed,
                Err(error) => {
                    tracing::warn!(%error, endpoint = id, "a webhook's endpoint could not be read");
                    Endpoint::Unreadable
                }
            };
            endpoints.insert(id, endpoint);
        }
        endpoints
    }

    async fn endpoint(&self, id: WebhookId, now: Timestamp) -> Result<Option<Ready>> {
        let destination = {
            let mut conn = self.db.read().await?;
            store::webhooks::destination(&mut conn, id).await?
        };
        let Some(destination) = destination else {
            return Ok(None);
        };
        let secrets = self.signing_secrets(self.sealer().await?, &destination.secrets, now)?;
        Ok(Some(Ready {
            url: destination.url,
            enabled: destination.enabled != 0,
            failing: destination.failing_since.is_some(),
            secrets,
        }))
    }

    async fn anything_due(&self, kind: Kind, now: Timestamp) -> Result<bool> {
        let mut conn = self.db.read().await?;
        let next = store::outbox::next_due(&mut conn, kind).await?;
        Ok(next.is_some_and(|due| due <= now))
    }

    /// Erased bytes can linger in SQLite's write-ahead log until it is checkpointed; that
    /// waits for the write lock, so it is done once the outbox is idle, not between batches
    /// while invites are being created.
    async fn checkpoint_if_erased(&self) {
        if self
            .outbox
            .erased_since_checkpoint
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.db.truncate_log_when_idle().await;
        }
    }

    /// Whether this round sweeps expired invites' sealed tokens: at most once per
    /// `EXPIRY_SWEEP`, since the sweep reads every waiting message's invite.
    fn expiry_sweep_due(&self, now: Timestamp) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.outbox.swept_at.load(Ordering::SeqCst);
        let due = last == 0 || now.millis() - last >= EXPIRY_SWEEP.as_millis() as i64;
        due && self
            .outbox
            .swept_at
            .compare_exchange(last, now.millis(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    async fn record_attempts(&self, finished: &[Attempt]) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let records: Vec<store::outbox::Finished<'_>> = finished
            .iter()
            .map(|attempt| store::outbox::Finished {
                id: attempt.id,
                outcome: attempt.outcome,
                error: attempt.error.as_deref(),
                status_code: attempt.reply.status_code,
                duration_ms: attempt.duration_ms,
            })
            .collect();
        store::outbox::finish_all(&mut tx, &records, now).await?;
        for attempt in finished {
            if let Some(endpoint) = attempt.endpoint {
                self.record_endpoint_news(&mut tx, endpoint, attempt, now)
                    .await?;
            }
            if let (Outcome::Failed, Some(invite)) = (attempt.outcome, attempt.invite_email) {
                self.emit(
                    &mut tx,
                    super::webhook::EventType::InviteEmailFailed,
                    super::webhook::Subject::Invite(invite),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        for attempt in finished {
            let outcome = match attempt.outcome {
                Outcome::Sent => "sent",
                Outcome::Retry(_) => "retry",
                Outcome::Failed => "failed",
            };
            self.metrics
                .delivery_attempted(attempt.kind.as_str(), outcome);
        }
        if finished.iter().any(|a| a.outcome == Outcome::Sent) {
            self.outbox
                .erased_since_checkpoint
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// What an attempt says about its endpoint: a success ends its run of failures; a `410
    /// Gone` turns it off at once; a failure after five days of nothing but failures too.
    async fn record_endpoint_news(
        &self,
        tx: &mut Conn,
        endpoint: WebhookId,
        attempt: &Attempt,
        now: Timestamp,
    ) -> Result<()> {
        if attempt.reply.endpoint_off {
            return Ok(());
        }
        if attempt.outcome == Outcome::Sent {
            if attempt.reply.was_failing {
                store::webhooks::delivered(tx, endpoint).await?;
            }
            return Ok(());
        }
        if attempt.reply.status_code == Some(410) {
            let reason = format!(
                "The receiver answered 410 Gone on {}, so Tether turned the endpoint off.",
                now.to_date_time()
            );
            return Ok(store::webhooks::disable(tx, endpoint, &reason, now).await?);
        }
        let since = store::webhooks::failed(tx, endpoint, now).await?;
        if let Some(since) = since.filter(|since| now.millis() - since.millis() >= FAILING_LIMIT_MS)
        {
            let reason = format!(
                "Every delivery failed from {} to {}, so Tether turned the endpoint off.",
                since.to_date_time(),
                now.to_date_time()
            );
            store::webhooks::disable(tx, endpoint, &reason, now).await?;
        }
        Ok(())
    }

    /// Attempts one claimed message.
    async fn attempt(
        &self,
        message: store::outbox::Claimed,
        endpoints: &HashMap<i64, Endpoint>,
    ) -> Attempt {
        let started = Instant::now();
        let kind = Kind::from_stored(&message.kind);
        let (result, reply) = match (kind, &self.mailer) {
            (Kind::Webhook, _) => {
                let endpoint = message.webhook_id.and_then(|id| endpoints.get(&id));
                self.send_webhook(&message, endpoint).await
            }
            (Kind::Email, Some(mailer)) => {
                (self.send_claimed(mailer, &message).await, Reply::default())
            }
            (Kind::Email, None) => (
                Err(mail::SendFailure {
                    permanent: false,
                    sentence: String::from("E-mail is not set up on this server."),
                }),
                Reply::default(),
            ),
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        if let Err(failure) = &result {
            tracing::warn!(
                message = message.id,
                kind = kind.as_str(),
                attempt = message.attempts,
                permanent = failure.permanent,
                reason = %failure.sentence,
                "an outbox message was not delivered"
            );
        }
        let (outcome, error) = match result {
            Ok(()) => (Outcome::Sent, None),
            Err(failure) if failure.permanent => (Outcome::Failed, Some(failure.sentence)),
            Err(failure) => match retry_delay(message.attempts, spread()) {
                Some(wait) => {
                    // A receiver that asked for a longer wait gets it.
                    let wait = reply.retry_after.map_or(wait, |asked| asked.max(wait));
                    (
                        Outcome::Retry(self.now().plus(wait)),
                        Some(failure.sentence),
                    )
                }
                None => (
                    Outcome::Failed,
                    Some(format!(
                        "Gave up after {} attempts over three days. {}",
                        message.attempts, failure.sentence
                    )),
                ),
            },
        };
        let invite_email = (kind == Kind::Email && message.topic == "invite")
            .then(|| message.invite_id.map(InviteId))
            .flatten();
        Attempt {
            id: message.id,
            kind,
            outcome,
            error,
            duration_ms,
            endpoint: message.webhook_id.map(WebhookId),
            invite_email,
            reply,
        }
    }

    /// Signs and posts one webhook message to its endpoint.
    async fn send_webhook(
        &self,
        message: &store::outbox::Claimed,
        endpoint: Option<&Endpoint>,
    ) -> (Result<(), mail::SendFailure>, Reply) {
        let failure = |permanent: bool, sentence: &str| mail::SendFailure {
            permanent,
            sentence: sentence.to_owned(),
        };
        let endpoint = match endpoint {
            Some(Endpoint::Ready(ready)) => ready,
            Some(Endpoint::Removed) | None => {
                return (
                    Err(failure(true, "The endpoint was removed.")),
                    Reply::default(),
                )
            }
            Some(Endpoint::Unreadable) => {
                let sentence =
                    "Tether could not read the endpoint or its secret; it will try again.";
                return (Err(failure(false, sentence)), Reply::default());
            }
        };
        if !endpoint.enabled && message.topic != super::webhook::EventType::Test.name() {
            let reply = Reply {
                endpoint_off: true,
                ..Reply::default()
            };
            let sentence = "The endpoint is turned off; retry it once it is on again.";
            return (Err(failure(true, sentence)), reply);
        }
        let id = message.id.to_string();
        let timestamp = self.now().millis() / 1000;
        let secrets: Vec<&WebhookSecret> = endpoint.secrets.iter().collect();
        let signature = match signature_header(&secrets, &id, timestamp, message.payload.as_bytes())
        {
            Ok(signature) => signature,
            Err(error) => {
                tracing::warn!(%error, "a webhook could not be signed");
                let sentence = "The event could not be signed; it will be tried again.";
                return (Err(failure(false, sentence)), Reply::default());
            }
        };
        let signed = Signed {
            id: &id,
            timestamp,
            signature: &signature,
        };
        let was_failing = endpoint.failing;
        match self
            .webhooks
            .post(&endpoint.url, &signed, message.payload.clone())
            .await
        {
            Ok(answered) => {
                let reply = Reply {
                    status_code: Some(i64::from(answered.status)),
                    retry_after: answered.retry_after,
                    endpoint_off: false,
                    was_failing,
                };
                let result = if answered.success() {
                    Ok(())
                } else {
                    // 410: the receiver asked for no more; anything else is tried again.
                    let sentence =
                        format!("The receiver answered {}.", status_text(answered.status));
                    Err(failure(answered.status == 410, &sentence))
                };
                (result, reply)
            }
            Err(sentence) => (
                Err(failure(false, &sentence)),
                Reply {
                    was_failing,
                    ..Reply::default()
                },
            ),
        }
    }

    async fn send_claimed(
        &self,
        mailer: &Mailer,
        message: &store::outbox::Claimed,
    ) -> Result<(), mail::SendFailure> {
        let permanent = |sentence: String| mail::SendFailure {
            permanent: true,
            sentence,
        };
        let transient = |error: Error| {
            tracing::warn!(%error, "an outbox message could not be prepared");
            mail::SendFailure {
                permanent: false,
                sentence: String::from("Tether could not prepare the message; it will try again."),
            }
        };
        let letter: Letter = serde_json::from_str(&message.payload)
            .map_err(|e| permanent(format!("The message is not readable: {e}.")))?;
        if let Letter::Reminder = letter {
            let invite = InviteId(message.invite_id.unwrap_or_default());
            return self.remind(invite).await.map_err(transient);
        }
        let tenant_id = message.tenant_id.map(TenantId);
        let (tenant, logo) = self.branding_of(tenant_id).await.map_err(transient)?;
        let branding = Branding {
            tenant: &tenant,
            logo: logo.as_ref(),
        };
        let message_id = mail::message_id(
            message.id,
            Timestamp::from_millis(message.created_at),
            mailer.from_address(),
        );
        let built = match &letter {
            Letter::Invite {
                to,
                name,
                role_label,
                inviter_name,
                inviter_email,
                expires_at,
                reminder,
            } => {
                let invite = InviteId(message.invite_id.unwrap_or_default());
                let Some(sealed) = &message.sealed else {
                    return Err(permanent(String::from(
                        "The invite is no longer pending, so its link was not sent; re-issue it to send a new one.",
                    )));
                };
                let token = self
                    .sealer()
                    .await
                    .map_err(transient)?
                    .open(sealed, &seal_context(invite))
                    .map_err(|_| {
                        permanent(String::from(
                            "The link could not be unsealed (the server's key changed); re-issue the invite.",
                        ))
                    })?;
                let link = self.base_url.invite_link(tenant.slug.as_ref(), &token);
                let inviter = inviter_name.as_deref().zip(inviter_email.as_deref());
                mail::invite_message(
                    mailer,
                    &branding,
                    &InviteLetter {
                        to,
                        name: name.as_deref(),
                        role_label,
                        inviter,
                        link: &link,
                        expires_at: Timestamp::from_millis(*expires_at),
                        reminder: *reminder,
                    },
                    message_id,
                )
            }
            // Handled above: a reminder sends nothing itself.
            Letter::Reminder => return Ok(()),
            Letter::PasswordReset {
                to,
                name,
                requested,
                expires_at,
            } => {
                let reset = ResetId(message.password_reset_id.unwrap_or_default());
                let Some(sealed) = &message.sealed else {
                    return Err(permanent(String::from(
                        "The reset link was used, replaced by a newer one or expired before it was sent.",
                    )));
                };
                let token = self
                    .sealer()
                    .await
                    .map_err(transient)?
                    .open(sealed, &reset_seal_context(reset))
                    .map_err(|_| {
                        permanent(String::from(
                            "The link could not be unsealed (the server's key changed); make a new one.",
                        ))
                    })?;
                let link = format!("{}/reset/{}", self.tenant_origin(&tenant), token.expose());
                mail::password_reset_message(
                    mailer,
                    &branding,
                    &mail::PasswordResetLetter {
                        to,
                        name,
                        requested: *requested,
                        link: &link,
                        expires_at: Timestamp::from_millis(*expires_at),
                    },
                    message_id,
                )
            }
            Letter::RenewalRequested {
                to,
                invitee,
                role_label,
                reason,
                console,
                requested_at,
            } => mail::renewal_requested_message(
                mailer,
                &branding,
                &mail::RenewalLetter {
                    to,
                    invitee,
                    role_label,
                    reason,
                    console,
                    requested_at: Timestamp::from_millis(*requested_at),
                },
                message_id,
            ),
            Letter::PasswordChanged {
                to,
                name,
                changed_at,
            } => {
                let sign_in = format!("{}/login", self.tenant_origin(&tenant));
                mail::password_changed_message(
                    mailer,
                    &branding,
                    &mail::PasswordChangedLetter {
                        to,
                        name,
                        changed_at: Timestamp::from_millis(*changed_at),
                        sign_in: &sign_in,
                    },
                    message_id,
                )
            }
        }
        .map_err(permanent)?;
        mailer.send(built, &format!("outbox-{}", message.id)).await
    }

    /// A tenant's branding for a message: the tenant (the MSP when none is named) and its
    /// logo.
    async fn branding_of(
        &self,
        tenant: Option<TenantId>,
    ) -> Result<(Tenant, Option<store::tenants::LogoFile>)> {
        let mut conn = self.db.read().await?;
        let tenant = match tenant {
            Some(id) => store::tenants::by_id(&mut conn, id).await?,
            None => store::tenants::msp(&mut conn).await?,
        }
        .ok_or(Error::NotFound("tenant"))?;
        let logo = store::tenants::logo(&mut conn, tenant.id).await?;
        Ok((tenant, logo))
    }

    /// Delivers until `stop` turns true: a round whenever a message is due, woken early when
    /// this process enqueues one. On stop it claims nothing more, lets the attempts in
    /// flight finish within a grace period, and gives back what it could not finish.
    pub async fn run_delivery(&self, stop: watch::Receiver<bool>) {
        let mut lanes = tokio::task::JoinSet::new();
        let kinds: &[&'static Lane] = if self.mailer.is_some() {
            &[&MAIL, &WEBHOOKS]
        } else {
            &[&WEBHOOKS]
        };
        for lane in kinds {
            for _ in 0..lane.lanes {
                let (tether, stop) = (self.clone(), stop.clone());
                lanes.spawn(async move { tether.deliver_in_lane(lane, stop).await });
            }
        }
        while let Some(done) = lanes.join_next().await {
            if let Err(error) = done {
                tracing::error!(%error, "a delivery lane panicked");
            }
        }
    }

    /// One lane of `run_delivery`: claim a batch, attempt it, record it, and again.
    async fn deliver_in_lane(&self, lane: &Lane, mut stop: watch::Receiver<bool>) {
        let due = self.outbox.due(lane.kind);
        loop {
            if *stop.borrow() {
                return;
            }
            let round = self.deliver_round(lane);
            tokio::pin!(round);
            let attempted = tokio::select! {
                done = &mut round => done,
                _ = stop.changed() => {
                    match tokio::time::timeout(STOP_GRACE, round).await {
                        Ok(_) => {}
                        Err(_) => tracing::warn!("delivery attempts did not finish before shutdown; their messages will be claimed again"),
                    }
                    return;
                }
            };
            let wait = match attempted {
                // A full batch: more may be due already.
                Ok(n) if n >= lane.batch_size() => Duration::ZERO,
                Ok(0) => IDLE_POLL,
                Ok(_) => GATHER,
                Err(error) => {
                    tracing::warn!(%error, "the outbox could not be read; trying again shortly");
                    IDLE_POLL
                }
            };
            if wait > Duration::ZERO {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = due.notified() => {
                        tokio::time::sleep(GATHER).await;
                    }
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// Outbox messages the actor may see (client admins: their tenant's e-mails), newest
    /// first.
    pub async fn list_outbox(&self, actor: &Actor, query: MessageQuery) -> Result<Page<Message>> {
        let scope = self.scope_or_refuse(actor, Action::SeeOutbox).await?;
        let mut conn = self.db.read().await?;
        let rows = store::outbox::list(&mut conn, scope, &query).await?;
        Ok(query.page.finish(rows, |message| message.id.0))
    }

    /// Puts a failed (or waiting) message back in the queue, due now, with a fresh schedule.
    pub async fn retry_message(&self, actor: &Actor, id: MessageId) -> Result<()> {
        let scope = self.scope_or_refuse(actor, Action::SeeOutbox).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let message = store::outbox::by_id(&mut tx, id)
            .await?
            .filter(|m| match scope {
                super::actor::TenantScope::All => true,
                super::actor::TenantScope::Only(own) => {
                    m.kind == Kind::Email && m.tenant_id == Some(own)
                }
            })
            .ok_or(Error::NotFound("outbox message"))?;
        if !store::outbox::requeue(&mut tx, id, now).await? {
            return Err(Error::Conflict(Conflict::MessageNotRetryable));
        }
        tx.commit().await?;
        match message.kind {
            Kind::Email => self.wake_delivery(),
            Kind::Webhook => self.wake_webhooks(),
        }
        Ok(())
    }

    /// Sends one test message straight through the transport (not the outbox), for
    /// `tether mail test`: `Ok` with where it went once the server accepted it.
    pub async fn send_test_mail(&self, to: &str) -> Result<String> {
        let mailer = self.mailer.clone().ok_or_else(email_not_configured)?;
        let to = Email::parse(to).map_err(|e| Error::Validation(vec![e]))?;
        let (tenant, logo) = self.branding_of(None).await?;
        let branding = Branding {
            tenant: &tenant,
            logo: logo.as_ref(),
        };
        let now = self.now();
        let id = format!("<test.{}@{}>", now.millis(), mailer.from_address().domain());
        let message =
            mail::test_message(&mailer, &branding, to.as_str(), id).map_err(Error::Internal)?;
        mailer
            .send(message, &format!("test-{}", now.millis()))
            .await
            .map_err(|failure| Error::Internal(failure.sentence))?;
        Ok(mailer.describe().to_owned())
    }

    /// Reads the outbox's state into the metrics, before `/metrics` renders them.
    pub async fn refresh_outbox_metrics(&self) -> Result<()> {
        let now = self.now();
        let mut conn = self.db.read().await?;
        let rows = store::outbox::counts(&mut conn).await?;
        let oldest = store::outbox::oldest_due(&mut conn, now).await?;
        let mut counts = Vec::new();
        for kind in [Kind::Email, Kind::Webhook] {
            for state in State::ALL {
                let count = rows
                    .iter()
                    .find(|(k, s, _)| k == kind.as_str() && s == state.as_str())
                    .map_or(0, |(_, _, n)| *n);
                counts.push((kind.as_str(), state.as_str(), count));
            }
        }
        let age = oldest.map_or(0.0, |due| {
            (now.millis() - due.millis()).max(0) as f64 / 1000.0
        });
        self.metrics.set_outbox(&counts, age);
        let (on, off) = store::webhooks::counts(&mut conn).await?;
        self.metrics.set_webhook_endpoints(on, off);
        Ok(())
    }
}

/// What a sealed invite token is bound to.
fn seal_context(invite: InviteId) -> String {
    format!("invite:{}", invite.0)
}

/// What a sealed reset token is bound to.
fn reset_seal_context(reset: ResetId) -> String {
    format!("password_reset:{}", reset.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_standard_webhooks_with_jitter() {
        assert_eq!(retry_delay(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, 0.0), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(9, 0.0), Some(Duration::from_secs(24 * 3600)));
        assert_eq!(retry_delay(10, 0.0), None);
        assert_eq!(retry_delay(0, 0.0), None);
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(3 * 24 * 3600));
        assert_eq!(retry_delay(1, 1.0), Some(Duration::from_millis(5500)));
        assert_eq!(retry_delay(1, -1.0), Some(Duration::from_millis(4500)));
        for _ in 0..100 {
            let s = spread();
            assert!((-1.0..=1.0).contains(&s));
        }
    }
}
