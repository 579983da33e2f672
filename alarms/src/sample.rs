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

/// What a sample carries: a value or why there is none (the workspace's quality words, see
/// ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleValue {
    /// A measured value. A non-finite number counts as [`SampleValue::Invalid`].
    Number(f64),
    /// A binary value (`true` is 1, `false` is 0).
    Bool(bool),
    /// The device answered and says it has no value (its "not available" sentinel). The value
    /// is unknown, as with [`SampleValue::Invalid`], but the communication succeeded: offline
    /// alarms count it as an answer.
    NotAvailable,
    /// No answer this time (timeout, connection failure, frame or CRC error; an empty CSV
    /// cell). The value is unknown and the communication failed.
    NoAnswer,
    /// The device answered but the value cannot be used (exception response, a value that
    /// does not decode or is flagged invalid, a non-finite number). The value is unknown and,
    /// for offline alarms, this is not a successful communication.
    Invalid,
}

/// The quality of a stored sample (one byte of [`AlarmSample`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Quality {
    /// A value was read.
    Good = 0,
    /// No answer.
    NoAnswer = 1,
    /// Answered, value unusable.
    Invalid = 2,
    /// Answered without a value.
    NotAvailable = 3,
}

impl Quality {
    /// Whether the sample is a successful communication for offline detection.
    #[inline]
    pub(crate) fn communicates(self) -> bool {
        matches!(self, Quality::Good | Quality::NotAvailable)
    }
}

/// One sample: a point, a UTC time and a reading. 24 bytes, `Copy`, so batches are plain
/// slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlarmSample {
    pub(crate) time: Micros,
    /// NaN unless the quality is good.
    pub(crate) value: f64,
    pub(crate) point: u32,
    pub(crate) quality: Quality,
}

impl AlarmSample {
    /// A sample at `time` (truncated to the microsecond).
    ///
    /// ```
    /// use alarms::{AlarmSample, PointId, SampleValue};
    /// # fn demo(p: PointId) {
    /// let s = AlarmSample::new(p, chrono::Utc::now(), SampleValue::Number(21.5));
    /// assert_eq!(s.value(), Some(21.5));
    /// # }
    /// ```
    pub fn new(point: PointId, time: DateTime<Utc>, reading: SampleValue) -> AlarmSample {
        AlarmSample::from_unix_micros(point, to_micros(time), reading)
    }

    /// A sample at `micros` microseconds after the Unix epoch.
    pub fn from_unix_micros(point: PointId, micros: i64, reading: SampleValue) -> AlarmSample {
        let (value, quality) = match reading {
            SampleValue::Number(v) if v.is_finite() => (v, Quality::Good),
            SampleValue::Number(_) | SampleValue::Invalid => (f64::NAN, Quality::Invalid),
            SampleValue::Bool(b) => (if b { 1.0 } else { 0.0 }, Quality::Good),
            SampleValue::NotAvailable => (f64::NAN, Quality::NotAvailable),
            SampleValue::NoAnswer => (f64::NAN, Quality::NoAnswer),
        };
        AlarmSample {
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
        (self.quality == Quality::Good).then_some(self.value)
    }

    /// The value, NaN when there is none (for tight loops).
    #[inline]
    pub fn raw_value(&self) -> f64 {
        self.value
    }

    /// Whether the sample carries a value ([`SampleValue::Number`] or [`SampleValue::Bool`]).
    pub fn is_good(&self) -> bool {
        self.quality == Quality::Good
    }

    /// Whether the sample is a successful communication: a value or
    /// [`SampleValue::NotAvailable`]. This is what offline alarms count.
    pub fn is_communication(&self) -> bool {
        self.quality.communicates()
    }

    /// Whether the sample is [`SampleValue::NoAnswer`] (as opposed to a value that is not
    /// available or invalid).
    pub fn is_no_answer(&self) -> bool {
        self.quality == Quality::NoAnswer
    }
}
