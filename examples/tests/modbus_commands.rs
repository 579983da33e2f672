//! End-to-end runs of `modbus-sim` and `modbus-read` as a user runs them: the simulator
//! serves built-in products on loopback, `modbus-read --json` reads them, and the output
//! follows the contract of issue 2, section 8.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value as Json;

mod common;

use common::example_path as example;

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `modbus-sim` on a free loopback port and return it with the port it announced.
fn start_sim(devices: &[&str]) -> (Sim, u16) {
    let mut cmd = Command::new(example("modbus-sim"));
    cmd.args(["--listen", "127.0.0.1:0", "--for", "60"]);
    for d in devices {
        cmd.args(["--device", d]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("modbus-sim announced no port: {line:?}"));
    assert!(line.starts_with("modbus-sim: serving unit"), "{line}");
    (Sim(child), port)
}

fn read(port: u16, unit: &str, product: &str, extra: &[&str]) -> Output {
    Command::new(example("modbus-read"))
        .args([
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--unit",
            unit,
            "--product",
            product,
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn value<'a>(doc: &'a Json, service: &str) -> &'a Json {
    doc["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["service"] == service)
        .unwrap_or_else(|| panic!("no {service}"))
}

#[test]
fn read_json_follows_the_contract() {
    let (_sim, port) = start_sim(&["1=ECR380D", "2=ECR140D"]);
    let out = read(port, "1", "ECR380D", &["--identify", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["identification"]["status"], "match", "{doc}");
    let v = value(&doc, "v_l1_n");
    assert_eq!(v["unit"], "V");
    assert_eq!(v["quality"], "good");
    assert_eq!(v["quantity"], "voltage");
    let volts = v["value"].as_f64().unwrap();
    assert!((200.0..260.0).contains(&volts), "{volts}");
    for entry in doc["values"].as_array().unwrap() {
        for key in ["service", "name", "quantity", "value", "unit", "quality"] {
            assert!(entry.get(key).is_some(), "{key} missing in {entry}");
        }
    }

    // A single-phase ECR140D declared as an ECR380D: the signature says so, and the phases
    // it does not have read as "not available" (null, quality good), not as numbers.
    let out = read(port, "2", "ECR380D", &["--identify", "--json"]);
    assert!(out.status.success());
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["identification"]["status"], "mismatch");
    assert!(
        doc["identification"]["detail"]
            .as_str()
            .unwrap()
            .contains("ECR140D"),
        "{doc}"
    );
    let l2 = value(&doc, "v_l2_n");
    assert!(l2["value"].is_null(), "{l2}");
    assert_eq!(l2["quality"], "good");

    // Without --identify there is no identification member.
    let out = read(port, "1", "ECR380D", &["--json"]);
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc.get("identification").is_none());
}

#[test]
fn nothing_readable_is_a_one_line_error() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = read(port, "1", "ECR380D", &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = read(port, "1", "NO-SUCH-PRODUCT", &[]);
    assert_ne!(out.status.code(), Some(0));
}
