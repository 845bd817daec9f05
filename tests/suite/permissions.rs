//! Who may do what: product.md §2, enforced by the domain for every caller.

use tether::domain::actor::Actor;
use tether::domain::audit::AuditQuery;
use tether::domain::error::Error;
use tether::domain::invite::{InviteQuery, StatusFilter};
use tether::domain::role::Role;
use tether::domain::tenant::{NewTenant, Tenant, TenantChanges};
use tether::domain::user::UserQuery;

use crate::common::TestApp;

crate::on_both_engines!(
    msp_technician_cannot_invite_at_all,
    client_user_cannot_invite,
    client_admin_invites_only_client_roles_into_their_own_tenant,
    client_admin_sees_and_revokes_only_their_own_tenants_invites,
    technicians_and_client_users_cannot_see_or_revoke_invites,
    only_msp_admins_create_and_brand_tenants,
    tenants_are_visible_per_role,
    users_are_visible_per_role,
    audit_events_are_readable_per_role,
    refusals_are_audited,
);

struct World {
    acme: Tenant,
    globex: Tenant,
    tech: Actor,
    acme_admin: Actor,
    acme_user: Actor,
}

async fn world(app: &TestApp) -> World {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let (_, tech) = app
        .user("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let (_, acme_admin) = app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    let (_, acme_user) = app.user("user@acme.com", &acme, Role::ClientUser).await;
    World {
        acme,
        globex,
        tech,
        acme_admin,
        acme_user,
    }
}

async fn invites(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM invites").await
}

async fn msp_technician_cannot_invite_at_all(app: TestApp) {
    let w = world(&app).await;
    let before = invites(&app).await;
    for (tenant, role) in [(&app.msp, Role::MspTechnician), (&w.acme, Role::ClientUser)] {
        let result = app
            .invite_as(&w.tech, "new@example.com", tenant, role)
            .await;
        assert!(matches!(result, Err(Error::Forbidden)), "{result:?}");
    }
    assert_eq!(invites(&app).await, before);
}

async fn client_user_cannot_invite(app: TestApp) {
    let w = world(&app).await;
    let before = invites(&app).await;
    let result = app
        .invite_as(&w.acme_user, "new@acme.com", &w.acme, Role::ClientUser)
        .await;
    assert!(matches!(result, Err(Error::Forbidden)), "{result:?}");
    assert_eq!(invites(&app).await, before);
}

async fn client_admin_invites_only_client_roles_into_their_own_tenant(app: TestApp) {
    let w = world(&app).await;
    for role in [Role::ClientUser, Role::ClientAdmin] {
        let email = format!("{}@acme.com", role.name());
        app.invite_as(&w.acme_admin, &email, &w.acme, role)
            .await
            .unwrap();
    }
    let before = invites(&app).await;
    let refused = [
        (&w.acme, Role::MspAdmin),
        (&w.acme, Role::MspTechnician),
        (&app.msp, Role::MspAdmin),
        (&app.msp, Role::MspTechnician),
        (&w.globex, Role::ClientUser),
        (&w.globex, Role::ClientAdmin),
    ];
    for (tenant, role) in refused {
        let result = app
            .invite_as(&w.acme_admin, "x@example.com", tenant, role)
            .await;
        assert!(
            matches!(result, Err(Error::Forbidden)),
            "{role} in {}: {result:?}",
            tenant.name
        );
    }
    assert_eq!(invites(&app).await, before);
}

async fn client_admin_sees_and_revokes_only_their_own_tenants_invites(app: TestApp) {
    let w = world(&app).await;
    let own = app.invite("a@acme.com", &w.acme, Role::ClientUser).await;
    let other = app
        .invite("g@globex.com", &w.globex, Role::ClientUser)
        .await;

    let listed = app
        .tether
        .list_invites(
            &w.acme_admin,
            InviteQuery {
                status: StatusFilter::All,
                ..InviteQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.items.iter().all(|i| i.tenant_id == w.acme.id));
    assert!(listed.items.iter().any(|i| i.id == own.invite.id));
    let asked_for_other = app
        .tether
        .list_invites(
            &w.acme_admin,
            InviteQuery {
                status: StatusFilter::All,
                tenant_id: Some(w.globex.id),
                ..InviteQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(asked_for_other.items.is_empty());

    assert!(matches!(
        app.tether.invite(&w.acme_admin, other.invite.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        app.tether
            .revoke_invite(&w.acme_admin, other.invite.id)
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        app.tether
            .reissue_invite(&w.acme_admin, other.invite.id, None, false)
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(
        app.tether
            .open_invite_link(other.token.expose(), None)
            .await
            .is_ok(),
        "the other tenant's invite is untouched"
    );

    app.tether
        .revoke_invite(&w.acme_admin, own.invite.id)
        .await
        .unwrap();
}

async fn technicians_and_client_users_cannot_see_or_revoke_invites(app: TestApp) {
    let w = world(&app).await;
    let invite = app.invite("a@acme.com", &w.acme, Role::ClientUser).await;
    for actor in [&w.tech, &w.acme_user] {
        assert!(matches!(
            app.tether.list_invites(actor, InviteQuery::default()).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            app.tether.invite(actor, invite.invite.id).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            app.tether.revoke_invite(actor, invite.invite.id).await,
            Err(Error::Forbidden)
        ));
    }
    assert!(app
        .tether
        .open_invite_link(invite.token.expose(), None)
        .await
        .is_ok());
}

async fn only_msp_admins_create_and_brand_tenants(app: TestApp) {
    let w = world(&app).await;
    for actor in [&w.tech, &w.acme_admin, &w.acme_user] {
        let created = app
            .tether
            .create_tenant(
                actor,
                NewTenant {
                    name: "Initech".into(),
                    slug: "initech".into(),
                    ..NewTenant::default()
                },
            )
            .await;
        assert!(matches!(created, Err(Error::Forbidden)), "{created:?}");
    }
    let rename = || TenantChanges {
        name: Some("Hacked".into()),
        ..TenantChanges::default()
    };
    assert!(matches!(
        app.tether.update_tenant(&w.tech, w.acme.id, rename()).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        app.tether
            .update_tenant(&w.acme_admin, w.acme.id, rename())
            .await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        app.tether
            .update_tenant(&w.acme_admin, w.globex.id, rename())
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        app.tether.remove_logo(&w.acme_admin, w.globex.id).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tenants WHERE name = 'Hacked' OR slug = 'initech'")
            .await,
        0
    );

    let renamed = app
        .tether
        .update_tenant(&app.operator, w.acme.id, rename())
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Hacked");
}

async fn tenants_are_visible_per_role(app: TestApp) {
    let w = world(&app).await;
    assert_eq!(app.tether.list_tenants(&w.tech).await.unwrap().len(), 3);
    for actor in [&w.acme_admin, &w.acme_user] {
        let seen = app.tether.list_tenants(actor).await.unwrap();
        assert_eq!(
            seen.iter().map(|t| t.tenant.id).collect::<Vec<_>>(),
            [w.acme.id]
        );
        assert!(matches!(
            app.tether.tenant(actor, w.globex.id).await,
            Err(Error::NotFound(_))
        ));
    }
}

async fn users_are_visible_per_role(app: TestApp) {
    let w = world(&app).await;
    let (globex_user, _) = app.user("g@globex.com", &w.globex, Role::ClientUser).await;
    let all = app
        .tether
        .list_users(&w.tech, UserQuery::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);
    for actor in [&w.acme_admin, &w.acme_user] {
        let seen = app
            .tether
            .list_users(actor, UserQuery::default())
            .await
            .unwrap();
        assert!(seen.items.iter().all(|u| u.tenant_id == w.acme.id));
        assert_eq!(seen.items.len(), 2);
        assert!(matches!(
            app.tether.user(actor, globex_user.id).await,
            Err(Error::NotFound(_))
        ));
    }
}

async fn audit_events_are_readable_per_role(app: TestApp) {
    let w = world(&app).await;
    app.invite("g@globex.com", &w.globex, Role::ClientUser)
        .await;
    let all = app
        .tether
        .list_audit_events(&app.operator, AuditQuery::default())
        .await
        .unwrap();
    assert!(all.items.iter().any(|e| e.tenant_id == Some(w.globex.id.0)));
    let own = app
        .tether
        .list_audit_events(&w.acme_admin, AuditQuery::default())
        .await
        .unwrap();
    assert!(!own.items.is_empty());
    assert!(own.items.iter().all(|e| e.tenant_id == Some(w.acme.id.0)));
    for actor in [&w.tech, &w.acme_user] {
        assert!(matches!(
            app.tether
                .list_audit_events(actor, AuditQuery::default())
                .await,
            Err(Error::Forbidden)
        ));
    }
}

async fn refusals_are_audited(app: TestApp) {
    let w = world(&app).await;
    let before = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'access.refused'")
        .await;
    let _ = app
        .invite_as(&w.tech, "x@acme.com", &w.acme, Role::ClientUser)
        .await;
    let _ = app.tether.tenant(&w.acme_user, w.globex.id).await;
    let after = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'access.refused'")
        .await;
    assert_eq!(after - before, 2);
}
