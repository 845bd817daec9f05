//! The server-rendered pages of product.md §4, on each tenant's own host and in its
//! branding. Pages are askama templates (escaped by default) sharing one layout; the CSS is
//! one static file plus a per-tenant theme file, so the Content-Security-Policy allows no
//! inline script or style.

pub mod account;
pub mod activity;
pub mod clients;
pub mod console;
pub mod csrf;
pub mod dashboard;
pub mod invite;
pub mod invite_form;
pub mod invite_many;
pub mod member;
pub mod pending_invites;
pub mod recovery;
pub mod sign_in;
pub mod team;
pub mod users;
pub mod webhooks;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::api::tenants::cache_control;
use super::host::Site;
use super::AppState;
use crate::domain::error::{sentence, Error, Gone, ResetGone};
use crate::domain::invite::INVITE_LINK;
use crate::domain::recovery::RESET_LINK;
use crate::domain::tenant::{LogoRefusal, Tenant, TenantKind};
use crate::domain::Tether;

/// No inline script or style, nothing from elsewhere, no framing.
pub const CONTENT_SECURITY_POLICY_VALUE: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(sign_in::home))
        .route("/clients", get(clients::clients))
        .route(
            "/clients/new",
            get(clients::new_client_page).post(clients::create_client),
        )
        .route(
            "/clients/{id}",
            get(clients::edit_client_page).post(clients::update_client),
        )
        .route(
            "/clients/{id}/invite",
            get(clients::client_invite_page).post(clients::client_invite),
        )
        .route(
            "/clients/{id}/invite-many",
            get(invite_many::client_page)
                .post(invite_many::client_submit)
                .layer(DefaultBodyLimit::max(invite_many::MAX_FORM_BYTES)),
        )
        .route(
            "/team/invite-many",
            get(invite_many::team_page)
                .post(invite_many::team_submit)
                .layer(DefaultBodyLimit::max(invite_many::MAX_FORM_BYTES)),
        )
        .route("/users", get(users::users))
        .route(
            "/users/invite",
            get(users::staff_invite_page).post(users::staff_invite),
        )
        .route("/users/invites", get(pending_invites::pending_invites))
        .route("/users/invites/{id}/revoke", post(pending_invites::revoke))
        .route(
            "/users/invites/{id}/reissue",
            post(pending_invites::reissue),
        )
        .route("/audit", get(activity::audit))
        .route("/audit.csv", get(activity::audit_csv))
        .route("/team/activity", get(activity::team_activity))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::show).post(webhooks::update))
        .route("/webhooks/{id}/{button}", post(webhooks::press))
        .route(
            "/webhooks/{id}/deliveries/{delivery}/retry",
            post(webhooks::retry),
        )
        .route("/team", get(team::team).post(team::invite))
        .route("/team/invites/{id}/revoke", post(team::revoke))
        .route("/team/invites/{id}/reissue", post(team::reissue))
        .route("/static/copy.js", get(copy_script))
        .route("/account", get(account::show))
        .route("/account/name", post(account::rename))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/login", get(sign_in::login_page).post(sign_in::login))
        .route(
            "/forgot-password",
            get(recovery::forgot_page).post(recovery::forgot),
        )
        .route(
            "/reset/{token}",
            get(recovery::reset_form).post(recovery::reset),
        )
        .route(
            "/users/{id}/reset-link",
            get(recovery::link_form).post(recovery::create_link),
        )
        .route(
            "/team/{id}/reset-link",
            get(recovery::link_form).post(recovery::create_link),
        )
        .route("/logout", post(sign_in::logout))
        .route("/invite/{token}", get(invite::page).post(invite::accept))
        .route("/invite/{token}/renewal", post(invite::ask_for_renewal))
        .route("/branding/logo", get(logo))
        .route("/branding/theme.css", get(theme))
        .route("/static/tether.css", get(stylesheet))
}

/// What the layout shows of a tenant.
pub struct Brand {
    pub name: String,
    pub logo_url: Option<String>,
    pub is_msp: bool,
    /// Changes whenever the theme does, so the theme file can be cached.
    pub version: String,
}

impl Brand {
    pub fn of(tenant: &Tenant) -> Self {
        let etag = tenant
            .logo_etag
            .as_deref()
            .unwrap_or("none")
            .trim_matches('"');
        Self {
            name: tenant.name.to_string(),
            logo_url: tenant
                .logo_etag
                .as_ref()
                .map(|_| format!("/branding/logo?v={etag}")),
            is_msp: tenant.kind == TenantKind::Msp,
            version: tenant
                .accent_colour
                .as_str()
                .trim_start_matches('#')
                .to_owned(),
        }
    }
}

/// One link of the signed-in navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The layout around every page: the tenant's branding and, when someone is signed in,
/// the navigation and the sign-out form.
pub struct Frame {
    pub brand: Brand,
    pub nav: Vec<NavLink>,
    pub csrf_token: String,
    /// Tables want more width than forms.
    pub wide: bool,
}

impl Frame {
    pub fn public(tenant: &Tenant) -> Self {
        Self {
            brand: Brand::of(tenant),
            nav: Vec::new(),
            csrf_token: String::new(),
            wide: false,
        }
    }
}
/// A rendered page with the headers every page carries.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong on our side."),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub frame: Frame,
    pub title: String,
    pub message: String,
    pub action: Option<(String, String)>,
}

/// A branded page that explains something and offers one way on.
pub fn message(
    status: StatusCode,
    tenant: &Tenant,
    title: &str,
    message: &str,
    action: Option<(&str, &str)>,
) -> Response {
    render(
        status,
        &MessagePage {
            frame: Frame::public(tenant),
            title: title.to_owned(),
            message: message.to_owned(),
            action: action.map(|(href, label)| (href.to_owned(), label.to_owned())),
        },
    )
}

/// The one page for each outcome of a domain operation that a handler does not answer
/// itself (a form shows its own field errors again). Exhaustive on purpose: a new outcome
/// must be given its page here before anything compiles.
pub fn refusal(tenant: &Tenant, error: &Error) -> Response {
    let back = Some(("/", "Back to the start"));
    match error {
        Error::Validation(fields) => {
            let messages: Vec<&str> = fields.iter().map(|f| f.message.as_str()).collect();
            message(
                StatusCode::UNPROCESSABLE_ENTITY,
                tenant,
                "That could not be done",
                &messages.join(" "),
                back,
            )
        }
        Error::Unauthenticated => {
            (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, "/login")]).into_response()
        }
        Error::InvalidCredentials => message(
            StatusCode::UNAUTHORIZED,
            tenant,
            "Sign-in failed",
            "The email or password is not correct.",
            Some(("/login", "Try again")),
        ),
        Error::Forbidden => message(
            StatusCode::FORBIDDEN,
            tenant,
            "You don't have access to this",
            "Your role does not allow this. Ask an administrator if you need it.",
            back,
        ),
        Error::NotFound(INVITE_LINK) => message(
            StatusCode::NOT_FOUND,
            tenant,
            "This invite link is not valid",
            "Check that you copied the whole link, or ask your administrator to send you a new one.",
            None,
        ),
        Error::NotFound(RESET_LINK) => message(
            StatusCode::NOT_FOUND,
            tenant,
            "This password reset link is not valid",
            "Check that you copied the whole link, or ask for a new one.",
            Some(("/forgot-password", "Ask for a new link")),
        ),
        Error::NotFound(_) => message(
            StatusCode::NOT_FOUND,
            tenant,
            "Not found",
            "There is nothing here, or you may not see it.",
            back,
        ),
        Error::Conflict(conflict) => message(
            StatusCode::CONFLICT,
            tenant,
            "That could not be done",
            &sentence(&conflict.to_string()),
            back,
        ),
        Error::Gone(gone) => link_gone(tenant, gone),
        Error::ResetGone(gone) => message(
            StatusCode::GONE,
            tenant,
            match gone {
                ResetGone::Expired => "This password reset link has expired",
                ResetGone::Used => "This password reset link has already been used",
                ResetGone::Superseded => "This password reset link was replaced",
            },
            &format!("{} You can ask for a new one.", sentence(&gone.to_string())),
            Some(("/forgot-password", "Ask for a new link")),
        ),
        Error::Logo(LogoRefusal::TooLarge) => message(
            StatusCode::PAYLOAD_TOO_LARGE,
            tenant,
            "The logo is too large",
            "A logo can be at most 512 KiB.",
            back,
        ),
        Error::Logo(refusal) => message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tenant,
            "The logo was refused",
            &sentence(&refusal.to_string()),
            back,
        ),
        Error::TooManyRows { .. } => message(
            StatusCode::PAYLOAD_TOO_LARGE,
            tenant,
            "The list is too long",
            &sentence(&error.to_string()),
            back,
        ),
        Error::RateLimited { retry_after_secs } => too_many_attempts(tenant, *retry_after_secs),
        Error::Database(_) | Error::Internal(_) => internal_error(tenant, error),
    }
}

/// An invite link that cannot be used, saying why and what to do next.
fn link_gone(tenant: &Tenant, gone: &Gone) -> Response {
    let (title, text) = gone_words(gone);
    let action = (*gone == Gone::Used).then_some(("/login", "Sign in"));
    message(StatusCode::GONE, tenant, title, &text, action)
}

/// Why an invite link cannot be used, as its page's title and sentence.
pub fn gone_words(gone: &Gone) -> (&'static str, String) {
    match gone {
        Gone::Expired => (
            "This invite link has expired",
            String::from("Invite links are valid for a limited time, and this one has run out."),
        ),
        Gone::Used => (
            "This invite link has already been used",
            String::from("The account for this invite has been created. Sign in instead; if you forgot the password, reset it from the sign-in page."),
        ),
        Gone::Revoked => (
            "This invite link was revoked",
            String::from("An administrator revoked this link."),
        ),
        Gone::Superseded { at } => (
            "A newer invite was sent",
            format!(
                "A newer invite was sent to this address on {}. Use the link in that one.",
                at.to_date()
            ),
        ),
        Gone::DomainNotAllowed => (
            "This address can no longer join",
            String::from("The address this invite was sent to is no longer allowed in this organisation. Ask your administrator for help."),
        ),
    }
}

/// The page for a failure of the machinery, logged with its cause.
pub fn internal_error(tenant: &Tenant, error: &Error) -> Response {
    tracing::error!(%error, cause = ?error, "a page request failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        tenant,
        "Something went wrong",
        "Something went wrong on our side. Please try again in a moment.",
        None,
    )
}

/// Too many attempts: the page, and when to come back in `Retry-After`.
pub fn too_many_attempts(tenant: &Tenant, retry_after_secs: u64) -> Response {
    let mut response = message(
        StatusCode::TOO_MANY_REQUESTS,
        tenant,
        "Too many attempts",
        "Please wait a minute and try again.",
        None,
    );
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
    response
}

/// The refusal for a form posted to `tenant`'s site that lacks a valid token or came from
/// elsewhere; `None` when the form may be acted on.
pub fn untrusted_form(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    submitted: &str,
) -> Option<Response> {
    let own_origin = app.tether.tenant_origin(tenant);
    (!csrf::form_is_trusted(&app.form_key, headers, submitted, &own_origin))
        .then(|| forbidden_form(tenant))
}

/// A refused cross-site or tokenless form.
pub fn forbidden_form(tenant: &Tenant) -> Response {
    message(
        StatusCode::FORBIDDEN,
        tenant,
        "This form could not be accepted",
        "The form was sent from another site, or the page was open too long. Reload the page and try again.",
        None,
    )
}

/// Whether cookies must be `Secure`: when the base URL is https.
pub fn secure_cookies(tether: &Tether) -> bool {
    tether.base_url().is_https()
}

async fn logo(
    State(app): State<AppState>,
    Site(tenant): Site,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match app.tether.logo(tenant.id).await {
        Ok(Some(logo)) => super::api::tenants::logo_response(logo, &headers, query.as_deref()),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            &tenant,
            "No logo",
            "This organisation has no logo.",
            None,
        ),
        Err(error) => internal_error(&tenant, &error),
    }
}

/// The tenant's colours as CSS custom properties: the brand colour as chosen, and a variant
/// of it that carries text readably.
async fn theme(Site(tenant): Site, RawQuery(query): RawQuery) -> Response {
    let cache = cache_control(query.as_deref(), &Brand::of(&tenant).version);
    let (surface, text) = tenant.accent_colour.readable();
    let css = format!(
        ":root {{ --brand: {}; --accent: {surface}; --accent-text: {text}; }}\n",
        tenant.accent_colour.as_str()
    );
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (axum::http::header::CACHE_CONTROL, cache),
        ],
        css,
    )
        .into_response()
}

async fn copy_script() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/copy.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/tether.css"),
    )
        .into_response()
}

/// The headers an invite page adds: the token in its URL must not leak through a referrer,
/// a cache or a search index.
pub fn invite_page_headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (
            axum::http::header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ),
        (
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ),
    ]
}

/// A page's path parameters. A path that does not parse (`/clients/abc`) names no page: it
/// gets the "not found" page, not axum's plain-text rejection.
pub struct Path<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(plain_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address.",
            )),
        }
    }
}

/// A page's query string. One that cannot be read (`?tenant=2&tenant=3`, `?tenant=x`) gets a
/// page that says so, not axum's plain-text rejection.
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(_) => Err(plain_page(
                StatusCode::BAD_REQUEST,
                "This address could not be read",
                "The address has a filter this page does not understand. Go back and choose again.",
            )),
        }
    }
}

/// A page for a request that could not be read, before any tenant is known. Its sentences
/// are Tether's own, never the request's.
fn plain_page(status: StatusCode, title: &'static str, sentence: &'static str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><title>{title}</title><p>{sentence}"
        )),
    )
        .into_response()
}

/// Text as it goes into a URL: a query value, a `data:` link. Every byte but letters and
/// digits is percent-encoded.
pub fn url_encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A submitted multipart form (one that carries a file): its text fields by name, a checked
/// box as present, and the chosen file's bytes.
pub struct Upload {
    pub fields: HashMap<String, String>,
    /// `None` when no file was chosen.
    pub file: Option<Vec<u8>>,
}

impl Upload {
    /// A text field's value, or empty when the form did not send it.
    pub fn take(&mut self, name: &str) -> String {
        self.fields.remove(name).unwrap_or_default()
    }
}

/// Why a multipart form could not be read: its status (`413` when it is larger than the
/// route allows) and a sentence.
pub struct Unreadable(pub StatusCode, pub String);

/// Reads a multipart form whose file is in the field `file_field`; `too_large` is what to say
/// when the body is larger than the route allows.
pub async fn read_upload(
    mut multipart: axum::extract::Multipart,
    file_field: &str,
    too_large: &str,
) -> Result<Upload, Unreadable> {
    let unreadable = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Unreadable(StatusCode::PAYLOAD_TOO_LARGE, too_large.to_owned())
        }
        status => Unreadable(
            status,
            format!("The form could not be read: {}", e.body_text()),
        ),
    };
    let mut upload = Upload {
        fields: HashMap::new(),
        file: None,
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == file_field {
            let bytes = field.bytes().await.map_err(unreadable)?;
            upload.file = (!bytes.is_empty()).then(|| bytes.to_vec());
        } else {
            let value = field.text().await.map_err(unreadable)?;
            upload.fields.insert(name, value);
        }
    }
    Ok(upload)
}

/// A submitted form. One that cannot be read (not form-encoded, malformed) gets a page that
/// says so, not axum's plain-text rejection.
pub struct Form<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(plain_page(
                rejection.status(),
                "This form could not be read",
                "This form could not be read. Go back, reload the page and try again.",
            )),
        }
    }
}
