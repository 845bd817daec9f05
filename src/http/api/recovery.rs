//! Password recovery (api.md "Password recovery"): asking for a reset link, an admin issuing
//! one, and the public reset links themselves.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{LinkTenant, UserBody};
use super::extract::{Bearer, Json, Path};
use super::responses::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, RateLimited, ResetLinkGone, Unauthenticated,
    UnsupportedMediaType,
};
use crate::domain::recovery::{IssuedReset, ResetLink};
use crate::domain::tenant::TenantId;
use crate::domain::user::UserId;
use crate::http::problem::Problem;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = RequestPasswordReset)]
pub struct RequestPasswordResetRequest {
    #[schema(example = "alice@acme.com")]
    pub email: String,
    /// The tenant whose account it is.
    #[schema(example = 5)]
    pub tenant_id: i64,
}

/// The one answer to a reset request, whatever became of it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasswordResetRequested)]
pub struct PasswordResetRequestedBody {
    #[schema(
        example = "If an account with this address exists in this tenant, a link to reset its password is on its way."
    )]
    pub message: &'static str,
}

/// What a reset request answers, known account or not.
pub const REQUESTED: &str =
    "If an account with this address exists in this tenant, a link to reset its password is on its way.";

/// Ask for a password reset link by e-mail; the answer never says whether the account exists.
#[utoipa::path(
    post, path = "/api/password-resets", operation_id = "request_password_reset", tag = "password recovery",
    request_body = RequestPasswordResetRequest, security(()),
    responses(
        (status = 202, description = "The same answer, after the same work, whether or not the account exists", body = PasswordResetRequestedBody),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: an `email` that is not an address, or `email_not_configured` when this server sends no e-mail.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn request(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<RequestPasswordResetRequest>,
) -> Result<(StatusCode, axum::Json<PasswordResetRequestedBody>), Problem> {
    app.limits.password_reset(ip, &body.email)?;
    let ip = ip.map(|ip| ip.to_string());
    app.tether
        .request_password_reset_in_background(&body.email, TenantId(body.tenant_id), ip)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(PasswordResetRequestedBody { message: REQUESTED }),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CreatePasswordResetLink)]
pub struct CreateResetLinkRequest {
    /// E-mail the link to the user (422 `email_not_configured` when e-mail is off).
    #[serde(default)]
    pub send_email: bool,
}

/// A new reset link, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasswordResetLink)]
pub struct ResetLinkBody {
    pub token: String,
    #[schema(example = "https://acme.atechsolutions.org/reset/abc123")]
    pub reset_url: String,
    pub expires_at: String,
    pub user: UserBody,
}

impl From<IssuedReset> for ResetLinkBody {
    fn from(issued: IssuedReset) -> Self {
        Self {
            token: issued.token.expose().to_owned(),
            reset_url: issued.link,
            expires_at: issued.expires_at.to_rfc3339(),
            user: issued.user.into(),
        }
    }
}

/// Make a password reset link for a user one may change, valid 24 hours.
#[utoipa::path(
    post, path = "/api/users/{id}/password-reset-links", operation_id = "create_password_reset_link", tag = "password recovery",
    params(("id" = i64, Path)),
    request_body(content = Option<CreateResetLinkRequest>, content_type = "application/json"),
    responses(
        (status = 201, description = "The link, shown this once", body = ResetLinkBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`user_inactive`: the user is deactivated.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: `send_email` with `email_not_configured`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_link(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    body: Option<Json<CreateResetLinkRequest>>,
) -> Result<(StatusCode, axum::Json<ResetLinkBody>), Problem> {
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let issued = app
        .tether
        .issue_password_reset(&auth.signed_in.actor, UserId(id), body.send_email)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(issued.into())))
}

/// What a reset link's page shows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasswordResetLinkInfo)]
pub struct ResetLinkInfoBody {
    pub email: String,
    pub tenant: LinkTenant,
    pub expires_at: String,
}

impl ResetLinkInfoBody {
    fn new(app: &AppState, link: ResetLink) -> Self {
        Self {
            email: link.user.email.to_string(),
            tenant: LinkTenant::new(&app.tether, &link.tenant),
            expires_at: link.expires_at.to_rfc3339(),
        }
    }
}

/// What a password reset link shows. Opening it changes nothing.
#[utoipa::path(
    get, path = "/api/password-reset-links/{token}", operation_id = "inspect_password_reset_link", tag = "password recovery",
    params(("token" = String, Path)), security(()),
    responses(
        (status = 200, description = "Whose account the link resets", body = ResetLinkInfoBody),
        (status = 404, response = NotFound),
        (status = 410, response = ResetLinkGone),
        (status = 429, response = RateLimited),
    )
)]
pub async fn inspect_link(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<axum::Json<ResetLinkInfoBody>, Problem> {
    app.limits.invite_link(ip)?;
    let link = app.tether.open_reset_link(&token, None).await?;
    Ok(axum::Json(ResetLinkInfoBody::new(&app, link)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ResetPassword)]
pub struct ResetPasswordRequest {
    pub password: String,
}

/// Choose a new password with a reset link; every session and API token of the user ends.
#[utoipa::path(
    post, path = "/api/password-reset-links/{token}", operation_id = "reset_password", tag = "password recovery",
    params(("token" = String, Path)), request_body = ResetPasswordRequest, security(()),
    responses(
        (status = 204, description = "Changed: sign in with the new password"),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 410, response = ResetLinkGone),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: a `password` that breaks the rules.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn reset(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<StatusCode, Problem> {
    app.limits.invite_link(ip)?;
    let ip = ip.map(|ip| ip.to_string());
    app.tether
        .reset_password(&token, &body.password, None, ip.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
