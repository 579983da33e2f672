//! The built-in product catalogue, the catalogue file format and its error handling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use modbus_devices::catalogue::file::{
    CatalogueFile, Defaults, LimitsSpec, NotAvailablePolicy, ProductSpec, RegisterSpec,
    ServiceSpec, SignatureSpec,
};
use modbus_devices::catalogue::{
    Category, ChannelKind, Direction, Expect, FieldBus, Measurand, Phase, Simulated,
    generic_energy_meter,
};
use modbus_devices::register::{ByteOrder, WordOrder};
use modbus_devices::{
    Catalogue, CatalogueError, DataType, FunctionCode, Product, RegisterDef, Unit, Value,
};
use proptest::prelude::*;
use toml::Spanned;

// ------------------------------------------------------------------------------------------
// helpers

/// A fake device: register address -> content. A read of an address it lacks fails, like an
/// exception 02 on a real device.
type Memory = BTreeMap<u16, u16>;

fn write(mem: &mut Memory, def: &RegisterDef, value: &Value) {
    let words = def.encode(value).unwrap();
    for (i, w) in words.into_iter().enumerate() {
        mem.insert(def.address + i as u16, w);
    }
}

fn read(mem: &Memory, def: &RegisterDef) -> Option<Value> {
    let words: Option<Vec<u16>> = (0..def.count())
        .map(|i| mem.get(&(def.address + i)).copied())
        .collect();
    def.decode(&words?).ok().flatten()
}

fn signature_matches(product: &Product, mem: &Memory) -> bool {
    product
        .signature
        .iter()
        .all(|c| c.expect.matches(read(mem, &c.register).as_ref()))
}

fn hager_device(product_code: &str) -> Memory {
    let mut mem = Memory::new();
    let string16 = |a| RegisterDef::new(FunctionCode::Holding, a, DataType::String).with_length(16);
    write(&mut mem, &string16(0x1000), &Value::Text("Hager".into()));
    write(
        &mut mem,
        &string16(0x1010),
        &Value::Text(product_code.into()),
    );
    mem
}

fn builtin() -> Catalogue {
    Catalogue::builtin().expect("the built-in catalogue loads")
}

fn invalid_format(text: &str) -> (usize, String, String) {
    let mut c = Catalogue::new();
    let err = c
        .load_str(Path::new("user/custom.toml"), text)
        .expect_err("the file must be refused");
    let shown = err.to_string();
    assert!(shown.contains("user/custom.toml"), "no file name: {shown}");
    assert!(
        shown.starts_with("user/custom.toml:"),
        "not file:line:column: field: message: {shown}"
    );
    assert!(c.products().is_empty(), "nothing may be added on error");
    match err {
        CatalogueError::InvalidFile {
            line,
            field,
            message,
            ..
        } => {
            assert!(shown.contains(&format!(":{line}:")), "no line: {shown}");
            assert!(shown.contains(&field), "no field: {shown}");
            (line, field, message)
        }
        other => panic!("expected InvalidFile, found {other:?}"),
    }
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

const MINIMAL: &str = r#"[[product]]
references = ["USER-1"]
vendor = "Acme"
model = "M1"

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0010, type = "u16", scale = 0.1 }
"#;

// ------------------------------------------------------------------------------------------
// the built-in catalogue

const HAGER: [&str; 11] = [
    "ECR140D", "ECR180D", "ECA180D", "ECR380D", "ECA380D", "ECR310D", "ECA310D", "ECR300C",
    "ECA300C", "ECR180T", "ECA180T",
];

#[test]
fn builtin_holds_the_documented_products() {
    let c = builtin();
    let refs = [
        "ECR140D",
        "ECR180D",
        "ECR181D",
        "ECA180D",
        "ECA181D",
        "ECR380D",
        "ECR381D",
        "ECA380D",
        "ECA381D",
        "ECR310D",
        "ECR311D",
        "ECA310D",
        "ECA311D",
        "ECR300C",
        "ECR301C",
        "ECA300C",
        "ECA301C",
        "ECR180T",
        "ECA180T",
        "SDM630",
        "SDM120",
        "EM340",
        "EM330",
        "B21",
        "B23",
        "B24",
        "iEM3150",
        "iEM3155",
        "iEM3250",
        "iEM3255",
        "iEM3350",
        "iEM3355",
        "UMG96RM",
        "UMG96RM-E",
        "412045",
        "GENERIC-MODBUS-METER",
    ];
    for r in refs {
        assert!(c.get(r).is_some(), "missing {r}");
    }
    // Products without a public map are not invented.
    for r in [
        "SM101C", "SM102E", "EC366", "EC367M", "EC376", "EC377M", "414940",
    ] {
        assert!(c.get(r).is_none(), "{r} has no public map");
    }
    assert_eq!(c.products().len(), 21);
    // The "1" variants are references of their column's product.
    assert_eq!(
        c.get("ECR381D").unwrap().reference(),
        c.get("ECR380D").unwrap().reference()
    );
    // ECR and ECA are separate products (their product codes differ).
    assert_ne!(c.get("ECA380D").unwrap(), c.get("ECR380D").unwrap());
}

#[test]
fn every_product_has_signature_services_and_source() {
    let c = builtin();
    for p in c.products() {
        let r = p.reference();
        assert!(!p.signature.is_empty(), "{r}: no signature");
        assert!(!p.services.is_empty(), "{r}: no services");
        assert!(!p.source.is_empty(), "{r}: no source");
        assert!(!p.vendor.is_empty() && !p.model.is_empty(), "{r}");
        for s in &p.services {
            // Every service decodes (zeros are valid for every type) and sits inside the limits.
            let words = vec![0u16; usize::from(s.register.count())];
            s.register
                .decode(&words)
                .unwrap_or_else(|e| panic!("{r}/{}: {e}", s.id));
            assert!(
                p.limits.allows(
                    s.register.function_code,
                    u32::from(s.register.address),
                    s.register.last_address()
                ),
                "{r}/{}",
                s.id
            );
            // Units follow the workspace symbols per category.
            let ok = match s.category {
                Category::Energy => matches!(s.unit, Unit::KWh | Unit::Kvarh),
                Category::Power => matches!(s.unit, Unit::W | Unit::Var | Unit::VA),
                Category::Voltage => s.unit == Unit::V,
                Category::Current => s.unit == Unit::A,
                Category::Frequency => s.unit == Unit::Hz,
                Category::PowerFactor => s.unit == Unit::None,
                Category::Thd => s.unit == Unit::Percent,
                _ => true,
            };
            assert!(ok, "{r}/{}: unit {} for {:?}", s.id, s.unit, s.category);
        }
        for prm in &p.parameters {
            assert!(prm.register.is_writable(), "{r}/{}", prm.id);
            assert!(prm.register.write_range.is_some(), "{r}/{}", prm.id);
        }
    }
}

#[test]
fn uncertain_maps_are_not_verified() {
    let c = builtin();
    for r in HAGER
        .iter()
        .copied()
        .chain(["SDM630", "SDM120", "EM340", "B21", "B23", "B24"])
    {
        let p = c.get(r).unwrap();
        assert!(p.verified, "{r} is confidence A/B");
        assert!(
            p.source.contains("confidence A") || p.source.contains("confidence B"),
            "{r}: {}",
            p.source
        );
    }
    for r in ["iEM3155", "UMG96RM", "412045", "GENERIC-MODBUS-METER"] {
        let p = c.get(r).unwrap();
        assert!(!p.verified, "{r} is partly uncertain");
    }
    for r in ["iEM3155", "UMG96RM", "412045"] {
        assert!(c.get(r).unwrap().source.contains("confidence C"), "{r}");
    }
}

#[test]
fn hager_products_are_told_apart_by_their_signature() {
    let c = builtin();
    let hager: Vec<&Product> = HAGER.iter().map(|r| c.get(r).unwrap()).collect();
    for p in &hager {
        // Every product code a device of this product may report...
        for code in &p.references {
            let device = hager_device(code);
            // ...matches this product and no other Hager product.
            for q in &hager {
                assert_eq!(
                    signature_matches(q, &device),
                    q.reference() == p.reference(),
                    "device reporting {code} against {}",
                    q.reference()
                );
            }
            // Nor any other product of the catalogue.
            for q in c.products().iter().filter(|q| q.vendor != "Hager") {
                assert!(
                    !signature_matches(q, &device),
                    "{code} vs {}",
                    q.reference()
                );
            }
        }
    }
    // The vendor string must start with "Hager".
    let mut other_vendor = hager_device("ECR380D");
    let vendor = RegisterDef::new(FunctionCode::Holding, 0x1000, DataType::String).with_length(16);
    write(&mut other_vendor, &vendor, &Value::Text("Hagen".into()));
    assert!(!signature_matches(c.get("ECR380D").unwrap(), &other_vendor));
    // A device that does not answer at 0x1010 does not match.
    let mut mute = hager_device("ECR380D");
    mute.remove(&0x1010);
    assert!(!signature_matches(c.get("ECR380D").unwrap(), &mute));
}

#[test]
fn abb_models_are_told_apart_by_their_model_string() {
    let c = builtin();
    for (model, raw) in [
        ("B21", [0x4232, 0x3120]),
        ("B23", [0x4232, 0x3320]),
        ("B24", [0x4232, 0x3420]),
    ] {
        let device: Memory = [(0x8960, raw[0]), (0x8961, raw[1])].into_iter().collect();
        for other in ["B21", "B23", "B24"] {
            assert_eq!(
                signature_matches(c.get(other).unwrap(), &device),
                other == model,
                "{model} device against {other}"
            );
        }
    }
}

#[test]
fn plausibility_signatures_check_the_range() {
    let c = builtin();
    let sdm = c.get("SDM630").unwrap();
    let freq = RegisterDef::new(FunctionCode::Input, 0x0046, DataType::F32);
    let code = RegisterDef::new(FunctionCode::Holding, 0xFC02, DataType::Flags);
    let mut device = Memory::new();
    write(&mut device, &code, &Value::Flags(0x0070));
    write(&mut device, &freq, &Value::Number(50.02));
    assert!(signature_matches(sdm, &device));
    write(&mut device, &freq, &Value::Number(0.0));
    assert!(!signature_matches(sdm, &device));
    device.insert(0x0046, 0x7FC0); // a float32 NaN
    device.insert(0x0047, 0x0000);
    assert!(!signature_matches(sdm, &device), "NaN is not available");
    assert!(
        sdm.signature
            .iter()
            .any(|s| matches!(s.expect, Expect::Within { min, max } if min == 45.0 && max == 65.0))
    );
}

/// Rows of the Hager workbook (sheets Instantaneous_Measures, Energies_and_partial_Energies,
/// Energie_per_Phase, Energies_per_Tariff_, Partial_Energie_per_Tariff), column 3P_80:
/// (service, address, type, factor to the unit, unit).
const ECR380D_ROWS: &[(&str, u16, DataType, f64, Unit)] = &[
    ("v_l1_n", 0xB000, DataType::U16, 0.01, Unit::V),
    ("v_l3_l1", 0xB005, DataType::U16, 0.01, Unit::V),
    ("freq", 0xB006, DataType::U16, 0.01, Unit::Hz),
    ("i_l1", 0xB009, DataType::U32, 0.001, Unit::A),
    ("i_n", 0xB00F, DataType::U32, 0.001, Unit::A),
    ("p_total", 0xB011, DataType::S32, 10.0, Unit::W),
    ("q_total", 0xB013, DataType::S32, 10.0, Unit::Var),
    ("s_total", 0xB015, DataType::U32, 10.0, Unit::VA),
    ("pf_total_iec", 0xB017, DataType::S16, 0.001, Unit::None),
    ("p_l3", 0xB01D, DataType::S32, 10.0, Unit::W),
    ("pf_l3_ieee", 0xB030, DataType::S16, 0.001, Unit::None),
    ("ea_import", 0xB060, DataType::U32, 1.0, Unit::KWh),
    ("er_export", 0xB066, DataType::U32, 1.0, Unit::Kvarh),
    ("ea_export_partial", 0xB06A, DataType::U32, 1.0, Unit::KWh),
    ("ea_export_l1", 0xB186, DataType::U32, 1.0, Unit::KWh),
    ("er_export_l3", 0xB196, DataType::U32, 1.0, Unit::Kvarh),
    ("ea_import_t8", 0xB0CE, DataType::U32, 1.0, Unit::KWh),
    ("er_import_t1", 0xB0E0, DataType::U32, 1.0, Unit::Kvarh),
    (
        "ea_export_partial_t8",
        0xB15E,
        DataType::U32,
        1.0,
        Unit::KWh,
    ),
    ("active_tariff", 0xB0B1, DataType::U16, 1.0, Unit::None),
    ("network_type", 0xC000, DataType::U16, 1.0, Unit::None),
];

#[test]
fn ecr380d_services_match_the_workbook() {
    let c = builtin();
    let p = c.get("ECR380D").unwrap();
    for (id, address, data_type, factor, unit) in ECR380D_ROWS {
        let s = p.service(id).unwrap_or_else(|| panic!("no service {id}"));
        assert_eq!(s.register.function_code, FunctionCode::Holding, "{id}");
        assert_eq!(s.register.address, *address, "{id}");
        assert_eq!(s.register.data_type, *data_type, "{id}");
        assert_eq!(s.register.word_order, WordOrder::HighFirst, "{id}");
        assert!((s.register.factor() - factor).abs() < 1e-12, "{id}");
        assert_eq!(s.unit, *unit, "{id}");
    }
    // 31 instantaneous + 4 total + 2 partial + 12 per phase + 32 per tariff + 16 partial per
    // tariff + 4 tariff control + 12 identification + 5 configuration + 4 overflow counters.
    assert_eq!(p.services.len(), 122);
    // Decoding with the workbook's scaling and "not available" values.
    let v = p.service("v_l1_n").unwrap();
    assert_eq!(
        v.register.decode(&[23150]).unwrap(),
        Some(Value::Number(231.5))
    );
    assert_eq!(v.register.decode(&[0xFFFF]).unwrap(), None);
    let pt = p.service("p_total").unwrap();
    assert_eq!(
        pt.register.decode(&[0xFFFF, 0xFFFE]).unwrap(),
        Some(Value::Number(-20.0))
    );
    assert_eq!(pt.register.decode(&[0x7FFF, 0xFFFF]).unwrap(), None);
    let i = p.service("i_l2").unwrap();
    assert_eq!(
        i.register.decode(&[0x0001, 0x3880]).unwrap(),
        Some(Value::Number(80.0))
    );
    assert_eq!(i.register.decode(&[0xFFFF, 0xFFFF]).unwrap(), None);
    // Limits: the user-block size, small gaps, the documented blocks and holes.
    assert_eq!(p.limits.max_registers_per_read, 64);
    assert_eq!(p.limits.max_gap, 8);
    let fc3 = FunctionCode::Holding;
    assert!(p.limits.allows(fc3, 0xB000, 0xB030));
    assert!(!p.limits.allows(fc3, 0xB000, 0xB031), "hole 0xB031..0xB05F");
    assert!(!p.limits.allows(fc3, 0xB2B0, 0xB2BD), "hole 0xB2BC..0xB2CF");
    assert!(!p.limits.allows(fc3, 0x2000, 0x2001), "between the areas");
    assert!(
        p.limits
            .forbidden
            .iter()
            .any(|r| (r.from, r.to) == (0xB310, 0xB34F))
    );
    // Parameters.
    let t = p.parameter("set_tariff").unwrap();
    assert_eq!(t.register.address, 0xB0B4);
    assert!(t.register.encode_for_write(&Value::Number(9.0)).is_err());
    assert_eq!(
        t.register.encode_for_write(&Value::Number(2.0)).unwrap(),
        vec![2]
    );
    let a = p.parameter("modbus_address").unwrap();
    assert_eq!(a.register.address, 0xC040);
    assert!(a.register.encode_for_write(&Value::Number(248.0)).is_err());
    assert!(p.parameter("serial_settings").is_some());
    assert_eq!(
        p.parameter("reset_partial_energies")
            .unwrap()
            .register
            .address,
        0xC020
    );
    // Alarm templates with pre-alarm and hysteresis.
    let high = p.alarms.iter().find(|a| a.id == "overvoltage_l1").unwrap();
    assert_eq!(high.service, "v_l1_n");
    assert!(high.pre_alarm.unwrap() < high.threshold.unwrap() && high.hysteresis > 0.0);
    assert!(p.alarms.iter().any(|a| a.service == "freq"));
}

#[test]
fn hager_products_include_only_their_populated_services() {
    let c = builtin();
    let has = |r: &str, id: &str| c.get(r).unwrap().service(id).is_some();
    // ECR140D: single phase, no partial energies, no tariff input.
    assert!(has("ECR140D", "v_l1_n") && has("ECR140D", "ea_import_t8"));
    for id in [
        "v_l2_n",
        "i_l2",
        "ea_import_partial",
        "ea_import_l1",
        "tariff_input",
        "s2_v_l1_n",
    ] {
        assert!(!has("ECR140D", id), "ECR140D has no {id}");
    }
    assert!(
        c.get("ECR140D")
            .unwrap()
            .parameter("reset_partial_energies")
            .is_none()
    );
    // 1P_80: partial energies; the agardio variant has no tariff input.
    assert!(has("ECR180D", "ea_import_partial_t1") && has("ECR180D", "tariff_input"));
    assert!(has("ECA180D", "ea_import_partial_t1") && !has("ECA180D", "tariff_input"));
    // Only the CT products have the secondary side and the CT settings.
    assert!(has("ECR300C", "s2_pf_l3_ieee") && has("ECA300C", "ct_primary"));
    assert!(has("ECR300C", "s2_er_export_l3"));
    assert!(!has("ECR310D", "s2_v_l1_n") && !has("ECR310D", "ct_primary"));
    let s2p = c.get("ECR300C").unwrap().service("s2_p_total").unwrap();
    assert_eq!(s2p.register.data_type, DataType::S16);
    // ECR180T: meters M1..M3, 4 tariffs, no totals.
    assert!(has("ECR180T", "ea_import_m3") && has("ECR180T", "ea_export_partial_m3_t4"));
    for id in [
        "p_total",
        "ea_import",
        "ea_import_t1",
        "v_l1_l2",
        "i_n",
        "pf_l1_ieee",
    ] {
        assert!(!has("ECR180T", id), "ECR180T has no {id}");
    }
    let m3t4 = c
        .get("ECR180T")
        .unwrap()
        .service("ea_export_partial_m3_t4")
        .unwrap();
    assert_eq!(m3t4.register.address, 0xB218 + 0x20 + 6);
    let tariff = c.get("ECA180T").unwrap().parameter("set_tariff").unwrap();
    assert_eq!(tariff.register.write_range.unwrap().max, 4.0);
    // Field buses follow the ECR (screw terminals) / ECA (agardio) split.
    assert_eq!(c.get("ECR380D").unwrap().field_buses, vec![FieldBus::Rtu]);
    assert_eq!(
        c.get("ECA380D").unwrap().field_buses,
        vec![FieldBus::Agardio]
    );
}

#[test]
fn other_vendors_follow_their_encodings() {
    let c = builtin();
    // Eastron: FC4 floats, identification on FC3, 80 registers per read.
    let sdm = c.get("SDM630").unwrap();
    let v = sdm.service("v_l1_n").unwrap();
    assert_eq!(
        (v.register.function_code, v.register.data_type),
        (FunctionCode::Input, DataType::F32)
    );
    assert_eq!(
        sdm.service("serial_number").unwrap().register.function_code,
        FunctionCode::Holding
    );
    assert_eq!(sdm.limits.max_registers_per_read, 80);
    assert_eq!(sdm.service("er_total_l3").unwrap().register.address, 0x017C);
    assert!(c.get("SDM120").unwrap().service("v_l2_n").is_none());
    // Carlo Gavazzi: low word first, 50 registers, 0x7FFFFFFF = overflow.
    let em = c.get("EM340").unwrap();
    let v = em.service("v_l1_n").unwrap();
    assert_eq!(v.register.word_order, WordOrder::LowFirst);
    assert_eq!(
        v.register.decode(&[2305, 0]).unwrap(),
        Some(Value::Number(230.5))
    );
    assert_eq!(v.register.decode(&[0xFFFF, 0x7FFF]).unwrap(), None);
    assert_eq!(em.limits.max_registers_per_read, 50);
    // ABB: U64 energies in 0.01 kWh, all-ones = invalid.
    let abb = c.get("B23").unwrap().service("ea_import").unwrap();
    assert_eq!(abb.register.data_type, DataType::U64);
    assert_eq!(
        abb.register.decode(&[0, 0, 0, 12345]).unwrap(),
        Some(Value::Number(123.45))
    );
    assert_eq!(abb.register.decode(&[0xFFFF; 4]).unwrap(), None);
    // Schneider: kW -> W, Wh -> kWh, INT64 counters.
    let se = c.get("iEM3255").unwrap();
    assert_eq!(se.service("p_total").unwrap().register.factor(), 1000.0);
    let e = se.service("ea_import").unwrap();
    assert_eq!(
        (e.register.address, e.register.data_type),
        (3203, DataType::S64)
    );
    assert_eq!(e.unit, Unit::KWh);
    // Legrand EMDX3: mV -> V.
    let lg = c.get("4 120 45").unwrap().service("v_l1_n").unwrap();
    assert_eq!(
        lg.register.decode(&[0x0003, 0x8270]).unwrap(),
        Some(Value::Number(230.0))
    );
}

// ------------------------------------------------------------------------------------------
// the generic Modbus meter

#[test]
fn generic_meter_helper_builds_the_builtin_template() {
    let c = builtin();
    let template = c.get("GENERIC-MODBUS-METER").unwrap();
    let built = generic_energy_meter("GENERIC-MODBUS-METER", 3, "0000", 2, 1.0).unwrap();
    assert_eq!(built.services, template.services);
    assert_eq!(built.signature, template.signature);
    assert_eq!(built.limits, template.limits);
    assert_eq!(built.services.len(), 1);
    assert_eq!(built.services[0].quantity, "active_energy_import");

    for (words, t) in [(1, DataType::U16), (2, DataType::U32), (4, DataType::U64)] {
        let m = generic_energy_meter("G", 4, "0xB060", words, 0.01).unwrap();
        let r = &m.services[0].register;
        assert_eq!(
            (r.function_code, r.address, r.data_type),
            (FunctionCode::Input, 0xB060, t)
        );
        assert_eq!(r.factor(), 0.01);
    }
    let bad = |fc, reg: &str, words, mult| match generic_energy_meter("G", fc, reg, words, mult)
        .unwrap_err()
    {
        CatalogueError::InvalidArgument { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(bad(1, "0", 2, 1.0), "function_code");
    assert_eq!(bad(3, "", 2, 1.0), "register");
    assert_eq!(bad(3, "12345", 2, 1.0), "register");
    assert_eq!(bad(3, "0xG0", 2, 1.0), "register");
    assert_eq!(bad(3, "FFFF", 2, 1.0), "register");
    assert_eq!(bad(3, "10", 3, 1.0), "words");
    assert_eq!(bad(3, "10", 2, 0.0), "multiplier");
    assert_eq!(bad(3, "10", 2, f64::NAN), "multiplier");
    assert!(generic_energy_meter(" ", 3, "10", 2, 1.0).is_err());

    // It joins a catalogue; a duplicate reference is refused.
    let mut c = builtin();
    c.add(generic_energy_meter("SITE-METER", 3, "10", 2, 1.0).unwrap())
        .unwrap();
    assert!(c.get("SITE-METER").is_some());
    let dup = c
        .add(generic_energy_meter("ECR380D", 3, "10", 2, 1.0).unwrap())
        .unwrap_err();
    assert!(matches!(dup, CatalogueError::DuplicateReference { .. }));
    let mut nameless = generic_energy_meter("E", 3, "10", 2, 1.0).unwrap();
    nameless.references.clear();
    assert!(matches!(
        c.add(nameless),
        Err(CatalogueError::InvalidArgument {
            field: "references",
            ..
        })
    ));
}

// ------------------------------------------------------------------------------------------
// user files

#[test]
fn format_doc_example_is_the_example_file_and_loads() {
    let example = include_str!("../catalogue/examples/custom-product.toml");
    let doc = include_str!("../src/catalogue/FORMAT.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(&doc[start..end], example, "FORMAT.md's example drifted");

    let mut c = builtin();
    let before = c.products().len();
    let added = c
        .load_str(Path::new("custom-product.toml"), example)
        .unwrap();
    assert_eq!(added, vec!["EX-PM3".to_string()]);
    assert_eq!(c.products().len(), before + 1);
    let p = c.get("EX-PM3-MID").unwrap();
    assert!(!p.verified);
    let ids: Vec<&str> = p.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ea_import",
            "ea_export",
            "v_l1_n",
            "freq",
            "status",
            "p_total"
        ]
    );
    let v = p.service("v_l1_n").unwrap();
    assert_eq!(
        (v.register.function_code, v.register.address),
        (FunctionCode::Holding, 10)
    );
    let f = p.service("freq").unwrap();
    assert_eq!(
        (f.register.function_code, f.register.address),
        (FunctionCode::Input, 0)
    );
    assert_eq!(
        p.service("status").unwrap().register.flags.get(&1).unwrap(),
        "phase loss"
    );
    assert_eq!(v.register.not_available, vec![0xFFFF], "type_max policy");
    assert_eq!(p.limits.max_gap, 4);
    assert_eq!(p.limits.blocks.len(), 3);
    assert_eq!(p.signature[1].expect, Expect::AnyNumber(vec![301.0, 302.0]));
    assert_eq!(
        p.parameter("modbus_address")
            .unwrap()
            .register
            .write_range
            .unwrap()
            .max,
        247.0
    );
    assert_eq!(p.alarms[0].pre_alarm, Some(245.0));
}

#[test]
fn a_minimal_user_file_loads() {
    let mut c = Catalogue::new();
    c.load_str(Path::new("user/custom.toml"), MINIMAL).unwrap();
    let p = c.get("USER-1").unwrap();
    assert!(p.verified, "verified defaults to true");
    assert_eq!(p.services[0].recording_interval_min, 15);
    assert_eq!(p.services[0].register.function_code, FunctionCode::Holding);
}

#[test]
fn wrong_type_is_refused_with_line_and_field() {
    let text = MINIMAL.replace("type = \"u16\"", "type = \"u42\"");
    let (line, field, message) = invalid_format(&text);
    assert_eq!(line, line_of(&text, "u42"));
    assert!(field.contains("product[0].service[0].register"), "{field}");
    assert!(message.contains("u42"), "{message}");
    // A number where text is expected.
    let text = MINIMAL.replace("vendor = \"Acme\"", "vendor = 42");
    let (line, field, _) = invalid_format(&text);
    assert_eq!(line, line_of(&text, "vendor = 42"));
    assert_eq!(field, "product[0].vendor");
}

#[test]
fn bad_field_after_multibyte_characters_is_located_in_characters() {
    // The bad value follows a text with multi-byte characters on its line: the column
    // counts characters, not bytes.
    let line = r#"register = { address = 0x0010, type = "flags", flags = { 0 = "Zählerstand °C" }, scale = "x" }"#;
    let text = MINIMAL.replace(
        r#"register = { address = 0x0010, type = "u16", scale = 0.1 }"#,
        line,
    );
    let err = Catalogue::new()
        .load_str(Path::new("user/custom.toml"), &text)
        .expect_err("refused");
    let row = line_of(&text, "Zählerstand");
    let column = line
        .find(r#""x""#)
        .map(|b| line[..b].chars().count() + 1)
        .unwrap();
    assert_eq!(
        column,
        90,
        "the byte offset would be {}",
        line.find(r#""x""#).unwrap() + 1
    );
    assert_eq!(
        err.to_string(),
        format!(
            "user/custom.toml:{row}:{column}: product[0].service[0].register.scale: \
             invalid type: string \"x\", expected f64"
        )
    );
    match err {
        CatalogueError::InvalidFile {
            line,
            column: c,
            field,
            ..
        } => {
            assert_eq!((line, c), (row, 90));
            assert_eq!(field, "product[0].service[0].register.scale");
        }
        other => panic!("expected InvalidFile, found {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// what a service is: measurand, phase, direction, tariff, harmonic, partial, channel kind,
// simulated values

const DESCRIBED: &str = r#"[[product]]
references = ["USER-2"]
vendor = "Acme"
model = "M2"
simulated = { wiring = 1 }

[[product.service]]
id = "ea_imp_t2_l3"
name = "Zählerstand"
quantity = "energy"
unit = "kWh"
category = "energy"
measurand = "active_energy"
phase = "L3"
direction = "export"
tariff = 2
partial = true
register = { address = 0x0010, type = "u32" }

[[product.service]]
id = "u"
name = "U"
quantity = "voltage_ll"
unit = "V"
category = "voltage"
measurand = "voltage"
phase = "L3-L1"
recording_interval_min = 5
register = { address = 0x0012, type = "u16" }

[[product.service]]
id = "h5"
name = "H5"
quantity = "x"
unit = "%"
category = "harmonic"
measurand = "harmonic_current"
phase = "N"
harmonic = 5
channel_kind = "instantaneous"
register = { address = 0x0013, type = "u16" }

[[product.service]]
id = "wiring"
name = "Wiring"
quantity = "wiring"
unit = ""
category = "configuration"
simulated = 4
register = { address = 0x0014, type = "u16" }

[[product.service]]
id = "events"
name = "Events"
quantity = "events"
unit = ""
category = "status"
channel_kind = "counter"
register = { address = 0x0015, type = "u16" }

[[product.parameter]]
id = "address"
name = "Address"
measurand = "unit_id"
register = { address = 0x0020, type = "u16", write_range = { min = 1, max = 247 } }

[[product.parameter]]
id = "baud"
name = "Baud"
simulated = 3
register = { address = 0x0021, type = "u16", write_range = { min = 0, max = 5 } }
"#;

#[test]
fn what_a_service_is_loads_from_the_file() {
    let mut c = Catalogue::new();
    c.load_str(Path::new("user/described.toml"), DESCRIBED)
        .unwrap();
    let p = c.get("USER-2").unwrap();
    let e = p.service("ea_imp_t2_l3").unwrap();
    assert_eq!(
        (e.measurand, e.phase, e.direction, e.tariff, e.partial),
        (
            Some(Measurand::ActiveEnergy),
            Some(Phase::L3),
            Some(Direction::Export),
            Some(2),
            true
        )
    );
    // The bridge to `reports`: an energy is a counter by default, in its words.
    assert_eq!(e.channel_kind, ChannelKind::Counter);
    assert_eq!(e.channel_kind.as_str(), "counter");
    assert_eq!(e.recording_interval_min, 15);
    let u = p.service("u").unwrap();
    assert_eq!((u.phase, u.recording_interval_min), (Some(Phase::L3L1), 5));
    assert_eq!(u.channel_kind, ChannelKind::Instantaneous);
    let h = p.service("h5").unwrap();
    assert_eq!(
        (h.measurand, h.phase, h.harmonic),
        (Some(Measurand::HarmonicCurrent), Some(Phase::N), Some(5))
    );
    // The product's `simulated` table replaces the service's own value.
    assert_eq!(
        p.service("wiring").unwrap().simulated,
        Some(Simulated::Number(1.0))
    );
    assert_eq!(
        p.service("events").unwrap().channel_kind,
        ChannelKind::Counter
    );
    assert_eq!(
        p.parameter("address").unwrap().measurand,
        Some(Measurand::UnitId)
    );
    assert_eq!(
        p.parameter("baud").unwrap().simulated,
        Some(Simulated::Number(3.0))
    );
    // No data: no measurand, and the category decides the channel kind.
    let mut c = Catalogue::new();
    c.load_str(Path::new("user/custom.toml"), MINIMAL).unwrap();
    let v = &c.get("USER-1").unwrap().services[0];
    assert_eq!(
        (v.measurand, v.phase, v.simulated.clone()),
        (None, None, None)
    );
    assert_eq!(v.channel_kind, ChannelKind::Instantaneous);
}

/// `DESCRIBED` with `from` replaced by `to` is refused, naming `field` and saying `says`;
/// the line of the error.
fn refused(from: &str, to: &str, field: &str, says: &str) -> usize {
    let text = DESCRIBED.replacen(from, to, 1);
    assert_ne!(text, DESCRIBED, "{from} not found");
    let (line, f, message) = invalid_format(&text);
    assert_eq!(f, field, "{message}");
    assert!(message.contains(says), "{message} should say {says}");
    line
}

#[test]
fn unknown_words_of_what_a_service_is_are_refused() {
    // Unknown words are refused by the format itself, at their line.
    let line = refused(
        "phase = \"L3\"",
        "phase = \"L4\"",
        "product[0].service[0].phase",
        "L4",
    );
    assert_eq!(
        line,
        line_of(&DESCRIBED.replace("\"L3\"", "\"L4\""), "\"L4\"")
    );
    refused(
        "measurand = \"voltage\"",
        "measurand = \"volts\"",
        "product[0].service[1].measurand",
        "volts",
    );
    refused(
        "direction = \"export\"",
        "direction = \"out\"",
        "product[0].service[0].direction",
        "out",
    );
    refused(
        "channel_kind = \"counter\"",
        "channel_kind = \"index\"",
        "product[0].service[4].channel_kind",
        "index",
    );
    refused(
        "simulated = 4",
        "simulated = true",
        "product[0].service[3].simulated",
        "a number or a text",
    );
}

#[test]
fn companions_must_fit_the_measurand() {
    // Companions that do not fit the measurand.
    refused(
        "measurand = \"active_energy\"\n",
        "",
        "product[0].service[0].phase",
        "needs a `measurand`",
    );
    refused(
        "unit = \"kWh\"",
        "unit = \"A\"",
        "product[0].service[0].unit",
        "\"kWh\"",
    );
    refused(
        "phase = \"L3-L1\"",
        "phase = \"N\"",
        "product[0].service[1].phase",
        "voltage",
    );
    refused(
        "phase = \"N\"",
        "phase = \"L1-L2\"",
        "product[0].service[2].phase",
        "harmonic_current",
    );
    refused(
        "phase = \"L3\"",
        "phase = \"average\"",
        "product[0].service[0].phase",
        "active_energy",
    );
    refused(
        "phase = \"L3-L1\"",
        "phase = \"L3-L1\"\ndirection = \"import\"",
        "product[0].service[1].direction",
        "no direction",
    );
    refused(
        "tariff = 2",
        "tariff = 0",
        "product[0].service[0].tariff",
        "from 1",
    );
    refused(
        "harmonic = 5",
        "harmonic = 64",
        "product[0].service[2].harmonic",
        "1..=63",
    );
    refused(
        "harmonic = 5\n",
        "",
        "product[0].service[2].harmonic",
        "needs its `harmonic` order",
    );
    refused(
        "phase = \"L3-L1\"",
        "phase = \"L3-L1\"\npartial = true",
        "product[0].service[1].partial",
        "only energy",
    );
}

#[test]
fn simulated_values_must_fit_their_register() {
    // Simulated values must fit their register (and a parameter's write range).
    refused(
        "simulated = 4",
        "simulated = \"four\"",
        "product[0].service[3].simulated",
        "string register",
    );
    refused(
        "simulated = 4",
        "simulated = 70000",
        "product[0].service[3].simulated",
        "cannot be served",
    );
    refused(
        "simulated = 3",
        "simulated = 6",
        "product[0].parameter[1].simulated",
        "write range",
    );
    refused(
        "measurand = \"unit_id\"",
        "measurand = \"voltage\"",
        "product[0].parameter[0].measurand",
        "unit_id",
    );
    refused(
        "simulated = { wiring = 1 }",
        "simulated = { wirng = 1 }",
        "product[0].simulated.wirng",
        "no service or parameter",
    );
}

#[test]
fn every_builtin_service_says_what_it_is() {
    // The simulator takes its physics from these fields; the keyword guess is only the
    // fallback for user files without them (sim::model tests check it is never used here).
    let c = builtin();
    for p in c.products() {
        for s in &p.services {
            assert!(
                s.measurand.is_some() || s.simulated.is_some(),
                "{} {}: neither measurand nor simulated",
                p.reference(),
                s.id
            );
            let counter = s.measurand.is_some_and(Measurand::is_energy);
            if counter {
                assert_eq!(
                    s.channel_kind,
                    ChannelKind::Counter,
                    "{} {}",
                    p.reference(),
                    s.id
                );
                assert!(
                    s.direction.is_some() && s.phase.is_some(),
                    "{} {}",
                    p.reference(),
                    s.id
                );
            }
        }
    }
    let ecr = c.get("ECR180T").unwrap();
    assert_eq!(
        ecr.service("network_type").unwrap().simulated,
        Some(Simulated::Number(1.0))
    );
    assert_eq!(
        c.get("ECR380D")
            .unwrap()
            .service("network_type")
            .unwrap()
            .simulated,
        Some(Simulated::Number(4.0))
    );
}

#[test]
fn product_code_is_optional_and_must_fit_a_device_identification_object() {
    // Absent: the product answers no FC43.
    let mut c = Catalogue::new();
    c.load_str(Path::new("user/custom.toml"), MINIMAL).unwrap();
    assert_eq!(c.get("USER-1").unwrap().product_code, None);
    // Present and valid, up to the 244 bytes one object can carry.
    for code in ["M1-230", &"X".repeat(244)] {
        let text = MINIMAL.replace(
            "vendor = \"Acme\"",
            &format!("vendor = \"Acme\"\nproduct_code = \"{code}\""),
        );
        let mut c = Catalogue::new();
        c.load_str(Path::new("user/custom.toml"), &text).unwrap();
        assert_eq!(c.get("USER-1").unwrap().product_code.as_deref(), Some(code));
    }
    // Empty, too long, not printable ASCII.
    for (code, shows) in [
        (String::new(), "\"\""),
        ("X".repeat(245), "245 bytes"),
        ("Zähler".to_string(), "Zähler"),
        ("A\\tB".to_string(), "\\t"),
    ] {
        let text = MINIMAL.replace(
            "vendor = \"Acme\"",
            &format!("vendor = \"Acme\"\nproduct_code = \"{code}\""),
        );
        let (_, field, message) = invalid_format(&text);
        assert_eq!(field, "product[0].product_code");
        assert!(message.contains("printable ASCII"), "{message}");
        assert!(message.contains(shows), "{message} should show {shows}");
    }
    // With a product code, the vendor is sent too, so it must fit as well.
    let text = MINIMAL.replace(
        "vendor = \"Acme\"",
        "vendor = \"Acmé\"\nproduct_code = \"M1\"",
    );
    let (_, field, message) = invalid_format(&text);
    assert_eq!(field, "product[0].vendor");
    assert!(message.contains("Acmé"), "{message}");
    // Without one, the vendor is free text.
    let text = MINIMAL.replace("vendor = \"Acme\"", "vendor = \"Acmé\"");
    Catalogue::new()
        .load_str(Path::new("user/custom.toml"), &text)
        .unwrap();
}

#[test]
fn builtin_product_codes_are_the_documented_ones() {
    // Only Hager documents FC43/14 with its product codes: the
    // code is the main reference, the text of the product-code register 0x1010.
    let c = builtin();
    for p in c.products() {
        let expected = (p.vendor == "Hager").then(|| p.reference().to_string());
        assert_eq!(p.product_code, expected, "{}", p.reference());
    }
    for reference in HAGER {
        assert_eq!(
            c.get(reference).unwrap().product_code.as_deref(),
            Some(reference)
        );
    }
}

#[test]
fn unknown_field_is_refused() {
    let text = MINIMAL.replace("unit = \"V\"", "unit = \"V\"\ncolour = \"red\"");
    let (line, field, message) = invalid_format(&text);
    assert_eq!(line, line_of(&text, "colour"));
    assert!(field.starts_with("product[0].service[0]"), "{field}");
    assert!(message.contains("colour"), "{message}");
    let text = MINIMAL.replace("scale = 0.1", "scael = 0.1");
    let (_, _, message) = invalid_format(&text);
    assert!(message.contains("scael"), "{message}");
}

#[test]
fn bad_addresses_are_refused() {
    // Beyond 16 bits.
    let text = MINIMAL.replace("address = 0x0010", "address = 70000");
    let (line, field, _) = invalid_format(&text);
    assert_eq!(line, line_of(&text, "70000"));
    assert!(field.contains("register"), "{field}");
    // Not a 40001-style number.
    let text = MINIMAL.replace("address = 0x0010", "register = 50001");
    let (line, field, message) = invalid_format(&text);
    assert_eq!(line, line_of(&text, "[[product.service]]"));
    assert_eq!(field, "product[0].service[0].register.register");
    assert!(message.contains("50001"), "{message}");
    // Both forms at once.
    let text = MINIMAL.replace("address = 0x0010", "address = 0x10, register = 40017");
    let (_, field, _) = invalid_format(&text);
    assert_eq!(field, "product[0].service[0].register");
    // A value running past 0xFFFF.
    let text = MINIMAL.replace(
        "address = 0x0010, type = \"u16\"",
        "address = 0xFFFF, type = \"u32\"",
    );
    let (_, field, _) = invalid_format(&text);
    assert_eq!(field, "product[0].service[0].register.address");
    // Outside the product's documented blocks.
    let text = MINIMAL.replace(
        "model = \"M1\"",
        "model = \"M1\"\nlimits = { blocks = [{ from = 0x100, to = 0x1FF }] }",
    );
    let (_, field, message) = invalid_format(&text);
    assert_eq!(field, "product[0].limits");
    assert!(message.contains("0x0010"), "{message}");
}

#[test]
fn missing_field_is_refused() {
    let text = MINIMAL.replace("unit = \"V\"\n", "");
    let (line, field, message) = invalid_format(&text);
    assert!(field.starts_with("product[0].service[0]"), "{field}");
    assert!(message.contains("unit"), "{message}");
    assert!(line >= line_of(&text, "[[product.service]]"), "{line}");
    let text = MINIMAL.replace("vendor = \"Acme\"\n", "");
    let (_, field, message) = invalid_format(&text);
    assert!(field.starts_with("product[0]"), "{field}");
    assert!(message.contains("vendor"), "{message}");
    // No address at all.
    let text = MINIMAL.replace("address = 0x0010, ", "");
    let (_, field, message) = invalid_format(&text);
    assert_eq!(field, "product[0].service[0].register");
    assert!(message.contains("address"), "{message}");
}

#[test]
fn recording_interval_must_be_one_of_the_allowed() {
    for bad in [0, 1, 7, 25, 60] {
        let text = format!("{MINIMAL}recording_interval_min = {bad}\n");
        let (line, field, message) = invalid_format(&text);
        assert_eq!(line, line_of(&text, "[[product.service]]"));
        assert_eq!(field, "product[0].service[0].recording_interval_min");
        assert!(message.contains(&bad.to_string()), "{message}");
    }
    for good in [5, 10, 15, 20, 30, 50] {
        let text = format!("{MINIMAL}recording_interval_min = {good}\n");
        let mut c = Catalogue::new();
        c.load_str(Path::new("ok.toml"), &text).unwrap();
        assert_eq!(c.products()[0].services[0].recording_interval_min, good);
    }
    // Through the product default too.
    let text = MINIMAL.replace(
        "model = \"M1\"",
        "model = \"M1\"\ndefaults = { recording_interval_min = 45 }",
    );
    let (_, field, _) = invalid_format(&text);
    assert_eq!(field, "product[0].service[0].recording_interval_min");
}

#[test]
fn not_toml_is_refused() {
    let (line, field, _) = invalid_format("[[product]\nreferences = [");
    assert_eq!(line, 1);
    assert_eq!(field, "(file)");
    let (line, _, _) = invalid_format("\n\n\nvendor = = 3\n");
    assert_eq!(line, 4);
}

#[test]
fn duplicate_references_are_refused() {
    // Within one file.
    let twice = format!(
        "{MINIMAL}\n{}",
        MINIMAL.replace("\"USER-1\"", "\"USER-2\", \"USER-1\"")
    );
    let mut c = Catalogue::new();
    let err = c.load_str(Path::new("twice.toml"), &twice).unwrap_err();
    assert!(
        matches!(&err, CatalogueError::DuplicateReference { reference, .. } if reference == "USER-1"),
        "{err:?}"
    );
    assert!(c.products().is_empty(), "all or nothing");
    assert!(c.get("USER-2").is_none());
    // Against the built-in catalogue (via an alias reference).
    let mut c = builtin();
    let n = c.products().len();
    let clash = MINIMAL.replace("\"USER-1\"", "\"USER-1\", \"ECR381D\"");
    let err = c.load_str(Path::new("clash.toml"), &clash).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("ECR381D") && shown.contains("clash.toml"),
        "{shown}"
    );
    assert!(
        shown.contains("hager-ecr.toml"),
        "names where it exists: {shown}"
    );
    assert_eq!(c.products().len(), n);
    assert!(c.get("USER-1").is_none());
    // The same file twice.
    let mut c = Catalogue::new();
    c.load_str(Path::new("a.toml"), MINIMAL).unwrap();
    assert!(c.load_str(Path::new("a.toml"), MINIMAL).is_err());
    assert_eq!(c.products().len(), 1);
}

#[test]
fn a_product_in_use_cannot_be_removed() {
    let mut c = builtin();
    let n = c.products().len();
    let devices = [("meter-1", "ECR381D"), ("meter-2", "SDM630")];
    let err = c.remove("ECR380D", devices).unwrap_err();
    assert_eq!(
        err,
        CatalogueError::InUse {
            reference: "ECR380D".into(),
            device: "meter-1".into()
        }
    );
    assert!(err.to_string().contains("meter-1"));
    assert_eq!(c.products().len(), n);
    // Not in use: removed with all its references; the others stay reachable.
    let removed = c.remove("ECA380D", devices).unwrap();
    assert_eq!(removed.reference(), "ECA380D");
    assert!(c.get("ECA380D").is_none() && c.get("ECA381D").is_none());
    assert_eq!(c.products().len(), n - 1);
    for p in c.products() {
        for r in &p.references {
            assert_eq!(c.get(r).unwrap().reference(), p.reference());
        }
    }
    assert!(matches!(
        c.remove("NOPE", []).unwrap_err(),
        CatalogueError::UnknownReference(_)
    ));
}

// ------------------------------------------------------------------------------------------
// property tests

/// Fragments that look like catalogue files, to build TOML-ish garbage from.
const FRAGMENTS: &[&str] = &[
    "[[product]]\n",
    "[[product.service]]\n",
    "[[service_set]]\n",
    "[[service_set.service]]\n",
    "[product.limits]\n",
    "[[product.signature]]\n",
    "[[product.alarm]]\n",
    "references = [\"A\"]\n",
    "references = []\n",
    "vendor = \"x\"\n",
    "model = \"m\"\n",
    "id = \"s\"\n",
    "name = \"n\"\n",
    "quantity = \"q\"\n",
    "unit = \"V\"\n",
    "unit = \"é\"\n",
    "category = \"voltage\"\n",
    "register = { address = 0x10, type = \"u16\" }\n",
    "register = { register = 40001, type = \"string\", length = 200 }\n",
    "register = { address = 65535, type = \"u64\" }\n",
    "register = { address = 1, type = \"bit\", bit = 99 }\n",
    "service_sets = [\"nope\"]\n",
    "max_registers_per_read = 0\n",
    "blocks = [{ from = 9, to = 1 }]\n",
    "kind = \"high\"\nthreshold = 1.0\npre_alarm = 2.0\n",
    "within = { min = 5, max = 1 }\n",
    "= = =\n",
    "\"\n",
    "ü\u{1F600}",
    "[",
    "]]\n",
    "#",
    "\n",
    "x = 1e999\n",
    "scale = nan\n",
];

fn toml_ish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => "[ -~\\n]{0,12}",
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let mut c = Catalogue::new();
        let _ = c.load_str(Path::new("random.toml"), &text);
    }

    #[test]
    fn random_toml_never_panics(text in toml_ish()) {
        let mut c = Catalogue::new();
        if let Err(e) = c.load_str(Path::new("random.toml"), &text) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn mutated_example_never_panics(
        cut in 0usize..6000,
        len in 0usize..40,
        insert in prop::sample::select(FRAGMENTS),
    ) {
        let example = include_str!("../catalogue/examples/custom-product.toml");
        let mut at = cut.min(example.len());
        while !example.is_char_boundary(at) { at -= 1; }
        let mut end = (at + len).min(example.len());
        while !example.is_char_boundary(end) { end -= 1; }
        let text = format!("{}{}{}", &example[..at], insert, &example[end..]);
        let mut c = Catalogue::new();
        if let Err(e) = c.load_str(Path::new("mutated.toml"), &text) {
            prop_assert!(e.to_string().contains("mutated.toml"));
        }
    }

    #[test]
    fn valid_specs_round_trip(spec in product_spec()) {
        let file = CatalogueFile {
            service_set: Vec::new(),
            product: vec![Spanned::new(0..0, spec.clone())],
        };
        let text = toml::to_string(&file).unwrap();
        let mut c = Catalogue::new();
        let added = c
            .load_str(Path::new("generated.toml"), &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&added, &vec![spec.references[0].clone()]);
        let p = c.get(&spec.references[0]).unwrap();
        prop_assert_eq!(&p.references, &spec.references);
        prop_assert_eq!(&p.vendor, &spec.vendor);
        prop_assert_eq!(&p.model, &spec.model);
        prop_assert_eq!(p.verified, spec.verified);
        prop_assert_eq!(p.limits.max_registers_per_read, spec.limits.max_registers_per_read.unwrap_or(125));
        prop_assert_eq!(p.services.len(), spec.service.len());
        let d = &spec.defaults;
        for (s, want) in p.services.iter().zip(&spec.service) {
            let want = want.get_ref();
            let r = &want.register;
            prop_assert_eq!(&s.id, &want.id);
            prop_assert_eq!(&s.name, &want.name);
            prop_assert_eq!(s.unit, want.unit);
            prop_assert_eq!(s.category, want.category);
            prop_assert_eq!(s.register.address, r.address.unwrap());
            prop_assert_eq!(s.register.function_code,
                r.function_code.or(d.function_code).unwrap_or(FunctionCode::Holding));
            prop_assert_eq!(s.register.data_type, r.data_type);
            prop_assert_eq!(s.register.length, r.length);
            prop_assert_eq!(s.register.word_order,
                r.word_order.or(d.word_order).unwrap_or_default());
            prop_assert_eq!(s.register.scale, r.scale.unwrap_or(1.0));
            prop_assert_eq!(s.recording_interval_min,
                want.recording_interval_min.or(d.recording_interval_min).unwrap_or(15));
            let sentinel = if d.not_available == NotAvailablePolicy::TypeMax {
                RegisterDef::type_max_sentinel(r.data_type).into_iter().collect()
            } else {
                Vec::new()
            };
            prop_assert_eq!(&s.register.not_available, &sentinel);
            // And the decoded register still round-trips a value through the codec.
            let words = vec![0u16; usize::from(s.register.count())];
            prop_assert!(s.register.decode(&words).is_ok());
        }
        prop_assert_eq!(&p.signature[0].expect, &Expect::Number(spec.signature[0].get_ref().number.unwrap()));
    }
}

fn register_spec(data_type: DataType, address: u16) -> RegisterSpec {
    RegisterSpec {
        function_code: None,
        address: Some(address),
        register: None,
        data_type,
        length: None,
        bit: None,
        word_order: None,
        byte_order: None,
        scale: None,
        pow10: None,
        scale_register: None,
        offset: None,
        access: None,
        write_range: None,
        not_available: None,
        flags: BTreeMap::new(),
    }
}

fn service_spec() -> impl Strategy<Value = ServiceSpec> {
    let types = prop::sample::select(vec![
        DataType::U16,
        DataType::S16,
        DataType::U32,
        DataType::S32,
        DataType::U64,
        DataType::S64,
        DataType::F32,
        DataType::F64,
        DataType::String,
        DataType::Bcd,
        DataType::Flags,
    ]);
    let units = prop::sample::select(vec![
        Unit::V,
        Unit::A,
        Unit::W,
        Unit::KWh,
        Unit::Hz,
        Unit::Percent,
        Unit::None,
    ]);
    let categories = prop::sample::select(vec![
        Category::Voltage,
        Category::Energy,
        Category::Status,
        Category::Identification,
    ]);
    (
        (types, 0u16..0xFF00, 1u16..=4),
        prop::option::of(prop::sample::select(vec![3u8, 4])),
        prop::option::of(prop::sample::select(vec![
            WordOrder::HighFirst,
            WordOrder::LowFirst,
        ])),
        prop::option::of(prop::sample::select(vec![
            0.001, 0.01, 0.1, 10.0, 1000.0, -1.0,
        ])),
        prop::option::of(prop::sample::select(vec![5u32, 10, 15, 20, 30, 50])),
        (
            units,
            categories,
            "[a-z][a-z0-9_]{0,12}",
            "[A-Za-z0-9 ()-]{1,24}",
        ),
    )
        .prop_map(
            |((t, address, len), fc, wo, scale, interval, (unit, category, id, name))| {
                let mut r = register_spec(t, address);
                if t.has_length() {
                    r.length = Some(len);
                }
                r.function_code = fc.map(|f| FunctionCode::try_from(f).unwrap());
                r.word_order = wo;
                r.scale = scale;
                r.byte_order = Some(ByteOrder::HighFirst);
                ServiceSpec {
                    id,
                    name,
                    quantity: "q".into(),
                    unit,
                    category,
                    register: r,
                    recording_interval_min: interval,
                    description: String::new(),
                    measurand: None,
                    phase: None,
                    direction: None,
                    tariff: None,
                    harmonic: None,
                    partial: false,
                    channel_kind: None,
                    simulated: None,
                }
            },
        )
}

fn product_spec() -> impl Strategy<Value = ProductSpec> {
    (
        prop::collection::btree_set("[A-Z][A-Z0-9-]{1,10}", 1..4),
        "[A-Za-z][A-Za-z ]{0,15}",
        "[A-Za-z0-9][A-Za-z0-9 -]{0,15}",
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![3u8, 4])),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![5u32, 10, 15, 20, 30, 50])),
        prop::option::of(1u16..=125),
        prop::collection::vec(service_spec(), 1..8),
        any::<u16>(),
        prop::option::of("[A-Z0-9][A-Z0-9 ./-]{0,20}"),
    )
        .prop_map(
            |(
                refs,
                vendor,
                model,
                verified,
                fc,
                type_max,
                interval,
                max_read,
                services,
                code,
                product_code,
            )| {
                // Service ids must be unique within the product.
                let mut seen = std::collections::HashSet::new();
                let services: Vec<Spanned<ServiceSpec>> = services
                    .into_iter()
                    .filter(|s| seen.insert(s.id.clone()))
                    .map(|s| Spanned::new(0..0, s))
                    .collect();
                let mut sig = register_spec(DataType::U16, 0);
                sig.function_code = Some(FunctionCode::Holding);
                ProductSpec {
                    references: refs.into_iter().collect(),
                    vendor,
                    product_code,
                    family: String::new(),
                    model,
                    description: String::new(),
                    field_buses: vec![FieldBus::Rtu],
                    verified,
                    source: String::new(),
                    defaults: Defaults {
                        function_code: fc.map(|f| FunctionCode::try_from(f).unwrap()),
                        word_order: None,
                        byte_order: None,
                        not_available: if type_max {
                            NotAvailablePolicy::TypeMax
                        } else {
                            NotAvailablePolicy::None
                        },
                        recording_interval_min: interval,
                    },
                    // Large enough for every generated value (strings of up to 4 registers).
                    limits: LimitsSpec {
                        max_registers_per_read: max_read.map(|m| m.max(4)),
                        max_gap: None,
                        blocks: Vec::new(),
                        forbidden: Vec::new(),
                    },
                    signature: vec![Spanned::new(
                        0..0,
                        SignatureSpec {
                            register: sig,
                            text: None,
                            prefix: None,
                            any_text: None,
                            number: Some(f64::from(code)),
                            any_number: None,
                            within: None,
                        },
                    )],
                    service_sets: Vec::new(),
                    service: services,
                    parameter: Vec::new(),
                    alarm: Vec::new(),
                    simulated: Default::default(),
                }
            },
        )
}
