//! **Pending invites**: the open invites filtered by tenant, status and address, with a count
//! of each status; renewal requests; and Revoke and Re-issue, which Team shares.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::console::{redirect, tenant_choices, tenant_names, wide, Staff};
use super::invite_form::link_page;
use super::member::Member;
use super::{refusal, url_encoded, Frame};
use super::{Form, Path, Query};
use crate::domain::error::Error;
use crate::domain::invite::{InviteId, InviteQuery, InviteStatus, StatusFilter};
use crate::domain::outbox::{Delivery, State as MessageState};
use crate::domain::page::{PageRequest, MAX_LIMIT};
use crate::domain::tenant::TenantId;
use crate::http::AppState;

pub struct InviteRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub tenant: String,
    pub status: &'static str,
    pub expires: String,
    pub created: String,
    /// Who made it: their email, or the command line (the system's own links too).
    pub invited_by: String,
    /// How its e-mail is doing, for people ("E-mailed 3 Dec 2026, 10:00 UTC"), if it was
    /// e-mailed; and the state, for styling.
    pub delivery: Option<(&'static str, String)>,
    /// Its e-mail failed and can be sent again (a fresh link, e-mailed).
    pub send_again: bool,
}

#[derive(Template)]
#[template(path = "invites.html")]
struct InvitesPage {
    frame: Frame,
    heading: &'static str,
    invites: Vec<InviteRow>,
    /// The next page's cursor, when there are older invites than these.
    older: Option<String>,
    /// The filter the "Older" link keeps: `&tenant_id=3&email=…`, or nothing.
    filter_query: String,
    /// The filter's choices: the tenants, the chosen one marked, and the email searched.
    tenants: Vec<(i64, String, bool)>,
    email: String,
    /// The status filter's choices: (value, label, chosen).
    statuses: Vec<(&'static str, &'static str, bool)>,
    /// How many are pending and how many expired under the tenant and email filters, each
    /// with the address that lists them.
    counts: Vec<(i64, &'static str, String)>,
    show_tenant: bool,
    can_reissue: bool,
    action_base: &'static str,
    requests: Vec<RenewalRow>,
    mail_enabled: bool,
}

/// One page of the open (pending or expired) invites in the actor's scope, optionally of one
/// tenant, newest first, from `cursor` on; and the cursor of the next page, if there is one.
pub async fn open_invites(
    app: &AppState,
    member: &Member,
    search: OpenSearch,
    cursor: Option<&str>,
) -> Result<(Vec<InviteRow>, Option<String>), Error> {
    let OpenSearch {
        status,
        tenant,
        email,
    } = search;
    let actor = &member.signed_in.actor;
    let names = tenant_names(&app.tether.list_tenants(actor).await?);
    let query = InviteQuery {
        status,
        tenant_id: tenant,
        email,
        page: PageRequest::parse(cursor, Some(MAX_LIMIT))
            .map_err(|e| Error::Validation(vec![e]))?,
        ..InviteQuery::default()
    };
    let page = app.tether.list_invites(actor, query).await?;
    let rows = page
        .items
        .into_iter()
        .map(|i| InviteRow {
            id: i.id.0,
            email: i
                .email
                .as_ref()
                .map_or_else(|| String::from("(first admin)"), ToString::to_string),
            role: i.role.label(),
            tenant: names.get(&i.tenant_id.0).cloned().unwrap_or_default(),
            status: i.status.as_str(),
            expires: i.expires_at.to_date_time_from(app.tether.now()),
            created: i.created_at.to_date_time_from(app.tether.now()),
            invited_by: i.created_by.as_ref().map_or_else(
                || String::from("Command line"),
                |(_, email)| email.to_string(),
            ),
            send_again: app.tether.mail_enabled()
                && i.delivery
                    .as_ref()
                    .is_some_and(|d| d.state == MessageState::Failed),
            delivery: i.delivery.as_ref().map(delivery_text),
        })
        .collect();
    Ok((rows, page.next_cursor))
}

/// Which open invites a list shows: pending and expired ones (`StatusFilter::Open`), or one
/// of the two; in a tenant, for an address.
pub struct OpenSearch {
    pub status: StatusFilter,
    pub tenant: Option<TenantId>,
    pub email: Option<String>,
}

/// The status filter's value on Pending invites: `pending`, `expired`, or both.
fn open_status(chosen: Option<&str>) -> StatusFilter {
    match chosen {
        Some("pending") => StatusFilter::Only(InviteStatus::Pending),
        Some("expired") => StatusFilter::Only(InviteStatus::Expired),
        _ => StatusFilter::Open,
    }
}

/// The query string a list's "Older" link keeps its filters with.
fn filter_query(status: Option<&str>, tenant_id: Option<i64>, email: Option<&str>) -> String {
    let mut query = String::new();
    if let Some(status @ ("pending" | "expired")) = status {
        query.push_str(&format!("&status={status}"));
    }
    if let Some(id) = tenant_id {
        query.push_str(&format!("&tenant_id={id}"));
    }
    if let Some(email) = email {
        query.push_str(&format!("&email={}", url_encoded(email)));
    }
    query
}

/// An invite whose recipient asked for a fresh link that nobody has sent yet.
pub struct RenewalRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub tenant: String,
    pub asked: String,
}

/// The renewal requests (delivery.md §11) in the actor's scope, optionally of one tenant:
/// Pending invites and Team list them with **Re-issue**.
pub async fn renewal_requests(
    app: &AppState,
    member: &Member,
    tenant: Option<TenantId>,
) -> Result<Vec<RenewalRow>, Error> {
    let actor = &member.signed_in.actor;
    let names = tenant_names(&app.tether.list_tenants(actor).await?);
    let query = InviteQuery {
        status: StatusFilter::All,
        tenant_id: tenant,
        renewal_requested: true,
        page: PageRequest {
            before_id: None,
            limit: MAX_LIMIT,
        },
        ..InviteQuery::default()
    };
    let page = app.tether.list_invites(actor, query).await?;
    Ok(page
        .items
        .into_iter()
        .map(|i| RenewalRow {
            id: i.id.0,
            email: i
                .email
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            role: i.role.label(),
            tenant: names.get(&i.tenant_id.0).cloned().unwrap_or_default(),
            asked: i
                .renewal_requested_at
                .map(|at| at.to_date_time_from(app.tether.now()))
                .unwrap_or_default(),
        })
        .collect())
}

/// An invite e-mail's delivery as the pending lists say it.
pub fn delivery_text(delivery: &Delivery) -> (&'static str, String) {
    let text = match delivery.state {
        MessageState::Queued if delivery.attempts > 0 => {
            String::from("E-mail waiting to be retried")
        }
        MessageState::Queued => String::from("E-mail queued"),
        MessageState::Sending => String::from("E-mail being sent"),
        MessageState::Sent => match delivery.sent_at {
            Some(at) => format!("E-mailed {}", at.to_date_time()),
            None => String::from("E-mailed"),
        },
        MessageState::Failed => format!(
            "E-mail failed: {}",
            delivery
                .last_error
                .as_deref()
                .unwrap_or("the mail server did not accept it.")
        ),
    };
    (delivery.state.as_str(), text)
}

/// A list page's place: `?cursor=` as the API's lists take it.
#[derive(Debug, Default, Deserialize)]
pub struct ListPlace {
    pub cursor: Option<String>,
}

/// Where in Pending invites a page starts, and which client's invites it shows.
#[derive(Debug, Deserialize)]
pub struct InvitesPlace {
    pub cursor: Option<String>,
    /// `pending` or `expired`; both when absent.
    pub status: Option<String>,
    /// Empty when the filter's "All tenants" is chosen.
    pub tenant_id: Option<String>,
    pub email: Option<String>,
}

/// `GET /users/invites`: **Pending Invites** across all tenants, expired ones too.
pub async fn pending_invites(
    State(app): State<AppState>,
    Staff(member): Staff,
    Query(place): Query<InvitesPlace>,
) -> Response {
    let tenant_id = place
        .tenant_id
        .as_deref()
        .and_then(|id| id.trim().parse().ok());
    let tenant = tenant_id.map(TenantId);
    let email = place.email.clone().filter(|typed| !typed.trim().is_empty());
    let tenants = match app.tether.list_tenants(&member.signed_in.actor).await {
        Ok(tenants) => tenants,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let cursor = place.cursor.as_deref();
    let status = place
        .status
        .as_deref()
        .filter(|s| ["pending", "expired"].contains(s));
    let search = OpenSearch {
        status: open_status(status),
        tenant,
        email: email.clone(),
    };
    let listed = match open_invites(&app, &member, search, cursor).await {
        Ok(listed) => renewal_requests(&app, &member, None)
            .await
            .map(|requests| (listed, requests)),
        Err(error) => Err(error),
    };
    let counted = async {
        let mut counts = Vec::new();
        for (value, label) in [("pending", "pending"), ("expired", "expired")] {
            let query = InviteQuery {
                status: open_status(Some(value)),
                tenant_id: tenant,
                email: email.clone(),
                ..InviteQuery::default()
            };
            let count = app
                .tether
                .count_invites(&member.signed_in.actor, query)
                .await?;
            let href = format!(
                "/users/invites?{}",
                filter_query(Some(value), tenant_id, email.as_deref())
            );
            counts.push((count, label, href));
        }
        Ok::<_, Error>(counts)
    }
    .await;
    match (listed, counted) {
        (Ok(((invites, older), requests)), Ok(counts)) => {
            let template = InvitesPage {
                frame: wide(member.frame("/users/invites")),
                heading: "Pending invites",
                invites,
                older,
                filter_query: filter_query(status, tenant_id, email.as_deref()),
                tenants: tenant_choices(&tenants, tenant_id),
                statuses: [
                    ("", "Pending and expired"),
                    ("pending", "Pending"),
                    ("expired", "Expired"),
                ]
                .into_iter()
                .map(|(value, label)| (value, label, status.unwrap_or("") == value))
                .collect(),
                counts,
                email: email.unwrap_or_default(),
                show_tenant: true,
                can_reissue: true,
                action_base: "/users/invites",
                requests,
                mail_enabled: app.tether.mail_enabled(),
            };
            member.page(StatusCode::OK, &template)
        }
        (Err(error), _) | (_, Err(error)) => refusal(&member.tenant, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf_token: String,
    /// On **Send again**: e-mail the fresh link.
    #[serde(default)]
    pub send_email: Option<String>,
}

/// `POST /users/invites/{id}/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refusal;
    }
    match app
        .tether
        .revoke_invite(&member.signed_in.actor, InviteId(id))
        .await
    {
        Ok(()) => redirect("/users/invites"),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /users/invites/{id}/reissue` → the new link.
pub async fn reissue(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refusal;
    }
    let actor = &member.signed_in.actor;
    let send_email = form.send_email.is_some();
    match app
        .tether
        .reissue_invite(actor, InviteId(id), None, send_email)
        .await
    {
        Ok(issued) => {
            let tenant_name = app
                .tether
                .tenant(actor, issued.invite.tenant_id)
                .await
                .map(|t| t.name.to_string())
                .unwrap_or_default();
            link_page(
                &member,
                "/users/invites",
                &issued,
                tenant_name,
                ("/users/invites", "Back to pending invites"),
            )
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}
