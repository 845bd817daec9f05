//! `TestApp`: Tether on a fresh database — a new SQLite file, or a new PostgreSQL database
//! when `TETHER_TEST_DATABASE_URL` is set — with a clock the test moves.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};

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

impl TestApp {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("tether.db");
        let url = format!("sqlite://{}", path.display());
        Self::start(&url, Some(dir)).await
    }

    /// `None` when no PostgreSQL server is configured for tests.
    pub async fn postgres() -> Option<Self> {
        let url = crate::support::create_postgres_database("suite").await?;
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
            tether::http::api::events::event_bodies(),
        )
        .expect("the service starts");
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

    /// The same app, e-mailing through the SMTP server at `smtp_url`.
    pub fn with_mail(mut self, smtp_url: &str) -> Self {
        let settings = tether::domain::mail::MailSettings {
            smtp_url: Some(smtp_url.to_owned()),
            mail_from: Some(String::from("noreply@atechsolutions.org")),
            mail_dir: None,
        };
        let mailer = tether::domain::mail::Mailer::from_settings(&settings, "unused@example.com")
            .expect("valid mail settings");
        self.tether = self.tether.clone().with_mailer(mailer);
        self
    }

    /// The same app, allowed to post webhooks over http:// to loopback (a receiver in the
    /// test), as `--webhook-allow-http --webhook-allow-private` allow.
    pub fn with_local_webhooks(mut self) -> Self {
        let policy = tether::domain::destination::DestinationPolicy {
            allow_http: true,
            allow_private: true,
        };
        self.tether = self
            .tether
            .clone()
            .with_webhook_policy(policy)
            .expect("the webhook client starts");
        self
    }

    /// Invites `email` into `tenant` as `actor`, e-mailing the link.
    pub async fn invite_by_mail(
        &self,
        actor: &Actor,
        email: &str,
        name: Option<&str>,
        tenant: &Tenant,
        role: Role,
    ) -> Result<IssuedInvite, Error> {
        self.tether
            .create_invite(
                actor,
                NewInvite {
                    email: email.into(),
                    name: name.map(str::to_owned),
                    role_id: role.id(),
                    tenant_id: tenant.id.0,
                    expires_hours: None,
                    send_email: true,
                },
            )
            .await
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
                    send_email: false,
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

    /// Turns `tenant`'s invite reminders off, for tests of an e-mail's own schedule over days.
    pub async fn without_reminders(&self, tenant: &Tenant) {
        self.tether
            .update_tenant(
                &self.operator,
                tenant.id,
                tether::domain::tenant::TenantChanges {
                    invite_reminders: Some(false),
                    ..Default::default()
                },
            )
            .await
            .expect("reminders are turned off");
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

// The pages through the real router, as a browser drives them: hosts, forms, cookies.

/// A client's host, as the pages see it.
pub const ACME: &str = "acme.atechsolutions.org";

pub fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.bytes).into_owned()
}

pub async fn page(api: &Api, host: &str, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::get(path).header("host", host);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    api.send(request.body(Body::empty()).unwrap()).await
}

/// A form as a browser submits it from the page: same origin, cookies included.
pub async fn submit(
    api: &Api,
    host: &str,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Reply {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::post(path)
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    api.send(request.body(Body::from(body)).unwrap()).await
}

pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The CSRF cookie a page set and the token its form carries.
pub fn form_credentials(reply: &Reply) -> (String, String) {
    let cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tether_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("the page sets a CSRF cookie")
        .to_owned();
    let html = text(reply);
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the form has a CSRF token") + marker.len();
    let token = html[start..].split('"').next().unwrap().to_owned();
    (cookie, token)
}

pub fn session_cookie(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tether_session="))
        .map(str::to_owned)
}

pub const SAME_ORIGIN: &[(&str, &str)] = &[("sec-fetch-site", "same-origin"), ("origin", "null")];

pub const MSP: &str = "atechsolutions.org";

/// A signed-in browser: its cookies and the form token of its pages.
pub struct Browser {
    pub cookies: String,
    pub token: String,
}

pub async fn sign_in(app: &TestApp, api: &Api, host: &str, email: &str) -> Browser {
    let login = page(api, host, "/login", None).await;
    let (csrf, token) = form_credentials(&login);
    let _ = app;
    let done = submit(
        api,
        host,
        "/login",
        &csrf,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("password", GOOD_PASSWORD),
        ],
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(
        done.status,
        StatusCode::SEE_OTHER,
        "{email} signs in on {host}: {}",
        text(&done)
    );
    let session = session_cookie(&done).unwrap();
    Browser {
        cookies: format!("{csrf}; {}", session.split(';').next().unwrap()),
        token,
    }
}

impl Browser {
    pub async fn get(&self, api: &Api, host: &str, path: &str) -> Reply {
        page(api, host, path, Some(&self.cookies)).await
    }

    pub async fn post(&self, api: &Api, host: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf_token", self.token.as_str())];
        all.extend_from_slice(fields);
        submit(api, host, path, &self.cookies, &all, SAME_ORIGIN).await
    }
}
