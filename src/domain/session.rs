//! Sessions and API tokens (product.md §1): random bearer credentials stored as digests.
//! Web sessions last 12 hours idle and 7 days at most; API tokens 30 days unless revoked.

use std::time::Duration;

use serde_json::json;

use super::actor::Actor;
use super::audit::{AuditAction, NewAuditEvent, Target};
use super::clock::Timestamp;
use super::email::Email;
use super::error::{Error, Result};
use super::password::Password;
use super::tenant::TenantId;
use super::token::Token;
use super::user::{User, UserId};
use super::Tether;
use crate::store;

pub const WEB_IDLE: Duration = Duration::from_secs(12 * 3600);
pub const WEB_ABSOLUTE: Duration = Duration::from_secs(7 * 24 * 3600);
pub const API_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// How stale `last_seen_at` may get before a request refreshes it: one write a minute per
/// session instead of one per request.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser's cookie.
    Web,
    /// An `Authorization: Bearer` token.
    Api,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Self::Web => WEB_ABSOLUTE,
            Self::Api => API_LIFETIME,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId(pub i64);

/// Where a request comes from, as a session remembers it for its owner's account page.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// How much of a user agent a session keeps: enough to tell browsers apart.
const USER_AGENT_CHARS: usize = 200;

impl Client {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|agent| {
                agent
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|agent| !agent.is_empty());
        Self { ip, user_agent }
    }

    /// Known only by address.
    pub fn at(ip: Option<&str>) -> Self {
        Self::new(ip.map(str::to_owned), None)
    }
}

/// One of a user's live sessions, as their account page lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: SessionId,
    pub kind: SessionKind,
    pub created_at: Timestamp,
    /// Refreshed at most once a minute, not on every request.
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session just started: the token is shown once, to the one who signed in.
#[derive(Debug)]
pub struct NewSession {
    pub token: Token,
    pub expires_at: Timestamp,
}

/// Who a presented session token belongs to.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub actor: Actor,
    /// The session the token belongs to.
    pub session: SessionId,
}

impl User {
    pub fn actor(&self, ip: Option<String>) -> Actor {
        Actor {
            user_id: Some(self.id),
            tenant_id: self.tenant_id,
            role: self.role,
            ip,
        }
    }
}

impl Tether {
    /// Signs in with an email and password. A wrong email and a wrong password get the same
    /// answer after the same work: an unknown email is verified against a dummy hash.
    /// `tenant`, when given, restricts sign-in to that tenant's users (a tenant's own
    /// sign-in page); anyone else gets the same "invalid credentials".
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        tenant: Option<TenantId>,
        kind: SessionKind,
        ip: Option<&str>,
    ) -> Result<(User, NewSession)> {
        self.sign_in_from(email, password, tenant, kind, &Client::at(ip))
            .await
    }

    /// As `sign_in`, remembering the client's address and user agent with the session.
    pub async fn sign_in_from(
        &self,
        email: &str,
        password: &str,
        tenant: Option<TenantId>,
        kind: SessionKind,
        client: &Client,
    ) -> Result<(User, NewSession)> {
        let ip = client.ip.as_deref();
        let password = Password::presented(password);
        let email = Email::parse(email).ok();
        let found = match &email {
            Some(email) => {
                let mut conn = self.db.read().await?;
                store::users::by_email_with_password(&mut conn, email).await?
            }
            None => None,
        };
        let verified = self
            .passwords
            .verify(&password, found.as_ref().map(|(_, digest)| digest))
            .await?;
        let user = match found {
            Some((user, _))
                if verified && user.active && tenant.is_none_or(|t| t == user.tenant_id) =>
            {
                user
            }
            other => {
                let event = NewAuditEvent::anonymous(self.now(), AuditAction::SignInFailed, ip)
                    .detail(json!({ "email": email.as_ref().map(Email::as_str) }));
                let event = match other {
                    Some((user, _)) => NewAuditEvent {
                        tenant_id: Some(user.tenant_id),
                        target: Target::User(user.id),
                        ..event
                    },
                    None => event,
                };
                self.record_alone(event).await;
                self.metrics.sign_in_failures.inc();
                return Err(Error::InvalidCredentials);
            }
        };

        let now = self.now();
        let mut tx = self.db.begin().await?;
        // The password was checked against a copy read before this transaction; a
        // deactivation since then must win, or its session would revive on reactivation.
        if !store::users::lock_if_active(&mut tx, user.id).await? {
            return Err(Error::InvalidCredentials);
        }
        let session = start_session(&mut tx, user.id, kind, client, now).await?;
        let event = NewAuditEvent::anonymous(now, AuditAction::SignIn, ip)
            .target(Target::User(user.id))
            .detail(json!({ "session": kind.as_str() }));
        let event = NewAuditEvent {
            actor_id: Some(user.id),
            tenant_id: Some(user.tenant_id),
            ..event
        };
        store::audit::insert(&mut tx, &event).await?;
        tx.commit().await?;
        Ok((user, session))
    }

    /// The user behind a presented token of `kind`, if the session is live.
    pub async fn authenticate(
        &self,
        token: &str,
        kind: SessionKind,
        ip: Option<String>,
    ) -> Result<Authenticated> {
        let now = self.now();
        let (session, user) =
            store::sessions::live_for_request(&self.db, Token::presented(token).digest())
                .await?
                .ok_or(Error::Unauthenticated)?;
        let last_seen = Timestamp::from_millis(session.last_seen_at);
        let live = session.kind == kind.as_str()
            && now < Timestamp::from_millis(session.expires_at)
            && (kind == SessionKind::Api || now < last_seen.plus(WEB_IDLE));
        if !live {
            return Err(Error::Unauthenticated);
        }
        if now >= last_seen.plus(TOUCH_INTERVAL) {
            let mut conn = self.db.read().await?;
            store::sessions::touch(&mut conn, session.session_id, now).await?;
        }
        let actor = user.actor(ip);
        Ok(Authenticated {
            user,
            actor,
            session: SessionId(session.session_id),
        })
    }

    /// Ends the session of a presented token; ending an unknown or ended one is not an error.
    pub async fn sign_out(&self, token: &str, ip: Option<&str>) -> Result<()> {
        let now = self.now();
        let digest = Token::presented(token).digest();
        let mut tx = self.db.begin().await?;
        let user = store::sessions::live_by_digest(&mut tx, digest)
            .await?
            .map(|(_, user)| user);
        if store::sessions::revoke(&mut tx, digest, now).await? {
            if let Some(user) = user {
                let event = NewAuditEvent {
                    actor_id: Some(user.id),
                    tenant_id: Some(user.tenant_id),
                    ..NewAuditEvent::anonymous(now, AuditAction::SignOut, ip)
                        .target(Target::User(user.id))
                };
                store::audit::insert(&mut tx, &event).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Starts a session with a fresh token inside the caller's transaction.
pub(crate) async fn start_session(
    conn: &mut store::Conn,
    user: UserId,
    kind: SessionKind,
    client: &Client,
    now: Timestamp,
) -> Result<NewSession> {
    let token = Token::generate()?;
    let expires_at = now.plus(kind.lifetime());
    store::sessions::insert(
        conn,
        store::sessions::NewSession {
            digest: token.digest(),
            user,
            kind,
            client,
            now,
            expires_at,
        },
    )
    .await?;
    Ok(NewSession { token, expires_at })
}
