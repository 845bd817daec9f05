//! The outbox and the invite e-mail (delivery.md §8–9, quality.md Reliability 9 and
//! Security 12, 15), against a real SMTP server on loopback (aiosmtpd) and read back with
//! Python's `email` package.

use std::time::Duration;

use serde_json::{json, Value};
use tether::domain::error::Error;
use tether::domain::invite::InviteStatus;
use tether::domain::outbox::{retry_delay, MessageQuery, State, JITTER, RETRY_SCHEDULE};
use tether::domain::role::Role;

use crate::common::TestApp;
use crate::support::{read_mail, SmtpSink};

crate::on_both_engines!(
    an_invite_email_is_the_tenants_own_and_its_link_works,
    names_are_escaped_in_the_html_and_cannot_start_a_header,
    a_451_is_retried_and_then_delivered_once,
    a_550_fails_at_once_with_a_sentence,
    retries_follow_the_schedule_then_fail_and_a_retry_by_hand_delivers,
    a_refused_send_email_changes_nothing,
    the_sealed_token_is_erased_when_the_invite_stops_being_pending,
    the_outbox_is_listed_and_retried_through_the_api_within_the_tenant,
    the_invite_shows_its_delivery_in_the_api,
    a_changed_password_is_told_to_its_owner_by_e_mail,
);

const LOGO: &[u8] = include_bytes!("../../static/demo/acme.png");

/// A port where nothing listens: the mail server is down.
fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    format!("smtp://127.0.0.1:{port}?tls=none")
}

fn only_message(sink: &SmtpSink) -> Value {
    assert_eq!(sink.wait_for(1, 10), 1, "one message arrived");
    let mut read = read_mail(&sink.files());
    read[0].take()
}

fn header<'a>(message: &'a Value, name: &str) -> &'a str {
    message["headers"][name][0].as_str().unwrap_or_default()
}

fn part<'a>(message: &'a Value, content_type: &str) -> &'a Value {
    message["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == content_type))
        .unwrap_or(&Value::Null)
}

fn first_link(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.starts_with("https://"))
        .unwrap_or_default()
        .to_owned()
}

async fn message_state(app: &TestApp) -> (State, i64, Option<String>) {
    let page = app
        .tether
        .list_outbox(&app.operator, MessageQuery::default())
        .await
        .unwrap();
    let message = &page.items[0];
    (message.state, message.attempts, message.last_error.clone())
}

async fn an_invite_email_is_the_tenants_own_and_its_link_works(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    app.tether
        .set_logo(&app.operator, acme.id, LOGO.to_vec())
        .await
        .unwrap();
    let (admin, admin_actor) = app.user("carol@acme.com", &acme, Role::ClientAdmin).await;
    let issued = app
        .invite_by_mail(
            &admin_actor,
            "alice@acme.com",
            Some("Alice"),
            &acme,
            Role::ClientUser,
        )
        .await
        .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    let message = only_message(&sink);

    assert_eq!(message["content_type"], "multipart/alternative");
    assert_eq!(message["defects"], json!([]));
    assert_eq!(
        header(&message, "from"),
        "Acme Corp <noreply@atechsolutions.org>"
    );
    assert_eq!(header(&message, "to"), "alice@acme.com");
    assert_eq!(header(&message, "reply-to"), admin.email.as_str());
    assert_eq!(header(&message, "auto-submitted"), "auto-generated");
    assert!(header(&message, "message-id").ends_with("@atechsolutions.org>"));
    assert!(header(&message, "subject").contains("Acme Corp"));

    let text = part(&message, "text/plain")["text"].as_str().unwrap();
    let html = part(&message, "text/html")["text"].as_str().unwrap();
    let logo = part(&message, "image/png");
    assert_eq!(logo["content_id"], "<logo>");
    assert_eq!(logo["disposition"], "inline");
    assert_eq!(logo["bytes"], LOGO.len());
    assert!(html.contains("src=\"cid:logo\""));
    // The accent colour carries the button, with text readable on it.
    let (button, button_text) = acme.accent_colour.readable();
    assert!(html.contains(&format!("background:{button};color:{button_text}")));
    for body in [text, html] {
        assert!(body.contains("Client user"), "the role: {body}");
        assert!(body.contains(&issued.invite.expires_at.to_date_time()));
        assert!(body.contains("works once"));
        assert!(body.contains("ignore this e-mail"));
        assert!(body.contains("carol@acme.com"));
        assert!(
            !body.contains("Tether"),
            "a client's message carries no Tether branding"
        );
        assert!(!body.contains("http://"), "no tracking or remote images");
    }

    // The link in the message is the invite's, on the client's own host, and it works.
    let link = first_link(text);
    assert_eq!(link, issued.link);
    assert!(link.starts_with("https://acme.atechsolutions.org/invite/"));
    let token = link.rsplit('/').next().unwrap();
    let opened = app
        .tether
        .open_invite_link(token, Some(acme.id))
        .await
        .unwrap();
    assert_eq!(opened.invite.id, issued.invite.id);

    // Accepted by the server: sent, its sealed copy gone.
    let (state, attempts, _) = message_state(&app).await;
    assert_eq!((state, attempts), (State::Sent, 1));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE sealed IS NOT NULL")
            .await,
        0
    );
}

async fn names_are_escaped_in_the_html_and_cannot_start_a_header(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let evil = app.client("Evil <b>Corp</b> & Co", "evil").await;
    app.invite_by_mail(
        &app.operator,
        "bob@evil.com",
        Some("<script>alert(1)</script>"),
        &evil,
        Role::ClientUser,
    )
    .await
    .unwrap();
    // A name the rules would refuse, planted in the database: still no header of its own.
    sqlx::query("UPDATE tenants SET name = $1 WHERE id = $2")
        .bind("Evil\r\nBcc: victim@example.com")
        .bind(evil.id.0)
        .execute(app.db.reader())
        .await
        .unwrap();
    app.tether.deliver_due().await.unwrap();
    let message = only_message(&sink);
    let html = part(&message, "text/html")["text"].as_str().unwrap();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(message["headers"].get("bcc").is_none(), "{message}");
    assert!(header(&message, "from").contains("Evil"));
    assert!(header(&message, "from").contains("noreply@atechsolutions.org"));
    assert_eq!(header(&message, "to"), "bob@evil.com");
}

async fn a_451_is_retried_and_then_delivered_once(app: TestApp) {
    let sink = SmtpSink::start(&["--refuse-first", "1"]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    app.invite_by_mail(
        &app.operator,
        "alice@acme.com",
        None,
        &acme,
        Role::ClientUser,
    )
    .await
    .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    let (state, attempts, error) = message_state(&app).await;
    assert_eq!((state, attempts), (State::Queued, 1));
    assert!(error.unwrap().contains("try again later (451)"));
    // Not due again before the first wait is over, even at its shortest.
    app.clock
        .advance(RETRY_SCHEDULE[0].mul_f64(1.0 - JITTER) - Duration::from_millis(1));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    app.clock
        .advance(RETRY_SCHEDULE[0].mul_f64(2.0 * JITTER) + Duration::from_millis(2));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(message_state(&app).await.0, State::Sent);
    assert_eq!(sink.wait_for(1, 10), 1);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0, "sent once");
    assert_eq!(sink.files().len(), 1);
}

async fn a_550_fails_at_once_with_a_sentence(app: TestApp) {
    let sink = SmtpSink::start(&["--reject-word", "nobody"]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    // Days pass below: the invite e-mail's own fate, without its reminder.
    app.without_reminders(&acme).await;
    let issued = app
        .invite_by_mail(
            &app.operator,
            "nobody@acme.com",
            None,
            &acme,
            Role::ClientUser,
        )
        .await
        .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    let (state, attempts, error) = message_state(&app).await;
    assert_eq!((state, attempts), (State::Failed, 1));
    assert_eq!(
        error.as_deref(),
        Some("The mail server refused the address (550).")
    );
    app.clock.advance(Duration::from_secs(4 * 24 * 3600));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    let invite = app
        .tether
        .invite(&app.operator, issued.invite.id)
        .await
        .unwrap();
    assert_eq!(invite.delivery.unwrap().state, State::Failed);
    assert!(sink.files().is_empty());
}

async fn retries_follow_the_schedule_then_fail_and_a_retry_by_hand_delivers(app: TestApp) {
    // Ten refusals: every attempt of the schedule is answered 451, the eleventh is accepted.
    let sink = SmtpSink::start(&["--refuse-first", "10"]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    // Days pass below: the invite e-mail's own schedule, without its reminder.
    app.without_reminders(&acme).await;
    app.invite_by_mail(
        &app.operator,
        "alice@acme.com",
        None,
        &acme,
        Role::ClientUser,
    )
    .await
    .unwrap();
    // Invites live 3 days; the schedule is longer. Keep the link pending throughout.
    sqlx::query("UPDATE invites SET expires_at = expires_at + 864000000")
        .execute(app.db.reader())
        .await
        .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    for (attempt, wait) in RETRY_SCHEDULE.iter().enumerate() {
        let made = i64::try_from(attempt).unwrap() + 1;
        assert_eq!(retry_delay(made, 0.0), Some(*wait));
        let (state, attempts, _) = message_state(&app).await;
        assert_eq!((state, attempts), (State::Queued, made));
        app.clock
            .advance(wait.mul_f64(1.0 - JITTER) - Duration::from_millis(1));
        assert_eq!(
            app.tether.deliver_due().await.unwrap(),
            0,
            "not before its time"
        );
        app.clock
            .advance(wait.mul_f64(2.0 * JITTER) + Duration::from_millis(2));
        assert_eq!(
            app.tether.deliver_due().await.unwrap(),
            1,
            "attempt {}",
            made + 1
        );
    }
    let (state, attempts, error) = message_state(&app).await;
    assert_eq!((state, attempts), (State::Failed, 10));
    assert!(error.unwrap().starts_with("Gave up after 10 attempts"));
    assert!(sink.files().is_empty());

    let failed = app
        .tether
        .list_outbox(&app.operator, MessageQuery::default())
        .await
        .unwrap()
        .items[0]
        .id;
    app.tether
        .retry_message(&app.operator, failed)
        .await
        .unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(message_state(&app).await.0, State::Sent);
    assert_eq!(sink.wait_for(1, 10), 1);
    let retried = app.tether.retry_message(&app.operator, failed).await;
    assert!(
        matches!(retried, Err(Error::Conflict(_))),
        "a sent message is not retried"
    );
}

async fn a_refused_send_email_changes_nothing(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let before = app.count("SELECT COUNT(*) FROM invites").await;
    let refused = app
        .invite_by_mail(
            &app.operator,
            "alice@acme.com",
            None,
            &acme,
            Role::ClientUser,
        )
        .await;
    let Err(Error::Validation(fields)) = refused else {
        panic!("send_email without e-mail is refused: {refused:?}");
    };
    assert_eq!(fields[0].field, "send_email");
    assert_eq!(fields[0].code, "email_not_configured");
    assert_eq!(app.count("SELECT COUNT(*) FROM invites").await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.created'")
            .await,
        0
    );

    let api = app.api().await;
    let token = app
        .token_for("carol@acme.com", &acme, Role::ClientAdmin)
        .await;
    let reply = api
        .post(
            "/api/invites",
            &token,
            json!({"email": "bob@acme.com", "role_id": Role::ClientUser.id(), "tenant_id": acme.id.0, "send_email": true}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 422);
    assert_eq!(reply.body["errors"][0]["field"], "send_email");
    assert_eq!(reply.body["errors"][0]["code"], "email_not_configured");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invites WHERE email = 'bob@acme.com'")
            .await,
        0
    );
}

async fn the_sealed_token_is_erased_when_the_invite_stops_being_pending(app: TestApp) {
    // The mail server is down: every message waits with its sealed token.
    let app = app.with_mail(&closed_port_url());
    let acme = app.client("Acme Corp", "acme").await;
    let sealed = "SELECT COUNT(*) FROM outbox WHERE sealed IS NOT NULL";
    let revoked = app
        .invite_by_mail(&app.operator, "rev@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    let accepted = app
        .invite_by_mail(&app.operator, "acc@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    let superseded = app
        .invite_by_mail(&app.operator, "sup@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    app.invite_by_mail(&app.operator, "exp@acme.com", None, &acme, Role::ClientUser)
        .await
        .unwrap();
    assert_eq!(app.count(sealed).await, 4);
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    assert_eq!(app.count(sealed).await, 3);
    app.accept(accepted.token.expose(), "Acc").await.unwrap();
    assert_eq!(app.count(sealed).await, 2);
    // A re-issue supersedes: the old link's copy goes; the new one (not e-mailed) has none.
    app.tether
        .reissue_invite(&app.operator, superseded.invite.id, None, false)
        .await
        .unwrap();
    assert_eq!(app.count(sealed).await, 1);
    // Expiry has no event of its own: the next delivery round erases what expired.
    app.clock.advance(Duration::from_secs(3 * 24 * 3600));
    app.tether.deliver_due().await.unwrap();
    assert_eq!(app.count(sealed).await, 0);
    let page = app
        .tether
        .list_outbox(&app.operator, MessageQuery::default())
        .await
        .unwrap();
    assert!(
        page.items.iter().all(|m| m.state == State::Failed),
        "{:?}",
        page.items
    );
    assert!(page.items[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("no longer pending"));
}

async fn the_outbox_is_listed_and_retried_through_the_api_within_the_tenant(app: TestApp) {
    let sink = SmtpSink::start(&["--reject-word", "nobody"]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    let api = app.api().await;
    let msp_admin = app
        .token_for("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let acme_admin = app
        .token_for("carol@acme.com", &acme, Role::ClientAdmin)
        .await;
    let globex_admin = app
        .token_for("gina@globex.com", &globex, Role::ClientAdmin)
        .await;
    let created = api
        .post(
            "/api/invites",
            &acme_admin,
            json!({"email": "nobody@acme.com", "role_id": Role::ClientUser.id(), "tenant_id": acme.id.0, "send_email": true}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert_eq!(created.body["delivery"]["status"], "queued");
    app.tether.deliver_due().await.unwrap();

    let listed = api
        .get("/api/outbox?state=failed&kind=email", &msp_admin)
        .await;
    assert_eq!(listed.status.as_u16(), 200);
    let item = &listed.body["items"][0];
    let id = item["id"].as_i64().unwrap();
    assert_eq!(item["kind"], "email");
    assert_eq!(item["state"], "failed");
    assert_eq!(item["attempts"], 1);
    assert_eq!(
        item["subject"],
        format!("invite {} to nobody@acme.com", created.body["id"])
    );
    assert_eq!(
        item["last_error"],
        "The mail server refused the address (550)."
    );
    assert_eq!(item["next_attempt_at"], Value::Null);
    assert!(!listed
        .body
        .to_string()
        .contains(created.body["token"].as_str().unwrap()));

    assert_eq!(
        api.get("/api/outbox", &acme_admin).await.body["items"][0]["id"],
        id
    );
    assert_eq!(
        api.get("/api/outbox", &globex_admin).await.body["items"],
        json!([])
    );
    let foreign = api
        .post(&format!("/api/outbox/{id}/retry"), &globex_admin, json!({}))
        .await;
    assert_eq!(foreign.status.as_u16(), 404);
    assert_eq!(
        message_state(&app).await.0,
        State::Failed,
        "changed nothing"
    );
    let user = app.token_for("uma@acme.com", &acme, Role::ClientUser).await;
    assert_eq!(api.get("/api/outbox", &user).await.status.as_u16(), 403);
    assert_eq!(
        api.get("/api/outbox?state=lost", &msp_admin)
            .await
            .status
            .as_u16(),
        400
    );

    let retried = api
        .post(&format!("/api/outbox/{id}/retry"), &acme_admin, json!({}))
        .await;
    assert_eq!(retried.status.as_u16(), 202);
    assert_eq!(message_state(&app).await.0, State::Queued);
    assert_eq!(
        api.post("/api/outbox/999999/retry", &msp_admin, json!({}))
            .await
            .status
            .as_u16(),
        404
    );
}

async fn the_invite_shows_its_delivery_in_the_api(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let admin = app
        .token_for("carol@acme.com", &acme, Role::ClientAdmin)
        .await;
    let plain = api
        .post(
            "/api/invites",
            &admin,
            json!({"email": "plain@acme.com", "role_id": Role::ClientUser.id(), "tenant_id": acme.id.0}),
        )
        .await;
    assert_eq!(plain.body["delivery"], Value::Null);
    let mailed = api
        .post(
            "/api/invites",
            &admin,
            json!({"email": "mailed@acme.com", "role_id": Role::ClientUser.id(), "tenant_id": acme.id.0, "send_email": true}),
        )
        .await;
    app.tether.deliver_due().await.unwrap();
    let shown = api
        .get(&format!("/api/invites/{}", mailed.body["id"]), &admin)
        .await;
    assert_eq!(shown.body["delivery"]["status"], "sent");
    assert_eq!(shown.body["delivery"]["attempts"], 1);
    assert_eq!(shown.body["delivery"]["sent_at"], shown.body["created_at"]);
    assert_eq!(shown.body["delivery"]["last_error"], Value::Null);

    // Re-issuing with send_email e-mails the fresh link; the old invite keeps its record.
    let reissued = api
        .post(
            &format!("/api/invites/{}/reissue", plain.body["id"]),
            &admin,
            json!({"send_email": true}),
        )
        .await;
    assert_eq!(reissued.status.as_u16(), 201);
    assert_eq!(reissued.body["delivery"]["status"], "queued");
    app.tether.deliver_due().await.unwrap();
    assert_eq!(sink.wait_for(2, 10), 2);
    let messages = read_mail(&sink.files());
    let links: Vec<String> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| first_link(part(m, "text/plain")["text"].as_str().unwrap()))
        .collect();
    assert!(links.contains(&reissued.body["invite_url"].as_str().unwrap().to_owned()));
    let status = app
        .tether
        .invite(
            &app.operator,
            tether::domain::invite::InviteId(plain.body["id"].as_i64().unwrap()),
        )
        .await
        .unwrap()
        .status;
    assert_eq!(status, InviteStatus::Revoked);
}

/// Whether `needle` occurs anywhere in the SQLite file or its write-ahead log.
fn in_database_files(app: &TestApp, needle: &[u8]) -> bool {
    let dir = app.dir.as_ref().expect("a SQLite app has its folder");
    ["tether.db", "tether.db-wal"].iter().any(|name| {
        std::fs::read(dir.path().join(name))
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    })
}

/// quality.md Security 12: while the e-mail waits the files hold no token string, only a
/// sealed copy; once the server accepted it, not even that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_the_sqlite_file_while_mail_waits_and_no_sealed_copy_after() {
    let sink = SmtpSink::start(&[]);
    let app = TestApp::sqlite().await.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app
        .invite_by_mail(
            &app.operator,
            "alice@acme.com",
            None,
            &acme,
            Role::ClientUser,
        )
        .await
        .unwrap();
    let token = issued.token.expose().as_bytes().to_vec();
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM outbox")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert!(sealed.len() > token.len());
    assert!(
        in_database_files(&app, &sealed),
        "the sealed copy is written"
    );
    assert!(
        !in_database_files(&app, &token),
        "no token string while the mail waits"
    );

    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);
    // The next round finds the outbox idle and empties the write-ahead log.
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    assert!(!in_database_files(&app, &token));
    assert!(
        !in_database_files(&app, &sealed),
        "no sealed copy once the server accepted the message"
    );
}

async fn a_changed_password_is_told_to_its_owner_by_e_mail(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let token = app
        .token_for("alice@acme.com", &acme, Role::ClientUser)
        .await;
    let new_password = "copper lantern thistle 7";
    let changed = api
        .post(
            "/api/me/password",
            &token,
            json!({"current_password": crate::common::GOOD_PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(changed.status.as_u16(), 204, "{}", changed.body);
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    let message = only_message(&sink);
    assert_eq!(header(&message, "to"), "alice@acme.com");
    assert_eq!(
        header(&message, "subject"),
        "Your Acme Corp password was changed"
    );
    assert_eq!(
        header(&message, "from"),
        "Acme Corp <noreply@atechsolutions.org>"
    );
    let text = part(&message, "text/plain")["text"].as_str().unwrap();
    let html = part(&message, "text/html")["text"].as_str().unwrap();
    for body in [text, html] {
        assert!(body.contains("23 Nov 2026, 10:00 UTC"), "{body}");
        assert!(body.contains("https://acme.atechsolutions.org/login"));
        assert!(body.contains("If you did not"));
        assert!(!body.contains(new_password) && !body.contains(crate::common::GOOD_PASSWORD));
    }
    let listed = app
        .tether
        .list_outbox(&app.operator, MessageQuery::default())
        .await
        .unwrap();
    assert_eq!(
        listed.items[0].subject,
        "password changed for alice@acme.com"
    );
    assert_eq!(listed.items[0].invite_id, None);
}
