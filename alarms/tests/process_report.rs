//! `Engine::process` reports what it applied and what it rejected, and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alarms::{AlarmSample, Engine, PointInfo, ProcessReport, SampleValue};
use common::{at, named, one_rule};
use proptest::prelude::*;

fn engine() -> Engine {
    let rules = one_rule("kind = \"high\"\nthreshold = 90.0\ndelay = \"30s\"");
    Engine::new(&rules, &[PointInfo::named("dev/x")]).unwrap()
}

/// A point id the engine does not know: one of a larger engine's points.
fn foreign_point() -> alarms::PointId {
    let rules = one_rule("kind = \"high\"\nthreshold = 90.0");
    let list: Vec<PointInfo> = ["a/x", "b/x", "c/x"]
        .iter()
        .map(|n| PointInfo::named(n))
        .collect();
    let other = Engine::new(&rules, &list).unwrap();
    other.point_id("c/x").unwrap()
}

#[test]
fn a_batch_reports_each_reason_of_rejection() {
    let mut e = engine();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    assert_eq!(
        e.process_one(
            AlarmSample::new(p, at(100), SampleValue::Number(50.0)),
            &mut out
        ),
        ProcessReport {
            accepted: 1,
            ..ProcessReport::default()
        }
    );
    e.tick(at(200), &mut out);
    let batch = [
        // Older than the tick (and than the point's last sample).
        AlarmSample::new(p, at(90), SampleValue::Number(95.0)),
        // Older than the tick only.
        AlarmSample::new(p, at(150), SampleValue::Number(95.0)),
        AlarmSample::new(p, at(210), SampleValue::Number(95.0)),
        // Older than the point's previous sample, not than the tick.
        AlarmSample::new(p, at(205), SampleValue::Number(50.0)),
        AlarmSample::new(foreign_point(), at(220), SampleValue::Number(95.0)),
        // Missing values are applied (the value becomes unknown).
        AlarmSample::new(p, at(230), SampleValue::NoAnswer),
        AlarmSample::new(p, at(240), SampleValue::Number(95.0)),
    ];
    let report = e.process(&batch, &mut out);
    assert_eq!(
        report,
        ProcessReport {
            accepted: 3,
            rejected_stale: 2,
            rejected_out_of_order: 1,
            rejected_unknown_point: 1,
        }
    );
    assert_eq!(report.rejected(), 4);
    assert!(!report.all_accepted());
    // The same counts in the engine's totals.
    let s = e.stats();
    assert_eq!(
        (s.applied, s.out_of_order, s.before_tick, s.unknown_point),
        (4, 3, 2, 1)
    );
    // The rejected samples changed nothing: the crossing at 240 s (after the missing value
    // at 230 s) raises at 270 s, not at 180 s or 240 s.
    e.tick(at(400), &mut out);
    assert_eq!(named(&out), vec![(270, "raised")]);
}

#[test]
fn process_one_reports_like_a_batch_of_one() {
    let mut e = engine();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    let one = |e: &mut Engine, s: i64, out: &mut Vec<_>| {
        e.process_one(AlarmSample::new(p, at(s), SampleValue::Number(95.0)), out)
    };
    assert!(one(&mut e, 10, &mut out).all_accepted());
    let r = one(&mut e, 5, &mut out);
    assert_eq!((r.accepted, r.rejected_out_of_order), (0, 1));
    e.tick(at(60), &mut out);
    let r = one(&mut e, 59, &mut out);
    assert_eq!((r.accepted, r.rejected_stale, r.rejected()), (0, 1, 1));
    let r = e.process_one(
        AlarmSample::new(foreign_point(), at(70), SampleValue::Invalid),
        &mut out,
    );
    assert_eq!((r.accepted, r.rejected_unknown_point), (0, 1));
    assert!(one(&mut e, 60, &mut out).all_accepted());
}

#[test]
fn an_empty_batch_reports_nothing() {
    let mut e = engine();
    let mut out = Vec::new();
    assert_eq!(e.process(&[], &mut out), ProcessReport::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every sample is either accepted or rejected for one reason; the reports of all
    /// batches add up to the engine's counters; and a sample is counted stale exactly when
    /// it is older than the latest tick before its batch.
    #[test]
    fn reports_account_for_every_sample(
        raw in prop::collection::vec((0i64..400, any::<bool>()), 1..200),
        cuts in prop::collection::vec(1usize..20, 1..40),
        ticks in prop::collection::vec(prop::option::of(0i64..400), 40),
    ) {
        let mut e = engine();
        let p = e.point_id("dev/x").unwrap();
        let foreign = foreign_point();
        let samples: Vec<AlarmSample> = raw
            .iter()
            .map(|&(s, known)| {
                AlarmSample::new(if known { p } else { foreign }, at(s), SampleValue::Number(s as f64 / 4.0))
            })
            .collect();
        let mut out = Vec::new();
        let mut total = ProcessReport::default();
        let (mut from, mut k) = (0, 0);
        let mut watermark = i64::MIN;
        let mut last = i64::MIN;
        while from < samples.len() {
            let to = (from + cuts[k % cuts.len()]).min(samples.len());
            let batch = &samples[from..to];
            // The expected counts, one sample at a time.
            let mut expected = ProcessReport::default();
            for (&(s, known), _) in raw[from..to].iter().zip(batch) {
                if !known {
                    expected.rejected_unknown_point += 1;
                } else if s < watermark {
                    expected.rejected_stale += 1;
                } else if s < last {
                    expected.rejected_out_of_order += 1;
                } else {
                    expected.accepted += 1;
                    last = s;
                }
            }
            let report = e.process(batch, &mut out);
            prop_assert_eq!(report, expected);
            prop_assert_eq!(report.accepted + report.rejected(), batch.len() as u64);
            total += report;
            if let Some(Some(t)) = ticks.get(k) {
                if *t >= watermark {
                    watermark = *t;
                }
                e.tick(at(*t), &mut out);
            }
            from = to;
            k += 1;
        }
        let s = e.stats();
        prop_assert_eq!(total.accepted, s.applied);
        prop_assert_eq!(total.rejected_stale, s.before_tick);
        prop_assert_eq!(total.rejected_stale + total.rejected_out_of_order, s.out_of_order);
        prop_assert_eq!(total.rejected_unknown_point, s.unknown_point);
    }
}
