//! Parameter writes that need more than one request: a bit inside a holding register
//! (read-modify-write with a re-read check) and a value whose scale lives in another
//! register. Against our simulator and against a pymodbus (3.x) server; the registers are
//! checked with a plain tokio-modbus client, not with the poller that wrote them.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod poll_support;

use std::net::SocketAddr;
use std::path::Path;

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::error::CodecError;
use modbus_devices::poll::{PollError, Poller};
use modbus_devices::sim::{Fault, SimClock, Simulator};
use modbus_devices::{Catalogue, Value};
use serde_json::json;
use tokio_modbus::prelude::*;

const PRODUCTS: &str = r#"
[[product]]
references = ["WR-1"]
vendor = "Emkit Test"
model = "Write test"
defaults = { function_code = 3 }

[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0, type = "u16", scale = 0.1 }

[[product.service]]
id = "control"
name = "Control word"
quantity = "control_word"
unit = ""
category = "status"
register = { address = 10, type = "flags" }

[[product.parameter]]
id = "alarm_enable"
name = "Alarm output enabled"
register = { address = 10, type = "bit", bit = 0 }

[[product.parameter]]
id = "relay"
name = "Relay closed"
register = { address = 10, type = "bit", bit = 3 }

[[product.parameter]]
id = "power_limit"
name = "Power limit"
unit = "W"
register = { address = 20, type = "u16", scale_register = { address = 21 }, write_range = { min = 0, max = 5000 } }

[[product.parameter]]
id = "current_limit"
name = "Current limit"
unit = "A"
register = { address = 22, type = "u16", scale_register = { address = 23 }, write_range = { min = 0, max = 1000 } }

[[product.parameter]]
id = "gain"
name = "Gain"
register = { address = 24, type = "s16", scale_register = { address = 25, pow10 = false }, write_range = { min = -100, max = 100 } }
"#;

fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    c.load_str(Path::new("write-products.toml"), PRODUCTS)
        .unwrap();
    c
}

fn site(port: u16, units: &[u8]) -> Installation {
    let mut s = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", port);
    tcp.timeout_ms = 1000;
    tcp.retries = 0;
    s.add_bus(Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(tcp),
    })
    .unwrap();
    for u in units {
        s.add_device(DeviceInstance::new(
            format!("m{u}"),
            "WR-1",
            "lan",
            DeviceAddress::Unit(*u),
        ))
        .unwrap();
    }
    s
}

async fn raw(addr: SocketAddr, unit: u8, address: u16, count: u16) -> Vec<u16> {
    let mut c = tokio_modbus::client::tcp::connect_slave(addr, Slave(unit))
        .await
        .unwrap();
    let w = c
        .read_holding_registers(address, count)
        .await
        .unwrap()
        .unwrap();
    let _ = c.disconnect().await;
    w
}

fn refused(e: &PollError) -> &CodecError {
    match e {
        PollError::WriteRefused { source, .. } => source,
        other => panic!("expected a refused write, found {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_and_scaled_writes_against_the_simulator() {
    let cat = catalogue();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, cat.require("WR-1").unwrap().clone())
        .unwrap();
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let p = Poller::new(&site(addr.port(), &[1]), &cat).unwrap();

    // Read-modify-write: each bit keeps the other.
    assert_eq!(raw(addr, 1, 10, 1).await, vec![0]);
    let before = sim.request_count(1);
    p.write_parameter("m1", "relay", &Value::Bool(true))
        .await
        .unwrap();
    assert_eq!(sim.request_count(1) - before, 3, "read, write, re-read");
    assert_eq!(raw(addr, 1, 10, 1).await, vec![0b1000]);
    p.write_parameter("m1", "alarm_enable", &Value::Number(1.0))
        .await
        .unwrap();
    assert_eq!(raw(addr, 1, 10, 1).await, vec![0b1001]);
    p.write_parameter("m1", "relay", &Value::Bool(false))
        .await
        .unwrap();
    assert_eq!(raw(addr, 1, 10, 1).await, vec![0b0001]);
    // The flags service reads the same word through the poller.
    let r = p.poll_device("m1").await.unwrap();
    let control = r.iter().find(|r| r.service == "control").unwrap();
    assert_eq!(control.value, Some(Value::Flags(1)));

    // Not a bit: refused before the wire.
    let before = sim.request_count(1);
    let e = p
        .write_parameter("m1", "relay", &Value::Number(2.0))
        .await
        .unwrap_err();
    assert!(
        matches!(refused(&e), CodecError::TypeMismatch { .. }),
        "{e}"
    );
    assert_eq!(sim.request_count(1), before);

    // A write-protected device acknowledges the write but the bit does not change.
    sim.set_fault(1, Fault::IgnoreWrites);
    let e = p
        .write_parameter("m1", "relay", &Value::Bool(true))
        .await
        .unwrap_err();
    match &e {
        PollError::WriteNotApplied {
            device,
            id,
            address,
            bit,
            wanted,
            found,
        } => {
            assert_eq!((device.as_str(), id.as_str()), ("m1", "relay"));
            assert_eq!((*address, *bit, *wanted, *found), (10, 3, true, false));
        }
        other => panic!("expected WriteNotApplied, found {other}"),
    }
    assert_eq!(e.kind(), "write_not_applied");
    assert!(e.to_string().contains("bit 3 of register 0x000a"), "{e}");
    sim.clear_fault(1);
    assert_eq!(raw(addr, 1, 10, 1).await, vec![0b0001]);

    // Scaled parameters: the simulator picks scales that hold the write ranges
    // (0..5000 W in a u16: 10^-1; 0..1000 A: 10^-1; the multiplier: 1).
    let scales = raw(addr, 1, 21, 1).await[0] as i16;
    assert_eq!(scales, -1);
    let before = sim.request_count(1);
    p.write_parameter("m1", "power_limit", &Value::Number(1234.5))
        .await
        .unwrap();
    assert_eq!(sim.request_count(1) - before, 2, "scale read, write");
    assert_eq!(raw(addr, 1, 20, 2).await, vec![12345, (-1i16) as u16]);
    p.write_parameter("m1", "current_limit", &Value::Number(999.9))
        .await
        .unwrap();
    assert_eq!(raw(addr, 1, 22, 1).await, vec![9999]);
    p.write_parameter("m1", "gain", &Value::Number(-42.0))
        .await
        .unwrap();
    assert_eq!(raw(addr, 1, 24, 2).await, vec![(-42i16) as u16, 1]);

    // Outside the write range: refused before the wire, the scale is not even read.
    let before = sim.request_count(1);
    let e = p
        .write_parameter("m1", "power_limit", &Value::Number(5000.5))
        .await
        .unwrap_err();
    assert!(matches!(refused(&e), CodecError::OutOfRange { .. }), "{e}");
    assert_eq!(sim.request_count(1), before);
}

/// PYM server for WR-1 at units 3 (scales chosen by hand) and their words by hand.
fn spec() -> serde_json::Value {
    json!({
        "3": {
            "size": 64,
            "hr": {
                "0": [2300],
                "10": [0x8004],            // bits 15 and 2: other settings
                "20": [0, 0xFFFF],         // power limit, scale 10^-1
                "22": [0, 0xFFFE],         // current limit, scale 10^-2: 1000 A does not fit
                "24": [0, 0],              // gain, multiplier 0: cannot scale
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_and_scaled_writes_against_pymodbus() {
    if !poll_support::pymodbus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = poll_support::free_port();
    let _server = poll_support::start_pymodbus(dir.path(), &spec(), port);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let cat = catalogue();
    let p = Poller::new(&site(port, &[3]), &cat).unwrap();

    p.write_parameter("m3", "relay", &Value::Bool(true))
        .await
        .unwrap();
    assert_eq!(raw(addr, 3, 10, 1).await, vec![0x800C]);
    p.write_parameter("m3", "alarm_enable", &Value::Bool(true))
        .await
        .unwrap();
    assert_eq!(raw(addr, 3, 10, 1).await, vec![0x800D]);
    p.write_parameter("m3", "relay", &Value::Bool(false))
        .await
        .unwrap();
    assert_eq!(raw(addr, 3, 10, 1).await, vec![0x8005]);
    let c = p.stats().device("m3").unwrap().counters;
    assert_eq!(
        (c.requests, c.responses),
        (9, 9),
        "three requests per bit write"
    );

    p.write_parameter("m3", "power_limit", &Value::Number(4321.7))
        .await
        .unwrap();
    assert_eq!(raw(addr, 3, 20, 2).await, vec![43217, 0xFFFF]);
    p.write_parameter("m3", "current_limit", &Value::Number(12.34))
        .await
        .unwrap();
    assert_eq!(raw(addr, 3, 22, 1).await, vec![1234]);
    // 700 A at 0.01 A steps is 70000: more than a u16 holds. Refused after the scale read,
    // before the write.
    let e = p
        .write_parameter("m3", "current_limit", &Value::Number(700.0))
        .await
        .unwrap_err();
    assert!(
        matches!(refused(&e), CodecError::NotRepresentable { .. }),
        "{e}"
    );
    assert_eq!(raw(addr, 3, 22, 1).await, vec![1234]);
    // A multiplier of 0 cannot scale anything.
    let e = p
        .write_parameter("m3", "gain", &Value::Number(5.0))
        .await
        .unwrap_err();
    match &e {
        PollError::BadScale { address, raw, .. } => assert_eq!((*address, *raw), (25, 0)),
        other => panic!("expected BadScale, found {other}"),
    }
    assert_eq!(e.kind(), "bad_scale");
    assert_eq!(raw(addr, 3, 24, 1).await, vec![0]);
}
