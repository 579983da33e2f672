//! Fault injection with our simulator: a device goes "not communicating" when it stops
//! answering and comes back at the first answer; timeouts, CRC errors and exceptions are
//! counted and typed; RTU framing over TCP; periodic polling into a channel.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::{DeviceState, ModbusException, PollError, Poller};
use modbus_devices::sim::{Fault, SimClock, Simulator};
use modbus_devices::{Catalogue, Quality};

fn sim(catalogue: &Catalogue) -> Simulator {
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, catalogue.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(2, catalogue.require("ECR380D").unwrap().clone())
        .unwrap();
    sim
}

fn site(kind: fn(TcpSettings) -> BusKind, addr: SocketAddr, units: &[u8]) -> Installation {
    site_with_timeout(kind, addr, units, 250)
}

fn site_with_timeout(
    kind: fn(TcpSettings) -> BusKind,
    addr: SocketAddr,
    units: &[u8],
    timeout_ms: u64,
) -> Installation {
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = timeout_ms;
    tcp.retries = 1;
    let mut s = Installation::default();
    s.add_bus(Bus {
        name: "bus".into(),
        kind: kind(tcp),
    })
    .unwrap();
    for u in units {
        s.add_device(DeviceInstance::new(
            format!("m{u}"),
            "ECR380D",
            "bus",
            DeviceAddress::Unit(*u),
        ))
        .unwrap();
    }
    s
}

fn all_good(readings: &[modbus_devices::Reading], device: &str) -> bool {
    let mine: Vec<_> = readings.iter().filter(|r| r.device == device).collect();
    !mine.is_empty()
        && mine.iter().all(|r| r.quality == Quality::Good)
        && mine.iter().any(|r| r.value.is_some())
}

/// Every reading of `device` has `quality` and no value.
fn all_with(readings: &[modbus_devices::Reading], device: &str, quality: Quality) -> bool {
    let mine: Vec<_> = readings.iter().filter(|r| r.device == device).collect();
    !mine.is_empty()
        && mine
            .iter()
            .all(|r| r.quality == quality && r.value.is_none())
}

async fn poll(p: &Poller) -> Vec<modbus_devices::Reading> {
    tokio::time::timeout(Duration::from_secs(8), p.poll_once())
        .await
        .expect("a poll cycle must end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_makes_a_device_not_communicating_and_back() {
    let cat = Catalogue::builtin().unwrap();
    let sim = sim(&cat);
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let p = Poller::new(&site(BusKind::Tcp, addr, &[1, 2]), &cat).unwrap();

    let r = poll(&p).await;
    assert!(all_good(&r, "m1") && all_good(&r, "m2"));
    assert_eq!(
        p.states(),
        vec![
            ("m1".into(), DeviceState::Communicating),
            ("m2".into(), DeviceState::Communicating)
        ]
    );
    let blocks = p.requests_per_poll("m1").unwrap() as u64;
    assert!(
        blocks > 1,
        "the test wants a device read with several requests"
    );

    sim.set_fault(1, Fault::NoAnswer);
    let t = std::time::Instant::now();
    let r = poll(&p).await;
    let took = t.elapsed();
    assert!(all_with(&r, "m1", Quality::NoAnswer), "{r:?}");
    assert!(
        all_good(&r, "m2"),
        "another device of the bus is not affected"
    );
    assert_eq!(p.state("m1"), Some(DeviceState::NotCommunicating));
    assert_eq!(p.state("m2"), Some(DeviceState::Communicating));
    let s = p.stats();
    let m1 = s.device("m1").unwrap();
    // One request, tried twice (retries = 1), then the rest of the device is skipped.
    assert_eq!(m1.counters.timeouts, 2, "{m1:?}");
    assert_eq!(m1.counters.requests, blocks + 2);
    assert_eq!(m1.failed_polls, 1);
    assert!(
        m1.last_error
            .as_deref()
            .unwrap()
            .contains("no answer within 250 ms (2 tries)"),
        "{m1:?}"
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(s.bus("bus").unwrap().counters.timeouts, 2);

    // Still silent: stays not communicating.
    poll(&p).await;
    assert_eq!(p.state("m1"), Some(DeviceState::NotCommunicating));

    sim.clear_fault(1);
    let r = poll(&p).await;
    assert!(all_good(&r, "m1"), "{r:?}");
    assert_eq!(p.state("m1"), Some(DeviceState::Communicating));
    let m1 = p.stats().device("m1").cloned().unwrap();
    assert_eq!(m1.counters.timeouts, 4);
    assert_eq!(m1.polls, 4);
    assert_eq!(m1.failed_polls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_and_slow_faults() {
    let cat = Catalogue::builtin().unwrap();
    let sim = sim(&cat);
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    // A timeout long enough that no answer is late on a loaded machine: the counts below
    // must not see a retry.
    let site = site_with_timeout(BusKind::Tcp, addr, &[1], 1500);
    let p = Poller::new(&site, &cat).unwrap();
    let blocks = p.requests_per_poll("m1").unwrap() as u64;

    sim.set_fault(1, Fault::Exception(4));
    let r = poll(&p).await;
    assert!(all_with(&r, "m1", Quality::Invalid));
    assert_eq!(
        p.state("m1"),
        Some(DeviceState::Communicating),
        "an exception is an answer"
    );
    let m1 = p.stats().device("m1").cloned().unwrap();
    assert_eq!(
        (
            m1.counters.requests,
            m1.counters.responses,
            m1.counters.exceptions
        ),
        (blocks, blocks, blocks),
        "exceptions are not retried"
    );
    assert!(
        m1.last_error
            .unwrap()
            .contains("exception 04 (server device failure)")
    );
    // The same, typed, on a write.
    let err = p
        .write_parameter("m1", "modbus_address", &modbus_devices::Value::Number(3.0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PollError::Exception {
                exception: ModbusException::ServerDeviceFailure,
                ..
            }
        ),
        "{err}"
    );

    // A slow answer within the timeout is fine and shows in the latency.
    sim.set_fault(1, Fault::Delay(Duration::from_millis(60)));
    let r = poll(&p).await;
    assert!(all_good(&r, "m1"));
    let lat = p.stats().device("m1").unwrap().counters.latency;
    assert!(lat.max_ms.unwrap() >= 60.0, "{lat:?}");
    assert!(lat.min_ms.unwrap() <= lat.mean_ms.unwrap());

    // Slower than the timeout: no answer.
    sim.set_fault(1, Fault::Delay(Duration::from_millis(2000)));
    let r = poll(&p).await;
    assert!(all_with(&r, "m1", Quality::NoAnswer));
    assert_eq!(p.state("m1"), Some(DeviceState::NotCommunicating));
    sim.clear_fault(1);
    // The late answer to the abandoned request must not be taken for a new one.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = poll(&p).await;
    assert!(all_good(&r, "m1"));
    assert_eq!(p.state("m1"), Some(DeviceState::Communicating));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_over_tcp_reads_and_counts_crc_errors() {
    let cat = Catalogue::builtin().unwrap();
    let sim = sim(&cat);
    let (addr, _h) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let p = Poller::new(&site(BusKind::RtuOverTcp, addr, &[1, 2]), &cat).unwrap();

    let r = poll(&p).await;
    assert!(all_good(&r, "m1") && all_good(&r, "m2"), "{r:?}");
    let v = r
        .iter()
        .find(|r| r.point() == "m1/v_l1_n")
        .unwrap()
        .value
        .as_ref()
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((220.0..240.0).contains(&v), "{v}");

    sim.set_fault(2, Fault::BadCrc);
    let r = poll(&p).await;
    assert!(all_good(&r, "m1") && all_with(&r, "m2", Quality::NoAnswer));
    assert_eq!(p.state("m2"), Some(DeviceState::NotCommunicating));
    let m2 = p.stats().device("m2").cloned().unwrap();
    assert_eq!(m2.counters.crc_errors, 2, "{m2:?}");
    assert_eq!(m2.counters.timeouts, 0, "{m2:?}");
    assert!(m2.last_error.unwrap().contains("bad CRC"));
    assert_eq!(p.stats().bus("bus").unwrap().counters.crc_errors, 2);

    sim.clear_fault(2);
    let r = poll(&p).await;
    assert!(all_good(&r, "m2"));
    assert_eq!(p.state("m2"), Some(DeviceState::Communicating));

    // A short answer (one register, 7 bytes) with a bad CRC: tokio-modbus does not report it
    // (it waits for a valid frame until the timeout); the bytes received tell it apart.
    let mut short = site(BusKind::RtuOverTcp, addr, &[2]);
    short.devices[0].services = Some(vec!["v_l1_n".into()]);
    let p = Poller::new(&short, &cat).unwrap();
    assert_eq!(p.requests_per_poll("m2").unwrap(), 1);
    sim.set_fault(2, Fault::BadCrc);
    let t = std::time::Instant::now();
    let r = poll(&p).await;
    let took = t.elapsed();
    assert!(all_with(&r, "m2", Quality::NoAnswer));
    let m2 = p.stats().device("m2").cloned().unwrap();
    assert_eq!(
        (m2.counters.crc_errors, m2.counters.timeouts),
        (2, 0),
        "{m2:?}"
    );
    assert!(
        took >= Duration::from_millis(500),
        "both tries waited for their timeout: {took:?}"
    );
    sim.clear_fault(2);
    assert!(all_good(&poll(&p).await, "m2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_unit_on_rtu_framing_times_out() {
    let cat = Catalogue::builtin().unwrap();
    let sim = sim(&cat);
    let (addr, _h) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let p = Poller::new(&site(BusKind::RtuOverTcp, addr, &[9]), &cat).unwrap();
    let r = poll(&p).await;
    assert!(all_with(&r, "m9", Quality::NoAnswer));
    let m9 = p.stats().device("m9").cloned().unwrap();
    assert_eq!((m9.counters.timeouts, m9.counters.crc_errors), (2, 0));
    // Identification reports the transport error with the device.
    let id = p.identify("m9").await.unwrap();
    assert_eq!(id.status(), "error");
    assert!(
        id.detail().contains("\"m9\"") && id.detail().contains("no answer"),
        "{}",
        id.detail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identification_against_the_simulator() {
    let cat = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, cat.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(2, cat.require("ECR180D").unwrap().clone())
        .unwrap();
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut s = site(BusKind::Tcp, addr, &[1]);
    // Declared as an ECR380D, but unit 2 is an ECR180D.
    s.add_device(DeviceInstance::new(
        "wrong",
        "ECR380D",
        "bus",
        DeviceAddress::Unit(2),
    ))
    .unwrap();
    let p = Poller::new(&s, &cat).unwrap();
    let id = p.identify("m1").await.unwrap();
    assert!(id.is_match(), "{id:?}");
    let id = p.identify("wrong").await.unwrap();
    assert_eq!(id.status(), "mismatch");
    assert!(
        id.detail().contains("declared ECR380D but found ECR180D"),
        "{}",
        id.detail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_polling_feeds_a_channel() {
    let cat = Catalogue::builtin().unwrap();
    let sim = sim(&cat);
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let p = std::sync::Arc::new(Poller::new(&site(BusKind::Tcp, addr, &[1]), &cat).unwrap());
    let per_cycle = cat
        .require("ECR380D")
        .unwrap()
        .services
        .iter()
        .filter(|s| s.register.access != modbus_devices::register::Access::Write)
        .count();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let task = p.clone().spawn(Duration::from_millis(100), tx);
    let mut got = Vec::new();
    while got.len() < 2 * per_cycle {
        let cycle: modbus_devices::poll::Cycle =
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
        got.extend(cycle.readings);
    }
    assert!(
        got.iter()
            .all(|r| r.device == "m1" && r.quality == Quality::Good)
    );
    assert!(
        got[per_cycle].timestamp > got[0].timestamp,
        "a second cycle"
    );
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the poller stops when the receiver is gone")
        .unwrap();
    assert!(p.stats().device("m1").unwrap().polls >= 2);
}

/// Each quality word from its cause, against the simulator on RTU framing over TCP: values
/// read are `Good` (the only readings with a value); the phases a single-phase ECR140D does
/// not have, read as an ECR380D, are `NotAvailable` (it answers with its "not available"
/// sentinel, and stays communicating); an exception answer is `Invalid`; silence, a bad CRC
/// and a unit nobody answers are `NoAnswer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_quality_from_its_cause() {
    let cat = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, cat.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(2, cat.require("ECR140D").unwrap().clone())
        .unwrap();
    let (addr, _h) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    // Every device is declared an ECR380D: unit 2 is really single-phase, unit 9 absent.
    let p = Poller::new(&site(BusKind::RtuOverTcp, addr, &[1, 2, 9]), &cat).unwrap();
    let quality = |r: &[modbus_devices::Reading], point: &str| {
        r.iter().find(|x| x.point() == point).map(|x| x.quality)
    };
    let only_good_has_a_value = |r: &[modbus_devices::Reading]| {
        for x in r {
            assert_eq!(x.value.is_some(), x.quality == Quality::Good, "{x:?}");
        }
    };

    let r = poll(&p).await;
    only_good_has_a_value(&r);
    assert!(all_good(&r, "m1"), "{r:?}");
    assert_eq!(quality(&r, "m2/v_l1_n"), Some(Quality::Good));
    for phase in ["m2/v_l2_n", "m2/v_l3_n", "m2/i_l2", "m2/i_l3"] {
        assert_eq!(quality(&r, phase), Some(Quality::NotAvailable), "{phase}");
    }
    assert_eq!(p.state("m2"), Some(DeviceState::Communicating));
    assert!(all_with(&r, "m9", Quality::NoAnswer));

    sim.set_fault(1, Fault::Exception(2));
    sim.set_fault(2, Fault::BadCrc);
    let r = poll(&p).await;
    only_good_has_a_value(&r);
    assert!(all_with(&r, "m1", Quality::Invalid), "{r:?}");
    assert!(all_with(&r, "m2", Quality::NoAnswer), "{r:?}");
    assert_eq!(p.state("m1"), Some(DeviceState::Communicating));

    sim.set_fault(1, Fault::NoAnswer);
    sim.clear_fault(2);
    let r = poll(&p).await;
    only_good_has_a_value(&r);
    assert!(all_with(&r, "m1", Quality::NoAnswer), "{r:?}");
    assert_eq!(p.state("m1"), Some(DeviceState::NotCommunicating));
    assert_eq!(quality(&r, "m2/v_l2_n"), Some(Quality::NotAvailable));
}
