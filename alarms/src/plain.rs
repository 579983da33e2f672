//! The plain engine: the same semantics as [`Engine`](crate::Engine) for threshold (high,
//! low, band), binary and controller alarms, written the straightforward way, as a reference
//! for tests and as the peer of the `alarms` bench. Feature `testing`; not part of the
//! default API.
//!
//! Every instance is a small state machine per detector (alarm, pre-alarm) with an
//! explicit state enum; every sample of a point evaluates every instance of the point in
//! full (no quiet band, no fast path, no table layout). Rate-of-change and offline rules
//! and schedules are refused ([`Error::InvalidRule`]).
//!
//! Transitions carry their own instance numbers (rule by rule, point by point): compare
//! with the engine through [`PlainEngine::instance`] and [`Engine::instance`](crate::Engine::instance).
//!
//! ```
//! use alarms::plain::PlainEngine;
//! use alarms::{PointInfo, SampleValue, RuleSet, AlarmSample, TransitionKind};
//! let rules = RuleSet::from_toml("r.toml", r#"
//! [[rule]]
//! id = "hot"
//! points = ["sub/flow"]
//! kind = "high"
//! threshold = 90.0
//! delay = "1m"
//! priority = "major"
//! "#)?;
//! let mut plain = PlainEngine::new(&rules, &[PointInfo::named("sub/flow")])?;
//! let p = plain.point_id("sub/flow").unwrap();
//! let mut out = Vec::new();
//! plain.process(&[AlarmSample::from_unix_micros(p, 0, SampleValue::Number(95.0))], &mut out);
//! plain.tick_micros(60_000_000, &mut out);
//! assert_eq!(out[0].kind(), TransitionKind::Raised);
//! # Ok::<(), alarms::Error>(())
//! ```

use std::collections::HashMap;

use crate::engine::{ProcessReport, Stats, Transition, TransitionKind};
use crate::rule::{AppliesTo, Condition, Rule};
use crate::time::duration_micros;
use crate::{AlarmSample, Error, InstanceId, InstanceInfo, PointId, PointInfo, RuleSet};

/// The state of one detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Beyond the threshold since a while; raises at the deadline.
    Raising(i64),
    Active,
    /// Back to normal since a while; clears at the deadline.
    Clearing(i64),
}

/// One detector: its thresholds (`None`: that side is not watched) and its state.
#[derive(Debug, Clone, Copy)]
struct Detector {
    low: Option<f64>,
    high: Option<f64>,
    state: State,
}

impl Detector {
    fn new(low: Option<f64>, high: Option<f64>) -> Detector {
        Detector {
            low,
            high,
            state: State::Idle,
        }
    }

    fn beyond(&self, x: f64) -> bool {
        self.low.is_some_and(|l| x < l) || self.high.is_some_and(|h| x > h)
    }

    fn normal(&self, x: f64, hysteresis: f64) -> bool {
        self.low.is_none_or(|l| x > l + hysteresis) && self.high.is_none_or(|h| x < h - hysteresis)
    }

    /// Let time pass to `now`: a pending raise or clear whose deadline has come happens at
    /// its deadline. Returns (time, raised).
    fn pass_time(&mut self, now: i64) -> Option<(i64, bool)> {
        match self.state {
            State::Raising(at) if at <= now => {
                self.state = State::Active;
                Some((at, true))
            }
            State::Clearing(at) if at <= now => {
                self.state = State::Idle;
                Some((at, false))
            }
            _ => None,
        }
    }

    /// The value becomes unknown: pending raises and clears are abandoned.
    fn unknown(&mut self) {
        self.state = match self.state {
            State::Raising(_) => State::Idle,
            State::Clearing(_) => State::Active,
            s => s,
        };
    }

    /// A new input `x` at `t` (time already passed to `t`). Returns (time, raised).
    fn see(&mut self, x: f64, t: i64, timing: &Timing) -> Option<(i64, bool)> {
        match self.state {
            State::Idle if self.beyond(x) => {
                if timing.delay == 0 {
                    self.state = State::Active;
                    return Some((t, true));
                }
                self.state = State::Raising(t.saturating_add(timing.delay));
            }
            State::Raising(_) if !self.beyond(x) => self.state = State::Idle,
            State::Active if self.normal(x, timing.hysteresis) => {
                if timing.clear_delay == 0 {
                    self.state = State::Idle;
                    return Some((t, false));
                }
                self.state = State::Clearing(t.saturating_add(timing.clear_delay));
            }
            State::Clearing(_) if !self.normal(x, timing.hysteresis) => {
                self.state = State::Active;
            }
            _ => {}
        }
        None
    }
}

/// How a rule turns a value into the detectors' input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Value,
    /// 1 while the value is non-zero, else 0.
    NonZero,
    /// 1 while the value is zero, else 0.
    Zero,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    hysteresis: f64,
    delay: i64,
    clear_delay: i64,
}

#[derive(Debug, Clone)]
struct Instance {
    rule: usize,
    point: usize,
    input: Input,
    timing: Timing,
    alarm: Detector,
    pre: Detector,
}

#[derive(Debug, Clone, Copy)]
struct Point {
    /// Time of the last applied sample.
    time: Option<i64>,
    /// Its value, `None` when the sample had none.
    value: Option<f64>,
}

/// The plain engine (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct PlainEngine {
    rules: Vec<Rule>,
    point_names: Vec<String>,
    by_name: HashMap<String, usize>,
    points: Vec<Point>,
    /// Per point, its instances.
    of_point: Vec<Vec<usize>>,
    instances: Vec<Instance>,
    /// The latest tick.
    now: Option<i64>,
    stats: Stats,
    /// The transitions a tick finds, before sorting (kept to reuse its room).
    found: Vec<Transition>,
}

fn refuse(rule: &Rule, what: &str) -> Error {
    Error::InvalidRule {
        rule: rule.id.clone(),
        field: "kind".into(),
        message: format!(
            "the plain engine evaluates threshold, binary and controller alarms without schedules, found {what}"
        ),
    }
}

/// A rule's input and its alarm and pre-alarm detectors (`None` for a group rule); rate
/// and offline rules are refused.
fn detectors(rule: &Rule) -> Result<Option<(Input, Detector, Detector)>, Error> {
    Ok(Some(match &rule.kind {
        Condition::High {
            threshold,
            pre_alarm,
        } => (
            Input::Value,
            Detector::new(None, Some(*threshold)),
            Detector::new(None, *pre_alarm),
        ),
        Condition::Low {
            threshold,
            pre_alarm,
        } => (
            Input::Value,
            Detector::new(Some(*threshold), None),
            Detector::new(*pre_alarm, None),
        ),
        Condition::Band {
            low,
            high,
            low_pre_alarm,
            high_pre_alarm,
        } => (
            Input::Value,
            Detector::new(Some(*low), Some(*high)),
            Detector::new(*low_pre_alarm, *high_pre_alarm),
        ),
        Condition::Binary { raise_on } => (
            if *raise_on {
                Input::NonZero
            } else {
                Input::Zero
            },
            Detector::new(None, Some(0.5)),
            Detector::new(None, None),
        ),
        Condition::Controller => (
            Input::NonZero,
            Detector::new(None, Some(0.5)),
            Detector::new(None, None),
        ),
        Condition::Rate { .. } => return Err(refuse(rule, "a rate-of-change rule")),
        Condition::Offline { .. } => return Err(refuse(rule, "an offline rule")),
        Condition::Group => return Ok(None),
    }))
}

/// The points a rule applies to, each once; points named but not listed are added.
fn targets(
    rule: &Rule,
    infos: &mut Vec<PointInfo>,
    by_name: &mut HashMap<String, usize>,
) -> Vec<usize> {
    let mut targets: Vec<usize> = Vec::new();
    match &rule.applies_to {
        AppliesTo::Points(names) => {
            for n in names {
                let id = match by_name.get(n) {
                    Some(&i) => i,
                    None => {
                        infos.push(PointInfo::named(n));
                        by_name.insert(n.clone(), infos.len() - 1);
                        infos.len() - 1
                    }
                };
                if !targets.contains(&id) {
                    targets.push(id);
                }
            }
        }
        AppliesTo::Select(sel) => {
            for (i, p) in infos.iter().enumerate() {
                if sel.matches(p) {
                    targets.push(i);
                }
            }
        }
        AppliesTo::Children => {}
    }
    targets
}

impl PlainEngine {
    /// Build from the enabled rules and the caller's point list; points named by rules but
    /// missing from the list are added after it, in rule order (as [`crate::Engine::new`]
    /// does, so both number points alike). Refuses rate, offline and scheduled rules.
    pub fn new(rules: &RuleSet, points: &[PointInfo]) -> Result<PlainEngine, Error> {
        let mut infos: Vec<PointInfo> = points.to_vec();
        let mut by_name = HashMap::new();
        for (i, p) in infos.iter().enumerate() {
            if let Some(first) = by_name.insert(p.name.clone(), i) {
                return Err(Error::DuplicatePoint {
                    name: p.name.clone(),
                    first,
                    second: i,
                });
            }
        }
        let mut kept = Vec::new();
        let mut instances = Vec::new();
        for rule in rules.rules() {
            if !rule.enabled || matches!(rule.kind, Condition::Group) {
                continue;
            }
            if rule.schedule.is_some() {
                return Err(refuse(rule, "a schedule"));
            }
            let Some((input, alarm, pre)) = detectors(rule)? else {
                continue;
            };
            let hysteresis = match rule.kind {
                Condition::Binary { .. } | Condition::Controller => 0.0,
                _ => rule.hysteresis,
            };
            let timing = Timing {
                hysteresis,
                delay: duration_micros(rule.delay)?,
                clear_delay: duration_micros(rule.clear_delay)?,
            };
            let r = kept.len();
            kept.push(rule.clone());
            for point in targets(rule, &mut infos, &mut by_name) {
                instances.push(Instance {
                    rule: r,
                    point,
                    input,
                    timing,
                    alarm,
                    pre,
                });
            }
        }
        let mut of_point = vec![Vec::new(); infos.len()];
        for (i, inst) in instances.iter().enumerate() {
            of_point[inst.point].push(i);
        }
        Ok(PlainEngine {
            rules: kept,
            points: vec![
                Point {
                    time: None,
                    value: None
                };
                infos.len()
            ],
            point_names: infos.into_iter().map(|p| p.name).collect(),
            by_name,
            of_point,
            instances,
            now: None,
            stats: Stats::default(),
            found: Vec::new(),
        })
    }

    /// The id of a point by name.
    pub fn point_id(&self, name: &str) -> Option<PointId> {
        self.by_name.get(name).map(|&i| PointId(i as u32))
    }

    /// Number of alarm instances.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// The rule and point of an instance.
    pub fn instance(&self, id: InstanceId) -> Option<InstanceInfo<'_>> {
        let inst = self.instances.get(id.index())?;
        Some(InstanceInfo {
            rule: &self.rules[inst.rule],
            target: &self.point_names[inst.point],
        })
    }

    /// Counters of rejected input.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Apply samples one after the other.
    pub fn process(&mut self, samples: &[AlarmSample], out: &mut Vec<Transition>) -> ProcessReport {
        let mut report = ProcessReport::default();
        for s in samples {
            report += self.process_one(s, out);
        }
        report
    }

    /// Apply one sample.
    pub fn process_one(&mut self, s: &AlarmSample, out: &mut Vec<Transition>) -> ProcessReport {
        let mut report = ProcessReport::default();
        let t = s.time_micros();
        let Some(point) = self.points.get(s.point().index()).copied() else {
            self.stats.unknown_point += 1;
            report.rejected_unknown_point = 1;
            return report;
        };
        let before_tick = self.now.is_some_and(|now| t < now);
        let before_last = point.time.is_some_and(|last| t < last);
        if before_tick || before_last {
            self.stats.out_of_order += 1;
            if before_tick {
                self.stats.before_tick += 1;
                report.rejected_stale = 1;
            } else {
                report.rejected_out_of_order = 1;
            }
            return report;
        }
        self.stats.applied += 1;
        report.accepted = 1;
        let held = point.value.unwrap_or(f64::NAN);
        let value = s.value();
        for &i in &self.of_point[s.point().index()] {
            let inst = &mut self.instances[i];
            // First the time that passed since the previous sample, with the value held.
            let fired = [inst.alarm.pass_time(t), inst.pre.pass_time(t)];
            push_sorted(out, i, fired, held);
            // Then the new value.
            match value {
                None => {
                    inst.alarm.unknown();
                    inst.pre.unknown();
                }
                Some(v) => {
                    let x = match inst.input {
                        Input::Value => v,
                        Input::NonZero => f64::from(u8::from(v != 0.0)),
                        Input::Zero => f64::from(u8::from(v == 0.0)),
                    };
                    let seen = [
                        inst.alarm.see(x, t, &inst.timing),
                        inst.pre.see(x, t, &inst.timing),
                    ];
                    push_sorted(out, i, seen, v);
                }
            }
        }
        self.points[s.point().index()] = Point {
            time: Some(t),
            value,
        };
        report
    }

    /// Let time pass to `now` (microseconds after the Unix epoch): the delays that have run
    /// out fire at their deadlines. Transitions sorted by time. A tick older than the
    /// previous one is ignored.
    pub fn tick_micros(&mut self, now: i64, out: &mut Vec<Transition>) {
        if self.now.is_some_and(|prev| now < prev) {
            self.stats.stale_ticks += 1;
            return;
        }
        self.now = Some(now);
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        for (i, inst) in self.instances.iter_mut().enumerate() {
            let held = self.points[inst.point].value.unwrap_or(f64::NAN);
            let fired = [inst.alarm.pass_time(now), inst.pre.pass_time(now)];
            push_sorted(&mut found, i, fired, held);
        }
        found.sort_by_key(|t| t.time_micros());
        out.extend_from_slice(&found);
        self.found = found;
    }
}

/// Push the alarm's and the pre-alarm's transitions, in time order, ties in
/// [`TransitionKind`] order.
fn push_sorted(
    out: &mut Vec<Transition>,
    instance: usize,
    fired: [Option<(i64, bool)>; 2],
    value: f64,
) {
    let make = |pre: bool, (time, raised): (i64, bool)| Transition {
        time,
        value,
        instance: instance as u32,
        kind: match (pre, raised) {
            (false, true) => TransitionKind::Raised,
            (false, false) => TransitionKind::Cleared,
            (true, true) => TransitionKind::PreAlarm,
            (true, false) => TransitionKind::PreAlarmCleared,
        },
    };
    match (
        fired[0].map(|f| make(false, f)),
        fired[1].map(|f| make(true, f)),
    ) {
        (Some(a), Some(p)) if (p.time, p.kind) < (a.time, a.kind) => out.extend([p, a]),
        (Some(a), Some(p)) => out.extend([a, p]),
        (Some(a), None) => out.push(a),
        (None, Some(p)) => out.push(p),
        (None, None) => {}
    }
}
