//! The `ecl` command: the `keys --json` and `detect --json` contracts, detection against the
//! library's simulator and against the command's own `sim`, and errors on one line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use ecl_appkeys::sim::{EclSim, SimIdentity};
use ecl_appkeys::{Catalogue, Controller, Version};
use modbus_devices::sim::{SimClock, Simulator};
use serde_json::Value as Json;

mod common;

fn ecl(args: &[&str]) -> Output {
    common::example("ecl")
        .args(args)
        .output()
        .expect("ecl runs")
}

fn sorted_keys(v: &Json) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

#[test]
fn keys_json_follows_the_contract() {
    let out = ecl(&["keys", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let keys = json.as_array().unwrap();
    assert_eq!(keys.len(), Catalogue::builtin().unwrap().keys().len());
    for k in keys {
        assert_eq!(
            sorted_keys(k),
            ["circuits", "confidence", "controllers", "key", "subtypes"]
        );
        assert!(
            ["confirmed", "one_source", "inferred"].contains(&k["confidence"].as_str().unwrap())
        );
        assert!(k["circuits"].is_u64());
        assert!(k["subtypes"].as_array().unwrap().iter().all(Json::is_u64));
        assert!(
            k["controllers"]
                .as_array()
                .unwrap()
                .iter()
                .all(Json::is_string)
        );
    }
    let a266 = keys.iter().find(|k| k["key"] == "A266").unwrap();
    assert_eq!(a266["subtypes"], serde_json::json!([1, 2, 9, 10]));
    assert_eq!(a266["circuits"], 2);
    assert_eq!(a266["confidence"], "confirmed");
    assert_eq!(
        a266["controllers"],
        serde_json::json!(["ecl210", "ecl296", "ecl310"])
    );
    let a237 = keys.iter().find(|k| k["key"] == "A237").unwrap();
    assert_eq!(a237["controllers"], serde_json::json!(["ecl310"]));
    // The text form lists the same keys.
    let out = ecl(&["keys"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("A266") && l.contains(".1 .2 .9 .10")),
        "{text}"
    );
    assert_eq!(text.lines().count(), keys.len() + 1);
}

#[test]
fn detect_json_follows_the_contract() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    let ecl310 = Controller::new(&c, "A266.1".parse().unwrap(), Some("ecl310")).unwrap();
    let s = EclSim::add(
        &sim,
        3,
        &ecl310,
        SimIdentity {
            software: Version::new(1, 20),
            ..SimIdentity::default()
        },
    )
    .unwrap();
    s.set_outdoor(-4.5);
    s.set_sensor(4, None).unwrap();
    let (addr, _server) = rt.block_on(sim.serve_tcp("127.0.0.1:0")).unwrap();
    let out = ecl(&[
        "detect",
        "--tcp",
        &addr.to_string(),
        "--unit",
        "3",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sorted_keys(&json),
        ["compatibility", "key", "key_version", "sensors", "software"]
    );
    assert_eq!(json["key"], "A266.1");
    assert_eq!(json["key_version"], "1.08");
    assert_eq!(json["software"], "1.20");
    let compat = json["compatibility"].as_array().unwrap();
    for v in compat {
        assert_eq!(sorted_keys(v), ["detail", "rule", "verdict"]);
    }
    assert_eq!(compat[0]["rule"], "controller_software");
    assert_eq!(compat[0]["verdict"], "will_update");
    assert_eq!(compat[1]["verdict"], "ok");
    let sensors = json["sensors"].as_array().unwrap();
    for v in sensors {
        assert_eq!(sorted_keys(v), ["input", "meaning", "unit", "value"]);
    }
    let s1 = sensors.iter().find(|v| v["input"] == "S1").unwrap();
    assert_eq!(s1["value"], -4.5);
    assert_eq!(s1["meaning"], "outdoor temperature");
    assert_eq!(s1["unit"], "degC");
    let s4 = sensors.iter().find(|v| v["input"] == "S4").unwrap();
    assert!(s4["value"].is_null(), "disconnected: null");
    assert!(s.reads_outside_served().is_empty());
}

#[test]
fn detect_finds_the_commands_own_simulator() {
    let mut child = common::example("ecl")
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "A237.1",
            "--unit",
            "2",
            "--outdoor",
            "-12",
            "--software",
            "1.05",
            "--for",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("ecl sim: serving A237.1 at unit 2 on Modbus/TCP "),
        "{line}"
    );
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    let out = ecl(&["detect", "--tcp", &addr, "--unit", "2", "--json"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key"], "A237.1");
    assert_eq!(json["compatibility"][0]["verdict"], "unsupported");
    let s1 = json["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["input"] == "S1")
        .unwrap();
    assert_eq!(s1["value"], -12.0);
    // The text form says the same.
    let mut child = common::example("ecl")
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "A266.1",
            "--for",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    let out = ecl(&["detect", "--tcp", &addr]);
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("key A266.1  version 1.08  controller software 1.56"),
        "{text}"
    );
    assert!(text.contains("outdoor temperature"));
}

#[test]
fn errors_are_one_line_with_status_1() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for args in [
        vec![
            "detect".to_string(),
            "--tcp".into(),
            format!("127.0.0.1:{port}"),
        ],
        vec!["detect".into(), "--tcp".into(), "nocolon".into()],
        vec![
            "sim".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--key".into(),
            "A999.1".into(),
            "--for".into(),
            "1".into(),
        ],
    ] {
        let out = common::example("ecl").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ecl: "), "{err}");
    }
}
