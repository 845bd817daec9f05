//! `/api/tenants`, their logos, and `/api/roles`.

use axum::extract::{RawQuery, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{RoleBody, RoleList, TenantBody, TenantList};
use super::extract::{Bearer, Json, Path, RawBody};
use super::responses::{
    BadRequest, Forbidden, Image, NotFound, PayloadTooLarge, Unauthenticated, UnsupportedMediaType,
    ValidationFailed,
};
use crate::domain::role::Role;
use crate::domain::tenant::{NewTenant, TenantChanges, TenantId};
use crate::http::problem::Problem;
use crate::http::AppState;

/// Every role, with its scope and rank.
#[utoipa::path(
    get, path = "/api/roles", operation_id = "list_roles", tag = "tenants",
    responses(
        (status = 200, description = "Every role", body = RoleList),
        (status = 401, response = Unauthenticated),
    )
)]
pub async fn roles(_auth: Bearer) -> axum::Json<RoleList> {
    axum::Json(RoleList::complete(
        Role::ALL.into_iter().map(RoleBody::from).collect(),
    ))
}

/// The tenants the caller may see: the MSP first, then clients by name.
#[utoipa::path(
    get, path = "/api/tenants", operation_id = "list_tenants", tag = "tenants",
    responses(
        (status = 200, description = "The tenants the caller may see", body = TenantList),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
) -> Result<axum::Json<TenantList>, Problem> {
    let tenants = app.tether.list_tenants(&auth.signed_in.actor).await?;
    let items = tenants
        .iter()
        .map(|t| TenantBody::new(&app.tether, &t.tenant))
        .collect();
    Ok(axum::Json(TenantList::complete(items)))
}

/// One tenant.
#[utoipa::path(
    get, path = "/api/tenants/{id}", operation_id = "get_tenant", tag = "tenants", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The tenant", body = TenantBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_one(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<axum::Json<TenantBody>, Problem> {
    let tenant = app
        .tether
        .tenant(&auth.signed_in.actor, TenantId(id))
        .await?;
    Ok(axum::Json(TenantBody::new(&app.tether, &tenant)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateTenant)]
pub struct CreateTenantRequest {
    #[schema(example = "Acme Corp")]
    pub name: String,
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "#D9480F")]
    pub accent_colour: Option<String>,
    /// The e-mail domains whose addresses may be invited (empty or absent: any).
    #[schema(example = json!(["acme.com"]))]
    pub allowed_email_domains: Option<Vec<String>>,
}

/// Create a client tenant (MSP admins).
#[utoipa::path(
    post, path = "/api/tenants", operation_id = "create_tenant", tag = "tenants", request_body = CreateTenantRequest,
    responses(
        (status = 201, description = "The new client", body = TenantBody,
            headers(("Location" = String, description = "The new tenant"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 409, description = "`slug_taken`: another tenant has this slug.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    auth: Bearer,
    Json(body): Json<CreateTenantRequest>,
) -> Result<Response, Problem> {
    let input = NewTenant {
        name: body.name,
        slug: body.slug,
        accent_colour: body.accent_colour,
        logo: None,
        allowed_email_domains: body.allowed_email_domains.unwrap_or_default(),
    };
    let tenant = app
        .tether
        .create_tenant(&auth.signed_in.actor, input)
        .await?;
    let location = format!("/api/tenants/{}", tenant.id.0);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(TenantBody::new(&app.tether, &tenant)),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = UpdateTenant)]
pub struct UpdateTenantRequest {
    pub name: Option<String>,
    pub accent_colour: Option<String>,
    /// Whether e-mailed 3- and 7-day invites are re-issued and e-mailed again a day before
    /// they expire.
    pub invite_reminders: Option<bool>,
    /// A new list of allowed e-mail domains (`acme.com`, `*.acme.com`); `[]` admits any
    /// address. Pending invites outside a new list can no longer be accepted.
    #[schema(example = json!(["acme.com"]))]
    pub allowed_email_domains: Option<Vec<String>>,
}

/// Rename a tenant, change its accent colour, invite reminders or allowed e-mail domains (MSP admins).
#[utoipa::path(
    patch, path = "/api/tenants/{id}", operation_id = "update_tenant", tag = "tenants", params(("id" = i64, Path)),
    request_body = UpdateTenantRequest,
    responses(
        (status = 200, description = "The tenant, changed", body = TenantBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    Json(body): Json<UpdateTenantRequest>,
) -> Result<axum::Json<TenantBody>, Problem> {
    let changes = TenantChanges {
        name: body.name,
        accent_colour: body.accent_colour,
        logo: None,
        invite_reminders: body.invite_reminders,
        allowed_email_domains: body.allowed_email_domains,
    };
    let tenant = app
        .tether
        .update_tenant(&auth.signed_in.actor, TenantId(id), changes)
        .await?;
    Ok(axum::Json(TenantBody::new(&app.tether, &tenant)))
}

/// Replace a tenant's logo: PNG, JPEG, WebP or GIF, at most 512 KiB, recognised by its bytes.
#[utoipa::path(
    put, path = "/api/tenants/{id}/logo", operation_id = "put_tenant_logo", tag = "tenants", params(("id" = i64, Path)),
    // One media range rather than the four types: openapi-python-client (0.29) writes a client
    // that cannot be imported for an operation with several request body types.
    request_body(description = "The image's bytes, PNG, JPEG, WebP or GIF, sent with its own `Content-Type`; the server recognises the type by the bytes.",
        content = inline(Image), content_type = "image/*"),
    responses(
        (status = 204, description = "Stored"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn put_logo(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    RawBody(bytes): RawBody,
) -> Result<StatusCode, Problem> {
    app.tether
        .set_logo(&auth.signed_in.actor, TenantId(id), bytes.to_vec())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a tenant's logo.
#[utoipa::path(
    delete, path = "/api/tenants/{id}/logo", operation_id = "delete_tenant_logo", tag = "tenants", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_logo(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .remove_logo(&auth.signed_in.actor, TenantId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's logo (public), with its sniffed type, an ETag and a long cache lifetime.
#[utoipa::path(
    get, path = "/api/tenants/{id}/logo", operation_id = "get_tenant_logo", tag = "tenants", params(("id" = i64, Path)),
    security(()),
    responses(
        (status = 200, description = "The image, as the type its bytes are", content(
            (inline(Image) = "image/png"), (inline(Image) = "image/jpeg"),
            (inline(Image) = "image/webp"), (inline(Image) = "image/gif"),
        ), headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified: `If-None-Match` named this version"),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_logo(
    State(app): State<AppState>,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let logo = app
        .tether
        .logo(TenantId(id))
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(logo_response(logo, &headers, query.as_deref()))
}

/// Serves a logo, answering `304` when the client already has these bytes. A URL that names
/// this logo's version (`?v=`, as the pages and the API link to it) may be kept for a year;
/// any other may hold a logo that is replaced tomorrow, so it is checked each time.
pub fn logo_response(
    logo: crate::domain::tenant::LogoFile,
    request: &HeaderMap,
    query: Option<&str>,
) -> Response {
    // Both were written by Tether itself (a hex digest and a fixed MIME type).
    let (Ok(etag), Ok(content_type)) = (
        HeaderValue::from_str(&logo.etag),
        HeaderValue::from_str(&logo.content_type),
    ) else {
        return Problem::internal().into_response();
    };
    let cache = cache_control(query, logo.etag.trim_matches('"'));
    let nosniff = HeaderValue::from_static("nosniff");
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == logo.etag || tag.trim() == "*")
        });
    let headers = [
        (ETAG, etag),
        (CACHE_CONTROL, cache),
        (X_CONTENT_TYPE_OPTIONS, nosniff),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, [(CONTENT_TYPE, content_type)], logo.bytes).into_response()
}

/// `Cache-Control` for a versioned asset: `immutable` only when the URL's `v` is `version`.
pub fn cache_control(query: Option<&str>, version: &str) -> HeaderValue {
    // The one parameter is read by hand: these URLs are Tether's own, `v=` and a hex digest
    // or colour, and anything else only loses the long cache.
    let named = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair.strip_prefix("v=") == Some(version));
    if named {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("no-cache")
    }
}
