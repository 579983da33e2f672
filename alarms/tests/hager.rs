//! The Hager manual's threshold scenarios as table tests: values crossing thresholds with
//! and without hysteresis and delay, low and high, pre-alarm, binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alarms::SampleValue;
use common::{minutes, one_rule, run};

struct Case {
    name: &'static str,
    rule: &'static str,
    /// (minute, value)
    values: &'static [(i64, f64)],
    /// tick at this minute after the samples
    until: Option<i64>,
    /// (minute, event)
    expect: &'static [(i64, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "high, no hysteresis: raise above, clear below (the threshold itself is neither)",
        rule: "kind = \"high\"\nthreshold = 90.0",
        values: &[(0, 80.0), (1, 90.0), (2, 90.5), (3, 90.0), (4, 89.9)],
        until: None,
        expect: &[(2, "raised"), (4, "cleared")],
    },
    Case {
        name: "high with hysteresis: stays active down to threshold - hysteresis",
        rule: "kind = \"high\"\nthreshold = 90.0\nhysteresis = 2.0",
        values: &[
            (0, 91.0),
            (1, 89.0),
            (2, 88.0),
            (3, 90.5),
            (4, 87.9),
            (5, 89.0),
            (6, 90.1),
        ],
        until: None,
        expect: &[(0, "raised"), (4, "cleared"), (6, "raised")],
    },
    Case {
        name: "low with hysteresis: active below, inactive above threshold + hysteresis",
        rule: "kind = \"low\"\nthreshold = 10.0\nhysteresis = 1.0",
        values: &[
            (0, 12.0),
            (1, 10.0),
            (2, 9.9),
            (3, 10.5),
            (4, 11.0),
            (5, 11.1),
        ],
        until: None,
        expect: &[(2, "raised"), (5, "cleared")],
    },
    Case {
        name: "low, no hysteresis: the threshold itself keeps it active (not above)",
        rule: "kind = \"low\"\nthreshold = 10.0",
        values: &[
            (0, 9.0),
            (1, 10.0),
            (2, 9.99),
            (3, 10.01),
            (4, 10.0),
            (5, 9.0),
        ],
        until: None,
        expect: &[(0, "raised"), (3, "cleared"), (5, "raised")],
    },
    Case {
        name: "delay: raises once the crossing has lasted the delay (found by a tick)",
        rule: "kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"",
        values: &[(0, 95.0), (2, 96.0)],
        until: Some(10),
        expect: &[(5, "raised")],
    },
    Case {
        name: "delay: exactly the delay counts (found by the next sample)",
        rule: "kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"",
        values: &[(0, 95.0), (5, 95.0)],
        until: None,
        expect: &[(5, "raised")],
    },
    Case {
        name: "delay: a value back on the normal side restarts the delay",
        rule: "kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"",
        values: &[(0, 95.0), (3, 80.0), (4, 95.0), (8, 95.0)],
        until: Some(20),
        expect: &[(9, "raised")],
    },
    Case {
        name: "delay: oscillation faster than the delay never raises",
        rule: "kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"",
        values: &[
            (0, 95.0),
            (2, 85.0),
            (3, 95.0),
            (5, 85.0),
            (6, 95.0),
            (9, 85.0),
            (10, 95.0),
            (14, 85.0),
        ],
        until: Some(60),
        expect: &[],
    },
    Case {
        name: "delay counts only beyond the threshold, not inside the hysteresis band",
        rule: "kind = \"high\"\nthreshold = 90.0\nhysteresis = 3.0\ndelay = \"5m\"",
        values: &[(0, 95.0), (2, 89.0), (3, 95.0), (7, 95.0)],
        until: Some(30),
        expect: &[(8, "raised")],
    },
    Case {
        name: "delay: the value held until a sample back to normal still lasted the delay",
        rule: "kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"",
        values: &[(0, 95.0), (15, 80.0)],
        until: None,
        expect: &[(5, "raised"), (15, "cleared")],
    },
    Case {
        name: "delay applies to raising only; clearing is immediate without a clear_delay",
        rule: "kind = \"low\"\nthreshold = 10.0\nhysteresis = 0.5\ndelay = \"2m\"",
        values: &[(0, 9.0), (2, 9.0), (3, 10.6)],
        until: None,
        expect: &[(2, "raised"), (3, "cleared")],
    },
    Case {
        name: "clear_delay: normal must last before clearing",
        rule: "kind = \"high\"\nthreshold = 90.0\nclear_delay = \"10m\"",
        values: &[(0, 95.0), (1, 80.0), (5, 95.0), (6, 80.0)],
        until: Some(30),
        expect: &[(0, "raised"), (16, "cleared")],
    },
    Case {
        name: "pre-alarm high: warning before the alarm, each with hysteresis",
        rule: "kind = \"high\"\nthreshold = 90.0\npre_alarm = 85.0\nhysteresis = 2.0",
        values: &[
            (0, 80.0),
            (1, 86.0),
            (2, 91.0),
            (3, 89.0),
            (4, 87.0),
            (5, 84.0),
            (6, 82.9),
        ],
        until: None,
        expect: &[
            (1, "pre_alarm"),
            (2, "raised"),
            (4, "cleared"),
            (6, "pre_alarm_cleared"),
        ],
    },
    Case {
        name: "pre-alarm low",
        rule: "kind = \"low\"\nthreshold = 10.0\npre_alarm = 12.0\nhysteresis = 0.5",
        values: &[
            (0, 13.0),
            (1, 11.9),
            (2, 9.5),
            (3, 10.4),
            (4, 10.6),
            (5, 12.4),
            (6, 12.6),
        ],
        until: None,
        expect: &[
            (1, "pre_alarm"),
            (2, "raised"),
            (4, "cleared"),
            (6, "pre_alarm_cleared"),
        ],
    },
    Case {
        name: "pre-alarm and alarm at once: the pre-alarm comes first; clearing in reverse",
        rule: "kind = \"high\"\nthreshold = 90.0\npre_alarm = 85.0\ndelay = \"1m\"",
        values: &[(0, 80.0), (1, 95.0), (5, 70.0)],
        until: None,
        expect: &[
            (2, "pre_alarm"),
            (2, "raised"),
            (5, "cleared"),
            (5, "pre_alarm_cleared"),
        ],
    },
    Case {
        name: "pre-alarm with delay: each level keeps its own delay",
        rule: "kind = \"high\"\nthreshold = 90.0\npre_alarm = 85.0\ndelay = \"5m\"",
        values: &[(0, 86.0), (3, 91.0), (6, 91.0), (9, 91.0)],
        until: None,
        expect: &[(5, "pre_alarm"), (8, "raised")],
    },
    Case {
        name: "band: both sides, one alarm",
        rule: "kind = \"band\"\nlow = 10.0\nhigh = 20.0\nhysteresis = 1.0",
        values: &[
            (0, 15.0),
            (1, 9.0),
            (2, 10.5),
            (3, 11.5),
            (4, 21.0),
            (5, 19.5),
            (6, 18.5),
            (7, 5.0),
            (8, 25.0),
            (9, 15.0),
        ],
        until: None,
        expect: &[
            (1, "raised"),
            (3, "cleared"),
            (4, "raised"),
            (6, "cleared"),
            (7, "raised"),
            (9, "cleared"),
        ],
    },
    Case {
        name: "band with pre-alarms on both sides",
        rule: "kind = \"band\"\nlow = 10.0\nhigh = 20.0\nlow_pre_alarm = 12.0\nhigh_pre_alarm = 18.0",
        values: &[(0, 15.0), (1, 11.0), (2, 15.0), (3, 19.0), (4, 15.0)],
        until: None,
        expect: &[
            (1, "pre_alarm"),
            (2, "pre_alarm_cleared"),
            (3, "pre_alarm"),
            (4, "pre_alarm_cleared"),
        ],
    },
];

#[test]
fn hager_threshold_scenarios() {
    let mut failures = Vec::new();
    for c in CASES {
        let rules = one_rule(c.rule);
        let got = run(&rules, &minutes(c.values), c.until.map(|m| m * 60));
        let want: Vec<(i64, &str)> = c.expect.iter().map(|(m, e)| (m * 60, *e)).collect();
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn binary_alarms_raise_on_true_or_false_with_the_same_delay() {
    let b = |v: bool| SampleValue::Bool(v);
    let on_true = one_rule("kind = \"binary\"\ndelay = \"2m\"");
    let samples = [
        (0, b(false)),
        (60, b(true)),
        (120, b(false)),
        (180, b(true)),
        (360, b(false)),
    ];
    assert_eq!(
        run(&on_true, &samples, None),
        vec![(300, "raised"), (360, "cleared")]
    );
    let on_false = one_rule("kind = \"binary\"\nraise_on = false");
    assert_eq!(
        run(&on_false, &samples, None),
        vec![
            (0, "raised"),
            (60, "cleared"),
            (120, "raised"),
            (180, "cleared"),
            (360, "raised")
        ]
    );
    // Numbers: any non-zero value is true.
    let n = |v: f64| SampleValue::Number(v);
    assert_eq!(
        run(&on_true, &[(0, n(0.0)), (60, n(3.0)), (200, n(0.0))], None),
        vec![(180, "raised"), (200, "cleared")]
    );
}

#[test]
fn missing_and_bad_samples_abandon_pending_but_keep_active() {
    let rules = one_rule("kind = \"high\"\nthreshold = 90.0\ndelay = \"5m\"");
    // Pending raise abandoned by a missing value; restarts on the next good value.
    let got = run(
        &rules,
        &[
            (0, SampleValue::Number(95.0)),
            (120, SampleValue::NoAnswer),
            (180, SampleValue::Number(95.0)),
        ],
        Some(3600),
    );
    assert_eq!(got, vec![(480, "raised")]);
    // An active alarm is not cleared by bad or missing values, nor by NaN.
    let got = run(
        &rules,
        &[
            (0, SampleValue::Number(95.0)),
            (300, SampleValue::Number(95.0)),
            (360, SampleValue::Invalid),
            (420, SampleValue::Number(f64::NAN)),
            (480, SampleValue::NoAnswer),
            (540, SampleValue::Number(80.0)),
        ],
        None,
    );
    assert_eq!(got, vec![(300, "raised"), (540, "cleared")]);
}
