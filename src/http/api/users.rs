//! `/api/users`: list, read and change users within the actor's rights.

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{UserBody, UserList};
use super::extract::{Bearer, Json, Path, Query};
use super::responses::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthenticated, UnsupportedMediaType,
    ValidationFailed,
};
use crate::domain::error::FieldError;
use crate::domain::page::PageRequest;
use crate::domain::role::Role;
use crate::domain::tenant::TenantId;
use crate::domain::user::{UserChanges, UserId, UserQuery};
use crate::http::problem::Problem;
use crate::http::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    pub tenant_id: Option<i64>,
    pub role_id: Option<i64>,
    pub active: Option<bool>,
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

/// List users, newest first.
#[utoipa::path(
    get, path = "/api/users", operation_id = "list_users", tag = "users", params(UserListParams),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<UserListParams>,
) -> Result<axum::Json<UserList>, Problem> {
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit);
    let role = params
        .role_id
        .map(|id| {
            Role::from_id(id).ok_or_else(|| {
                FieldError::new("role_id", "unknown_role", "There is no role with this id.")
            })
        })
        .transpose();
    let (page, role) = match (page, role) {
        (Ok(page), Ok(role)) => (page, role),
        (page, role) => {
            return Err(Problem::bad_query(
                [page.err(), role.err()].into_iter().flatten().collect(),
            ))
        }
    };
    let query = UserQuery {
        tenant_id: params.tenant_id.map(TenantId),
        role,
        active: params.active,
        search: None,
        page,
    };
    let page = app.tether.list_users(&auth.signed_in.actor, query).await?;
    Ok(axum::Json(UserList::of(page, UserBody::from)))
}

/// One user.
#[utoipa::path(
    get, path = "/api/users/{id}", operation_id = "get_user", tag = "users", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_one(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<axum::Json<UserBody>, Problem> {
    let user = app.tether.user(&auth.signed_in.actor, UserId(id)).await?;
    Ok(axum::Json(user.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = UpdateUser)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    pub role_id: Option<i64>,
    /// `false` deactivates the user and ends all of their sessions.
    pub active: Option<bool>,
}

/// Rename a user, change their role, deactivate or reactivate them.
#[utoipa::path(
    patch, path = "/api/users/{id}", operation_id = "update_user", tag = "users", params(("id" = i64, Path)),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user, changed", body = UserBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`last_admin`: the change would leave no active MSP admin.",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<axum::Json<UserBody>, Problem> {
    let changes = UserChanges {
        name: body.name,
        role_id: body.role_id,
        active: body.active,
    };
    let user = app
        .tether
        .update_user(&auth.signed_in.actor, UserId(id), changes)
        .await?;
    Ok(axum::Json(user.into()))
}
