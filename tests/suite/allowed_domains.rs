//! Allowed e-mail domains (delivery.md §13): a tenant's list, stored in IDNA form, obeyed by
//! every edge and every inviter, and again when a link is accepted.

use axum::http::StatusCode;
use serde_json::json;
use tether::domain::error::{Error, Gone};
use tether::domain::invite::NewInvite;
use tether::domain::role::Role;
use tether::domain::tenant::{Tenant, TenantChanges};

use crate::common::{page, sign_in, text, TestApp, ACME};

crate::on_both_engines!(
    the_list_is_stored_lower_case_in_idna_form_and_unicode_and_punycode_are_one,
    a_star_admits_the_domain_and_its_subdomains,
    every_invite_edge_refuses_an_address_outside_the_list,
    a_pending_invite_outside_a_new_list_can_no_longer_be_accepted,
    a_reissue_outside_the_list_is_refused,
    only_msp_admins_change_the_list,
    the_console_counts_the_pending_invites_a_new_list_leaves_outside,
);

async fn limit(app: &TestApp, tenant: &Tenant, domains: &[&str]) -> Tenant {
    app.tether
        .update_tenant(
            &app.operator,
            tenant.id,
            TenantChanges {
                allowed_email_domains: Some(domains.iter().map(|d| (*d).to_owned()).collect()),
                ..TenantChanges::default()
            },
        )
        .await
        .expect("the list is saved")
}

fn outside(result: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(&result, Err(Error::Validation(fields))
        if fields.iter().any(|f| f.field == "email" && f.code == "email_domain_not_allowed"))
}

async fn the_list_is_stored_lower_case_in_idna_form_and_unicode_and_punycode_are_one(app: TestApp) {
    let books = app.client("Bücher GmbH", "buecher").await;
    let api = app.api().await;
    let token = app
        .token_for("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let reply = api
        .patch(
            &format!("/api/tenants/{}", books.id.0),
            &token,
            json!({"allowed_email_domains": ["Bücher.Example", "*.BUECHER.example", "bücher.example"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["allowed_email_domains"],
        json!(["xn--bcher-kva.example", "*.buecher.example"])
    );
    let stored: String =
        sqlx::query_scalar("SELECT allowed_email_domains FROM tenants WHERE id = $1")
            .bind(books.id.0)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(stored, "xn--bcher-kva.example,*.buecher.example");

    // Either spelling of the address is the same domain.
    app.invite("anna@bücher.example", &books, Role::ClientUser)
        .await;
    app.invite("ben@xn--bcher-kva.example", &books, Role::ClientUser)
        .await;
    let refused = app
        .invite_as(
            &app.operator,
            "cleo@books.example",
            &books,
            Role::ClientUser,
        )
        .await;
    assert!(outside(refused));

    // A list that names no domain is refused and changes nothing.
    let bad = api
        .patch(
            &format!("/api/tenants/{}", books.id.0),
            &token,
            json!({"allowed_email_domains": ["acme..com"]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["field"], "allowed_email_domains");
    let now = api
        .get(&format!("/api/tenants/{}", books.id.0), &token)
        .await;
    assert_eq!(
        now.body["allowed_email_domains"].as_array().unwrap().len(),
        2
    );
}

async fn a_star_admits_the_domain_and_its_subdomains(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    limit(&app, &acme, &["*.acme.com"]).await;
    app.invite("a@acme.com", &acme, Role::ClientUser).await;
    app.invite("b@eu.acme.com", &acme, Role::ClientUser).await;
    let refused = app
        .invite_as(
            &app.operator,
            "c@acme.com.evil.example",
            &acme,
            Role::ClientUser,
        )
        .await;
    assert!(outside(refused));
    let refused = app
        .invite_as(&app.operator, "d@notacme.com", &acme, Role::ClientUser)
        .await;
    assert!(outside(refused));
}

async fn every_invite_edge_refuses_an_address_outside_the_list(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    limit(&app, &acme, &["acme.com"]).await;
    let (_, admin) = app.user("boss@acme.com", &acme, Role::ClientAdmin).await;

    // The domain, for every inviter.
    assert!(outside(
        app.invite_as(&admin, "someone@gmail.com", &acme, Role::ClientUser)
            .await
    ));
    assert!(outside(
        app.invite_as(&app.operator, "someone@gmail.com", &acme, Role::ClientUser)
            .await
    ));

    // The API, with the sentence naming what the tenant admits.
    let api = app.api().await;
    let token = app
        .token_for("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let reply = api
        .post(
            "/api/invites",
            &token,
            json!({"email": "someone@gmail.com", "role_id": 4, "tenant_id": acme.id.0}),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["errors"][0]["field"], "email");
    assert_eq!(reply.body["errors"][0]["code"], "email_domain_not_allowed");
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("acme.com"));

    // The batch, per row.
    let reply = api
        .post(
            "/api/invites/batch",
            &token,
            json!({"tenant_id": acme.id.0, "rows": [
                {"email": "someone@gmail.com", "role_id": 4},
                {"email": "mate@acme.com", "role_id": 4},
            ]}),
        )
        .await;
    assert_eq!(
        reply.body["results"][0]["error"]["errors"][0]["code"],
        "email_domain_not_allowed"
    );
    assert_eq!(reply.body["results"][1]["outcome"], "created");

    // Team's form shows the sentence on the form.
    let browser = sign_in(&app, &api, ACME, "boss@acme.com").await;
    let form = browser
        .post(
            &api,
            ACME,
            "/team",
            &[
                ("email", "someone@gmail.com"),
                ("role_id", "4"),
                ("expires_hours", "72"),
            ],
        )
        .await;
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&form).contains("This tenant only admits addresses at acme.com."),
        "{}",
        text(&form)
    );
    assert!(
        text(&form).contains("someone@gmail.com"),
        "the form keeps what was typed"
    );
    let gmail = app
        .count("SELECT COUNT(*) FROM invites WHERE email LIKE '%@gmail.com'")
        .await;
    assert_eq!(gmail, 0);
}

async fn a_pending_invite_outside_a_new_list_can_no_longer_be_accepted(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let gmail = app
        .invite("someone@gmail.com", &acme, Role::ClientUser)
        .await;
    let ok = app.invite("mate@acme.com", &acme, Role::ClientUser).await;
    limit(&app, &acme, &["acme.com"]).await;

    let refused = app.accept(gmail.token.expose(), "Some One").await;
    assert!(matches!(refused, Err(Error::Gone(Gone::DomainNotAllowed))));
    let api = app.api().await;
    let token = gmail.token.expose();
    let inspected = api
        .call("GET", &format!("/api/invite-links/{token}"), None, None)
        .await;
    assert_eq!(inspected.status, 410);
    assert_eq!(inspected.problem_code(), "invite_domain_not_allowed");
    let accepted = api
        .call(
            "POST",
            &format!("/api/invite-links/{token}/accept"),
            None,
            Some(json!({"name": "Some One", "password": crate::common::GOOD_PASSWORD})),
        )
        .await;
    assert_eq!(accepted.status, 410);
    assert_eq!(accepted.problem_code(), "invite_domain_not_allowed");
    // Its page says so in the tenant's branding, and offers no new link.
    let shown = page(&api, ACME, &format!("/invite/{token}"), None).await;
    assert_eq!(shown.status, StatusCode::GONE);
    let words = text(&shown);
    assert!(
        words.contains("no longer allowed") && words.contains("Acme Corp"),
        "{words}"
    );
    assert!(!words.contains("Ask for a new link"));
    let users = app
        .count("SELECT COUNT(*) FROM users WHERE email = 'someone@gmail.com'")
        .await;
    assert_eq!(users, 0);

    // An address inside the list still accepts; emptying the list admits the other again.
    assert!(app.accept(ok.token.expose(), "Mate").await.is_ok());
    limit(&app, &acme, &[]).await;
    assert!(app.accept(gmail.token.expose(), "Some One").await.is_ok());
}

async fn a_reissue_outside_the_list_is_refused(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let gmail = app
        .invite("someone@gmail.com", &acme, Role::ClientUser)
        .await;
    limit(&app, &acme, &["acme.com"]).await;
    let reissued = app
        .tether
        .reissue_invite(&app.operator, gmail.invite.id, None, false)
        .await;
    assert!(outside(reissued));
}

async fn only_msp_admins_change_the_list(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    limit(&app, &acme, &["acme.com"]).await;
    let api = app.api().await;
    let token = app
        .token_for("boss@acme.com", &acme, Role::ClientAdmin)
        .await;
    // The client admin sees the list…
    let seen = api
        .get(&format!("/api/tenants/{}", acme.id.0), &token)
        .await;
    assert_eq!(seen.body["allowed_email_domains"], json!(["acme.com"]));
    // …and may not change it.
    let reply = api
        .patch(
            &format!("/api/tenants/{}", acme.id.0),
            &token,
            json!({"allowed_email_domains": []}),
        )
        .await;
    assert_eq!(reply.status, 403);
    let (_, admin) = app.user("boss2@acme.com", &acme, Role::ClientAdmin).await;
    let changed = app
        .tether
        .update_tenant(
            &admin,
            acme.id,
            TenantChanges {
                allowed_email_domains: Some(Vec::new()),
                ..TenantChanges::default()
            },
        )
        .await;
    assert!(matches!(changed, Err(Error::Forbidden)));
    let tenant = app.tether.tenant(&app.operator, acme.id).await.unwrap();
    assert_eq!(tenant.allowed_email_domains.entries(), ["acme.com"]);
    // The MSP tenant can have a list too.
    limit(&app, &app.msp, &["atechsolutions.org"]).await;
    let refused = app
        .tether
        .create_invite(
            &app.operator,
            NewInvite {
                email: "tech@gmail.com".into(),
                role_id: Role::MspTechnician.id(),
                tenant_id: app.msp.id.0,
                ..NewInvite::default()
            },
        )
        .await;
    assert!(outside(refused));
}

async fn the_console_counts_the_pending_invites_a_new_list_leaves_outside(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.invite("a@gmail.com", &acme, Role::ClientUser).await;
    app.invite("b@yahoo.com", &acme, Role::ClientUser).await;
    app.invite("c@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let browser = sign_in(&app, &api, crate::common::MSP, "dana@atechsolutions.org").await;
    let path = format!("/clients/{}", acme.id.0);
    let before = browser.get(&api, crate::common::MSP, &path).await;
    assert!(text(&before).contains("Allowed e-mail domains"));
    assert!(!text(&before).contains("pending invites are for an address outside"));
    limit(&app, &acme, &["acme.com"]).await;
    assert_eq!(
        app.tether
            .pending_invites_outside(&app.operator, acme.id)
            .await
            .unwrap(),
        2
    );
    let after = browser.get(&api, crate::common::MSP, &path).await;
    let words = text(&after);
    assert!(
        words.contains("2 pending invites are for an address outside this list"),
        "{words}"
    );
    assert!(words.contains(&format!("/users/invites?tenant_id={}", acme.id.0)));
    assert!(words.contains("value=\"acme.com\""));
}
