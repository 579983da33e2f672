//! `meter-server`'s simulated site, read by the workspace's own clients: the demo site in
//! process (on free ports and a manual clock) read over Modbus/TCP, RTU over TCP and TLS with
//! the `modbus-devices` poller, the ECL controllers' temperatures over Modbus, the heat
//! meters over M-Bus TCP with the `mbus-meters` master (SND_NKE, REQ_UD2, selection by
//! secondary address) with power coherent with those temperatures and energy rising; faults
//! through the control port; and the binary with `--fault`, read by `mbpoll` (skipped with a
//! printed reason when mbpoll is absent, unless `EMKIT_REQUIRE_PEERS=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../modbus-devices/tests/peers/mod.rs"]
mod peers;

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use examples::simulation::{DENSITY, DeviceFault, HEAT_CAPACITY, SimOptions, SimulatedSite};
use examples::site::Site;
use mbus_meters::master::{Master, MasterConfig};
use mbus_meters::{
    Address, Id, Manufacturer, Medium, OwnedFrame, OwnedValue, Quantity, SecondaryAddress,
};
use modbus_devices::device::{BusKind, DeviceAddress, DeviceInstance, Installation};
use modbus_devices::poll::Poller;
use modbus_devices::{Catalogue, Quality, Reading};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};

/// Monday 2026-01-05 10:00 UTC: comfort period of the ECLs' default schedule.
fn t0() -> DateTime<chrono::Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
        .unwrap()
        .to_utc()
}

async fn start() -> SimulatedSite {
    let site = Site::demo().unwrap().with_ephemeral_ports();
    let options = SimOptions {
        clock: modbus_devices::sim::SimClock::manual(t0()),
        ..SimOptions::default()
    };
    SimulatedSite::start(&site, options).await.unwrap()
}

/// The bound site's installation with short timeouts and no retries (faults are seen fast),
/// plus the ECL controllers as devices of their simulated products.
fn installation(sim: &SimulatedSite) -> (Installation, Catalogue) {
    let site = sim.site();
    let mut inst = site.installation().unwrap();
    for b in &mut inst.buses {
        let tcp = match &mut b.kind {
            BusKind::Tcp(t) | BusKind::RtuOverTcp(t) => t,
            BusKind::Tls(t) => &mut t.tcp,
            BusKind::Rtu(_) => continue,
        };
        tcp.timeout_ms = 400;
        tcp.retries = 0;
    }
    let mut catalogue = site.catalogue().clone();
    for e in &site.ecls {
        let product = sim.ecl(&e.name).unwrap().product().clone();
        let reference = product.reference().to_string();
        catalogue.add(product).unwrap();
        inst.add_device(DeviceInstance::new(
            &e.name,
            reference,
            &e.bus,
            DeviceAddress::Unit(e.unit),
        ))
        .unwrap();
    }
    (inst, catalogue)
}

fn value(readings: &[Reading], point: &str) -> f64 {
    let r = readings
        .iter()
        .find(|r| r.point() == point)
        .unwrap_or_else(|| panic!("no reading {point}"));
    assert_eq!(r.quality, Quality::Good, "{r:?}");
    r.value.as_ref().and_then(|v| v.as_f64()).unwrap()
}

fn record(frame: &OwnedFrame, q: Quantity) -> f64 {
    let r = frame
        .records
        .iter()
        .find(|r| r.quantity == q)
        .unwrap_or_else(|| panic!("no {q:?} record in {frame:?}"));
    match r.value {
        OwnedValue::Number(v) => v,
        ref v => panic!("{v:?}"),
    }
}

async fn read_meter(master: &mut Master<tokio::net::TcpStream>, primary: u8) -> OwnedFrame {
    assert!(
        master.snd_nke(Address(primary)).await.unwrap(),
        "SND_NKE to {primary}"
    );
    let bytes = master.req_ud2(Address(primary)).await.unwrap();
    mbus_meters::decode(&bytes).unwrap()
}

/// Modbus over the three TCP framings, the ECLs' temperatures, the heat meters over M-Bus with
/// coherent power and rising energy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario over every endpoint of the demo site, read top to bottom"
)]
async fn the_demo_site_serves_every_endpoint_coherently() {
    let sim = start().await;
    let (inst, catalogue) = installation(&sim);
    let poller = Poller::new(&inst, &catalogue).unwrap();
    let readings = poller.poll_once().await;

    // Modbus/TCP (bus lan), RTU over TCP (workshop), TLS (pv): a voltage near 230 V each
    for point in [
        "main/v_l1_n",
        "workshop/v_l1_n",
        "pv/v_l1_n",
        "kitchen/v_l1_n",
    ] {
        let v = value(&readings, point);
        assert!((220.0..240.0).contains(&v), "{point} = {v}");
    }
    assert!(
        readings
            .iter()
            .filter(|r| r.device == "hvac")
            .any(|r| r.quality == Quality::Good),
        "the Legrand meter answers"
    );

    // ECL temperatures over Modbus (A266.1: S3 flow, S5 return; A237.1: S3 flow, S5 return)
    let temps = |readings: &[Reading], ecl: &str| {
        (
            value(readings, &format!("{ecl}/s3")),
            value(readings, &format!("{ecl}/s5")),
        )
    };
    let (f1, r1) = temps(&readings, "ecl1");
    assert!(f1 > r1 + 1.0 && f1 < 90.0, "flow {f1}, return {r1}");

    // the heat meters over M-Bus TCP at the same (manual) time
    let mbus = sim.address("mbus").unwrap().to_string();
    let mut master = Master::connect_tcp(&mbus, MasterConfig::default())
        .await
        .unwrap();
    for (ecl, primary) in [("ecl1", 1u8), ("ecl2", 2)] {
        let (flow, ret) = temps(&readings, ecl);
        let frame = read_meter(&mut master, primary).await;
        let tf = record(&frame, Quantity::FlowTemperature);
        let tr = record(&frame, Quantity::ReturnTemperature);
        let dt = record(&frame, Quantity::TemperatureDifference);
        let q = record(&frame, Quantity::VolumeFlow);
        let p = record(&frame, Quantity::Power);
        // the meter measures the controller's sensors (0.01 degC resolution on both sides)
        assert!((tf - flow).abs() <= 0.011, "{ecl}: meter {tf}, ECL {flow}");
        assert!((tr - ret).abs() <= 0.011, "{ecl}: meter {tr}, ECL {ret}");
        assert!((dt - (tf - tr)).abs() < 1e-6, "{dt}");
        // power = flow * rho * cp * dT, within 0.5 % + 1 W (the encoded resolutions)
        let expected = q / 3600.0 * DENSITY * HEAT_CAPACITY * (flow - ret);
        assert!(q > 0.1 && p > 1_000.0, "{ecl}: q {q} m3/h, P {p} W");
        assert!(
            (p - expected).abs() <= 0.005 * expected + 1.0,
            "{ecl}: P {p} W, q*rho*cp*dT from the ECL's temperatures {expected} W"
        );
        let h = frame.header.as_ref().unwrap();
        assert_eq!(h.manufacturer.as_deref(), Some("KAM"));
    }

    // energy rises by the power over one hour of the simulation clock
    let before = read_meter(&mut master, 1).await;
    let (e0, p0, v0) = (
        record(&before, Quantity::Energy),
        record(&before, Quantity::Power),
        record(&before, Quantity::Volume),
    );
    sim.clock().advance(Duration::from_secs(3600));
    let after = read_meter(&mut master, 1).await;
    let (e1, v1) = (
        record(&after, Quantity::Energy),
        record(&after, Quantity::Volume),
    );
    assert!(
        (e1 - e0 - p0).abs() <= 20.0,
        "energy {e0} Wh -> {e1} Wh over 1 h at {p0} W"
    );
    assert!(v1 > v0, "volume {v0} -> {v1}");
    assert_eq!(
        sim.heat_reading("hm1").map(|r| r.energy_kwh * 1000.0),
        Some(e1)
    );

    // selection by secondary address (id, wildcard version and medium)
    let mask = SecondaryAddress {
        id: Id::from_decimal(12_345_679).unwrap(),
        manufacturer: Manufacturer::from_letters("KAM").unwrap(),
        version: 0xFF,
        medium: Medium(0xFF),
    };
    let frames = master.read_secondary(&mask).await.unwrap();
    assert_eq!(
        frames[0].header.as_ref().unwrap().id.as_deref(),
        Some("12345679")
    );
    assert!(record(&frames[0], Quantity::Power) > 0.0);
    poller.shutdown().await;
    sim.stop().await;
}

/// One control-port command and its answer line.
async fn control(
    lines: &mut tokio::io::Lines<AsyncBufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    command: &str,
) -> String {
    write
        .write_all(format!("{command}\n").as_bytes())
        .await
        .unwrap();
    lines.next_line().await.unwrap().unwrap()
}

/// `silent` through the control port: no answer from the Modbus meter or the M-Bus meter;
/// `none`: answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: faults set and cleared, each checked from the client side"
)]
async fn faults_through_the_control_port() {
    let sim = start().await;
    let (inst, catalogue) = installation(&sim);
    let poller = Poller::new(&inst, &catalogue).unwrap();
    let stream = tokio::net::TcpStream::connect(sim.address("control").unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = AsyncBufReader::new(read).lines();
    let mbus = sim.address("mbus").unwrap().to_string();
    let config = MasterConfig {
        retries: 0,
        ..MasterConfig::default()
    };
    let mut master = Master::connect_tcp(&mbus, config).await.unwrap();

    let main_quality = |readings: Vec<Reading>| {
        readings
            .into_iter()
            .find(|r| r.point() == "main/v_l1_n")
            .map(|r| r.quality)
    };
    assert_eq!(
        main_quality(poller.poll_device("main").await.unwrap()),
        Some(Quality::Good)
    );
    assert!(master.snd_nke(Address(1)).await.unwrap());

    assert_eq!(
        control(&mut lines, &mut write, "fault main silent").await,
        "ok main silent"
    );
    assert_eq!(
        control(&mut lines, &mut write, "fault hm1 silent").await,
        "ok hm1 silent"
    );
    assert_eq!(sim.fault("main"), Some(DeviceFault::Silent));
    let list = control(&mut lines, &mut write, "list").await;
    assert!(
        list.starts_with("ok ") && list.contains("main=silent") && list.contains("hm2=none"),
        "{list}"
    );
    assert_eq!(
        main_quality(poller.poll_device("main").await.unwrap_or_default())
            .unwrap_or(Quality::NoAnswer),
        Quality::NoAnswer
    );
    assert!(!master.snd_nke(Address(1)).await.unwrap(), "hm1 is silent");
    assert!(
        master.snd_nke(Address(2)).await.unwrap(),
        "hm2 still answers"
    );

    // refused commands say why, on one line
    let e = control(&mut lines, &mut write, "fault hm1 exception 4").await;
    assert!(
        e.starts_with("error ") && e.contains("silent or slow"),
        "{e}"
    );
    let e = control(&mut lines, &mut write, "fault nobody silent").await;
    assert!(e.starts_with("error ") && e.contains("nobody"), "{e}");
    let e = control(&mut lines, &mut write, "reboot").await;
    assert!(e.starts_with("error "), "{e}");

    assert_eq!(
        control(&mut lines, &mut write, "fault main none").await,
        "ok main none"
    );
    assert_eq!(
        control(&mut lines, &mut write, "fault hm1 none").await,
        "ok hm1 none"
    );
    assert_eq!(
        main_quality(poller.poll_device("main").await.unwrap()),
        Some(Quality::Good)
    );
    assert!(master.snd_nke(Address(1)).await.unwrap());

    // an exception on a Modbus device reaches the poller as an invalid reading; slow M-Bus
    assert!(
        control(&mut lines, &mut write, "fault main exception 4")
            .await
            .starts_with("ok")
    );
    assert_eq!(
        main_quality(poller.poll_device("main").await.unwrap_or_default())
            .unwrap_or(Quality::Invalid),
        Quality::Invalid
    );
    assert!(
        control(&mut lines, &mut write, "fault hm2 slow 150")
            .await
            .starts_with("ok")
    );
    let t = Instant::now();
    assert!(master.snd_nke(Address(2)).await.unwrap());
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    assert!(
        control(&mut lines, &mut write, "outdoor -12.5")
            .await
            .starts_with("ok outdoor -12.5")
    );
    assert_eq!(sim.ecl("ecl1").unwrap().outdoor(), -12.5);
    poller.shutdown().await;
    sim.stop().await;
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// mbpoll reading the frequency register (0xB006, 0.01 Hz) of unit 1 on `port`, 1 s timeout.
fn mbpoll_frequency(port: u16) -> Result<u16, String> {
    let out = Command::new("mbpoll")
        .args(["-m", "tcp", "-p", &port.to_string(), "-a", "1", "-r"])
        .arg(0xB006u16.to_string())
        .args(["-0", "-1", "-o", "1", "-c", "1", "-t", "4:hex", "127.0.0.1"])
        .output()
        .expect("mbpoll runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)));
    }
    stdout
        .lines()
        .find_map(|l| {
            let (_, v) = l.trim().strip_prefix('[')?.split_once("]:")?;
            u16::from_str_radix(v.trim().strip_prefix("0x")?, 16).ok()
        })
        .ok_or_else(|| format!("no value in {stdout:?}"))
}

/// The binary: `--ephemeral-ports --fault main=silent+5s`: mbpoll gets no answer from unit 1,
/// then (after the 5 s) the frequency; SIGTERM stops it with `meter-server: stopped`.
#[test]
fn the_binary_serves_the_demo_site_with_a_timed_fault() {
    if !peers::mbpoll() {
        return;
    }
    let mut child = common::example("meter-server")
        .args([
            "--ephemeral-ports",
            "--for",
            "60",
            "--fault",
            "main=silent+5s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut server = Killed(child);
    let mut port = None;
    let mut printed = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no `ready` in {printed:?}"
        );
        if let Some(a) = line
            .trim()
            .strip_prefix("meter-server: serving lan: Modbus/TCP ")
        {
            port = a.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        }
        printed.push(line.trim().to_string());
        if line.trim() == "meter-server: ready" {
            break;
        }
    }
    assert!(
        printed
            .iter()
            .any(|l| l.contains("device main = ECR380D at unit 1 on lan")),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.contains("serving mbus: M-Bus over TCP 127.0.0.1:")),
        "{printed:?}"
    );
    let port = port.expect("the Modbus/TCP endpoint is printed");

    let e = mbpoll_frequency(port).expect_err("unit 1 is silent for 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "too slow to see the fault: {e}"
    );
    // after the fault: answers (5000 +- 10 at 0.01 Hz)
    let deadline = Instant::now() + Duration::from_secs(15);
    let f = loop {
        if started.elapsed() > Duration::from_secs(5)
            && let Ok(f) = mbpoll_frequency(port)
        {
            break f;
        }
        assert!(Instant::now() < deadline, "unit 1 never answered again");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!((4_990..=5_010).contains(&f), "{f}");

    // SIGTERM stops it cleanly
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest.trim(), "meter-server: stopped");
    assert_eq!(server.0.wait().unwrap().code(), Some(0));
}

/// A bad site file: one line on stderr naming the file, line, column and field; exit 1.
#[test]
fn a_bad_site_file_is_reported_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    let text = examples::site::DEMO_TEXT.replacen("product = \"ECR180D\"", "product = \"NOPE\"", 1);
    let line = text.lines().position(|l| l.contains("\"NOPE\"")).unwrap() + 1;
    std::fs::write(&path, &text).unwrap();
    let out = common::example("meter-server")
        .arg("--site")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}:{line}:11: device[1].product: expected a product reference",
            path.display()
        )),
        "{err}"
    );
}

/// A site with an `rtu` bus on one end of a socat pseudo-terminal pair: the poller reads the
/// meter on the other end (skipped with a printed reason without socat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtu_bus_is_served_on_a_serial_line() {
    if !peers::socat() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("sim"), dir.path().join("master"));
    let socat = Killed(
        Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(a.exists() && b.exists()) {
        assert!(Instant::now() < deadline, "socat made no pseudo-terminals");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = format!(
        "[site]\nname = \"rtu\"\ntime_zone = \"UTC\"\n\n[[bus]]\nname = \"line\"\nkind = \"rtu\"\npath = \"{}\"\nbaud = 38400\n\n[[device]]\nname = \"m\"\nproduct = \"ECR380D\"\nbus = \"line\"\nunit = 7\n",
        a.display()
    );
    let site = Site::from_str("rtu.toml", &text).unwrap();
    let sim = SimulatedSite::start(&site, SimOptions::default())
        .await
        .unwrap();
    assert_eq!(
        sim.endpoints()[0].to_string(),
        format!("line: Modbus RTU {}", a.display())
    );
    let mut inst = site.installation().unwrap();
    if let BusKind::Rtu(s) = &mut inst.buses[0].kind {
        s.path = b.clone();
        assert_eq!(s.baud, 38_400);
    }
    let poller = Poller::new(&inst, site.catalogue()).unwrap();
    let readings = poller.poll_device("m").await.unwrap();
    let v = value(&readings, "m/v_l1_n");
    assert!((220.0..240.0).contains(&v), "{v}");
    poller.shutdown().await;
    sim.stop().await;
    drop(socat);
}

/// On the real clock: the heat meter's energy rises between two readouts 3 s apart (the
/// outdoor temperature is held at -10 degC through the control command, about 36 kW).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn energy_rises_in_real_time() {
    let site = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&site, SimOptions::default())
        .await
        .unwrap();
    assert_eq!(sim.command("outdoor -10"), "ok outdoor -10.0");
    let mbus = sim.address("mbus").unwrap().to_string();
    let mut master = Master::connect_tcp(&mbus, MasterConfig::default())
        .await
        .unwrap();
    let first = read_meter(&mut master, 2).await;
    let (e0, p0) = (
        record(&first, Quantity::Energy),
        record(&first, Quantity::Power),
    );
    assert!(p0 > 20_000.0, "{p0} W");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let e1 = record(&read_meter(&mut master, 2).await, Quantity::Energy);
    // 3 s at p0 (the power follows the ECL's slowly moving temperatures): 3 * p0 / 3600 Wh
    let expected = 3.0 * p0 / 3600.0;
    assert!(
        e1 - e0 >= 0.5 * expected && e1 - e0 <= 2.0 * expected + 10.0,
        "energy {e0} -> {e1} Wh, expected about +{expected:.0} Wh"
    );
    sim.stop().await;
}

/// A tls bus with certificate files named in the site file (relative to it): the server
/// presents the CA-signed certificate, requires client certificates from `client_ca`, and the
/// installation made from the same site checks the server against `ca` and presents the
/// client identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_bus_uses_the_certificates_the_site_names() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "site CA");
    write("ca.pem", &ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_key = KeyPair::generate().unwrap();
    write(
        "server.pem",
        &server.signed_by(&server_key, &issuer).unwrap().pem(),
    );
    write("server.key", &server_key.serialize_pem());
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "monitor");
    let client_key = KeyPair::generate().unwrap();
    write(
        "client.pem",
        &client.signed_by(&client_key, &issuer).unwrap().pem(),
    );
    write("client.key", &client_key.serialize_pem());
    let text = "[site]\nname = \"tls\"\ntime_zone = \"UTC\"\n\n[[bus]]\nname = \"secure\"\nkind = \"tls\"\naddress = \"127.0.0.1:0\"\ncertificate = \"server.pem\"\nkey = \"server.key\"\nca = \"ca.pem\"\nclient_ca = \"ca.pem\"\nclient_certificate = \"client.pem\"\nclient_key = \"client.key\"\n\n[[device]]\nname = \"m\"\nproduct = \"ECR380D\"\nbus = \"secure\"\nunit = 1\n";
    write("site.toml", text);
    let site = Site::load(dir.path().join("site.toml")).unwrap();
    let sim = SimulatedSite::start(&site, SimOptions::default())
        .await
        .unwrap();
    assert_eq!(sim.generated_certificate("secure"), None);
    let inst = sim.site().installation().unwrap();
    let BusKind::Tls(tls) = &inst.buses[0].kind else {
        panic!("{inst:?}")
    };
    assert!(!tls.accept_self_signed);
    assert_eq!(
        tls.ca_cert.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    let poller = Poller::new(&inst, site.catalogue()).unwrap();
    let v = value(&poller.poll_device("m").await.unwrap(), "m/v_l1_n");
    assert!((220.0..240.0).contains(&v), "{v}");
    poller.shutdown().await;

    // without the client identity the server refuses the poller
    let mut anonymous = inst.clone();
    if let BusKind::Tls(t) = &mut anonymous.buses[0].kind {
        t.client_cert = None;
        t.client_key = None;
        t.tcp.timeout_ms = 500;
        t.tcp.retries = 0;
    }
    let poller = Poller::new(&anonymous, site.catalogue()).unwrap();
    let readings = poller.poll_device("m").await.unwrap_or_default();
    assert!(
        readings.iter().all(|r| r.quality == Quality::NoAnswer),
        "{readings:?}"
    );
    poller.shutdown().await;
    sim.stop().await;
}
