//! Users: one tenant, one role, a normalised email unique across the platform.

use serde_json::json;

use super::actor::{Action, Actor};
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Conflict, Error, FieldError, FieldErrors, Result};
use super::name::Name;
use super::page::{Page, PageRequest};
use super::password::Password;
use super::role::Role;
use super::setup::end_first_admin_links;
use super::tenant::TenantId;
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub name: Name,
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub tenant_id: Option<TenantId>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Only people whose email or name holds this text, in any case.
    pub search: Option<String>,
    pub page: PageRequest,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role_id: Option<i64>,
    pub active: Option<bool>,
}

impl Tether {
    /// Creates an MSP admin without the invite flow, for automation (`tether admin create`).
    pub async fn create_admin(
        &self,
        actor: &Actor,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<User> {
        self.scope_or_refuse(actor, Action::ManageUsers).await?;
        if !actor.may_grant(Role::MspAdmin) {
            self.record_refusal(actor, Action::ManageUsers, Target::None)
                .await;
            return Err(Error::Forbidden);
        }
        let mut errors = FieldErrors::default();
        let email = errors.check(Email::parse(email));
        let name = match (name, &email) {
            (Some(name), _) => errors.check(Name::parse("name", name)),
            (None, Some(email)) => errors.check(Name::parse("name", email.local_part())),
            (None, None) => None,
        };
        let password = errors.check(Password::choose(
            password,
            email.as_ref(),
            &name.iter().map(Name::as_str).collect::<Vec<_>>(),
        ));
        errors.into_result()?;
        let (Some(email), Some(name), Some(password)) = (email, name, password) else {
            return Err(Error::Internal("checked fields went missing".into()));
        };
        let digest = self.passwords.hash(&password).await?;

        let msp = self.msp_tenant().await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::users::lock_admin_changes(&mut tx).await?;
        if store::users::email_taken(&mut tx, &email).await? {
            return Err(Error::Conflict(Conflict::UserExists));
        }
        let id = store::users::insert(
            &mut tx,
            store::users::NewUser {
                tenant_id: msp.id,
                email: &email,
                name: &name,
                role: Role::MspAdmin,
                password: &digest,
                now,
            },
        )
        .await?;
        end_first_admin_links(&mut tx, msp.id, now).await?;
        let event = NewAuditEvent::by(actor, now, AuditAction::UserCreated, Some(msp.id))
            .target(Target::User(id))
            .detail(json!({ "email": email.as_str(), "role": Role::MspAdmin.name() }));
        store::audit::insert(&mut tx, &event).await?;
        self.emit(&mut tx, EventType::UserCreated, Subject::User(id), now)
            .await?;
        let user = store::users::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user)
    }

    /// One user the actor may see.
    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<User> {
        let scope = self.scope_or_refuse(actor, Action::SeeUsers).await?;
        let mut conn = self.db.read().await?;
        match store::users::by_id(&mut conn, id).await? {
            Some(user) if scope.includes(user.tenant_id) => Ok(user),
            Some(_) => {
                drop(conn);
                self.record_refusal(actor, Action::SeeUsers, Target::User(id))
                    .await;
                Err(Error::NotFound("user"))
            }
            None => Err(Error::NotFound("user")),
        }
    }

    /// The user with this address, if the actor may see them.
    pub async fn user_by_email(&self, actor: &Actor, email: &str) -> Result<User> {
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let found = {
            let mut conn = self.db.read().await?;
            store::users::by_email_with_password(&mut conn, &email).await?
        };
        match found {
            Some((user, _)) => self.user(actor, user.id).await,
            None => Err(Error::NotFound("user")),
        }
    }

    /// Users the actor may see, newest first.
    pub async fn list_users(&self, actor: &Actor, query: UserQuery) -> Result<Page<User>> {
        let scope = self.scope_or_refuse(actor, Action::SeeUsers).await?;
        let Some(scope) = scope.narrowed_to(query.tenant_id) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let mut conn = self.db.read().await?;
        let rows = store::users::list(&mut conn, scope, &query).await?;
        Ok(query.page.finish(rows, |user| user.id.0))
    }

    /// Renames, changes the role of, deactivates or reactivates a user, within the actor's
    /// rights (product.md §2). Deactivating ends all of the user's sessions at once.
    ///
    /// The user is read again inside the transaction, after taking their row's lock, and
    /// only the fields given change: a copy read before the transaction would let a
    /// concurrent rename write back the activity or role this change had just replaced.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        changes: UserChanges,
    ) -> Result<User> {
        let visible = self.user(actor, id).await?;
        let refuse = || async {
            self.record_refusal(actor, Action::ManageUsers, Target::User(id))
                .await;
            Err(Error::Forbidden)
        };
        if !actor.may_change_user(visible.role) {
            return refuse().await;
        }
        // A client admin may not change their own account's role or deactivate it.
        let changes_role_or_activity = changes.role_id.is_some() || changes.active.is_some();
        if actor.role == Role::ClientAdmin && actor.is(id) && changes_role_or_activity {
            return refuse().await;
        }

        let mut errors = FieldErrors::default();
        let name = changes
            .name
            .as_deref()
            .and_then(|name| errors.check(Name::parse("name", name)));
        // A user's tenant never changes, so neither does the scope of the roles they may hold.
        let role = changes
            .role_id
            .and_then(|role_id| match Role::from_id(role_id) {
                Some(role) if role.scope() == visible.role.scope() => Some(role),
                Some(_) => {
                    errors.push(FieldError::new(
                        "role_id",
                        "role_scope_mismatch",
                        "This role cannot be held in this user's tenant.",
                    ));
                    None
                }
                None => {
                    errors.push(FieldError::new(
                        "role_id",
                        "unknown_role",
                        "There is no role with this id.",
                    ));
                    None
                }
            });
        errors.into_result()?;
        if role.is_some_and(|role| !actor.may_grant(role)) {
            return refuse().await;
        }

        let now = self.now();
        let mut tx = self.db.begin().await?;
        if changes_role_or_activity {
            store::users::lock_admin_changes(&mut tx).await?;
        }
        if !store::users::lock(&mut tx, id).await? {
            return Err(Error::NotFound("user"));
        }
        let current = store::users::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if !actor.may_change_user(current.role) {
            // Promoted beyond the actor's ceiling since the check above.
            drop(tx);
            return refuse().await;
        }
        let name = name.unwrap_or_else(|| current.name.clone());
        let role = role.unwrap_or(current.role);
        let active = changes.active.unwrap_or(current.active);
        store::users::update(&mut tx, id, &name, role, active, now).await?;
        let affects_admins = current.role == Role::MspAdmin && (role != Role::MspAdmin || !active);
        if affects_admins
            && store::users::count_active_with_role(&mut tx, Role::MspAdmin).await? == 0
        {
            return Err(Error::Conflict(Conflict::LastAdmin));
        }
        let deactivating = current.active && !active;
        if deactivating {
            store::sessions::revoke_all_for_user(&mut tx, id, now).await?;
            store::resets::supersede_open(&mut tx, id, now).await?;
            store::outbox::erase_sealed_for_resets_of(&mut tx, id).await?;
        }
        let action = if deactivating {
            AuditAction::UserDeactivated
        } else {
            AuditAction::UserChanged
        };
        let event = NewAuditEvent::by(actor, now, action, Some(current.tenant_id))
            .target(Target::User(id))
            .detail(json!({ "name": name.as_str(), "role": role.name(), "active": active }));
        store::audit::insert(&mut tx, &event).await?;
        let kind = if deactivating {
            EventType::UserDeactivated
        } else {
            EventType::UserUpdated
        };
        self.emit(&mut tx, kind, Subject::User(id), now).await?;
        let user = store::users::by_id(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user)
    }
}
