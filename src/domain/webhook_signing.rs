//! Signing webhook deliveries (delivery.md §14) the Standard Webhooks way, with the
//! maintained `standardwebhooks` crate rather than HMAC code of our own: `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,{base64 HMAC-SHA256 of "{id}.{ts}.{body}"}`.

use std::fmt;

use base64::Engine;
use standardwebhooks::Webhook;

use super::error::{Error, Result};

const PREFIX: &str = "whsec_";

/// An endpoint's signing secret: `whsec_` and the base64 of 32 random bytes. Shown once, at
/// creation and rotation; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| Error::Internal(format!("no randomness for a webhook secret: {e}")))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        Ok(Self(format!("{PREFIX}{encoded}")))
    }

    /// A secret read back from its sealed copy.
    pub(crate) fn from_stored(secret: String) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// The `webhook-signature` header for a delivery: one `v1,…` signature per secret, separated
/// by spaces, so that after a rotation the receiver accepts the delivery with either the new
/// secret or, for its last 24 hours, the old one.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String> {
    let failed =
        |e: standardwebhooks::WebhookError| Error::Internal(format!("signing failed: {e}"));
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = Webhook::new(secret.expose()).map_err(failed)?;
        signatures.push(signer.sign(id, timestamp, body).map_err(failed)?);
    }
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_secret_is_whsec_and_32_random_bytes_and_never_debug_printed() {
        let one = WebhookSecret::generate().unwrap();
        let two = WebhookSecret::generate().unwrap();
        assert_ne!(one, two);
        let encoded = one.expose().strip_prefix("whsec_").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert!(!format!("{one:?}").contains(encoded));
    }

    #[test]
    fn a_signature_verifies_with_its_secret_and_a_rotation_sends_both() {
        let old = WebhookSecret::generate().unwrap();
        let new = WebhookSecret::generate().unwrap();
        let body = br#"{"type":"invite.created","timestamp":"2026-12-07T10:00:00Z","data":{}}"#;
        let (id, at) = ("17", now());
        let single = signature_header(&[&new], id, at, body).unwrap();
        assert!(single.starts_with("v1,") && !single.contains(' '));
        let receiver = |secret: &WebhookSecret| Webhook::new(secret.expose()).unwrap();
        assert!(receiver(&new)
            .verify(body, &headers(id, at, &single))
            .is_ok());
        assert!(receiver(&old)
            .verify(body, &headers(id, at, &single))
            .is_err());
        // A changed body, id or timestamp no longer verifies.
        assert!(receiver(&new)
            .verify(b"{}", &headers(id, at, &single))
            .is_err());
        assert!(receiver(&new)
            .verify(body, &headers("18", at, &single))
            .is_err());
        assert!(receiver(&new)
            .verify(body, &headers(id, at + 1, &single))
            .is_err());

        let both = signature_header(&[&new, &old], id, at, body).unwrap();
        assert_eq!(both.split(' ').count(), 2);
        for secret in [&new, &old] {
            assert!(receiver(secret)
                .verify(body, &headers(id, at, &both))
                .is_ok());
        }
        let stranger = WebhookSecret::generate().unwrap();
        assert!(receiver(&stranger)
            .verify(body, &headers(id, at, &both))
            .is_err());
    }
}
