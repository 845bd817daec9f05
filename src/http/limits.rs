//! Rate limits for sign-in (per client IP and per email) and for the public invite-link
//! endpoints (per client IP), answered with `429 rate_limited` and `Retry-After`. Counters
//! live in the process (product.md §6): behind N processes the effective limit is N times
//! the configured one, which still stops guessing at scale.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

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
    sign_in_per_email: Arc<DefaultKeyedRateLimiter<String>>,
    invite_links_per_ip: Arc<DefaultKeyedRateLimiter<Option<IpAddr>>>,
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
            clock: DefaultClock::default(),
        }
    }

    /// One sign-in attempt from `ip` for `email` (normalised as the domain does, so that
    /// case variants share a counter).
    pub fn sign_in(&self, ip: Option<IpAddr>, email: &str) -> Result<(), Error> {
        self.check(&self.sign_in_per_ip, &ip)?;
        self.check(&self.sign_in_per_email, &email.trim().to_lowercase())
    }

    /// One request to a public invite-link endpoint from `ip`.
    pub fn invite_link(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.check(&self.invite_links_per_ip, &ip)
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
}
