//! The hot path allocates nothing: processing batches of samples (with crossings, raises
//! and clears) and ticking, once the output vector has room.
//!
//! It runs without the libtest harness (`harness = false`): the harness's own thread may
//! allocate while a test measures, which made the count flaky. `main` runs the one check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::time::Duration;

use alarms::{AlarmSample, Condition, Engine, PointInfo, Priority, Rule, RuleSet, SampleValue};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn processing_and_ticking_do_not_allocate() {
    const N: usize = 2_000;
    let mut set = RuleSet::new();
    let mut points = Vec::new();
    for i in 0..N {
        let name = format!("d{i}/x");
        let kind = if i % 2 == 0 {
            Condition::High {
                threshold: 90.0,
                pre_alarm: Some(85.0),
            }
        } else {
            Condition::Low {
                threshold: 10.0,
                pre_alarm: None,
            }
        };
        let mut r = Rule::new(&format!("r{i}"), kind, Priority::Major, &[&name]);
        r.hysteresis = 1.0;
        r.delay = Duration::from_secs(20);
        r.clear_delay = Duration::from_secs(10);
        set.add(r).unwrap();
        points.push(PointInfo::named(&name));
    }
    let mut engine = Engine::new(&set, &points).unwrap();
    let ids: Vec<_> = points
        .iter()
        .map(|p| engine.point_id(&p.name).unwrap())
        .collect();
    let mut batch: Vec<AlarmSample> = Vec::with_capacity(N);
    let mut out = Vec::with_capacity(8 * N);
    let fill = |batch: &mut Vec<AlarmSample>, k: i64| {
        batch.clear();
        for (i, &p) in ids.iter().enumerate() {
            let beyond = (i as i64 + k) % 13 < 4;
            let v = match (beyond, i % 2 == 0) {
                (true, true) => 95.0,
                (true, false) => 5.0,
                _ => 50.0,
            };
            let r = if (i as i64 + k) % 29 == 0 {
                SampleValue::NoAnswer
            } else {
                SampleValue::Number(v)
            };
            batch.push(AlarmSample::from_unix_micros(p, k * 10_000_000, r));
        }
    };
    // Warm up: the engine's tick scratch buffer reaches its size.
    for k in 0..30 {
        fill(&mut batch, k);
        engine.process(&batch, &mut out);
        engine.tick_micros(k * 10_000_000 + 5_000_000, &mut out);
        out.clear();
    }
    let mut transitions = 0;
    for k in 30..80 {
        fill(&mut batch, k);
        let region = Region::new(GLOBAL);
        engine.process(&batch, &mut out);
        engine.tick_micros(k * 10_000_000 + 5_000_000, &mut out);
        let stats = region.change();
        assert_eq!(
            (stats.allocations, stats.reallocations),
            (0, 0),
            "batch {k}"
        );
        transitions += out.len();
        out.clear();
    }
    assert!(
        transitions > 1000,
        "the batches exercised transitions ({transitions})"
    );
}

fn main() {
    processing_and_ticking_do_not_allocate();
    println!("test processing_and_ticking_do_not_allocate ... ok");
}
