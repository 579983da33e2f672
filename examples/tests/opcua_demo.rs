//! `opcua-demo` as a user runs it: the first stdout line is the endpoint URL; Python asyncua
//! (PyPI, 2.x; `opcua_demo_client.py`) connects over None, finds the N meter points and one
//! setpoint per device, reads units and a range, sees values change from second to second,
//! is refused a write as the read-only user and has it accepted (and logged) as the
//! operator; SIGTERM stops the server cleanly. Bad arguments give a one-line error. The
//! asyncua part is skipped with a printed reason when asyncua is absent, unless
//! `EMKIT_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../opcua-bridge/tests/peers/mod.rs"]
mod peers;

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bad_arguments_give_a_clear_error() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--listen", "127.0.0.1:0", "--points", "0", "--user", "u:p"],
            "--points",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--points",
                "10",
                "--user",
                "nopassword",
            ],
            "NAME:PASSWORD",
        ),
        (
            &[
                "--listen",
                "0.0.0.0:4840",
                "--points",
                "10",
                "--user",
                "u:p",
            ],
            "advertised endpoint",
        ),
        (&["--listen", "127.0.0.1:0", "--user", "u:p"], "--points"),
    ];
    for (args, expected) in cases {
        let out = common::example("opcua-demo").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    }
}

#[test]
fn asyncua_reads_units_sees_changes_and_writes_by_role() {
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let child = common::example("opcua-demo")
        .args(["--listen", "127.0.0.1:0", "--points", "25"])
        .args(["--user", "reader:reader-pw", "--operator", "op:op-pw"])
        .arg("--pki")
        .arg(&pki)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut demo = Killed(child);
    let mut stdout = BufReader::new(demo.0.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let url = url.trim_end().to_owned();
    let port = url
        .strip_prefix("opc.tcp://127.0.0.1:")
        .and_then(|r| r.strip_suffix('/'))
        .and_then(|p| p.parse::<u16>().ok());
    assert!(port.is_some_and(|p| p != 0), "first line: {url:?}");
    let mut summary = String::new();
    stdout.read_line(&mut summary).unwrap();
    assert!(
        summary.contains("25 meter points and 3 setpoints on 3 devices in 1 areas"),
        "{summary}"
    );
    assert!(pki.join("own/cert.der").exists());

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/opcua_demo_client.py");
    let out = Command::new("python3")
        .args([script, &url, "reader:reader-pw", "op:op-pw"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(r.get("as_user_error").is_none(), "{r}");
    assert!(r.get("as_operator_error").is_none(), "{r}");

    // 25 meter points and one setpoint per device.
    let vars: Vec<&str> = r["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(vars.len(), 28, "{vars:?}");
    assert_eq!(vars.iter().filter(|v| v.ends_with("/t_set")).count(), 3);
    assert!(vars.contains(&"dev00003/f") && !vars.contains(&"dev00003/t_supply"));

    assert_eq!(r["u_unit"]["display_name"], "V");
    assert_eq!(r["u_unit"]["unit_id"], 5_655_636, "UNECE VLT");
    assert_eq!(r["e_unit"], "kWh");
    assert_eq!(r["t_set_range"], serde_json::json!([5.0, 95.0]));

    // Values change from one second to the next, counters rise.
    for name in ["p_total", "e_import"] {
        let [a, b] = [&r[name][0], &r[name][1]];
        assert_eq!(a["status"], "Good", "{name}: {a}");
        assert_ne!(a["value"], b["value"], "{name}: {a} {b}");
        assert_ne!(a["source_time"], b["source_time"], "{name}");
    }
    let e = |i: usize| r["e_import"][i]["value"].as_f64().unwrap();
    assert!(e(1) > e(0), "energy rises: {} -> {}", e(0), e(1));

    // Writes by role and range.
    assert_eq!(r["user_write"], "BadUserAccessDenied");
    assert_eq!(r["operator_write"], "Good");
    assert_eq!(r["operator_out_of_range"], "BadOutOfRange");
    assert_ne!(r["operator_meter_write"], "Good");
    assert_eq!(r["t_set_after"]["value"], 65.5);

    // SIGTERM: a clean stop, and the accepted write was logged.
    let pid = demo.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = demo.0.wait().unwrap();
    let mut stderr = String::new();
    demo.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("opcua-demo: stopped"), "{stderr}");
    assert!(
        stderr.contains("setpoint written") && stderr.contains("dev00001/t_set"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("120"),
        "the refused write is not logged: {stderr}"
    );
}
