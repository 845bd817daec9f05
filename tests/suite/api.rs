//! The JSON API of api.md through the real router: every endpoint's success and its
//! documented refusals.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tether::domain::role::Role;

use crate::common::{Api, Reply, TestApp, GOOD_PASSWORD};

crate::on_both_engines!(
    a_new_user_signs_in_invites_and_the_recipient_accepts,
    invite_objects_carry_exactly_the_fields_of_api_md,
    an_msp_technician_may_not_invite,
    inviting_a_users_email_is_user_exists,
    a_pending_invite_of_another_tenant_is_invite_pending,
    every_invalid_invite_field_is_reported_at_once,
    a_role_that_does_not_fit_the_tenant_is_a_role_id_error,
    a_missing_or_mistyped_field_is_an_error_on_that_field,
    invites_are_listed_with_filters_and_a_cursor,
    an_accepted_invite_cannot_be_revoked_and_an_unknown_one_is_not_found,
    a_reissue_has_a_fresh_token_and_supersedes_the_old_invite,
    reissuing_an_accepted_invite_or_for_a_bad_period_is_refused,
    invite_links_say_why_they_cannot_be_used,
    opening_a_link_by_get_or_head_changes_nothing,
    sign_in_answers_the_same_for_unknown_and_known_emails,
    sign_out_revokes_the_token,
    users_are_listed_read_and_changed,
    tenants_are_created_read_and_changed,
    logos_are_sniffed_sized_and_served_with_cache_headers,
    roles_and_audit_events_are_listed,
    every_error_is_problem_json,
    the_openapi_document_describes_every_endpoint,
    the_openapi_document_speaks_like_api_md,
    metrics_count_requests_by_route_and_the_invite_lifecycle,
);

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

async fn admin_token(app: &TestApp) -> String {
    app.token_for("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await
}

async fn a_new_user_signs_in_invites_and_the_recipient_accepts(app: TestApp) {
    app.tether
        .create_admin(
            &app.operator,
            "root@atechsolutions.org",
            GOOD_PASSWORD,
            Some("Root"),
        )
        .await
        .unwrap();
    let api = app.api().await;
    let signed_in = api
        .call(
            "POST",
            "/api/auth/token",
            None,
            Some(json!({"email": "root@atechsolutions.org", "password": GOOD_PASSWORD})),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["token_type"], "Bearer");
    assert_eq!(signed_in.body["user"]["role"], "msp_admin");
    let admin = signed_in.body["token"].as_str().unwrap().to_owned();

    let tenant = api
        .post(
            "/api/tenants",
            &admin,
            json!({"name": "Acme Corp", "slug": "acme", "accent_colour": "#D9480F"}),
        )
        .await;
    assert_eq!(tenant.status, StatusCode::CREATED, "{:?}", tenant.body);
    let tenant_id = tenant.body["id"].as_i64().unwrap();
    assert_eq!(tenant.body["base_url"], "https://acme.atechsolutions.org");

    let created = api
        .post(
            "/api/invites",
            &admin,
            json!({"email": "alice@acme.com", "name": "Alice Smith", "role_id": 3, "tenant_id": tenant_id, "expires_hours": 72}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(
        created.body["invite_url"],
        format!("https://acme.atechsolutions.org/invite/{token}")
    );
    assert_eq!(
        created.header("location"),
        Some(format!("/api/invites/{}", created.body["id"]).as_str())
    );

    let link = api
        .call("GET", &format!("/api/invite-links/{token}"), None, None)
        .await;
    assert_eq!(link.status, StatusCode::OK);
    assert_eq!(link.body["email"], "alice@acme.com");
    assert_eq!(link.body["name"], "Alice Smith");
    assert_eq!(link.body["role"], json!({"id": 3, "name": "client_admin"}));
    assert_eq!(link.body["tenant"]["name"], "Acme Corp");
    assert_eq!(link.body["tenant"]["accent_colour"], "#D9480F");

    let accept = json!({"name": "Alice Smith", "password": GOOD_PASSWORD});
    let accepted = api
        .call(
            "POST",
            &format!("/api/invite-links/{token}/accept"),
            None,
            Some(accept.clone()),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{:?}", accepted.body);
    assert_eq!(accepted.body["token_type"], "Bearer");
    let alice = accepted.body["token"].as_str().unwrap().to_owned();
    let me = api.get("/api/me", &alice).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "alice@acme.com");
    assert_eq!(me.body["role"], "client_admin");
    assert_eq!(me.body["tenant_id"], tenant_id);

    let again = api
        .call(
            "POST",
            &format!("/api/invite-links/{token}/accept"),
            None,
            Some(accept),
        )
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(again.problem_code(), "invite_used");

    let other = api
        .post(
            "/api/invites",
            &admin,
            json!({"email": "bob@acme.com", "role_id": 4, "tenant_id": tenant_id}),
        )
        .await;
    let path = format!("/api/invites/{}", other.body["id"]);
    assert_eq!(
        api.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );

    let malformed = api
        .send(
            Request::post("/api/invites")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(Body::from("{\"email\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.problem_code(), "bad_request");
}

async fn invite_objects_carry_exactly_the_fields_of_api_md(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let created = api
        .post(
            "/api/invites",
            &admin,
            json!({"email": "alice@acme.com", "role_id": 4, "tenant_id": acme.id.0}),
        )
        .await;
    let invite_fields: BTreeSet<String> = [
        "id",
        "email",
        "name",
        "role_id",
        "role",
        "tenant_id",
        "status",
        "created_at",
        "expires_at",
        "created_by",
        "accepted_at",
        "accepted_user_id",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
        // api.md "Delivery, recovery, bulk, webhooks": `null` unless it was e-mailed, and
        // unless its recipient asked for a fresh link.
        "delivery",
        "renewal_requested_at",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let mut with_token = invite_fields.clone();
    with_token.extend(["token".to_owned(), "invite_url".to_owned()]);
    assert_eq!(keys(&created.body), with_token);
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["name"], Value::Null);
    assert_eq!(
        keys(&created.body["created_by"]),
        ["email", "id"].map(String::from).into()
    );
    assert_eq!(created.body["created_at"], "2026-11-23T10:00:00Z");
    assert_eq!(created.body["expires_at"], "2026-11-26T10:00:00Z");

    let fetched = api
        .get(&format!("/api/invites/{}", created.body["id"]), &admin)
        .await;
    assert_eq!(
        keys(&fetched.body),
        invite_fields,
        "the token is shown only once"
    );
    let listed = api.get("/api/invites", &admin).await;
    assert_eq!(
        keys(&listed.body),
        ["items", "next_cursor"].map(String::from).into()
    );
    assert_eq!(keys(&listed.body["items"][0]), invite_fields);

    let tenant = api
        .get(&format!("/api/tenants/{}", acme.id.0), &admin)
        .await;
    assert_eq!(
        keys(&tenant.body),
        [
            "id",
            "kind",
            "name",
            "slug",
            "base_url",
            "accent_colour",
            "logo_url",
            "created_at",
            // api.md "Delivery, recovery, bulk, webhooks".
            "invite_reminders",
            "allowed_email_domains",
        ]
        .map(String::from)
        .into()
    );
    let me = api.get("/api/me", &admin).await;
    assert_eq!(
        keys(&me.body),
        [
            "id",
            "email",
            "name",
            "role_id",
            "role",
            "tenant_id",
            "active",
            "created_at"
        ]
        .map(String::from)
        .into()
    );
}

/// `POST /api/invites` with `body` as `token`, checking that a refusal created nothing.
async fn refused_invite(app: &TestApp, api: &Api, token: &str, body: Value) -> Reply {
    let before = app.count("SELECT COUNT(*) FROM invites").await;
    let reply = api.post("/api/invites", token, body).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites").await,
        before,
        "a refused invite creates nothing"
    );
    reply
}

async fn an_msp_technician_may_not_invite(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let tech = app
        .token_for("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let api = app.api().await;
    let by_tech = refused_invite(
        &app,
        &api,
        &tech,
        json!({"email": "x@acme.com", "role_id": 4, "tenant_id": acme.id.0}),
    )
    .await;
    assert_eq!(
        (by_tech.status, by_tech.problem_code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}

async fn inviting_a_users_email_is_user_exists(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let exists = refused_invite(
        &app,
        &api,
        &admin,
        json!({"email": "ALICE@acme.com", "role_id": 4, "tenant_id": acme.id.0}),
    )
    .await;
    assert_eq!(
        (exists.status, exists.problem_code()),
        (StatusCode::CONFLICT, "user_exists")
    );
}

async fn a_pending_invite_of_another_tenant_is_invite_pending(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let globex_admin = app
        .token_for("boss@globex.com", &globex, Role::ClientAdmin)
        .await;
    app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let pending = refused_invite(
        &app,
        &api,
        &globex_admin,
        json!({"email": "bob@acme.com", "role_id": 4, "tenant_id": globex.id.0}),
    )
    .await;
    assert_eq!(
        (pending.status, pending.problem_code()),
        (StatusCode::CONFLICT, "invite_pending")
    );
}

async fn every_invalid_invite_field_is_reported_at_once(app: TestApp) {
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let invalid = refused_invite(
        &app,
        &api,
        &admin,
        json!({"email": "nope", "name": "", "role_id": 3, "tenant_id": 999, "expires_hours": 1}),
    )
    .await;
    assert_eq!(
        (invalid.status, invalid.problem_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let fields: BTreeSet<String> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        ["email", "expires_hours", "tenant_id"]
            .map(String::from)
            .into()
    );
    assert_eq!(invalid.body["detail"], "3 fields are invalid");
}

async fn a_role_that_does_not_fit_the_tenant_is_a_role_id_error(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let mismatch = refused_invite(
        &app,
        &api,
        &admin,
        json!({"email": "c@acme.com", "role_id": 1, "tenant_id": acme.id.0}),
    )
    .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch.body["errors"][0]["field"], "role_id");
}

async fn a_missing_or_mistyped_field_is_an_error_on_that_field(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let missing = refused_invite(
        &app,
        &api,
        &admin,
        json!({"role_id": 4, "tenant_id": acme.id.0}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["errors"][0]["field"], "email");
    let wrong_type = refused_invite(
        &app,
        &api,
        &admin,
        json!({"email": "d@acme.com", "role_id": "4", "tenant_id": acme.id.0}),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.body["errors"][0]["field"], "role_id");
}

async fn invites_are_listed_with_filters_and_a_cursor(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let admin = admin_token(&app).await;
    for n in 0..3 {
        app.invite(&format!("a{n}@acme.com"), &acme, Role::ClientUser)
            .await;
    }
    app.invite("g@globex.com", &globex, Role::ClientUser).await;
    let api = app.api().await;

    let first = api.get("/api/invites?limit=2", &admin).await;
    assert_eq!(first.status, StatusCode::OK);
    let emails = |reply: &crate::common::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(emails(&first), ["g@globex.com", "a2@acme.com"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = api
        .get(&format!("/api/invites?limit=2&cursor={cursor}"), &admin)
        .await;
    assert_eq!(emails(&second), ["a1@acme.com", "a0@acme.com"]);
    assert_eq!(second.body["next_cursor"], Value::Null);

    let acme_only = api
        .get(&format!("/api/invites?tenant_id={}", acme.id.0), &admin)
        .await;
    assert_eq!(emails(&acme_only).len(), 3);
    let by_email = api
        .get("/api/invites?email=G@globex.com&status=all", &admin)
        .await;
    assert_eq!(emails(&by_email), ["g@globex.com"]);
    let accepted = api.get("/api/invites?status=accepted", &admin).await;
    assert_eq!(emails(&accepted), ["admin@atechsolutions.org"]);

    for bad in [
        "status=bogus",
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=%21%21",
        "tenant_id=abc",
    ] {
        let reply = api.get(&format!("/api/invites?{bad}"), &admin).await;
        assert_eq!(
            (reply.status, reply.problem_code()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad}"
        );
    }
}

async fn an_accepted_invite_cannot_be_revoked_and_an_unknown_one_is_not_found(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let used = app.invite("b@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "B").await.unwrap();

    let refused = api
        .delete(&format!("/api/invites/{}", used.invite.id.0), &admin)
        .await;
    assert_eq!(
        (refused.status, refused.problem_code()),
        (StatusCode::CONFLICT, "invite_not_revocable")
    );
    let missing = api.delete("/api/invites/99999", &admin).await;
    assert_eq!(
        (missing.status, missing.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

async fn a_reissue_has_a_fresh_token_and_supersedes_the_old_invite(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let pending = app.invite("a@acme.com", &acme, Role::ClientUser).await;

    let reissued = api
        .post(
            &format!("/api/invites/{}/reissue", pending.invite.id.0),
            &admin,
            json!({"expires_hours": 24}),
        )
        .await;
    assert_eq!(reissued.status, StatusCode::CREATED, "{:?}", reissued.body);
    assert_eq!(
        reissued.header("location"),
        Some(format!("/api/invites/{}", reissued.body["id"]).as_str())
    );
    assert_eq!(reissued.body["email"], "a@acme.com");
    assert_eq!(reissued.body["expires_at"], "2026-11-24T10:00:00Z");
    assert_ne!(
        reissued.body["token"].as_str().unwrap(),
        pending.token.expose()
    );
    let old = api
        .get(&format!("/api/invites/{}", pending.invite.id.0), &admin)
        .await;
    assert_eq!(old.body["status"], "revoked");
    assert_eq!(old.body["revoke_reason"], "superseded");

    let without_body = api
        .call(
            "POST",
            &format!("/api/invites/{}/reissue", reissued.body["id"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        without_body.status,
        StatusCode::CREATED,
        "{:?}",
        without_body.body
    );
}

async fn reissuing_an_accepted_invite_or_for_a_bad_period_is_refused(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let pending = app.invite("a@acme.com", &acme, Role::ClientUser).await;
    let used = app.invite("b@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "B").await.unwrap();

    let of_used = api
        .post(
            &format!("/api/invites/{}/reissue", used.invite.id.0),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        (of_used.status, of_used.problem_code()),
        (StatusCode::CONFLICT, "invite_not_revocable")
    );
    let bad_expiry = api
        .post(
            &format!("/api/invites/{}/reissue", pending.invite.id.0),
            &admin,
            json!({"expires_hours": 5}),
        )
        .await;
    assert_eq!(bad_expiry.status, StatusCode::UNPROCESSABLE_ENTITY);
    let still = app
        .tether
        .invite(&app.operator, pending.invite.id)
        .await
        .unwrap();
    assert_eq!(
        still.revoke_reason, None,
        "a refused re-issue changes nothing"
    );
}

async fn invite_links_say_why_they_cannot_be_used(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let unknown = api
        .call("GET", "/api/invite-links/nonsense", None, None)
        .await;
    assert_eq!(
        (unknown.status, unknown.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let reply = api
        .call(
            "GET",
            &format!("/api/invite-links/{}", revoked.token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem_code()),
        (StatusCode::GONE, "invite_revoked")
    );

    let weak = app.invite("w@acme.com", &acme, Role::ClientUser).await;
    let reply = api
        .call(
            "POST",
            &format!("/api/invite-links/{}/accept", weak.token.expose()),
            None,
            Some(json!({"name": "", "password": "password"})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "password"]);

    app.clock.advance(Duration::from_secs(72 * 3600));
    let reply = api
        .call(
            "GET",
            &format!("/api/invite-links/{}", weak.token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem_code()),
        (StatusCode::GONE, "invite_expired")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn opening_a_link_by_get_or_head_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("a@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let path = format!("/api/invite-links/{}", issued.token.expose());
    for method in ["GET", "HEAD", "GET", "HEAD", "GET"] {
        let reply = api.call(method, &path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
    }
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, tether::domain::invite::InviteStatus::Pending);
    assert!(app.accept(issued.token.expose(), "A").await.is_ok());
}

async fn sign_in_answers_the_same_for_unknown_and_known_emails(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let wrong_password = api
        .call(
            "POST",
            "/api/auth/token",
            None,
            Some(json!({"email": "alice@acme.com", "password": "not the password"})),
        )
        .await;
    let unknown_email = api
        .call(
            "POST",
            "/api/auth/token",
            None,
            Some(json!({"email": "nobody@acme.com", "password": "not the password"})),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.problem_code(), "invalid_credentials");
    assert_eq!(wrong_password.bytes, unknown_email.bytes);
    assert_eq!(wrong_password.status, unknown_email.status);
}

async fn sign_out_revokes_the_token(app: TestApp) {
    let admin = admin_token(&app).await;
    let api = app.api().await;
    assert_eq!(
        api.delete("/api/auth/token", &admin).await.status,
        StatusCode::NO_CONTENT
    );
    let after = api.get("/api/me", &admin).await;
    assert_eq!(
        (after.status, after.problem_code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    assert_eq!(after.header("www-authenticate"), Some("Bearer"));
    let none = api.call("GET", "/api/me", None, None).await;
    assert_eq!(
        (none.status, none.problem_code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

async fn users_are_listed_read_and_changed(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let (bob, _) = app.user("bob@acme.com", &acme, Role::ClientUser).await;
    let bob_token = app
        .tether
        .sign_in(
            "bob@acme.com",
            GOOD_PASSWORD,
            None,
            tether::domain::session::SessionKind::Api,
            None,
        )
        .await
        .unwrap()
        .1;
    let api = app.api().await;

    let listed = api
        .get(
            &format!("/api/users?tenant_id={}&role_id=4&active=true", acme.id.0),
            &admin,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let one = api.get(&format!("/api/users/{}", bob.id.0), &admin).await;
    assert_eq!(one.body["email"], "bob@acme.com");

    let by_bob = api
        .patch(
            &format!("/api/users/{}", bob.id.0),
            bob_token.token.expose(),
            json!({"name": "Robert"}),
        )
        .await;
    assert_eq!(
        (by_bob.status, by_bob.problem_code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let changed = api
        .patch(
            &format!("/api/users/{}", bob.id.0),
            &admin,
            json!({"name": "Robert", "role_id": 3}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (changed.body["name"].as_str(), changed.body["role"].as_str()),
        (Some("Robert"), Some("client_admin"))
    );

    let deactivated = api
        .patch(
            &format!("/api/users/{}", bob.id.0),
            &admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(deactivated.body["active"], false);
    assert_eq!(
        api.get("/api/me", bob_token.token.expose()).await.status,
        StatusCode::UNAUTHORIZED
    );

    let me = api.get("/api/me", &admin).await;
    let last = api
        .patch(
            &format!("/api/users/{}", me.body["id"]),
            &admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(
        (last.status, last.problem_code()),
        (StatusCode::CONFLICT, "last_admin")
    );
}

async fn tenants_are_created_read_and_changed(app: TestApp) {
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let created = api
        .post(
            "/api/tenants",
            &admin,
            json!({"name": "Acme Corp", "slug": "acme"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["kind"], "client");
    assert_eq!(created.body["logo_url"], Value::Null);
    let taken = api
        .post(
            "/api/tenants",
            &admin,
            json!({"name": "Acme 2", "slug": "acme"}),
        )
        .await;
    assert_eq!(
        (taken.status, taken.problem_code()),
        (StatusCode::CONFLICT, "slug_taken")
    );
    let invalid = api
        .post(
            "/api/tenants",
            &admin,
            json!({"name": "", "slug": "www", "accent_colour": "red"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["errors"].as_array().unwrap().len(), 3);

    let id = created.body["id"].as_i64().unwrap();
    let patched = api
        .patch(
            &format!("/api/tenants/{id}"),
            &admin,
            json!({"accent_colour": "#112233"}),
        )
        .await;
    assert_eq!(patched.body["accent_colour"], "#112233");
    assert_eq!(patched.body["name"], "Acme Corp");
    let listed = api.get("/api/tenants", &admin).await;
    let kinds: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["msp", "client"]);
    assert_eq!(listed.body["items"][0]["slug"], Value::Null);
    assert_eq!(
        listed.body["items"][0]["base_url"],
        "https://atechsolutions.org"
    );
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(len, 0);
    bytes
}

async fn put_logo(
    api: &crate::common::Api,
    tenant: i64,
    token: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> crate::common::Reply {
    api.send(
        Request::put(format!("/api/tenants/{tenant}/logo"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(bytes))
            .unwrap(),
    )
    .await
}

async fn logos_are_sniffed_sized_and_served_with_cache_headers(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let id = acme.id.0;

    let svg = put_logo(
        &api,
        id,
        &admin,
        "image/png",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
    )
    .await;
    assert_eq!(
        (svg.status, svg.problem_code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let large = put_logo(&api, id, &admin, "image/png", png(512 * 1024 + 1)).await;
    assert_eq!(
        (large.status, large.problem_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let stored = put_logo(
        &api,
        id,
        &admin,
        "application/octet-stream",
        png(512 * 1024),
    )
    .await;
    assert_eq!(stored.status, StatusCode::NO_CONTENT, "{:?}", stored.body);

    let served = api
        .call("GET", &format!("/api/tenants/{id}/logo"), None, None)
        .await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    // An unversioned URL may hold a logo replaced tomorrow: checked each time, by its ETag.
    assert_eq!(served.header("cache-control"), Some("no-cache"));
    assert_eq!(served.bytes.len(), 512 * 1024);
    let etag = served.header("etag").unwrap().to_owned();
    let again = api
        .send(
            Request::get(format!("/api/tenants/{id}/logo"))
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let tenant = api.get(&format!("/api/tenants/{id}"), &admin).await;
    let logo_url = tenant.body["logo_url"].as_str().unwrap();
    assert!(logo_url.starts_with(&format!(
        "https://atechsolutions.org/api/tenants/{id}/logo?v="
    )));
    // The URL Tether links to names this version: it may be kept for a year.
    let versioned = logo_url.trim_start_matches("https://atechsolutions.org");
    let served = api.call("GET", versioned, None, None).await;
    assert_eq!(
        served.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let stale = api
        .call("GET", &format!("/api/tenants/{id}/logo?v=0123"), None, None)
        .await;
    assert_eq!(stale.header("cache-control"), Some("no-cache"));

    assert_eq!(
        api.delete(&format!("/api/tenants/{id}/logo"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = api
        .call("GET", &format!("/api/tenants/{id}/logo"), None, None)
        .await;
    assert_eq!(
        (gone.status, gone.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

async fn roles_and_audit_events_are_listed(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let admin = admin_token(&app).await;
    let acme_admin = app
        .token_for("boss@acme.com", &acme, Role::ClientAdmin)
        .await;
    let tech = app
        .token_for("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let api = app.api().await;

    let roles = api.get("/api/roles", &tech).await;
    assert_eq!(
        roles.body["items"],
        json!([
            {"id": 1, "name": "msp_admin", "scope": "msp", "rank": 40},
            {"id": 2, "name": "msp_technician", "scope": "msp", "rank": 30},
            {"id": 3, "name": "client_admin", "scope": "client", "rank": 20},
            {"id": 4, "name": "client_user", "scope": "client", "rank": 10},
        ])
    );

    let all = api
        .get("/api/audit-events?action=invite.created&limit=100", &admin)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        keys(&all.body["items"][0]),
        [
            "id",
            "at",
            "action",
            "actor_id",
            "tenant_id",
            "target_type",
            "target_id",
            "ip",
            "detail"
        ]
        .map(String::from)
        .into()
    );
    let own = api.get("/api/audit-events", &acme_admin).await;
    assert!(own.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant_id"] == acme.id.0));
    let since = api
        .get("/api/audit-events?since=2030-01-01T00:00:00Z", &admin)
        .await;
    assert!(since.body["items"].as_array().unwrap().is_empty());
    let bad = api.get("/api/audit-events?since=yesterday", &admin).await;
    assert_eq!(
        (bad.status, bad.problem_code()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let by_tech = api.get("/api/audit-events", &tech).await;
    assert_eq!(
        (by_tech.status, by_tech.problem_code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}

async fn every_error_is_problem_json(app: TestApp) {
    let admin = admin_token(&app).await;
    let api = app.api().await;
    let unknown = api.get("/api/nothing-here", &admin).await;
    assert_eq!(
        (unknown.status, unknown.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let elsewhere = api.call("GET", "/no/such/page", None, None).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let method = api.call("PUT", "/api/invites", Some(&admin), None).await;
    assert_eq!(
        (method.status, method.problem_code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let not_json = api
        .send(
            Request::post("/api/invites")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "text/plain")
                .body(Body::from("email=a@b.co"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (not_json.status, not_json.problem_code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let no_type = api
        .send(
            Request::post("/api/auth/token")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(70 * 1024));
    let too_large = api
        .send(
            Request::post("/api/invites")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(Body::from(huge))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (too_large.status, too_large.problem_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let bad_id = api.get("/api/invites/not-a-number", &admin).await;
    assert_eq!(
        (bad_id.status, bad_id.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let array = api.post("/api/auth/token", "x", json!([1, 2])).await;
    assert_eq!(
        (array.status, array.problem_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
}

async fn the_openapi_document_describes_every_endpoint(app: TestApp) {
    let api = app.api().await;
    let doc = api.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = &doc.body["paths"];
    let expected = [
        ("/api/auth/token", "post"),
        ("/api/auth/token", "delete"),
        ("/api/me", "get"),
        ("/api/me", "patch"),
        ("/api/me/password", "post"),
        ("/api/me/sessions", "get"),
        ("/api/me/sessions", "delete"),
        ("/api/me/sessions/{id}", "delete"),
        ("/api/invites", "post"),
        ("/api/invites", "get"),
        ("/api/invites/{id}", "get"),
        ("/api/invites/{id}", "delete"),
        ("/api/invites/{id}/reissue", "post"),
        ("/api/invite-links/{token}", "get"),
        ("/api/invite-links/{token}/accept", "post"),
        ("/api/users", "get"),
        ("/api/users/{id}", "get"),
        ("/api/users/{id}", "patch"),
        ("/api/roles", "get"),
        ("/api/tenants", "get"),
        ("/api/tenants", "post"),
        ("/api/tenants/{id}", "get"),
        ("/api/tenants/{id}", "patch"),
        ("/api/tenants/{id}/logo", "put"),
        ("/api/tenants/{id}/logo", "delete"),
        ("/api/tenants/{id}/logo", "get"),
        ("/api/audit-events", "get"),
        ("/api/outbox", "get"),
        ("/api/outbox/{id}/retry", "post"),
        ("/api/password-resets", "post"),
        ("/api/users/{id}/password-reset-links", "post"),
        ("/api/password-reset-links/{token}", "get"),
        ("/api/password-reset-links/{token}", "post"),
    ];
    for (path, method) in expected {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    // Every operation has an operationId of its own (generators refuse repeats) and a tag.
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths.as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path} repeats the operationId {id}"
            );
            assert!(
                operation["tags"][0].is_string(),
                "{method} {path} has no tag"
            );
        }
    }
    assert!(ids.contains("create_invite") && ids.contains("put_tenant_logo"));
    assert_eq!(
        doc.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The operations of `doc`, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

async fn the_openapi_document_speaks_like_api_md(app: TestApp) {
    let api = app.api().await;
    let doc = api.call("GET", "/api/openapi.json", None, None).await.body;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // api.md's names for objects, and request bodies named for their operation.
    for name in [
        "Invite",
        "CreatedInvite",
        "InviteList",
        "InviteLink",
        "Tenant",
        "TenantList",
        "User",
        "UserList",
        "Role",
        "AuditEvent",
        "Problem",
        "FieldError",
        "Token",
        "Session",
        "OutboxMessage",
        "InviteStatus",
        "TenantKind",
        "SignIn",
        "CreateInvite",
        "ReissueInvite",
        "AcceptInvite",
        "CreateTenant",
        "UpdateTenant",
        "UpdateUser",
        "UpdateMe",
        "ChangePassword",
    ] {
        assert!(schemas.contains_key(name), "{name} is not a schema");
    }
    for name in schemas.keys() {
        assert!(
            !name.ends_with("Body") && !name.ends_with("Request") && !name.contains('_'),
            "{name} is the code's name, not the API's"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["InviteList"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/Invite"
    );
    // An enum is described once and referred to.
    assert_eq!(
        doc["components"]["schemas"]["Invite"]["properties"]["status"]["$ref"],
        "#/components/schemas/InviteStatus"
    );
    // What the server sends has every field, `null` where there is no value.
    let invite = &doc["components"]["schemas"]["Invite"];
    let mut required: Vec<&str> = invite["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut fields: Vec<&str> = invite["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    required.sort_unstable();
    fields.sort_unstable();
    assert_eq!(required, fields);
    // A request's optional fields stay optional.
    let create = &doc["components"]["schemas"]["CreateInvite"]["required"];
    assert_eq!(create, &json!(["email", "role_id", "tenant_id"]));

    let public = [
        "create_token",
        "inspect_invite_link",
        "accept_invite_link",
        "get_tenant_logo",
        "request_password_reset",
        "request_invite_renewal",
        "inspect_password_reset_link",
        "reset_password",
    ];
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap();
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        let security = if public.contains(&id) {
            json!([])
        } else {
            json!([{"bearer": []}])
        };
        assert_eq!(operation["security"], security, "{method} {path}");
        let responses = operation["responses"].as_object().unwrap();
        if !public.contains(&id) {
            assert_eq!(
                responses["401"]["$ref"], "#/components/responses/Unauthenticated",
                "{method} {path}"
            );
        }
        for (status, response) in responses {
            if !status.starts_with('4') {
                continue;
            }
            // Each refusal is a problem, described by the code it carries.
            let response = match response["$ref"].as_str() {
                Some(reference) => {
                    let name = reference.rsplit('/').next().unwrap();
                    &doc["components"]["responses"][name]
                }
                None => response,
            };
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{status} of {method} {path}"
            );
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                description.starts_with('`'),
                "{status} of {method} {path} does not name its code: {description:?}"
            );
        }
    }
    let with_codes = [
        ("post", "/api/invites", "409", "`user_exists`"),
        ("post", "/api/invites", "409", "`invite_pending`"),
        ("post", "/api/tenants", "409", "`slug_taken`"),
        ("patch", "/api/users/{id}", "409", "`last_admin`"),
        (
            "delete",
            "/api/invites/{id}",
            "409",
            "`invite_not_revocable`",
        ),
        ("post", "/api/auth/token", "401", "`invalid_credentials`"),
        (
            "post",
            "/api/users/{id}/password-reset-links",
            "409",
            "`user_inactive`",
        ),
    ];
    for (method, path, status, code) in with_codes {
        let description = doc["paths"][path][method]["responses"][status]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.contains(code),
            "{method} {path} {status}: {description}"
        );
    }
    let gone = &doc["components"]["responses"]["InviteLinkGone"]["description"];
    for code in ["invite_expired", "invite_used", "invite_revoked"] {
        assert!(gone.as_str().unwrap().contains(code));
    }
    let rate_limited = &doc["components"]["responses"]["RateLimited"];
    assert!(rate_limited["headers"]["Retry-After"].is_object());

    // Logos are bytes, not arrays of numbers.
    let binary = json!({"type": "string", "format": "binary"});
    let logo = &doc["paths"]["/api/tenants/{id}/logo"];
    assert_eq!(
        logo["put"]["requestBody"]["content"]["image/*"]["schema"],
        binary
    );
    for image in ["image/png", "image/jpeg", "image/webp", "image/gif"] {
        assert_eq!(
            logo["get"]["responses"]["200"]["content"][image]["schema"], binary,
            "{image}"
        );
    }
}

async fn metrics_count_requests_by_route_and_the_invite_lifecycle(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let accepted = app.invite("a@acme.com", &acme, Role::ClientUser).await;
    app.accept(accepted.token.expose(), "A").await.unwrap();
    let _ = app.accept(accepted.token.expose(), "A").await;
    let _ = app.accept("unknown-token", "A").await;
    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let _ = app
        .tether
        .sign_in(
            "a@acme.com",
            "wrong password!",
            None,
            tether::domain::session::SessionKind::Api,
            None,
        )
        .await;
    api.call(
        "GET",
        &format!("/api/invite-links/{}", revoked.token.expose()),
        None,
        None,
    )
    .await;

    let metrics = api.call("GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&metrics.bytes).into_owned();
    for line in [
        "tether_invites_created_total 2",
        "tether_invites_accepted_total 1",
        "tether_invites_revoked_total 1",
        "tether_invite_accept_refusals_total{reason=\"used\"} 1",
        "tether_invite_accept_refusals_total{reason=\"unknown\"} 1",
        "tether_sign_in_failures_total 1",
        "tether_http_requests_total{method=\"GET\",route=\"/api/invite-links/{token}\",status=\"410\"} 1",
        "tether_http_request_duration_seconds_count{method=\"GET\",route=\"/api/invite-links/{token}\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(!text.contains(revoked.token.expose()));
}
