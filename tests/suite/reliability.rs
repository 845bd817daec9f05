//! quality.md Reliability 1, 2 and 6 on both engines.

use std::time::Duration;

use tether::domain::error::{Conflict, Error, Gone};
use tether::domain::invite::{InviteQuery, InviteStatus, StatusFilter};
use tether::domain::role::Role;
use tether::domain::tenant::Tenant;

use crate::common::TestApp;

crate::on_both_engines!(
    fifty_concurrent_accepts_of_one_link_create_one_account,
    concurrent_invites_for_one_email_never_leave_two_pending,
    a_pending_invite_expires_exactly_at_expires_at,
    writes_cancelled_midway_leave_no_transaction_open,
    each_concurrent_write_is_committed_before_it_is_answered_and_a_refused_one_writes_nothing,
    a_transaction_given_up_as_it_begins_holds_no_lock,
);

async fn fifty_concurrent_accepts_of_one_link_create_one_account(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let token = issued.token.expose().to_owned();
    let app = std::sync::Arc::new(app);
    let attempts: Vec<_> = (0..50)
        .map(|n| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { app.accept(&token, &format!("Person {n}")).await })
        })
        .collect();
    let mut created = 0;
    let mut used = 0;
    for attempt in attempts {
        match attempt.await.expect("the task finishes") {
            Ok(_) => created += 1,
            Err(Error::Gone(Gone::Used)) => used += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((created, used), (1, 49));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE accepted_user_id IS NOT NULL")
            .await,
        1
    );
}

async fn concurrent_invites_for_one_email_never_leave_two_pending(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let app = std::sync::Arc::new(app);
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            let acme = acme.clone();
            tokio::spawn(async move {
                app.invite_as(&app.operator, "alice@acme.com", &acme, Role::ClientUser)
                    .await
            })
        })
        .collect();
    let mut issued = 0;
    for attempt in attempts {
        match attempt.await.expect("the task finishes") {
            Ok(_) => issued += 1,
            Err(Error::Conflict(Conflict::InvitePending)) => {}
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert!(issued >= 1);
    let pending = app
        .tether
        .list_invites(
            &app.operator,
            InviteQuery {
                status: StatusFilter::Only(InviteStatus::Pending),
                email: Some("alice@acme.com".into()),
                ..InviteQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, issued);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE revoke_reason = 'superseded'")
            .await,
        issued - 1
    );
}

async fn a_pending_invite_expires_exactly_at_expires_at(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let expires_at = issued.invite.expires_at;

    app.clock.set(expires_at.minus(Duration::from_millis(1)));
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Pending);
    assert!(app
        .tether
        .open_invite_link(issued.token.expose(), None)
        .await
        .is_ok());

    app.clock.set(expires_at);
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.status, InviteStatus::Expired);
    let opened = app
        .tether
        .open_invite_link(issued.token.expose(), None)
        .await;
    assert!(
        matches!(opened, Err(Error::Gone(Gone::Expired))),
        "{opened:?}"
    );
    let accepted = app.accept(issued.token.expose(), "Alice").await;
    assert!(
        matches!(accepted, Err(Error::Gone(Gone::Expired))),
        "{accepted:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

/// A request whose client goes away is dropped wherever it is, BEGIN and COMMIT included.
/// None of those cancellations may leave a pooled connection inside a transaction: on
/// SQLite it would hold the write lock, and every later write would fail.
async fn writes_cancelled_midway_leave_no_transaction_open(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let app = std::sync::Arc::new(app);
    for round in 0..40u64 {
        let writers: Vec<_> = (0..8u64)
            .map(|n| {
                let app = app.clone();
                let acme = acme.clone();
                // Each writer is cut off after a different few hundred microseconds.
                let cut_off = Duration::from_micros((round * 8 + n) * 53 % 2_000);
                tokio::spawn(async move {
                    let email = format!("cut{round}-{n}@acme.com");
                    let create = app.invite_as(&app.operator, &email, &acme, Role::ClientUser);
                    let _ = tokio::time::timeout(cut_off, create).await;
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("the task finishes");
        }
    }
    // Nothing holds the write lock once the writers are gone.
    another_connection_writes_at_once(&app, &acme).await;
    // Each invite that exists was written whole, with its audit event.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email LIKE 'cut%'")
            .await,
        app.count(
            "SELECT COUNT(*) FROM audit_events a JOIN invites i ON i.id = a.target_id \
             WHERE a.action = 'invite.created' AND i.email LIKE 'cut%'"
        )
        .await
    );
    for n in 0..20 {
        app.invite_as(
            &app.operator,
            &format!("after{n}@acme.com"),
            &acme,
            Role::ClientUser,
        )
        .await
        .expect("a write after the cancellations succeeds");
    }
}

/// A write on another connection goes through at once: no transaction is left holding the
/// write lock (SQLite's busy timeout would make it wait 5 s, then fail).
async fn another_connection_writes_at_once(app: &TestApp, tenant: &Tenant) {
    let other_connection = sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
        .bind(tenant.id.0)
        .execute(app.db.reader());
    tokio::time::timeout(Duration::from_secs(2), other_connection)
        .await
        .expect("no transaction is left holding the write lock")
        .expect("the other connection writes");
}

/// A request dropped just as its transaction begins (the begin runs on in a task of its
/// own): the transaction it would have had is ended, so another connection writes at once.
async fn a_transaction_given_up_as_it_begins_holds_no_lock(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    for _ in 0..20 {
        let begun = tokio::time::timeout(Duration::from_micros(1), app.db.begin()).await;
        drop(begun);
        tokio::time::sleep(Duration::from_millis(20)).await;
        another_connection_writes_at_once(&app, &acme).await;
    }
}

/// Writers that arrive together may share a commit (on SQLite, `store/writer.rs`): each is
/// answered only once its writes are committed, so another connection sees them at once, and
/// one refused midway undoes its own writes alone.
async fn each_concurrent_write_is_committed_before_it_is_answered_and_a_refused_one_writes_nothing(
    app: TestApp,
) {
    let acme = app.client("Acme Corp", "acme").await;
    for n in 0..16 {
        app.user(&format!("taken{n}@acme.com"), &acme, Role::ClientUser)
            .await;
    }
    let invites_before = app.count("SELECT COUNT(*) FROM invites").await;
    let created_before = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.created'")
        .await;
    let app = std::sync::Arc::new(app);
    let writers: Vec<_> = (0..64)
        .map(|n| {
            let app = app.clone();
            let acme = acme.clone();
            tokio::spawn(async move {
                // Every fourth address has an account: refused inside the transaction.
                let email = if n % 4 == 0 {
                    format!("taken{}@acme.com", n / 4)
                } else {
                    format!("new{n}@acme.com")
                };
                let created = app
                    .invite_as(&app.operator, &email, &acme, Role::ClientUser)
                    .await;
                let seen = match &created {
                    Ok(issued) => {
                        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM invites WHERE id = $1")
                            .bind(issued.invite.id.0)
                            .fetch_one(app.db.reader())
                            .await
                            .expect("another connection reads")
                    }
                    Err(_) => 0,
                };
                (email, created.is_ok(), seen)
            })
        })
        .collect();
    for writer in writers {
        let (email, created, seen) = writer.await.expect("the task finishes");
        if email.starts_with("taken") {
            assert!(!created, "{email} has an account and is refused");
        } else {
            assert!(created, "{email} is invited");
            assert_eq!(
                seen, 1,
                "{email}'s invite is committed when its creation answers"
            );
        }
    }
    // The 48 invites and their audit events, and nothing of the 16 refused.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites").await,
        invites_before + 48
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.created'")
            .await,
        created_before + 48
    );
}

/// Races that only PostgreSQL's READ COMMITTED lets happen: SQLite runs one writer at a time.
mod postgres_only {
    use std::time::Duration;

    use tether::domain::error::{Conflict, Error};
    use tether::domain::invite::NewInvite;
    use tether::domain::role::Role;

    use crate::common::TestApp;

    /// An invite accepted, on another connection, while a new invite for the same email is
    /// superseding it: the new invite must see the new user, not be issued for them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invite_accepted_while_being_superseded_leaves_no_invite_for_the_new_user() {
        let Some(app) = TestApp::postgres().await else {
            return;
        };
        let acme = app.client("Acme Corp", "acme").await;
        let first = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
        let pool = app.db.reader().clone();

        // The accept, on a connection of its own, holding its claim and new user uncommitted.
        let mut accept = pool.begin().await.unwrap();
        sqlx::query("UPDATE invites SET accepted_at = $1 WHERE id = $2")
            .bind(app.now().millis())
            .bind(first.invite.id.0)
            .execute(&mut *accept)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (tenant_id, email, name, role_id, password_hash, created_at) \
             VALUES ($1, 'alice@acme.com', 'Alice', $2, 'x', $3)",
        )
        .bind(acme.id.0)
        .bind(Role::ClientUser.id())
        .bind(app.now().millis())
        .execute(&mut *accept)
        .await
        .unwrap();

        // The new invite: it finds no user yet and the invite still open, then waits for the
        // invite's row lock at its revoke.
        let create = {
            let (tether, operator) = (app.tether.clone(), app.operator.clone());
            tokio::spawn(async move {
                tether
                    .create_invite(
                        &operator,
                        NewInvite {
                            email: "alice@acme.com".into(),
                            name: None,
                            role_id: Role::ClientUser.id(),
                            tenant_id: acme.id.0,
                            expires_hours: None,
                            send_email: false,
                        },
                    )
                    .await
            })
        };
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                !create.is_finished(),
                "the create did not wait for the accept"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        accept.commit().await.unwrap();

        let created = create.await.unwrap();
        assert!(
            matches!(created, Err(Error::Conflict(Conflict::UserExists))),
            "{created:?}"
        );
        let open = app
            .count(
                "SELECT COUNT(*) FROM invites \
                 WHERE email = 'alice@acme.com' AND accepted_at IS NULL AND revoked_at IS NULL",
            )
            .await;
        assert_eq!(open, 0, "no pending invite for an existing user");
    }
}
