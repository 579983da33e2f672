//! Our poller against a pymodbus (3.x) Modbus/TCP server on loopback: values decoded as the
//! catalogue says, "not available" sentinels, typed exceptions, parameter writes with range
//! checks, identification (match and mismatch), statistics; and connection back-off
//! against a closed port (no peer needed).
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod poll_support;

use std::path::Path;
use std::time::Duration;

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::{DeviceState, Identification, ModbusException, PollError, Poller};
use modbus_devices::{Catalogue, Quality, Reading, Value};
use serde_json::json;

/// A small product whose registers the test writes as raw words, computed by hand from the
/// types (not with our codec).
pub const TEST_PRODUCTS: &str = r#"
[[product]]
references = ["PYM-1"]
vendor = "Emkit Test"
model = "Pymodbus meter"
defaults = { function_code = 3, not_available = "type_max" }
limits = { max_registers_per_read = 32, max_gap = 8 }

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

[[product.service]]
id = "p"
name = "Active power"
quantity = "active_power"
unit = "W"
category = "power"
register = { address = 2, type = "s32" }

[[product.service]]
id = "f"
name = "Frequency"
quantity = "frequency"
unit = "Hz"
category = "frequency"
register = { address = 4, type = "f32" }

[[product.service]]
id = "e"
name = "Active energy"
quantity = "active_energy_import"
unit = "kWh"
category = "energy"
register = { address = 6, type = "u32", word_order = "low_first", scale = 0.1 }

[[product.service]]
id = "i_n"
name = "Neutral current"
quantity = "current"
unit = "A"
category = "current"
register = { address = 8, type = "u16", scale = 0.001 }

[[product.service]]
id = "t"
name = "Temperature"
quantity = "temperature"
unit = "degC"
category = "temperature"
register = { function_code = 4, address = 0, type = "s16", scale = 0.1 }

[[product.service]]
id = "ct"
name = "CT ratio"
quantity = "ratio"
unit = ""
category = "configuration"
register = { address = 20, type = "u16", access = "read_write" }

[[product.service]]
id = "limit"
name = "Power limit"
quantity = "active_power"
unit = "W"
category = "configuration"
register = { address = 22, type = "u32", access = "read_write" }

[[product.service]]
id = "ghost"
name = "Not served"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x3000, type = "u16" }

[[product.parameter]]
id = "ct_ratio"
name = "CT ratio"
register = { address = 20, type = "u16", write_range = { min = 1, max = 5000 } }

[[product.parameter]]
id = "power_limit"
name = "Power limit"
unit = "W"
register = { address = 22, type = "u32", write_range = { min = 0, max = 100000 } }

[[product]]
references = ["OTHER-1"]
vendor = "Emkit Test"
model = "Other meter"
defaults = { function_code = 3 }

[[product.signature]]
register = { address = 0x1000, type = "string", length = 4 }
text = "OTHER"

[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0, type = "u16", scale = 0.1 }
"#;

fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    c.load_str(Path::new("test-products.toml"), TEST_PRODUCTS)
        .unwrap();
    c
}

/// Raw words of PYM-1, by hand.
fn spec() -> serde_json::Value {
    let unit = json!({
        "size": 0x1100,
        "hr": {
            "0": [23150],                 // 231.50 V
            "2": [0xFFFF, 0xFA24],        // s32 -1500 W
            "4": [0x4248, 0x0000],        // f32 50.0 Hz
            "6": [0xE240, 0x0001],        // u32 123456 low word first -> 12345.6 kWh
            "8": [0xFFFF],                // not available
            "20": [100],
            "22": [0, 0],
            "4096": [0x454D, 0x4B49, 0x542D, 0x5059], // "EMKIT-PY"
        },
        "ir": { "0": [0xFFC9] },          // s16 -55 -> -5.5 degC
    });
    json!({ "3": unit.clone(), "4": unit })
}

fn site(port: u16) -> Installation {
    let mut s = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", port);
    tcp.timeout_ms = 1000;
    tcp.retries = 1;
    s.add_bus(Bus {
        name: "py".into(),
        kind: BusKind::Tcp(tcp),
    })
    .unwrap();
    s.add_device(DeviceInstance::new(
        "meter",
        "PYM-1",
        "py",
        DeviceAddress::Unit(3),
    ))
    .unwrap();
    s.add_device(DeviceInstance::new(
        "wrong",
        "OTHER-1",
        "py",
        DeviceAddress::Unit(4),
    ))
    .unwrap();
    s
}

fn value(readings: &[Reading], device: &str, service: &str) -> (Option<Value>, Quality) {
    let r = readings
        .iter()
        .find(|r| r.device == device && r.service == service)
        .unwrap_or_else(|| panic!("no reading {device}/{service}"));
    (r.value.clone(), r.quality)
}

fn number(readings: &[Reading], device: &str, service: &str) -> f64 {
    match value(readings, device, service) {
        (Some(Value::Number(v)), Quality::Good) => v,
        other => panic!("{device}/{service}: expected a good number, found {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_reads_pymodbus_server() {
    if !poll_support::pymodbus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = poll_support::free_port();
    let _server = poll_support::start_pymodbus(dir.path(), &spec(), port);
    let cat = catalogue();
    let poller = Poller::new(&site(port), &cat).unwrap();
    assert_eq!(poller.state("meter"), Some(DeviceState::Unknown));

    let before = chrono::Utc::now();
    let readings = tokio::time::timeout(Duration::from_secs(10), poller.poll_once())
        .await
        .unwrap();
    assert!((number(&readings, "meter", "v") - 231.5).abs() < 1e-9);
    assert_eq!(number(&readings, "meter", "p"), -1500.0);
    assert_eq!(number(&readings, "meter", "f"), 50.0);
    assert!((number(&readings, "meter", "e") - 12345.6).abs() < 1e-6);
    assert!((number(&readings, "meter", "t") - (-5.5)).abs() < 1e-9);
    assert_eq!(number(&readings, "meter", "ct"), 100.0);
    // The sentinel 0xFFFF: no value, but the read worked.
    assert_eq!(
        value(&readings, "meter", "i_n"),
        (None, Quality::NotAvailable)
    );
    // 0x3000 is outside pymodbus' block: exception 02, the answer cannot be used.
    assert_eq!(value(&readings, "meter", "ghost"), (None, Quality::Invalid));
    let r = readings.iter().find(|r| r.point() == "meter/v").unwrap();
    assert_eq!(r.unit.symbol(), "V");
    assert!(r.timestamp >= before && r.timestamp <= chrono::Utc::now());
    // Readings of the "wrong" device too (its map reads address 0 with another scale).
    assert!((number(&readings, "wrong", "v") - 2315.0).abs() < 1e-9);
    assert_eq!(
        poller.state("meter"),
        Some(DeviceState::Communicating),
        "an exception answer is an answer"
    );

    let stats = poller.stats();
    let m = stats.device("meter").unwrap();
    let planned = poller.requests_per_poll("meter").unwrap() as u64;
    assert_eq!(m.counters.requests, planned, "exceptions are not retried");
    assert_eq!(m.counters.responses, planned);
    assert_eq!(m.counters.exceptions, 1);
    assert_eq!(m.counters.timeouts, 0);
    let lat = m.counters.latency;
    assert_eq!(lat.samples, planned);
    assert!(
        lat.min_ms.unwrap() <= lat.mean_ms.unwrap() && lat.mean_ms.unwrap() <= lat.max_ms.unwrap()
    );
    assert!(
        m.last_error.as_deref().unwrap().contains("exception 02"),
        "{m:?}"
    );
    let bus = stats.bus("py").unwrap();
    assert_eq!(bus.connects, 1);
    assert!(bus.connected);
    assert_eq!(
        bus.counters.requests,
        planned + poller.requests_per_poll("wrong").unwrap() as u64
    );
    // The statistics serialise (the bus analyser view).
    let j = serde_json::to_value(&stats).unwrap();
    assert_eq!(j["devices"][0]["exceptions"], 1);
    assert_eq!(j["devices"][0]["state"], "communicating");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymodbus_exceptions_writes_and_identification() {
    if !poll_support::pymodbus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = poll_support::free_port();
    let _server = poll_support::start_pymodbus(dir.path(), &spec(), port);
    let cat = catalogue();
    let poller = Poller::new(&site(port), &cat).unwrap();

    // Range checks happen before the wire: nothing is sent.
    let sent = |p: &Poller| p.stats().device("meter").unwrap().counters.requests;
    let err = poller
        .write_parameter("meter", "ct_ratio", &Value::Number(6000.0))
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::WriteRefused { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("outside the allowed range 1..=5000"),
        "{err}"
    );
    let err = poller
        .write_parameter("meter", "ct_ratio", &Value::Text("x".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::WriteRefused { .. }), "{err}");
    assert!(matches!(
        poller
            .write_parameter("meter", "nope", &Value::Number(1.0))
            .await,
        Err(PollError::UnknownId { .. })
    ));
    assert_eq!(sent(&poller), 0);

    // FC6 and FC16 reach pymodbus: read back.
    poller
        .write_parameter("meter", "ct_ratio", &Value::Number(250.0))
        .await
        .unwrap();
    poller
        .write_parameter("meter", "power_limit", &Value::Number(70_000.0))
        .await
        .unwrap();
    assert_eq!(sent(&poller), 2);
    let readings = poller.poll_device("meter").await.unwrap();
    assert_eq!(number(&readings, "meter", "ct"), 250.0);
    assert_eq!(number(&readings, "meter", "limit"), 70_000.0);

    // Identification.
    let id = poller.identify("meter").await.unwrap();
    assert!(id.is_match(), "{id:?}");
    assert_eq!(id.status(), "match");
    assert!(id.detail().contains("EMKIT-PY"), "{}", id.detail());
    let id = poller.identify("wrong").await.unwrap();
    match &id {
        Identification::Mismatch {
            declared,
            found,
            detail,
        } => {
            assert_eq!(declared, "OTHER-1");
            assert_eq!(found.as_deref(), Some("PYM-1"));
            assert!(
                detail.contains("declared OTHER-1 but found PYM-1"),
                "{detail}"
            );
        }
        other => panic!("expected a mismatch, found {other:?}"),
    }
    assert!(matches!(
        poller.identify("nobody").await,
        Err(PollError::UnknownDevice(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymodbus_exception_is_typed() {
    if !poll_support::pymodbus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = poll_support::free_port();
    let _server = poll_support::start_pymodbus(dir.path(), &spec(), port);
    let cat = catalogue();
    let mut s = site(port);
    s.devices[0].services = Some(vec!["ghost".into()]);
    let poller = Poller::new(&s, &cat).unwrap();
    let readings = poller.poll_device("meter").await.unwrap();
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].quality, Quality::Invalid);
    let last = poller
        .stats()
        .device("meter")
        .unwrap()
        .last_error
        .clone()
        .unwrap();
    assert!(
        last.contains("exception 02 (illegal data address)") && last.contains("FC3 0x3000+1"),
        "{last}"
    );
    assert_eq!(
        ModbusException::from_code(2),
        ModbusException::IllegalDataAddress
    );
}

/// No peer needed: a closed port gives a connect error, the device is not communicating,
/// and no new connection is tried before the back-off delay.
#[tokio::test]
async fn closed_port_backs_off() {
    let port = poll_support::free_port();
    let cat = catalogue();
    let mut s = Installation::default();
    s.add_bus(Bus {
        name: "gone".into(),
        kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", port)),
    })
    .unwrap();
    s.add_device(DeviceInstance::new(
        "m",
        "PYM-1",
        "gone",
        DeviceAddress::Unit(1),
    ))
    .unwrap();
    let poller = Poller::new(&s, &cat).unwrap();
    let failures = |p: &Poller| p.stats().bus("gone").unwrap().connect_failures;

    let r = poller.poll_once().await;
    assert!(
        !r.is_empty()
            && r.iter()
                .all(|r| r.quality == Quality::NoAnswer && r.value.is_none())
    );
    assert_eq!(poller.state("m"), Some(DeviceState::NotCommunicating));
    assert_eq!(failures(&poller), 1);
    let last = poller
        .stats()
        .device("m")
        .unwrap()
        .last_error
        .clone()
        .unwrap();
    assert!(last.contains("cannot connect to 127.0.0.1:"), "{last}");
    // Within the 0.5 s back-off: no new attempt, and nothing counted as sent.
    poller.poll_once().await;
    assert_eq!(failures(&poller), 1);
    assert_eq!(poller.stats().device("m").unwrap().counters.requests, 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    poller.poll_once().await;
    assert_eq!(failures(&poller), 2);
    // Now the delay is 1 s.
    tokio::time::sleep(Duration::from_millis(600)).await;
    poller.poll_once().await;
    assert_eq!(failures(&poller), 2);

    // Disabled devices are not polled.
    poller.set_enabled("m", false).unwrap();
    assert_eq!(poller.state("m"), Some(DeviceState::Disabled));
    assert!(poller.poll_once().await.is_empty());
    assert!(matches!(
        poller.poll_device("m").await,
        Err(PollError::Disabled(_))
    ));
}
