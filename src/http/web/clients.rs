//! **Clients**: the list with each client's logo, users and pending invites; a new client
//! with its colour and logo in one step; a client's settings; and an invite into a client.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::console::{field_messages, redirect, wide, Staff};
use super::invite_form::{expiry_choices, link_page, role_choices, InviteFields, InviteFormPage};
use super::member::Member;
use super::{message, read_upload, refusal, Frame, Unreadable};
use super::{Form, Path};
use crate::domain::actor::Action;
use crate::domain::error::Error;
use crate::domain::role::Role;
use crate::domain::tenant::{NewTenant, Tenant, TenantChanges, TenantId, TenantKind};
use crate::http::AppState;

struct ClientRow {
    id: i64,
    name: String,
    /// Its logo's address (versioned, so cached for long), when it has one.
    logo: Option<String>,
    address: String,
    users: i64,
    pending: i64,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    frame: Frame,
    clients: Vec<ClientRow>,
    can_manage: bool,
    can_invite: bool,
}

/// `GET /clients`.
pub async fn clients(State(app): State<AppState>, Staff(member): Staff) -> Response {
    let tenants = match app.tether.list_tenants(&member.signed_in.actor).await {
        Ok(tenants) => tenants,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let clients = tenants
        .iter()
        .filter(|t| t.tenant.kind == TenantKind::Client)
        .map(|t| ClientRow {
            id: t.tenant.id.0,
            name: t.tenant.name.to_string(),
            logo: t.tenant.logo_etag.as_ref().map(|etag| {
                format!(
                    "/api/tenants/{}/logo?v={}",
                    t.tenant.id.0,
                    etag.trim_matches('"')
                )
            }),
            address: app.tether.tenant_origin(&t.tenant),
            users: t.active_users,
            pending: t.pending_invites,
        })
        .collect();
    let template = ClientsPage {
        frame: wide(member.frame("/clients")),
        clients,
        can_manage: member.may(Action::ManageTenants),
        can_invite: member.may(Action::Invite),
    };
    member.page(StatusCode::OK, &template)
}

#[derive(Template)]
#[template(path = "client_form.html")]
struct ClientFormPage {
    frame: Frame,
    heading: String,
    action: String,
    submit: &'static str,
    show_slug: bool,
    name: String,
    slug: String,
    accent_colour: String,
    address_example: String,
    has_logo: bool,
    /// On the edit form: whether invite reminders are on.
    invite_reminders: Option<bool>,
    /// As typed, or the stored list joined by commas.
    allowed_email_domains: String,
    /// On the edit form: how many pending invites the list leaves outside, and where they
    /// are listed.
    outside: usize,
    outside_link: String,
    errors: Vec<String>,
    notice: Option<String>,
}

/// The fields of the client form, read from its multipart body.
#[derive(Default)]
struct ClientFields {
    csrf_token: String,
    name: String,
    slug: String,
    accent_colour: String,
    logo: Option<Vec<u8>>,
    /// The edit form's reminders checkbox: sent only when checked.
    invite_reminders: bool,
    allowed_email_domains: String,
}

async fn read_client_fields(multipart: Multipart) -> Result<ClientFields, Unreadable> {
    let too_large = "The form is too large: a logo can be at most 512 KiB.";
    let mut form = read_upload(multipart, "logo", too_large).await?;
    Ok(ClientFields {
        invite_reminders: form.fields.contains_key("invite_reminders"),
        csrf_token: form.take("csrf_token"),
        name: form.take("name"),
        slug: form.take("slug"),
        accent_colour: form.take("accent_colour"),
        allowed_email_domains: form.take("allowed_email_domains"),
        logo: form.file,
    })
}

fn new_client_form(
    app: &AppState,
    member: &Member,
    fields: ClientFields,
    errors: Vec<String>,
) -> ClientFormPage {
    ClientFormPage {
        frame: member.frame("/clients"),
        heading: String::from("New client"),
        action: String::from("/clients/new"),
        submit: "Create client",
        show_slug: true,
        name: fields.name,
        slug: fields.slug,
        accent_colour: if fields.accent_colour.is_empty() {
            String::from("#2563EB")
        } else {
            fields.accent_colour
        },
        address_example: app
            .tether
            .base_url()
            .tenant_origin(None)
            .replacen("://", "://acme.", 1),
        has_logo: false,
        invite_reminders: None,
        allowed_email_domains: fields.allowed_email_domains,
        outside: 0,
        outside_link: String::new(),
        errors,
        notice: None,
    }
}

/// `GET /clients/new`.
pub async fn new_client_page(State(app): State<AppState>, Staff(member): Staff) -> Response {
    let template = new_client_form(&app, &member, ClientFields::default(), Vec::new());
    member.page(StatusCode::OK, &template)
}

/// The page for a client form that could not be read (too large, or not a form).
fn unreadable_form(
    member: &Member,
    Unreadable(status, problem): Unreadable,
    back: Option<(&str, &str)>,
) -> Response {
    let title = "The form could not be read";
    message(status, &member.tenant, title, &problem, back)
}

/// `POST /clients/new`: the client, its colour and its logo, in one step.
pub async fn create_client(
    State(app): State<AppState>,
    Staff(member): Staff,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let fields = match read_client_fields(multipart).await {
        Ok(fields) => fields,
        Err(unreadable) => {
            return unreadable_form(&member, unreadable, Some(("/clients/new", "Try again")))
        }
    };
    if let Some(refusal) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refusal;
    }
    let input = NewTenant {
        name: fields.name.clone(),
        slug: fields.slug.clone(),
        accent_colour: Some(fields.accent_colour.clone()).filter(|c| !c.is_empty()),
        logo: fields.logo.clone(),
        allowed_email_domains: domain_entries(&fields.allowed_email_domains),
    };
    match app
        .tether
        .create_tenant(&member.signed_in.actor, input)
        .await
    {
        Ok(_) => redirect("/clients"),
        Err(error @ (Error::Validation(_) | Error::Logo(_) | Error::Conflict(_))) => {
            let template = new_client_form(&app, &member, fields, field_messages(&error));
            member.page(StatusCode::UNPROCESSABLE_ENTITY, &template)
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// The entries of a list of domains typed in one box.
fn domain_entries(typed: &str) -> Vec<String> {
    typed
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A client's settings: as stored, or with `typed` domains when a refused list is shown
/// again; `outside` counts the pending invites its list no longer admits.
struct ClientSettings<'a> {
    tenant: &'a Tenant,
    typed_domains: Option<String>,
    outside: usize,
}

fn edit_client_form(
    app: &AppState,
    member: &Member,
    settings: ClientSettings<'_>,
    errors: Vec<String>,
    notice: Option<String>,
) -> ClientFormPage {
    let tenant = settings.tenant;
    ClientFormPage {
        frame: member.frame("/clients"),
        heading: format!("Edit {}", tenant.name),
        action: format!("/clients/{}", tenant.id.0),
        submit: "Save changes",
        show_slug: false,
        name: tenant.name.to_string(),
        slug: tenant
            .slug
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        accent_colour: tenant.accent_colour.as_str().to_lowercase(),
        address_example: app.tether.tenant_origin(tenant),
        has_logo: tenant.logo_etag.is_some(),
        invite_reminders: Some(tenant.invite_reminders),
        allowed_email_domains: settings
            .typed_domains
            .unwrap_or_else(|| tenant.allowed_email_domains.entries().join(", ")),
        outside: settings.outside,
        outside_link: format!("/users/invites?tenant_id={}", tenant.id.0),
        errors,
        notice,
    }
}

/// A client's settings as stored, with how many pending invites its list leaves outside.
async fn client_settings_page(
    app: &AppState,
    member: &Member,
    tenant: &Tenant,
    status: StatusCode,
    notice: Option<String>,
) -> Response {
    let outside = match app
        .tether
        .pending_invites_outside(&member.signed_in.actor, tenant.id)
        .await
    {
        Ok(outside) => outside,
        Err(error) => return refusal(&member.tenant, &error),
    };
    let settings = ClientSettings {
        tenant,
        typed_domains: None,
        outside,
    };
    let template = edit_client_form(app, member, settings, Vec::new(), notice);
    member.page(status, &template)
}

/// `GET /clients/{id}`.
pub async fn edit_client_page(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
) -> Response {
    match app
        .tether
        .client(&member.signed_in.actor, TenantId(id))
        .await
    {
        Ok(tenant) => client_settings_page(&app, &member, &tenant, StatusCode::OK, None).await,
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /clients/{id}`: name, colour and (if a file was chosen) logo.
pub async fn update_client(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let fields = match read_client_fields(multipart).await {
        Ok(fields) => fields,
        Err(unreadable) => return unreadable_form(&member, unreadable, None),
    };
    if let Some(refusal) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refusal;
    }
    let actor = &member.signed_in.actor;
    let changes = TenantChanges {
        name: Some(fields.name.clone()),
        accent_colour: Some(fields.accent_colour.clone()).filter(|c| !c.is_empty()),
        logo: fields.logo,
        invite_reminders: Some(fields.invite_reminders),
        allowed_email_domains: Some(domain_entries(&fields.allowed_email_domains)),
    };
    match app.tether.update_client(actor, TenantId(id), changes).await {
        Ok(tenant) => {
            let saved = Some(String::from("Saved."));
            client_settings_page(&app, &member, &tenant, StatusCode::OK, saved).await
        }
        Err(error @ (Error::Validation(_) | Error::Logo(_))) => {
            match app.tether.client(actor, TenantId(id)).await {
                Ok(tenant) => {
                    let settings = ClientSettings {
                        tenant: &tenant,
                        typed_domains: Some(fields.allowed_email_domains),
                        outside: 0,
                    };
                    let template =
                        edit_client_form(&app, &member, settings, field_messages(&error), None);
                    member.page(StatusCode::UNPROCESSABLE_ENTITY, &template)
                }
                Err(error) => refusal(&member.tenant, &error),
            }
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

fn client_invite_form(
    app: &AppState,
    member: &Member,
    client: &Tenant,
    fields: &InviteFields,
    errors: Vec<String>,
) -> InviteFormPage {
    InviteFormPage {
        frame: member.frame("/clients"),
        heading: format!("Invite someone to {}", client.name),
        action: format!("/clients/{}/invite", client.id.0),
        email: fields.email.clone(),
        name: fields.name.clone(),
        clients: None,
        msp_staff: false,
        tenant_id: client.id.0,
        roles: role_choices(
            &Role::grantable_by(&member.signed_in.actor, TenantKind::Client),
            fields.role_id.parse().ok(),
        ),
        expiries: expiry_choices(fields.expires_hours.parse().ok()),
        errors,
        mail_enabled: app.tether.mail_enabled(),
        send_email: fields.send_email.is_some(),
    }
}

/// `GET /clients/{id}/invite`.
pub async fn client_invite_page(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
) -> Response {
    match app
        .tether
        .tenant(&member.signed_in.actor, TenantId(id))
        .await
    {
        Ok(client) => {
            let template = client_invite_form(
                &app,
                &member,
                &client,
                &InviteFields::fresh(&app.tether),
                Vec::new(),
            );
            member.page(StatusCode::OK, &template)
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /clients/{id}/invite` → the link page.
pub async fn client_invite(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(fields): Form<InviteFields>,
) -> Response {
    if let Some(refusal) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refusal;
    }
    let client = match app
        .tether
        .tenant(&member.signed_in.actor, TenantId(id))
        .await
    {
        Ok(client) => client,
        Err(error) => return refusal(&member.tenant, &error),
    };
    match app
        .tether
        .create_invite(&member.signed_in.actor, fields.to_new_invite(id))
        .await
    {
        Ok(issued) => link_page(
            &member,
            "/clients",
            &issued,
            client.name.to_string(),
            ("/clients", "Back to clients"),
        ),
        Err(error @ (Error::Validation(_) | Error::Conflict(_))) => {
            let template =
                client_invite_form(&app, &member, &client, &fields, field_messages(&error));
            member.page(StatusCode::UNPROCESSABLE_ENTITY, &template)
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}
