//! The MSP console on the base host: dashboard, clients, users, pending invites, audit. Each
//! handler parses the form, calls one domain operation as the signed-in member, and renders.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequestParts, Multipart, State};
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Deserialize;

use super::activity::{row, EventRow, Links};
use super::member::Member;
use super::{invite_page_headers, message, refusal, Frame};
use super::{Form, Path, Query};
use crate::domain::actor::Action;
use crate::domain::audit::AuditQuery;
use crate::domain::error::{sentence, Error};
use crate::domain::invite::{
    Expiry, InviteId, InviteQuery, InviteStatus, IssuedInvite, NewInvite, StatusFilter,
};
use crate::domain::outbox::{Delivery, State as MessageState};
use crate::domain::page::{PageRequest, MAX_LIMIT};
use crate::domain::role::Role;
use crate::domain::tenant::{
    NewTenant, Tenant, TenantChanges, TenantId, TenantKind, TenantSummary,
};
use crate::domain::user::UserQuery;
use crate::domain::Tether;
use crate::http::host::Site;
use crate::http::AppState;

/// Someone signed in on the MSP's base host. The console's pages do not exist on a client's
/// host: there they are "not found", before anyone is asked to sign in.
pub struct Staff(pub Member);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Site(site) = Site::from_request_parts(parts, app).await?;
        if site.kind != TenantKind::Msp {
            return Err(refusal(&site, &Error::NotFound("page")));
        }
        Member::from_request_parts(parts, app).await.map(Staff)
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

pub fn wide(mut frame: Frame) -> Frame {
    frame.wide = true;
    frame
}

/// A tenant filter's options, with the chosen one marked.
pub fn tenant_choices(tenants: &[TenantSummary], chosen: Option<i64>) -> Vec<(i64, String, bool)> {
    tenants
        .iter()
        .map(|t| {
            (
                t.tenant.id.0,
                t.tenant.name.to_string(),
                Some(t.tenant.id.0) == chosen,
            )
        })
        .collect()
}

fn tenant_names(tenants: &[TenantSummary]) -> HashMap<i64, String> {
    tenants
        .iter()
        .map(|t| (t.tenant.id.0, t.tenant.name.to_string()))
        .collect()
}

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
        Ok(page) => page
            .items
            .into_iter()
            .map(|e| {
                let links = Links::Console {
                    msp: member.tenant.id,
                };
                row(e, now, links)
            })
            .collect(),
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

/// Why a client form could not be read: its status (`413` when it is too large) and a
/// sentence.
struct Unreadable(StatusCode, String);

async fn read_client_fields(mut multipart: Multipart) -> Result<ClientFields, Unreadable> {
    let mut fields = ClientFields::default();
    let unreadable = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Unreadable(
            StatusCode::PAYLOAD_TOO_LARGE,
            String::from("The form is too large: a logo can be at most 512 KiB."),
        ),
        status => Unreadable(
            status,
            format!("The form could not be read: {}", e.body_text()),
        ),
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "logo" {
            let bytes = field.bytes().await.map_err(unreadable)?;
            if !bytes.is_empty() {
                fields.logo = Some(bytes.to_vec());
            }
            continue;
        }
        let value = field.text().await.map_err(unreadable)?;
        match name.as_str() {
            "csrf_token" => fields.csrf_token = value,
            "name" => fields.name = value,
            "slug" => fields.slug = value,
            "accent_colour" => fields.accent_colour = value,
            "invite_reminders" => fields.invite_reminders = true,
            "allowed_email_domains" => fields.allowed_email_domains = value,
            _ => {}
        }
    }
    Ok(fields)
}

/// The sentences a form shows for a refused submission.
pub fn field_messages(error: &Error) -> Vec<String> {
    match error {
        Error::Validation(fields) => fields.iter().map(|f| f.message.clone()).collect(),
        Error::Logo(refusal) => vec![sentence(&format!("the logo was refused: {refusal}"))],
        Error::Conflict(conflict) => vec![sentence(&conflict.to_string())],
        _ => Vec::new(),
    }
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

/// `POST /clients/new`: the client, its colour and its logo, in one step.
pub async fn create_client(
    State(app): State<AppState>,
    Staff(member): Staff,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let fields = match read_client_fields(multipart).await {
        Ok(fields) => fields,
        Err(Unreadable(status, problem)) => {
            return message(
                status,
                &member.tenant,
                "The form could not be read",
                &problem,
                Some(("/clients/new", "Try again")),
            )
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
        Err(Unreadable(status, problem)) => {
            return message(
                status,
                &member.tenant,
                "The form could not be read",
                &problem,
                None,
            )
        }
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

#[derive(Template)]
#[template(path = "invite_form.html")]
struct InviteFormPage {
    frame: Frame,
    heading: String,
    action: String,
    email: String,
    name: String,
    /// `Some` on the Users page's form, which chooses between MSP staff and a client.
    clients: Option<Vec<(i64, String, bool)>>,
    msp_staff: bool,
    tenant_id: i64,
    roles: Vec<(i64, &'static str, bool)>,
    expiries: Vec<(u32, &'static str, bool)>,
    errors: Vec<String>,
    mail_enabled: bool,
    send_email: bool,
}

/// The role and expiry choices, with the one chosen marked.
pub fn role_choices(roles: &[Role], chosen: Option<i64>) -> Vec<(i64, &'static str, bool)> {
    let chosen = chosen.unwrap_or_else(|| roles.last().map_or(0, |r| r.id()));
    roles
        .iter()
        .map(|r| (r.id(), r.label(), r.id() == chosen))
        .collect()
}

pub fn expiry_choices(chosen: Option<u32>) -> Vec<(u32, &'static str, bool)> {
    let chosen = chosen.unwrap_or(Expiry::DEFAULT.hours());
    Expiry::CHOICES
        .iter()
        .map(|e| (e.hours(), e.label(), e.hours() == chosen))
        .collect()
}

/// The invite form as posted (field names are the API's).
#[derive(Debug, Default, Deserialize)]
pub struct InviteFields {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role_id: String,
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub expires_hours: String,
    #[serde(default)]
    pub msp_staff: Option<String>,
    /// The "Send the link by e-mail" checkbox: present when checked.
    #[serde(default)]
    pub send_email: Option<String>,
}

impl InviteFields {
    /// An empty form: "Send the link by e-mail" is checked when e-mail is set up.
    pub fn fresh(tether: &Tether) -> Self {
        Self {
            send_email: tether.mail_enabled().then(|| String::from("1")),
            ..Self::default()
        }
    }

    pub fn to_new_invite(&self, tenant_id: i64) -> NewInvite {
        NewInvite {
            email: self.email.clone(),
            name: Some(self.name.clone()),
            // A value that is not a number names no role or expiry: the domain says so.
            role_id: self.role_id.trim().parse().unwrap_or(0),
            tenant_id,
            expires_hours: Some(self.expires_hours.trim().parse().unwrap_or(0)),
            send_email: self.send_email.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "invite_link.html")]
struct InviteLinkPage {
    frame: Frame,
    email: String,
    role_label: &'static str,
    tenant_name: String,
    link: String,
    expires: String,
    back_href: String,
    back_label: &'static str,
    /// The link is also on its way by e-mail.
    emailed: bool,
}

/// The page that shows a new link once, never cached.
pub fn link_page(
    member: &Member,
    current: &str,
    issued: &IssuedInvite,
    tenant_name: String,
    back: (&str, &'static str),
) -> Response {
    let template = InviteLinkPage {
        frame: member.frame(current),
        email: issued
            .invite
            .email
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        role_label: issued.invite.role.label(),
        tenant_name,
        link: issued.link.clone(),
        expires: issued.invite.expires_at.to_date_time(),
        back_href: back.0.to_owned(),
        back_label: back.1,
        emailed: issued.invite.delivery.is_some(),
    };
    (
        invite_page_headers(),
        member.page(StatusCode::CREATED, &template),
    )
        .into_response()
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
        filters.push_str(&format!(
            "&search={}",
            percent_encoding::utf8_percent_encode(&search, percent_encoding::NON_ALPHANUMERIC)
        ));
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

/// The query string a list's "Older" link keeps its filters with.
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

fn filter_query(status: Option<&str>, tenant_id: Option<i64>, email: Option<&str>) -> String {
    let mut query = String::new();
    if let Some(status @ ("pending" | "expired")) = status {
        query.push_str(&format!("&status={status}"));
    }
    if let Some(id) = tenant_id {
        query.push_str(&format!("&tenant_id={id}"));
    }
    if let Some(email) = email {
        query.push_str(&format!(
            "&email={}",
            percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC)
        ));
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
