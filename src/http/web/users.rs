//! **Users**: everyone with an account, searched by address or name and filtered by tenant
//! and role; and the invite form for MSP staff.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::console::{field_messages, tenant_choices, tenant_names, wide, Staff};
use super::invite_form::{expiry_choices, link_page, role_choices, InviteFields, InviteFormPage};
use super::member::Member;
use super::{refusal, url_encoded, Frame};
use super::{Form, Query};
use crate::domain::actor::Action;
use crate::domain::error::Error;
use crate::domain::page::PageRequest;
use crate::domain::role::Role;
use crate::domain::tenant::{TenantId, TenantKind};
use crate::domain::user::UserQuery;
use crate::http::AppState;

struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    tenant: String,
    status: &'static str,
    /// Whether the viewer may make this user a password reset link.
    can_reset: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    frame: Frame,
    users: Vec<UserRow>,
    tenants: Vec<(i64, String, bool)>,
    /// The role filter's choices: (id, label, chosen).
    roles: Vec<(i64, &'static str, bool)>,
    search: String,
    /// The filters as a query string, for Older.
    filters: String,
    older: Option<String>,
    can_invite: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersFilter {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    search: String,
    cursor: Option<String>,
}

/// `GET /users`, filterable by tenant.
pub async fn users(
    State(app): State<AppState>,
    Staff(member): Staff,
    Query(filter): Query<UsersFilter>,
) -> Response {
    let actor = &member.signed_in.actor;
    let chosen: Option<i64> = filter.tenant.parse().ok();
    let role = filter.role.parse().ok().and_then(Role::from_id);
    let search = filter.search.trim().to_owned();
    let tenants = match app.tether.list_tenants(actor).await {
        Ok(tenants) => tenants,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let names = tenant_names(&tenants);
    let query = UserQuery {
        tenant_id: chosen.map(TenantId),
        role,
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        page: PageRequest::parse(filter.cursor.as_deref(), None).unwrap_or_default(),
        ..UserQuery::default()
    };
    let listed = match app.tether.list_users(actor, query).await {
        Ok(page) => page,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let mut filters = String::new();
    if let Some(id) = chosen {
        filters.push_str(&format!("&tenant={id}"));
    }
    if let Some(role) = role {
        filters.push_str(&format!("&role={}", role.id()));
    }
    if !search.is_empty() {
        filters.push_str(&format!("&search={}", url_encoded(&search)));
    }
    let template = UsersPage {
        frame: wide(member.frame("/users")),
        users: listed
            .items
            .into_iter()
            .map(|u| UserRow {
                id: u.id.0,
                name: u.name.to_string(),
                email: u.email.to_string(),
                role: u.role.label(),
                tenant: names.get(&u.tenant_id.0).cloned().unwrap_or_default(),
                status: if u.active { "Active" } else { "Deactivated" },
                can_reset: u.active && actor.may_change_user(u.role),
            })
            .collect(),
        tenants: tenant_choices(&tenants, chosen),
        roles: Role::ALL
            .iter()
            .map(|r| (r.id(), r.label(), Some(*r) == role))
            .collect(),
        search,
        filters,
        older: listed.next_cursor,
        can_invite: member.may(Action::Invite),
    };
    member.page(StatusCode::OK, &template)
}

async fn staff_invite_form(
    app: &AppState,
    member: &Member,
    fields: &InviteFields,
    errors: Vec<String>,
) -> Result<InviteFormPage, Error> {
    let tenants = app.tether.list_tenants(&member.signed_in.actor).await?;
    let chosen: Option<i64> = fields.tenant_id.parse().ok();
    let clients = tenants
        .iter()
        .filter(|t| t.tenant.kind == TenantKind::Client)
        .map(|t| {
            (
                t.tenant.id.0,
                t.tenant.name.to_string(),
                Some(t.tenant.id.0) == chosen,
            )
        })
        .collect();
    Ok(InviteFormPage {
        frame: member.frame("/users"),
        heading: String::from("Invite a user"),
        action: String::from("/users/invite"),
        email: fields.email.clone(),
        name: fields.name.clone(),
        clients: Some(clients),
        msp_staff: fields.msp_staff.is_some(),
        tenant_id: 0,
        roles: role_choices(
            &[TenantKind::Msp, TenantKind::Client]
                .into_iter()
                .flat_map(|kind| Role::grantable_by(&member.signed_in.actor, kind))
                .collect::<Vec<_>>(),
            fields.role_id.parse().ok(),
        ),
        expiries: expiry_choices(fields.expires_hours.parse().ok()),
        errors,
        mail_enabled: app.tether.mail_enabled(),
        send_email: fields.send_email.is_some(),
    })
}

/// `GET /users/invite`: the form with the **MSP Staff** checkbox.
pub async fn staff_invite_page(State(app): State<AppState>, Staff(member): Staff) -> Response {
    match staff_invite_form(&app, &member, &InviteFields::fresh(&app.tether), Vec::new()).await {
        Ok(template) => member.page(StatusCode::OK, &template),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /users/invite`: MSP staff join the MSP; everyone else the chosen client.
pub async fn staff_invite(
    State(app): State<AppState>,
    Staff(member): Staff,
    headers: HeaderMap,
    Form(fields): Form<InviteFields>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refusal;
    }
    let tenant_id = if fields.msp_staff.is_some() {
        member.tenant.id.0
    } else {
        fields.tenant_id.trim().parse().unwrap_or(0)
    };
    match app
        .tether
        .create_invite(&member.signed_in.actor, fields.to_new_invite(tenant_id))
        .await
    {
        Ok(issued) => {
            let tenant_name = match app
                .tether
                .tenant(&member.signed_in.actor, issued.invite.tenant_id)
                .await
            {
                Ok(tenant) => tenant.name.to_string(),
                Err(_) => String::new(),
            };
            link_page(
                &member,
                "/users",
                &issued,
                tenant_name,
                ("/users", "Back to users"),
            )
        }
        Err(error @ (Error::Validation(_) | Error::Conflict(_))) => {
            match staff_invite_form(&app, &member, &fields, field_messages(&error)).await {
                Ok(template) => member.page(StatusCode::UNPROCESSABLE_ENTITY, &template),
                Err(error) => refusal(&member.tenant, &error),
            }
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}
