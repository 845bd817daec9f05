//! Invites and their lifecycle (product.md §3): create (superseding a pending invite for
//! the same email in the same transaction), open, accept (claiming the invite atomically),
//! revoke, re-issue and list. Status is derived from the clock, never stored.

use std::time::Duration;

use serde_json::json;

use super::actor::{Action, Actor, TenantScope};
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Conflict, Error, FieldError, FieldErrors, Gone, Result};
use super::name::Name;
use super::outbox::{email_not_configured, Delivery, Inviter};
use super::page::{Page, PageRequest};
use super::password::Password;
use super::role::Role;
use super::session::{start_session, Client, NewSession, SessionKind};
use super::setup::end_first_admin_links;
use super::tenant::{Tenant, TenantId};
use super::token::Token;
use super::user::{User, UserId};
use super::webhook::{EventType, Subject};
use super::Tether;
use crate::store::{self, Constraint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InviteId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InviteStatus {
    /// Accepted and revoked are recorded facts; pending turns into expired exactly at
    /// `expires_at`.
    pub fn derive(
        accepted_at: Option<Timestamp>,
        revoked_at: Option<Timestamp>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Self {
        if accepted_at.is_some() {
            Self::Accepted
        } else if revoked_at.is_some() {
            Self::Revoked
        } else if now >= expires_at {
            Self::Expired
        } else {
            Self::Pending
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// Which invites a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Only(InviteStatus),
    /// Neither accepted nor revoked: pending or expired, the invites an admin can still act
    /// on (the console's Pending invites page).
    Open,
}

/// A list shows pending invites unless asked otherwise (api.md `GET /api/invites`).
impl Default for StatusFilter {
    fn default() -> Self {
        Self::Only(InviteStatus::Pending)
    }
}

impl StatusFilter {
    /// The filter a request names, or the default when it names none.
    pub fn parse_or_default(input: Option<&str>) -> Result<Self, FieldError> {
        input.map_or_else(|| Ok(Self::default()), Self::parse)
    }

    /// `pending`, `accepted`, `revoked`, `expired` or `all`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        Ok(match input {
            "all" => Self::All,
            "pending" => Self::Only(InviteStatus::Pending),
            "accepted" => Self::Only(InviteStatus::Accepted),
            "revoked" => Self::Only(InviteStatus::Revoked),
            "expired" => Self::Only(InviteStatus::Expired),
            _ => {
                return Err(FieldError::new(
                    "status",
                    "invalid_status",
                    "status must be one of pending, accepted, revoked, expired or all.",
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// Revoked by a person.
    Revoked,
    /// Replaced by a newer invite for the same email.
    Superseded,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Superseded => "superseded",
        }
    }

    pub(crate) fn from_stored(stored: &str) -> Self {
        if stored == "superseded" {
            Self::Superseded
        } else {
            Self::Revoked
        }
    }
}

/// How long a link stays valid: 24 hours, 3 days or 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(u32);

impl Expiry {
    pub const CHOICES: [Expiry; 3] = [Expiry(24), Expiry(72), Expiry(168)];
    pub const DEFAULT: Expiry = Expiry(72);

    pub fn from_hours(hours: i64) -> Result<Self, FieldError> {
        Self::CHOICES
            .into_iter()
            .find(|choice| i64::from(choice.0) == hours)
            .ok_or_else(|| {
                FieldError::new(
                    "expires_hours",
                    "invalid_expiry",
                    "An invite expires after 24, 72 or 168 hours.",
                )
            })
    }

    /// The command line's spelling: `24h`, `3d` or `7d` (also `72h`, `168h`, `1d`).
    pub fn parse_short(input: &str) -> Result<Self, FieldError> {
        let hours = match input.trim() {
            "24h" | "1d" => 24,
            "72h" | "3d" => 72,
            "168h" | "7d" => 168,
            _ => -1,
        };
        Self::from_hours(hours)
    }

    pub fn hours(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0) * 3600)
    }

    /// How a person reads it: "24 hours", "3 days", "7 days".
    pub fn label(self) -> &'static str {
        match self.0 {
            24 => "24 hours",
            72 => "3 days",
            _ => "7 days",
        }
    }

    /// The period an existing invite was given, for re-issuing it with the same one.
    fn of(invite: &Invite) -> Self {
        let hours = (invite.expires_at.millis() - invite.created_at.millis()) / 3_600_000;
        Self::from_hours(hours).unwrap_or(Self::DEFAULT)
    }
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: InviteId,
    /// `None` only for the first-admin link, whose recipient enters their email.
    pub email: Option<Email>,
    pub name: Option<Name>,
    pub role: Role,
    pub tenant_id: TenantId,
    pub status: InviteStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Who created it; `None` for the command line and the first-run link.
    pub created_by: Option<(UserId, Email)>,
    pub accepted_at: Option<Timestamp>,
    pub accepted_user_id: Option<UserId>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<UserId>,
    pub revoke_reason: Option<RevokeReason>,
    /// When its recipient asked for a fresh link (delivery.md §11), if they did.
    pub renewal_requested_at: Option<Timestamp>,
    /// How its e-mail is doing, if it was e-mailed. Not read where nobody shows it (the
    /// invite link's own page), so `None` there.
    pub delivery: Option<Delivery>,
}

impl Invite {
    /// Why the link can no longer be used, if it cannot.
    pub fn unusable(&self) -> Option<Gone> {
        match (self.status, self.revoke_reason, self.revoked_at) {
            (InviteStatus::Pending, _, _) => None,
            (InviteStatus::Accepted, _, _) => Some(Gone::Used),
            (InviteStatus::Expired, _, _) => Some(Gone::Expired),
            (InviteStatus::Revoked, Some(RevokeReason::Superseded), Some(at)) => {
                Some(Gone::Superseded { at })
            }
            (InviteStatus::Revoked, _, _) => Some(Gone::Revoked),
        }
    }
}

/// A new invite as a person or client asked for it; parsed and checked by `create_invite`.
#[derive(Debug, Clone, Default)]
pub struct NewInvite {
    pub email: String,
    pub name: Option<String>,
    pub role_id: i64,
    pub tenant_id: i64,
    pub expires_hours: Option<i64>,
    /// E-mail the link to the invitee (delivery.md §9).
    pub send_email: bool,
}

/// A created invite with its token, shown this once, and its link.
#[derive(Debug)]
pub struct IssuedInvite {
    pub invite: Invite,
    pub token: Token,
    pub link: String,
    /// The open invite for the same address it replaced, if any.
    pub superseded: Option<InviteId>,
}

#[derive(Debug, Clone, Default)]
pub struct InviteQuery {
    pub status: StatusFilter,
    pub tenant_id: Option<TenantId>,
    pub email: Option<String>,
    /// Only invites whose recipient asked for a fresh link that nobody has sent yet.
    pub renewal_requested: bool,
    pub page: PageRequest,
}

/// What the account-setup page shows for a link.
#[derive(Debug, Clone)]
pub struct InviteLink {
    pub invite: Invite,
    pub tenant: Tenant,
}

impl InviteLink {
    /// Why the link can no longer be used, if it cannot: the invite's own state, or an
    /// address that its tenant's allowed e-mail domains no longer admit.
    pub fn unusable(&self) -> Option<Gone> {
        self.invite.unusable().or_else(|| {
            self.invite
                .email
                .as_ref()
                .filter(|email| !self.tenant.allowed_email_domains.admits(email))
                .map(|_| Gone::DomainNotAllowed)
        })
    }
}

/// What the recipient enters on the setup page.
#[derive(Debug, Clone, Default)]
pub struct Acceptance {
    pub name: String,
    pub password: String,
    /// Only for the first-admin link, which is issued before anyone knows the address.
    pub email: Option<String>,
}

/// The account an accepted link created, and the session it is signed in with.
#[derive(Debug)]
pub struct Accepted {
    pub user: User,
    pub tenant: Tenant,
    pub session: NewSession,
}

/// What a token that names no invite (or another tenant's) is: "not found".
pub const INVITE_LINK: &str = "invite link";

/// How many times creating an invite is retried when a concurrent request created one for
/// the same email between our check and our insert (the unique index refuses ours).
const CREATE_ATTEMPTS: usize = 3;

impl Tether {
    /// Creates an invite, checking the rules of product.md §3 in order: the actor may invite
    /// (this role into this tenant); the fields are valid; no user has the email; a pending
    /// invite for the email is superseded in the same transaction if the actor could revoke
    /// it, otherwise the request is refused.
    pub async fn create_invite(&self, actor: &Actor, input: NewInvite) -> Result<IssuedInvite> {
        let scope = self.scope_or_refuse(actor, Action::Invite).await?;
        if input.send_email && !self.mail_enabled() {
            return Err(email_not_configured());
        }
        let tenant_id = TenantId(input.tenant_id);
        if !scope.includes(tenant_id) || beyond_ceiling(actor, input.role_id) {
            self.record_refusal(actor, Action::Invite, Target::Tenant(tenant_id))
                .await;
            return Err(Error::Forbidden);
        }
        let tenant = {
            let mut conn = self.db.read().await?;
            store::tenants::by_id(&mut conn, tenant_id).await?
        };
        let draft = checked_draft(&input, tenant)?;
        self.issue_new(actor, &draft).await
    }

    /// Writes a checked new invite, trying again when a concurrent request created one for
    /// the same email between our check and our insert.
    pub(super) async fn issue_new(&self, actor: &Actor, draft: &Draft) -> Result<IssuedInvite> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.issue(actor, draft, None).await {
                Err(Error::Database(e))
                    if is_second_open_invite(&e) && attempt < CREATE_ATTEMPTS =>
                {
                    continue
                }
                Err(Error::Database(e)) if is_second_open_invite(&e) => {
                    return Err(Error::Conflict(Conflict::InvitePending))
                }
                other => return other,
            }
        }
    }

    /// Issues a new invite with the same email, name, role and tenant as a pending or
    /// expired one, superseding it in the same transaction ("resend").
    pub async fn reissue_invite(
        &self,
        actor: &Actor,
        id: InviteId,
        expires_hours: Option<i64>,
        send_email: bool,
    ) -> Result<IssuedInvite> {
        let old = self.revocable_invite(actor, id).await?;
        if send_email && !self.mail_enabled() {
            return Err(email_not_configured());
        }
        // A revoked invite is re-issued only to answer its recipient's request for a fresh
        // link; the new one then supersedes whatever invite for the address is open now.
        let answering = old.status == InviteStatus::Revoked && old.renewal_requested_at.is_some();
        if old.status == InviteStatus::Accepted
            || (old.status == InviteStatus::Revoked && !answering)
        {
            return Err(Error::Conflict(Conflict::InviteNotRevocable));
        }
        let expiry = match expires_hours {
            Some(hours) => Expiry::from_hours(hours).map_err(|e| Error::Validation(vec![e]))?,
            None => Expiry::of(&old),
        };
        let tenant = {
            let mut conn = self.db.read().await?;
            store::tenants::by_id(&mut conn, old.tenant_id)
                .await?
                .ok_or(Error::NotFound("tenant"))?
        };
        if let Some(email) = &old.email {
            if !tenant.allowed_email_domains.admits(email) {
                return Err(Error::Validation(vec![tenant
                    .allowed_email_domains
                    .refusal("email")]));
            }
        }
        let draft = Draft {
            email: old.email.clone(),
            name: old.name.clone(),
            role: old.role,
            tenant,
            expiry,
            // The first-admin link has no address to send it to.
            send_email: send_email && old.email.is_some(),
            reminder_of: None,
        };
        let replacing = (!answering).then_some(&old);
        self.issue(actor, &draft, replacing).await
    }

    /// Writes a checked invite: supersedes what it replaces and inserts the new one, in one
    /// transaction.
    async fn issue(
        &self,
        actor: &Actor,
        draft: &Draft,
        replacing: Option<&Invite>,
    ) -> Result<IssuedInvite> {
        let prepared = self.prepare_issue(actor, draft).await?;
        let mut tx = self.db.begin().await?;
        let written = self
            .write_invite(&mut tx, actor, draft, replacing, &prepared, self.now())
            .await?;
        tx.commit().await?;
        Ok(self.issued(written))
    }

    /// What writing `draft` needs that is read before the write transaction, which on SQLite
    /// holds the database's one write lock for as long as it runs: who it is from, and for
    /// an e-mail the sealer and the inviter's name.
    pub(super) async fn prepare_issue(&self, actor: &Actor, draft: &Draft) -> Result<Prepared<'_>> {
        // A reminder keeps its invite's inviter; anything else is the actor's.
        let created_by = match &draft.reminder_of {
            Some(old) => old.created_by.as_ref().map(|(id, _)| *id),
            None => actor.user_id,
        };
        let (sealer, inviter) = match (&draft.email, draft.send_email) {
            (Some(_), true) => {
                let inviter = match created_by {
                    Some(user) => {
                        let mut conn = self.db.read().await?;
                        store::users::by_id(&mut conn, user).await?
                    }
                    None => None,
                };
                (Some(self.sealer().await?), inviter)
            }
            _ => (None, None),
        };
        Ok(Prepared {
            created_by,
            sealer,
            inviter,
        })
    }

    /// The writes of one invite on `tx`: the checks that need the transaction, superseding
    /// what it replaces, the invite, its e-mail and reminder, and its audit event.
    pub(super) async fn write_invite(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        draft: &Draft,
        replacing: Option<&Invite>,
        prepared: &Prepared<'_>,
        now: Timestamp,
    ) -> Result<Written> {
        let created_by = prepared.created_by;
        let open = match (&draft.email, replacing) {
            (Some(email), None) => displaced(tx, actor, email, now).await?,
            (email, replacing) => {
                if let Some(email) = email {
                    if store::users::email_taken(tx, email).await? {
                        return Err(Error::Conflict(Conflict::UserExists));
                    }
                }
                if replacing.is_some_and(|old| !may_supersede(actor, old)) {
                    return Err(Error::Conflict(Conflict::InvitePending));
                }
                replacing.cloned()
            }
        };
        let mut superseded = None;
        if let Some(open) = &open {
            if store::invites::revoke(tx, open.id, actor.user_id, RevokeReason::Superseded, now)
                .await?
            {
                let event = NewAuditEvent::by(
                    actor,
                    now,
                    AuditAction::InviteSuperseded,
                    Some(open.tenant_id),
                )
                .target(Target::Invite(open.id.0));
                store::audit::insert(tx, &event).await?;
                store::outbox::invite_closed(tx, open.id).await?;
                self.emit(tx, EventType::InviteRevoked, Subject::Invite(open.id), now)
                    .await?;
                superseded = Some(open.id);
            } else if replacing.is_some() {
                // Accepted or revoked since we looked: a re-issue has nothing left to replace.
                return Err(Error::Conflict(Conflict::InviteNotRevocable));
            } else if let Some(email) = &draft.email {
                // Under PostgreSQL's READ COMMITTED the invite we found may have been accepted
                // after our check for a user: the revoke then waited for that commit and
                // changed nothing. This statement sees the commit, and with it the new user.
                if store::users::email_taken(tx, email).await? {
                    return Err(Error::Conflict(Conflict::UserExists));
                }
            }
        }

        let token = Token::generate()?;
        let expires_at = match &draft.reminder_of {
            Some(old) => old.expires_at,
            None => now.plus(draft.expiry.duration()),
        };
        let id = store::invites::insert(
            tx,
            store::invites::NewInvite {
                digest: token.digest(),
                email: draft.email.as_ref(),
                name: draft.name.as_ref(),
                role: draft.role,
                tenant_id: draft.tenant.id,
                created_by,
                created_at: now,
                expires_at,
            },
        )
        .await?;
        let emailed = match (&draft.email, prepared.sealer) {
            (Some(email), Some(sealer)) => {
                self.enqueue_invite_email(
                    tx,
                    sealer,
                    id,
                    &draft.tenant,
                    email,
                    draft.name.as_ref().map(Name::as_str),
                    draft.role.label(),
                    prepared.inviter.as_ref().map(|user| Inviter {
                        name: user.name.as_str(),
                        email: &user.email,
                    }),
                    &token,
                    expires_at,
                    draft.reminder_of.is_some(),
                    now,
                )
                .await?;
                // A reminder is itself never reminded, and a one-day invite has no day to
                // spare.
                let remind_at = expires_at.minus(REMINDER_LEAD);
                if draft.reminder_of.is_none() && draft.tenant.invite_reminders && remind_at > now {
                    self.enqueue_reminder(tx, id, draft.tenant.id, email, remind_at, now)
                        .await?;
                }
                true
            }
            _ => false,
        };
        let event = NewAuditEvent::by(
            actor,
            now,
            AuditAction::InviteCreated,
            Some(draft.tenant.id),
        )
        .target(Target::Invite(id.0))
        .detail(json!({
            "email": draft.email.as_ref().map(Email::as_str),
            "role": draft.role.name(),
            "expires_hours": draft.expiry.hours(),
            "supersedes": superseded.map(|id| id.0),
            "send_email": emailed,
            "reminder": draft.reminder_of.is_some(),
        }));
        store::audit::insert(tx, &event).await?;
        self.emit(tx, EventType::InviteCreated, Subject::Invite(id), now)
            .await?;
        let invite = store::invites::by_id(tx, id, now)
            .await?
            .ok_or(Error::NotFound("invite"))?;
        let link = self
            .base_url
            .invite_link(draft.tenant.slug.as_ref(), &token);
        Ok(Written {
            issued: IssuedInvite {
                invite,
                token,
                link,
                superseded,
            },
            emailed,
        })
    }

    /// Counts a committed invite and wakes delivery for its e-mail.
    pub(super) fn issued(&self, written: Written) -> IssuedInvite {
        self.metrics.invites_created.inc();
        if written.emailed {
            self.wake_delivery();
        }
        written.issued
    }

    /// Revokes a pending or expired invite; revoking a revoked one changes nothing and
    /// succeeds; an accepted one cannot be revoked.
    pub async fn revoke_invite(&self, actor: &Actor, id: InviteId) -> Result<()> {
        let invite = self.revocable_invite(actor, id).await?;
        match invite.status {
            InviteStatus::Revoked => return Ok(()),
            InviteStatus::Accepted => return Err(Error::Conflict(Conflict::InviteNotRevocable)),
            InviteStatus::Pending | InviteStatus::Expired => {}
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::invites::revoke(&mut tx, id, actor.user_id, RevokeReason::Revoked, now).await? {
            // Someone accepted or revoked it since we looked; report what happened.
            let current = store::invites::by_id(&mut tx, id, now).await?;
            return match current.map(|i| i.status) {
                Some(InviteStatus::Accepted) => Err(Error::Conflict(Conflict::InviteNotRevocable)),
                _ => Ok(()),
            };
        }
        let event = NewAuditEvent::by(
            actor,
            now,
            AuditAction::InviteRevoked,
            Some(invite.tenant_id),
        )
        .target(Target::Invite(id.0));
        store::audit::insert(&mut tx, &event).await?;
        store::outbox::invite_closed(&mut tx, id).await?;
        self.emit(&mut tx, EventType::InviteRevoked, Subject::Invite(id), now)
            .await?;
        tx.commit().await?;
        self.metrics.invites_revoked.inc();
        Ok(())
    }

    /// One invite the actor may see.
    pub async fn invite(&self, actor: &Actor, id: InviteId) -> Result<Invite> {
        self.visible_invite(actor, id, Action::SeeInvites).await
    }

    /// Invites the actor may see, newest first.
    pub async fn list_invites(&self, actor: &Actor, query: InviteQuery) -> Result<Page<Invite>> {
        let Some((scope, email)) = self.invite_search(actor, &query).await? else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let mut conn = self.db.read().await?;
        let rows =
            store::invites::list(&mut conn, scope, &query, email.as_ref(), self.now()).await?;
        Ok(query.page.finish(rows, |invite| invite.id.0))
    }

    /// How many invites `list_invites` would list over all its pages (the console's count
    /// per status).
    pub async fn count_invites(&self, actor: &Actor, query: InviteQuery) -> Result<i64> {
        let Some((scope, email)) = self.invite_search(actor, &query).await? else {
            return Ok(0);
        };
        let mut conn = self.db.read().await?;
        Ok(store::invites::count(&mut conn, scope, &query, email.as_ref(), self.now()).await?)
    }

    /// The scope and address a search of invites runs with; `None` when it can find nothing
    /// (a tenant out of the actor's reach, an address that is not one).
    async fn invite_search(
        &self,
        actor: &Actor,
        query: &InviteQuery,
    ) -> Result<Option<(TenantScope, Option<Email>)>> {
        let scope = self.scope_or_refuse(actor, Action::SeeInvites).await?;
        let Some(scope) = scope.narrowed_to(query.tenant_id) else {
            return Ok(None);
        };
        match query.email.as_deref() {
            None => Ok(Some((scope, None))),
            Some(typed) => match Email::parse(typed) {
                Ok(email) => Ok(Some((scope, Some(email)))),
                // Only valid addresses are stored: this one names no invite.
                Err(_) => Ok(None),
            },
        }
    }

    /// What an invite link shows, without changing anything: link scanners and previews
    /// open links before people do (quality.md Security 11). `host_tenant` is the tenant
    /// whose host the link was opened on, if it came through one: a link opened on another
    /// tenant's host is "not found".
    pub async fn open_invite_link(
        &self,
        token: &str,
        host_tenant: Option<TenantId>,
    ) -> Result<InviteLink> {
        let link = self.invite_behind(token, host_tenant).await?;
        if let Some(gone) = link.unusable() {
            return Err(Error::Gone(gone));
        }
        Ok(link)
    }

    /// The invite a token names, with its tenant, whatever its state; "not found" for an
    /// unknown token or one opened on another tenant's host.
    pub(crate) async fn invite_behind(
        &self,
        token: &str,
        host_tenant: Option<TenantId>,
    ) -> Result<InviteLink> {
        let now = self.now();
        let (invite, tenant) =
            store::invites::link_by_digest(&self.db, Token::presented(token).digest(), now)
                .await?
                .filter(|(invite, _)| host_tenant.is_none_or(|host| host == invite.tenant_id))
                .ok_or(Error::NotFound(INVITE_LINK))?;
        Ok(InviteLink { invite, tenant })
    }

    /// Accepts an invite link: checks the name and password, then in one transaction claims
    /// the invite (only if it is still pending at that instant), creates the user in the
    /// invite's tenant with its role, and starts a fresh session. Of two simultaneous
    /// accepts of one link exactly one creates an account; the other is told it was used.
    pub async fn accept_invite(
        &self,
        token: &str,
        input: Acceptance,
        host_tenant: Option<TenantId>,
        kind: SessionKind,
        ip: Option<&str>,
    ) -> Result<Accepted> {
        self.accept_invite_from(token, input, host_tenant, kind, &Client::at(ip))
            .await
    }

    /// As `accept_invite`, remembering the client's address and user agent with the new
    /// session.
    pub async fn accept_invite_from(
        &self,
        token: &str,
        input: Acceptance,
        host_tenant: Option<TenantId>,
        kind: SessionKind,
        client: &Client,
    ) -> Result<Accepted> {
        let ip = client.ip.as_deref();
        let link = match self.open_invite_link(token, host_tenant).await {
            Ok(link) => link,
            Err(error) => {
                self.record_refused_accept(&error, None, ip).await;
                return Err(error);
            }
        };
        let InviteLink { invite, tenant } = link;

        let mut errors = FieldErrors::default();
        let name = errors.check(Name::parse("name", &input.name));
        let email = match &invite.email {
            Some(email) => Some(email.clone()),
            None => errors
                .check(Email::parse(input.email.as_deref().unwrap_or_default()))
                .filter(|email| {
                    let admitted = tenant.allowed_email_domains.admits(email);
                    if !admitted {
                        errors.push(tenant.allowed_email_domains.refusal("email"));
                    }
                    admitted
                }),
        };
        let context: Vec<&str> = name
            .iter()
            .map(Name::as_str)
            .chain([tenant.name.as_str()])
            .collect();
        let password = errors.check(Password::choose(&input.password, email.as_ref(), &context));
        errors.into_result()?;
        let (Some(name), Some(email), Some(password)) = (name, email, password) else {
            return Err(Error::Internal("checked fields went missing".into()));
        };
        let digest = self.passwords.hash(&password).await?;

        let now = self.now();
        let mut tx = self.db.begin().await?;
        if invite.role == Role::MspAdmin {
            // Serialises with `create_admin` and demotions, which take the same lock first.
            store::users::lock_admin_changes(&mut tx).await?;
            let admins = store::users::count_active_with_role(&mut tx, Role::MspAdmin).await?;
            if invite.email.is_none() && admins > 0 {
                // A first-admin link whose purpose another admin has fulfilled.
                drop(tx);
                let error = Error::Gone(Gone::Revoked);
                self.record_refused_accept(&error, Some(&invite), ip).await;
                return Err(error);
            }
        }
        if !store::invites::claim(&mut tx, invite.id, now).await? {
            drop(tx);
            let current = {
                let mut conn = self.db.read().await?;
                store::invites::by_id(&mut conn, invite.id, now).await?
            };
            let gone = current.and_then(|i| i.unusable()).unwrap_or(Gone::Used);
            let error = Error::Gone(gone);
            self.record_refused_accept(&error, Some(&invite), ip).await;
            return Err(error);
        }
        if store::users::email_taken(&mut tx, &email).await? {
            return Err(Error::Conflict(Conflict::UserExists));
        }
        let user_id = store::users::insert(
            &mut tx,
            store::users::NewUser {
                tenant_id: invite.tenant_id,
                email: &email,
                name: &name,
                role: invite.role,
                password: &digest,
                now,
            },
        )
        .await?;
        store::invites::record_accepted_user(&mut tx, invite.id, user_id).await?;
        store::outbox::invite_closed(&mut tx, invite.id).await?;
        if invite.role == Role::MspAdmin {
            end_first_admin_links(&mut tx, invite.tenant_id, now).await?;
        }
        let session = start_session(&mut tx, user_id, kind, client, now).await?;
        let accepted = NewAuditEvent {
            actor_id: Some(user_id),
            tenant_id: Some(invite.tenant_id),
            ..NewAuditEvent::anonymous(now, AuditAction::InviteAccepted, ip)
        };
        store::audit::insert(
            &mut tx,
            &accepted
                .clone()
                .target(Target::Invite(invite.id.0))
                .detail(json!({ "user_id": user_id.0, "role": invite.role.name() })),
        )
        .await?;
        store::audit::insert(
            &mut tx,
            &NewAuditEvent {
                action: AuditAction::UserCreated,
                ..accepted
            }
            .target(Target::User(user_id))
            .detail(json!({ "email": email.as_str(), "role": invite.role.name(), "invite_id": invite.id.0 })),
        )
        .await?;
        self.emit(
            &mut tx,
            EventType::InviteAccepted,
            Subject::Invite(invite.id),
            now,
        )
        .await?;
        self.emit(&mut tx, EventType::UserCreated, Subject::User(user_id), now)
            .await?;
        let user = store::users::by_id(&mut tx, user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        self.metrics.invites_accepted.inc();
        Ok(Accepted {
            user,
            tenant,
            session,
        })
    }

    async fn record_refused_accept(
        &self,
        error: &Error,
        invite: Option<&Invite>,
        ip: Option<&str>,
    ) {
        let reason = match error {
            Error::Gone(gone) => gone.reason(),
            Error::NotFound(_) => "unknown",
            _ => return,
        };
        self.metrics.accept_refused(reason);
        let mut event = NewAuditEvent::anonymous(self.now(), AuditAction::InviteAcceptRefused, ip)
            .detail(json!({ "reason": reason }));
        if let Some(invite) = invite {
            event.tenant_id = Some(invite.tenant_id);
            event.target = Target::Invite(invite.id.0);
        }
        self.record_alone(event).await;
    }

    /// An invite the actor may revoke: refused (403) if their role revokes nothing, not
    /// found (404) if it is another tenant's.
    async fn revocable_invite(&self, actor: &Actor, id: InviteId) -> Result<Invite> {
        self.visible_invite(actor, id, Action::RevokeInvites).await
    }

    async fn visible_invite(&self, actor: &Actor, id: InviteId, action: Action) -> Result<Invite> {
        let scope = self.scope_or_refuse(actor, action).await?;
        let invite = {
            let mut conn = self.db.read().await?;
            store::invites::by_id(&mut conn, id, self.now()).await?
        };
        match invite {
            Some(invite) if scope.includes(invite.tenant_id) => Ok(invite),
            Some(_) => {
                self.record_refusal(actor, action, Target::Invite(id.0))
                    .await;
                Err(Error::NotFound("invite"))
            }
            None => Err(Error::NotFound("invite")),
        }
    }
}

/// A checked invite about to be written.
pub(super) struct Draft {
    email: Option<Email>,
    name: Option<Name>,
    role: Role,
    tenant: Tenant,
    expiry: Expiry,
    send_email: bool,
    /// A reminder's fresh invite (delivery.md §11): the invite it replaces, whose expiry and
    /// inviter it keeps.
    reminder_of: Option<Invite>,
}

/// Whether `role_id` names a role above what `actor` may grant: the permission half of
/// product.md §3 that depends on the row, not the tenant.
pub(super) fn beyond_ceiling(actor: &Actor, role_id: i64) -> bool {
    Role::from_id(role_id).is_some_and(|role| !actor.may_grant(role))
}

/// Checks a new invite's fields against product.md §3 and the tenant's allowed e-mail
/// domains (delivery.md §13), every failing field at once; `tenant` is the one
/// `input.tenant_id` names, if it exists. One check for every edge and the batch.
pub(super) fn checked_draft(input: &NewInvite, tenant: Option<Tenant>) -> Result<Draft> {
    let mut errors = FieldErrors::default();
    let email = errors.check(Email::parse(&input.email));
    let name = match input.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => errors.check(Name::parse("name", name)),
    };
    let requested_role = Role::from_id(input.role_id);
    match (requested_role, &tenant) {
        (None, _) => errors.push(FieldError::new(
            "role_id",
            "unknown_role",
            "There is no role with this id.",
        )),
        (Some(role), Some(tenant)) if !role.fits(tenant.kind) => errors.push(FieldError::new(
            "role_id",
            "role_scope_mismatch",
            format!(
                "The role {} cannot be held in {}.",
                role.name(),
                tenant.name
            ),
        )),
        _ => {}
    }
    match (&tenant, &email) {
        (None, _) => errors.push(FieldError::new(
            "tenant_id",
            "unknown_tenant",
            "There is no tenant with this id.",
        )),
        (Some(tenant), Some(email)) if !tenant.allowed_email_domains.admits(email) => {
            errors.push(tenant.allowed_email_domains.refusal("email"));
        }
        _ => {}
    }
    let expiry = match input.expires_hours {
        None => Some(Expiry::DEFAULT),
        Some(hours) => errors.check(Expiry::from_hours(hours)),
    };
    errors.into_result()?;
    let (Some(email), Some(role), Some(tenant), Some(expiry)) =
        (email, requested_role, tenant, expiry)
    else {
        return Err(Error::Internal("checked fields went missing".into()));
    };
    Ok(Draft {
        email: Some(email),
        name,
        role,
        tenant,
        expiry,
        send_email: input.send_email,
        reminder_of: None,
    })
}

impl Draft {
    pub(super) fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
}

/// What a new invite for `email` would displace, read on `conn` (inside the writing
/// transaction, or alone for a preview): refused when the address has an account, or a
/// pending invite the actor could not revoke; otherwise the open invite it supersedes, if
/// any.
pub(super) async fn displaced(
    conn: &mut store::Conn,
    actor: &Actor,
    email: &Email,
    now: Timestamp,
) -> Result<Option<Invite>> {
    if store::users::email_taken(conn, email).await? {
        return Err(Error::Conflict(Conflict::UserExists));
    }
    let open = store::invites::open_for_email(conn, email, now).await?;
    if open
        .as_ref()
        .is_some_and(|open| !may_supersede(actor, open))
    {
        return Err(Error::Conflict(Conflict::InvitePending));
    }
    Ok(open)
}

/// An open invite, pending or expired, may only be replaced by someone who could revoke it:
/// superseding another tenant's expired invite would still reach into that tenant
/// (revoked_by, its admin's next invite refused).
fn may_supersede(actor: &Actor, open: &Invite) -> bool {
    actor
        .scope(Action::RevokeInvites)
        .is_ok_and(|scope| scope.includes(open.tenant_id))
}

/// What `write_invite` needs from before its transaction.
pub(super) struct Prepared<'a> {
    created_by: Option<UserId>,
    sealer: Option<&'a crate::domain::seal::Sealer>,
    inviter: Option<User>,
}

/// An invite written in a transaction not yet committed.
pub(super) struct Written {
    issued: IssuedInvite,
    emailed: bool,
}

/// How long before an e-mailed invite expires its reminder is due.
pub const REMINDER_LEAD: Duration = Duration::from_secs(24 * 3600);

impl Tether {
    /// Runs a due reminder (delivery.md §11): a pending, e-mailed invite a day from expiring
    /// is re-issued with the same expiry, for the same inviter, and its fresh link e-mailed
    /// saying that it expires soon. An invite no longer pending, or a tenant that turned
    /// reminders off since, leaves nothing to do.
    pub(crate) async fn remind(&self, id: InviteId) -> Result<()> {
        let now = self.now();
        let old = {
            let mut conn = self.db.read().await?;
            store::invites::by_id(&mut conn, id, now).await?
        };
        let Some(old) = old.filter(|i| i.status == InviteStatus::Pending && i.email.is_some())
        else {
            return Ok(());
        };
        let tenant = self.site_tenant(old.tenant_id).await?;
        if !tenant.invite_reminders || !self.mail_enabled() {
            return Ok(());
        }
        let system = Actor::operator(self.msp_tenant().await?.id);
        let draft = Draft {
            email: old.email.clone(),
            name: old.name.clone(),
            role: old.role,
            tenant,
            expiry: Expiry::of(&old),
            send_email: true,
            reminder_of: Some(old.clone()),
        };
        match self.issue(&system, &draft, Some(&old)).await {
            Ok(_) => Ok(()),
            // Accepted or revoked meanwhile, or its address has an account now.
            Err(Error::Conflict(Conflict::InviteNotRevocable | Conflict::UserExists)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// The partial unique index refused a second open invite: a concurrent create won the race.
pub(super) fn is_second_open_invite(error: &store::Error) -> bool {
    matches!(error, store::Error::Unique(Constraint::OpenInviteEmail))
}

/// The first-admin link and the demo's invites are issued by the system itself.
pub(crate) struct SystemDraft<'a> {
    pub email: Option<&'a Email>,
    pub role: Role,
    pub tenant: &'a Tenant,
    pub expiry: Expiry,
}

impl Tether {
    /// Issues an invite on the system's behalf (no actor), superseding open first-admin
    /// links when it is one itself.
    pub(crate) async fn issue_system_invite(&self, draft: SystemDraft<'_>) -> Result<IssuedInvite> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if draft.email.is_none() {
            for open in store::invites::open_without_email(&mut tx, draft.tenant.id).await? {
                store::invites::revoke(&mut tx, open, None, RevokeReason::Superseded, now).await?;
            }
        }
        let token = Token::generate()?;
        let id = store::invites::insert(
            &mut tx,
            store::invites::NewInvite {
                digest: token.digest(),
                email: draft.email,
                name: None,
                role: draft.role,
                tenant_id: draft.tenant.id,
                created_by: None,
                created_at: now,
                expires_at: now.plus(draft.expiry.duration()),
            },
        )
        .await?;
        let event = NewAuditEvent::anonymous(now, AuditAction::InviteCreated, None)
            .target(Target::Invite(id.0))
            .detail(json!({ "email": draft.email.map(Email::as_str), "role": draft.role.name(), "first_admin": draft.email.is_none() }));
        store::audit::insert(
            &mut tx,
            &NewAuditEvent {
                tenant_id: Some(draft.tenant.id),
                ..event
            },
        )
        .await?;
        let invite = store::invites::by_id(&mut tx, id, now)
            .await?
            .ok_or(Error::NotFound("invite"))?;
        tx.commit().await?;
        self.metrics.invites_created.inc();
        let link = self
            .base_url
            .invite_link(draft.tenant.slug.as_ref(), &token);
        Ok(IssuedInvite {
            invite,
            token,
            link,
            superseded: None,
        })
    }
}
