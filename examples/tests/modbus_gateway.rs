//! `modbus-gateway` as a user runs it, with real peers as clients: `mbpoll` (libmodbus) and a
//! pymodbus client read and write through the gateway to the simulator over RTU over TCP
//! and over a socat pseudo-terminal pair, with values identical to a direct read (the
//! simulators run on a manual clock, so values do not move); an unrouted unit gives 0x0A, a
//! silent unit 0x0B; the statistics are printed on SIGTERM. Skipped with a printed reason
//! when a peer is missing, unless `EMKIT_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../modbus-devices/tests/peers/mod.rs"]
mod peers;

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use modbus_devices::Catalogue;
use modbus_devices::sim::{SerialSettings, SimClock, Simulator, SimulatorHandle};
use serde_json::Value as Json;

/// A product with a read-write parameter (0x0070, 1..=247) beside the built-in meters.
const PRODUCT: &str = r#"
[[product]]
references = ["GW-TEST"]
vendor = "Test"
model = "GW-TEST"
defaults = { function_code = 3 }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }

[[product.parameter]]
id = "modbus_address"
name = "Modbus address"
register = { address = 0x0070, type = "u16", write_range = { min = 1, max = 247 } }
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A simulator on a manual clock: `meter` = ECR380D, `meter + 1` = GW-TEST; served on
/// Modbus/TCP for the direct reads.
async fn simulator(meter: u8) -> (Simulator, SocketAddr, SimulatorHandle) {
    let mut catalogue = Catalogue::builtin().unwrap();
    catalogue
        .load_str(Path::new("gw-test.toml"), PRODUCT)
        .unwrap();
    let t0 = DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
        .unwrap()
        .to_utc();
    let sim = Simulator::new(SimClock::manual(t0));
    sim.add_device(meter, catalogue.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(meter + 1, catalogue.require("GW-TEST").unwrap().clone())
        .unwrap();
    let (addr, handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    (sim, addr, handle)
}

/// `socat` linking two pseudo-terminals in `dir`; waits until both exist.
fn pty_pair(dir: &Path) -> (Killed, PathBuf, PathBuf) {
    let (a, b) = (dir.join("sim"), dir.join("gateway"));
    let child = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socat = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(a.exists() && b.exists()) {
        assert!(
            Instant::now() < deadline,
            "socat made no pseudo-terminals within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (socat, a, b)
}

/// Start the gateway; returns it, its stdout (after the first line) and the port it announced.
fn start_gateway(args: &[String]) -> (Killed, BufReader<ChildStdout>, u16) {
    let mut child = common::example("modbus-gateway")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("modbus-gateway: listening on 127.0.0.1:"),
        "{line:?}"
    );
    let port = line
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (Killed(child), out, port)
}

/// Run mbpoll once (blocking, off the runtime's workers): the words it printed, or its error.
async fn mbpoll(args: Vec<String>) -> Result<Vec<u16>, String> {
    let out = tokio::task::spawn_blocking(move || Command::new("mbpoll").args(&args).output())
        .await
        .unwrap()
        .expect("mbpoll runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(stdout
        .lines()
        .filter_map(|l| {
            let (_, value) = l.trim().strip_prefix('[')?.split_once("]:")?;
            u16::from_str_radix(value.trim().strip_prefix("0x")?, 16).ok()
        })
        .collect())
}

/// mbpoll reading `count` holding registers at 0-based `addr` of `unit` on `port`, or
/// writing `value` there.
fn mbpoll_args(port: u16, unit: u8, addr: u16, count: u16, value: Option<u16>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "-m".into(),
        "tcp".into(),
        "-p".into(),
        port.to_string(),
        "-a".into(),
        unit.to_string(),
        "-r".into(),
        addr.to_string(),
        "-0".into(),
        "-1".into(),
        "-o".into(),
        "3".into(),
    ];
    match value {
        None => a.extend(["-c".into(), count.to_string(), "-t".into(), "4:hex".into()]),
        Some(_) => a.extend(["-t".into(), "4".into()]),
    }
    a.push("127.0.0.1".into());
    if let Some(v) = value {
        a.push(v.to_string());
    }
    a
}

/// A pymodbus client through the gateway: reads 0xB000+10 of `meter`, writes `value` to
/// 0x0070 of `meter + 1` and reads it back; prints JSON.
async fn pymodbus(port: u16, meter: u8, value: u16) -> Json {
    let script = format!(
        r#"
import json, sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port={port}, timeout=3)
assert c.connect()
def unit(n):
    import inspect
    p = inspect.signature(c.read_holding_registers).parameters
    return {{"device_id": n}} if "device_id" in p else {{"slave": n}}
r = c.read_holding_registers(0xB000, count=10, **unit({meter}))
w = c.write_register(0x0070, {value}, **unit({meter} + 1))
b = c.read_holding_registers(0x0070, count=1, **unit({meter} + 1))
x = c.read_holding_registers(0, count=1, **unit(77))
print(json.dumps({{"read": r.registers, "write_error": w.isError(), "back": b.registers,
                   "unrouted": getattr(x, "exception_code", None)}}))
c.close()
"#,
        meter = meter
    );
    let out =
        tokio::task::spawn_blocking(move || Command::new("python3").args(["-c", &script]).output())
            .await
            .unwrap()
            .unwrap();
    assert!(
        out.status.success(),
        "pymodbus client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Stop the gateway with SIGTERM and return the statistics it printed.
fn stop_gateway(mut gw: Killed, mut out: BufReader<ChildStdout>) -> Json {
    let pid = gw.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = gw.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let json = rest
        .strip_prefix("modbus-gateway: statistics\n")
        .unwrap_or_else(|| panic!("no statistics: {rest:?}"));
    serde_json::from_str(json).unwrap()
}

/// Reads and writes of one meter pair through the gateway, by mbpoll and pymodbus, against
/// direct reads.
async fn check_bus(gw: u16, direct: u16, meter: u8, value: u16) {
    let want = mbpoll(mbpoll_args(direct, meter, 0xB000, 10, None))
        .await
        .unwrap();
    assert_eq!(want.len(), 10);
    let got = mbpoll(mbpoll_args(gw, meter, 0xB000, 10, None))
        .await
        .unwrap();
    assert_eq!(got, want, "mbpoll through the gateway, unit {meter}");
    mbpoll(mbpoll_args(gw, meter + 1, 0x0070, 1, Some(value)))
        .await
        .unwrap();
    assert_eq!(
        mbpoll(mbpoll_args(direct, meter + 1, 0x0070, 1, None))
            .await
            .unwrap(),
        [value]
    );
    let e = mbpoll(mbpoll_args(gw, meter + 1, 0x0070, 1, Some(300)))
        .await
        .unwrap_err();
    assert!(
        e.contains("Illegal data value"),
        "the device's exception passes: {e}"
    );

    let py = pymodbus(gw, meter, value + 1).await;
    let read: Vec<u16> = serde_json::from_value(py["read"].clone()).unwrap();
    assert_eq!(read, want, "pymodbus through the gateway, unit {meter}");
    assert_eq!(py["write_error"], false);
    assert_eq!(py["back"][0], value + 1);
    assert_eq!(
        mbpoll(mbpoll_args(direct, meter + 1, 0x0070, 1, None))
            .await
            .unwrap(),
        [value + 1]
    );
    assert_eq!(py["unrouted"], 0x0A, "{py}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbpoll_and_pymodbus_through_the_gateway() {
    if !(peers::mbpoll() && peers::pymodbus()) {
        return;
    }
    let with_pty = peers::socat();
    let dir = tempfile::tempdir().unwrap();
    let (_sim_a, direct_a, _ha) = simulator(1).await;
    let (rtu_a, _hr) = _sim_a.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let mut args: Vec<String> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--rtu-over-tcp".into(),
        rtu_a.to_string(),
        "--route".into(),
        "1-9=0".into(),
    ];
    let (_sim_b, direct_b, _hb) = simulator(11).await;
    let mut _serial = None;
    if with_pty {
        let (socat, sim_end, gw_end) = pty_pair(dir.path());
        let h = _sim_b
            .serve_rtu(&sim_end, &SerialSettings::default())
            .await
            .unwrap();
        _serial = Some((socat, h));
        args.extend(["--serial".into(), format!("{}:19200:E", gw_end.display())]);
        args.extend(["--route".into(), "11-19=1".into()]);
    }
    let (gw, out, port) = start_gateway(&args);

    check_bus(port, direct_a.port(), 1, 42).await;
    if with_pty {
        check_bus(port, direct_b.port(), 11, 52).await;
    }
    // No route: 0x0A; a routed unit nobody answers: 0x0B.
    let e = mbpoll(mbpoll_args(port, 30, 0, 1, None)).await.unwrap_err();
    assert!(e.contains("Gateway path unavailable"), "{e}");
    let e = mbpoll(mbpoll_args(port, 9, 0, 1, None)).await.unwrap_err();
    assert!(e.contains("Target device failed to respond"), "{e}");

    let stats = stop_gateway(gw, out);
    let bus0 = &stats["buses"][0];
    assert_eq!(bus0["bus"], "bus0");
    assert_eq!(bus0["kind"], "rtu_over_tcp");
    // mbpoll: read, write; pymodbus: read, write, read back (the exception 03 counts apart).
    assert_eq!(bus0["answers"], 5, "{bus0}");
    assert_eq!(bus0["exceptions"]["3"], 1, "{bus0}");
    assert_eq!(bus0["exceptions"]["11"], 1, "{bus0}");
    if with_pty {
        assert_eq!(stats["buses"][1]["kind"], "rtu");
        assert_eq!(stats["buses"][1]["answers"], 5, "{}", stats["buses"][1]);
    }
    assert!(stats["clients"].as_array().unwrap().len() >= 6);
}

#[test]
fn bad_arguments_are_one_line_errors() {
    for (args, want) in [
        (vec!["--listen", "127.0.0.1:0"], "no downstream bus"),
        (
            vec![
                "--listen",
                "127.0.0.1:0",
                "--tcp",
                "127.0.0.1:1",
                "--route",
                "1-9=1",
            ],
            "routes[0].bus",
        ),
        (
            vec!["--listen", "127.0.0.1:0", "--serial", "/dev/x:fast"],
            "expected a baud rate",
        ),
        (
            vec!["--listen", "127.0.0.1:0", "--tcp", "nowhere"],
            "expected HOST:PORT",
        ),
    ] {
        let out = common::example("modbus-gateway")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("modbus-gateway: error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// A CA, a server certificate for 127.0.0.1 and two client identities signed by the CA,
/// with the roles `read-only` and `operator`, written to `dir`: (CA file, the `--tls`
/// argument, [(cert, key) of the viewer, of the operator]).
fn certificates(dir: &Path) -> (PathBuf, String, [(PathBuf, PathBuf); 2]) {
    use modbus_devices::poll::tls::{READ_ONLY_ROLE, ROLE_OID, encode_role_extension};
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
        SanType,
    };

    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "gateway test CA");
    let ca_path = write("ca.pem", &ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_key = KeyPair::generate().unwrap();
    let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();
    let client = |name: &str, role: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.custom_extensions.push(CustomExtension::from_oid_content(
            ROLE_OID,
            encode_role_extension(role),
        ));
        let key = KeyPair::generate().unwrap();
        let pem = p.signed_by(&key, &issuer).unwrap().pem();
        (
            write(&format!("{name}.pem"), &pem),
            write(&format!("{name}.key"), &key.serialize_pem()),
        )
    };
    let tls_arg = format!(
        "{},{},{}",
        write("server.pem", &server_pem).display(),
        write("server.key", &server_key.serialize_pem()).display(),
        ca_path.display()
    );

    let ids = [
        client("viewer", READ_ONLY_ROLE),
        client("operator", "operator"),
    ];
    (ca_path, tls_arg, ids)
}

/// `--tls CERT,KEY,CA`: clients need a certificate the CA signs; the `read-only` role in it
/// may read but gets exception 01 on writes; the statistics name the roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_with_roles() {
    use modbus_devices::device::{
        Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings, TlsSettings,
    };
    use modbus_devices::poll::tls::READ_ONLY_ROLE;
    use modbus_devices::poll::{ModbusException, Poller};
    use modbus_devices::{Quality, Value};

    let dir = tempfile::tempdir().unwrap();
    let (ca_path, tls_arg, [viewer_id, operator_id]) = certificates(dir.path());
    let (sim, _direct, _h) = simulator(1).await;
    let (line, _hr) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let args: Vec<String> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--tls".into(),
        tls_arg,
        "--rtu-over-tcp".into(),
        line.to_string(),
    ];
    let (gw, out, port) = start_gateway(&args);
    let catalogue = Catalogue::builtin().unwrap();
    let poller = |(cert, key): (PathBuf, PathBuf)| {
        let mut tcp = TcpSettings::new("127.0.0.1", port);
        tcp.timeout_ms = 2_000;
        tcp.retries = 0;
        let mut site = Installation::default();
        site.add_bus(Bus {
            name: "gateway".into(),
            kind: BusKind::Tls(TlsSettings {
                tcp,
                ca_cert: Some(ca_path.clone()),
                client_cert: Some(cert),
                client_key: Some(key),
                server_name: None,
                check_dates: true,
                accept_self_signed: false,
            }),
        })
        .unwrap();
        let mut d = DeviceInstance::new("meter", "ECR380D", "gateway", DeviceAddress::Unit(1));
        d.services = Some(vec!["v_l1_n".into()]);
        site.add_device(d).unwrap();
        Poller::new(&site, &catalogue).unwrap()
    };
    let viewer = poller(viewer_id);
    let operator = poller(operator_id);
    for p in [&viewer, &operator] {
        let readings = p.poll_once().await;
        assert!(
            readings.iter().all(|r| r.quality == Quality::Good),
            "{readings:?}"
        );
    }
    let err = viewer
        .write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap_err();
    assert_eq!(
        err.exception(),
        Some(ModbusException::IllegalFunction),
        "{err}"
    );
    operator
        .write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap();

    let stats = stop_gateway(gw, out);
    let clients = stats["clients"].as_array().unwrap();
    let viewer = clients
        .iter()
        .find(|c| c["role"] == READ_ONLY_ROLE)
        .unwrap();
    assert_eq!(viewer["read_only"], true);
    assert_eq!(viewer["exceptions"]["1"], 1, "{viewer}");
    let operator = clients.iter().find(|c| c["role"] == "operator").unwrap();
    assert_eq!(operator["read_only"], false);
}
