//! **Invite many** (delivery.md §12): a CSV uploaded or pasted, a preview of what each row
//! will do (the domain's dry run), then the invites created and their links shown once, with
//! Copy and an `email,link` CSV download. MSP staff reach it from a client
//! (`/clients/{id}/invite-many`), client admins from Team (`/team/invite-many`).

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::console::{field_messages, wide, Staff};
use super::invite_form::{expiry_choices, role_choices};
use super::member::Member;
use super::{
    invite_page_headers, message, read_upload, refusal, url_encoded, Frame, Path, Unreadable,
};
use crate::domain::actor::Action;
use crate::domain::batch::{BatchRow, InviteBatch, RowOutcome, RowRole};
use crate::domain::batch_file::{read_batch_file, FileRow, MAX_FILE_BYTES};
use crate::domain::error::{sentence, Error};
use crate::domain::role::Role;
use crate::domain::tenant::{Tenant, TenantId};
use crate::http::AppState;

/// The largest form read: the file, or the same text pasted and then carried to the second
/// step, with room for the other fields.
pub const MAX_FORM_BYTES: usize = 2 * MAX_FILE_BYTES + 64 * 1024;

/// The form's fields, from its multipart body.
#[derive(Default)]
struct ListFields {
    csrf_token: String,
    /// The chosen file's bytes, when one was chosen.
    file: Option<Vec<u8>>,
    /// Pasted text, or on the second step the list the preview showed.
    text: String,
    role_id: String,
    expires_hours: String,
    send_email: bool,
    /// `create` on the preview's button; anything else previews.
    step: String,
}

async fn read_fields(multipart: Multipart) -> Result<ListFields, String> {
    let too_large = "The file is larger than 1 MiB; split it into smaller files.";
    let mut form = read_upload(multipart, "file", too_large)
        .await
        .map_err(|Unreadable(_, sentence)| sentence)?;
    Ok(ListFields {
        send_email: form.fields.contains_key("send_email"),
        csrf_token: form.take("csrf_token"),
        text: form.take("text"),
        role_id: form.take("role_id"),
        expires_hours: form.take("expires_hours"),
        step: form.take("step"),
        file: form.file,
    })
}

/// Where the page lives and what it invites into.
struct Place<'a> {
    tenant: &'a Tenant,
    action: String,
    current: &'static str,
    back: (String, &'static str),
}

#[derive(Template)]
#[template(path = "invite_many.html")]
struct ListPage {
    frame: Frame,
    heading: String,
    action: String,
    back_href: String,
    back_label: &'static str,
    roles: Vec<(i64, &'static str, bool)>,
    expiries: Vec<(u32, &'static str, bool)>,
    mail_enabled: bool,
    send_email: bool,
    errors: Vec<String>,
    /// On the preview: the list as read, carried to the second step.
    text: String,
    preview: Vec<PreviewRow>,
    to_create: usize,
}

struct PreviewRow {
    line: u64,
    email: String,
    role: String,
    outcome: String,
    refused: bool,
}

#[derive(Template)]
#[template(path = "invite_many_done.html")]
struct DonePage {
    frame: Frame,
    heading: String,
    back_href: String,
    back_label: &'static str,
    created: Vec<CreatedRow>,
    refused: Vec<PreviewRow>,
    /// `email,link` for every created invite, as a `data:` address: the links are shown this
    /// once and never kept, so the download is the page itself, not another request.
    csv_href: String,
    emailed: bool,
}

struct CreatedRow {
    email: String,
    role: &'static str,
    link: String,
}

fn list_page(
    app: &AppState,
    member: &Member,
    place: &Place<'_>,
    fields: &ListFields,
    errors: Vec<String>,
) -> ListPage {
    ListPage {
        frame: member.frame(place.current),
        heading: format!("Invite many people to {}", place.tenant.name),
        action: place.action.clone(),
        back_href: place.back.0.clone(),
        back_label: place.back.1,
        roles: role_choices(
            &Role::grantable_by(&member.signed_in.actor, place.tenant.kind),
            fields.role_id.trim().parse().ok(),
        ),
        expiries: expiry_choices(fields.expires_hours.trim().parse().ok()),
        mail_enabled: app.tether.mail_enabled(),
        send_email: fields.send_email,
        errors,
        text: String::new(),
        preview: Vec::new(),
        to_create: 0,
    }
}

/// `GET /clients/{id}/invite-many`.
pub async fn client_page(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
) -> Response {
    match app
        .tether
        .client(&member.signed_in.actor, TenantId(id))
        .await
    {
        Ok(client) => {
            let place = client_place(&client);
            let fields = ListFields {
                send_email: app.tether.mail_enabled(),
                ..ListFields::default()
            };
            let page = list_page(&app, &member, &place, &fields, Vec::new());
            member.page(StatusCode::OK, &page)
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /clients/{id}/invite-many`: the preview, or the invites.
pub async fn client_submit(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    match app
        .tether
        .client(&member.signed_in.actor, TenantId(id))
        .await
    {
        Ok(client) => submit(&app, &member, &client_place(&client), &headers, multipart).await,
        Err(error) => refusal(&member.tenant, &error),
    }
}

fn client_place(client: &Tenant) -> Place<'_> {
    Place {
        tenant: client,
        action: format!("/clients/{}/invite-many", client.id.0),
        current: "/clients",
        back: (String::from("/clients"), "Back to clients"),
    }
}

/// `GET /team/invite-many`.
pub async fn team_page(State(app): State<AppState>, member: Member) -> Response {
    if !member.may(Action::Invite) {
        return refusal(&member.tenant, &Error::Forbidden);
    }
    let tenant = member.tenant.clone();
    let place = team_place(&tenant);
    let fields = ListFields {
        send_email: app.tether.mail_enabled(),
        ..ListFields::default()
    };
    let page = list_page(&app, &member, &place, &fields, Vec::new());
    member.page(StatusCode::OK, &page)
}

/// `POST /team/invite-many`.
pub async fn team_submit(
    State(app): State<AppState>,
    member: Member,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    if !member.may(Action::Invite) {
        return refusal(&member.tenant, &Error::Forbidden);
    }
    let tenant = member.tenant.clone();
    submit(&app, &member, &team_place(&tenant), &headers, multipart).await
}

fn team_place(tenant: &Tenant) -> Place<'_> {
    Place {
        tenant,
        action: String::from("/team/invite-many"),
        current: "/team",
        back: (String::from("/team"), "Back to Team"),
    }
}

async fn submit(
    app: &AppState,
    member: &Member,
    place: &Place<'_>,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Response {
    let fields = match read_fields(multipart).await {
        Ok(fields) => fields,
        Err(why) => {
            let back = Some((place.action.as_str(), "Try again"));
            return message(
                StatusCode::BAD_REQUEST,
                &member.tenant,
                "The list could not be read",
                &why,
                back,
            );
        }
    };
    if let Some(refusal) = member.untrusted_form(app, headers, &fields.csrf_token) {
        return refusal;
    }
    let bytes = fields
        .file
        .clone()
        .unwrap_or_else(|| fields.text.clone().into_bytes());
    let rows = match read_batch_file(&bytes) {
        Ok(rows) => rows,
        Err(error) => return refused_list(app, member, place, &fields, &error),
    };
    // The list read is carried to the second step as text; it was read as UTF-8.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let default_role = fields.role_id.trim().parse().ok();
    let dry_run = fields.step != "create";
    let batch = InviteBatch {
        tenant_id: place.tenant.id.0,
        rows: rows.iter().map(|row| row.row.clone()).collect(),
        default_role_id: default_role,
        expires_hours: Some(fields.expires_hours.trim().parse().unwrap_or(0)),
        send_email: fields.send_email,
        dry_run,
    };
    let result = match app.tether.invite_many(&member.signed_in.actor, batch).await {
        Ok(result) => result,
        Err(error @ Error::Validation(_)) => {
            return refused_list(app, member, place, &fields, &error)
        }
        Err(error) => return refusal(&member.tenant, &error),
    };
    let role_of = |row: &BatchRow| match &row.role {
        RowRole::Name(name) => {
            Role::named(name).map_or_else(|| name.clone(), |r| r.label().to_owned())
        }
        RowRole::Id(id) => Role::from_id(*id).map_or_else(String::new, |r| r.label().to_owned()),
        RowRole::Unset => default_role
            .and_then(Role::from_id)
            .map_or_else(String::new, |r| r.label().to_owned()),
    };
    let described = |row: &FileRow, outcome: &RowOutcome| PreviewRow {
        line: row.line,
        email: row.row.email.clone(),
        role: role_of(&row.row),
        outcome: match outcome {
            RowOutcome::WouldCreate { supersedes: None } => String::from("New invite"),
            RowOutcome::WouldCreate {
                supersedes: Some(id),
            } => {
                format!("New invite, replacing invite {}", id.0)
            }
            RowOutcome::Created(_) => String::from("Created"),
            RowOutcome::Refused(error) => refusal_sentence(error),
        },
        refused: outcome.is_refused(),
    };
    if dry_run {
        let preview: Vec<PreviewRow> = rows
            .iter()
            .zip(&result.outcomes)
            .map(|(row, outcome)| described(row, outcome))
            .collect();
        let page = ListPage {
            frame: wide(member.frame(place.current)),
            text,
            to_create: result.outcomes.len() - result.refused(),
            preview,
            ..list_page(app, member, place, &fields, Vec::new())
        };
        return member.page(StatusCode::OK, &page);
    }
    let mut created = Vec::new();
    let mut refused = Vec::new();
    let mut csv = String::from("email,link\r\n");
    for (row, outcome) in rows.iter().zip(&result.outcomes) {
        match outcome {
            RowOutcome::Created(issued) => {
                let email = issued.invite.email.as_ref().map_or("", |e| e.as_str());
                // Addresses and links hold no commas, quotes or line breaks to quote.
                csv.push_str(&format!("{email},{}\r\n", issued.link));
                created.push(CreatedRow {
                    email: email.to_owned(),
                    role: issued.invite.role.label(),
                    link: issued.link.clone(),
                });
            }
            other => refused.push(described(row, other)),
        }
    }
    let page = DonePage {
        frame: wide(member.frame(place.current)),
        heading: format!("Invites for {}", place.tenant.name),
        back_href: place.back.0.clone(),
        back_label: place.back.1,
        emailed: fields.send_email && !created.is_empty(),
        created,
        refused,
        csv_href: format!("data:text/csv;charset=utf-8,{}", url_encoded(&csv)),
    };
    (
        invite_page_headers(),
        member.page(StatusCode::CREATED, &page),
    )
        .into_response()
}

/// The form again, saying why the list as a whole was refused.
fn refused_list(
    app: &AppState,
    member: &Member,
    place: &Place<'_>,
    fields: &ListFields,
    error: &Error,
) -> Response {
    let errors = match field_messages(error) {
        messages if messages.is_empty() => vec![refusal_sentence(error)],
        messages => messages,
    };
    let page = list_page(app, member, place, fields, errors);
    member.page(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// A row's refusal as a person reads it.
fn refusal_sentence(error: &Error) -> String {
    match error {
        Error::Validation(fields) => fields
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join(" "),
        Error::Forbidden => String::from("Your role cannot give this role."),
        other => sentence(&other.to_string()),
    }
}
