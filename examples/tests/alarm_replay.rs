//! End-to-end run of `alarm-replay` as other tools run it: the exact JSON-lines contract of
//! issue 4, section 5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Output;

fn replay(args: &[&str]) -> Output {
    common::example("alarm-replay")
        .args(args)
        .output()
        .expect("alarm-replay runs")
}

/// The command's own stderr lines (cargo may print build warnings of other crates first).
fn own_lines(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("alarm-replay:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alarm-replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const RULES: &str = r#"
[[rule]]
id = "supply-high"
points = ["substation-1/flow_temperature"]
kind = "high"          # high | low | band | binary | offline | rate
threshold = 90.0
pre_alarm = 85.0       # optional
hysteresis = 2.0
delay = "5m"           # activation delay; humantime form
priority = "major"     # critical | major | minor | warning

[[rule]]
id = "pump-fault"
points = ["pump-1/fault"]
kind = "binary"
priority = "critical"

[[rule]]
id = "offline"
points = ["substation-2/flow_temperature"]
kind = "offline"
timeout = "15m"
priority = "critical"
"#;

// Deliberately not sorted by time: the command replays in time order.
const SAMPLES: &str = "time,point,value
2024-01-08T06:00:00Z,substation-1/flow_temperature,80
2024-01-08T06:01:00Z,substation-1/flow_temperature,86.5
2024-01-08T06:07:00Z,substation-1/flow_temperature,91
2024-01-08T06:13:00Z,substation-1/flow_temperature,
2024-01-08T06:20:00Z,substation-1/flow_temperature,87.5
2024-01-08T06:41:00Z,substation-1/flow_temperature,82
2024-01-08T06:00:00Z,substation-2/flow_temperature,70
2024-01-08T06:40:00Z,substation-2/flow_temperature,71
2024-01-08T06:02:00Z,pump-1/fault,false
2024-01-08T06:03:00+01:00,pump-1/fault,true
2024-01-08T06:30:00Z,pump-1/fault,true
2024-01-08T06:31:00Z,pump-1/fault,false
";

#[test]
fn prints_every_event_as_one_json_object_per_line() {
    let rules = scratch("rules.toml", RULES);
    let samples = scratch("samples.csv", SAMPLES);
    let out = replay(&[
        "--rules",
        rules.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
        "--until",
        "2024-01-08T07:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = [
        r#"{"time":"2024-01-08T05:03:00Z","rule":"pump-fault","point":"pump-1/fault","event":"raised","priority":"critical","value":1.0}"#,
        // The replay starts at the first sample (05:03Z): substation-2 has not communicated
        // for 15 minutes at 05:18 and comes back at 06:00.
        r#"{"time":"2024-01-08T05:18:00Z","rule":"offline","point":"substation-2","event":"raised","priority":"critical","value":null}"#,
        r#"{"time":"2024-01-08T06:00:00Z","rule":"offline","point":"substation-2","event":"cleared","priority":"critical","value":null}"#,
        r#"{"time":"2024-01-08T06:02:00Z","rule":"pump-fault","point":"pump-1/fault","event":"cleared","priority":"critical","value":0.0}"#,
        r#"{"time":"2024-01-08T06:06:00Z","rule":"supply-high","point":"substation-1/flow_temperature","event":"pre_alarm","priority":"warning","value":86.5}"#,
        r#"{"time":"2024-01-08T06:12:00Z","rule":"supply-high","point":"substation-1/flow_temperature","event":"raised","priority":"major","value":91.0}"#,
        r#"{"time":"2024-01-08T06:15:00Z","rule":"offline","point":"substation-2","event":"raised","priority":"critical","value":null}"#,
        r#"{"time":"2024-01-08T06:20:00Z","rule":"supply-high","point":"substation-1/flow_temperature","event":"cleared","priority":"major","value":87.5}"#,
        r#"{"time":"2024-01-08T06:30:00Z","rule":"pump-fault","point":"pump-1/fault","event":"raised","priority":"critical","value":1.0}"#,
        r#"{"time":"2024-01-08T06:31:00Z","rule":"pump-fault","point":"pump-1/fault","event":"cleared","priority":"critical","value":0.0}"#,
        r#"{"time":"2024-01-08T06:40:00Z","rule":"offline","point":"substation-2","event":"cleared","priority":"critical","value":null}"#,
        r#"{"time":"2024-01-08T06:41:00Z","rule":"supply-high","point":"substation-1/flow_temperature","event":"pre_alarm_cleared","priority":"warning","value":82.0}"#,
        r#"{"time":"2024-01-08T06:55:00Z","rule":"offline","point":"substation-2","event":"raised","priority":"critical","value":null}"#,
    ];
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got, want);
    // Every line parses with exactly the contract's keys.
    for line in got {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            ["event", "point", "priority", "rule", "time", "value"]
        );
    }
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let rules = scratch(
        "rules2.toml",
        &RULES.replace("hysteresis = 2.0", "hysteresis = -1.0"),
    );
    let samples = scratch("samples2.csv", SAMPLES);
    let out = replay(&[
        "--rules",
        rules.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = own_lines(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("rule[0].hysteresis") && err.contains("supply-high"),
        "{err}"
    );

    let good_rules = scratch("rules3.toml", RULES);
    let bad = scratch(
        "bad.csv",
        "time,point,value\n2024-01-08T06:00:00Z,a/b,hot\n",
    );
    let out = replay(&[
        "--rules",
        good_rules.to_str().unwrap(),
        "--samples",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = own_lines(&out);
    assert_eq!(
        err.trim_end(),
        format!(
            "alarm-replay: {}:2: value: expected a number, true, false or an empty cell, found \"hot\"",
            bad.display()
        )
    );
}
