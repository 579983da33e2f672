//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use alarms::{AlarmSample, Engine, PointInfo, RuleSet, SampleValue, Transition};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// 2024-01-08 00:00:00 UTC (a Monday).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 8, 0, 0, 0).unwrap()
}

/// `t0 + s` seconds.
pub fn at(s: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(s)
}

/// A rule set with one `[[rule]]` whose body is given (id "r", point "dev/x").
pub fn one_rule(body: &str) -> RuleSet {
    let text =
        format!("[[rule]]\nid = \"r\"\npoints = [\"dev/x\"]\npriority = \"major\"\n{body}\n");
    RuleSet::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// Feed `(seconds, reading)` samples to point "dev/x" one by one, then tick at `until`
/// seconds; return `(seconds after t0, event name)` of every transition.
pub fn run(
    rules: &RuleSet,
    samples: &[(i64, SampleValue)],
    until: Option<i64>,
) -> Vec<(i64, &'static str)> {
    let mut engine = Engine::new(rules, &[PointInfo::named("dev/x")]).unwrap();
    let p = engine.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    for (s, r) in samples {
        engine.process_one(AlarmSample::new(p, at(*s), *r), &mut out);
    }
    if let Some(u) = until {
        engine.tick(at(u), &mut out);
    }
    named(&out)
}

/// Transitions as `(seconds after t0, name)`.
pub fn named(out: &[Transition]) -> Vec<(i64, &'static str)> {
    out.iter()
        .map(|t| ((t.time() - t0()).num_seconds(), t.kind().as_str()))
        .collect()
}

/// Numbers as readings at minutes.
pub fn minutes(values: &[(i64, f64)]) -> Vec<(i64, SampleValue)> {
    values
        .iter()
        .map(|(m, v)| (m * 60, SampleValue::Number(*v)))
        .collect()
}
