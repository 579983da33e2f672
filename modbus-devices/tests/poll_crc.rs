//! CRC errors are told from the bytes on the wire, not from tokio-modbus' error text: a raw
//! RTU-over-TCP peer written here answers with frames damaged in chosen places (the CRC,
//! a data byte, the byte count, noise before the frame; short and long answers) and the
//! poller must count each as a CRC error; a valid frame from another unit is not one.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::Poller;
use modbus_devices::{Catalogue, Quality};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PRODUCTS: &str = r#"
[[product]]
references = ["CRC-SHORT"]
vendor = "Emkit Test"
model = "One register"
defaults = { function_code = 3 }

[[product.service]]
id = "v"
name = "Voltage"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0, type = "u16" }

[[product]]
references = ["CRC-LONG"]
vendor = "Emkit Test"
model = "Sixty registers"
defaults = { function_code = 3 }

[[product.service]]
id = "text"
name = "Long text"
quantity = "text"
unit = ""
category = "status"
register = { address = 0, type = "string", length = 60 }
"#;

/// How the peer answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Good,
    CrcInverted,
    DataByteFlipped,
    ByteCountDamaged,
    NoiseThenBadCrc,
    NoiseThenGood,
    OtherUnit,
}

fn crc16(data: &[u8]) -> u16 {
    // CRC-16/MODBUS written out here, independent of the crate's.
    let mut crc = 0xFFFFu16;
    for b in data {
        crc ^= u16::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn answer(mode: Mode, request: &[u8]) -> Vec<u8> {
    let unit = if mode == Mode::OtherUnit {
        request[0].wrapping_add(1)
    } else {
        request[0]
    };
    let count = u16::from_be_bytes([request[4], request[5]]);
    let mut adu = vec![unit, 0x03, (count * 2) as u8];
    for _ in 0..count {
        adu.extend_from_slice(&[0x41, 0x42]);
    }
    let crc = crc16(&adu);
    adu.extend_from_slice(&crc.to_le_bytes());
    let n = adu.len();
    match mode {
        Mode::CrcInverted => {
            adu[n - 2] ^= 0xFF;
            adu[n - 1] ^= 0xFF;
        }
        Mode::DataByteFlipped => adu[3] ^= 0x04,
        Mode::ByteCountDamaged => adu[2] ^= 0x01,
        Mode::NoiseThenBadCrc => {
            adu[n - 1] ^= 0x55;
            adu.insert(0, 0xFE);
        }
        Mode::NoiseThenGood => adu.insert(0, 0xFE),
        Mode::Good | Mode::OtherUnit => {}
    }
    adu
}

async fn peer(mode: Arc<Mutex<Mode>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mode = mode.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 8];
                while s.read_exact(&mut req).await.is_ok() {
                    let m = *mode.lock().unwrap();
                    if s.write_all(&answer(m, &req)).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn site(addr: SocketAddr) -> Installation {
    let mut s = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = 300;
    tcp.retries = 0;
    s.add_bus(Bus {
        name: "gw".into(),
        kind: BusKind::RtuOverTcp(tcp),
    })
    .unwrap();
    s.add_device(DeviceInstance::new(
        "short",
        "CRC-SHORT",
        "gw",
        DeviceAddress::Unit(2),
    ))
    .unwrap();
    s.add_device(DeviceInstance::new(
        "long",
        "CRC-LONG",
        "gw",
        DeviceAddress::Unit(3),
    ))
    .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crc_errors_are_judged_from_the_frame() {
    let mut cat = Catalogue::new();
    cat.load_str(Path::new("crc-products.toml"), PRODUCTS)
        .unwrap();
    let mode = Arc::new(Mutex::new(Mode::Good));
    let addr = peer(mode.clone()).await;
    let p = Poller::new(&site(addr), &cat).unwrap();
    let counts = |p: &Poller, d: &str| {
        let c = p.stats().device(d).unwrap().counters;
        (c.responses, c.crc_errors, c.timeouts, c.transport_errors)
    };

    let r = p.poll_once().await;
    assert!(r.iter().all(|r| r.quality == Quality::Good), "{r:?}");
    assert_eq!(counts(&p, "short"), (1, 0, 0, 0));
    assert_eq!(counts(&p, "long"), (1, 0, 0, 0));

    let mut expect_crc = 0;
    for m in [
        Mode::CrcInverted,
        Mode::DataByteFlipped,
        Mode::ByteCountDamaged,
        Mode::NoiseThenBadCrc,
    ] {
        *mode.lock().unwrap() = m;
        let r = p.poll_once().await;
        expect_crc += 1;
        assert!(
            r.iter().all(|r| r.quality == Quality::NoAnswer),
            "{m:?}: {r:?}"
        );
        for d in ["short", "long"] {
            assert_eq!(
                counts(&p, d),
                (1, expect_crc, 0, 0),
                "{m:?} {d} {:?}",
                p.stats().device(d)
            );
        }
        let err = p
            .stats()
            .device("long")
            .unwrap()
            .last_error
            .clone()
            .unwrap();
        assert!(err.contains("bad CRC"), "{m:?}: {err}");
    }

    // Noise before a valid answer: tokio-modbus resynchronises, we see a valid answer.
    *mode.lock().unwrap() = Mode::NoiseThenGood;
    let r = p.poll_once().await;
    assert!(r.iter().all(|r| r.quality == Quality::Good), "{r:?}");
    assert_eq!(counts(&p, "short"), (2, expect_crc, 0, 0));

    // A valid frame from another unit is not a CRC error (tokio-modbus reports the header
    // mismatch as a protocol error).
    *mode.lock().unwrap() = Mode::OtherUnit;
    let r = p.poll_device("short").await.unwrap();
    assert!(r.iter().all(|r| r.quality == Quality::NoAnswer));
    assert_eq!(counts(&p, "short"), (2, expect_crc, 0, 0));
    let s = p.stats().device("short").unwrap().clone();
    assert_eq!(s.counters.protocol_errors, 1, "{s:?}");
    assert!(!s.last_error.clone().unwrap().contains("CRC"), "{s:?}");

    // And back to a damaged answer: a CRC error again, not a timeout.
    *mode.lock().unwrap() = Mode::CrcInverted;
    let _ = p.poll_device("short").await.unwrap();
    assert_eq!(counts(&p, "short"), (2, expect_crc + 1, 0, 0));
}
