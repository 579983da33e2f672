//! Report kinds, periods, presets and CSV export over a real store.
#![cfg(feature = "sqlite")] // the SQLite store
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use chrono::{DateTime, TimeZone, Utc};
use reports::aggregate::{Aggregation, Granularity, parse_tz};
use reports::export::{Archive, CsvOptions, Layout, render_file_name, write_csv};
use reports::report::{
    Period, Point, Preset, ReportKind, cost_report, detailed_report, standard_report,
};
use reports::tariff::Tariffs;
#[cfg(feature = "testing")]
use reports::testing::{Generator, Profile};
use reports::{ChannelKind, ChannelSpec, Sample, SqliteStore, Store, StoreOptions};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Two meters, March 2026 at 15 minutes, energy = 1 kWh per quarter hour, temperature 20.0 / 21.0.
fn store() -> SqliteStore {
    let mut s = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
    let t0 = utc("2026-03-01T00:00:00Z").timestamp();
    for (m, temp) in [("m1", 20.0), ("m2", 21.0)] {
        let e = s
            .ensure_channel(&ChannelSpec::new(m, "energy", "kWh", ChannelKind::Counter))
            .unwrap();
        let t = s
            .ensure_channel(&ChannelSpec::new(
                m,
                "temperature",
                "degC",
                ChannelKind::Instantaneous,
            ))
            .unwrap();
        let mut b = Vec::new();
        for i in 0..(31 * 96 + 1) {
            b.push((e.id, Sample::new(t0 + i * 900, 1000.0 + i as f64)));
            b.push((t.id, Sample::new(t0 + i * 900, temp)));
        }
        s.write(&b).unwrap();
    }
    s
}

#[test]
fn standard_report_one_value_per_device_and_column() {
    let s = store();
    let pts = [
        Point::new("m1/energy", None),
        Point::new("m2/energy", None),
        Point::new("m1/temperature", None),
        Point::new("m2/temperature", Some(Aggregation::Max)),
    ];
    let t = standard_report(
        &s,
        &pts,
        utc("2026-03-02T00:00:00Z"),
        utc("2026-03-03T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(
        t.columns.len(),
        3,
        "energy/delta, temperature/mean, temperature/max"
    );
    assert_eq!(t.rows[0].values, vec![Some(96.0), Some(20.0), None]);
    assert_eq!(t.rows[1].values, vec![Some(96.0), None, Some(21.0)]);
    assert!(
        standard_report(
            &s,
            &[Point::new("m9/energy", None)],
            utc("2026-03-02T00:00:00Z"),
            utc("2026-03-03T00:00:00Z")
        )
        .is_err()
    );
}

#[test]
fn detailed_report_yesterday_on_a_dst_day() {
    let s = store();
    let tz = parse_tz("Europe/Paris").unwrap();
    let (from, to) = Period::Yesterday.resolve(utc("2026-03-30T08:00:00Z"), tz);
    let t = detailed_report(
        &s,
        &[Point::new("m1/energy", None)],
        from,
        to,
        Granularity::QuarterHour,
        tz,
    )
    .unwrap();
    assert_eq!(t.rows.len(), 92, "29 March has 23 hours in Paris");
    assert!(t.rows.iter().all(|r| r.values[0] == Some(1.0)));
    let (from, to) = Period::Yesterday.resolve(utc("2026-03-03T08:00:00Z"), tz);
    let t = detailed_report(
        &s,
        &[Point::new("m1/energy", None)],
        from,
        to,
        Granularity::QuarterHour,
        tz,
    )
    .unwrap();
    assert_eq!(t.rows.len(), 96);
    assert_eq!(t.rows[0].label, "2026-03-02 00:00");
}

#[test]
fn periods_resolve_in_local_time() {
    let tz = parse_tz("Europe/Paris").unwrap();
    let now = utc("2026-05-13T10:00:00Z");
    let r = |p: Period| {
        let (a, b) = p.resolve(now, tz);
        (
            a.with_timezone(&tz).naive_local().to_string(),
            b.with_timezone(&tz).naive_local().to_string(),
        )
    };
    assert_eq!(
        r(Period::Today),
        ("2026-05-13 00:00:00".into(), "2026-05-14 00:00:00".into())
    );
    assert_eq!(r(Period::ThisWeek).0, "2026-05-11 00:00:00");
    assert_eq!(
        r(Period::LastWeek),
        ("2026-05-04 00:00:00".into(), "2026-05-11 00:00:00".into())
    );
    assert_eq!(
        r(Period::LastMonth),
        ("2026-04-01 00:00:00".into(), "2026-05-01 00:00:00".into())
    );
    assert_eq!(
        r(Period::ThisQuarter),
        ("2026-04-01 00:00:00".into(), "2026-07-01 00:00:00".into())
    );
    assert_eq!(r(Period::LastQuarter).0, "2026-01-01 00:00:00");
    assert_eq!(
        r(Period::LastYear),
        ("2025-01-01 00:00:00".into(), "2026-01-01 00:00:00".into())
    );
    // The fall-back day lasts 25 hours.
    let (a, b) = Period::Yesterday.resolve(utc("2026-10-26T12:00:00Z"), tz);
    assert_eq!((b - a).num_hours(), 25);
}

#[test]
fn presets_roundtrip_and_run() {
    let s = store();
    let p = Preset {
        name: "daily energy".into(),
        kind: ReportKind::Detailed,
        points: vec!["m1/energy".into(), "m2/temperature".into()],
        period: Period::Custom {
            from: utc("2026-03-02T00:00:00Z"),
            to: utc("2026-03-04T00:00:00Z"),
        },
        granularity: Granularity::Day,
        aggregation: None,
        timezone: "UTC".into(),
    };
    let json = p.to_json().unwrap();
    let back = Preset::from_json(&json).unwrap();
    assert_eq!(back, p);
    let toml_text = toml::to_string(&p).unwrap();
    assert_eq!(toml::from_str::<Preset>(&toml_text).unwrap(), p);
    let t = back.run(&s, Utc::now()).unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[1].values, vec![Some(96.0), Some(21.0)]);
    assert!(Preset::from_json(&json.replace("\"name\"", "\"nom\"")).is_err());
    let e = Preset {
        kind: ReportKind::EnergyConsumption,
        points: vec!["m1/energy".into()],
        ..p
    };
    let t = e.run(&s, Utc::now()).unwrap();
    assert_eq!(t.columns.len(), 1, "only the counter channel of m1");
}

#[test]
fn csv_layouts_separators_and_decimals() {
    let s = store();
    let tz = parse_tz("UTC").unwrap();
    let pts = [
        Point::new("m1/energy", None),
        Point::new("m1/temperature", Some(Aggregation::Last)),
    ];
    let t = detailed_report(
        &s,
        &pts,
        utc("2026-03-02T00:00:00Z"),
        utc("2026-03-02T00:30:00Z"),
        Granularity::QuarterHour,
        tz,
    )
    .unwrap();
    let csv = |o: CsvOptions| {
        let mut v = Vec::new();
        write_csv(&t, &mut v, &o, tz).unwrap();
        String::from_utf8(v).unwrap()
    };
    assert_eq!(
        csv(CsvOptions::default()),
        "time;m1/energy (kWh);m1/temperature (degC)\n2026-03-02 00:00;1;20\n2026-03-02 00:15;1;20\n"
    );
    let o = CsvOptions {
        separator: ',',
        header: false,
        precision: Some(2),
        layout: Layout::OneLinePerProduct,
        ..Default::default()
    };
    assert_eq!(
        csv(o),
        "m1/energy,kWh,1.00,1.00\nm1/temperature,degC,20.00,20.00\n"
    );
    let o = CsvOptions {
        decimal: ',',
        precision: Some(1),
        layout: Layout::OneProductPerLine,
        ..Default::default()
    };
    let long = csv(o);
    assert_eq!(long.lines().count(), 5);
    assert_eq!(
        long.lines().nth(2).unwrap(),
        "2026-03-02 00:00;m1/temperature;degC;20,0"
    );
    let bad = CsvOptions {
        separator: ',',
        decimal: ',',
        ..Default::default()
    };
    assert!(write_csv(&t, Vec::new(), &bad, tz).is_err());
}

#[test]
fn archive_keeps_the_last_seven() {
    let dir = tempfile::tempdir().unwrap();
    let tz = parse_tz("Europe/Paris").unwrap();
    let mut a = Archive::open(dir.path(), 7).unwrap();
    for d in 1..=10 {
        let name = render_file_name(
            "cost_%date.csv",
            Utc.with_ymd_and_hms(2026, 5, d, 6, 0, 0).unwrap(),
            tz,
            "",
        );
        a.store(&name, b"x").unwrap();
    }
    let kept: Vec<String> = a.files().map(str::to_string).collect();
    assert_eq!(kept.len(), 7);
    assert_eq!(kept[0], "cost_202605040800.csv");
    assert!(!dir.path().join("cost_202605030800.csv").exists());
    // Reopened, it remembers the order.
    let mut b = Archive::open(dir.path(), 7).unwrap();
    b.store("extra.csv", b"y").unwrap();
    assert!(!dir.path().join("cost_202605040800.csv").exists());
    assert!(b.store("../escape.csv", b"z").is_err());
}

#[test]
fn cost_report_from_the_store() {
    let s = store();
    let all = |n: &str| format!("[{}]", vec![format!("\"{n}\""); 24].join(","));
    let text = format!(
        "currency = \"EUR\"\ntimezone = \"UTC\"\n[[source]]\nname = \"electricity\"\nunit = \"kWh\"\ntariffs = [ {{ name = \"base\", price = 0.2 }} ]\nweekday = {w}\nsaturday = {w}\nsunday = {w}\n",
        w = all("base")
    );
    let tariffs = Tariffs::from_toml("t.toml", &text).unwrap();
    let rows = cost_report(
        &s,
        &tariffs,
        &[("m1/energy", "electricity")],
        utc("2026-03-02T00:00:00Z"),
        utc("2026-03-04T00:00:00Z"),
        Granularity::Day,
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!((rows[0].quantity - 96.0).abs() < 1e-9);
    assert!((rows[0].cost - 96.0 * 0.2).abs() < 1e-9);
}

#[cfg(feature = "testing")] // reports::testing
#[test]
fn synthetic_meter_report_is_plausible() {
    // A week of generated data aggregates to daily values with no gaps.
    let mut s = SqliteStore::open_in_memory(StoreOptions::default()).unwrap();
    let ch = s.ensure_channel(&Profile::Electricity.spec("m1")).unwrap();
    let mut g = Generator::new(Profile::Electricity, 1);
    let t0 = utc("2026-01-05T00:00:00Z").timestamp();
    let b: Vec<_> = (0..=7 * 96)
        .map(|i| (ch.id, g.next(t0 + i * 900)))
        .collect();
    s.write(&b).unwrap();
    let t = detailed_report(
        &s,
        &[Point::new("m1/energy", None)],
        utc("2026-01-05T00:00:00Z"),
        utc("2026-01-12T00:00:00Z"),
        Granularity::Day,
        parse_tz("UTC").unwrap(),
    )
    .unwrap();
    assert_eq!(t.rows.len(), 7);
    let v: Vec<f64> = t.rows.iter().map(|r| r.values[0].unwrap()).collect();
    assert!(v[0] > v[5], "weekday above Saturday: {v:?}");
}
