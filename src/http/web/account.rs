//! `/account` on every host: one's own name, password and sessions (product.md §4). Each
//! form calls one domain operation as the signed-in member and shows the page again.

use askama::Template;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::member::Member;
use super::{refusal, too_many_attempts, Form, Frame, Path};
use crate::domain::account::OwnSession;
use crate::domain::clock::Timestamp;
use crate::domain::error::Error;
use crate::domain::session::SessionId;
use crate::http::request::ClientIp;
use crate::http::AppState;

struct SessionRow {
    id: i64,
    kind: &'static str,
    current: bool,
    created: String,
    last_used: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl SessionRow {
    fn of(own: OwnSession, now: Timestamp) -> Self {
        Self {
            id: own.session.id.0,
            kind: match own.session.kind.as_str() {
                "api" => "API token",
                _ => "Browser session",
            },
            current: own.current,
            created: own.session.created_at.to_date_time_from(now),
            last_used: own.session.last_used_at.to_date_time_from(now),
            ip: own.session.ip,
            user_agent: own.session.user_agent,
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    frame: Frame,
    name: String,
    email: String,
    sessions: Vec<SessionRow>,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn account_page(
    app: &AppState,
    member: &Member,
    status: StatusCode,
    errors: Vec<String>,
    notice: Option<&str>,
) -> Response {
    let name = member.signed_in.user.name.to_string();
    account_page_named(app, member, name, status, errors, notice).await
}

/// As `account_page`, with the name just saved (the session's copy predates it).
async fn account_page_named(
    app: &AppState,
    member: &Member,
    name: String,
    status: StatusCode,
    errors: Vec<String>,
    notice: Option<&str>,
) -> Response {
    let sessions = match app.tether.own_sessions(&member.signed_in).await {
        Ok(sessions) => sessions,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let now = app.tether.now();
    let template = AccountPage {
        frame: member.frame("/account"),
        name,
        email: member.signed_in.user.email.to_string(),
        sessions: sessions
            .into_iter()
            .map(|own| SessionRow::of(own, now))
            .collect(),
        errors,
        notice: notice.map(str::to_owned),
    };
    member.page(status, &template)
}

/// `GET /account`.
pub async fn show(State(app): State<AppState>, member: Member) -> Response {
    account_page(&app, &member, StatusCode::OK, Vec::new(), None).await
}

/// What a refused form shows: its sentences, or the one page for the outcome.
async fn refused(app: &AppState, member: &Member, error: Error) -> Response {
    match error {
        Error::Validation(fields) => {
            let messages = fields.into_iter().map(|f| f.message).collect();
            account_page(
                app,
                member,
                StatusCode::UNPROCESSABLE_ENTITY,
                messages,
                None,
            )
            .await
        }
        Error::RateLimited { retry_after_secs } => {
            too_many_attempts(&member.tenant, retry_after_secs)
        }
        other => refusal(&member.tenant, &other),
    }
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

/// `POST /account/name`.
pub async fn rename(
    State(app): State<AppState>,
    member: Member,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Response {
    if let Some(untrusted) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return untrusted;
    }
    match app.tether.rename_self(&member.signed_in, &form.name).await {
        Ok(user) => {
            let name = user.name.to_string();
            let notice = Some("Your name is saved.");
            account_page_named(&app, &member, name, StatusCode::OK, Vec::new(), notice).await
        }
        Err(error) => refused(&app, &member, error).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /account/password`: counted like a sign-in, per IP and per email.
pub async fn change_password(
    State(app): State<AppState>,
    member: Member,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Some(untrusted) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return untrusted;
    }
    let email = member.signed_in.user.email.as_str();
    let changed = match app.limits.sign_in(ip, email) {
        Ok(()) => {
            app.tether
                .change_password(
                    &member.signed_in,
                    &form.current_password,
                    &form.new_password,
                )
                .await
        }
        Err(limited) => Err(limited),
    };
    match changed {
        Ok(()) => {
            let notice = "Your password is changed, and you are signed out everywhere else.";
            account_page(&app, &member, StatusCode::OK, Vec::new(), Some(notice)).await
        }
        Err(error) => refused(&app, &member, error).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /account/sessions/{id}/end`.
pub async fn end_session(
    State(app): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<EndForm>,
) -> Response {
    if let Some(untrusted) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return untrusted;
    }
    match app
        .tether
        .end_own_session(&member.signed_in, SessionId(id))
        .await
    {
        Ok(()) => back_to_account(),
        Err(error) => refused(&app, &member, error).await,
    }
}

/// `POST /account/sessions/end-others`.
pub async fn end_other_sessions(
    State(app): State<AppState>,
    member: Member,
    headers: HeaderMap,
    Form(form): Form<EndForm>,
) -> Response {
    if let Some(untrusted) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return untrusted;
    }
    match app.tether.end_other_sessions(&member.signed_in).await {
        Ok(_) => back_to_account(),
        Err(error) => refused(&app, &member, error).await,
    }
}

fn back_to_account() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/account")]).into_response()
}
