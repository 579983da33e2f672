//! End to end, the meter-server simulation and the monitor in one process on loopback:
//! values are stored at their recording intervals (one per wall-clock interval per point),
//! every reading the recorder selects is stored (no more, no less), the energy report
//! matches the simulated heat meter's energy, an ECL that stops answering is detected again
//! when it answers (and polled with its new key's parameter map when its application
//! changed meanwhile), and a webhook receiver that is down (and then slow) delays its
//! notification without losing it and without delaying any cycle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use examples::gateway::report::{ReportRequest, build_report};
use examples::gateway::{CycleStatus, Monitor, MonitorOptions};
use examples::simulation::{DeviceFault, SimOptions, SimulatedSite};
use examples::site::Site;
use modbus_devices::sim::SimClock;
use reports::report::{Period, ReportKind};
use reports::{SqliteStore, Store, StoreOptions};

/// The demo site on the simulation's bound ports, 1 s live period, no OPC UA, `record` as
/// the site's `[poll] record`, `extra` appended (rules, `[[notify]]`).
fn monitored(sim: &SimulatedSite, dir: &std::path::Path, record: &str, extra: &str) -> Site {
    let text = format!(
        "{}\n{extra}",
        examples::site::DEMO_TEXT
            .replace("live = \"10s\"", "live = \"1s\"")
            .replace("record = \"15min\"", &format!("record = \"{record}\""))
    );
    let mut site = Site::from_str(dir.join("site.toml"), &text).unwrap();
    for b in &sim.site().buses {
        site.set_address(&b.name, b.address.as_deref().unwrap());
    }
    for b in &sim.site().mbus_buses {
        site.set_address(&b.name, &b.address);
    }
    site.opcua = None;
    site
}

/// The wall-clock slots (`start / interval`) of the cycles' starts, each once, in order.
fn slots(cycles: &[CycleStatus], interval: i64) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for c in cycles {
        let k = c.started.timestamp().div_euclid(interval);
        if out.last() != Some(&k) {
            out.push(k);
        }
    }
    out
}

/// Values are stored at the configured intervals (M-Bus and ECL points at `[poll] record`
/// = 2 s, catalogue services at their own 15 min), every good reading the recorder selects
/// is stored and nothing else, and the energy report's heat-meter energy matches the
/// simulation's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn values_are_stored_at_their_intervals_counted_in_and_out_and_the_energy_report_matches() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    // a manual simulation clock in winter: each cycle moves it 15 min, so the heat meter's
    // energy grows by whole kilowatt-hours per cycle, deterministically
    let clock = SimClock::manual(Utc.with_ymd_and_hms(2026, 1, 15, 6, 0, 0).unwrap());
    let sim = SimulatedSite::start(
        &demo,
        SimOptions {
            clock: clock.clone(),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let mut site = monitored(&sim, dir.path(), "2s", "");
    site.notify.clear();
    let store_path = site.store_path();
    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    let live = monitor.live();
    assert_eq!(live, Duration::from_secs(1));

    let mut cycles: Vec<CycleStatus> = Vec::new();
    let mut heat = Vec::new();
    let mut ticks = tokio::time::interval(live);
    let window_from = Utc::now() - chrono::Duration::seconds(1);
    for i in 0..9 {
        ticks.tick().await;
        if i > 0 {
            clock.advance(Duration::from_secs(15 * 60));
        }
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        heat.push(sim.heat_reading("hm1").unwrap());
        cycles.push(s);
    }
    monitor.shutdown().await.unwrap();

    // (b) readings in, samples out: the store took exactly what the recorder selected
    for c in &cycles {
        assert!(c.took < live, "a cycle longer than the live period: {c:?}");
        assert_eq!(c.stored, c.recorded, "{c:?}");
        assert_eq!(c.store_refused, 0, "{c:?}");
        assert_eq!(c.opcua_rejected, 0, "{c:?}");
        assert!(c.recorded <= c.good as u64, "{c:?}");
    }
    // the first cycle records every point with a number (text identification is not a time
    // series); later ones only the points whose interval has changed
    assert!(cycles[0].recorded > 100, "{:?}", cycles[0]);
    assert!(cycles[1..].iter().all(|c| c.recorded < cycles[0].recorded));
    let recorded: u64 = cycles.iter().map(|c| c.recorded).sum();
    let stored: u64 = cycles.iter().map(|c| c.stored).sum();
    let store = SqliteStore::open(&store_path, StoreOptions::default()).unwrap();
    assert_eq!(stored, recorded);
    assert_eq!(store.stats().unwrap().readings, recorded);

    // (a) one sample per point and wall-clock interval, in that interval (the reading is
    // taken after the cycle starts, within the cycle: under a second later)
    let samples = |point: &str| {
        let ch = store
            .channel(point)
            .unwrap()
            .unwrap_or_else(|| panic!("no channel {point}"));
        store.read(ch.id, 0, i64::MAX).unwrap()
    };
    for (point, interval) in [
        ("hm1/energy", 2),
        ("hm2/power", 2),
        ("ecl1/s1", 2),
        ("main/v_l1_n", 900),
        ("pv/v_l1_n", 900),
    ] {
        let expected = slots(&cycles, interval);
        let got = samples(point);
        let times: Vec<i64> = got.iter().map(|s| s.t).collect();
        assert_eq!(
            got.len(),
            expected.len(),
            "{point}: samples at {times:?}, interval slots {expected:?}"
        );
        for (t, k) in times.iter().zip(&expected) {
            assert!(
                *t >= k * interval && *t < (k + 1) * interval + 1,
                "{point}: sample at {t} outside its interval [{}, {})",
                k * interval,
                (k + 1) * interval
            );
        }
    }
    // at 2 s, 9 cycles 1 s apart are in 4 or 5 intervals: fewer samples than cycles
    assert!((4..=6).contains(&samples("hm1/energy").len()));

    // (c) the energy report over the test's window vs the simulated heat meter.
    // Tolerance: the store keeps the meter's encoded energy (0.01 kWh = 10 Wh steps), and
    // the report's consumption is its last recorded reading minus its first; the first
    // cycle is always recorded, the last recorded one is the first cycle of the last 2 s
    // interval. So: against the simulated readings of those same cycles, within two
    // encoder steps (20 Wh); against the simulation's energy at the last cycle, within 20 Wh
    // plus the energy of the cycles after the last recorded one (the recording alignment).
    let request = ReportRequest {
        kind: ReportKind::EnergyConsumption,
        period: Period::Custom {
            from: window_from,
            to: Utc::now() + chrono::Duration::seconds(2),
        },
    };
    let table = build_report(&site, &store, &request, Utc::now()).unwrap();
    let col = table
        .columns
        .iter()
        .position(|c| c.name == "hm1/energy")
        .unwrap_or_else(|| panic!("no hm1/energy column: {:?}", table.columns));
    assert_eq!(table.columns[col].unit, "Wh");
    let reported: f64 = table.rows.iter().filter_map(|r| r.values[col]).sum();
    let recorded_cycles: Vec<usize> = {
        let mut seen = Vec::new();
        let mut idx = Vec::new();
        for (i, c) in cycles.iter().enumerate() {
            let k = c.started.timestamp().div_euclid(2);
            if !seen.contains(&k) {
                seen.push(k);
                idx.push(i);
            }
        }
        idx
    };
    let wh = |i: usize| heat[i].energy_kwh * 1000.0;
    let last_recorded = *recorded_cycles.last().unwrap();
    let simulated = wh(last_recorded) - wh(0);
    println!(
        "energy report: {reported} Wh; simulated over the recorded cycles: {simulated} Wh, \
         over all cycles: {} Wh",
        wh(cycles.len() - 1) - wh(0)
    );
    assert!(
        simulated > 1000.0,
        "the simulated meter should count kWh per cycle: {heat:?}"
    );
    assert!(
        (reported - simulated).abs() <= 20.0,
        "report {reported} Wh vs simulated {simulated} Wh"
    );
    let after_last = wh(cycles.len() - 1) - wh(last_recorded);
    let all = wh(cycles.len() - 1) - wh(0);
    assert!(
        (reported - all).abs() <= 20.0 + after_last,
        "report {reported} Wh vs simulated {all} Wh (alignment {after_last} Wh)"
    );
    sim.stop().await;
}

/// An ECL that stops answering is detected again when it answers: the detection count and
/// time in its status move, the key is the same, and it is polled as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecl_that_answers_again_is_detected_again() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let mut site = monitored(&sim, dir.path(), "1s", "");
    site.notify.clear();
    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    let status = |m: &Monitor| {
        m.ecl_status()
            .iter()
            .find(|e| e.name == "ecl1")
            .unwrap()
            .clone()
    };
    let at_start = status(&monitor);
    assert!(at_start.ok(), "{at_start:?}");
    assert_eq!(at_start.detections, 1);
    monitor.cycle().await.unwrap();
    assert_eq!(status(&monitor).detections, 1);

    sim.set_fault("ecl1", DeviceFault::Silent).unwrap();
    let s = monitor.cycle().await.unwrap();
    println!("{}", s.line());
    assert!(s.good < s.readings, "{s:?}");
    assert_eq!(status(&monitor).detections, 1, "not detected while silent");

    sim.set_fault("ecl1", DeviceFault::None).unwrap();
    let t0 = Instant::now();
    let again = loop {
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        let e = status(&monitor);
        if e.detections > 1 {
            break e;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "not detected again: {e:?}"
        );
    };
    println!("{again:?}");
    assert_eq!(again.detections, 2);
    assert!(again.detected_at > at_start.detected_at);
    assert_eq!(again.detected.as_deref(), Some(at_start.expected.as_str()));
    assert_eq!(again.polled, at_start.polled);
    assert_eq!(again.previous, None);
    assert!(again.ok(), "{again:?}");
    // the other controller was never away
    let ecl2 = monitor
        .ecl_status()
        .iter()
        .find(|e| e.name == "ecl2")
        .unwrap();
    assert_eq!(ecl2.detections, 1);
    monitor.shutdown().await.unwrap();
    sim.stop().await;
}

/// An ECL whose application was changed while it was away (the simulated site stopped and
/// started again on the same ports with ecl1 running another key) is detected again, its
/// status says so, and from then on it is polled with the new key's parameter map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecl_whose_key_changed_while_away_is_polled_with_the_new_map() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    let bound = sim.site().clone();
    let mut site = monitored(&sim, dir.path(), "1s", "");
    site.notify.clear();
    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    let ecl1 = |m: &Monitor| {
        m.ecl_status()
            .iter()
            .find(|e| e.name == "ecl1")
            .unwrap()
            .clone()
    };
    let (old_key, new_key) = ("A266.1", "A237.1");
    assert_eq!(ecl1(&monitor).polled, old_key);
    monitor.cycle().await.unwrap();
    let store_path = site.store_path();
    let channels = || -> std::collections::BTreeSet<String> {
        let store = SqliteStore::open(&store_path, StoreOptions::default()).unwrap();
        store
            .channels()
            .unwrap()
            .into_iter()
            .filter(|c| c.spec.device == "ecl1")
            .map(|c| c.spec.name())
            .collect()
    };
    let before = channels();
    assert!(before.len() > 10, "{before:?}");

    // the site goes away; it comes back on the same ports, ecl1 running another key
    sim.stop().await;
    let s = monitor.cycle().await.unwrap();
    println!("{}", s.line());
    assert_eq!(s.good, 0, "{s:?}");
    let mut changed = bound;
    changed
        .ecls
        .iter_mut()
        .find(|e| e.name == "ecl1")
        .unwrap()
        .key = new_key.into();
    changed.simulation.control = None;
    let sim = SimulatedSite::start(&changed, SimOptions::default())
        .await
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        let e = ecl1(&monitor);
        if e.detections > 1 {
            break e;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "not detected again: {e:?}"
        );
    };
    println!("{status:?}");
    assert_eq!(status.detected.as_deref(), Some(new_key));
    assert_eq!(status.polled, new_key);
    assert_eq!(status.previous.as_deref(), Some(old_key));
    assert_eq!(
        status.expected, old_key,
        "the site file still says {old_key}"
    );
    assert!(!status.ok());
    // polled with the new map: the next cycles store points only the new map has
    let mut new_points = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        new_points = channels().difference(&before).cloned().collect();
        if !new_points.is_empty() {
            break;
        }
    }
    println!(
        "ecl1: {} points stored with {old_key}, new with {new_key}: {new_points:?}",
        before.len()
    );
    assert!(
        !new_points.is_empty(),
        "nothing of the new parameter map stored"
    );
    monitor.shutdown().await.unwrap();
    sim.stop().await;
}

/// One cycle at the next live tick.
async fn step(
    monitor: &mut Monitor,
    ticks: &mut tokio::time::Interval,
    cycles: &mut Vec<CycleStatus>,
) {
    ticks.tick().await;
    let s = monitor.cycle().await.unwrap();
    println!("{}", s.line());
    cycles.push(s);
}

/// A tiny HTTP receiver: answers every request 200 and keeps its body.
fn receiver(listener: TcpListener) -> Arc<Mutex<Vec<String>>> {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                keep.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    bodies
}

/// Delivery is off the cycle: while the webhook receiver does not answer (a port that takes
/// the connection and never replies, longer than the live period) and then is down (the port
/// closed), every cycle stays shorter than the live period; when the receiver comes up on
/// the same port the notification arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn a_webhook_receiver_that_is_down_delays_the_notification_not_the_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    // the receiver's port: bound, never accepted (requests hang until the 3 s timeout)
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hanging.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("alarms.toml"),
        "[[recipient]]\nname = \"hook\"\naddress = \"ops@site.example\"\n\n[[rule]]\nid = \"mains-high\"\ntext = \"Mains voltage above 100 V\"\npoints = [\"main/v_l1_n\"]\nkind = \"high\"\nthreshold = 100.0\npriority = \"critical\"\nrecipients = [\"hook\"]\n",
    )
    .unwrap();
    let extra = format!(
        "[[notify]]\nname = \"hook\"\naddress = \"ops@site.example\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/alarms\"\ntimeout = \"3s\"\nretry = {{ initial = \"500ms\", max = \"1s\" }}\n"
    );
    let text_rules = "rules = \"alarms.toml\"";
    let mut site = {
        let text = format!(
            "{}\n{extra}",
            examples::site::DEMO_TEXT
                .replace("live = \"10s\"", "live = \"1s\"")
                .replace(
                    "offline = \"30s\"",
                    &format!("offline = \"30s\"\n{text_rules}")
                )
        );
        let mut site = Site::from_str(dir.path().join("site.toml"), &text).unwrap();
        for b in &sim.site().buses {
            site.set_address(&b.name, b.address.as_deref().unwrap());
        }
        for b in &sim.site().mbus_buses {
            site.set_address(&b.name, &b.address);
        }
        site.opcua = None;
        site
    };
    site.notify.retain(|n| n.name == "hook");
    site.alarms.recipients = Some(vec!["hook".into()]);
    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    let live = monitor.live();
    let mut ticks = tokio::time::interval(live);
    let mut cycles = Vec::new();

    // the alarm is raised in the first cycle; its delivery hangs on the silent receiver
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        step(&mut monitor, &mut ticks, &mut cycles).await;
    }
    assert!(
        monitor
            .book()
            .open()
            .any(|o| o.alarm == "mains-high" && o.alarm_active),
        "the alarm is raised"
    );
    assert_eq!(monitor.pending_notifications(), 1, "waiting for a retry");
    // the receiver is down: connections refused
    drop(hanging);
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(2) {
        step(&mut monitor, &mut ticks, &mut cycles).await;
    }
    assert_eq!(monitor.pending_notifications(), 1, "still waiting");
    // up again, on the same port
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let bodies = receiver(TcpListener::bind(addr).unwrap());
    let up = Instant::now();
    while bodies.lock().unwrap().is_empty() {
        assert!(
            up.elapsed() < Duration::from_secs(15),
            "not delivered after the receiver came up"
        );
        step(&mut monitor, &mut ticks, &mut cycles).await;
    }
    // one more cycle takes the delivered count
    step(&mut monitor, &mut ticks, &mut cycles).await;
    let got = bodies.lock().unwrap().clone();
    println!("{got:?}");
    let mains: Vec<&String> = got.iter().filter(|b| b.contains("mains-high")).collect();
    assert_eq!(mains.len(), 1, "{got:?}");
    let json: serde_json::Value = serde_json::from_str(mains[0]).unwrap();
    assert!(json.to_string().contains("main/v_l1_n"), "{json}");
    assert_eq!(monitor.pending_notifications(), 0);
    assert_eq!(
        cycles.iter().map(|c| c.notified).sum::<usize>(),
        got.len(),
        "{cycles:?}"
    );
    let longest = cycles.iter().map(|c| c.took).max().unwrap();
    println!(
        "{} cycles, longest {} ms (live {} ms)",
        cycles.len(),
        longest.as_millis(),
        live.as_millis()
    );
    assert!(longest < live, "a cycle waited for delivery: {longest:?}");
    monitor.shutdown().await.unwrap();
    sim.stop().await;
}

/// Shutdown flushes what waits: a notification queued for a receiver that comes up during
/// the shutdown's bounded wait is delivered before `shutdown` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_what_waits_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    // a closed port: refused at once
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("alarms.toml"),
        "[[recipient]]\nname = \"hook\"\naddress = \"ops@site.example\"\n\n[[rule]]\nid = \"mains-high\"\ntext = \"Mains voltage above 100 V\"\npoints = [\"main/v_l1_n\"]\nkind = \"high\"\nthreshold = 100.0\npriority = \"critical\"\nrecipients = [\"hook\"]\n",
    )
    .unwrap();
    let text = format!(
        "{}\n[[notify]]\nname = \"hook\"\naddress = \"ops@site.example\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/alarms\"\ntimeout = \"2s\"\nretry = {{ initial = \"300ms\", max = \"300ms\" }}\n",
        examples::site::DEMO_TEXT
            .replace("live = \"10s\"", "live = \"1s\"")
            .replace(
                "offline = \"30s\"",
                "offline = \"30s\"\nrules = \"alarms.toml\""
            )
    );
    let mut site = Site::from_str(dir.path().join("site.toml"), &text).unwrap();
    for b in &sim.site().buses {
        site.set_address(&b.name, b.address.as_deref().unwrap());
    }
    for b in &sim.site().mbus_buses {
        site.set_address(&b.name, &b.address);
    }
    site.opcua = None;
    site.notify.retain(|n| n.name == "hook");
    site.alarms.recipients = Some(vec!["hook".into()]);
    let mut monitor = Monitor::start(&site, MonitorOptions::default())
        .await
        .unwrap();
    monitor.cycle().await.unwrap();
    let t0 = Instant::now();
    while monitor.pending_notifications() == 0 {
        assert!(t0.elapsed() < Duration::from_secs(5), "nothing queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the receiver comes up while the monitor stops
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let bodies = receiver(TcpListener::bind(addr).unwrap());
    let stopping = Instant::now();
    monitor.shutdown().await.unwrap();
    let took = stopping.elapsed();
    let got = bodies.lock().unwrap().clone();
    assert_eq!(
        got.iter().filter(|b| b.contains("mains-high")).count(),
        1,
        "{got:?}"
    );
    assert!(
        took < examples::gateway::SHUTDOWN_DELIVERY + Duration::from_secs(2),
        "{took:?}"
    );
    sim.stop().await;
}
