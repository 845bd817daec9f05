//! Password recovery's pages (delivery.md §10): `/forgot-password` and the reset page
//! `/reset/{token}` on every tenant's host, and the admins' **Reset password** on Users and
//! Team. Opening a reset link never changes it; only the submitted form uses it.

use askama::Template;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::csrf::{form_is_trusted, form_token};
use super::member::{with_cookie, Member};
use super::{
    forbidden_form, invite_page_headers, message, refusal, render, secure_cookies,
    too_many_attempts, untrusted_form, Form, Frame, Path,
};
use crate::domain::error::Error;
use crate::domain::recovery::{IssuedReset, ResetLink};
use crate::domain::tenant::{Tenant, TenantKind};
use crate::domain::user::UserId;
use crate::http::host::{unknown_host, Site, SiteId};
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    frame: Frame,
    mail_enabled: bool,
    email: String,
    error: Option<String>,
    csrf_token: String,
}

/// `GET /forgot-password`.
pub async fn forgot_page(
    State(app): State<AppState>,
    Site(tenant): Site,
    headers: HeaderMap,
) -> Response {
    let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
    let page = ForgotPage {
        frame: Frame::public(&tenant),
        mail_enabled: app.tether.mail_enabled(),
        email: String::new(),
        error: None,
        csrf_token: form.token,
    };
    with_cookie(render(StatusCode::OK, &page), form.set_cookie)
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /forgot-password`: the same page afterwards whether or not the account exists.
pub async fn forgot(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Response {
    if let Some(untrusted) = untrusted_form(&app, &tenant, &headers, &form.csrf_token) {
        return untrusted;
    }
    if let Err(Error::RateLimited { retry_after_secs }) = app.limits.password_reset(ip, &form.email)
    {
        return too_many_attempts(&tenant, retry_after_secs);
    }
    let ip = ip.map(|ip| ip.to_string());
    match app
        .tether
        .request_password_reset_in_background(&form.email, tenant.id, ip)
    {
        Ok(()) => message(
            StatusCode::OK,
            &tenant,
            "Check your e-mail",
            "If an account with that address exists here, we have sent it a link to choose a new password. The link works for an hour.",
            Some(("/login", "Back to sign-in")),
        ),
        Err(Error::Validation(fields)) => {
            let error = fields.into_iter().map(|f| f.message).collect::<Vec<_>>();
            let page = ForgotPage {
                frame: Frame::public(&tenant),
                mail_enabled: app.tether.mail_enabled(),
                email: form.email,
                error: Some(error.join(" ")),
                csrf_token: form.csrf_token,
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => refusal(&tenant, &error),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    frame: Frame,
    token: String,
    email: String,
    csrf_token: String,
    expires: String,
    errors: Vec<String>,
}

/// The reset form, with the headers every page that carries a token in its URL has.
fn reset_page(
    status: StatusCode,
    link: &ResetLink,
    token: &str,
    csrf_token: String,
    errors: Vec<String>,
) -> Response {
    let page = ResetPage {
        frame: Frame::public(&link.tenant),
        token: token.to_owned(),
        email: link.user.email.to_string(),
        csrf_token,
        expires: format!("on {}", link.expires_at.to_date_time()),
        errors,
    };
    (invite_page_headers(), render(status, &page)).into_response()
}

fn reset_refusal(tenant: &Tenant, error: &Error) -> Response {
    (invite_page_headers(), refusal(tenant, error)).into_response()
}

/// `GET /reset/{token}` (and `HEAD`): the branded form; nothing changes.
pub async fn reset_form(
    State(app): State<AppState>,
    SiteId(host_tenant): SiteId,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let opened = match app.limits.invite_link(ip) {
        Ok(()) => app.tether.open_reset_link(&token, Some(host_tenant)).await,
        Err(limited) => Err(limited),
    };
    match opened {
        Ok(link) => {
            let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
            let page = reset_page(StatusCode::OK, &link, &token, form.token, Vec::new());
            with_cookie(page, form.set_cookie)
        }
        Err(error) => match app.tether.site_tenant(host_tenant).await {
            Ok(tenant) => reset_refusal(&tenant, &error),
            Err(_) => unknown_host(),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /reset/{token}`: the new password, then to sign-in with a notice; not signed in.
pub async fn reset(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    let own_origin = app.tether.tenant_origin(&tenant);
    if !form_is_trusted(&app.form_key, &headers, &form.csrf_token, &own_origin) {
        return (invite_page_headers(), forbidden_form(&tenant)).into_response();
    }
    if let Err(error) = app.limits.invite_link(ip) {
        return reset_refusal(&tenant, &error);
    }
    let link = match app.tether.open_reset_link(&token, Some(tenant.id)).await {
        Ok(link) => link,
        Err(error) => return reset_refusal(&tenant, &error),
    };
    if form.password != form.password_confirm {
        let errors = vec![String::from("The two passwords do not match.")];
        return reset_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &link,
            &token,
            form.csrf_token,
            errors,
        );
    }
    let ip = ip.map(|ip| ip.to_string());
    match app
        .tether
        .reset_password(&token, &form.password, Some(tenant.id), ip.as_deref())
        .await
    {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            invite_page_headers(),
            [(LOCATION, "/login?password=changed")],
        )
            .into_response(),
        Err(Error::Validation(fields)) => {
            let errors = fields.into_iter().map(|f| f.message).collect();
            reset_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &link,
                &token,
                form.csrf_token,
                errors,
            )
        }
        Err(error) => reset_refusal(&tenant, &error),
    }
}

/// Where an admin's **Reset password** lives: Users on the MSP's host, Team on a client's;
/// the page's path, and the way back to it.
fn people_page(tenant: &Tenant) -> (&'static str, &'static str) {
    match tenant.kind {
        TenantKind::Msp => ("/users", "Back to Users"),
        TenantKind::Client => ("/team", "Back to Team"),
    }
}

#[derive(Template)]
#[template(path = "reset_link_form.html")]
struct ResetLinkFormPage {
    frame: Frame,
    name: String,
    email: String,
    tenant_name: String,
    action: String,
    mail_enabled: bool,
    send_email: bool,
    back_href: &'static str,
    back_label: &'static str,
}

/// `GET /users/{id}/reset-link` and `/team/{id}/reset-link`: what the link will do, and
/// whether to e-mail it.
pub async fn link_form(
    State(app): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> Response {
    let actor = &member.signed_in.actor;
    let user = match app.tether.password_reset_target(actor, UserId(id)).await {
        Ok(user) => user,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let tenant_name = match app.tether.site_tenant(user.tenant_id).await {
        Ok(tenant) => tenant.name.to_string(),
        Err(error) => return refusal(&member.tenant, &error),
    };
    let (current, back_label) = people_page(&member.tenant);
    let page = ResetLinkFormPage {
        frame: member.frame(current),
        name: user.name.to_string(),
        email: user.email.to_string(),
        tenant_name,
        action: format!("{current}/{id}/reset-link"),
        mail_enabled: app.tether.mail_enabled(),
        send_email: app.tether.mail_enabled(),
        back_href: current,
        back_label,
    };
    member.page(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "reset_link.html")]
struct ResetLinkPage {
    frame: Frame,
    email: String,
    tenant_name: String,
    link: String,
    expires: String,
    emailed: bool,
    back_href: &'static str,
    back_label: &'static str,
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    send_email: Option<String>,
}

/// `POST /users/{id}/reset-link` and `/team/{id}/reset-link`: the link, shown once.
pub async fn create_link(
    State(app): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refusal;
    }
    let send_email = form.send_email.is_some();
    let issued: IssuedReset = match app
        .tether
        .issue_password_reset(&member.signed_in.actor, UserId(id), send_email)
        .await
    {
        Ok(issued) => issued,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let tenant_name = match app.tether.site_tenant(issued.user.tenant_id).await {
        Ok(tenant) => tenant.name.to_string(),
        Err(error) => return refusal(&member.tenant, &error),
    };
    let (current, back_label) = people_page(&member.tenant);
    let page = ResetLinkPage {
        frame: member.frame(current),
        email: issued.user.email.to_string(),
        tenant_name,
        link: issued.link,
        expires: issued.expires_at.to_date_time_from(app.tether.now()),
        emailed: send_email,
        back_href: current,
        back_label,
    };
    (
        invite_page_headers(),
        member.page(StatusCode::CREATED, &page),
    )
        .into_response()
}
