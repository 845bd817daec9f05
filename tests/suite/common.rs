//! `TestApp`: Tether on a fresh database — a new SQLite file, or a new PostgreSQL database
//! when `TETHER_TEST_DATABASE_URL` is set — with a clock the test moves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::migrate::MigrateDatabase;
use tether::domain::actor::Actor;
use tether::domain::clock::{ManualClock, Timestamp};
use tether::domain::error::Error;
use tether::domain::invite::{Acceptance, Accepted, IssuedInvite, NewInvite};
use tether::domain::links::BaseUrl;
use tether::domain::password::PasswordHasher;
use tether::domain::role::Role;
use tether::domain::session::SessionKind;
use tether::domain::tenant::{NewTenant, Tenant};
use tether::domain::user::User;
use tether::domain::Tether;
use tether::store::Db;

/// A password the policy accepts.
pub const GOOD_PASSWORD: &str = "quartz mitten orbit paddle";
/// 2026-11-23T10:00:00Z.
pub const START: Timestamp = Timestamp::from_millis(1_795_428_000_000);

pub struct TestApp {
    pub tether: Tether,
    /// The same database as `tether`'s, for looking at it directly.
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub msp: Tenant,
    pub operator: Actor,
    /// Where the SQLite file lives, kept alive for the test's length.
    pub dir: Option<tempfile::TempDir>,
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl TestApp {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("tether.db");
        let url = format!("sqlite://{}", path.display());
        Self::start(&url, Some(dir)).await
    }

    /// `None` when no PostgreSQL server is configured for tests.
    pub async fn postgres() -> Option<Self> {
        let server = std::env::var("TETHER_TEST_DATABASE_URL").ok()?;
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let (base, _) = server
            .rsplit_once('/')
            .expect("a database URL with a database name");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("tether_test_{}_{}_{}", std::process::id(), n, nanos);
        let url = format!("{base}/{name}");
        sqlx::any::install_default_drivers();
        sqlx::Any::create_database(&url)
            .await
            .expect("a fresh PostgreSQL database");
        Some(Self::start(&url, None).await)
    }

    async fn start(url: &str, dir: Option<tempfile::TempDir>) -> Self {
        let db = Db::connect(url, 8).await.expect("the test database opens");
        db.migrate().await.expect("migrations apply");
        let clock = Arc::new(ManualClock::new(START));
        let tether = Tether::new(
            db.clone(),
            clock.clone(),
            PasswordHasher::new(2).unwrap(),
            BaseUrl::parse("https://atechsolutions.org").expect("a valid base URL"),
        );
        let msp = tether
            .ensure_msp_tenant("A Tech Solutions")
            .await
            .expect("the MSP tenant");
        let operator = Actor::operator(msp.id);
        Self {
            tether,
            db,
            clock,
            msp,
            operator,
            dir,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.tether.now()
    }

    pub async fn client(&self, name: &str, slug: &str) -> Tenant {
        self.tether
            .create_tenant(
                &self.operator,
                NewTenant {
                    name: name.into(),
                    slug: slug.into(),
                    ..NewTenant::default()
                },
            )
            .await
            .expect("the client tenant is created")
    }

    pub async fn invite_as(
        &self,
        actor: &Actor,
        email: &str,
        tenant: &Tenant,
        role: Role,
    ) -> Result<IssuedInvite, Error> {
        self.tether
            .create_invite(
                actor,
                NewInvite {
                    email: email.into(),
                    name: None,
                    role_id: role.id(),
                    tenant_id: tenant.id.0,
                    expires_hours: None,
                },
            )
            .await
    }

    pub async fn invite(&self, email: &str, tenant: &Tenant, role: Role) -> IssuedInvite {
        self.invite_as(&self.operator, email, tenant, role)
            .await
            .expect("the invite is created")
    }

    pub async fn accept(&self, token: &str, name: &str) -> Result<Accepted, Error> {
        self.tether
            .accept_invite(
                token,
                Acceptance {
                    name: name.into(),
                    password: GOOD_PASSWORD.into(),
                    email: None,
                },
                None,
                SessionKind::Api,
                Some("192.0.2.1"),
            )
            .await
    }

    /// A user created the way people are: invited and accepted. Returns them and their actor.
    pub async fn user(&self, email: &str, tenant: &Tenant, role: Role) -> (User, Actor) {
        let issued = self.invite(email, tenant, role).await;
        let accepted = self
            .accept(issued.token.expose(), "Test Person")
            .await
            .expect("the invite is accepted");
        let actor = accepted.user.actor(None);
        (accepted.user, actor)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.reader())
            .await
            .expect("the count query runs")
    }
}

/// Declares each named test (an `async fn(TestApp)` in the enclosing module) once per
/// engine: `sqlite::name` always, `postgres::name` when a server is configured.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestApp::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::common::TestApp::postgres().await else {
                        eprintln!("TETHER_TEST_DATABASE_URL is not set: PostgreSQL not tested");
                        return;
                    };
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// The API through the real router, without a socket.
pub struct Api {
    router: axum::Router,
}

/// A response: status, headers and the body as JSON (`Null` when empty or not JSON).
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `code` of a problem-details body, after checking that it is one.
    pub fn problem_code(&self) -> &str {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{:?}",
            self.body
        );
        assert_eq!(self.body["status"], self.status.as_u16(), "{:?}", self.body);
        assert_eq!(self.body["type"], "about:blank");
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    pub async fn api(&self) -> Api {
        self.api_with_limits(tether::http::limits::LimitSettings {
            sign_in_per_ip: 10_000,
            sign_in_per_email: 10_000,
            invite_links_per_ip: 10_000,
        })
        .await
    }

    pub async fn api_with_limits(&self, limits: tether::http::limits::LimitSettings) -> Api {
        self.api_behind_proxy(limits, None).await
    }

    /// The API behind the proxies given (`--trust-proxy --trusted-proxies LIST`), or
    /// believing no forwarded header (`None`).
    pub async fn api_behind_proxy(
        &self,
        limits: tether::http::limits::LimitSettings,
        proxies: Option<&str>,
    ) -> Api {
        let proxies = proxies.map(|list| {
            tether::http::request::TrustedProxies::parse(list).expect("a valid proxy list")
        });
        let state = tether::http::AppState::new(
            self.tether.clone(),
            tether::http::limits::RateLimits::new(limits),
            proxies,
        )
        .await
        .expect("the application state");
        Api {
            router: tether::http::router(state),
        }
    }

    /// An API token for a new user of `role` in `tenant`.
    pub async fn token_for(&self, email: &str, tenant: &Tenant, role: Role) -> String {
        let issued = self.invite(email, tenant, role).await;
        self.accept(issued.token.expose(), "Test Person")
            .await
            .expect("the invite is accepted")
            .session
            .token
            .expose()
            .to_owned()
    }
}

impl Api {
    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> Reply {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                axum::body::Body::from(json.to_string())
            }
            None => axum::body::Body::empty(),
        };
        self.send(request.body(body).expect("a valid request"))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }
}
