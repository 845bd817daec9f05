//! Reminders (delivery.md §11 "Reminders"): an e-mailed 3- or 7-day invite still pending a day
//! before it expires is re-issued once, with the same expiry, and the fresh link e-mailed; on
//! both engines, with the manual clock and a real SMTP server on loopback.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tether::domain::error::{Error, Gone};
use tether::domain::invite::{InviteStatus, NewInvite, REMINDER_LEAD};
use tether::domain::role::Role;
use tether::domain::tenant::TenantChanges;

use crate::common::TestApp;
use crate::support::{read_mail, SmtpSink};

crate::on_both_engines!(
    a_reminder_reissues_an_e_mailed_invite_a_day_before_it_expires_once,
    no_reminder_for_an_accepted_revoked_one_day_or_unmailed_invite,
    a_tenant_turns_reminders_off_in_the_api_and_they_stop,
);

const REMINDERS: &str = "SELECT COUNT(*) FROM outbox WHERE topic = 'reminder'";

async fn a_reminder_reissues_an_e_mailed_invite_a_day_before_it_expires_once(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let (_, dana) = app.user("dana@acme.com", &acme, Role::ClientAdmin).await;
    let first = app
        .invite_by_mail(&dana, "bob@acme.com", Some("Bob"), &acme, Role::ClientUser)
        .await
        .unwrap();
    assert_eq!(app.count(REMINDERS).await, 1);
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);

    let due = first.invite.expires_at.minus(REMINDER_LEAD);
    app.clock.advance(Duration::from_millis(
        (due.millis() - app.now().millis() - 1) as u64,
    ));
    assert_eq!(
        app.tether.deliver_due().await.unwrap(),
        0,
        "not a millisecond early"
    );
    app.clock.advance(Duration::from_millis(1));
    assert_eq!(
        app.tether.deliver_due().await.unwrap(),
        1,
        "the reminder runs"
    );
    assert_eq!(
        app.tether.deliver_due().await.unwrap(),
        1,
        "its e-mail is sent"
    );
    assert_eq!(sink.wait_for(2, 10), 2);

    let mail = read_mail(&sink.files());
    let reminder = mail
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["headers"]["subject"][0]
                .as_str()
                .is_some_and(|s| s.starts_with("Reminder"))
        })
        .expect("a reminder arrived");
    assert_eq!(
        reminder["headers"]["subject"][0],
        "Reminder: your invitation to Acme Corp expires soon"
    );
    assert_eq!(reminder["headers"]["to"][0], "bob@acme.com");
    assert_eq!(reminder["headers"]["reply-to"][0], "dana@acme.com");
    let text = reminder["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "text/plain")
        .and_then(|p| p["text"].as_str())
        .unwrap();
    assert!(text.contains("in less than a day"), "{text}");
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/invite/"))
        .unwrap();
    let token = link.rsplit('/').next().unwrap();
    assert_ne!(token, first.token.expose());

    // The fresh link expires when the first one would have, for the same inviter.
    let fresh = app.tether.open_invite_link(token, None).await.unwrap();
    assert_eq!(fresh.invite.expires_at, first.invite.expires_at);
    assert_eq!(fresh.invite.status, InviteStatus::Pending);
    assert_eq!(
        fresh.invite.created_by.map(|(_, email)| email.to_string()),
        Some(String::from("dana@acme.com"))
    );
    assert!(matches!(
        app.tether
            .open_invite_link(first.token.expose(), None)
            .await,
        Err(Error::Gone(Gone::Superseded { .. }))
    ));
    // Once: the fresh invite has no reminder of its own.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE topic = 'reminder' AND state = 'queued'")
            .await,
        0
    );
    app.clock.advance(REMINDER_LEAD - Duration::from_secs(1));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    assert!(app.accept(token, "Bob").await.is_ok());
}

async fn no_reminder_for_an_accepted_revoked_one_day_or_unmailed_invite(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let op = app.operator.clone();
    let accepted = app
        .invite_by_mail(&op, "a@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    let revoked = app
        .invite_by_mail(&op, "r@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    let superseded = app
        .invite_by_mail(&op, "s@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    assert_eq!(app.count(REMINDERS).await, 3);
    app.accept(accepted.token.expose(), "A").await.unwrap();
    app.tether
        .revoke_invite(&op, revoked.invite.id)
        .await
        .unwrap();
    app.tether
        .reissue_invite(&op, superseded.invite.id, None, false)
        .await
        .unwrap();
    assert_eq!(app.count(REMINDERS).await, 0, "each was cancelled");
    // A one-day invite has no day to spare; an invite not e-mailed has no reminder.
    app.tether
        .create_invite(
            &op,
            NewInvite {
                email: "d@acme.com".into(),
                role_id: Role::ClientUser.id(),
                tenant_id: acme.id.0,
                expires_hours: Some(24),
                send_email: true,
                ..NewInvite::default()
            },
        )
        .await
        .unwrap();
    app.invite("n@acme.com", &acme, Role::ClientUser).await;
    assert_eq!(app.count(REMINDERS).await, 0);
    // Nothing is re-issued when the day comes.
    let invites_before = app.count("SELECT COUNT(*) FROM invites").await;
    app.clock.advance(Duration::from_secs(3 * 24 * 3600));
    while app.tether.deliver_due().await.unwrap() > 0 {}
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites").await,
        invites_before
    );
}

async fn a_tenant_turns_reminders_off_in_the_api_and_they_stop(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let admin = app
        .token_for("boss@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let shown = api
        .get(&format!("/api/tenants/{}", acme.id.0), &admin)
        .await;
    assert_eq!(shown.body["invite_reminders"], true);
    let op = app.operator.clone();
    let scheduled = app
        .invite_by_mail(&op, "early@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();

    // A client admin may not change the setting.
    let client_admin = app
        .token_for("admin@acme.com", &acme, Role::ClientAdmin)
        .await;
    let refused = api
        .patch(
            &format!("/api/tenants/{}", acme.id.0),
            &client_admin,
            json!({"invite_reminders": false}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let off = api
        .patch(
            &format!("/api/tenants/{}", acme.id.0),
            &admin,
            json!({"invite_reminders": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["invite_reminders"], false);

    // New invites get none; the one scheduled before runs and does nothing.
    app.invite_by_mail(&op, "late@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    assert_eq!(app.count(REMINDERS).await, 1);
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    while app.tether.deliver_due().await.unwrap() > 0 {}
    let link = app
        .tether
        .open_invite_link(scheduled.token.expose(), None)
        .await
        .unwrap();
    assert_eq!(link.invite.status, InviteStatus::Pending);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'early@acme.com'")
            .await,
        1
    );
    let tenant = app.tether.site_tenant(acme.id).await.unwrap();
    assert!(!tenant.invite_reminders);
    app.tether
        .update_tenant(
            &op,
            acme.id,
            TenantChanges {
                invite_reminders: Some(true),
                ..TenantChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(
        app.tether
            .site_tenant(acme.id)
            .await
            .unwrap()
            .invite_reminders
    );
}
