//! The cycle the poller really runs: by default the services that change in every cycle,
//! identification at first contact and after "not communicating", configuration on a slow
//! refresh; one [`Cycle`] per period, never two cycles within one period, no lost reading.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use modbus_devices::catalogue::{Category, Refresh};
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, RtuSettings, TcpSettings,
};
use modbus_devices::poll::{Cycle, DeviceState, Poller};
use modbus_devices::sim::{Fault, SimClock, Simulator};
use modbus_devices::value::Value;
use modbus_devices::{Catalogue, Product, Quality, Reading};

fn ecr(cat: &Catalogue) -> &Product {
    cat.require("ECR380D").unwrap()
}

fn ids(product: &Product, classes: &[Refresh]) -> BTreeSet<String> {
    product
        .services_refreshed(classes)
        .map(|s| s.id.clone())
        .collect()
}

fn services(readings: &[Reading]) -> BTreeSet<String> {
    readings.iter().map(|r| r.service.clone()).collect()
}

fn tcp_site(addr: SocketAddr) -> Installation {
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = 1000;
    tcp.retries = 1;
    let mut s = Installation::default();
    s.add_bus(Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(tcp),
    })
    .unwrap();
    s.add_device(DeviceInstance::new(
        "m1",
        "ECR380D",
        "lan",
        DeviceAddress::Unit(1),
    ))
    .unwrap();
    s
}

#[test]
fn default_cycle_of_ecr380d_reads_measurements_not_identification_or_configuration() {
    let cat = Catalogue::builtin().unwrap();
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "rs485".into(),
        kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB0")),
    })
    .unwrap();
    site.add_device(DeviceInstance::new(
        "m1",
        "ECR380D",
        "rs485",
        DeviceAddress::Unit(1),
    ))
    .unwrap();
    let poller = Poller::new(&site, &cat).unwrap();
    let plan = poller.plan().unwrap();
    let read: Vec<_> = plan.devices()[0].services().collect();
    let read_ids: BTreeSet<String> = read.iter().map(|s| s.id.clone()).collect();

    for s in &read {
        assert!(
            !matches!(
                s.category,
                Category::Identification | Category::Configuration
            ),
            "{} ({:?}) is in the regular cycle",
            s.id,
            s.category
        );
    }
    // The identification strings and versions and the configuration are out...
    let product = ecr(&cat);
    let identification = ids(product, &[Refresh::Identification]);
    let configuration = ids(product, &[Refresh::Configuration]);
    assert!(identification.contains("vendor"), "{identification:?}");
    assert!(!configuration.is_empty());
    assert!(read_ids.is_disjoint(&identification));
    assert!(read_ids.is_disjoint(&configuration));
    // ... every measurement, energy and state is in.
    for id in ["v_l1_n", "i_l1", "freq", "ea_import", "active_tariff"] {
        assert!(read_ids.contains(id), "{id} missing from {read_ids:?}");
    }
    for category in [Category::Energy, Category::Power, Category::Status] {
        assert!(read.iter().any(|s| s.category == category), "{category:?}");
    }
    assert_eq!(read_ids, ids(product, &[Refresh::Cyclic]));
    assert_eq!(
        plan.request_count(),
        poller.requests_per_cycle("m1").unwrap()
    );
    assert!(poller.requests_per_cycle("m1").unwrap() < poller.requests_per_poll("m1").unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identification_at_first_contact_and_after_silence_configuration_on_refresh() {
    let cat = Catalogue::builtin().unwrap();
    let product = ecr(&cat);
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, product.clone()).unwrap();
    let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let poller = Poller::new(&tcp_site(addr), &cat).unwrap();
    let cyclic = ids(product, &[Refresh::Cyclic]);
    let all = ids(product, &Refresh::ALL);
    let requests = |p: &Poller| p.stats().device("m1").unwrap().counters.requests;

    // First contact: everything, in catalogue order.
    let first = poller.poll_once().await;
    assert_eq!(services(&first), all);
    let order: Vec<_> = product
        .services_refreshed(&Refresh::ALL)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        first.iter().map(|r| r.service.as_str()).collect::<Vec<_>>(),
        order
    );
    assert!(first.iter().all(|r| r.quality == Quality::Good));
    let vendor = first.iter().find(|r| r.service == "vendor").unwrap();
    assert!(
        matches!(&vendor.value, Some(Value::Text(t)) if t.contains("Hager")),
        "{vendor:?}"
    );
    assert_eq!(
        requests(&poller),
        poller.requests_per_poll("m1").unwrap() as u64
    );

    // Regular cycles: the services that change, nothing else.
    for _ in 0..2 {
        let before = requests(&poller);
        let r = poller.poll_once().await;
        assert_eq!(services(&r), cyclic);
        assert_eq!(
            requests(&poller) - before,
            poller.requests_per_cycle("m1").unwrap() as u64
        );
    }

    // Silent, then back: the first poll after it answers again re-reads the identification
    // (the device may have been replaced), the configuration is not due yet.
    sim.set_fault(1, Fault::NoAnswer);
    let r = poller.poll_once().await;
    assert_eq!(poller.state("m1"), Some(DeviceState::NotCommunicating));
    assert_eq!(services(&r), cyclic, "a silent device's polls add nothing");
    assert!(r.iter().all(|r| r.quality == Quality::NoAnswer));
    sim.clear_fault(1);
    let back = poller.poll_once().await;
    assert_eq!(poller.state("m1"), Some(DeviceState::Communicating));
    assert_eq!(services(&back), cyclic);
    let again = poller.poll_once().await;
    let with_id: BTreeSet<String> = cyclic
        .union(&ids(product, &[Refresh::Identification]))
        .cloned()
        .collect();
    assert_eq!(services(&again), with_id);
    assert!(again.iter().all(|r| r.quality == Quality::Good));
    assert_eq!(services(&poller.poll_once().await), cyclic);

    // A parameter write: the next poll reads the configuration back.
    poller
        .write_parameter("m1", "modbus_address", &Value::Number(1.0))
        .await
        .unwrap();
    let with_config: BTreeSet<String> = cyclic
        .union(&ids(product, &[Refresh::Configuration]))
        .cloned()
        .collect();
    assert_eq!(services(&poller.poll_once().await), with_config);
    assert_eq!(services(&poller.poll_once().await), cyclic);
    poller.shutdown().await;

    // A zero refresh reads the configuration in every cycle.
    let every = Poller::new(&tcp_site(addr), &cat)
        .unwrap()
        .with_config_refresh(Duration::ZERO);
    assert_eq!(services(&every.poll_once().await), all);
    assert_eq!(services(&every.poll_once().await), with_config);
    every.shutdown().await;

    // An explicit service list is read as it is, in every poll.
    let mut site = tcp_site(addr);
    site.devices[0].services = Some(vec!["vendor".into(), "v_l1_n".into()]);
    let explicit = Poller::new(&site, &cat).unwrap();
    for _ in 0..2 {
        let r = explicit.poll_once().await;
        assert_eq!(
            r.iter().map(|r| r.service.as_str()).collect::<Vec<_>>(),
            ["vendor", "v_l1_n"]
        );
    }
    assert_eq!(
        explicit.requests_per_cycle("m1").unwrap(),
        explicit.requests_per_poll("m1").unwrap()
    );
    explicit.shutdown().await;
}

/// A device slowed down by the simulator makes each cycle last longer than the period for
/// a while, then answers at full speed again. Every cycle is delivered as one batch,
/// numbered without a gap; no two cycles start less than one period apart (no catch-up
/// burst after the slow ones); every reading of every cycle arrives, good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_device_gives_no_double_cycle_and_no_lost_reading() {
    const PERIOD: Duration = Duration::from_millis(250);
    let cat = Catalogue::builtin().unwrap();
    let product = ecr(&cat);
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, product.clone()).unwrap();
    let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let poller = Arc::new(Poller::new(&tcp_site(addr), &cat).unwrap());
    let per_cycle = poller.requests_per_cycle("m1").unwrap();
    // Each request waits long enough that a regular cycle takes about twice the period.
    let delay = (2 * PERIOD / per_cycle as u32).max(Duration::from_millis(40));
    sim.set_fault(1, Fault::Delay(delay));

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cycle>(1);
    let task = poller.clone().spawn(PERIOD, tx);
    let recv = async |rx: &mut tokio::sync::mpsc::Receiver<Cycle>| {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a cycle within 10 s")
            .expect("the poller runs")
    };
    let mut cycles = Vec::new();
    for _ in 0..4 {
        cycles.push(recv(&mut rx).await);
    }
    let slow = cycles.len();
    sim.clear_fault(1);
    for _ in 0..6 {
        cycles.push(recv(&mut rx).await);
    }
    drop(rx);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the poller stops when the receiver is gone")
        .unwrap();

    let all = ids(product, &Refresh::ALL);
    let cyclic = ids(product, &[Refresh::Cyclic]);
    let mut readings = 0;
    for (k, c) in cycles.iter().enumerate() {
        assert_eq!(c.number, k as u64 + 1, "cycles are numbered without a gap");
        let want = if k == 0 { &all } else { &cyclic };
        assert_eq!(c.readings.len(), want.len(), "cycle {}", c.number);
        assert_eq!(&services(&c.readings), want, "cycle {}", c.number);
        assert!(
            c.readings
                .iter()
                .all(|r| r.device == "m1" && r.quality == Quality::Good),
            "cycle {}: {:?}",
            c.number,
            c.readings
        );
        assert!(
            c.readings
                .iter()
                .all(|r| r.timestamp >= c.started && r.timestamp <= c.finished)
        );
        readings += c.readings.len();
    }
    assert_eq!(readings, all.len() + (cycles.len() - 1) * cyclic.len());

    // Slow cycles really were longer than the period...
    for c in &cycles[1..slow] {
        let took = (c.finished - c.started).to_std().unwrap();
        assert!(took > PERIOD, "cycle {} took {took:?}", c.number);
    }
    // ... and no cycle started less than one period after the previous one, in particular
    // not right after them (a catch-up burst would start cycles a fast cycle apart, a few
    // ms). 10 ms of tolerance: `started` is the wall clock read when the task wakes up
    // after its tick, which a loaded machine delays by a few ms.
    let jitter = Duration::from_millis(10);
    for w in cycles.windows(2) {
        let gap = (w[1].started - w[0].started).to_std().unwrap();
        assert!(
            gap + jitter >= PERIOD,
            "cycles {} and {} started {gap:?} apart",
            w[0].number,
            w[1].number
        );
        let previous = (w[0].finished - w[0].started).to_std().unwrap();
        assert!(gap + jitter >= previous);
    }
    let stats = poller.stats();
    let m1 = stats.device("m1").unwrap();
    assert_eq!(m1.polls, cycles.len() as u64);
    assert_eq!(m1.counters.timeouts, 0);
}
