//! The MSP console and the client portal's Team page, driven as a browser drives them.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tether::domain::invite::InviteStatus;
use tether::domain::role::Role;

use crate::common::{
    page, sign_in, submit, text, Api, Browser, Reply, TestApp, ACME, MSP, SAME_ORIGIN,
};

crate::on_both_engines!(
    users_are_searched_by_email_or_name_filtered_by_role_and_paged,
    pending_invites_are_filtered_by_status_with_a_count_of_each,
    a_client_admin_reads_their_tenants_activity_and_the_audit_downloads_as_csv,
    the_audit_page_says_who_did_what_in_sentences_filtered_and_paged,
    the_audit_is_filtered_by_who_and_when_and_its_names_are_links,
    an_msp_admin_creates_a_client_with_a_logo_and_invites_its_admin,
    msp_staff_are_invited_from_the_users_page,
    pending_invites_are_revoked_and_reissued_from_the_console,
    a_client_admin_invites_and_revokes_from_team,
    technicians_and_client_users_cannot_invite_from_the_pages,
    console_forms_refuse_cross_site_posts,
    names_and_emails_are_escaped_in_the_console,
    every_page_sends_the_security_headers,
    console_pages_do_not_exist_on_a_clients_host,
    the_msp_tenant_is_not_a_client_to_edit,
    a_refused_logo_leaves_the_client_as_it_was,
    pending_invites_are_filtered_by_tenant_and_email_and_say_who_invited,
    unreadable_addresses_and_oversized_forms_get_pages,
    invite_forms_offer_e_mail_only_when_it_is_set_up,
    an_invite_is_e_mailed_from_team_and_a_failed_one_is_sent_again,
);

fn link_in(reply: &Reply) -> String {
    let html = text(reply);
    let marker = "id=\"invite-link\" type=\"text\" value=\"";
    let start = html.find(marker).expect("the page shows the link") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn multipart(boundary: &str, fields: &[(&str, &str)], logo: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    if let Some(bytes) = logo {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    body
}

async fn an_msp_admin_creates_a_client_with_a_logo_and_invites_its_admin(app: TestApp) {
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let dashboard = browser.get(&api, MSP, "/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(text(&dashboard).contains("Dashboard") && text(&dashboard).contains("Recent activity"));

    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(200, 0);
    let boundary = "tetherboundary";
    let body = multipart(
        boundary,
        &[
            ("csrf_token", &browser.token),
            ("name", "Acme Corp"),
            ("slug", "acme"),
            ("accent_colour", "#d9480f"),
        ],
        Some(&png),
    );
    let created = api
        .send(
            Request::post("/clients/new")
                .header("host", MSP)
                .header("cookie", &browser.cookies)
                .header("sec-fetch-site", "same-origin")
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", text(&created));
    let clients = browser.get(&api, MSP, "/clients").await;
    let html = text(&clients);
    assert!(html.contains("Acme Corp") && html.contains("https://acme.atechsolutions.org"));
    let acme = app.tether.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(acme.accent_colour.as_str(), "#D9480F");
    assert!(acme.logo_etag.is_some());
    assert!(html.contains(&format!("/clients/{}/invite", acme.id.0)));
    // Its logo beside its name, served by the public logo endpoint.
    let etag = acme.logo_etag.clone().unwrap();
    let thumb = format!(
        "/api/tenants/{}/logo?v={}",
        acme.id.0,
        etag.trim_matches('"')
    );
    assert!(
        html.contains(&format!("<img class=\"thumb\" src=\"{thumb}\" alt=\"\"")),
        "{html}"
    );
    let logo = browser.get(&api, MSP, &thumb).await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.headers.get("content-type").unwrap(), "image/png");

    let form = browser
        .get(&api, MSP, &format!("/clients/{}/invite", acme.id.0))
        .await;
    assert!(text(&form).contains("Generate Invite Link"));
    let issued = browser
        .post(
            &api,
            MSP,
            &format!("/clients/{}/invite", acme.id.0),
            &[
                ("email", "alice@acme.com"),
                ("name", "Alice"),
                ("role_id", "3"),
                ("expires_hours", "24"),
                ("tenant_id", "999"),
            ],
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", text(&issued));
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    assert!(text(&issued).contains("Treat this link like a temporary password"));
    assert!(text(&issued).contains("data-copy=\"invite-link\""));
    // Its expiry in UTC, with how far away it is.
    assert!(text(&issued).contains("It expires on 24 Nov 2026, 10:00 UTC (in 1 day)"));
    let link = link_in(&issued);
    let token = link
        .strip_prefix("https://acme.atechsolutions.org/invite/")
        .expect("a link on Acme's host");
    let invite = app
        .tether
        .open_invite_link(token, Some(acme.id))
        .await
        .unwrap();
    assert_eq!(invite.invite.role, Role::ClientAdmin);
    assert_eq!(
        invite.invite.expires_at,
        app.now().plus(std::time::Duration::from_secs(24 * 3600))
    );
}

async fn msp_staff_are_invited_from_the_users_page(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let form = browser.get(&api, MSP, "/users/invite").await;
    assert!(text(&form).contains("MSP Staff"));
    let staff = browser
        .post(
            &api,
            MSP,
            "/users/invite",
            &[
                ("email", "tech@atechsolutions.org"),
                ("msp_staff", "1"),
                ("role_id", "2"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(staff.status, StatusCode::CREATED, "{}", text(&staff));
    assert!(link_in(&staff).starts_with("https://atechsolutions.org/invite/"));
    let client = browser
        .post(
            &api,
            MSP,
            "/users/invite",
            &[
                ("email", "bob@acme.com"),
                ("role_id", "4"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(client.status, StatusCode::CREATED);
    assert!(link_in(&client).starts_with("https://acme.atechsolutions.org/invite/"));
    let mismatch = browser
        .post(
            &api,
            MSP,
            "/users/invite",
            &[
                ("email", "x@acme.com"),
                ("msp_staff", "1"),
                ("role_id", "4"),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&mismatch).contains("cannot be held"),
        "{}",
        text(&mismatch)
    );
    assert!(
        text(&mismatch).contains("value=\"x@acme.com\""),
        "the form is kept"
    );
    let users = browser
        .get(&api, MSP, &format!("/users?tenant={}", app.msp.id.0))
        .await;
    assert!(text(&users).contains("admin@atechsolutions.org"));
}

async fn pending_invites_are_revoked_and_reissued_from_the_console(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    let resent = app.invite("s@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let list = browser.get(&api, MSP, "/users/invites").await;
    assert!(text(&list).contains("r@acme.com") && text(&list).contains("Re-issue"));
    // Times in UTC, with how far away they are.
    assert!(text(&list).contains("26 Nov 2026, 10:00 UTC (in 3 days)"));

    let done = browser
        .post(
            &api,
            MSP,
            &format!("/users/invites/{}/revoke", revoked.invite.id.0),
            &[],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let gone = page(
        &api,
        ACME,
        &format!("/invite/{}", revoked.token.expose()),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(text(&gone).contains("revoked"));

    let fresh = browser
        .post(
            &api,
            MSP,
            &format!("/users/invites/{}/reissue", resent.invite.id.0),
            &[],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    let token = link_in(&fresh).rsplit('/').next().unwrap().to_owned();
    assert!(app
        .tether
        .open_invite_link(&token, Some(acme.id))
        .await
        .is_ok());
    let old = app
        .tether
        .invite(&app.operator, resent.invite.id)
        .await
        .unwrap();
    assert_eq!(old.status, InviteStatus::Revoked);
}

async fn a_client_admin_invites_and_revokes_from_team(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let team = browser.get(&api, ACME, "/team").await;
    assert!(text(&team).contains("boss@acme.com") && text(&team).contains("Generate Invite Link"));
    assert!(!text(&team).contains("MSP admin"), "no MSP role is offered");
    let issued = browser
        .post(
            &api,
            ACME,
            "/team",
            &[
                ("email", "mate@acme.com"),
                ("role_id", "4"),
                ("expires_hours", "72"),
                ("tenant_id", "1"),
            ],
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", text(&issued));
    assert!(link_in(&issued).starts_with("https://acme.atechsolutions.org/invite/"));
    let msp_role = browser
        .post(
            &api,
            ACME,
            "/team",
            &[
                ("email", "evil@acme.com"),
                ("role_id", "1"),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(msp_role.status, StatusCode::FORBIDDEN);

    let pending = app
        .tether
        .list_invites(
            &app.operator,
            tether::domain::invite::InviteQuery {
                email: Some("mate@acme.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = pending.items[0].id.0;
    let team = browser.get(&api, ACME, "/team").await;
    assert!(text(&team).contains("mate@acme.com"));
    let revoked = browser
        .post(&api, ACME, &format!("/team/invites/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let invite = app
        .tether
        .invite(&app.operator, tether::domain::invite::InviteId(id))
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Revoked);
}

async fn technicians_and_client_users_cannot_invite_from_the_pages(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    app.user("user@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let tech = sign_in(&app, &api, MSP, "tech@atechsolutions.org").await;
    let refused = tech
        .post(
            &api,
            MSP,
            &format!("/clients/{}/invite", acme.id.0),
            &[
                ("email", "x@acme.com"),
                ("role_id", "4"),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        tech.get(&api, MSP, "/users/invites").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(tech.get(&api, MSP, "/clients").await.status, StatusCode::OK);
    let user = sign_in(&app, &api, ACME, "user@acme.com").await;
    let team = user.get(&api, ACME, "/team").await;
    assert!(!text(&team).contains("Generate Invite Link"));
    let refused = user
        .post(
            &api,
            ACME,
            "/team",
            &[
                ("email", "x@acme.com"),
                ("role_id", "4"),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'x@acme.com'")
            .await,
        0
    );
    let console = user.get(&api, MSP, "/").await;
    assert_eq!(
        console.status,
        StatusCode::SEE_OTHER,
        "a client's session does not open the MSP console"
    );
}

async fn console_forms_refuse_cross_site_posts(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let pending = app.invite("p@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let path = format!("/users/invites/{}/revoke", pending.invite.id.0);
    let cross = submit(
        &api,
        MSP,
        &path,
        &browser.cookies,
        &[("csrf_token", &browser.token)],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let sibling = submit(
        &api,
        MSP,
        &path,
        &browser.cookies,
        &[("csrf_token", &browser.token)],
        &[("origin", "https://acme.atechsolutions.org")],
    )
    .await;
    assert_eq!(sibling.status, StatusCode::FORBIDDEN);
    let tokenless = submit(&api, MSP, &path, &browser.cookies, &[], SAME_ORIGIN).await;
    assert_eq!(tokenless.status, StatusCode::FORBIDDEN);
    let invite = app
        .tether
        .invite(&app.operator, pending.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
}

async fn names_and_emails_are_escaped_in_the_console(app: TestApp) {
    let payload = "<script>alert(1)</script>";
    let acme = app.client(&format!("Acme {payload}"), "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let issued = app.invite("victim@acme.com", &acme, Role::ClientUser).await;
    app.accept(issued.token.expose(), &format!("Eve {payload}"))
        .await
        .unwrap();
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    for path in [
        "/",
        "/clients",
        "/users",
        "/users/invites",
        "/audit",
        &format!("/clients/{}", acme.id.0),
        &format!("/clients/{}/invite", acme.id.0),
    ] {
        let reply = browser.get(&api, MSP, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let html = text(&reply);
        assert!(
            !html.contains(payload) && !html.contains("<img src=x>"),
            "{path} shows a payload unescaped"
        );
    }
}

async fn every_page_sends_the_security_headers(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let admin = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let boss = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let mut replies = Vec::new();
    for path in [
        "/",
        "/clients",
        "/clients/new",
        "/users",
        "/users/invite",
        "/users/invites",
        "/audit",
    ] {
        replies.push((path, admin.get(&api, MSP, path).await));
    }
    for path in ["/", "/team"] {
        replies.push((path, boss.get(&api, ACME, path).await));
    }
    replies.push(("/login", page(&api, ACME, "/login", None).await));
    replies.push((
        "/invite/unknown",
        page(&api, ACME, "/invite/unknown", None).await,
    ));
    for (path, reply) in replies {
        assert!(
            reply.status == StatusCode::OK || path.starts_with("/invite"),
            "{path}: {}",
            reply.status
        );
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert!(
            !text(&reply).contains(" style=\""),
            "{path} has an inline style"
        );
    }
}

/// A client form as the browser posts it, with `logo` as the file.
async fn post_client_form(
    api: &Api,
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
    logo: Option<&[u8]>,
) -> Reply {
    let boundary = "tetherboundary";
    let mut all = vec![("csrf_token", browser.token.as_str())];
    all.extend_from_slice(fields);
    api.send(
        Request::post(path)
            .header("host", MSP)
            .header("cookie", &browser.cookies)
            .header("sec-fetch-site", "same-origin")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(multipart(boundary, &all, logo)))
            .unwrap(),
    )
    .await
}

async fn console_pages_do_not_exist_on_a_clients_host(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let boss = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let client_page = format!("/clients/{}", acme.id.0);
    let client_invite = format!("/clients/{}/invite", acme.id.0);
    for path in [
        "/clients",
        "/clients/new",
        client_page.as_str(),
        client_invite.as_str(),
        "/users",
        "/users/invite",
        "/users/invites",
        "/audit",
    ] {
        let signed_in = boss.get(&api, ACME, path).await;
        assert_eq!(signed_in.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!text(&signed_in).contains("MSP admin"), "{path}");
        let anonymous = page(&api, ACME, path, None).await;
        assert_eq!(anonymous.status, StatusCode::NOT_FOUND, "{path} signed out");
    }
    let posted = boss
        .post(
            &api,
            ACME,
            "/users/invite",
            &[("email", "eve@acme.com"), ("role_id", "3")],
        )
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 1);
    // The client's own pages still answer.
    assert_eq!(boss.get(&api, ACME, "/team").await.status, StatusCode::OK);
}

async fn the_msp_tenant_is_not_a_client_to_edit(app: TestApp) {
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let admin = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let msp_page = format!("/clients/{}", app.msp.id.0);
    assert_eq!(
        admin.get(&api, MSP, &msp_page).await.status,
        StatusCode::NOT_FOUND
    );
    let posted = post_client_form(
        &api,
        &admin,
        &msp_page,
        &[("name", "Renamed"), ("accent_colour", "#000000")],
        None,
    )
    .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND, "{}", text(&posted));
    assert!(!text(&posted).contains("Saved."));
    let msp = app.tether.msp_tenant().await.unwrap();
    assert_eq!(msp.name.as_str(), app.msp.name.as_str());
    assert_eq!(msp.accent_colour, app.msp.accent_colour);
    // The rule is the domain's, whoever asks.
    let through_domain = app
        .tether
        .update_client(
            &app.operator,
            app.msp.id,
            tether::domain::tenant::TenantChanges {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(
        through_domain,
        Err(tether::domain::error::Error::NotFound(_))
    ));
}

async fn a_refused_logo_leaves_the_client_as_it_was(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let admin = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let posted = post_client_form(
        &api,
        &admin,
        &format!("/clients/{}", acme.id.0),
        &[("name", "Acme Renamed"), ("accent_colour", "#000000")],
        Some(svg),
    )
    .await;
    assert_eq!(posted.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!text(&posted).contains("Saved."));
    let after = app.tether.tenant_by_slug("acme").await.unwrap().unwrap();
    assert_eq!(after.name.as_str(), "Acme Corp");
    assert_eq!(after.accent_colour, acme.accent_colour);
    assert!(after.logo_etag.is_none());
    let changed = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'tenant.%changed'")
        .await;
    assert_eq!(changed, 0, "nothing was recorded as changed");
}

async fn unreadable_addresses_and_oversized_forms_get_pages(app: TestApp) {
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let admin = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let is_page = |reply: &Reply| {
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    };
    let not_a_number = admin.get(&api, MSP, "/clients/abc").await;
    assert_eq!(not_a_number.status, StatusCode::NOT_FOUND);
    assert!(is_page(&not_a_number) && !text(&not_a_number).contains("Invalid URL"));
    let twice = admin.get(&api, MSP, "/users?tenant=2&tenant=3").await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert!(is_page(&twice) && !text(&twice).contains("duplicate field"));
    let huge = vec![0u8; 3 << 20];
    let oversized = post_client_form(
        &api,
        &admin,
        "/clients/new",
        &[("name", "Big"), ("slug", "big")],
        Some(&huge),
    )
    .await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(is_page(&oversized));
    assert_eq!(app.count("SELECT COUNT(*) FROM tenants").await, 1);
}

async fn invite_forms_offer_e_mail_only_when_it_is_set_up(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    let off = text(&browser.get(&api, MSP, "/users/invite").await);
    assert!(!off.contains("name=\"send_email\""));
    assert!(off.contains("E-mail is not set up on this server"));
    let refused = browser
        .post(
            &api,
            MSP,
            &format!("/clients/{}/invite", acme.id.0),
            &[
                ("email", "x@acme.com"),
                ("role_id", "4"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
                ("send_email", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&refused).contains("E-mail is not set up"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'x@acme.com'")
            .await,
        0
    );

    let sink = crate::support::SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "admin@atechsolutions.org").await;
    for path in [
        "/users/invite".to_owned(),
        format!("/clients/{}/invite", acme.id.0),
    ] {
        let on = text(&browser.get(&api, MSP, &path).await);
        assert!(
            on.contains("name=\"send_email\" type=\"checkbox\" value=\"1\" checked"),
            "checked by default on {path}"
        );
        assert!(on.contains("Send the link to this address by e-mail"));
    }
    let created = browser
        .post(
            &api,
            MSP,
            &format!("/clients/{}/invite", acme.id.0),
            &[
                ("email", "y@acme.com"),
                ("role_id", "4"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
                ("send_email", "1"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert!(text(&created).contains("We are e-mailing this link to y@acme.com"));
    assert!(
        text(&created).contains("id=\"invite-link\""),
        "the link is still shown once"
    );
    app.tether.deliver_due().await.unwrap();
    assert_eq!(sink.wait_for(1, 10), 1);
    let list = text(&browser.get(&api, MSP, "/users/invites").await);
    assert!(list.contains("E-mailed 23 Nov 2026, 10:00 UTC"), "{list}");

    // Unchecked: the link is only shown.
    let unchecked = browser
        .post(
            &api,
            MSP,
            &format!("/clients/{}/invite", acme.id.0),
            &[
                ("email", "z@acme.com"),
                ("role_id", "4"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(unchecked.status, StatusCode::CREATED);
    assert!(!text(&unchecked).contains("We are e-mailing"));
    // One invite e-mail (its reminder waits beside it, a day before the invite expires).
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE topic = 'invite'")
            .await,
        1
    );
}

async fn an_invite_is_e_mailed_from_team_and_a_failed_one_is_sent_again(app: TestApp) {
    let sink = crate::support::SmtpSink::start(&["--reject-word", "typo"]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    app.user("carol@acme.com", &acme, Role::ClientAdmin).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, ACME, "carol@acme.com").await;
    let team = text(&browser.get(&api, ACME, "/team").await);
    assert!(team.contains("name=\"send_email\" type=\"checkbox\" value=\"1\" checked"));
    let created = browser
        .post(
            &api,
            ACME,
            "/team",
            &[
                ("email", "typo@acme.com"),
                ("role_id", "4"),
                ("tenant_id", &acme.id.0.to_string()),
                ("expires_hours", "72"),
                ("send_email", "1"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", text(&created));
    let queued = text(&browser.get(&api, ACME, "/team").await);
    assert!(queued.contains("E-mail queued"), "{queued}");
    app.tether.deliver_due().await.unwrap();
    let failed = text(&browser.get(&api, ACME, "/team").await);
    assert!(
        failed.contains("E-mail failed: The mail server refused the address (550)."),
        "{failed}"
    );
    let invite = app
        .tether
        .list_invites(&app.operator, Default::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(failed.contains(&format!("/team/invites/{}/reissue", invite.id.0)));
    assert!(failed.contains(">Send again</button>"));

    let again = browser
        .post(
            &api,
            ACME,
            &format!("/team/invites/{}/reissue", invite.id.0),
            &[("send_email", "1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert!(text(&again).contains("We are e-mailing this link to typo@acme.com"));
    let old = app.tether.invite(&app.operator, invite.id).await.unwrap();
    assert_eq!(old.status, InviteStatus::Revoked);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND topic = 'invite'")
            .await,
        1
    );
}

async fn pending_invites_are_filtered_by_tenant_and_email_and_say_who_invited(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (_, dana) = app
        .user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.invite_as(&dana, "ana@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    app.invite("bo@acme.com", &acme, Role::ClientUser).await;
    app.invite("cy@globex.com", &globex, Role::ClientUser).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;

    let all = text(&browser.get(&api, MSP, "/users/invites").await);
    for email in ["ana@acme.com", "bo@acme.com", "cy@globex.com"] {
        assert!(all.contains(email), "{email} is listed");
    }
    assert!(
        all.contains("<th scope=\"col\">Invited by</th>")
            && all.contains("<th scope=\"col\">Created</th>")
    );
    assert!(
        all.contains("<td>dana@atechsolutions.org</td>"),
        "Dana's invite names her"
    );
    assert!(
        all.contains("<td>Command line</td>"),
        "the operator's invites say so"
    );

    let acme_only = text(
        &browser
            .get(
                &api,
                MSP,
                &format!("/users/invites?tenant_id={}", acme.id.0),
            )
            .await,
    );
    assert!(acme_only.contains("ana@acme.com") && acme_only.contains("bo@acme.com"));
    assert!(!acme_only.contains("cy@globex.com"));
    assert!(acme_only.contains(&format!(
        "<option value=\"{}\" selected>Acme Corp</option>",
        acme.id.0
    )));

    let one = text(
        &browser
            .get(&api, MSP, "/users/invites?tenant_id=&email=BO%40acme.com")
            .await,
    );
    assert!(
        one.contains("bo@acme.com")
            && !one.contains("ana@acme.com")
            && !one.contains("cy@globex.com")
    );
    assert!(
        one.contains("value=\"BO@acme.com\""),
        "the search keeps what was typed"
    );
}

async fn the_audit_page_says_who_did_what_in_sentences_filtered_and_paged(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app
        .invite("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let dana = app
        .accept(issued.token.expose(), "Dana Whitfield")
        .await
        .unwrap()
        .user;
    let dana_actor = dana.actor(None);
    app.invite_as(&dana_actor, "carol@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;

    let said = "Dana Whitfield invited carol@acme.com as Client user to Acme Corp";
    let dashboard = words(&browser.get(&api, MSP, "/").await);
    assert!(dashboard.contains(said), "{dashboard}");
    let audit = words(&browser.get(&api, MSP, "/audit").await);
    assert!(audit.contains(said));
    assert!(audit.contains("The command line created Acme Corp"));
    assert!(audit.contains("Dana Whitfield created their account in A Tech Solutions"));
    assert!(audit.contains("Dana Whitfield signed in"));
    assert!(!audit.contains("user 1") && !audit.contains(">system<"));
    assert!(audit.contains("<option value=\"invite.created\">Invites created</option>"));

    let invites_only = words(&browser.get(&api, MSP, "/audit?action=invite.created").await);
    assert!(invites_only.contains(said));
    assert!(!invites_only.contains("signed in"));
    assert!(invites_only.contains("<option value=\"invite.created\" selected>"));

    // Fifty more: the first page ends with "Older events", which keeps the filter.
    for n in 0..50 {
        app.invite_as(
            &dana_actor,
            &format!("p{n}@acme.com"),
            &acme,
            Role::ClientUser,
        )
        .await
        .unwrap();
    }
    let first_page = browser
        .get(
            &api,
            MSP,
            &format!("/audit?action=invite.created&tenant={}", acme.id.0),
        )
        .await;
    assert!(words(&first_page).contains("p49@acme.com") && !words(&first_page).contains(said));
    let first = text(&first_page);
    let marker = "<a href=\"/audit?cursor=";
    let at = first.find(marker).expect("an Older link") + "<a href=\"".len();
    let older = first[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(
        older.ends_with(&format!("&action=invite.created&tenant={}", acme.id.0)),
        "{older}"
    );
    let second = words(&browser.get(&api, MSP, &older).await);
    assert!(
        second.contains(said),
        "the second page holds the oldest invite"
    );
    assert!(!second.contains("Older events"));
}

/// The page's HTML with its links' tags taken out, so that a sentence reads as its words.
fn words(reply: &Reply) -> String {
    let html = text(reply).replace("</a>", "");
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(at) = rest.find("<a href=") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once('>').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

async fn the_audit_is_filtered_by_who_and_when_and_its_names_are_links(app: TestApp) {
    use std::time::Duration;
    const DAY: Duration = Duration::from_secs(86_400);
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app
        .invite("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let dana = app
        .accept(issued.token.expose(), "Dana Whitfield")
        .await
        .unwrap()
        .user
        .actor(None);
    // 23 November: Dana invites Carol. 25 November: the command line invites Erin, Dana Frank.
    app.invite_as(&dana, "carol@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    app.clock.advance(2 * DAY);
    app.invite("erin@acme.com", &acme, Role::ClientUser).await;
    app.invite_as(&dana, "frank@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let carol = "Dana Whitfield invited carol@acme.com as Client user to Acme Corp";
    let frank = "Dana Whitfield invited frank@acme.com as Client user to Acme Corp";
    let erin = "The command line invited erin@acme.com as Client user to Acme Corp";

    let by_dana = words(&browser.get(&api, MSP, "/audit?actor=DANA%40atech").await);
    assert!(
        by_dana.contains(carol) && by_dana.contains(frank),
        "{by_dana}"
    );
    assert!(!by_dana.contains(erin));
    let first_day = words(
        &browser
            .get(&api, MSP, "/audit?from=2026-11-23&to=2026-11-23")
            .await,
    );
    assert!(first_day.contains(carol), "{first_day}");
    assert!(!first_day.contains(frank) && !first_day.contains(erin));
    let later = browser
        .get(&api, MSP, "/audit?actor=dana%40&from=2026-11-24")
        .await;
    let later_words = words(&later);
    assert!(later_words.contains(frank) && !later_words.contains(carol));
    assert!(!later_words.contains(erin));
    // The filters follow the CSV download, which holds the same events.
    assert!(
        text(&later).contains("/audit.csv?&amp;actor=dana%40&amp;from=2026%2D11%2D24")
            || text(&later).contains("/audit.csv?&#38;actor=dana%40&#38;from=2026%2D11%2D24"),
        "{}",
        text(&later)
    );
    let csv = text(
        &browser
            .get(&api, MSP, "/audit.csv?actor=dana%40&from=2026-11-24")
            .await,
    );
    assert!(csv.contains(frank) && !csv.contains(carol) && !csv.contains(erin));
    // A date that is not one is said, and left out rather than guessed at.
    let typo = browser.get(&api, MSP, "/audit?to=23%2F11%2F2026").await;
    assert_eq!(typo.status, StatusCode::OK);
    assert!(
        text(&typo).contains("The To date &#34;23/11/2026&#34; is not a day like 2026-11-23")
            || text(&typo)
                .contains("The To date &quot;23/11/2026&quot; is not a day like 2026-11-23"),
        "{}",
        text(&typo)
    );
    assert!(words(&typo).contains(carol) && words(&typo).contains(frank));

    // Who and where are links to their lists; the MSP itself is not a client to open.
    let audit = text(&browser.get(&api, MSP, "/audit").await);
    let person = "<a href=\"/users?search=dana%40atechsolutions%2Eorg\">Dana Whitfield</a>";
    let invitee = "<a href=\"/users/invites?email=carol%40acme%2Ecom\">carol@acme.com</a>";
    let client = format!("<a href=\"/clients/{}\">Acme Corp</a>", acme.id.0);
    for link in [person, invitee, &client] {
        assert!(audit.contains(link), "{link} in {audit}");
    }
    assert!(!audit.contains(&format!("/clients/{}\"", app.msp.id.0)));
    let dashboard = text(&browser.get(&api, MSP, "/").await);
    assert!(dashboard.contains(person) && dashboard.contains(invitee));
    let users = text(
        &browser
            .get(&api, MSP, "/users?search=dana%40atechsolutions%2Eorg")
            .await,
    );
    assert!(users.contains("dana@atechsolutions.org"));
    let invites = text(
        &browser
            .get(&api, MSP, "/users/invites?email=carol%40acme%2Ecom")
            .await,
    );
    assert!(invites.contains("carol@acme.com") && !invites.contains("frank@acme.com"));

    // Names are today's: once Dana is renamed, her earlier events say the new name.
    let renamed = browser
        .post(&api, MSP, "/account/name", &[("name", "Dana Fairweather")])
        .await;
    assert!(renamed.status.is_success() || renamed.status.is_redirection());
    let audit = words(&browser.get(&api, MSP, "/audit").await);
    assert!(audit.contains("Dana Fairweather invited carol@acme.com as Client user to Acme Corp"));
    assert!(!audit.contains("Dana Whitfield"));
}

async fn a_client_admin_reads_their_tenants_activity_and_the_audit_downloads_as_csv(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let issued = app.invite("boss@acme.com", &acme, Role::ClientAdmin).await;
    let boss = app
        .accept(issued.token.expose(), "=HYPERLINK(\"http://evil.example\")")
        .await
        .unwrap()
        .user;
    app.invite_as(&boss.actor(None), "carol@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    app.invite("gina@globex.com", &globex, Role::ClientUser)
        .await;
    app.user("worker@acme.com", &acme, Role::ClientUser).await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let api = app.api().await;

    let browser = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let team = text(&browser.get(&api, ACME, "/team").await);
    assert!(team.contains("<a href=\"/team/activity\">Activity</a>"));
    let activity = browser.get(&api, ACME, "/team/activity").await;
    assert_eq!(activity.status, StatusCode::OK);
    let html = text(&activity);
    assert!(
        html.contains("invited carol@acme.com as Client user to Acme Corp"),
        "{html}"
    );
    assert!(
        !html.contains("gina@globex.com"),
        "another tenant's events stay out"
    );
    let worker = sign_in(&app, &api, ACME, "worker@acme.com").await;
    assert_eq!(
        worker.get(&api, ACME, "/team/activity").await.status,
        StatusCode::FORBIDDEN
    );

    let dana = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let audit = text(&dana.get(&api, MSP, "/audit?action=invite.created").await);
    assert!(
        audit.contains("/audit.csv?&#38;action=invite.created"),
        "{audit}"
    );
    let csv = dana
        .get(
            &api,
            MSP,
            &format!("/audit.csv?action=invite.created&tenant={}", acme.id.0),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers.get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    let body = String::from_utf8(csv.bytes.clone()).unwrap();
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("time,what happened,action,tenant,ip"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{body}");
    // The inviter's name would be a formula in a spreadsheet: it is not one here.
    assert!(body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\") invited carol@acme.com as Client user to Acme Corp\""), "{body}");
    assert!(!body.contains("gina@globex.com"));
}

async fn pending_invites_are_filtered_by_status_with_a_count_of_each(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.tether
        .create_invite(
            &app.operator,
            tether::domain::invite::NewInvite {
                email: String::from("old@acme.com"),
                role_id: Role::ClientUser.id(),
                tenant_id: acme.id.0,
                expires_hours: Some(24),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.clock.advance(std::time::Duration::from_secs(25 * 3600));
    app.invite("new@acme.com", &acme, Role::ClientUser).await;
    app.invite("gi@globex.com", &globex, Role::ClientUser).await;
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;

    let all = text(&browser.get(&api, MSP, "/users/invites").await);
    assert!(
        all.contains(">2 pending</a>") && all.contains(">1 expired</a>"),
        "{all}"
    );
    assert!(all.contains("old@acme.com") && all.contains("new@acme.com"));
    let expired = text(
        &browser
            .get(&api, MSP, "/users/invites?status=expired")
            .await,
    );
    assert!(expired.contains("old@acme.com") && !expired.contains("new@acme.com"));
    assert!(expired.contains("<option value=\"expired\" selected>Expired</option>"));
    let pending = text(
        &browser
            .get(&api, MSP, "/users/invites?status=pending")
            .await,
    );
    assert!(pending.contains("new@acme.com") && !pending.contains("old@acme.com"));
    // The counts follow the tenant filter, and their links keep it.
    let acme_only = text(
        &browser
            .get(
                &api,
                MSP,
                &format!("/users/invites?tenant_id={}", globex.id.0),
            )
            .await,
    );
    assert!(acme_only.contains(">1 pending</a>") && acme_only.contains(">0 expired</a>"));
    assert!(acme_only.contains(&format!("status=expired&#38;tenant_id={}", globex.id.0)));
}

async fn users_are_searched_by_email_or_name_filtered_by_role_and_paged(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientAdmin).await;
    app.accept(issued.token.expose(), "Alice Smith")
        .await
        .unwrap();
    for n in 0..50 {
        app.user(&format!("staff{n}@acme.com"), &acme, Role::ClientUser)
            .await;
    }
    let api = app.api().await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;

    let by_name = text(&browser.get(&api, MSP, "/users?search=SMITH").await);
    assert!(by_name.contains("alice@acme.com") && !by_name.contains("staff1@acme.com"));
    let by_email = text(&browser.get(&api, MSP, "/users?search=staff17%40").await);
    assert!(by_email.contains("staff17@acme.com") && !by_email.contains("staff1@acme.com"));
    // The typed text is matched as text: % and _ are not wildcards.
    let literal = text(&browser.get(&api, MSP, "/users?search=%25").await);
    assert!(literal.contains("No users match."));
    let admins = text(
        &browser
            .get(
                &api,
                MSP,
                &format!("/users?role={}", Role::ClientAdmin.id()),
            )
            .await,
    );
    assert!(admins.contains("alice@acme.com") && !admins.contains("staff3@acme.com"));
    assert!(admins.contains(&format!(
        "<option value=\"{}\" selected>Client admin</option>",
        Role::ClientAdmin.id()
    )));

    // 51 users: the first page ends with "Older users", which keeps the filters.
    let first = text(
        &browser
            .get(&api, MSP, &format!("/users?tenant={}", acme.id.0))
            .await,
    );
    assert!(first.contains("staff48@acme.com") && !first.contains("dana@atechsolutions.org"));
    let marker = "<a href=\"/users?cursor=";
    let at = first.find(marker).expect("an Older link") + "<a href=\"".len();
    let older = first[at..].split('"').next().unwrap().replace("&#38;", "&");
    assert!(
        older.ends_with(&format!("&tenant={}", acme.id.0)),
        "{older}"
    );
    let second = text(&browser.get(&api, MSP, &older).await);
    assert!(second.contains("alice@acme.com") && !second.contains("Older users"));
}
