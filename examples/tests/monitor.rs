//! The monitor's composition against the simulated demo site on loopback: values of the
//! Modbus devices and M-Bus meters reach the store; a silenced device raises the offline
//! alarm within its delay, delivered to a JSON-lines file, and clears it after recovery;
//! a restarted monitor continues the same store. The `monitor` binary prints one line per
//! cycle when stdout is not a terminal, loses nothing committed to a SIGKILL, continues the
//! store when started again and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "../../opcua-bridge/tests/peers/mod.rs"]
mod peers;

mod common;

use examples::gateway::{Monitor, MonitorOptions};
use examples::simulation::{DeviceFault, SimOptions, SimulatedSite};
use examples::site::Site;
use reports::{SqliteStore, Store, StoreOptions};

/// The demo site, bound to free ports, with a 6 s offline delay (a silent device makes a cycle last about 3 s: its timeouts), notifications to a
/// JSON-lines file in `dir`, no OPC UA and a 1 s recording interval.
fn monitored(sim: &SimulatedSite, dir: &std::path::Path) -> Site {
    let text = format!(
        "{}\n",
        examples::site::DEMO_TEXT
            .replace("offline = \"30s\"", "offline = \"6s\"")
            .replace("live = \"10s\"", "live = \"1s\"")
            .replace("record = \"15min\"", "record = \"1s\"")
    );
    let mut site = Site::from_str(dir.join("site.toml"), &text).unwrap();
    for b in &sim.site().buses {
        site.set_address(&b.name, b.address.as_deref().unwrap());
    }
    for b in &sim.site().mbus_buses {
        site.set_address(&b.name, &b.address);
    }
    site.opcua = None;
    site.notify.retain(|n| n.name == "events");
    site
}

fn count(path: &std::path::Path, what: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(what))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn values_are_stored_and_an_offline_alarm_is_raised_notified_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let site = monitored(&sim, dir.path());
    let store_path = dir.path().join("data/emkit.sqlite");
    assert_eq!(site.store_path(), store_path);
    let events = dir.path().join("data/notifications.jsonl");

    // every point at the site's 1 s (the catalogue services' own interval is 15 min)
    let every_second = MonitorOptions {
        record: Some(Duration::from_secs(1)),
        ..MonitorOptions::default()
    };
    let mut monitor = Monitor::start(&site, every_second.clone()).await.unwrap();
    let mut last = None;
    for _ in 0..3 {
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        last = Some(s);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let s = last.unwrap();
    let ecls = monitor.ecl_status();
    assert_eq!(ecls.len(), 2);
    for e in ecls {
        assert!(e.ok(), "{e:?}");
        assert_eq!(e.detected.as_deref(), Some(e.expected.as_str()), "{e:?}");
    }
    assert!(s.good > 100 && s.stored > 0, "{s:?}");
    assert_eq!(
        s.alarms,
        0,
        "{:?}",
        monitor.book().open().collect::<Vec<_>>()
    );

    // the store has the Modbus devices (three framings) and the heat meters
    {
        let store = SqliteStore::open(&store_path, StoreOptions::default()).unwrap();
        for point in [
            "main/v_l1_n",
            "workshop/v_l1_n",
            "pv/v_l1_n",
            "hm1/energy",
            "hm2/power",
        ] {
            let ch = store
                .channel(point)
                .unwrap()
                .unwrap_or_else(|| panic!("no channel {point}"));
            let samples = store.read(ch.id, 0, i64::MAX).unwrap();
            assert!(samples.len() >= 2, "{point}: {samples:?}");
        }
        // the ECL controllers: detected with the site file's keys, their parameter maps polled
        for ecl in ["ecl1", "ecl2"] {
            let n = store
                .channels()
                .unwrap()
                .iter()
                .filter(|c| c.spec.device == ecl)
                .count();
            assert!(n > 10, "{ecl}: {n} channels");
        }
        let hm1 = store.channel("hm1/energy").unwrap().unwrap();
        assert_eq!(hm1.spec.unit, "Wh");
        let e = store.read(hm1.id, 0, i64::MAX).unwrap();
        let simulated = sim.heat_reading("hm1").unwrap().energy_kwh * 1000.0;
        assert!(
            (e.last().unwrap().v - simulated).abs() < 100.0,
            "{e:?} vs {simulated}"
        );
    }

    // silence one device: the offline alarm after 6 s (within one more cycle), notified at once
    sim.set_fault("lighting", DeviceFault::Silent).unwrap();
    let silenced = Instant::now();
    let raised = loop {
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        if monitor
            .book()
            .open()
            .any(|o| o.alarm == "offline" && o.target == "lighting" && o.alarm_active)
        {
            break silenced.elapsed();
        }
        assert!(
            silenced.elapsed() < Duration::from_secs(40),
            "no offline alarm: {:#?}",
            monitor
                .book()
                .open()
                .map(|o| (&o.alarm, &o.target, o.alarm_active))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(raised >= Duration::from_secs(6), "raised after {raised:?}");
    // delivery runs on the notifier's own thread: give it a moment
    let handed = Instant::now();
    while count(&events, "\"offline\"") == 0 && handed.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        count(&events, "\"offline\""),
        1,
        "{:?}",
        std::fs::read_to_string(&events)
    );
    let line = std::fs::read_to_string(&events).unwrap();
    assert!(
        line.contains("lighting") && line.contains("critical"),
        "{line}"
    );

    // recovery clears it
    sim.set_fault("lighting", DeviceFault::None).unwrap();
    let recovered = Instant::now();
    loop {
        monitor.cycle().await.unwrap();
        let active = monitor
            .book()
            .open()
            .any(|o| o.alarm == "offline" && o.alarm_active);
        if !active {
            break;
        }
        assert!(recovered.elapsed() < Duration::from_secs(40), "not cleared");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // another connection stays open (SQLite then leaves the log alone when the monitor's
    // closes): the shutdown itself folds the write-ahead log into the database file
    let reader = SqliteStore::open(&store_path, StoreOptions::default()).unwrap();
    monitor.shutdown().await.unwrap();
    let wal = dir.path().join("data/emkit.sqlite-wal");
    assert!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0,
        "{} bytes left in the WAL",
        std::fs::metadata(&wal).map_or(0, |m| m.len())
    );
    drop(reader);

    // a restarted monitor continues the same store
    let count_main = || {
        let store = SqliteStore::open(&store_path, StoreOptions::default()).unwrap();
        let ch = store.channel("main/v_l1_n").unwrap().unwrap();
        store.read(ch.id, 0, i64::MAX).unwrap().len()
    };
    let before = count_main();
    let mut monitor = Monitor::start(&site, every_second).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    monitor.cycle().await.unwrap();
    monitor.shutdown().await.unwrap();
    assert_eq!(count_main(), before + 1);
    sim.stop().await;
}

/// Python asyncua reads the monitor's values over OPC UA with their units: a Modbus meter's
/// voltage and a heat meter's energy (the same value as the store's last sample), and the
/// energy's history (HistoryRead: the store's samples).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_reads_values_and_units_over_opcua() {
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let mut site = monitored(&sim, dir.path());
    site.opcua = Site::demo().unwrap().opcua;
    let options = MonitorOptions {
        opcua_port: Some(0),
        opcua_pki: Some(dir.path().join("pki")),
        ..MonitorOptions::default()
    };
    let mut monitor = Monitor::start(&site, options).await.unwrap();
    let url = monitor.opcua_endpoint().unwrap().to_string();
    monitor.cycle().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    monitor.cycle().await.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/monitor_client.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(url)
            .args(["main/v_l1_n", "hm1/energy", "hm1/flow_temperature"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = &seen["main/v_l1_n"];
    assert_eq!(v["status"], "Good", "{seen}");
    let volts = v["value"].as_f64().unwrap();
    assert!((200.0..260.0).contains(&volts), "{seen}");
    assert_eq!(v["unit"], opcua_bridge::Unit::V.display_name(), "{seen}");
    let e = &seen["hm1/energy"];
    assert_eq!(e["status"], "Good", "{seen}");
    assert_eq!(e["unit"], opcua_bridge::Unit::Wh.display_name(), "{seen}");
    let store = SqliteStore::open(
        dir.path().join("data/emkit.sqlite"),
        StoreOptions::default(),
    )
    .unwrap();
    let ch = store.channel("hm1/energy").unwrap().unwrap();
    let stored: Vec<f64> = store
        .read(ch.id, 0, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.v)
        .collect();
    let last = *stored.last().unwrap();
    assert!(
        (e["value"].as_f64().unwrap() - last).abs() < 1e-6,
        "{seen} vs {last}"
    );
    // HistoryRead gives what the store has (two cycles, one sample each)
    let history: Vec<f64> = e["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(history, stored, "{seen}");
    assert_eq!(
        seen["hm1/flow_temperature"]["unit"],
        opcua_bridge::Unit::DegC.display_name()
    );
    monitor.shutdown().await.unwrap();
    sim.stop().await;
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the binary on `site` and collect its stdout lines (a thread reads them).
fn spawn_monitor(site: &std::path::Path) -> (Killed, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = common::example("monitor")
        .args(["run", "--site"])
        .arg(site)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

/// The next `n` cycle lines (other lines are returned too, in order, until then).
fn cycles(rx: &std::sync::mpsc::Receiver<String>, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut seen = 0;
    while seen < n {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}: after {lines:?}"));
        if line.starts_with("cycle ") {
            seen += 1;
        }
        lines.push(line);
    }
    lines
}

/// `N stored` of a cycle line.
fn stored(line: &str) -> u64 {
    let (before, _) = line.split_once(" stored").unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

fn readings(store: &std::path::Path) -> u64 {
    SqliteStore::open(store, StoreOptions::default())
        .unwrap()
        .stats()
        .unwrap()
        .readings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_survives_sigkill_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    // the demo site file with the bound addresses, a 1 s live and recording period
    let mut text = examples::site::DEMO_TEXT
        .replace("live = \"10s\"", "live = \"1s\"")
        .replace("record = \"15min\"", "record = \"1s\"")
        .replace("listen = \"127.0.0.1:4840\"", "listen = \"127.0.0.1:0\"");
    let fixed = Site::demo().unwrap();
    for b in &fixed.buses {
        let bound = sim.site().buses.iter().find(|x| x.name == b.name).unwrap();
        text = text.replace(
            b.address.as_deref().unwrap(),
            bound.address.as_deref().unwrap(),
        );
    }
    for b in &fixed.mbus_buses {
        let bound = sim
            .site()
            .mbus_buses
            .iter()
            .find(|x| x.name == b.name)
            .unwrap();
        text = text.replace(&b.address, &bound.address);
    }
    let path = dir.path().join("site.toml");
    std::fs::write(&path, &text).unwrap();
    let store = dir.path().join("data/emkit.sqlite");

    let (mut child, rx) = spawn_monitor(&path);
    let lines = tokio::task::spawn_blocking(move || (cycles(&rx, 3), rx))
        .await
        .unwrap();
    let (lines, _rx) = lines;
    assert!(
        lines[0].starts_with("monitor: site \"Demo plant\""),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("monitor: OPC UA at opc.tcp://127.0.0.1:")),
        "{lines:?}"
    );
    let printed: u64 = lines
        .iter()
        .filter(|l| l.starts_with("cycle "))
        .map(|l| stored(l))
        .sum();
    assert!(printed > 0, "{lines:?}");
    // SIGKILL: every cycle it printed was committed
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let after_kill = readings(&store);
    assert!(
        after_kill >= printed,
        "{after_kill} in the store, {printed} printed as stored"
    );

    // started again: the store continues; SIGTERM stops it cleanly
    let (child, rx) = spawn_monitor(&path);
    let pid = child.0.id().to_string();
    let (lines, rx) = tokio::task::spawn_blocking(move || (cycles(&rx, 2), rx))
        .await
        .unwrap();
    let printed: u64 = lines
        .iter()
        .filter(|l| l.starts_with("cycle "))
        .map(|l| stored(l))
        .sum();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let rest = tokio::task::spawn_blocking(move || rx.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("monitor: stopped"),
        "{rest:?}"
    );
    let mut child = child;
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    let after_term: u64 = rest
        .iter()
        .filter(|l| l.starts_with("cycle "))
        .map(|l| stored(l))
        .sum();
    assert!(readings(&store) >= after_kill + printed + after_term);
    assert!(readings(&store) > after_kill);
    sim.stop().await;
}

/// The offline alarm as an OPC UA alarm event: Python asyncua, as the site's operator, sees
/// it raised, acknowledges it, and the monitor's book records the acknowledgement (and
/// publishes it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_sees_and_acknowledges_the_offline_alarm() {
    use std::io::BufRead;
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let mut site = monitored(&sim, dir.path());
    site.opcua = Site::demo().unwrap().opcua;
    let options = MonitorOptions {
        opcua_port: Some(0),
        opcua_pki: Some(dir.path().join("pki")),
        ..MonitorOptions::default()
    };
    let mut monitor = Monitor::start(&site, options).await.unwrap();
    let url = monitor.opcua_endpoint().unwrap().to_string();
    monitor.cycle().await.unwrap();

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/monitor_alarms.py");
    let mut client = Killed(
        std::process::Command::new("python3")
            .arg(script)
            .args([url.as_str(), "operator", "demo-operator", "offline"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = client.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = tokio::task::spawn_blocking(move || {
        let line = rx.recv_timeout(Duration::from_secs(30));
        (line, rx)
    })
    .await
    .unwrap();
    let (line, rx) = ready;
    assert_eq!(line.as_deref(), Ok("READY"));

    sim.set_fault("lighting", DeviceFault::Silent).unwrap();
    let start = Instant::now();
    let result = loop {
        monitor.cycle().await.unwrap();
        if let Ok(line) = rx.try_recv() {
            break line;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no answer from the client"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let seen: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(seen["raised"], true, "{seen}");
    assert_eq!(seen["ack"], "Good", "{seen}");
    assert_eq!(seen["acked_event"], true, "{seen}");
    let raised = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["condition_name"] == "offline" && e["active"] == true)
        .unwrap();
    assert_eq!(raised["message"], "device not answering", "{seen}");
    let o = monitor
        .book()
        .open()
        .find(|o| o.alarm == "offline" && o.target == "lighting")
        .unwrap();
    assert_eq!(o.state, alarms::AckState::Acknowledged);
    let ack = o.acknowledgement.as_ref().unwrap();
    assert_eq!(
        (ack.user.as_str(), ack.comment.as_str()),
        ("operator", "checked")
    );
    monitor.shutdown().await.unwrap();
    sim.stop().await;
}

fn aiosmtpd() -> bool {
    // the rule CI installs for the alarms tests: aiosmtpd >=1.4,<2
    peers::peer(
        "python3 with aiosmtpd>=1.4,<2 (PyPI)",
        std::process::Command::new("python3").args([
            "-c",
            "import sys, aiosmtpd.controller; \
             v = [int(x) for x in aiosmtpd.__version__.split('.')[:2]]; \
             sys.exit(0 if v[0] == 1 and v[1] >= 4 else 1)",
        ]),
    )
}

/// Alarms by e-mail from the site file's `[[notify]] type = "smtp"` to a local SMTP server
/// (the alarms crate's `tests/smtp_server.py`, aiosmtpd, AUTH PLAIN): a rules-file alarm
/// with its value and unit, and the offline alarm, each with the time in the site's time zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn alarms_are_mailed_with_value_unit_and_local_time() {
    use std::io::BufRead;
    if !aiosmtpd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    let server =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../alarms/tests/smtp_server.py");
    let mut smtp = Killed(
        std::process::Command::new("python3")
            .arg(server)
            .arg("--out")
            .arg(&mail)
            .args(["--user", "alarms", "--password", "s3cret"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(smtp.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();

    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    std::fs::write(
        dir.path().join("alarms.toml"),
        "[[recipient]]\nname = \"ops\"\naddress = \"ops@site.example\"\n\n[[rule]]\nid = \"mains-high\"\ntext = \"Mains voltage above 100 V\"\npoints = [\"main/v_l1_n\"]\nkind = \"high\"\nthreshold = 100.0\npriority = \"critical\"\nrecipients = [\"ops\"]\n",
    )
    .unwrap();
    let text = format!(
        "{}\n[[notify]]\nname = \"ops\"\naddress = \"ops@site.example\"\ntype = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Alarms <alarms@site.example>\"\nto = [\"ops@site.example\"]\nauth = {{ user = \"alarms\", password = \"s3cret\", mechanism = \"plain\" }}\n",
        examples::site::DEMO_TEXT
            .replace(
                "offline = \"30s\"",
                "offline = \"6s\"\nrules = \"alarms.toml\""
            )
            .replace("live = \"10s\"", "live = \"1s\"")
            .replace("record = \"15min\"", "record = \"1s\"")
    );
    let mut site = Site::from_str(dir.path().join("site.toml"), &text).unwrap();
    for b in &sim.site().buses {
        site.set_address(&b.name, b.address.as_deref().unwrap());
    }
    for b in &sim.site().mbus_buses {
        site.set_address(&b.name, &b.address);
    }
    site.opcua = None;
    site.notify.retain(|n| n.name == "ops");
    site.alarms.recipients = Some(vec!["ops".into()]);

    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    monitor.cycle().await.unwrap();
    sim.set_fault("lighting", DeviceFault::Silent).unwrap();
    let start = Instant::now();
    let messages = loop {
        monitor.cycle().await.unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&mail)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if files.len() >= 2 {
            files.sort();
            break files
                .iter()
                .map(|p| {
                    serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap())
                        .unwrap()
                })
                .collect::<Vec<_>>();
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "{} mails",
            files.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    monitor.shutdown().await.unwrap();
    sim.stop().await;

    let mains = messages
        .iter()
        .find(|m| m["subject"] == "[critical] mains-high on main/v_l1_n")
        .unwrap_or_else(|| panic!("{messages:?}"));
    assert_eq!(mains["rcpt_tos"], serde_json::json!(["ops@site.example"]));
    assert_eq!(mains["auth_user"], "alarms");
    let body = mains["body"].as_str().unwrap();
    assert!(body.lines().any(|l| l == "Priority:   critical"), "{body}");
    assert!(
        body.lines().any(|l| l == "Point:      main/v_l1_n"),
        "{body}"
    );
    let value = body.lines().find(|l| l.starts_with("Value:")).unwrap();
    assert!(value.ends_with(" V"), "{body}");
    let volts: f64 = value["Value:".len()..]
        .trim()
        .trim_end_matches(" V")
        .parse()
        .unwrap();
    assert!((200.0..260.0).contains(&volts), "{body}");
    let time = body.lines().find(|l| l.starts_with("Time:")).unwrap();
    assert!(time.ends_with("(Europe/Copenhagen)"), "{body}");
    let offline = messages
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("[critical] offline on lighting"))
        })
        .unwrap_or_else(|| panic!("{messages:?}"));
    let body = offline["body"].as_str().unwrap();
    assert!(body.contains("device not answering"), "{body}");
}

/// `monitor scan --bus tcp:ADDRESS --json` finds the simulated meters with their products and
/// exits 0; a bus nobody listens on is reported and makes the command fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_command_reports_products_and_fails_on_an_unreachable_bus() {
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let lan = sim.address("lan").unwrap().to_string();
    let output = tokio::task::spawn_blocking(move || {
        common::example("monitor")
            .args([
                "scan",
                "--bus",
                &format!("tcp:{lan}"),
                "--units",
                "1-4",
                "--json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(u64, String)> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["unit"].as_u64().unwrap(),
                e["found"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        (1, "ECR380D"),
        (2, "ECR180D"),
        (3, "412045"),
        (4, "ECA380D"),
    ]
    .into_iter()
    .map(|(u, p)| (u, p.to_owned()))
    .collect();
    assert_eq!(found, expected);
    sim.stop().await;

    // Nobody listens on a port just released.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let output = tokio::task::spawn_blocking(move || {
        common::example("monitor")
            .args(["scan", "--bus", &format!("tcp:{addr}"), "--units", "1-2"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bus(es) not scanned"), "{stderr}");
}
