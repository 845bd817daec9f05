//! Bulk invites (delivery.md §12): every row checked as a single create is, answered on its
//! own; the dry run changes nothing; the API's `POST /api/invites/batch`.

use serde_json::{json, Value};
use tether::domain::batch::{BatchRow, InviteBatch, RowOutcome, RowRole};
use tether::domain::error::Error;
use tether::domain::invite::{InviteStatus, RevokeReason};
use tether::domain::role::Role;
use tether::domain::tenant::TenantChanges;

use crate::common::TestApp;

crate::on_both_engines!(
    every_refusal_is_reported_on_its_row_and_the_valid_rows_are_created,
    a_row_supersedes_a_pending_invite_for_its_address,
    a_dry_run_says_what_each_row_would_do_and_changes_nothing,
    a_thousand_rows_are_created_and_a_thousand_and_one_are_refused_with_413,
    a_client_admins_batch_into_another_tenant_is_refused,
    the_api_answers_each_row_with_its_invite_or_its_problem,
);

fn row(email: &str, role: Role) -> BatchRow {
    BatchRow {
        email: email.into(),
        name: None,
        role: RowRole::Id(role.id()),
    }
}

fn batch(tenant_id: i64, rows: Vec<BatchRow>) -> InviteBatch {
    InviteBatch {
        tenant_id,
        rows,
        default_role_id: None,
        expires_hours: None,
        send_email: false,
        dry_run: false,
    }
}

/// The field errors' `(field, code)` of a refused row, or its conflict's code, or "forbidden".
fn refusal(outcome: &RowOutcome) -> Vec<(String, String)> {
    match outcome {
        RowOutcome::Refused(Error::Validation(fields)) => fields
            .iter()
            .map(|f| (f.field.to_owned(), f.code.to_owned()))
            .collect(),
        RowOutcome::Refused(Error::Conflict(conflict)) => {
            vec![(String::from("conflict"), conflict.code().to_owned())]
        }
        RowOutcome::Refused(Error::Forbidden) => {
            vec![(String::from("forbidden"), String::new())]
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

async fn every_refusal_is_reported_on_its_row_and_the_valid_rows_are_created(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    app.tether
        .update_tenant(
            &app.operator,
            acme.id,
            TenantChanges {
                allowed_email_domains: Some(vec!["acme.com".into()]),
                ..TenantChanges::default()
            },
        )
        .await
        .unwrap();
    let (_, admin) = app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    app.user("taken@acme.com", &acme, Role::ClientUser).await;
    // Globex's pending invite is one Acme's admin may not revoke.
    app.invite("elsewhere@acme.com", &globex, Role::ClientUser)
        .await;
    let rows = vec![
        row("ana@acme.com", Role::ClientUser),
        row("not an address", Role::ClientUser),
        BatchRow {
            role: RowRole::Name("chief".into()),
            ..row("role@acme.com", Role::ClientUser)
        },
        row("boss@acme.com", Role::MspAdmin),
        row("taken@acme.com", Role::ClientUser),
        row("elsewhere@acme.com", Role::ClientUser),
        row("ANA@acme.com", Role::ClientAdmin),
        row("someone@gmail.com", Role::ClientUser),
        row("bo@acme.com", Role::ClientAdmin),
    ];
    let result = app
        .tether
        .invite_many(&admin, batch(acme.id.0, rows))
        .await
        .unwrap();
    let o = &result.outcomes;
    assert_eq!(o.len(), 9);
    assert!(
        matches!(&o[0], RowOutcome::Created(i) if i.invite.email.as_ref().unwrap().as_str() == "ana@acme.com")
    );
    assert_eq!(refusal(&o[1]), [pair("email", "invalid_email")]);
    assert_eq!(refusal(&o[2]), [pair("role", "unknown_role")]);
    assert_eq!(refusal(&o[3]), [pair("forbidden", "")]);
    assert_eq!(refusal(&o[4]), [pair("conflict", "user_exists")]);
    assert_eq!(refusal(&o[5]), [pair("conflict", "invite_pending")]);
    assert_eq!(refusal(&o[6]), [pair("email", "duplicate_in_batch")]);
    assert_eq!(refusal(&o[7]), [pair("email", "email_domain_not_allowed")]);
    assert!(matches!(&o[8], RowOutcome::Created(i) if i.invite.role == Role::ClientAdmin));
    assert_eq!((result.created(), result.refused()), (2, 7));

    // A role that does not fit the tenant, as the MSP admin would send it.
    let result = app
        .tether
        .invite_many(
            &app.operator,
            batch(acme.id.0, vec![row("tech@acme.com", Role::MspTechnician)]),
        )
        .await
        .unwrap();
    assert_eq!(
        refusal(&result.outcomes[0]),
        [pair("role_id", "role_scope_mismatch")]
    );
    // Exactly the two valid rows became invites in Acme.
    let acme_invites = app
        .count(&format!(
            "SELECT COUNT(*) FROM invites WHERE tenant_id = {} AND accepted_at IS NULL",
            acme.id.0
        ))
        .await;
    assert_eq!(acme_invites, 2);
}

async fn a_row_supersedes_a_pending_invite_for_its_address(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let old = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    let result = app
        .tether
        .invite_many(
            &app.operator,
            batch(acme.id.0, vec![row("bob@acme.com", Role::ClientAdmin)]),
        )
        .await
        .unwrap();
    let RowOutcome::Created(issued) = &result.outcomes[0] else {
        panic!("expected a created invite, got {:?}", result.outcomes[0]);
    };
    assert_eq!(issued.superseded, Some(old.invite.id));
    let before = app
        .tether
        .invite(&app.operator, old.invite.id)
        .await
        .unwrap();
    assert_eq!(before.status, InviteStatus::Revoked);
    assert_eq!(before.revoke_reason, Some(RevokeReason::Superseded));
    assert!(app.accept(issued.token.expose(), "Bob").await.is_ok());
}

/// Every row of the tables a batch could write, as text.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT id || ':' || COALESCE(email, '') || ':' || COALESCE(revoked_at, 0) FROM invites ORDER BY id",
        "SELECT id || ':' || action FROM audit_events ORDER BY id",
        "SELECT CAST(id AS TEXT) FROM outbox ORDER BY id",
        "SELECT CAST(id AS TEXT) FROM users ORDER BY id",
    ] {
        let found: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(app.db.reader())
            .await
            .expect("the snapshot query runs");
        rows.extend(found);
    }
    rows
}

async fn a_dry_run_says_what_each_row_would_do_and_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let old = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.user("taken@acme.com", &acme, Role::ClientUser).await;
    let before = snapshot(&app).await;
    let rows = vec![
        row("new@acme.com", Role::ClientUser),
        row("bob@acme.com", Role::ClientUser),
        row("taken@acme.com", Role::ClientUser),
        row("new@acme.com", Role::ClientUser),
    ];
    let dry = InviteBatch {
        dry_run: true,
        ..batch(acme.id.0, rows)
    };
    let result = app.tether.invite_many(&app.operator, dry).await.unwrap();
    let o = &result.outcomes;
    assert!(matches!(o[0], RowOutcome::WouldCreate { supersedes: None }));
    assert!(
        matches!(o[1], RowOutcome::WouldCreate { supersedes: Some(id) } if id == old.invite.id)
    );
    assert_eq!(refusal(&o[2]), [pair("conflict", "user_exists")]);
    assert_eq!(refusal(&o[3]), [pair("email", "duplicate_in_batch")]);
    assert_eq!((result.created(), result.refused()), (0, 2));
    assert_eq!(snapshot(&app).await, before, "a dry run wrote something");
}

async fn a_thousand_rows_are_created_and_a_thousand_and_one_are_refused_with_413(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let token = app
        .token_for("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let rows = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"email": format!("person{i}@acme.com"), "role_id": 4}))
            .collect()
    };
    let reply = api
        .post(
            "/api/invites/batch",
            &token,
            json!({"tenant_id": acme.id.0, "rows": rows(1001)}),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.problem_code(), "payload_too_large");
    let none = app
        .count("SELECT COUNT(*) FROM invites WHERE email LIKE 'person%'")
        .await;
    assert_eq!(none, 0);

    let reply = api
        .post(
            "/api/invites/batch",
            &token,
            json!({"tenant_id": acme.id.0, "rows": rows(1000)}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["created"], 1000);
    assert_eq!(reply.body["failed"], 0);
    let created = app
        .count("SELECT COUNT(*) FROM invites WHERE email LIKE 'person%' AND revoked_at IS NULL")
        .await;
    assert_eq!(created, 1000);
}

async fn a_client_admins_batch_into_another_tenant_is_refused(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let api = app.api().await;
    let token = app
        .token_for("admin@acme.com", &acme, Role::ClientAdmin)
        .await;
    let reply = api
        .post(
            "/api/invites/batch",
            &token,
            json!({"tenant_id": globex.id.0, "rows": [{"email": "x@globex.com", "role_id": 4}]}),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.problem_code(), "forbidden");
    let (_, admin) = app.user("admin2@acme.com", &acme, Role::ClientAdmin).await;
    let refused = app
        .tether
        .invite_many(
            &admin,
            batch(globex.id.0, vec![row("y@globex.com", Role::ClientUser)]),
        )
        .await;
    assert!(matches!(refused, Err(Error::Forbidden)));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email LIKE '%@globex.com'")
            .await,
        0
    );
}

async fn the_api_answers_each_row_with_its_invite_or_its_problem(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let old = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    let api = app.api().await;
    let token = app
        .token_for("admin@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let body = |dry_run: bool| {
        json!({
            "tenant_id": acme.id.0,
            "expires_hours": 24,
            "dry_run": dry_run,
            "rows": [
                {"email": "carol@acme.com", "name": "Carol Diaz", "role_id": 4},
                {"email": "bob@acme.com", "role_id": 3},
                {"email": "dave@acme.com"},
                {"email": "carol@acme.com", "role_id": 4},
            ],
        })
    };
    let reply = api.post("/api/invites/batch", &token, body(true)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["would_create", "would_create", "refused", "refused"]
    );
    assert_eq!(results[1]["supersedes"], old.invite.id.0);
    assert_eq!(results[0]["invite"], Value::Null);
    assert_eq!(
        (
            reply.body["created"].as_i64(),
            reply.body["failed"].as_i64()
        ),
        (Some(0), Some(2))
    );

    let reply = api.post("/api/invites/batch", &token, body(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(reply.body["created"], 2);
    assert_eq!(reply.body["failed"], 2);
    let carol = &results[0];
    assert_eq!(
        (carol["row"].as_i64(), carol["outcome"].as_str()),
        (Some(0), Some("created"))
    );
    assert_eq!(carol["invite"]["email"], "carol@acme.com");
    assert_eq!(carol["invite"]["name"], "Carol Diaz");
    assert_eq!(carol["invite"]["token"].as_str().unwrap().len(), 43);
    assert!(carol["invite"]["invite_url"]
        .as_str()
        .unwrap()
        .starts_with("https://acme.atechsolutions.org/invite/"));
    assert_eq!(carol["error"], Value::Null);
    assert_eq!(results[1]["supersedes"], old.invite.id.0);
    let no_role = &results[2]["error"];
    assert_eq!(
        (no_role["status"].as_i64(), no_role["code"].as_str()),
        (Some(422), Some("validation_failed"))
    );
    assert_eq!(no_role["errors"][0]["field"], "role_id");
    assert_eq!(
        results[3]["error"]["errors"][0]["code"],
        "duplicate_in_batch"
    );
    assert_eq!(results[3]["invite"], Value::Null);

    // The batch's options apply to every row: these links last 24 hours.
    let carol_id = carol["invite"]["id"].as_i64().unwrap();
    let invite = app
        .tether
        .invite(&app.operator, tether::domain::invite::InviteId(carol_id))
        .await
        .unwrap();
    assert_eq!(
        invite.expires_at.millis() - invite.created_at.millis(),
        24 * 3_600_000
    );
    // Sent again, each row supersedes the invite the first run made for its address.
    let again = api.post("/api/invites/batch", &token, body(false)).await;
    assert_eq!(again.body["results"][0]["supersedes"], carol_id);
    // No rows at all is a validation failure of the whole batch.
    let empty = api
        .post(
            "/api/invites/batch",
            &token,
            json!({"tenant_id": acme.id.0, "rows": []}),
        )
        .await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.body["errors"][0]["field"], "rows");
}
