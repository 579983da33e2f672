//! Scoring and classification: class boundaries of both tables, clamping, criteria sets,
//! validation errors naming the criterion, the cheapest plan to the next class.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use eiec::{
    Assessment, BuildingType, Class, ClassScale, ClassTables, CriteriaCatalogue, Error, Rating,
    Scheme,
};
use proptest::prelude::*;

/// An assessment of `building` whose levels add up to `total`: criteria filled with 4 in the
/// set's order, the remainder on the next one.
fn with_total(scheme: &Scheme, building: BuildingType, total: u32) -> Assessment {
    let set = scheme.criteria().set_for(building, None).unwrap();
    let mut a = Assessment::new(building);
    let mut left = total;
    for c in &set.criteria {
        if left == 0 {
            break;
        }
        let l = left.min(4);
        a.set_level(&c.id, l as u8);
        left -= l;
    }
    assert_eq!(left, 0, "{total} does not fit the set");
    a
}

fn class(n: u8) -> Class {
    Class::new(n)
}

/// The issue's boundaries: (last total of the lower class, its class, first total of the
/// next class, that class).
const SIX_BAND: [(u32, u8, u32, u8); 5] = [
    (15, 0, 16, 1),
    (25, 1, 26, 2),
    (35, 2, 36, 3),
    (47, 3, 48, 4),
    (57, 4, 58, 5),
];

#[test]
fn six_band_table_every_boundary_for_every_non_residential_type() {
    let scheme = Scheme::builtin().unwrap();
    for building in [
        BuildingType::Commercial,
        BuildingType::Industrial,
        BuildingType::Infrastructure,
    ] {
        for (below, below_class, at, at_class) in SIX_BAND {
            let lo = scheme
                .assess(&with_total(&scheme, building, below), ClassScale::Six)
                .unwrap();
            let hi = scheme
                .assess(&with_total(&scheme, building, at), ClassScale::Six)
                .unwrap();
            assert_eq!(
                (lo.total, lo.class),
                (below, class(below_class)),
                "{building}"
            );
            assert_eq!((hi.total, hi.class), (at, class(at_class)), "{building}");
            // One point below a boundary, exactly one point is missing.
            assert_eq!(lo.next_class(), Some(class(at_class)));
            assert_eq!(lo.points_to_next(), 1);
            assert_eq!(lo.classes, 6);
        }
    }
}

#[test]
fn five_class_table_every_boundary() {
    let scheme = Scheme::builtin().unwrap();
    let b = BuildingType::Commercial;
    let expect = [
        (15, 0),
        (16, 1),
        (25, 1),
        (26, 2),
        (35, 2),
        (36, 3),
        (47, 3),
        (48, 4),
        (57, 4),
        (58, 4), // no EIEC5 in the five-class table
        (64, 4),
    ];
    for (total, c) in expect {
        let r = scheme
            .assess(&with_total(&scheme, b, total), ClassScale::Five)
            .unwrap();
        assert_eq!((r.total, r.class), (total, class(c)), "total {total}");
        assert_eq!(r.classes, 5);
    }
    let top = scheme
        .assess(&with_total(&scheme, b, 48), ClassScale::Five)
        .unwrap();
    assert_eq!(top.next_class(), None);
    assert_eq!(top.points_to_next(), 0);
    let below = scheme
        .assess(&with_total(&scheme, b, 47), ClassScale::Five)
        .unwrap();
    assert_eq!(below.next_class(), Some(class(4)));
}

#[test]
fn six_band_top_class_and_maximum() {
    let scheme = Scheme::builtin().unwrap();
    let r = scheme
        .assess(
            &with_total(&scheme, BuildingType::Industrial, 64),
            ClassScale::Six,
        )
        .unwrap();
    assert_eq!((r.total, r.max, r.class), (64, 64, class(5)));
    assert!(!r.clamped());
    assert_eq!(r.next_class(), None);
    assert_eq!(r.points_to_next(), 0);
    // Nothing entered: every criterion not considered, 0 points, EIEC0.
    let empty = scheme
        .assess(&Assessment::new(BuildingType::Industrial), ClassScale::Six)
        .unwrap();
    assert_eq!((empty.total, empty.class), (0, class(0)));
    assert!(
        empty
            .criteria
            .iter()
            .all(|c| c.rating == Rating::NotConsidered && c.points == 0)
    );
    assert_eq!(empty.points_to_next(), 16);
}

const SMALL_SET: &str = r#"
default_edition = "t"

[[set]]
id = "small"
edition = "t"
title = "Four criteria, capped at 10 points"
building_types = ["commercial"]
max_points = 10
confidence = "inferred"

[[set.criterion]]
id = "a"
kind = "EM"
title = "A"
description = "a"
confidence = "inferred"
levels = { 0 = "none", 1 = "unknown", 2 = "unknown", 3 = "unknown", 4 = "unknown" }

[[set.criterion]]
id = "b"
kind = "EM"
title = "B"
description = "b"
confidence = "inferred"
levels = { 0 = "none", 1 = "unknown", 2 = "unknown", 3 = "unknown", 4 = "unknown" }

[[set.criterion]]
id = "c"
kind = "EM"
title = "C"
description = "c"
confidence = "inferred"
levels = { 0 = "none", 1 = "unknown", 2 = "unknown", 3 = "unknown", 4 = "unknown" }

[[set.criterion]]
id = "d"
kind = "EEPL"
title = "D"
description = "d"
confidence = "inferred"
levels = { 0 = "none", 1 = "unknown", 2 = "unknown", 3 = "unknown", 4 = "unknown" }
"#;

fn small_scheme(bounds: &str) -> Scheme {
    let criteria = CriteriaCatalogue::from_toml_str(Path::new("small.toml"), SMALL_SET).unwrap();
    let tables = ClassTables::from_toml_str(
        Path::new("small-classes.toml"),
        &format!(
            "[[table]]\nid = \"s\"\nedition = \"t\"\nbuilding_types = [\"commercial\"]\nlower_bounds = {bounds}\nconfidence = \"inferred\"\n"
        ),
    )
    .unwrap();
    Scheme::new(criteria, tables)
}

#[test]
fn totals_are_clamped_to_the_set_maximum() {
    let scheme = small_scheme("[0, 2, 4, 6, 8, 10]");
    let mut a = Assessment::new(BuildingType::Commercial);
    a.set_level("a", 4)
        .set_level("b", 4)
        .set_level("c", 4)
        .set_level("d", 4);
    let r = scheme.assess(&a, ClassScale::Six).unwrap();
    assert_eq!((r.raw_total, r.total, r.max), (16, 10, 10));
    assert!(r.clamped());
    assert_eq!(r.class, class(5));
    // Under the cap nothing changes.
    let mut b = Assessment::new(BuildingType::Commercial);
    b.set_level("a", 4).set_level("b", 3);
    let r = scheme.assess(&b, ClassScale::Six).unwrap();
    assert_eq!((r.raw_total, r.total), (7, 7));
    assert!(!r.clamped());
    assert_eq!(r.class, class(3));
    // At the cap exactly: not clamped.
    b.set_level("c", 3);
    let r = scheme.assess(&b, ClassScale::Six).unwrap();
    assert_eq!((r.raw_total, r.total), (10, 10));
    assert!(!r.clamped());
}

#[test]
fn a_class_above_the_maximum_is_reported_unreachable() {
    // EIEC3 from 12 points, but the set's maximum is 10.
    let scheme = small_scheme("[0, 5, 9, 12, 14]");
    let mut a = Assessment::new(BuildingType::Commercial);
    a.set_level("a", 4).set_level("b", 4).set_level("c", 2);
    let r = scheme.assess(&a, ClassScale::Five).unwrap();
    assert_eq!((r.total, r.class), (10, class(2)));
    let next = r.next.unwrap();
    assert_eq!((next.class, next.points_missing), (class(3), 2));
    assert!(!next.reachable);
    assert!(next.plan.is_empty());
}

#[test]
fn residential_and_non_residential_sets_differ() {
    let scheme = Scheme::builtin().unwrap();
    let cat = scheme.criteria();
    let res = cat.set_for(BuildingType::Residential, None).unwrap();
    let shared: Vec<_> = [
        BuildingType::Commercial,
        BuildingType::Industrial,
        BuildingType::Infrastructure,
    ]
    .iter()
    .map(|b| cat.set_for(*b, None).unwrap().id.clone())
    .collect();
    assert!(shared.iter().all(|id| id == &shared[0]), "{shared:?}");
    assert_ne!(res.id, shared[0]);
    let non = cat.set_for(BuildingType::Commercial, None).unwrap();
    assert_eq!(non.criteria.len(), 16);
    assert_eq!(non.max_points, 64);
    assert!(res.criteria.len() < non.criteria.len());
    assert_eq!(res.max_points, 4 * res.criteria.len() as u32);

    // A non-residential criterion is refused for a dwelling, naming it and both sets.
    let a = Assessment::from_level_list(BuildingType::Residential, "lighting=2,motors=3").unwrap();
    match scheme.score(&a) {
        Err(Error::WrongBuildingType {
            id, set, other_set, ..
        }) => {
            assert_eq!(id, "motors");
            assert_eq!(set, res.id);
            assert_eq!(other_set, non.id);
        }
        other => panic!("expected WrongBuildingType, got {other:?}"),
    }
    // The same levels score on a commercial building.
    let ok = Assessment::from_level_list(BuildingType::Commercial, "lighting=2,motors=3").unwrap();
    let scores = scheme.score(&ok).unwrap();
    assert_eq!(scores.iter().map(|s| s.points).sum::<u32>(), 5);
    // Scores list the building type's own set, in order.
    let ids: Vec<_> = scores.iter().map(|s| s.id.as_str()).collect();
    let expected: Vec<_> = non.criteria.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, expected);
    let res_scores = scheme
        .score(&Assessment::from_level_list(BuildingType::Residential, "lighting=2").unwrap())
        .unwrap();
    assert_eq!(res_scores.len(), res.criteria.len());
}

#[test]
fn residential_needs_a_caller_class_table() {
    let scheme = Scheme::builtin().unwrap();
    let a = Assessment::from_level_list(BuildingType::Residential, "lighting=4,hvac=4").unwrap();
    for scale in [ClassScale::Six, ClassScale::Five] {
        match scheme.assess(&a, scale) {
            Err(Error::NoClassTable {
                building, classes, ..
            }) => {
                assert_eq!(building, "residential");
                assert_eq!(classes, scale.count());
            }
            other => panic!("expected NoClassTable, got {other:?}"),
        }
    }
    let mine = ClassTables::from_toml_str(
        Path::new("res.toml"),
        "[[table]]\nid = \"res\"\nedition = \"2014\"\nbuilding_types = [\"residential\"]\n\
         lower_bounds = [0, 6, 12, 18, 24]\nconfidence = \"inferred\"\nexpected_class = \"EIEC2\"\n",
    )
    .unwrap();
    let scheme = Scheme::new(
        scheme.criteria().clone(),
        ClassTables::builtin().unwrap().overlay(mine),
    );
    let r = scheme.assess(&a, ClassScale::Five).unwrap();
    assert_eq!((r.total, r.max, r.class), (8, 36, class(1)));
    assert_eq!(r.expected, Some(class(2)));
    assert_eq!(r.table, "res");
}

#[test]
fn validation_errors_name_the_criterion() {
    let scheme = Scheme::builtin().unwrap();
    let b = BuildingType::Commercial;
    let unknown = Assessment::from_level_list(b, "lighting=2,lightning=3").unwrap();
    match scheme.assess(&unknown, ClassScale::Six) {
        Err(e @ Error::UnknownCriterion { .. }) => {
            assert!(e.to_string().contains("`lightning`"), "{e}");
            assert!(e.to_string().contains("lighting"), "{e}");
        }
        other => panic!("expected UnknownCriterion, got {other:?}"),
    }
    // Out of range, from a list and from the API.
    match Assessment::from_level_list(b, "hvac=5") {
        Err(Error::LevelOutOfRange { id, found }) => assert_eq!((id.as_str(), found), ("hvac", 5)),
        other => panic!("expected LevelOutOfRange, got {other:?}"),
    }
    let mut a = Assessment::new(b);
    a.set_level("wiring", 9);
    match scheme.assess(&a, ClassScale::Six) {
        Err(Error::LevelOutOfRange { id, found }) => {
            assert_eq!((id.as_str(), found), ("wiring", 9))
        }
        other => panic!("expected LevelOutOfRange, got {other:?}"),
    }
    assert!(matches!(
        Assessment::from_level_list(b, "hvac=2,hvac=3"),
        Err(Error::DuplicateCriterion { id }) if id == "hvac"
    ));
    assert!(matches!(
        Assessment::from_level_list(b, "hvac"),
        Err(Error::InvalidLevelList { .. })
    ));
    assert!(matches!(
        Assessment::from_level_list(b, "hvac=high"),
        Err(Error::InvalidLevelList { item, .. }) if item == "hvac=high"
    ));
    let mut other = Assessment::new(b);
    other.edition = Some("1999".into());
    assert!(matches!(
        scheme.assess(&other, ClassScale::Six),
        Err(Error::NoCriteriaSet { .. })
    ));
}

#[test]
fn cheapest_plan_touches_the_fewest_criteria() {
    let scheme = Scheme::builtin().unwrap();
    // The first six criteria at 4 (24 points), then lighting lowered to 3, hvac not
    // considered and motors at 2: 17 points, EIEC1; EIEC2 from 26 needs 9 more.
    let mut a = with_total(&scheme, BuildingType::Commercial, 24);
    a.set_level("lighting", 3)
        .set_not_considered("hvac")
        .set_level("motors", 2);
    let r = scheme.assess(&a, ClassScale::Six).unwrap();
    assert_eq!((r.total, r.class), (17, class(1)));
    let next = r.next.clone().unwrap();
    assert_eq!((next.class, next.points_missing), (class(2), 9));
    let steps: u32 = next.plan.iter().map(|s| s.points).sum();
    assert_eq!(steps, next.points_missing);
    assert!(
        next.plan
            .iter()
            .all(|s| s.from.level() + s.points as u8 == s.to)
    );
    // Largest headroom first, ties in the set's order: hvac (not considered, 4 steps), then
    // wiring (4 steps), then one step on the next criterion with room: 3 criteria, no plan
    // can do 9 points with 2.
    let plan: Vec<_> = next
        .plan
        .iter()
        .map(|s| (s.id.as_str(), s.from, s.to))
        .collect();
    assert_eq!(
        plan,
        [
            ("hvac", Rating::NotConsidered, 4),
            ("wiring", Rating::NotConsidered, 4),
            ("reactive-compensation", Rating::NotConsidered, 1),
        ]
    );
    // Applying the plan reaches exactly the next class.
    let mut raised = a.clone();
    for s in &next.plan {
        raised.set_level(&s.id, s.to);
    }
    let after = scheme.assess(&raised, ClassScale::Six).unwrap();
    assert_eq!(after.total, next.lower_bound);
    assert_eq!(after.class, next.class);
}

fn rating() -> impl Strategy<Value = Rating> {
    prop_oneof![
        Just(Rating::NotConsidered),
        (0u8..=4).prop_map(Rating::Level)
    ]
}

proptest! {
    #[test]
    fn total_class_and_plan_agree(ratings in proptest::collection::vec(rating(), 16), five in any::<bool>()) {
        let scheme = Scheme::builtin().unwrap();
        let scale = if five { ClassScale::Five } else { ClassScale::Six };
        let set = scheme.criteria().set_for(BuildingType::Industrial, None).unwrap();
        let mut a = Assessment::new(BuildingType::Industrial);
        for (c, r) in set.criteria.iter().zip(&ratings) {
            a.criteria.entry(c.id.clone()).or_default().rating = *r;
        }
        let r = scheme.assess(&a, scale).unwrap();
        let sum: u32 = ratings.iter().map(|r| r.points()).sum();
        prop_assert_eq!(r.total, sum);
        let table = scheme.classes().table_for("2014", BuildingType::Industrial, scale).unwrap();
        // The class is the highest whose lower bound the total reaches.
        let lb = table.lower_bound(r.class).unwrap();
        prop_assert!(lb <= r.total);
        if let Some(next) = &r.next {
            prop_assert!(next.lower_bound > r.total);
            prop_assert_eq!(next.points_missing, next.lower_bound - r.total);
            prop_assert!(next.reachable);
            let mut raised = a.clone();
            for s in &next.plan {
                raised.set_level(&s.id, s.to);
            }
            let after = scheme.assess(&raised, scale).unwrap();
            prop_assert_eq!(after.total, next.lower_bound);
            prop_assert_eq!(after.class, next.class);
            // Fewest criteria: the least k whose k largest headrooms cover the points missing.
            let mut room: Vec<u32> = r.criteria.iter().map(|c| 4 - c.points).collect();
            room.sort_unstable_by(|x, y| y.cmp(x));
            let mut covered = 0;
            let least = room.iter().take_while(|&&x| {
                let before = covered;
                covered += x;
                before < next.points_missing
            }).count();
            prop_assert_eq!(next.plan.len(), least);
        } else {
            prop_assert_eq!(r.class, table.top());
        }
        // Round trip through the level-list syntax.
        let list: Vec<String> = a.criteria.iter().map(|(id, e)| format!("{id}={}", e.rating)).collect();
        let again = Assessment::from_level_list(BuildingType::Industrial, &list.join(",")).unwrap();
        prop_assert_eq!(again, a);
    }
}

#[test]
fn assessments_are_stored_as_toml_or_json() {
    let text = r#"
building = "industrial"
edition = "2014"

[criteria.motors]
rating = 4
evidence = "IE4 motors on all conveyors"

[criteria.lighting]
rating = "nc"
"#;
    let a: Assessment = toml::from_str(text).unwrap();
    assert_eq!(a.building, BuildingType::Industrial);
    assert_eq!(a.criteria["motors"].rating, Rating::Level(4));
    assert_eq!(a.criteria["lighting"].rating, Rating::NotConsidered);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains(r#""rating":"nc""#), "{json}");
    let back: Assessment = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    let r = Scheme::builtin()
        .unwrap()
        .assess(&a, ClassScale::Six)
        .unwrap();
    assert_eq!(r.total, 4);
    let motors = r.criteria.iter().find(|c| c.id == "motors").unwrap();
    assert_eq!(
        motors.evidence.as_deref(),
        Some("IE4 motors on all conveyors")
    );
    // Unknown fields and bad ratings are refused.
    assert!(toml::from_str::<Assessment>("building = \"industrial\"\nlevel = 3\n").is_err());
    assert!(
        toml::from_str::<Assessment>(
            "building = \"industrial\"\n[criteria.motors]\nrating = \"high\"\n"
        )
        .is_err()
    );
}
