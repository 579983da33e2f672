//! From the poller's cycles to the store and the alarm engine: the conversions every
//! composition of `modbus-devices`, `reports` and `alarms` needs, with a count of everything
//! that was not passed on, so nothing is lost without the caller seeing it.
//!
//! One [`Cycle`] of [`modbus_devices::poll::Poller::run`] becomes:
//! - **one store batch** ([`StoreFeed::write`]): each reading with a number (a bit or a bit
//!   field as its integer) is a sample of the channel `device/service`, stamped with the
//!   **cycle's start** in whole UTC seconds. The store keeps one reading per channel per
//!   second, and the poller's ticks are at least one period apart (it never fires catch-up
//!   bursts), so a period of one second or more never makes two cycles collide; the
//!   returned [`reports::WriteReport`] would count it if they did. A channel is created on
//!   first sight with the reading's unit symbol; energy and volume units make counters,
//!   everything else instantaneous values. Readings without a number are counted in
//!   [`NotStored`] by reason.
//! - **one alarm batch** ([`AlarmFeed::process`]): the engine is ticked to the cycle's start,
//!   then given every reading of a watched point at its own answer time: each quality
//!   other than good becomes the sample value of the same name
//!   ([`alarms::SampleValue::NotAvailable`], [`alarms::SampleValue::NoAnswer`],
//!   [`alarms::SampleValue::Invalid`]), text is not a sample. The engine's
//!   [`alarms::ProcessReport`] says what it applied and rejected.

use std::collections::HashMap;

use alarms::{Engine, ProcessReport, Transition};
use modbus_devices::poll::Cycle;
use modbus_devices::{Quality, Reading, Value};
use reports::{ChannelId, ChannelKind, ChannelSpec, Store, WriteReport};

/// Readings of a cycle that did not become store samples, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotStored {
    /// The read failed (quality no answer or invalid): there is no value.
    pub failed: u64,
    /// The device answered "not available" (quality not available, no value).
    pub not_available: u64,
    /// Text values (identification strings) are not time series.
    pub text: u64,
}

impl NotStored {
    /// All readings not stored.
    pub fn total(&self) -> u64 {
        self.failed + self.not_available + self.text
    }
    /// Add the counts of `other`.
    pub fn add(&mut self, other: NotStored) {
        self.failed += other.failed;
        self.not_available += other.not_available;
        self.text += other.text;
    }
}

/// Whether a unit symbol is that of a running total (energy, volume): such channels are
/// counters, whose consumption is their increase.
pub fn is_counter_unit(symbol: &str) -> bool {
    matches!(
        symbol,
        "Wh" | "kWh" | "MWh" | "varh" | "kvarh" | "J" | "GJ" | "m3"
    )
}

/// The number a store or an alarm keeps of a value: numbers as they are, bits as 0/1, bit
/// fields as their integer; `None` for text.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(x) => Some(*x),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Flags(bits) => Some(*bits as f64),
        Value::Text(_) => None,
    }
}

/// Writes the poller's cycles into a [`Store`], creating channels on first sight.
#[derive(Debug, Default)]
pub struct StoreFeed {
    channels: HashMap<(String, String), ChannelId>,
    batch: Vec<(ChannelId, reports::Sample)>,
}

impl StoreFeed {
    /// A feed that knows no channel yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn channel<S: Store>(
        &mut self,
        store: &mut S,
        r: &Reading,
    ) -> Result<ChannelId, reports::Error> {
        if let Some(id) = self.channels.get(&(r.device.clone(), r.service.clone())) {
            return Ok(*id);
        }
        let unit = r.unit.symbol();
        let kind = if is_counter_unit(unit) {
            ChannelKind::Counter
        } else {
            ChannelKind::Instantaneous
        };
        let id = store
            .ensure_channel(&ChannelSpec::new(&r.device, &r.service, unit, kind))?
            .id;
        self.channels
            .insert((r.device.clone(), r.service.clone()), id);
        Ok(id)
    }

    /// The readings of `cycle` that [`StoreFeed::write`] would store whose channel this
    /// feed does not know yet.
    pub fn unknown_channels(&self, cycle: &Cycle) -> usize {
        cycle
            .readings
            .iter()
            .filter(|r| stored(r) && !self.knows(r))
            .count()
    }

    /// Create (or find) the store channels of the readings of `cycle` that
    /// [`StoreFeed::write`] would store and this feed does not know yet; returns how many.
    /// `write` does the same, one channel at a time: a caller that wraps this in one store
    /// transaction saves a transaction per new channel (the first cycle of a large site).
    ///
    /// # Errors
    /// The store's errors (the channels created before stay known).
    pub fn ensure_channels<S: Store>(
        &mut self,
        store: &mut S,
        cycle: &Cycle,
    ) -> Result<usize, reports::Error> {
        let mut added = 0;
        for r in cycle.readings.iter().filter(|r| stored(r)) {
            if !self.knows(r) {
                self.channel(store, r)?;
                added += 1;
            }
        }
        Ok(added)
    }

    fn knows(&self, r: &Reading) -> bool {
        self.channels
            .contains_key(&(r.device.clone(), r.service.clone()))
    }

    /// Write the cycle's readings as one batch (atomic in the store).
    ///
    /// # Errors
    /// The store's errors (nothing of the cycle is written then).
    pub fn write<S: Store>(
        &mut self,
        store: &mut S,
        cycle: &Cycle,
    ) -> Result<(WriteReport, NotStored), reports::Error> {
        let t = cycle.started.timestamp();
        let mut not_stored = NotStored::default();
        self.batch.clear();
        for r in &cycle.readings {
            let v = match (&r.value, r.quality) {
                (_, Quality::NoAnswer | Quality::Invalid) => {
                    not_stored.failed += 1;
                    continue;
                }
                (_, Quality::NotAvailable) | (None, Quality::Good) => {
                    not_stored.not_available += 1;
                    continue;
                }
                (Some(v), Quality::Good) => match number(v) {
                    Some(x) => x,
                    None => {
                        not_stored.text += 1;
                        continue;
                    }
                },
            };
            let id = self.channel(store, r)?;
            self.batch.push((id, reports::Sample::new(t, v)));
        }
        let batch = std::mem::take(&mut self.batch);
        let result = store.write(&batch);
        self.batch = batch;
        Ok((result?, not_stored))
    }
}

/// Whether [`StoreFeed::write`] stores the reading (a good number).
fn stored(r: &Reading) -> bool {
    r.quality == Quality::Good && r.value.as_ref().and_then(number).is_some()
}

/// Feeds the poller's cycles to an alarm [`Engine`].
#[derive(Debug)]
pub struct AlarmFeed {
    engine: Engine,
    samples: Vec<alarms::AlarmSample>,
}

impl AlarmFeed {
    /// A feed into `engine`.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            samples: Vec::new(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Tick to the cycle's start, then process its readings of watched points; transitions
    /// are appended to `out`. Returns the engine's report and how many readings were not
    /// samples (a point no rule watches, or a text value).
    pub fn process(&mut self, cycle: &Cycle, out: &mut Vec<Transition>) -> (ProcessReport, u64) {
        self.engine.tick(cycle.started, out);
        self.samples.clear();
        let mut skipped = 0;
        let mut name = String::new();
        for r in &cycle.readings {
            name.clear();
            name.push_str(&r.device);
            name.push('/');
            name.push_str(&r.service);
            let Some(p) = self.engine.point_id(&name) else {
                skipped += 1;
                continue;
            };
            let reading = match (&r.value, r.quality) {
                (_, Quality::NoAnswer) => alarms::SampleValue::NoAnswer,
                (_, Quality::Invalid) => alarms::SampleValue::Invalid,
                (_, Quality::NotAvailable) | (None, Quality::Good) => {
                    alarms::SampleValue::NotAvailable
                }
                (Some(Value::Bool(b)), Quality::Good) => alarms::SampleValue::Bool(*b),
                (Some(v), Quality::Good) => match number(v) {
                    Some(x) => alarms::SampleValue::Number(x),
                    None => {
                        skipped += 1;
                        continue;
                    }
                },
            };
            self.samples
                .push(alarms::AlarmSample::new(p, r.timestamp, reading));
        }
        (self.engine.process(&self.samples, out), skipped)
    }

    /// Tick the engine (between cycles, or at the end).
    pub fn tick(&mut self, now: chrono::DateTime<chrono::Utc>, out: &mut Vec<Transition>) {
        self.engine.tick(now, out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use modbus_devices::Unit;
    use reports::{SqliteStore, StoreOptions};

    fn reading(device: &str, service: &str, value: Option<Value>, quality: Quality) -> Reading {
        Reading {
            device: device.into(),
            service: service.into(),
            value,
            unit: Unit::V,
            timestamp: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            quality,
        }
    }

    #[test]
    fn channels_made_ahead_are_the_ones_write_uses() {
        let started = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let cycle = Cycle {
            number: 1,
            started,
            finished: started,
            readings: vec![
                reading("a", "v1", Some(Value::Number(230.0)), Quality::Good),
                reading("a", "v2", Some(Value::Number(231.0)), Quality::Good),
                reading("a", "model", Some(Value::Text("X".into())), Quality::Good),
                reading("b", "v1", None, Quality::NoAnswer),
            ],
        };
        let mut store = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
        let mut feed = StoreFeed::new();
        assert_eq!(feed.unknown_channels(&cycle), 2);
        assert_eq!(feed.ensure_channels(&mut store, &cycle).unwrap(), 2);
        assert_eq!(feed.unknown_channels(&cycle), 0);
        assert_eq!(feed.ensure_channels(&mut store, &cycle).unwrap(), 0);
        let names: Vec<String> = store
            .channels()
            .unwrap()
            .iter()
            .map(|c| c.spec.name())
            .collect();
        assert_eq!(names, ["a/v1", "a/v2"]);
        let (report, not_stored) = feed.write(&mut store, &cycle).unwrap();
        assert_eq!(report.stored, 2);
        assert_eq!((not_stored.text, not_stored.failed), (1, 1));
        assert_eq!(store.channels().unwrap().len(), 2);
    }
}
