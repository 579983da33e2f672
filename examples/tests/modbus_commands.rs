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
    // it does not have read as "not available" (null, quality not_available), not as numbers.
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
    assert_eq!(l2["quality"], "not_available");

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

/// `modbus-sim --tls CERT,KEY,CA` serves Modbus/TCP Security: certificates made here with
/// rcgen (a CA, the server's, a client's), the poller reads through TLS with its client
/// certificate, and a client without one is refused.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario (certificates, server, TLS client, refused client) read top to bottom"
)]
fn modbus_sim_serves_tls() {
    use modbus_devices::device::{
        Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings, TlsSettings,
    };
    use modbus_devices::poll::Poller;
    use modbus_devices::{Catalogue, Quality};
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "emkit test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_key = KeyPair::generate().unwrap();
    let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "emkit test client");
    let client_key = KeyPair::generate().unwrap();
    let client_pem = client.signed_by(&client_key, &issuer).unwrap().pem();
    let ca_path = write("ca.pem", &ca_pem);
    let tls_arg = format!(
        "{},{},{}",
        write("server.pem", &server_pem).display(),
        write("server.key", &server_key.serialize_pem()).display(),
        ca_path.display()
    );

    let mut child = Command::new(example("modbus-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--for",
            "60",
            "--device",
            "1=ECR380D",
        ])
        .args(["--tls", &tls_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _sim = Sim(child);
    assert!(line.contains("Modbus/TCP Security 127.0.0.1:"), "{line}");
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();

    let site = |identity: bool| {
        let mut tcp = TcpSettings::new("127.0.0.1", port);
        tcp.timeout_ms = 2000;
        tcp.retries = 0;
        let mut s = Installation::default();
        s.add_bus(Bus {
            name: "tls".into(),
            kind: BusKind::Tls(TlsSettings {
                tcp,
                ca_cert: Some(ca_path.clone()),
                client_cert: identity.then(|| write("client.pem", &client_pem)),
                client_key: identity.then(|| write("client.key", &client_key.serialize_pem())),
                server_name: None,
                check_dates: true,
                accept_self_signed: false,
            }),
        })
        .unwrap();
        s.add_device(DeviceInstance::new(
            "main",
            "ECR380D",
            "tls",
            DeviceAddress::Unit(1),
        ))
        .unwrap();
        s
    };
    let catalogue = Catalogue::builtin().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let poller = Poller::new(&site(true), &catalogue).unwrap();
        let readings = poller.poll_once().await;
        let v = readings
            .iter()
            .find(|r| r.point() == "main/v_l1_n")
            .unwrap();
        assert_eq!(v.quality, Quality::Good, "{v:?}");
        let volts = v.value.as_ref().and_then(|x| x.as_f64()).unwrap();
        assert!((220.0..240.0).contains(&volts), "{volts}");
        assert_eq!(poller.stats().bus("tls").unwrap().connects, 1);

        // Without a client certificate the server refuses the client (with TLS 1.3 the
        // client learns it at its first request): nothing is read.
        let anonymous = Poller::new(&site(false), &catalogue).unwrap();
        let readings = anonymous.poll_once().await;
        assert!(readings.iter().all(|r| r.quality == Quality::NoAnswer));
        assert_eq!(
            anonymous.state("main"),
            Some(modbus_devices::poll::DeviceState::NotCommunicating)
        );
    });
}

/// `--tls` without `--listen`, or with a file that is not there: a one-line error.
#[test]
fn modbus_sim_tls_errors() {
    let out = Command::new(example("modbus-sim"))
        .args([
            "--device",
            "1=ECR380D",
            "--tls",
            "a.pem,b.key",
            "--for",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls needs --listen"), "{err}");
    let out = Command::new(example("modbus-sim"))
        .args(["--listen", "127.0.0.1:0", "--device", "1=ECR380D"])
        .args([
            "--tls",
            "/nonexistent/cert.pem,/nonexistent/key.pem",
            "--for",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("modbus-sim: error: --tls"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let out = Command::new(example("modbus-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--device",
            "1=ECR380D",
            "--tls",
            "only-one",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected CERT,KEY"));
}
