//! Time as the rules see it: a `Timestamp` in Unix milliseconds, read from a `Clock` that
//! is passed in, so that tests move time instead of sleeping (quality.md Reliability 6).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::OffsetDateTime;

/// A point in time, in milliseconds since the Unix epoch (UTC). Stored as an integer so
/// that SQLite and PostgreSQL read and write it identically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    pub fn minus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(millis))
    }

    fn to_datetime(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC at whole seconds, as api.md writes times: `2026-11-23T10:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        self.to_datetime()
            .format(&format)
            .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
    }

    /// A date a person reads: `23 Nov 2026`.
    pub fn to_date(self) -> String {
        let format = format_description!("[day padding:none] [month repr:short] [year]");
        self.to_datetime().format(&format).unwrap_or_default()
    }

    /// A date and time a person reads: `23 Nov 2026, 10:00 UTC`.
    pub fn to_date_time(self) -> String {
        let format = format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        );
        self.to_datetime().format(&format).unwrap_or_default()
    }
}

/// Where the rules read the time from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until told to move: for tests of expiry and session lifetimes.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.millis()))
    }

    pub fn set(&self, to: Timestamp) {
        self.0.store(to.millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let now = Timestamp(self.0.load(Ordering::SeqCst));
        self.set(now.plus(by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_api_md_writes_times() {
        let t = Timestamp::from_millis(1_795_428_000_000);
        assert_eq!(t.to_rfc3339(), "2026-11-23T10:00:00Z");
        assert_eq!(t.to_date(), "23 Nov 2026");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        assert_eq!(clock.now(), Timestamp::from_millis(1_000));
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now(), Timestamp::from_millis(3_000));
    }
}
