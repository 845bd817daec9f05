//! Which tenant a request's host names: the base URL's host is the MSP, `{slug}.{base host}`
//! is that client, and any other host is nobody (a plain 404). `X-Forwarded-Host` counts
//! only behind a trusted proxy.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::request::TrustedProxies;
use super::AppState;
use crate::domain::error::Error;
use crate::domain::tenant::{Tenant, TenantId};

/// The tenant whose site this request is for.
pub struct Site(pub Tenant);

/// The id of the tenant whose site this request is for, known without a query once its
/// host has been seen: for a page that loads its tenant together with its own data.
pub struct SiteId(pub TenantId);

/// The host a request names, lower-cased and without its port.
fn request_host(parts: &Parts, proxies: Option<&TrustedProxies>) -> Option<String> {
    let forwarded = proxies
        .filter(|proxies| proxies.vouch_for(parts))
        .and_then(|_| parts.headers.get("x-forwarded-host"));
    let host = forwarded
        .or_else(|| parts.headers.get(HOST))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.host().map(str::to_owned))?;
    let without_port = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    Some(without_port.trim_end_matches('.').to_ascii_lowercase())
}

pub fn unknown_host() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><p>There is no site at this address."),
    )
        .into_response()
}

/// The site could not be looked up (the database failed): logged, and a 500 page, since
/// without the tenant there is no branding to show it in.
fn site_unavailable(error: &Error) -> Response {
    tracing::error!(%error, cause = ?error, "looking up a site failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!doctype html><title>Error</title><p>Something went wrong on our side. Please try again in a moment."),
    )
        .into_response()
}

impl<S> FromRequestParts<S> for SiteId
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let host = request_host(parts, app.proxies.as_ref()).ok_or_else(unknown_host)?;
        let base = app.tether.base_url().host();
        let slug = if host == base {
            None
        } else {
            match host
                .strip_suffix(base)
                .and_then(|rest| rest.strip_suffix('.'))
            {
                Some(slug) if !slug.contains('.') => Some(slug),
                _ => return Err(unknown_host()),
            }
        };
        match app.tether.site_tenant_id(slug).await {
            Ok(Some(id)) => Ok(SiteId(id)),
            Ok(None) => Err(unknown_host()),
            Err(error) => Err(site_unavailable(&error)),
        }
    }
}

impl<S> FromRequestParts<S> for Site
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SiteId(id) = SiteId::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        match app.tether.site_tenant(id).await {
            Ok(tenant) => Ok(Site(tenant)),
            Err(Error::NotFound(_)) => Err(unknown_host()),
            Err(error) => Err(site_unavailable(&error)),
        }
    }
}
