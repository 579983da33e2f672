//! Channels and the [`Store`] trait any storage engine implements.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::aggregate::Aggregator;
use crate::codec::Sample;

/// Whether a channel's values are a running total or a momentary measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A cumulative counter (an index: energy, volume); consumption is its increase.
    Counter,
    /// An instantaneous value (temperature, power, voltage).
    Instantaneous,
}

impl ChannelKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Counter => "counter",
            ChannelKind::Instantaneous => "instantaneous",
        }
    }
    #[cfg_attr(
        not(feature = "sqlite"),
        allow(dead_code, reason = "used by the SQLite engine's streamed reads")
    )]
    pub(crate) fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "counter" => Ok(ChannelKind::Counter),
            "instantaneous" => Ok(ChannelKind::Instantaneous),
            other => Err(Error::invalid(
                "channel kind",
                "counter or instantaneous",
                format!("{other:?}"),
            )),
        }
    }
}

/// A recording interval: 5, 10, 15, 20, 30 or 50 minutes (15 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RecordingInterval(u32);

impl RecordingInterval {
    /// The allowed values, in minutes.
    pub const ALLOWED: [u32; 6] = [5, 10, 15, 20, 30, 50];

    /// An interval of `minutes`.
    ///
    /// # Errors
    /// [`Error::BadInterval`] unless `minutes` is 5, 10, 15, 20, 30 or 50.
    ///
    /// ```
    /// use reports::RecordingInterval;
    /// assert_eq!(RecordingInterval::minutes(15).unwrap().seconds(), 900);
    /// assert!(RecordingInterval::minutes(7).is_err());
    /// ```
    pub fn minutes(minutes: u32) -> Result<Self, Error> {
        if Self::ALLOWED.contains(&minutes) {
            Ok(RecordingInterval(minutes))
        } else {
            Err(Error::BadInterval { found: minutes })
        }
    }
    /// Minutes.
    pub fn as_minutes(self) -> u32 {
        self.0
    }
    /// Seconds.
    pub fn seconds(self) -> i64 {
        i64::from(self.0) * 60
    }
}

impl Default for RecordingInterval {
    fn default() -> Self {
        RecordingInterval(15)
    }
}

impl TryFrom<u32> for RecordingInterval {
    type Error = Error;
    fn try_from(v: u32) -> Result<Self, Error> {
        Self::minutes(v)
    }
}

impl From<RecordingInterval> for u32 {
    fn from(v: RecordingInterval) -> u32 {
        v.0
    }
}

/// What a caller asks for when creating a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Device name, unique within a site.
    pub device: String,
    /// Service id.
    pub service: String,
    /// Unit symbol (`kWh`, `degC`, ...).
    pub unit: String,
    /// Counter or instantaneous.
    pub kind: ChannelKind,
    /// Recording interval.
    #[serde(default)]
    pub interval: RecordingInterval,
}

impl ChannelSpec {
    /// A spec with the default 15-minute interval.
    pub fn new(device: &str, service: &str, unit: &str, kind: ChannelKind) -> Self {
        ChannelSpec {
            device: device.into(),
            service: service.into(),
            unit: unit.into(),
            kind,
            interval: RecordingInterval::default(),
        }
    }
    /// The point name `device/service`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.device, self.service)
    }
}

/// Store-assigned channel identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelId(pub i64);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A channel known to a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Identifier.
    pub id: ChannelId,
    /// Its settings.
    pub spec: ChannelSpec,
}

/// Size figures of a store.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct StoreStats {
    /// Channels.
    pub channels: u64,
    /// Chunks.
    pub chunks: u64,
    /// Readings.
    pub readings: u64,
    /// Bytes of compressed chunk payload.
    pub payload_bytes: u64,
    /// Bytes of the database (pages in use, WAL checkpointed or not).
    pub file_bytes: u64,
}

impl StoreStats {
    /// Payload bytes per reading.
    pub fn payload_bytes_per_reading(&self) -> f64 {
        self.payload_bytes as f64 / self.readings.max(1) as f64
    }
    /// Database bytes per reading (includes SQLite page and index overhead).
    pub fn file_bytes_per_reading(&self) -> f64 {
        self.file_bytes as f64 / self.readings.max(1) as f64
    }
}

/// What one [`Store::write`] did with its batch.
///
/// Every reading of the batch is counted exactly once, in the order the batch gives at each
/// channel and second: `stored + replaced + duplicates` is the batch length, and `stored` is how
/// many readings the store gained. `late` counts the stored readings (a part of `stored`) that
/// were older than the newest reading their channel held before the write (merged into the past).
///
/// The store keeps one reading per channel per second: a `replaced` reading is a collision (two
/// different values for the same channel and second, for example two poll cycles stamped within
/// the same second); the earlier value is gone.
///
/// ```
/// # #[cfg(not(feature = "sqlite"))] fn main() {} // the example uses the SQLite store
/// # #[cfg(feature = "sqlite")] fn main() {
/// use reports::{ChannelSpec, ChannelKind, Sample, SqliteStore, Store, StoreOptions};
/// let mut s = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
/// let id = s.ensure_channel(&ChannelSpec::new("m1", "energy", "kWh", ChannelKind::Counter)).unwrap().id;
/// let r = s.write(&[(id, Sample::new(900, 2.0)), (id, Sample::new(1800, 3.0))]).unwrap();
/// assert_eq!((r.stored, r.late, r.replaced, r.duplicates), (2, 0, 0, 0));
/// // A late reading, the same value again, and another value for the same second.
/// let r = s.write(&[(id, Sample::new(0, 1.0)), (id, Sample::new(900, 2.0)), (id, Sample::new(1800, 3.5))]).unwrap();
/// assert_eq!((r.stored, r.late, r.replaced, r.duplicates), (1, 1, 1, 1));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct WriteReport {
    /// Readings stored at a second their channel had no reading for.
    pub stored: u64,
    /// Of `stored`, those older than their channel's newest reading before the write.
    pub late: u64,
    /// Readings that replaced a different value at the same channel and second (the stored
    /// value, or an earlier reading of the same batch).
    pub replaced: u64,
    /// Readings identical (same value, bit for bit) to what the channel held at that second.
    pub duplicates: u64,
}

impl WriteReport {
    /// Readings the batch held (`stored + replaced + duplicates`).
    pub fn readings(&self) -> u64 {
        self.stored + self.replaced + self.duplicates
    }
    /// Add the counts of `other` (e.g. over several writes).
    pub fn add(&mut self, other: WriteReport) {
        self.stored += other.stored;
        self.late += other.late;
        self.replaced += other.replaced;
        self.duplicates += other.duplicates;
    }
}

/// A storage engine for channel readings.
///
/// Times are whole Unix seconds, UTC: the store keeps **one reading per channel per second**. A
/// reading written again at a second that already holds one replaces it, and
/// [`Store::write`] counts it in [`WriteReport::replaced`] (or [`WriteReport::duplicates`] when
/// the value is the same), so a caller sees every collision. A write is atomic: after a crash
/// either the whole batch is there or none of it. Readings may arrive late and out of order.
/// Missing readings stay missing (no zero is ever invented).
pub trait Store {
    /// Create the channel, or return the existing one with the same device and service.
    ///
    /// # Errors
    /// [`Error::ChannelMismatch`] when it exists with another unit, kind or interval.
    fn ensure_channel(&mut self, spec: &ChannelSpec) -> Result<Channel, Error>;
    /// The channel named `device/service`, if any.
    ///
    /// # Errors
    /// Engine errors.
    fn channel(&self, name: &str) -> Result<Option<Channel>, Error>;
    /// All channels.
    ///
    /// # Errors
    /// Engine errors.
    fn channels(&self) -> Result<Vec<Channel>, Error>;
    /// Write a batch of readings atomically, then apply retention; returns what it did with
    /// each reading (stored, of which late; replaced; identical duplicates). Resolution is one
    /// second per channel: see [`WriteReport`].
    ///
    /// # Errors
    /// Engine errors; [`Error::UnknownChannel`] for an id the store does not have (nothing is
    /// written then).
    fn write(&mut self, batch: &[(ChannelId, Sample)]) -> Result<WriteReport, Error>;
    /// Visit the readings of `channel` with `from <= t < to`, in time order, a slice at a time.
    ///
    /// # Errors
    /// Engine errors, [`Error::CorruptChunk`].
    fn scan(
        &self,
        channel: ChannelId,
        from: i64,
        to: i64,
        visit: &mut dyn FnMut(&[Sample]),
    ) -> Result<(), Error>;
    /// Feed the readings of `channel` with `from <= t < to` to `agg`, in time order.
    ///
    /// The default pushes what [`Store::scan`] visits. An engine may do better (the SQLite store
    /// folds a compressed chunk lying inside one bin from its values alone) but must leave `agg`
    /// exactly as the default would.
    ///
    /// # Errors
    /// As [`Store::scan`].
    fn aggregate_into(
        &self,
        channel: ChannelId,
        from: i64,
        to: i64,
        agg: &mut Aggregator,
    ) -> Result<(), Error> {
        self.scan(channel, from, to, &mut |s| agg.push(s))
    }
    /// The readings of `channel` with `from <= t < to`.
    ///
    /// # Errors
    /// As [`Store::scan`].
    fn read(&self, channel: ChannelId, from: i64, to: i64) -> Result<Vec<Sample>, Error> {
        let mut out = Vec::new();
        self.scan(channel, from, to, &mut |s| out.extend_from_slice(s))?;
        Ok(out)
    }
    /// Size figures.
    ///
    /// # Errors
    /// Engine errors.
    fn stats(&self) -> Result<StoreStats, Error>;
    /// Drop the oldest chunks beyond the configured capacity; returns how many went.
    ///
    /// # Errors
    /// Engine errors.
    fn apply_retention(&mut self) -> Result<u64, Error>;
}

/// Capacity of the retention ring: whichever limit is reached first removes the oldest chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Maximum compressed payload bytes over all channels.
    pub max_bytes: Option<u64>,
    /// Maximum age in seconds, counted back from the newest reading in the store (not from the
    /// wall clock, so a store that stops receiving data keeps its history).
    pub max_age_secs: Option<i64>,
}
