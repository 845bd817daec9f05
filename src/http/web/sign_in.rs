//! Signing in and out on a tenant's host, and the home page.

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::csrf::{cookie_value, form_token};
use super::member::{cleared_session_cookie, session_cookie, with_cookie, Member, SESSION_COOKIE};
use super::{
    dashboard, internal_error, refusal, render, secure_cookies, too_many_attempts, untrusted_form,
    Frame,
};
use super::{Form, Query};
use crate::domain::error::Error;
use crate::domain::session::SessionKind;
use crate::domain::tenant::{Tenant, TenantKind};
use crate::http::host::Site;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    frame: Frame,
    user_name: String,
    role_label: &'static str,
}

/// `GET /`: the MSP dashboard on the base host, the client portal's home on a client's.
pub async fn home(State(app): State<AppState>, member: Member) -> Response {
    if member.tenant.kind == TenantKind::Msp {
        return dashboard::dashboard(&app, &member).await;
    }
    let template = HomePage {
        frame: member.frame("/"),
        user_name: member.signed_in.user.name.to_string(),
        role_label: member.signed_in.user.role.label(),
    };
    member.page(StatusCode::OK, &template)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    email: String,
    error: Option<String>,
    /// "Your password was changed", after a reset.
    notice: Option<&'static str>,
    csrf_token: String,
}

fn login_form(
    status: StatusCode,
    tenant: &Tenant,
    email: String,
    error: Option<String>,
    csrf_token: String,
) -> Response {
    render(
        status,
        &LoginPage {
            frame: Frame::public(tenant),
            email,
            error,
            notice: None,
            csrf_token,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginNotice {
    /// `changed` after a password reset.
    #[serde(default)]
    password: Option<String>,
}

/// `GET /login`, with a notice after a password reset.
pub async fn login_page(
    State(app): State<AppState>,
    Site(tenant): Site,
    Query(notice): Query<LoginNotice>,
    headers: HeaderMap,
) -> Response {
    let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
    let page = LoginPage {
        frame: Frame::public(&tenant),
        email: String::new(),
        error: None,
        notice: (notice.password.as_deref() == Some("changed"))
            .then_some("Your password was changed; sign in with it."),
        csrf_token: form.token,
    };
    with_cookie(render(StatusCode::OK, &page), form.set_cookie)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /login`: this tenant's users only; a new session on success.
pub async fn login(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(untrusted) = untrusted_form(&app, &tenant, &headers, &form.csrf_token) {
        return untrusted;
    }
    if let Err(Error::RateLimited { retry_after_secs }) = app.limits.sign_in(ip, &form.email) {
        return too_many_attempts(&tenant, retry_after_secs);
    }
    let client = ClientIp(ip).with_agent(&headers);
    match app
        .tether
        .sign_in_from(
            &form.email,
            &form.password,
            Some(tenant.id),
            SessionKind::Web,
            &client,
        )
        .await
    {
        Ok((_, session)) => {
            let cookie = session_cookie(&session.token, secure_cookies(&app.tether));
            (
                StatusCode::SEE_OTHER,
                [(LOCATION, String::from("/")), (SET_COOKIE, cookie)],
            )
                .into_response()
        }
        Err(Error::InvalidCredentials) => login_form(
            StatusCode::UNAUTHORIZED,
            &tenant,
            form.email,
            Some(String::from("The email or password is not correct.")),
            form.csrf_token,
        ),
        Err(error) => refusal(&tenant, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /logout`: end the session server-side and forget the cookie.
pub async fn logout(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(untrusted) = untrusted_form(&app, &tenant, &headers, &form.csrf_token) {
        return untrusted;
    }
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        let ip_text = ip.map(|ip| ip.to_string());
        if let Err(error) = app.tether.sign_out(&token, ip_text.as_deref()).await {
            return internal_error(&tenant, &error);
        }
    }
    let cookie = cleared_session_cookie(secure_cookies(&app.tether));
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, String::from("/login")), (SET_COOKIE, cookie)],
    )
        .into_response()
}
