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
//! - **Missing and bad samples** make the value unknown from their time on: a pending raise
//!   or clear is abandoned (the delay restarts on the next good value beyond the threshold);
//!   an active alarm stays active (an unknown value does not clear it; offline rules report
//!   lost communication). Non-finite numbers count as bad.
//! - **Out-of-order samples**: a sample older than the last sample of its point, or older
//!   than the latest tick, is rejected: [`Engine::process`] returns a [`ProcessReport`]
//!   with the counts by reason, and [`Engine::stats`] accumulates them. Samples with equal
//!   times are applied in the order given.
//! - **Offline alarms** watch devices: a good sample of any of the device's points is a
//!   successful communication. The alarm becomes due `timeout` after the last one (counting
//!   from the first time the engine saw, for a device that never communicated), plus the
//!   activation delay, and clears at the next good sample.
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

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::point::{PointInfo, device_of};
use crate::rule::{AppliesTo, Condition, Direction, Priority, Rule};
use crate::ruleset::RuleSet;
use crate::sample::{AlarmSample, PointId, Quality};
use crate::schedule::Schedule;
use crate::time::{Micros, duration_micros, from_micros, to_micros};

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
    /// Samples applied, including missing and bad ones (they make the value unknown).
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

// Detector states, two bits each: alarm in bits 0-1, pre-alarm in bits 2-3.
const IDLE: u8 = 0;
const RAISING: u8 = 1;
const ACTIVE: u8 = 2;
const CLEARING: u8 = 3;
const PRE_SHIFT: u8 = 2;
// Bit set in `flags` when any detector is pending (RAISING or CLEARING).
const NEVER: Micros = i64::MIN;
const NONE: u32 = u32::MAX;

// Modes: how the detectors' input is derived from the value.
const MODE_VALUE: u8 = 0;
const MODE_RATE: u8 = 1;
/// Binary true / controller: input 1 while the value is non-zero.
const MODE_NONZERO: u8 = 2;
/// Binary false: input 1 while the value is zero.
const MODE_ZERO: u8 = 3;
/// The low bits of `Slot::mode` are one of the modes above.
const MODE_MASK: u8 = 0x0f;
/// Set in `Slot::mode` when the rule has a schedule.
const SCHEDULED: u8 = 0x80;

/// One alarm instance in one cache line: its thresholds as the comparison needs them, and
/// its mutable state (two detector states and their deadlines).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    lo: f64,
    hi: f64,
    pre_lo: f64,
    pre_hi: f64,
    hyst: f64,
    alarm_deadline: Micros,
    pre_deadline: Micros,
    rule: u32,
    mode: u8,
    flags: u8,
    /// The rule's delays in [`Engine::timings`] (deduplicated, so the table stays in cache);
    /// [`SHARED_TIMING_NONE`]: look them up by rule.
    timing: u16,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

/// Samples per window of [`Engine::process`] (see `Engine::warm`).
const WINDOW: usize = 256;

/// Full evaluations in a window from which the next window is warmed...
const WARM_AFTER: usize = 8;
/// ... and up to which (where most samples take it, their accesses are dense enough for
/// the hardware prefetcher).
const WARM_UNTIL: usize = 64;

/// `Slot::timing` when the rule's delays are not in the deduplicated table.
const SHARED_TIMING_NONE: u16 = u16::MAX;

/// Bytes of an instance's slot that change (deadlines and detector states).
const MUTABLE_BYTES: usize = 2 * std::mem::size_of::<Micros>() + 1;

/// Per point, what the fast path reads (and never writes): the range of values and times
/// within which none of the point's alarms can change, and where the point's instances are,
/// so a sample outside the band finds its instances' cache line without first loading
/// [`PointCold`] (the two loads go out together). 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Quiet {
    /// Values in `[lo, hi]` change nothing (empty while an alarm of the point needs every
    /// value, e.g. rate of change). Stored as `f32` rounded inwards, so the band is never
    /// wider than the exact one.
    lo: f32,
    hi: f32,
    /// Samples at or after this time may change something: a pending delay runs out, or
    /// the device's offline alarm becomes due (`i64::MAX`: nothing pending, no offline
    /// watch). While it is `i64::MAX` the fast path does not write the held value: with no
    /// delay pending and no device watch, no transition reports it and the band does not
    /// depend on which value inside it is held.
    until: Micros,
    /// The point's instances, `slots[start..end]` (fixed when the engine is built).
    start: u32,
    end: u32,
}

/// Per point, what the slow path needs besides [`Quiet`]: the held value and its device
/// watch.
#[derive(Debug, Clone, Copy)]
struct PointCold {
    /// The held value (NaN: unknown). Up to date while a delay is pending or the point has
    /// a device watch (see [`Quiet::until`]); otherwise the last value the full evaluation
    /// saw, inside the band, which is all the band and the next evaluation need.
    last_value: f64,
    device: u32,
    /// The last sample that took the full evaluation was a communication without a value
    /// ([`SampleValue::NotAvailable`](crate::SampleValue::NotAvailable)). With a value that
    /// is not NaN, it says whether the point's last sample was a successful communication.
    answered_without_value: bool,
}

impl PointCold {
    /// Whether the point's last sample was a successful communication (a value, or the
    /// device's "not available"). Samples on the fast path always carry a value.
    fn last_communicated(&self) -> bool {
        !self.last_value.is_nan() || self.answered_without_value
    }
}

/// The smallest `f32` at or above `x` (NaN for NaN).
fn f32_at_least(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) >= x || f.is_nan() {
        return f;
    }
    // f < x: step up one ulp.
    if f == 0.0 {
        f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f32::from_bits(f.to_bits() - 1)
    }
}

/// The largest `f32` at or below `x`.
fn f32_at_most(x: f64) -> f32 {
    -f32_at_least(-x)
}

/// The next `f64` above `x` (the smallest value `> x`).
fn above(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}

/// The next `f64` below `x` (the largest value `< x`).
fn below(x: f64) -> f64 {
    -above(-x)
}

const EMPTY: (f64, f64, Micros) = (f64::INFINITY, f64::NEG_INFINITY, NEVER);

/// The closed range of detector inputs `[a, b]` within which a detector in state `bits` does
/// not change, for the current input `x`, and until when (its deadline).
fn quiet_detector(
    bits: u8,
    deadline: Micros,
    lo: f64,
    hi: f64,
    h: f64,
    x: f64,
) -> (f64, f64, Micros) {
    // A pending detector's horizon is below `i64::MAX` even if its deadline is not, so the
    // fast path keeps the held value of a point with a pending delay (see `Quiet::until`).
    let deadline = deadline.min(i64::MAX - 1);
    match bits {
        // Not beyond: lo <= x <= hi.
        IDLE => (lo, hi, i64::MAX),
        // Still beyond, on the side x is on.
        RAISING if x > hi => (above(hi), f64::INFINITY, deadline),
        RAISING if x < lo => (f64::NEG_INFINITY, below(lo), deadline),
        // Not back to normal (x <= lo + h or x >= hi - h), on the side x is on.
        ACTIVE if x >= hi - h => (hi - h, f64::INFINITY, i64::MAX),
        ACTIVE if x <= lo + h => (f64::NEG_INFINITY, lo + h, i64::MAX),
        // Still normal: lo + h < x < hi - h.
        CLEARING => (above(lo + h), below(hi - h), deadline),
        _ => EMPTY,
    }
}

/// The closed range of values `[a, b]` within which a sample changes nothing in this
/// instance, given the point's current value `v`, and until when. Empty for rate-of-change
/// alarms (every value matters) and for unknown values.
#[inline]
fn quiet(st: &Slot, v: f64) -> (f64, f64, Micros) {
    let mode = st.mode & MODE_MASK;
    if mode == MODE_RATE {
        return EMPTY;
    }
    if v.is_nan() {
        return if st.flags == 0 {
            quiet_idle_unknown(st)
        } else {
            EMPTY
        };
    }
    let x = match mode {
        MODE_VALUE => v,
        MODE_NONZERO => f64::from(u8::from(v != 0.0)),
        _ => f64::from(u8::from(v == 0.0)),
    };
    let (a1, b1, u1) = quiet_detector(st.flags & 3, st.alarm_deadline, st.lo, st.hi, st.hyst, x);
    let (a2, b2, u2) = quiet_detector(
        (st.flags >> PRE_SHIFT) & 3,
        st.pre_deadline,
        st.pre_lo,
        st.pre_hi,
        st.hyst,
        x,
    );
    let (a, b, u) = (a1.max(a2), b1.min(b2), u1.min(u2));
    if a > b {
        return EMPTY;
    }
    if mode == MODE_VALUE {
        return (a, b, u);
    }
    // Binary modes: the input is 0 or 1; map back to values.
    let (zero_in, one_in) = (a <= 0.0 && 0.0 <= b, a <= 1.0 && 1.0 <= b);
    let nonzero_side = if v > 0.0 {
        (f64::from_bits(1), f64::INFINITY)
    } else {
        (f64::NEG_INFINITY, -f64::from_bits(1))
    };
    let (is_zero, not_zero) = if mode == MODE_NONZERO {
        (zero_in, one_in)
    } else {
        (one_in, zero_in)
    };
    match (is_zero, not_zero) {
        (true, true) => (f64::NEG_INFINITY, f64::INFINITY, u),
        (true, false) => (0.0, 0.0, u),
        (false, true) if v != 0.0 => (nonzero_side.0, nonzero_side.1, u),
        _ => EMPTY,
    }
}

/// An idle instance after an unknown value: the next good value decides.
fn quiet_idle_unknown(st: &Slot) -> (f64, f64, Micros) {
    if st.mode & MODE_MASK == MODE_VALUE {
        (st.lo.max(st.pre_lo), st.hi.min(st.pre_hi), i64::MAX)
    } else {
        EMPTY
    }
}

/// Per rule: what the cold path needs.
#[derive(Debug, Clone)]
struct Compiled {
    rule: Rule,
    delay: Micros,
    clear_delay: Micros,
    per: Micros,
    timeout: Micros,
}

/// Per rule: the delays, in a small table of their own (the slow path reads them at
/// transitions without touching the whole rule).
#[derive(Debug, Clone, Copy)]
struct Timing {
    delay: Micros,
    clear_delay: Micros,
}

/// What the cold path needs of a rule, without loading it before it is used.
#[derive(Clone, Copy)]
struct RuleRef<'a> {
    timing: &'a Timing,
    compiled: &'a Compiled,
    scheduled: bool,
}

impl<'a> RuleRef<'a> {
    fn new(rules: &'a [Compiled], timing: &'a [Timing], rule: u32, mode: u8) -> RuleRef<'a> {
        RuleRef {
            timing: &timing[rule as usize],
            compiled: &rules[rule as usize],
            scheduled: mode & SCHEDULED != 0,
        }
    }

    /// The rule of a slot, its delays from the deduplicated table when they are there.
    #[inline]
    fn of_slot(
        rules: &'a [Compiled],
        timing: &'a [Timing],
        timings: &'a [Timing],
        st: &Slot,
    ) -> RuleRef<'a> {
        let rule = st.rule as usize;
        RuleRef {
            timing: timings.get(usize::from(st.timing)).unwrap_or(&timing[rule]),
            compiled: &rules[rule],
            scheduled: st.mode & SCHEDULED != 0,
        }
    }

    fn schedule(&self) -> Option<&'a Schedule> {
        if self.scheduled {
            self.compiled.rule.schedule.as_ref()
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct DeviceWatch {
    /// Offline slots.
    start: u32,
    end: u32,
    /// Points of the device, in `device_points`.
    pstart: u32,
    pend: u32,
    /// The shortest timeout + delay of its offline slots.
    due_after: Micros,
}

#[derive(Debug, Clone, Copy)]
struct OfflineSlot {
    deadline: Micros,
    rule: u32,
    device: u32,
    flags: u8,
}

/// The alarm engine for a rule set and a point list.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Vec<Compiled>,
    timing: Vec<Timing>,
    /// The distinct delays of all rules (see [`Slot::timing`]).
    timings: Vec<Timing>,
    /// Per point: the quiet band and horizon (the fast path reads only this and
    /// `last_time`).
    quiet: Vec<Quiet>,
    /// Per point: the time of its last sample.
    last_time: Vec<Micros>,
    points: Vec<PointCold>,
    /// Per point: the time of its last good sample before the current one.
    last_good: Vec<Micros>,
    point_names: Vec<String>,
    by_name: HashMap<String, u32>,
    slots: Vec<Slot>,
    inst_point: Vec<u32>,
    devices: Vec<DeviceWatch>,
    device_points: Vec<u32>,
    device_names: Vec<String>,
    offline: Vec<OfflineSlot>,
    watermark: Micros,
    origin: Micros,
    started: bool,
    fast: bool,
    stats: Stats,
    /// Samples that took the full evaluation (outside their point's quiet band).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    full_evaluations: u64,
    scratch: Vec<Transition>,
    /// Where [`Engine::warm`] leaves what it loaded, so the loads are kept.
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
        let mut infos: Vec<PointInfo> = points.to_vec();
        let mut by_name: HashMap<String, u32> = HashMap::new();
        for (i, p) in infos.iter().enumerate() {
            if by_name.insert(p.name.clone(), i as u32).is_some() {
                return Err(Error::UnknownPoint(format!("{} (listed twice)", p.name)));
            }
        }
        let mut compiled = Vec::new();
        // (point, rule, hot) for value instances; (device name, rule) for offline ones.
        let mut instances: Vec<(u32, u32, Slot)> = Vec::new();
        let mut offline_targets: Vec<(String, u32)> = Vec::new();
        for rule in rules.rules() {
            if !rule.enabled || matches!(rule.kind, Condition::Group) {
                continue;
            }
            let r = compiled.len() as u32;
            let delay = duration_micros(rule.delay)?;
            let clear_delay = duration_micros(rule.clear_delay)?;
            let (per, timeout) = match &rule.kind {
                Condition::Rate { per, .. } => (duration_micros(*per)?, 0),
                Condition::Offline { timeout } => (0, duration_micros(*timeout)?),
                _ => (0, 0),
            };
            compiled.push(Compiled {
                rule: rule.clone(),
                delay,
                clear_delay,
                per,
                timeout,
            });
            let mut targets: Vec<u32> = Vec::new();
            match &rule.applies_to {
                AppliesTo::Points(names) => {
                    for n in names {
                        let id = match by_name.get(n) {
                            Some(&i) => i,
                            None => {
                                let i = infos.len() as u32;
                                infos.push(PointInfo::named(n));
                                by_name.insert(n.clone(), i);
                                i
                            }
                        };
                        if !targets.contains(&id) {
                            targets.push(id);
                        }
                    }
                }
                AppliesTo::Select(sel) => {
                    targets.extend(
                        infos
                            .iter()
                            .enumerate()
                            .filter(|(_, p)| sel.matches(p))
                            .map(|(i, _)| i as u32),
                    );
                }
                AppliesTo::Children => {}
            }
            if let Condition::Offline { .. } = rule.kind {
                for t in targets {
                    let dev = device_of(&infos[t as usize].name).to_string();
                    if !offline_targets.iter().any(|(d, rr)| *d == dev && *rr == r) {
                        offline_targets.push((dev, r));
                    }
                }
            } else {
                let mut hot = hot_config(rule, r);
                if rule.schedule.is_some() {
                    hot.mode |= SCHEDULED;
                }
                instances.extend(targets.into_iter().map(|p| (p, r, hot)));
            }
        }
        // Instances of a point are contiguous, in rule order.
        instances.sort_by_key(|(p, r, _)| (*p, *r));
        let mut ranges: Vec<PointCold> = vec![
            PointCold {
                last_value: f64::NAN,
                device: NONE,
                answered_without_value: false,
            };
            infos.len()
        ];
        // Per point: its instances (start, end), in the quiet band entries.
        let mut quiet = vec![
            Quiet {
                lo: f32::INFINITY,
                hi: f32::NEG_INFINITY,
                until: NEVER,
                start: 0,
                end: 0,
            };
            infos.len()
        ];
        let mut slots = Vec::with_capacity(instances.len());
        let mut inst_point = Vec::with_capacity(instances.len());
        for (i, (p, _, h)) in instances.iter().enumerate() {
            let r = &mut quiet[*p as usize];
            if r.end == 0 || r.end as usize != i {
                r.start = i as u32;
            }
            r.end = i as u32 + 1;
            slots.push(*h);
            inst_point.push(*p);
        }
        // Offline: one watch per device, its slots contiguous.
        offline_targets.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut devices: Vec<DeviceWatch> = Vec::new();
        let mut device_names: Vec<String> = Vec::new();
        let mut offline = Vec::with_capacity(offline_targets.len());
        for (i, (dev, r)) in offline_targets.iter().enumerate() {
            if device_names.last() != Some(dev) {
                device_names.push(dev.clone());
                devices.push(DeviceWatch {
                    start: i as u32,
                    end: i as u32,
                    pstart: 0,
                    pend: 0,
                    due_after: i64::MAX,
                });
            }
            let d = devices.len() - 1;
            devices[d].end = i as u32 + 1;
            let c = &compiled[*r as usize];
            devices[d].due_after = devices[d].due_after.min(c.timeout.saturating_add(c.delay));
            offline.push(OfflineSlot {
                deadline: NEVER,
                rule: *r,
                device: d as u32,
                flags: IDLE,
            });
        }
        let mut by_device: Vec<Vec<u32>> = vec![Vec::new(); devices.len()];
        for (i, p) in infos.iter().enumerate() {
            if let Ok(d) = device_names.binary_search_by(|n| n.as_str().cmp(device_of(&p.name))) {
                ranges[i].device = d as u32;
                by_device[d].push(i as u32);
            }
        }
        let mut device_points = Vec::new();
        for (d, pts) in by_device.into_iter().enumerate() {
            devices[d].pstart = device_points.len() as u32;
            device_points.extend(pts);
            devices[d].pend = device_points.len() as u32;
        }
        let timing: Vec<Timing> = compiled
            .iter()
            .map(|c| Timing {
                delay: c.delay,
                clear_delay: c.clear_delay,
            })
            .collect();
        // The distinct delays, so the slow path finds them in a table that stays in cache.
        let mut timings: Vec<Timing> = Vec::new();
        let mut shared: HashMap<(Micros, Micros), u16> = HashMap::new();
        for st in &mut slots {
            let t = timing[st.rule as usize];
            st.timing = match shared.get(&(t.delay, t.clear_delay)) {
                Some(&k) => k,
                None if timings.len() < usize::from(SHARED_TIMING_NONE) => {
                    let k = timings.len() as u16;
                    timings.push(t);
                    shared.insert((t.delay, t.clear_delay), k);
                    k
                }
                None => SHARED_TIMING_NONE,
            };
        }
        let mut engine = Engine {
            rules: compiled,
            timing,
            timings,
            quiet,
            last_time: vec![NEVER; ranges.len()],
            last_good: vec![NEVER; ranges.len()],
            points: ranges,
            point_names: infos.into_iter().map(|p| p.name).collect(),
            by_name,
            slots,
            inst_point,
            devices,
            device_points,
            device_names,
            offline,
            watermark: NEVER,
            origin: NEVER,
            started: false,
            fast: true,
            stats: Stats::default(),
            full_evaluations: 0,
            scratch: Vec::new(),
            warm_sink: 0,
        };
        for p in 0..engine.points.len() {
            engine.refresh_point(p);
        }
        Ok(engine)
    }

    /// Recompute a point's quiet band and offline horizon from its instances' states.
    fn refresh_point(&mut self, p: usize) {
        let range = self.points[p];
        let Quiet { start, end, .. } = self.quiet[p];
        let v = range.last_value;
        let (mut lo, mut hi, mut until) = (f64::NEG_INFINITY, f64::INFINITY, i64::MAX);
        for c in &self.slots[start as usize..end as usize] {
            let (a, b, u) = quiet(c, v);
            lo = lo.max(a);
            hi = hi.min(b);
            until = until.min(u);
        }
        if let Some(d) = self.devices.get(range.device as usize) {
            let offline = if self.offline[d.start as usize..d.end as usize]
                .iter()
                .any(|o| o.flags != IDLE)
                || !self.started
            {
                NEVER
            } else {
                self.device_last_comm(range.device as usize)
                    .saturating_add(d.due_after)
            };
            until = until.min(offline);
        }
        if !self.fast {
            (lo, hi, until) = EMPTY;
        }
        self.quiet[p] = Quiet {
            lo: f32_at_least(lo),
            hi: f32_at_most(hi),
            until,
            start,
            end,
        };
    }

    /// The time of a point's last good sample.
    fn point_last_good(&self, p: usize) -> Micros {
        if self.points[p].last_communicated() {
            self.last_time[p]
        } else {
            self.last_good[p]
        }
    }

    /// The last successful communication of a device (the engine's first time if none).
    fn device_last_comm(&self, d: usize) -> Micros {
        let w = &self.devices[d];
        self.device_points[w.pstart as usize..w.pend as usize]
            .iter()
            .map(|&p| self.point_last_good(p as usize))
            .fold(self.origin, i64::max)
    }

    /// The same engine with the fast path turned off: every sample takes the full
    /// evaluation. For tests that check the fast path changes nothing.
    #[doc(hidden)]
    pub fn without_fast_path(mut self) -> Engine {
        self.fast = false;
        for p in 0..self.points.len() {
            self.refresh_point(p);
        }
        self
    }

    /// The id of a point by name.
    pub fn point_id(&self, name: &str) -> Option<PointId> {
        self.by_name.get(name).map(|&i| PointId(i))
    }

    /// The name of a point.
    pub fn point_name(&self, id: PointId) -> Option<&str> {
        self.point_names.get(id.index()).map(String::as_str)
    }

    /// Number of points.
    pub fn point_count(&self) -> usize {
        self.points.len()
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
                rule: &self.rules[self.slots[i].rule as usize].rule,
                target: &self.point_names[self.inst_point[i] as usize],
            })
        } else {
            let o = self.offline.get(i - self.slots.len())?;
            Some(InstanceInfo {
                rule: &self.rules[o.rule as usize].rule,
                target: &self.device_names[o.device as usize],
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
        let show = |bits: u8, deadline: Micros| match bits {
            IDLE => DetectorState::Inactive,
            RAISING => DetectorState::Raising(from_micros(deadline)),
            ACTIVE => DetectorState::Active,
            _ => DetectorState::Clearing(from_micros(deadline)),
        };
        if let Some(s) = self.slots.get(i) {
            return Some((
                show(s.flags & 3, s.alarm_deadline),
                show((s.flags >> PRE_SHIFT) & 3, s.pre_deadline),
            ));
        }
        let o = self.offline.get(i - self.slots.len())?;
        Some((show(o.flags, o.deadline), DetectorState::Inactive))
    }

    /// Mark an instance's alarm (and pre-alarm) active without a transition, e.g. to restore
    /// the open occurrences replayed from an event log after a restart, so a condition that
    /// still holds is not raised twice.
    pub fn restore_active(&mut self, id: InstanceId, alarm: bool, pre_alarm: bool) {
        let i = id.index();
        if let Some(s) = self.slots.get_mut(i) {
            let mut flags = s.flags;
            if alarm {
                flags = (flags & !3) | ACTIVE;
            }
            if pre_alarm {
                flags = (flags & !(3 << PRE_SHIFT)) | (ACTIVE << PRE_SHIFT);
            }
            s.flags = flags;
            let p = self.inst_point[i] as usize;
            self.refresh_point(p);
        } else if let Some(o) = self.offline.get_mut(i - self.slots.len()) {
            if alarm {
                o.flags = ACTIVE;
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
        use std::mem::size_of;
        self.slots.capacity() * size_of::<Slot>()
            + self.inst_point.capacity() * size_of::<u32>()
            + self.quiet.capacity() * size_of::<Quiet>()
            + self.last_time.capacity() * size_of::<Micros>()
            + self.points.capacity() * size_of::<PointCold>()
            + self.last_good.capacity() * size_of::<Micros>()
            + self.timing.capacity() * size_of::<Timing>()
            + self.timings.capacity() * size_of::<Timing>()
            + self.offline.capacity() * size_of::<OfflineSlot>()
            + self.devices.capacity() * size_of::<DeviceWatch>()
            + self.device_points.capacity() * size_of::<u32>()
    }

    fn start(&mut self, t: Micros) {
        if !self.started {
            self.started = true;
            self.origin = t;
            for d in 0..self.devices.len() {
                self.refresh_device(d);
            }
        }
    }

    fn refresh_device(&mut self, d: usize) {
        let w = self.devices[d];
        for k in w.pstart as usize..w.pend as usize {
            let p = self.device_points[k] as usize;
            self.refresh_point(p);
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

    fn process_batch(&mut self, samples: &[AlarmSample], out: &mut Vec<Transition>) {
        if !self.started
            && let Some(first) = samples.first()
        {
            self.start(first.time);
        }
        self.stats.applied += samples.len() as u64;
        // The batch goes in windows of `WINDOW` samples. A read-only look over a window finds
        // the samples that look bound for the full evaluation and loads their instances'
        // cache lines together, so those misses overlap instead of stalling the evaluation
        // one after the other (a hint only: nothing is decided there). Then, in order, the
        // fast path runs until a sample outside its point's quiet band (or rejected); that
        // one takes the full evaluation, then the fast path goes on.
        // Warming costs about as much as the fast path itself: it pays only where full
        // evaluations are frequent but sparse, so a window is warmed when the one before had
        // from `WARM_AFTER` to `WARM_UNTIL` of them.
        let mut i = 0;
        let mut slow_in_window = WARM_AFTER;
        while i < samples.len() {
            let window_end = samples.len().min(i + WINDOW);
            let Some(window) = samples.get(i..window_end) else {
                break;
            };
            if (WARM_AFTER..WARM_UNTIL).contains(&slow_in_window) {
                self.warm(window);
            }
            slow_in_window = 0;
            while i < window_end {
                let watermark = self.watermark;
                let n = self.quiet.len();
                let quiet = &self.quiet[..n];
                let times = &mut self.last_time[..n];
                let held = &mut self.points[..n];
                while let Some(s) = samples.get(i).filter(|_| i < window_end) {
                    let p = s.point as usize;
                    let Some(q) = quiet.get(p) else {
                        break;
                    };
                    let (t, v) = (s.time, s.value);
                    // NaN (missing, bad) compares false.
                    if (t >= times[p])
                        & (t >= watermark)
                        & (t < q.until)
                        & (v >= f64::from(q.lo))
                        & (v <= f64::from(q.hi))
                    {
                        times[p] = t;
                        if q.until != i64::MAX {
                            held[p].last_value = v;
                        }
                        i += 1;
                    } else {
                        break;
                    }
                }
                let Some(s) = samples.get(i).filter(|_| i < window_end) else {
                    break;
                };
                let pi = s.point as usize;
                slow_in_window += 1;
                if pi < n {
                    self.slow(pi, s, out);
                } else {
                    self.stats.unknown_point += 1;
                    self.stats.applied -= 1;
                }
                i += 1;
            }
        }
    }

    /// Load the cache lines the full evaluations of a window of samples will need (the
    /// point's cold half and its first instance), for the samples outside their point's
    /// quiet band as it stands. Reads only: a prefetch done with loads that do not depend
    /// on each other, so the memory system serves them together.
    #[inline(never)]
    fn warm(&mut self, window: &[AlarmSample]) {
        let n = self.quiet.len();
        if n == 0 {
            return;
        }
        let watermark = self.watermark;
        let quiet = &self.quiet[..n];
        let times = &self.last_time[..n];
        let mut found = [0u32; WINDOW];
        let mut k = 0;
        for (s, slot) in window.iter().zip(0..WINDOW) {
            let p = (s.point as usize).min(n - 1);
            let q = quiet[p];
            let (t, v) = (s.time, s.value);
            let fast = (t >= times[p])
                & (t >= watermark)
                & (t < q.until)
                & (v >= f64::from(q.lo))
                & (v <= f64::from(q.hi));
            found[k.min(slot)] = q.start;
            k += usize::from(!fast);
        }
        let mut touched = 0u32;
        for &start in &found[..k.min(WINDOW)] {
            touched ^= self
                .slots
                .get(start as usize)
                .map_or(0, |st| u32::from(st.flags));
        }
        self.warm_sink = std::hint::black_box(touched);
    }

    /// Apply one sample; the report says whether it was applied or why not (as
    /// [`Engine::process`]).
    pub fn process_one(&mut self, sample: AlarmSample, out: &mut Vec<Transition>) -> ProcessReport {
        self.process(std::slice::from_ref(&sample), out)
    }

    /// The full evaluation of one sample: every instance of the point sees it, and the
    /// point's quiet band is recomputed from the instances' new states on the way.
    #[inline(never)]
    fn slow(&mut self, pi: usize, s: &AlarmSample, out: &mut Vec<Transition>) {
        let (t, v) = (s.time, s.value);
        self.full_evaluations += 1;
        let held_time = self.last_time[pi];
        if t < held_time || t < self.watermark {
            self.stats.out_of_order += 1;
            self.stats.before_tick += u64::from(t < self.watermark);
            self.stats.applied -= 1;
            return;
        }
        // The instances' range comes with the band (already loaded by the fast path's check),
        // so the loads of the held value and of the instances' cache line go out together.
        let Quiet { start, end, .. } = self.quiet[pi];
        let (start, end) = (start as usize, end as usize);
        let cold = self.points[pi];
        let held_value = cold.last_value;
        let device = cold.device;
        let prev_comm = (device != NONE).then(|| self.device_last_comm(device as usize));
        if device != NONE && cold.last_communicated() && held_time != NEVER {
            self.last_good[pi] = held_time;
        }
        self.last_time[pi] = t;
        self.points[pi].last_value = v;
        self.points[pi].answered_without_value = s.quality == Quality::NotAvailable;
        let (mut lo, mut hi, mut until) = (f64::NEG_INFINITY, f64::INFINITY, i64::MAX);
        if let Some(slots) = self.slots.get_mut(start..end) {
            for (k, st) in slots.iter_mut().enumerate() {
                // An idle value alarm inside its thresholds cannot change.
                if (st.flags != 0)
                    | (st.mode & MODE_MASK != MODE_VALUE)
                    | (v < st.lo)
                    | (v > st.hi)
                    | (v < st.pre_lo)
                    | (v > st.pre_hi)
                {
                    let rule = RuleRef::of_slot(&self.rules, &self.timing, &self.timings, st);
                    evaluate(
                        st,
                        rule,
                        (start + k) as u32,
                        t,
                        s.quality,
                        v,
                        held_time,
                        held_value,
                        out,
                    );
                }
                let (a, b, u) = quiet(st, v);
                lo = lo.max(a);
                hi = hi.min(b);
                until = until.min(u);
            }
        }
        match prev_comm {
            Some(prev) if s.quality.communicates() => {
                self.communicated(device as usize, prev, t, out)
            }
            Some(_) => self.refresh_point(pi),
            None => {
                // No device watch: the band is the instances' (as `refresh_point` finds it).
                if !self.fast {
                    (lo, hi, until) = EMPTY;
                }
                self.quiet[pi] = Quiet {
                    lo: f32_at_least(lo),
                    hi: f32_at_most(hi),
                    until,
                    start: start as u32,
                    end: end as u32,
                };
            }
        }
    }

    /// A good sample of device `d` at `t`; `prev` was its last communication before.
    fn communicated(&mut self, d: usize, prev: Micros, t: Micros, out: &mut Vec<Transition>) {
        let n = self.slots.len() as u32;
        let dev = self.devices[d];
        for i in dev.start as usize..dev.end as usize {
            let o = &mut self.offline[i];
            let rule = RuleRef::new(
                &self.rules,
                &self.timing,
                o.rule,
                offline_mode(&self.rules[o.rule as usize]),
            );
            advance_offline(o, rule, prev, t, n + i as u32, out);
            if o.flags == ACTIVE {
                out.push(Transition {
                    time: t,
                    value: f64::NAN,
                    instance: n + i as u32,
                    kind: TransitionKind::Cleared,
                });
            }
            o.flags = IDLE;
            o.deadline = NEVER;
        }
        self.refresh_device(d);
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
        if now < self.watermark {
            self.stats.stale_ticks += 1;
            return;
        }
        self.start(now);
        self.watermark = now;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for (i, st) in self.slots.iter_mut().enumerate() {
            if st.flags & 0b0101 != 0 {
                let held = self.points[self.inst_point[i] as usize].last_value;
                let rule = RuleRef::of_slot(&self.rules, &self.timing, &self.timings, st);
                advance(st, rule, i as u32, now, held, &mut scratch);
            }
        }
        let n = self.slots.len() as u32;
        for d in 0..self.devices.len() {
            let last = self.device_last_comm(d);
            let dev = self.devices[d];
            let mut changed = false;
            for i in dev.start as usize..dev.end as usize {
                let o = &mut self.offline[i];
                let before = o.flags;
                let rule = RuleRef::new(
                    &self.rules,
                    &self.timing,
                    o.rule,
                    offline_mode(&self.rules[o.rule as usize]),
                );
                advance_offline(o, rule, last, now, n + i as u32, &mut scratch);
                changed |= o.flags != before;
            }
            if changed {
                self.refresh_device(d);
            }
        }
        scratch.sort_by_key(|t| t.time);
        out.extend_from_slice(&scratch);
        self.scratch = scratch;
    }

    /// The latest tick time.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        (self.watermark != NEVER).then(|| from_micros(self.watermark))
    }

    /// The priority of the rule behind a transition.
    pub fn priority(&self, t: &Transition) -> Priority {
        self.instance(t.instance())
            .map_or(Priority::Warning, |i| i.rule.priority)
    }
}

fn hot_config(rule: &Rule, r: u32) -> Slot {
    let inf = f64::INFINITY;
    let h = rule.hysteresis;
    let base = Slot {
        lo: -inf,
        hi: inf,
        pre_lo: -inf,
        pre_hi: inf,
        hyst: h,
        alarm_deadline: NEVER,
        pre_deadline: NEVER,
        rule: r,
        mode: MODE_VALUE,
        flags: 0,
        timing: SHARED_TIMING_NONE,
    };
    match &rule.kind {
        Condition::High {
            threshold,
            pre_alarm,
        } => Slot {
            hi: *threshold,
            pre_hi: pre_alarm.unwrap_or(inf),
            ..base
        },
        Condition::Low {
            threshold,
            pre_alarm,
        } => Slot {
            lo: *threshold,
            pre_lo: pre_alarm.unwrap_or(-inf),
            ..base
        },
        Condition::Band {
            low,
            high,
            low_pre_alarm,
            high_pre_alarm,
        } => Slot {
            lo: *low,
            hi: *high,
            pre_lo: low_pre_alarm.unwrap_or(-inf),
            pre_hi: high_pre_alarm.unwrap_or(inf),
            ..base
        },
        Condition::Binary { raise_on } => Slot {
            hi: 0.5,
            hyst: 0.0,
            mode: if *raise_on { MODE_NONZERO } else { MODE_ZERO },
            ..base
        },
        Condition::Controller => Slot {
            hi: 0.5,
            hyst: 0.0,
            mode: MODE_NONZERO,
            ..base
        },
        Condition::Rate {
            limit,
            direction,
            pre_alarm,
            ..
        } => {
            let (up, down) = match direction {
                Direction::Up => (true, false),
                Direction::Down => (false, true),
                Direction::Both => (true, true),
            };
            Slot {
                lo: if down { -limit } else { -inf },
                hi: if up { *limit } else { inf },
                pre_lo: match pre_alarm {
                    Some(p) if down => -p,
                    _ => -inf,
                },
                pre_hi: match pre_alarm {
                    Some(p) if up => *p,
                    _ => inf,
                },
                mode: MODE_RATE,
                ..base
            }
        }
        Condition::Offline { .. } | Condition::Group => base,
    }
}

/// Fire the pending deadlines of an instance that are at or before `now` (value held).
fn advance(
    st: &mut Slot,
    rule: RuleRef<'_>,
    inst: u32,
    now: Micros,
    held: f64,
    out: &mut Vec<Transition>,
) {
    let mut fired: [Option<Transition>; 2] = [None, None];
    let a = fire(st.flags & 3, &mut st.alarm_deadline, rule, now);
    if let Some((bits, time, raised)) = a {
        st.flags = (st.flags & !3) | bits;
        fired[0] = Some(transition(false, raised, time, held, inst));
    }
    let p = fire((st.flags >> PRE_SHIFT) & 3, &mut st.pre_deadline, rule, now);
    if let Some((bits, time, raised)) = p {
        st.flags = (st.flags & !(3 << PRE_SHIFT)) | (bits << PRE_SHIFT);
        fired[1] = Some(transition(true, raised, time, held, inst));
    }
    push_in_order(out, fired);
}

/// The transition a detector reports: the alarm detector (`pre == false`) raises and clears
/// the alarm, the pre-alarm detector raises and clears the pre-alarm.
#[inline(always)]
fn transition(pre: bool, raised: bool, time: Micros, value: f64, instance: u32) -> Transition {
    let kind = match (pre, raised) {
        (false, true) => TransitionKind::Raised,
        (false, false) => TransitionKind::Cleared,
        (true, true) => TransitionKind::PreAlarm,
        (true, false) => TransitionKind::PreAlarmCleared,
    };
    Transition {
        time,
        value,
        instance,
        kind,
    }
}

/// Push the (at most two) transitions of one instance in time order, ties broken by
/// [`TransitionKind`] order.
#[inline]
fn push_in_order(out: &mut Vec<Transition>, fired: [Option<Transition>; 2]) {
    match fired {
        [Some(x), Some(y)] => {
            let (first, second) = if (y.time, y.kind) < (x.time, x.kind) {
                (y, x)
            } else {
                (x, y)
            };
            out.push(first);
            out.push(second);
        }
        [Some(x), None] | [None, Some(x)] => out.push(x),
        [None, None] => {}
    }
}

/// A pending detector whose deadline has come: its new bits, the instant, raised or not.
#[inline]
fn fire(
    bits: u8,
    deadline: &mut Micros,
    rule: RuleRef<'_>,
    now: Micros,
) -> Option<(u8, Micros, bool)> {
    match bits {
        RAISING if *deadline <= now => match open_at(rule.schedule(), *deadline) {
            Some(at) if at == *deadline => Some((ACTIVE, at, true)),
            Some(at) if at <= now => Some((ACTIVE, at, true)),
            Some(at) => {
                *deadline = at;
                None
            }
            None => {
                *deadline = i64::MAX;
                None
            }
        },
        CLEARING if *deadline <= now => Some((IDLE, *deadline, false)),
        _ => None,
    }
}

/// The first instant at or after `t` when the schedule allows raising.
fn open_at(schedule: Option<&Schedule>, t: Micros) -> Option<Micros> {
    match schedule {
        None => Some(t),
        Some(s) => s.next_open(from_micros(t)).map(to_micros),
    }
}

/// The slow path of a sample: fire elapsed deadlines, then apply the new reading.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn evaluate(
    st: &mut Slot,
    rule: RuleRef<'_>,
    inst: u32,
    t: Micros,
    quality: Quality,
    v: f64,
    held_time: Micros,
    held_value: f64,
    out: &mut Vec<Transition>,
) {
    if st.flags & 0b0101 != 0 {
        advance(st, rule, inst, t, held_value, out);
    }
    if quality != Quality::Good {
        // Unknown value: abandon pending raises and clears.
        for shift in [0, PRE_SHIFT] {
            match (st.flags >> shift) & 3 {
                RAISING => st.flags &= !(3 << shift),
                CLEARING => st.flags = (st.flags & !(3 << shift)) | (ACTIVE << shift),
                _ => {}
            }
        }
        return;
    }
    let x = match st.mode & MODE_MASK {
        MODE_VALUE => v,
        MODE_RATE => {
            if held_time == NEVER || held_value.is_nan() || t == held_time {
                return;
            }
            (v - held_value) * (rule.compiled.per as f64) / ((t - held_time) as f64)
        }
        MODE_NONZERO => f64::from(u8::from(v != 0.0)),
        _ => f64::from(u8::from(v == 0.0)),
    };
    let mut fired: [Option<Transition>; 2] = [None, None];
    let h = st.hyst;
    let beyond = (x < st.lo) | (x > st.hi);
    let normal = (x > st.lo + h) & (x < st.hi - h);
    let mut bits = st.flags & 3;
    if let Some((time, raised)) = step(&mut bits, &mut st.alarm_deadline, beyond, normal, t, rule) {
        fired[0] = Some(transition(false, raised, time, v, inst));
    }
    st.flags = (st.flags & !3) | bits;
    let beyond = (x < st.pre_lo) | (x > st.pre_hi);
    let normal = (x > st.pre_lo + h) & (x < st.pre_hi - h);
    let mut bits = (st.flags >> PRE_SHIFT) & 3;
    if let Some((time, raised)) = step(&mut bits, &mut st.pre_deadline, beyond, normal, t, rule) {
        fired[1] = Some(transition(true, raised, time, v, inst));
    }
    st.flags = (st.flags & !(3 << PRE_SHIFT)) | (bits << PRE_SHIFT);
    push_in_order(out, fired);
}

/// One detector seeing a value at `t` (its elapsed deadlines already fired).
#[inline]
fn step(
    bits: &mut u8,
    deadline: &mut Micros,
    beyond: bool,
    normal: bool,
    t: Micros,
    rule: RuleRef<'_>,
) -> Option<(Micros, bool)> {
    match *bits {
        IDLE if beyond => {
            let delay = rule.timing.delay;
            *deadline = t.saturating_add(delay);
            *bits = RAISING;
            if delay == 0
                && let Some((b, time, raised)) = fire(RAISING, deadline, rule, t)
            {
                *bits = b;
                return Some((time, raised));
            }
            None
        }
        RAISING if !beyond => {
            *bits = IDLE;
            None
        }
        ACTIVE if normal => {
            let clear_delay = rule.timing.clear_delay;
            if clear_delay == 0 {
                *bits = IDLE;
                return Some((t, false));
            }
            *deadline = t.saturating_add(clear_delay);
            *bits = CLEARING;
            None
        }
        CLEARING if !normal => {
            *bits = ACTIVE;
            None
        }
        _ => None,
    }
}

/// Fire an offline slot's raise if its due time (last communication + timeout + delay, or a
/// deadline postponed by the schedule) is at or before `now`.
fn advance_offline(
    o: &mut OfflineSlot,
    rule: RuleRef<'_>,
    last_comm: Micros,
    now: Micros,
    inst: u32,
    out: &mut Vec<Transition>,
) {
    if last_comm == NEVER {
        return;
    }
    if o.flags == IDLE {
        let due = last_comm
            .saturating_add(rule.compiled.timeout)
            .saturating_add(rule.timing.delay);
        if due > now {
            return;
        }
        o.flags = RAISING;
        o.deadline = due;
    }
    if o.flags == RAISING
        && let Some((bits, time, _)) = fire(RAISING, &mut o.deadline, rule, now)
    {
        o.flags = bits;
        out.push(Transition {
            time,
            value: f64::NAN,
            instance: inst,
            kind: TransitionKind::Raised,
        });
    }
}

fn offline_mode(c: &Compiled) -> u8 {
    if c.rule.schedule.is_some() {
        SCHEDULED
    } else {
        0
    }
}
