//! "Read Device Identification" (FC43 / MEI type 14) served by the simulator: the basic
//! objects of a product whose catalogue entry has a product code (the Hager ECR380D), read
//! with the tokio-modbus client over Modbus/TCP, RTU over TCP and RTU on a socat
//! pseudo-terminal pair, with raw RTU frames checked byte for byte, and with the pymodbus
//! client over Modbus/TCP; exception 01 for a product without a product code; "more
//! follows" when the objects do not fit one response.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod poll_support;
mod sim_support;

use std::path::Path;
use std::time::Duration;

use modbus_devices::sim::{SerialSettings, SimClock, Simulator};
use modbus_devices::{Catalogue, Product};
use sim_support::{PtyPair, read_bytes, rtu_frame, t0};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::prelude::{ConformityLevel, ReadCode, ReadDeviceIdentificationResponse};
use tokio_modbus::{ExceptionCode, Slave};

/// Unit of the ECR380D (vendor "Hager", product code "ECR380D").
const HAGER: u8 = 1;
/// Unit of SIM-3P, a product without a product code.
const NO_CODE: u8 = 2;
/// Unit of a product whose vendor and code are too long to share one response.
const LONG: u8 = 3;

/// A product with the longest vendor and product code the catalogue accepts (244 bytes
/// each): two of them never fit one response PDU.
fn long_product() -> Product {
    let text = format!(
        r#"[[product]]
references = ["LONG-ID"]
vendor = "{vendor}"
product_code = "{code}"
model = "Long identification"
[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = {{ address = 0, type = "u16", scale = 0.01 }}
"#,
        vendor = "V".repeat(244),
        code = "C".repeat(244)
    );
    let mut c = Catalogue::new();
    c.load_str(Path::new("long.toml"), &text).unwrap();
    c.require("LONG-ID").unwrap().clone()
}

fn simulator() -> Simulator {
    let builtin = Catalogue::builtin().unwrap();
    Simulator::new(SimClock::manual(t0()))
        .with_device(HAGER, builtin.require("ECR380D").unwrap().clone())
        .unwrap()
        .with_device(NO_CODE, sim_support::product("SIM-3P"))
        .unwrap()
        .with_device(LONG, long_product())
        .unwrap()
}

async fn identify(
    ctx: &mut Context,
    unit: u8,
    code: ReadCode,
    object: u8,
) -> Result<ReadDeviceIdentificationResponse, ExceptionCode> {
    ctx.set_slave(Slave(unit));
    tokio::time::timeout(
        Duration::from_secs(5),
        ctx.read_device_identification(code, object),
    )
    .await
    .expect("the simulator answers within 5 s")
    .expect("transport works")
}

fn objects(r: &ReadDeviceIdentificationResponse) -> Vec<(u8, String)> {
    r.device_id_objects
        .iter()
        .map(|o| (o.id, o.value_as_str().expect("ASCII").to_string()))
        .collect()
}

fn basic_objects() -> Vec<(u8, String)> {
    vec![
        (0, "Hager".to_string()),
        (1, "ECR380D".to_string()),
        (2, "1.0.0".to_string()),
    ]
}

/// Everything a master sees through tokio-modbus's client (our decoding side), on any
/// framing.
async fn client_checks(ctx: &mut Context) {
    // Basic stream from object 0: the three basic objects, in one response.
    let r = identify(ctx, HAGER, ReadCode::Basic, 0).await.unwrap();
    assert_eq!(r.read_code, ReadCode::Basic);
    assert_eq!(r.conformity_level, ConformityLevel::BasicIdentification);
    assert!(!r.more_follows);
    assert_eq!(r.next_object_id, 0);
    assert_eq!(objects(&r), basic_objects());

    // The same identity as the FC3 identification registers the device serves.
    ctx.set_slave(Slave(HAGER));
    let words = ctx
        .read_holding_registers(0x1010, 16)
        .await
        .unwrap()
        .unwrap();
    let register_code: String = words
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .map(char::from)
        .collect();
    assert_eq!(register_code.trim_end_matches(['\0', ' ']), "ECR380D");
    let version = ctx
        .read_holding_registers(0x1020, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        version,
        vec![0x0100, 0x0000],
        "firmware 1.0.0 (one byte per level)"
    );

    // A stream starting at a later object; an unknown start restarts at object 0.
    let r = identify(ctx, HAGER, ReadCode::Basic, 2).await.unwrap();
    assert_eq!(objects(&r), vec![(2, "1.0.0".to_string())]);
    let r = identify(ctx, HAGER, ReadCode::Basic, 0x42).await.unwrap();
    assert_eq!(objects(&r), basic_objects());

    // Regular and extended streams are answered at the device's (basic) level.
    for code in [ReadCode::Regular, ReadCode::Extended] {
        let r = identify(ctx, HAGER, code, 0).await.unwrap();
        assert_eq!(r.read_code, code);
        assert_eq!(r.conformity_level, ConformityLevel::BasicIdentification);
        assert_eq!(objects(&r), basic_objects());
    }

    // Individual access: one object, or exception 02 for an object the device lacks.
    for (id, value) in basic_objects() {
        let r = identify(ctx, HAGER, ReadCode::Specific, id).await.unwrap();
        assert_eq!(r.read_code, ReadCode::Specific);
        assert!(!r.more_follows);
        assert_eq!(objects(&r), vec![(id, value)]);
    }
    for id in [0x03, 0x80] {
        assert_eq!(
            identify(ctx, HAGER, ReadCode::Specific, id).await,
            Err(ExceptionCode::IllegalDataAddress),
            "object {id:#04x}"
        );
    }

    // A product without a product code: exception 01, whatever is asked.
    for (code, id) in [(ReadCode::Basic, 0), (ReadCode::Specific, 1)] {
        assert_eq!(
            identify(ctx, NO_CODE, code, id).await,
            Err(ExceptionCode::IllegalFunction)
        );
    }

    // Objects that do not fit one response: "more follows" and the next object id, and the
    // master continues from there.
    let first = identify(ctx, LONG, ReadCode::Basic, 0).await.unwrap();
    assert!(first.more_follows);
    assert_eq!(first.next_object_id, 1);
    assert_eq!(objects(&first), vec![(0, "V".repeat(244))]);
    // Each 244-byte object fills a response (7 + 2 + 244 = 253 bytes): three transactions.
    let mut all = objects(&first);
    let mut next = first.next_object_id;
    let mut transactions = 1;
    loop {
        let r = identify(ctx, LONG, ReadCode::Basic, next).await.unwrap();
        transactions += 1;
        assert!(transactions <= 3, "the stream does not end");
        all.extend(objects(&r));
        if !r.more_follows {
            assert_eq!(r.next_object_id, 0);
            break;
        }
        next = r.next_object_id;
    }
    assert_eq!(transactions, 3);
    assert_eq!(
        all,
        vec![
            (0, "V".repeat(244)),
            (1, "C".repeat(244)),
            (2, "1.0.0".to_string())
        ]
    );
}

#[tokio::test]
async fn tcp_with_the_tokio_modbus_client() {
    let sim = simulator();
    let (addr, _handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut ctx = tokio_modbus::client::tcp::connect_slave(addr, Slave(HAGER))
        .await
        .unwrap();
    client_checks(&mut ctx).await;
}

#[tokio::test]
async fn rtu_over_tcp_with_the_tokio_modbus_client() {
    let sim = simulator();
    let (addr, _handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut ctx = tokio_modbus::client::rtu::attach_slave(stream, Slave(HAGER));
    client_checks(&mut ctx).await;
}

async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    unit: u8,
    pdu: &[u8],
    expect: usize,
) -> Vec<u8> {
    io.write_all(&rtu_frame(unit, pdu)).await.unwrap();
    io.flush().await.unwrap();
    read_bytes(io, expect, Duration::from_secs(2)).await
}

/// Raw RTU frames, built and checked here with an independent CRC.
async fn raw_rtu_checks<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T) {
    // 01 2B 0E 01 00: basic stream from object 0.
    let expected = rtu_frame(
        HAGER,
        &[
            &[0x2B, 0x0E, 0x01, 0x81, 0x00, 0x00, 0x03][..],
            &[0x00, 5],
            b"Hager",
            &[0x01, 7],
            b"ECR380D",
            &[0x02, 5],
            b"1.0.0",
        ]
        .concat(),
    );
    let got = exchange(io, HAGER, &[0x2B, 0x0E, 0x01, 0x00], expected.len()).await;
    assert_eq!(got, expected);
    // 04: individual access to the product code.
    let expected = rtu_frame(
        HAGER,
        &[
            &[0x2B, 0x0E, 0x04, 0x81, 0x00, 0x00, 0x01, 0x01, 7][..],
            b"ECR380D",
        ]
        .concat(),
    );
    let got = exchange(io, HAGER, &[0x2B, 0x0E, 0x04, 0x01], expected.len()).await;
    assert_eq!(got, expected);
    // Exceptions: unknown object (02), unknown read device id code (03), no product code
    // (01), another MEI type (01).
    for (unit, pdu, exception) in [
        (HAGER, &[0x2B, 0x0E, 0x04, 0x07][..], 0x02),
        (HAGER, &[0x2B, 0x0E, 0x05, 0x00], 0x03),
        (NO_CODE, &[0x2B, 0x0E, 0x01, 0x00], 0x01),
        (HAGER, &[0x2B, 0x0D, 0x00, 0x00], 0x01),
    ] {
        let expected = rtu_frame(unit, &[0xAB, exception]);
        let got = exchange(io, unit, pdu, expected.len()).await;
        assert_eq!(got, expected, "request {pdu:02X?} to unit {unit}");
    }
}

#[tokio::test]
async fn rtu_over_tcp_raw_frames() {
    let sim = simulator();
    let (addr, _handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw_rtu_checks(&mut stream).await;
}

#[tokio::test]
async fn rtu_on_a_socat_pseudo_terminal_pair() {
    let Some(pty) = PtyPair::new() else { return };
    let sim = simulator();
    let settings = SerialSettings::default();
    let handle = sim.serve_rtu(&pty.a, &settings).await.unwrap();
    let builder = tokio_serial::new(pty.b.to_string_lossy(), settings.baud_rate)
        .parity(settings.parity)
        .stop_bits(settings.stop_bits)
        .data_bits(settings.data_bits);
    let mut port = tokio_serial::SerialStream::open(&builder).unwrap();
    raw_rtu_checks(&mut port).await;
    let mut ctx = tokio_modbus::client::rtu::attach_slave(port, Slave(HAGER));
    client_checks(&mut ctx).await;
    handle.stop().await;
}

/// The pymodbus client's `read_device_information`, one JSON line per query:
/// `[unit, read_code, object_id]` -> the decoded response or `{"exception": code}`.
const PYMODBUS_CLIENT: &str = r#"
import inspect, json, sys
from pymodbus.client import ModbusTcpClient

port, queries = int(sys.argv[1]), json.loads(sys.argv[2])
client = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
if not client.connect():
    sys.exit("cannot connect")
# pymodbus 3.10 renamed the unit keyword from `slave` to `device_id`.
params = inspect.signature(client.read_device_information).parameters
unit_kw = "device_id" if "device_id" in params else "slave"
for unit, read_code, object_id in queries:
    r = client.read_device_information(read_code=read_code, object_id=object_id, **{unit_kw: unit})
    if r.isError():
        out = {"exception": r.exception_code}
    else:
        out = {
            "read_code": r.read_code,
            "conformity": r.conformity,
            "more_follows": r.more_follows,
            "next_object_id": r.next_object_id,
            "objects": {str(k): v.decode("ascii") for k, v in r.information.items()},
        }
    print(json.dumps(out), flush=True)
client.close()
"#;

#[tokio::test]
async fn tcp_with_the_pymodbus_client() {
    if !poll_support::pymodbus() {
        return;
    }
    let sim = simulator();
    let (addr, _handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let queries = serde_json::json!([
        [HAGER, 1, 0],
        [HAGER, 4, 1],
        [HAGER, 4, 2],
        [HAGER, 4, 0x10],
        [NO_CODE, 1, 0],
        [LONG, 1, 0],
    ]);
    // The client runs on a blocking thread while this runtime serves it.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", PYMODBUS_CLIENT])
            .arg(addr.port().to_string())
            .arg(queries.to_string())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        output.status.success(),
        "pymodbus client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    let basic = &lines[0];
    assert_eq!(basic["read_code"], 1);
    assert_eq!(basic["conformity"], 0x81);
    assert_eq!(
        basic["objects"],
        serde_json::json!({"0": "Hager", "1": "ECR380D", "2": "1.0.0"})
    );
    assert_eq!(basic["next_object_id"], 0);
    assert_eq!(lines[1]["read_code"], 4);
    assert_eq!(lines[1]["objects"], serde_json::json!({"1": "ECR380D"}));
    assert_eq!(lines[2]["objects"], serde_json::json!({"2": "1.0.0"}));
    assert_eq!(lines[3], serde_json::json!({"exception": 2}));
    assert_eq!(lines[4], serde_json::json!({"exception": 1}));
    let long = &lines[5];
    assert_eq!(long["objects"], serde_json::json!({"0": "V".repeat(244)}));
    assert_eq!(long["next_object_id"], 1);
    assert_ne!(long["more_follows"], 0, "{long}");
}

/// tokio-modbus's TCP server decodes requests itself and refuses a read device id code
/// other than 01..04 before the simulator sees it: it closes the connection without an
/// answer (FORMAT.md says so; on RTU the simulator answers exception 03).
#[tokio::test]
async fn tcp_request_with_an_unknown_read_device_id_code() {
    use tokio::io::AsyncReadExt;
    let sim = simulator();
    let (addr, _handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // MBAP (transaction 7, protocol 0, length 5, unit 1), then 2B 0E 05 00.
    stream
        .write_all(&[0, 7, 0, 0, 0, 5, HAGER, 0x2B, 0x0E, 0x05, 0x00])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "expected the connection closed without an answer, got {r:?} {:02X?}",
        &buf[..8]
    );
}
