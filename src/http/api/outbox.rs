//! `/api/outbox`: what Tether sends, listed and retried by hand (delivery.md §8).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::body::{OutboxMessageBody, OutboxMessageList};
use super::extract::{Bearer, Path, Query};
use super::responses::{BadRequest, Forbidden, NotFound, Unauthenticated};
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
    get, path = "/api/outbox", operation_id = "list_outbox", tag = "outbox", params(OutboxListParams),
    responses(
        (status = 200, description = "A page of outbox messages", body = OutboxMessageList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<OutboxListParams>,
) -> Result<axum::Json<OutboxMessageList>, Problem> {
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
    Ok(axum::Json(OutboxMessageList::of(
        page,
        OutboxMessageBody::from,
    )))
}

/// Retry a message now, with a fresh schedule.
#[utoipa::path(
    post, path = "/api/outbox/{id}/retry", operation_id = "retry_outbox_message", tag = "outbox", params(("id" = i64, Path)),
    responses(
        (status = 202, description = "Queued for delivery"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`message_not_retryable`: the message is being sent or has been sent.",
            body = Problem, content_type = "application/problem+json"),
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
