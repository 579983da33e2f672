//! The Modbus address scan against the simulator (several products at known unit ids, a
//! silent unit, a unit answering exceptions; Modbus/TCP and RTU over TCP) and against a
//! pymodbus (3.x) server (skipped when pymodbus is absent, unless EMKIT_REQUIRE_PEERS=1).
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod poll_support;

use std::path::Path;
use std::time::{Duration, Instant};

use modbus_devices::Catalogue;
use modbus_devices::device::{Bus, BusKind, TcpSettings};
use modbus_devices::scan::{IdentifiedBy, ScanError, ScanOptions, UnitStatus, scan_bus};
use modbus_devices::sim::{Fault, SimClock, Simulator};
use serde_json::json;

fn tcp_bus(port: u16) -> Bus {
    Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", port)),
    }
}

fn options(units: std::ops::RangeInclusive<u8>) -> ScanOptions {
    ScanOptions {
        units,
        timeout: Duration::from_millis(150),
        ..ScanOptions::default()
    }
}

fn simulator(catalogue: &Catalogue) -> Simulator {
    let sim = Simulator::new(SimClock::real());
    for (unit, product) in [
        (1, "ECR380D"),
        (2, "ECA380D"),
        (4, "412045"),
        (6, "ECR140D"),
        (7, "ECR180D"),
        (9, "ECR310D"),
    ] {
        sim.add_device(unit, catalogue.require(product).unwrap().clone())
            .unwrap();
    }
    sim.set_fault(7, Fault::NoAnswer);
    sim.set_fault(9, Fault::Exception(4));
    sim
}

fn check_simulated(scan: &modbus_devices::scan::BusScan) {
    assert_eq!(scan.units.len(), 10);
    assert_eq!(
        scan.found().map(|u| u.unit).collect::<Vec<_>>(),
        [1, 2, 4, 6, 9],
        "{scan:#?}"
    );
    for (unit, product) in [
        (1, "ECR380D"),
        (2, "ECA380D"),
        (4, "412045"),
        (6, "ECR140D"),
    ] {
        let u = scan.unit(unit).unwrap();
        assert_eq!(u.product(), Some(product), "unit {unit}: {u:?}");
    }
    // Hager products have a product code: the signature and FC43 agree.
    match &scan.unit(1).unwrap().status {
        UnitStatus::Identified {
            by,
            vendor,
            alternatives,
            ..
        } => {
            assert_eq!(*by, IdentifiedBy::SignatureAndDeviceId);
            assert!(vendor.starts_with("Hager"), "{vendor}");
            assert!(alternatives.is_empty(), "{alternatives:?}");
        }
        other => panic!("{other:?}"),
    }
    let id = scan.unit(1).unwrap().device_id.clone().unwrap();
    assert_eq!(id.product_code.as_deref(), Some("ECR380D"));
    let legrand = scan.unit(4).unwrap();
    // The Legrand signature is a plausibility read (frequency within 45..65 Hz); it has no
    // product code, so FC43 was asked and refused (illegal function): no device id.
    assert!(
        matches!(
            legrand.status,
            UnitStatus::Identified {
                by: IdentifiedBy::Plausibility,
                ..
            }
        ),
        "{legrand:?}"
    );
    assert_eq!(legrand.device_id, None);
    // The silent unit: one request (no retries), no answer.
    let silent = scan.unit(7).unwrap();
    assert!(
        matches!(&silent.status, UnitStatus::NoAnswer { detail } if detail.contains("no answer within 150 ms")),
        "{silent:?}"
    );
    assert_eq!(silent.requests, 1);
    // The unit answering exceptions is there, but not identified.
    let refusing = scan.unit(9).unwrap();
    match &refusing.status {
        UnitStatus::Answers { detail } => {
            assert!(detail.contains("server device failure"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(refusing.requests > 1);
    for empty in [3, 5, 8, 10] {
        assert!(!scan.unit(empty).unwrap().answered(), "unit {empty}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_and_identifies_simulated_units_over_tcp() {
    let catalogue = Catalogue::builtin().unwrap();
    let sim = simulator(&catalogue);
    let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut progress = Vec::new();
    let started = Instant::now();
    let scan = scan_bus(&tcp_bus(addr.port()), &catalogue, &options(1..=10), |p| {
        progress.push(p)
    })
    .await
    .unwrap();
    check_simulated(&scan);
    assert_eq!(scan.kind, "tcp");
    assert_eq!(scan.endpoint, format!("127.0.0.1:{}", addr.port()));
    // Progress after every unit, in order, ending at total; `found` counts answers.
    assert_eq!(progress.len(), 10);
    for (i, p) in progress.iter().enumerate() {
        assert_eq!((p.done, p.total, usize::from(p.unit)), (i + 1, 10, i + 1));
    }
    assert_eq!(progress.last().unwrap().found, 5);
    // Five silent units of 150 ms each, no retries: well under the bus default (1 s x 3).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // JSON form.
    let j = serde_json::to_value(&scan).unwrap();
    assert_eq!(j["units"][0]["status"], "identified");
    assert_eq!(j["units"][0]["product"], "ECR380D");
    assert_eq!(j["units"][0]["by"], "signature_and_device_id");
    assert_eq!(j["units"][6]["status"], "no_answer");
    assert_eq!(j["units"][8]["status"], "answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_over_rtu_over_tcp() {
    let catalogue = Catalogue::builtin().unwrap();
    let sim = simulator(&catalogue);
    let (addr, _server) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let bus = Bus {
        name: "serial".into(),
        kind: BusKind::RtuOverTcp(TcpSettings::new("127.0.0.1", addr.port())),
    };
    let scan = scan_bus(&bus, &catalogue, &options(1..=10), |_| {})
        .await
        .unwrap();
    assert_eq!(scan.kind, "rtu_over_tcp");
    check_simulated(&scan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_errors_are_typed() {
    let catalogue = Catalogue::builtin().unwrap();
    // Nothing listens on the port: a connection error naming the bus and the unit.
    let port = poll_support::free_port();
    let err = scan_bus(&tcp_bus(port), &catalogue, &options(1..=3), |_| {})
        .await
        .unwrap_err();
    match &err {
        ScanError::Connect {
            bus,
            unit,
            endpoint,
            ..
        } => {
            assert_eq!((bus.as_str(), *unit), ("lan", 1));
            assert_eq!(endpoint, &format!("127.0.0.1:{port}"));
        }
        other => panic!("{other:?}"),
    }
    // Bad options are refused before anything is sent.
    let err = scan_bus(&tcp_bus(port), &catalogue, &options(0..=3), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, ScanError::InvalidOptions { field: "units", .. }),
        "{err}"
    );
    let mut o = options(1..=3);
    o.timeout = Duration::from_millis(1);
    let err = scan_bus(&tcp_bus(port), &catalogue, &o, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
    // Invalid bus settings: the bus's own validation, named.
    let mut bad = tcp_bus(port);
    bad.kind = BusKind::Tcp(TcpSettings::new("", port));
    let err = scan_bus(&bad, &catalogue, &options(1..=3), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::Bus { .. }), "{err}");
}

/// A product whose signature pymodbus can hold; it has a product code, so FC43 is asked
/// (pymodbus answers it with the server's identity, the same for every unit).
const PY_PRODUCTS: &str = r#"
[[product]]
references = ["PYM-1"]
vendor = "Emkit Test"
product_code = "PYM-1"
model = "Pymodbus meter"
defaults = { function_code = 3 }

[[product.signature]]
register = { address = 0x1000, type = "string", length = 4 }
text = "EMKIT-PY"

[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0, type = "u16", scale = 0.01 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_pymodbus_server() {
    if !poll_support::pymodbus() {
        return;
    }
    let mut catalogue = Catalogue::new();
    catalogue
        .load_str(Path::new("py-products.toml"), PY_PRODUCTS)
        .unwrap();
    // Unit 3 holds the signature (words by hand: "EMKIT-PY"), unit 4 only zeros.
    let spec = json!({
        "3": { "size": 0x1100, "hr": { "0": [23150], "4096": [0x454D, 0x4B49, 0x542D, 0x5059] } },
        "4": { "size": 0x1100, "hr": { "0": [23150] } },
    });
    let dir = tempfile::tempdir().unwrap();
    let port = poll_support::free_port();
    let _server = start_pymodbus_scan_peer(dir.path(), &spec, port);
    let mut o = options(1..=5);
    o.timeout = Duration::from_millis(500);
    let scan = tokio::time::timeout(
        Duration::from_secs(30),
        scan_bus(&tcp_bus(port), &catalogue, &o, |_| {}),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(scan.units.len(), 5);
    let u3 = scan.unit(3).unwrap();
    assert_eq!(u3.product(), Some("PYM-1"), "{u3:?}");
    assert!(matches!(
        u3.status,
        UnitStatus::Identified {
            by: IdentifiedBy::SignatureAndDeviceId,
            ..
        }
    ));
    let id = u3.device_id.clone().unwrap();
    assert_eq!(id.vendor.as_deref(), Some("Emkit Test"));
    assert_eq!(id.product_code.as_deref(), Some("PYM-1"));
    assert_eq!(id.revision.as_deref(), Some("1.2"));
    // Unit 4 holds zeros where the signature is: only its FC43 answer names the product.
    let u4 = scan.unit(4).unwrap();
    assert!(
        matches!(
            u4.status,
            UnitStatus::Identified {
                by: IdentifiedBy::DeviceId,
                ..
            }
        ),
        "{u4:?}"
    );
    // The unit ids pymodbus does not serve refuse the signature read (exception 04); its
    // FC43 answer is server-wide, so they report its product code too: signature first,
    // the device id decides only when no signature matched.
    for other in [1, 2, 5] {
        let u = scan.unit(other).unwrap();
        assert!(u.answered(), "{u:?}");
        assert_eq!(
            u.device_id.as_ref().and_then(|d| d.product_code.as_deref()),
            Some("PYM-1")
        );
    }
}

/// The pymodbus server of `poll_support`, with an identity (FC43, the same for every unit).
/// Unit ids it does not serve answer exception 04 (pymodbus 3.16 does so even with
/// `ignore_missing_devices`), so for a scan they are there.
const PYMODBUS_SCAN_SERVER: &str = r#"
import asyncio, json, logging, sys
from pymodbus.datastore import ModbusServerContext, ModbusSequentialDataBlock
try:
    from pymodbus.datastore import ModbusDeviceContext as Unit
except ImportError:
    from pymodbus.datastore import ModbusSlaveContext as Unit
try:
    from pymodbus import ModbusDeviceIdentification
except ImportError:
    from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server import StartAsyncTcpServer

logging.disable(logging.WARNING)
spec = json.load(open(sys.argv[1]))
port = int(sys.argv[2])

def block(table, size):
    values = [0] * size
    for addr, words in table.items():
        a = int(addr)
        values[a:a + len(words)] = words
    return ModbusSequentialDataBlock(1, values)

units = {
    int(unit): Unit(hr=block(d.get("hr", {}), d["size"]), ir=block(d.get("ir", {}), d["size"]))
    for unit, d in spec.items()
}
try:
    context = ModbusServerContext(devices=units, single=False)
except TypeError:
    context = ModbusServerContext(slaves=units, single=False)
identity = ModbusDeviceIdentification(info_name={
    "VendorName": "Emkit Test", "ProductCode": "PYM-1", "MajorMinorRevision": "1.2"})
asyncio.run(StartAsyncTcpServer(context=context, identity=identity, address=("127.0.0.1", port)))
"#;

fn start_pymodbus_scan_peer(dir: &Path, spec: &serde_json::Value, port: u16) -> poll_support::Peer {
    let script = dir.join("scan_server.py");
    std::fs::write(&script, PYMODBUS_SCAN_SERVER).unwrap();
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(spec).unwrap()).unwrap();
    let child = std::process::Command::new("python3")
        .arg(&script)
        .arg(&spec_path)
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = poll_support::Peer(child);
    poll_support::wait_for_port(port, &mut peer, Duration::from_secs(10));
    peer
}
