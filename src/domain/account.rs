//! One's own account (product.md §4 `/account`): changing one's name and password, and
//! seeing and ending one's own sessions and API tokens. Every operation acts on the
//! signed-in user alone, so none asks the permission table: the session is the right.

use serde_json::json;

use super::audit::{AuditAction, NewAuditEvent, Target};
use super::error::{Error, FieldError, Result};
use super::name::Name;
use super::password::Password;
use super::session::{Authenticated, SessionId, SessionInfo, SessionKind, WEB_IDLE};
use super::user::User;
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store;

/// One's own session, and whether it is the one asking.
#[derive(Debug, Clone)]
pub struct OwnSession {
    pub session: SessionInfo,
    pub current: bool,
}

impl Tether {
    /// Renames the signed-in user.
    pub async fn rename_self(&self, me: &Authenticated, name: &str) -> Result<User> {
        let name = Name::parse("name", name).map_err(|e| Error::Validation(vec![e]))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::users::lock_if_active(&mut tx, me.user.id).await? {
            return Err(Error::Unauthenticated);
        }
        store::users::set_name(&mut tx, me.user.id, &name).await?;
        let event = NewAuditEvent::by(
            &me.actor,
            now,
            AuditAction::UserChanged,
            Some(me.user.tenant_id),
        )
        .target(Target::User(me.user.id))
        .detail(json!({ "name": name.as_str(), "by": "self" }));
        store::audit::insert(&mut tx, &event).await?;
        self.emit(
            &mut tx,
            EventType::UserUpdated,
            Subject::User(me.user.id),
            now,
        )
        .await?;
        let user = store::users::by_id(&mut tx, me.user.id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes the signed-in user's password: the current one first, then the rules of
    /// product.md §3 for the new one; every other session and API token ends with it.
    pub async fn change_password(
        &self,
        me: &Authenticated,
        current: &str,
        new: &str,
    ) -> Result<()> {
        let stored = {
            let mut conn = self.db.read().await?;
            store::users::password_of(&mut conn, me.user.id).await?
        };
        let verified = self
            .passwords
            .verify(&Password::presented(current), stored.as_ref())
            .await?;
        if !verified {
            return Err(Error::Validation(vec![FieldError::new(
                "current_password",
                "invalid_credentials",
                "Your current password is not correct.",
            )]));
        }
        let tenant = self.site_tenant(me.user.tenant_id).await?;
        let context = [me.user.name.as_str(), tenant.name.as_str()];
        let password = Password::choose(new, Some(&me.user.email), &context).map_err(|e| {
            Error::Validation(vec![FieldError {
                field: "new_password",
                ..e
            }])
        })?;
        let digest = self.passwords.hash(&password).await?;

        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::users::lock_if_active(&mut tx, me.user.id).await? {
            return Err(Error::Unauthenticated);
        }
        store::users::set_password(&mut tx, me.user.id, &digest).await?;
        let ended = store::sessions::revoke_all_but(&mut tx, me.user.id, me.session, now).await?;
        let event = NewAuditEvent::by(
            &me.actor,
            now,
            AuditAction::UserPasswordChanged,
            Some(me.user.tenant_id),
        )
        .target(Target::User(me.user.id))
        .detail(json!({ "other_sessions_ended": ended }));
        store::audit::insert(&mut tx, &event).await?;
        let notified = self
            .enqueue_password_changed(&mut tx, &me.user, now)
            .await?;
        tx.commit().await?;
        if notified {
            self.wake_delivery();
        }
        Ok(())
    }

    /// The signed-in user's live sessions and API tokens, newest first.
    pub async fn own_sessions(&self, me: &Authenticated) -> Result<Vec<OwnSession>> {
        let now = self.now();
        let mut conn = self.db.read().await?;
        let sessions = store::sessions::live_for_user(&mut conn, me.user.id, now).await?;
        Ok(sessions
            .into_iter()
            // A web session idle past its limit is over, whatever its absolute end.
            .filter(|s| s.kind == SessionKind::Api || now < s.last_used_at.plus(WEB_IDLE))
            .map(|session| OwnSession {
                current: session.id == me.session,
                session,
            })
            .collect())
    }

    /// Ends one of the signed-in user's sessions; another user's is "not found".
    pub async fn end_own_session(&self, me: &Authenticated, id: SessionId) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::sessions::revoke_one_of(&mut tx, me.user.id, id, now).await? {
            return Err(Error::NotFound("session"));
        }
        store::audit::insert(
            &mut tx,
            &self.session_ended(me, json!({ "session_id": id.0 })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session and API token of the signed-in user but the one asking.
    pub async fn end_other_sessions(&self, me: &Authenticated) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let ended = store::sessions::revoke_all_but(&mut tx, me.user.id, me.session, now).await?;
        if ended > 0 {
            let event = self.session_ended(me, json!({ "other_sessions_ended": ended }));
            store::audit::insert(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    fn session_ended(&self, me: &Authenticated, detail: serde_json::Value) -> NewAuditEvent {
        NewAuditEvent::by(
            &me.actor,
            self.now(),
            AuditAction::SignOut,
            Some(me.user.tenant_id),
        )
        .target(Target::User(me.user.id))
        .detail(detail)
    }
}
