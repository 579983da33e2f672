//! Modbus RTU between our poller and our simulator over a socat pseudo-terminal pair:
//! values, one transaction at a time for several devices on the line, a bad-CRC answer
//! counted as a CRC error, a silent device going "not communicating" and back.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod poll_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, Parity, RtuSettings,
};
use modbus_devices::poll::{DeviceState, Poller};
use modbus_devices::sim::{Fault, SerialSettings, SimClock, Simulator};
use modbus_devices::{Catalogue, Quality, Reading};

/// Start `socat` linking two pseudo-terminals at `a` and `b`.
fn pty_pair(dir: &Path) -> (poll_support::Peer, String, String) {
    let a = dir.join("master").to_string_lossy().into_owned();
    let b = dir.join("slave").to_string_lossy().into_owned();
    let child = Command::new("socat")
        .arg("-d")
        .arg(format!("pty,raw,echo=0,link={a}"))
        .arg(format!("pty,raw,echo=0,link={b}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = poll_support::Peer(child);
    let start = Instant::now();
    while !(Path::new(&a).exists() && Path::new(&b).exists()) {
        if let Ok(Some(status)) = peer.0.try_wait() {
            panic!("socat exited with {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "socat did not create the pseudo-terminals"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (peer, a, b)
}

fn good(readings: &[Reading], device: &str) -> bool {
    let mine: Vec<_> = readings.iter().filter(|r| r.device == device).collect();
    !mine.is_empty() && mine.iter().all(|r| r.quality == Quality::Good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario on one serial line (read, identify, CRC fault, timeout), read top to bottom"
)]
async fn rtu_over_a_socat_pty_pair() {
    if !poll_support::socat() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_socat, sim_side, poller_side) = pty_pair(dir.path());

    let cat = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, cat.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(5, cat.require("ECR180D").unwrap().clone())
        .unwrap();
    let _h = sim
        .serve_rtu(&sim_side, &SerialSettings::default())
        .await
        .unwrap();

    let mut line = RtuSettings::new(&poller_side);
    line.parity = Parity::Even;
    line.response_timeout_ms = 250;
    line.retries = 1;
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "rs485".into(),
        kind: BusKind::Rtu(line),
    })
    .unwrap();
    site.add_device(DeviceInstance::new(
        "main",
        "ECR380D",
        "rs485",
        DeviceAddress::Unit(1),
    ))
    .unwrap();
    site.add_device(DeviceInstance::new(
        "sub",
        "ECR180D",
        "rs485",
        DeviceAddress::Unit(5),
    ))
    .unwrap();
    let p = Poller::new(&site, &cat).unwrap();

    // Values as the simulator serves them.
    let r = tokio::time::timeout(Duration::from_secs(8), p.poll_once())
        .await
        .unwrap();
    assert!(good(&r, "main") && good(&r, "sub"), "{r:?}");
    let v = r
        .iter()
        .find(|r| r.point() == "main/v_l1_n")
        .unwrap()
        .value
        .as_ref()
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((220.0..240.0).contains(&v), "{v}");
    let f = r
        .iter()
        .find(|r| r.point() == "sub/freq")
        .unwrap()
        .value
        .as_ref()
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((49.5..50.5).contains(&f), "{f}");
    assert_eq!(p.identify("main").await.unwrap().status(), "match");
    let s = p.stats();
    let bus = s.bus("rs485").unwrap();
    assert_eq!(bus.kind, "rtu");
    assert_eq!(
        (bus.connects, bus.counters.timeouts, bus.counters.crc_errors),
        (1, 0, 0)
    );
    assert_eq!(bus.counters.requests, bus.counters.responses);

    // A device answering with a bad CRC: counted as CRC errors, not timeouts.
    sim.set_fault(5, Fault::BadCrc);
    let before = sim.request_count(5);
    let r = p.poll_device("sub").await.unwrap();
    assert!(r.iter().all(|r| r.quality == Quality::NoAnswer));
    assert_eq!(sim.request_count(5) - before, 2, "one request, tried twice");
    let sub = p.stats().device("sub").cloned().unwrap();
    assert_eq!(
        (sub.counters.crc_errors, sub.counters.timeouts),
        (2, 0),
        "{sub:?}"
    );
    assert_eq!(p.state("sub"), Some(DeviceState::NotCommunicating));
    sim.clear_fault(5);
    let r = p.poll_device("sub").await.unwrap();
    assert!(good(&r, "sub"));
    assert_eq!(p.state("sub"), Some(DeviceState::Communicating));

    // A silent device: not communicating, and the other device of the line still reads.
    sim.set_fault(1, Fault::NoAnswer);
    let r = p.poll_once().await;
    assert!(!good(&r, "main") && good(&r, "sub"));
    assert_eq!(p.state("main"), Some(DeviceState::NotCommunicating));
    assert_eq!(p.stats().device("main").unwrap().counters.timeouts, 2);
    sim.clear_fault(1);
    let r = p.poll_once().await;
    assert!(good(&r, "main"));
    assert_eq!(p.state("main"), Some(DeviceState::Communicating));
    let bus = p.stats().bus("rs485").cloned().unwrap();
    // The port stays open through timeouts; it is reopened after each bad-CRC answer
    // (tokio-modbus' decoder does not resume after a decoding error): 1 + 2.
    assert_eq!(bus.connects, 3);
    assert_eq!((bus.counters.crc_errors, bus.counters.timeouts), (2, 2));
}

/// No peer needed: two buses on one serial port would break "one transaction at a time".
#[test]
fn one_serial_port_is_one_bus() {
    let cat = Catalogue::builtin().unwrap();
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "a".into(),
        kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB9")),
    })
    .unwrap();
    site.add_bus(Bus {
        name: "b".into(),
        kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB9")),
    })
    .unwrap();
    let err = Poller::new(&site, &cat).unwrap_err();
    assert!(
        err.to_string().contains("/dev/ttyUSB9") && err.to_string().contains("one line is one bus"),
        "{err}"
    );
}
