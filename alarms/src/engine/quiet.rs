//! The quiet band and the sample path.
//!
//! Each point keeps a [`Quiet`] band: the values (and the time horizon) within which none of
//! its alarms can change. [`Engine::process_batch`] runs the fast path, which only checks a
//! sample against its point's band and updates the held time (and the held value while a
//! delay is pending or a device is watched); a sample outside the band takes the full
//! evaluation ([`Engine::slow`]), which recomputes the band as it goes. The band is
//! conservative: rounded inwards to `f32`, and empty wherever it is not known exactly (rate
//! of change, unknown values), so the fast path never skips a change.

use crate::sample::{AlarmSample, Quality};
use crate::time::Micros;

use super::detector::{Flags, Mode, NEVER, Phase, RuleRef, Seen, Slot, evaluate};
use super::{Engine, Transition};

/// Samples per window of [`Engine::process`] (see `Engine::warm`).
const WINDOW: usize = 256;

/// Full evaluations in a window from which the next window is warmed...
const WARM_AFTER: usize = 8;
/// ... and up to which (where most samples take it, their accesses are dense enough for
/// the hardware prefetcher).
const WARM_UNTIL: usize = 64;

/// No device watch.
pub(super) const NONE: u32 = u32::MAX;

/// Per point, what the fast path reads (and never writes): the range of values and times
/// within which none of the point's alarms can change, and where the point's instances are,
/// so a sample outside the band finds its instances' cache line without first loading
/// [`PointCold`] (the two loads go out together). 24 bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quiet {
    /// Values in `[lo, hi]` change nothing (empty while an alarm of the point needs every
    /// value, e.g. rate of change). Stored as `f32` rounded inwards, so the band is never
    /// wider than the exact one.
    pub(super) lo: f32,
    pub(super) hi: f32,
    /// Samples at or after this time may change something: a pending delay runs out, or
    /// the device's offline alarm becomes due (`i64::MAX`: nothing pending, no offline
    /// watch). While it is `i64::MAX` the fast path does not write the held value: with no
    /// delay pending and no device watch, no transition reports it and the band does not
    /// depend on which value inside it is held.
    pub(super) until: Micros,
    /// The point's instances, `slots[start..end]` (fixed when the engine is built).
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Quiet {
    /// A point whose instances are `slots[start..end]`, with an empty band (the engine
    /// computes the band once it is built).
    pub(super) fn closed(start: u32, end: u32) -> Quiet {
        Quiet {
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
            until: NEVER,
            start,
            end,
        }
    }
}

/// Per point, what the slow path needs besides [`Quiet`]: the held value and its device
/// watch.
#[derive(Debug, Clone, Copy)]
pub(super) struct PointCold {
    /// The held value (NaN: unknown). Up to date while a delay is pending or the point has
    /// a device watch (see [`Quiet::until`]); otherwise the last value the full evaluation
    /// saw, inside the band, which is all the band and the next evaluation need.
    pub(super) last_value: f64,
    /// The point's device watch in [`super::Tables::devices`] ([`NONE`]: none).
    pub(super) device: u32,
    /// The last sample that took the full evaluation was a communication without a value
    /// ([`SampleValue::NotAvailable`](crate::SampleValue::NotAvailable)). With a value that
    /// is not NaN, it says whether the point's last sample was a successful communication.
    pub(super) answered_without_value: bool,
}

impl PointCold {
    /// A point never sampled, without a device watch.
    pub(super) const NEW: PointCold = PointCold {
        last_value: f64::NAN,
        device: NONE,
        answered_without_value: false,
    };

    /// Whether the point's last sample was a successful communication (a value, or the
    /// device's "not available"). Samples on the fast path always carry a value.
    pub(super) fn last_communicated(&self) -> bool {
        !self.last_value.is_nan() || self.answered_without_value
    }
}

/// The smallest `f32` at or above `x` (NaN for NaN).
#[inline]
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
#[inline]
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

/// A band no value is in, ending now.
pub(super) const EMPTY: (f64, f64, Micros) = (f64::INFINITY, f64::NEG_INFINITY, NEVER);

/// The band of one point: where its instances' bands meet, as stored.
#[inline]
fn stored(lo: f64, hi: f64, until: Micros, start: u32, end: u32) -> Quiet {
    Quiet {
        lo: f32_at_least(lo),
        hi: f32_at_most(hi),
        until,
        start,
        end,
    }
}

/// The closed range of detector inputs `[a, b]` within which a detector in `phase` does
/// not change, for the current input `x`, and until when (its deadline).
fn quiet_detector(
    phase: Phase,
    deadline: Micros,
    lo: f64,
    hi: f64,
    h: f64,
    x: f64,
) -> (f64, f64, Micros) {
    // A pending detector's horizon is below `i64::MAX` even if its deadline is not, so the
    // fast path keeps the held value of a point with a pending delay (see `Quiet::until`).
    let deadline = deadline.min(i64::MAX - 1);
    match phase {
        // Not beyond: lo <= x <= hi.
        Phase::Idle => (lo, hi, i64::MAX),
        // Still beyond, on the side x is on.
        Phase::Raising if x > hi => (above(hi), f64::INFINITY, deadline),
        Phase::Raising if x < lo => (f64::NEG_INFINITY, below(lo), deadline),
        // Not back to normal (x <= lo + h or x >= hi - h), on the side x is on.
        Phase::Active if x >= hi - h => (hi - h, f64::INFINITY, i64::MAX),
        Phase::Active if x <= lo + h => (f64::NEG_INFINITY, lo + h, i64::MAX),
        // Still normal: lo + h < x < hi - h.
        Phase::Clearing => (above(lo + h), below(hi - h), deadline),
        _ => EMPTY,
    }
}

/// The closed range of values `[a, b]` within which a sample changes nothing in this
/// instance, given the point's current value `v`, and until when. Empty for rate-of-change
/// alarms (every value matters) and for unknown values.
#[inline]
fn quiet(st: &Slot, v: f64) -> (f64, f64, Micros) {
    let mode = st.mode;
    if mode == Mode::Rate {
        return EMPTY;
    }
    if v.is_nan() {
        return if st.flags.idle() {
            quiet_idle_unknown(st)
        } else {
            EMPTY
        };
    }
    let x = match mode {
        Mode::Value => v,
        Mode::NonZero => f64::from(u8::from(v != 0.0)),
        Mode::Zero | Mode::Rate => f64::from(u8::from(v == 0.0)),
    };
    let flags: Flags = st.flags;
    let (a1, b1, u1) = quiet_detector(
        flags.phase(false),
        st.alarm_deadline,
        st.lo,
        st.hi,
        st.hyst,
        x,
    );
    let (a2, b2, u2) = quiet_detector(
        flags.phase(true),
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
    if mode == Mode::Value {
        return (a, b, u);
    }
    // Binary modes: the input is 0 or 1; map back to values.
    let (zero_in, one_in) = (a <= 0.0 && 0.0 <= b, a <= 1.0 && 1.0 <= b);
    let nonzero_side = if v > 0.0 {
        (f64::from_bits(1), f64::INFINITY)
    } else {
        (f64::NEG_INFINITY, -f64::from_bits(1))
    };
    let (is_zero, not_zero) = if mode == Mode::NonZero {
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
    if st.mode == Mode::Value {
        (st.lo.max(st.pre_lo), st.hi.min(st.pre_hi), i64::MAX)
    } else {
        EMPTY
    }
}

impl Engine {
    /// Recompute a point's quiet band and offline horizon from its instances' states.
    pub(super) fn refresh_point(&mut self, p: usize) {
        let cold = self.points.cold[p];
        let Quiet { start, end, .. } = self.points.quiet[p];
        let v = cold.last_value;
        let (mut lo, mut hi, mut until) = (f64::NEG_INFINITY, f64::INFINITY, i64::MAX);
        for c in &self.slots[start as usize..end as usize] {
            let (a, b, u) = quiet(c, v);
            lo = lo.max(a);
            hi = hi.min(b);
            until = until.min(u);
        }
        if let Some(due) = self.offline_horizon(cold.device) {
            until = until.min(due);
        }
        if !self.fast {
            (lo, hi, until) = EMPTY;
        }
        self.points.quiet[p] = stored(lo, hi, until, start, end);
    }

    /// Apply a batch: the fast path, and the full evaluation for the samples outside their
    /// point's band (see [`Engine::process`]).
    pub(super) fn process_batch(&mut self, samples: &[AlarmSample], out: &mut Vec<Transition>) {
        if !self.clock.started
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
                let watermark = self.clock.watermark;
                let n = self.points.quiet.len();
                let quiet = &self.points.quiet[..n];
                let times = &mut self.points.last_time[..n];
                let held = &mut self.points.cold[..n];
                while let Some(s) = samples.get(i).filter(|_| i < window_end) {
                    let p = s.point as usize;
                    let Some(q) = quiet.get(p) else {
                        break;
                    };
                    let (t, v) = (s.time, s.value);
                    // NaN (no value) compares false.
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
        let n = self.points.quiet.len();
        if n == 0 {
            return;
        }
        let watermark = self.clock.watermark;
        let quiet = &self.points.quiet[..n];
        let times = &self.points.last_time[..n];
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
                .map_or(0, |st| u32::from(st.flags.bits()));
        }
        self.warm_sink = std::hint::black_box(touched);
    }

    /// The full evaluation of one sample: every instance of the point sees it, and the
    /// point's quiet band is recomputed from the instances' new states on the way.
    #[inline(never)]
    fn slow(&mut self, pi: usize, s: &AlarmSample, out: &mut Vec<Transition>) {
        let (t, v) = (s.time, s.value);
        self.full_evaluations += 1;
        let held_time = self.points.last_time[pi];
        if t < held_time || t < self.clock.watermark {
            self.stats.out_of_order += 1;
            self.stats.before_tick += u64::from(t < self.clock.watermark);
            self.stats.applied -= 1;
            return;
        }
        // The instances' range comes with the band (already loaded by the fast path's check),
        // so the loads of the held value and of the instances' cache line go out together.
        let Quiet { start, end, .. } = self.points.quiet[pi];
        let cold = self.points.cold[pi];
        let device = cold.device;
        let prev_comm = (device != NONE).then(|| self.device_last_comm(device as usize));
        if device != NONE && cold.last_communicated() && held_time != NEVER {
            self.points.last_good[pi] = held_time;
        }
        self.points.last_time[pi] = t;
        self.points.cold[pi].last_value = v;
        self.points.cold[pi].answered_without_value = s.quality == Quality::NotAvailable;
        let seen = Seen {
            t,
            quality: s.quality,
            v,
            held_time,
            held_value: cold.last_value,
        };
        let (lo, hi, until) = self.evaluate_instances(start, end, seen, out);
        match prev_comm {
            Some(prev) if s.quality.communicates() => {
                self.communicated(device as usize, prev, t, out);
            }
            Some(_) => self.refresh_point(pi),
            None => {
                // No device watch: the band is the instances' (as `refresh_point` finds it).
                let (lo, hi, until) = if self.fast { (lo, hi, until) } else { EMPTY };
                self.points.quiet[pi] = stored(lo, hi, until, start, end);
            }
        }
    }

    /// Every instance in `slots[start..end]` sees the sample (those that can change); the
    /// band where their quiet bands meet.
    #[inline]
    fn evaluate_instances(
        &mut self,
        start: u32,
        end: u32,
        seen: Seen,
        out: &mut Vec<Transition>,
    ) -> (f64, f64, Micros) {
        let v = seen.v;
        let (mut lo, mut hi, mut until) = (f64::NEG_INFINITY, f64::INFINITY, i64::MAX);
        let t = &self.tables;
        if let Some(slots) = self.slots.get_mut(start as usize..end as usize) {
            for (k, st) in slots.iter_mut().enumerate() {
                // An idle value alarm inside its thresholds cannot change.
                if !st.flags.idle()
                    | (st.mode != Mode::Value)
                    | (v < st.lo)
                    | (v > st.hi)
                    | (v < st.pre_lo)
                    | (v > st.pre_hi)
                {
                    let rule = RuleRef::of_slot(&t.rules, &t.timing, &t.timings, st);
                    evaluate(st, rule, start + k as u32, seen, out);
                }
                let (a, b, u) = quiet(st, v);
                lo = lo.max(a);
                hi = hi.min(b);
                until = until.min(u);
            }
        }
        (lo, hi, until)
    }
}
