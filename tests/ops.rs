//! Operations, with the real binary: logs and metrics never show a secret, SIGTERM lets a
//! request finish, and several processes share one PostgreSQL (quality.md Reliability 3, 5).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{fresh_postgres_url, on_postgres, on_sqlite};

const PASSWORD: &str = "quartz mitten orbit paddle";
const ALICE_PASSWORD: &str = "violet anchor meadow 42";

fn tether() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tether"));
    command
        .env_remove("TETHER_DATABASE_URL")
        .env_remove("TETHER_BASE_URL");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn create_admin(dir: &Path, database: &str) {
    let mut child = tether()
        .args([
            "--database-url",
            database,
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--password-stdin",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

struct Server {
    child: Child,
    port: u16,
}

fn serve(dir: &Path, database: &str, log: &Path, extra_env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut command = tether();
    command
        .args([
            "--database-url",
            database,
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(server.port, "GET", "/readyz", &[], "").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "the server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head.push_str("Host: localhost:8080\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn json_field(body: &str, field: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON expected: {body}"));
    value[field]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value[field].to_string())
}

fn sign_in(port: u16, email: &str, password: &str) -> String {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let (status, reply) = http(
        port,
        "POST",
        "/api/auth/token",
        &[("Content-Type", "application/json")],
        &body,
    )
    .unwrap();
    assert_eq!(status, 200, "{reply}");
    json_field(&reply, "token")
}

fn create_invite(port: u16, admin: &str, email: &str) -> String {
    let auth = format!("Bearer {admin}");
    let (status, tenants) =
        http(port, "GET", "/api/tenants", &[("Authorization", &auth)], "").unwrap();
    assert_eq!(status, 200);
    let tenants: serde_json::Value = serde_json::from_str(&tenants).unwrap();
    let acme = match tenants["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "acme")
    {
        Some(tenant) => tenant["id"].as_i64().unwrap(),
        None => {
            let body = r#"{"name": "Acme Corp", "slug": "acme"}"#;
            let (status, reply) = http(
                port,
                "POST",
                "/api/tenants",
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                ],
                body,
            )
            .unwrap();
            assert_eq!(status, 201, "{reply}");
            json_field(&reply, "id").parse().unwrap()
        }
    };
    let body = serde_json::json!({"email": email, "role_id": 3, "tenant_id": acme}).to_string();
    let (status, reply) = http(
        port,
        "POST",
        "/api/invites",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(status, 201, "{reply}");
    json_field(&reply, "token")
}

fn accept_body() -> String {
    serde_json::json!({"name": "Alice", "password": ALICE_PASSWORD}).to_string()
}

fn logs_never_show_a_secret(database: &str, format: &str) {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), database);
    let log = dir.path().join("server.log");
    let server = serve(
        dir.path(),
        database,
        &log,
        &[
            ("RUST_LOG", "trace"),
            ("TETHER_LOG_FORMAT", format),
            ("TETHER_WEBHOOK_ALLOW_HTTP", "true"),
            ("TETHER_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    );
    let admin = sign_in(server.port, "root@example.com", PASSWORD);
    // A webhook, its secret rotated, so that deliveries are signed with two secrets while
    // everything below happens.
    let (receiver_port, delivered) = webhook_receiver();
    let hook =
        format!(r#"{{"url": "http://127.0.0.1:{receiver_port}/hook", "event_types": ["*"]}}"#);
    let bearer = format!("Bearer {admin}");
    let (status, created) = http(
        server.port,
        "POST",
        "/api/webhooks",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        &hook,
    )
    .unwrap();
    assert_eq!(status, 201, "{created}");
    let first_secret = json_field(&created, "secret");
    let (status, rotated) = http(
        server.port,
        "POST",
        "/api/webhooks/1/rotate-secret",
        &[("Authorization", &bearer)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{rotated}");
    let second_secret = json_field(&rotated, "secret");
    let token = create_invite(server.port, &admin, "alice@acme.com");
    let invite_path = format!("/invite/{token}");
    let acme_host = format!("acme.localhost:{}", server.port);
    let (status, _) = http(
        server.port,
        "GET",
        &invite_path,
        &[("Host", &acme_host)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = http(
        server.port,
        "GET",
        &format!("/api/invite-links/{token}"),
        &[],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, accepted) = http(
        server.port,
        "POST",
        &format!("/api/invite-links/{token}/accept"),
        &[("Content-Type", "application/json")],
        &accept_body(),
    )
    .unwrap();
    assert_eq!(status, 201, "{accepted}");
    let alice = json_field(&accepted, "token");
    let alice_again = sign_in(server.port, "alice@acme.com", ALICE_PASSWORD);
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        delivered.lock().unwrap().len() >= 3,
        "the events were delivered"
    );
    let (_, metrics) = http(server.port, "GET", "/metrics", &[], "").unwrap();
    drop(server);

    let logs = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(
        logs.contains("/invite/{token}"),
        "requests are logged by route template"
    );
    assert!(metrics.contains("route=\"/invite/{token}\""), "{metrics}");
    assert!(
        metrics.contains("tether_invites_accepted_total 1"),
        "{metrics}"
    );
    for secret in [
        token.as_str(),
        admin.as_str(),
        alice.as_str(),
        alice_again.as_str(),
        PASSWORD,
        ALICE_PASSWORD,
        invite_path.as_str(),
        first_secret.as_str(),
        second_secret.as_str(),
        first_secret.trim_start_matches("whsec_"),
        second_secret.trim_start_matches("whsec_"),
    ] {
        assert!(!logs.contains(secret), "the log shows {secret:?}");
        assert!(!metrics.contains(secret), "/metrics shows {secret:?}");
    }
}

#[test]
fn logs_and_metrics_never_show_a_token_password_or_invite_path_on_sqlite() {
    on_sqlite(|database| logs_never_show_a_secret(database, "text"));
}

#[test]
fn logs_and_metrics_never_show_a_token_password_or_invite_path_on_postgres() {
    on_postgres("ops", |url| logs_never_show_a_secret(url, "json"));
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_exits_0_on_sqlite() {
    on_sqlite(sigterm_lets_an_in_flight_request_finish);
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_exits_0_on_postgres() {
    on_postgres("ops", sigterm_lets_an_in_flight_request_finish);
}

fn sigterm_lets_an_in_flight_request_finish(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), database);
    let log = dir.path().join("server.log");
    let mut server = serve(dir.path(), database, &log, &[]);
    let admin = sign_in(server.port, "root@example.com", PASSWORD);
    let token = create_invite(server.port, &admin, "alice@acme.com");

    // Half a request is in flight when the signal comes; the rest follows after it.
    let body = accept_body();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/invite-links/{token}/accept HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn two_processes_on_one_postgres_share_sessions_and_settle_a_raced_link() {
    let Some(url) = fresh_postgres_url("ops") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), &url);
    let a = serve(dir.path(), &url, &dir.path().join("a.log"), &[]);
    let b = serve(dir.path(), &url, &dir.path().join("b.log"), &[]);

    let token = sign_in(a.port, "root@example.com", PASSWORD);
    let (status, me) = http(
        b.port,
        "GET",
        "/api/me",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    )
    .unwrap();
    assert_eq!(
        status, 200,
        "a session made on one process works on the other: {me}"
    );

    for round in 0..5 {
        let invite = create_invite(a.port, &token, &format!("racer{round}@acme.com"));
        let path = format!("/api/invite-links/{invite}/accept");
        let answers: Vec<u16> = std::thread::scope(|scope| {
            let racers: Vec<_> = [a.port, b.port, a.port, b.port]
                .into_iter()
                .map(|port| {
                    let path = path.clone();
                    scope.spawn(move || {
                        http(
                            port,
                            "POST",
                            &path,
                            &[("Content-Type", "application/json")],
                            &accept_body(),
                        )
                        .unwrap()
                        .0
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(
            answers.iter().filter(|s| **s == 201).count(),
            1,
            "round {round}: {answers:?}"
        );
        assert_eq!(
            answers.iter().filter(|s| **s == 410).count(),
            3,
            "round {round}: {answers:?}"
        );
    }
}

#[test]
fn several_processes_starting_at_once_on_an_empty_postgres_all_serve() {
    let Some(url) = fresh_postgres_url("ops") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3)
            .map(|n| {
                let url = url.clone();
                let dir = dir.path().to_owned();
                scope.spawn(move || serve(&dir, &url, &dir.join(format!("s{n}.log")), &[]))
            })
            .collect();
        starting.into_iter().map(|s| s.join().unwrap()).collect()
    });
    for server in &servers {
        assert_eq!(http(server.port, "GET", "/readyz", &[], "").unwrap().0, 200);
    }
    let migrations: i64 = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert_eq!(
        migrations,
        support::postgres_migrations(),
        "each migration once"
    );
    // Every process printed a first-admin link; the last one printed is the one that works.
    let printed = (0..3)
        .filter_map(|n| std::fs::read_to_string(dir.path().join(format!("s{n}.out"))).ok())
        .filter(|out| {
            BufReader::new(out.as_bytes())
                .lines()
                .any(|l| l.is_ok_and(|l| l.contains("/invite/")))
        })
        .count();
    assert!(printed >= 1);
}

/// quality.md Reliability 4: SIGKILL in the middle of a create/accept load, then a restart.
fn nothing_answered_is_lost_after_a_crash(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), database);
    let mut server = serve(dir.path(), database, &dir.path().join("before.log"), &[]);
    let admin = sign_in(server.port, "root@example.com", PASSWORD);
    create_invite(server.port, &admin, "warmup@acme.com");
    let port = server.port;

    let stop = std::sync::atomic::AtomicBool::new(false);
    let (created, accepted) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (admin, stop) = (&admin, &stop);
                scope.spawn(move || {
                    let mut created = Vec::new();
                    let mut accepted = Vec::new();
                    for n in 0.. {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        let email = format!("w{worker}n{n}@acme.com");
                        let auth = format!("Bearer {admin}");
                        let body =
                            serde_json::json!({"email": email, "role_id": 4, "tenant_id": 2})
                                .to_string();
                        let Some((201, reply)) = http(
                            port,
                            "POST",
                            "/api/invites",
                            &[
                                ("Authorization", &auth),
                                ("Content-Type", "application/json"),
                            ],
                            &body,
                        ) else {
                            continue;
                        };
                        let (id, token) = (json_field(&reply, "id"), json_field(&reply, "token"));
                        created.push(id.clone());
                        if n % 2 == 0 {
                            let path = format!("/api/invite-links/{token}/accept");
                            if let Some((201, _)) = http(
                                port,
                                "POST",
                                &path,
                                &[("Content-Type", "application/json")],
                                &accept_body(),
                            ) {
                                accepted.push(id);
                            }
                        }
                    }
                    (created, accepted)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill")
            .args(["-KILL", &server.child.id().to_string()])
            .status()
            .unwrap();
        let _ = server.child.wait();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        workers.into_iter().map(|w| w.join().unwrap()).fold(
            (Vec::new(), Vec::new()),
            |(mut c, mut a), (wc, wa)| {
                c.extend(wc);
                a.extend(wa);
                (c, a)
            },
        )
    });
    assert!(
        !created.is_empty() && !accepted.is_empty(),
        "the load ran: {} created, {} accepted",
        created.len(),
        accepted.len()
    );

    let server = serve(dir.path(), database, &dir.path().join("after.log"), &[]);
    let admin = sign_in(server.port, "root@example.com", PASSWORD);
    let auth = format!("Bearer {admin}");
    for id in &created {
        let (status, invite) = http(
            server.port,
            "GET",
            &format!("/api/invites/{id}"),
            &[("Authorization", &auth)],
            "",
        )
        .unwrap();
        assert_eq!(status, 200, "invite {id} was answered 201 but is gone");
        if accepted.contains(id) {
            assert_eq!(json_field(&invite, "status"), "accepted", "invite {id}");
        }
    }
    let (counts, orphans): ((i64, i64), i64) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let url = if database.contains("://") { database.to_owned() } else { format!("sqlite://{database}") };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role_id <> 1").fetch_one(&pool).await.unwrap();
        let accepted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invites WHERE accepted_at IS NOT NULL").fetch_one(&pool).await.unwrap();
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invites i WHERE (i.accepted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.accepted_user_id)) \
             OR (i.accepted_at IS NOT NULL AND i.accepted_user_id IS NULL)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        ((users, accepted), orphans)
    });
    assert_eq!(
        counts.0, counts.1,
        "every account has its accepted invite, and the reverse"
    );
    assert_eq!(orphans, 0);
}

#[test]
fn nothing_answered_is_lost_after_sigkill_on_sqlite() {
    on_sqlite(nothing_answered_is_lost_after_a_crash);
}

#[test]
fn nothing_answered_is_lost_after_sigkill_on_postgres() {
    on_postgres("ops", nothing_answered_is_lost_after_a_crash);
}

/// `--metrics-bind`: `/metrics` on a listener of its own, and not where the public is served.
fn metrics_can_have_a_listener_of_their_own(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), database);
    let metrics_port = free_port();
    let address = format!("127.0.0.1:{metrics_port}");
    let server = serve(
        dir.path(),
        database,
        &dir.path().join("server.log"),
        &[("TETHER_METRICS_BIND", &address)],
    );
    let (public, _) = http(server.port, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(public, 404, "the public listener does not serve /metrics");
    let (private, body) = http(metrics_port, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(private, 200);
    assert!(body.contains("tether_http_requests_total"), "{body}");
}

#[test]
fn metrics_can_have_a_listener_of_their_own_on_sqlite() {
    on_sqlite(metrics_can_have_a_listener_of_their_own);
}

/// The mail a sink received: (recipient, Message-ID) per message, read by Python's `email`.
fn received(sink: &support::SmtpSink) -> Vec<(String, String)> {
    let files = sink.files();
    if files.is_empty() {
        return Vec::new();
    }
    support::read_mail(&files)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["headers"]["to"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                m["headers"]["message-id"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// How many times each Message-ID arrived.
fn arrivals(mail: &[(String, String)]) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for (_, id) in mail {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    counts
}

/// Waits up to `seconds` until `done` holds for what the sink received.
fn wait_for_mail(
    sink: &support::SmtpSink,
    seconds: u64,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let mail = received(sink);
        if done(&mail) || Instant::now() > deadline {
            return mail;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mail_env(sink: &support::SmtpSink) -> [(&'static str, String); 2] {
    [
        ("TETHER_SMTP_URL", sink.url()),
        ("TETHER_MAIL_FROM", String::from("noreply@example.com")),
    ]
}

/// quality.md Reliability 7: a SIGKILL during a load of invites created with
/// `send_email`, then a restart: every committed invite's e-mail arrives (each
/// `Message-ID` at most twice), and none for an invite that was never asked for.
fn every_committed_invites_mail_arrives_after_a_crash(database: &str) {
    let sink = support::SmtpSink::start(&[]);
    let env = mail_env(&sink);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    create_admin(dir.path(), database);
    let mut server = serve(dir.path(), database, &dir.path().join("before.log"), &env);
    let admin = sign_in(server.port, "root@example.com", PASSWORD);
    create_invite(server.port, &admin, "warmup@acme.com");
    let port = server.port;

    let stop = std::sync::atomic::AtomicBool::new(false);
    let (asked, answered) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (admin, stop) = (&admin, &stop);
                scope.spawn(move || {
                    let (mut asked, mut answered) = (Vec::new(), Vec::new());
                    for n in 0.. {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        let email = format!("m{worker}n{n}@acme.com");
                        let body = serde_json::json!({"email": email, "role_id": 4, "tenant_id": 2, "send_email": true})
                            .to_string();
                        asked.push(email.clone());
                        let auth = format!("Bearer {admin}");
                        let headers = [
                            ("Authorization", auth.as_str()),
                            ("Content-Type", "application/json"),
                        ];
                        if let Some((201, _)) = http(port, "POST", "/api/invites", &headers, &body) {
                            answered.push(email);
                        }
                    }
                    (asked, answered)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill")
            .args(["-KILL", &server.child.id().to_string()])
            .status()
            .unwrap();
        let _ = server.child.wait();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        workers.into_iter().map(|w| w.join().unwrap()).fold(
            (Vec::new(), Vec::new()),
            |(mut a, mut b), (wa, wb)| {
                a.extend(wa);
                b.extend(wb);
                (a, b)
            },
        )
    });
    assert!(!answered.is_empty(), "the load ran");

    let _restarted = serve(dir.path(), database, &dir.path().join("after.log"), &env);
    let mail = wait_for_mail(&sink, 90, |mail| {
        answered
            .iter()
            .all(|email| mail.iter().any(|(to, _)| to == email))
    });
    for email in &answered {
        assert!(
            mail.iter().any(|(to, _)| to == email),
            "the invite for {email} was answered 201 but its e-mail never arrived"
        );
    }
    for (to, _) in &mail {
        assert!(asked.contains(to), "a message to {to}, whom nobody invited");
    }
    for (id, times) in arrivals(&mail) {
        assert!(times <= 2, "{id} arrived {times} times");
    }
}

#[test]
fn every_committed_invites_mail_arrives_after_sigkill_on_sqlite() {
    on_sqlite(every_committed_invites_mail_arrives_after_a_crash);
}

#[test]
fn every_committed_invites_mail_arrives_after_sigkill_on_postgres() {
    on_postgres("ops", every_committed_invites_mail_arrives_after_a_crash);
}

/// A backlog of `count` invite e-mails, enqueued through the library itself.
fn enqueue_backlog(database: &str, count: usize) {
    use tether::domain::invite::NewInvite;
    use tether::domain::tenant::NewTenant;
    let mail_dir = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = tether::store::Db::connect(database, 4).await.unwrap();
        db.migrate().await.unwrap();
        let settings = tether::domain::mail::MailSettings {
            mail_dir: Some(mail_dir.path().to_owned()),
            ..Default::default()
        };
        let mailer =
            tether::domain::mail::Mailer::from_settings(&settings, "noreply@example.com").unwrap();
        let app = tether::domain::Tether::new(
            db,
            std::sync::Arc::new(tether::domain::clock::SystemClock),
            tether::domain::password::PasswordHasher::new(1).unwrap(),
            tether::domain::links::BaseUrl::parse("http://localhost:8080").unwrap(),
            tether::http::api::events::event_bodies(),
        )
        .unwrap()
        .with_mailer(mailer);
        let msp = app.ensure_msp_tenant("Tether").await.unwrap();
        let operator = tether::domain::actor::Actor::operator(msp.id);
        let acme = app
            .create_tenant(
                &operator,
                NewTenant {
                    name: "Acme Corp".into(),
                    slug: "acme".into(),
                    ..NewTenant::default()
                },
            )
            .await
            .unwrap();
        for n in 0..count {
            app.create_invite(
                &operator,
                NewInvite {
                    email: format!("backlog{n}@acme.com"),
                    role_id: 4,
                    tenant_id: acme.id.0,
                    send_email: true,
                    ..NewInvite::default()
                },
            )
            .await
            .unwrap();
        }
        app.close().await;
    });
}

/// quality.md Reliability 8: two processes on one PostgreSQL deliver a backlog of 500
/// messages, each exactly once when nothing fails.
#[test]
fn two_processes_deliver_a_backlog_of_500_exactly_once_on_postgres() {
    on_postgres("ops", |database| {
        enqueue_backlog(database, 500);
        let sink = support::SmtpSink::start(&[]);
        let env = mail_env(&sink);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dir = tempfile::tempdir().unwrap();
        let _one = serve(dir.path(), database, &dir.path().join("one.log"), &env);
        let _two = serve(dir.path(), database, &dir.path().join("two.log"), &env);
        let mail = wait_for_mail(&sink, 90, |mail| mail.len() >= 500);
        // A little longer: a second delivery of anything would show now.
        std::thread::sleep(Duration::from_secs(2));
        let mail = if mail.len() >= 500 {
            received(&sink)
        } else {
            mail
        };
        let ids = arrivals(&mail);
        assert_eq!(ids.len(), 500, "every message arrived");
        assert_eq!(mail.len(), 500, "none arrived twice");
        let logs = [dir.path().join("one.log"), dir.path().join("two.log")];
        let both_worked = logs.iter().all(|log| {
            std::fs::read_to_string(log).is_ok_and(|text| text.contains("E-mail goes to"))
        });
        assert!(both_worked, "both processes deliver");
    });
}

/// quality.md Reliability 8: one of two processes killed midway loses nothing; what it
/// held is claimed again once its lease runs out.
#[test]
fn a_process_killed_midway_through_a_backlog_loses_nothing_on_postgres() {
    on_postgres("ops", |database| {
        enqueue_backlog(database, 500);
        let sink = support::SmtpSink::start(&[]);
        let env = mail_env(&sink);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut one = serve(dir.path(), database, &dir.path().join("one.log"), &env);
        let _two = serve(dir.path(), database, &dir.path().join("two.log"), &env);
        wait_for_mail(&sink, 60, |mail| mail.len() >= 50);
        Command::new("kill")
            .args(["-KILL", &one.child.id().to_string()])
            .status()
            .unwrap();
        let _ = one.child.wait();
        let mail = wait_for_mail(&sink, 150, |mail| arrivals(mail).len() >= 500);
        let ids = arrivals(&mail);
        assert_eq!(ids.len(), 500, "none lost");
        assert!(ids.values().all(|times| *times <= 2));
    });
}

/// A webhook receiver on loopback in a thread of its own: every `webhook-id` it was sent,
/// answered 200.
fn webhook_receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::{Arc, Mutex};
    let ids = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = ids.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: axum::http::HeaderMap| {
                    let seen = seen.clone();
                    async move {
                        let id = headers
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock().unwrap().push(id);
                        axum::http::StatusCode::OK
                    }
                }),
            );
            axum::serve(listener, router).await.unwrap();
        });
    });
    (port, ids)
}

/// An endpoint for invite.created at `url`, then `count` invites, through the library.
fn enqueue_webhook_backlog(database: &str, url: &str, count: usize) {
    use tether::domain::invite::NewInvite;
    use tether::domain::tenant::NewTenant;
    use tether::domain::webhook::NewWebhook;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = tether::store::Db::connect(database, 4).await.unwrap();
        db.migrate().await.unwrap();
        let app = tether::domain::Tether::new(
            db,
            std::sync::Arc::new(tether::domain::clock::SystemClock),
            tether::domain::password::PasswordHasher::new(1).unwrap(),
            tether::domain::links::BaseUrl::parse("http://localhost:8080").unwrap(),
            tether::http::api::events::event_bodies(),
        )
        .unwrap()
        .with_webhook_policy(tether::domain::destination::DestinationPolicy {
            allow_http: true,
            allow_private: true,
        })
        .unwrap();
        let msp = app.ensure_msp_tenant("Tether").await.unwrap();
        let operator = tether::domain::actor::Actor::operator(msp.id);
        let acme = app
            .create_tenant(
                &operator,
                NewTenant {
                    name: "Acme Corp".into(),
                    slug: "acme".into(),
                    ..NewTenant::default()
                },
            )
            .await
            .unwrap();
        app.create_webhook(
            &operator,
            NewWebhook {
                url: url.to_owned(),
                description: String::new(),
                event_types: vec![String::from("invite.created")],
                tenant_ids: None,
                enabled: true,
            },
        )
        .await
        .unwrap();
        for n in 0..count {
            app.create_invite(
                &operator,
                NewInvite {
                    email: format!("hook{n}@acme.com"),
                    role_id: 4,
                    tenant_id: acme.id.0,
                    ..NewInvite::default()
                },
            )
            .await
            .unwrap();
        }
        app.close().await;
    });
}

/// delivery.md §15: two processes on one PostgreSQL deliver each webhook event once.
#[test]
fn two_processes_deliver_each_webhook_event_once_on_postgres() {
    on_postgres("ops", |database| {
        let (port, ids) = webhook_receiver();
        enqueue_webhook_backlog(database, &format!("http://127.0.0.1:{port}/hook"), 300);
        let env = [
            ("TETHER_WEBHOOK_ALLOW_HTTP", "true"),
            ("TETHER_WEBHOOK_ALLOW_PRIVATE", "true"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let _one = serve(dir.path(), database, &dir.path().join("one.log"), &env);
        let _two = serve(dir.path(), database, &dir.path().join("two.log"), &env);
        let deadline = Instant::now() + Duration::from_secs(90);
        while ids.lock().unwrap().len() < 300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // A little longer: a second delivery of anything would show now.
        std::thread::sleep(Duration::from_secs(2));
        let ids = ids.lock().unwrap().clone();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 300, "every event arrived");
        assert_eq!(ids.len(), 300, "none arrived twice");
    });
}
