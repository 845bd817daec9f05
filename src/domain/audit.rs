//! The audit trail: every change and every refused attempt that matters (product.md §1).
//! Details are small JSON objects built here; no token or password ever enters one.

use serde_json::Value;

use super::actor::{Action, Actor, TenantScope};
use super::clock::Timestamp;
use super::error::Result;
use super::page::{Page, PageRequest};
use super::tenant::TenantId;
use super::user::UserId;
use super::Tether;
use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    InviteCreated,
    InviteSuperseded,
    InviteRevoked,
    InviteAccepted,
    InviteAcceptRefused,
    InviteRenewalRequested,
    SignIn,
    SignInFailed,
    SignOut,
    UserCreated,
    UserChanged,
    UserDeactivated,
    UserPasswordChanged,
    PasswordResetRequested,
    PasswordResetLinkCreated,
    PasswordReset,
    TenantCreated,
    TenantChanged,
    TenantBrandingChanged,
    WebhookCreated,
    WebhookChanged,
    WebhookDeleted,
    WebhookSecretRotated,
    AccessRefused,
}

impl AuditAction {
    /// Every action, in the order the audit page's filter offers them.
    pub const ALL: [AuditAction; 24] = [
        Self::InviteCreated,
        Self::InviteSuperseded,
        Self::InviteRevoked,
        Self::InviteAccepted,
        Self::InviteAcceptRefused,
        Self::InviteRenewalRequested,
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::UserCreated,
        Self::UserChanged,
        Self::UserDeactivated,
        Self::UserPasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordResetLinkCreated,
        Self::PasswordReset,
        Self::TenantCreated,
        Self::TenantChanged,
        Self::TenantBrandingChanged,
        Self::WebhookCreated,
        Self::WebhookChanged,
        Self::WebhookDeleted,
        Self::WebhookSecretRotated,
        Self::AccessRefused,
    ];

    /// The action a stored name stands for.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.name() == name)
    }

    /// What it is, for the audit page's filter.
    pub fn label(self) -> &'static str {
        match self {
            Self::InviteCreated => "Invites created",
            Self::InviteSuperseded => "Invites replaced by a newer one",
            Self::InviteRevoked => "Invites revoked",
            Self::InviteAccepted => "Invites accepted",
            Self::InviteAcceptRefused => "Unusable invite links submitted",
            Self::InviteRenewalRequested => "New invite links asked for",
            Self::SignIn => "Sign-ins",
            Self::SignInFailed => "Failed sign-ins",
            Self::SignOut => "Sign-outs",
            Self::UserCreated => "Accounts created",
            Self::UserChanged => "Accounts changed",
            Self::UserDeactivated => "Accounts deactivated",
            Self::UserPasswordChanged => "Passwords changed",
            Self::PasswordResetRequested => "Password resets asked for",
            Self::PasswordResetLinkCreated => "Password reset links made",
            Self::PasswordReset => "Passwords reset",
            Self::TenantCreated => "Clients created",
            Self::TenantChanged => "Client settings changed",
            Self::TenantBrandingChanged => "Client logos changed",
            Self::WebhookCreated => "Webhooks added",
            Self::WebhookChanged => "Webhooks changed",
            Self::WebhookDeleted => "Webhooks removed",
            Self::WebhookSecretRotated => "Webhook secrets rotated",
            Self::AccessRefused => "Actions refused",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::InviteCreated => "invite.created",
            Self::InviteSuperseded => "invite.superseded",
            Self::InviteRevoked => "invite.revoked",
            Self::InviteAccepted => "invite.accepted",
            Self::InviteAcceptRefused => "invite.accept_refused",
            Self::InviteRenewalRequested => "invite.renewal_requested",
            Self::SignIn => "auth.sign_in",
            Self::SignInFailed => "auth.sign_in_failed",
            Self::SignOut => "auth.sign_out",
            Self::UserCreated => "user.created",
            Self::UserChanged => "user.changed",
            Self::UserDeactivated => "user.deactivated",
            Self::UserPasswordChanged => "user.password_changed",
            Self::PasswordResetRequested => "auth.password_reset_requested",
            Self::PasswordResetLinkCreated => "auth.password_reset_link_created",
            Self::PasswordReset => "auth.password_reset",
            Self::TenantCreated => "tenant.created",
            Self::TenantChanged => "tenant.changed",
            Self::TenantBrandingChanged => "tenant.branding_changed",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookChanged => "webhook.changed",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
            Self::AccessRefused => "access.refused",
        }
    }
}

/// What was affected by an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    None,
    Invite(i64),
    User(UserId),
    Tenant(TenantId),
}

impl Target {
    pub(crate) fn parts(self) -> (Option<&'static str>, Option<i64>) {
        match self {
            Self::None => (None, None),
            Self::Invite(id) => (Some("invite"), Some(id)),
            Self::User(id) => (Some("user"), Some(id.0)),
            Self::Tenant(id) => (Some("tenant"), Some(id.0)),
        }
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at: Timestamp,
    pub action: AuditAction,
    pub actor_id: Option<UserId>,
    pub tenant_id: Option<TenantId>,
    pub target: Target,
    pub ip: Option<String>,
    pub detail: Value,
}

impl NewAuditEvent {
    pub fn by(actor: &Actor, at: Timestamp, action: AuditAction, tenant: Option<TenantId>) -> Self {
        Self {
            at,
            action,
            actor_id: actor.user_id,
            tenant_id: tenant,
            target: Target::None,
            ip: actor.ip.clone(),
            detail: Value::Object(Default::default()),
        }
    }

    pub fn anonymous(at: Timestamp, action: AuditAction, ip: Option<&str>) -> Self {
        Self {
            at,
            action,
            actor_id: None,
            tenant_id: None,
            target: Target::None,
            ip: ip.map(str::to_owned),
            detail: Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A recorded event, as listed.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    pub action: String,
    pub actor_id: Option<i64>,
    pub tenant_id: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub ip: Option<String>,
    pub detail: Value,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant_id: Option<TenantId>,
    pub action: Option<String>,
    pub actor_id: Option<UserId>,
    /// Events by people whose address contains this text (any case).
    pub actor_email: Option<String>,
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    pub page: PageRequest,
}

impl Tether {
    /// Audit events the actor may read, newest first.
    pub async fn list_audit_events(
        &self,
        actor: &Actor,
        query: AuditQuery,
    ) -> Result<Page<AuditEvent>> {
        let scope = self.scope_or_refuse(actor, Action::ReadAudit).await?;
        let Some(scope) = scope.narrowed_to(query.tenant_id) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let mut conn = self.db.read().await?;
        let rows = store::audit::list(&mut conn, scope, &query).await?;
        Ok(query.page.finish(rows, |event| event.id))
    }

    /// Records a refusal in its own short transaction: the refused operation wrote nothing.
    pub(crate) async fn record_refusal(&self, actor: &Actor, action: Action, target: Target) {
        let event = NewAuditEvent::by(
            actor,
            self.now(),
            AuditAction::AccessRefused,
            Some(actor.tenant_id),
        )
        .target(target)
        .detail(serde_json::json!({ "attempted": format!("{action:?}") }));
        self.record_alone(event).await;
    }

    /// Records an event outside any operation's transaction. A failure to record is logged,
    /// not returned: the refusal it describes stands either way.
    pub(crate) async fn record_alone(&self, event: NewAuditEvent) {
        let result = async {
            let mut conn = self.db.read().await?;
            store::audit::insert(&mut conn, &event).await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, action = event.action.name(), "could not record an audit event");
        }
    }

    /// The actor's scope for `action`, or `Forbidden`, audited.
    pub(crate) async fn scope_or_refuse(
        &self,
        actor: &Actor,
        action: Action,
    ) -> Result<TenantScope> {
        match actor.scope(action) {
            Ok(scope) => Ok(scope),
            Err(error) => {
                self.record_refusal(actor, action, Target::None).await;
                Err(error)
            }
        }
    }
}
