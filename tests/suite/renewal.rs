//! A dead link asks for a fresh one (delivery.md §11, api.md "A fresh link"), on both engines;
//! what the people told receive goes through a real SMTP server on loopback.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tether::domain::error::{Conflict, Error, Gone};
use tether::domain::invite::IssuedInvite;
use tether::domain::renewal::Renewal;
use tether::domain::role::Role;
use tether::domain::user::UserChanges;

use crate::common::{
    form_credentials, page, sign_in, submit, text, TestApp, ACME, MSP, SAME_ORIGIN,
};
use crate::support::{read_mail, SmtpSink};

crate::on_both_engines!(
    each_dead_link_kind_may_ask_once_and_a_used_one_may_not,
    the_inviter_is_told_or_else_the_tenants_admins_and_the_msp_admins,
    the_api_says_whether_a_dead_link_may_be_renewed_and_lists_the_requests,
    a_request_is_seen_and_answered_from_pending_invites_and_team,
);

const THREE_DAYS: Duration = Duration::from_secs(72 * 3600);

async fn ask(app: &TestApp, issued: &IssuedInvite) -> Result<(), Error> {
    app.tether
        .request_invite_renewal(issued.token.expose(), None, Some("192.0.2.7"))
        .await
        .map(|_| ())
}

async fn each_dead_link_kind_may_ask_once_and_a_used_one_may_not(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let expired = app.invite("e@acme.com", &acme, Role::ClientUser).await;
    let revoked = app.invite("r@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let superseded = app.invite("s@acme.com", &acme, Role::ClientUser).await;
    let pending = app.invite("p@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(THREE_DAYS);
    app.invite("s@acme.com", &acme, Role::ClientUser).await;
    let fresh = app.invite("p2@acme.com", &acme, Role::ClientUser).await;
    let used = app.invite("u@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "U").await.unwrap();

    for dead in [&expired, &revoked, &superseded] {
        ask(&app, dead).await.unwrap();
        let asked_at = app.now();
        app.clock.advance(Duration::from_secs(60));
        assert!(matches!(
            ask(&app, dead).await,
            Err(Error::Conflict(Conflict::RenewalAlreadyRequested { at })) if at == asked_at
        ));
    }
    assert!(matches!(
        ask(&app, &used).await,
        Err(Error::Gone(Gone::Used))
    ));
    assert!(matches!(
        ask(&app, &fresh).await,
        Err(Error::Conflict(Conflict::InviteStillValid))
    ));
    assert!(matches!(
        app.tether
            .request_invite_renewal("no-such-token", None, None)
            .await,
        Err(Error::NotFound(_))
    ));
    // The expired one of the first lot was asked for; `pending` expired unasked.
    assert_eq!(
        app.tether
            .invite_renewal(pending.token.expose(), None)
            .await
            .unwrap(),
        Renewal::Available
    );
    let audited = app
        .count("SELECT COUNT(*) FROM audit_events WHERE action = 'invite.renewal_requested'")
        .await;
    assert_eq!(audited, 3);
    // Over the API: 202, then 409 with the time; a used link 410; an unknown one 404.
    let api = app.api().await;
    let path = |issued: &IssuedInvite| {
        format!(
            "/api/invite-links/{}/renewal-request",
            issued.token.expose()
        )
    };
    let accepted = api.call("POST", &path(&pending), None, None).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert!(accepted.body["renewal_requested_at"].is_string());
    let again = api.call("POST", &path(&pending), None, None).await;
    assert_eq!(again.problem_code(), "renewal_already_requested");
    assert!(again.body["detail"].as_str().unwrap().contains("UTC"));
    assert_eq!(
        api.call("POST", &path(&used), None, None)
            .await
            .problem_code(),
        "invite_used"
    );
    assert_eq!(
        api.call(
            "POST",
            "/api/invite-links/nothing/renewal-request",
            None,
            None
        )
        .await
        .problem_code(),
        "not_found"
    );
}

async fn the_inviter_is_told_or_else_the_tenants_admins_and_the_msp_admins(app: TestApp) {
    let sink = SmtpSink::start(&[]);
    let app = app.with_mail(&sink.url());
    let acme = app.client("Acme Corp", "acme").await;
    let (dana, dana_actor) = app.user("dana@acme.com", &acme, Role::ClientAdmin).await;
    app.user("erin@acme.com", &acme, Role::ClientAdmin).await;
    app.user("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    app.user("carl@acme.com", &acme, Role::ClientUser).await;
    let first = app
        .invite_as(&dana_actor, "bob@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    let second = app
        .invite_as(&dana_actor, "cleo@acme.com", &acme, Role::ClientUser)
        .await
        .unwrap();
    app.clock.advance(THREE_DAYS);

    ask(&app, &first).await.unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10), 1);
    let mut mail = read_mail(&sink.files());
    let told = mail[0].take();
    assert_eq!(told["headers"]["to"][0], "dana@acme.com");
    assert_eq!(told["headers"]["reply-to"][0], "bob@acme.com");
    assert_eq!(
        told["headers"]["subject"][0],
        "bob@acme.com asked for a new invite link"
    );
    let body = told["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "text/plain")
        .and_then(|p| p["text"].as_str())
        .unwrap()
        .to_owned();
    assert!(body.contains("as Client user, but it expired on"), "{body}");
    assert!(
        body.contains("https://acme.atechsolutions.org/team"),
        "{body}"
    );

    // With the inviter deactivated, Acme's other admin and the MSP's admins are told.
    app.tether
        .update_user(
            &app.operator,
            dana.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    ask(&app, &second).await.unwrap();
    assert_eq!(app.tether.deliver_due().await.unwrap(), 2);
    assert_eq!(sink.wait_for(3, 10), 3);
    let mail = read_mail(&sink.files());
    let mut told: Vec<(String, String)> = mail
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["headers"]["reply-to"][0] == "cleo@acme.com")
        .map(|m| {
            let text = m["parts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["type"] == "text/plain")
                .and_then(|p| p["text"].as_str())
                .unwrap_or_default();
            let console = if text.contains("https://atechsolutions.org/users/invites") {
                "pending invites"
            } else if text.contains("https://acme.atechsolutions.org/team") {
                "team"
            } else {
                "nowhere"
            };
            (
                m["headers"]["to"][0].as_str().unwrap().to_owned(),
                console.to_owned(),
            )
        })
        .collect();
    told.sort();
    assert_eq!(
        told,
        vec![
            (String::from("erin@acme.com"), String::from("team")),
            (
                String::from("root@atechsolutions.org"),
                String::from("pending invites")
            ),
        ]
    );
}

async fn the_api_says_whether_a_dead_link_may_be_renewed_and_lists_the_requests(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let api = app.api().await;
    let token = app
        .token_for("boss@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let expired = app.invite("e@acme.com", &acme, Role::ClientUser).await;
    let other = app.invite("o@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(THREE_DAYS);
    let used = app.invite("u@acme.com", &acme, Role::ClientUser).await;
    app.accept(used.token.expose(), "U").await.unwrap();
    let inspect = |issued: &IssuedInvite| format!("/api/invite-links/{}", issued.token.expose());

    let dead = api.call("GET", &inspect(&expired), None, None).await;
    assert_eq!(dead.problem_code(), "invite_expired");
    assert_eq!(dead.body["renewal"], "available");
    let gone = api.call("GET", &inspect(&used), None, None).await;
    assert_eq!(gone.problem_code(), "invite_used");
    assert_eq!(gone.body["renewal"], "unavailable");
    ask(&app, &expired).await.unwrap();
    let asked = api.call("GET", &inspect(&expired), None, None).await;
    assert_eq!(asked.body["renewal"], "requested");

    let one = api
        .get(&format!("/api/invites/{}", expired.invite.id.0), &token)
        .await;
    assert!(one.body["renewal_requested_at"].is_string());
    let untouched = api
        .get(&format!("/api/invites/{}", other.invite.id.0), &token)
        .await;
    assert!(untouched.body["renewal_requested_at"].is_null());
    let listed = api.get("/api/invites?renewal_requested=true", &token).await;
    let ids: Vec<i64> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![expired.invite.id.0]);
    // Re-issuing answers the request: it leaves the list.
    let reissued = api
        .post(
            &format!("/api/invites/{}/reissue", expired.invite.id.0),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(reissued.status, StatusCode::CREATED, "{}", reissued.body);
    let listed = api.get("/api/invites?renewal_requested=true", &token).await;
    assert_eq!(listed.body["items"], json!([]));
}

async fn a_request_is_seen_and_answered_from_pending_invites_and_team(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("admin@acme.com", &acme, Role::ClientAdmin).await;
    app.user("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let revoked = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, revoked.invite.id)
        .await
        .unwrap();
    let expired = app.invite("cleo@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(THREE_DAYS);
    let api = app.api().await;

    // The recipient's page offers the request, and then says it was made.
    let path = format!("/invite/{}", revoked.token.expose());
    let dead = page(&api, ACME, &path, None).await;
    assert_eq!(dead.status, StatusCode::GONE);
    assert!(text(&dead).contains("This invite link was revoked"));
    assert!(text(&dead).contains("Ask for a new link"));
    assert_eq!(dead.header("referrer-policy"), Some("no-referrer"));
    let (cookie, token) = form_credentials(&dead);
    let asked = submit(
        &api,
        ACME,
        &format!("{path}/renewal"),
        &cookie,
        &[("csrf_token", &token)],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", text(&asked));
    assert!(text(&asked).contains("We have asked Acme Corp to send you a new link."));
    let again = page(&api, ACME, &path, None).await;
    assert!(text(&again).contains("You asked Acme Corp for a new link on"));
    assert!(!text(&again).contains("Ask for a new link</button>"));
    // A form from elsewhere asks nothing.
    let cleo = format!("/invite/{}", expired.token.expose());
    let forged = submit(
        &api,
        ACME,
        &format!("{cleo}/renewal"),
        &cookie,
        &[("csrf_token", &token)],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    ask(&app, &expired).await.unwrap();

    // Team lists both for Acme's admin, who re-issues Cleo's.
    let admin = sign_in(&app, &api, ACME, "admin@acme.com").await;
    let team = text(&admin.get(&api, ACME, "/team").await);
    assert!(team.contains("Requested a new link"));
    assert!(team.contains("bob@acme.com") && team.contains("cleo@acme.com"));
    let cleo_reissue = format!("/team/invites/{}/reissue", expired.invite.id.0);
    assert!(team.contains(&cleo_reissue));
    let answered = admin
        .post(
            &api,
            ACME,
            &format!("/team/invites/{}/reissue", expired.invite.id.0),
            &[],
        )
        .await;
    assert_eq!(answered.status, StatusCode::CREATED, "{}", text(&answered));
    let team = text(&admin.get(&api, ACME, "/team").await);
    assert!(
        !team.contains(&cleo_reissue),
        "answered requests leave the list"
    );
    assert!(team.contains(&format!("/team/invites/{}/reissue", revoked.invite.id.0)));

    // Pending invites lists Bob's revoked one for the MSP admin, who re-issues it.
    let root = sign_in(&app, &api, MSP, "root@atechsolutions.org").await;
    let pending = text(&root.get(&api, MSP, "/users/invites").await);
    assert!(pending.contains("Requested a new link"));
    assert!(pending.contains(&format!("/users/invites/{}/reissue", revoked.invite.id.0)));
    let reissued = root
        .post(
            &api,
            MSP,
            &format!("/users/invites/{}/reissue", revoked.invite.id.0),
            &[],
        )
        .await;
    assert_eq!(reissued.status, StatusCode::CREATED, "{}", text(&reissued));
    assert!(text(&reissued).contains("https://acme.atechsolutions.org/invite/"));
    let pending = text(&root.get(&api, MSP, "/users/invites").await);
    assert!(!pending.contains("Requested a new link"));
    let open = app
        .count("SELECT COUNT(*) FROM invites WHERE email = 'bob@acme.com' AND revoked_at IS NULL")
        .await;
    assert_eq!(open, 1);
}
