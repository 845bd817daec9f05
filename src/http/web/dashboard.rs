//! The MSP's **Dashboard**: how many clients, users and pending invites, and what happened
//! lately, in sentences.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::activity::{row, EventRow, Links};
use super::console::wide;
use super::member::Member;
use super::{refusal, Frame};
use crate::domain::audit::AuditQuery;
use crate::domain::error::Error;
use crate::domain::page::PageRequest;
use crate::domain::tenant::TenantKind;
use crate::http::AppState;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    frame: Frame,
    clients: usize,
    users: i64,
    pending: i64,
    activity: Vec<EventRow>,
}

/// `GET /` on the base host: counts and recent activity.
pub async fn dashboard(app: &AppState, member: &Member) -> Response {
    let actor = &member.signed_in.actor;
    let tenants = match app.tether.list_tenants(actor).await {
        Ok(tenants) => tenants,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let now = app.tether.now();
    let links = Links::Console {
        msp: member.tenant.id,
    };
    let activity = match app
        .tether
        .activity(
            actor,
            AuditQuery {
                page: PageRequest {
                    before_id: None,
                    limit: 10,
                },
                ..AuditQuery::default()
            },
        )
        .await
    {
        Ok(page) => page.items.into_iter().map(|e| row(e, now, links)).collect(),
        Err(Error::Forbidden) => Vec::new(),
        Err(error) => return refusal(&member.tenant, &error),
    };
    let template = DashboardPage {
        frame: wide(member.frame("/")),
        clients: tenants
            .iter()
            .filter(|t| t.tenant.kind == TenantKind::Client)
            .count(),
        users: tenants.iter().map(|t| t.active_users).sum(),
        pending: tenants.iter().map(|t| t.pending_invites).sum(),
        activity,
    };
    member.page(StatusCode::OK, &template)
}
