//! Offline detection: one watch per device named by offline rules.
//!
//! A device's last successful communication is the latest time any of its points had a
//! sample that was a communication (a value or "not available"; see
//! [`SampleValue`](crate::SampleValue)). Each point keeps the time of its last sample and,
//! for watched points, the time of the communication before it (`last_good`), so the
//! device's last communication is found without a per-sample write to the device. An
//! offline instance raises `timeout + delay` after that (or after the engine's first time,
//! for a device that never communicated) and clears at the next communication. The device's
//! due time bounds the horizon of its points' quiet bands, so the fast path never passes it.

use crate::time::Micros;

use super::detector::{CompiledRule, NEVER, Phase, RuleRef, fire};
use super::{Engine, Transition, TransitionKind};

/// The offline watch of one device.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceWatch {
    /// Its offline instances, `offline[start..end]`.
    pub(super) start: u32,
    pub(super) end: u32,
    /// Its points, `device_points[pstart..pend]`.
    pub(super) pstart: u32,
    pub(super) pend: u32,
    /// The shortest timeout + delay of its offline instances.
    pub(super) due_after: Micros,
}

/// One offline instance (rule × device).
#[derive(Debug, Clone, Copy)]
pub(super) struct OfflineSlot {
    pub(super) deadline: Micros,
    pub(super) rule: u32,
    pub(super) device: u32,
    /// Idle, raising (due, waiting for the schedule) or active.
    pub(super) phase: Phase,
}

impl OfflineSlot {
    /// An idle instance of rule `rule` on device `device`.
    pub(super) fn new(rule: u32, device: u32) -> OfflineSlot {
        OfflineSlot {
            deadline: NEVER,
            rule,
            device,
            phase: Phase::Idle,
        }
    }
}

/// Fire an offline instance's raise if its due time (last communication + timeout + delay,
/// or a deadline postponed by the schedule) is at or before `now`.
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
    if o.phase == Phase::Idle {
        let due = last_comm
            .saturating_add(rule.compiled.timeout)
            .saturating_add(rule.timing.delay);
        if due > now {
            return;
        }
        o.phase = Phase::Raising;
        o.deadline = due;
    }
    if o.phase == Phase::Raising
        && let Some((phase, time, _)) = fire(Phase::Raising, &mut o.deadline, rule, now)
    {
        o.phase = phase;
        out.push(Transition {
            time,
            value: f64::NAN,
            instance: inst,
            kind: TransitionKind::Raised,
        });
    }
}

/// Whether an offline rule's raises wait for its schedule.
fn scheduled(c: &CompiledRule) -> bool {
    c.rule.schedule.is_some()
}

impl Engine {
    /// The time of a point's last successful communication.
    fn point_last_good(&self, p: usize) -> Micros {
        if self.points.cold[p].last_communicated() {
            self.points.last_time[p]
        } else {
            self.points.last_good[p]
        }
    }

    /// The last successful communication of a device (the engine's first time if none).
    pub(super) fn device_last_comm(&self, d: usize) -> Micros {
        let w = &self.tables.devices[d];
        self.tables.device_points[w.pstart as usize..w.pend as usize]
            .iter()
            .map(|&p| self.point_last_good(p as usize))
            .fold(self.clock.origin, i64::max)
    }

    /// The time from which a point of device watch `device` may change an offline alarm
    /// ([`NEVER`] while one is raising or active, or before the engine started); `None`
    /// without a watch.
    pub(super) fn offline_horizon(&self, device: u32) -> Option<Micros> {
        let d = self.tables.devices.get(device as usize)?;
        let busy = self.offline[d.start as usize..d.end as usize]
            .iter()
            .any(|o| o.phase != Phase::Idle);
        Some(if busy || !self.clock.started {
            NEVER
        } else {
            self.device_last_comm(device as usize)
                .saturating_add(d.due_after)
        })
    }

    /// A successful communication of device `d` at `t`; `prev` was its last one before.
    pub(super) fn communicated(
        &mut self,
        d: usize,
        prev: Micros,
        t: Micros,
        out: &mut Vec<Transition>,
    ) {
        let n = self.slots.len() as u32;
        let dev = self.tables.devices[d];
        for i in dev.start as usize..dev.end as usize {
            let o = &mut self.offline[i];
            let c = &self.tables.rules[o.rule as usize];
            let rule = RuleRef::new(
                &self.tables.rules,
                &self.tables.timing,
                o.rule,
                scheduled(c),
            );
            advance_offline(o, rule, prev, t, n + i as u32, out);
            if o.phase == Phase::Active {
                out.push(Transition {
                    time: t,
                    value: f64::NAN,
                    instance: n + i as u32,
                    kind: TransitionKind::Cleared,
                });
            }
            o.phase = Phase::Idle;
            o.deadline = NEVER;
        }
        self.refresh_device(d);
    }

    /// Fire the offline alarms due at or before `now` (a tick).
    pub(super) fn tick_offline(&mut self, now: Micros, out: &mut Vec<Transition>) {
        let n = self.slots.len() as u32;
        for d in 0..self.tables.devices.len() {
            let last = self.device_last_comm(d);
            let dev = self.tables.devices[d];
            let mut changed = false;
            for i in dev.start as usize..dev.end as usize {
                let o = &mut self.offline[i];
                let before = o.phase;
                let c = &self.tables.rules[o.rule as usize];
                let rule = RuleRef::new(
                    &self.tables.rules,
                    &self.tables.timing,
                    o.rule,
                    scheduled(c),
                );
                advance_offline(o, rule, last, now, n + i as u32, out);
                changed |= o.phase != before;
            }
            if changed {
                self.refresh_device(d);
            }
        }
    }

    /// Recompute the quiet bands of a device's points (its offline horizon moved).
    pub(super) fn refresh_device(&mut self, d: usize) {
        let w = self.tables.devices[d];
        for k in w.pstart as usize..w.pend as usize {
            let p = self.tables.device_points[k] as usize;
            self.refresh_point(p);
        }
    }
}
