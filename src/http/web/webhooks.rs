//! **Webhooks** in the MSP console (delivery.md §14), for MSP admins: the endpoints, a form
//! to add one, and each endpoint's page with its settings, **Send test event**, the secret's
//! rotation, turning it off and on, and its delivery log with **Retry**. A secret is shown
//! on a page of its own, once, never cached.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::console::{field_messages, Staff};
use super::member::Member;
use super::{invite_page_headers, refusal, Form, Frame, Path, Query};
use crate::domain::error::Error;
use crate::domain::page::PageRequest;
use crate::domain::tenant::TenantSummary;
use crate::domain::webhook::{
    EventType, EventTypes, NewWebhook, Webhook, WebhookChanges, WebhookDelivery, WebhookId,
};
use crate::domain::webhook_signing::WebhookSecret;
use crate::http::AppState;

/// The endpoint form as submitted: checkboxes repeat their name, which the serde form
/// reader does not gather, so the body is read pair by pair.
#[derive(Default, Clone)]
struct HookFields {
    csrf_token: String,
    url: String,
    description: String,
    events: Vec<String>,
    tenants: Vec<String>,
}

impl HookFields {
    fn read(body: &[u8]) -> Self {
        let mut fields = Self::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf_token" => fields.csrf_token = value,
                "url" => fields.url = value,
                "description" => fields.description = value,
                "event" => fields.events.push(value),
                "tenant" => fields.tenants.push(value),
                _ => {}
            }
        }
        fields
    }

    fn of(hook: &Webhook) -> Self {
        Self {
            csrf_token: String::new(),
            url: hook.url.clone(),
            description: hook.description.clone(),
            events: hook.event_types.names(),
            tenants: hook
                .tenant_ids
                .iter()
                .flatten()
                .map(|id| id.0.to_string())
                .collect(),
        }
    }

    /// Tenant ids as numbers; one that is not a number names no tenant, and the domain says so.
    fn tenant_ids(&self) -> Option<Vec<i64>> {
        (!self.tenants.is_empty()).then(|| {
            self.tenants
                .iter()
                .map(|id| id.parse().unwrap_or(0))
                .collect()
        })
    }
}

struct Choice {
    value: String,
    label: String,
    checked: bool,
}

struct HookForm {
    /// Which URLs this server posts to, for the URL's hint.
    allows: &'static str,
    action: String,
    submit: &'static str,
    url: String,
    description: String,
    all_events: bool,
    events: Vec<Choice>,
    tenants: Vec<Choice>,
}

fn hook_form(
    app: &AppState,
    action: String,
    submit: &'static str,
    fields: &HookFields,
    clients: &[TenantSummary],
) -> HookForm {
    let all_events = fields.events.is_empty() || fields.events.iter().any(|e| e == "*");
    let policy = app.tether.destination_policy();
    let allows = match (policy.allow_http, policy.allow_private) {
        (false, false) => "This server sends webhooks to https:// addresses on the internet.",
        (true, false) => {
            "This server sends webhooks to https:// or http:// addresses on the internet."
        }
        (false, true) => "This server sends webhooks to https:// addresses, private ones included.",
        (true, true) => {
            "This server sends webhooks to https:// or http:// addresses, private ones included."
        }
    };
    HookForm {
        allows,
        action,
        submit,
        url: fields.url.clone(),
        description: fields.description.clone(),
        all_events,
        events: EventType::SUBSCRIBABLE
            .iter()
            .map(|kind| Choice {
                value: kind.name().to_owned(),
                label: kind.name().to_owned(),
                checked: !all_events && fields.events.iter().any(|e| e == kind.name()),
            })
            .collect(),
        tenants: clients
            .iter()
            .map(|client| Choice {
                value: client.tenant.id.0.to_string(),
                label: client.tenant.name.to_string(),
                checked: fields.tenants.contains(&client.tenant.id.0.to_string()),
            })
            .collect(),
    }
}

struct HookRow {
    id: i64,
    url: String,
    description: String,
    events: String,
    state: String,
    on: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    frame: Frame,
    hooks: Vec<HookRow>,
    form: HookForm,
    errors: Vec<String>,
}

struct DeliveryRow {
    id: i64,
    at: String,
    event: String,
    status: String,
    duration: String,
    error: String,
    retryable: bool,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct HookPage {
    frame: Frame,
    id: i64,
    url: String,
    on: bool,
    disabled_reason: Option<String>,
    form: HookForm,
    errors: Vec<String>,
    notice: Option<String>,
    deliveries: Vec<DeliveryRow>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "webhook_secret.html")]
struct SecretPage {
    frame: Frame,
    id: i64,
    url: String,
    secret: String,
    rotated: bool,
}

fn redirect(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response()
}

fn event_list(hook: &Webhook) -> String {
    match &hook.event_types {
        EventTypes::All => String::from("All events"),
        EventTypes::Only(_) => hook.event_types.names().join(", "),
    }
}

fn state_of(hook: &Webhook) -> String {
    match (&hook.enabled, &hook.disabled_reason) {
        (true, _) => String::from("On"),
        (false, Some(reason)) => format!("Off: {reason}"),
        (false, None) => String::from("Off"),
    }
}

async fn clients(app: &AppState, member: &Member) -> Vec<TenantSummary> {
    app.tether
        .list_tenants(&member.signed_in.actor)
        .await
        .unwrap_or_default()
}

async fn list_page(
    app: &AppState,
    member: &Member,
    fields: &HookFields,
    errors: Vec<String>,
) -> Result<ListPage, Error> {
    let hooks = app.tether.list_webhooks(&member.signed_in.actor).await?;
    Ok(ListPage {
        frame: member.frame("/webhooks"),
        hooks: hooks
            .iter()
            .map(|hook| HookRow {
                id: hook.id.0,
                url: hook.url.clone(),
                description: hook.description.clone(),
                events: event_list(hook),
                state: state_of(hook),
                on: hook.enabled,
            })
            .collect(),
        form: hook_form(
            app,
            String::from("/webhooks"),
            "Add webhook",
            fields,
            &clients(app, member).await,
        ),
        errors,
    })
}

/// `GET /webhooks`.
pub async fn list(State(app): State<AppState>, Staff(member): Staff) -> Response {
    match list_page(&app, &member, &HookFields::default(), Vec::new()).await {
        Ok(page) => member.page(StatusCode::OK, &page),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /webhooks`: adds the endpoint and shows its secret, once.
pub async fn create(
    State(app): State<AppState>,
    Staff(member): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = HookFields::read(&body);
    if let Some(refused) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refused;
    }
    let input = NewWebhook {
        url: fields.url.clone(),
        description: fields.description.clone(),
        event_types: fields.events.clone(),
        tenant_ids: fields.tenant_ids(),
        enabled: true,
    };
    match app
        .tether
        .create_webhook(&member.signed_in.actor, input)
        .await
    {
        Ok(created) => secret_page(&member, &created.webhook, &created.secret, false),
        Err(error @ Error::Validation(_)) => {
            match list_page(&app, &member, &fields, field_messages(&error)).await {
                Ok(page) => member.page(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(error) => refusal(&member.tenant, &error),
            }
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

fn secret_page(member: &Member, hook: &Webhook, secret: &WebhookSecret, rotated: bool) -> Response {
    let page = SecretPage {
        frame: member.frame("/webhooks"),
        id: hook.id.0,
        url: hook.url.clone(),
        secret: secret.expose().to_owned(),
        rotated,
    };
    // Shown once: never cached, never sent on as a referrer.
    (invite_page_headers(), member.page(StatusCode::OK, &page)).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct LogPlace {
    pub cursor: Option<String>,
    /// What a button just did: `test` or `retry`.
    pub done: Option<String>,
}

impl LogPlace {
    fn notice(&self) -> Option<String> {
        let said = match self.done.as_deref()? {
            "test" => "A webhook.test event is on its way; its delivery appears in the log below.",
            "retry" => "The event is being sent again; its delivery appears in the log below.",
            _ => return None,
        };
        Some(said.to_owned())
    }
}

async fn hook_page(
    app: &AppState,
    member: &Member,
    id: WebhookId,
    edited: Option<&HookFields>,
    errors: Vec<String>,
    notice: Option<String>,
    cursor: Option<&str>,
) -> Result<HookPage, Error> {
    let actor = &member.signed_in.actor;
    let hook = app.tether.webhook(actor, id).await?;
    let page = PageRequest::parse(cursor, None).unwrap_or_default();
    let log = app.tether.webhook_deliveries(actor, id, page).await?;
    let now = app.tether.now();
    let fields = edited.cloned().unwrap_or_else(|| HookFields::of(&hook));
    Ok(HookPage {
        frame: super::console::wide(member.frame("/webhooks")),
        id: hook.id.0,
        url: hook.url.clone(),
        on: hook.enabled,
        disabled_reason: hook.disabled_reason.clone(),
        form: hook_form(
            app,
            format!("/webhooks/{}", hook.id.0),
            "Save changes",
            &fields,
            &clients(app, member).await,
        ),
        errors,
        notice,
        deliveries: log.items.iter().map(|d| delivery_row(d, now)).collect(),
        older: log.next_cursor,
    })
}

fn delivery_row(delivery: &WebhookDelivery, now: crate::domain::clock::Timestamp) -> DeliveryRow {
    DeliveryRow {
        id: delivery.id,
        at: delivery.attempted_at.to_date_time_from(now),
        event: delivery.event_type.clone(),
        status: delivery
            .status_code
            .map_or_else(|| String::from("No answer"), |code| code.to_string()),
        duration: format!("{} ms", delivery.duration_ms),
        error: delivery.error.clone().unwrap_or_default(),
        retryable: delivery.retryable,
    }
}

/// `GET /webhooks/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    Query(place): Query<LogPlace>,
) -> Response {
    let cursor = place.cursor.as_deref();
    let notice = place.notice();
    match hook_page(
        &app,
        &member,
        WebhookId(id),
        None,
        Vec::new(),
        notice,
        cursor,
    )
    .await
    {
        Ok(page) => member.page(StatusCode::OK, &page),
        Err(error) => refusal(&member.tenant, &error),
    }
}

/// `POST /webhooks/{id}`: saves the settings.
pub async fn update(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = HookFields::read(&body);
    if let Some(refused) = member.untrusted_form(&app, &headers, &fields.csrf_token) {
        return refused;
    }
    let changes = WebhookChanges {
        url: Some(fields.url.clone()),
        description: Some(fields.description.clone()),
        event_types: Some(fields.events.clone()),
        tenant_ids: Some(fields.tenant_ids()),
        enabled: None,
    };
    let id = WebhookId(id);
    match app
        .tether
        .update_webhook(&member.signed_in.actor, id, changes)
        .await
    {
        Ok(_) => redirect(format!("/webhooks/{}", id.0)),
        Err(error @ Error::Validation(_)) => {
            let errors = field_messages(&error);
            match hook_page(&app, &member, id, Some(&fields), errors, None, None).await {
                Ok(page) => member.page(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(error) => refusal(&member.tenant, &error),
            }
        }
        Err(error) => refusal(&member.tenant, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ButtonForm {
    #[serde(default)]
    csrf_token: String,
    /// On **Turn on** / **Turn off**: `on` or `off`.
    #[serde(default)]
    state: String,
}

/// `POST /webhooks/{id}/{button}`: one of the endpoint page's buttons — `test`, `rotate`,
/// `state` (turn on or off) or `remove`.
pub async fn press(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path((id, button)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Response {
    if let Some(refused) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refused;
    }
    match pressed(&app, &member, WebhookId(id), &button, &form).await {
        Ok(response) => response,
        Err(error) => refusal(&member.tenant, &error),
    }
}

async fn pressed(
    app: &AppState,
    member: &Member,
    id: WebhookId,
    button: &str,
    form: &ButtonForm,
) -> Result<Response, Error> {
    let actor = &member.signed_in.actor;
    let back = format!("/webhooks/{}", id.0);
    match button {
        "test" => {
            app.tether.send_test_event(actor, id).await?;
            // After a redirect, reloading the page does not send another.
            Ok(redirect(format!("{back}?done=test")))
        }
        "rotate" => {
            let secret = app.tether.rotate_webhook_secret(actor, id).await?;
            let hook = app.tether.webhook(actor, id).await?;
            Ok(secret_page(member, &hook, &secret, true))
        }
        "state" => {
            let changes = WebhookChanges {
                enabled: Some(form.state == "on"),
                ..WebhookChanges::default()
            };
            app.tether.update_webhook(actor, id, changes).await?;
            Ok(redirect(back))
        }
        "remove" => {
            app.tether.delete_webhook(actor, id).await?;
            Ok(redirect(String::from("/webhooks")))
        }
        _ => Err(Error::NotFound("page")),
    }
}

/// `POST /webhooks/{id}/deliveries/{delivery}/retry`.
pub async fn retry(
    State(app): State<AppState>,
    Staff(member): Staff,
    Path((id, delivery)): Path<(i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Response {
    if let Some(refused) = member.untrusted_form(&app, &headers, &form.csrf_token) {
        return refused;
    }
    let id = WebhookId(id);
    let retried = app
        .tether
        .retry_webhook_delivery(&member.signed_in.actor, id, delivery)
        .await;
    let notice = match retried {
        Ok(()) => return redirect(format!("/webhooks/{}?done=retry", id.0)),
        Err(Error::Conflict(conflict)) => crate::domain::error::sentence(&conflict.to_string()),
        Err(error) => return refusal(&member.tenant, &error),
    };
    match hook_page(&app, &member, id, None, Vec::new(), Some(notice), None).await {
        Ok(page) => member.page(StatusCode::OK, &page),
        Err(error) => refusal(&member.tenant, &error),
    }
}
