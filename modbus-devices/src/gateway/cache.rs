//! The read cache: answers to reads kept for a maximum age per register range; writes
//! invalidate the entries whose registers they touch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_modbus::{Request, Response};

/// The maximum age of cached answers for one register range of one function code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheRule {
    /// Read function code the rule applies to (1, 2, 3 or 4).
    pub function: u8,
    /// First register (0-based address).
    pub first: u16,
    /// Last register, inclusive.
    pub last: u16,
    /// Longest an answer is served from the cache, in ms (0: never cached).
    pub max_age_ms: u64,
}

/// Cache settings: a default maximum age for every read, and rules per register range. A
/// read is cached with the smallest maximum age of the rules that overlap its range, or the
/// default when none does.
///
/// ```
/// use modbus_devices::gateway::{CacheConfig, CacheRule};
/// let cache = CacheConfig {
///     default_max_age_ms: 1000,
///     rules: vec![CacheRule { function: 3, first: 0x5000, last: 0x50FF, max_age_ms: 0 }],
/// };
/// assert_eq!(cache.max_age(3, 0xB000, 10), std::time::Duration::from_millis(1000));
/// assert_eq!(cache.max_age(3, 0x4FF0, 32), std::time::Duration::ZERO); // overlaps the rule
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Maximum age of reads no rule covers, in ms (0: not cached).
    #[serde(default)]
    pub default_max_age_ms: u64,
    /// Rules per register range.
    #[serde(default)]
    pub rules: Vec<CacheRule>,
}

impl CacheConfig {
    /// Every read cached for `ms` milliseconds.
    pub fn all(ms: u64) -> Self {
        Self {
            default_max_age_ms: ms,
            rules: Vec::new(),
        }
    }

    /// The maximum age for a read of `count` items at `addr` with `function`.
    pub fn max_age(&self, function: u8, addr: u16, count: u16) -> Duration {
        let end = u32::from(addr) + u32::from(count.max(1)) - 1;
        self.rules
            .iter()
            .filter(|r| {
                r.function == function
                    && u32::from(r.first) <= end
                    && u32::from(addr) <= u32::from(r.last)
            })
            .map(|r| r.max_age_ms)
            .min()
            .map_or(Duration::from_millis(self.default_max_age_ms), |ms| {
                Duration::from_millis(ms)
            })
    }

    /// Whether anything can be cached.
    pub fn enabled(&self) -> bool {
        self.default_max_age_ms > 0 || self.rules.iter().any(|r| r.max_age_ms > 0)
    }
}

/// What a cached read is: downstream unit, function, address, count.
type Key = (u8, u8, u16, u16);

/// The cache of one bus.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    entries: HashMap<Key, (Instant, Response)>,
}

/// The cache key of a read; `None` for requests that are not plain reads.
pub(crate) fn read_key(unit: u8, request: &Request<'_>) -> Option<Key> {
    Some(match request {
        Request::ReadCoils(a, n) => (unit, 1, *a, *n),
        Request::ReadDiscreteInputs(a, n) => (unit, 2, *a, *n),
        Request::ReadHoldingRegisters(a, n) => (unit, 3, *a, *n),
        Request::ReadInputRegisters(a, n) => (unit, 4, *a, *n),
        _ => return None,
    })
}

/// The address range a write touches (first, count) and whether it writes coils.
pub(crate) fn write_range(request: &Request<'_>) -> Option<(u16, u16, bool)> {
    Some(match request {
        Request::WriteSingleCoil(a, _) => (*a, 1, true),
        Request::WriteMultipleCoils(a, v) => (*a, u16::try_from(v.len()).unwrap_or(u16::MAX), true),
        Request::WriteSingleRegister(a, _) => (*a, 1, false),
        Request::WriteMultipleRegisters(a, v) | Request::ReadWriteMultipleRegisters(_, _, a, v) => {
            (*a, u16::try_from(v.len()).unwrap_or(u16::MAX), false)
        }
        Request::MaskWriteRegister(a, _, _) => (*a, 1, false),
        _ => return None,
    })
}

fn overlaps(a: u16, n: u16, b: u16, m: u16) -> bool {
    let (a, b) = (u32::from(a), u32::from(b));
    a < b + u32::from(m.max(1)) && b < a + u32::from(n.max(1))
}

impl ReadCache {
    /// A fresh answer for `key`, if one is younger than `max_age`.
    pub(crate) fn get(&self, key: &Key, max_age: Duration, now: Instant) -> Option<Response> {
        let (at, response) = self.entries.get(key)?;
        (now.saturating_duration_since(*at) < max_age).then(|| response.clone())
    }

    pub(crate) fn put(&mut self, key: Key, at: Instant, response: Response) {
        self.entries.insert(key, (at, response));
    }

    /// Drop what a write to `unit` (0: broadcast, every unit) touches. Register writes
    /// invalidate cached register reads (FC3, FC4) of the range, coil writes cached bit
    /// reads (FC1, FC2).
    pub(crate) fn invalidate(&mut self, unit: u8, request: &Request<'_>) {
        let Some((addr, count, coils)) = write_range(request) else {
            return;
        };
        self.entries.retain(|&(u, fc, a, n), _| {
            let same_unit = unit == 0 || u == unit;
            let same_table = if coils { fc <= 2 } else { fc >= 3 };
            !(same_unit && same_table && overlaps(a, n, addr, count))
        });
    }

    /// Drop old entries (bounded memory).
    pub(crate) fn expire(&mut self, now: Instant, longest: Duration) {
        self.entries
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < longest);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn writes_invalidate_only_what_they_touch() {
        let mut c = ReadCache::default();
        let t = Instant::now();
        let r = Response::ReadHoldingRegisters(vec![1, 2]);
        c.put((1, 3, 100, 2), t, r.clone());
        c.put((1, 3, 200, 2), t, r.clone());
        c.put((2, 3, 100, 2), t, r.clone());
        c.put((1, 1, 100, 2), t, Response::ReadCoils(vec![true, false]));
        let age = Duration::from_secs(1);
        c.invalidate(1, &Request::WriteSingleRegister(101, 7));
        assert!(c.get(&(1, 3, 100, 2), age, t).is_none());
        assert!(c.get(&(1, 3, 200, 2), age, t).is_some());
        assert!(c.get(&(2, 3, 100, 2), age, t).is_some());
        assert!(c.get(&(1, 1, 100, 2), age, t).is_some(), "a coil read");
        c.invalidate(
            0,
            &Request::WriteMultipleRegisters(199, Cow::Owned(vec![0, 0])),
        );
        assert!(c.get(&(1, 3, 200, 2), age, t).is_none());
        assert_eq!(c.len(), 2);
        assert!(
            c.get(&(2, 3, 100, 2), Duration::ZERO, t).is_none(),
            "too old"
        );
    }
}
