//! Derivations from measured data, and the expected / previous / current history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use eiec::{
    Assessment, BUILTIN_CRITERIA, BuildingType, Class, ClassScale, ClassTables, CriteriaCatalogue,
    Error, History, MeasuredData, MeasuredQuantity, MeteredDevice, PowerFactorData, Rating, Scheme,
    measure,
};

fn device(name: &str, kwh: f64, load_profile: bool) -> MeteredDevice {
    MeteredDevice {
        name: name.into(),
        annual_kwh: kwh,
        load_profile,
    }
}

fn site(devices: Vec<MeteredDevice>, pf: Option<PowerFactorData>) -> MeasuredData {
    MeasuredData {
        annual_consumption_kwh: 400_000.0,
        devices,
        power_factor: pf,
    }
}

#[test]
fn measurements_from_plain_numbers() {
    let m = measure(&site(
        vec![
            device("hvac", 150_000.0, true),
            device("lighting", 90_000.0, false),
            device("process", 60_000.0, true),
        ],
        Some(PowerFactorData::Energies {
            active_kwh: 400_000.0,
            reactive_kvarh: -150_000.0,
        }),
    ))
    .unwrap();
    assert!((m.metering_coverage_percent - 75.0).abs() < 1e-9);
    assert!((m.load_profile_coverage_percent - 52.5).abs() < 1e-9);
    assert!(m.load_profiles_present);
    assert!(!m.metering_over_total);
    let pf = 400_000.0 / (400_000.0f64.powi(2) + 150_000.0f64.powi(2)).sqrt();
    assert!((m.average_power_factor.unwrap() - pf).abs() < 1e-12);

    // Samples average by absolute value (export shows as negative power factor).
    let m = measure(&site(
        vec![],
        Some(PowerFactorData::Samples(vec![0.9, -0.8, 1.0])),
    ))
    .unwrap();
    assert!((m.average_power_factor.unwrap() - 0.9).abs() < 1e-12);
    assert_eq!(m.metering_coverage_percent, 0.0);

    // Devices adding up to more than the total: capped and flagged.
    let m = measure(&site(vec![device("a", 500_000.0, false)], None)).unwrap();
    assert_eq!(m.metering_coverage_percent, 100.0);
    assert!(m.metering_over_total);
}

#[test]
fn impossible_measurements_are_refused() {
    let bad = [
        MeasuredData {
            annual_consumption_kwh: 0.0,
            devices: vec![],
            power_factor: None,
        },
        MeasuredData {
            annual_consumption_kwh: f64::NAN,
            devices: vec![],
            power_factor: None,
        },
        site(vec![device("meter 7", -3.0, false)], None),
        site(vec![], Some(PowerFactorData::Samples(vec![]))),
        site(vec![], Some(PowerFactorData::Samples(vec![0.9, 1.2]))),
        site(
            vec![],
            Some(PowerFactorData::Energies {
                active_kwh: 0.0,
                reactive_kvarh: 0.0,
            }),
        ),
    ];
    for data in bad {
        let err = measure(&data).unwrap_err();
        assert!(matches!(err, Error::InvalidMeasurement { .. }), "{err:?}");
    }
    let err = measure(&site(vec![device("meter 7", -3.0, false)], None)).unwrap_err();
    assert!(err.to_string().contains("meter 7"), "{err}");
}

#[test]
fn builtin_derivations_report_values_but_invent_no_levels() {
    let scheme = Scheme::builtin().unwrap();
    let data = site(
        vec![device("hvac", 300_000.0, true)],
        Some(PowerFactorData::Samples(vec![0.93])),
    );
    let d = scheme
        .derive(BuildingType::Commercial, None, &data)
        .unwrap();
    let ids: Vec<_> = d.iter().map(|d| d.criterion.as_str()).collect();
    assert_eq!(
        ids,
        ["load-profile", "consumption-coverage", "power-factor"]
    );
    for x in &d {
        assert!(x.value.is_some());
        assert_eq!(x.level, None, "{}: thresholds are unknown", x.criterion);
        assert!(x.reason.contains("unknown"), "{}", x.reason);
    }
    let coverage = d
        .iter()
        .find(|d| d.quantity == MeasuredQuantity::MeteringCoverage)
        .unwrap();
    assert_eq!(coverage.value, Some(75.0));
    let mut a = Assessment::new(BuildingType::Commercial);
    assert_eq!(a.apply_derivations(&d), 0);
    assert!(a.criteria.is_empty());

    // Residential has no power-factor criterion; no power factor measured: reported as such.
    let d = scheme
        .derive(BuildingType::Residential, None, &site(vec![], None))
        .unwrap();
    let ids: Vec<_> = d.iter().map(|d| d.criterion.as_str()).collect();
    assert_eq!(ids, ["load-profile", "consumption-coverage"]);
    // Nothing metered, no load profile: both measures are absent, level 0.
    assert!(d.iter().all(|x| x.level == Some(0)), "{d:?}");
}

#[test]
fn caller_thresholds_give_levels_that_an_assessment_takes() {
    let text = BUILTIN_CRITERIA
        .replacen(
            "derived_from = \"power-factor\"",
            "derived_from = \"power-factor\"\nthresholds = [0.8, 0.85, 0.9, 0.95]",
            1,
        )
        .replacen(
            "derived_from = \"metering-coverage\"",
            "derived_from = \"metering-coverage\"\nthresholds = [50, 60, 70, 80]",
            1,
        );
    let cat = CriteriaCatalogue::from_toml_str("mine.toml".as_ref(), &text).unwrap();
    let scheme = Scheme::new(cat, ClassTables::builtin().unwrap());
    let cases = [
        (0.79, 65.0, 0, 2),
        (0.8, 70.0, 1, 3),
        (0.92, 79.9, 3, 3),
        (0.95, 80.0, 4, 4),
    ];
    for (pf, coverage, pf_level, cov_level) in cases {
        let data = MeasuredData {
            annual_consumption_kwh: 1000.0,
            devices: vec![device("main", coverage * 10.0, true)],
            power_factor: Some(PowerFactorData::Samples(vec![pf])),
        };
        let d = scheme
            .derive(BuildingType::Industrial, None, &data)
            .unwrap();
        let level = |id: &str| d.iter().find(|x| x.criterion == id).unwrap().level;
        assert_eq!(level("power-factor"), Some(pf_level), "pf {pf}");
        assert_eq!(
            level("consumption-coverage"),
            Some(cov_level),
            "coverage {coverage}"
        );
        assert_eq!(level("load-profile"), None);
        let mut a = Assessment::from_level_list(BuildingType::Industrial, "lighting=2").unwrap();
        assert_eq!(a.apply_derivations(&d), 2);
        assert_eq!(a.criteria["power-factor"].rating, Rating::Level(pf_level));
        assert!(
            a.criteria["power-factor"]
                .evidence
                .as_deref()
                .unwrap()
                .contains("average power factor")
        );
        let r = scheme.assess(&a, ClassScale::Six).unwrap();
        assert_eq!(r.total, 2 + u32::from(pf_level) + u32::from(cov_level));
    }
}

#[test]
fn history_shows_expected_previous_and_current() {
    let scheme = Scheme::builtin().unwrap();
    let b = BuildingType::Infrastructure;
    let at = |y| Utc.with_ymd_and_hms(y, 6, 1, 0, 0, 0).unwrap();
    let r = |list: &str| {
        scheme
            .assess(
                &Assessment::from_level_list(b, list).unwrap(),
                ClassScale::Six,
            )
            .unwrap()
    };
    let mut h = History::new();
    let empty = h.view();
    assert_eq!(
        (empty.expected, empty.previous, empty.current),
        (None, None, None)
    );

    let first = r("lighting=4,hvac=4,motors=4,wiring=4"); // 16: EIEC1
    let second = r("lighting=4,hvac=4,motors=4,wiring=4,renewable=4,transformers=4,power-factor=4"); // 28: EIEC2
    let third = r(""); // 0: EIEC0
    // Pushed out of order: kept in time order.
    h.push(at(2025), second.clone()).unwrap();
    h.push(at(2023), first.clone()).unwrap();
    let v = h.view();
    assert_eq!(
        (v.previous, v.current),
        (Some(Class::new(1)), Some(Class::new(2)))
    );
    assert_eq!(
        v.expected, None,
        "no expected class is known for the building type"
    );
    assert_eq!(v.classes, 6);
    h.set_expected(Some(Class::new(4)));
    h.push(at(2026), third).unwrap();
    let v = h.view();
    assert_eq!(
        (v.expected, v.previous, v.current),
        (
            Some(Class::new(4)),
            Some(Class::new(2)),
            Some(Class::new(0))
        )
    );
    assert_eq!(h.records().len(), 3);
    assert_eq!(h.current().unwrap().at, at(2026));

    // Another building type or another number of classes cannot join.
    let other = scheme
        .assess(&Assessment::new(BuildingType::Commercial), ClassScale::Six)
        .unwrap();
    assert!(matches!(
        h.push(at(2027), other),
        Err(Error::HistoryMismatch { .. })
    ));
    let five = scheme
        .assess(&Assessment::new(b), ClassScale::Five)
        .unwrap();
    assert!(matches!(
        h.push(at(2027), five),
        Err(Error::HistoryMismatch { .. })
    ));

    // A history survives a JSON round trip (for storage).
    let json = serde_json::to_string(&h).unwrap();
    let back: History = serde_json::from_str(&json).unwrap();
    assert_eq!(back, h);
}

#[test]
fn expected_class_comes_from_a_class_table_that_states_it() {
    let tables = ClassTables::from_toml_str(
        "t.toml".as_ref(),
        "[[table]]\nid = \"with-target\"\nedition = \"2014\"\nbuilding_types = [\"industrial\"]\n\
         lower_bounds = [0, 16, 26, 36, 48, 58]\nconfidence = \"inferred\"\nexpected_class = \"EIEC2\"\n",
    )
    .unwrap();
    let scheme = Scheme::new(
        CriteriaCatalogue::builtin().unwrap(),
        ClassTables::builtin().unwrap().overlay(tables),
    );
    let r = scheme
        .assess(&Assessment::new(BuildingType::Industrial), ClassScale::Six)
        .unwrap();
    assert_eq!(r.expected, Some(Class::new(2)));
    let mut h = History::new();
    h.push(Utc::now(), r).unwrap();
    assert_eq!(h.view().expected, Some(Class::new(2)));
    // Commercial still uses the built-in table, which states none.
    let c = scheme
        .assess(&Assessment::new(BuildingType::Commercial), ClassScale::Six)
        .unwrap();
    assert_eq!(c.expected, None);
}
