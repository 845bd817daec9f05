//! The HTTP edge: the router, its layers, and the server's lifecycle.

pub mod api;
pub mod host;
pub mod limits;
pub mod problem;
pub mod request;
pub mod web;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use std::future::IntoFuture;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use self::limits::RateLimits;
use self::request::TrustedProxies;
use self::web::csrf::FormKey;
use crate::domain::error::Error;
use crate::domain::Tether;

#[derive(Clone)]
pub struct AppState {
    pub tether: Tether,
    pub limits: RateLimits,
    /// Honour `X-Forwarded-*` from these reverse proxies; `None` ignores those headers.
    pub proxies: Option<TrustedProxies>,
    /// Signs the web forms' CSRF tokens; the same in every process.
    pub form_key: FormKey,
}

impl AppState {
    pub async fn new(
        tether: Tether,
        limits: RateLimits,
        proxies: Option<TrustedProxies>,
    ) -> Result<Self, Error> {
        let form_key = FormKey::new(tether.form_signing_key().await?);
        Ok(Self {
            tether,
            limits,
            proxies,
            form_key,
        })
    }
}

/// Every route, `/metrics` included.
pub fn router(state: AppState) -> Router {
    app(state, Router::new().route("/metrics", get(metrics)))
}

/// `/metrics` alone, for a listener of its own (`--metrics-bind`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn app(state: AppState, extra: Router<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(extra)
        .merge(api::router())
        .merge(web::router())
        .fallback(not_found)
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(web::CONTENT_SECURITY_POLICY_VALUE),
        ))
        .layer(CatchPanicLayer::custom(problem::from_panic))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// An unknown path: problem details under `/api`, a plain page elsewhere.
async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        api::not_found().await.into_response()
    } else {
        host::unknown_host()
    }
}

/// Logs and counts every request by its route template. The raw path is never used: it
/// may hold an invite token (`/invite/{token}`).
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || String::from("unmatched"),
        |path| path.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state
        .tether
        .metrics()
        .observe_request(method, &route, status, seconds);
    tracing::info!(
        method,
        route = %route,
        status,
        latency_ms = (seconds * 1000.0).round() as u64,
        "request"
    );
    response
}

/// A request's method as a metric label: the methods HTTP defines, and `other` for whatever
/// a client makes up, so that nobody can grow `/metrics` by inventing methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(error) = state.tether.refresh_outbox_metrics().await {
        tracing::warn!(%error, "the outbox could not be read for /metrics");
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.tether.metrics().render(),
    )
        .into_response()
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.tether.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until Ctrl-C or SIGTERM, then stops accepting and lets in-flight requests finish,
/// for at most `SHUTDOWN_GRACE`. With a `metrics` listener, `/metrics` is served there and
/// not on `listener`.
pub async fn serve(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let sweeper = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.forget_idle();
        }
    });
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_server = metrics.map(|listener| {
        let metrics_app = metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, metrics_app).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        })
    });
    let app = match metrics_server {
        Some(_) => app(state, Router::new()),
        None => router(state),
    }
    .into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stopping.send(());
    });
    let deadline = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        served = server.into_future() => served,
        () = deadline => {
            tracing::warn!("in-flight requests did not finish within the shutdown grace period");
            Ok(())
        }
    };
    sweeper.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
