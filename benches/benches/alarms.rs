//! Alarm engine throughput: 100 000 threshold rules (half high, half low) with pre-alarm,
//! hysteresis and a 60 s activation delay, one point each, fed one poll cycle (one sample
//! per point, 10 s apart) per batch.
//!
//! Swept: the share of samples outside the quiet band (1 %, 10 %, 50 %). Each point spends
//! that share of the cycles in an excursion: the value flutters across its threshold (95 /
//! 87 for high rules, 5 / 13 for low ones: every such sample changes a detector), then stays
//! beyond long enough to raise, sits two cycles in the hysteresis band and returns (clears).
//! The bench prints the share of samples the engine actually evaluated in full beside the
//! nominal one.
//!
//! Three sides on the same batches:
//! - **ours**: `alarms::Engine::process`;
//! - **plain engine** (the peer): `alarms::plain::PlainEngine`, the same semantics as a
//!   per-rule state machine evaluated on every sample, written plainly (feature `testing`);
//!   its transitions are checked equal to ours on every batch;
//! - **floor**: a bare loop comparing each value with its point's two thresholds (above the
//!   high one or below the low one). It keeps no state and finds no transitions: a lower
//!   bound, not a peer.
//!
//! Prints per share: samples/s of each side and the ratios; then criterion's measurements.
//!
//! `cargo bench -p benches --bench alarms` (`ALARMS_BENCH_SECS=N` measures the table N s per
//! share instead of 6; `-- nomatch` prints the table only, without criterion's runs)
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)] // a bench: failures abort the run

use std::hint::black_box;
use std::time::{Duration, Instant};

use alarms::plain::PlainEngine;
use alarms::{
    AlarmSample, Condition, Engine, PointInfo, Priority, Rule, RuleSet, SampleValue, Transition,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RULES: usize = 100_000;
const CYCLE_SECONDS: i64 = 10;
/// Cycles between two excursions of a point.
const PERIOD: i64 = 1000;
/// Shares of samples outside the quiet band, in per mille of the cycles.
const SHARES: [i64; 3] = [10, 100, 500];

fn rules() -> (RuleSet, Vec<PointInfo>) {
    let mut set = RuleSet::new();
    let mut points = Vec::with_capacity(RULES);
    for i in 0..RULES {
        let name = format!("dev-{i}/x");
        let kind = if i % 2 == 0 {
            Condition::High {
                threshold: 90.0,
                pre_alarm: Some(85.0),
            }
        } else {
            Condition::Low {
                threshold: 10.0,
                pre_alarm: Some(15.0),
            }
        };
        let mut r = Rule::new(&format!("r{i}"), kind, Priority::Major, &[&name]);
        r.hysteresis = 2.0;
        r.delay = Duration::from_secs(60);
        set.add(r).expect("valid rule");
        points.push(PointInfo::named(&name));
    }
    (set, points)
}

/// The value of point `i` in cycle `k` when `share` per mille of the cycles are excursions.
/// Normal: 50 to 66. An excursion of `share` cycles (each point at its own phase): first
/// `share - 4` cycles fluttering 95 / 87 (beyond the threshold / beyond the pre-alarm only),
/// then 95 for eight cycles (raises after the 60 s delay), then 89 twice (hysteresis band),
/// then back to normal (clears). Low rules see the mirror image (100 - v).
fn value(i: usize, k: i64, share: i64) -> f64 {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let phase = (h as i64 + k).rem_euclid(PERIOD);
    let flutter = share - 4;
    let v = if phase < flutter {
        if phase % 2 == 0 { 95.0 } else { 87.0 }
    } else if phase < flutter + 8 {
        95.0
    } else if phase < flutter + 10 {
        89.0
    } else {
        50.0 + ((h % 17) as f64)
    };
    if i.is_multiple_of(2) { v } else { 100.0 - v }
}

struct Workload {
    share: i64,
    engine: Engine,
    plain: PlainEngine,
    /// Per point: (low threshold, high threshold) for the floor.
    limits: Vec<(f64, f64)>,
    batch: Vec<AlarmSample>,
    ours: Vec<Transition>,
    theirs: Vec<Transition>,
    cycle: i64,
    transitions: u64,
    samples: u64,
}

impl Workload {
    fn new(share: i64) -> Workload {
        let (set, points) = rules();
        let engine = Engine::new(&set, &points).expect("engine");
        let plain = PlainEngine::new(&set, &points).expect("plain engine");
        let limits = (0..RULES)
            .map(|i| {
                if i % 2 == 0 {
                    (f64::NEG_INFINITY, 90.0)
                } else {
                    (10.0, f64::INFINITY)
                }
            })
            .collect();
        let batch = points
            .iter()
            .map(|p| {
                let id = engine.point_id(&p.name).expect("point");
                assert_eq!(Some(id), plain.point_id(&p.name));
                AlarmSample::from_unix_micros(id, 0, SampleValue::Number(50.0))
            })
            .collect();
        let mut w = Workload {
            share,
            engine,
            plain,
            limits,
            batch,
            ours: Vec::with_capacity(RULES * 2),
            theirs: Vec::with_capacity(RULES * 2),
            cycle: 0,
            transitions: 0,
            samples: 0,
        };
        w.next_cycle();
        w
    }

    /// Fill the batch with the next poll cycle (untimed).
    fn next_cycle(&mut self) {
        self.cycle += 1;
        let t = 1_700_000_000_000_000 + self.cycle * CYCLE_SECONDS * 1_000_000;
        let k = self.cycle;
        for (i, s) in self.batch.iter_mut().enumerate() {
            *s = AlarmSample::from_unix_micros(
                s.point(),
                t,
                SampleValue::Number(value(i, k, self.share)),
            );
        }
    }

    /// One cycle on all three sides: (ours, plain engine, floor) times. The two engines'
    /// transitions are checked equal (untimed).
    fn run(&mut self) -> [Duration; 3] {
        let t = Instant::now();
        let report = self.engine.process(black_box(&self.batch), &mut self.ours);
        let ours = t.elapsed();
        let t = Instant::now();
        let theirs_report = self.plain.process(black_box(&self.batch), &mut self.theirs);
        let plain = t.elapsed();
        let t = Instant::now();
        black_box(floor(black_box(&self.batch), &self.limits));
        let floor = t.elapsed();
        assert!(report.all_accepted(), "{report:?}");
        assert_eq!(report, theirs_report);
        // One rule per point, rule i on point i: both engines number instance i alike.
        assert_eq!(self.ours, self.theirs, "cycle {}", self.cycle);
        self.transitions += self.ours.len() as u64;
        self.samples += self.batch.len() as u64;
        self.ours.clear();
        self.theirs.clear();
        self.next_cycle();
        [ours, plain, floor]
    }
}

/// The floor: compare each sample with its point's two thresholds.
fn floor(samples: &[AlarmSample], limits: &[(f64, f64)]) -> usize {
    samples
        .iter()
        .filter(|s| {
            let (lo, hi) = limits[s.point().index()];
            let v = s.raw_value();
            (v > hi) | (v < lo)
        })
        .count()
}

fn report(c: &mut Criterion) {
    println!();
    println!(
        "{RULES} threshold rules (half high, half low; pre-alarm, hysteresis 2, delay 60 s), \
         batches of {RULES} samples (one poll cycle); M samples/s"
    );
    println!(
        "{:>7} {:>9} | {:>7} {:>13} {:>10} | {:>11} {:>11} | transitions",
        "share", "evaluated", "ours", "plain engine", "floor", "ours/plain", "floor/ours"
    );
    let mut workloads = Vec::new();
    for share in SHARES {
        let mut w = Workload::new(share);
        for _ in 0..20 {
            w.run();
        }
        let evaluated_before = w.engine.full_evaluations();
        let (samples_before, transitions_before) = (w.samples, w.transitions);
        let mut total = [Duration::ZERO; 3];
        let start = Instant::now();
        while start.elapsed()
            < Duration::from_secs(
                std::env::var("ALARMS_BENCH_SECS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(6),
            )
        {
            for (t, d) in total.iter_mut().zip(w.run()) {
                *t += d;
            }
        }
        let samples = (w.samples - samples_before) as f64;
        let evaluated = (w.engine.full_evaluations() - evaluated_before) as f64 / samples;
        let [ours, plain, floor] = total.map(|d| samples / d.as_secs_f64() / 1e6);
        println!(
            "{:>6.0}% {:>8.1}% | {ours:>7.1} {plain:>13.1} {floor:>10.1} | {:>10.2}x {:>10.2}x | {}",
            share as f64 / 10.0,
            evaluated * 100.0,
            ours / plain,
            floor / ours,
            w.transitions - transitions_before,
        );
        workloads.push(w);
    }
    println!(
        "ours/plain: how many times faster than the plain engine (target >= 1); floor/ours: our \
         cost over the bare compare loop, a floor, not a peer (target <= 3 at 1 %)"
    );
    let per_rule = workloads[0].engine.table_bytes() as f64 / RULES as f64;
    println!(
        "state per rule: {} bytes per rule instance (thresholds + state in one cache line), of which {} bytes \
         mutable state; {} bytes per point; engine tables {per_rule:.1} bytes per rule in all \
         (x 1 million rules = {per_rule:.0} MB)",
        Engine::BYTES_PER_INSTANCE,
        Engine::STATE_BYTES_PER_INSTANCE,
        Engine::BYTES_PER_POINT,
    );
    println!();

    let mut g = c.benchmark_group("alarms");
    g.throughput(Throughput::Elements(RULES as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(30);
    for w in &mut workloads {
        let pct = w.share / 10;
        for (side, label) in [
            (0, "ours (engine)"),
            (1, "peer (plain engine)"),
            (2, "floor (bare compare loop)"),
        ] {
            g.bench_function(format!("{label}, {pct}% outside the quiet band"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| w.run()[side]).sum())
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = report
}
criterion_main!(benches);
