//! Samples and readings fed to the engine.

use chrono::{DateTime, Utc};

use crate::time::{Micros, from_micros, to_micros};

/// Index of a point in the engine's point list (see [`crate::Engine::point_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PointId(pub(crate) u32);

impl PointId {
    /// The index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a sample carries: a value or a quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// A measured value. A non-finite number counts as [`Reading::Bad`].
    Number(f64),
    /// A binary value (`true` is 1, `false` is 0).
    Bool(bool),
    /// No value this time (a poll that got no answer, an empty CSV cell).
    Missing,
    /// The device answered but flagged the value bad.
    Bad,
}

pub(crate) const GOOD: u8 = 0;
pub(crate) const MISSING: u8 = 1;
pub(crate) const BAD: u8 = 2;

/// One sample: a point, a UTC time and a reading. 24 bytes, `Copy`, so batches are plain
/// slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub(crate) time: Micros,
    /// NaN unless the quality is good.
    pub(crate) value: f64,
    pub(crate) point: u32,
    pub(crate) quality: u8,
}

impl Sample {
    /// A sample at `time` (truncated to the microsecond).
    ///
    /// ```
    /// use alarms::{PointId, Reading, Sample};
    /// # fn demo(p: PointId) {
    /// let s = Sample::new(p, chrono::Utc::now(), Reading::Number(21.5));
    /// assert_eq!(s.value(), Some(21.5));
    /// # }
    /// ```
    pub fn new(point: PointId, time: DateTime<Utc>, reading: Reading) -> Sample {
        Sample::from_unix_micros(point, to_micros(time), reading)
    }

    /// A sample at `micros` microseconds after the Unix epoch.
    pub fn from_unix_micros(point: PointId, micros: i64, reading: Reading) -> Sample {
        let (value, quality) = match reading {
            Reading::Number(v) if v.is_finite() => (v, GOOD),
            Reading::Number(_) | Reading::Bad => (f64::NAN, BAD),
            Reading::Bool(b) => (if b { 1.0 } else { 0.0 }, GOOD),
            Reading::Missing => (f64::NAN, MISSING),
        };
        Sample {
            time: micros,
            value,
            point: point.0,
            quality,
        }
    }

    /// The point.
    pub fn point(&self) -> PointId {
        PointId(self.point)
    }

    /// The time.
    pub fn time(&self) -> DateTime<Utc> {
        from_micros(self.time)
    }

    /// The time in microseconds after the Unix epoch.
    pub fn time_micros(&self) -> i64 {
        self.time
    }

    /// The value if the quality is good.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        (self.quality == GOOD).then_some(self.value)
    }

    /// The value, NaN when missing or bad (for tight loops).
    #[inline]
    pub fn raw_value(&self) -> f64 {
        self.value
    }

    /// Whether the sample carries a good value (a successful communication).
    pub fn is_good(&self) -> bool {
        self.quality == GOOD
    }

    /// Whether the value is missing (as opposed to bad).
    pub fn is_missing(&self) -> bool {
        self.quality == MISSING
    }
}
