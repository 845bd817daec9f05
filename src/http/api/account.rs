//! `/api/me…`: one's own name, password, sessions and API tokens (api.md "Authentication").

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{SessionBody, SessionList, UserBody};
use super::extract::{Bearer, Json, Path, Query};
use super::responses::{
    BadRequest, NotFound, PayloadTooLarge, RateLimited, Unauthenticated, UnsupportedMediaType,
    ValidationFailed,
};
use crate::domain::error::Error;
use crate::domain::session::SessionId;
use crate::http::problem::Problem;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UpdateMe)]
pub struct UpdateMeRequest {
    #[schema(example = "Alice Smith")]
    pub name: String,
}

/// Change one's own name.
#[utoipa::path(
    patch, path = "/api/me", operation_id = "update_me", tag = "auth", request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The user, renamed", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update_me(
    State(app): State<AppState>,
    auth: Bearer,
    Json(body): Json<UpdateMeRequest>,
) -> Result<axum::Json<UserBody>, Problem> {
    let user = app.tether.rename_self(&auth.signed_in, &body.name).await?;
    Ok(axum::Json(user.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ChangePassword)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password; every other session and API token ends.
#[utoipa::path(
    post, path = "/api/me/password", operation_id = "change_my_password", tag = "auth", request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; other sessions and tokens ended"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: `current_password` with `invalid_credentials`, or a `new_password` that breaks the rules.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn change_password(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Bearer,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<StatusCode, Problem> {
    change_own_password(&app, ip, &auth, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Each attempt counts against the sign-in limits, per IP and per email, as a sign-in does:
/// the current password cannot be guessed here faster than on the sign-in page.
async fn change_own_password(
    app: &AppState,
    ip: Option<std::net::IpAddr>,
    auth: &Bearer,
    current: &str,
    new: &str,
) -> Result<(), Error> {
    app.limits.sign_in(ip, auth.signed_in.user.email.as_str())?;
    app.tether
        .change_password(&auth.signed_in, current, new)
        .await
}

/// One's own live sessions and API tokens, newest first.
#[utoipa::path(
    get, path = "/api/me/sessions", operation_id = "list_my_sessions", tag = "auth",
    responses(
        (status = 200, description = "Every live session and token of one's own", body = SessionList),
        (status = 401, response = Unauthenticated),
    )
)]
pub async fn list_sessions(
    State(app): State<AppState>,
    auth: Bearer,
) -> Result<axum::Json<SessionList>, Problem> {
    let sessions = app.tether.own_sessions(&auth.signed_in).await?;
    Ok(axum::Json(SessionList::complete(
        sessions.into_iter().map(SessionBody::from).collect(),
    )))
}

/// End one of one's own sessions or API tokens; another user's is not found.
#[utoipa::path(
    delete, path = "/api/me/sessions/{id}", operation_id = "end_my_session", tag = "auth", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_session(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .end_own_session(&auth.signed_in, SessionId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EndSessionsParams {
    /// `current`: every session but the one this request was made with (required).
    pub except: Option<String>,
}

/// End every other session and API token of one's own (`?except=current`).
#[utoipa::path(
    delete, path = "/api/me/sessions", operation_id = "end_my_other_sessions", tag = "auth", params(EndSessionsParams),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
    )
)]
pub async fn delete_other_sessions(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<EndSessionsParams>,
) -> Result<StatusCode, Problem> {
    if params.except.as_deref() != Some("current") {
        return Err(Problem::bad_query(vec![
            crate::domain::error::FieldError::new(
                "except",
                "invalid_except",
                "except must be current: this request's own session is kept.",
            ),
        ]));
    }
    app.tether.end_other_sessions(&auth.signed_in).await?;
    Ok(StatusCode::NO_CONTENT)
}
