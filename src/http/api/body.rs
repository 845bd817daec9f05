//! The API's objects, exactly as api.md "Objects" lists them. Each derives `ToSchema`, so
//! the OpenAPI document describes the very types the handlers return.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::account::OwnSession;
use crate::domain::audit::AuditEvent;
use crate::domain::batch::{BatchResult, RowOutcome};
use crate::domain::clock::Timestamp;
use crate::domain::invite::{Invite, InviteLink, IssuedInvite};
use crate::domain::outbox::{Delivery, Kind, Message, State};
use crate::domain::page::Page;
use crate::domain::role::Role;
use crate::domain::session::{NewSession, SessionKind};
use crate::domain::tenant::{Tenant, TenantKind};
use crate::domain::user::User;
use crate::domain::webhook::{Webhook, WebhookDelivery};
use crate::domain::Tether;
use crate::http::problem::Problem;

fn time(at: Timestamp) -> String {
    at.to_rfc3339()
}

/// Declares one of api.md's lists, `{"items": [...], "next_cursor"}`, as a type of its own, so
/// that the OpenAPI document names it (`InviteList`) and refers to its item's schema rather than
/// repeating it.
macro_rules! list {
    ($(#[$doc:meta])* $list:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $list {
            pub items: Vec<$item>,
            /// Pass as `?cursor=` for the next page; `null` on the last one.
            pub next_cursor: Option<String>,
        }

        impl $list {
            pub fn of<D>(page: Page<D>, to_item: impl Fn(D) -> $item) -> Self {
                Self {
                    items: page.items.into_iter().map(to_item).collect(),
                    next_cursor: page.next_cursor,
                }
            }

            /// A list that is whole on one page.
            pub fn complete(items: Vec<$item>) -> Self {
                Self {
                    items,
                    next_cursor: None,
                }
            }
        }
    };
}

list!(/// A page of invites, newest first.
    InviteList of InviteBody);
list!(/// A page of users, newest first.
    UserList of UserBody);
list!(/// The tenants the caller may see.
    TenantList of TenantBody);
list!(/// Every role.
    RoleList of RoleBody);
list!(/// A page of audit events, newest first.
    AuditEventList of AuditEventBody);
list!(/// A page of outbox messages, newest first.
    OutboxMessageList of OutboxMessageBody);
list!(/// One's own live sessions and API tokens, newest first.
    SessionList of SessionBody);
list!(/// The webhook endpoints.
    WebhookList of WebhookBody);
list!(/// A page of an endpoint's delivery attempts, newest first.
    WebhookDeliveryList of WebhookDeliveryBody);

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TenantKind)]
#[serde(rename_all = "lowercase")]
pub enum TenantKindBody {
    Msp,
    Client,
}

impl From<TenantKind> for TenantKindBody {
    fn from(kind: TenantKind) -> Self {
        match kind {
            TenantKind::Msp => Self::Msp,
            TenantKind::Client => Self::Client,
        }
    }
}

/// A tenant: the MSP or one of its clients.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Tenant)]
pub struct TenantBody {
    pub id: i64,
    pub kind: TenantKindBody,
    pub name: String,
    /// `null` for the MSP.
    pub slug: Option<String>,
    /// Where the tenant's pages are served.
    #[schema(example = "https://acme.atechsolutions.org")]
    pub base_url: String,
    #[schema(example = "#2563EB")]
    pub accent_colour: String,
    pub logo_url: Option<String>,
    pub created_at: String,
    /// Whether e-mailed 3- and 7-day invites get a fresh link a day before they expire.
    pub invite_reminders: bool,
    /// The e-mail domains whose addresses may be invited, lower-case and in IDNA form;
    /// `*.acme.com` also admits its subdomains. Empty: any address.
    #[schema(example = json!(["acme.com", "*.acme.co.uk"]))]
    pub allowed_email_domains: Vec<String>,
}

/// The logo's public address, versioned by its ETag so that it can be cached for long.
pub fn logo_url(tether: &Tether, tenant: &Tenant) -> Option<String> {
    tenant.logo_etag.as_ref().map(|etag| {
        format!(
            "{}/api/tenants/{}/logo?v={}",
            tether.base_url(),
            tenant.id.0,
            etag.trim_matches('"')
        )
    })
}

impl TenantBody {
    pub fn new(tether: &Tether, tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.0,
            kind: tenant.kind.into(),
            name: tenant.name.to_string(),
            slug: tenant.slug.as_ref().map(ToString::to_string),
            base_url: tether.tenant_origin(tenant),
            accent_colour: tenant.accent_colour.as_str().to_owned(),
            logo_url: logo_url(tether, tenant),
            created_at: time(tenant.created_at),
            invite_reminders: tenant.invite_reminders,
            allowed_email_domains: tenant.allowed_email_domains.entries(),
        }
    }
}

/// Which kind of tenant a role belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RoleScope)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Msp,
    Client,
}

/// A role of the fixed catalogue; a higher rank may do more.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Role)]
pub struct RoleBody {
    pub id: i64,
    #[schema(example = "client_admin")]
    pub name: &'static str,
    pub scope: Scope,
    pub rank: i64,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        Self {
            id: role.id(),
            name: role.name(),
            scope: match role.scope() {
                TenantKind::Msp => Scope::Msp,
                TenantKind::Client => Scope::Client,
            },
            rank: role.rank(),
        }
    }
}

/// A user of one tenant.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserBody {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role_id: i64,
    #[schema(example = "client_admin")]
    pub role: &'static str,
    pub tenant_id: i64,
    pub active: bool,
    pub created_at: String,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.to_string(),
            name: user.name.to_string(),
            role_id: user.role.id(),
            role: user.role.name(),
            tenant_id: user.tenant_id.0,
            active: user.active,
            created_at: time(user.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteStatus)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatusBody {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// `superseded` when a newer invite for the same email replaced it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RevokeReason)]
#[serde(rename_all = "lowercase")]
pub enum RevokeReasonBody {
    Revoked,
    Superseded,
}

/// Who created an invite.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBy {
    pub id: i64,
    pub email: String,
}

/// An invite; never its token.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Invite)]
pub struct InviteBody {
    pub id: i64,
    /// `null` only for the first-admin link, whose recipient enters their email.
    pub email: Option<String>,
    pub name: Option<String>,
    pub role_id: i64,
    pub role: &'static str,
    pub tenant_id: i64,
    pub status: InviteStatusBody,
    pub created_at: String,
    pub expires_at: String,
    /// `null` when the invite was created from the command line or at first start.
    pub created_by: Option<CreatedBy>,
    pub accepted_at: Option<String>,
    pub accepted_user_id: Option<i64>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<i64>,
    pub revoke_reason: Option<RevokeReasonBody>,
    /// When the recipient of the dead link asked for a fresh one; `null` if they did not.
    pub renewal_requested_at: Option<String>,
    /// How the invite's e-mail is doing; `null` if it was not e-mailed.
    pub delivery: Option<DeliveryBody>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeliveryStatus)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatusBody {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl From<State> for DeliveryStatusBody {
    fn from(state: State) -> Self {
        match state {
            State::Queued => Self::Queued,
            State::Sending => Self::Sending,
            State::Sent => Self::Sent,
            State::Failed => Self::Failed,
        }
    }
}

/// An invite e-mail's delivery (api.md "Delivery, recovery, bulk, webhooks").
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryBody {
    pub status: DeliveryStatusBody,
    pub attempts: i64,
    pub sent_at: Option<String>,
    /// Why the last attempt failed, in a sentence.
    pub last_error: Option<String>,
}

impl From<Delivery> for DeliveryBody {
    fn from(delivery: Delivery) -> Self {
        Self {
            status: delivery.state.into(),
            attempts: delivery.attempts,
            sent_at: delivery.sent_at.map(time),
            last_error: delivery.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessageKind)]
#[serde(rename_all = "lowercase")]
pub enum MessageKindBody {
    Email,
    Webhook,
}

/// A message in the outbox; never its content's secrets.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OutboxMessage)]
pub struct OutboxMessageBody {
    pub id: i64,
    pub kind: MessageKindBody,
    pub state: DeliveryStatusBody,
    #[schema(example = "invite 17 to alice@acme.com")]
    pub subject: String,
    pub attempts: i64,
    pub created_at: String,
    /// `null` once sent or failed.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
}

impl From<Message> for OutboxMessageBody {
    fn from(message: Message) -> Self {
        Self {
            id: message.id.0,
            kind: match message.kind {
                Kind::Email => MessageKindBody::Email,
                Kind::Webhook => MessageKindBody::Webhook,
            },
            state: message.state.into(),
            subject: message.subject,
            attempts: message.attempts,
            created_at: time(message.created_at),
            next_attempt_at: message.next_attempt_at.map(time),
            last_error: message.last_error,
        }
    }
}

impl From<Invite> for InviteBody {
    fn from(invite: Invite) -> Self {
        use crate::domain::invite::{InviteStatus, RevokeReason};
        Self {
            id: invite.id.0,
            email: invite.email.map(|e| e.to_string()),
            name: invite.name.map(|n| n.to_string()),
            role_id: invite.role.id(),
            role: invite.role.name(),
            tenant_id: invite.tenant_id.0,
            status: match invite.status {
                InviteStatus::Pending => InviteStatusBody::Pending,
                InviteStatus::Accepted => InviteStatusBody::Accepted,
                InviteStatus::Revoked => InviteStatusBody::Revoked,
                InviteStatus::Expired => InviteStatusBody::Expired,
            },
            created_at: time(invite.created_at),
            expires_at: time(invite.expires_at),
            created_by: invite.created_by.map(|(id, email)| CreatedBy {
                id: id.0,
                email: email.to_string(),
            }),
            accepted_at: invite.accepted_at.map(time),
            accepted_user_id: invite.accepted_user_id.map(|id| id.0),
            revoked_at: invite.revoked_at.map(time),
            revoked_by: invite.revoked_by.map(|id| id.0),
            revoke_reason: invite.revoke_reason.map(|reason| match reason {
                RevokeReason::Revoked => RevokeReasonBody::Revoked,
                RevokeReason::Superseded => RevokeReasonBody::Superseded,
            }),
            renewal_requested_at: invite.renewal_requested_at.map(time),
            delivery: invite.delivery.map(DeliveryBody::from),
        }
    }
}

/// A created invite: the invite, plus its token and link, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedInvite)]
pub struct CreatedInviteBody {
    #[serde(flatten)]
    pub invite: InviteBody,
    pub token: String,
    #[schema(example = "https://acme.atechsolutions.org/invite/abc123")]
    pub invite_url: String,
}

impl From<IssuedInvite> for CreatedInviteBody {
    fn from(issued: IssuedInvite) -> Self {
        Self {
            token: issued.token.expose().to_owned(),
            invite_url: issued.link,
            invite: issued.invite.into(),
        }
    }
}

/// What became of a row of a batch.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteBatchOutcome)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcomeBody {
    Created,
    WouldCreate,
    Refused,
}

/// One row's outcome: its invite (created only), the invite it replaces, or its refusal.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteBatchRowResult)]
pub struct BatchRowResultBody {
    /// The row's index in the request, from 0.
    pub row: usize,
    pub outcome: BatchOutcomeBody,
    /// The open invite for the same address that this row replaces (or would).
    pub supersedes: Option<i64>,
    pub invite: Option<CreatedInviteBody>,
    /// What the single create would have answered (or `duplicate_in_batch`).
    pub error: Option<Problem>,
}

/// A batch's outcome, row by row.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteBatchResult)]
pub struct InviteBatchBody {
    pub created: usize,
    pub failed: usize,
    pub results: Vec<BatchRowResultBody>,
}

impl From<BatchResult> for InviteBatchBody {
    fn from(result: BatchResult) -> Self {
        let (created, failed) = (result.created(), result.refused());
        let results = result
            .outcomes
            .into_iter()
            .enumerate()
            .map(|(row, outcome)| match outcome {
                RowOutcome::Created(issued) => BatchRowResultBody {
                    row,
                    outcome: BatchOutcomeBody::Created,
                    supersedes: issued.superseded.map(|id| id.0),
                    invite: Some((*issued).into()),
                    error: None,
                },
                RowOutcome::WouldCreate { supersedes } => BatchRowResultBody {
                    row,
                    outcome: BatchOutcomeBody::WouldCreate,
                    supersedes: supersedes.map(|id| id.0),
                    invite: None,
                    error: None,
                },
                RowOutcome::Refused(error) => BatchRowResultBody {
                    row,
                    outcome: BatchOutcomeBody::Refused,
                    supersedes: None,
                    invite: None,
                    error: Some(error.into()),
                },
            })
            .collect();
        Self {
            created,
            failed,
            results,
        }
    }
}

/// The role an invite link grants.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteLinkRole)]
pub struct LinkRole {
    pub id: i64,
    pub name: &'static str,
}

/// The tenant a link belongs to, with its branding.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LinkTenant)]
pub struct LinkTenant {
    pub id: i64,
    pub name: String,
    pub kind: TenantKindBody,
    pub accent_colour: String,
    pub logo_url: Option<String>,
}

impl LinkTenant {
    pub fn new(tether: &Tether, tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.0,
            name: tenant.name.to_string(),
            kind: tenant.kind.into(),
            accent_colour: tenant.accent_colour.as_str().to_owned(),
            logo_url: logo_url(tether, tenant),
        }
    }
}

/// What an invite link's setup page shows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InviteLink)]
pub struct InviteLinkBody {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: LinkRole,
    pub tenant: LinkTenant,
    pub expires_at: String,
}

impl InviteLinkBody {
    pub fn new(tether: &Tether, link: InviteLink) -> Self {
        let InviteLink { invite, tenant } = link;
        Self {
            email: invite.email.map(|e| e.to_string()),
            name: invite.name.map(|n| n.to_string()),
            role: LinkRole {
                id: invite.role.id(),
                name: invite.role.name(),
            },
            tenant: LinkTenant::new(tether, &tenant),
            expires_at: time(invite.expires_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

/// A new API token and the user it belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenBody {
    pub token: String,
    pub token_type: TokenType,
    pub expires_at: String,
    pub user: UserBody,
}

impl TokenBody {
    pub fn new(user: User, session: NewSession) -> Self {
        Self {
            token: session.token.expose().to_owned(),
            token_type: TokenType::Bearer,
            expires_at: time(session.expires_at),
            user: user.into(),
        }
    }
}

/// Something that happened, who did it, and to what.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventBody {
    pub id: i64,
    pub at: String,
    #[schema(example = "invite.created")]
    pub action: String,
    pub actor_id: Option<i64>,
    pub tenant_id: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub ip: Option<String>,
    /// What the action concerned, by name: e.g. the invite's email and role.
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: time(event.at),
            action: event.action,
            actor_id: event.actor_id,
            tenant_id: event.tenant_id,
            target_type: event.target_type,
            target_id: event.target_id,
            ip: event.ip,
            detail: event.detail,
        }
    }
}

/// What kind of sign-in a session is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SessionKind)]
#[serde(rename_all = "lowercase")]
pub enum SessionKindBody {
    /// A browser's cookie.
    Web,
    /// An API token.
    Api,
}

/// One of one's own sessions or API tokens.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionBody {
    pub id: i64,
    pub kind: SessionKindBody,
    pub created_at: String,
    pub last_used_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request was made with.
    pub current: bool,
}

impl From<OwnSession> for SessionBody {
    fn from(own: OwnSession) -> Self {
        Self {
            id: own.session.id.0,
            kind: match own.session.kind {
                SessionKind::Web => SessionKindBody::Web,
                SessionKind::Api => SessionKindBody::Api,
            },
            created_at: time(own.session.created_at),
            last_used_at: time(own.session.last_used_at),
            ip: own.session.ip,
            user_agent: own.session.user_agent,
            current: own.current,
        }
    }
}

/// A webhook endpoint; never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookBody {
    pub id: i64,
    #[schema(example = "https://psa.example.com/hooks/tether")]
    pub url: String,
    pub description: String,
    /// `["*"]` for every event type.
    #[schema(example = json!(["invite.created", "invite.accepted"]))]
    pub event_types: Vec<String>,
    /// Only these tenants' events; `null` for every tenant.
    pub tenant_ids: Option<Vec<i64>>,
    pub enabled: bool,
    /// Why Tether turned it off (a `410 Gone`, or five days of failed deliveries).
    pub disabled_reason: Option<String>,
    /// When its current run of failed deliveries began; `null` while deliveries succeed.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Webhook> for WebhookBody {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id.0,
            url: webhook.url,
            description: webhook.description,
            event_types: webhook.event_types.names(),
            tenant_ids: webhook
                .tenant_ids
                .map(|ids| ids.into_iter().map(|id| id.0).collect()),
            enabled: webhook.enabled,
            disabled_reason: webhook.disabled_reason,
            failing_since: webhook.failing_since.map(time),
            created_at: time(webhook.created_at),
            updated_at: time(webhook.updated_at),
        }
    }
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedWebhook)]
pub struct CreatedWebhookBody {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// `whsec_` and the base64 of 32 random bytes; shown only now.
    pub secret: String,
}

/// An endpoint's new signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookSecret)]
pub struct WebhookSecretBody {
    pub secret: String,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct WebhookDeliveryBody {
    pub id: i64,
    #[schema(example = "invite.accepted")]
    pub event_type: String,
    /// The `webhook-id` header: the same on every attempt of one event.
    pub webhook_id: String,
    pub attempted_at: String,
    /// The receiver's HTTP status; `null` when none came.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

impl From<WebhookDelivery> for WebhookDeliveryBody {
    fn from(delivery: WebhookDelivery) -> Self {
        Self {
            id: delivery.id,
            event_type: delivery.event_type,
            webhook_id: delivery.message_id.0.to_string(),
            attempted_at: time(delivery.attempted_at),
            status_code: delivery.status_code,
            duration_ms: delivery.duration_ms,
            error: delivery.error,
        }
    }
}
