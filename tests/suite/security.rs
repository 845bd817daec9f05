//! quality.md Security 1 and 7: tokens exist only as digests at rest; passwords are
//! Argon2id at the required parameters; secrets never reach the audit trail.

use argon2::password_hash::PasswordHash;
use sha2::{Digest, Sha256};
use tether::domain::role::Role;
use tether::domain::session::SessionKind;

use crate::common::{TestApp, GOOD_PASSWORD};

crate::on_both_engines!(
    only_the_sha256_of_a_token_is_stored,
    passwords_are_stored_as_argon2id_at_the_required_parameters,
    no_token_or_password_appears_in_the_audit_trail,
);

async fn only_the_sha256_of_a_token_is_stored(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_digest FROM invites")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    let expected: [u8; 32] = Sha256::digest(issued.token.expose().as_bytes()).into();
    assert_eq!(stored, expected.to_vec());
}

async fn passwords_are_stored_as_argon2id_at_the_required_parameters(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    app.user("alice@acme.com", &acme, Role::ClientUser).await;
    let phc: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    let parsed = PasswordHash::new(&phc).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert_eq!(parsed.params.get_decimal("m"), Some(19_456));
    assert_eq!(parsed.params.get_decimal("t"), Some(2));
    assert_eq!(parsed.params.get_decimal("p"), Some(1));
    assert!(!phc.contains(GOOD_PASSWORD));
}

async fn no_token_or_password_appears_in_the_audit_trail(app: TestApp) {
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let accepted = app.accept(issued.token.expose(), "Alice").await.unwrap();
    let _ = app
        .tether
        .sign_in(
            "alice@acme.com",
            "a wrong password",
            None,
            SessionKind::Api,
            None,
        )
        .await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT action, detail FROM audit_events")
        .fetch_all(app.db.reader())
        .await
        .unwrap();
    assert!(rows.len() >= 4);
    for (action, detail) in rows {
        for secret in [
            issued.token.expose(),
            accepted.session.token.expose(),
            GOOD_PASSWORD,
            "a wrong password",
        ] {
            assert!(
                !detail.contains(secret),
                "{action} leaks a secret: {detail}"
            );
        }
    }
}

/// The token string appears nowhere in the SQLite file or its write-ahead log.
#[tokio::test]
async fn the_token_string_is_nowhere_in_the_sqlite_file() {
    let app = TestApp::sqlite().await;
    let acme = app.client("Acme Corp", "acme").await;
    let issued = app.invite("alice@acme.com", &acme, Role::ClientUser).await;
    let accepted = app.accept(issued.token.expose(), "Alice").await.unwrap();
    let dir = app.dir.as_ref().unwrap().path().to_owned();
    let mut bytes = Vec::new();
    for file in ["tether.db", "tether.db-wal"] {
        if let Ok(content) = std::fs::read(dir.join(file)) {
            bytes.extend(content);
        }
    }
    assert!(bytes.len() > 4096, "the database files were read");
    assert!(
        bytes
            .windows(b"alice@acme.com".len())
            .any(|w| w == b"alice@acme.com"),
        "the search would find text that is there"
    );
    for secret in [issued.token.expose(), accepted.session.token.expose()] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a token is stored in the clear"
        );
    }
}
