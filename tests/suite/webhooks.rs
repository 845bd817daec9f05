//! Webhooks (delivery.md §14, quality.md Security 14) against a real HTTP receiver on
//! loopback: an axum server in the test that records what arrives and answers as told.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{json, Value};
use standardwebhooks::Webhook as Verifier;
use tether::domain::outbox::{JITTER, RETRY_SCHEDULE};
use tether::domain::role::Role;

use crate::common::TestApp;

crate::on_both_engines!(
    invite_events_arrive_signed_with_the_apis_objects_and_no_token,
    only_the_subscribed_types_and_tenants_are_sent,
    a_receiver_answering_500_twice_is_retried_on_the_schedule,
    a_410_turns_the_endpoint_off_and_says_why,
    redirects_are_not_followed,
    a_rotation_signs_with_both_secrets_for_a_day,
    every_special_destination_is_refused_without_the_flags,
    a_name_that_resolves_to_loopback_is_refused_at_delivery,
    secrets_appear_only_at_creation_and_rotation,
    only_msp_admins_manage_webhooks,
    a_failed_delivery_is_retried_by_hand_and_a_test_event_is_sent,
    an_endpoint_failing_for_five_days_is_turned_off,
    a_retry_after_longer_than_the_schedule_is_obeyed,
    removing_an_endpoint_lets_go_of_a_message_being_sent,
    user_and_renewal_events_carry_their_objects,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether one of the `v1,` signatures is the HMAC-SHA256 of `{id}.{timestamp}.{body}`
    /// under `secret`, computed here rather than by the code that signed it. (The
    /// `standardwebhooks` crate's `verify` also demands a timestamp within five minutes of
    /// the real clock, which a test's manual clock is not; it is used where the clock is real,
    /// and the Python package checks a live server in CI.)
    fn verifies_with(&self, secret: &str) -> bool {
        use base64::Engine;
        use hmac::Mac;
        let engine = base64::engine::general_purpose::STANDARD;
        let key = engine
            .decode(secret.trim_start_matches("whsec_"))
            .expect("a base64 secret");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(self.header("webhook-id").as_bytes());
        mac.update(b".");
        mac.update(self.header("webhook-timestamp").as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let expected = format!("v1,{}", engine.encode(mac.finalize().into_bytes()));
        self.header("webhook-signature")
            .split(' ')
            .any(|signature| signature == expected)
    }

    /// The `standardwebhooks` crate's own check, timestamp window included.
    fn verifies_with_the_crate(&self, secret: &str) -> bool {
        Verifier::new(secret)
            .expect("a whsec_ secret")
            .verify(&self.body, &self.headers)
            .is_ok()
    }
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer with, in order; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

/// A webhook receiver on 127.0.0.1: `/hook` answers as told, `/moved` redirects to
/// `/elsewhere`, `/busy` answers its first request 503 with `Retry-After: 120`.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let record = |shared: Shared, path: &'static str| {
            move |headers: HeaderMap, body: axum::body::Bytes| {
                let shared = shared.clone();
                async move {
                    shared.received.lock().unwrap().push(Received {
                        path: path.to_owned(),
                        headers,
                        body: body.to_vec(),
                    });
                    let status = shared.answers.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap().into_response()
                }
            }
        };
        let moved = {
            let shared = shared.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| {
                let shared = shared.clone();
                async move {
                    shared.received.lock().unwrap().push(Received {
                        path: String::from("/moved"),
                        headers,
                        body: body.to_vec(),
                    });
                    Response::builder()
                        .status(StatusCode::TEMPORARY_REDIRECT)
                        .header("location", "/elsewhere")
                        .body(axum::body::Body::empty())
                        .unwrap()
                }
            }
        };
        let busy = {
            let shared = shared.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| {
                let shared = shared.clone();
                async move {
                    let mut received = shared.received.lock().unwrap();
                    received.push(Received {
                        path: String::from("/busy"),
                        headers,
                        body: body.to_vec(),
                    });
                    if received.len() == 1 {
                        Response::builder()
                            .status(StatusCode::SERVICE_UNAVAILABLE)
                            .header("retry-after", "120")
                            .body(axum::body::Body::empty())
                            .unwrap()
                    } else {
                        StatusCode::OK.into_response()
                    }
                }
            }
        };
        let router = axum::Router::new()
            .route("/hook", post(record(shared.clone(), "/hook")))
            .route("/busy", post(busy))
            .route("/elsewhere", post(record(shared.clone(), "/elsewhere")))
            .route("/moved", post(moved));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer_with(&self, statuses: &[u16]) {
        self.shared.answers.lock().unwrap().extend(statuses);
    }

    /// What arrived, in the order the events were written (attempts run side by side, so
    /// they may arrive in another).
    pub fn received(&self) -> Vec<Received> {
        let mut received = self.shared.received.lock().unwrap().clone();
        received.sort_by_key(|r| r.header("webhook-id").parse::<i64>().unwrap_or(0));
        received
    }

    fn types(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// An MSP admin's token, a receiver, and the app allowed to post to it.
async fn setup(app: TestApp) -> (TestApp, crate::common::Api, String, Receiver) {
    let app = app.with_local_webhooks();
    let api = app.api().await;
    let admin = app
        .token_for("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    (app, api, admin, Receiver::start().await)
}

async fn add_hook(api: &crate::common::Api, admin: &str, body: Value) -> Value {
    let created = api.post("/api/webhooks", admin, body).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    created.body
}

async fn deliveries(api: &crate::common::Api, admin: &str, hook: i64) -> Vec<Value> {
    let listed = api
        .get(&format!("/api/webhooks/{hook}/deliveries"), admin)
        .await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);
    listed.body["items"].as_array().cloned().unwrap_or_default()
}

async fn invite_events_arrive_signed_with_the_apis_objects_and_no_token(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    // The real time, for the crate's check of the timestamp's freshness.
    app.clock.set(tether::domain::clock::Timestamp::from_millis(
        time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    ));
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "description": "PSA", "event_types": ["*"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    let alice = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(alice.token.expose(), "Alice Example")
        .await
        .unwrap();
    let bob = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.tether
        .revoke_invite(&app.operator, bob.invite.id)
        .await
        .unwrap();
    while app.tether.deliver_due().await.unwrap() > 0 {}

    assert_eq!(
        receiver.types(),
        [
            "invite.created",
            "invite.accepted",
            "user.created",
            "invite.created",
            "invite.revoked"
        ]
    );
    let received = receiver.received();
    for delivery in &received {
        assert!(delivery.verifies_with(&secret), "the signature verifies");
        assert!(delivery.verifies_with_the_crate(&secret));
        assert_eq!(delivery.header("content-type"), "application/json");
        let body = String::from_utf8(delivery.body.clone()).unwrap();
        assert!(!body.contains(alice.token.expose()) && !body.contains(bob.token.expose()));
        assert!(!body.contains("whsec_"));
        assert!(!body.contains("token"), "{body}");
    }
    // The body is the event around the API's own object.
    let accepted = received[1].json();
    let invite = api
        .get(&format!("/api/invites/{}", alice.invite.id.0), &admin)
        .await;
    assert_eq!(accepted["data"], invite.body);
    assert_eq!(accepted["data"]["status"], "accepted");
    assert_eq!(accepted["timestamp"], app.now().to_rfc3339());
    let user = &received[2].json()["data"];
    assert_eq!(user["email"], "alice@acme.com");
    assert_eq!(user["name"], "Alice Example");
    let revoked = received[4].json();
    assert_eq!(revoked["data"]["revoke_reason"], "revoked");
    // webhook-id is the outbox message id and is listed in the delivery log.
    let log = deliveries(&api, &admin, hook["id"].as_i64().unwrap()).await;
    assert_eq!(log.len(), 5);
    let revoked_delivery = log
        .iter()
        .find(|d| d["event_type"] == "invite.revoked")
        .expect("the revocation is in the log");
    assert_eq!(revoked_delivery["status_code"], 200);
    assert_eq!(revoked_delivery["error"], Value::Null);
    assert_eq!(
        revoked_delivery["webhook_id"],
        received[4].header("webhook-id")
    );
    let timestamp: i64 = received[0].header("webhook-timestamp").parse().unwrap();
    assert_eq!(timestamp, app.now().millis() / 1000);
}

async fn only_the_subscribed_types_and_tenants_are_sent(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let globex = app.client("Globex", "globex").await;
    add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["invite.accepted", "tenant.updated"], "tenant_ids": [acme.id.0]}),
    )
    .await;
    let alice = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.accept(alice.token.expose(), "Alice").await.unwrap();
    let gina = app
        .invite("gina@globex.com", &globex, Role::ClientUser)
        .await;
    app.accept(gina.token.expose(), "Gina").await.unwrap();
    let renamed = api
        .patch(
            &format!("/api/tenants/{}", acme.id.0),
            &admin,
            json!({"name": "Acme Corporation"}),
        )
        .await;
    assert_eq!(renamed.status.as_u16(), 200);
    while app.tether.deliver_due().await.unwrap() > 0 {}
    assert_eq!(receiver.types(), ["invite.accepted", "tenant.updated"]);
    let received = receiver.received();
    assert_eq!(received[0].json()["data"]["email"], "alice@acme.com");
    assert_eq!(received[1].json()["data"]["name"], "Acme Corporation");
    assert_eq!(received[1].json()["data"], renamed.body);
}

async fn a_receiver_answering_500_twice_is_retried_on_the_schedule(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["invite.created"]}),
    )
    .await;
    receiver.answer_with(&[500, 500]);
    app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    // Not due again before the first wait (5 s, less its jitter of up to 10%).
    app.clock.advance(Duration::from_millis(4400));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(1200));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    // The second wait is 5 minutes.
    app.clock.advance(Duration::from_secs(260));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(80));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let ids: Vec<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "one webhook-id: {ids:?}"
    );
    let log = deliveries(&api, &admin, hook["id"].as_i64().unwrap()).await;
    let codes: Vec<&Value> = log.iter().map(|d| &d["status_code"]).collect();
    assert_eq!(codes, [&json!(200), &json!(500), &json!(500)]);
    assert_eq!(
        log[2]["error"],
        "The receiver answered 500 Internal Server Error."
    );
    let listed = api.get("/api/webhooks", &admin).await;
    assert_eq!(listed.body["items"][0]["failing_since"], Value::Null);
    assert_eq!(listed.body["items"][0]["enabled"], true);
}

async fn a_410_turns_the_endpoint_off_and_says_why(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["invite.created"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    receiver.answer_with(&[410]);
    app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether.deliver_due().await.unwrap();
    let shown = api.get(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(shown.body["enabled"], false);
    let reason = shown.body["disabled_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("The receiver answered 410 Gone"),
        "{reason}"
    );
    let failed = api
        .get("/api/outbox?kind=webhook&state=failed", &admin)
        .await;
    assert_eq!(failed.body["items"].as_array().unwrap().len(), 1);

    // Off: nothing more is sent, and /metrics says so.
    app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    app.clock.advance(Duration::from_secs(3600));
    while app.tether.deliver_due().await.unwrap() > 0 {}
    assert_eq!(receiver.received().len(), 1);
    app.tether.refresh_outbox_metrics().await.unwrap();
    let metrics = app.tether.metrics().render();
    assert!(
        metrics.contains("tether_webhook_endpoints{state=\"off\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tether_webhook_endpoints{state=\"on\"} 0"));

    // Turned on again by hand, the reason is history.
    let on = api
        .patch(
            &format!("/api/webhooks/{id}"),
            &admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["disabled_reason"], Value::Null);
}

async fn redirects_are_not_followed(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/moved"), "event_types": ["invite.created"]}),
    )
    .await;
    app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether.deliver_due().await.unwrap();
    let paths: Vec<String> = receiver.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/moved"], "the redirect was not followed");
    let log = deliveries(&api, &admin, hook["id"].as_i64().unwrap()).await;
    assert_eq!(log[0]["status_code"], 307);
    assert_eq!(
        log[0]["error"],
        "The receiver answered 307 Temporary Redirect."
    );
    let queued = api
        .get("/api/outbox?kind=webhook&state=queued", &admin)
        .await;
    assert_eq!(
        queued.body["items"][0]["attempts"], 1,
        "it will be tried again"
    );
}

async fn a_rotation_signs_with_both_secrets_for_a_day(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["*"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let rotated = api
        .post(
            &format!("/api/webhooks/{id}/rotate-secret"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status.as_u16(), 200);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);

    let test = api
        .post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    assert_eq!(test.status.as_u16(), 202);
    app.tether.deliver_due().await.unwrap();
    let first = &receiver.received()[0];
    assert_eq!(first.json()["type"], "webhook.test");
    assert_eq!(first.header("webhook-signature").matches("v1,").count(), 2);
    assert!(first.verifies_with(&old) && first.verifies_with(&new));

    app.clock.advance(Duration::from_secs(24 * 3600 + 60));
    api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    app.tether.deliver_due().await.unwrap();
    let second = &receiver.received()[1];
    assert_eq!(second.header("webhook-signature").matches("v1,").count(), 1);
    assert!(second.verifies_with(&new));
    assert!(
        !second.verifies_with(&old),
        "the old secret no longer signs"
    );
}

async fn every_special_destination_is_refused_without_the_flags(app: TestApp) {
    // The app as `tether serve` runs by default: neither flag.
    let api = app.api().await;
    let admin = app
        .token_for("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let refused = [
        ("http://hooks.example.com/x", "https://"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://172.16.0.1/x", "private"),
        ("https://192.168.1.10/x", "private"),
        ("https://100.64.0.1/x", "shared"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://0.0.0.0/x", "this network"),
        ("https://224.0.0.1/x", "multicast"),
        ("https://192.0.2.1/x", "documentation"),
        ("https://[::1]/x", "loopback"),
        ("https://[fc00::1]/x", "unique-local"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://[::ffff:127.0.0.1]/x", "IPv4-mapped"),
        ("https://[::ffff:10.0.0.1]/x", "IPv4-mapped"),
        ("https://[::]/x", "unspecified"),
    ];
    for (url, range) in refused {
        let reply = api
            .post(
                "/api/webhooks",
                &admin,
                json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{url}: {}", reply.body);
        let error = &reply.body["errors"][0];
        assert_eq!(error["field"], "url");
        assert_eq!(error["code"], "webhook_url_not_allowed");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("Webhooks cannot be sent to this URL:") && message.contains(range),
            "{url}: {message}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
    let allowed = api
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": "https://8.8.8.8/x", "event_types": ["*"]}),
        )
        .await;
    assert_eq!(allowed.status.as_u16(), 201);
}

async fn a_name_that_resolves_to_loopback_is_refused_at_delivery(app: TestApp) {
    let api = app.api().await;
    let admin = app
        .token_for("root@atechsolutions.org", &app.msp, Role::MspAdmin)
        .await;
    let receiver = Receiver::start().await;
    // A name is checked when it is resolved, at every delivery.
    let url = format!("https://localhost:{}/hook", receiver.addr.port());
    let hook = add_hook(&api, &admin, json!({"url": url, "event_types": ["*"]})).await;
    let id = hook["id"].as_i64().unwrap();
    api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    app.tether.deliver_due().await.unwrap();
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    let log = deliveries(&api, &admin, id).await;
    assert_eq!(log[0]["status_code"], Value::Null);
    let error = log[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("The endpoint's address is refused:") && error.contains("loopback"),
        "{error}"
    );
}

async fn secrets_appear_only_at_creation_and_rotation(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["*"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    let first = hook["secret"].as_str().unwrap().to_owned();
    let second = api
        .post(
            &format!("/api/webhooks/{id}/rotate-secret"),
            &admin,
            json!({}),
        )
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    app.tether.deliver_due().await.unwrap();
    app.tether.refresh_outbox_metrics().await.unwrap();
    let texts = [
        api.get("/api/webhooks", &admin).await.bytes,
        api.get(&format!("/api/webhooks/{id}"), &admin).await.bytes,
        api.get(&format!("/api/webhooks/{id}/deliveries"), &admin)
            .await
            .bytes,
        api.get("/api/audit-events", &admin).await.bytes,
        api.get("/api/outbox", &admin).await.bytes,
        app.tether.metrics().render().into_bytes(),
    ];
    for text in texts {
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains("whsec_"), "{text}");
    }
    let audit = api.get("/api/audit-events", &admin).await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"webhook.created") && actions.contains(&"webhook.secret_rotated"));
    // Stored sealed: neither secret's text nor its key bytes are in the table.
    for secret in [&first, &second] {
        let key = secret.trim_start_matches("whsec_");
        let rows = app
            .count(&format!(
                "SELECT COUNT(*) FROM webhooks WHERE url LIKE '%{key}%' OR description LIKE '%{key}%'"
            ))
            .await;
        assert_eq!(rows, 0);
    }
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM webhooks")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert!(!sealed
        .windows(10)
        .any(|w| second.as_bytes().windows(10).any(|s| s == w)));
}

async fn only_msp_admins_manage_webhooks(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["*"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    let technician = app
        .token_for("tess@atechsolutions.org", &app.msp, Role::MspTechnician)
        .await;
    let client_admin = app
        .token_for("carol@acme.com", &acme, Role::ClientAdmin)
        .await;
    for token in [&technician, &client_admin] {
        assert_eq!(api.get("/api/webhooks", token).await.status.as_u16(), 403);
        let created = api
            .post(
                "/api/webhooks",
                token,
                json!({"url": receiver.url("/hook"), "event_types": ["*"]}),
            )
            .await;
        assert_eq!(created.status.as_u16(), 403);
        let removed = api.delete(&format!("/api/webhooks/{id}"), token).await;
        assert_eq!(removed.status.as_u16(), 403);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 1);
    let removed = api.delete(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(removed.status.as_u16(), 204);
    let gone = api.get(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(gone.status.as_u16(), 404);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE webhook_id IS NOT NULL")
            .await,
        0
    );
}

async fn a_failed_delivery_is_retried_by_hand_and_a_test_event_is_sent(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["invite.created"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    // Ten failures spend the schedule.
    receiver.answer_with(&[503; 10]);
    app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    app.tether.deliver_due().await.unwrap();
    for wait in RETRY_SCHEDULE {
        app.clock.advance(wait.mul_f64(1.0 + JITTER));
        assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    }
    let log = deliveries(&api, &admin, id).await;
    assert_eq!(log.len(), 10);
    assert!(log[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("Gave up after 10 attempts"));
    let delivery = log[0]["id"].as_i64().unwrap();
    let retry = api
        .post(
            &format!("/api/webhooks/{id}/deliveries/{delivery}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(retry.status.as_u16(), 202);
    app.tether.deliver_due().await.unwrap();
    let log = deliveries(&api, &admin, id).await;
    assert_eq!(log[0]["status_code"], 200);
    let again = api
        .post(
            &format!("/api/webhooks/{id}/deliveries/{delivery}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(again.status.as_u16(), 409);
    assert_eq!(again.problem_code(), "message_not_retryable");
    let unknown = api
        .post(
            &format!("/api/webhooks/{id}/deliveries/999999/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unknown.status.as_u16(), 404);

    // A test event goes to an endpoint whatever it subscribed to.
    api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    app.tether.deliver_due().await.unwrap();
    let last = receiver.received().pop().unwrap().json();
    assert_eq!(last["type"], "webhook.test");
    assert_eq!(last["data"]["webhook_id"], id);
}

async fn an_endpoint_failing_for_five_days_is_turned_off(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["invite.created"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    receiver.answer_with(&[500; 100]);
    // A new failing event every day: the run of failures outlasts any one schedule.
    for day in 0..6 {
        app.invite(&format!("person{day}@acme.com"), &acme, Role::ClientUser)
            .await;
        while app.tether.deliver_due().await.unwrap() > 0 {}
        let shown = api.get(&format!("/api/webhooks/{id}"), &admin).await;
        assert_eq!(shown.body["enabled"], day < 5, "day {day}: {}", shown.body);
        app.clock.advance(Duration::from_secs(24 * 3600 + 60));
    }
    let shown = api.get(&format!("/api/webhooks/{id}"), &admin).await;
    let reason = shown.body["disabled_reason"].as_str().unwrap();
    assert!(reason.starts_with("Every delivery failed from"), "{reason}");
}

async fn a_retry_after_longer_than_the_schedule_is_obeyed(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/busy"), "event_types": ["*"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
        .await;
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    // The schedule's first wait is 5 s; the receiver asked for 120.
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(app.tether.deliver_due().await.unwrap(), 1);
    let codes: Vec<Value> = deliveries(&api, &admin, id)
        .await
        .iter()
        .map(|d| d["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(200), json!(503)]);
}

async fn removing_an_endpoint_lets_go_of_a_message_being_sent(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let hook = add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": ["*"]}),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    for _ in 0..2 {
        api.post(&format!("/api/webhooks/{id}/test"), &admin, json!({}))
            .await;
    }
    // One of the two is being sent by a worker when the endpoint is removed.
    sqlx::query("UPDATE outbox SET state = 'sending' WHERE id = (SELECT MIN(id) FROM outbox)")
        .execute(app.db.reader())
        .await
        .unwrap();
    let removed = api.delete(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(removed.status.as_u16(), 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE state = 'sending' AND webhook_id IS NULL")
            .await,
        1,
        "the message being sent is kept, naming no endpoint"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 1);
}

async fn user_and_renewal_events_carry_their_objects(app: TestApp) {
    let (app, api, admin, receiver) = setup(app).await;
    let acme = app.client("Acme Corp", "acme").await;
    let (alice, _) = app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let stale = app.invite("bob@acme.com", &acme, Role::ClientUser).await;
    add_hook(
        &api,
        &admin,
        json!({"url": receiver.url("/hook"), "event_types": [
            "user.updated", "user.deactivated", "user.password_reset", "invite.renewal_requested"
        ]}),
    )
    .await;
    app.tether
        .update_user(
            &app.operator,
            alice.id,
            tether::domain::user::UserChanges {
                name: Some(String::from("Alice Renamed")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reset = app
        .tether
        .issue_password_reset(&app.operator, alice.id, false)
        .await
        .unwrap();
    app.tether
        .reset_password(reset.token.expose(), "harbor velvet quill 58", None, None)
        .await
        .unwrap();
    app.tether
        .update_user(
            &app.operator,
            alice.id,
            tether::domain::user::UserChanges {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.clock.advance(Duration::from_secs(4 * 24 * 3600));
    app.tether
        .request_invite_renewal(stale.token.expose(), None, None)
        .await
        .unwrap();
    while app.tether.deliver_due().await.unwrap() > 0 {}
    assert_eq!(
        receiver.types(),
        [
            "user.updated",
            "user.password_reset",
            "user.deactivated",
            "invite.renewal_requested"
        ]
    );
    let received = receiver.received();
    assert_eq!(received[0].json()["data"]["name"], "Alice Renamed");
    assert_eq!(received[2].json()["data"]["active"], false);
    let renewal = &received[3].json()["data"];
    assert_eq!(renewal["email"], "bob@acme.com");
    assert!(renewal["renewal_requested_at"].is_string());
    for delivery in &received {
        let body = String::from_utf8(delivery.body.clone()).unwrap();
        assert!(!body.contains(reset.token.expose()) && !body.contains("harbor velvet"));
    }
}
