//! Audit events as sentences people read: "Dana Whitfield invited carol@acme.example as
//! Client user to Acme Corp". One function, `sentence`, turns a stored event and the names as
//! they are now into its sentence, for the dashboard, the audit page and its CSV alike. A
//! sentence keeps which of its words name a person, a tenant or an invitee, so that a page
//! can link them to where the viewer may look them up.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;

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

/// The names an event's ids stand for now: people by name (and address), tenants by name,
/// invites by their address. An id missing here is shown as what it is ("user 7").
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// People by id: (name, address).
    pub users: HashMap<i64, (String, String)>,
    pub tenants: HashMap<i64, String>,
    pub invites: HashMap<i64, String>,
}

/// A piece of a sentence: plain words, or words that name something a viewer may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Words(String),
    /// A person who still has an account, by their current name and address.
    Person {
        name: String,
        email: String,
    },
    Tenant {
        id: i64,
        name: String,
    },
    /// The address an invite was made for.
    Invitee(String),
}

impl Part {
    pub fn text(&self) -> &str {
        match self {
            Part::Words(text) | Part::Invitee(text) => text,
            Part::Person { name, .. } | Part::Tenant { name, .. } => name,
        }
    }
}

impl From<&str> for Part {
    fn from(words: &str) -> Self {
        Part::Words(words.to_owned())
    }
}

impl From<String> for Part {
    fn from(words: String) -> Self {
        Part::Words(words)
    }
}

/// An event told as a sentence, its parts in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence(Vec<Part>);

impl Sentence {
    pub fn parts(&self) -> &[Part] {
        &self.0
    }
}

impl fmt::Display for Sentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|part| f.write_str(part.text()))
    }
}

/// `said!["Dana", " invited ", invitee]`: a sentence from words and parts.
macro_rules! said {
    ($($part:expr),+ $(,)?) => {
        Sentence(vec![$(Part::from($part)),+])
    };
}

/// An event with its sentence and the name of the tenant it happened in.
#[derive(Debug, Clone)]
pub struct Described {
    pub event: AuditEvent,
    pub sentence: Sentence,
    pub tenant: Option<String>,
}

impl Names {
    /// A person by id, while their account exists ("user 7" is said once it is gone).
    fn person(&self, id: i64) -> Option<Part> {
        let (name, email) = self.users.get(&id)?;
        Some(Part::Person {
            name: name.clone(),
            email: email.clone(),
        })
    }
}

/// Who did it: a person, or the command line (which acts without a user).
fn actor_of(event: &AuditEvent, names: &Names) -> Part {
    match event.actor_id {
        Some(id) => names
            .person(id)
            .unwrap_or_else(|| Part::Words(format!("user {id}"))),
        None => Part::from("The command line"),
    }
}

fn text<'a>(detail: &'a Value, key: &str) -> Option<&'a str> {
    detail.get(key).and_then(Value::as_str)
}

fn role_label(detail: &Value) -> &'static str {
    text(detail, "role")
        .and_then(Role::named)
        .map_or("a role", |role| role.label())
}

/// The event as a sentence.
pub fn sentence(event: &AuditEvent, names: &Names) -> Sentence {
    let who = actor_of(event, names);
    let detail = &event.detail;
    let tenant = match event.tenant_id {
        Some(id) => match names.tenants.get(&id) {
            Some(name) => Part::Tenant {
                id,
                name: name.clone(),
            },
            None => Part::from("a tenant"),
        },
        None => Part::from("a tenant"),
    };
    let target_id = event.target_id.unwrap_or_default();
    let invitee = || {
        text(detail, "email")
            .map(str::to_owned)
            .or_else(|| names.invites.get(&target_id).cloned())
            .map_or_else(|| Part::Words(format!("invite {target_id}")), Part::Invitee)
    };
    let person = || {
        names
            .person(target_id)
            .or_else(|| text(detail, "email").map(Part::from))
            .unwrap_or_else(|| Part::Words(format!("user {target_id}")))
    };
    let url = || text(detail, "url").unwrap_or("an address");
    let Some(action) = AuditAction::named(&event.action) else {
        return said![who, format!(": {}", event.action)];
    };
    match action {
        AuditAction::InviteCreated if detail.get("first_admin") == Some(&Value::Bool(true)) => {
            said!["A first-admin link was made"]
        }
        AuditAction::InviteCreated if detail.get("reminder") == Some(&Value::Bool(true)) => {
            said!["A reminder sent ", invitee(), " a fresh invite to ", tenant]
        }
        AuditAction::InviteCreated => said![
            who,
            " invited ",
            invitee(),
            format!(" as {} to ", role_label(detail)),
            tenant
        ],
        AuditAction::InviteSuperseded => {
            said![who, " replaced the pending invite for ", invitee()]
        }
        AuditAction::InviteRevoked if detail.get("first_admin").is_some() => {
            said!["The first-admin link ended, as an MSP admin exists"]
        }
        AuditAction::InviteRevoked => said![who, " revoked the invite for ", invitee()],
        AuditAction::InviteAccepted => said![
            who,
            " accepted an invite and joined ",
            tenant,
            format!(" as {}", role_label(detail))
        ],
        AuditAction::InviteAcceptRefused => said![
            "An invite link for ",
            invitee(),
            format!(
                " was refused: {}",
                text(detail, "reason").unwrap_or("it could not be used")
            )
        ],
        AuditAction::InviteRenewalRequested => {
            said![invitee(), " asked for a new invite link"]
        }
        AuditAction::SignIn => said![who, " signed in"],
        AuditAction::SignInFailed => match text(detail, "email") {
            Some(email) => said![format!("A sign-in as {email} failed")],
            None => said!["A sign-in failed"],
        },
        AuditAction::SignOut => said![who, " signed out"],
        AuditAction::UserCreated if event.actor_id == event.target_id => {
            said![person(), " created their account in ", tenant]
        }
        AuditAction::UserCreated => said![who, " created the account of ", person()],
        AuditAction::UserChanged if text(detail, "by") == Some("self") => {
            said![who, " changed their name"]
        }
        AuditAction::UserChanged => said![who, " changed the account of ", person()],
        AuditAction::UserDeactivated => said![who, " deactivated ", person()],
        AuditAction::UserPasswordChanged => said![who, " changed their password"],
        AuditAction::PasswordResetRequested => said![format!(
            "A password reset link was asked for {}",
            text(detail, "email").unwrap_or("an address")
        )],
        AuditAction::PasswordResetLinkCreated => {
            said![who, " made a password reset link for ", person()]
        }
        AuditAction::PasswordReset => said![person(), " reset their password"],
        AuditAction::TenantCreated => said![who, " created ", tenant],
        AuditAction::TenantChanged => said![who, " changed the settings of ", tenant],
        AuditAction::TenantBrandingChanged => said![who, " changed the logo of ", tenant],
        AuditAction::WebhookCreated => said![who, format!(" added a webhook to {}", url())],
        AuditAction::WebhookChanged => said![who, format!(" changed the webhook to {}", url())],
        AuditAction::WebhookDeleted => said![who, format!(" removed the webhook to {}", url())],
        AuditAction::WebhookSecretRotated => said![who, " rotated a webhook's secret"],
        AuditAction::AccessRefused => said![who, " was refused an action they may not take"],
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
                        slot.insert((user.name.to_string(), user.email.to_string()));
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
                (
                    1,
                    (
                        String::from("Dana Whitfield"),
                        String::from("dana@msp.example"),
                    ),
                ),
                (
                    5,
                    (String::from("Alice Smith"), String::from("alice@acme.com")),
                ),
            ]),
            tenants: HashMap::from([(2, String::from("Acme Corp"))]),
            invites: HashMap::from([(9, String::from("bob@acme.com"))]),
        }
    }

    #[test]
    fn every_action_is_a_sentence_with_the_current_names() {
        use AuditAction::*;
        let names = names();
        let said = |action, actor, target, detail| {
            sentence(&event(action, actor, target, detail), &names).to_string()
        };
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
            )
            .to_string(),
            "Dana Whitfield: something.new"
        );
    }

    #[test]
    fn a_sentence_knows_which_words_name_a_person_a_tenant_or_an_invitee() {
        let names = names();
        let invited = sentence(
            &event(
                AuditAction::InviteCreated,
                Some(1),
                Some(("invite", 9)),
                json!({"email": "carol@acme.com", "role": "client_user"}),
            ),
            &names,
        );
        assert_eq!(
            invited.parts(),
            [
                Part::Person {
                    name: String::from("Dana Whitfield"),
                    email: String::from("dana@msp.example"),
                },
                Part::from(" invited "),
                Part::Invitee(String::from("carol@acme.com")),
                Part::from(" as Client user to "),
                Part::Tenant {
                    id: 2,
                    name: String::from("Acme Corp"),
                },
            ]
        );
        // Someone whose account is gone, and the command line, are words, not links.
        let gone = sentence(
            &event(
                AuditAction::UserDeactivated,
                None,
                Some(("user", 78)),
                json!({}),
            ),
            &names,
        );
        assert!(gone
            .parts()
            .iter()
            .all(|part| matches!(part, Part::Words(_))));
        assert_eq!(gone.to_string(), "The command line deactivated user 78");
    }
}
