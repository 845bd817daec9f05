//! Time as the rules see it: a `Timestamp` in Unix milliseconds, read from a `Clock` that
//! is passed in, so that tests move time instead of sleeping (quality.md Reliability 6).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::{Date, OffsetDateTime};

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

    /// The start (00:00 UTC) of a day written as `2026-11-23`, as a date field sends it.
    pub fn from_date(date: &str) -> Option<Self> {
        let format = format_description!("[year]-[month]-[day]");
        let day = Date::parse(date.trim(), &format).ok()?;
        let nanos = day.midnight().assume_utc().unix_timestamp_nanos();
        i64::try_from(nanos / 1_000_000).ok().map(Self)
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

    /// How far this time is from `now`, in the largest whole unit, for a person: "in 3 days",
    /// "2 hours ago", "just now".
    pub fn relative_to(self, now: Timestamp) -> String {
        let seconds = (self.0 - now.0) / 1000;
        let (amount, future) = (seconds.unsigned_abs(), seconds > 0);
        let (count, unit) = match amount {
            0..=59 => return String::from("just now"),
            60..=3_599 => (amount / 60, "minute"),
            3_600..=86_399 => (amount / 3_600, "hour"),
            _ => (amount / 86_400, "day"),
        };
        let plural = if count == 1 { "" } else { "s" };
        if future {
            format!("in {count} {unit}{plural}")
        } else {
            format!("{count} {unit}{plural} ago")
        }
    }

    /// A date and time with how far it is from `now`: `26 Nov 2026, 10:00 UTC (in 3 days)`.
    pub fn to_date_time_from(self, now: Timestamp) -> String {
        format!("{} ({})", self.to_date_time(), self.relative_to(now))
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
    fn says_how_far_a_time_is_in_its_largest_whole_unit() {
        let now = Timestamp::from_millis(1_795_428_000_000);
        let later = |seconds: i64| Timestamp::from_millis(now.millis() + seconds * 1000);
        assert_eq!(later(30).relative_to(now), "just now");
        assert_eq!(later(-59).relative_to(now), "just now");
        assert_eq!(later(60).relative_to(now), "in 1 minute");
        assert_eq!(later(-2 * 3600).relative_to(now), "2 hours ago");
        assert_eq!(later(3 * 86_400).relative_to(now), "in 3 days");
        assert_eq!(later(86_399).relative_to(now), "in 23 hours");
        assert_eq!(
            later(3 * 86_400).to_date_time_from(now),
            "26 Nov 2026, 10:00 UTC (in 3 days)"
        );
    }

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
