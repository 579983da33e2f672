//! Detection from raw register values, and the commissioning path.

use ecl_appkeys::detect::{DetectionSource, KeyMatch, RawKey};
use ecl_appkeys::system::RawIdentity;
use ecl_appkeys::{Catalogue, Error, commissioned, detect};

fn builtin() -> Catalogue {
    Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"))
}

fn ecl310() -> RawIdentity {
    RawIdentity {
        build: 2600,
        code: 3040,
        hardware: 0x4102,
        software: 0x0138, // 1.56
        serial_high: 0x0001,
        serial_low: 0x0002,
        production: 0x1203, // week 3 of 2018
    }
}

#[test]
fn a_known_key_with_its_catalogue_entry() {
    let c = builtin();
    let d = detect(&c, &ecl310(), Some([65, 266, 1, 0x0108]));
    let KeyMatch::Known { key, app, subtype } = &d.key else {
        panic!("expected a known key, got {:?}", d.key);
    };
    assert_eq!(key.to_string(), "A266.1");
    assert_eq!(app.name(), "A266");
    assert_eq!(subtype.circuits.len(), 2);
    assert_eq!(
        d.key_version.map(|v| v.to_string()).as_deref(),
        Some("1.08")
    );
    assert_eq!(d.model.map(|m| m.name.as_str()), Some("ECL Comfort 310"));
    let id = d.identity.as_ref().unwrap_or_else(|| panic!("identity"));
    assert_eq!(id.code_number, "087H3040");
    assert_eq!(id.software.to_string(), "1.56");
    assert_eq!(id.hardware, "A2");
    assert_eq!(id.serial, 0x0001_0002);
    assert_eq!(id.production, Some((2018, 3)));
    assert_eq!(d.source, DetectionSource::Read);
    let versions = d.versions();
    assert_eq!(
        versions.controller.map(|v| v.to_string()).as_deref(),
        Some("1.56")
    );
    let ecl = d.controller(&c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ecl.key().map(|k| k.to_string()).as_deref(), Some("A266.1"));
}

#[test]
fn unknown_keys_keep_their_raw_values() {
    let c = builtin();
    let d = detect(&c, &ecl310(), Some([65, 999, 4, 0x0203]));
    assert_eq!(
        d.key,
        KeyMatch::Unknown {
            raw: Some(RawKey {
                prefix: 65,
                number: 999,
                subtype: 4,
                version: 0x0203
            })
        }
    );
    assert_eq!(d.key_id().map(|k| k.to_string()).as_deref(), Some("A999.4"));
    // Not a letter: unknown, raw values kept, no key id.
    let d = detect(&c, &ecl310(), Some([0, 0, 0, 0]));
    assert!(matches!(d.key, KeyMatch::Unknown { raw: Some(_) }));
    assert_eq!(d.key_id(), None);
    // A known key with a sub-type the catalogue does not have.
    let d = detect(&c, &ecl310(), Some([65, 266, 7, 0x0100]));
    assert!(matches!(&d.key, KeyMatch::UnknownSubtype { key, .. } if key.subtype == 7));
    // Key registers not readable.
    let d = detect(&c, &ecl310(), None);
    assert_eq!(d.key, KeyMatch::Unknown { raw: None });
    assert_eq!(d.key_version, None);
    // An unknown application still gets the system register map.
    let ecl = d.controller(&c).unwrap_or_else(|e| panic!("{e}"));
    let product = ecl.product("ecl").unwrap_or_else(|e| panic!("{e}"));
    assert!(product.service("s1").is_some() && product.service("key_type").is_some());
    assert!(product.parameters.is_empty());
    // An unknown code number: no model.
    let d = detect(
        &c,
        &RawIdentity {
            code: 1,
            ..ecl310()
        },
        Some([65, 266, 1, 0x0108]),
    );
    assert!(d.model.is_none());
}

#[test]
fn older_controllers_get_the_application_named_at_commissioning() {
    let c = builtin();
    let ecl210 = RawIdentity {
        code: 3020,
        ..ecl310()
    };
    let model = c
        .controller_by_code(3020)
        .unwrap_or_else(|| panic!("ECL 210"));
    assert!(!model.detects_key, "ECL 210: named at commissioning");
    assert!(c.controller("ecl310").is_some_and(|m| m.detects_key));
    let d = commissioned(&c, Some(&ecl210), None, "A266.1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.source, DetectionSource::Commissioned);
    assert!(matches!(d.key, KeyMatch::Known { .. }));
    assert_eq!(d.model.map(|m| m.id.as_str()), Some("ecl210"));
    assert_eq!(d.key_version, None);
    assert!(matches!(
        commissioned(&c, None, None, "A999.1"),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        commissioned(&c, None, None, "266"),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        commissioned(&c, None, Some("ecl999"), "A266.1"),
        Err(Error::InvalidArgument { .. })
    ));
    // Serialised, the detection carries the key and the versions.
    let json = serde_json::to_value(&d).unwrap_or_default();
    assert_eq!(json["key"]["key"], "A266.1");
    assert_eq!(json["source"], "commissioned");
}

#[test]
fn identity_from_a_register_lookup_names_a_missing_pnu() {
    let err = RawIdentity::from_fn(|p| (p.get() != 2099).then_some(1)).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("PNU 2099: value missing")
    );
}
