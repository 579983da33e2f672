//! `examples::scan` against the demo site simulated in process on free loopback ports, with
//! one Modbus device made silent through the simulation's fault API: the report finds the
//! others with the right products, reports the silent one as missing, and finds the M-Bus
//! meters by primary and secondary address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use examples::scan::{
    EntryStatus, Progress, ProgressDisplay, ScanError, ScanOptions, scan_address, scan_site,
};
use examples::simulation::{DeviceFault, SimOptions, SimulatedSite};
use examples::site::Site;
use mbus_meters::master::MasterConfig;
use mbus_meters::timing::BusTiming;

async fn demo() -> SimulatedSite {
    let site = Site::demo().unwrap().with_ephemeral_ports();
    SimulatedSite::start(&site, SimOptions::default())
        .await
        .unwrap()
}

fn options() -> ScanOptions {
    ScanOptions {
        units: 1..=12,
        timeout: Duration::from_millis(100),
        primary: 0..=4,
        mbus: MasterConfig {
            timing: BusTiming {
                baud: 38_400,
                extra: Duration::from_millis(20),
            },
            retries: 0,
            ..MasterConfig::default()
        },
        ..ScanOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_of_the_demo_site_with_a_silent_device() {
    let sim = demo().await;
    sim.set_fault("lighting", DeviceFault::Silent).unwrap();
    let mut steps: Vec<Progress> = Vec::new();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        scan_site(sim.site(), &options(), |p| steps.push(p.clone())),
    )
    .await
    .unwrap()
    .unwrap();
    let table = report.table();
    println!("{table}");

    assert_eq!(report.site.as_deref(), Some("Demo plant"));
    let buses: Vec<&str> = report.buses.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(buses, ["lan", "serial", "secure", "mbus"]);
    assert!(report.buses.iter().all(|b| b.error.is_none()), "{table}");

    // Catalogue products found where the file says, with the right product.
    for (name, unit, product) in [
        ("main", 1, "ECR380D"),
        ("hvac", 3, "412045"),
        ("kitchen", 4, "ECA380D"),
        ("workshop", 1, "ECR140D"),
        ("pv", 1, "ECR310D"),
    ] {
        let e = report
            .entry(name)
            .unwrap_or_else(|| panic!("{name}: {table}"));
        assert_eq!(e.status, EntryStatus::Ok, "{name}: {table}");
        assert_eq!(e.unit, Some(unit), "{name}");
        assert_eq!(e.found.as_deref(), Some(product), "{name}");
        assert_eq!(e.expected.as_deref(), Some(product), "{name}");
    }
    // The ECLs answer at their units.
    for (name, unit) in [("ecl1", 10), ("ecl2", 11)] {
        let e = report.entry(name).unwrap();
        assert_eq!((e.status, e.unit), (EntryStatus::Ok, Some(unit)), "{table}");
    }
    // The silent device is missing.
    let lighting = report.entry("lighting").unwrap();
    assert_eq!(lighting.status, EntryStatus::Missing, "{table}");
    assert_eq!(lighting.unit, Some(2));
    assert_eq!(lighting.found, None);
    assert!(lighting.detail.contains("no answer"), "{}", lighting.detail);
    // Nothing unexpected answers on the demo buses.
    assert_eq!(
        report.with_status(EntryStatus::NotInFile).count(),
        0,
        "{table}"
    );
    assert_eq!(
        report.with_status(EntryStatus::Mismatch).count(),
        0,
        "{table}"
    );

    // M-Bus meters by primary and secondary address.
    for (name, primary, secondary) in [("hm1", 1, "12345678"), ("hm2", 2, "12345679")] {
        let e = report.entry(name).unwrap();
        assert_eq!(e.status, EntryStatus::Ok, "{name}: {table}");
        assert_eq!(e.protocol, "m-bus");
        assert_eq!(e.primary, Some(primary));
        assert_eq!(e.secondary.as_deref(), Some(secondary));
        assert!(e.found.as_deref().unwrap().starts_with("KAM"), "{e:?}");
    }
    let mbus = report.buses.iter().find(|b| b.name == "mbus").unwrap();
    assert_eq!(mbus.found, 2);
    assert!(
        mbus.probed > 5,
        "primary addresses and secondary probes: {mbus:?}"
    );

    // Progress: every unit of every Modbus bus, every primary address, the secondary search.
    let lan: Vec<&Progress> = steps.iter().filter(|p| p.bus == "lan").collect();
    assert_eq!(lan.len(), 12);
    assert_eq!((lan[11].done, lan[11].total), (12, 12));
    assert_eq!(
        lan[11].found, 5,
        "4 lan devices minus the silent one, plus 2 ECLs"
    );
    let primary = steps.iter().filter(|p| p.phase == "m-bus primary").count();
    assert_eq!(primary, 5);
    // The secondary search: a start, then one step per probe.
    let secondary: Vec<&Progress> = steps
        .iter()
        .filter(|p| p.phase == "m-bus secondary")
        .collect();
    assert_eq!(secondary.len(), 1 + mbus.probed - 5);
    assert_eq!(secondary.last().unwrap().found, 2);

    // The table names every entry and its status; the JSON carries the same.
    assert!(table.contains("lighting"), "{table}");
    assert!(table.contains("missing"), "{table}");
    assert!(table.contains("primary 1 / 12345678"), "{table}");
    let j = serde_json::to_value(&report).unwrap();
    let entries = j["entries"].as_array().unwrap();
    let light = entries.iter().find(|e| e["name"] == "lighting").unwrap();
    assert_eq!(light["status"], "missing");
    assert_eq!(light["expected"], "ECR180D");
    let hm1 = entries.iter().find(|e| e["name"] == "hm1").unwrap();
    assert_eq!(hm1["secondary"], "12345678");
    assert_eq!(hm1["primary"], 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_one_bus_by_name_and_by_address() {
    let sim = demo().await;
    let site = sim.site().clone();
    // --bus NAME: only that bus.
    let mut o = options();
    o.bus = Some("serial".into());
    let report = scan_site(&site, &o, |_| {}).await.unwrap();
    assert_eq!(report.buses.len(), 1);
    assert_eq!(report.entries.len(), 1);
    assert_eq!(report.entry("workshop").unwrap().status, EntryStatus::Ok);
    // An unknown bus is an error naming the known ones.
    o.bus = Some("nope".into());
    let err = scan_site(&site, &o, |_| {}).await.unwrap_err();
    assert!(matches!(err, ScanError::UnknownBus { .. }), "{err}");
    assert!(
        err.to_string().contains("lan, serial, secure, mbus"),
        "{err}"
    );

    // A single address without a site file: every answering unit is "found".
    let lan = sim.address("lan").unwrap();
    let mut o = options();
    o.units = 1..=5;
    let report = scan_address(&format!("tcp:{lan}"), site.catalogue(), &o, |_| {})
        .await
        .unwrap();
    assert_eq!(report.site, None);
    let found: Vec<(Option<u8>, Option<&str>)> = report
        .entries
        .iter()
        .map(|e| (e.unit, e.found.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(1), Some("ECR380D")),
            (Some(2), Some("ECR180D")),
            (Some(3), Some("412045")),
            (Some(4), Some("ECA380D")),
        ]
    );
    assert!(
        report
            .entries
            .iter()
            .all(|e| e.status == EntryStatus::Found)
    );
    let mbus = sim.address("mbus").unwrap();
    let report = scan_address(
        &format!("mbus:{mbus}"),
        site.catalogue(),
        &options(),
        |_| {},
    )
    .await
    .unwrap();
    let secondaries: Vec<&str> = report
        .entries
        .iter()
        .filter_map(|e| e.secondary.as_deref())
        .collect();
    assert_eq!(secondaries, ["12345678", "12345679"]);
    // Bad addresses are typed errors.
    for bad in ["lan", "udp:127.0.0.1:502", "tcp:127.0.0.1:x", "tcp::502"] {
        let err = scan_address(bad, site.catalogue(), &o, |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, ScanError::InvalidAddress { .. }),
            "{bad}: {err}"
        );
    }
    // A bus that cannot be reached is reported, not fatal.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let report = scan_address(
        &format!("tcp:127.0.0.1:{port}"),
        site.catalogue(),
        &o,
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        report.buses[0]
            .error
            .as_deref()
            .unwrap()
            .contains("cannot connect")
    );
    sim.stop().await;
}

#[test]
fn plain_progress_lines_every_tenth() {
    let mut d = ProgressDisplay::with_terminal(false);
    let lines: Vec<String> = (1..=20)
        .filter_map(|done| {
            d.plain_line(&Progress {
                bus: "lan".into(),
                phase: "modbus units",
                done,
                total: 20,
                found: done / 4,
            })
        })
        .collect();
    assert_eq!(
        lines.first().unwrap(),
        "scan lan: modbus units 1/20 (0 found)"
    );
    assert_eq!(
        lines.last().unwrap(),
        "scan lan: modbus units 20/20 (5 found)"
    );
    // The start, each 10 % mark and the end: 1, 2, 4, 6, ..., 20.
    assert_eq!(lines.len(), 11, "{lines:?}");
    // The secondary search (length unknown): the start, then every 10 probes.
    let mut d = ProgressDisplay::with_terminal(false);
    let lines: Vec<String> = (0..=25)
        .filter_map(|done| {
            d.plain_line(&Progress {
                bus: "mbus".into(),
                phase: "m-bus secondary",
                done,
                total: 0,
                found: 0,
            })
        })
        .collect();
    assert_eq!(
        lines,
        [
            "scan mbus: m-bus secondary (0 probes, 0 found)",
            "scan mbus: m-bus secondary (1 probes, 0 found)",
            "scan mbus: m-bus secondary (10 probes, 0 found)",
            "scan mbus: m-bus secondary (20 probes, 0 found)",
        ]
    );
}
