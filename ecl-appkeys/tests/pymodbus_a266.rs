//! Our detection and operations against an independent peer: a pymodbus (3.x) Modbus/TCP
//! server serving a hand-made register image of an ECL Comfort 310 with A266.1
//! (`tests/peers/a266_1_server.py`), which refuses any read touching a PNU the controller
//! does not serve (exception 02), as the controller does. Skipped with a printed reason
//! when pymodbus 3.x is absent, unless `EMKIT_REQUIRE_PEERS=1`.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ecl_appkeys::ops::{EclDevice, Site, detect_on};
use ecl_appkeys::{Catalogue, Controller, Period, Verdict, WeeklySchedule};
use modbus_devices::Quality;
use modbus_devices::device::{Bus, BusKind, TcpSettings};

/// The pymodbus server, killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_peer() -> (Peer, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/a266_1_server.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut peer = Peer(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = peer.0.try_wait() {
            panic!("the pymodbus server exited early with {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pymodbus server not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (peer, port)
}

fn tcp(port: u16) -> BusKind {
    let mut t = TcpSettings::new("127.0.0.1", port);
    t.timeout_ms = 2000;
    BusKind::Tcp(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a266_1_image_served_by_pymodbus() {
    if !peers::pymodbus() {
        return;
    }
    let (_peer, port) = start_peer();
    let c = Catalogue::builtin().unwrap();

    // Detection.
    let report = detect_on(&c, tcp(port), 1).await.unwrap();
    assert_eq!(report.key.as_deref(), Some("A266.1"));
    assert_eq!(report.key_version.as_deref(), Some("1.08"));
    assert_eq!(report.software, "1.56");
    assert!(
        report
            .compatibility
            .iter()
            .all(|v| v.verdict == Verdict::Ok)
    );
    let sensor = |i: &str| report.sensors.iter().find(|s| s.input == i).unwrap().value;
    assert_eq!(sensor("S1"), Some(-3.5));
    assert_eq!(sensor("S2"), None, "room sensor not connected");
    assert_eq!(sensor("S3"), Some(52.1));
    assert_eq!(sensor("S6"), Some(41.2));

    // Every read of the full register map is inside the served ranges: the peer answers
    // each one (an unserved PNU in a read would be an exception, an Invalid reading).
    let ecl = Controller::new(&c, "A266.1".parse().unwrap(), Some("ecl310")).unwrap();
    let site = Site::new(
        vec![Bus {
            name: "lan".into(),
            kind: tcp(port),
        }],
        vec![EclDevice::new("sub", "lan", 1, ecl)],
    )
    .unwrap();
    let (raw, readings) = site.read("sub").await.unwrap();
    assert!(readings.len() > 100, "{}", readings.len());
    let bad: Vec<_> = readings
        .iter()
        .filter(|r| !matches!(r.quality, Quality::Good | Quality::NotAvailable))
        .map(|r| (&r.service, r.quality))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(raw.get(&ecl_appkeys::Pnu::new(11180).unwrap()), Some(&210));
    let alarm2 = readings.iter().find(|r| r.service == "alarm_2").unwrap();
    assert_eq!(
        alarm2
            .value
            .as_ref()
            .and_then(modbus_devices::Value::as_f64),
        Some(1.0)
    );

    // The snapshot has every parameter.
    let snap = site.snapshot("sub").await.unwrap();
    assert_eq!(snap.missing().count(), 0);
    let comfort = snap
        .entries
        .iter()
        .find(|e| e.id == "c1_room_comfort")
        .unwrap();
    assert_eq!(comfort.value, Some(21.0));

    // A safe write, read back from the peer; a refused one sends nothing.
    let w = site.write("sub", "c1_room_comfort", 22.5).await.unwrap();
    assert_eq!(w.raw, 225);
    assert!(site.write("sub", "c1_room_comfort", 41.0).await.is_err());

    // A schedule written and read back.
    let week = WeeklySchedule {
        tuesday: vec![Period::parse("04:45", "09:10").unwrap()],
        sunday: vec![
            Period::parse("00:00", "01:00").unwrap(),
            Period::parse("12:00", "13:30").unwrap(),
            Period::parse("20:00", "24:00").unwrap(),
        ],
        ..WeeklySchedule::default()
    };
    let r = site.apply_schedule(&["sub"], 2, &week).await;
    assert_eq!(r[0].outcome.as_str(), "written", "{r:?}");
    assert_eq!(site.read_schedule("sub", 2).await.unwrap(), week);
    let stats = site.poller().stats();
    let dev = stats.device("sub").unwrap();
    assert_eq!(dev.counters.exceptions, 0, "{dev:?}");
}
