//! The deterministic, clock-free alarm engine.
//!
//! The caller feeds [`AlarmSample`]s (point, time, reading) and ticks (time); the engine returns
//! the [`Transition`]s that happened. It never reads a clock.
//!
//! # Semantics
//! - **Thresholds.** A high alarm becomes active when the value is above the threshold and
//!   inactive when it is below `threshold - hysteresis`; a low alarm becomes active below the
//!   threshold and inactive above `threshold + hysteresis` (all comparisons strict). A band
//!   alarm is both. The pre-alarm threshold runs a second detector by the same rules (same
//!   hysteresis and delays) and reports `pre_alarm` / `pre_alarm_cleared`.
//! - **Binary and controller alarms** are active while the value is `raise_on` (non-zero is
//!   true) and use the same delays, without hysteresis.
//! - **Rate of change** alarms compare `|Δvalue / Δtime|` (or the signed rate for `up` /
//!   `down`) between consecutive good samples of the point, scaled to `per`, with the same
//!   thresholds, hysteresis and delays.
//! - **Values hold** between samples: a value is taken to last until the next sample of its
//!   point. The activation delay counts while the value stays beyond the threshold; a value
//!   back on the normal side restarts it. An alarm raises when the crossing has lasted at
//!   least the delay, and the transition carries that exact instant (crossing time + delay),
//!   whether the engine learns it from a tick or from the point's next sample. The clearing
//!   delay works the same way on the normal side. Ticks therefore only make transitions known
//!   sooner: they never change which transitions happen or their times.
//! - **Samples without a value** ([`SampleValue::NotAvailable`], [`SampleValue::NoAnswer`],
//!   [`SampleValue::Invalid`]) make the value unknown from their time on: a pending raise or
//!   clear is abandoned (the delay restarts on the next good value beyond the threshold); an
//!   active alarm stays active (an unknown value does not clear it; offline rules report
//!   lost communication). Non-finite numbers count as invalid.
//! - **Out-of-order samples**: a sample older than the last sample of its point, or older
//!   than the latest tick, is rejected: [`Engine::process`] returns a [`ProcessReport`]
//!   with the counts by reason, and [`Engine::stats`] accumulates them. Samples with equal
//!   times are applied in the order given.
//! - **Offline alarms** watch devices: a sample of any of the device's points with a value,
//!   or [`SampleValue::NotAvailable`] (the device answered), is a successful communication;
//!   [`SampleValue::NoAnswer`] and [`SampleValue::Invalid`] are not. The alarm becomes due
//!   `timeout` after the last one (counting from the first time the engine saw, for a device
//!   that never communicated), plus the activation delay, and clears at the next successful
//!   communication.
//! - **Schedules** gate raising only: a raise that falls outside the schedule is postponed to
//!   the next opening if the condition still holds; an active alarm is not cleared by the
//!   schedule closing.
//! - **Order of transitions**: per alarm, transitions are in time order; at the same instant
//!   `cleared`, `pre_alarm_cleared`, `pre_alarm`, `raised`. A batch is processed exactly as
//!   the same samples one by one (batching changes nothing). Transitions found by a tick
//!   are sorted by time.
//!
//! # Feeding the engine from a poller
//! A poller delivers one batch per cycle: the cycle's start time and the readings taken
//! during the cycle (each at or after that start). Per batch, first
//! [`tick`](Engine::tick) to the cycle's start (delays and offline timeouts that ran out
//! before it fire, with their exact instants), then [`process`](Engine::process) the
//! readings. Ticking later than a batch's readings before processing them (for example to
//! the wall clock at the end of the cycle) would make them stale: they are rejected, and the
//! returned [`ProcessReport`] says how many, so check it.
//!
//! ```
//! use alarms::{Engine, ProcessReport, SampleValue, RuleSet, AlarmSample, TransitionKind};
//! use chrono::{DateTime, Duration, TimeZone, Utc};
//!
//! /// What the poller delivers once per cycle.
//! struct Cycle {
//!     start: DateTime<Utc>,
//!     /// Point (`device/service`), time of the answer, value (`None`: no answer).
//!     readings: Vec<(String, DateTime<Utc>, Option<f64>)>,
//! }
//!
//! let rules = RuleSet::from_toml("r.toml", r#"
//! [[rule]]
//! id = "hot"
//! points = ["sub/flow"]
//! kind = "high"
//! threshold = 90.0
//! delay = "30s"
//! priority = "major"
//! "#)?;
//! let mut engine = Engine::new(&rules, &[])?;
//! let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
//! // Six 10 s cycles; the flow goes beyond 90 from the second one, one cycle has no answer.
//! let cycles: Vec<Cycle> = (0..6)
//!     .map(|k| {
//!         let start = t0 + Duration::seconds(10 * k);
//!         let value = match k { 0 => Some(50.0), 3 => None, _ => Some(95.0) };
//!         let answer = start + Duration::milliseconds(200);
//!         Cycle { start, readings: vec![("sub/flow".to_string(), answer, value)] }
//!     })
//!     .collect();
//!
//! let mut samples = Vec::new(); // reused: no allocation per cycle once it has grown
//! let mut out = Vec::new();
//! let mut total = ProcessReport::default();
//! for cycle in &cycles {
//!     engine.tick(cycle.start, &mut out);
//!     samples.clear();
//!     for (point, time, value) in &cycle.readings {
//!         let Some(p) = engine.point_id(point) else { continue }; // no rule watches it
//!         let reading = value.map_or(SampleValue::NoAnswer, SampleValue::Number);
//!         samples.push(AlarmSample::new(p, *time, reading));
//!     }
//!     let report = engine.process(&samples, &mut out);
//!     assert!(report.all_accepted(), "samples lost: {report:?}");
//!     total += report;
//! }
//! assert_eq!(total.accepted, 6);
//! // Beyond from 10.2 s, unknown at 30.2 s (the delay restarts), beyond again from 40.2 s:
//! // the delay of 30 s runs out at 70.2 s, after the last cycle; the next tick reports it.
//! assert!(out.is_empty());
//! engine.tick(t0 + Duration::seconds(80), &mut out);
//! assert_eq!(out[0].kind(), TransitionKind::Raised);
//! assert_eq!(out[0].time(), t0 + Duration::milliseconds(70_200));
//!
//! // The wrong order: ticking past a batch before processing it loses the batch, and the
//! // report says so.
//! let p = engine.point_id("sub/flow").unwrap();
//! engine.tick(t0 + Duration::seconds(100), &mut out);
//! let late = AlarmSample::new(p, t0 + Duration::milliseconds(90_200), SampleValue::Number(50.0));
//! let report = engine.process(&[late], &mut out);
//! assert_eq!((report.accepted, report.rejected_stale), (0, 1));
//! # Ok::<(), alarms::Error>(())
//! ```
//!
//! # Cost
//! Each point keeps its held value and time and a *quiet band*: the values (and the time
//! horizon) within which none of its alarms can change — between the thresholds while idle,
//! beyond the threshold until the deadline while an activation delay runs, on the active
//! side of `threshold - hysteresis` while active, and so on. A sample inside the band only
//! updates the held time (and the held value while a delay is pending): a few comparisons
//! on 32 bytes per point kept apart from everything else. The others take the full
//! evaluation, which recomputes the band as it goes; where full evaluations are frequent, the
//! cache lines they need are loaded ahead for a window of samples at a time, so the memory
//! waits overlap. Rate-of-change alarms evaluate every sample. Memory: one 64-byte cache line
//! per alarm instance (thresholds, hysteresis and 17 bytes of mutable state), 56 bytes per
//! point, 16 bytes per rule, plus the rules themselves; no allocation while processing once
//! the output vector has room. A tick is one pass over the instances' states.

mod compile;
mod detector;
mod offline;
mod quiet;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::point::PointInfo;
use crate::rule::{Priority, Rule};
use crate::ruleset::RuleSet;
#[cfg(doc)]
use crate::sample::SampleValue;
use crate::sample::{AlarmSample, PointId};
use crate::time::{Micros, from_micros, to_micros};

use compile::{Points, Tables};
use detector::{MUTABLE_BYTES, NEVER, Phase, RuleRef, Slot, advance};
use offline::OfflineSlot;
use quiet::{PointCold, Quiet};

/// What happened to an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransitionKind {
    /// The alarm became inactive.
    Cleared = 0,
    /// The pre-alarm became inactive.
    PreAlarmCleared = 1,
    /// The pre-alarm (warning) became active.
    PreAlarm = 2,
    /// The alarm became active.
    Raised = 3,
}

impl TransitionKind {
    /// The name used in JSON output: `raised`, `cleared`, `pre_alarm`, `pre_alarm_cleared`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Raised => "raised",
            TransitionKind::Cleared => "cleared",
            TransitionKind::PreAlarm => "pre_alarm",
            TransitionKind::PreAlarmCleared => "pre_alarm_cleared",
        }
    }
}

/// An alarm instance: one rule on one point (or, for offline rules, one device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub(crate) u32);

impl InstanceId {
    /// The index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A transition of one alarm instance. 24 bytes, `Copy`. Two transitions are equal when
/// their time, instance, kind and value (bit for bit; no value equals no value) are.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub(crate) time: Micros,
    pub(crate) value: f64,
    pub(crate) instance: u32,
    pub(crate) kind: TransitionKind,
}

impl PartialEq for Transition {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time
            && self.instance == other.instance
            && self.kind == other.kind
            && self.value.to_bits() == other.value.to_bits()
    }
}

impl Transition {
    /// When it happened (the exact instant, not the time it was noticed).
    pub fn time(&self) -> DateTime<Utc> {
        from_micros(self.time)
    }

    /// When, in microseconds after the Unix epoch.
    pub fn time_micros(&self) -> i64 {
        self.time
    }

    /// What happened.
    pub fn kind(&self) -> TransitionKind {
        self.kind
    }

    /// The point's value at that instant (`None` for offline alarms).
    pub fn value(&self) -> Option<f64> {
        (!self.value.is_nan()).then_some(self.value)
    }

    /// The alarm instance.
    pub fn instance(&self) -> InstanceId {
        InstanceId(self.instance)
    }
}

/// Counters of what the engine did not apply, since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Samples applied.
    pub applied: u64,
    /// Samples rejected because older than their point's last sample or the latest tick.
    pub out_of_order: u64,
    /// Of [`Stats::out_of_order`], the samples older than the latest tick.
    pub before_tick: u64,
    /// Samples naming a point outside the point list.
    pub unknown_point: u64,
    /// Ticks older than the latest tick (ignored).
    pub stale_ticks: u64,
}

/// What [`Engine::process`] did with one batch: how many samples it applied and how many it
/// rejected, by reason. A rejected sample changes nothing (no state, no transition); the
/// same counts accumulate in [`Engine::stats`].
///
/// Reports of several batches add up (`report += engine.process(..)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Samples applied, including those without a value (they make the value unknown).
    pub accepted: u64,
    /// Samples older than the latest tick ([`Engine::tick`]): the engine has already let
    /// time pass beyond them. Feed a cycle's samples before ticking past its start.
    pub rejected_stale: u64,
    /// Samples older than their point's previous sample (and not older than the latest
    /// tick).
    pub rejected_out_of_order: u64,
    /// Samples whose point is not in the engine's point list (a [`PointId`] of another
    /// engine).
    pub rejected_unknown_point: u64,
}

impl ProcessReport {
    /// Samples rejected, for any reason.
    pub fn rejected(&self) -> u64 {
        self.rejected_stale + self.rejected_out_of_order + self.rejected_unknown_point
    }

    /// Whether every sample was applied.
    pub fn all_accepted(&self) -> bool {
        self.rejected() == 0
    }

    /// The difference between two snapshots of the counters.
    fn between(before: Stats, after: Stats) -> ProcessReport {
        let stale = after.before_tick - before.before_tick;
        ProcessReport {
            accepted: after.applied - before.applied,
            rejected_stale: stale,
            rejected_out_of_order: after.out_of_order - before.out_of_order - stale,
            rejected_unknown_point: after.unknown_point - before.unknown_point,
        }
    }
}

impl std::ops::AddAssign for ProcessReport {
    fn add_assign(&mut self, other: ProcessReport) {
        self.accepted += other.accepted;
        self.rejected_stale += other.rejected_stale;
        self.rejected_out_of_order += other.rejected_out_of_order;
        self.rejected_unknown_point += other.rejected_unknown_point;
    }
}

impl std::ops::Add for ProcessReport {
    type Output = ProcessReport;
    fn add(mut self, other: ProcessReport) -> ProcessReport {
        self += other;
        self
    }
}

/// The state of one detector (alarm or pre-alarm) of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorState {
    /// Normal.
    Inactive,
    /// Beyond the threshold, waiting for the activation delay (or the schedule) until the
    /// given time.
    Raising(DateTime<Utc>),
    /// Active.
    Active,
    /// Back to normal, waiting for the clearing delay until the given time.
    Clearing(DateTime<Utc>),
}

impl DetectorState {
    /// Active or clearing (the alarm is still on).
    pub fn is_on(self) -> bool {
        matches!(self, DetectorState::Active | DetectorState::Clearing(_))
    }
}

/// The engine's clock: what it learnt of time from samples and ticks.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// The latest tick ([`NEVER`] before the first): older samples are rejected.
    watermark: Micros,
    /// The first time the engine saw (a sample's or a tick's): offline timeouts of devices
    /// that never communicated count from it.
    origin: Micros,
    /// Whether the engine has seen a time.
    started: bool,
}

/// The alarm engine for a rule set and a point list.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The compiled rules, names, instance and device layout (fixed once built).
    tables: Tables,
    /// Per point: quiet band, held time and value, last communication.
    points: Points,
    /// Per value instance (rule × point): thresholds and detector state, one cache line each.
    slots: Vec<Slot>,
    /// Per offline instance (rule × device), after the value instances in [`InstanceId`]s.
    offline: Vec<OfflineSlot>,
    clock: Clock,
    /// The fast path is on (see [`Engine::without_fast_path`]).
    fast: bool,
    stats: Stats,
    /// Samples that took the full evaluation (outside their point's quiet band).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    full_evaluations: u64,
    scratch: Vec<Transition>,
    /// Where `Engine::warm` leaves what it loaded, so the loads are kept.
    warm_sink: u32,
}

/// What an instance is: its rule and its target (a point name, or a device name for
/// offline alarms).
#[derive(Debug, Clone, Copy)]
pub struct InstanceInfo<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The point (`device/service`) or, for offline alarms, the device.
    pub target: &'a str,
}

impl Engine {
    /// Compile the enabled rules of `rules` against the caller's point list. Points named
    /// explicitly by rules but missing from `points` are added. Group rules are not
    /// evaluated here (see [`crate::Book`]).
    ///
    /// ```
    /// use alarms::{Engine, PointInfo, SampleValue, RuleSet, AlarmSample};
    /// use chrono::{TimeZone, Utc};
    /// let rules = RuleSet::from_toml("r.toml", r#"
    /// [[rule]]
    /// id = "hot"
    /// points = ["sub/flow"]
    /// kind = "high"
    /// threshold = 90.0
    /// hysteresis = 2.0
    /// delay = "5m"
    /// priority = "major"
    /// "#)?;
    /// let mut engine = Engine::new(&rules, &[])?;
    /// let p = engine.point_id("sub/flow").unwrap();
    /// let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    /// let mut out = Vec::new();
    /// engine.process(&[AlarmSample::new(p, t0, SampleValue::Number(95.0))], &mut out);
    /// assert!(out.is_empty()); // waiting for the 5 minute delay
    /// engine.tick(t0 + chrono::Duration::minutes(5), &mut out);
    /// assert_eq!(out[0].kind(), alarms::TransitionKind::Raised);
    /// assert_eq!(out[0].time(), t0 + chrono::Duration::minutes(5));
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn new(rules: &RuleSet, points: &[PointInfo]) -> Result<Engine, Error> {
        let c = compile::compile(rules, points)?;
        let mut engine = Engine {
            tables: c.tables,
            points: c.points,
            slots: c.slots,
            offline: c.offline,
            clock: Clock {
                watermark: NEVER,
                origin: NEVER,
                started: false,
            },
            fast: true,
            stats: Stats::default(),
            full_evaluations: 0,
            scratch: Vec::new(),
            warm_sink: 0,
        };
        for p in 0..engine.points.cold.len() {
            engine.refresh_point(p);
        }
        Ok(engine)
    }

    /// The same engine with the fast path turned off: every sample takes the full
    /// evaluation. For tests that check the fast path changes nothing.
    #[doc(hidden)]
    pub fn without_fast_path(mut self) -> Engine {
        self.fast = false;
        for p in 0..self.points.cold.len() {
            self.refresh_point(p);
        }
        self
    }

    /// The id of a point by name.
    pub fn point_id(&self, name: &str) -> Option<PointId> {
        self.tables.by_name.get(name).map(|&i| PointId(i))
    }

    /// The name of a point.
    pub fn point_name(&self, id: PointId) -> Option<&str> {
        self.tables.point_names.get(id.index()).map(String::as_str)
    }

    /// Number of points.
    pub fn point_count(&self) -> usize {
        self.points.cold.len()
    }

    /// Number of alarm instances (rule × point, plus rule × device for offline rules).
    pub fn instance_count(&self) -> usize {
        self.slots.len() + self.offline.len()
    }

    /// The rule and target of an instance.
    pub fn instance(&self, id: InstanceId) -> Option<InstanceInfo<'_>> {
        let i = id.index();
        if i < self.slots.len() {
            Some(InstanceInfo {
                rule: &self.tables.rules[self.slots[i].rule as usize].rule,
                target: &self.tables.point_names[self.tables.inst_point[i] as usize],
            })
        } else {
            let o = self.offline.get(i - self.slots.len())?;
            Some(InstanceInfo {
                rule: &self.tables.rules[o.rule as usize].rule,
                target: &self.tables.device_names[o.device as usize],
            })
        }
    }

    /// The instance of rule `rule_id` on `target` (point name, or device for offline rules).
    pub fn find_instance(&self, rule_id: &str, target: &str) -> Option<InstanceId> {
        (0..self.instance_count() as u32)
            .map(InstanceId)
            .find(|&i| {
                self.instance(i)
                    .is_some_and(|info| info.rule.id == rule_id && info.target == target)
            })
    }

    /// The alarm and pre-alarm detector states of an instance.
    pub fn status(&self, id: InstanceId) -> Option<(DetectorState, DetectorState)> {
        let i = id.index();
        let show = |phase: Phase, deadline: Micros| match phase {
            Phase::Idle => DetectorState::Inactive,
            Phase::Raising => DetectorState::Raising(from_micros(deadline)),
            Phase::Active => DetectorState::Active,
            Phase::Clearing => DetectorState::Clearing(from_micros(deadline)),
        };
        if let Some(s) = self.slots.get(i) {
            return Some((
                show(s.flags.phase(false), s.alarm_deadline),
                show(s.flags.phase(true), s.pre_deadline),
            ));
        }
        let o = self.offline.get(i - self.slots.len())?;
        Some((show(o.phase, o.deadline), DetectorState::Inactive))
    }

    /// Mark an instance's alarm (and pre-alarm) active without a transition, e.g. to restore
    /// the open occurrences replayed from an event log after a restart, so a condition that
    /// still holds is not raised twice.
    pub fn restore_active(&mut self, id: InstanceId, alarm: bool, pre_alarm: bool) {
        let i = id.index();
        if let Some(s) = self.slots.get_mut(i) {
            if alarm {
                s.flags.set_phase(false, Phase::Active);
            }
            if pre_alarm {
                s.flags.set_phase(true, Phase::Active);
            }
            let p = self.tables.inst_point[i] as usize;
            self.refresh_point(p);
        } else if let Some(o) = self.offline.get_mut(i - self.slots.len()) {
            if alarm {
                o.phase = Phase::Active;
            }
            let d = o.device as usize;
            self.refresh_device(d);
        }
    }

    /// Counters of rejected input.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// How many samples took the full evaluation so far (were outside their point's quiet
    /// band, or were rejected), as opposed to the fast path. Feature `testing`, for benches.
    #[cfg(feature = "testing")]
    pub fn full_evaluations(&self) -> u64 {
        self.full_evaluations
    }

    /// Bytes of mutable state per alarm instance (the detectors and their deadlines).
    pub const STATE_BYTES_PER_INSTANCE: usize = MUTABLE_BYTES;
    /// Bytes per alarm instance in all: thresholds, hysteresis, mode and the mutable state,
    /// in one cache line.
    pub const BYTES_PER_INSTANCE: usize = std::mem::size_of::<Slot>();
    /// Bytes per point (quiet band and horizon, held time, held value, instance range, device
    /// watch, last good time).
    pub const BYTES_PER_POINT: usize = std::mem::size_of::<Quiet>()
        + std::mem::size_of::<PointCold>()
        + 2 * std::mem::size_of::<Micros>();

    /// Heap bytes held by the engine's per-instance and per-point tables (excluding rule
    /// texts and names).
    pub fn table_bytes(&self) -> usize {
        use detector::Timing;
        use offline::DeviceWatch;
        use std::mem::size_of;
        let (t, p) = (&self.tables, &self.points);
        self.slots.capacity() * size_of::<Slot>()
            + t.inst_point.capacity() * size_of::<u32>()
            + p.quiet.capacity() * size_of::<Quiet>()
            + p.last_time.capacity() * size_of::<Micros>()
            + p.cold.capacity() * size_of::<PointCold>()
            + p.last_good.capacity() * size_of::<Micros>()
            + t.timing.capacity() * size_of::<Timing>()
            + t.timings.capacity() * size_of::<Timing>()
            + self.offline.capacity() * size_of::<OfflineSlot>()
            + t.devices.capacity() * size_of::<DeviceWatch>()
            + t.device_points.capacity() * size_of::<u32>()
    }

    fn start(&mut self, t: Micros) {
        if !self.clock.started {
            self.clock.started = true;
            self.clock.origin = t;
            for d in 0..self.tables.devices.len() {
                self.refresh_device(d);
            }
        }
    }

    /// Apply a batch of samples in order, appending transitions to `out`, and report how
    /// many were applied and how many rejected, and why (older than the latest tick, older
    /// than the point's previous sample, unknown point). Allocation-free once `out` has
    /// room. The transitions are the same however the samples are split into batches.
    ///
    /// The pattern for feeding the engine from a poller's per-cycle batches (tick to the
    /// cycle's start, then process its readings) is in the [module docs](crate::engine).
    ///
    /// ```
    /// use alarms::{Engine, PointInfo, SampleValue, RuleSet, AlarmSample};
    /// let rules = RuleSet::from_toml("r.toml", r#"
    /// [[rule]]
    /// id = "hot"
    /// points = ["sub/flow"]
    /// kind = "high"
    /// threshold = 90.0
    /// priority = "major"
    /// "#)?;
    /// let mut engine = Engine::new(&rules, &[])?;
    /// let p = engine.point_id("sub/flow").unwrap();
    /// let mut out = Vec::new();
    /// engine.tick_micros(20_000_000, &mut out);
    /// let report = engine.process(&[
    ///     AlarmSample::from_unix_micros(p, 10_000_000, SampleValue::Number(95.0)), // before the tick
    ///     AlarmSample::from_unix_micros(p, 30_000_000, SampleValue::Number(95.0)),
    ///     AlarmSample::from_unix_micros(p, 25_000_000, SampleValue::Number(50.0)), // older than the last
    /// ], &mut out);
    /// assert_eq!((report.accepted, report.rejected_stale, report.rejected_out_of_order), (1, 1, 1));
    /// assert_eq!(out.len(), 1); // raised at 30 s
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn process(&mut self, samples: &[AlarmSample], out: &mut Vec<Transition>) -> ProcessReport {
        let before = self.stats;
        self.process_batch(samples, out);
        ProcessReport::between(before, self.stats)
    }

    /// Apply one sample; the report says whether it was applied or why not (as
    /// [`Engine::process`]).
    pub fn process_one(&mut self, sample: AlarmSample, out: &mut Vec<Transition>) -> ProcessReport {
        self.process(std::slice::from_ref(&sample), out)
    }

    /// Advance time to `now` with no new value: fire the activation and clearing delays and
    /// offline timeouts that have elapsed. Transitions carry their exact instants and are
    /// sorted by time. A tick older than the previous one is ignored; afterwards samples older
    /// than `now` are rejected. Cost: one pass over the alarm states.
    pub fn tick(&mut self, now: DateTime<Utc>, out: &mut Vec<Transition>) {
        self.tick_micros(to_micros(now), out);
    }

    /// [`Engine::tick`] with microseconds after the Unix epoch.
    pub fn tick_micros(&mut self, now: Micros, out: &mut Vec<Transition>) {
        if now < self.clock.watermark {
            self.stats.stale_ticks += 1;
            return;
        }
        self.start(now);
        self.clock.watermark = now;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for (i, st) in self.slots.iter_mut().enumerate() {
            if st.flags.pending() {
                let t = &self.tables;
                let held = self.points.cold[t.inst_point[i] as usize].last_value;
                let rule = RuleRef::of_slot(&t.rules, &t.timing, &t.timings, st);
                advance(st, rule, i as u32, now, held, &mut scratch);
            }
        }
        self.tick_offline(now, &mut scratch);
        scratch.sort_by_key(|t| t.time);
        out.extend_from_slice(&scratch);
        self.scratch = scratch;
    }

    /// The latest tick time.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        (self.clock.watermark != NEVER).then(|| from_micros(self.clock.watermark))
    }

    /// The priority of the rule behind a transition.
    pub fn priority(&self, t: &Transition) -> Priority {
        self.instance(t.instance())
            .map_or(Priority::Warning, |i| i.rule.priority)
    }
}
