//! Which tenant a request's host names: the base URL's host is the MSP, `{slug}.{base host}`
//! is that client, and any other host is nobody (a plain 404). `X-Forwarded-Host` counts
//! only behind a trusted proxy.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use crate::domain::tenant::Tenant;

/// The tenant whose site this request is for.
pub struct Site(pub Tenant);

/// The host a request names, lower-cased and without its port.
fn request_host(parts: &Parts, trust_proxy: bool) -> Option<String> {
    let forwarded = trust_proxy
        .then(|| parts.headers.get("x-forwarded-host"))
        .flatten();
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

impl<S> FromRequestParts<S> for Site
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let host = request_host(parts, app.trust_proxy).ok_or_else(unknown_host)?;
        let base = app.tether.base_url().host();
        let tenant = if host == base {
            app.tether.msp_tenant().await.ok()
        } else {
            match host
                .strip_suffix(base)
                .and_then(|rest| rest.strip_suffix('.'))
            {
                Some(slug) if !slug.contains('.') => {
                    app.tether.tenant_by_slug(slug).await.ok().flatten()
                }
                _ => None,
            }
        };
        tenant.map(Site).ok_or_else(unknown_host)
    }
}
