//! Files the libraries keep as identical copies.
//!
//! The libraries do not depend on each other (ARCHITECTURE.md), so a few small pieces of
//! glue that must behave the same everywhere are copied instead of shared: the TOML
//! error-location glue, time-zone parsing, chart text and PNG encoding, and the interop
//! tests' peer detection. Each copy says so in
//! its header; this test fails as soon as one copy drifts from the others.

use std::path::Path;

/// Each group: files (relative to the workspace root) that must be byte-identical.
const GROUPS: &[&[&str]] = &[
    &[
        "modbus-devices/src/toml_file.rs",
        "mbus-meters/src/toml_file.rs",
        "alarms/src/toml_file.rs",
        "reports/src/toml_file.rs",
        "eiec/src/toml_file.rs",
        "ecl-appkeys/src/toml_file.rs",
        "examples/src/toml_file.rs",
        "opcua-bridge/src/toml_file.rs",
    ],
    &["reports/src/tz.rs", "alarms/src/tz.rs"],
    &["reports/src/raster.rs", "eiec/src/raster.rs"],
    &[
        "modbus-devices/tests/peers/mod.rs",
        "mbus-meters/tests/peers/mod.rs",
        "ecl-appkeys/tests/peers/mod.rs",
        "opcua-bridge/tests/peers/mod.rs",
    ],
];

#[test]
fn copied_modules_are_identical() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for group in GROUPS {
        let first = group[0];
        let reference = std::fs::read_to_string(root.join(first))
            .unwrap_or_else(|e| panic!("cannot read {first}: {e}"));
        for other in &group[1..] {
            let text = std::fs::read_to_string(root.join(other))
                .unwrap_or_else(|e| panic!("cannot read {other}: {e}"));
            assert!(
                text == reference,
                "{other} differs from {first}: the copies must change together"
            );
        }
    }
}

#[test]
fn every_copy_of_the_toml_glue_is_compiled_into_its_crate() {
    // A copy that is not declared as a module would pass the comparison above while its
    // crate kept using other code.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in GROUPS[0] {
        let lib = Path::new(file)
            .parent()
            .map(|src| root.join(src).join("lib.rs"));
        let lib = lib.unwrap_or_else(|| panic!("{file} has no directory"));
        let text = std::fs::read_to_string(&lib).unwrap_or_else(|e| panic!("{lib:?}: {e}"));
        assert!(
            text.lines().any(|l| l.trim() == "mod toml_file;"),
            "{} does not declare `mod toml_file;`",
            lib.display()
        );
    }
}
