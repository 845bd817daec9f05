//! `/api/outbox`: what Tether sends, listed and retried by hand (delivery.md §8).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::body::{List, OutboxMessageBody};
use super::extract::{Bearer, Path, Query};
use crate::domain::outbox::{Kind, MessageId, MessageQuery, State as MessageState};
use crate::domain::page::PageRequest;
use crate::http::problem::Problem;
use crate::http::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxListParams {
    /// queued, sending, sent or failed; all if not given.
    pub state: Option<String>,
    /// email or webhook; both if not given.
    pub kind: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

/// Outbox messages, newest first (client admins: their tenant's e-mails).
#[utoipa::path(
    get, path = "/api/outbox", operation_id = "list_outbox", tag = "outbox", params(OutboxListParams), security(("bearer" = [])),
    responses(
        (status = 200, body = List<OutboxMessageBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<OutboxListParams>,
) -> Result<axum::Json<List<OutboxMessageBody>>, Problem> {
    let state = params.state.as_deref().map(MessageState::parse).transpose();
    let kind = params.kind.as_deref().map(Kind::parse).transpose();
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit);
    let (state, kind, page) = match (state, kind, page) {
        (Ok(state), Ok(kind), Ok(page)) => (state, kind, page),
        (state, kind, page) => {
            return Err(Problem::bad_query(
                [state.err(), kind.err(), page.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            ))
        }
    };
    let page = app
        .tether
        .list_outbox(&auth.signed_in.actor, MessageQuery { state, kind, page })
        .await?;
    Ok(axum::Json(List::of(page, OutboxMessageBody::from)))
}

/// Retry a message now, with a fresh schedule.
#[utoipa::path(
    post, path = "/api/outbox/{id}/retry", operation_id = "retry_outbox_message", tag = "outbox", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued for delivery"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "message_not_retryable: being sent or already sent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry(
    State(app): State<AppState>,
    auth: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    app.tether
        .retry_message(&auth.signed_in.actor, MessageId(id))
        .await?;
    Ok(StatusCode::ACCEPTED)
}
