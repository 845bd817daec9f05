//! Users, roles, sign-in and sessions: product.md §1 and §2.

use std::time::Duration;

use tether::domain::error::{Conflict, Error};
use tether::domain::role::Role;
use tether::domain::session::SessionKind;
use tether::domain::user::UserChanges;

use crate::common::{TestApp, GOOD_PASSWORD};

crate::on_both_engines!(
    msp_admin_changes_roles_and_deactivation_ends_sessions,
    the_last_active_msp_admin_can_never_be_demoted_or_deactivated,
    client_admin_manages_own_tenant_users_up_to_client_admin,
    a_role_change_must_stay_within_the_tenants_kind,
    sign_in_gives_the_same_answer_for_unknown_email_and_wrong_password,
    sign_in_on_a_tenants_page_is_for_that_tenants_users_only,
    web_sessions_end_after_12_hours_idle_or_7_days,
    api_tokens_last_30_days_and_sign_out_revokes_them,
    admin_create_makes_an_msp_admin_and_checks_the_password,
    a_deactivation_is_not_undone_by_a_concurrent_rename,
    a_demotion_is_not_undone_by_a_concurrent_rename,
    a_sign_in_racing_a_deactivation_leaves_no_session_to_revive,
);

async fn msp_admin_changes_roles_and_deactivation_ends_sessions(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let (_, session) = app
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
    let promoted = app
        .tether
        .update_user(
            &app.operator,
            alice.id,
            UserChanges {
                role_id: Some(3),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::ClientAdmin);

    let deactivated = app
        .tether
        .update_user(
            &app.operator,
            alice.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(!deactivated.active);
    let result = app
        .tether
        .authenticate(session.token.expose(), SessionKind::Web, None)
        .await;
    assert!(matches!(result, Err(Error::Unauthenticated)));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        0
    );
    let signed_in = app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Web,
            None,
        )
        .await;
    assert!(matches!(signed_in, Err(Error::InvalidCredentials)));
}

async fn the_last_active_msp_admin_can_never_be_demoted_or_deactivated(app: TestApp) {
    let (first, first_actor) = app
        .user("first@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    for changes in [
        UserChanges {
            role_id: Some(Role::MspTechnician.id()),
            ..UserChanges::default()
        },
        UserChanges {
            active: Some(false),
            ..UserChanges::default()
        },
    ] {
        let result = app
            .tether
            .update_user(&app.operator, first.id, changes)
            .await;
        assert!(
            matches!(result, Err(Error::Conflict(Conflict::LastAdmin))),
            "{result:?}"
        );
    }
    let (second, _) = app
        .user("second@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.tether
        .update_user(
            &first_actor,
            second.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    let result = app
        .tether
        .update_user(
            &first_actor,
            first.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await;
    assert!(
        matches!(result, Err(Error::Conflict(Conflict::LastAdmin))),
        "{result:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role_id = 1 AND deactivated_at IS NULL")
            .await,
        1
    );
}

async fn client_admin_manages_own_tenant_users_up_to_client_admin(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (admin, admin_actor) = app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    let (bob, _) = app.user("bob@acme.com", &acme, Role::ClientUser).await;
    let (gina, _) = app.user("gina@globex.com", &globex, Role::ClientUser).await;
    let (_, tech) = app
        .user("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;

    let promoted = app
        .tether
        .update_user(
            &admin_actor,
            bob.id,
            UserChanges {
                role_id: Some(3),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::ClientAdmin);

    let to_msp = app
        .tether
        .update_user(
            &admin_actor,
            bob.id,
            UserChanges {
                role_id: Some(1),
                ..UserChanges::default()
            },
        )
        .await;
    assert!(
        matches!(to_msp, Err(Error::Validation(_)) | Err(Error::Forbidden)),
        "{to_msp:?}"
    );
    let themselves = app
        .tether
        .update_user(
            &admin_actor,
            admin.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await;
    assert!(
        matches!(themselves, Err(Error::Forbidden)),
        "{themselves:?}"
    );
    let other_tenant = app
        .tether
        .update_user(
            &admin_actor,
            gina.id,
            UserChanges {
                name: Some("X".into()),
                ..UserChanges::default()
            },
        )
        .await;
    assert!(
        matches!(other_tenant, Err(Error::NotFound(_))),
        "{other_tenant:?}"
    );
    let by_tech = app
        .tether
        .update_user(
            &tech,
            bob.id,
            UserChanges {
                name: Some("X".into()),
                ..UserChanges::default()
            },
        )
        .await;
    assert!(matches!(by_tech, Err(Error::Forbidden)), "{by_tech:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE name = 'X' OR role_id = 1")
            .await,
        0
    );
}

async fn a_role_change_must_stay_within_the_tenants_kind(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (bob, _) = app.user("bob@acme.com", &acme, Role::ClientUser).await;
    let result = app
        .tether
        .update_user(
            &app.operator,
            bob.id,
            UserChanges {
                role_id: Some(1),
                ..UserChanges::default()
            },
        )
        .await;
    let Err(Error::Validation(fields)) = result else {
        panic!("expected a field error, got {result:?}");
    };
    assert_eq!(
        (fields[0].field, fields[0].code),
        ("role_id", "role_scope_mismatch")
    );
}

async fn sign_in_gives_the_same_answer_for_unknown_email_and_wrong_password(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let (user, session) = app
        .tether
        .sign_in(
            "ALICE@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Api,
            Some("192.0.2.7"),
        )
        .await
        .unwrap();
    assert_eq!(user.email.as_str(), "alice@acme.com");
    assert_eq!(session.token.expose().len(), 43);

    for (email, password) in [
        ("alice@acme.com", "wrong password here"),
        ("nobody@acme.com", GOOD_PASSWORD),
        ("not an email", "x"),
    ] {
        let result = app
            .tether
            .sign_in(email, password, None, SessionKind::Api, None)
            .await;
        assert!(
            matches!(result, Err(Error::InvalidCredentials)),
            "{email}: {result:?}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.sign_in_failed'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.sign_in'")
            .await,
        1
    );
}

async fn sign_in_on_a_tenants_page_is_for_that_tenants_users_only(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let elsewhere = app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            Some(globex.id),
            SessionKind::Web,
            None,
        )
        .await;
    assert!(matches!(elsewhere, Err(Error::InvalidCredentials)));
    assert!(app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            Some(acme.id),
            SessionKind::Web,
            None
        )
        .await
        .is_ok());
}

async fn web_sessions_end_after_12_hours_idle_or_7_days(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let (_, idle) = app
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
    let (_, busy) = app
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
    // `busy` is used every 11 hours; `idle` is not.
    for _ in 0..15 {
        app.clock.advance(Duration::from_secs(11 * 3600));
        assert!(app
            .tether
            .authenticate(busy.token.expose(), SessionKind::Web, None)
            .await
            .is_ok());
    }
    let idle_result = app
        .tether
        .authenticate(idle.token.expose(), SessionKind::Web, None)
        .await;
    assert!(matches!(idle_result, Err(Error::Unauthenticated)));
    // 15 × 11 + 4 = 169 hours: used 4 hours ago, but past the 7-day (168-hour) limit.
    app.clock.advance(Duration::from_secs(4 * 3600));
    let busy_result = app
        .tether
        .authenticate(busy.token.expose(), SessionKind::Web, None)
        .await;
    assert!(matches!(busy_result, Err(Error::Unauthenticated)));
    // A web session is not an API token.
    let (_, web) = app
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
    assert!(app
        .tether
        .authenticate(web.token.expose(), SessionKind::Api, None)
        .await
        .is_err());
}

async fn api_tokens_last_30_days_and_sign_out_revokes_them(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let (_, token) = app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Api,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        token.expires_at,
        app.now().plus(Duration::from_secs(30 * 24 * 3600))
    );
    app.clock.advance(Duration::from_secs(29 * 24 * 3600));
    assert!(app
        .tether
        .authenticate(token.token.expose(), SessionKind::Api, None)
        .await
        .is_ok());
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert!(app
        .tether
        .authenticate(token.token.expose(), SessionKind::Api, None)
        .await
        .is_err());

    let (_, other) = app
        .tether
        .sign_in(
            "alice@acme.com",
            GOOD_PASSWORD,
            None,
            SessionKind::Api,
            None,
        )
        .await
        .unwrap();
    app.tether
        .sign_out(other.token.expose(), None)
        .await
        .unwrap();
    assert!(matches!(
        app.tether
            .authenticate(other.token.expose(), SessionKind::Api, None)
            .await,
        Err(Error::Unauthenticated)
    ));
    app.tether
        .sign_out(other.token.expose(), None)
        .await
        .unwrap();
}

async fn admin_create_makes_an_msp_admin_and_checks_the_password(app: TestApp) {
    let weak = app
        .tether
        .create_admin(&app.operator, "root@atechsolutions.org", "password", None)
        .await;
    assert!(matches!(weak, Err(Error::Validation(_))), "{weak:?}");
    let admin = app
        .tether
        .create_admin(
            &app.operator,
            "Root@ATechSolutions.org",
            GOOD_PASSWORD,
            Some("Root"),
        )
        .await
        .unwrap();
    assert_eq!(admin.role, Role::MspAdmin);
    assert_eq!(admin.tenant_id, app.msp.id);
    assert_eq!(admin.email.as_str(), "root@atechsolutions.org");
    let again = app
        .tether
        .create_admin(
            &app.operator,
            "root@atechsolutions.org",
            GOOD_PASSWORD,
            None,
        )
        .await;
    assert!(
        matches!(again, Err(Error::Conflict(Conflict::UserExists))),
        "{again:?}"
    );
}

/// Trials of a race: each interleaving is up to the scheduler, so enough of them that the
/// stale write of a change read before its transaction shows (it did in most trials).
const RACE_TRIALS: usize = 12;

/// `changes` by `actor`, while the user renames themselves five times.
async fn change_during_renames(
    app: &TestApp,
    actor: &tether::domain::actor::Actor,
    own: &tether::domain::actor::Actor,
    id: tether::domain::user::UserId,
    changes: UserChanges,
) {
    let renames = async {
        for n in 0..5 {
            let rename = UserChanges {
                name: Some(format!("Renamed {n}")),
                ..UserChanges::default()
            };
            // Refused once the user is deactivated, as their own session ends: that is fine.
            let _ = app.tether.update_user(own, id, rename).await;
        }
    };
    let change = app.tether.update_user(actor, id, changes);
    let ((), changed) = tokio::join!(renames, change);
    changed.expect("the change is made");
}

async fn a_deactivation_is_not_undone_by_a_concurrent_rename(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    for trial in 0..RACE_TRIALS {
        // A client admin may rename themselves; the MSP deactivates them meanwhile.
        let email = format!("admin{trial}@acme.com");
        let (user, own) = app.user(&email, &acme, Role::ClientAdmin).await;
        let deactivate = UserChanges {
            active: Some(false),
            ..UserChanges::default()
        };
        change_during_renames(&app, &app.operator, &own, user.id, deactivate).await;
        let after = app.tether.user(&app.operator, user.id).await.unwrap();
        assert!(!after.active, "trial {trial}: the deactivation was undone");
        let signed_in = app
            .tether
            .sign_in(&email, GOOD_PASSWORD, None, SessionKind::Api, None)
            .await;
        assert!(matches!(signed_in, Err(Error::InvalidCredentials)));
    }
}

async fn a_demotion_is_not_undone_by_a_concurrent_rename(app: TestApp) {
    let (_, boss) = app
        .user("boss@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    for trial in 0..RACE_TRIALS {
        let email = format!("admin{trial}@atechsolutions.org");
        let (user, own) = app.user(&email, &app.msp, Role::MspAdmin).await;
        let demote = UserChanges {
            role_id: Some(Role::MspTechnician.id()),
            ..UserChanges::default()
        };
        change_during_renames(&app, &boss, &own, user.id, demote).await;
        let after = app.tether.user(&app.operator, user.id).await.unwrap();
        assert_eq!(
            after.role,
            Role::MspTechnician,
            "trial {trial}: the demotion was undone"
        );
    }
}

async fn a_sign_in_racing_a_deactivation_leaves_no_session_to_revive(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let (_, admin) = app.user("boss@acme.com", &acme, Role::ClientAdmin).await;
    for trial in 0..RACE_TRIALS {
        let email = format!("user{trial}@acme.com");
        let (user, _) = app.user(&email, &acme, Role::ClientUser).await;
        let sign_in = app
            .tether
            .sign_in(&email, GOOD_PASSWORD, None, SessionKind::Api, None);
        let deactivate = app.tether.update_user(
            &admin,
            user.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        );
        let (signed_in, deactivated) = tokio::join!(sign_in, deactivate);
        deactivated.expect("the deactivation is made");
        let reactivate = UserChanges {
            active: Some(true),
            ..UserChanges::default()
        };
        app.tether
            .update_user(&admin, user.id, reactivate)
            .await
            .expect("the reactivation is made");
        // Whichever came first, a session begun before the deactivation ended with it.
        if let Ok((_, session)) = signed_in {
            let revived = app
                .tether
                .authenticate(session.token.expose(), SessionKind::Api, None)
                .await;
            assert!(
                matches!(revived, Err(Error::Unauthenticated)),
                "trial {trial}: a session outlived the deactivation"
            );
        }
    }
}
