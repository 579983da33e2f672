//! Alarm engine throughput: 100 000 high/low threshold rules with pre-alarm, hysteresis and
//! an activation delay, one point each, fed one poll cycle (one sample per point) per batch.
//! Values wander so that about 1 % of the samples are beyond a threshold (crossings, pending
//! delays, raises and clears all happen).
//!
//! In the same bench, a bare loop over the same samples that only compares each value with
//! its point's threshold. Prints samples/s of both, our cost as a ratio to the bare loop, and
//! the bytes of state per rule; then criterion's own measurements.
//!
//! `cargo bench -p benches --bench alarms`
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)] // a bench: failures abort the run

use std::hint::black_box;
use std::time::{Duration, Instant};

use alarms::{Engine, Kind, PointInfo, Priority, Reading, Rule, RuleSet, Sample, Transition};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RULES: usize = 100_000;
const CYCLE_SECONDS: i64 = 10;

struct Workload {
    engine: Engine,
    thresholds: Vec<f64>,
    batch: Vec<Sample>,
    out: Vec<Transition>,
    cycle: i64,
    transitions: u64,
}

fn rules() -> (RuleSet, Vec<PointInfo>) {
    let mut set = RuleSet::new();
    let mut points = Vec::with_capacity(RULES);
    for i in 0..RULES {
        let name = format!("dev-{i}/x");
        let kind = if i % 2 == 0 {
            Kind::High {
                threshold: 90.0,
                pre_alarm: Some(85.0),
            }
        } else {
            Kind::Low {
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

/// The value of point `i` in cycle `k`: normal around 50 to 66; once every 1000 cycles
/// (each point at its own phase) ten cycles beyond its thresholds (high rules 95, low rules 5)
/// and two inside the hysteresis band before going back to normal. About 1 % of the samples
/// are beyond a threshold; with the 60 s delay and 10 s cycles every excursion raises, holds
/// through the hysteresis band, and clears.
fn value(i: usize, k: i64) -> f64 {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let phase = (h as i64 + k).rem_euclid(1000);
    let base = 50.0 + ((h % 17) as f64);
    match (phase, i % 2 == 0) {
        (0..=9, true) => 95.0,
        (10..=11, true) => 89.0,
        (0..=9, false) => 5.0,
        (10..=11, false) => 11.0,
        _ => base,
    }
}

impl Workload {
    fn new() -> Workload {
        let (set, points) = rules();
        let engine = Engine::new(&set, &points).expect("engine");
        let thresholds = (0..RULES)
            .map(|i| if i % 2 == 0 { 90.0 } else { 10.0 })
            .collect();
        let ids: Vec<_> = points
            .iter()
            .map(|p| engine.point_id(&p.name).expect("point"))
            .collect();
        let batch = ids
            .iter()
            .map(|&p| Sample::from_unix_micros(p, 0, Reading::Number(50.0)))
            .collect();
        let mut w = Workload {
            engine,
            thresholds,
            batch,
            out: Vec::with_capacity(RULES * 2),
            cycle: 0,
            transitions: 0,
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
            *s = Sample::from_unix_micros(s.point(), t, Reading::Number(value(i, k)));
        }
    }

    /// Run the engine on the current batch; returns the elapsed time.
    fn run_engine(&mut self) -> Duration {
        let t = Instant::now();
        self.engine.process(black_box(&self.batch), &mut self.out);
        let e = t.elapsed();
        self.transitions += self.out.len() as u64;
        self.out.clear();
        e
    }

    fn run_bare(&self) -> Duration {
        let t = Instant::now();
        black_box(bare(black_box(&self.batch), &self.thresholds));
        t.elapsed()
    }
}

/// The baseline: compare each sample with its point's threshold.
fn bare(samples: &[Sample], thresholds: &[f64]) -> usize {
    samples
        .iter()
        .filter(|s| s.raw_value() > thresholds[s.point().index()])
        .count()
}

fn report(c: &mut Criterion) {
    let mut w = Workload::new();
    // Warm up.
    for _ in 0..20 {
        w.run_engine();
        w.run_bare();
        w.next_cycle();
    }
    let (mut ours, mut base) = (Duration::ZERO, Duration::ZERO);
    let mut batches = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        ours += w.run_engine();
        base += w.run_bare();
        w.next_cycle();
        batches += 1;
    }
    let samples = (batches * RULES as u64) as f64;
    let our_rate = samples / ours.as_secs_f64();
    let bare_rate = samples / base.as_secs_f64();
    println!();
    println!(
        "{RULES} threshold rules (high/low, pre-alarm, hysteresis, delay), batches of {RULES} samples"
    );
    println!(
        "alarms engine : {:.1} M samples/s ({batches} batches, {} transitions)",
        our_rate / 1e6,
        w.transitions
    );
    println!("bare compare  : {:.1} M samples/s", bare_rate / 1e6);
    println!(
        "ratio engine / bare loop: {:.2}x (cost per sample)",
        bare_rate / our_rate
    );
    let per_rule = w.engine.table_bytes() as f64 / RULES as f64;
    println!(
        "state per rule: {} bytes per rule instance (thresholds + state in one cache line), of which {} bytes \
         mutable state; {} bytes per point; engine tables {per_rule:.1} bytes per rule in all \
         (x 1 million rules = {per_rule:.0} MB)",
        Engine::BYTES_PER_INSTANCE,
        Engine::STATE_BYTES_PER_INSTANCE,
        Engine::BYTES_PER_POINT,
    );
    println!("engine stats: {:?}", w.engine.stats());
    println!();

    let mut g = c.benchmark_group("alarms");
    g.throughput(Throughput::Elements(RULES as u64));
    g.bench_function("engine 100k rules, one batch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += w.run_engine();
                w.next_cycle();
            }
            total
        })
    });
    g.bench_function("bare compare loop, one batch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += w.run_bare();
                w.next_cycle();
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = report
}
criterion_main!(benches);
