//! One's own account (product.md §4 `/account`, api.md `/api/me…`): name, password, and
//! one's own sessions and API tokens.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tether::domain::role::Role;
use tether::domain::session::SessionKind;
use tether::http::limits::LimitSettings;

use crate::common::{page, sign_in, text, Api, TestApp, ACME, GOOD_PASSWORD};

crate::on_both_engines!(
    people_rename_themselves,
    a_wrong_current_password_is_refused_counted_and_changes_nothing,
    a_weak_new_password_is_refused_and_changes_nothing,
    a_new_password_ends_every_other_session_but_this_one,
    the_sessions_list_shows_both_kinds_and_marks_the_current_one,
    one_session_is_ended_by_id_and_another_users_is_not_found,
    every_other_session_is_ended_at_once,
    last_used_is_written_at_most_once_a_minute,
    the_account_page_works_on_a_clients_host,
);

const NEW_PASSWORD: &str = "lantern juniper cobalt meadow";

/// Alice, a client user of Acme, with an API token from a second sign-in.
async fn alice(app: &TestApp) -> (tether::domain::tenant::Tenant, String) {
    let acme = app.client("Acme Corp", "acme").await;
    let token = app
        .token_for("alice@acme.com", &acme, Role::ClientUser)
        .await;
    (acme, token)
}

async fn api_token(app: &TestApp, email: &str, password: &str) -> Option<String> {
    app.tether
        .sign_in(email, password, None, SessionKind::Api, None)
        .await
        .ok()
        .map(|(_, session)| session.token.expose().to_owned())
}

async fn people_rename_themselves(app: TestApp) {
    let (_, token) = alice(&app).await;
    let api = app.api().await;
    let renamed = api
        .patch("/api/me", &token, json!({"name": "Alice Smith"}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "Alice Smith");
    assert_eq!(api.get("/api/me", &token).await.body["name"], "Alice Smith");
    let empty = api.patch("/api/me", &token, json!({"name": "  "})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/api/me", &token).await.body["name"], "Alice Smith");
}

async fn a_wrong_current_password_is_refused_counted_and_changes_nothing(app: TestApp) {
    let (_, token) = alice(&app).await;
    let api = app
        .api_with_limits(LimitSettings {
            sign_in_per_ip: 100,
            sign_in_per_email: 2,
            invite_links_per_ip: 100,
        })
        .await;
    let wrong = json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD});
    for _ in 0..2 {
        let refused = api.post("/api/me/password", &token, wrong.clone()).await;
        assert_eq!(
            (refused.status, refused.problem_code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        assert_eq!(refused.body["errors"][0]["field"], "current_password");
        assert_eq!(refused.body["errors"][0]["code"], "invalid_credentials");
    }
    let limited = api.post("/api/me/password", &token, wrong).await;
    assert_eq!(
        (limited.status, limited.problem_code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .is_some());
    assert_eq!(api.get("/api/me", &token).await.status, StatusCode::OK);
}

async fn a_weak_new_password_is_refused_and_changes_nothing(app: TestApp) {
    let (_, token) = alice(&app).await;
    let api = app.api().await;
    let weak = api
        .post(
            "/api/me/password",
            &token,
            json!({"current_password": GOOD_PASSWORD, "new_password": "password1234"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.body["errors"][0]["field"], "new_password");
    assert_eq!(weak.body["errors"][0]["code"], "password_too_weak");
    assert!(api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .is_some());
}

async fn a_new_password_ends_every_other_session_but_this_one(app: TestApp) {
    let (_, first) = alice(&app).await;
    let other = api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .unwrap();
    let (_, browser) = app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Web,
            None,
        )
        .await
        .unwrap();
    let api = app.api().await;
    let changed = api
        .post(
            "/api/me/password",
            &first,
            json!({"current_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    assert!(api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .is_none());
    assert!(api_token(&app, "alice@acme.com", NEW_PASSWORD)
        .await
        .is_some());
    assert_eq!(
        api.get("/api/me", &other).await.status,
        StatusCode::UNAUTHORIZED
    );
    let browser_after = app
        .tether
        .authenticate(browser.token.expose(), SessionKind::Web, None)
        .await;
    assert!(browser_after.is_err(), "the other browser is signed out");
    assert_eq!(api.get("/api/me", &first).await.status, StatusCode::OK);
    let recorded = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_changed'")
        .await;
    assert_eq!(recorded, 1);
}

async fn request_with_agent(
    api: &Api,
    path: &str,
    token: &str,
    agent: &str,
) -> crate::common::Reply {
    api.send(
        Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", agent)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn the_sessions_list_shows_both_kinds_and_marks_the_current_one(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let signed_in = api
        .send(
            Request::post("/api/auth/token")
                .header("content-type", "application/json")
                .header("user-agent", "curl/8.5 <script>")
                .body(Body::from(
                    json!({"email": "alice@acme.com", "password": GOOD_PASSWORD}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    let token = signed_in.body["token"].as_str().unwrap().to_owned();
    app.tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Web,
            Some("192.0.2.7"),
        )
        .await
        .unwrap();
    let listed = request_with_agent(&api, "/api/me/sessions", &token, "curl").await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.body["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"web") && kinds.contains(&"api"),
        "{kinds:?}"
    );
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["kind"], "api");
    assert_eq!(current[0]["user_agent"], "curl/8.5 <script>");
    assert!(items.iter().any(|s| s["ip"] == "192.0.2.7"));
    for session in items {
        for key in ["id", "created_at", "last_used_at"] {
            assert!(!session[key].is_null(), "{key} in {session}");
        }
    }
}

async fn one_session_is_ended_by_id_and_another_users_is_not_found(app: TestApp) {
    let (acme, token) = alice(&app).await;
    let bob = app.token_for("bob@acme.com", &acme, Role::ClientUser).await;
    let second = api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .unwrap();
    let api = app.api().await;
    let sessions = api.get("/api/me/sessions", &second).await;
    let second_id = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let by_bob = api
        .delete(&format!("/api/me/sessions/{second_id}"), &bob)
        .await;
    assert_eq!(
        (by_bob.status, by_bob.problem_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(api.get("/api/me", &second).await.status, StatusCode::OK);
    let ended = api
        .delete(&format!("/api/me/sessions/{second_id}"), &token)
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/me", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api.get("/api/me", &token).await.status, StatusCode::OK);
}

async fn every_other_session_is_ended_at_once(app: TestApp) {
    let (_, token) = alice(&app).await;
    let second = api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .unwrap();
    let api = app.api().await;
    let without_except = api.delete("/api/me/sessions", &token).await;
    assert_eq!(without_except.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/api/me", &second).await.status, StatusCode::OK);
    let ended = api.delete("/api/me/sessions?except=current", &token).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/me", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api.get("/api/me", &token).await.status, StatusCode::OK);
    let left = api.get("/api/me/sessions", &token).await;
    assert_eq!(left.body["items"].as_array().unwrap().len(), 1);
}

async fn last_used_is_written_at_most_once_a_minute(app: TestApp) {
    let (_, token) = alice(&app).await;
    let api = app.api().await;
    let last_used = |reply: crate::common::Reply| {
        reply.body["items"][0]["last_used_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = last_used(api.get("/api/me/sessions", &token).await);
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(api.get("/api/me", &token).await.status, StatusCode::OK);
    assert_eq!(last_used(api.get("/api/me/sessions", &token).await), first);
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(api.get("/api/me", &token).await.status, StatusCode::OK);
    assert_ne!(last_used(api.get("/api/me/sessions", &token).await), first);
}

async fn the_account_page_works_on_a_clients_host(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let other = api_token(&app, "alice@acme.com", GOOD_PASSWORD)
        .await
        .unwrap();
    let api = app.api().await;
    let browser = sign_in(&app, &api, ACME, "alice@acme.com").await;
    let account = browser.get(&api, ACME, "/account").await;
    assert_eq!(account.status, StatusCode::OK);
    let html = text(&account);
    assert!(html.contains("Your account") && html.contains("Acme Corp"));
    assert!(html.contains("this browser") && html.contains("API token"));
    assert!(html.contains("23 Nov 2026, 10:00 UTC (just now)"), "{html}");
    assert!(text(&browser.get(&api, ACME, "/").await).contains("href=\"/account\""));

    let renamed = browser
        .post(
            &api,
            ACME,
            "/account/name",
            &[("name", "Alice <b>Smith</b>")],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert!(
        text(&renamed).contains("Alice &#60;b&#62;Smith&#60;/b&#62;")
            || text(&renamed).contains("Alice &lt;b&gt;Smith&lt;/b&gt;")
    );

    let wrong = browser
        .post(
            &api,
            ACME,
            "/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&wrong).contains("current password is not correct"));
    let changed = browser
        .post(
            &api,
            ACME,
            "/account/password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", text(&changed));
    assert!(text(&changed).contains("signed out everywhere else"));
    assert_eq!(
        api.get("/api/me", &other).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser.get(&api, ACME, "/account").await.status,
        StatusCode::OK,
        "this browser stays signed in"
    );
    let cross_site = crate::common::submit(
        &api,
        ACME,
        "/account/sessions/end-others",
        &browser.cookies,
        &[("csrf_token", browser.token.as_str())],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let signed_out = page(&api, ACME, "/account", None).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
}
