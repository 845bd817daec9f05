//! The domain: Tether's values and rules. Every operation a person can do is one method on
//! `Tether` that takes the actor and the input, checks permissions and rules in the order
//! of the spec, writes in one transaction and records its audit event. The API, the web
//! pages and the command line all call these methods and nothing else.

pub mod account;
pub mod activity;
pub mod actor;
pub mod allowed_domains;
pub mod audit;
pub mod batch;
pub mod batch_file;
pub mod clock;
pub mod destination;
pub mod email;
pub mod error;
pub mod invite;
pub mod links;
pub mod mail;
pub mod name;
pub mod outbox;
pub mod page;
pub mod password;
pub mod recovery;
pub mod renewal;
pub mod role;
pub mod seal;
pub mod session;
pub mod setup;
pub mod tenant;
pub mod token;
pub mod user;
pub mod webhook;
pub mod webhook_sender;
pub mod webhook_signing;

use std::sync::Arc;

use self::clock::{Clock, Timestamp};
use self::links::BaseUrl;
use self::mail::Mailer;
use self::password::PasswordHasher;
use crate::store::Db;
use crate::telemetry::Metrics;

/// The service every edge talks to. Cheap to clone: it holds a pool and shared handles.
#[derive(Clone)]
pub struct Tether {
    db: Db,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    base_url: BaseUrl,
    metrics: Arc<Metrics>,
    sites: Arc<tenant::Sites>,
    /// Where e-mail goes; `None` when e-mail is not set up.
    mailer: Option<Arc<Mailer>>,
    /// This process's side of the outbox: its sealing key, its workers' wake-up.
    outbox: Arc<outbox::Local>,
    /// Where webhooks may go, and the client that posts them.
    webhook_policy: destination::DestinationPolicy,
    webhooks: Arc<webhook_sender::WebhookSender>,
    /// The API's JSON for the objects events carry.
    event_bodies: Arc<dyn webhook::EventBodies>,
}

impl Tether {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        passwords: PasswordHasher,
        base_url: BaseUrl,
        event_bodies: Arc<dyn webhook::EventBodies>,
    ) -> error::Result<Self> {
        let webhook_policy = destination::DestinationPolicy::default();
        Ok(Self {
            db,
            clock,
            passwords,
            base_url,
            metrics: Arc::new(Metrics::default()),
            sites: Arc::default(),
            mailer: None,
            outbox: Arc::default(),
            webhook_policy,
            webhooks: Arc::new(webhook_sender::WebhookSender::new(webhook_policy)?),
            event_bodies,
        })
    }

    /// The same service, sending webhooks where `policy` allows (`--webhook-allow-http`,
    /// `--webhook-allow-private`).
    pub fn with_webhook_policy(
        mut self,
        policy: destination::DestinationPolicy,
    ) -> error::Result<Self> {
        self.webhook_policy = policy;
        self.webhooks = Arc::new(webhook_sender::WebhookSender::new(policy)?);
        Ok(self)
    }

    /// The same service, sending e-mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<Mailer>) -> Self {
        self.mailer = mailer.map(Arc::new);
        self
    }

    /// The counters `/metrics` exposes; the domain counts its own events here.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> error::Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Closes the database's connections, for a command line that is done.
    pub async fn close(&self) {
        self.db.close().await;
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
