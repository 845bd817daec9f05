//! Who is signed in on a tenant's site: the session cookie, and `Member`, the extractor
//! every signed-in page takes, with the layout and form token its pages use.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};

use super::csrf::{cookie_value, form_token, FormToken};
use super::{render, secure_cookies, Frame, NavLink};
use crate::domain::actor::{Action, Reach};
use crate::domain::session::{Authenticated, SessionKind, WEB_ABSOLUTE};
use crate::domain::tenant::{Tenant, TenantKind};
use crate::domain::token::Token;
use crate::http::host::Site;
use crate::http::request::ClientIp;
use crate::http::AppState;

pub const SESSION_COOKIE: &str = "tether_session";

/// The session cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`, host-only (no `Domain`, so a
/// client's session never reaches a sibling subdomain), `Secure` under https.
pub fn session_cookie(token: &Token, secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, token.expose().to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            WEB_ABSOLUTE.as_secs() as i64
        ))
        .build()
        .to_string()
}

pub fn cleared_session_cookie(secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

pub fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(value) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// Someone signed in on this tenant's site, with the token for the page's forms.
pub struct Member {
    pub signed_in: Authenticated,
    pub tenant: Tenant,
    form: FormToken,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Site(tenant) = Site::from_request_parts(parts, app).await?;
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, app).await;
        let to_login = || (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
        let token = cookie_value(&parts.headers, SESSION_COOKIE).ok_or_else(to_login)?;
        let signed_in = app
            .tether
            .authenticate(&token, SessionKind::Web, ip.map(|ip| ip.to_string()))
            .await
            .map_err(|_| to_login())?;
        if signed_in.user.tenant_id != tenant.id {
            return Err(to_login());
        }
        let form = form_token(&app.form_key, &parts.headers, secure_cookies(&app.tether));
        Ok(Self {
            signed_in,
            tenant,
            form,
        })
    }
}

impl Member {
    /// The layout for a page at `current`, with the navigation this member's role uses.
    pub fn frame(&self, current: &str) -> Frame {
        let mut links: Vec<(&'static str, &'static str)> = match self.tenant.kind {
            TenantKind::Msp => vec![
                ("/", "Dashboard"),
                ("/clients", "Clients"),
                ("/users", "Users"),
            ],
            TenantKind::Client => vec![("/", "Home"), ("/team", "Team")],
        };
        if self.tenant.kind == TenantKind::Client && self.may(Action::ReadAudit) {
            links.push(("/team/activity", "Activity"));
        }
        if self.tenant.kind == TenantKind::Msp {
            if self.may(Action::SeeInvites) {
                links.push(("/users/invites", "Pending invites"));
            }
            if self.may(Action::ReadAudit) {
                links.push(("/audit", "Audit"));
            }
            if self.may(Action::ManageWebhooks) {
                links.push(("/webhooks", "Webhooks"));
            }
        }
        links.push(("/account", "Account"));
        let mut frame = Frame::public(&self.tenant);
        frame.nav = links
            .into_iter()
            .map(|(href, label)| NavLink {
                href,
                label,
                current: href == current,
            })
            .collect();
        frame.csrf_token = self.form.token.clone();
        frame
    }

    /// Whether this member's role allows `action` at all (product.md §2, asked of the
    /// domain's one table): pages show only the buttons that would work.
    pub fn may(&self, action: Action) -> bool {
        self.signed_in.actor.reach(action) != Reach::Nothing
    }

    /// A page for this member, setting the CSRF cookie if the browser had none.
    pub fn page(&self, status: StatusCode, template: &impl Template) -> Response {
        with_cookie(render(status, template), self.form.set_cookie.clone())
    }

    /// The refusal for a submitted form that lacks this page's token or came from
    /// elsewhere; `None` when the form may be acted on.
    pub fn untrusted_form(
        &self,
        app: &AppState,
        headers: &HeaderMap,
        submitted: &str,
    ) -> Option<Response> {
        super::untrusted_form(app, &self.tenant, headers, submitted)
    }
}
