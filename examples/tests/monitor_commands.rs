//! `monitor` subcommands other than `run` and `scan`, through the binary: `catalogue list`,
//! `catalogue validate FILE`, `report`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use chrono::{Duration, DurationRound, Utc};
use modbus_devices::Catalogue;
use reports::{ChannelKind, ChannelSpec, Sample, SqliteStore, Store, StoreOptions};

/// A user product (one service) for the catalogue files of these tests.
const USER_PRODUCT: &str = r#"
[[product]]
references = ["MC-TEST"]
vendor = "Tester"
model = "MC-TEST-1"
defaults = { function_code = 3 }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }
"#;

fn monitor(args: &[&str]) -> Output {
    common::example("monitor")
        .args(args)
        .output()
        .expect("monitor runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn catalogue_list_shows_builtin_and_site_products() {
    let builtin = Catalogue::builtin().unwrap();
    let out = monitor(&["catalogue", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // header + one line per built-in product
    assert_eq!(
        stdout.lines().count(),
        builtin.products().len() + 1,
        "{stdout}"
    );
    let ecr = builtin.require("ECR380D").unwrap();
    let line = stdout.lines().find(|l| l.starts_with("ECR380D ")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells.last().unwrap(),
        &ecr.services.len().to_string(),
        "{line}"
    );
    assert!(line.contains(&ecr.vendor), "{line}");

    // A site with a user catalogue file lists that product too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), USER_PRODUCT).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"t\"\ntime_zone = \"UTC\"\n[catalogue]\nfiles = [\"mine.toml\"]\n",
    )
    .unwrap();
    let site_arg = site.to_str().unwrap();
    let out = monitor(&["catalogue", "list", "--site", site_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("MC-TEST ")).unwrap();
    assert!(
        line.contains("Tester") && line.contains("MC-TEST-1"),
        "{line}"
    );
    assert!(line.trim_end().ends_with(" 1"), "{line}");

    let out = monitor(&["catalogue", "list", "--site", site_arg, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let products = json.as_array().unwrap();
    assert_eq!(products.len(), builtin.products().len() + 1);
    let mine = products
        .iter()
        .find(|p| p["references"][0] == "MC-TEST")
        .unwrap();
    assert_eq!(mine["services"][0]["id"], "v_l1_n");
}

#[test]
fn catalogue_validate_names_line_and_field_or_lists_products() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, USER_PRODUCT).unwrap();
    let out = monitor(&["catalogue", "validate", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 product(s)"), "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("MC-TEST ")).unwrap();
    assert!(line.contains("MC-TEST-1"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[product]]\nreferences = [\"X\"]\nvendor = 3\n").unwrap();
    let out = monitor(&["catalogue", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml:3:") && err.contains(": product[0].vendor: "),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // A reference that exists built in is refused too.
    let dup = dir.path().join("dup.toml");
    std::fs::write(&dup, USER_PRODUCT.replace("\"MC-TEST\"", "\"ECR380D\"")).unwrap();
    let out = monitor(&["catalogue", "validate", dup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ECR380D"));
}

/// A site with one device `m1` (no poller runs: the test fills its store directly).
const REPORT_SITE: &str = r#"
[site]
name = "report test"
time_zone = "UTC"

[[bus]]
name = "lan"
kind = "tcp"
address = "127.0.0.1:1"

[[device]]
name = "m1"
product = "ECR380D"
bus = "lan"
unit = 1

[store]
path = "store.sqlite"

[output]
dir = "out"
"#;

/// Fills the store at `path`; returns 00:00 UTC today.
fn fill_store(path: &std::path::Path) -> chrono::DateTime<Utc> {
    // Two days of 15-minute samples: an energy counter rising 0.25 kWh per sample (1 kWh an
    // hour, 24 kWh a day) and an instantaneous power channel; from 00:00 UTC yesterday minus
    // an hour up to now.
    let now = Utc::now();
    let today = now.duration_trunc(Duration::days(1)).unwrap();
    let start = today - Duration::days(1) - Duration::hours(1);
    {
        let mut store = SqliteStore::open(path, StoreOptions::default()).unwrap();
        let energy = store
            .ensure_channel(&ChannelSpec::new(
                "m1",
                "ea_imp",
                "kWh",
                ChannelKind::Counter,
            ))
            .unwrap();
        let power = store
            .ensure_channel(&ChannelSpec::new(
                "m1",
                "p_tot",
                "kW",
                ChannelKind::Instantaneous,
            ))
            .unwrap();
        let mut samples = Vec::new();
        let mut i = 0i64;
        while start + Duration::minutes(15 * i) <= now {
            let t = (start + Duration::minutes(15 * i)).timestamp();
            samples.push((energy.id, Sample::new(t, 5000.0 + 0.25 * i as f64)));
            samples.push((power.id, Sample::new(t, 4.0 + (i % 4) as f64)));
            i += 1;
        }
        let written = store.write(&samples).unwrap();
        assert_eq!(written.stored as usize, samples.len());
    }

    today
}

#[test]
fn report_energy_consumption_csv_chart_and_archive() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, REPORT_SITE).unwrap();
    let site_arg = site.to_str().unwrap();

    let today = fill_store(&dir.path().join("store.sqlite"));

    let run = || {
        monitor(&[
            "report",
            "--site",
            site_arg,
            "--kind",
            "energy-consumption",
            "--period",
            "yesterday",
        ])
    };
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 2, "{stdout}");
    let (csv_path, png_path) = (paths[0], paths[1]);
    assert!(
        csv_path.ends_with(".csv") && png_path.ends_with(".png"),
        "{stdout}"
    );
    assert!(
        std::path::Path::new(csv_path).starts_with(dir.path().join("out")),
        "{csv_path}"
    );

    // The CSV: one row per hour of yesterday, consumption = the counter's increase (24 kWh);
    // the power channel is not an energy counter, so it is not a column.
    let csv = std::fs::read_to_string(csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time;m1/ea_imp (kWh)"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 24, "{csv}");
    let yesterday = (today - Duration::days(1))
        .format("%Y-%m-%d 00:00")
        .to_string();
    assert!(rows[0].starts_with(&format!("{yesterday};")), "{csv}");
    let total: f64 = rows
        .iter()
        .map(|r| r.split(';').nth(1).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 24.0, "{csv}");
    assert!(rows.iter().all(|r| r.ends_with(";1")), "{csv}");

    let png = std::fs::read(png_path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {png_path}"
    );

    // Seven more runs: the archive keeps the last 7 reports (CSV + chart each).
    for _ in 0..7 {
        let out = run();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out_dir = dir.path().join("out");
    let files = |ext: &str| files_ending(&out_dir, ext);
    assert_eq!(files(".csv").len(), 7, "{:?}", files(""));
    assert_eq!(files(".png").len(), 7, "{:?}", files(""));
    assert!(
        !std::path::Path::new(csv_path).exists(),
        "the oldest CSV is dropped"
    );
    assert!(
        !std::path::Path::new(png_path).exists(),
        "the oldest chart is dropped"
    );

    // A detailed report of the same store has both channels.
    let out = monitor(
        &[
            "report",
            "--site",
            site_arg,
            "--kind",
            "detailed",
            "--period",
            "yesterday",
            "--out",
        ]
        .into_iter()
        .chain([dir.path().join("other").to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv_path = text(&out.stdout).lines().next().unwrap().to_string();
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(
        csv.starts_with("time;m1/ea_imp (kWh);m1/p_tot (kW)\n"),
        "{csv}"
    );
}

#[test]
fn report_standard_one_row_per_device() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, REPORT_SITE).unwrap();
    fill_store(&dir.path().join("store.sqlite"));
    let out = monitor(&[
        "report",
        "--site",
        site.to_str().unwrap(),
        "--kind",
        "standard",
        "--period",
        "yesterday",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let csv = std::fs::read_to_string(stdout.lines().next().unwrap()).unwrap();
    // The counter's increase and the power's mean (4, 5, 6, 7 repeating) over yesterday.
    assert_eq!(csv, "label;ea_imp (kWh);p_tot (kW)\nm1;24;5.5\n", "{csv}");
    let png = std::fs::read(stdout.lines().nth(1).unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    // Without a store file the report says so.
    std::fs::remove_file(dir.path().join("store.sqlite")).unwrap();
    let out = monitor(&[
        "report",
        "--site",
        site.to_str().unwrap(),
        "--kind",
        "standard",
        "--period",
        "today",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn report_refuses_unknown_kind_and_period() {
    let out = monitor(&["report", "--kind", "cost", "--period", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("\"cost\""),
        "{}",
        text(&out.stderr)
    );
    let out = monitor(&["report", "--kind", "standard", "--period", "someday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("\"someday\""),
        "{}",
        text(&out.stderr)
    );
}

/// The sorted names of the files in `dir` ending with `ext`.
fn files_ending(dir: &std::path::Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}
