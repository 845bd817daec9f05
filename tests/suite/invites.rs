//! The invite lifecycle of product.md §3.

use std::time::Duration;

use tether::domain::error::{Conflict, Error, Gone};
use tether::domain::invite::{
    Acceptance, InviteId, InviteQuery, InviteStatus, NewInvite, RevokeReason, StatusFilter,
};
use tether::domain::page::PageRequest;
use tether::domain::role::Role;
use tether::domain::session::SessionKind;

use crate::common::{TestApp, GOOD_PASSWORD};

crate::on_both_engines!(
    link_is_on_the_tenants_host_with_a_43_character_token,
    msp_staff_links_use_the_base_url,
    emails_are_normalised,
    expiry_defaults_to_72_hours_and_offers_24_and_168,
    every_invalid_field_is_reported_at_once,
    role_must_fit_the_tenants_kind,
    unknown_role_and_tenant_are_field_errors,
    existing_user_email_is_a_conflict,
    second_invite_for_an_email_supersedes_the_first,
    pending_invite_the_actor_cannot_revoke_is_a_conflict,
    opening_a_link_changes_nothing,
    unknown_token_and_other_tenants_host_are_not_found,
    accept_creates_the_user_in_the_invites_tenant_with_its_role,
    second_accept_of_a_link_is_gone,
    revoked_and_superseded_links_are_gone,
    weak_password_is_refused_with_feedback_and_changes_nothing,
    password_may_not_contain_the_email_local_part,
    refused_accepts_are_audited,
    revoke_is_idempotent_and_refused_once_accepted,
    reissue_replaces_the_invite_with_a_fresh_token,
    reissue_of_accepted_or_revoked_is_refused,
    lists_are_newest_first_with_a_cursor,
    lists_filter_by_status_tenant_and_email,
    first_admin_link_takes_the_email_on_accept,
    the_demo_creates_two_branded_clients_once,
    an_expired_invite_of_another_tenant_is_not_superseded,
    one_visible_address_gets_one_invite,
    first_admin_links_end_when_an_msp_admin_is_created,
    a_first_admin_link_left_open_is_refused_once_an_admin_exists,
    an_accepted_first_admin_link_ends_the_others,
);

async fn link_is_on_the_tenants_host_with_a_43_character_token(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientAdmin).await;
    let token = issued.token.expose();
    assert_eq!(token.len(), 43);
    assert_eq!(
        issued.link,
        format!("https://acme.atechsolutions.org/invite/{token}")
    );
    assert_eq!(issued.invite.status, InviteStatus::Pending);
    assert_eq!(issued.invite.tenant_id, acme.id);
}

async fn msp_staff_links_use_the_base_url(app: TestApp) {
    let issued = app
        .invite("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    assert_eq!(
        issued.link,
        format!(
            "https://atechsolutions.org/invite/{}",
            issued.token.expose()
        )
    );
}

async fn emails_are_normalised(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app
        .invite("  Alice@ACME.com ", &acme, Role::ClientUser)
        .await;
    assert_eq!(issued.invite.email.unwrap().as_str(), "alice@acme.com");
}

async fn expiry_defaults_to_72_hours_and_offers_24_and_168(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let default = app
        .invite("a@acme.com", &acme, Role::ClientUser)
        .await
        .invite;
    assert_eq!(
        default.expires_at,
        app.now().plus(Duration::from_secs(72 * 3600))
    );
    for (email, hours) in [("b@acme.com", 24), ("c@acme.com", 168)] {
        let issued = app
            .tether
            .create_invite(
                &app.operator,
                NewInvite {
                    email: email.into(),
                    role_id: Role::ClientUser.id(),
                    tenant_id: acme.id.0,
                    expires_hours: Some(hours),
                    ..NewInvite::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            issued.invite.expires_at,
            app.now().plus(Duration::from_secs(hours as u64 * 3600))
        );
    }
}

async fn every_invalid_field_is_reported_at_once(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let result = app
        .tether
        .create_invite(
            &app.operator,
            NewInvite {
                email: "not-an-email".into(),
                name: Some("x".repeat(101)),
                role_id: Role::ClientUser.id(),
                tenant_id: acme.id.0,
                expires_hours: Some(48),
                send_email: false,
            },
        )
        .await;
    let Err(Error::Validation(fields)) = result else {
        panic!("expected field errors, got {result:?}");
    };
    let mut named: Vec<_> = fields.iter().map(|f| (f.field, f.code)).collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("email", "invalid_email"),
            ("expires_hours", "invalid_expiry"),
            ("name", "too_long")
        ]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 0);

    let too_long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
    let Err(Error::Validation(fields)) = app
        .invite_as(&app.operator, &too_long, &acme, Role::ClientUser)
        .await
    else {
        panic!("a 259-character email must be refused");
    };
    assert_eq!(fields[0].code, "invalid_email");
}

async fn role_must_fit_the_tenants_kind(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    for (tenant, role) in [(&acme, Role::MspTechnician), (&app.msp, Role::ClientAdmin)] {
        let Err(Error::Validation(fields)) = app
            .invite_as(&app.operator, "x@acme.com", tenant, role)
            .await
        else {
            panic!("{role} must not fit tenant {}", tenant.name);
        };
        assert_eq!(
            (fields[0].field, fields[0].code),
            ("role_id", "role_scope_mismatch")
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 0);
}

async fn unknown_role_and_tenant_are_field_errors(app: TestApp) {
    let result = app
        .tether
        .create_invite(
            &app.operator,
            NewInvite {
                email: "x@acme.com".into(),
                role_id: 99,
                tenant_id: 999,
                ..NewInvite::default()
            },
        )
        .await;
    let Err(Error::Validation(fields)) = result else {
        panic!("expected field errors, got {result:?}");
    };
    let mut named: Vec<_> = fields.iter().map(|f| (f.field, f.code)).collect();
    named.sort();
    assert_eq!(
        named,
        [("role_id", "unknown_role"), ("tenant_id", "unknown_tenant")]
    );
}

async fn existing_user_email_is_a_conflict(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let result = app
        .invite_as(&app.operator, "ALICE@acme.com", &acme, Role::ClientAdmin)
        .await;
    assert!(
        matches!(result, Err(Error::Conflict(Conflict::UserExists))),
        "{result:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 1);
}

async fn second_invite_for_an_email_supersedes_the_first(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let first = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(Duration::from_secs(60));
    let second = app.invite("ALICE@acme.com", &acme, Role::ClientAdmin).await;

    let old = app
        .tether
        .invite(&app.operator, first.invite.id)
        .await
        .unwrap();
    assert_eq!(old.status, InviteStatus::Revoked);
    assert_eq!(old.revoke_reason, Some(RevokeReason::Superseded));
    assert_eq!(old.revoked_at, Some(second.invite.created_at));
    let opened = app
        .tether
        .open_invite_link(first.token.expose(), None)
        .await;
    assert!(
        matches!(opened, Err(Error::Gone(Gone::Superseded { at })) if at == second.invite.created_at),
        "{opened:?}"
    );
    assert!(app
        .tether
        .open_invite_link(second.token.expose(), None)
        .await
        .is_ok());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.superseded'")
            .await,
        1
    );
}

async fn pending_invite_the_actor_cannot_revoke_is_a_conflict(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (_, globex_admin) = app
        .user("boss@globex.com", &globex, Role::ClientAdmin)
        .await;
    let pending = app.invite("alice@acme.com", &acme, Role::ClientUser).await;

    let result = app
        .invite_as(&globex_admin, "alice@acme.com", &globex, Role::ClientUser)
        .await;
    assert!(
        matches!(result, Err(Error::Conflict(Conflict::InvitePending))),
        "{result:?}"
    );
    let still = app
        .tether
        .invite(&app.operator, pending.invite.id)
        .await
        .unwrap();
    assert_eq!(still.status, InviteStatus::Pending);
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 2);
}

async fn opening_a_link_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let audit_before = app.count("SELECT COUNT(*) FROM audit_events").await;
    for _ in 0..5 {
        let link = app
            .tether
            .open_invite_link(issued.token.expose(), Some(acme.id))
            .await
            .unwrap();
        assert_eq!(link.tenant.id, acme.id);
        assert_eq!(
            link.invite.email.as_ref().unwrap().as_str(),
            "alice@acme.com"
        );
    }
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        audit_before
    );
    assert!(app.accept(issued.token.expose(), "Alice").await.is_ok());
}

async fn unknown_token_and_other_tenants_host_are_not_found(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let unknown = app
        .tether
        .open_invite_link("A".repeat(43).as_str(), None)
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    let elsewhere = app
        .tether
        .open_invite_link(issued.token.expose(), Some(globex.id))
        .await;
    assert!(
        matches!(elsewhere, Err(Error::NotFound(_))),
        "{elsewhere:?}"
    );
    let accepted_elsewhere = app
        .tether
        .accept_invite(
            issued.token.expose(),
            Acceptance {
                name: "Alice".into(),
                password: GOOD_PASSWORD.into(),
                email: None,
            },
            Some(globex.id),
            SessionKind::Web,
            None,
        )
        .await;
    assert!(matches!(accepted_elsewhere, Err(Error::NotFound(_))));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn accept_creates_the_user_in_the_invites_tenant_with_its_role(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientAdmin).await;
    app.clock.advance(Duration::from_secs(5));
    let accepted = app
        .accept(issued.token.expose(), "  Alice Smith ")
        .await
        .unwrap();
    assert_eq!(accepted.user.email.as_str(), "alice@acme.com");
    assert_eq!(accepted.user.name.as_str(), "Alice Smith");
    assert_eq!(accepted.user.role, Role::ClientAdmin);
    assert_eq!(accepted.user.tenant_id, acme.id);
    assert!(accepted.user.active);
    assert_eq!(accepted.tenant.id, acme.id);

    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Accepted);
    assert_eq!(invite.accepted_at, Some(app.now()));
    assert_eq!(invite.accepted_user_id, Some(accepted.user.id));

    let signed_in = app
        .tether
        .authenticate(accepted.session.token.expose(), SessionKind::Api, None)
        .await
        .unwrap();
    assert_eq!(signed_in.user.id, accepted.user.id);
}

async fn second_accept_of_a_link_is_gone(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(issued.token.expose(), "Alice").await.unwrap();
    let again = app.accept(issued.token.expose(), "Mallory").await;
    assert!(matches!(again, Err(Error::Gone(Gone::Used))), "{again:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

async fn revoked_and_superseded_links_are_gone(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let revoked = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let result = app.accept(revoked.token.expose(), "Alice").await;
    assert!(
        matches!(result, Err(Error::Gone(Gone::Revoked))),
        "{result:?}"
    );

    let old = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    let result = app.accept(old.token.expose(), "Bob").await;
    assert!(
        matches!(result, Err(Error::Gone(Gone::Superseded { .. }))),
        "{result:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn weak_password_is_refused_with_feedback_and_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    for (password, code) in [
        ("short", "password_too_short"),
        ("password12345", "password_too_weak"),
        (&"x".repeat(129), "password_too_long"),
    ] {
        let result = app
            .tether
            .accept_invite(
                issued.token.expose(),
                Acceptance {
                    name: "Alice".into(),
                    password: password.into(),
                    email: None,
                },
                None,
                SessionKind::Web,
                None,
            )
            .await;
        let Err(Error::Validation(fields)) = result else {
            panic!("{password:?} must be refused, got {result:?}");
        };
        assert_eq!((fields[0].field, fields[0].code), ("password", code));
        if code == "password_too_weak" {
            assert!(
                fields[0].message.len() > 40,
                "feedback: {}",
                fields[0].message
            );
        }
    }
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn password_may_not_contain_the_email_local_part(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app
        .invite("zebediah@acme.com", &acme, Role::ClientUser)
        .await;
    let result = app
        .tether
        .accept_invite(
            issued.token.expose(),
            Acceptance {
                name: "Z".into(),
                password: "orbit-Zebediah-paddle-9".into(),
                email: None,
            },
            None,
            SessionKind::Web,
            None,
        )
        .await;
    let Err(Error::Validation(fields)) = result else {
        panic!("expected a field error, got {result:?}");
    };
    assert_eq!(fields[0].code, "password_contains_email");
}

async fn refused_accepts_are_audited(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(issued.token.expose(), "Alice").await.unwrap();
    let _ = app.accept(issued.token.expose(), "Alice").await;
    let _ = app.accept("no-such-token", "Alice").await;
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_events WHERE action = 'invite.accept_refused' ORDER BY id",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert_eq!(reasons, [r#"{"reason":"used"}"#, r#"{"reason":"unknown"}"#]);
}

async fn revoke_is_idempotent_and_refused_once_accepted(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    app.tether
        .revoke_invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Revoked);
    assert_eq!(invite.revoke_reason, Some(RevokeReason::Revoked));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.revoked'")
            .await,
        1
    );

    let used = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "Bob").await.unwrap();
    let result = app
        .tether
        .revoke_invite(&app.operator, used.invite.id)
        .await;
    assert!(
        matches!(result, Err(Error::Conflict(Conflict::InviteNotRevocable))),
        "{result:?}"
    );

    let expiring = app.invite("carol@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(Duration::from_secs(73 * 3600));
    app.tether
        .revoke_invite(&app.operator, expiring.invite.id)
        .await
        .unwrap();
    let result = app
        .tether
        .revoke_invite(&app.operator, InviteId(9999))
        .await;
    assert!(matches!(result, Err(Error::NotFound(_))));
}

async fn reissue_replaces_the_invite_with_a_fresh_token(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let original = app
        .tether
        .create_invite(
            &app.operator,
            NewInvite {
                email: "alice@acme.com".into(),
                name: Some("Alice Smith".into()),
                role_id: Role::ClientAdmin.id(),
                tenant_id: acme.id.0,
                expires_hours: Some(24),
                send_email: false,
            },
        )
        .await
        .unwrap();
    // Re-issuing works on an expired invite too, and keeps its 24-hour period.
    app.clock.advance(Duration::from_secs(25 * 3600));
    let fresh = app
        .tether
        .reissue_invite(&app.operator, original.invite.id, None, false)
        .await
        .unwrap();
    assert_ne!(fresh.token, original.token);
    assert_ne!(fresh.invite.id, original.invite.id);
    assert_eq!(fresh.invite.email, original.invite.email);
    assert_eq!(
        fresh.invite.name.as_ref().map(|n| n.as_str()),
        Some("Alice Smith")
    );
    assert_eq!(fresh.invite.role, Role::ClientAdmin);
    assert_eq!(fresh.invite.tenant_id, acme.id);
    assert_eq!(
        fresh.invite.expires_at,
        app.now().plus(Duration::from_secs(24 * 3600))
    );
    let old = app
        .tether
        .invite(&app.operator, original.invite.id)
        .await
        .unwrap();
    assert_eq!(old.revoke_reason, Some(RevokeReason::Superseded));

    let longer = app
        .tether
        .reissue_invite(&app.operator, fresh.invite.id, Some(168), false)
        .await
        .unwrap();
    assert_eq!(
        longer.invite.expires_at,
        app.now().plus(Duration::from_secs(168 * 3600))
    );
    assert!(app.accept(longer.token.expose(), "Alice").await.is_ok());
}

async fn reissue_of_accepted_or_revoked_is_refused(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let used = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "Alice").await.unwrap();
    let revoked = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    for id in [used.invite.id, revoked.invite.id] {
        let result = app
            .tether
            .reissue_invite(&app.operator, id, None, false)
            .await;
        assert!(
            matches!(result, Err(Error::Conflict(Conflict::InviteNotRevocable))),
            "{result:?}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, 2);
}

async fn lists_are_newest_first_with_a_cursor(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    for n in 0..5 {
        app.invite(&format!("user{n}@acme.com"), &acme, Role::ClientUser)
            .await;
    }
    let mut query = InviteQuery {
        status: StatusFilter::Only(InviteStatus::Pending),
        page: PageRequest::parse(None, Some(2)).unwrap(),
        ..InviteQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = app
            .tether
            .list_invites(&app.operator, query.clone())
            .await
            .unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|i| i.email.as_ref().unwrap().as_str().to_owned()),
        );
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.page = PageRequest::parse(Some(&cursor), Some(2)).unwrap();
    }
    assert_eq!(
        seen,
        [
            "user4@acme.com",
            "user3@acme.com",
            "user2@acme.com",
            "user1@acme.com",
            "user0@acme.com"
        ]
    );
}

async fn lists_filter_by_status_tenant_and_email(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let accepted = app.invite("a@acme.com", &acme, Role::ClientUser).await;
    app.accept(accepted.token.expose(), "A").await.unwrap();
    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    app.invite("p@globex.com", &globex, Role::ClientUser).await;
    app.invite("p@acme.com", &acme, Role::ClientUser).await;

    let emails = |status: StatusFilter,
                  tenant: Option<&tether::domain::tenant::Tenant>,
                  email: Option<&str>| {
        let query = InviteQuery {
            status,
            tenant_id: tenant.map(|t| t.id),
            email: email.map(str::to_owned),
            ..InviteQuery::default()
        };
        let tether = app.tether.clone();
        let operator = app.operator.clone();
        async move {
            tether
                .list_invites(&operator, query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.email.unwrap().as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        emails(StatusFilter::Only(InviteStatus::Pending), None, None).await,
        ["p@acme.com", "p@globex.com"]
    );
    assert_eq!(
        emails(StatusFilter::Only(InviteStatus::Pending), Some(&acme), None).await,
        ["p@acme.com"]
    );
    assert_eq!(
        emails(StatusFilter::Only(InviteStatus::Accepted), None, None).await,
        ["a@acme.com"]
    );
    assert_eq!(
        emails(StatusFilter::Only(InviteStatus::Revoked), None, None).await,
        ["r@acme.com"]
    );
    assert_eq!(
        emails(StatusFilter::All, None, Some("P@Globex.com")).await,
        ["p@globex.com"]
    );
    app.clock.advance(Duration::from_secs(72 * 3600));
    assert_eq!(
        emails(StatusFilter::Only(InviteStatus::Expired), None, None).await,
        ["p@acme.com", "p@globex.com"]
    );
    assert!(
        emails(StatusFilter::Only(InviteStatus::Pending), None, None)
            .await
            .is_empty()
    );
}

async fn first_admin_link_takes_the_email_on_accept(app: TestApp) {
    let issued = app
        .tether
        .first_admin_link()
        .await
        .unwrap()
        .expect("a first-admin link");
    assert_eq!(
        issued.link,
        format!(
            "https://atechsolutions.org/invite/{}",
            issued.token.expose()
        )
    );
    assert_eq!(
        issued.invite.expires_at,
        app.now().plus(Duration::from_secs(24 * 3600))
    );
    // A restart before it is used replaces it.
    let again = app
        .tether
        .first_admin_link()
        .await
        .unwrap()
        .expect("a fresh link");
    let old = app
        .tether
        .open_invite_link(issued.token.expose(), None)
        .await;
    assert!(
        matches!(old, Err(Error::Gone(Gone::Superseded { .. }))),
        "{old:?}"
    );

    let missing_email = app.accept(again.token.expose(), "Owner").await;
    assert!(matches!(missing_email, Err(Error::Validation(ref f)) if f[0].field == "email"));
    let accepted = app
        .tether
        .accept_invite(
            again.token.expose(),
            Acceptance {
                name: "Owner".into(),
                password: GOOD_PASSWORD.into(),
                email: Some("Owner@ATechSolutions.org".into()),
            },
            None,
            SessionKind::Web,
            None,
        )
        .await
        .unwrap();
    assert_eq!(accepted.user.role, Role::MspAdmin);
    assert_eq!(accepted.user.email.as_str(), "owner@atechsolutions.org");
    assert!(app.tether.first_admin_link().await.unwrap().is_none());
}

async fn the_demo_creates_two_branded_clients_once(app: TestApp) {
    let issued = app.tether.create_demo().await.unwrap();
    assert_eq!(issued.len(), 2);
    for (tenant, invite) in &issued {
        assert!(tenant.logo_etag.is_some(), "{} has a logo", tenant.name);
        assert_eq!(invite.invite.status, InviteStatus::Pending);
        assert!(invite.link.contains(&format!(
            "https://{}.atechsolutions.org/invite/",
            tenant.slug.as_ref().unwrap()
        )));
    }
    assert!(
        app.tether.create_demo().await.unwrap().is_empty(),
        "a second run changes nothing"
    );
}

async fn an_expired_invite_of_another_tenant_is_not_superseded(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (_, acme_admin) = app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    let (_, globex_admin) = app
        .user("boss@globex.com", &globex, Role::ClientAdmin)
        .await;
    let globex_invite = app
        .invite_as(&globex_admin, "carol@globex.com", &globex, Role::ClientUser)
        .await
        .unwrap();
    app.clock.advance(Duration::from_secs(73 * 3600));

    let result = app
        .invite_as(&acme_admin, "carol@globex.com", &acme, Role::ClientUser)
        .await;
    assert!(
        matches!(result, Err(Error::Conflict(Conflict::InvitePending))),
        "{result:?}"
    );
    let still = app
        .tether
        .invite(&app.operator, globex_invite.invite.id)
        .await
        .unwrap();
    assert_eq!(still.status, InviteStatus::Expired);
    assert_eq!(still.revoked_by, None);
    // Globex's own admin may still replace it.
    let fresh = app
        .invite_as(&globex_admin, "carol@globex.com", &globex, Role::ClientUser)
        .await;
    assert!(fresh.is_ok(), "{fresh:?}");
}

async fn one_visible_address_gets_one_invite(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let composed = app
        .invite("ren\u{e9}@acme.example.com", &acme, Role::ClientUser)
        .await;
    let decomposed = app
        .invite("rene\u{301}@acme.example.com", &acme, Role::ClientUser)
        .await;
    assert_eq!(composed.invite.email, decomposed.invite.email);
    let first = app
        .tether
        .invite(&app.operator, composed.invite.id)
        .await
        .unwrap();
    assert_eq!(first.revoke_reason, Some(RevokeReason::Superseded));
    let pending = app
        .count("SELECT COUNT(*) FROM invites WHERE revoked_at IS NULL")
        .await;
    assert_eq!(pending, 1);

    let hidden = app
        .invite_as(
            &app.operator,
            "bob\u{200b}@acme.example.com",
            &acme,
            Role::ClientUser,
        )
        .await;
    assert!(
        matches!(hidden, Err(Error::Validation(ref f)) if f[0].field == "email"),
        "{hidden:?}"
    );
}

async fn first_admin_links_end_when_an_msp_admin_is_created(app: TestApp) {
    let link = first_admin_link_then_an_admin(&app).await;
    let opened = app.tether.open_invite_link(link.token.expose(), None).await;
    assert!(
        matches!(opened, Err(Error::Gone(Gone::Revoked))),
        "{opened:?}"
    );
    let accepted = accept_first_admin_link(&app, &link, "Intruder", "intruder@example.com").await;
    assert!(
        matches!(accepted, Err(Error::Gone(Gone::Revoked))),
        "{accepted:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

async fn a_first_admin_link_left_open_is_refused_once_an_admin_exists(app: TestApp) {
    let link = first_admin_link_then_an_admin(&app).await;
    // As a database from before first-admin links were ended would hold it: still open.
    reopen(&app, &link).await;
    let accepted = accept_first_admin_link(&app, &link, "Intruder", "intruder@example.com").await;
    assert!(
        matches!(accepted, Err(Error::Gone(Gone::Revoked))),
        "{accepted:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    let still_open = app
        .count("SELECT COUNT(*) FROM invites WHERE accepted_at IS NULL AND revoked_at IS NULL")
        .await;
    assert_eq!(still_open, 1, "a refused accept changes nothing");
}

async fn an_accepted_first_admin_link_ends_the_others(app: TestApp) {
    let link = app
        .tether
        .first_admin_link()
        .await
        .unwrap()
        .expect("a first-admin link");
    // A second link, as a second process starting at the same moment would print.
    let other = app
        .tether
        .first_admin_link()
        .await
        .unwrap()
        .expect("another first-admin link");
    reopen(&app, &link).await;
    accept_first_admin_link(&app, &other, "Owner", "owner@atechsolutions.org")
        .await
        .unwrap();
    let opened = app.tether.open_invite_link(link.token.expose(), None).await;
    assert!(
        matches!(opened, Err(Error::Gone(Gone::Revoked))),
        "{opened:?}"
    );
}

/// Accepts a first-admin link, which takes the new admin's email.
async fn accept_first_admin_link(
    app: &TestApp,
    link: &tether::domain::invite::IssuedInvite,
    name: &str,
    email: &str,
) -> Result<tether::domain::invite::Accepted, Error> {
    app.tether
        .accept_invite(
            link.token.expose(),
            Acceptance {
                name: name.into(),
                password: GOOD_PASSWORD.into(),
                email: Some(email.into()),
            },
            None,
            SessionKind::Web,
            None,
        )
        .await
}

/// Opens a closed invite again, as a database from before first-admin links were ended
/// would hold it.
async fn reopen(app: &TestApp, link: &tether::domain::invite::IssuedInvite) {
    sqlx::query(
        "UPDATE invites SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL \
         WHERE id = $1",
    )
    .bind(link.invite.id.0)
    .execute(app.db.reader())
    .await
    .unwrap();
}

/// A first-admin link, then an MSP admin made with `tether admin create`.
async fn first_admin_link_then_an_admin(app: &TestApp) -> tether::domain::invite::IssuedInvite {
    let link = app
        .tether
        .first_admin_link()
        .await
        .unwrap()
        .expect("a first-admin link");
    app.tether
        .create_admin(
            &app.operator,
            "root@atechsolutions.org",
            GOOD_PASSWORD,
            None,
        )
        .await
        .unwrap();
    link
}
