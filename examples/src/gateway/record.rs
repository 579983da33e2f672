//! The recording interval: which live readings are stored.

use std::collections::HashMap;

use modbus_devices::poll::Cycle;

/// Keeps a point's reading at the first cycle of each recording interval, the intervals
/// aligned to the wall clock (UTC): with 15 min, the first good reading at or after :00,
/// :15, :30 and :45 of each hour.
#[derive(Debug)]
pub struct Recorder {
    interval_s: i64,
    last: HashMap<String, i64>,
}

impl Recorder {
    /// A recorder for `interval` (whole seconds, at least 1).
    pub fn new(interval: std::time::Duration) -> Recorder {
        Recorder {
            interval_s: i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1),
            last: HashMap::new(),
        }
    }

    /// The readings of `cycle` to store: each good point's first reading in its interval
    /// (the interval of the cycle's start). The others are left out.
    pub fn select(&mut self, cycle: &Cycle) -> Cycle {
        let slot = cycle.started.timestamp().div_euclid(self.interval_s);
        let readings = cycle
            .readings
            .iter()
            .filter(|r| r.quality == modbus_devices::Quality::Good)
            .filter(|r| {
                let name = r.point();
                if self.last.get(&name) == Some(&slot) {
                    false
                } else {
                    self.last.insert(name, slot);
                    true
                }
            })
            .cloned()
            .collect();
        Cycle {
            number: cycle.number,
            started: cycle.started,
            finished: cycle.finished,
            readings,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeZone, Utc};
    use modbus_devices::{Quality, Reading, Value};

    fn cycle(h: u32, m: u32, s: u32, quality: Quality) -> Cycle {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap();
        Cycle {
            number: 0,
            started: t,
            finished: t,
            readings: vec![Reading {
                device: "main".into(),
                service: "p".into(),
                value: (quality == Quality::Good).then_some(Value::Number(1.0)),
                unit: modbus_devices::Unit::W,
                timestamp: t,
                quality,
            }],
        }
    }

    #[test]
    fn one_reading_per_wall_clock_interval() {
        let mut r = Recorder::new(std::time::Duration::from_secs(900));
        let kept = |r: &mut Recorder, h, m, s, q| r.select(&cycle(h, m, s, q)).readings.len();
        assert_eq!(kept(&mut r, 10, 14, 50, Quality::Good), 1);
        assert_eq!(kept(&mut r, 10, 14, 59, Quality::Good), 0);
        // a failed read at the start of an interval does not use it up
        assert_eq!(kept(&mut r, 10, 15, 0, Quality::NoAnswer), 0);
        assert_eq!(kept(&mut r, 10, 15, 10, Quality::Good), 1);
        assert_eq!(kept(&mut r, 10, 29, 59, Quality::Good), 0);
        assert_eq!(kept(&mut r, 10, 30, 0, Quality::Good), 1);
    }
}
