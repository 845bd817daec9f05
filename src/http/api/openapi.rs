//! The API's OpenAPI 3.1 document, generated from the handlers and the types they return, with
//! api.md's names: each operation named for what it does, each object by its name in api.md
//! (`Invite`, `Tenant`, `User`…), each request body for its operation (`CreateInvite`), and
//! the error answers operations share as response components that say which `code` they carry.
//! Every operation needs the bearer token unless it says `security(())`: the public ones.

use std::collections::BTreeSet;

use utoipa::openapi::schema::{ArrayItems, Object, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::responses::{
    BadRequest, Forbidden, InviteLinkGone, NotFound, PayloadTooLarge, RateLimited, ResetLinkGone,
    Unauthenticated, UnsupportedMediaType, ValidationFailed,
};
use super::{account, audit, auth, invites, outbox, recovery, tenants, users, webhooks};
use crate::http::problem::{Problem, ProblemField};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tether", description = "Tenants, roles and single-use invite links for an MSP and its clients."),
    paths(
        auth::create_token, auth::delete_token, auth::me,
        account::update_me, account::change_password, account::list_sessions,
        account::delete_session, account::delete_other_sessions,
        invites::create, invites::create_batch, invites::list, invites::get_one, invites::revoke, invites::reissue,
        invites::inspect_link, invites::accept_link, invites::request_renewal,
        users::list, users::get_one, users::update,
        tenants::roles, tenants::list, tenants::get_one, tenants::create, tenants::update,
        tenants::put_logo, tenants::delete_logo, tenants::get_logo,
        audit::list,
        outbox::list, outbox::retry,
        webhooks::list, webhooks::create, webhooks::get_one, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::test, webhooks::deliveries, webhooks::retry_delivery,
        recovery::request, recovery::create_link, recovery::inspect_link, recovery::reset,
    ),
    components(
        schemas(Problem, ProblemField),
        responses(
            BadRequest, Unauthenticated, Forbidden, NotFound, InviteLinkGone, ResetLinkGone, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, RateLimited,
        ),
    ),
    modifiers(&BearerAuth, &EveryFieldSent),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Signing in, API tokens, and one's own account"),
        (name = "invites", description = "Creating, listing, revoking and re-issuing invites"),
        (name = "invite links", description = "What a recipient's link shows, and accepting it (public)"),
        (name = "users", description = "The users of the tenants the caller may see"),
        (name = "tenants", description = "The MSP and its clients, their branding, and the roles"),
        (name = "audit", description = "Who did what, and when"),
        (name = "outbox", description = "What Tether sends, and retrying it"),
        (name = "webhooks", description = "Endpoints the MSP's other tools listen on, and their deliveries"),
        (name = "password recovery", description = "Reset links: asked for by e-mail or issued by an admin, and used once"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

/// The bearer scheme, required by every operation that does not say `security(())`, and no
/// requirement (`security: []`) for those that do. The requirement is written on each operation
/// as well as on the document because generators read it there: openapi-python-client then
/// asks for an `AuthenticatedClient` exactly where a token is needed.
impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let public = operation.security.as_ref().map(|requirements| {
                    requirements
                        .iter()
                        .all(|r| *r == SecurityRequirement::default())
                });
                operation.security = match public {
                    None => Some(vec![bearer.clone()]),
                    // `security(())` says "anyone"; `[]` is how OpenAPI says "no requirement".
                    Some(true) => Some(Vec::new()),
                    Some(false) => operation.security.take(),
                };
            }
        }
    }
}

/// What the server sends always has every field of its type, `null` where an `Option` holds
/// nothing (none of the response types skips a field). The derive marks `Option` fields as
/// not required, which is right for request bodies only; so every object reachable from a
/// success response is marked as having all of its fields, and generated clients read
/// `accepted_at: str | None` rather than "maybe absent".
struct EveryFieldSent;

impl Modify for EveryFieldSent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut sent = BTreeSet::new();
        let mut pending: Vec<RefOr<Schema>> = Vec::new();
        for item in openapi.paths.paths.values() {
            let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &operation.responses.responses {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        let schemas = response.content.values().filter_map(|c| c.schema.clone());
                        pending.extend(schemas);
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        while let Some(schema) = pending.pop() {
            match schema {
                RefOr::Ref(reference) => {
                    let name = reference
                        .ref_location
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    if sent.insert(name.to_owned()) {
                        pending.extend(components.schemas.get(name).cloned());
                    }
                }
                RefOr::T(Schema::Object(object)) => pending.extend(object.properties.into_values()),
                RefOr::T(Schema::Array(array)) => {
                    if let ArrayItems::RefOrSchema(items) = array.items {
                        pending.push(*items);
                    }
                }
                RefOr::T(Schema::AllOf(all)) => pending.extend(all.items),
                RefOr::T(Schema::OneOf(one)) => pending.extend(one.items),
                RefOr::T(_) => {}
            }
        }
        for name in sent {
            // A problem leaves out `errors` and `renewal` where they do not apply, whether
            // it is an error answer or a batch row's refusal.
            if name == "Problem" {
                continue;
            }
            match components.schemas.get_mut(&name) {
                Some(RefOr::T(Schema::Object(object))) => require_all(object),
                Some(RefOr::T(Schema::AllOf(all))) => {
                    for item in &mut all.items {
                        if let RefOr::T(Schema::Object(object)) = item {
                            require_all(object);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn require_all(object: &mut Object) {
    object.required = object.properties.keys().cloned().collect();
}
