//! The monitor's scheduled reports and publications, and `monitor commissioning-report`:
//! a `[[report]]` due at once is written by the running monitor into its archive folder and
//! published, once (also across a restart); eight scheduled days on a manual clock keep the
//! last seven files in the report's folder and in the publication's; the commissioning
//! report of the simulated demo site with one device silenced lists every device and marks
//! the silent one (exit status 1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use examples::gateway::report::Scheduler;
use examples::gateway::{Monitor, MonitorOptions};
use examples::simulation::{DeviceFault, SimOptions, SimulatedSite};
use examples::site::Site;
use reports::{ChannelKind, ChannelSpec, Sample, SqliteStore, Store, StoreOptions};

/// The demo site text with the simulation's bound addresses, a 1 s live and recording
/// period and no OPC UA server; `extra` replaces the demo's report kind when given.
fn site_text(sim: &SimulatedSite) -> String {
    let mut text = examples::site::DEMO_TEXT
        .replace("live = \"10s\"", "live = \"1s\"")
        .replace("record = \"15min\"", "record = \"1s\"");
    // no OPC UA server: cut the [opcua] section and its user
    let start = text.find("[opcua]").unwrap();
    let end = text.find("[output]").unwrap();
    text.replace_range(start..end, "");
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
    text
}

fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_report_is_written_by_the_monitor_published_and_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    // a standard report (the store has values of today only, yesterday's cells are empty)
    let text = site_text(&sim)
        .replace(
            "kind = \"energy-consumption\"          # standard",
            "kind = \"standard\"          # standard",
        )
        .replace("chart = true", "chart = false");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, &text).unwrap();
    let site = Site::load(&path).unwrap();
    assert_eq!(site.reports[0].name, "daily-energy");
    let options = MonitorOptions::default();

    let out = dir.path().join("output");
    let mut monitor = Monitor::start(&site, options.clone()).await.unwrap();
    // never run: due at once; it runs after the first cycle and is reported by a later one
    let mut lines = Vec::new();
    for _ in 0..15 {
        let s = monitor.cycle().await.unwrap();
        println!("{}", s.line());
        lines.extend(s.reports.clone());
        if !lines.is_empty() {
            // the cycle line says so
            assert!(
                s.line().contains("; report daily-energy written: "),
                "{}",
                s.line()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("report daily-energy written: "),
        "{lines:?}"
    );
    let tz = site.time_zone();
    let yesterday = Utc::now()
        .with_timezone(&tz)
        .date_naive()
        .pred_opt()
        .unwrap();
    let stem = format!("daily-energy_{}", yesterday.format("%Y-%m-%d"));
    let folder = out.join("daily-energy");
    assert_eq!(files(&folder, ".csv"), vec![format!("{stem}.csv")]);
    assert!(files(&folder, ".png").is_empty(), "chart = false");
    let csv = std::fs::read_to_string(folder.join(format!("{stem}.csv"))).unwrap();
    for device in ["main", "lighting", "hm1", "ecl1"] {
        assert!(csv.contains(device), "{device} not in\n{csv}");
    }
    let published = files(&out.join("published"), ".csv");
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].starts_with("daily-energy_"), "{published:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("published").join(&published[0])).unwrap(),
        csv
    );
    assert!(out.join(".schedule.json").exists());

    // not twice: more cycles, then a restarted monitor, write nothing more
    for _ in 0..2 {
        let s = monitor.cycle().await.unwrap();
        assert!(s.reports.is_empty(), "{s:?}");
    }
    monitor.shutdown().await.unwrap();
    let mut monitor = Monitor::start(&site, options).await.unwrap();
    for _ in 0..2 {
        let s = monitor.cycle().await.unwrap();
        assert!(s.reports.is_empty(), "{s:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    monitor.shutdown().await.unwrap();
    assert_eq!(files(&folder, ".csv").len(), 1);
    assert_eq!(files(&out.join("published"), ".csv").len(), 1);
    sim.stop().await;
}

/// A site (no devices reached: the scheduler only reads the store) whose `hm1` has an
/// energy counter rising 1 kWh an hour from 2026-03-20 to 2026-04-02 UTC.
fn counter_site(dir: &Path) -> Site {
    let text = examples::site::DEMO_TEXT.replace("dir = \"output\"", "dir = \"out\"");
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    let site = Site::load(&path).unwrap();
    std::fs::create_dir_all(site.store_path().parent().unwrap()).unwrap();
    let mut store = SqliteStore::open(site.store_path(), StoreOptions::default()).unwrap();
    let energy = store
        .ensure_channel(&ChannelSpec::new(
            "hm1",
            "energy",
            "kWh",
            ChannelKind::Counter,
        ))
        .unwrap();
    let start = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
    let samples: Vec<_> = (0..14 * 24 * 4)
        .map(|i| {
            let t = start + chrono::Duration::minutes(15 * i);
            (
                energy.id,
                Sample::new(t.timestamp(), 20_000.0 + 0.25 * i as f64),
            )
        })
        .collect();
    store.write(&samples).unwrap();
    site
}

#[test]
fn eight_scheduled_days_keep_seven_reports_and_seven_publications() {
    let dir = tempfile::tempdir().unwrap();
    let site = counter_site(dir.path());
    let tz = site.time_zone();
    let mut scheduler = Scheduler::open(&site);
    // the manual clock: 00:20 local on eight days across the spring-forward day (29 March)
    let mut dates = Vec::new();
    for day in 0..8 {
        let date = NaiveDate::from_ymd_opt(2026, 3, 24).unwrap() + chrono::Days::new(day);
        let now = tz
            .from_local_datetime(&date.and_hms_opt(0, 20, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&Utc);
        let runs = scheduler.run_due(&site, now);
        assert_eq!(runs.len(), 1, "{date}: {runs:?}");
        let written = runs[0].result.as_ref().unwrap();
        // the report, its chart and one publication
        assert_eq!(written.len(), 3, "{written:?}");
        // a second look at the same minute: nothing more
        assert!(scheduler.run_due(&site, now).is_empty());
        dates.push(date.pred_opt().unwrap());
    }
    let folder = site.output_dir().join("daily-energy");
    let csv = files(&folder, ".csv");
    let expected: Vec<String> = dates[1..]
        .iter()
        .map(|d| format!("daily-energy_{}.csv", d.format("%Y-%m-%d")))
        .collect();
    assert_eq!(csv, expected);
    assert_eq!(files(&folder, ".png").len(), 7);
    let published = files(&site.output_dir().join("published"), ".csv");
    assert_eq!(published.len(), 7, "{published:?}");
    // the first day is gone from both
    assert!(
        !published.iter().any(|p| p.contains("202603240")),
        "{published:?}"
    );
    // the spring-forward day (29 March, 23 hours) has 23 kWh in its report
    let text = std::fs::read_to_string(folder.join("daily-energy_2026-03-29.csv")).unwrap();
    let total: f64 = text
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit([',', ';']).next()?.trim().parse::<f64>().ok())
        .sum();
    assert!((total - 23.0).abs() < 1e-6, "{total}\n{text}");
    // the state survives: a new scheduler at the same instant has nothing due
    let last = scheduler.last_run("daily-energy").unwrap();
    let again = Scheduler::open(&site);
    assert_eq!(again.last_run("daily-energy"), Some(last));
    assert!(again.due(&site, last).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commissioning_report_lists_every_device_and_marks_the_silent_one() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Site::demo().unwrap().with_ephemeral_ports();
    let sim = SimulatedSite::start(&demo, SimOptions::default())
        .await
        .unwrap();
    sim.set_fault("lighting", DeviceFault::Silent).unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, site_text(&sim)).unwrap();
    let out = dir.path().join("commissioning");
    let args = [
        "commissioning-report".to_string(),
        "--site".to_string(),
        path.to_str().unwrap().to_string(),
        "--out".to_string(),
        out.to_str().unwrap().to_string(),
    ];
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        common::example("monitor").args(args).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!("{stdout}\n{stderr}\n{:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no answer from lighting"), "{stderr}");
    let site = Site::load(&path).unwrap();
    for (name, _) in site.names() {
        let header = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}  ")))
            .unwrap_or_else(|| panic!("{name} not listed:\n{stdout}"));
        let silent = name == "lighting";
        assert_eq!(header.ends_with("NO ANSWER"), silent, "{header}");
        assert_eq!(header.ends_with("answered"), !silent, "{header}");
    }
    let csv_name = files(&out, ".csv");
    assert_eq!(csv_name.len(), 1, "{csv_name:?}");
    assert_eq!(files(&out, ".txt").len(), 1);
    let csv = std::fs::read_to_string(out.join(&csv_name[0])).unwrap();
    assert!(csv.starts_with("device,parameter,value\n"), "{csv}");
    for row in [
        "lighting,answered,no",
        "main,answered,yes",
        "main,product,ECR380D",
        "ecl1,key configured,A266.1",
        "ecl1,key detected,A266.1",
        "ecl1,firmware,ok",
        "hm1,id,12345678",
        "hm1,manufacturer,KAM",
        "hm2,answered,yes",
        "lighting,value ea_import,(no answer)",
    ] {
        assert!(csv.lines().any(|l| l == row), "{row} not in\n{csv}");
    }
    // values with units
    assert!(
        csv.lines()
            .any(|l| l.starts_with("main,value v_l1_n,") && l.ends_with(" V")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("hm1,value energy,") && l.ends_with(" Wh")),
        "{csv}"
    );
    assert!(started.elapsed() < Duration::from_secs(50));
    sim.stop().await;
}

#[test]
fn a_failed_run_is_reported_once_and_not_retried_every_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, examples::site::DEMO_TEXT).unwrap();
    let site = Site::load(&path).unwrap();
    // no store yet: the run fails, says why, and waits for the next scheduled instant
    let mut scheduler = Scheduler::open(&site);
    let now = Utc.with_ymd_and_hms(2026, 6, 10, 8, 0, 0).unwrap();
    let runs = scheduler.run_due(&site, now);
    assert_eq!(runs.len(), 1);
    let line = runs[0].line();
    assert!(
        line.starts_with("report daily-energy failed: store ") && line.contains("no such file"),
        "{line}"
    );
    assert!(
        scheduler
            .run_due(&site, now + chrono::Duration::hours(1))
            .is_empty()
    );
    // the next day's 00:15 (22:15 UTC in summer) is due again
    let next = Utc.with_ymd_and_hms(2026, 6, 10, 22, 15, 0).unwrap();
    assert_eq!(scheduler.due(&site, next).len(), 1);
    assert!(!site.output_dir().join("daily-energy").exists());
}
