//! `/api/audit-events`: the audit trail, newest first.

use axum::extract::State;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::IntoParams;

use super::body::{AuditEventBody, AuditEventList};
use super::extract::{Bearer, Query};
use super::responses::{BadRequest, Forbidden, Unauthenticated};
use crate::domain::audit::AuditQuery;
use crate::domain::clock::Timestamp;
use crate::domain::error::FieldError;
use crate::domain::page::PageRequest;
use crate::domain::tenant::TenantId;
use crate::domain::user::UserId;
use crate::http::problem::Problem;
use crate::http::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    pub tenant_id: Option<i64>,
    /// A dotted action name, e.g. `invite.created`.
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    /// Only events at or after this RFC 3339 time.
    pub since: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100; 50 if not given.
    pub limit: Option<i64>,
}

fn parse_since(since: &str) -> Result<Timestamp, FieldError> {
    OffsetDateTime::parse(since, &Rfc3339)
        .ok()
        .and_then(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok())
        .map(Timestamp::from_millis)
        .ok_or_else(|| {
            FieldError::new(
                "since",
                "invalid_time",
                "since must be an RFC 3339 time, like 2026-11-23T10:00:00Z.",
            )
        })
}

/// Audit events the caller may read.
#[utoipa::path(
    get, path = "/api/audit-events", operation_id = "list_audit_events", tag = "audit", params(AuditListParams),
    responses(
        (status = 200, description = "A page of audit events", body = AuditEventList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Bearer,
    Query(params): Query<AuditListParams>,
) -> Result<axum::Json<AuditEventList>, Problem> {
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit);
    let since = params.since.as_deref().map(parse_since).transpose();
    let (page, since) = match (page, since) {
        (Ok(page), Ok(since)) => (page, since),
        (page, since) => {
            return Err(Problem::bad_query(
                [page.err(), since.err()].into_iter().flatten().collect(),
            ))
        }
    };
    let query = AuditQuery {
        tenant_id: params.tenant_id.map(TenantId),
        action: params.action,
        actor_id: params.actor_id.map(UserId),
        since,
        page,
        ..AuditQuery::default()
    };
    let page = app
        .tether
        .list_audit_events(&auth.signed_in.actor, query)
        .await?;
    Ok(axum::Json(AuditEventList::of(page, AuditEventBody::from)))
}
