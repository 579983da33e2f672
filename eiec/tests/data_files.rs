//! The built-in data files, and malformed files refused with file, line and field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use eiec::{
    BUILTIN_CLASSES, BUILTIN_CRITERIA, BuildingType, ClassScale, ClassTables, Confidence,
    CriteriaCatalogue, CriterionKind, Error, MeasuredQuantity, Requirement,
};

#[test]
fn builtin_criteria_state_only_what_is_known() {
    let cat = CriteriaCatalogue::builtin().unwrap();
    let non = cat.set_for(BuildingType::Commercial, None).unwrap();
    assert_eq!(non.criteria.len(), 16);
    assert_eq!(non.max_points, 64);
    let em = non
        .criteria
        .iter()
        .filter(|c| c.kind == CriterionKind::Em)
        .count();
    let eepl = non
        .criteria
        .iter()
        .filter(|c| c.kind == CriterionKind::Eepl)
        .count();
    assert_eq!((em, eepl), (13, 3));
    for set in cat.sets() {
        for c in &set.criteria {
            // Level 0 (0 points) is the one level whose meaning is known.
            assert!(c.levels[0].is_known(), "{}", c.id);
            // No requirement of levels 1..4 is public: none may be invented.
            for (n, level) in c.levels.iter().enumerate().skip(1) {
                assert_eq!(level, &Requirement::Unknown, "{} level {n}", c.id);
            }
            // Derivable criteria carry no invented thresholds.
            if let Some(rule) = &c.derivation {
                assert_eq!(rule.thresholds, None, "{}", c.id);
            }
        }
    }
    // Topics the sources confirm are marked confirmed; the metering split is inferred.
    for id in [
        "load-profile",
        "lighting",
        "power-factor",
        "transformer-efficiency",
    ] {
        assert_eq!(
            non.get(id).unwrap().confidence,
            Confidence::Confirmed,
            "{id}"
        );
    }
    for id in [
        "metering-supply",
        "metering-usage",
        "metering-zone",
        "metering-analysis",
    ] {
        assert_eq!(
            non.get(id).unwrap().confidence,
            Confidence::Inferred,
            "{id}"
        );
    }
    let res = cat.set_for(BuildingType::Residential, None).unwrap();
    assert_eq!(res.confidence, Confidence::Inferred);
    assert!(
        res.criteria
            .iter()
            .all(|c| c.confidence == Confidence::Inferred)
    );
    // Derived criteria and their quantities.
    let derived: Vec<_> = non
        .criteria
        .iter()
        .filter_map(|c| c.derivation.as_ref().map(|d| (c.id.as_str(), d.quantity)))
        .collect();
    assert_eq!(
        derived,
        [
            ("load-profile", MeasuredQuantity::LoadProfiles),
            ("consumption-coverage", MeasuredQuantity::MeteringCoverage),
            ("power-factor", MeasuredQuantity::PowerFactor),
        ]
    );
}

#[test]
fn builtin_class_tables_are_vendor_derived() {
    let tables = ClassTables::builtin().unwrap();
    for t in tables.tables() {
        assert_eq!(
            t.confidence,
            Confidence::VendorDerivedUnverified,
            "{}",
            t.id
        );
        assert_eq!(t.expected_class, None, "no expected class is known");
        assert!(!t.building_types.contains(&BuildingType::Residential));
    }
    let six = tables
        .table_for("2014", BuildingType::Commercial, ClassScale::Six)
        .unwrap();
    assert_eq!(six.lower_bounds, [0, 16, 26, 36, 48, 58]);
    let five = tables
        .table_for("2014", BuildingType::Infrastructure, ClassScale::Five)
        .unwrap();
    assert_eq!(five.lower_bounds, [0, 16, 26, 36, 48]);
}

/// Write `text` to a temporary file and load it as criteria.
fn load_criteria(text: &str) -> (tempfile::TempDir, PathBuf, Error) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("criteria.toml");
    std::fs::write(&path, text).unwrap();
    let err = CriteriaCatalogue::from_file(&path).unwrap_err();
    (dir, path, err)
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).unwrap();
    text[..at].matches('\n').count() + 1
}

fn assert_invalid(err: &Error, path: &Path, line: usize, field: &str) {
    match err {
        Error::InvalidFile {
            file,
            line: l,
            field: f,
            ..
        } => {
            assert_eq!(file, path);
            assert_eq!(*l, line, "{err}");
            assert!(
                f.contains(field),
                "field {f:?} should name {field:?}: {err}"
            );
            // The one-line message names all three.
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("{}:{line}:", path.display())),
                "{msg}"
            );
            assert!(msg.contains(field), "{msg}");
        }
        other => panic!("expected InvalidFile, got {other:?}"),
    }
}

#[test]
fn misspelt_field_is_refused_with_file_line_and_field() {
    let text = BUILTIN_CRITERIA.replacen("title = \"Lighting\"", "titel = \"Lighting\"", 1);
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(&err, &path, line_of(&text, "titel"), "titel");
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn bad_kind_is_refused_with_file_line_and_field() {
    let text = BUILTIN_CRITERIA.replacen("kind = \"EEPL\"", "kind = \"KPI\"", 1);
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(&err, &path, line_of(&text, "\"KPI\""), "kind");
    // Errors point into the 14th criterion of the first set.
    assert!(
        err.to_string().contains("set[0].criterion[13].kind"),
        "{err}"
    );
}

#[test]
fn missing_level_is_refused_with_file_line_and_field() {
    let needle = "id = \"hvac\"";
    let at = BUILTIN_CRITERIA.find(needle).unwrap();
    let levels = at + BUILTIN_CRITERIA[at..].find(", 4 = \"unknown\"").unwrap();
    let mut text = BUILTIN_CRITERIA.to_string();
    text.replace_range(levels..levels + ", 4 = \"unknown\"".len(), "");
    let (_dir, path, err) = load_criteria(&text);
    let line = text[..levels].matches('\n').count() + 1;
    assert_invalid(&err, &path, line, "levels");
    assert!(err.to_string().contains("`4`"), "{err}");
}

#[test]
fn level_out_of_range_key_is_refused() {
    let text = BUILTIN_CRITERIA.replacen("4 = \"unknown\" }", "4 = \"unknown\", 5 = \"x\" }", 1);
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(&err, &path, line_of(&text, "5 = \"x\""), "levels");
}

#[test]
fn duplicate_criterion_is_refused_at_its_line() {
    let text = BUILTIN_CRITERIA.replacen("id = \"hvac\"", "id = \"lighting\"", 1);
    let (_dir, path, err) = load_criteria(&text);
    // The second "lighting" (where hvac was).
    let first = text.find("id = \"lighting\"").unwrap();
    let second = first + 1 + text[first + 1..].find("id = \"lighting\"").unwrap();
    let line = text[..second].matches('\n').count() + 1;
    assert_invalid(&err, &path, line, "set[0].criterion[4].id");
    assert!(err.to_string().contains("duplicate"), "{err}");
}

#[test]
fn bad_thresholds_and_max_points_are_refused() {
    let text = BUILTIN_CRITERIA.replacen(
        "derived_from = \"power-factor\"",
        "derived_from = \"power-factor\"\nthresholds = [0.95, 0.9, 0.85, 0.8]",
        1,
    );
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(&err, &path, line_of(&text, "thresholds ="), "thresholds");
    assert!(err.to_string().contains("ascending"), "{err}");

    let text = BUILTIN_CRITERIA.replacen("max_points = 64", "max_points = 70", 1);
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(&err, &path, line_of(&text, "max_points = 70"), "max_points");

    let text = BUILTIN_CRITERIA.replacen(
        "building_types = [\"residential\"]",
        "building_types = [\"commercial\"]",
        1,
    );
    let (_dir, path, err) = load_criteria(&text);
    assert_invalid(
        &err,
        &path,
        line_of(&text, "building_types = [\"commercial\"]"),
        "building_types",
    );
}

#[test]
fn syntax_error_names_the_line() {
    let text = BUILTIN_CRITERIA.replacen("title = \"Motors\"", "title = \"Motors", 1);
    let (_dir, path, err) = load_criteria(&text);
    match &err {
        Error::InvalidFile { file, line, .. } => {
            assert_eq!(file, &path);
            assert_eq!(*line, line_of(&text, "title = \"Motors"));
        }
        other => panic!("expected InvalidFile, got {other:?}"),
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let err = CriteriaCatalogue::from_file(Path::new("/nonexistent/criteria.toml")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/criteria.toml"));
}

#[test]
fn a_caller_file_replaces_the_criteria() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    let text = BUILTIN_CRITERIA.replacen(
        "derived_from = \"power-factor\"",
        "derived_from = \"power-factor\"\nthresholds = [0.8, 0.85, 0.9, 0.95]",
        1,
    );
    std::fs::write(&path, &text).unwrap();
    let cat = CriteriaCatalogue::from_file(&path).unwrap();
    let pf = cat
        .set_for(BuildingType::Industrial, None)
        .unwrap()
        .get("power-factor")
        .unwrap();
    assert_eq!(
        pf.derivation.as_ref().unwrap().thresholds,
        Some([0.8, 0.85, 0.9, 0.95])
    );
}

#[test]
fn malformed_class_tables_are_refused_with_file_line_and_field() {
    let check = |text: &str, needle: &str, field: &str| {
        let err = ClassTables::from_toml_str(Path::new("classes.toml"), text).unwrap_err();
        assert_invalid(
            &err,
            Path::new("classes.toml"),
            line_of(text, needle),
            field,
        );
    };
    let descending =
        BUILTIN_CLASSES.replacen("[0, 16, 26, 36, 48, 58]", "[0, 16, 36, 26, 48, 58]", 1);
    check(&descending, "[0, 16, 36", "table[0].lower_bounds");
    let seven = BUILTIN_CLASSES.replacen("[0, 16, 26, 36, 48, 58]", "[0, 1, 2, 3, 4, 5, 6]", 1);
    check(&seven, "[0, 1, 2", "table[0].lower_bounds");
    let not_zero = BUILTIN_CLASSES.replacen("[0, 16, 26, 36, 48]", "[4, 16, 26, 36, 48]", 1);
    check(&not_zero, "[4, 16", "table[1].lower_bounds");
    let bad_confidence = BUILTIN_CLASSES.replacen(
        "confidence = \"vendor-derived-unverified\"",
        "confidence = \"sure\"",
        1,
    );
    check(&bad_confidence, "\"sure\"", "table[0].confidence");
    let expected = BUILTIN_CLASSES.replacen(
        "lower_bounds = [0, 16, 26, 36, 48]",
        "lower_bounds = [0, 16, 26, 36, 48]\nexpected_class = \"EIEC5\"",
        1,
    );
    check(&expected, "\"EIEC5\"", "table[1].expected_class");
    let duplicate = BUILTIN_CLASSES.replacen("[0, 16, 26, 36, 48]", "[0, 16, 26, 36, 48, 58]", 1);
    // The second six-class table for the same types: refused at its building_types.
    let second = duplicate.rfind("building_types").unwrap();
    let err = ClassTables::from_toml_str(Path::new("classes.toml"), &duplicate).unwrap_err();
    assert_invalid(
        &err,
        Path::new("classes.toml"),
        duplicate[..second].matches('\n').count() + 1,
        "table[1].building_types",
    );
}

/// The full message of a bad field on a line with multi-byte characters: the column counts
/// characters, the field is the path as written.
#[test]
fn bad_field_message_counts_columns_in_characters() {
    let text = "table = [{ id = \"Zählerstand °C\", edition = \"2014\", building_types = [\"residential\"], \
                lower_bounds = [0, 8, 14, 20, 26], confidence = \"sicher\" }]\n";
    let err = ClassTables::from_toml_str(Path::new("räume/klassen.toml"), text).unwrap_err();
    let Error::InvalidFile {
        line,
        column,
        ref field,
        ..
    } = err
    else {
        panic!("{err}");
    };
    // `"sicher"` starts at character 135 (byte 137: "ä" and "°" take two bytes each)
    assert_eq!((line, column), (1, 135), "{err}");
    assert_eq!(field, "table[0].confidence");
    assert_eq!(
        err.to_string(),
        "räume/klassen.toml:1:135: table[0].confidence: unknown variant `sicher`, \
         expected one of `confirmed`, `vendor-derived-unverified`, `inferred`"
    );
}
