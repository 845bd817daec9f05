//! Signing in and out on a tenant's host, and the signed-in home page.

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::csrf::{cookie_value, form_is_trusted, form_token};
use super::{forbidden_form, internal_error, message, render, secure_cookies, Brand};
use crate::domain::error::Error;
use crate::domain::session::{Authenticated, SessionKind, WEB_ABSOLUTE};
use crate::domain::tenant::Tenant;
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

fn cleared_session_cookie(secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The signed-in user of this tenant's site, if any.
pub async fn signed_in(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    ip: Option<String>,
) -> Option<Authenticated> {
    let token = cookie_value(headers, SESSION_COOKIE)?;
    let signed_in = app
        .tether
        .authenticate(&token, SessionKind::Web, ip)
        .await
        .ok()?;
    (signed_in.user.tenant_id == tenant.id).then_some(signed_in)
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(value) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    brand: Brand,
    user_name: String,
    role_label: &'static str,
    csrf_token: String,
}

/// `GET /`: the portal home for the signed-in user; others are sent to sign in.
pub async fn home(
    State(app): State<AppState>,
    Site(tenant): Site,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let Some(signed_in) = signed_in(&app, &tenant, &headers, ip.map(|ip| ip.to_string())).await
    else {
        return (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
    };
    let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
    let template = HomePage {
        brand: Brand::of(&tenant),
        user_name: signed_in.user.name.to_string(),
        role_label: signed_in.user.role.label(),
        csrf_token: form.token,
    };
    with_cookie(render(StatusCode::OK, &template), form.set_cookie)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    brand: Brand,
    email: String,
    error: Option<String>,
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
            brand: Brand::of(tenant),
            email,
            error,
            csrf_token,
        },
    )
}

/// `GET /login`.
pub async fn login_page(
    State(app): State<AppState>,
    Site(tenant): Site,
    headers: HeaderMap,
) -> Response {
    let form = form_token(&app.form_key, &headers, secure_cookies(&app.tether));
    with_cookie(
        login_form(StatusCode::OK, &tenant, String::new(), None, form.token),
        form.set_cookie,
    )
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
    if !form_is_trusted(
        &app.form_key,
        &headers,
        &form.csrf_token,
        &app.tether.tenant_origin(&tenant),
    ) {
        return forbidden_form(&tenant);
    }
    if app.limits.sign_in(ip, &form.email).is_err() {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            &tenant,
            "Too many attempts",
            "Please wait a minute and try again.",
            None,
        );
    }
    let ip_text = ip.map(|ip| ip.to_string());
    match app
        .tether
        .sign_in(
            &form.email,
            &form.password,
            Some(tenant.id),
            SessionKind::Web,
            ip_text.as_deref(),
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
        Err(error) => internal_error(&tenant, &error),
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
    if !form_is_trusted(
        &app.form_key,
        &headers,
        &form.csrf_token,
        &app.tether.tenant_origin(&tenant),
    ) {
        return forbidden_form(&tenant);
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
