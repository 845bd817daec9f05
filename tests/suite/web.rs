//! The pages: the branded invite page and its form, sign-in and sign-out, on each tenant's
//! own host (quality.md Security 2, 5, 8, 11).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tether::domain::invite::InviteStatus;
use tether::domain::role::Role;
use tether::domain::tenant::NewTenant;

use crate::common::{
    form_credentials, page, session_cookie, submit, text, Reply, TestApp, ACME, GOOD_PASSWORD,
    SAME_ORIGIN,
};

crate::on_both_engines!(
    the_invite_page_is_branded_and_sent_with_safe_headers,
    unknown_tokens_and_other_tenants_hosts_show_not_valid,
    unusable_links_say_why_and_what_to_do_next,
    submitting_the_form_creates_the_account_and_signs_in,
    forms_without_a_valid_token_or_from_another_origin_are_refused,
    a_refused_password_keeps_the_form_but_not_the_passwords,
    untrusted_text_is_escaped_on_every_page,
    link_scanners_leave_the_invite_acceptable,
    sign_in_and_sign_out_on_a_tenants_host,
    branding_is_served_on_the_tenants_host,
    forwarded_host_headers_are_ignored_without_trust_proxy,
    a_form_from_one_process_is_accepted_by_another,
);

async fn the_invite_page_is_branded_and_sent_with_safe_headers(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let reply = page(
        &api,
        ACME,
        &format!("/invite/{}", issued.token.expose()),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = text(&reply);
    assert!(
        html.contains("You&#39;re invited to join Acme Corp as Client admin")
            || html.contains("You're invited to join Acme Corp as Client admin"),
        "{html}"
    );
    assert!(html.contains("alice@acme.com"));
    assert!(html.contains("/branding/theme.css"));
    assert!(
        !html.contains("Tether"),
        "no Tether branding on a client host"
    );
    assert!(!html.contains("<script"), "the page works without script");
    let csp = reply.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-robots-tag"), Some("noindex"));
    for input in [
        "id=\"name\"",
        "id=\"password\"",
        "id=\"password_confirm\"",
        "id=\"email\"",
    ] {
        let id = input.trim_start_matches("id=\"").trim_end_matches('"');
        assert!(
            html.contains(input) && html.contains(&format!("<label for=\"{id}\">")),
            "{id} has a label"
        );
    }
}

async fn unknown_tokens_and_other_tenants_hosts_show_not_valid(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.client("Globex", "globex").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let unknown = page(&api, ACME, "/invite/not-a-token", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(text(&unknown).contains("This invite link is not valid"));
    let elsewhere = page(
        &api,
        "globex.atechsolutions.org",
        &format!("/invite/{}", issued.token.expose()),
        None,
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert!(text(&elsewhere).contains("This invite link is not valid"));
    let nobody = page(&api, "initech.atechsolutions.org", "/login", None).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    let foreign = page(&api, "evil.example.com", "/login", None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

async fn unusable_links_say_why_and_what_to_do_next(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let used = app.invite("u@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "U").await.unwrap();
    let reply = page(
        &api,
        ACME,
        &format!("/invite/{}", used.token.expose()),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert!(text(&reply).contains("already been used") && text(&reply).contains("href=\"/login\""));

    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let reply = page(
        &api,
        ACME,
        &format!("/invite/{}", revoked.token.expose()),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert!(text(&reply).contains("revoked"));

    let old = app.invite("s@acme.com", &acme, Role::ClientUser).await;
    app.invite("s@acme.com", &acme, Role::ClientUser).await;
    let reply = page(&api, ACME, &format!("/invite/{}", old.token.expose()), None).await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert!(
        text(&reply).contains("A newer invite was sent to this address on 23 Nov 2026"),
        "{}",
        text(&reply)
    );

    let expiring = app.invite("e@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(std::time::Duration::from_secs(72 * 3600));
    let reply = page(
        &api,
        ACME,
        &format!("/invite/{}", expiring.token.expose()),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::GONE);
    // delivery.md §11: an expired link's page asks for a fresh one.
    assert!(text(&reply).contains("expired") && text(&reply).contains("Ask for a new link"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
}

async fn submitting_the_form_creates_the_account_and_signs_in(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let path = format!("/invite/{}", issued.token.expose());
    let form = page(&api, ACME, &path, None).await;
    let (cookie, token) = form_credentials(&form);
    let fields = [
        ("csrf_token", token.as_str()),
        ("name", "Alice Smith"),
        ("password", GOOD_PASSWORD),
        ("password_confirm", GOOD_PASSWORD),
    ];
    let done = submit(&api, ACME, &path, &cookie, &fields, SAME_ORIGIN).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done));
    assert_eq!(done.header("location"), Some("/"));
    let session = session_cookie(&done).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(!session.contains("Domain"), "the cookie is host-only");

    let session_pair = session.split(';').next().unwrap();
    let home = page(&api, ACME, "/", Some(session_pair)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(text(&home).contains("Welcome, Alice Smith"));
    assert!(text(&home).contains("Acme Corp"));
    let on_other_host = page(&api, "atechsolutions.org", "/", Some(session_pair)).await;
    assert_eq!(
        on_other_host.status,
        StatusCode::SEE_OTHER,
        "a client session is not the MSP's"
    );

    let again = page(&api, ACME, &path, None).await;
    assert_eq!(again.status, StatusCode::GONE);
}

async fn forms_without_a_valid_token_or_from_another_origin_are_refused(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let path = format!("/invite/{}", issued.token.expose());
    let (cookie, token) = form_credentials(&page(&api, ACME, &path, None).await);
    let with = |t: &'static str| {
        [
            ("csrf_token", t),
            ("name", "Alice"),
            ("password", GOOD_PASSWORD),
            ("password_confirm", GOOD_PASSWORD),
        ]
    };
    let good = [
        ("csrf_token", token.as_str()),
        ("name", "Alice"),
        ("password", GOOD_PASSWORD),
        ("password_confirm", GOOD_PASSWORD),
    ];

    let attempts: Vec<(Reply, &str)> = vec![
        (
            submit(&api, ACME, &path, &cookie, &with(""), SAME_ORIGIN).await,
            "missing token",
        ),
        (
            submit(&api, ACME, &path, &cookie, &with("forged"), SAME_ORIGIN).await,
            "wrong token",
        ),
        (
            submit(
                &api,
                ACME,
                &path,
                "tether_csrf=somebody-elses-cookie-value-000000000000000",
                &good,
                SAME_ORIGIN,
            )
            .await,
            "foreign cookie",
        ),
        (
            submit(
                &api,
                ACME,
                &path,
                &cookie,
                &good,
                &[("sec-fetch-site", "cross-site")],
            )
            .await,
            "cross-site",
        ),
        (
            submit(
                &api,
                ACME,
                &path,
                &cookie,
                &good,
                &[("sec-fetch-site", "same-site")],
            )
            .await,
            "same-site",
        ),
        (
            submit(
                &api,
                ACME,
                &path,
                &cookie,
                &good,
                &[("origin", "https://evil.example.com")],
            )
            .await,
            "foreign origin",
        ),
    ];
    for (reply, what) in attempts {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
        assert!(text(&reply).contains("could not be accepted"), "{what}");
    }
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

    let accepted = submit(&api, ACME, &path, &cookie, &good, SAME_ORIGIN).await;
    assert_eq!(
        accepted.status,
        StatusCode::SEE_OTHER,
        "a real browser's submit is accepted"
    );
}

async fn a_refused_password_keeps_the_form_but_not_the_passwords(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let path = format!("/invite/{}", issued.token.expose());
    let (cookie, token) = form_credentials(&page(&api, ACME, &path, None).await);
    let weak = [
        ("csrf_token", token.as_str()),
        ("name", "Alice Typed"),
        ("password", "password1234"),
        ("password_confirm", "password1234"),
    ];
    let reply = submit(&api, ACME, &path, &cookie, &weak, SAME_ORIGIN).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&reply);
    assert!(html.contains("too easy to guess"), "{html}");
    assert!(html.contains("value=\"Alice Typed\""));
    assert!(!html.contains("password1234"));

    let mismatch = [
        ("csrf_token", token.as_str()),
        ("name", "Alice"),
        ("password", GOOD_PASSWORD),
        ("password_confirm", "something else entirely"),
    ];
    let reply = submit(&api, ACME, &path, &cookie, &mismatch, SAME_ORIGIN).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&reply).contains("do not match"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn untrusted_text_is_escaped_on_every_page(app: TestApp) {
    let payload = "<script>alert(1)</script>";
    let tenant = app
        .tether
        .create_tenant(
            &app.operator,
            NewTenant {
                name: format!("Evil {payload}"),
                slug: "evil".into(),
                ..NewTenant::default()
            },
        )
        .await
        .unwrap();
    let issued = app
        .tether
        .create_invite(
            &app.operator,
            tether::domain::invite::NewInvite {
                email: "x@evil.com".into(),
                name: Some(format!("Mallory {payload}")),
                role_id: Role::ClientUser.id(),
                tenant_id: tenant.id.0,
                expires_hours: None,
                send_email: false,
            },
        )
        .await
        .unwrap();
    let api = app.api().await;
    let host = "evil.atechsolutions.org";
    let path = format!("/invite/{}", issued.token.expose());
    let invite_page = page(&api, host, &path, None).await;
    let (cookie, token) = form_credentials(&invite_page);
    let login = page(&api, host, "/login", None).await;
    let accepted = submit(
        &api,
        host,
        &path,
        &cookie,
        &[
            ("csrf_token", token.as_str()),
            ("name", &format!("Mallory {payload}")),
            ("password", GOOD_PASSWORD),
            ("password_confirm", GOOD_PASSWORD),
        ],
        SAME_ORIGIN,
    )
    .await;
    let session = session_cookie(&accepted).unwrap();
    let home = page(&api, host, "/", Some(session.split(';').next().unwrap())).await;
    let used = page(&api, host, &path, None).await;
    for (what, reply) in [
        ("invite", &invite_page),
        ("login", &login),
        ("home", &home),
        ("used", &used),
    ] {
        let html = text(reply);
        assert!(
            !html.contains(payload),
            "{what} page shows the payload unescaped"
        );
        assert!(
            html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
            "{what} page shows it escaped"
        );
    }
}

async fn link_scanners_leave_the_invite_acceptable(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let path = format!("/invite/{}", issued.token.expose());
    for method in ["GET", "HEAD", "GET", "HEAD"] {
        let reply = api
            .send(
                Request::builder()
                    .method(method)
                    .uri(&path)
                    .header("host", ACME)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
    }
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
    assert!(
        !text(&page(&api, ACME, &path, None).await).contains("src=\"http"),
        "no third-party resource"
    );
    assert!(app.accept(issued.token.expose(), "Alice").await.is_ok());
}

async fn sign_in_and_sign_out_on_a_tenants_host(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    app.user("gina@globex.com", &globex, Role::ClientUser).await;
    let api = app.api().await;
    let (cookie, token) = form_credentials(&page(&api, ACME, "/login", None).await);
    let wrong = submit(
        &api,
        ACME,
        "/login",
        &cookie,
        &[
            ("csrf_token", &token),
            ("email", "alice@acme.com"),
            ("password", "nope nope nope"),
        ],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(text(&wrong).contains("not correct"));
    let other_tenant = submit(
        &api,
        ACME,
        "/login",
        &cookie,
        &[
            ("csrf_token", &token),
            ("email", "gina@globex.com"),
            ("password", GOOD_PASSWORD),
        ],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(other_tenant.status, StatusCode::UNAUTHORIZED);

    let signed_in = submit(
        &api,
        ACME,
        "/login",
        &cookie,
        &[
            ("csrf_token", &token),
            ("email", "alice@acme.com"),
            ("password", GOOD_PASSWORD),
        ],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let session = session_cookie(&signed_in).unwrap();
    let session_pair = session.split(';').next().unwrap().to_owned();
    let both = format!("{cookie}; {session_pair}");
    assert_eq!(
        page(&api, ACME, "/", Some(&both)).await.status,
        StatusCode::OK
    );

    let refused = submit(
        &api,
        ACME,
        "/logout",
        &both,
        &[("csrf_token", "forged")],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = submit(
        &api,
        ACME,
        "/logout",
        &both,
        &[("csrf_token", &token)],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header("location"), Some("/login"));
    assert_eq!(
        page(&api, ACME, "/", Some(&both)).await.status,
        StatusCode::SEE_OTHER,
        "the session ended server-side"
    );
}

async fn branding_is_served_on_the_tenants_host(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.tether
        .update_tenant(
            &app.operator,
            acme.id,
            tether::domain::tenant::TenantChanges {
                accent_colour: Some("#FFEE00".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(100, 0);
    app.tether
        .set_logo(&app.operator, acme.id, png)
        .await
        .unwrap();
    let api = app.api().await;
    let theme = page(&api, ACME, "/branding/theme.css", None).await;
    let css = text(&theme);
    assert!(
        css.contains("--accent: #FFEE00") && css.contains("--accent-text: #111111"),
        "{css}"
    );
    let logo = page(&api, ACME, "/branding/logo", None).await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.header("content-type"), Some("image/png"));
    assert_eq!(logo.header("x-content-type-options"), Some("nosniff"));
    assert!(logo.header("etag").is_some());
    assert_eq!(logo.header("cache-control"), Some("no-cache"));
    let login = text(&page(&api, ACME, "/login", None).await);
    assert!(login.contains("src=\"/branding/logo?v="));
    // The page links to this logo's version, which may be kept for a year.
    let start = login.find("/branding/logo?v=").unwrap();
    let versioned = login[start..].split('"').next().unwrap();
    let kept = page(&api, ACME, versioned, None).await;
    assert_eq!(
        kept.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        page(&api, ACME, "/branding/theme.css", None)
            .await
            .header("cache-control"),
        Some("no-cache")
    );
    let msp_logo = page(&api, "atechsolutions.org", "/branding/logo", None).await;
    assert_eq!(msp_logo.status, StatusCode::NOT_FOUND);
}

async fn forwarded_host_headers_are_ignored_without_trust_proxy(app: TestApp) {
    app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let reply = api
        .send(
            Request::get("/login")
                .header("host", "evil.example.com")
                .header("x-forwarded-host", ACME)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let direct = page(&api, ACME, "/login", None).await;
    assert_eq!(direct.status, StatusCode::OK);
}

/// The key that signs forms lives in the database, so a page served by one process and its
/// form submitted to another (behind a load balancer) are accepted.
async fn a_form_from_one_process_is_accepted_by_another(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let first = app.api().await;
    let second = app.api().await;
    let path = format!("/invite/{}", issued.token.expose());
    let (cookie, token) = form_credentials(&page(&first, ACME, &path, None).await);
    let fields = [
        ("csrf_token", token.as_str()),
        ("name", "Alice"),
        ("password", GOOD_PASSWORD),
        ("password_confirm", GOOD_PASSWORD),
    ];
    let done = submit(&second, ACME, &path, &cookie, &fields, SAME_ORIGIN).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done));
}
