//! The invite setup page, `GET /invite/{token}` and its form. Opening it never changes the
//! invite; only the submitted form uses the token up.

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::csrf::{form_is_trusted, form_token};
use super::{
    forbidden_form, gone_words, invite_page_headers, message, render, secure_cookies, Frame,
};
use super::{Form, Path};
use crate::domain::error::{Conflict, Error, Gone};
use crate::domain::invite::{Acceptance, InviteLink};
use crate::domain::renewal::Renewal;
use crate::domain::session::SessionKind;
use crate::domain::tenant::Tenant;
use crate::http::host::{unknown_host, Site, SiteId};
use crate::http::request::ClientIp;
use crate::http::web::member::{session_cookie, with_cookie};
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
            let page = setup_page(
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
            with_cookie(page, form.set_cookie)
        }
        Err(error) => match app.tether.site_tenant(host_tenant).await {
            Ok(tenant) => match error {
                Error::Gone(gone) => dead_link(&app, &tenant, &token, gone, &headers).await,
                error => refusal(&tenant, &error),
            },
            Err(_) => unknown_host(),
        },
    }
}

#[derive(Template)]
#[template(path = "invite_gone.html")]
struct DeadLinkPage {
    frame: Frame,
    title: &'static str,
    message: String,
    token: String,
    can_ask: bool,
    requested_at: Option<String>,
    is_used: bool,
    csrf_token: String,
}

/// The page of an expired, revoked, superseded or used link: why, and, unless it was used,
/// **Ask for a new link** (delivery.md §11), or when that was asked.
async fn dead_link(
    app: &AppState,
    tenant: &Tenant,
    token: &str,
    gone: Gone,
    headers: &HeaderMap,
) -> Response {
    let renewal = match app.tether.invite_renewal(token, Some(tenant.id)).await {
        Ok(renewal) => renewal,
        Err(error) => return refusal(tenant, &error),
    };
    let (title, message) = gone_words(&gone);
    let form = form_token(&app.form_key, headers, secure_cookies(&app.tether));
    let page = DeadLinkPage {
        frame: Frame::public(tenant),
        title,
        message,
        token: token.to_owned(),
        can_ask: renewal == Renewal::Available,
        requested_at: match renewal {
            Renewal::Requested { at } => Some(at.to_date_time()),
            _ => None,
        },
        is_used: gone == Gone::Used,
        csrf_token: form.token,
    };
    let response = (invite_page_headers(), render(StatusCode::GONE, &page)).into_response();
    with_cookie(response, form.set_cookie)
}

#[derive(Debug, Deserialize)]
pub struct RenewalForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /invite/{token}/renewal`: **Ask for a new link**.
pub async fn ask_for_renewal(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RenewalForm>,
) -> Response {
    let own_origin = app.tether.tenant_origin(&tenant);
    if !form_is_trusted(&app.form_key, &headers, &form.csrf_token, &own_origin) {
        return (invite_page_headers(), forbidden_form(&tenant)).into_response();
    }
    if let Err(error) = app.limits.invite_link(ip) {
        return refusal(&tenant, &error);
    }
    let ip = ip.map(|ip| ip.to_string());
    match app
        .tether
        .request_invite_renewal(&token, Some(tenant.id), ip.as_deref())
        .await
    {
        Ok(_) => (
            invite_page_headers(),
            message(
                StatusCode::OK,
                &tenant,
                "We have asked for a new link",
                &format!(
                    "We have asked {} to send you a new link. It will come from them, by e-mail or in person.",
                    tenant.name
                ),
                None,
            ),
        )
            .into_response(),
        Err(Error::Conflict(Conflict::RenewalAlreadyRequested { at })) => (
            invite_page_headers(),
            message(
                StatusCode::CONFLICT,
                &tenant,
                "A new link was already asked for",
                &format!(
                    "You asked {} for a new link on {}. They have been told; the new link will come from them.",
                    tenant.name,
                    at.to_date_time()
                ),
                None,
            ),
        )
            .into_response(),
        Err(error) => refusal(&tenant, &error),
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
