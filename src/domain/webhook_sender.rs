//! Posting a signed event to a webhook endpoint (delivery.md §14) with reqwest: 15 seconds at
//! most, no redirects followed, no proxy taken from the environment, the answer's body read
//! to at most 64 KiB and dropped. Every address a name resolves to is checked by the
//! destination policy before the connection is made, and the connection goes to those
//! checked addresses (the resolver below), so a name that points inside the network at
//! delivery time is refused even if it pointed outside when the endpoint was saved.

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};

use super::destination::{DestinationPolicy, DestinationRefusal};
use super::error::{Error, Result};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// How much of an answer's body is read before it is dropped; nothing in it is used.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The longest `Retry-After` honoured: the schedule's own longest wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Sends webhook deliveries.
pub struct WebhookSender {
    client: reqwest::Client,
    policy: DestinationPolicy,
}

/// The headers that make a delivery verifiable.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub status: u16,
    /// Its `Retry-After`, on a 429 or 503.
    pub retry_after: Option<Duration>,
}

impl Answered {
    pub fn success(self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A refused address, carried through reqwest's error so that the sentence can name it.
#[derive(Debug)]
struct Refused(DestinationRefusal);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Refused {}

/// Resolves a name with the system resolver and lets the connection go only to addresses
/// the policy admits; if any address of the name is refused, the name is.
struct CheckedResolver {
    policy: DestinationPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for address in &found {
                policy.check_address(address.ip()).map_err(|refusal| {
                    Box::new(Refused(refusal)) as Box<dyn StdError + Send + Sync>
                })?;
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl WebhookSender {
    pub fn new(policy: DestinationPolicy) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { policy }))
            .user_agent(concat!("Tether-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("the webhook client could not be built: {e}")))?;
        Ok(Self { client, policy })
    }

    /// Posts `body` to `url`; `Err` with a sentence when no answer came (a refused
    /// destination, a connection that failed, a timeout).
    pub async fn post(
        &self,
        url: &str,
        signed: &Signed<'_>,
        body: String,
    ) -> Result<Answered, String> {
        // The URL was checked when saved; checked again, as the rules may have tightened
        // since, and a literal address never reaches the resolver.
        let url = self
            .policy
            .check_url(url)
            .map_err(|refusal| format!("The endpoint's URL is refused: {refusal}."))?;
        let header = |value: &str| {
            HeaderValue::from_str(value).map_err(|_| String::from("A header could not be written."))
        };
        let mut response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", header(signed.id)?)
            .header("webhook-timestamp", HeaderValue::from(signed.timestamp))
            .header("webhook-signature", header(signed.signature)?)
            .body(body)
            .send()
            .await
            .map_err(failure_sentence)?;
        let status = response.status().as_u16();
        let retry_after = match status {
            429 | 503 => response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(retry_after),
            _ => None,
        };
        let mut read = 0;
        while read < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                // The answer's body is not used: a short or broken one changes nothing.
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Answered {
            status,
            retry_after,
        })
    }
}

/// A `Retry-After` in seconds, or as an HTTP date, as a wait from now.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at =
                time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
                    .ok()?;
            let seconds = (at - time::OffsetDateTime::now_utc()).whole_seconds();
            Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Why a request got no answer, for people; never with the URL (it may carry a receiver's
/// own token).
fn failure_sentence(error: reqwest::Error) -> String {
    let mut source = StdError::source(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return format!("The endpoint's address is refused: {refused}.");
        }
        source = cause.source();
    }
    if error.is_timeout() {
        format!(
            "The receiver did not answer within {} seconds.",
            TIMEOUT.as_secs()
        )
    } else if error.is_connect() {
        // The innermost cause says what happened ("Connection refused"); the outer ones
        // only that connecting failed.
        let mut innermost = StdError::source(&error);
        while let Some(next) = innermost.and_then(StdError::source) {
            innermost = Some(next);
        }
        let cause = innermost
            .map(|cause| format!(": {cause}"))
            .unwrap_or_default();
        format!("Could not connect to the receiver{cause}.")
    } else {
        format!("The request failed: {}.", error.without_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date_and_capped() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("9999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }
}
