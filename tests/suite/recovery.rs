//! Password recovery (delivery.md §10, api.md "Password recovery", quality.md Security 13):
//! reset links asked for by e-mail or issued by an admin, used once, on both engines. Mail
//! goes to a real SMTP server on loopback and is read back with Python's `email` package.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use tether::domain::error::{Conflict, Error, ResetGone};
use tether::domain::recovery::{ISSUED_LIFETIME, REQUESTED_LIFETIME};
use tether::domain::role::Role;
use tether::domain::session::SessionKind;
use tether::domain::user::UserChanges;
use tether::http::limits::LimitSettings;

use crate::common::{
    form_credentials, page, sign_in, submit, text, TestApp, ACME, GOOD_PASSWORD, SAME_ORIGIN,
};
use crate::support::{read_mail, SmtpSink};

crate::on_both_engines!(
    a_requested_link_is_e_mailed_in_the_tenants_branding_and_lasts_an_hour,
    known_unknown_other_tenant_and_deactivated_addresses_get_the_same_answer,
    requests_are_rate_limited_per_ip_and_per_email,
    an_issued_link_lasts_a_day_and_a_newer_one_supersedes_it,
    the_permission_table_decides_who_may_issue_a_link,
    a_deactivated_user_gets_no_link_and_deactivation_ends_open_ones,
    twenty_concurrent_submits_of_one_link_reset_once,
    a_reset_ends_every_session_and_api_token,
    opening_a_reset_link_by_get_or_head_changes_nothing,
    a_link_opened_on_another_tenants_host_is_not_found,
    the_reset_page_sends_the_person_to_sign_in_and_the_owner_is_told,
    a_weak_or_mismatched_password_changes_nothing,
    used_expired_and_superseded_links_have_their_own_pages,
    without_e_mail_the_forgot_page_says_to_ask_an_administrator,
    admins_make_a_link_from_users_and_team,
    the_sealed_token_is_erased_once_the_link_is_used,
);

const NEW_PASSWORD: &str = "copper lantern thistle 7";

fn limits(per_ip: u32, per_email: u32) -> LimitSettings {
    LimitSettings {
        sign_in_per_ip: per_ip,
        sign_in_per_email: per_email,
        invite_links_per_ip: 10_000,
    }
}

/// The reset link in a delivered message's text.
fn link_in(message: &Value) -> String {
    let text = message["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == "text/plain"))
        .and_then(|p| p["text"].as_str())
        .unwrap_or_default();
    text.split_whitespace()
        .find(|word| word.contains("/reset/"))
        .unwrap_or_default()
        .to_owned()
}

fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Waits until the background work of `requests` answered reset requests is done: each
/// records its `auth.password_reset_requested` event.
async fn requests_handled(app: &TestApp, requests: i64) {
    let sql = "SELECT COUNT(*) FROM audit_events WHERE action = 'auth.password_reset_requested'";
    for _ in 0..1000 {
        if app.count(sql).await >= requests {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{requests} reset requests were not handled");
}

async fn reset(app: &TestApp, token: &str) -> Result<(), Error> {
    app.tether
        .reset_password(token, NEW_PASSWORD, None, Some("192.0.2.9"))
        .await
        .map(|_| ())
}

async fn a_requested_link_is_e_mailed_in_the_tenants_branding_and_lasts_an_hour(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .request_password_reset("Alice@ACME.com", acme.id, Some("192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);
    let message = read_mail(&sink.files())[0].take();
    assert_eq!(message["headers"]["to"][0], "alice@acme.com");
    assert_eq!(
        message["headers"]["subject"][0],
        "Reset your Acme Corp password"
    );
    assert_eq!(
        message["headers"]["from"][0],
        "Acme Corp <noreply@atechsolutions.org>"
    );
    let link = link_in(&message);
    assert!(
        link.starts_with("https://acme.atechsolutions.org/reset/"),
        "{link}"
    );
    let token = token_of(&link);
    assert_eq!(token.len(), 43);
    // Only the digest is stored.
    let stored: i64 = app
        .count("SELECT COUNT(*) FROM password_resets WHERE created_by IS NULL")
        .await;
    assert_eq!(stored, 1);

    let opened = app
        .tether
        .open_reset_link(&token, Some(acme.id))
        .await
        .unwrap();
    assert_eq!(opened.user.email.as_str(), "alice@acme.com");
    assert_eq!(opened.expires_at, app.now().plus(REQUESTED_LIFETIME));
    app.clock
        .advance(REQUESTED_LIFETIME - Duration::from_millis(1));
    assert!(app.tether.open_reset_link(&token, None).await.is_ok());
    app.clock.advance(Duration::from_millis(1));
    assert!(matches!(
        app.tether.open_reset_link(&token, None).await,
        Err(Error::ResetGone(ResetGone::Expired))
    ));
    assert!(matches!(
        reset(&app, &token).await,
        Err(Error::ResetGone(ResetGone::Expired))
    ));
    let requested = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.password_reset_requested'")
        .await;
    assert_eq!(requested, 1);
}

async fn known_unknown_other_tenant_and_deactivated_addresses_get_the_same_answer(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    app.user("gina@globex.com", &globex, Role::ClientUser).await;
    let (gone, _) = app.user("dave@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .update_user(
            &app.operator,
            gone.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    let api = app.api().await;
    let mut answers = Vec::new();
    for email in [
        "alice@acme.com",
        "nobody@acme.com",
        "gina@globex.com",
        "dave@acme.com",
    ] {
        let reply = api
            .call(
                "POST",
                "/api/password-resets",
                None,
                Some(json!({"email": email, "tenant_id": acme.id.0})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{email}");
        answers.push((
            reply.bytes.clone(),
            reply.header("content-type").map(str::to_owned),
        ));
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert!(String::from_utf8_lossy(&answers[0].0).contains("If an account"));
    // The answers came before the work; only Acme's active Alice gets a mail.
    requests_handled(&app, 4).await;
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);
    let mail = read_mail(&sink.files());
    assert_eq!(mail.as_array().map(Vec::len), Some(1));
    assert_eq!(mail[0]["headers"]["to"][0], "alice@acme.com");
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 1);
    // The page answers the same too.
    let form = page(&api, ACME, "/forgot-password", None).await;
    let (cookie, token) = form_credentials(&form);
    let mut pages = Vec::new();
    for email in ["alice@acme.com", "nobody@acme.com", "gina@globex.com"] {
        let done = submit(
            &api,
            ACME,
            "/forgot-password",
            &cookie,
            &[("csrf_token", &token), ("email", email)],
            SAME_ORIGIN,
        )
        .await;
        assert_eq!(done.status, StatusCode::OK);
        pages.push(text(&done));
    }
    assert!(pages.windows(2).all(|pair| pair[0] == pair[1]));
    assert!(pages[0].contains("If an account with that address exists here"));
    requests_handled(&app, 7).await;
}

async fn requests_are_rate_limited_per_ip_and_per_email(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    async fn ask(api: &crate::common::Api, tenant: i64, email: String) -> crate::common::Reply {
        let body = json!({"email": email, "tenant_id": tenant});
        api.call("POST", "/api/password-resets", None, Some(body))
            .await
    }
    let ask = |api, email| ask(api, acme.id.0, email);
    let per_email = app.api_with_limits(limits(1_000, 3)).await;
    for _ in 0..3 {
        let reply = ask(&per_email, String::from("alice@acme.com")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    let limited = ask(&per_email, String::from("ALICE@acme.com")).await;
    assert_eq!(limited.problem_code(), "rate_limited");
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        ask(&per_email, String::from("bob@acme.com")).await.status,
        StatusCode::ACCEPTED
    );

    let per_ip = app.api_with_limits(limits(4, 1_000)).await;
    for n in 0..4 {
        let reply = ask(&per_ip, format!("person{n}@acme.com")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    let limited = ask(&per_ip, String::from("someone@acme.com")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // Sign-in keeps its own counters.
    let signed_in = per_ip
        .call(
            "POST",
            "/api/auth/token",
            None,
            Some(json!({"email": "x@acme.com", "password": "wrong password!"})),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::UNAUTHORIZED);
    requests_handled(&app, 8).await;
}

async fn an_issued_link_lasts_a_day_and_a_newer_one_supersedes_it(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let first = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    assert_eq!(first.expires_at, app.now().plus(ISSUED_LIFETIME));
    assert!(first
        .link
        .starts_with("https://acme.atechsolutions.org/reset/"));
    let second = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    assert!(matches!(
        app.tether.open_reset_link(first.token.expose(), None).await,
        Err(Error::ResetGone(ResetGone::Superseded))
    ));
    app.clock
        .advance(ISSUED_LIFETIME - Duration::from_millis(1));
    assert!(app
        .tether
        .open_reset_link(second.token.expose(), None)
        .await
        .is_ok());
    app.clock.advance(Duration::from_millis(1));
    assert!(matches!(
        reset(&app, second.token.expose()).await,
        Err(Error::ResetGone(ResetGone::Expired))
    ));
    let created = app
        .count(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'auth.password_reset_link_created'",
        )
        .await;
    assert_eq!(created, 2);
    // Signing in supersedes nothing; the API answers as the domain does.
    let api = app.api().await;
    let third = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let reply = api
        .call(
            "GET",
            &format!("/api/password-reset-links/{}", first.token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(reply.problem_code(), "reset_link_superseded");
    let shown = api
        .call(
            "GET",
            &format!("/api/password-reset-links/{}", third.token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["email"], "alice@acme.com");
    assert_eq!(shown.body["tenant"]["name"], "Acme Corp");
    let unknown = api
        .call("GET", "/api/password-reset-links/nothing", None, None)
        .await;
    assert_eq!(unknown.problem_code(), "not_found");
}

async fn the_permission_table_decides_who_may_issue_a_link(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (_, acme_admin) = app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    let (carol, carol_actor) = app.user("carol@acme.com", &acme, Role::ClientUser).await;
    let (other_admin, _) = app.user("ann@acme.com", &acme, Role::ClientAdmin).await;
    let (gina, _) = app.user("gina@globex.com", &globex, Role::ClientUser).await;
    let (tech, tech_actor) = app
        .user("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let issue = |actor: tether::domain::actor::Actor, user| {
        let tether = app.tether.clone();
        async move { tether.issue_password_reset(&actor, user, false).await }
    };
    // A client admin: their tenant's users up to their own rank.
    assert!(issue(acme_admin.clone(), carol.id).await.is_ok());
    assert!(issue(acme_admin.clone(), other_admin.id).await.is_ok());
    assert!(matches!(
        issue(acme_admin.clone(), tech.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        issue(acme_admin.clone(), gina.id).await,
        Err(Error::NotFound(_))
    ));
    // A technician and a client user issue none.
    assert!(matches!(
        issue(tech_actor, carol.id).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        issue(carol_actor, carol.id).await,
        Err(Error::Forbidden)
    ));
    // The MSP admin anyone.
    assert!(issue(app.operator.clone(), tech.id).await.is_ok());
    assert!(issue(app.operator.clone(), gina.id).await.is_ok());
    // Through the API, as for PATCH /api/users/{id}.
    let api = app.api().await;
    let token = app
        .token_for("boss@acme.com", &acme, Role::ClientAdmin)
        .await;
    let created = api
        .post(
            &format!("/api/users/{}/password-reset-links", carol.id.0),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body["reset_url"]
        .as_str()
        .unwrap()
        .ends_with(created.body["token"].as_str().unwrap()));
    assert_eq!(created.body["user"]["email"], "carol@acme.com");
    let msp_user = api
        .post(
            &format!("/api/users/{}/password-reset-links", tech.id.0),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(msp_user.problem_code(), "not_found");
    let mailed = api
        .post(
            &format!("/api/users/{}/password-reset-links", carol.id.0),
            &token,
            json!({"send_email": true}),
        )
        .await;
    assert_eq!(mailed.problem_code(), "validation_failed");
    assert_eq!(mailed.body["errors"][0]["code"], "email_not_configured");
}

async fn a_deactivated_user_gets_no_link_and_deactivation_ends_open_ones(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (dave, _) = app.user("dave@acme.com", &acme, Role::ClientUser).await;
    let open = app
        .tether
        .issue_password_reset(&app.operator, dave.id, false)
        .await
        .unwrap();
    app.tether
        .update_user(
            &app.operator,
            dave.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        reset(&app, open.token.expose()).await,
        Err(Error::ResetGone(ResetGone::Superseded))
    ));
    assert!(matches!(
        app.tether
            .issue_password_reset(&app.operator, dave.id, false)
            .await,
        Err(Error::Conflict(Conflict::UserInactive))
    ));
    let api = app.api().await;
    let token = app
        .token_for("boss@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let refused = api
        .post(
            &format!("/api/users/{}/password-reset-links", dave.id.0),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(refused.problem_code(), "user_inactive");
}

async fn twenty_concurrent_submits_of_one_link_reset_once(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let tether = app.tether.clone();
        let token = issued.token.expose().to_owned();
        tasks.spawn(async move {
            tether
                .reset_password(&token, NEW_PASSWORD, None, None)
                .await
                .map(|_| ())
        });
    }
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => done += 1,
            Err(Error::ResetGone(ResetGone::Used)) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(done, 1);
    let resets = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.password_reset'")
        .await;
    assert_eq!(resets, 1);
}

async fn a_reset_ends_every_session_and_api_token(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let bearer = app
        .token_for("alice@acme.com", &acme, Role::ClientUser)
        .await;
    let browser = sign_in(&app, &api, ACME, "alice@acme.com").await;
    assert_eq!(api.get("/api/me", &bearer).await.status, StatusCode::OK);
    assert_eq!(
        browser.get(&api, ACME, "/account").await.status,
        StatusCode::OK
    );
    let alice = app
        .tether
        .user_by_email(&app.operator, "alice@acme.com")
        .await
        .unwrap();
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let done = api
        .call(
            "POST",
            &format!("/api/password-reset-links/{}", issued.token.expose()),
            None,
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_eq!(
        api.get("/api/me", &bearer).await.problem_code(),
        "unauthenticated"
    );
    let account = browser.get(&api, ACME, "/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert_eq!(account.header("location"), Some("/login"));
    let again = api
        .call(
            "POST",
            &format!("/api/password-reset-links/{}", issued.token.expose()),
            None,
            Some(json!({"password": "another fine password 9"})),
        )
        .await;
    assert_eq!(again.problem_code(), "reset_link_used");
    // The old password is gone, the new one works.
    let sign_in_with = |password: &'static str| {
        let tether = app.tether.clone();
        async move {
            tether
                .sign_in("alice@acme.com", password, None, SessionKind::Api, None)
                .await
        }
    };
    assert!(matches!(
        sign_in_with(GOOD_PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    assert!(sign_in_with(NEW_PASSWORD).await.is_ok());
}

async fn opening_a_reset_link_by_get_or_head_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let api = app.api().await;
    let path = format!("/reset/{}", issued.token.expose());
    for method in ["GET", "HEAD", "GET"] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(&path)
            .header("host", ACME)
            .body(axum::body::Body::empty())
            .unwrap();
        let reply = api.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("x-robots-tag"), Some("noindex"));
    }
    let shown = page(&api, ACME, &path, None).await;
    let html = text(&shown);
    assert!(html.contains("Choose a new password") && html.contains("alice@acme.com"));
    assert!(html.contains("Acme Corp"));
    let api_view = api
        .call(
            "GET",
            &format!("/api/password-reset-links/{}", issued.token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(api_view.status, StatusCode::OK);
    let used = app
        .count("SELECT COUNT(*) FROM password_resets WHERE used_at IS NOT NULL")
        .await;
    assert_eq!(used, 0);
    assert!(reset(&app, issued.token.expose()).await.is_ok());
}

async fn a_link_opened_on_another_tenants_host_is_not_found(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.client("Globex", "globex").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let api = app.api().await;
    let elsewhere = page(
        &api,
        "globex.atechsolutions.org",
        &format!("/reset/{}", issued.token.expose()),
        None,
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert!(text(&elsewhere).contains("not valid"));
    assert!(!text(&elsewhere).contains("alice@acme.com"));
}

async fn the_reset_page_sends_the_person_to_sign_in_and_the_owner_is_told(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let api = app.api().await;
    let path = format!("/reset/{}", issued.token.expose());
    let form = page(&api, ACME, &path, None).await;
    let (cookie, token) = form_credentials(&form);
    let done = submit(
        &api,
        ACME,
        &path,
        &cookie,
        &[
            ("csrf_token", &token),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done));
    assert_eq!(done.header("location"), Some("/login?password=changed"));
    assert!(
        done.header("set-cookie")
            .is_none_or(|c| !c.starts_with("tether_session=")),
        "not signed in"
    );
    let login = page(&api, ACME, "/login?password=changed", None).await;
    assert!(text(&login).contains("Your password was changed; sign in with it."));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);
    let notice = read_mail(&sink.files())[0].take();
    assert_eq!(
        notice["headers"]["subject"][0],
        "Your Acme Corp password was changed"
    );
    let raw: String = sink
        .files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    assert!(!raw.contains(NEW_PASSWORD));
    assert!(!raw.contains(issued.token.expose()));
}

async fn a_weak_or_mismatched_password_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let issued = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    let api = app.api().await;
    let path = format!("/reset/{}", issued.token.expose());
    let form = page(&api, ACME, &path, None).await;
    let (cookie, token) = form_credentials(&form);
    for (password, confirm, says) in [
        (NEW_PASSWORD, "something else entirely", "do not match"),
        ("short", "short", "12"),
        (
            "alice@acme.com password",
            "alice@acme.com password",
            "email",
        ),
    ] {
        let refused = submit(
            &api,
            ACME,
            &path,
            &cookie,
            &[
                ("csrf_token", &token),
                ("password", password),
                ("password_confirm", confirm),
            ],
            SAME_ORIGIN,
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&refused).contains(says), "{}", text(&refused));
        assert!(!text(&refused).contains(password));
    }
    let weak = api
        .call(
            "POST",
            &format!("/api/password-reset-links/{}", issued.token.expose()),
            None,
            Some(json!({"password": "password"})),
        )
        .await;
    assert_eq!(weak.problem_code(), "validation_failed");
    assert_eq!(weak.body["errors"][0]["field"], "password");
    let cross_site = submit(
        &api,
        ACME,
        &path,
        &cookie,
        &[
            ("csrf_token", &token),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM password_resets WHERE used_at IS NOT NULL")
            .await,
        0
    );
    assert!(app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Api,
            None
        )
        .await
        .is_ok());
}

async fn used_expired_and_superseded_links_have_their_own_pages(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let (bob, _) = app.user("bob@acme.com", &acme, Role::ClientUser).await;
    let issue = |user| {
        let tether = app.tether.clone();
        let operator = app.operator.clone();
        async move {
            tether
                .issue_password_reset(&operator, user, false)
                .await
                .unwrap()
        }
    };
    let used = issue(alice.id).await;
    reset(&app, used.token.expose()).await.unwrap();
    let superseded = issue(bob.id).await;
    issue(bob.id).await;
    let expired = issue(alice.id).await;
    app.clock.advance(ISSUED_LIFETIME);
    let api = app.api().await;
    for (token, title) in [
        (used.token.expose(), "already been used"),
        (superseded.token.expose(), "was replaced"),
        (expired.token.expose(), "has expired"),
    ] {
        let reply = page(&api, ACME, &format!("/reset/{token}"), None).await;
        assert_eq!(reply.status, StatusCode::GONE);
        let html = text(&reply);
        assert!(html.contains(title), "{html}");
        assert!(html.contains("href=\"/forgot-password\""));
        assert!(html.contains("Acme Corp"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    }
    let unknown = page(&api, ACME, "/reset/not-a-token", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(text(&unknown).contains("href=\"/forgot-password\""));
}

async fn without_e_mail_the_forgot_page_says_to_ask_an_administrator(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let login = page(&api, ACME, "/login", None).await;
    assert!(text(&login).contains("href=\"/forgot-password\""));
    let forgot = page(&api, ACME, "/forgot-password", None).await;
    assert_eq!(forgot.status, StatusCode::OK);
    let html = text(&forgot);
    assert!(html.contains("Ask an administrator of Acme Corp"), "{html}");
    assert!(!html.contains("name=\"email\""));
    let refused = api
        .call(
            "POST",
            "/api/password-resets",
            None,
            Some(json!({"email": "alice@acme.com", "tenant_id": acme.id.0})),
        )
        .await;
    assert_eq!(refused.problem_code(), "validation_failed");
    assert_eq!(refused.body["errors"][0]["code"], "email_not_configured");
    assert_eq!(app.count("SELECT COUNT(*) FROM password_resets").await, 0);
}

async fn admins_make_a_link_from_users_and_team(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    let (carol, _) = app.user("carol@acme.com", &acme, Role::ClientUser).await;
    let (root, _) = app
        .user("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    // Team: a client admin, for a teammate.
    let admin = sign_in(&app, &api, ACME, "admin@acme.com").await;
    let team = admin.get(&api, ACME, "/team").await;
    assert!(text(&team).contains(&format!("/team/{}/reset-link", carol.id.0)));
    let form = admin
        .get(&api, ACME, &format!("/team/{}/reset-link", carol.id.0))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(text(&form).contains("carol@acme.com"));
    let made = admin
        .post(&api, ACME, &format!("/team/{}/reset-link", carol.id.0), &[])
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", text(&made));
    let html = text(&made);
    assert!(html.contains("https://acme.atechsolutions.org/reset/"));
    assert!(html.contains("data-copy=\"reset-link\""));
    assert_eq!(made.header("cache-control"), Some("no-store"));
    // Not for a user of the MSP, nor without the form's token.
    let msp_user = admin
        .post(&api, ACME, &format!("/team/{}/reset-link", root.id.0), &[])
        .await;
    assert_eq!(msp_user.status, StatusCode::NOT_FOUND);
    let forged = submit(
        &api,
        ACME,
        &format!("/team/{}/reset-link", carol.id.0),
        &admin.cookies,
        &[("csrf_token", "forged")],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Users: the MSP admin, for anyone.
    let msp = sign_in(&app, &api, crate::common::MSP, "root@atechsolutions.org").await;
    let users = msp.get(&api, crate::common::MSP, "/users").await;
    assert!(text(&users).contains(&format!("/users/{}/reset-link", carol.id.0)));
    let made = msp
        .post(
            &api,
            crate::common::MSP,
            &format!("/users/{}/reset-link", carol.id.0),
            &[],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    // Two links were made for Carol; only the newest is open.
    let open = app
        .count(
            "SELECT COUNT(*) FROM password_resets WHERE used_at IS NULL AND superseded_at IS NULL",
        )
        .await;
    assert_eq!(open, 1);
}

async fn the_sealed_token_is_erased_once_the_link_is_used(app: TestApp) {
    // The mail server is down: the e-mail waits in the outbox with its sealed token.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let app = app.with_mail(&format!("smtp://127.0.0.1:{port}?tls=none"));
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let first = app
        .tether
        .issue_password_reset(&app.operator, alice.id, true)
        .await
        .unwrap();
    let sealed = "SELECT COUNT(*) FROM outbox WHERE sealed IS NOT NULL";
    assert_eq!(app.count(sealed).await, 1);
    // A newer link erases the older one's sealed copy and brings its own.
    let second = app
        .tether
        .issue_password_reset(&app.operator, alice.id, true)
        .await
        .unwrap();
    assert_eq!(app.count(sealed).await, 1);
    assert!(first.token.expose() != second.token.expose());
    reset(&app, second.token.expose()).await.unwrap();
    assert_eq!(app.count(sealed).await, 0);
}
