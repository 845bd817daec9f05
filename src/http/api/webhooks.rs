//! `/api/webhooks`: endpoints the MSP's other tools listen on, their delivery log, and a
//! test event (delivery.md §14). MSP admins only.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

use super::body::{
    CreatedWebhookBody, WebhookBody, WebhookDeliveryBody, WebhookDeliveryList, WebhookList,
    WebhookSecretBody,
};
use super::extract::{Bearer, Json, Path, Query};
use super::responses::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthenticated, UnsupportedMediaType,
    ValidationFailed,
};
use crate::domain::page::PageRequest;
use crate::domain::webhook::{NewWebhook, WebhookChanges, WebhookId};
use crate::http::problem::Problem;
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CreateWebhook)]
pub struct CreateWebhookRequest {
    /// `https://…`; `http://` only where the server allows it.
    #[schema(example = "https://psa.example.com/hooks/tether")]
    pub url: String,
    pub description: Option<String>,
    /// Event types, or `["*"]` for all of them.
    #[schema(example = json!(["invite.created", "invite.accepted"]))]
    pub event_types: Vec<String>,
    /// Only these tenants' events; absent or `null` for every tenant.
    pub tenant_ids: Option<Vec<i64>>,
    /// `true` if not given.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = UpdateWebhook)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `null` for every tenant again; absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<i64>>)]
    pub tenant_ids: Option<Option<Vec<i64>>>,
    /// Turning an endpoint on again clears why Tether turned it off.
    pub enabled: Option<bool>,
}

/// A field that is present, even as `null`: `Some(None)`, where absent is `None`.
fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<Vec<i64>>>, D::Error> {
    Option::<Vec<i64>>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

/// The webhook endpoints.
#[utoipa::path(
    get, path = "/api/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "Every endpoint", body = WebhookList),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
) -> Result<axum::Json<WebhookList>, Problem> {
    let hooks = app.tether.list_webhooks(&auth.signed_in.actor).await?;
    Ok(axum::Json(WebhookList::complete(
        hooks.into_iter().map(WebhookBody::from).collect(),
    )))
}

/// Add an endpoint; its signing secret is in the answer, this once.
#[utoipa::path(
    post, path = "/api/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The new endpoint and its secret", body = CreatedWebhookBody,
            headers(("Location" = String, description = "The new endpoint"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    auth: Bearer,
    Json(body): Json<CreateWebhookRequest>,
) -> Result<Response, Problem> {
    let input = NewWebhook {
        url: body.url,
        description: body.description.unwrap_or_default(),
        event_types: body.event_types,
        tenant_ids: body.tenant_ids,
        enabled: body.enabled.unwrap_or(true),
    };
    let created = app
        .tether
        .create_webhook(&auth.signed_in.actor, input)
        .await?;
    let location = format!("/api/webhooks/{}", created.webhook.id.0);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(CreatedWebhookBody {
            webhook: WebhookBody::from(created.webhook),
            secret: created.secret.expose().to_owned(),
        }),
    )
        .into_response())
}

/// One endpoint.
#[utoipa::path(
    get, path = "/api/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The endpoint", body = WebhookBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_one(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<axum::Json<WebhookBody>, Problem> {
    let hook = app
        .tether
        .webhook(&auth.signed_in.actor, WebhookId(id))
        .await?;
    Ok(axum::Json(WebhookBody::from(hook)))
}

/// Change an endpoint's URL, description, event types, tenants, or turn it on or off.
#[utoipa::path(
    patch, path = "/api/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", params(("id" = i64, Path)),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "The endpoint as changed", body = WebhookBody),
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
    Json(body): Json<UpdateWebhookRequest>,
) -> Result<axum::Json<WebhookBody>, Problem> {
    let changes = WebhookChanges {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        tenant_ids: body.tenant_ids,
        enabled: body.enabled,
    };
    let hook = app
        .tether
        .update_webhook(&auth.signed_in.actor, WebhookId(id), changes)
        .await?;
    Ok(axum::Json(WebhookBody::from(hook)))
}

/// Remove an endpoint with its delivery log.
#[utoipa::path(
    delete, path = "/api/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .delete_webhook(&auth.signed_in.actor, WebhookId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown this once; the previous one signs beside it for 24 hours.
#[utoipa::path(
    post, path = "/api/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks", params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The new secret", body = WebhookSecretBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn rotate_secret(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<axum::Json<WebhookSecretBody>, Problem> {
    let secret = app
        .tether
        .rotate_webhook_secret(&auth.signed_in.actor, WebhookId(id))
        .await?;
    Ok(axum::Json(WebhookSecretBody {
        secret: secret.expose().to_owned(),
    }))
}

/// Send a `webhook.test` event to the endpoint through the outbox.
#[utoipa::path(
    post, path = "/api/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks", params(("id" = i64, Path)),
    responses(
        (status = 202, description = "Queued for delivery"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn test(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .send_test_event(&auth.signed_in.actor, WebhookId(id))
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The endpoint's delivery attempts, newest first.
#[utoipa::path(
    get, path = "/api/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = i64, Path), DeliveryListParams),
    responses(
        (status = 200, description = "A page of delivery attempts", body = WebhookDeliveryList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn deliveries(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
    Query(params): Query<DeliveryListParams>,
) -> Result<axum::Json<WebhookDeliveryList>, Problem> {
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit)
        .map_err(|error| Problem::bad_query(vec![error]))?;
    let page = app
        .tether
        .webhook_deliveries(&auth.signed_in.actor, WebhookId(id), page)
        .await?;
    Ok(axum::Json(WebhookDeliveryList::of(
        page,
        WebhookDeliveryBody::from,
    )))
}

/// Send a failed delivery's event again now, with a fresh schedule.
#[utoipa::path(
    post, path = "/api/webhooks/{id}/deliveries/{delivery_id}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses(
        (status = 202, description = "Queued for delivery"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`message_not_retryable`: the event is being sent or has been delivered.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_delivery(
    State(app): State<AppState>,
    auth: Bearer,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<StatusCode, Problem> {
    app.tether
        .retry_webhook_delivery(&auth.signed_in.actor, WebhookId(id), delivery)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
