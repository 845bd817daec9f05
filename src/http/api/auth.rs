//! `/api/auth/token` and `/api/me`: API tokens for email and password.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{TokenBody, UserBody};
use super::extract::{Bearer, Json};
use super::responses::{
    BadRequest, PayloadTooLarge, RateLimited, Unauthenticated, UnsupportedMediaType,
    ValidationFailed,
};
use crate::domain::session::SessionKind;
use crate::http::problem::Problem;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SignIn)]
pub struct SignInRequest {
    #[schema(example = "alice@acme.com")]
    pub email: String,
    pub password: String,
}

/// Sign in: exchange an email and password for an API token (30 days).
#[utoipa::path(
    post, path = "/api/auth/token", operation_id = "create_token", tag = "auth", request_body = SignInRequest,
    security(()),
    responses(
        (status = 200, description = "A new API token", body = TokenBody),
        (status = 400, response = BadRequest),
        (status = 401, description = "`invalid_credentials`: the email or password is not correct (the same answer, after the same work, for an unknown email).",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = RateLimited),
    )
)]
pub async fn create_token(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SignInRequest>,
) -> Result<axum::Json<TokenBody>, Problem> {
    app.limits.sign_in(ip, &body.email)?;
    let client = ClientIp(ip).with_agent(&headers);
    let (user, session) = app
        .tether
        .sign_in_from(&body.email, &body.password, None, SessionKind::Api, &client)
        .await?;
    Ok(axum::Json(TokenBody::new(user, session)))
}

/// Sign out: revoke the token this request carries.
#[utoipa::path(
    delete, path = "/api/auth/token", operation_id = "delete_token", tag = "auth",
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = Unauthenticated),
    )
)]
pub async fn delete_token(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Bearer,
) -> Result<StatusCode, Problem> {
    let ip = ip.map(|ip| ip.to_string());
    app.tether.sign_out(&auth.token, ip.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/api/me", operation_id = "get_me", tag = "auth",
    responses(
        (status = 200, description = "The signed-in user", body = UserBody),
        (status = 401, response = Unauthenticated),
    )
)]
pub async fn me(auth: Bearer) -> axum::Json<UserBody> {
    axum::Json(auth.signed_in.user.into())
}
