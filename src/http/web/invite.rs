//! The invite setup page, `GET /invite/{token}` and its form. Opening it never changes the
//! invite; only the submitted form uses the token up.

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Deserialize;

use super::csrf::{form_is_trusted, form_token};
use super::{forbidden_form, invite_page_headers, render, secure_cookies, Frame};
use super::{Form, Path};
use crate::domain::error::{Conflict, Error};
use crate::domain::invite::{Acceptance, InviteLink};
use crate::domain::session::SessionKind;
use crate::domain::tenant::Tenant;
use crate::http::host::{unknown_host, Site, SiteId};
use crate::http::request::ClientIp;
use crate::http::web::member::session_cookie;
use crate::http::AppState;

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    frame: Frame,
    token: String,
    role_label: &'static str,
    /// The invite's own email, shown fixed; `None` for the first-admin link.
    fixed_email: Option<String>,
    email_input: String,
    name: String,
    csrf_token: String,
    expires: String,
    errors: Vec<String>,
}

/// What the form keeps after a refusal: everything but the passwords.
struct Typed {
    name: Option<String>,
    email: Option<String>,
}

fn setup_page(
    status: StatusCode,
    link: &InviteLink,
    token: &str,
    csrf_token: String,
    typed: Typed,
    errors: Vec<String>,
) -> Response {
    let template = InvitePage {
        frame: Frame::public(&link.tenant),
        token: token.to_owned(),
        role_label: link.invite.role.label(),
        fixed_email: link.invite.email.as_ref().map(ToString::to_string),
        email_input: typed.email.unwrap_or_default(),
        name: typed
            .name
            .or_else(|| link.invite.name.as_ref().map(ToString::to_string))
            .unwrap_or_default(),
        csrf_token,
        expires: format!("on {}", link.invite.expires_at.to_date_time()),
        errors,
    };
    (invite_page_headers(), render(status, &template)).into_response()
}

/// The page for a link that cannot be used, with the headers every invite page carries.
fn refusal(tenant: &Tenant, error: &Error) -> Response {
    (invite_page_headers(), super::refusal(tenant, error)).into_response()
}

/// `GET /invite/{token}`: the branded setup page (also answers `HEAD`).
pub async fn page(
    State(app): State<AppState>,
    SiteId(host_tenant): SiteId,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    // The same limit as the API's lookup: the page answers the same question about a token.
    let opened = match app.limits.invite_link(ip) {
        Ok(()) => app.tether.open_invite_link(&token, Some(host_tenant)).await,
        Err(limited) => Err(limited),
    };
    match opened {
        Ok(link) => {
            let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
            let mut response = setup_page(
                StatusCode::OK,
                &link,
                &token,
                form.token,
                Typed {
                    name: None,
                    email: None,
                },
                Vec::new(),
            );
            if let Some(cookie) = form.set_cookie.and_then(|c| c.parse().ok()) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => match app.tether.site_tenant(host_tenant).await {
            Ok(tenant) => refusal(&tenant, &error),
            Err(_) => unknown_host(),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /invite/{token}`: create the account, sign it in with a new session, and go home.
pub async fn accept(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AcceptForm>,
) -> Response {
    let own_origin = app.tether.tenant_origin(&tenant);
    if !form_is_trusted(&app.form_key, &headers, &form.csrf_token, &own_origin) {
        return (invite_page_headers(), forbidden_form(&tenant)).into_response();
    }
    if let Err(error) = app.limits.invite_link(ip) {
        return refusal(&tenant, &error);
    }
    let link = match app.tether.open_invite_link(&token, Some(tenant.id)).await {
        Ok(link) => link,
        Err(error) => return refusal(&tenant, &error),
    };
    let typed = Typed {
        name: Some(form.name.clone()),
        email: form.email.clone(),
    };
    if form.password != form.password_confirm {
        let errors = vec![String::from("The two passwords do not match.")];
        return setup_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &link,
            &token,
            form.csrf_token,
            typed,
            errors,
        );
    }
    let input = Acceptance {
        name: form.name,
        password: form.password,
        email: form.email,
    };
    let client = ClientIp(ip).with_agent(&headers);
    match app
        .tether
        .accept_invite_from(&token, input, Some(tenant.id), SessionKind::Web, &client)
        .await
    {
        Ok(accepted) => {
            let cookie = session_cookie(&accepted.session.token, secure_cookies(&app.tether));
            (
                StatusCode::SEE_OTHER,
                [(LOCATION, String::from("/")), (SET_COOKIE, cookie)],
            )
                .into_response()
        }
        Err(Error::Validation(fields)) => {
            let errors = fields.into_iter().map(|f| f.message).collect();
            setup_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &link,
                &token,
                form.csrf_token,
                typed,
                errors,
            )
        }
        Err(Error::Conflict(Conflict::UserExists)) => {
            let errors = vec![String::from(
                "An account with this email already exists. Sign in instead.",
            )];
            setup_page(
                StatusCode::CONFLICT,
                &link,
                &token,
                form.csrf_token,
                typed,
                errors,
            )
        }
        Err(error) => refusal(&tenant, &error),
    }
}
