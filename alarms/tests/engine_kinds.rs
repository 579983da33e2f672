//! Offline (Leanheat), controller and rate-of-change alarms, schedules across daylight-saving
//! changes, selections, and the out-of-order rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alarms::{
    AlarmSample, DetectorState, Engine, PointInfo, RuleSet, SampleValue, Schedule, Window,
};
use chrono::{DateTime, TimeZone, Utc};
use common::{at, minutes, named, one_rule, run};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[test]
fn leanheat_offline_alarm() {
    // Offline when no successful communication from the device for 15 minutes, raised after
    // a further 5 minute delay; any good sample of any of its points counts.
    let rules = RuleSet::from_toml(
        "r.toml",
        r#"
[[rule]]
id = "ecl-offline"
select = { device = "ecl-*" }
kind = "offline"
timeout = "15m"
delay = "5m"
priority = "critical"
"#,
    )
    .unwrap();
    let points = [
        PointInfo::named("ecl-1/flow"),
        PointInfo::named("ecl-1/return"),
        PointInfo::named("ecl-2/flow"),
    ];
    let mut e = Engine::new(&rules, &points).unwrap();
    assert_eq!(e.instance_count(), 2, "one offline alarm per device");
    let flow = e.point_id("ecl-1/flow").unwrap();
    let ret = e.point_id("ecl-1/return").unwrap();
    let other = e.point_id("ecl-2/flow").unwrap();
    let mut out = Vec::new();
    e.process(
        &[
            AlarmSample::new(flow, at(0), SampleValue::Number(70.0)),
            AlarmSample::new(other, at(0), SampleValue::Number(70.0)),
        ],
        &mut out,
    );
    // ecl-1 keeps talking through its return point, ecl-2 stops; a missing value is no communication.
    e.process_one(
        AlarmSample::new(ret, at(600), SampleValue::Number(40.0)),
        &mut out,
    );
    e.process_one(
        AlarmSample::new(other, at(600), SampleValue::NoAnswer),
        &mut out,
    );
    e.tick(at(19 * 60 + 59), &mut out);
    assert!(out.is_empty(), "{out:?}");
    e.tick(at(20 * 60), &mut out);
    let got: Vec<(String, i64, &str)> = out
        .iter()
        .map(|t| {
            (
                e.instance(t.instance()).unwrap().target.to_string(),
                (t.time() - at(0)).num_seconds(),
                t.kind().as_str(),
            )
        })
        .collect();
    assert_eq!(got, vec![("ecl-2".to_string(), 1200, "raised")]);
    assert!(out[0].value().is_none());
    // ecl-1's last communication was at 10 min: due at 30 min.
    out.clear();
    e.tick(at(30 * 60), &mut out);
    assert_eq!(named(&out), vec![(1800, "raised")]);
    assert_eq!(e.instance(out[0].instance()).unwrap().target, "ecl-1");
    // Communication restored clears at once.
    out.clear();
    e.process_one(
        AlarmSample::new(other, at(2000), SampleValue::Number(71.0)),
        &mut out,
    );
    assert_eq!(named(&out), vec![(2000, "cleared")]);
}

#[test]
fn offline_found_by_the_next_sample_without_ticks() {
    let rules = one_rule("kind = \"offline\"\ntimeout = \"15m\"");
    // Samples at 0 and 60 min, no tick: the gap was an outage from 15 to 60 min.
    assert_eq!(
        run(&rules, &minutes(&[(0, 1.0), (60, 1.0)]), None),
        vec![(900, "raised"), (3600, "cleared")]
    );
    // A device that never communicates counts from the first time the engine saw.
    let rules = RuleSet::from_toml(
        "r.toml",
        "[[rule]]\nid = \"o\"\npoints = [\"silent/x\"]\nkind = \"offline\"\ntimeout = \"10m\"\npriority = \"major\"\n",
    )
    .unwrap();
    let mut e = Engine::new(&rules, &[]).unwrap();
    let mut out = Vec::new();
    e.tick(at(0), &mut out);
    e.tick(at(3600), &mut out);
    assert_eq!(named(&out), vec![(600, "raised")]);
}

#[test]
fn controller_alarm_follows_the_device_code() {
    let rules = one_rule("kind = \"controller\"");
    let got = run(
        &rules,
        &minutes(&[(0, 0.0), (1, 3.0), (2, 5.0), (3, 0.0), (4, -2.0), (5, 0.0)]),
        None,
    );
    assert_eq!(
        got,
        vec![
            (60, "raised"),
            (180, "cleared"),
            (240, "raised"),
            (300, "cleared")
        ]
    );
    // No hysteresis allowed.
    let e = RuleSet::from_toml("r.toml", "[[rule]]\nid=\"c\"\npoints=[\"d/x\"]\nkind=\"controller\"\nhysteresis=1.0\npriority=\"major\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("controller alarms take no hysteresis"), "{e}");
}

#[test]
fn rate_of_change() {
    let both = one_rule("kind = \"rate\"\nthreshold = 10.0\nper = \"1m\"\nhysteresis = 2.0");
    // 5/min, 15/min (raise), 9/min (inside hysteresis: stays), 2/min (clear), -20/min (raise).
    let values = [
        (0, 0.0),
        (1, 5.0),
        (2, 20.0),
        (3, 29.0),
        (4, 31.0),
        (5, 11.0),
    ];
    assert_eq!(
        run(&both, &minutes(&values), None),
        vec![(120, "raised"), (240, "cleared"), (300, "raised")]
    );
    let up = one_rule("kind = \"rate\"\nthreshold = 10.0\nper = \"1m\"\ndirection = \"up\"");
    assert_eq!(
        run(&up, &minutes(&values), None),
        vec![(120, "raised"), (180, "cleared")]
    );
    let down = one_rule("kind = \"rate\"\nthreshold = 10.0\nper = \"1m\"\ndirection = \"down\"");
    assert_eq!(run(&down, &minutes(&values), None), vec![(300, "raised")]);
    // Per hour: 15 in one minute is 900/h.
    let hourly = one_rule("kind = \"rate\"\nthreshold = 600.0\nper = \"1h\"");
    assert_eq!(
        run(&hourly, &minutes(&values), None),
        vec![(120, "raised"), (180, "cleared"), (300, "raised")]
    );
    // A missing value breaks the chain: no rate across it.
    let got = run(
        &up,
        &[
            (0, SampleValue::Number(0.0)),
            (60, SampleValue::NoAnswer),
            (120, SampleValue::Number(100.0)),
            (180, SampleValue::Number(101.0)),
        ],
        None,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn schedule_across_spring_forward_in_copenhagen() {
    // Every day 02:30-03:30 local. On 2024-03-31 02:00-03:00 does not exist: the window opens
    // when the clock jumps to 03:00 (01:00 UTC) and closes at 03:30 (01:30 UTC).
    let s = Schedule::new(
        "Europe/Copenhagen",
        vec![Window::new(&[], "02:30", "03:30").unwrap()],
        vec![],
    )
    .unwrap();
    assert!(
        s.contains(utc(2024, 3, 30, 1, 30)),
        "02:30 CET the day before"
    );
    assert!(!s.contains(utc(2024, 3, 31, 0, 59)), "01:59 CET");
    assert!(s.contains(utc(2024, 3, 31, 1, 0)), "03:00 CEST");
    assert!(s.contains(utc(2024, 3, 31, 1, 29)));
    assert!(!s.contains(utc(2024, 3, 31, 1, 30)), "03:30 CEST");
    assert_eq!(
        s.next_open(utc(2024, 3, 30, 22, 0)),
        Some(utc(2024, 3, 31, 1, 0))
    );
    assert_eq!(
        s.next_open(utc(2024, 3, 31, 1, 30)),
        Some(utc(2024, 4, 1, 0, 30)),
        "02:30 CEST next day"
    );

    // A rule with that schedule: the crossing starts outside the window; the raise waits for
    // the window opening at the jump.
    let rules = RuleSet::from_toml(
        "r.toml",
        r#"
[[rule]]
id = "night-high"
points = ["dev/x"]
kind = "high"
threshold = 90.0
delay = "10m"
priority = "minor"
[rule.schedule]
time_zone = "Europe/Copenhagen"
windows = [{ from = "02:30", to = "03:30" }]
"#,
    )
    .unwrap();
    let mut e = Engine::new(&rules, &[]).unwrap();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    e.process_one(
        AlarmSample::new(p, utc(2024, 3, 30, 22, 0), SampleValue::Number(95.0)),
        &mut out,
    );
    e.tick(utc(2024, 3, 31, 0, 59), &mut out);
    assert!(out.is_empty());
    assert_eq!(
        e.status(out_instance(&e)).unwrap().0,
        DetectorState::Raising(utc(2024, 3, 31, 1, 0))
    );
    e.tick(utc(2024, 3, 31, 1, 0), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time(), utc(2024, 3, 31, 1, 0));
    // The window closing does not clear an active alarm; the value does.
    out.clear();
    e.tick(utc(2024, 3, 31, 5, 0), &mut out);
    assert!(out.is_empty());
    e.process_one(
        AlarmSample::new(p, utc(2024, 3, 31, 6, 0), SampleValue::Number(80.0)),
        &mut out,
    );
    assert_eq!(out[0].kind().as_str(), "cleared");
}

fn out_instance(e: &Engine) -> alarms::InstanceId {
    e.find_instance("night-high", "dev/x").unwrap()
}

#[test]
fn schedule_across_fall_back_in_copenhagen() {
    // Weekdays and Sunday 07:00-17:00 local; 2024-10-27 (Sunday) clocks go back at 03:00 CEST.
    let s = Schedule::new(
        "Europe/Copenhagen",
        vec![Window::new(&["weekdays", "sun"], "07:00", "17:00").unwrap()],
        vec![chrono::NaiveDate::from_ymd_opt(2024, 10, 28).unwrap()],
    )
    .unwrap();
    // Saturday is closed; Sunday opens at 07:00 CET = 06:00 UTC (it was 05:00 UTC in summer).
    assert_eq!(
        s.next_open(utc(2024, 10, 25, 20, 0)),
        Some(utc(2024, 10, 27, 6, 0))
    );
    assert!(!s.contains(utc(2024, 10, 27, 5, 30)), "06:30 CET");
    assert!(s.contains(utc(2024, 10, 27, 15, 59)), "16:59 CET");
    assert!(!s.contains(utc(2024, 10, 27, 16, 0)), "17:00 CET");
    // Monday the 28th is a holiday: next is Tuesday 07:00 CET.
    assert_eq!(
        s.next_open(utc(2024, 10, 27, 16, 0)),
        Some(utc(2024, 10, 29, 6, 0))
    );
    // The repeated hour 02:00-03:00 belongs to a window twice.
    let night = Schedule::new(
        "Europe/Copenhagen",
        vec![Window::new(&[], "02:00", "03:00").unwrap()],
        vec![],
    )
    .unwrap();
    assert!(night.contains(utc(2024, 10, 27, 0, 30)), "02:30 CEST");
    assert!(night.contains(utc(2024, 10, 27, 1, 30)), "02:30 CET");
    assert!(!night.contains(utc(2024, 10, 27, 2, 0)), "03:00 CET");

    // A condition that ends before the window opens raises nothing.
    let rules = RuleSet::from_toml(
        "r.toml",
        r#"
[[rule]]
id = "day-high"
points = ["dev/x"]
kind = "high"
threshold = 90.0
priority = "minor"
[rule.schedule]
time_zone = "Europe/Copenhagen"
windows = [{ days = ["weekdays", "sun"], from = "07:00", to = "17:00" }]
"#,
    )
    .unwrap();
    let mut e = Engine::new(&rules, &[]).unwrap();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    e.process_one(
        AlarmSample::new(p, utc(2024, 10, 26, 12, 0), SampleValue::Number(95.0)),
        &mut out,
    );
    e.process_one(
        AlarmSample::new(p, utc(2024, 10, 27, 5, 0), SampleValue::Number(80.0)),
        &mut out,
    );
    e.tick(utc(2024, 10, 27, 5, 20), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // One that lasts raises at the opening, 07:00 CET = 06:00 UTC (05:00 UTC a day earlier).
    e.process_one(
        AlarmSample::new(p, utc(2024, 10, 27, 5, 30), SampleValue::Number(95.0)),
        &mut out,
    );
    e.tick(utc(2024, 10, 27, 5, 59), &mut out);
    assert!(out.is_empty(), "{out:?}");
    e.tick(utc(2024, 10, 27, 8, 0), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time(), utc(2024, 10, 27, 6, 0));
}

#[test]
fn out_of_order_samples_and_stale_ticks_are_rejected_and_counted() {
    let rules = one_rule("kind = \"high\"\nthreshold = 90.0");
    let mut e = Engine::new(&rules, &[PointInfo::named("dev/x")]).unwrap();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    e.process_one(
        AlarmSample::new(p, at(100), SampleValue::Number(80.0)),
        &mut out,
    );
    e.process_one(
        AlarmSample::new(p, at(50), SampleValue::Number(95.0)),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(e.stats().out_of_order, 1);
    // Equal times are applied in order.
    e.process_one(
        AlarmSample::new(p, at(100), SampleValue::Number(95.0)),
        &mut out,
    );
    assert_eq!(named(&out), vec![(100, "raised")]);
    e.tick(at(200), &mut out);
    e.tick(at(150), &mut out);
    assert_eq!(e.stats().stale_ticks, 1);
    e.process_one(
        AlarmSample::new(p, at(199), SampleValue::Number(50.0)),
        &mut out,
    );
    assert_eq!(e.stats().out_of_order, 2);
    e.process_one(
        AlarmSample::new(p, at(200), SampleValue::Number(50.0)),
        &mut out,
    );
    assert_eq!(named(&out), vec![(100, "raised"), (200, "cleared")]);
    assert_eq!(e.stats().applied, 3);
}

#[test]
fn selections_resolve_against_the_callers_point_list() {
    let rules = RuleSet::from_toml(
        "r.toml",
        r#"
[[rule]]
id = "north-supply"
select = { location = "north/*", tag = "supply" }
kind = "high"
threshold = 90.0
priority = "minor"
"#,
    )
    .unwrap();
    let p = |name: &str, loc: &str, tags: &[&str]| PointInfo {
        name: name.into(),
        location: Some(loc.into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let points = [
        p("s1/flow", "north/a", &["supply"]),
        p("s1/return", "north/a", &["return"]),
        p("s2/flow", "south/b", &["supply"]),
        p("s3/flow", "north/c", &["dh", "supply"]),
    ];
    let e = Engine::new(&rules, &points).unwrap();
    assert_eq!(e.instance_count(), 2);
    let has = |name: &str| e.find_instance("north-supply", name).is_some();
    assert!(has("s1/flow") && has("s3/flow"));
    assert!(!has("s1/return") && !has("s2/flow"));
}

#[test]
fn not_available_is_a_communication_invalid_is_not() {
    // Both leave the value unknown: a pending raise is abandoned alike.
    let high = one_rule("kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"");
    for unknown in [SampleValue::NotAvailable, SampleValue::Invalid] {
        let got = run(
            &high,
            &[
                (0, SampleValue::Number(95.0)),
                (120, unknown),
                (180, SampleValue::Number(95.0)),
            ],
            Some(3600),
        );
        assert_eq!(got, vec![(480, "raised")], "{unknown:?}");
    }
    // For offline detection, "not available" is an answer, an invalid value is not.
    let offline = one_rule("kind = \"offline\"\ntimeout = \"15m\"");
    let with = |unknown: SampleValue| {
        run(
            &offline,
            &[
                (0, SampleValue::Number(1.0)),
                (600, unknown),
                (1200, unknown),
            ],
            Some(2000),
        )
    };
    // Answers at 0, 10 and 20 min: due 15 min after the last one (35 min), after the tick.
    assert_eq!(with(SampleValue::NotAvailable), vec![]);
    // Only the answer at 0 counts: due at 15 min, not cleared by the invalid values.
    assert_eq!(with(SampleValue::Invalid), vec![(900, "raised")]);
    assert_eq!(with(SampleValue::NoAnswer), vec![(900, "raised")]);
    // A "not available" answer clears an active offline alarm, as a value does.
    let got = run(
        &offline,
        &[
            (0, SampleValue::Number(1.0)),
            (1800, SampleValue::NotAvailable),
        ],
        None,
    );
    assert_eq!(got, vec![(900, "raised"), (1800, "cleared")]);
    // With the fast path off the engine finds the same.
    let rules = offline;
    let mut e = Engine::new(&rules, &[PointInfo::named("dev/x")])
        .unwrap()
        .without_fast_path();
    let p = e.point_id("dev/x").unwrap();
    let mut out = Vec::new();
    for (s, v) in [
        (0, SampleValue::Number(1.0)),
        (600, SampleValue::NotAvailable),
        (700, SampleValue::Number(2.0)),
        (800, SampleValue::Invalid),
    ] {
        e.process_one(AlarmSample::new(p, at(s), v), &mut out);
    }
    // The last answer was at 700 s: due at 1600 s.
    e.tick(at(1599), &mut out);
    assert!(out.is_empty(), "{out:?}");
    e.tick(at(1600), &mut out);
    assert_eq!(named(&out), vec![(1600, "raised")]);
}

#[test]
fn a_point_listed_twice_is_a_duplicate_point_error() {
    let rules = one_rule("kind = \"high\"\nthreshold = 90.0");
    let points = [
        PointInfo::named("dev/x"),
        PointInfo::named("dev/y"),
        PointInfo::named("dev/x"),
    ];
    let err = Engine::new(&rules, &points).unwrap_err();
    assert!(
        matches!(
            &err,
            alarms::Error::DuplicatePoint { name, first: 0, second: 2 } if name == "dev/x"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "point \"dev/x\" is listed twice in the point list (at 0 and 2)"
    );
}
