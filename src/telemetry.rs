//! Logging and metrics. Logs are human-readable by default, JSON with
//! `TETHER_LOG_FORMAT=json`; the level comes from `RUST_LOG` (by default `info` for the
//! server and `warn` for every other command, whose output is its own lines). Requests are
//! logged and counted by their route template (`/invite/{token}`), never by their path, so
//! no token reaches a log line or a metric label.

use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

/// The logs of a process whose default level is `level` (`RUST_LOG` decides when set).
/// PostgreSQL's notices (the migrator's "already exists, skipping") are shown only from
/// `warn` on: they are the database talking to itself, not news for whoever runs Tether.
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx::postgres::notice=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json =
        std::env::var("TETHER_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // A second initialisation (in tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

type RequestLabels = [(&'static str, Label); 3];
type RouteLabels = [(&'static str, Label); 2];
/// A label value: a fixed word (method, status) or a route template, never client input.
type Label = std::borrow::Cow<'static, str>;
type ReasonLabel = [(&'static str, &'static str); 1];
type KindLabels = [(&'static str, &'static str); 2];

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// What `/metrics` exposes, in Prometheus text format.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub invites_created: Counter,
    pub invites_accepted: Counter,
    pub invites_revoked: Counter,
    accept_refusals: Family<ReasonLabel, Counter>,
    pub sign_in_failures: Counter,
    outbox_messages: Family<KindLabels, Gauge>,
    outbox_attempts: Family<KindLabels, Counter>,
    outbox_oldest_due: Gauge<f64, std::sync::atomic::AtomicU64>,
    webhook_endpoints: Family<ReasonLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tether");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let invites_created = Counter::default();
        let invites_accepted = Counter::default();
        let invites_revoked = Counter::default();
        let accept_refusals = Family::<ReasonLabel, Counter>::default();
        let sign_in_failures = Counter::default();
        let outbox_messages = Family::<KindLabels, Gauge>::default();
        let outbox_attempts = Family::<KindLabels, Counter>::default();
        let outbox_oldest_due = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let webhook_endpoints = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        registry.register(
            "invites_created",
            "Invites created (including re-issues)",
            invites_created.clone(),
        );
        registry.register(
            "invites_accepted",
            "Invites accepted",
            invites_accepted.clone(),
        );
        registry.register(
            "invites_revoked",
            "Invites revoked by a person",
            invites_revoked.clone(),
        );
        registry.register(
            "invite_accept_refusals",
            "Refused invite accepts by reason",
            accept_refusals.clone(),
        );
        registry.register(
            "sign_in_failures",
            "Failed sign-ins",
            sign_in_failures.clone(),
        );
        registry.register(
            "outbox_messages",
            "Outbox messages by kind and state (read from the database when scraped)",
            outbox_messages.clone(),
        );
        registry.register(
            "outbox_delivery_attempts",
            "Delivery attempts this process made, by kind and outcome (sent, retry, failed)",
            outbox_attempts.clone(),
        );
        registry.register(
            "outbox_oldest_due_seconds",
            "How long the oldest due outbox message has waited; 0 when none is due",
            outbox_oldest_due.clone(),
        );
        registry.register(
            "webhook_endpoints",
            "Webhook endpoints by state: on, or off (turned off by hand, by a 410 Gone or after five days of failures)",
            webhook_endpoints.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            invites_created,
            invites_accepted,
            invites_revoked,
            accept_refusals,
            sign_in_failures,
            outbox_messages,
            outbox_attempts,
            outbox_oldest_due,
            webhook_endpoints,
        }
    }
}

impl Metrics {
    /// Counts one answered request. `method` is one of a fixed set and `route` a route
    /// template or `unmatched`, never a raw path, so the label sets stay few.
    pub fn observe_request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let route = Label::Owned(route.to_owned());
        self.requests
            .get_or_create(&[
                ("method", Label::Borrowed(method)),
                ("route", route.clone()),
                ("status", Label::Owned(status.to_string())),
            ])
            .inc();
        self.latency
            .get_or_create(&[("method", Label::Borrowed(method)), ("route", route)])
            .observe(seconds);
    }

    /// Counts a refused accept: `expired`, `used`, `revoked`, `superseded` or `unknown`.
    pub fn accept_refused(&self, reason: &'static str) {
        self.accept_refusals
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    /// Counts one delivery attempt: `kind` is `email` or `webhook`, `outcome` `sent`,
    /// `retry` or `failed`.
    pub fn delivery_attempted(&self, kind: &'static str, outcome: &'static str) {
        self.outbox_attempts
            .get_or_create(&[("kind", kind), ("outcome", outcome)])
            .inc();
    }

    /// The outbox as the database has it now: messages by kind and state, and the age of
    /// the oldest due one. Every kind and state is set, so a series falls to 0, not away.
    pub fn set_outbox(&self, counts: &[(&'static str, &'static str, i64)], oldest_due_secs: f64) {
        for (kind, state, count) in counts {
            self.outbox_messages
                .get_or_create(&[("kind", *kind), ("state", *state)])
                .set(*count);
        }
        self.outbox_oldest_due.set(oldest_due_secs);
    }

    /// Webhook endpoints that are on and off, as the database has them now.
    pub fn set_webhook_endpoints(&self, on: i64, off: i64) {
        self.webhook_endpoints
            .get_or_create(&[("state", "on")])
            .set(on);
        self.webhook_endpoints
            .get_or_create(&[("state", "off")])
            .set(off);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
