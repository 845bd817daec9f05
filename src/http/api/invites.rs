//! `/api/invites` and the public `/api/invite-links/{token}`: thin handlers over the domain's
//! invite lifecycle.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{CreatedInviteBody, InviteBody, InviteLinkBody, List, TokenBody};
use super::extract::{Bearer, Json, Path, Query};
use crate::domain::invite::{Acceptance, InviteId, InviteQuery, NewInvite, StatusFilter};
use crate::domain::page::PageRequest;
use crate::domain::session::SessionKind;
use crate::domain::tenant::TenantId;
use crate::http::problem::Problem;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateInviteRequest {
    #[schema(example = "alice@acme.com")]
    pub email: String,
    #[schema(example = "Alice Smith")]
    pub name: Option<String>,
    #[schema(example = 3)]
    pub role_id: i64,
    #[schema(example = 5)]
    pub tenant_id: i64,
    /// 24, 72 or 168; 72 if not given.
    #[schema(example = 72)]
    pub expires_hours: Option<i64>,
    /// E-mail the link to `email` (422 `email_not_configured` when e-mail is off).
    #[serde(default)]
    pub send_email: bool,
}

fn created(issued: crate::domain::invite::IssuedInvite) -> Response {
    let location = format!("/api/invites/{}", issued.invite.id.0);
    (
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(CreatedInviteBody::from(issued)),
    )
        .into_response()
}

/// Create an invite; the response is the only place its token ever appears.
#[utoipa::path(
    post, path = "/api/invites", operation_id = "create_invite", tag = "invites", request_body = CreateInviteRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedInviteBody, headers(("Location" = String, description = "The new invite"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "user_exists or invite_pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    auth: Bearer,
    Json(body): Json<CreateInviteRequest>,
) -> Result<Response, Problem> {
    let input = NewInvite {
        email: body.email,
        name: body.name,
        role_id: body.role_id,
        tenant_id: body.tenant_id,
        expires_hours: body.expires_hours,
        send_email: body.send_email,
    };
    let issued = app
        .tether
        .create_invite(&auth.signed_in.actor, input)
        .await?;
    Ok(created(issued))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InviteListParams {
    /// pending (default), accepted, revoked, expired or all.
    pub status: Option<String>,
    pub tenant_id: Option<i64>,
    pub email: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

/// List invites, newest first.
#[utoipa::path(
    get, path = "/api/invites", operation_id = "list_invites", tag = "invites", params(InviteListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<InviteBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<InviteListParams>,
) -> Result<axum::Json<List<InviteBody>>, Problem> {
    let status = StatusFilter::parse_or_default(params.status.as_deref());
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit);
    let (status, page) = match (status, page) {
        (Ok(status), Ok(page)) => (status, page),
        (status, page) => {
            return Err(Problem::bad_query(
                [status.err(), page.err()].into_iter().flatten().collect(),
            ))
        }
    };
    let query = InviteQuery {
        status,
        tenant_id: params.tenant_id.map(TenantId),
        email: params.email,
        page,
    };
    let page = app
        .tether
        .list_invites(&auth.signed_in.actor, query)
        .await?;
    Ok(axum::Json(List::of(page, InviteBody::from)))
}

/// One invite.
#[utoipa::path(
    get, path = "/api/invites/{id}", operation_id = "get_invite", tag = "invites", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = InviteBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<axum::Json<InviteBody>, Problem> {
    let invite = app
        .tether
        .invite(&auth.signed_in.actor, InviteId(id))
        .await?;
    Ok(axum::Json(invite.into()))
}

/// Revoke an invite; revoking a revoked one succeeds again.
#[utoipa::path(
    delete, path = "/api/invites/{id}", operation_id = "revoke_invite", tag = "invites", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invite_not_revocable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .revoke_invite(&auth.signed_in.actor, InviteId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReissueRequest {
    /// 24, 72 or 168; the original period if not given.
    pub expires_hours: Option<i64>,
    /// E-mail the new link (422 `email_not_configured` when e-mail is off).
    #[serde(default)]
    pub send_email: bool,
}

/// Issue a fresh link for a pending or expired invite, superseding it.
#[utoipa::path(
    post, path = "/api/invites/{id}/reissue", operation_id = "reissue_invite", tag = "invites", params(("id" = i64, Path)),
    request_body(content = Option<ReissueRequest>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedInviteBody, headers(("Location" = String, description = "The new invite"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invite_not_revocable", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reissue(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    body: Option<Json<ReissueRequest>>,
) -> Result<Response, Problem> {
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let issued = app
        .tether
        .reissue_invite(
            &auth.signed_in.actor,
            InviteId(id),
            body.expires_hours,
            body.send_email,
        )
        .await?;
    Ok(created(issued))
}

/// What an invite link's setup page shows. Opening it changes nothing.
#[utoipa::path(
    get, path = "/api/invite-links/{token}", operation_id = "inspect_invite_link", tag = "invite links", params(("token" = String, Path)),
    responses(
        (status = 200, body = InviteLinkBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "invite_expired, invite_used or invite_revoked", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inspect_link(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<axum::Json<InviteLinkBody>, Problem> {
    app.limits.invite_link(ip)?;
    let link = app.tether.open_invite_link(&token, None).await?;
    Ok(axum::Json(InviteLinkBody::new(&app.tether, link)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    #[schema(example = "Alice Smith")]
    pub name: String,
    pub password: String,
    /// Only for the first-admin link, which has no email of its own.
    pub email: Option<String>,
}

/// Accept an invite link: create the account and sign it in.
#[utoipa::path(
    post, path = "/api/invite-links/{token}/accept", operation_id = "accept_invite_link", tag = "invite links", params(("token" = String, Path)),
    request_body = AcceptRequest,
    responses(
        (status = 201, body = TokenBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "user_exists", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "invite_expired, invite_used or invite_revoked", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept_link(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AcceptRequest>,
) -> Result<(StatusCode, axum::Json<TokenBody>), Problem> {
    app.limits.invite_link(ip)?;
    let input = Acceptance {
        name: body.name,
        password: body.password,
        email: body.email,
    };
    let client = ClientIp(ip).with_agent(&headers);
    let accepted = app
        .tether
        .accept_invite_from(&token, input, None, SessionKind::Api, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenBody::new(accepted.user, accepted.session)),
    ))
}
