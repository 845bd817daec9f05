//! The client portal's Team page: the tenant's users and, for client admins, inviting
//! (roles up to `client_admin`) and revoking the tenant's pending invites.

use askama::Template;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::console::field_messages;
use super::invite_form::{expiry_choices, link_page, role_choices, InviteFields};
use super::member::Member;
use super::pending_invites::{
    open_invites, renewal_requests, ActionForm, InviteRow, ListPlace, OpenSearch, RenewalRow,
};
use super::{refusal, Form, Frame, Path, Query};
use crate::domain::actor::Action;
use crate::domain::error::Error;
use crate::domain::invite::{InviteId, StatusFilter};
use crate::domain::page::{PageRequest, MAX_LIMIT};
use crate::domain::role::Role;
use crate::domain::tenant::TenantKind;
use crate::domain::user::UserQuery;
use crate::http::AppState;

struct MemberRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
    /// Whether the viewer may make this teammate a password reset link.
    can_reset: bool,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    frame: Frame,
    users: Vec<MemberRow>,
    is_admin: bool,
    invites: Vec<InviteRow>,
    requests: Vec<RenewalRow>,
    action_base: &'static str,
    /// The next page's cursor, when there are older invites than these.
    older: Option<String>,
    email: String,
    name: String,
    roles: Vec<(i64, &'static str, bool)>,
    expiries: Vec<(u32, &'static str, bool)>,
    tenant_id: i64,
    errors: Vec<String>,
    mail_enabled: bool,
    send_email: bool,
}

async fn team_page(
    app: &AppState,
    member: &Member,
    fields: &InviteFields,
    errors: Vec<String>,
    cursor: Option<&str>,
) -> Result<TeamPage, Error> {
    let actor = &member.signed_in.actor;
    let query = UserQuery {
        page: PageRequest {
            before_id: None,
            limit: MAX_LIMIT,
        },
        ..UserQuery::default()
    };
    let users = app.tether.list_users(actor, query).await?.items;
    let is_admin = member.may(Action::Invite);
    let (invites, older) = if is_admin {
        open_invites(
            app,
            member,
            OpenSearch {
                status: StatusFilter::Open,
                tenant: Some(member.tenant.id),
                email: None,
            },
            cursor,
        )
        .await?
    } else {
        (Vec::new(), None)
    };
    let requests = if is_admin {
        renewal_requests(app, member, Some(member.tenant.id)).await?
    } else {
        Vec::new()
    };
    Ok(TeamPage {
        frame: member.frame("/team"),
        users: users
            .into_iter()
            .map(|u| MemberRow {
                id: u.id.0,
                name: u.name.to_string(),
                email: u.email.to_string(),
                role: u.role.label(),
                status: if u.active { "Active" } else { "Deactivated" },
                can_reset: u.active && actor.may_change_user(u.role),
            })
            .collect(),
        is_admin,
        invites,
        requests,
        action_base: "/team/invites",
        older,
        email: fields.email.clone(),
        name: fields.name.clone(),
        roles: role_choices(
            &Role::grantable_by(&member.signed_in.actor, TenantKind::Client),
            fields.role_id.parse().ok(),
        ),
        expiries: expiry_choices(fields.expires_hours.parse().ok()),
        tenant_id: member.tenant.id.0,
        errors,
        mail_enabled: app.tether.mail_enabled(),
        send_email: fields.send_email.is_some(),
    })
}

/// `GET /team`.
pub async fn team(
    State(app): State<AppState>,
    member: Member,
    Query(place): Query<ListPlace>,
) -> Response {
    let cursor = place.cursor.as_deref();
    match team_page(
        &app,
        &member,
        &InviteFields::fresh(&app.tether),
        Vec::new(),
        cursor,
    )
    .await
    {
        Ok(template) => member.page(StatusCode::OK, &template),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /team`: invite a teammate into this tenant → the link page.
pub async fn invite(
    State(app): State<AppState>,
    member: Member,
    headers: HeaderMap,
    Form(fields): Form<InviteFields>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refusal;
    }
    // The tenant is always this site's: the form's field cannot point elsewhere.
    let input = fields.to_new_invite(member.tenant.id.0);
    match app
        .tether
        .create_invite(&member.signed_in.actor, input)
        .await
    {
        Ok(issued) => link_page(
            &member,
            "/team",
            &issued,
            member.tenant.name.to_string(),
            ("/team", "Back to your team"),
        ),
        Err(error @ (Error::Validation(_) | Error::Conflict(_))) => {
            match team_page(&app, &member, &fields, field_messages(&error), None).await {
                Ok(template) => member.page(StatusCode::UNPROCESSABLE_ENTITY, &template),
                Err(error) => refusal(&member.tenant, &error),
            }
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /team/invites/{id}/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    member: Member,
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
        Ok(()) => (StatusCode::SEE_OTHER, [(LOCATION, "/team")]).into_response(),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /team/invites/{id}/reissue`: **Send again** → the new link, e-mailed.
pub async fn reissue(
    State(app): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refusal;
    }
    match app
        .tether
        .reissue_invite(
            &member.signed_in.actor,
            InviteId(id),
            None,
            form.send_email.is_some(),
        )
        .await
    {
        Ok(issued) => link_page(
            &member,
            "/team",
            &issued,
            member.tenant.name.to_string(),
            ("/team", "Back to your team"),
        ),
        Err(error) => refusal(&member.tenant, &error),
    }
}
