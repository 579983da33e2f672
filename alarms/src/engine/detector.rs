//! The detector: one alarm instance in one cache line ([`Slot`]) and the state machine of its
//! two detectors (alarm and pre-alarm), as the [module semantics](super) describe it.
//!
//! A detector is in one [`Phase`]; both phases of an instance and whether its rule has a
//! schedule are packed in one byte ([`Flags`]); how the detector's input is derived from the
//! point's value is the instance's [`Mode`].

use crate::rule::{Condition, Direction, Rule};
use crate::sample::Quality;
use crate::schedule::Schedule;
use crate::time::{Micros, from_micros, to_micros};

use super::{Transition, TransitionKind};

/// No time: a deadline that is not set, a point never sampled.
pub(super) const NEVER: Micros = i64::MIN;

/// The phase of one detector (two bits of [`Flags`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Normal.
    Idle = 0,
    /// Beyond the threshold, waiting for the activation delay (or the schedule).
    Raising = 1,
    /// Active.
    Active = 2,
    /// Back to normal, waiting for the clearing delay.
    Clearing = 3,
}

impl Phase {
    /// The phase in the two low bits of `bits`.
    #[inline(always)]
    fn from_bits(bits: u8) -> Phase {
        match bits & 3 {
            0 => Phase::Idle,
            1 => Phase::Raising,
            2 => Phase::Active,
            _ => Phase::Clearing,
        }
    }
}

/// The two detector phases of an instance and its schedule bit, in one byte: the alarm
/// detector in bits 0-1, the pre-alarm detector in bits 2-3, [`Flags::SCHEDULED`] in bit 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct Flags(u8);

impl Flags {
    /// Bits of the detectors' phases.
    const PHASES: u8 = 0x0f;
    /// Set when a detector is pending (raising or clearing: the phases with bit 0 set).
    const PENDING: u8 = 0b0101;
    /// Set when the rule has a schedule (fixed when the engine is built).
    const SCHEDULED: u8 = 0x80;
    /// Where the pre-alarm detector's phase starts.
    const PRE_SHIFT: u8 = 2;

    /// Both detectors idle; `scheduled` when the rule has a schedule.
    pub(super) fn new(scheduled: bool) -> Flags {
        Flags(if scheduled { Flags::SCHEDULED } else { 0 })
    }

    /// The byte (for loads that only need to happen).
    #[inline(always)]
    pub(super) fn bits(self) -> u8 {
        self.0
    }

    /// Both detectors idle.
    #[inline(always)]
    pub(super) fn idle(self) -> bool {
        self.0 & Flags::PHASES == 0
    }

    /// A detector is raising or clearing: a deadline is set.
    #[inline(always)]
    pub(super) fn pending(self) -> bool {
        self.0 & Flags::PENDING != 0
    }

    /// The rule has a schedule.
    #[inline(always)]
    pub(super) fn scheduled(self) -> bool {
        self.0 & Flags::SCHEDULED != 0
    }

    /// The phase of the alarm detector (`pre == false`) or the pre-alarm detector.
    #[inline(always)]
    pub(super) fn phase(self, pre: bool) -> Phase {
        Phase::from_bits(self.0 >> Flags::shift(pre))
    }

    /// Set the phase of one detector.
    #[inline(always)]
    pub(super) fn set_phase(&mut self, pre: bool, phase: Phase) {
        let shift = Flags::shift(pre);
        self.0 = (self.0 & !(3 << shift)) | ((phase as u8) << shift);
    }

    #[inline(always)]
    fn shift(pre: bool) -> u8 {
        if pre { Flags::PRE_SHIFT } else { 0 }
    }
}

/// How a detector's input is derived from the point's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Mode {
    /// The value itself (high, low, band).
    Value = 0,
    /// The rate of change between consecutive good samples, scaled to the rule's `per`.
    Rate = 1,
    /// Binary true / controller: input 1 while the value is non-zero.
    NonZero = 2,
    /// Binary false: input 1 while the value is zero.
    Zero = 3,
}

/// One alarm instance in one cache line: its thresholds as the comparison needs them, and
/// its mutable state (two detector phases and their deadlines).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Slot {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) pre_lo: f64,
    pub(super) pre_hi: f64,
    pub(super) hyst: f64,
    pub(super) alarm_deadline: Micros,
    pub(super) pre_deadline: Micros,
    pub(super) rule: u32,
    pub(super) mode: Mode,
    pub(super) flags: Flags,
    /// The rule's delays in the deduplicated delay table (so the table stays in cache);
    /// [`SHARED_TIMING_NONE`]: look them up by rule.
    pub(super) timing: u16,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);
const _: () = assert!(std::mem::size_of::<Flags>() == 1 && std::mem::size_of::<Mode>() == 1);

/// `Slot::timing` when the rule's delays are not in the deduplicated table.
pub(super) const SHARED_TIMING_NONE: u16 = u16::MAX;

/// Bytes of an instance's slot that change (deadlines and detector phases).
pub(super) const MUTABLE_BYTES: usize = 2 * std::mem::size_of::<Micros>() + 1;

impl Slot {
    /// The instance of rule number `r` (a value rule: not offline, not group), idle.
    pub(super) fn for_rule(rule: &Rule, r: u32) -> Slot {
        let inf = f64::INFINITY;
        let base = Slot {
            lo: -inf,
            hi: inf,
            pre_lo: -inf,
            pre_hi: inf,
            hyst: rule.hysteresis,
            alarm_deadline: NEVER,
            pre_deadline: NEVER,
            rule: r,
            mode: Mode::Value,
            flags: Flags::new(rule.schedule.is_some()),
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
                mode: if *raise_on { Mode::NonZero } else { Mode::Zero },
                ..base
            },
            Condition::Controller => Slot {
                hi: 0.5,
                hyst: 0.0,
                mode: Mode::NonZero,
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
                    mode: Mode::Rate,
                    ..base
                }
            }
            Condition::Offline { .. } | Condition::Group => base,
        }
    }
}

/// Per rule: what the cold path needs.
#[derive(Debug, Clone)]
pub(super) struct CompiledRule {
    pub(super) rule: Rule,
    pub(super) delay: Micros,
    pub(super) clear_delay: Micros,
    pub(super) per: Micros,
    pub(super) timeout: Micros,
}

/// Per rule: the delays, in a small table of their own (the slow path reads them at
/// transitions without touching the whole rule).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) delay: Micros,
    pub(super) clear_delay: Micros,
}

/// What the cold path needs of a rule, without loading it before it is used.
#[derive(Clone, Copy)]
pub(super) struct RuleRef<'a> {
    pub(super) timing: &'a Timing,
    pub(super) compiled: &'a CompiledRule,
    scheduled: bool,
}

impl<'a> RuleRef<'a> {
    pub(super) fn new(
        rules: &'a [CompiledRule],
        timing: &'a [Timing],
        rule: u32,
        scheduled: bool,
    ) -> RuleRef<'a> {
        RuleRef {
            timing: &timing[rule as usize],
            compiled: &rules[rule as usize],
            scheduled,
        }
    }

    /// The rule of a slot, its delays from the deduplicated table when they are there.
    #[inline]
    pub(super) fn of_slot(
        rules: &'a [CompiledRule],
        timing: &'a [Timing],
        timings: &'a [Timing],
        st: &Slot,
    ) -> RuleRef<'a> {
        let rule = st.rule as usize;
        RuleRef {
            timing: timings.get(usize::from(st.timing)).unwrap_or(&timing[rule]),
            compiled: &rules[rule],
            scheduled: st.flags.scheduled(),
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

/// Fire the pending deadlines of an instance that are at or before `now` (value held).
pub(super) fn advance(
    st: &mut Slot,
    rule: RuleRef<'_>,
    inst: u32,
    now: Micros,
    held: f64,
    out: &mut Vec<Transition>,
) {
    let mut fired: [Option<Transition>; 2] = [None, None];
    let a = fire(st.flags.phase(false), &mut st.alarm_deadline, rule, now);
    if let Some((phase, time, raised)) = a {
        st.flags.set_phase(false, phase);
        fired[0] = Some(transition(false, raised, time, held, inst));
    }
    let p = fire(st.flags.phase(true), &mut st.pre_deadline, rule, now);
    if let Some((phase, time, raised)) = p {
        st.flags.set_phase(true, phase);
        fired[1] = Some(transition(true, raised, time, held, inst));
    }
    push_in_order(out, fired);
}

/// The transition a detector reports: the alarm detector (`pre == false`) raises and clears
/// the alarm, the pre-alarm detector raises and clears the pre-alarm.
#[inline(always)]
pub(super) fn transition(
    pre: bool,
    raised: bool,
    time: Micros,
    value: f64,
    instance: u32,
) -> Transition {
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

/// A pending detector whose deadline has come: its new phase, the instant, raised or not.
#[inline]
pub(super) fn fire(
    phase: Phase,
    deadline: &mut Micros,
    rule: RuleRef<'_>,
    now: Micros,
) -> Option<(Phase, Micros, bool)> {
    match phase {
        Phase::Raising if *deadline <= now => match open_at(rule.schedule(), *deadline) {
            Some(at) if at == *deadline => Some((Phase::Active, at, true)),
            Some(at) if at <= now => Some((Phase::Active, at, true)),
            Some(at) => {
                *deadline = at;
                None
            }
            None => {
                *deadline = i64::MAX;
                None
            }
        },
        Phase::Clearing if *deadline <= now => Some((Phase::Idle, *deadline, false)),
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

/// What the full evaluation of a sample knows besides the instance: the sample and the
/// point's held sample before it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    /// The sample's time.
    pub(super) t: Micros,
    /// The sample's quality.
    pub(super) quality: Quality,
    /// The sample's value (NaN unless good).
    pub(super) v: f64,
    /// The time of the point's previous sample ([`NEVER`] if none).
    pub(super) held_time: Micros,
    /// The point's held value before this sample (NaN: unknown).
    pub(super) held_value: f64,
}

/// The slow path of a sample: fire elapsed deadlines, then apply the new reading.
#[inline(never)]
pub(super) fn evaluate(
    st: &mut Slot,
    rule: RuleRef<'_>,
    inst: u32,
    seen: Seen,
    out: &mut Vec<Transition>,
) {
    let Seen {
        t,
        quality,
        v,
        held_time,
        held_value,
    } = seen;
    if st.flags.pending() {
        advance(st, rule, inst, t, held_value, out);
    }
    if quality != Quality::Good {
        // Unknown value: abandon pending raises and clears.
        for pre in [false, true] {
            match st.flags.phase(pre) {
                Phase::Raising => st.flags.set_phase(pre, Phase::Idle),
                Phase::Clearing => st.flags.set_phase(pre, Phase::Active),
                Phase::Idle | Phase::Active => {}
            }
        }
        return;
    }
    let x = match st.mode {
        Mode::Value => v,
        Mode::Rate => {
            if held_time == NEVER || held_value.is_nan() || t == held_time {
                return;
            }
            (v - held_value) * (rule.compiled.per as f64) / ((t - held_time) as f64)
        }
        Mode::NonZero => f64::from(u8::from(v != 0.0)),
        Mode::Zero => f64::from(u8::from(v == 0.0)),
    };
    let mut fired: [Option<Transition>; 2] = [None, None];
    let h = st.hyst;
    let beyond = (x < st.lo) | (x > st.hi);
    let normal = (x > st.lo + h) & (x < st.hi - h);
    let mut phase = st.flags.phase(false);
    if let Some((time, raised)) = step(&mut phase, &mut st.alarm_deadline, beyond, normal, t, rule)
    {
        fired[0] = Some(transition(false, raised, time, v, inst));
    }
    st.flags.set_phase(false, phase);
    let beyond = (x < st.pre_lo) | (x > st.pre_hi);
    let normal = (x > st.pre_lo + h) & (x < st.pre_hi - h);
    let mut phase = st.flags.phase(true);
    if let Some((time, raised)) = step(&mut phase, &mut st.pre_deadline, beyond, normal, t, rule) {
        fired[1] = Some(transition(true, raised, time, v, inst));
    }
    st.flags.set_phase(true, phase);
    push_in_order(out, fired);
}

/// One detector seeing a value at `t` (its elapsed deadlines already fired).
#[inline]
fn step(
    phase: &mut Phase,
    deadline: &mut Micros,
    beyond: bool,
    normal: bool,
    t: Micros,
    rule: RuleRef<'_>,
) -> Option<(Micros, bool)> {
    match *phase {
        Phase::Idle if beyond => {
            let delay = rule.timing.delay;
            *deadline = t.saturating_add(delay);
            *phase = Phase::Raising;
            if delay == 0
                && let Some((p, time, raised)) = fire(Phase::Raising, deadline, rule, t)
            {
                *phase = p;
                return Some((time, raised));
            }
            None
        }
        Phase::Raising if !beyond => {
            *phase = Phase::Idle;
            None
        }
        Phase::Active if normal => {
            let clear_delay = rule.timing.clear_delay;
            if clear_delay == 0 {
                *phase = Phase::Idle;
                return Some((t, false));
            }
            *deadline = t.saturating_add(clear_delay);
            *phase = Phase::Clearing;
            None
        }
        Phase::Clearing if !normal => {
            *phase = Phase::Active;
            None
        }
        _ => None,
    }
}
