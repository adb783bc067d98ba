//! Time as whole Unix seconds, and the clock abstraction.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time as whole seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The epoch itself.
    pub const EPOCH: Self = Self(0);

    /// Time from seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// This time plus a duration, saturating at the end of representable time.
    pub fn saturating_add(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(secs))
    }

    /// This time minus a duration, saturating at the start of representable time.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(secs))
    }

    /// How long from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Self) -> Duration {
        Duration::from_secs(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A source of the current time. Protocol cores take one instead of reading the system clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// A clock that only moves when told to; for tests and replays.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock stopped at `t`.
    pub fn new(t: UnixTime) -> Self {
        Self(AtomicI64::new(t.as_secs()))
    }

    /// Move the clock to `t`.
    pub fn set(&self, t: UnixTime) {
        self.0.store(t.as_secs(), Ordering::SeqCst);
    }

    /// Move the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(i64::MAX - 1);
        assert_eq!(t.saturating_add(Duration::from_secs(10)).as_secs(), i64::MAX);
        assert_eq!(UnixTime::from_secs(i64::MIN + 1).saturating_sub(Duration::from_secs(5)).as_secs(), i64::MIN);
        assert_eq!(UnixTime::from_secs(10).until(UnixTime::from_secs(5)), Duration::ZERO);
        assert_eq!(UnixTime::from_secs(5).until(UnixTime::from_secs(65)), Duration::from_secs(60));
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(UnixTime::from_secs(100));
        assert_eq!(c.now().as_secs(), 100);
        c.advance(Duration::from_secs(30));
        assert_eq!(c.now().as_secs(), 130);
        c.set(UnixTime::from_secs(7));
        assert_eq!(c.now().as_secs(), 7);
    }
}
