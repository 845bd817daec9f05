//! What the MSP's console pages share: the `Staff` extractor (the console exists on the base
//! host alone), the wide frame, the tenant filter and the sentences of a refused form. Each
//! page is in the file named after it: `dashboard`, `clients`, `users`, `pending_invites`,
//! `activity` (audit), `webhooks`, `invite_many`; the invite form in `invite_form`.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::member::Member;
use super::{refusal, Frame};
use crate::domain::error::{sentence, Error};
use crate::domain::tenant::{TenantKind, TenantSummary};
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

pub fn redirect(to: &str) -> Response {
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

pub fn tenant_names(tenants: &[TenantSummary]) -> HashMap<i64, String> {
    tenants
        .iter()
        .map(|t| (t.tenant.id.0, t.tenant.name.to_string()))
        .collect()
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
