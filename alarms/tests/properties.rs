//! Property tests of the engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use alarms::{AlarmSample, Engine, PointInfo, RuleSet, SampleValue, Transition, TransitionKind};
use common::{at, t0};
use proptest::prelude::*;

const VALUES: [f64; 12] = [
    70.0, 80.0, 84.0, 85.0, 86.0, 87.9, 88.0, 89.0, 90.0, 90.1, 95.0, 120.0,
];

fn reading() -> impl Strategy<Value = SampleValue> {
    prop_oneof![
        10 => prop::sample::select(&VALUES[..]).prop_map(SampleValue::Number),
        1 => Just(SampleValue::NoAnswer),
        1 => Just(SampleValue::Invalid),
    ]
}

/// Per point, samples with increasing times (gaps 1..=600 s).
fn series(points: usize, len: usize) -> impl Strategy<Value = Vec<(usize, i64, SampleValue)>> {
    prop::collection::vec((0..points, 1i64..=600, reading()), 1..len).prop_map(move |raw| {
        let mut clock = vec![0i64; points];
        raw.into_iter()
            .map(|(p, gap, r)| {
                clock[p] += gap;
                (p, clock[p], r)
            })
            .collect()
    })
}

fn rules(delay: u32, hysteresis: f64, clear_delay: u32) -> RuleSet {
    let text = format!(
        r#"
[[rule]]
id = "high"
select = {{ service = "x" }}
kind = "high"
threshold = 90.0
pre_alarm = 85.0
hysteresis = {hysteresis:.1}
delay = "{delay}s"
clear_delay = "{clear_delay}s"
priority = "major"
[[rule]]
id = "low"
select = {{ service = "x" }}
kind = "low"
threshold = 85.0
hysteresis = {hysteresis:.1}
delay = "{delay}s"
priority = "minor"
[[rule]]
id = "band"
select = {{ service = "x" }}
kind = "band"
low = 80.0
high = 95.0
hysteresis = {hysteresis:.1}
delay = "{delay}s"
priority = "minor"
[[rule]]
id = "offline"
select = {{ service = "x" }}
kind = "offline"
timeout = "5m"
delay = "{delay}s"
priority = "major"
[[rule]]
id = "rate"
select = {{ service = "x" }}
kind = "rate"
threshold = 10.0
per = "1m"
delay = "{delay}s"
priority = "minor"
"#
    );
    RuleSet::from_toml("p.toml", &text).unwrap()
}

fn engine(rules: &RuleSet, points: usize) -> Engine {
    let list: Vec<PointInfo> = (0..points)
        .map(|i| PointInfo::named(&format!("d{i}/x")))
        .collect();
    Engine::new(rules, &list).unwrap()
}

fn samples(e: &Engine, s: &[(usize, i64, SampleValue)]) -> Vec<AlarmSample> {
    s.iter()
        .map(|(p, t, r)| AlarmSample::new(e.point_id(&format!("d{p}/x")).unwrap(), at(*t), *r))
        .collect()
}

fn per_instance(out: &[Transition]) -> HashMap<usize, Vec<(i64, TransitionKind)>> {
    let mut m: HashMap<usize, Vec<(i64, TransitionKind)>> = HashMap::new();
    for t in out {
        m.entry(t.instance().index())
            .or_default()
            .push((t.time_micros(), t.kind()));
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Raise and clear strictly alternate per alarm (and pre-alarm), starting with a raise,
    /// and times never go backwards per alarm.
    #[test]
    fn raise_and_clear_alternate(
        s in series(3, 120),
        delay in prop::sample::select(vec![0u32, 60, 300]),
        h in prop::sample::select(vec![0.0f64, 2.0]),
        cd in prop::sample::select(vec![0u32, 120]),
        tick_every in 1usize..20,
    ) {
        let rules = rules(delay, h, cd);
        let mut e = engine(&rules, 3);
        let batch = samples(&e, &s);
        let mut out = Vec::new();
        for (i, chunk) in batch.chunks(tick_every).enumerate() {
            e.process(chunk, &mut out);
            if i % 2 == 1 {
                let latest = chunk.iter().map(|x| x.time()).max().unwrap();
                e.tick(latest, &mut out);
            }
        }
        for (inst, evs) in per_instance(&out) {
            let mut alarm_on = false;
            let mut pre_on = false;
            let mut last = i64::MIN;
            for (t, k) in evs {
                prop_assert!(t >= last, "instance {inst}: time went back");
                last = t;
                match k {
                    TransitionKind::Raised => { prop_assert!(!alarm_on, "instance {inst}: raised twice"); alarm_on = true; }
                    TransitionKind::Cleared => { prop_assert!(alarm_on, "instance {inst}: cleared while inactive"); alarm_on = false; }
                    TransitionKind::PreAlarm => { prop_assert!(!pre_on); pre_on = true; }
                    TransitionKind::PreAlarmCleared => { prop_assert!(pre_on); pre_on = false; }
                }
            }
        }
    }

    /// Nothing is raised before the activation delay: at a raise at T, the value in effect
    /// at T - delay and every value between were beyond the threshold.
    #[test]
    fn nothing_raised_before_the_delay(
        s in series(1, 150),
        delay in prop::sample::select(vec![0u32, 60, 300, 900]),
        h in prop::sample::select(vec![0.0f64, 2.0]),
    ) {
        let rules = rules(delay, h, 0);
        let mut e = engine(&rules, 1);
        let batch = samples(&e, &s);
        let mut out = Vec::new();
        e.process(&batch, &mut out);
        let end = s.last().map_or(0, |x| x.1) + 3600;
        e.tick(at(end), &mut out);
        let high = e.find_instance("high", "d0/x").unwrap();
        let d = i64::from(delay) * 1_000_000;
        for (threshold, kind) in [(90.0, TransitionKind::Raised), (85.0, TransitionKind::PreAlarm)] {
            for tr in out.iter().filter(|t| t.instance() == high && t.kind() == kind) {
                let raise = tr.time_micros();
                let start = raise - d;
                let beyond = |r: &SampleValue| matches!(r, SampleValue::Number(v) if *v > threshold);
                let micros = |secs: i64| at(secs).timestamp_micros();
                let in_effect = s.iter().rev().find(|x| micros(x.1) <= start);
                prop_assert!(in_effect.is_some_and(|x| beyond(&x.2)), "{kind:?} at {raise} without a crossing {delay}s before");
                for x in s.iter().filter(|x| micros(x.1) > start && micros(x.1) < raise) {
                    prop_assert!(beyond(&x.2), "{kind:?} at {raise} but value {:?} at {} inside the delay", x.2, x.1);
                }
            }
        }
        prop_assert!(t0() <= at(0));
    }

    /// After activation, values that stay within the hysteresis band never clear.
    #[test]
    fn hysteresis_band_never_clears(
        band_values in prop::collection::vec(88.0f64..=200.0, 1..100),
        gaps in prop::collection::vec(1i64..=3600, 100),
        delay in prop::sample::select(vec![0u32, 60, 300]),
    ) {
        let rules = rules(delay, 2.0, 0);
        let mut e = engine(&rules, 1);
        let p = e.point_id("d0/x").unwrap();
        let high = e.find_instance("high", "d0/x").unwrap();
        let mut out = Vec::new();
        e.process_one(AlarmSample::new(p, at(0), SampleValue::Number(95.0)), &mut out);
        e.tick(at(i64::from(delay)), &mut out);
        prop_assert!(out.iter().any(|t| t.instance() == high && t.kind() == TransitionKind::Raised));
        let mut t = i64::from(delay);
        for (v, g) in band_values.iter().zip(&gaps) {
            t += g;
            e.process_one(AlarmSample::new(p, at(t), SampleValue::Number(*v)), &mut out);
            e.tick(at(t + g / 2), &mut out);
            t += g / 2;
        }
        prop_assert!(!out.iter().any(|t| t.instance() == high && t.kind() == TransitionKind::Cleared));
    }

    /// The result does not depend on how samples are split into batches.
    #[test]
    fn batching_changes_nothing(
        s in series(4, 200),
        cuts in prop::collection::vec(0usize..200, 0..10),
        delay in prop::sample::select(vec![0u32, 60, 300]),
        cd in prop::sample::select(vec![0u32, 120]),
    ) {
        let rules = rules(delay, 2.0, cd);
        let mut one = engine(&rules, 4);
        let batch = samples(&one, &s);
        let mut expected = Vec::new();
        for x in &batch {
            one.process_one(*x, &mut expected);
        }
        let mut split = engine(&rules, 4);
        let mut got = Vec::new();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(batch.len())).collect();
        cuts.sort_unstable();
        let mut from = 0;
        for c in cuts.into_iter().chain([batch.len()]) {
            split.process(&batch[from..c], &mut got);
            from = c;
        }
        prop_assert_eq!(expected, got);
    }

    /// Ticks only make transitions known sooner: per alarm, the transitions and their times
    /// are the same with or without ticks in between (given a final tick).
    #[test]
    fn ticks_change_nothing_but_latency(
        s in series(1, 150),
        delay in prop::sample::select(vec![0u32, 60, 300]),
        cd in prop::sample::select(vec![0u32, 120]),
        tick_offsets in prop::collection::vec(0i64..600, 150),
    ) {
        let rules = rules(delay, 2.0, cd);
        let mut quiet = engine(&rules, 1);
        let batch = samples(&quiet, &s);
        let end = at(s.last().map_or(0, |x| x.1) + 7200);
        let mut a = Vec::new();
        quiet.process(&batch, &mut a);
        quiet.tick(end, &mut a);
        let mut busy = engine(&rules, 1);
        let mut b = Vec::new();
        for (i, x) in batch.iter().enumerate() {
            busy.process_one(*x, &mut b);
            // Tick somewhere before the next sample.
            let next = batch.get(i + 1).map_or(x.time_micros(), |n| n.time_micros());
            let room = (next - x.time_micros()) / 1_000_000;
            let off = if room > 0 { tick_offsets[i % tick_offsets.len()] % room } else { 0 };
            busy.tick(x.time() + chrono::Duration::seconds(off), &mut b);
        }
        busy.tick(end, &mut b);
        prop_assert_eq!(per_instance(&a), per_instance(&b));
    }
}

fn every_kind() -> RuleSet {
    RuleSet::from_toml(
        "k.toml",
        r#"
[[rule]]
id = "high"
select = { service = "x" }
kind = "high"
threshold = 90.0
pre_alarm = 85.0
hysteresis = 2.0
delay = "60s"
clear_delay = "30s"
priority = "major"
[[rule]]
id = "band"
select = { service = "x" }
kind = "band"
low = -10.0
high = 95.0
low_pre_alarm = 0.0
high_pre_alarm = 88.0
hysteresis = 1.0
delay = "20s"
priority = "minor"
[[rule]]
id = "bin-true"
select = { service = "x" }
kind = "binary"
delay = "30s"
priority = "minor"
[[rule]]
id = "bin-false"
select = { service = "x" }
kind = "binary"
raise_on = false
clear_delay = "40s"
priority = "minor"
[[rule]]
id = "code"
select = { service = "x" }
kind = "controller"
priority = "minor"
[[rule]]
id = "rate"
select = { service = "y" }
kind = "rate"
threshold = 20.0
per = "1m"
hysteresis = 5.0
priority = "minor"
[[rule]]
id = "offline"
select = { device = "a" }
kind = "offline"
timeout = "4m"
delay = "30s"
priority = "major"
[[rule]]
id = "night"
select = { service = "y" }
kind = "high"
threshold = 85.0
delay = "90s"
priority = "minor"
[rule.schedule]
time_zone = "Europe/Copenhagen"
windows = [{ from = "00:10", to = "00:40" }, { from = "01:20", to = "02:00" }]
"#,
    )
    .unwrap()
}

const ALL_VALUES: [f64; 16] = [
    -20.0, -10.0, -1.0, -0.0, 0.0, 1.0, 50.0, 85.0, 86.0, 87.0, 88.0, 89.0, 90.0, 94.0, 95.5, 120.0,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The fast path (samples inside a point's quiet band skip evaluation) changes nothing:
    /// same transitions, same order, as evaluating every sample, for every kind of alarm,
    /// with missing and bad values, several devices and points, and ticks in between.
    #[test]
    fn the_fast_path_changes_nothing(
        raw in prop::collection::vec((0usize..4, 1i64..=200, prop_oneof![
            12 => prop::sample::select(&ALL_VALUES[..]).prop_map(SampleValue::Number),
            1 => Just(SampleValue::NoAnswer),
            1 => Just(SampleValue::Invalid),
        ], prop::option::weighted(0.2, 0i64..300)), 1..250),
    ) {
        let rules = every_kind();
        let names = ["a/x", "a/y", "b/x", "b/y"];
        let list: Vec<PointInfo> = names.iter().map(|n| PointInfo::named(n)).collect();
        let mut fast = Engine::new(&rules, &list).unwrap();
        let mut slow = Engine::new(&rules, &list).unwrap().without_fast_path();
        let mut clock = [0i64; 4];
        let (mut out_fast, mut out_slow) = (Vec::new(), Vec::new());
        let mut now = 0i64;
        // The fast engine gets the samples between ticks as one batch; the reference engine
        // one by one.
        let mut batch = Vec::new();
        for (p, gap, r, tick) in raw {
            clock[p] = clock[p].max(now) + gap;
            let id = fast.point_id(names[p]).unwrap();
            let s = AlarmSample::new(id, at(clock[p]), r);
            batch.push(s);
            slow.process_one(s, &mut out_slow);
            if let Some(dt) = tick {
                fast.process(&batch, &mut out_fast);
                batch.clear();
                now = now.max(clock.iter().copied().max().unwrap_or(0)) + dt;
                fast.tick(at(now), &mut out_fast);
                slow.tick(at(now), &mut out_slow);
            }
        }
        fast.process(&batch, &mut out_fast);
        let end = at(clock.iter().copied().max().unwrap_or(0).max(now) + 3600);
        fast.tick(end, &mut out_fast);
        slow.tick(end, &mut out_slow);
        prop_assert_eq!(&out_fast, &out_slow);
        prop_assert_eq!(fast.stats(), slow.stats());
    }
}
