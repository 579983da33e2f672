//! The engine and the plain engine (`alarms::plain`, the straightforward state machine per
//! rule evaluated on every sample) produce the same transitions on random rule sets and
//! random sample streams with ticks, rejected samples included. Needs the `testing` feature.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use alarms::plain::PlainEngine;
use alarms::{
    AlarmSample, Condition, Engine, InstanceId, PointInfo, Priority, Rule, RuleSet, SampleValue,
};
use alarms::{Transition, TransitionKind};
use proptest::prelude::*;

const POINTS: [&str; 3] = ["a/x", "a/y", "b/x"];
/// Values on and around the thresholds the rules use (multiples of 5, hysteresis 0..=5).
const VALUES: [f64; 17] = [
    -5.0, 0.0, 1.0, 5.0, 7.0, 10.0, 12.0, 15.0, 18.0, 20.0, 22.0, 25.0, 27.5, 30.0, 33.0, 35.0,
    50.0,
];

#[derive(Debug, Clone)]
struct RuleSpec {
    kind: u8,
    a: u8,
    b: u8,
    pre: (bool, bool),
    hysteresis: f64,
    delay: u64,
    clear_delay: u64,
    targets: Vec<usize>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        0u8..5,
        0u8..7,
        0u8..7,
        (any::<bool>(), any::<bool>()),
        prop::sample::select(vec![0.0, 1.0, 2.0, 5.0]),
        prop::sample::select(vec![0u64, 10, 30, 60, 300]),
        prop::sample::select(vec![0u64, 20, 120]),
        prop::collection::vec(0usize..3, 1..3),
    )
        .prop_map(
            |(kind, a, b, pre, hysteresis, delay, clear_delay, targets)| RuleSpec {
                kind,
                a,
                b,
                pre,
                hysteresis,
                delay,
                clear_delay,
                targets,
            },
        )
}

/// A valid rule from a spec: thresholds on multiples of 5 between 0 and 30.
fn rule(i: usize, s: &RuleSpec) -> Rule {
    let t = |k: u8| f64::from(k) * 5.0;
    let (lo, hi) = (t(s.a.min(s.b)), t(s.a.max(s.b)));
    let mut h = s.hysteresis;
    let kind = match s.kind {
        0 => Condition::High {
            threshold: t(s.a),
            pre_alarm: s.pre.0.then(|| t(s.a) - 3.0),
        },
        1 => Condition::Low {
            threshold: t(s.a),
            pre_alarm: s.pre.0.then(|| t(s.a) + 3.0),
        },
        2 => {
            let high = if hi > lo { hi } else { lo + 20.0 };
            // Keep low + h < high - h, with room for the pre-alarms.
            while lo + 3.0 + h >= high - 3.0 - h && h > 0.0 {
                h -= 1.0;
            }
            Condition::Band {
                low: lo,
                high,
                low_pre_alarm: (s.pre.0 && lo + 3.0 + h < high - 3.0 - h).then_some(lo + 3.0),
                high_pre_alarm: (s.pre.1 && lo + 3.0 + h < high - 3.0 - h).then_some(high - 3.0),
            }
        }
        3 => {
            h = 0.0;
            Condition::Binary { raise_on: s.pre.0 }
        }
        _ => {
            h = 0.0;
            Condition::Controller
        }
    };
    let names: Vec<&str> = s.targets.iter().map(|&p| POINTS[p]).collect();
    let mut r = Rule::new(&format!("r{i}"), kind, Priority::Major, &names);
    r.hysteresis = h;
    r.delay = Duration::from_secs(s.delay);
    r.clear_delay = Duration::from_secs(s.clear_delay);
    r
}

#[derive(Debug, Clone)]
enum Step {
    /// Point, seconds after the point's previous sample (negative: out of order), reading.
    Sample(usize, i64, SampleValue),
    /// Seconds after the latest sample time seen (negative: possibly stale samples next).
    Tick(i64),
    /// End the batch.
    Cut,
}

fn step() -> impl Strategy<Value = Step> {
    let reading = prop_oneof![
        14 => prop::sample::select(&VALUES[..]).prop_map(SampleValue::Number),
        1 => Just(SampleValue::NoAnswer),
        1 => Just(SampleValue::Invalid),
        1 => Just(SampleValue::Number(f64::NAN)),
    ];
    prop_oneof![
        12 => (0usize..3, prop_oneof![10 => 0i64..=90, 1 => -30i64..0], reading)
            .prop_map(|(p, dt, r)| Step::Sample(p, dt, r)),
        2 => (-20i64..=200).prop_map(Step::Tick),
        2 => Just(Step::Cut),
    ]
}

/// Per instance (rule id, target): its transitions (time, kind, value bits), in order.
type PerInstance = BTreeMap<(String, String), Vec<(i64, TransitionKind, u64)>>;

fn per_instance(out: &[Transition], info: impl Fn(InstanceId) -> (String, String)) -> PerInstance {
    let mut m = PerInstance::new();
    for t in out {
        m.entry(info(t.instance())).or_default().push((
            t.time_micros(),
            t.kind(),
            t.value().unwrap_or(f64::NAN).to_bits(),
        ));
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_and_the_plain_engine_agree(
        specs in prop::collection::vec(rule_spec(), 1..7),
        steps in prop::collection::vec(step(), 1..300),
    ) {
        let mut set = RuleSet::new();
        for (i, s) in specs.iter().enumerate() {
            set.add(rule(i, s)).unwrap();
        }
        let list: Vec<PointInfo> = POINTS.iter().map(|n| PointInfo::named(n)).collect();
        let mut engine = Engine::new(&set, &list).unwrap();
        let mut plain = PlainEngine::new(&set, &list).unwrap();
        prop_assert_eq!(engine.instance_count(), plain.instance_count());
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut clock = [0i64; 3];
        let mut latest = 0i64;
        let mut batch = Vec::new();
        let t0 = 1_700_000_000_000_000i64;
        let flush = |batch: &mut Vec<AlarmSample>, engine: &mut Engine, plain: &mut PlainEngine,
                     ours: &mut Vec<Transition>, theirs: &mut Vec<Transition>| {
            let a = engine.process(batch, ours);
            let b = plain.process(batch, theirs);
            batch.clear();
            (a, b)
        };
        for s in &steps {
            match s {
                Step::Sample(p, dt, r) => {
                    clock[*p] += dt;
                    latest = latest.max(clock[*p]);
                    let id = engine.point_id(POINTS[*p]).unwrap();
                    prop_assert_eq!(Some(id), plain.point_id(POINTS[*p]));
                    batch.push(AlarmSample::from_unix_micros(id, t0 + clock[*p] * 1_000_000, *r));
                }
                Step::Tick(dt) => {
                    let (a, b) = flush(&mut batch, &mut engine, &mut plain, &mut ours, &mut theirs);
                    prop_assert_eq!(a, b);
                    let now = t0 + (latest + dt) * 1_000_000;
                    engine.tick_micros(now, &mut ours);
                    plain.tick_micros(now, &mut theirs);
                }
                Step::Cut => {
                    let (a, b) = flush(&mut batch, &mut engine, &mut plain, &mut ours, &mut theirs);
                    prop_assert_eq!(a, b);
                }
            }
        }
        let (a, b) = flush(&mut batch, &mut engine, &mut plain, &mut ours, &mut theirs);
        prop_assert_eq!(a, b);
        let end = t0 + (latest + 3600) * 1_000_000;
        engine.tick_micros(end, &mut ours);
        plain.tick_micros(end, &mut theirs);

        let name = |i: alarms::InstanceInfo<'_>| (i.rule.id.clone(), i.target.to_string());
        let ours_by = per_instance(&ours, |i| name(engine.instance(i).unwrap()));
        let theirs_by = per_instance(&theirs, |i| name(plain.instance(i).unwrap()));
        prop_assert_eq!(ours.len(), theirs.len());
        prop_assert_eq!(ours_by, theirs_by);
        prop_assert_eq!(engine.stats(), plain.stats());
    }
}

#[test]
fn the_plain_engine_refuses_what_it_does_not_evaluate() {
    for kind in [
        "kind = \"offline\"\ntimeout = \"5m\"",
        "kind = \"rate\"\nthreshold = 1.0\nper = \"1m\"",
    ] {
        let text =
            format!("[[rule]]\nid = \"r\"\npoints = [\"d/x\"]\npriority = \"major\"\n{kind}\n");
        let set = RuleSet::from_toml("t.toml", &text).unwrap();
        let e = PlainEngine::new(&set, &[]).unwrap_err();
        assert!(matches!(e, alarms::Error::InvalidRule { .. }), "{e}");
    }
}

#[test]
fn transitions_found_by_both_include_every_kind() {
    // A fixed case that the property test's comparison is not vacuous on: a high rule with a
    // pre-alarm, delays and hysteresis raises and clears both detectors in both engines.
    let mut set = RuleSet::new();
    let mut r = Rule::new(
        "hot",
        Condition::High {
            threshold: 90.0,
            pre_alarm: Some(85.0),
        },
        Priority::Major,
        &["a/x"],
    );
    r.hysteresis = 2.0;
    r.delay = Duration::from_secs(30);
    r.clear_delay = Duration::from_secs(20);
    set.add(r).unwrap();
    let mut engine = Engine::new(&set, &[]).unwrap();
    let mut plain = PlainEngine::new(&set, &[]).unwrap();
    let p = engine.point_id("a/x").unwrap();
    let samples: Vec<AlarmSample> = [(0, 50.0), (10, 95.0), (50, 89.0), (60, 70.0), (120, 70.0)]
        .iter()
        .map(|&(s, v)| AlarmSample::from_unix_micros(p, s * 1_000_000, SampleValue::Number(v)))
        .collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    engine.process(&samples, &mut a);
    plain.process(&samples, &mut b);
    let kinds = |v: &[Transition]| -> Vec<(i64, TransitionKind)> {
        v.iter()
            .map(|t| (t.time_micros() / 1_000_000, t.kind()))
            .collect()
    };
    let expected = vec![
        (40, TransitionKind::PreAlarm),
        (40, TransitionKind::Raised),
        (80, TransitionKind::Cleared),
        (80, TransitionKind::PreAlarmCleared),
    ];
    assert_eq!(kinds(&a), expected);
    assert_eq!(kinds(&b), expected);
}
