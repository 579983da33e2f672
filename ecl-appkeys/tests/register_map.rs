//! Every built-in key's register map as a modbus-devices product: everything inside the
//! served ranges, reads of at most 123 registers, writes range-checked.

use ecl_appkeys::controller::{ConfigurableInput, InputKind};
use ecl_appkeys::system::{MeterField, MeterLayout};
use ecl_appkeys::{Catalogue, Controller, Error, KeyId, Pnu, PnuRange};
use modbus_devices::plan::{Plan, PlanDevice};
use modbus_devices::{Unit, Value};

fn builtin() -> Catalogue {
    Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"))
}

fn controller(c: &Catalogue, key: &str, model: Option<&str>) -> Controller {
    let id: KeyId = key.parse().unwrap_or_else(|e| panic!("{e}"));
    Controller::new(c, id, model).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn pnu(address: u32) -> Pnu {
    let a = u16::try_from(address).unwrap_or_else(|e| panic!("{e}"));
    Pnu::from_wire_address(a).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_key_every_model_reads_only_served_ranges() {
    let c = builtin();
    let models = [None, Some("ecl210"), Some("ecl296"), Some("ecl310")];
    let mut checked = 0;
    for key in c.keys() {
        for st in &key.subtypes {
            let id = KeyId {
                prefix: key.prefix,
                number: key.number,
                subtype: st.number,
            };
            for model in models {
                let ecl = Controller::new(&c, id, model).unwrap_or_else(|e| panic!("{id}: {e}"));
                let product = ecl
                    .product(&format!("{id}"))
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                for s in &product.services {
                    let range = PnuRange {
                        from: pnu(s.register.address.into()),
                        to: pnu(s.register.last_address()),
                    };
                    assert!(
                        ecl.served().serves_range(&range),
                        "{id}: service {} at {range} not served",
                        s.id
                    );
                }
                let plan = Plan::build([PlanDevice::new("ecl", 1, &product)])
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                for (_, r) in plan.requests() {
                    assert!(r.count <= 123, "{id}: a read of {}", r.count);
                    let range = PnuRange {
                        from: pnu(r.address.into()),
                        to: pnu(r.last_address()),
                    };
                    assert!(
                        ecl.served().serves_range(&range),
                        "{id} {model:?}: read {range} crosses an unserved PNU"
                    );
                }
                let mbus = product.service("mbus_state").is_some();
                assert_eq!(
                    mbus,
                    matches!(model, Some("ecl296" | "ecl310")),
                    "{id} {model:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "{checked}");
}

#[test]
fn a266_1_on_an_ecl_310_has_its_documented_points() {
    let c = builtin();
    let ecl = controller(&c, "A266.1", Some("ecl310"));
    let p = ecl
        .product("ECL310-A266.1")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.vendor, "Danfoss");
    assert!(!p.verified, "one-source facts: not verified");
    let s1 = p.service("s1").unwrap_or_else(|| panic!("s1"));
    assert_eq!(s1.register.address, 10200, "wire address = PNU - 1");
    assert_eq!(s1.unit, Unit::DegC);
    assert_eq!(
        s1.register.decode(&[2153]).ok().flatten(),
        Some(Value::Number(21.53))
    );
    assert_eq!(
        s1.register.decode(&[19200]).ok().flatten(),
        None,
        "192.00 degC: not connected"
    );
    assert_eq!(s1.name, "S1 outdoor temperature");
    for id in [
        "c1_mode",
        "c2_mode",
        "c1_status",
        "c2_status",
        "alarms",
        "alarm_32",
        "clock_year",
        "serial",
        "key_version",
        "meter1_address",
    ] {
        assert!(p.service(id).is_some(), "{id}");
    }
    // Not served on A266.1 (per the sources): circuit 3, output override.
    for id in ["c3_mode", "c3_status", "relay1_override"] {
        assert!(p.service(id).is_none(), "{id}");
    }
    for id in [
        "c1_heat_curve_slope",
        "c1_curve_flow_m30",
        "c1_room_comfort",
        "c2_dhw_comfort",
        "c2_anti_bacteria_days",
        "c1_schedule_mon_p1_start",
        "c2_schedule_sun_p3_stop",
        "c1_mode",
    ] {
        assert!(p.parameter(id).is_some(), "parameter {id}");
    }
    let slope = p
        .parameter("c1_heat_curve_slope")
        .unwrap_or_else(|| panic!("slope"));
    assert_eq!(slope.register.address, 11174);
    assert_eq!(
        slope.register.encode_for_write(&Value::Number(1.4)).ok(),
        Some(vec![14])
    );
    assert!(
        slope
            .register
            .encode_for_write(&Value::Number(4.1))
            .is_err()
    );
    assert_eq!(p.signature.len(), 3);
    assert_eq!(p.alarms.len(), 32);
    // The product joins a modbus-devices catalogue like any other.
    let mut catalogue = modbus_devices::Catalogue::new();
    catalogue.add(p).unwrap_or_else(|e| panic!("{e}"));
    assert!(catalogue.get("ECL310-A266.1").is_some());
}

#[test]
fn writes_are_refused_when_read_only_unknown_or_out_of_range() {
    let c = builtin();
    let ecl = controller(&c, "A237.1", Some("ecl310"));
    let map = ecl.parameters();
    let ok = map
        .prepare_write("c2_dhw_comfort", 55.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ok.pnu.get(), ok.address, ok.raw), (12190, 12189, 550));
    assert!(ecl_appkeys::ParameterMap::confirms(&ok, 550));
    assert!(!ecl_appkeys::ParameterMap::confirms(&ok, 549));
    let neg = map
        .prepare_write("c1_curve_flow_p15", 10.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(neg.raw, 10);
    let err = |id: &str, v: f64| {
        map.prepare_write(id, v)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        err("c2_dhw_comfort", 111.0),
        "parameter c2_dhw_comfort (PNU 12190): 111 degC is outside 10..=110 degC"
    );
    assert!(matches!(
        map.prepare_write("c2_dhw_max_charge", 60.0),
        Err(Error::ReadOnly { .. })
    ));
    assert!(matches!(
        map.prepare_write("c1_min_flow", 20.5),
        Err(Error::NotRepresentable { .. })
    ));
    assert!(matches!(
        map.prepare_write("c3_room_comfort", 20.0),
        Err(Error::UnknownParameter(_))
    ));
    assert!(
        matches!(
            map.prepare_write("c1_mode", 0.0),
            Err(Error::OutOfRange { .. })
        ),
        "manual is never written"
    );
    let by_pnu = map.prepare_write_pnu(Pnu::new(4066).unwrap_or_else(|e| panic!("{e}")), 2.0);
    assert_eq!(
        by_pnu.map(|w| w.id).ok().as_deref(),
        Some("relay1_override")
    );
    assert!(matches!(
        map.prepare_write_pnu(Pnu::new(10201).unwrap_or_else(|e| panic!("{e}")), 1.0),
        Err(Error::UnknownParameter(_))
    ));
    // Every writable parameter has a range, and its ends encode.
    for p in map.iter().filter(|p| p.writable) {
        let (min, max) = p
            .range
            .unwrap_or_else(|| panic!("{}: writable without a range", p.id));
        for v in [min, max] {
            let raw = p.encode(v).unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert!((p.decode(raw) - v).abs() < 1e-9, "{}", p.id);
        }
    }
}

#[test]
fn configurable_inputs_and_meter_layouts() {
    let c = builtin();
    let ecl = controller(&c, "A266.1", Some("ecl310"));
    let input = |n, kind| ConfigurableInput {
        input: n,
        name: format!("extra {n}"),
        kind,
    };
    let ecl = ecl
        .with_configurable_inputs(vec![
            input(7, InputKind::Pt1000),
            input(8, InputKind::Voltage { scale: 0.01 }),
            input(9, InputKind::Digital),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let p = ecl.product("x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.service("s7").map(|s| (s.unit, s.name.as_str())),
        Some((Unit::DegC, "S7 extra 7"))
    );
    assert_eq!(p.service("s8").map(|s| s.unit), Some(Unit::V));
    assert_eq!(ecl.configurable_inputs()[2].decode(5), Some(1.0));
    // S3 is the heating flow on A266.1; S11 is not known to be free; A247.1 lists no free input.
    let base = controller(&c, "A266.1", Some("ecl310"));
    assert!(matches!(
        base.clone()
            .with_configurable_inputs(vec![input(3, InputKind::Pt1000)]),
        Err(Error::InputNotConfigurable { input: 3, .. })
    ));
    assert!(matches!(
        base.clone()
            .with_configurable_inputs(vec![input(11, InputKind::Pt1000)]),
        Err(Error::InputNotConfigurable { input: 11, .. })
    ));
    assert!(
        controller(&c, "A247.1", None)
            .with_configurable_inputs(vec![input(7, InputKind::Pt1000)])
            .is_err()
    );

    let layout = MeterLayout {
        fields: vec![MeterField {
            id: "energy".into(),
            name: "Energy".into(),
            offset: 5,
            words: 2,
            scale: 1.0,
            unit: Unit::KWh,
        }],
    };
    let with_meters = base
        .clone()
        .with_meter_layout(layout.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let p = with_meters.product("y").unwrap_or_else(|e| panic!("{e}"));
    let e5 = p
        .service("meter5_energy")
        .unwrap_or_else(|| panic!("meter5_energy"));
    assert_eq!(e5.register.address, 6200 + 5 - 1);
    assert!(
        controller(&c, "A266.1", Some("ecl210"))
            .with_meter_layout(layout)
            .is_err(),
        "no M-Bus on an ECL 210"
    );
    let bad = MeterLayout {
        fields: vec![MeterField {
            id: "x".into(),
            name: "x".into(),
            offset: 49,
            words: 2,
            scale: 1.0,
            unit: Unit::KWh,
        }],
    };
    assert!(base.with_meter_layout(bad).is_err());
}
