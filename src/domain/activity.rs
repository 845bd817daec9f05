//! Audit events as sentences people read: "Dana Whitfield invited carol@acme.example as
//! Client user to Acme Corp". One function, `sentence`, turns a stored event and the names as
//! they are now into its sentence, for the dashboard and the audit page alike.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use serde_json::Value;

use super::actor::Actor;
use super::audit::{AuditAction, AuditEvent, AuditQuery};
use super::error::Result;
use super::invite::InviteId;
use super::page::Page;
use super::role::Role;
use super::tenant::TenantId;
use super::user::UserId;
use super::Tether;
use crate::store;

/// The names an event's ids stand for now: people by name, tenants by name, invites by their
/// address. An id missing here is shown as what it is ("user 7").
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub users: HashMap<i64, String>,
    pub tenants: HashMap<i64, String>,
    pub invites: HashMap<i64, String>,
}

/// An event with its sentence and the names of who did it and where.
#[derive(Debug, Clone)]
pub struct Described {
    pub event: AuditEvent,
    pub sentence: String,
    /// Who did it: a person's name, or "The command line".
    pub actor: String,
    pub tenant: Option<String>,
}

/// Who did it: a person's name, or the command line (which acts without a user).
fn actor_of(event: &AuditEvent, names: &Names) -> String {
    match event.actor_id {
        Some(id) => names
            .users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}")),
        None => String::from("The command line"),
    }
}

fn text<'a>(detail: &'a Value, key: &str) -> Option<&'a str> {
    detail.get(key).and_then(Value::as_str)
}

fn role_label(detail: &Value) -> String {
    text(detail, "role")
        .and_then(Role::named)
        .map_or_else(|| String::from("a role"), |role| role.label().to_owned())
}

/// The event as a sentence.
pub fn sentence(event: &AuditEvent, names: &Names) -> String {
    let who = actor_of(event, names);
    let detail = &event.detail;
    let tenant = event
        .tenant_id
        .and_then(|id| names.tenants.get(&id).cloned())
        .unwrap_or_else(|| String::from("a tenant"));
    let target_id = event.target_id.unwrap_or_default();
    let invitee = || {
        text(detail, "email")
            .map(str::to_owned)
            .or_else(|| names.invites.get(&target_id).cloned())
            .unwrap_or_else(|| format!("invite {target_id}"))
    };
    let person = || {
        names
            .users
            .get(&target_id)
            .cloned()
            .or_else(|| text(detail, "email").map(str::to_owned))
            .unwrap_or_else(|| format!("user {target_id}"))
    };
    let Some(action) = AuditAction::named(&event.action) else {
        return format!("{who}: {}", event.action);
    };
    match action {
        AuditAction::InviteCreated if detail.get("first_admin") == Some(&Value::Bool(true)) => {
            String::from("A first-admin link was made")
        }
        AuditAction::InviteCreated if detail.get("reminder") == Some(&Value::Bool(true)) => {
            format!("A reminder sent {} a fresh invite to {tenant}", invitee())
        }
        AuditAction::InviteCreated => format!(
            "{who} invited {} as {} to {tenant}",
            invitee(),
            role_label(detail)
        ),
        AuditAction::InviteSuperseded => {
            format!("{who} replaced the pending invite for {}", invitee())
        }
        AuditAction::InviteRevoked if detail.get("first_admin").is_some() => {
            String::from("The first-admin link ended, as an MSP admin exists")
        }
        AuditAction::InviteRevoked => format!("{who} revoked the invite for {}", invitee()),
        AuditAction::InviteAccepted => {
            format!(
                "{who} accepted an invite and joined {tenant} as {}",
                role_label(detail)
            )
        }
        AuditAction::InviteAcceptRefused => format!(
            "An invite link for {} was refused: {}",
            invitee(),
            text(detail, "reason").unwrap_or("it could not be used")
        ),
        AuditAction::InviteRenewalRequested => {
            format!("{} asked for a new invite link", invitee())
        }
        AuditAction::SignIn => format!("{who} signed in"),
        AuditAction::SignInFailed => match text(detail, "email") {
            Some(email) => format!("A sign-in as {email} failed"),
            None => String::from("A sign-in failed"),
        },
        AuditAction::SignOut => format!("{who} signed out"),
        AuditAction::UserCreated if event.actor_id == event.target_id => {
            format!("{} created their account in {tenant}", person())
        }
        AuditAction::UserCreated => format!("{who} created the account of {}", person()),
        AuditAction::UserChanged if text(detail, "by") == Some("self") => {
            format!("{who} changed their name")
        }
        AuditAction::UserChanged => format!("{who} changed the account of {}", person()),
        AuditAction::UserDeactivated => format!("{who} deactivated {}", person()),
        AuditAction::UserPasswordChanged => format!("{who} changed their password"),
        AuditAction::PasswordResetRequested => format!(
            "A password reset link was asked for {}",
            text(detail, "email").unwrap_or("an address")
        ),
        AuditAction::PasswordResetLinkCreated => {
            format!("{who} made a password reset link for {}", person())
        }
        AuditAction::PasswordReset => format!("{} reset their password", person()),
        AuditAction::TenantCreated => format!("{who} created {tenant}"),
        AuditAction::TenantChanged => format!("{who} changed the settings of {tenant}"),
        AuditAction::TenantBrandingChanged => format!("{who} changed the logo of {tenant}"),
        AuditAction::WebhookCreated => format!(
            "{who} added a webhook to {}",
            text(detail, "url").unwrap_or("an address")
        ),
        AuditAction::WebhookChanged => format!(
            "{who} changed the webhook to {}",
            text(detail, "url").unwrap_or("an address")
        ),
        AuditAction::WebhookDeleted => format!(
            "{who} removed the webhook to {}",
            text(detail, "url").unwrap_or("an address")
        ),
        AuditAction::WebhookSecretRotated => format!("{who} rotated a webhook's secret"),
        AuditAction::AccessRefused => format!("{who} was refused an action they may not take"),
    }
}

impl Tether {
    /// The events the actor may read, newest first, each with its sentence.
    pub async fn activity(&self, actor: &Actor, query: AuditQuery) -> Result<Page<Described>> {
        let page = self.list_audit_events(actor, query).await?;
        let names = self.names_of(&page.items).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|event| Described {
                    sentence: sentence(&event, &names),
                    actor: actor_of(&event, &names),
                    tenant: event
                        .tenant_id
                        .and_then(|id| names.tenants.get(&id).cloned()),
                    event,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// The current names of the people, tenants and invites that `events` name.
    async fn names_of(&self, events: &[AuditEvent]) -> Result<Names> {
        let mut names = Names::default();
        let mut conn = self.db.read().await?;
        let now = self.now();
        for event in events {
            let target = (event.target_type.as_deref(), event.target_id);
            let users = event.actor_id.into_iter().chain(
                matches!(target.0, Some("user"))
                    .then_some(target.1)
                    .flatten(),
            );
            for id in users {
                if let Entry::Vacant(slot) = names.users.entry(id) {
                    if let Some(user) = store::users::by_id(&mut conn, UserId(id)).await? {
                        slot.insert(user.name.to_string());
                    }
                }
            }
            if let Some(id) = event.tenant_id.filter(|id| !names.tenants.contains_key(id)) {
                if let Some(tenant) = store::tenants::by_id(&mut conn, TenantId(id)).await? {
                    names.tenants.insert(id, tenant.name.to_string());
                }
            }
            if let (Some("invite"), Some(id)) = target {
                if let Entry::Vacant(slot) = names.invites.entry(id) {
                    let invite = store::invites::by_id(&mut conn, InviteId(id), now).await?;
                    if let Some(email) = invite.and_then(|invite| invite.email) {
                        slot.insert(email.to_string());
                    }
                }
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::clock::Timestamp;

    fn event(
        action: AuditAction,
        actor: Option<i64>,
        target: Option<(&str, i64)>,
        detail: Value,
    ) -> AuditEvent {
        AuditEvent {
            id: 1,
            at: Timestamp::from_millis(0),
            action: action.name().to_owned(),
            actor_id: actor,
            tenant_id: Some(2),
            target_type: target.map(|(kind, _)| kind.to_owned()),
            target_id: target.map(|(_, id)| id),
            ip: None,
            detail,
        }
    }

    fn names() -> Names {
        Names {
            users: HashMap::from([
                (1, String::from("Dana Whitfield")),
                (5, String::from("Alice Smith")),
            ]),
            tenants: HashMap::from([(2, String::from("Acme Corp"))]),
            invites: HashMap::from([(9, String::from("bob@acme.com"))]),
        }
    }

    #[test]
    fn every_action_is_a_sentence_with_the_current_names() {
        use AuditAction::*;
        let names = names();
        let said =
            |action, actor, target, detail| sentence(&event(action, actor, target, detail), &names);
        assert_eq!(
            said(
                InviteCreated,
                Some(1),
                Some(("invite", 9)),
                json!({"email": "carol@acme.com", "role": "client_user"})
            ),
            "Dana Whitfield invited carol@acme.com as Client user to Acme Corp"
        );
        assert_eq!(
            said(TenantCreated, None, Some(("tenant", 2)), json!({})),
            "The command line created Acme Corp"
        );
        assert_eq!(
            said(
                InviteAcceptRefused,
                None,
                Some(("invite", 9)),
                json!({"reason": "invite_expired"})
            ),
            "An invite link for bob@acme.com was refused: invite_expired"
        );
        assert_eq!(
            said(SignIn, Some(5), None, json!({})),
            "Alice Smith signed in"
        );
        assert_eq!(
            said(UserCreated, Some(5), Some(("user", 5)), json!({})),
            "Alice Smith created their account in Acme Corp"
        );
        assert_eq!(
            said(InviteRevoked, Some(1), Some(("invite", 9)), json!({})),
            "Dana Whitfield revoked the invite for bob@acme.com"
        );
        assert_eq!(
            said(UserDeactivated, Some(1), Some(("user", 5)), json!({})),
            "Dana Whitfield deactivated Alice Smith"
        );
        // A name that is gone is shown as what it was.
        assert_eq!(
            said(UserChanged, Some(77), Some(("user", 78)), json!({})),
            "user 77 changed the account of user 78"
        );
        for action in AuditAction::ALL {
            let text = said(
                action,
                Some(1),
                Some(("user", 5)),
                json!({"email": "x@acme.com", "url": "https://h.example"}),
            );
            assert!(
                !text.contains(action.name()),
                "{action:?} has a sentence: {text}"
            );
        }
        assert_eq!(
            sentence(
                &AuditEvent {
                    action: String::from("something.new"),
                    ..event(SignIn, Some(1), None, json!({}))
                },
                &names
            ),
            "Dana Whitfield: something.new"
        );
    }
}
