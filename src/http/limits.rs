//! Rate limits for sign-in and for asking for a password reset link (each per client IP and
//! per email) and for the public invite-link and reset-link endpoints (per client IP), answered with `429 rate_limited` and `Retry-After`. Counters
//! live in the process (product.md §6): behind N processes the effective limit is N times
//! the configured one, which still stops guessing at scale.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::email::Email;
use crate::domain::error::Error;

/// Attempts allowed per minute, as a burst that refills evenly over the minute. The
/// defaults are `tether serve`'s flags (`--sign-in-limit` and its neighbours).
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub sign_in_per_ip: u32,
    pub sign_in_per_email: u32,
    pub invite_links_per_ip: u32,
}

#[derive(Clone)]
pub struct RateLimits {
    sign_in_per_ip: Arc<DefaultKeyedRateLimiter<Option<IpAddr>>>,
    sign_in_per_email: Arc<DefaultKeyedRateLimiter<Email>>,
    invite_links_per_ip: Arc<DefaultKeyedRateLimiter<Option<IpAddr>>>,
    /// Asking for a reset link sends an e-mail: counted apart from sign-in, at its rates, so
    /// that neither starves the other.
    resets_per_ip: Arc<DefaultKeyedRateLimiter<Option<IpAddr>>>,
    resets_per_email: Arc<DefaultKeyedRateLimiter<Email>>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            sign_in_per_ip: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                settings.sign_in_per_ip,
            ))),
            sign_in_per_email: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                settings.sign_in_per_email,
            ))),
            invite_links_per_ip: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                settings.invite_links_per_ip,
            ))),
            resets_per_ip: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                settings.sign_in_per_ip,
            ))),
            resets_per_email: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute(
                settings.sign_in_per_email,
            ))),
            clock: DefaultClock::default(),
        }
    }

    /// One sign-in attempt from `ip` for `email`. The email counter is keyed on the parsed
    /// address, so spellings of one address share it and a key is at most 254 characters
    /// whatever was sent; what is not an address cannot sign in, and only the IP counts it.
    pub fn sign_in(&self, ip: Option<IpAddr>, email: &str) -> Result<(), Error> {
        self.check(&self.sign_in_per_ip, &client_key(ip))?;
        match Email::parse(email) {
            Ok(email) => self.check(&self.sign_in_per_email, &email),
            Err(_) => Ok(()),
        }
    }

    /// One request for a password reset link from `ip` for `email`, keyed as sign-in is.
    pub fn password_reset(&self, ip: Option<IpAddr>, email: &str) -> Result<(), Error> {
        self.check(&self.resets_per_ip, &client_key(ip))?;
        match Email::parse(email) {
            Ok(email) => self.check(&self.resets_per_email, &email),
            Err(_) => Ok(()),
        }
    }

    /// One request to a public invite-link or reset-link endpoint (the API's or the page's)
    /// from `ip`.
    pub fn invite_link(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.check(&self.invite_links_per_ip, &client_key(ip))
    }

    fn check<K: Clone + std::hash::Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), Error> {
        limiter
            .check_key(key)
            .map_err(|not_until| Error::RateLimited {
                retry_after_secs: not_until.wait_time_from(self.clock.now()).as_secs() + 1,
            })
    }

    /// Forgets keys whose limits have fully refilled, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.sign_in_per_ip.retain_recent();
        self.sign_in_per_email.retain_recent();
        self.invite_links_per_ip.retain_recent();
        self.resets_per_ip.retain_recent();
        self.resets_per_email.retain_recent();
    }
}

/// The key a client is counted under. An IPv6 client is usually given a whole /64 and can
/// pick any address in it, so the /64 is one client.
fn client_key(ip: Option<IpAddr>) -> Option<IpAddr> {
    match ip? {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            Some(IpAddr::V6(Ipv6Addr::from(network)))
        }
        v4 => Some(v4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_sign_in_for_one_email_is_refused_with_a_wait() {
        let limits = RateLimits::new(LimitSettings {
            sign_in_per_ip: 20,
            sign_in_per_email: 5,
            invite_links_per_ip: 60,
        });
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..5 {
            limits.sign_in(ip, "alice@acme.com").unwrap();
        }
        let refused = limits.sign_in(ip, "ALICE@acme.com ");
        assert!(
            matches!(refused, Err(Error::RateLimited { retry_after_secs }) if retry_after_secs >= 1)
        );
        assert!(limits.sign_in(ip, "bob@acme.com").is_ok());
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limits = RateLimits::new(LimitSettings {
            sign_in_per_ip: 2,
            sign_in_per_email: 100,
            invite_links_per_ip: 60,
        });
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert!(limits.sign_in(ip("2001:db8:1:2::1"), "a@acme.com").is_ok());
        assert!(limits
            .sign_in(ip("2001:db8:1:2:ffff::9"), "b@acme.com")
            .is_ok());
        assert!(limits
            .sign_in(ip("2001:db8:1:2:abcd::1"), "c@acme.com")
            .is_err());
        assert!(limits.sign_in(ip("2001:db8:1:3::1"), "d@acme.com").is_ok());
    }

    #[test]
    fn what_is_not_an_address_adds_no_email_key() {
        let limits = RateLimits::new(LimitSettings {
            sign_in_per_ip: 10_000,
            sign_in_per_email: 1,
            invite_links_per_ip: 60,
        });
        let huge = "x".repeat(2 << 20);
        for n in 0..300u32 {
            let ip = Some(IpAddr::from(n.to_be_bytes()));
            assert!(limits.sign_in(ip, &format!("{huge}{n}")).is_ok());
        }
        assert_eq!(limits.sign_in_per_email.len(), 0);
        // A real address still has its counter.
        assert!(limits.sign_in(None, "Alice@acme.com").is_ok());
        assert!(limits.sign_in(None, "alice@ACME.com").is_err());
        assert_eq!(limits.sign_in_per_email.len(), 1);
    }
}
