//! Webhooks (delivery.md §14): endpoints the MSP's other tools listen on, and the events
//! written for them into the outbox in the transaction of the change that causes them, one
//! message per subscribed endpoint. An endpoint's signing secret is kept sealed (it must be
//! read to sign) and shown only at creation and rotation.

use serde_json::{json, Value};

use super::actor::{Action, Actor};
use super::audit::{AuditAction, NewAuditEvent};
use super::clock::Timestamp;
use super::destination::DestinationPolicy;
use super::error::{Conflict, Error, FieldError, FieldErrors, Result};
use super::invite::{Invite, InviteId};
use super::outbox::{Kind, MessageId};
use super::page::{Page, PageRequest};
use super::seal::Sealer;
use super::tenant::{Tenant, TenantId};
use super::user::{User, UserId};
use super::webhook_signing::WebhookSecret;
use super::Tether;
use crate::store::{self, Conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebhookId(pub i64);

/// What happened, as a webhook's `type` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    InviteCreated,
    InviteAccepted,
    InviteRevoked,
    InviteEmailFailed,
    InviteRenewalRequested,
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserPasswordReset,
    TenantCreated,
    TenantUpdated,
    /// Sent by **Send test event**, to one endpoint, whatever it subscribed to.
    Test,
}

impl EventType {
    /// The types an endpoint can subscribe to.
    pub const SUBSCRIBABLE: [EventType; 11] = [
        Self::InviteCreated,
        Self::InviteAccepted,
        Self::InviteRevoked,
        Self::InviteEmailFailed,
        Self::InviteRenewalRequested,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeactivated,
        Self::UserPasswordReset,
        Self::TenantCreated,
        Self::TenantUpdated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::InviteCreated => "invite.created",
            Self::InviteAccepted => "invite.accepted",
            Self::InviteRevoked => "invite.revoked",
            Self::InviteEmailFailed => "invite.email_failed",
            Self::InviteRenewalRequested => "invite.renewal_requested",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeactivated => "user.deactivated",
            Self::UserPasswordReset => "user.password_reset",
            Self::TenantCreated => "tenant.created",
            Self::TenantUpdated => "tenant.updated",
            Self::Test => "webhook.test",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().find(|t| t.name() == name)
    }
}

/// The event types an endpoint wants: all, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTypes {
    All,
    Only(Vec<EventType>),
}

impl EventTypes {
    /// The list as entered: `["*"]` or names of `EventType::SUBSCRIBABLE`.
    pub fn parse(names: &[String]) -> Result<Self, FieldError> {
        let invalid =
            |message: String| FieldError::new("event_types", "invalid_event_type", message);
        if names.is_empty() {
            return Err(invalid(String::from(
                "Choose at least one event type, or * for all of them.",
            )));
        }
        let mut types = Vec::new();
        for name in names {
            let name = name.trim();
            if name == "*" {
                return Ok(Self::All);
            }
            let kind = EventType::named(name).ok_or_else(|| {
                invalid(format!(
                    "{name} is not an event type; the types are {}, or * for all.",
                    EventType::SUBSCRIBABLE.map(EventType::name).join(", ")
                ))
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        Ok(Self::Only(types))
    }

    pub fn admits(&self, kind: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&kind),
        }
    }

    /// As the API lists them: `["*"]` or the names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec![String::from("*")],
            Self::Only(types) => types.iter().map(|t| t.name().to_owned()).collect(),
        }
    }

    pub(crate) fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    pub(crate) fn from_stored(stored: &str) -> Self {
        if stored == "*" {
            return Self::All;
        }
        Self::Only(
            stored
                .split_whitespace()
                .filter_map(EventType::named)
                .collect(),
        )
    }
}

/// An endpoint, as listed; never with its secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub description: String,
    pub event_types: EventTypes,
    /// `None`: every tenant's events.
    pub tenant_ids: Option<Vec<TenantId>>,
    pub enabled: bool,
    /// Why Tether turned it off (a `410 Gone`, or five days of failures), if it did.
    pub disabled_reason: Option<String>,
    /// When its current run of failed deliveries began.
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    fn wants(&self, kind: EventType, tenant: TenantId) -> bool {
        self.enabled
            && self.event_types.admits(kind)
            && self
                .tenant_ids
                .as_ref()
                .is_none_or(|only| only.contains(&tenant))
    }
}

/// An endpoint as an MSP admin enters it.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub tenant_ids: Option<Vec<i64>>,
    pub enabled: bool,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some(None)`: every tenant again.
    pub tenant_ids: Option<Option<Vec<i64>>>,
    pub enabled: Option<bool>,
}

/// A new endpoint and its secret, shown this once.
#[derive(Debug)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: WebhookSecret,
}

/// One attempt to deliver an event to an endpoint, for its delivery log.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub id: i64,
    pub message_id: MessageId,
    pub event_type: String,
    pub attempted_at: Timestamp,
    /// The receiver's answer; `None` when none came (refused destination, timeout).
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// Whether the message behind it can be retried by hand now (it failed).
    pub retryable: bool,
}

/// What an event is about: the object its `data` carries.
pub enum EventData<'a> {
    Invite(&'a Invite),
    User(&'a User),
    Tenant(&'a Tenant),
}

/// Turns an event's object into the API's own JSON for it. The API's types live at the
/// edge, so the edge hands the domain this when it builds `Tether`.
pub trait EventBodies: Send + Sync {
    fn data(&self, tether: &Tether, data: EventData<'_>) -> Value;
}

/// The longest description kept.
const MAX_DESCRIPTION: usize = 200;

/// What an event's subject is, to read it inside the transaction only when some endpoint
/// wants the event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject {
    Invite(InviteId),
    User(UserId),
    Tenant(TenantId),
}

/// What the secret is sealed for: a sealed secret opens only as a webhook secret.
pub(crate) const SECRET_CONTEXT: &str = "webhook_secret";

/// How long a rotated-out secret still signs.
pub const PREVIOUS_SECRET_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How long every delivery may fail before the endpoint is turned off.
pub const FAILING_LIMIT: std::time::Duration = std::time::Duration::from_secs(5 * 24 * 3600);

impl Tether {
    /// Where webhooks may go on this server.
    pub fn destination_policy(&self) -> DestinationPolicy {
        self.webhook_policy
    }

    pub async fn list_webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let mut conn = self.db.read().await?;
        Ok(store::webhooks::list(&mut conn).await?)
    }

    pub async fn webhook(&self, actor: &Actor, id: WebhookId) -> Result<Webhook> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let mut conn = self.db.read().await?;
        store::webhooks::by_id(&mut conn, id)
            .await?
            .ok_or(Error::NotFound("webhook"))
    }

    pub async fn create_webhook(&self, actor: &Actor, input: NewWebhook) -> Result<CreatedWebhook> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let mut errors = FieldErrors::default();
        let url = errors.check(self.checked_webhook_url(&input.url));
        let description = errors.check(checked_description(&input.description));
        let event_types = errors.check(EventTypes::parse(&input.event_types));
        let tenant_ids = errors.check(self.known_tenants(input.tenant_ids.as_deref()).await?);
        errors.into_result()?;
        let (Some(url), Some(description), Some(event_types), Some(tenant_ids)) =
            (url, description, event_types, tenant_ids)
        else {
            return Err(Error::Internal(String::from(
                "a checked field went missing",
            )));
        };
        let secret = WebhookSecret::generate()?;
        let sealer = self.sealer().await?;
        let sealed = sealer.seal_bytes(secret.expose().as_bytes(), SECRET_CONTEXT)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = store::webhooks::insert(
            &mut tx,
            store::webhooks::NewRow {
                url: &url,
                description: &description,
                event_types: &event_types,
                tenant_ids: tenant_ids.as_deref(),
                enabled: input.enabled,
                sealed_secret: &sealed,
                now,
            },
        )
        .await?;
        let event = NewAuditEvent::by(actor, now, AuditAction::WebhookCreated, None)
            .detail(json!({ "webhook_id": id.0, "url": url }));
        store::audit::insert(&mut tx, &event).await?;
        let webhook = store::webhooks::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        tx.commit().await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: WebhookId,
        changes: WebhookChanges,
    ) -> Result<Webhook> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let mut errors = FieldErrors::default();
        let url = match &changes.url {
            Some(url) => errors.check(self.checked_webhook_url(url)),
            None => None,
        };
        let description = match &changes.description {
            Some(text) => errors.check(checked_description(text)),
            None => None,
        };
        let event_types = match &changes.event_types {
            Some(names) => errors.check(EventTypes::parse(names)),
            None => None,
        };
        let tenant_ids = match &changes.tenant_ids {
            Some(ids) => errors.check(self.known_tenants(ids.as_deref()).await?),
            None => None,
        };
        errors.into_result()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut webhook = store::webhooks::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        if let Some(url) = url {
            webhook.url = url;
        }
        if let Some(description) = description {
            webhook.description = description;
        }
        if let Some(event_types) = event_types {
            webhook.event_types = event_types;
        }
        if let Some(tenant_ids) = tenant_ids {
            webhook.tenant_ids = tenant_ids;
        }
        if let Some(enabled) = changes.enabled {
            if enabled && !webhook.enabled {
                // Turned on again by hand: what turned it off is history.
                webhook.disabled_reason = None;
                webhook.failing_since = None;
            }
            webhook.enabled = enabled;
        }
        webhook.updated_at = now;
        store::webhooks::update(&mut tx, &webhook).await?;
        let event = NewAuditEvent::by(actor, now, AuditAction::WebhookChanged, None)
            .detail(json!({ "webhook_id": id.0, "url": webhook.url, "enabled": webhook.enabled }));
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(webhook)
    }

    /// Removes an endpoint with its delivery log; what was still waiting for it is not sent.
    pub async fn delete_webhook(&self, actor: &Actor, id: WebhookId) -> Result<()> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let webhook = store::webhooks::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        store::webhooks::delete(&mut tx, id).await?;
        let event = NewAuditEvent::by(actor, now, AuditAction::WebhookDeleted, None)
            .detail(json!({ "webhook_id": id.0, "url": webhook.url }));
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new secret for the endpoint, shown this once; the previous one keeps signing beside
    /// it for 24 hours, so that receivers can switch without losing a delivery.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: WebhookId,
    ) -> Result<WebhookSecret> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let secret = WebhookSecret::generate()?;
        let sealed = self
            .sealer()
            .await?
            .seal_bytes(secret.expose().as_bytes(), SECRET_CONTEXT)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::webhooks::rotate(
            &mut tx,
            id,
            &sealed,
            now.plus(PREVIOUS_SECRET_LIFETIME),
            now,
        )
        .await?
        {
            return Err(Error::NotFound("webhook"));
        }
        let event = NewAuditEvent::by(actor, now, AuditAction::WebhookSecretRotated, None)
            .detail(json!({ "webhook_id": id.0 }));
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Queues a `webhook.test` event for the endpoint (whatever it subscribed to, and even
    /// while it is off, so that it can be tried before it is turned on).
    pub async fn send_test_event(&self, actor: &Actor, id: WebhookId) -> Result<MessageId> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let webhook = store::webhooks::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        let data = json!({
            "webhook_id": webhook.id.0,
            "url": webhook.url,
            "message": "A test event from Tether: if you can read this, the endpoint works.",
        });
        let message = self
            .enqueue_event(&mut tx, &webhook, EventType::Test, None, data, now)
            .await?;
        tx.commit().await?;
        self.wake_webhooks();
        Ok(message)
    }

    /// The endpoint's delivery log, newest first.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let mut conn = self.db.read().await?;
        store::webhooks::by_id(&mut conn, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        let rows = store::webhooks::deliveries(&mut conn, id, &page).await?;
        Ok(page.finish(rows, |delivery| delivery.id))
    }

    /// Sends a failed delivery's event again, due now, with a fresh schedule.
    pub async fn retry_webhook_delivery(
        &self,
        actor: &Actor,
        id: WebhookId,
        delivery: i64,
    ) -> Result<()> {
        self.scope_or_refuse(actor, Action::ManageWebhooks).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let message = store::webhooks::message_of_delivery(&mut tx, id, delivery)
            .await?
            .ok_or(Error::NotFound("delivery"))?;
        if !store::outbox::requeue(&mut tx, message, now).await? {
            return Err(Error::Conflict(Conflict::MessageNotRetryable));
        }
        tx.commit().await?;
        self.wake_webhooks();
        Ok(())
    }

    /// Writes `kind` about `subject` into the outbox for every endpoint that wants it, inside
    /// the transaction of the change. The subject is read (as the change left it) only when
    /// some endpoint wants the event.
    pub(crate) async fn emit(
        &self,
        tx: &mut Conn,
        kind: EventType,
        subject: Subject,
        now: Timestamp,
    ) -> Result<()> {
        let hooks = store::webhooks::enabled(tx).await?;
        if !hooks.iter().any(|hook| hook.event_types.admits(kind)) {
            return Ok(());
        }
        let (tenant, data) = match subject {
            Subject::Invite(id) => {
                let invite = store::invites::by_id(tx, id, now)
                    .await?
                    .ok_or(Error::NotFound("invite"))?;
                let data = self.event_bodies.data(self, EventData::Invite(&invite));
                (invite.tenant_id, data)
            }
            Subject::User(id) => {
                let user = store::users::by_id(tx, id)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let data = self.event_bodies.data(self, EventData::User(&user));
                (user.tenant_id, data)
            }
            Subject::Tenant(id) => {
                let tenant = store::tenants::by_id(tx, id)
                    .await?
                    .ok_or(Error::NotFound("tenant"))?;
                let data = self.event_bodies.data(self, EventData::Tenant(&tenant));
                (tenant.id, data)
            }
        };
        let mut queued = false;
        for hook in hooks.iter().filter(|hook| hook.wants(kind, tenant)) {
            self.enqueue_event(tx, hook, kind, Some(tenant), data.clone(), now)
                .await?;
            queued = true;
        }
        if queued {
            // Before the commit, so at worst early: a lane that finds nothing due yet finds
            // it on its next look, a second later.
            self.wake_webhooks();
        }
        Ok(())
    }

    async fn enqueue_event(
        &self,
        tx: &mut Conn,
        hook: &Webhook,
        kind: EventType,
        tenant: Option<TenantId>,
        data: Value,
        now: Timestamp,
    ) -> Result<MessageId> {
        let body = json!({
            "type": kind.name(),
            "timestamp": now.to_rfc3339(),
            "data": data,
        });
        let subject = format!("{} to webhook {}", kind.name(), hook.id.0);
        let id = store::outbox::insert_webhook(
            tx,
            store::outbox::NewMessage {
                kind: Kind::Webhook,
                topic: kind.name(),
                tenant_id: tenant,
                invite_id: None,
                password_reset_id: None,
                subject: &subject,
                payload: &body.to_string(),
                sealed: None,
                due_at: now,
                now,
            },
            hook.id,
        )
        .await?;
        Ok(id)
    }

    fn checked_webhook_url(&self, input: &str) -> Result<String, FieldError> {
        self.webhook_policy
            .check_url(input)
            .map(|url| url.to_string())
            .map_err(|refusal| {
                FieldError::new(
                    "url",
                    "webhook_url_not_allowed",
                    format!("Webhooks cannot be sent to this URL: {refusal}."),
                )
            })
    }

    /// The tenants an endpoint is limited to, each of which must exist.
    async fn known_tenants(
        &self,
        ids: Option<&[i64]>,
    ) -> Result<Result<Option<Vec<TenantId>>, FieldError>> {
        let Some(ids) = ids else {
            return Ok(Ok(None));
        };
        let mut conn = self.db.read().await?;
        let mut known = Vec::with_capacity(ids.len());
        for id in ids {
            if store::tenants::by_id(&mut conn, TenantId(*id))
                .await?
                .is_none()
            {
                return Ok(Err(FieldError::new(
                    "tenant_ids",
                    "unknown_tenant",
                    format!("There is no tenant {id}."),
                )));
            }
            if !known.contains(&TenantId(*id)) {
                known.push(TenantId(*id));
            }
        }
        Ok(Ok(Some(known)))
    }

    /// The secrets a delivery is signed with now: the current one, and the previous one
    /// during its last 24 hours.
    pub(crate) fn signing_secrets(
        &self,
        sealer: &Sealer,
        secrets: &store::webhooks::SealedSecrets,
        now: Timestamp,
    ) -> Result<Vec<WebhookSecret>> {
        let open = |sealed: &[u8]| -> Result<WebhookSecret> {
            let bytes = sealer.open_bytes(sealed, SECRET_CONTEXT)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Error::Internal(String::from("a webhook secret is not text")))?;
            Ok(WebhookSecret::from_stored(text))
        };
        let mut opened = vec![open(&secrets.current)?];
        if let (Some(previous), Some(until)) = (&secrets.previous, secrets.previous_until) {
            if until > now.millis() {
                opened.push(open(previous)?);
            }
        }
        Ok(opened)
    }
}

fn checked_description(input: &str) -> Result<String, FieldError> {
    let text = input.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(FieldError::new(
            "description",
            "too_long",
            format!("Keep the description to {MAX_DESCRIPTION} characters."),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_a_star_or_known_names() {
        let all = EventTypes::parse(&[String::from("*")]).unwrap();
        assert!(all.admits(EventType::TenantUpdated));
        assert_eq!(all.to_stored(), "*");
        let some = EventTypes::parse(&[
            String::from("invite.created"),
            String::from("invite.accepted"),
            String::from("invite.created"),
        ])
        .unwrap();
        assert!(some.admits(EventType::InviteAccepted));
        assert!(!some.admits(EventType::InviteRevoked));
        assert_eq!(EventTypes::from_stored(&some.to_stored()), some);
        let unknown = EventTypes::parse(&[String::from("invite.opened")]).unwrap_err();
        assert!(unknown
            .message
            .contains("invite.opened is not an event type"));
        assert!(EventTypes::parse(&[]).is_err());
        assert!(EventTypes::parse(&[String::from("webhook.test")]).is_err());
    }
}
