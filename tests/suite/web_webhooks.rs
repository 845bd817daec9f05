//! **Webhooks** in the MSP console: added with the secret shown once, a test event sent,
//! the delivery log with its status codes, and a failed delivery retried by hand.

use axum::http::StatusCode;
use tether::domain::role::Role;

use crate::common::{sign_in, text, TestApp, MSP};
use crate::webhooks::Receiver;

crate::on_both_engines!(
    a_webhook_is_added_tested_and_a_failed_delivery_retried_in_the_console,
    a_refused_url_is_a_sentence_on_the_form_and_nothing_is_added,
    only_msp_admins_see_the_webhooks_page,
);

async fn a_webhook_is_added_tested_and_a_failed_delivery_retried_in_the_console(app: TestApp) {
    let app = app.with_local_webhooks();
    let api = app.api().await;
    let acme = app.client("Acme Corp", "acme").await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let receiver = Receiver::start().await;

    let listed = browser.get(&api, MSP, "/webhooks").await;
    assert_eq!(listed.status, StatusCode::OK);
    let html = text(&listed);
    assert!(html.contains("<a href=\"/webhooks\" aria-current=\"page\">Webhooks</a>"));
    assert!(html.contains("No webhooks yet."));
    assert!(html.contains("http:// addresses, private ones included"));

    let url = receiver.url("/hook");
    let added = browser
        .post(
            &api,
            MSP,
            "/webhooks",
            &[
                ("url", url.as_str()),
                ("description", "Our PSA"),
                ("event", "invite.accepted"),
                ("event", "webhook.test"),
                ("tenant", &acme.id.0.to_string()),
            ],
        )
        .await;
    // webhook.test is not a type to subscribe to: the form says so and keeps what was typed.
    assert_eq!(added.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&added).contains("webhook.test is not an event type"));
    assert!(text(&added).contains(&format!("value=\"{url}\"")));
    let added = browser
        .post(
            &api,
            MSP,
            "/webhooks",
            &[
                ("url", url.as_str()),
                ("description", "Our PSA"),
                ("event", "invite.accepted"),
                ("tenant", &acme.id.0.to_string()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", text(&added));
    let html = text(&added);
    assert!(html.contains("Webhook added"));
    let start = html.find("whsec_").expect("the secret is shown");
    let secret = html[start..].split('"').next().unwrap().to_owned();
    assert_eq!(
        added.headers.get("cache-control").unwrap(),
        "no-store",
        "the secret is never cached"
    );
    let listed = text(&browser.get(&api, MSP, "/webhooks").await);
    assert!(listed.contains(&url) && listed.contains("invite.accepted") && listed.contains("On"));
    assert!(!listed.contains("whsec_"));

    // Invite and accept someone: the delivery shows in the log with its status code.
    let alice = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(alice.token.expose(), "Alice").await.unwrap();
    app.tether.deliver_due().await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["type"], "invite.accepted");
    let hook_page = browser.get(&api, MSP, "/webhooks/1").await;
    let html = text(&hook_page);
    assert!(!html.contains(&secret));
    assert!(
        html.contains("<td>invite.accepted</td><td>200</td>"),
        "{html}"
    );

    // Send test event, answered 410: the endpoint is turned off and says why.
    receiver.answer_with(&[410]);
    let tested = browser.post(&api, MSP, "/webhooks/1/test", &[]).await;
    assert_eq!(tested.status, StatusCode::SEE_OTHER);
    let location = tested.headers.get("location").unwrap().to_str().unwrap();
    assert_eq!(location, "/webhooks/1?done=test");
    let shown = text(&browser.get(&api, MSP, location).await);
    assert!(shown.contains("A webhook.test event is on its way"));
    app.tether.deliver_due().await.unwrap();
    let html = text(&browser.get(&api, MSP, "/webhooks/1").await);
    assert!(html.contains("<td>webhook.test</td><td>410</td>"));
    assert!(html.contains("Off: nothing is delivered. The receiver answered 410 Gone"));
    assert!(html.contains("Retry the webhook.test delivery"));

    // Turned on again, the failed delivery is retried by hand.
    let on = browser
        .post(&api, MSP, "/webhooks/1/state", &[("state", "on")])
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    let html = text(&browser.get(&api, MSP, "/webhooks/1").await);
    let marker = "/webhooks/1/deliveries/";
    let at = html.find(marker).expect("a Retry button") + marker.len();
    let delivery: String = html[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let retried = browser
        .post(
            &api,
            MSP,
            &format!("/webhooks/1/deliveries/{delivery}/retry"),
            &[],
        )
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    let shown = text(&browser.get(&api, MSP, "/webhooks/1?done=retry").await);
    assert!(shown.contains("The event is being sent again"));
    app.tether.deliver_due().await.unwrap();
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.json()["type"], "webhook.test");
    let html = text(&browser.get(&api, MSP, "/webhooks/1").await);
    assert!(html.contains("<td>webhook.test</td><td>200</td>"));

    // Rotate: a new secret, once.
    let rotated = browser.post(&api, MSP, "/webhooks/1/rotate", &[]).await;
    let html = text(&rotated);
    assert!(html.contains("A new signing secret") && html.contains("whsec_"));
    assert!(!html.contains(&secret));
    // Remove.
    let removed = browser.post(&api, MSP, "/webhooks/1/remove", &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
}

async fn a_refused_url_is_a_sentence_on_the_form_and_nothing_is_added(app: TestApp) {
    let api = app.api().await;
    app.user("dana@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let browser = sign_in(&app, &api, MSP, "dana@atechsolutions.org").await;
    let refused = browser
        .post(
            &api,
            MSP,
            "/webhooks",
            &[("url", "https://169.254.169.254/latest"), ("event", "*")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&refused);
    assert!(html
        .contains("Webhooks cannot be sent to this URL: 169.254.169.254 is a link-local address"));
    assert!(html.contains("value=\"https://169.254.169.254/latest\""));
    // Without the page's token, nothing happens either.
    let forged = crate::common::submit(
        &api,
        MSP,
        "/webhooks",
        &browser.cookies,
        &[("url", "https://hooks.example.com/x"), ("event", "*")],
        crate::common::SAME_ORIGIN,
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
}

async fn only_msp_admins_see_the_webhooks_page(app: TestApp) {
    let api = app.api().await;
    app.user("tess@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let browser = sign_in(&app, &api, MSP, "tess@atechsolutions.org").await;
    let dashboard = text(&browser.get(&api, MSP, "/").await);
    assert!(!dashboard.contains("href=\"/webhooks\""));
    let refused = browser.get(&api, MSP, "/webhooks").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let posted = browser
        .post(
            &api,
            MSP,
            "/webhooks",
            &[("url", "https://hooks.example.com/x"), ("event", "*")],
        )
        .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
}
