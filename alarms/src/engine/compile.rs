//! Compiling a [`RuleSet`] against a point list into the engine's tables, in named steps:
//! index the caller's points, compile each rule (its durations), resolve its targets
//! (adding points named explicitly), expand it into instances (rule × point, or rule ×
//! device for offline rules), lay the value instances out contiguously per point, group
//! the offline instances by device, and share the delays in a small table.
//!
//! What [`compile`] returns is fixed for the engine's life ([`Tables`]) apart from the
//! per-instance and per-point state it starts from.

use std::collections::HashMap;

use crate::Error;
use crate::point::{PointInfo, device_of};
use crate::rule::{AppliesTo, Condition, Rule};
use crate::ruleset::RuleSet;
use crate::time::{Micros, duration_micros};

use super::detector::{CompiledRule, NEVER, SHARED_TIMING_NONE, Slot, Timing};
use super::offline::{DeviceWatch, OfflineSlot};
use super::quiet::{PointCold, Quiet};

/// What the engine looks up and never changes once built.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    /// Per rule (enabled, not group): the rule and its durations.
    pub(super) rules: Vec<CompiledRule>,
    /// Per rule: its delays.
    pub(super) timing: Vec<Timing>,
    /// The distinct delays of all rules (see [`Slot::timing`]).
    pub(super) timings: Vec<Timing>,
    /// Per point: its name.
    pub(super) point_names: Vec<String>,
    /// Point names to indices.
    pub(super) by_name: HashMap<String, u32>,
    /// Per value instance: its point.
    pub(super) inst_point: Vec<u32>,
    /// Per watched device: its offline instances and points.
    pub(super) devices: Vec<DeviceWatch>,
    /// The points of each watched device, contiguous (see [`DeviceWatch::pstart`]).
    pub(super) device_points: Vec<u32>,
    /// Per watched device: its name.
    pub(super) device_names: Vec<String>,
}

/// Per point, in parallel tables: the fast path reads `quiet` and `last_time` only, so those
/// stay dense in cache.
#[derive(Debug, Clone)]
pub(super) struct Points {
    /// The quiet band and horizon, and the point's instances.
    pub(super) quiet: Vec<Quiet>,
    /// The time of its last sample.
    pub(super) last_time: Vec<Micros>,
    /// The held value and device watch.
    pub(super) cold: Vec<PointCold>,
    /// The time of its last successful communication before the current sample (kept for
    /// points with a device watch).
    pub(super) last_good: Vec<Micros>,
}

/// A rule set compiled: the tables and the initial state of every instance and point.
pub(super) struct Compiled {
    pub(super) tables: Tables,
    pub(super) points: Points,
    pub(super) slots: Vec<Slot>,
    pub(super) offline: Vec<OfflineSlot>,
}

/// The instances of the rules: value instances as (point, rule, slot), offline ones as
/// (device name, rule).
#[derive(Default)]
struct Instances {
    values: Vec<(u32, u32, Slot)>,
    offline: Vec<(String, u32)>,
}

/// Compile the enabled rules of `rules` against `points` (see [`super::Engine::new`]).
pub(super) fn compile(rules: &RuleSet, points: &[PointInfo]) -> Result<Compiled, Error> {
    let mut infos: Vec<PointInfo> = points.to_vec();
    let mut by_name = index_points(&infos)?;
    let mut compiled = Vec::new();
    let mut instances = Instances::default();
    for rule in rules.rules() {
        if !rule.enabled || matches!(rule.kind, Condition::Group) {
            continue;
        }
        let r = compiled.len() as u32;
        compiled.push(compile_rule(rule)?);
        let targets = resolve_targets(rule, &mut infos, &mut by_name);
        expand(rule, r, targets, &infos, &mut instances);
    }
    let mut cold = vec![PointCold::NEW; infos.len()];
    let (quiet, mut slots, inst_point) = lay_out(instances.values, infos.len());
    let (devices, device_names, offline) = group_devices(instances.offline, &compiled);
    let (devices, device_points) = device_points(devices, &device_names, &infos, &mut cold);
    let timing: Vec<Timing> = compiled
        .iter()
        .map(|c| Timing {
            delay: c.delay,
            clear_delay: c.clear_delay,
        })
        .collect();
    let timings = share_timings(&mut slots, &timing);
    let n = infos.len();
    Ok(Compiled {
        tables: Tables {
            rules: compiled,
            timing,
            timings,
            point_names: infos.into_iter().map(|p| p.name).collect(),
            by_name,
            inst_point,
            devices,
            device_points,
            device_names,
        },
        points: Points {
            quiet,
            last_time: vec![NEVER; n],
            cold,
            last_good: vec![NEVER; n],
        },
        slots,
        offline,
    })
}

/// The caller's points by name; a name listed twice is an error.
fn index_points(infos: &[PointInfo]) -> Result<HashMap<String, u32>, Error> {
    let mut by_name: HashMap<String, u32> = HashMap::new();
    for (i, p) in infos.iter().enumerate() {
        if let Some(first) = by_name.insert(p.name.clone(), i as u32) {
            return Err(Error::DuplicatePoint {
                name: p.name.clone(),
                first: first as usize,
                second: i,
            });
        }
    }
    Ok(by_name)
}

/// A rule with its durations in microseconds.
fn compile_rule(rule: &Rule) -> Result<CompiledRule, Error> {
    let delay = duration_micros(rule.delay)?;
    let clear_delay = duration_micros(rule.clear_delay)?;
    let (per, timeout) = match &rule.kind {
        Condition::Rate { per, .. } => (duration_micros(*per)?, 0),
        Condition::Offline { timeout } => (0, duration_micros(*timeout)?),
        _ => (0, 0),
    };
    Ok(CompiledRule {
        rule: rule.clone(),
        delay,
        clear_delay,
        per,
        timeout,
    })
}

/// The points a rule applies to, each once, in the order named or listed. Points named
/// explicitly but missing from the list are added to it.
fn resolve_targets(
    rule: &Rule,
    infos: &mut Vec<PointInfo>,
    by_name: &mut HashMap<String, u32>,
) -> Vec<u32> {
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
    targets
}

/// The instances of rule number `r` on its targets: one per point, or for an offline rule
/// one per device of its points.
fn expand(rule: &Rule, r: u32, targets: Vec<u32>, infos: &[PointInfo], into: &mut Instances) {
    if let Condition::Offline { .. } = rule.kind {
        for t in targets {
            let dev = device_of(&infos[t as usize].name).to_string();
            if !into.offline.iter().any(|(d, rr)| *d == dev && *rr == r) {
                into.offline.push((dev, r));
            }
        }
    } else {
        let slot = Slot::for_rule(rule, r);
        into.values
            .extend(targets.into_iter().map(|p| (p, r, slot)));
    }
}

/// The value instances in point order (a point's instances contiguous, in rule order), with
/// each point's range in its quiet band entry; and per instance its point.
fn lay_out(mut values: Vec<(u32, u32, Slot)>, points: usize) -> (Vec<Quiet>, Vec<Slot>, Vec<u32>) {
    values.sort_by_key(|(p, r, _)| (*p, *r));
    let mut quiet = vec![Quiet::closed(0, 0); points];
    let mut slots = Vec::with_capacity(values.len());
    let mut inst_point = Vec::with_capacity(values.len());
    for (i, (p, _, slot)) in values.iter().enumerate() {
        let q = &mut quiet[*p as usize];
        if q.end == 0 || q.end as usize != i {
            q.start = i as u32;
        }
        q.end = i as u32 + 1;
        slots.push(*slot);
        inst_point.push(*p);
    }
    (quiet, slots, inst_point)
}

/// One watch per device (sorted by name), its offline instances contiguous in rule order.
fn group_devices(
    mut targets: Vec<(String, u32)>,
    compiled: &[CompiledRule],
) -> (Vec<DeviceWatch>, Vec<String>, Vec<OfflineSlot>) {
    targets.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut devices: Vec<DeviceWatch> = Vec::new();
    let mut device_names: Vec<String> = Vec::new();
    let mut offline = Vec::with_capacity(targets.len());
    for (i, (dev, r)) in targets.iter().enumerate() {
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
        let c = &compiled[*r as usize];
        let w = &mut devices[d];
        w.end = i as u32 + 1;
        w.due_after = w.due_after.min(c.timeout.saturating_add(c.delay));
        offline.push(OfflineSlot::new(*r, d as u32));
    }
    (devices, device_names, offline)
}

/// Each watched device's points, contiguous; each point of a watched device learns its
/// watch.
fn device_points(
    mut devices: Vec<DeviceWatch>,
    device_names: &[String],
    infos: &[PointInfo],
    cold: &mut [PointCold],
) -> (Vec<DeviceWatch>, Vec<u32>) {
    let mut by_device: Vec<Vec<u32>> = vec![Vec::new(); devices.len()];
    for (i, p) in infos.iter().enumerate() {
        if let Ok(d) = device_names.binary_search_by(|n| n.as_str().cmp(device_of(&p.name))) {
            cold[i].device = d as u32;
            by_device[d].push(i as u32);
        }
    }
    let mut device_points = Vec::new();
    for (d, pts) in by_device.into_iter().enumerate() {
        devices[d].pstart = device_points.len() as u32;
        device_points.extend(pts);
        devices[d].pend = device_points.len() as u32;
    }
    (devices, device_points)
}

/// The distinct delays, so the slow path finds them in a table that stays in cache; each
/// slot learns its entry ([`SHARED_TIMING_NONE`] past `u16` entries).
fn share_timings(slots: &mut [Slot], timing: &[Timing]) -> Vec<Timing> {
    let mut timings: Vec<Timing> = Vec::new();
    let mut shared: HashMap<(Micros, Micros), u16> = HashMap::new();
    for st in slots {
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
    timings
}
