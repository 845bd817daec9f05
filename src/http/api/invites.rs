//! `/api/invites` and the public `/api/invite-links/{token}`: thin handlers over the domain's
//! invite lifecycle.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{
    CreatedInviteBody, InviteBatchBody, InviteBody, InviteLinkBody, InviteList, TokenBody,
};
use super::extract::{Bearer, Json, Path, Query};
use super::responses::{
    BadRequest, Forbidden, InviteLinkGone, NotFound, PayloadTooLarge, RateLimited, Unauthenticated,
    UnsupportedMediaType,
};
use crate::domain::batch::{BatchRow, InviteBatch, RowRole};
use crate::domain::error::Error;
use crate::domain::invite::{Acceptance, InviteId, InviteQuery, NewInvite, StatusFilter};
use crate::domain::page::PageRequest;
use crate::domain::session::SessionKind;
use crate::domain::tenant::TenantId;
use crate::http::problem::Problem;
use crate::http::request::ClientIp;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateInvite)]
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
    responses(
        (status = 201, description = "The invite, with its token and link, shown this once", body = CreatedInviteBody,
            headers(("Location" = String, description = "The new invite"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, description = "`user_exists`: the email already has an account; `invite_pending`: an open invite for it is one the caller may not replace.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: field errors, among them an unknown `tenant_id` or `role_id`, a role that does not fit the tenant, and `send_email` with `email_not_configured`.",
            body = Problem, content_type = "application/problem+json"),
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

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateInviteBatch)]
pub struct CreateInviteBatchRequest {
    #[schema(example = 5)]
    pub tenant_id: i64,
    /// 24, 72 or 168 for every row; 72 if not given.
    #[schema(example = 72)]
    pub expires_hours: Option<i64>,
    /// E-mail each created invite's link to its address.
    #[serde(default)]
    pub send_email: bool,
    /// Only say what each row would do; create nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// 1 to 1,000 people to invite.
    pub rows: Vec<BatchRowRequest>,
}

/// One person in a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = InviteBatchRow)]
pub struct BatchRowRequest {
    #[schema(example = "carol@acme.com")]
    pub email: String,
    pub name: Option<String>,
    /// Required: a row without one is refused with a field error on `role_id`.
    #[schema(example = 4)]
    pub role_id: Option<i64>,
}

/// Create many invites into one tenant, or with `dry_run` say what each row would do; each
/// row is checked as a single create is and answered on its own.
#[utoipa::path(
    post, path = "/api/invites/batch", operation_id = "create_invite_batch", tag = "invites", request_body = CreateInviteBatchRequest,
    responses(
        (status = 200, description = "Every row's outcome; created invites carry their token and link, shown this once", body = InviteBatchBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 413, description = "`payload_too_large`: more than 1,000 rows, or a body over 1 MiB.",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: no rows, an unknown `tenant_id`, or `send_email` with `email_not_configured`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_batch(
    State(app): State<AppState>,
    auth: Bearer,
    Json(body): Json<CreateInviteBatchRequest>,
) -> Result<axum::Json<InviteBatchBody>, Problem> {
    let batch = InviteBatch {
        tenant_id: body.tenant_id,
        rows: body
            .rows
            .into_iter()
            .map(|row| BatchRow {
                email: row.email,
                name: row.name,
                role: row.role_id.map_or(RowRole::Unset, RowRole::Id),
            })
            .collect(),
        default_role_id: None,
        expires_hours: body.expires_hours,
        send_email: body.send_email,
        dry_run: body.dry_run,
    };
    let result = app.tether.invite_many(&auth.signed_in.actor, batch).await?;
    Ok(axum::Json(InviteBatchBody::from(result)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InviteListParams {
    /// pending (default), accepted, revoked, expired or all.
    pub status: Option<String>,
    pub tenant_id: Option<i64>,
    pub email: Option<String>,
    /// `true`: only invites whose recipient asked for a fresh link nobody has sent yet (of
    /// any status unless `status` is given).
    pub renewal_requested: Option<bool>,
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

/// List invites, newest first.
#[utoipa::path(
    get, path = "/api/invites", operation_id = "list_invites", tag = "invites", params(InviteListParams),
    responses(
        (status = 200, description = "A page of invites", body = InviteList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<InviteListParams>,
) -> Result<axum::Json<InviteList>, Problem> {
    let renewal_requested = params.renewal_requested == Some(true);
    let status = match (params.status.as_deref(), renewal_requested) {
        // Asked-for renewals are of dead links: expired, revoked or superseded.
        (None, true) => Ok(StatusFilter::All),
        (status, _) => StatusFilter::parse_or_default(status),
    };
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
        renewal_requested,
        page,
    };
    let page = app
        .tether
        .list_invites(&auth.signed_in.actor, query)
        .await?;
    Ok(axum::Json(InviteList::of(page, InviteBody::from)))
}

/// One invite.
#[utoipa::path(
    get, path = "/api/invites/{id}", operation_id = "get_invite", tag = "invites", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The invite", body = InviteBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
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
    responses(
        (status = 204, description = "Revoked, now or before"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`invite_not_revocable`: the invite has been accepted.",
            body = Problem, content_type = "application/problem+json"),
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
#[schema(as = ReissueInvite)]
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
    responses(
        (status = 201, description = "The new invite, with its token and link, shown this once", body = CreatedInviteBody,
            headers(("Location" = String, description = "The new invite"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`invite_not_revocable`: the invite has been accepted or revoked; `user_exists`: its email has an account now.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: `expires_hours` not 24, 72 or 168, or `send_email` with `email_not_configured`.",
            body = Problem, content_type = "application/problem+json"),
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
    security(()),
    responses(
        (status = 200, description = "What the setup page shows", body = InviteLinkBody),
        (status = 404, response = NotFound),
        (status = 410, description = "`invite_expired`, `invite_used` or `invite_revoked`: the link can no longer be used; `renewal` says whether a fresh one may be asked for.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn inspect_link(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<axum::Json<InviteLinkBody>, Problem> {
    app.limits.invite_link(ip)?;
    match app.tether.open_invite_link(&token, None).await {
        Ok(link) => Ok(axum::Json(InviteLinkBody::new(&app.tether, link))),
        Err(Error::Gone(gone)) => {
            let renewal = app.tether.invite_renewal(&token, None).await?;
            let mut problem = Problem::from(Error::Gone(gone));
            problem.renewal = Some(renewal.as_str());
            Err(problem)
        }
        Err(error) => Err(error.into()),
    }
}

/// The answer to a renewal request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RenewalRequested)]
pub struct RenewalRequestedBody {
    pub renewal_requested_at: String,
}

/// Ask for a fresh link in place of an expired, revoked or superseded one; the people who can
/// re-issue it are told.
#[utoipa::path(
    post, path = "/api/invite-links/{token}/renewal-request", operation_id = "request_invite_renewal", tag = "invite links",
    params(("token" = String, Path)), security(()),
    responses(
        (status = 202, description = "Asked; the people who can re-issue it are told", body = RenewalRequestedBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`renewal_already_requested`: a new link was asked for already (the detail says when); `invite_still_valid`: the link still works.",
            body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`invite_used`: the link was used; there is nothing to renew.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
    )
)]
pub async fn request_renewal(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<(StatusCode, axum::Json<RenewalRequestedBody>), Problem> {
    app.limits.invite_link(ip)?;
    let ip = ip.map(|ip| ip.to_string());
    let at = app
        .tether
        .request_invite_renewal(&token, None, ip.as_deref())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RenewalRequestedBody {
            renewal_requested_at: at.to_rfc3339(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = AcceptInvite)]
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
    request_body = AcceptRequest, security(()),
    responses(
        (status = 201, description = "The new account, signed in with an API token", body = TokenBody),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, description = "`user_exists`: the email has an account already.",
            body = Problem, content_type = "application/problem+json"),
        (status = 410, response = InviteLinkGone),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`validation_failed`: a name or password that breaks the rules.",
            body = Problem, content_type = "application/problem+json"),
        (status = 429, response = RateLimited),
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
