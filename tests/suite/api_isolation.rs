//! quality.md Security 3 and 4 through the API: a client admin of one tenant acting on
//! another tenant's invites, users and branding is refused at every endpoint and changes
//! nothing; no field lets a client admin grant an MSP role or reach another tenant; an MSP
//! technician cannot invite at all.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tether::domain::role::Role;

use crate::common::TestApp;

crate::on_both_engines!(
    a_client_admin_cannot_reach_another_tenant_through_any_endpoint,
    no_field_lets_a_client_admin_exceed_their_ceiling,
);

/// Everything a refused request could have changed, as text.
async fn snapshot(app: &TestApp) -> String {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT 'invite ' || id || ' ' || COALESCE(CAST(revoked_at AS TEXT), '-') || ' ' || COALESCE(CAST(accepted_at AS TEXT), '-') \
           || ' ' || role_id || ' ' || tenant_id FROM invites \
         UNION ALL SELECT 'user ' || id || ' ' || name || ' ' || role_id || ' ' || tenant_id || ' ' \
           || COALESCE(CAST(deactivated_at AS TEXT), '-') FROM users \
         UNION ALL SELECT 'tenant ' || id || ' ' || name || ' ' || accent_colour FROM tenants \
         UNION ALL SELECT 'logo ' || tenant_id || ' ' || etag FROM tenant_logos \
         UNION ALL SELECT 'session ' || id || ' ' || COALESCE(CAST(revoked_at AS TEXT), '-') FROM sessions",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    let mut lines: Vec<String> = rows.into_iter().map(|(line,)| line).collect();
    lines.sort();
    lines.join("\n")
}

async fn a_client_admin_cannot_reach_another_tenant_through_any_endpoint(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let acme_admin = app
        .token_for("boss@acme.com", &acme, Role::ClientAdmin)
        .await;
    let (gina, _) = app.user("gina@globex.com", &globex, Role::ClientUser).await;
    let globex_invite = app
        .invite("new@globex.com", &globex, Role::ClientUser)
        .await;
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(64, 0);
    app.tether
        .set_logo(&app.operator, globex.id, png.clone())
        .await
        .unwrap();
    let api = app.api().await;
    let (g, i, u) = (globex.id.0, globex_invite.invite.id.0, gina.id.0);

    let attempts: Vec<(&str, String, Option<serde_json::Value>, &[StatusCode])> = vec![
        (
            "GET",
            format!("/api/invites/{i}"),
            None,
            &[StatusCode::NOT_FOUND],
        ),
        (
            "DELETE",
            format!("/api/invites/{i}"),
            None,
            &[StatusCode::NOT_FOUND],
        ),
        (
            "POST",
            format!("/api/invites/{i}/reissue"),
            Some(json!({})),
            &[StatusCode::NOT_FOUND],
        ),
        (
            "POST",
            "/api/invites".into(),
            Some(json!({"email": "x@globex.com", "role_id": 4, "tenant_id": g})),
            &[StatusCode::FORBIDDEN],
        ),
        (
            "GET",
            format!("/api/users/{u}"),
            None,
            &[StatusCode::NOT_FOUND],
        ),
        (
            "PATCH",
            format!("/api/users/{u}"),
            Some(json!({"name": "Hacked", "active": false})),
            &[StatusCode::NOT_FOUND],
        ),
        (
            "GET",
            format!("/api/tenants/{g}"),
            None,
            &[StatusCode::NOT_FOUND],
        ),
        (
            "PATCH",
            format!("/api/tenants/{g}"),
            Some(json!({"name": "Hacked"})),
            &[StatusCode::NOT_FOUND],
        ),
        (
            "DELETE",
            format!("/api/tenants/{g}/logo"),
            None,
            &[StatusCode::NOT_FOUND],
        ),
        (
            "PATCH",
            format!("/api/tenants/{}", acme.id.0),
            Some(json!({"name": "Hacked"})),
            &[StatusCode::FORBIDDEN],
        ),
    ];
    for (method, path, body, allowed) in attempts {
        let before = snapshot(&app).await;
        let reply = api.call(method, &path, Some(&acme_admin), body).await;
        assert!(
            allowed.contains(&reply.status),
            "{method} {path}: {} {:?}",
            reply.status,
            reply.body
        );
        reply.problem_code();
        assert_eq!(
            snapshot(&app).await,
            before,
            "{method} {path} changed something"
        );
    }

    let before = snapshot(&app).await;
    let logo = api
        .send(
            Request::put(format!("/api/tenants/{g}/logo"))
                .header("authorization", format!("Bearer {acme_admin}"))
                .header("content-type", "image/png")
                .body(Body::from(png))
                .unwrap(),
        )
        .await;
    assert_eq!(logo.status, StatusCode::NOT_FOUND);
    assert_eq!(snapshot(&app).await, before);

    for path in [
        format!("/api/invites?tenant_id={g}&status=all"),
        format!("/api/users?tenant_id={g}"),
        format!("/api/audit-events?tenant_id={g}"),
        "/api/invites?status=all".to_owned(),
        "/api/users".to_owned(),
        "/api/audit-events".to_owned(),
        "/api/tenants".to_owned(),
    ] {
        let reply = api.get(&path, &acme_admin).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        for item in reply.body["items"].as_array().unwrap() {
            let tenant = item.get("tenant_id").unwrap_or(&item["id"]);
            assert_eq!(tenant, &json!(acme.id.0), "{path} shows {item}");
        }
    }
}

async fn no_field_lets_a_client_admin_exceed_their_ceiling(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let acme_admin = app
        .token_for("boss@acme.com", &acme, Role::ClientAdmin)
        .await;
    let tech = app
        .token_for("tech@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let (bob, _) = app.user("bob@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let msp = app.msp.id.0;

    for body in [
        json!({"email": "x@acme.com", "role_id": 1, "tenant_id": acme.id.0}),
        json!({"email": "x@acme.com", "role_id": 2, "tenant_id": acme.id.0}),
        json!({"email": "x@acme.com", "role_id": 1, "tenant_id": msp}),
        json!({"email": "x@acme.com", "role_id": 3, "tenant_id": msp}),
    ] {
        let before = snapshot(&app).await;
        let reply = api.post("/api/invites", &acme_admin, body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(snapshot(&app).await, before);
    }
    for role_id in [1, 2] {
        let before = snapshot(&app).await;
        let reply = api
            .patch(
                &format!("/api/users/{}", bob.id.0),
                &acme_admin,
                json!({"role_id": role_id}),
            )
            .await;
        assert!(
            matches!(
                reply.status,
                StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{role_id}"
        );
        assert_eq!(snapshot(&app).await, before);
    }
    for (tenant, role) in [(msp, 2), (acme.id.0, 4)] {
        let before = snapshot(&app).await;
        let reply = api
            .post(
                "/api/invites",
                &tech,
                json!({"email": "y@acme.com", "role_id": role, "tenant_id": tenant}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(snapshot(&app).await, before);
    }
}
