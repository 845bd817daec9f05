//! The `tether` binary as a person runs it: in an empty directory, on SQLite by default
//! and on PostgreSQL when `TETHER_TEST_DATABASE_URL` is set.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{fresh_postgres_url, on_postgres};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn tether(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Run {
    tether_with_stdin(dir, database_url, args, "")
}

fn tether_with_stdin(dir: &Path, database_url: Option<&str>, args: &[&str], stdin: &str) -> Run {
    run_tether(dir, database_url, args, stdin, Some("warn"))
}

/// As a person runs it: no `RUST_LOG`, so the command's own default decides what it logs.
fn tether_as_people_run_it(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Run {
    run_tether(dir, database_url, args, "", None)
}

fn run_tether(
    dir: &Path,
    database_url: Option<&str>,
    args: &[&str],
    stdin: &str,
    rust_log: Option<&str>,
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tether"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("TETHER_DATABASE_URL")
        .env_remove("TETHER_BASE_URL")
        .env_remove("TETHER_SMTP_URL")
        .env_remove("TETHER_MAIL_FROM")
        .env_remove("TETHER_MAIL_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("TETHER_DATABASE_URL", url);
    }
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    let mut child = command.spawn().expect("tether starts");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(stdin.as_bytes())
        .expect("stdin is written");
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("tether finishes");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A refusal is one sentence on stderr and a non-zero exit: no panic, no backtrace.
fn assert_one_sentence_error(run: &Run, contains: &str) {
    assert!(!run.ok, "expected a failure, got {}", run.stdout);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line expected: {:?}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(contains),
        "{:?} should mention {contains:?}",
        lines[0]
    );
    assert!(!run.stderr.contains("panicked"));
}

fn invite_lifecycle_from_the_command_line(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let created = tether(
        dir,
        database_url,
        &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"],
    );
    assert!(created.ok, "{}", created.stderr);
    assert!(
        created.stdout.contains("http://acme.localhost:8080"),
        "{}",
        created.stdout
    );

    let invited = tether(
        dir,
        database_url,
        &[
            "invite",
            "create",
            "--email",
            "alice@acme.com",
            "--tenant",
            "acme",
            "--role",
            "client_admin",
        ],
    );
    assert!(invited.ok, "{}", invited.stderr);
    let link = invited.stdout.trim();
    let token = link
        .strip_prefix("http://acme.localhost:8080/invite/")
        .unwrap_or_else(|| panic!("unexpected link {link:?}"));
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    let listed = tether(dir, database_url, &["invite", "list"]);
    let row = listed
        .stdout
        .lines()
        .find(|l| l.contains("alice@acme.com"))
        .expect("the invite is listed");
    assert!(row.contains("pending"), "{row}");
    let first_id = row.split_whitespace().next().unwrap().to_owned();

    let again = tether(
        dir,
        database_url,
        &[
            "invite",
            "create",
            "--email",
            "ALICE@acme.com",
            "--tenant",
            "acme",
            "--role",
            "client_admin",
        ],
    );
    assert!(again.ok, "{}", again.stderr);
    let all = tether(dir, database_url, &["invite", "list", "--status", "all"]);
    let old = all
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(first_id.as_str()))
        .expect("the first invite is listed");
    assert!(
        old.contains("revoked") && old.contains("superseded"),
        "{old}"
    );
    let pending = tether(dir, database_url, &["invite", "list"]);
    assert_eq!(
        pending
            .stdout
            .lines()
            .filter(|l| l.contains("alice@acme.com"))
            .count(),
        1
    );
    let second_id = pending
        .stdout
        .lines()
        .find(|l| l.contains("alice@acme.com"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    let revoked = tether(dir, database_url, &["invite", "revoke", &second_id]);
    assert!(revoked.ok, "{}", revoked.stderr);
    let after = tether(
        dir,
        database_url,
        &["invite", "list", "--status", "revoked"],
    );
    assert!(after
        .stdout
        .lines()
        .any(|l| l.starts_with(&second_id) && l.contains("revoked")));

    let reissued = tether(dir, database_url, &["invite", "reissue", &second_id]);
    assert_one_sentence_error(&reissued, "cannot be changed");

    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["tenant", "create", "--name", "W", "--slug", "www"],
        ),
        "reserved",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["tenant", "create", "--name", "Acme 2", "--slug", "acme"],
        ),
        "already taken",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "invite",
                "create",
                "--email",
                "b@acme.com",
                "--tenant",
                "nope",
                "--role",
                "client_user",
            ],
        ),
        "no client has the slug",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "invite",
                "create",
                "--email",
                "b@acme.com",
                "--tenant",
                "acme",
                "--role",
                "owner",
            ],
        ),
        "no role",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "invite",
                "create",
                "--email",
                "not-an-email",
                "--tenant",
                "acme",
                "--role",
                "client_user",
            ],
        ),
        "email",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "tenant",
                "create",
                "--name",
                "L",
                "--slug",
                "logo",
                "--logo",
                "missing.png",
            ],
        ),
        "cannot read the logo file",
    );
    std::fs::write(
        dir.join("logo.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .unwrap();
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "tenant", "create", "--name", "L", "--slug", "logo", "--logo", "logo.svg",
            ],
        ),
        "PNG, JPEG, WebP or GIF",
    );
    let tenants = tether(dir, database_url, &["tenant", "list"]);
    assert!(
        !tenants.stdout.contains("logo"),
        "a refused tenant is not created"
    );
}

#[test]
fn invite_lifecycle_from_the_command_line_on_sqlite() {
    invite_lifecycle_from_the_command_line(None);
}

#[test]
fn invite_lifecycle_from_the_command_line_on_postgres() {
    on_postgres("cli", |url| {
        invite_lifecycle_from_the_command_line(Some(url))
    });
}

#[test]
fn a_tenant_is_created_with_a_logo_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&[0; 64]);
    std::fs::write(dir.path().join("logo.png"), png).unwrap();
    let created = tether(
        dir.path(),
        None,
        &[
            "tenant",
            "create",
            "--name",
            "Acme Corp",
            "--slug",
            "acme",
            "--accent",
            "#ff5500",
            "--logo",
            "logo.png",
        ],
    );
    assert!(created.ok, "{}", created.stderr);
}

#[test]
fn unreachable_database_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let run = tether(
        dir.path(),
        Some("postgres://tether:secret@127.0.0.1:1/tether"),
        &["tenant", "list"],
    );
    assert_one_sentence_error(&run, "could not open the database");
    assert!(!run.stderr.contains("secret"), "the password is not shown");
    let run = tether(dir.path(), Some("mysql://localhost/x"), &["migrate"]);
    assert_one_sentence_error(&run, "not supported");
}

#[test]
fn admin_create_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let run = tether_with_stdin(
        dir.path(),
        None,
        &[
            "admin",
            "create",
            "--email",
            "root@atechsolutions.org",
            "--password-stdin",
        ],
        "quartz mitten orbit paddle\n",
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("root@atechsolutions.org"));
    let weak = tether_with_stdin(
        dir.path(),
        None,
        &[
            "admin",
            "create",
            "--email",
            "other@atechsolutions.org",
            "--password-stdin",
        ],
        "password\n",
    );
    assert_one_sentence_error(&weak, "12 characters");
    let duplicate = tether_with_stdin(
        dir.path(),
        None,
        &[
            "admin",
            "create",
            "--email",
            "ROOT@atechsolutions.org",
            "--password-stdin",
        ],
        "quartz mitten orbit paddle\n",
    );
    assert_one_sentence_error(&duplicate, "already exists");
}

fn a_password_reset_link_is_made_from_the_command_line(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let created = tether_with_stdin(
        dir,
        database_url,
        &[
            "admin",
            "create",
            "--email",
            "root@atechsolutions.org",
            "--password-stdin",
        ],
        "quartz mitten orbit paddle\n",
    );
    assert!(created.ok, "{}", created.stderr);
    let made = tether(
        dir,
        database_url,
        &["user", "reset-link", "ROOT@atechsolutions.org"],
    );
    assert!(made.ok, "{}", made.stderr);
    let link = made.stdout.trim();
    assert!(link.starts_with("http://localhost:8080/reset/"), "{link}");
    assert_eq!(link.rsplit('/').next().map(str::len), Some(43));
    assert!(made
        .stderr
        .contains("A password reset link for root@atechsolutions.org, valid until"));
    assert!(!made.stderr.contains(link));
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["user", "reset-link", "nobody@example.com"],
        ),
        "user was not found",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["user", "reset-link", "root@atechsolutions.org", "--send"],
        ),
        "E-mail is not set up on this server",
    );
}

#[test]
fn a_password_reset_link_is_made_from_the_command_line_on_sqlite() {
    a_password_reset_link_is_made_from_the_command_line(None);
}

#[test]
fn a_password_reset_link_is_made_from_the_command_line_on_postgres() {
    on_postgres("cli", |url| {
        a_password_reset_link_is_made_from_the_command_line(Some(url))
    });
}

#[test]
fn a_tenant_turns_its_invite_reminders_off_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let created = tether(
        dir,
        None,
        &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"],
    );
    assert!(created.ok, "{}", created.stderr);
    let off = tether(
        dir,
        None,
        &["tenant", "update", "acme", "--invite-reminders", "off"],
    );
    assert!(off.ok, "{}", off.stderr);
    assert!(
        off.stdout.contains("invite reminders off"),
        "{}",
        off.stdout
    );
    let renamed = tether(
        dir,
        None,
        &["tenant", "update", "acme", "--name", "Acme Inc"],
    );
    assert!(renamed.ok, "{}", renamed.stderr);
    assert!(
        renamed.stdout.starts_with("Acme Inc") && renamed.stdout.contains("reminders off"),
        "{}",
        renamed.stdout
    );
    let logo = concat!(env!("CARGO_MANIFEST_DIR"), "/static/demo/acme.png");
    let with_logo = tether(dir, None, &["tenant", "update", "acme", "--logo", logo]);
    assert!(
        with_logo.stdout.contains(", a logo,"),
        "{}",
        with_logo.stderr
    );
    let without = tether(dir, None, &["tenant", "update", "acme", "--no-logo"]);
    assert!(without.stdout.contains(", no logo,"), "{}", without.stderr);
    assert_one_sentence_error(
        &tether(
            dir,
            None,
            &["tenant", "update", "acme", "--logo", "missing.png"],
        ),
        "cannot read the logo file",
    );
    let refused = tether(
        dir,
        None,
        &["tenant", "update", "acme", "--invite-reminders", "maybe"],
    );
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("use on or off"),
        "{}",
        refused.stderr
    );
    assert_one_sentence_error(
        &tether(dir, None, &["tenant", "update", "nowhere", "--name", "X"]),
        "nowhere",
    );
}

/// A successful command writes nothing to standard error, and a refused one exactly its
/// sentence, on either engine: the migrator's PostgreSQL notices and the INFO logs stay out.
fn commands_are_quiet(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for args in [
        &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"][..],
        &["tenant", "list"],
        &["invite", "list"],
        &["outbox", "list"],
    ] {
        let run = tether_as_people_run_it(dir, database_url, args);
        assert!(run.ok, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?} wrote to standard error");
    }
    let refused = tether_as_people_run_it(
        dir,
        database_url,
        &[
            "invite",
            "create",
            "--email",
            "a@acme.com",
            "--tenant",
            "acme",
            "--role",
            "superuser",
        ],
    );
    assert_one_sentence_error(&refused, "there is no role \"superuser\"");
    // RUST_LOG still turns the logs on: on PostgreSQL, the migrator's notice is there.
    if database_url.is_some() {
        let traced = run_tether(dir, database_url, &["tenant", "list"], "", Some("info"));
        assert!(traced.ok, "{}", traced.stderr);
        assert!(
            traced.stderr.contains("already exists"),
            "{}",
            traced.stderr
        );
    }
}

#[test]
fn commands_are_quiet_on_sqlite() {
    commands_are_quiet(None);
}

#[test]
fn commands_are_quiet_on_postgres() {
    on_postgres("cli", |url| commands_are_quiet(Some(url)));
}

fn users_are_listed_and_changed_from_the_command_line(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for email in ["root@atechsolutions.org", "ops@atechsolutions.org"] {
        let created = tether_with_stdin(
            dir,
            database_url,
            &["admin", "create", "--email", email, "--password-stdin"],
            "quartz mitten orbit paddle\n",
        );
        assert!(created.ok, "{}", created.stderr);
    }
    let listed = tether(dir, database_url, &["user", "list"]);
    assert!(listed.ok, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("ID  EMAIL"), "{}", listed.stdout);
    assert!(listed.stdout.contains("ops@atechsolutions.org") && listed.stdout.contains("active"));

    let demoted = tether(
        dir,
        database_url,
        &[
            "user",
            "set-role",
            "OPS@atechsolutions.org",
            "msp_technician",
        ],
    );
    assert!(demoted.ok, "{}", demoted.stderr);
    assert_eq!(
        demoted.stdout.trim(),
        "ops@atechsolutions.org is now msp_technician."
    );
    // The rules are the API's: the last active MSP admin stays, roles fit the tenant.
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["user", "deactivate", "root@atechsolutions.org"],
        ),
        "no active MSP admin",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["user", "set-role", "ops@atechsolutions.org", "client_user"],
        ),
        "cannot be held in this user's tenant",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["user", "set-role", "ops@atechsolutions.org", "boss"],
        ),
        "there is no role \"boss\"",
    );
    let off = tether(
        dir,
        database_url,
        &["user", "deactivate", "ops@atechsolutions.org"],
    );
    assert!(
        off.ok && off.stdout.contains("is deactivated"),
        "{}",
        off.stderr
    );
    let json = tether(
        dir,
        database_url,
        &[
            "user",
            "list",
            "--role",
            "msp_technician",
            "--format",
            "json",
        ],
    );
    assert!(json.ok, "{}", json.stderr);
    let users: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    assert_eq!(users[0]["email"], "ops@atechsolutions.org");
    assert_eq!(users[0]["active"], false);
    let on = tether(
        dir,
        database_url,
        &["user", "activate", "ops@atechsolutions.org"],
    );
    assert!(on.ok && on.stdout.contains("active again"), "{}", on.stderr);

    // Every list speaks JSON for scripts, as the API's objects.
    assert!(
        tether(
            dir,
            database_url,
            &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"]
        )
        .ok
    );
    assert!(
        tether(
            dir,
            database_url,
            &[
                "invite",
                "create",
                "--email",
                "a@acme.com",
                "--tenant",
                "acme",
                "--role",
                "client_user"
            ]
        )
        .ok
    );
    for (args, field) in [
        (&["tenant", "list", "--format", "json"][..], "base_url"),
        (&["invite", "list", "--format", "json"], "expires_at"),
        (&["outbox", "list", "--format", "json"], ""),
    ] {
        let run = tether(dir, database_url, args);
        assert!(run.ok, "{args:?}: {}", run.stderr);
        let items: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let items = items.as_array().expect("a JSON array");
        if !field.is_empty() {
            assert!(items.iter().all(|item| !item[field].is_null()), "{args:?}");
            assert!(!items.is_empty(), "{args:?}");
        }
    }
    assert!(!tether(dir, database_url, &["user", "list", "--format", "yaml"]).ok);
}

#[test]
fn users_are_listed_and_changed_from_the_command_line_on_sqlite() {
    users_are_listed_and_changed_from_the_command_line(None);
}

#[test]
fn users_are_listed_and_changed_from_the_command_line_on_postgres() {
    on_postgres("cli", |url| {
        users_are_listed_and_changed_from_the_command_line(Some(url))
    });
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_on_an_empty_database_prints_the_first_admin_link_and_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("TETHER_DATABASE_URL")
        .env_remove("TETHER_BASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let link = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.trim()
                .strip_prefix("http://localhost:8080/invite/")
                .map(str::to_owned)
        })
        .expect("a first-admin link is printed");
    assert_eq!(link.len(), 43);

    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        if let Some(response) = http_get(port, "/readyz") {
            break response;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(dir.path().join("tether.db").exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn several_processes_starting_at_once_migrate_an_empty_postgres_once() {
    let Some(url) = fresh_postgres_url("cli") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_tether"))
                .args(["tenant", "list"])
                .current_dir(dir.path())
                .env("TETHER_DATABASE_URL", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (migrations, msp_tenants) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        let msp: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE kind = 'msp'")
            .fetch_one(&pool)
            .await
            .unwrap();
        (migrations, msp)
    });
    // Each migration is recorded once, however many processes raced to apply it.
    assert_eq!(migrations, support::postgres_migrations());
    assert_eq!(msp_tenants, 1);
}

#[test]
fn serve_refuses_a_pool_of_no_database_connections() {
    let dir = tempfile::tempdir().unwrap();
    let run = tether(dir.path(), None, &["serve", "--database-connections", "0"]);
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("invalid value '0' for '--database-connections"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

fn wait_until(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// `--smtp-url`, `mail test`, `invite create --send` and `outbox list|retry`, against a real
/// SMTP server; each refusal one sentence.
#[test]
fn mail_is_set_up_tested_and_followed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let sink = support::SmtpSink::start(&[]);
    let smtp = sink.url();
    assert!(
        tether(
            dir,
            None,
            &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"]
        )
        .ok
    );

    let invite = |extra: &[&str]| {
        let mut args = vec![
            "invite",
            "create",
            "--email",
            "alice@acme.com",
            "--tenant",
            "acme",
            "--role",
            "client_user",
            "--send",
        ];
        args.extend_from_slice(extra);
        tether(dir, None, &args)
    };
    assert_one_sentence_error(&invite(&[]), "E-mail is not set up on this server");
    assert_eq!(
        tether(dir, None, &["invite", "list"]).stdout.trim(),
        "(none)"
    );
    assert_one_sentence_error(
        &tether(dir, None, &["mail", "test", "--to", "ops@example.com"]),
        "e-mail is not set up",
    );
    let secret_url = "smtp://me:s3cret@mail.example.com:25?tls=none";
    let refused = tether(
        dir,
        None,
        &["--smtp-url", secret_url, "mail", "test", "--to", "a@b.co"],
    );
    assert_one_sentence_error(&refused, "only allowed for a server on this machine");
    assert!(!refused.stderr.contains("s3cret"));

    let tested = tether(
        dir,
        None,
        &[
            "--smtp-url",
            &smtp,
            "--mail-from",
            "noreply@acme.com",
            "mail",
            "test",
            "--to",
            "ops@example.com",
        ],
    );
    assert!(tested.ok, "{}", tested.stderr);
    assert!(
        tested.stdout.contains("was accepted by smtp://127.0.0.1"),
        "{}",
        tested.stdout
    );
    assert_eq!(sink.wait_for(1, 10), 1);
    let read = support::read_mail(&sink.files());
    assert_eq!(read[0]["headers"]["subject"][0], "Tether test message");
    let down = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    assert_one_sentence_error(
        &tether(
            dir,
            None,
            &[
                "--smtp-url",
                &down,
                "mail",
                "test",
                "--to",
                "ops@example.com",
            ],
        ),
        "could not be reached",
    );

    let queued = invite(&["--smtp-url", &smtp]);
    assert!(queued.ok, "{}", queued.stderr);
    assert!(
        queued.stderr.contains("queued to be e-mailed"),
        "{}",
        queued.stderr
    );
    let listed = tether(dir, None, &["outbox", "list"]);
    let row = listed
        .stdout
        .lines()
        .find(|l| l.contains("to alice@acme.com"))
        .unwrap_or_default();
    assert!(row.contains("queued"), "{}", listed.stdout);
    let id = row.split_whitespace().next().unwrap().to_owned();

    // A running server delivers what the command line queued.
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args([
            "--smtp-url",
            &smtp,
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .env_remove("TETHER_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(sink.wait_for(2, 20), 2, "the invite e-mail arrives");
    let _ = server.kill();
    let _ = server.wait();
    let read = support::read_mail(&sink.files());
    let text = read[1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "text/plain")
        .and_then(|p| p["text"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        text.contains(queued.stdout.trim()),
        "the e-mailed link is the printed one"
    );
    let sent = tether(dir, None, &["outbox", "list", "--state", "sent"]);
    assert!(sent.stdout.contains("to alice@acme.com"), "{}", sent.stdout);
    assert_one_sentence_error(
        &tether(dir, None, &["outbox", "retry", &id]),
        "nothing to retry",
    );
    assert_one_sentence_error(
        &tether(dir, None, &["outbox", "list", "--state", "lost"]),
        "--state",
    );
}

/// `serve --demo` writes its mail to ./mail and says so; what it sends there opens as a
/// message whose link is the invite's.
#[test]
fn the_demo_writes_mail_into_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("TETHER_DATABASE_URL")
        .env_remove("TETHER_SMTP_URL")
        .env_remove("TETHER_MAIL_DIR")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its standard error is read to the end, on a thread of its own: a closed pipe would
    // fail the server's next line.
    let stderr = server.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let said = lines_rx
        .iter()
        .find(|line| line.starts_with("E-mail goes to"))
        .unwrap_or_default();
    assert_eq!(said, "E-mail goes to the folder mail.");
    assert!(wait_until(20, || http_get(port, "/readyz").is_some()));
    let invited = tether(
        dir.path(),
        None,
        &[
            "--mail-dir",
            "mail",
            "invite",
            "create",
            "--email",
            "dana@example.com",
            "--tenant",
            "msp",
            "--role",
            "msp_technician",
            "--send",
        ],
    );
    assert!(invited.ok, "{}", invited.stderr);
    let mail_dir = dir.path().join("mail");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&mail_dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    assert!(
        wait_until(20, || !files().is_empty()),
        "the message is written"
    );
    let _ = server.kill();
    let _ = server.wait();
    let read = support::read_mail(&files());
    assert_eq!(read[0]["content_type"], "multipart/alternative");
    assert_eq!(read[0]["headers"]["to"][0], "dana@example.com");
    let html = read[0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "text/html")
        .and_then(|p| p["text"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        html.contains(invited.stdout.trim()),
        "the link is in the message"
    );
}

/// `tether invite import`: a dry run says what each row would do and creates nothing; the
/// real run prints `email,link` for each created invite, each refused row with its line on
/// standard error, and fails because a row was refused. A tenant's allowed domains are set
/// and obeyed from the command line too.
fn staff_are_imported_from_a_csv_file(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let created = tether(
        dir,
        database_url,
        &[
            "tenant",
            "create",
            "--name",
            "Acme Corp",
            "--slug",
            "acme",
            "--allowed-domains",
            "acme.com,*.acme.co.uk",
        ],
    );
    assert!(created.ok, "{}", created.stderr);
    let refused = tether(
        dir,
        database_url,
        &[
            "invite",
            "create",
            "--email",
            "someone@gmail.com",
            "--tenant",
            "acme",
            "--role",
            "client_user",
        ],
    );
    assert_one_sentence_error(&refused, "only admits addresses at acme.com, *.acme.co.uk");

    std::fs::write(
        dir.join("staff.csv"),
        "\u{FEFF}email;name;role\r\n\
         ana@acme.com;\"Ruiz; Ana\";client_admin\r\n\
         \r\n\
         bo@uk.acme.co.uk;Bo;\r\n\
         someone@gmail.com;Some One;\r\n\
         ana@acme.com;Ana again;\r\n",
    )
    .unwrap();
    let dry = tether(
        dir,
        database_url,
        &[
            "invite",
            "import",
            "staff.csv",
            "--tenant",
            "acme",
            "--role",
            "client_user",
            "--dry-run",
        ],
    );
    assert!(!dry.ok, "a refused row fails the command");
    assert_eq!(
        dry.stdout,
        "line,email,outcome\n2,ana@acme.com,new invite\n4,bo@uk.acme.co.uk,new invite\n"
    );
    assert!(
        dry.stderr
            .contains("line 5 (someone@gmail.com): This tenant only admits"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains("line 6 (ana@acme.com): This address is already on an earlier row"),
        "{}",
        dry.stderr
    );
    let listed = tether(dir, database_url, &["invite", "list", "--format", "json"]);
    assert_eq!(listed.stdout.trim(), "[]", "a dry run creates nothing");

    let real = tether(
        dir,
        database_url,
        &[
            "invite",
            "import",
            "staff.csv",
            "--tenant",
            "acme",
            "--role",
            "client_user",
            "--expires",
            "7d",
        ],
    );
    assert!(!real.ok);
    let mut lines = real.stdout.lines();
    assert_eq!(lines.next(), Some("email,link"));
    let links: Vec<&str> = lines.collect();
    assert_eq!(links.len(), 2, "{}", real.stdout);
    assert!(
        links[0].starts_with("ana@acme.com,http://acme."),
        "{}",
        links[0]
    );
    assert!(
        links[1].starts_with("bo@uk.acme.co.uk,http://acme."),
        "{}",
        links[1]
    );
    assert!(
        real.stderr.contains("Created 2 invites; 2 rows refused."),
        "{}",
        real.stderr
    );
    assert!(real
        .stderr
        .lines()
        .last()
        .unwrap()
        .starts_with("error: 2 of 4 rows were refused"));
    let listed = tether(dir, database_url, &["invite", "list", "--format", "json"]);
    let invites: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let roles: Vec<&str> = invites
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["client_user", "client_admin"],
        "newest first; each row's role or the default"
    );

    // A file every row of which is valid succeeds; so does standard input.
    let clean = tether_with_stdin(
        dir,
        database_url,
        &[
            "invite",
            "import",
            "-",
            "--tenant",
            "acme",
            "--role",
            "client_user",
        ],
        "email\ncy@acme.com\n",
    );
    assert!(clean.ok, "{}", clean.stderr);
    assert!(clean
        .stdout
        .starts_with("email,link\ncy@acme.com,http://acme."));

    // Files that cannot be used as a whole are one sentence each.
    std::fs::write(
        dir.join("latin1.csv"),
        b"email,name\nb\xF6rje@acme.com,B\xF6rje\n",
    )
    .unwrap();
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "invite",
                "import",
                "latin1.csv",
                "--tenant",
                "acme",
                "--role",
                "client_user",
            ],
        ),
        "not UTF-8 text (line 2)",
    );
    std::fs::write(dir.join("names.csv"), "name,role\nAna,client_user\n").unwrap();
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["invite", "import", "names.csv", "--tenant", "acme"],
        ),
        "one of them email",
    );
    let mut big = String::from("email\n");
    while big.len() <= 2 * 1024 * 1024 {
        big.push_str("someone.with.a.long.address@acme.com\n");
    }
    std::fs::write(dir.join("big.csv"), big).unwrap();
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["invite", "import", "big.csv", "--tenant", "acme"],
        ),
        "larger than 1 MiB",
    );

    // Emptying the list admits any address again.
    let opened = tether(
        dir,
        database_url,
        &["tenant", "update", "acme", "--allowed-domains", ""],
    );
    assert!(opened.ok, "{}", opened.stderr);
    let gmail = tether(
        dir,
        database_url,
        &[
            "invite",
            "create",
            "--email",
            "someone@gmail.com",
            "--tenant",
            "acme",
            "--role",
            "client_user",
        ],
    );
    assert!(gmail.ok, "{}", gmail.stderr);
}

#[test]
fn staff_are_imported_from_a_csv_file_on_sqlite() {
    staff_are_imported_from_a_csv_file(None);
}

#[test]
fn staff_are_imported_from_a_csv_file_on_postgres() {
    on_postgres("cli", |url| staff_are_imported_from_a_csv_file(Some(url)));
}

fn webhooks_are_added_listed_tested_and_removed(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert!(
        tether(
            dir,
            database_url,
            &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"]
        )
        .ok
    );
    // Without the operator's flags: https:// only, and no private destination.
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &["webhook", "add", "http://hooks.example.com/x"],
        ),
        "https://",
    );
    assert_one_sentence_error(
        &tether(dir, database_url, &["webhook", "add", "https://10.0.0.1/x"]),
        "private",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "webhook",
                "add",
                "https://hooks.example.com/x",
                "--events",
                "invite.opened",
            ],
        ),
        "invite.opened is not an event type",
    );
    assert_one_sentence_error(
        &tether(
            dir,
            database_url,
            &[
                "webhook",
                "add",
                "https://hooks.example.com/x",
                "--tenants",
                "nope",
            ],
        ),
        "no client has the slug \"nope\"",
    );

    let added = tether(
        dir,
        database_url,
        &[
            "--webhook-allow-http",
            "--webhook-allow-private",
            "webhook",
            "add",
            "http://127.0.0.1:9/hook",
            "--events",
            "invite.created,invite.accepted",
            "--tenants",
            "acme",
            "--description",
            "PSA",
        ],
    );
    assert!(added.ok, "{}", added.stderr);
    let lines: Vec<&str> = added.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Webhook 1 added for http://127.0.0.1:9/hook. Its signing secret, shown only now:"
    );
    assert!(
        lines[1].starts_with("whsec_") && lines[1].len() == 50,
        "{}",
        lines[1]
    );

    let listed = tether(dir, database_url, &["webhook", "list"]);
    assert!(listed.ok);
    assert!(listed.stdout.contains("http://127.0.0.1:9/hook"));
    assert!(listed.stdout.contains("invite.created,invite.accepted"));
    assert!(listed.stdout.contains(" on "), "{}", listed.stdout);
    assert!(!listed.stdout.contains("whsec_"));
    let json = tether(dir, database_url, &["webhook", "list", "--format", "json"]);
    let hooks: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(hooks[0]["description"], "PSA");
    assert_eq!(hooks[0]["tenant_ids"].as_array().unwrap().len(), 1);
    assert!(!json.stdout.contains("whsec_"));

    let tested = tether(dir, database_url, &["webhook", "test", "1"]);
    assert!(tested.ok, "{}", tested.stderr);
    assert!(tested
        .stdout
        .starts_with("A webhook.test event is queued as outbox message"));
    let outbox = tether(dir, database_url, &["outbox", "list", "--kind", "webhook"]);
    assert!(
        outbox.stdout.contains("webhook.test to webhook 1"),
        "{}",
        outbox.stdout
    );

    let removed = tether(dir, database_url, &["webhook", "remove", "1"]);
    assert_eq!(removed.stdout.trim(), "Webhook 1 removed.");
    assert_one_sentence_error(
        &tether(dir, database_url, &["webhook", "remove", "1"]),
        "webhook",
    );
    assert_eq!(
        tether(dir, database_url, &["webhook", "list"])
            .stdout
            .trim(),
        "(none)"
    );
}

#[test]
fn webhooks_are_added_listed_tested_and_removed_on_sqlite() {
    webhooks_are_added_listed_tested_and_removed(None);
}

#[test]
fn webhooks_are_added_listed_tested_and_removed_on_postgres() {
    on_postgres("cli", |url| {
        webhooks_are_added_listed_tested_and_removed(Some(url))
    });
}
