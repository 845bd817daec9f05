//! The JSON API of api.md under `/api`: which path goes to which handler. Its OpenAPI 3.1
//! document is `openapi.rs`.

pub mod account;
pub mod audit;
pub mod auth;
pub mod body;
pub mod events;
pub mod extract;
pub mod invites;
pub mod openapi;
pub mod outbox;
pub mod recovery;
pub mod responses;
pub mod tenants;
pub mod users;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use utoipa::OpenApi;

use super::problem::{ensure_problem, Problem};
use super::AppState;
use crate::domain::tenant::MAX_LOGO_BYTES;

/// The largest JSON body the API reads (api.md "Errors": 413 beyond it).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The largest batch of invites read: room for 1,000 rows of the longest addresses and names.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/auth/token",
            post(auth::create_token).delete(auth::delete_token),
        )
        .route("/api/me", get(auth::me).patch(account::update_me))
        .route("/api/me/password", post(account::change_password))
        .route(
            "/api/me/sessions",
            get(account::list_sessions).delete(account::delete_other_sessions),
        )
        .route("/api/me/sessions/{id}", delete(account::delete_session))
        .route("/api/invites", post(invites::create).get(invites::list))
        .route(
            "/api/invites/batch",
            post(invites::create_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route(
            "/api/invites/{id}",
            get(invites::get_one).delete(invites::revoke),
        )
        .route("/api/invites/{id}/reissue", post(invites::reissue))
        .route("/api/invite-links/{token}", get(invites::inspect_link))
        .route(
            "/api/invite-links/{token}/accept",
            post(invites::accept_link),
        )
        .route(
            "/api/invite-links/{token}/renewal-request",
            post(invites::request_renewal),
        )
        .route("/api/users", get(users::list))
        .route("/api/users/{id}", get(users::get_one).patch(users::update))
        .route("/api/roles", get(tenants::roles))
        .route("/api/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/api/tenants/{id}",
            get(tenants::get_one).patch(tenants::update),
        )
        .route(
            "/api/tenants/{id}/logo",
            get(tenants::get_logo)
                .put(tenants::put_logo)
                .delete(tenants::delete_logo)
                .layer(DefaultBodyLimit::max(MAX_LOGO_BYTES)),
        )
        .route("/api/audit-events", get(audit::list))
        .route("/api/outbox", get(outbox::list))
        .route("/api/outbox/{id}/retry", post(outbox::retry))
        .route("/api/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/api/webhooks/{id}",
            get(webhooks::get_one)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/api/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route("/api/webhooks/{id}/test", post(webhooks::test))
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/api/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(webhooks::retry_delivery),
        )
        .route("/api/password-resets", post(recovery::request))
        .route(
            "/api/users/{id}/password-reset-links",
            post(recovery::create_link),
        )
        .route(
            "/api/password-reset-links/{token}",
            get(recovery::inspect_link).post(recovery::reset),
        )
        .route("/api/openapi.json", get(openapi_json))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(ensure_problem))
}

/// Any path under `/api` that names no endpoint.
pub async fn not_found() -> Problem {
    Problem::not_found()
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This endpoint does not accept this method.",
    )
}

async fn openapi_json() -> impl IntoResponse {
    axum::Json(openapi::ApiDoc::openapi())
}
