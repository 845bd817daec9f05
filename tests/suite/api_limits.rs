//! quality.md Security 6: sign-in and the invite-link endpoints are rate limited per client
//! IP, sign-in also per email, with `429 rate_limited` and `Retry-After`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tether::http::limits::LimitSettings;

use crate::common::{Api, Reply, TestApp};

crate::on_both_engines!(
    sign_in_is_limited_per_ip_and_per_email,
    invite_link_endpoints_are_limited_per_ip,
    x_forwarded_for_names_the_client_only_behind_a_trusted_proxy,
    a_forged_x_forwarded_for_entry_does_not_escape_the_limit,
    forwarded_headers_from_an_untrusted_peer_are_ignored,
    the_invite_page_is_limited_like_the_api_lookup,
    made_up_methods_do_not_grow_the_metrics,
);

async fn from(
    api: &Api,
    ip: [u8; 4],
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let mut request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    api.send(request).await
}

async fn sign_in_is_limited_per_ip_and_per_email(app: TestApp) {
    let api = app
        .api_with_limits(LimitSettings {
            sign_in_per_ip: 4,
            sign_in_per_email: 2,
            invite_links_per_ip: 100,
        })
        .await;
    let attempt = |ip: [u8; 4], email: &'static str| {
        let body = json!({"email": email, "password": "not the password"});
        let api = &api;
        async move { from(api, ip, "POST", "/api/auth/token", Some(body)).await }
    };
    // Per email: the third attempt for one address is refused, whatever the IP.
    assert_eq!(
        attempt([192, 0, 2, 1], "a@acme.com").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt([192, 0, 2, 2], "A@acme.com").await.status,
        StatusCode::UNAUTHORIZED
    );
    let limited = attempt([192, 0, 2, 3], "a@acme.com").await;
    assert_eq!(
        (limited.status, limited.problem_code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));

    // Per IP: the fifth attempt from one address is refused, whatever the email.
    for email in ["b@acme.com", "c@acme.com", "d@acme.com", "e@acme.com"] {
        assert_eq!(
            attempt([198, 51, 100, 1], email).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt([198, 51, 100, 1], "f@acme.com").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt([198, 51, 100, 2], "f@acme.com").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn invite_link_endpoints_are_limited_per_ip(app: TestApp) {
    let api = app
        .api_with_limits(LimitSettings {
            sign_in_per_ip: 100,
            sign_in_per_email: 100,
            invite_links_per_ip: 3,
        })
        .await;
    let ip = [203, 0, 113, 9];
    assert_eq!(
        from(&api, ip, "GET", "/api/invite-links/guess-1", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        from(&api, ip, "GET", "/api/invite-links/guess-2", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let accept = json!({"name": "A", "password": "quartz mitten orbit paddle"});
    assert_eq!(
        from(
            &api,
            ip,
            "POST",
            "/api/invite-links/guess-3/accept",
            Some(accept.clone())
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let limited = from(
        &api,
        ip,
        "POST",
        "/api/invite-links/guess-4/accept",
        Some(accept),
    )
    .await;
    assert_eq!(
        (limited.status, limited.problem_code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        from(
            &api,
            [203, 0, 113, 10],
            "GET",
            "/api/invite-links/guess-5",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(app: TestApp) {
    let limits = LimitSettings {
        sign_in_per_ip: 1,
        sign_in_per_email: 100,
        invite_links_per_ip: 100,
    };
    let proxy = [10, 0, 0, 1];
    // Behind a trusted proxy, two clients behind one proxy address are two clients.
    let trusted = app.api_behind_proxy(limits, Some("10.0.0.0/8")).await;
    let first = sign_in_via(&trusted, proxy, "192.0.2.10", "a@acme.com").await;
    let second = sign_in_via(&trusted, proxy, "192.0.2.11, 10.0.0.1", "b@acme.com").await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    // Without the flag the header is ignored: both come from the socket's address.
    let direct = app.api_behind_proxy(limits, None).await;
    let first = sign_in_via(&direct, proxy, "192.0.2.10", "a@acme.com").await;
    let second = sign_in_via(&direct, proxy, "192.0.2.11", "b@acme.com").await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS)
    );
    let recorded: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT ip FROM audit_events WHERE action = 'auth.sign_in_failed' ORDER BY id",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert_eq!(
        recorded[..2],
        [Some("192.0.2.10".to_owned()), Some("192.0.2.11".to_owned())]
    );
    assert_eq!(recorded[2], Some("10.0.0.1".to_owned()));
}

/// A sign-in through a proxy at `peer` that sent `forwarded`.
async fn sign_in_via(api: &Api, peer: [u8; 4], forwarded: &str, email: &str) -> Reply {
    let mut request = Request::post("/api/auth/token")
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from(
            json!({"email": email, "password": "not the password"}).to_string(),
        ))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    api.send(request).await
}

async fn a_forged_x_forwarded_for_entry_does_not_escape_the_limit(app: TestApp) {
    let limits = LimitSettings {
        sign_in_per_ip: 3,
        sign_in_per_email: 100,
        invite_links_per_ip: 100,
    };
    // nginx on this machine, appending what it saw ($proxy_add_x_forwarded_for).
    let api = app.api_behind_proxy(limits, Some("127.0.0.0/8,::1")).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let forwarded = format!("198.51.100.{n}, 192.0.2.50");
        let email = format!("user{n}@acme.com");
        statuses.push(
            sign_in_via(&api, [127, 0, 0, 1], &forwarded, &email)
                .await
                .status,
        );
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    let recorded: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT DISTINCT ip FROM audit_events WHERE action = 'auth.sign_in_failed'",
    )
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert_eq!(recorded, [Some("192.0.2.50".to_owned())]);
}

async fn forwarded_headers_from_an_untrusted_peer_are_ignored(app: TestApp) {
    let limits = LimitSettings {
        sign_in_per_ip: 1,
        sign_in_per_email: 100,
        invite_links_per_ip: 100,
    };
    let api = app.api_behind_proxy(limits, Some("127.0.0.0/8")).await;
    // Straight from the internet, claiming to be someone else each time.
    let first = sign_in_via(&api, [203, 0, 113, 5], "192.0.2.1", "a@acme.com").await;
    let second = sign_in_via(&api, [203, 0, 113, 5], "192.0.2.2", "b@acme.com").await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS)
    );
    let recorded: Vec<Option<String>> =
        sqlx::query_scalar("SELECT ip FROM audit_events WHERE action = 'auth.sign_in_failed'")
            .fetch_all(app.db.reader())
            .await
            .unwrap();
    assert_eq!(recorded, [Some("203.0.113.5".to_owned())]);
}

async fn the_invite_page_is_limited_like_the_api_lookup(app: TestApp) {
    app.client("Acme Corp", "acme").await;
    let api = app
        .api_with_limits(LimitSettings {
            sign_in_per_ip: 100,
            sign_in_per_email: 100,
            invite_links_per_ip: 3,
        })
        .await;
    let guess = |n: u32| {
        let mut request = Request::get(format!("/invite/guess-{n}"))
            .header("host", "acme.atechsolutions.org")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 9], 40000))));
        api.send(request)
    };
    for n in 0..3 {
        assert_eq!(guess(n).await.status, StatusCode::NOT_FOUND);
    }
    let limited = guess(3).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(String::from_utf8_lossy(&limited.bytes).contains("Too many attempts"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
}

async fn made_up_methods_do_not_grow_the_metrics(app: TestApp) {
    let api = app.api().await;
    let metrics = || async {
        String::from_utf8(api.call("GET", "/metrics", None, None).await.bytes).unwrap()
    };
    for n in 0..200 {
        let method = format!("M{n:04}");
        let path = if n % 2 == 0 {
            "/api/invites"
        } else {
            "/made/up/path"
        };
        api.call(&method, path, None, None).await;
    }
    let text = metrics().await;
    assert!(!text.contains("M0001") && !text.contains("M0198"));
    assert!(!text.contains("/made/up/path"));
    assert!(text.contains("method=\"other\""));
    let request_series = text
        .lines()
        .filter(|line| line.starts_with("tether_http_requests_total{"))
        .count();
    assert!(request_series <= 4, "{request_series} series:\n{text}");
}
