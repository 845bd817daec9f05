//! First run: the MSP tenant, the first MSP admin's one-time link, and the demo clients.

use serde_json::json;

use super::allowed_domains::AllowedDomains;
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Error, Result};
use super::invite::{Expiry, IssuedInvite, RevokeReason, SystemDraft};
use super::name::Name;
use super::role::Role;
use super::tenant::{AccentColour, Logo, Slug, Tenant, TenantId, TenantKind};
use super::Tether;
use crate::store;

/// The sample clients `tether serve --demo` creates: name, slug, accent colour and logo.
const DEMO_CLIENTS: [(&str, &str, &str, &[u8]); 2] = [
    (
        "Acme Corp",
        "acme",
        "#D9480F",
        include_bytes!("../../static/demo/acme.png"),
    ),
    (
        "Globex",
        "globex",
        "#0B7285",
        include_bytes!("../../static/demo/globex.png"),
    ),
];

impl Tether {
    /// Creates the MSP tenant if the database has none yet. Safe when several processes
    /// start at once: the schema allows one MSP tenant, and the losers' inserts do nothing.
    pub async fn ensure_msp_tenant(&self, name: &str) -> Result<Tenant> {
        let name = Name::parse("name", name).map_err(|e| Error::Validation(vec![e]))?;
        let mut tx = self.db.begin().await?;
        if store::tenants::msp(&mut tx).await?.is_none() {
            store::tenants::insert_msp_if_missing(
                &mut tx,
                &name,
                &AccentColour::default_colour(),
                self.now(),
            )
            .await?;
        }
        let msp = store::tenants::msp(&mut tx)
            .await?
            .ok_or_else(|| Error::Internal("the MSP tenant could not be created".into()))?;
        tx.commit().await?;
        Ok(msp)
    }

    /// While no active MSP admin exists, issues a one-time link, valid 24 hours, with which
    /// the first one sets up their account (entering their own email). A new link replaces
    /// any earlier one, so a restart before the link was used prints a working link again.
    pub async fn first_admin_link(&self) -> Result<Option<IssuedInvite>> {
        let msp = self.msp_tenant().await?;
        let admins = {
            let mut conn = self.db.read().await?;
            store::users::count_active_with_role(&mut conn, Role::MspAdmin).await?
        };
        if admins > 0 {
            return Ok(None);
        }
        let issued = self
            .issue_system_invite(SystemDraft {
                email: None,
                role: Role::MspAdmin,
                tenant: &msp,
                expiry: Expiry::from_hours(24).map_err(|e| Error::Validation(vec![e]))?,
            })
            .await?;
        Ok(Some(issued))
    }

    /// Creates the demo's sample clients, each with a pending invite for its admin; clients
    /// that already exist are left alone. Returns the invites it issued.
    pub async fn create_demo(&self) -> Result<Vec<(Tenant, IssuedInvite)>> {
        let mut issued = Vec::new();
        for (name, slug, colour, logo) in DEMO_CLIENTS {
            if self.tenant_by_slug(slug).await?.is_some() {
                continue;
            }
            let (Ok(name), Ok(slug), Ok(colour)) = (
                Name::parse("name", name),
                Slug::parse(slug),
                AccentColour::parse(colour),
            ) else {
                return Err(Error::Internal(
                    "a demo client's details are invalid".into(),
                ));
            };
            let mut tx = self.db.begin().await?;
            let id = store::tenants::insert(
                &mut tx,
                TenantKind::Client,
                &name,
                Some(&slug),
                &colour,
                &AllowedDomains::default(),
                self.now(),
            )
            .await?;
            let logo = Logo::sniff(logo.to_vec()).map_err(Error::Logo)?;
            store::tenants::set_logo(&mut tx, id, &logo, self.now()).await?;
            let tenant = store::tenants::by_id(&mut tx, id)
                .await?
                .ok_or(Error::NotFound("tenant"))?;
            tx.commit().await?;
            let email = Email::parse(&format!("admin@{}.example.com", slug.as_str()))
                .map_err(|e| Error::Validation(vec![e]))?;
            let invite = self
                .issue_system_invite(SystemDraft {
                    email: Some(&email),
                    role: Role::ClientAdmin,
                    tenant: &tenant,
                    expiry: Expiry::DEFAULT,
                })
                .await?;
            issued.push((tenant, invite));
        }
        Ok(issued)
    }
}

/// An MSP admin has just been created, in the caller's transaction: the first-admin links
/// (email-less MSP-admin invites) have served their purpose, and left open they would let
/// anyone holding one make another MSP admin. The caller holds `lock_admin_changes`.
pub(crate) async fn end_first_admin_links(
    tx: &mut store::Conn,
    msp: TenantId,
    now: Timestamp,
) -> Result<()> {
    for open in store::invites::open_without_email(tx, msp).await? {
        if store::invites::revoke(tx, open, None, RevokeReason::Revoked, now).await? {
            let event = NewAuditEvent::anonymous(now, AuditAction::InviteRevoked, None)
                .target(Target::Invite(open.0))
                .detail(json!({ "first_admin": true, "reason": "an MSP admin exists" }));
            let event = NewAuditEvent {
                tenant_id: Some(msp),
                ..event
            };
            store::audit::insert(tx, &event).await?;
        }
    }
    Ok(())
}

impl Tether {
    /// The key that signs the web forms' CSRF tokens: 32 random bytes made at first start and
    /// kept in the database, so every process behind a load balancer accepts every form.
    pub async fn form_signing_key(&self) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh)
            .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
        let mut conn = self.db.read().await?;
        Ok(store::secrets::get_or_create(&mut conn, "form_signing_key", &fresh).await?)
    }
}
