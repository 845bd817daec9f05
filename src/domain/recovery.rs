//! Password recovery (delivery.md §10): reset links that a person asks for by e-mail or an
//! admin issues, used once to choose a new password. A reset token is an invite-grade token
//! (`token.rs`: 32 random bytes, only its SHA-256 digest stored) and is claimed as an invite
//! is, by one conditional `UPDATE`; a newer link supersedes the older ones.

use std::time::Duration;

use serde_json::json;

use super::actor::{Action, Actor};
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Conflict, Error, ResetGone, Result};
use super::outbox::email_not_configured;
use super::password::Password;
use super::tenant::{Tenant, TenantId};
use super::token::Token;
use super::user::{User, UserId};
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResetId(pub i64);

/// Where a reset link stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetState {
    Open,
    Used,
    Superseded,
    Expired,
}

impl ResetState {
    fn unusable(self) -> Option<ResetGone> {
        match self {
            Self::Open => None,
            Self::Used => Some(ResetGone::Used),
            Self::Superseded => Some(ResetGone::Superseded),
            Self::Expired => Some(ResetGone::Expired),
        }
    }
}

/// A link the person asked for lives an hour: it went to their mailbox, and they are
/// waiting for it.
pub const REQUESTED_LIFETIME: Duration = Duration::from_secs(3600);

/// A link an admin issued lives a day: it may be passed on by hand.
pub const ISSUED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A link an admin issued, with its token, shown this once.
#[derive(Debug)]
pub struct IssuedReset {
    pub user: User,
    pub token: Token,
    pub link: String,
    pub expires_at: Timestamp,
}

/// What a reset link's page shows: whose account, in which tenant's branding.
#[derive(Debug, Clone)]
pub struct ResetLink {
    pub id: ResetId,
    pub user: User,
    pub tenant: Tenant,
    pub expires_at: Timestamp,
}

impl Tether {
    /// Someone on `host_tenant`'s site asks for a reset link for `email`. Only an active user
    /// of that tenant gets one, by e-mail; whoever asks sees the same answer after the same
    /// work either way: a token is made and sealed, and a transaction writes the audit event,
    /// whether or not a link is stored with it.
    pub async fn request_password_reset(
        &self,
        email: &str,
        host_tenant: TenantId,
        ip: Option<&str>,
    ) -> Result<()> {
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        if !self.mail_enabled() {
            return Err(email_not_configured());
        }
        let sealer = self.sealer().await?;
        let user = {
            let mut conn = self.db.read().await?;
            store::users::by_email_with_password(&mut conn, &email)
                .await?
                .map(|(user, _)| user)
        };
        let user = user.filter(|user| user.tenant_id == host_tenant && user.active);
        let token = Token::generate()?;
        let now = self.now();
        let expires_at = now.plus(REQUESTED_LIFETIME);
        if user.is_none() {
            // A known address's token is sealed for its e-mail; an unknown one's costs the same.
            sealer.seal(&token, "password_reset:nobody")?;
        }

        let mut tx = self.db.begin().await?;
        let mut sent = false;
        if let Some(user) = &user {
            if store::users::lock_if_active(&mut tx, user.id).await? {
                self.store_reset(&mut tx, user, None, &token, true, expires_at, now)
                    .await?;
                sent = true;
            }
        }
        let event = NewAuditEvent {
            tenant_id: Some(host_tenant),
            ..NewAuditEvent::anonymous(now, AuditAction::PasswordResetRequested, ip)
        }
        .target(
            user.as_ref()
                .map_or(Target::None, |user| Target::User(user.id)),
        )
        .detail(json!({ "email": email.as_str(), "sent": sent }));
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        if sent {
            self.wake_delivery();
        }
        Ok(())
    }

    /// As `request_password_reset`, answering as soon as the address is read: the lookup and
    /// the writes go on in the background, so that how long the answer takes says nothing of
    /// whether the account exists. (Answering after the work, a known address took 4.6 ms and
    /// an unknown one 2.7 ms, medians of 300 interleaved requests each: the writes a known one
    /// needs cannot be matched by an unknown one.) The API and the page both ask this.
    pub fn request_password_reset_in_background(
        &self,
        email: &str,
        host_tenant: TenantId,
        ip: Option<String>,
    ) -> Result<()> {
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        if !self.mail_enabled() {
            return Err(email_not_configured());
        }
        let tether = self.clone();
        tokio::spawn(async move {
            let asked = tether
                .request_password_reset(email.as_str(), host_tenant, ip.as_deref())
                .await;
            if let Err(error) = asked {
                tracing::error!(%error, "a password reset request could not be handled");
            }
        });
        Ok(())
    }

    /// An admin makes a reset link for a user they may change (product.md §2), valid a day,
    /// shown once and e-mailed to the user when asked.
    pub async fn issue_password_reset(
        &self,
        actor: &Actor,
        id: UserId,
        send_email: bool,
    ) -> Result<IssuedReset> {
        let user = self.password_reset_target(actor, id).await?;
        if !user.active {
            return Err(Error::Conflict(Conflict::UserInactive));
        }
        if send_email && !self.mail_enabled() {
            return Err(email_not_configured());
        }
        if send_email {
            // Read before the transaction: on SQLite its first read would wait for our lock.
            self.sealer().await?;
        }
        let token = Token::generate()?;
        let now = self.now();
        let expires_at = now.plus(ISSUED_LIFETIME);
        let mut tx = self.db.begin().await?;
        if !store::users::lock_if_active(&mut tx, id).await? {
            return Err(Error::Conflict(Conflict::UserInactive));
        }
        self.store_reset(
            &mut tx,
            &user,
            Some(actor),
            &token,
            send_email,
            expires_at,
            now,
        )
        .await?;
        let event = NewAuditEvent::by(
            actor,
            now,
            AuditAction::PasswordResetLinkCreated,
            Some(user.tenant_id),
        )
        .target(Target::User(id))
        .detail(json!({ "email": user.email.as_str(), "send_email": send_email }));
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        if send_email {
            self.wake_delivery();
        }
        let tenant = self.site_tenant(user.tenant_id).await?;
        let link = format!("{}/reset/{}", self.tenant_origin(&tenant), token.expose());
        Ok(IssuedReset {
            user,
            token,
            link,
            expires_at,
        })
    }

    /// The user `actor` may make a reset link for: one they see and may change (product.md
    /// §2); "not found" or "forbidden" otherwise. The pages ask it before offering the link.
    pub async fn password_reset_target(&self, actor: &Actor, id: UserId) -> Result<User> {
        let user = self.user(actor, id).await?;
        if !actor.may_change_user(user.role) {
            self.record_refusal(actor, Action::ManageUsers, Target::User(id))
                .await;
            return Err(Error::Forbidden);
        }
        Ok(user)
    }

    /// Writes a new link for `user`, superseding their open ones (whose e-mails, if still
    /// waiting, lose their sealed tokens), and its e-mail when `send` is set.
    #[allow(clippy::too_many_arguments)]
    async fn store_reset(
        &self,
        tx: &mut store::Conn,
        user: &User,
        issuer: Option<&Actor>,
        token: &Token,
        send: bool,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        store::outbox::erase_sealed_for_resets_of(tx, user.id).await?;
        let reset = store::resets::insert_superseding(
            tx,
            store::resets::NewReset {
                digest: token.digest(),
                user: user.id,
                created_by: issuer.and_then(|actor| actor.user_id),
                now,
                expires_at,
            },
        )
        .await?;
        if send {
            let sealer = self.sealer().await?;
            let requested = issuer.is_none();
            self.enqueue_password_reset(tx, sealer, reset, user, requested, token, expires_at, now)
                .await?;
        }
        Ok(())
    }

    /// What a reset link shows, without changing anything (mail scanners open links first).
    /// A link opened on another tenant's host is "not found".
    pub async fn open_reset_link(
        &self,
        token: &str,
        host_tenant: Option<TenantId>,
    ) -> Result<ResetLink> {
        let now = self.now();
        let mut conn = self.db.read().await?;
        let (id, user_id, expires_at, state) =
            store::resets::by_digest(&mut conn, Token::presented(token).digest(), now)
                .await?
                .ok_or(Error::NotFound(RESET_LINK))?;
        let user = store::users::by_id(&mut conn, user_id)
            .await?
            .filter(|user| host_tenant.is_none_or(|host| host == user.tenant_id))
            .ok_or(Error::NotFound(RESET_LINK))?;
        drop(conn);
        if let Some(gone) = state.unusable() {
            return Err(Error::ResetGone(gone));
        }
        let tenant = self.site_tenant(user.tenant_id).await?;
        Ok(ResetLink {
            id,
            user,
            tenant,
            expires_at,
        })
    }

    /// Uses a reset link: checks the new password against the rules, then in one transaction
    /// claims the link (only if it is still open at that instant), stores the new hash, ends
    /// every session and API token of the user and every other reset link, and queues the
    /// "your password was changed" notice. Of two simultaneous submits exactly one resets.
    /// The person is not signed in: they sign in with the new password (OWASP's guidance).
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        host_tenant: Option<TenantId>,
        ip: Option<&str>,
    ) -> Result<ResetLink> {
        let link = self.open_reset_link(token, host_tenant).await?;
        let user = &link.user;
        let context = [user.name.as_str(), link.tenant.name.as_str()];
        let password = Password::choose(password, Some(&user.email), &context)
            .map_err(|e| Error::Validation(vec![e]))?;
        let digest = self.passwords.hash(&password).await?;

        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::resets::claim(&mut tx, link.id, now).await? {
            drop(tx);
            let mut conn = self.db.read().await?;
            let state = store::resets::by_digest(&mut conn, Token::presented(token).digest(), now)
                .await?
                .map(|(_, _, _, state)| state);
            let gone = state
                .and_then(ResetState::unusable)
                .unwrap_or(ResetGone::Used);
            return Err(Error::ResetGone(gone));
        }
        if !store::users::lock_if_active(&mut tx, user.id).await? {
            // Deactivated since the link was opened; deactivation ends its links.
            return Err(Error::ResetGone(ResetGone::Superseded));
        }
        store::users::set_password(&mut tx, user.id, &digest).await?;
        let ended = store::sessions::revoke_all_for_user(&mut tx, user.id, now).await?;
        store::resets::supersede_open(&mut tx, user.id, now).await?;
        store::outbox::erase_sealed_for_resets_of(&mut tx, user.id).await?;
        let event = NewAuditEvent {
            actor_id: Some(user.id),
            tenant_id: Some(user.tenant_id),
            ..NewAuditEvent::anonymous(now, AuditAction::PasswordReset, ip)
        }
        .target(Target::User(user.id))
        .detail(json!({ "sessions_ended": ended }));
        store::audit::insert(&mut tx, &event).await?;
        self.emit(
            &mut tx,
            EventType::UserPasswordReset,
            Subject::User(user.id),
            now,
        )
        .await?;
        let notified = self.enqueue_password_changed(&mut tx, user, now).await?;
        tx.commit().await?;
        if notified {
            self.wake_delivery();
        }
        Ok(link)
    }
}

/// What `NotFound` names for an unknown reset link.
pub const RESET_LINK: &str = "reset link";
