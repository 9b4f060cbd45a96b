//! Time: one injectable clock for the whole server, so tests can move it to check recovery windows,
//! rotation schedules, credential expiry and signature skew without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC. AWS's JSON protocols put timestamps on the wire as epoch
/// seconds with fractional milliseconds, so millisecond precision is all that is ever kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

const DAY_MS: i64 = 86_400_000;

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    /// Epoch seconds as a JSON number, e.g. `1524085349.095`.
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
    pub fn plus_days(self, days: i64) -> Self {
        self.plus_millis(days.saturating_mul(DAY_MS))
    }
    /// Midnight UTC of the same day: `LastAccessedDate` has day resolution in AWS.
    pub fn start_of_day(self) -> Self {
        Timestamp(self.0.div_euclid(DAY_MS) * DAY_MS)
    }
    pub fn to_offset_date_time(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// The source of "now". Production uses [`SystemClock`]; tests inject a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// The time request signatures are checked against (and the `Date` header shows): `now`,
    /// except on a [`DevClock`] moved forward, where clients still sign with their own clock.
    fn signing_now(&self) -> Timestamp {
        self.now()
    }

    /// The dev server's movable clock, when this is one.
    fn dev_clock(&self) -> Option<&DevClock> {
        None
    }
}

/// The clock of a `--dev` server: another clock (the system's) plus an offset the operator moves
/// forward (`kinko dev clock advance 7d`), so that recovery windows, rotation schedules, key
/// deletions and credential expiry can be tried in seconds. It never moves back. Requests are
/// still signed by clients with their own clock: signatures are checked against the clock
/// underneath ([`Clock::signing_now`]), everything else against the moved one.
pub struct DevClock {
    inner: std::sync::Arc<dyn Clock>,
    offset_ms: AtomicI64,
}

impl std::fmt::Debug for DevClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevClock")
            .field("offset_ms", &self.offset_ms.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl DevClock {
    pub fn new(inner: std::sync::Arc<dyn Clock>) -> Self {
        DevClock {
            inner,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Moves the clock forward by `ms` (at least 0); the new offset from the clock underneath.
    pub fn advance(&self, ms: i64) -> i64 {
        let ms = ms.max(0);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst).saturating_add(ms)
    }

    /// How far ahead of the clock underneath it is.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for DevClock {
    fn now(&self) -> Timestamp {
        self.inner.now().plus_millis(self.offset_ms())
    }

    fn signing_now(&self) -> Timestamp {
        self.inner.signing_now()
    }

    fn dev_clock(&self) -> Option<&DevClock> {
        Some(self)
    }
}

/// Why a duration such as `7d` doesn't parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected a whole number and a unit, d, h, m or s (7d, 36h, 90m)")]
pub struct DurationError(pub String);

/// A duration written `<n>d`, `<n>h`, `<n>m` or `<n>s` (`7d`, `36h`, `90m`), in milliseconds; at
/// most 100 years.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let bad = || DurationError(text.to_owned());
    let t = text.trim();
    let unit_at = t.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = t.split_at(unit_at);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "d" => DAY_MS,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1000,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_ms)
        .filter(|ms| *ms <= 100 * 366 * DAY_MS)
        .ok_or_else(bad)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to. It starts at the system time unless given a start.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(AtomicI64::new(start.0))
    }
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
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
    fn day_truncation_and_seconds() {
        let t = Timestamp(1_524_085_349_095);
        assert_eq!(t.epoch_seconds(), 1_524_085_349.095);
        assert_eq!(t.start_of_day().0 % DAY_MS, 0);
        assert!(t.start_of_day() <= t && t.start_of_day().plus_days(1) > t);
    }

    #[test]
    fn durations_and_the_dev_clock() {
        assert_eq!(parse_duration("7d"), Ok(7 * DAY_MS));
        assert_eq!(parse_duration("36h"), Ok(36 * 3_600_000));
        assert_eq!(parse_duration("90m"), Ok(90 * 60_000));
        assert_eq!(parse_duration("5s"), Ok(5000));
        for bad in ["", "d", "7", "7w", "-1d", "1.5h", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let under = std::sync::Arc::new(ManualClock::new(Timestamp(1000)));
        let dev = DevClock::new(under.clone());
        assert_eq!(dev.advance(DAY_MS), DAY_MS);
        assert_eq!(dev.now(), Timestamp(1000 + DAY_MS));
        assert_eq!(
            dev.signing_now(),
            Timestamp(1000),
            "signatures go by the clock underneath"
        );
        assert_eq!(dev.advance(-5), DAY_MS, "never back");
        assert!(dev.dev_clock().is_some() && under.dev_clock().is_none());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp(1000));
        assert_eq!(c.now(), Timestamp(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Timestamp(3000));
    }
}
