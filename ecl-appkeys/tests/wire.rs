//! The operations against the ECL simulator over loopback Modbus/TCP (and RTU over TCP):
//! detection, firmware verdicts, safe writes and their refusals, group results (with an
//! unreachable controller), schedules written and read back, the thermal model, modes and
//! alarms, the data relay and its health, the snapshot; and every read the clients sent
//! stayed inside the served ranges (the simulator records each request).
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use ecl_appkeys::catalogue::{ParameterKind, RawType};
use ecl_appkeys::firmware::Version;
use ecl_appkeys::ops::{
    DeviceResult, EclDevice, Outcome, Relay, RelayState, RelayTarget, Site, SourceHealth, detect_on,
};
use ecl_appkeys::schedule::{HhMm, Holiday, HolidayMode};
use ecl_appkeys::sim::{EclSim, SimIdentity};
use ecl_appkeys::{
    Catalogue, Confidence, Controller, Error, ParameterDef, Period, Pnu, Verdict, WeeklySchedule,
};
use modbus_devices::device::{Bus, BusKind, TcpSettings};
use modbus_devices::sim::{Fault, SimClock, Simulator, SimulatorHandle};
use proptest::prelude::*;
use tokio_modbus::prelude::*;

fn catalogue() -> Catalogue {
    Catalogue::builtin().unwrap()
}

fn controller(c: &Catalogue, key: &str) -> Controller {
    Controller::new(c, key.parse().unwrap(), Some("ecl310")).unwrap()
}

fn tcp(port: u16) -> BusKind {
    let mut t = TcpSettings::new("127.0.0.1", port);
    t.timeout_ms = 300;
    t.retries = 0;
    BusKind::Tcp(t)
}

fn bus(name: &str, port: u16) -> Bus {
    Bus {
        name: name.into(),
        kind: tcp(port),
    }
}

/// A site of one simulated A266.1 at unit 1.
async fn one_a266() -> (Catalogue, EclSim, SimulatorHandle, Site) {
    let c = catalogue();
    let ecl = controller(&c, "A266.1");
    let sim = Simulator::new(SimClock::real());
    let s = EclSim::add(&sim, 1, &ecl, SimIdentity::default()).unwrap();
    let (addr, handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let site = Site::new(
        vec![bus("lan", addr.port())],
        vec![EclDevice::new("sub", "lan", 1, ecl)],
    )
    .unwrap();
    (c, s, handle, site)
}

#[tokio::test]
async fn detection_reads_key_versions_verdicts_and_sensors() {
    let c = catalogue();
    let ecl = controller(&c, "A266.1");
    let sim = Simulator::new(SimClock::real());
    let s = EclSim::add(&sim, 1, &ecl, SimIdentity::default()).unwrap();
    s.set_outdoor(-7.25);
    s.set_sensor(2, None).unwrap(); // room sensor not connected
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let report = detect_on(&c, tcp(addr.port()), 1).await.unwrap();
    assert_eq!(report.key.as_deref(), Some("A266.1"));
    assert_eq!(report.key_version.as_deref(), Some("1.08"));
    assert_eq!(report.software, "1.56");
    assert_eq!(report.compatibility.len(), 2);
    assert!(
        report
            .compatibility
            .iter()
            .all(|v| v.verdict == Verdict::Ok)
    );
    let sensor = |i: &str| report.sensors.iter().find(|s| s.input == i).unwrap();
    assert_eq!(sensor("S1").value, Some(-7.25));
    assert_eq!(sensor("S1").meaning.as_deref(), Some("outdoor temperature"));
    assert_eq!(sensor("S1").unit, "degC");
    assert_eq!(sensor("S2").value, None, "disconnected: null");
    assert!(
        sensor("S3").value.is_some_and(|v| v > 40.0),
        "flow on a cold day"
    );
    assert!(
        report.sensors.iter().all(|s| s.input != "S7"),
        "unused, not connected"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["compatibility"][0]["verdict"], "ok");
    assert!(json["sensors"][1]["value"].is_null());
    assert!(
        s.reads_outside_served().is_empty(),
        "{:?}",
        s.reads_outside_served()
    );
    assert!(!s.requests().is_empty());
}

#[tokio::test]
async fn detection_works_over_rtu_framing_too() {
    let c = catalogue();
    let sim = Simulator::new(SimClock::real());
    EclSim::add(&sim, 7, &controller(&c, "A237.1"), SimIdentity::default()).unwrap();
    let (addr, _h) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();
    let BusKind::Tcp(t) = tcp(addr.port()) else {
        unreachable!()
    };
    let report = detect_on(&c, BusKind::RtuOverTcp(t), 7).await.unwrap();
    assert_eq!(report.key.as_deref(), Some("A237.1"));
}

#[tokio::test]
async fn firmware_verdicts_at_every_boundary_over_the_wire() {
    let c = catalogue();
    let ecl = controller(&c, "A266.1");
    let sim = Simulator::new(SimClock::real());
    let cases = [
        ((1, 10), (1, 8), Verdict::Unsupported, Verdict::Ok),
        ((1, 11), (1, 8), Verdict::WillUpdate, Verdict::Ok),
        ((1, 30), (1, 8), Verdict::WillUpdate, Verdict::Ok),
        ((1, 31), (1, 8), Verdict::Ok, Verdict::Ok),
        ((1, 56), (1, 3), Verdict::Ok, Verdict::Unsupported),
        ((1, 56), (1, 4), Verdict::Ok, Verdict::Ok),
    ];
    for (i, (sw, key, _, _)) in cases.iter().enumerate() {
        let identity = SimIdentity {
            software: Version::new(sw.0, sw.1),
            key_version: Version::new(key.0, key.1),
            ..SimIdentity::default()
        };
        EclSim::add(&sim, i as u8 + 1, &ecl, identity).unwrap();
    }
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    for (i, (sw, _, controller_verdict, key_verdict)) in cases.iter().enumerate() {
        let r = detect_on(&c, tcp(addr.port()), i as u8 + 1).await.unwrap();
        assert_eq!(r.software, format!("{}.{:02}", sw.0, sw.1));
        let verdicts: Vec<Verdict> = r.compatibility.iter().map(|c| c.verdict).collect();
        assert_eq!(
            verdicts,
            [*controller_verdict, *key_verdict],
            "case {i}: {r:?}"
        );
    }
}

#[tokio::test]
async fn writes_are_checked_before_sending_and_confirmed_after() {
    let (_c, s, handle, site) = one_a266().await;
    let sim = handle.simulator();
    let w = site.write("sub", "c1_room_comfort", 22.5).await.unwrap();
    assert_eq!((w.pnu.get(), w.raw), (11180, 225));
    let before = sim.request_count(1);
    for (id, value) in [
        ("c1_room_comfort", 45.0),  // out of range
        ("c1_room_comfort", 21.55), // not a whole step
        ("c1_desired_flow", 50.0),  // read-only
        ("c9_nothing", 1.0),        // unknown
        ("c1_mode", 0.0),           // manual is never written
    ] {
        let e = site.write("sub", id, value).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::OutOfRange { .. }
                    | Error::NotRepresentable { .. }
                    | Error::ReadOnly { .. }
                    | Error::UnknownParameter(_)
            ),
            "{id}: {e}"
        );
    }
    assert_eq!(
        sim.request_count(1),
        before,
        "nothing sent for a refused write"
    );
    // A controller that acknowledges writes without applying them is caught by the read-back.
    sim.set_fault(1, Fault::IgnoreWrites);
    let e = site
        .write("sub", "c1_room_comfort", 20.0)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotConfirmed {
                wanted: 200,
                found: Some(225),
                ..
            }
        ),
        "{e}"
    );
    sim.clear_fault(1);
    assert!(s.reads_outside_served().is_empty());
}

#[tokio::test]
async fn the_simulator_refuses_what_the_controller_refuses() {
    let c = catalogue();
    let sim = Simulator::new(SimClock::real());
    EclSim::add(&sim, 1, &controller(&c, "A266.1"), SimIdentity::default()).unwrap();
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let mut m = tcp::connect_slave(addr, Slave(1)).await.unwrap();
    // S1..S16 in one read is fine; one PNU more (10217) fails the whole read.
    assert!(m.read_holding_registers(10200, 16).await.unwrap().is_ok());
    let e = m
        .read_holding_registers(10200, 17)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e, ExceptionCode::IllegalDataAddress);
    // 4203 is not served on A266.1 (modes of circuits 1-2 only).
    let e = m
        .read_holding_registers(4200, 3)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e, ExceptionCode::IllegalDataAddress);
    // More than 123 registers.
    assert!(m.read_holding_registers(3109, 124).await.unwrap().is_err());
    // Writes: out of range (comfort 45.0 degC), and a read-only PNU (desired flow).
    let e = m
        .write_single_register(11179, 450)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e, ExceptionCode::IllegalDataValue);
    let e = m
        .write_single_register(11252, 5000)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e, ExceptionCode::IllegalDataAddress);
    // Identity and key registers.
    let key = m.read_holding_registers(2059, 4).await.unwrap().unwrap();
    assert_eq!(key, [65, 266, 1, 0x0108]);
    let sw = m.read_holding_registers(34, 1).await.unwrap().unwrap();
    assert_eq!(sw, [0x0138]);
}

#[tokio::test]
async fn group_settings_give_a_result_per_controller() {
    let c = catalogue();
    let sim = Simulator::new(SimClock::real());
    let a266 = controller(&c, "A266.1");
    let a237 = controller(&c, "A237.1");
    let a247 = controller(&c, "A247.1"); // no served ranges known: no parameters
    EclSim::add(&sim, 1, &a266, SimIdentity::default()).unwrap();
    EclSim::add(&sim, 2, &a237, SimIdentity::default()).unwrap();
    EclSim::add(&sim, 3, &a247, SimIdentity::default()).unwrap();
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let site = Site::new(
        vec![bus("lan", addr.port()), bus("far", dead_port)],
        vec![
            EclDevice::new("a", "lan", 1, a266.clone()),
            EclDevice::new("b", "lan", 2, a237),
            EclDevice::new("c", "lan", 3, a247),
            EclDevice::new("gone", "far", 1, a266),
        ],
    )
    .unwrap();
    let results = site
        .apply_group(&["a", "b", "c", "gone", "nobody"], "c1_room_saving", 16.5)
        .await;
    let words: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.device.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        words,
        [
            ("a", "written"),
            ("b", "written"),
            ("c", "refused"),
            ("gone", "unreachable"),
            ("nobody", "refused"),
        ]
    );
    let reason = |d: &str| match &results.iter().find(|r| r.device == d).unwrap().outcome {
        Outcome::Refused { reason } | Outcome::Unreachable { reason } => reason.clone(),
        o => panic!("{o:?}"),
    };
    assert!(reason("c").contains("unknown parameter"), "{}", reason("c"));
    assert!(reason("nobody").contains("no controller named"));
    // Out of range for everyone: refused everywhere, nothing sent.
    let results = site.apply_group(&["a", "b"], "c1_room_saving", 99.0).await;
    assert!(results.iter().all(|r| r.outcome.as_str() == "refused"));
    let json = serde_json::to_value(&results[0]).unwrap();
    assert_eq!(json["result"], "refused");
    assert_eq!(json["device"], "a");
}

#[tokio::test]
async fn area_schedules_and_holidays_reach_every_controller() {
    let c = catalogue();
    let sim = Simulator::new(SimClock::real());
    let mut devices = Vec::new();
    let mut sims = Vec::new();
    for unit in 1..=3u8 {
        let ecl = controller(&c, if unit == 3 { "A237.1" } else { "A266.1" });
        sims.push(EclSim::add(&sim, unit, &ecl, SimIdentity::default()).unwrap());
        devices.push(EclDevice::new(format!("u{unit}"), "lan", unit, ecl));
    }
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let site = Site::new(vec![bus("lan", addr.port())], devices).unwrap();
    let week = WeeklySchedule {
        monday: vec![
            Period::parse("05:30", "08:00").unwrap(),
            Period::parse("17:00", "23:15").unwrap(),
        ],
        saturday: vec![Period::parse("00:00", "24:00").unwrap()],
        ..WeeklySchedule::default()
    };
    let results = site.apply_schedule(&["u1", "u2", "u3"], 1, &week).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(&r.outcome, Outcome::Written { registers } if registers.len() == 42)),
        "{results:?}"
    );
    for d in ["u1", "u2", "u3"] {
        assert_eq!(site.read_schedule(d, 1).await.unwrap(), week, "{d}");
    }
    // A holiday: frost protection on both circuits, then back to scheduled.
    let day = |d| NaiveDate::from_ymd_opt(2025, 12, d).unwrap();
    let holiday = Holiday {
        circuits: vec![1, 2],
        from: day(24),
        to: day(26),
        mode: HolidayMode::FrostProtection,
    };
    let results = site.apply_holiday(&["u1", "u3"], &holiday, day(25)).await;
    assert!(
        results.iter().all(|r| r.outcome.as_str() == "written"),
        "{results:?}"
    );
    let (raw, _) = site.read("u1").await.unwrap();
    assert_eq!(raw.get(&Pnu::new(4201).unwrap()), Some(&4));
    assert_eq!(raw.get(&Pnu::new(4202).unwrap()), Some(&4));
    let results = site.apply_holiday(&["u1"], &holiday, day(27)).await;
    assert_eq!(results[0].outcome.as_str(), "written");
    let (raw, _) = site.read("u1").await.unwrap();
    assert_eq!(raw.get(&Pnu::new(4201).unwrap()), Some(&1));
    for s in &sims {
        assert!(s.reads_outside_served().is_empty());
    }
}

#[tokio::test]
async fn outdoor_temperature_modes_and_schedules_drive_the_setpoints() {
    let c = catalogue();
    let ecl = controller(&c, "A266.1");
    // Monday 10:00: inside the default weekday comfort period (06:00-22:00).
    let clock = SimClock::manual(Utc.with_ymd_and_hms(2025, 1, 6, 10, 0, 0).unwrap());
    let sim = Simulator::new(clock.clone());
    let s = EclSim::add(&sim, 1, &ecl, SimIdentity::default()).unwrap();
    let (addr, _h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let site = Site::new(
        vec![bus("lan", addr.port())],
        vec![EclDevice::new("e", "lan", 1, ecl)],
    )
    .unwrap();
    let value = |readings: &[modbus_devices::Reading], id: &str| {
        readings
            .iter()
            .find(|r| r.service == id)
            .and_then(|r| r.value.as_ref())
            .and_then(modbus_devices::Value::as_f64)
            .unwrap()
    };
    s.set_outdoor(0.0);
    let (_, r) = site.read("e").await.unwrap();
    // Curve at 0 degC: 48; comfort 21 degC: +2 K.
    assert_eq!(value(&r, "c1_desired_flow"), 50.0);
    assert_eq!(value(&r, "c1_status"), 2.0);
    assert_eq!(value(&r, "s3"), 50.0, "flow starts settled");
    s.set_outdoor(-10.0);
    let (_, r) = site.read("e").await.unwrap();
    assert_eq!(
        value(&r, "c1_desired_flow"),
        60.0,
        "halfway between 63 and 53, +2"
    );
    assert_eq!(value(&r, "s3"), 50.0, "the flow lags");
    clock.advance(Duration::from_secs(3600));
    let (_, r) = site.read("e").await.unwrap();
    let flow = value(&r, "s3");
    assert!(
        (59.9..=60.0).contains(&flow),
        "after six time constants: {flow}"
    );
    let ret = value(&r, "s5");
    assert!(ret < flow && ret > 21.0, "{ret}");
    // Constant saving: 17 degC room, 8 K lower flow.
    site.write("e", "c1_mode", 3.0).await.unwrap();
    let (_, r) = site.read("e").await.unwrap();
    assert_eq!(value(&r, "c1_desired_flow"), 52.0);
    assert_eq!(value(&r, "c1_status"), 0.0);
    // Back to the schedule, at night: saving too.
    site.write("e", "c1_mode", 1.0).await.unwrap();
    clock.set(Utc.with_ymd_and_hms(2025, 1, 6, 23, 0, 0).unwrap());
    let (_, r) = site.read("e").await.unwrap();
    assert_eq!(value(&r, "c1_status"), 0.0);
    assert_eq!(value(&r, "clock_hour"), 23.0);
    // A higher saving setpoint raises the flow setpoint (2 K per K).
    site.write("e", "c1_room_saving", 19.0).await.unwrap();
    let (_, r) = site.read("e").await.unwrap();
    assert_eq!(value(&r, "c1_desired_flow"), 56.0);
    // Alarms.
    s.raise_alarm(3).unwrap();
    s.raise_alarm(20).unwrap();
    let (_, r) = site.read("e").await.unwrap();
    assert_eq!(value(&r, "alarm_3"), 1.0);
    assert_eq!(value(&r, "alarm_4"), 0.0);
    let mask = r
        .iter()
        .find(|x| x.service == "alarms")
        .and_then(|x| x.value.clone())
        .unwrap();
    assert_eq!(mask, modbus_devices::Value::Flags((1 << 2) | (1 << 19)));
    s.clear_alarm(3).unwrap();
    assert_eq!(s.alarms(), [20]);
    assert!(s.raise_alarm(33).is_err());
    assert!(s.reads_outside_served().is_empty());
}

fn relay_param() -> ParameterDef {
    ParameterDef {
        id: "relayed_outdoor".into(),
        name: "Relayed outdoor temperature (site-specific PNU)".into(),
        pnu: Pnu::new(11600).unwrap(),
        circuit: None,
        raw_type: RawType::S16,
        scale: 0.1,
        unit: modbus_devices::Unit::DegC,
        range: Some((-50.0, 50.0)),
        writable: true,
        kind: ParameterKind::Setting,
        confidence: Confidence::Inferred,
        description: "test".into(),
    }
}

#[tokio::test]
async fn the_relay_copies_the_outdoor_temperature_and_reports_its_health() {
    let c = catalogue();
    let source = controller(&c, "A266.1");
    let target = controller(&c, "A266.1")
        .with_parameter(relay_param())
        .unwrap();
    let sim = Simulator::new(SimClock::real());
    let s = EclSim::add(&sim, 1, &source, SimIdentity::default()).unwrap();
    EclSim::add(&sim, 2, &target, SimIdentity::default()).unwrap();
    // Unit 3 does not have the PNU the site thinks it has: its write fails.
    EclSim::add(&sim, 3, &source, SimIdentity::default()).unwrap();
    let (addr, h) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let site = Site::new(
        vec![bus("lan", addr.port())],
        vec![
            EclDevice::new("master", "lan", 1, source),
            EclDevice::new("t2", "lan", 2, target.clone()),
            EclDevice::new("t3", "lan", 3, target),
        ],
    )
    .unwrap();
    let relay = Relay {
        source: "master".into(),
        input: 1,
        targets: ["t2", "t3"]
            .map(|d| RelayTarget {
                device: d.into(),
                parameter: "relayed_outdoor".into(),
            })
            .to_vec(),
        period: Duration::from_millis(50),
    };
    s.set_outdoor(-3.46);
    let mut state = RelayState::default();
    let report = relay.run_once(&site, &mut state).await;
    assert_eq!(report.source, SourceHealth::Fresh { value: -3.46 });
    assert_eq!(
        report.targets[0].outcome,
        Outcome::Written {
            registers: vec![(Pnu::new(11600).unwrap(), (-35i16) as u16)]
        }
    );
    assert!(
        matches!(&report.targets[1].outcome, Outcome::Refused { reason } if reason.contains("xception")),
        "{:?}",
        report.targets[1]
    );
    assert!(!report.healthy());
    // The source stops answering: stale, nothing written, the last value kept.
    h.set_fault(1, Fault::NoAnswer);
    let report = relay.run_once(&site, &mut state).await;
    assert!(
        matches!(&report.source, SourceHealth::Stale { last_value: Some(v), .. } if *v == -3.46),
        "{report:?}"
    );
    assert!(report.targets.is_empty());
    h.clear_fault(1);
    // Disconnected outdoor sensor: stale as well.
    s.set_sensor(1, None).unwrap();
    let report = relay.run_once(&site, &mut state).await;
    assert!(
        matches!(&report.source, SourceHealth::Stale { reason, .. } if reason.contains("not connected"))
    );
    s.release_sensor(1);
    // Periodic: a few runs arrive on the channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let only_t2 = Relay {
        targets: relay.targets[..1].to_vec(),
        ..relay.clone()
    };
    let run = async { only_t2.run(&site, tx).await };
    let take = async {
        let mut n = 0;
        while let Some(r) = rx.recv().await {
            assert!(r.healthy(), "{r:?}");
            n += 1;
            if n == 3 {
                break;
            }
        }
        n
    };
    let n = tokio::select! { n = take => n, () = run => 0 };
    assert_eq!(n, 3);
    let json = serde_json::to_value(DeviceResult {
        device: "t2".into(),
        outcome: Outcome::Unreachable { reason: "x".into() },
    })
    .unwrap();
    assert_eq!(json["result"], "unreachable");
}

#[tokio::test]
async fn the_snapshot_reads_every_parameter() {
    let (_c, s, _h, site) = one_a266().await;
    let snap = site.snapshot("sub").await.unwrap();
    assert_eq!(
        snap.missing().count(),
        0,
        "{:?}",
        snap.missing().map(|e| &e.id).collect::<Vec<_>>()
    );
    let v = |id: &str| {
        snap.entries
            .iter()
            .find(|e| e.id == id)
            .and_then(|e| e.value)
            .unwrap()
    };
    assert_eq!(v("c1_room_comfort"), 21.0);
    assert_eq!(v("c2_dhw_comfort"), 55.0);
    assert_eq!(v("c1_schedule_mon_p1_start"), 600.0);
    assert_eq!(snap.key.map(|k| k.to_string()).as_deref(), Some("A266.1"));
    assert!(s.reads_outside_served().is_empty());
}

fn period() -> impl Strategy<Value = Period> {
    (0u16..=1439, 1u16..=1440).prop_filter_map("stop after start", |(a, len)| {
        let b = a + len;
        (b <= 1440).then(|| {
            let t = |m: u16| HhMm::new((m / 60) as u8, (m % 60) as u8).unwrap();
            Period::new(t(a), t(b)).unwrap()
        })
    })
}

fn week() -> impl Strategy<Value = WeeklySchedule> {
    let day = || proptest::collection::vec(period(), 0..=3);
    (day(), day(), day(), day(), day(), day(), day()).prop_map(|(a, b, c, d, e, f, g)| {
        WeeklySchedule {
            monday: a,
            tuesday: b,
            wednesday: c,
            thursday: d,
            friday: e,
            saturday: f,
            sunday: g,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn schedules_round_trip_over_the_wire(w in week(), circuit in 1u8..=2) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let back = rt.block_on(async {
            let (_c, s, _h, site) = one_a266().await;
            let r = site.apply_schedule(&["sub"], circuit, &w).await;
            assert_eq!(r[0].outcome.as_str(), "written", "{r:?}");
            assert!(s.reads_outside_served().is_empty());
            site.read_schedule("sub", circuit).await.unwrap()
        });
        prop_assert_eq!(back, w);
    }
}
