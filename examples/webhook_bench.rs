//! The bench's webhook pieces (quality.md's webhook row):
//!
//! - `webhook_bench backlog DATABASE_URL URL COUNT`: an endpoint at URL for `invite.created`,
//!   then COUNT invites through Tether's own library, so that COUNT events wait in the outbox
//!   for a `tether serve` to deliver; prints the endpoint's secret.
//! - `webhook_bench receive PORT SECRET`: a receiver on 127.0.0.1:PORT that checks every
//!   delivery's signature with the `standardwebhooks` crate and answers 200; `GET /count`
//!   says how many verified, how many did not, and when (in seconds since it started) the
//!   first and the last arrived.
//! - `webhook_bench send URL COUNT IN_FLIGHT SECRET`: the reference, reqwest posting COUNT
//!   signed events of the same size straight to URL, IN_FLIGHT at once; prints the seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use standardwebhooks::Webhook;
use tether::domain::actor::Actor;
use tether::domain::clock::SystemClock;
use tether::domain::destination::DestinationPolicy;
use tether::domain::invite::NewInvite;
use tether::domain::links::BaseUrl;
use tether::domain::password::PasswordHasher;
use tether::domain::tenant::NewTenant;
use tether::domain::webhook::NewWebhook;
use tether::domain::Tether;
use tether::store::Db;
use tokio::sync::Semaphore;

const USAGE: &str = "usage: webhook_bench backlog DATABASE_URL URL COUNT | receive PORT SECRET | send URL COUNT IN_FLIGHT SECRET";

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["backlog", database, url, count] => backlog(database, url, count.parse()?).await,
        ["receive", port, secret] => receive(port.parse()?, secret).await,
        ["send", url, count, in_flight, secret] => {
            send(url, count.parse()?, in_flight.parse()?, secret).await
        }
        _ => Err(USAGE.into()),
    }
}

async fn backlog(database: &str, url: &str, count: usize) -> Result<(), Failure> {
    let db = Db::connect(database, 4).await?;
    db.migrate().await?;
    let tether = Tether::new(
        db,
        Arc::new(SystemClock),
        PasswordHasher::new(1)?,
        BaseUrl::parse("http://localhost:8080")?,
        tether::http::api::events::event_bodies(),
    )?
    .with_webhook_policy(DestinationPolicy {
        allow_http: true,
        allow_private: true,
    })?;
    let msp = tether.ensure_msp_tenant("Tether").await?;
    let operator = Actor::operator(msp.id);
    let tenant = tether
        .create_tenant(
            &operator,
            NewTenant {
                name: "Hook Corp".into(),
                slug: "hookbench".into(),
                ..NewTenant::default()
            },
        )
        .await?;
    let created = tether
        .create_webhook(
            &operator,
            NewWebhook {
                url: url.to_owned(),
                description: String::from("bench receiver"),
                event_types: vec![String::from("invite.created")],
                tenant_ids: None,
                enabled: true,
            },
        )
        .await?;
    for n in 0..count {
        tether
            .create_invite(
                &operator,
                NewInvite {
                    email: format!("hook{n}@bench.example.com"),
                    role_id: 4,
                    tenant_id: tenant.id.0,
                    ..NewInvite::default()
                },
            )
            .await?;
    }
    tether.close().await;
    println!("{}", created.secret.expose());
    Ok(())
}

/// What the receiver saw; `first` and `last` in nanoseconds since it started.
#[derive(Default)]
struct Counts {
    valid: AtomicU64,
    invalid: AtomicU64,
    first: AtomicU64,
    last: AtomicU64,
}

async fn receive(port: u16, secret: &str) -> Result<(), Failure> {
    let verifier = Arc::new(Webhook::new(secret)?);
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let counted = counts.clone();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (verifier, counts) = (verifier.clone(), counts.clone());
                async move {
                    match verifier.verify(&body, &headers) {
                        Ok(()) => counts.valid.fetch_add(1, Ordering::SeqCst),
                        Err(_) => counts.invalid.fetch_add(1, Ordering::SeqCst),
                    };
                    let at = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    let _ =
                        counts
                            .first
                            .compare_exchange(0, at, Ordering::SeqCst, Ordering::SeqCst);
                    counts.last.fetch_max(at, Ordering::SeqCst);
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/count",
            axum::routing::get(move || async move {
                let seconds = |at: &AtomicU64| at.load(Ordering::SeqCst) as f64 / 1e9;
                format!(
                    "{} {} {:.6} {:.6}",
                    counted.valid.load(Ordering::SeqCst),
                    counted.invalid.load(Ordering::SeqCst),
                    seconds(&counted.first),
                    seconds(&counted.last)
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

async fn send(url: &str, count: usize, in_flight: usize, secret: &str) -> Result<(), Failure> {
    // As Tether's own client is built: no proxy, no redirects, the same timeout.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let signer = Arc::new(Webhook::new(secret)?);
    // An invite.created body of the size Tether sends.
    let body = r#"{"type":"invite.created","timestamp":"2026-12-07T10:00:00Z","data":{"id":1,"email":"hook1@bench.example.com","name":null,"role_id":4,"role":"client_user","tenant_id":2,"status":"pending","created_at":"2026-12-07T10:00:00Z","expires_at":"2026-12-10T10:00:00Z","created_by":null,"accepted_at":null,"accepted_user_id":null,"revoked_at":null,"revoked_by":null,"revoke_reason":null,"renewal_requested_at":null,"delivery":null}}"#;
    let gate = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let (client, signer, url) = (client.clone(), signer.clone(), url.to_owned());
        posts.spawn(async move {
            let id = n.to_string();
            let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
            let signature = signer.sign(&id, timestamp, body.as_bytes())?;
            let answer = client
                .post(url)
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await?;
            answer.bytes().await?;
            drop(permit);
            Ok::<(), Failure>(())
        });
    }
    while let Some(posted) = posts.join_next().await {
        posted??;
    }
    println!("{:.6}", started.elapsed().as_secs_f64());
    Ok(())
}
