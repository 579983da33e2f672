//! Time inside the engine: UTC microseconds since the Unix epoch.
//!
//! The public API takes and returns `chrono::DateTime<Utc>`; the engine stores `i64`
//! microseconds so a state fits in a few words. Sub-microsecond parts of a time are
//! truncated (towards the past).

use chrono::{DateTime, Utc};

use crate::Error;

/// Microseconds since 1970-01-01T00:00:00Z.
pub(crate) type Micros = i64;

/// `t` as microseconds since the epoch.
pub(crate) fn to_micros(t: DateTime<Utc>) -> Micros {
    // `timestamp_micros` floors sub-microsecond parts and covers ±292 000 years.
    t.timestamp_micros()
}

/// Microseconds back to a UTC time (saturating at chrono's range).
pub(crate) fn from_micros(us: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(if us < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// A duration as microseconds, refusing durations that do not fit.
pub(crate) fn duration_micros(d: std::time::Duration) -> Result<Micros, Error> {
    i64::try_from(d.as_micros()).map_err(|_| Error::TimeRange(format!("{d:?}")))
}

/// Parse a humantime duration (`"5m"`, `"1h 30m"`, `"90s"`, `"0s"`).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("expected a duration such as \"90s\", \"5m\" or \"1h 30m\", found {text:?} ({e})")
    })
}
