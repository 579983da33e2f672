//! The simulator's RTU framings: Modbus RTU on a socat pseudo-terminal pair (read with raw
//! frames and with the tokio-modbus RTU client over tokio-serial), and RTU over TCP.
//! Covers unit-id filtering (no answer), broadcast, bad CRC injection, bad CRC requests,
//! split frames and unknown function codes.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod sim_support;

use std::time::Duration;

use modbus_devices::sim::{Fault, SerialSettings, SimClock, Simulator};
use modbus_devices::{FunctionCode, Product};
use sim_support::*;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_modbus::client::Reader;
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Slave};

/// Read 2 holding registers at 0x0000 (the voltages of SIM-3P).
const READ_V: [u8; 5] = [0x03, 0x00, 0x00, 0x00, 0x02];
/// Its response: unit, FC, byte count, 4 data bytes, CRC.
const READ_V_RESPONSE_LEN: usize = 9;

async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    frame: &[u8],
    expect: usize,
    within: Duration,
) -> Vec<u8> {
    io.write_all(frame).await.unwrap();
    io.flush().await.unwrap();
    read_bytes(io, expect, within).await
}

fn check_read_v(unit: u8, r: &[u8]) {
    assert_eq!(r.len(), READ_V_RESPONSE_LEN, "{r:02X?}");
    assert_eq!(&r[..3], &[unit, 0x03, 0x04]);
    let crc = crc16_modbus(&r[..r.len() - 2]);
    assert_eq!(u16::from_le_bytes([r[7], r[8]]), crc, "correct CRC");
    let v = u16::from_be_bytes([r[3], r[4]]);
    assert!((22_000..24_000).contains(&v), "V(L1) raw {v}");
}

/// The raw-frame checks every RTU framing must pass (manual clock: identical bodies).
async fn raw_rtu_checks<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T, sim: &Simulator) {
    let ms = Duration::from_millis;
    // A normal answer.
    let good = exchange(io, &rtu_frame(1, &READ_V), READ_V_RESPONSE_LEN, ms(2000)).await;
    check_read_v(1, &good);

    // A unit id nobody has: silence, as on a bus.
    let none = exchange(io, &rtu_frame(99, &READ_V), 1, ms(300)).await;
    assert!(none.is_empty(), "unknown unit answered {none:02X?}");

    // A request with a bad CRC is ignored.
    let mut bad = rtu_frame(1, &READ_V);
    bad[7] ^= 0x55;
    let none = exchange(io, &bad, 1, ms(300)).await;
    assert!(none.is_empty(), "bad-CRC request answered {none:02X?}");

    // Bad CRC injection: the same body, a wrong CRC.
    sim.set_fault(1, Fault::BadCrc);
    let corrupt = exchange(io, &rtu_frame(1, &READ_V), READ_V_RESPONSE_LEN, ms(2000)).await;
    assert_eq!(corrupt.len(), READ_V_RESPONSE_LEN);
    assert_eq!(corrupt[..7], good[..7], "body unchanged");
    assert_ne!(
        u16::from_le_bytes([corrupt[7], corrupt[8]]),
        crc16_modbus(&corrupt[..7]),
        "CRC corrupted"
    );
    sim.clear_fault(1);

    // Exception and no-answer faults on RTU.
    sim.set_fault(1, Fault::Exception(4));
    let e = exchange(io, &rtu_frame(1, &READ_V), 5, ms(2000)).await;
    assert_eq!(e, rtu_frame(1, &[0x83, 0x04]));
    sim.set_fault(1, Fault::NoAnswer);
    assert!(
        exchange(io, &rtu_frame(1, &READ_V), 1, ms(300))
            .await
            .is_empty()
    );
    sim.clear_fault(1);

    // An exception from the address rules (forbidden range 0x0060..0x006F).
    let e = exchange(
        io,
        &rtu_frame(1, &[0x03, 0x00, 0x60, 0x00, 0x01]),
        5,
        ms(2000),
    )
    .await;
    assert_eq!(e, rtu_frame(1, &[0x83, 0x02]));

    // Broadcast write of the Modbus address parameter: executed, never answered.
    let none = exchange(
        io,
        &rtu_frame(0, &[0x06, 0x00, 0x70, 0x00, 0x21]),
        1,
        ms(300),
    )
    .await;
    assert!(none.is_empty(), "broadcast answered {none:02X?}");
    let r = exchange(
        io,
        &rtu_frame(1, &[0x03, 0x00, 0x70, 0x00, 0x01]),
        7,
        ms(2000),
    )
    .await;
    assert_eq!(r, rtu_frame(1, &[0x03, 0x02, 0x00, 0x21]));

    // A frame arriving in two pieces is still one frame.
    let f = rtu_frame(1, &READ_V);
    io.write_all(&f[..3]).await.unwrap();
    io.flush().await.unwrap();
    tokio::time::sleep(ms(60)).await;
    let split = exchange(io, &f[3..], READ_V_RESPONSE_LEN, ms(2000)).await;
    assert_eq!(split, good);

    // An unknown function code (delimited by silence) answers exception 01.
    let e = exchange(io, &rtu_frame(1, &[0x41, 0x01, 0x02]), 5, ms(2000)).await;
    assert_eq!(e, rtu_frame(1, &[0xC1, 0x01]));

    // Noise right before a frame: the slave resynchronises and answers the frame.
    let noisy = [vec![0x01, 0x03, 0xFF], rtu_frame(1, &READ_V)].concat();
    let again = exchange(io, &noisy, READ_V_RESPONSE_LEN, ms(2000)).await;
    assert_eq!(again, good);
    // Noise alone is dropped at the next silence; the line works afterwards.
    io.write_all(&[0x01, 0x03, 0xFF]).await.unwrap();
    io.flush().await.unwrap();
    tokio::time::sleep(ms(700)).await;
    let again = exchange(io, &rtu_frame(1, &READ_V), READ_V_RESPONSE_LEN, ms(2000)).await;
    assert_eq!(again, good);
}

fn sim_with_3p() -> (Simulator, Product) {
    let p = product("SIM-3P");
    let sim = Simulator::new(SimClock::manual(t0()))
        .with_device(1, p.clone())
        .unwrap()
        .with_device(2, product("SIM-1P"))
        .unwrap();
    (sim, p)
}

#[tokio::test]
async fn rtu_on_a_socat_pseudo_terminal_pair() {
    let Some(pty) = PtyPair::new() else { return };
    let (sim, p) = sim_with_3p();
    let settings = SerialSettings::default();
    let handle = sim.serve_rtu(&pty.a, &settings).await.unwrap();
    assert!(handle.description().contains("RTU"));

    let builder = tokio_serial::new(pty.b.to_string_lossy(), settings.baud_rate)
        .parity(settings.parity)
        .stop_bits(settings.stop_bits)
        .data_bits(settings.data_bits);
    let mut port = tokio_serial::SerialStream::open(&builder).unwrap();
    raw_rtu_checks(&mut port, &sim).await;

    // The tokio-modbus RTU client over the same line.
    let mut ctx = tokio_modbus::client::rtu::attach_slave(port, Slave(1));
    for s in &p.services {
        let v = read_def(&mut ctx, &s.register).await;
        plausible(s, &v).unwrap_or_else(|e| panic!("{}: {e}", s.id));
    }
    ctx.set_slave(Slave(2));
    let w = read(&mut ctx, FunctionCode::Input, 0, 1).await.unwrap();
    assert!((22_000..24_000).contains(&w[0]), "SIM-1P at unit 2: {w:?}");
    ctx.set_slave(Slave(1));
    assert_eq!(
        read(&mut ctx, FunctionCode::Holding, 0x0200, 1).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    // Unknown unit: no answer, the client times out.
    ctx.set_slave(Slave(77));
    let r =
        tokio::time::timeout(Duration::from_millis(300), ctx.read_holding_registers(0, 1)).await;
    assert!(r.is_err(), "unit 77 answered: {r:?}");
    // A corrupted CRC makes the client fail (an error or a timeout, never a value).
    ctx.set_slave(Slave(1));
    handle.set_fault(1, Fault::BadCrc);
    let r =
        tokio::time::timeout(Duration::from_millis(500), ctx.read_holding_registers(0, 2)).await;
    assert!(!matches!(r, Ok(Ok(Ok(_)))), "bad CRC accepted: {r:?}");
    handle.stop().await;
}

#[tokio::test]
async fn rtu_over_tcp_raw_frames() {
    let (sim, _) = sim_with_3p();
    let (addr, _handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw_rtu_checks(&mut stream, &sim).await;
}

#[tokio::test]
async fn rtu_over_tcp_with_the_tokio_modbus_rtu_client() {
    let (sim, p) = sim_with_3p();
    let (addr, _handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut ctx = tokio_modbus::client::rtu::attach_slave(stream, Slave(1));
    for s in &p.services {
        let v = read_def(&mut ctx, &s.register).await;
        plausible(s, &v).unwrap_or_else(|e| panic!("{}: {e}", s.id));
    }
    // Two connections are served independently.
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut other = tokio_modbus::client::rtu::attach_slave(stream, Slave(2));
    assert!(read(&mut other, FunctionCode::Input, 0, 11).await.is_ok());
    // Slow answers on RTU over TCP.
    sim.set_fault(1, Fault::Delay(Duration::from_millis(300)));
    let start = std::time::Instant::now();
    assert!(read(&mut ctx, FunctionCode::Holding, 0, 1).await.is_ok());
    assert!(start.elapsed() >= Duration::from_millis(300));
}
