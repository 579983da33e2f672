//! The built-in catalogue loads through the validated path, says what it knows and how sure,
//! and user files go through the same loader with located errors.

use std::path::{Path, PathBuf};

use ecl_appkeys::catalogue::{BUILTIN_FILES, Confidence, Role};
use ecl_appkeys::{Catalogue, Error, KeyId};

fn builtin() -> Catalogue {
    Catalogue::builtin().unwrap_or_else(|e| panic!("built-in catalogue: {e}"))
}

fn key(s: &str) -> KeyId {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn builtin_files_load_one_by_one_and_together() {
    let c = builtin();
    assert_eq!(BUILTIN_FILES.len(), 4);
    assert!(c.keys().len() >= 20, "{} keys", c.keys().len());
    assert_eq!(c.controllers().len(), 5);
    assert!(c.parameter_templates().len() >= 20);
    // Controllers by code number: 087H3020 = ECL 210 (confirmed), 087H3040 = ECL 310.
    assert_eq!(
        c.controller_by_code(3020).map(|m| m.id.as_str()),
        Some("ecl210")
    );
    assert_eq!(
        c.controller_by_code(3040).map(|m| m.id.as_str()),
        Some("ecl310")
    );
    assert!(c.controller_by_code(1234).is_none());
    // Loading the built-in files again is refused as duplicates, not silently merged.
    let mut again = builtin();
    let (name, text) = BUILTIN_FILES[3];
    assert!(matches!(
        again.load_str(Path::new(name), text),
        Err(Error::DuplicateKey { .. })
    ));
}

#[test]
fn the_three_live_tested_keys_carry_their_sensor_maps() {
    let c = builtin();
    let (_, a266) = c.lookup(&key("A266.1")).unwrap_or_else(|| panic!("A266.1"));
    let meanings: Vec<(u8, &str)> = a266
        .sensors
        .iter()
        .map(|s| (s.input, s.meaning.as_str()))
        .collect();
    assert_eq!(
        meanings,
        [
            (1, "outdoor temperature"),
            (2, "room temperature"),
            (3, "heating flow temperature"),
            (4, "DHW tank temperature"),
            (5, "heating return temperature"),
            (6, "DHW return temperature"),
        ]
    );
    assert_eq!(
        a266.sensor(1).map(|s| s.confidence),
        Some(Confidence::Confirmed)
    );
    assert_eq!(
        a266.sensor(3).map(|s| s.confidence),
        Some(Confidence::OneSource)
    );
    assert_eq!(
        a266.unused_inputs.as_ref().map(|u| u.value.clone()),
        Some(vec![7, 8, 9, 10])
    );
    let roles: Vec<Role> = a266.circuits.iter().map(|c| c.role).collect();
    assert_eq!(roles, [Role::SpaceHeating, Role::DhwTank]);

    let (_, a237) = c.lookup(&key("A237.1")).unwrap_or_else(|| panic!("A237.1"));
    let inputs: Vec<u8> = a237.sensors.iter().map(|s| s.input).collect();
    assert_eq!(inputs, [1, 3, 5, 6]);
    assert_eq!(a237.outputs.len(), 3);

    let (_, a247) = c.lookup(&key("A247.1")).unwrap_or_else(|| panic!("A247.1"));
    assert_eq!(a247.sensors.len(), 4);
    assert!(
        a247.served.is_empty(),
        "no source lists A247.1's served ranges"
    );
    assert!(!a247.unknowns.is_empty());
}

#[test]
fn unknown_facts_are_stated_not_filled_in() {
    let c = builtin();
    for k in c.keys() {
        let empty = k.subtypes.is_empty() || k.subtypes.iter().any(|s| s.circuits.is_empty());
        assert!(
            !empty || !k.unknowns.is_empty() || k.subtypes.iter().any(|s| !s.unknowns.is_empty()),
            "{}: something is unknown but no unknowns are listed",
            k.name()
        );
        for s in &k.subtypes {
            if s.served.is_empty() && !s.circuits.is_empty() {
                let said = s
                    .unknowns
                    .iter()
                    .chain(&k.unknowns)
                    .any(|u| u.contains("served"));
                assert!(
                    said,
                    "{}.{}: no served ranges and not said",
                    k.name(),
                    s.number
                );
            }
        }
    }
    // Only A266.1 and A237.1 have served ranges from sources.
    let with_ranges: Vec<String> = c
        .keys()
        .iter()
        .flat_map(|k| {
            k.subtypes
                .iter()
                .filter(|s| !s.served.is_empty())
                .map(move |s| format!("{}.{}", k.name(), s.number))
        })
        .collect();
    assert_eq!(with_ranges, ["A237.1", "A266.1"]);
}

#[test]
fn a_bad_field_after_multibyte_characters_is_located_in_characters() {
    let text =
        "[[key]]\nprefix = \"A\"\ntype = 900\nconfidence = \"sure\"\nsource = \"Zählerstand °C\"\n";
    let mut c = builtin();
    let err = c.load_str(Path::new("site.toml"), text).err();
    let Some(Error::InvalidFile {
        file,
        line,
        column,
        field,
        message,
    }) = err
    else {
        panic!("expected InvalidFile, got {err:?}");
    };
    assert_eq!(file, PathBuf::from("site.toml"));
    assert_eq!((line, column), (4, 14), "{message}");
    assert_eq!(field, "key[0].confidence");
    assert!(message.contains("unknown variant"), "{message}");

    // A value check after multi-byte characters: a circuit 4 (only 1..3 exist).
    let text = "[[key]]\nprefix = \"A\"\ntype = 901\nconfidence = \"inferred\"\nsource = \"Zählerstand °C\"\n\n[[key.subtype]]\nnumber = 1\ncircuits = [{ number = 4, role = \"space_heating\", confidence = \"inferred\" }]\n";
    let err = c.load_str(Path::new("site.toml"), text).err();
    let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        shown,
        "site.toml:7:1: key[0].subtype[0].circuits[0].number: expected a circuit 1, 2 or 3 listed once, found 4"
    );
    assert!(c.key('A', 901).is_none(), "all-or-nothing");
}

#[test]
fn user_files_validate_like_builtin_ones() {
    let mut c = builtin();
    let cases = [
        (
            "[[key]]\nprefix = \"a\"\ntype = 1\nconfidence = \"inferred\"\nsource = \"x\"\n",
            "key[0].prefix",
        ),
        (
            "[[key]]\nprefix = \"A\"\ntype = 2\nconfidence = \"inferred\"\nsource = \"x\"\ncontrollers = { value = [\"ecl999\"], confidence = \"inferred\" }\n",
            "key[0].controllers",
        ),
        (
            "[[served]]\nfrom = 10\nto = 5\nconfidence = \"inferred\"\n",
            "served[0]",
        ),
        (
            "[[parameter]]\nid = \"x\"\nname = \"x\"\noffset = 500\nroles = [\"boiler\"]\ntype = \"u16\"\nunit = \"\"\nwritable = true\nconfidence = \"inferred\"\nsource = \"x\"\n",
            "parameter[0].writable",
        ),
        (
            "[[parameter]]\nid = \"heat_curve_slope\"\nname = \"x\"\noffset = 500\nroles = [\"boiler\"]\ntype = \"u16\"\nunit = \"\"\nconfidence = \"inferred\"\nsource = \"x\"\n",
            "parameter.id",
        ),
        (
            "[[key]]\nprefix = \"A\"\ntype = 3\nconfidence = \"inferred\"\nsource = \"x\"\nfavourite = true\n",
            "key[0]",
        ),
        (
            "[[key]]\nprefix = \"A\"\ntype = 266\nconfidence = \"inferred\"\nsource = \"x\"\n",
            "",
        ),
    ];
    for (text, field) in cases {
        match c.load_str(Path::new("user.toml"), text) {
            Err(Error::InvalidFile { field: f, .. }) => {
                assert!(f.starts_with(field), "{field}: got {f}")
            }
            Err(Error::DuplicateKey { key, .. }) => assert_eq!(key, "A266"),
            other => panic!("{text}: expected an error, got {other:?}"),
        }
    }
    // A correct user file loads from disk.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("keys.toml");
    std::fs::write(&path, "[[key]]\nprefix = \"A\"\ntype = 998\nconfidence = \"inferred\"\nsource = \"site survey\"\n[[key.subtype]]\nnumber = 2\n")
        .unwrap_or_else(|e| panic!("{e}"));
    c.load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.lookup(&key("A998.2")).is_some());
    assert!(matches!(
        c.load_file(dir.path().join("absent.toml")),
        Err(Error::Io { .. })
    ));
}
