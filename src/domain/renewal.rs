//! A dead link asks for a fresh one (delivery.md §11): the recipient of an expired, revoked
//! or superseded invite asks, once, and the people who can re-issue it are told by e-mail
//! and see the request in the console.

use serde_json::json;

use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::error::{Conflict, Error, Gone, Result};
use super::invite::{Invite, InviteLink, InviteStatus};
use super::outbox::RenewalLetter;
use super::tenant::TenantId;
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store;

/// Whether the recipient of a dead link may ask for a fresh one (api.md: `renewal` in the
/// problem of a dead link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Available,
    Requested {
        at: Timestamp,
    },
    /// A used link, or the first-admin link, which nobody re-issues on request.
    Unavailable,
}

impl Renewal {
    pub fn of(invite: &Invite) -> Self {
        match (invite.status, &invite.email, invite.renewal_requested_at) {
            (InviteStatus::Accepted | InviteStatus::Pending, _, _) | (_, None, _) => {
                Self::Unavailable
            }
            (_, Some(_), Some(at)) => Self::Requested { at },
            (_, Some(_), None) => Self::Available,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Requested { .. } => "requested",
            Self::Unavailable => "unavailable",
        }
    }
}

impl Tether {
    /// What a dead invite link's recipient may do about it; "not found" for an unknown token.
    pub async fn invite_renewal(
        &self,
        token: &str,
        host_tenant: Option<TenantId>,
    ) -> Result<Renewal> {
        let link = self.invite_behind(token, host_tenant).await?;
        Ok(Renewal::of(&link.invite))
    }

    /// The recipient of an expired, revoked or superseded link asks for a fresh one: recorded
    /// once on the invite, audited, and e-mailed (when e-mail is on) to the inviter, or to the
    /// tenant's client admins and the MSP admins when the inviter is gone or deactivated.
    pub async fn request_invite_renewal(
        &self,
        token: &str,
        host_tenant: Option<TenantId>,
        ip: Option<&str>,
    ) -> Result<Timestamp> {
        let link = self.invite_behind(token, host_tenant).await?;
        match Renewal::of(&link.invite) {
            Renewal::Available => {}
            Renewal::Requested { at } => {
                return Err(Error::Conflict(Conflict::RenewalAlreadyRequested { at }))
            }
            Renewal::Unavailable => {
                return Err(match link.unusable() {
                    None => Error::Conflict(Conflict::InviteStillValid),
                    Some(gone) => Error::Gone(gone),
                })
            }
        }
        let InviteLink { invite, tenant } = link;
        let Some(invitee) = invite.email.clone() else {
            return Err(Error::Gone(Gone::Revoked));
        };
        let reason = match invite.unusable() {
            Some(Gone::Expired) => format!("expired on {}", invite.expires_at.to_date_time()),
            Some(Gone::Superseded { at }) => {
                format!("was replaced by a newer invite on {}", at.to_date())
            }
            _ => String::from("was revoked"),
        };
        let recipients = if self.mail_enabled() {
            let mut conn = self.db.read().await?;
            let inviter = match &invite.created_by {
                Some((id, _)) => store::users::by_id(&mut conn, *id)
                    .await?
                    .filter(|user| user.active),
                None => None,
            };
            match inviter {
                Some(inviter) => vec![inviter],
                None => store::users::active_admins_for(&mut conn, invite.tenant_id).await?,
            }
        } else {
            Vec::new()
        };
        let msp = self.msp_tenant().await?;

        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::invites::request_renewal(&mut tx, invite.id, now).await? {
            drop(tx);
            let mut conn = self.db.read().await?;
            let at = store::invites::by_id(&mut conn, invite.id, now)
                .await?
                .and_then(|current| current.renewal_requested_at)
                .unwrap_or(now);
            return Err(Error::Conflict(Conflict::RenewalAlreadyRequested { at }));
        }
        for recipient in &recipients {
            // Staff re-issue from Pending invites, a client's admins from Team.
            let console = match recipient.tenant_id == msp.id {
                true => format!("{}/users/invites", self.tenant_origin(&msp)),
                false => format!("{}/team", self.tenant_origin(&tenant)),
            };
            let letter = RenewalLetter {
                to: &recipient.email,
                invitee: &invitee,
                reason: reason.clone(),
                console,
            };
            self.enqueue_renewal_request(&mut tx, &invite, letter, now)
                .await?;
        }
        let event = NewAuditEvent {
            tenant_id: Some(invite.tenant_id),
            ..NewAuditEvent::anonymous(now, AuditAction::InviteRenewalRequested, ip)
        }
        .target(Target::Invite(invite.id.0))
        .detail(json!({ "email": invitee.as_str(), "told": recipients.len() }));
        store::audit::insert(&mut tx, &event).await?;
        self.emit(
            &mut tx,
            EventType::InviteRenewalRequested,
            Subject::Invite(invite.id),
            now,
        )
        .await?;
        tx.commit().await?;
        if !recipients.is_empty() {
            self.wake_delivery();
        }
        Ok(now)
    }
}
