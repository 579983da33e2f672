//! The simulator's clock: real time, or a manual clock that tests move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The time source of a [`super::Simulator`]: every value it serves is a function of this
/// clock's time, and energy counters integrate power between two readings of it.
///
/// A manual clock only moves when told to, so a test can read a counter, advance the clock
/// by exactly one hour and read it again. Clones share the same time.
///
/// ```
/// use modbus_devices::sim::SimClock;
/// use std::time::Duration;
///
/// let start = chrono::DateTime::parse_from_rfc3339("2024-03-01T12:00:00Z").unwrap().to_utc();
/// let clock = SimClock::manual(start);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!((shared.now() - start).num_seconds(), 90);
/// assert!(!SimClock::real().is_manual());
/// ```
#[derive(Debug, Clone)]
pub struct SimClock {
    manual: Option<Arc<AtomicI64>>,
}

impl SimClock {
    /// The system clock (UTC).
    pub fn real() -> Self {
        Self { manual: None }
    }

    /// A manual clock starting at `start` (microsecond resolution).
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(start.timestamp_micros()))),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(t) => {
                let micros = t.load(Ordering::SeqCst);
                Utc.timestamp_micros(micros)
                    .single()
                    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            }
        }
    }

    /// Move a manual clock forward; returns `false` (and does nothing) on the real clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.manual {
            None => false,
            Some(t) => {
                let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
                // fetch_update never fails with a closure returning Some.
                let _ = t.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                    Some(v.saturating_add(micros))
                });
                true
            }
        }
    }

    /// Set a manual clock to `time`; returns `false` (and does nothing) on the real clock.
    ///
    /// Setting it back in time is allowed, but energy counters never run backwards: they
    /// only integrate over time that has not been integrated yet.
    pub fn set(&self, time: DateTime<Utc>) -> bool {
        match &self.manual {
            None => false,
            Some(t) => {
                t.store(time.timestamp_micros(), Ordering::SeqCst);
                true
            }
        }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::real()
    }
}
