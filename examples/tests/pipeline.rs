//! The whole path on loopback, as an integrator composes it: simulator -> poller (one
//! batch per cycle) -> SQLite store and alarm engine -> report, with one device silent for
//! three cycles whose timeouts make those cycles longer than the poll period. Counts what
//! went in and what came out: every good reading is stored exactly once, no cycle is lost
//! or doubled, the alarm transitions are exactly the expected ones at their exact instants,
//! and nothing is dropped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use alarms::{Engine, RuleSet, TransitionKind};
use chrono::{DateTime, Utc};
use examples::pipeline::{AlarmFeed, NotStored, StoreFeed, number};
use modbus_devices::Catalogue;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::{Cycle, Poller};
use modbus_devices::sim::{Fault, SimClock, Simulator};
use modbus_devices::{Quality, Value};
use reports::{SqliteStore, Store, StoreOptions, WriteReport};

const CYCLES: u64 = 9;
/// The pump's fault is set when cycle 2 arrives (cycle 3 starts a period later) and cleared
/// when cycle 5 arrives. A silent cycle overruns the period, so the next one starts as soon
/// as it ends, possibly before the fault is cleared: the pump is silent in cycles 3 to 5 or 6.
const FAULT_SET_AFTER: u64 = 2;
const FAULT_CLEARED_AFTER: u64 = 5;
const PERIOD: Duration = Duration::from_secs(1);
/// Longer than the period: a silent cycle overruns, and the poller must not catch up with a
/// burst.
const TIMEOUT_MS: u64 = 1_200;

const RULES: &str = r#"
[[rule]]
id = "mains-present"
points = ["main/v_l1_n"]
kind = "high"
threshold = 100.0
priority = "minor"

[[rule]]
id = "pump-overvoltage"
points = ["pump/v_l1_n"]
kind = "high"
threshold = 1000.0
priority = "major"

[[rule]]
id = "pump-offline"
points = ["pump/v_l1_n"]
kind = "offline"
timeout = "1500ms"
priority = "critical"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario over real sockets: each step's checks follow it, in order"
)]
async fn poller_store_alarms_with_a_silent_device_lose_nothing() {
    let catalogue = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(1, catalogue.require("ECR380D").unwrap().clone())
        .unwrap();
    sim.add_device(2, catalogue.require("SDM630").unwrap().clone())
        .unwrap();
    sim.add_device(3, catalogue.require("ECR140D").unwrap().clone())
        .unwrap();
    let (addr, server) = sim.serve_tcp("127.0.0.1:0").await.unwrap();

    let mut site = Installation::default();
    let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
    tcp.timeout_ms = TIMEOUT_MS;
    tcp.retries = 0;
    site.add_bus(Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(tcp),
    })
    .unwrap();
    for (name, product, unit) in [
        ("main", "ECR380D", 1),
        ("pump", "SDM630", 2),
        ("light", "ECR140D", 3),
    ] {
        site.add_device(DeviceInstance::new(
            name,
            product,
            "lan",
            DeviceAddress::Unit(unit),
        ))
        .unwrap();
    }
    let poller = std::sync::Arc::new(Poller::new(&site, &catalogue).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("site.db"), StoreOptions::default()).unwrap();
    let mut feed = StoreFeed::new();
    let rules = RuleSet::from_toml("rules.toml", RULES).unwrap();
    let mut alarms = AlarmFeed::new(Engine::new(&rules, &[]).unwrap());

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cycle>(4);
    let runner = {
        let poller = poller.clone();
        tokio::spawn(async move { poller.run(PERIOD, tx).await })
    };

    let mut cycles = Vec::new();
    let mut written = WriteReport::default();
    let mut not_stored = NotStored::default();
    let mut transitions = Vec::new();
    let mut rejected = 0;
    while let Some(cycle) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a cycle within 10 s")
    {
        let (report, skipped) = feed.write(&mut store, &cycle).unwrap();
        written.add(report);
        not_stored.add(skipped);
        let (processed, _) = alarms.process(&cycle, &mut transitions);
        rejected += processed.rejected();
        match cycle.number {
            FAULT_SET_AFTER => server.set_fault(2, Fault::NoAnswer),
            FAULT_CLEARED_AFTER => server.clear_fault(2),
            _ => {}
        }
        cycles.push(cycle);
        if cycles.len() as u64 == CYCLES {
            break;
        }
    }
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(5), runner).await;
    alarms.tick(cycles.last().unwrap().finished, &mut transitions);

    // Cycles: numbered 1.. without a gap, starts at least one period apart (no catch-up burst
    // after the overrunning silent cycles), and the silent cycles really overran.
    let numbers: Vec<u64> = cycles.iter().map(|c| c.number).collect();
    assert_eq!(
        numbers,
        (1..=CYCLES).collect::<Vec<_>>(),
        "no lost or doubled cycle"
    );
    for w in cycles.windows(2) {
        let gap = w[1].started - w[0].started;
        assert!(
            gap >= chrono::Duration::milliseconds(990),
            "cycles {} and {} started {gap} apart",
            w[0].number,
            w[1].number
        );
    }
    let silent: Vec<u64> = cycles
        .iter()
        .filter(|c| {
            c.readings
                .iter()
                .any(|r| r.device == "pump" && r.quality == Quality::NoAnswer)
        })
        .map(|c| c.number)
        .collect();
    let n = silent.len() as u64;
    assert!(
        silent == (FAULT_SET_AFTER + 1..FAULT_SET_AFTER + 1 + n).collect::<Vec<_>>()
            && (3..=4).contains(&n),
        "the pump is silent from cycle 3 for three or four cycles: {silent:?}"
    );
    let silent = FAULT_SET_AFTER + 1..=FAULT_SET_AFTER + n;
    for c in cycles.iter().filter(|c| silent.contains(&c.number)) {
        assert!(c.finished - c.started >= chrono::Duration::milliseconds(TIMEOUT_MS as i64));
    }

    // The poller's side: every reading of the pump is no answer in the silent cycles; every other
    // reading is good.
    let mut expected: HashMap<String, usize> = HashMap::new();
    let mut good_numbers = 0u64;
    for c in &cycles {
        for r in &c.readings {
            let pump_silent = r.device == "pump" && silent.contains(&c.number);
            assert_eq!(
                r.quality == Quality::NoAnswer,
                pump_silent,
                "cycle {} {}: {:?}",
                c.number,
                r.point(),
                r.quality
            );
            assert_ne!(r.quality, Quality::Invalid, "{}", r.point());
            if r.quality == Quality::Good && r.value.as_ref().and_then(number).is_some() {
                good_numbers += 1;
                *expected.entry(r.point()).or_default() += 1;
            }
        }
    }
    assert!(
        good_numbers > 100,
        "the devices gave readings: {good_numbers}"
    );

    // The store: every good reading stored exactly once, nothing replaced or merged.
    assert_eq!(written.stored, good_numbers, "every good reading stored");
    assert_eq!(
        (written.replaced, written.duplicates, written.late),
        (0, 0, 0)
    );
    let readings_in: u64 = cycles.iter().map(|c| c.readings.len() as u64).sum();
    assert_eq!(
        written.stored + not_stored.total(),
        readings_in,
        "each reading accounted for"
    );
    let all = || cycles.iter().flat_map(|c| &c.readings);
    let count =
        |f: &dyn Fn(&modbus_devices::Reading) -> bool| all().filter(|r| f(r)).count() as u64;
    assert_eq!(
        not_stored.failed,
        count(&|r| matches!(r.quality, Quality::NoAnswer | Quality::Invalid))
    );
    assert_eq!(
        not_stored.text,
        count(&|r| r.quality == Quality::Good && matches!(r.value, Some(Value::Text(_))))
    );
    assert_eq!(
        not_stored.not_available,
        count(&|r| r.quality == Quality::NotAvailable)
    );
    for (point, n) in &expected {
        let channel = store.channel(point).unwrap().expect("channel exists");
        let stored = store.read(channel.id, 0, i64::MAX).unwrap();
        assert_eq!(stored.len(), *n, "{point}");
    }
    assert_eq!(store.stats().unwrap().readings, good_numbers);
    // A report over the stored data sees every cycle of the main meter's voltage.
    let main_v = store.channel("main/v_l1_n").unwrap().unwrap();
    let volts = store.read(main_v.id, 0, i64::MAX).unwrap();
    assert_eq!(volts.len() as u64, CYCLES);
    assert!(volts.windows(2).all(|w| w[0].t < w[1].t));
    let v_first = cycles[0]
        .readings
        .iter()
        .find(|r| r.point() == "main/v_l1_n")
        .unwrap();
    assert_eq!(Some(volts[0].v), v_first.value.as_ref().and_then(number));

    // Alarms: nothing rejected; exactly the expected transitions at their exact instants.
    assert_eq!(rejected, 0, "no sample dropped by the engine");
    let engine = alarms.engine();
    let named: Vec<(String, String, TransitionKind)> = transitions
        .iter()
        .map(|t| {
            let i = engine.instance(t.instance()).unwrap();
            (i.rule.id.clone(), i.target.to_string(), t.kind())
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "mains-present".into(),
                "main/v_l1_n".into(),
                TransitionKind::Raised
            ),
            ("pump-offline".into(), "pump".into(), TransitionKind::Raised),
            (
                "pump-offline".into(),
                "pump".into(),
                TransitionKind::Cleared
            ),
        ],
        "transitions: {transitions:?}"
    );
    let pump_v = |number: u64| -> DateTime<Utc> {
        let c = &cycles[number as usize - 1];
        c.readings
            .iter()
            .find(|r| r.point() == "pump/v_l1_n")
            .unwrap()
            .timestamp
    };
    let main_first = cycles[0]
        .readings
        .iter()
        .find(|r| r.point() == "main/v_l1_n")
        .unwrap();
    // The engine keeps microseconds.
    let us = |t: DateTime<Utc>| t.timestamp_micros();
    assert_eq!(transitions[0].time_micros(), us(main_first.timestamp));
    assert!(matches!(main_first.value, Some(Value::Number(v)) if v > 100.0));
    let last_good = pump_v(*silent.start() - 1);
    assert_eq!(transitions[1].time_micros(), us(last_good) + 1_500_000);
    assert_eq!(transitions[2].time_micros(), us(pump_v(*silent.end() + 1)));

    server.stop().await;
}
