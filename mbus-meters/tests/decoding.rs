//! Decoding of each part of EN 13757-3 the corpus does not cover: CI variants, data field
//! types, VIF tables, combinable VIFE, dates, and the JSON contract of the owned form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mbus_meters::app::{Application, StatusFlag};
use mbus_meters::encode::{self, DataSpec, HeaderSpec, RecordSpec, Telegram, VifSpec};
use mbus_meters::{
    Address, Control, DecodeError, Frame, Function, Invalid, OwnedValue, Quantity, Unit, Value,
    decode,
};

/// A response without header carrying `records` (raw record bytes).
fn frame_78(records: &[u8]) -> Vec<u8> {
    encode::long_frame(Control(0x08), Address(1), 0x78, records).unwrap()
}

/// The first record's value, quantity and unit.
fn first(records: &[u8]) -> (Value<'static>, Quantity, Unit) {
    let bytes: &'static [u8] = Box::leak(frame_78(records).into_boxed_slice());
    let frame = Frame::parse(bytes).unwrap();
    let r = frame.records().next().unwrap().unwrap();
    (r.value(), r.quantity(), r.unit())
}

fn number(records: &[u8]) -> f64 {
    match first(records).0 {
        Value::Number(v) => v,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn data_field_types() {
    // 8/16/24/32/48/64-bit integers, signed (type B), VIF 0x13 = litres
    assert_eq!(number(&[0x01, 0x13, 0xFF]), -0.001);
    assert_eq!(number(&[0x02, 0x13, 0x34, 0x12]), 4.66);
    assert_eq!(number(&[0x03, 0x13, 0x00, 0x00, 0x80]), -8388.608);
    assert_eq!(number(&[0x04, 0x13, 0x78, 0x56, 0x34, 0x12]), 305419.896);
    assert_eq!(number(&[0x06, 0x13, 1, 0, 0, 0, 0, 0]), 0.001);
    assert_eq!(
        number(&[0x07, 0x13, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        -9223372036854775.808
    );
    // 32-bit real
    assert_eq!(number(&[0x05, 0x13, 0x00, 0x00, 0x20, 0x41]), 0.01);
    // BCD 2, 4, 6, 8, 12 digits, sign nibble
    assert_eq!(number(&[0x09, 0x13, 0x99]), 0.099);
    assert_eq!(number(&[0x0A, 0x13, 0x34, 0x12]), 1.234);
    assert_eq!(number(&[0x0B, 0x13, 0x56, 0x34, 0x12]), 123.456);
    assert_eq!(number(&[0x0C, 0x13, 0x78, 0x56, 0x34, 0x12]), 12345.678);
    assert_eq!(
        number(&[0x0E, 0x13, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12]),
        123456789.012
    );
    assert_eq!(number(&[0x0A, 0x13, 0x34, 0xF2]), -0.234);
    // error nibbles
    assert_eq!(
        first(&[0x0A, 0x13, 0x3E, 0x12]).0,
        Value::Invalid(Invalid::BcdDigits)
    );
    // no data, selection for readout
    assert_eq!(first(&[0x00, 0x13]).0, Value::Empty);
    assert_eq!(first(&[0x08, 0x13]).0, Value::Empty);
}

#[test]
fn variable_length_kinds() {
    // text, last character first
    let (v, ..) = first(&[0x0D, 0xFD, 0x0B, 0x03, b'C', b'B', b'A']);
    assert!(matches!(v, Value::Text(t) if t.to_string() == "ABC"));
    // positive and negative BCD
    assert_eq!(number(&[0x0D, 0x13, 0xC2, 0x34, 0x12]), 1.234);
    assert_eq!(number(&[0x0D, 0x13, 0xD1, 0x42]), -0.042);
    // binary
    assert_eq!(number(&[0x0D, 0x13, 0xE2, 0x00, 0x01]), 0.256);
    let (v, ..) = first(&[&[0x0D, 0x13, 0xF0][..], &[7u8; 16]].concat());
    assert!(matches!(v, Value::Bytes(b) if b.len() == 16));
    // reserved LVAR
    let bytes = frame_78(&[0x0D, 0x13, 0xF7]);
    let err = Frame::parse(&bytes)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err,
        DecodeError::ReservedLvar {
            offset: 9,
            found: 0xF7
        }
    );
}

#[test]
fn special_functions_and_dib() {
    // filler, then a record with storage 5, tariff 2, subunit 1 (DIF 0xC4: storage bit 1;
    // DIFE 0x62: subunit 1, tariff 2, storage 2 -> 1 + 2*2 = 5)
    let bytes = frame_78(&[0x2F, 0xC4, 0x62, 0x13, 1, 0, 0, 0, 0x1F, 0xAA, 0xBB]);
    let frame = Frame::parse(&bytes).unwrap();
    let records: Vec<_> = frame.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(
        (
            records[0].storage(),
            records[0].tariff(),
            records[0].subunit()
        ),
        (5, 2, 1)
    );
    assert_eq!(records[0].offset(), 8);
    assert_eq!(records[1].function(), Function::MoreRecordsFollow);
    assert_eq!(records[1].value(), Value::Bytes(&[0xAA, 0xBB]));
    assert!(frame.more_records_follow().unwrap());
    // function field
    let f = |dif| {
        let bytes = frame_78(&[dif, 0x13, 0]);
        Frame::parse(&bytes)
            .unwrap()
            .records()
            .next()
            .unwrap()
            .unwrap()
            .function()
    };
    assert_eq!(
        [f(0x01), f(0x11), f(0x21), f(0x31)],
        [
            Function::Instantaneous,
            Function::Maximum,
            Function::Minimum,
            Function::Error
        ]
    );
    // reserved special function
    let bytes = frame_78(&[0x3F]);
    let err = Frame::parse(&bytes)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserved DIF at 7: expected a data record or special function DIF, found 0x3F"
    );
}

#[test]
fn vif_tables_scale_to_base_units() {
    let q = |records: &[u8]| {
        let (v, q, u) = first(records);
        (v.as_f64().unwrap(), q, u)
    };
    // durations to seconds
    assert_eq!(
        q(&[0x01, 0x22, 2]),
        (7200.0, Quantity::OnTime, Unit::Second)
    );
    assert_eq!(
        q(&[0x01, 0x27, 2]),
        (172800.0, Quantity::OperatingTime, Unit::Second)
    );
    assert_eq!(
        q(&[0x01, 0x75, 3]),
        (180.0, Quantity::ActualityDuration, Unit::Second)
    );
    // energy in J, power J/h, volume flow from m3/min and m3/s
    assert_eq!(q(&[0x01, 0x0E, 3]), (3e6, Quantity::Energy, Unit::Joule));
    assert_eq!(
        q(&[0x01, 0x33, 3]),
        (3e3, Quantity::Power, Unit::JoulePerHour)
    );
    assert_eq!(
        q(&[0x01, 0x47, 2]),
        (120.0, Quantity::VolumeFlow, Unit::CubicMetrePerHour)
    );
    assert_eq!(
        q(&[0x01, 0x4F, 1]),
        (36.0, Quantity::VolumeFlow, Unit::CubicMetrePerHour)
    );
    assert_eq!(
        q(&[0x01, 0x52, 5]),
        (0.5, Quantity::MassFlow, Unit::KilogramPerHour)
    );
    assert_eq!(q(&[0x01, 0x69, 5]), (0.05, Quantity::Pressure, Unit::Bar));
    assert_eq!(q(&[0x01, 0x6E, 5]), (5.0, Quantity::Hca, Unit::Hca));
    // 0xFD: volts, amperes, storage interval in months
    assert_eq!(
        q(&[0x02, 0xFD, 0x48, 0xE6, 0x08]),
        (227.8, Quantity::Voltage, Unit::Volt)
    );
    assert_eq!(
        q(&[0x02, 0xFD, 0x59, 0xD2, 0x04]),
        (1.234, Quantity::Current, Unit::Ampere)
    );
    assert_eq!(
        q(&[0x01, 0xFD, 0x28, 1]),
        (2_629_746.0, Quantity::StorageInterval, Unit::Second)
    );
    // 0xFB: MWh, GJ, Fahrenheit, US gallons
    assert_eq!(
        q(&[0x01, 0xFB, 0x01, 2]),
        (2e6, Quantity::Energy, Unit::WattHour)
    );
    assert_eq!(
        q(&[0x01, 0xFB, 0x09, 2]),
        (2e9, Quantity::Energy, Unit::Joule)
    );
    let (c, quantity, unit) = q(&[0x02, 0xFB, 0x5B, 212, 0]);
    assert!(
        (c - 100.0).abs() < 1e-9 && quantity == Quantity::FlowTemperature && unit == Unit::Celsius
    );
    let (m3, _, unit) = q(&[0x01, 0xFB, 0x23, 10]);
    assert!((m3 - 0.03785411784).abs() < 1e-12 && unit == Unit::CubicMetre);
    // manufacturer-specific and any VIF: raw value, no unit
    assert_eq!(
        q(&[0x01, 0x7F, 7]),
        (7.0, Quantity::ManufacturerSpecific, Unit::None)
    );
    assert_eq!(
        q(&[0x01, 0xFF, 0x85, 0x01, 7]),
        (7.0, Quantity::ManufacturerSpecific, Unit::None)
    );
    // an extension VIF without its extension bit
    let bytes = frame_78(&[0x01, 0x7D, 7]);
    let err = Frame::parse(&bytes)
        .unwrap()
        .records_with(mbus_meters::DecodeMode::Strict)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidVif {
                offset: 8,
                found: 0x7D,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn combinable_vife() {
    let frame_of = |records: &[u8]| frame_78(records);
    fn names(bytes: &[u8]) -> (String, Unit, Vec<&'static str>) {
        let frame = Frame::parse(bytes).unwrap();
        let r = frame.records().next().unwrap().unwrap();
        (
            r.value().to_string(),
            r.unit(),
            r.modifiers().map(|m| m.name()).collect(),
        )
    }
    // multiplicative correction 10^-2 on 0.001 m3 -> 10^-5
    let b = frame_of(&[0x02, 0x93, 0x74, 0x10, 0x27]);
    assert_eq!(names(&b).0, "0.1");
    // additive correction 10^0 and 10^3 factor
    let b = frame_of(&[0x01, 0x83, 0x7B, 5]);
    assert_eq!(names(&b).0, "6");
    let b = frame_of(&[0x01, 0x83, 0x7D, 5]);
    assert_eq!(names(&b).0, "5000");
    // per hour, error code, accumulation only if positive
    let b = frame_of(&[0x01, 0x93, 0xA2, 0x95, 0x3B, 5]);
    assert_eq!(
        names(&b).2,
        [
            "per_hour",
            "error_no_data_available",
            "accumulation_if_positive"
        ]
    );
    // date of: a power record that is a type G date
    let b = frame_of(&[0x02, 0xAB, 0x6A, 0xBF, 0x1C]);
    let (v, unit, _) = names(&b);
    assert_eq!((v.as_str(), unit), ("2013-12-31", Unit::None));
    // duration of limit exceed in hours
    let b = frame_of(&[0x01, 0xBE, 0x52, 3]);
    assert_eq!(names(&b).0, "10800");
    // extension code 0xFC takes the next VIFE; 0xFF makes the rest manufacturer specific
    let b = frame_of(&[0x01, 0x93, 0xFC, 0x81, 0xFF, 0x70, 5]);
    assert_eq!(names(&b).2, ["extension", "manufacturer_specific"]);
    assert_eq!(names(&b).0, "0.005");
    // plain-text VIF followed by VIFE, as the corpus meters send it
    let b = frame_of(&[0x02, 0xFC, 0x03, b'H', b'R', b'%', 0x74, 0xD4, 0x11]);
    let frame = Frame::parse(&b).unwrap();
    let r = frame.records().next().unwrap().unwrap();
    assert_eq!(r.vif_text().unwrap().to_string(), "%RH");
    assert_eq!(r.value(), Value::Number(45.64));
    // too many VIFE
    let b = frame_of(&[&[0x01, 0x93][..], &[0xA2; 10], &[0x22, 5]].concat());
    let err = Frame::parse(&b)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooManyVife {
            offset: 19,
            found: 0x22
        }
    );
}

#[test]
fn dates_and_times() {
    let s = |records: &[u8]| first(records).0.to_string();
    // type G, F, I, J
    assert_eq!(s(&[0x02, 0x6C, 0xBF, 0x1C]), "2013-12-31");
    assert_eq!(
        s(&[0x04, 0x6D, 0x19, 0x0F, 0x8A, 0x17]),
        "2012-07-10T15:25:00"
    );
    assert_eq!(
        s(&[0x06, 0x6D, 0x2A, 0x19, 0x0F, 0x8A, 0x17, 0x00]),
        "2012-07-10T15:25:42"
    );
    assert_eq!(s(&[0x03, 0x6D, 0x2A, 0x19, 0x0F]), "15:25:42");
    // type F with hundred-year bits: 1 -> 2000 + year
    assert_eq!(
        s(&[0x04, 0x6D, 0x19, 0x2F, 0x8A, 0x17]),
        "2012-07-10T15:25:00"
    );
    // invalid flag and impossible dates have no value
    assert_eq!(
        first(&[0x04, 0x6D, 0x99, 0x0F, 0x8A, 0x17]).0,
        Value::Invalid(Invalid::DateTime)
    );
    assert_eq!(
        first(&[0x02, 0x6C, 0x1E, 0x02]).0,
        Value::Invalid(Invalid::DateTime)
    );
    // recurring: every year on 24 December
    assert_eq!(s(&[0x02, 0x6C, 0xF8, 0xFC]), "--12-24");
    // a date in the 0xFD table (battery change) is a date too
    assert_eq!(
        s(&[0x04, 0xFD, 0x70, 0x19, 0x0F, 0x8A, 0x17]),
        "2012-07-10T15:25:00"
    );
}

#[test]
fn ci_variants() {
    // short header (0x7A)
    let bytes = encode::long_frame(
        Control(0x08),
        Address(3),
        0x7A,
        &[0x11, 0x05, 0x00, 0x00, 0x01, 0x13, 7],
    )
    .unwrap();
    let frame = Frame::parse(&bytes).unwrap();
    let h = frame.header().unwrap();
    assert_eq!((h.access_number, h.id, h.signature), (0x11, None, Some(0)));
    let flags: Vec<_> = h.status.flags().collect();
    assert_eq!(flags, [StatusFlag::ApplicationBusy, StatusFlag::PowerLow]);
    assert_eq!(frame.validate().unwrap(), 1);

    // MSB first (0x76): header and data big-endian
    let data = [
        0x12, 0x34, 0x56, 0x78, 0x2C, 0x2D, 0x01, 0x04, 0x09, 0x00, 0x00, 0x00, // header
        0x04, 0x13, 0x00, 0x01, 0x00, 0x00, // 65536 l
        0x0D, 0xFD, 0x0B, 0x02, b'O', b'K', // text in natural order
    ];
    let bytes = encode::long_frame(Control(0x08), Address(3), 0x76, &data).unwrap();
    let frame = decode(&bytes).unwrap();
    let h = frame.header.unwrap();
    assert_eq!(
        (h.id.as_deref(), h.manufacturer.as_deref()),
        (Some("12345678"), Some("KAM"))
    );
    assert_eq!(frame.records[0].value, OwnedValue::Number(65.536));
    assert_eq!(frame.records[1].value, OwnedValue::Text("OK".into()));

    // fixed data MSB first (0x77), binary counters, stored
    let data = [
        0x12, 0x34, 0x56, 0x78, 0x01, 0xC0, 0x29, 0x05, 0, 0, 0x01, 0x00, 0, 0, 0, 0x02,
    ];
    let bytes = encode::long_frame(Control(0x08), Address(3), 0x77, &data).unwrap();
    let frame = decode(&bytes).unwrap();
    assert_eq!(
        frame.header.as_ref().unwrap().id.as_deref(),
        Some("12345678")
    );
    assert_eq!(frame.records[0].value, OwnedValue::Number(256_000.0)); // 256 kWh
    assert_eq!(frame.records[0].storage, 1);
    assert_eq!(frame.records[1].value, OwnedValue::Number(0.002)); // 2 l

    // alarm (0x71), application reset (0x50), baud rate (0xBD)
    let bytes = encode::long_frame(Control(0x08), Address(3), 0x71, &[0x05]).unwrap();
    assert_eq!(decode(&bytes).unwrap().alarm.as_deref(), Some("05"));
    let bytes = encode::control_frame(Control::snd_ud(false), Address(3), 0x50);
    assert!(matches!(
        Frame::parse(&bytes).unwrap().application(),
        &Application::Reset(&[])
    ));
    let bytes = encode::control_frame(Control::snd_ud(false), Address(3), 0xBD);
    assert_eq!(decode(&bytes).unwrap().baud_rate, Some(9600));

    // unsupported CI
    let bytes = encode::long_frame(Control(0x08), Address(3), 0x7C, &[0; 4]).unwrap();
    assert_eq!(
        decode(&bytes).unwrap_err().to_string(),
        "unsupported CI at 6: expected one of 0x50-0x52, 0x70-0x73, 0x76-0x78, 0x7A, 0xB8-0xBF, found 0x7C"
    );
}

#[test]
fn json_contract() {
    let spec = RecordSpec::new(
        VifSpec::Primary(0x06),
        DataSpec::Integer {
            size: 4,
            value: 1234,
        },
    );
    let header = HeaderSpec::Long(encode::LongHeader {
        id: mbus_meters::Id::from_decimal(24083345).unwrap(),
        manufacturer: mbus_meters::Manufacturer::from_letters("EFE").unwrap(),
        version: 0,
        medium: mbus_meters::Medium::HEAT,
        access_number: 102,
        status: mbus_meters::Status(39),
        signature: 0,
    });
    let bytes = Telegram::rsp_ud(Address(0), header, vec![spec])
        .encode()
        .unwrap();
    let json: serde_json::Value = serde_json::to_value(decode(&bytes).unwrap()).unwrap();
    let expected = serde_json::json!({
        "frame": "long",
        "c": 8, "a": 0, "ci": 114,
        "header": { "id": "24083345", "manufacturer": "EFE", "version": 0, "medium": 4,
                    "medium_name": "Heat (outlet)", "access_number": 102, "status": 39,
                    "signature": 0 },
        "records": [
            { "function": "instantaneous", "storage": 0, "tariff": 0, "subunit": 0,
              "quantity": "energy", "unit": "Wh", "value": 1234000.0, "dif_vif": "04 06" }
        ],
        "more_records_follow": false
    });
    assert_eq!(json, expected);

    // a short frame has no CI, header or records
    let json = serde_json::to_value(
        decode(&encode::short_frame(Control::req_ud2(true), Address(5))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "frame": "short", "c": 0x7B, "a": 5, "ci": null, "header": null,
                            "records": [], "more_records_follow": false })
    );
    let json = serde_json::to_value(decode(&encode::ack()).unwrap()).unwrap();
    assert_eq!(json["frame"], "ack");

    // every unit symbol is one of the contract's
    for u in Unit::ALL {
        assert!(
            [
                "Wh", "J", "m3", "kg", "W", "J/h", "m3/h", "kg/h", "degC", "K", "bar", "s", "V",
                "A", "HCA", ""
            ]
            .contains(&u.symbol())
        );
    }
    // quantity names are unique snake_case
    let mut names: Vec<_> = Quantity::ALL.iter().map(|q| q.name()).collect();
    assert!(
        names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Quantity::ALL.len());
}
