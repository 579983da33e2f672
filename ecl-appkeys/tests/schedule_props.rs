//! Schedule encode/decode round trips (property test) and served schedule registers.

use ecl_appkeys::schedule::{HhMm, Period, WeeklySchedule, schedule_pnus};
use ecl_appkeys::{Catalogue, Controller};
use proptest::prelude::*;

fn period() -> impl Strategy<Value = Period> {
    (0u16..1440, 1u16..=1440).prop_filter_map("stop after start", |(a, len)| {
        let b = a + len;
        let t = |m: u16| HhMm::new(u8::try_from(m / 60).ok()?, u8::try_from(m % 60).ok()?).ok();
        (b <= 1440)
            .then(|| Period::new(t(a)?, t(b)?).ok())
            .flatten()
    })
}

fn day() -> impl Strategy<Value = Vec<Period>> {
    proptest::collection::vec(period(), 0..=3)
}

fn week() -> impl Strategy<Value = WeeklySchedule> {
    (day(), day(), day(), day(), day(), day(), day()).prop_map(|(mo, tu, we, th, fr, sa, su)| {
        WeeklySchedule {
            monday: mo,
            tuesday: tu,
            wednesday: we,
            thursday: th,
            friday: fr,
            saturday: sa,
            sunday: su,
        }
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(w in week(), circuit in 1u8..=3) {
        let regs = w.encode(circuit).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(regs.len(), 42);
        let pnus: Vec<_> = regs.iter().map(|(p, _)| *p).collect();
        prop_assert_eq!(pnus, schedule_pnus(circuit).map_err(|e| TestCaseError::fail(e.to_string()))?);
        let raw: Vec<u16> = regs.iter().map(|(_, v)| *v).collect();
        let back = WeeklySchedule::decode(circuit, &raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, w.clone());
        // Through JSON too.
        let json = serde_json::to_string(&w).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: WeeklySchedule = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, w);
    }

    #[test]
    fn any_register_image_decodes_or_names_the_bad_register(raw in proptest::collection::vec(0u16..=2500, 42)) {
        match WeeklySchedule::decode(1, &raw) {
            Ok(w) => {
                // Re-encoding gives the same periods back (disabled ones normalised).
                let again = WeeklySchedule::decode(1, &w.encode(1).map_err(|e| TestCaseError::fail(e.to_string()))?.iter().map(|(_, v)| *v).collect::<Vec<_>>());
                prop_assert_eq!(again.ok(), Some(w));
            }
            Err(ecl_appkeys::Error::BadRegister { pnu, .. }) => prop_assert!((3110..=3175).contains(&pnu.get())),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        }
    }
}

#[test]
fn more_than_three_periods_or_reversed_ones_are_refused() {
    let p = |a: &str, b: &str| Period::parse(a, b).unwrap_or_else(|e| panic!("{e}"));
    let w = WeeklySchedule {
        friday: vec![
            p("01:00", "02:00"),
            p("03:00", "04:00"),
            p("05:00", "06:00"),
            p("07:00", "08:00"),
        ],
        ..WeeklySchedule::default()
    };
    assert!(w.encode(1).is_err());
    assert!(Period::parse("08:00", "07:00").is_err());
    assert!(
        Period::parse("08:00", "08:00").is_err(),
        "zero length is 'no period'"
    );
    let toml: Result<WeeklySchedule, _> =
        toml::from_str("monday = [{ start = \"06:00\", stop = \"22:00\" }]\n");
    assert_eq!(toml.map(|w| w.monday.len()).ok(), Some(1));
}

#[test]
fn schedule_registers_are_served_parameters_where_the_source_read_them() {
    let c = Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"));
    let ecl = Controller::new(
        &c,
        "A237.1".parse().unwrap_or_else(|e| panic!("{e}")),
        Some("ecl310"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for circuit in [1u8, 2] {
        for p in schedule_pnus(circuit).unwrap_or_default() {
            assert!(ecl.parameters().by_pnu(p).is_some(), "PNU {p}");
        }
    }
    let week = WeeklySchedule {
        monday: vec![Period::parse("06:00", "22:00").unwrap_or_else(|e| panic!("{e}"))],
        ..WeeklySchedule::default()
    };
    for (pnu, raw) in week.encode(2).unwrap_or_default() {
        let def = ecl
            .parameters()
            .by_pnu(pnu)
            .unwrap_or_else(|| panic!("{pnu}"));
        let w = ecl
            .parameters()
            .prepare_write(&def.id, f64::from(raw))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.raw, raw);
    }
}
