//! Property tests: arbitrary bytes never panic the decoder and every error names an offset
//! inside the input; every representable record and telegram survives encode then decode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use mbus_meters::encode::{self, DataSpec, HeaderSpec, LongHeader, RecordSpec, Telegram, VifSpec};
use mbus_meters::hex::parse_hex;
use mbus_meters::{
    Address, Application, Control, DecodeError, DecodeMode, Error, Frame, Function, Id,
    Manufacturer, Medium, OwnedFrame, Quantity, Status, Value,
};
use proptest::prelude::*;

/// Decodes everything a frame offers in both modes; returns the first error of the strict
/// mode. The lenient mode must give every record the strict mode gives (and maybe more),
/// each of its per-record errors naming an offset inside the input.
fn exercise(bytes: &[u8]) -> Result<(), DecodeError> {
    let lenient = exercise_in(bytes, DecodeMode::Lenient)?;
    let strict = exercise_in(bytes, DecodeMode::Strict)?;
    assert!(
        lenient >= strict,
        "lenient {lenient} < strict {strict} records"
    );
    Ok(())
}

/// Decodes everything in one mode; returns the number of records decoded.
fn exercise_in(bytes: &[u8], mode: DecodeMode) -> Result<usize, DecodeError> {
    let frame = Frame::parse(bytes)?;
    let _ = frame.header();
    let mut n = 0;
    for r in frame.records_with(mode) {
        let r = match r {
            Ok(r) => r,
            Err(e) if mode == DecodeMode::Lenient => {
                check_error(bytes, &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        n += 1;
        let _ = r.value().to_string();
        let _ = r.raw();
        let _ = r.modifiers().count();
        let _ = r.vif_text().map(|t| t.to_string());
    }
    let owned = OwnedFrame::from_frame_with(&frame, mode)?;
    assert_eq!(owned.records.len(), n);
    for e in &owned.errors {
        assert!(e.offset.is_some_and(|o| o <= bytes.len()), "{e:?}");
    }
    let back = serde_json_roundtrip(&owned);
    assert_eq!(back.errors, owned.errors);
    Ok(n)
}

fn serde_json_roundtrip(owned: &OwnedFrame) -> OwnedFrame {
    serde_json::from_str(&serde_json::to_string(owned).unwrap()).unwrap()
}

fn check_error(bytes: &[u8], e: &DecodeError) {
    let offset = e.offset();
    assert!(offset <= bytes.len(), "{e} beyond {} bytes", bytes.len());
    assert!(e.to_string().contains(&format!(" at {offset}")), "{e}");
}

const CIS: [u8; 12] = [
    0x50, 0x51, 0x52, 0x70, 0x71, 0x72, 0x73, 0x76, 0x77, 0x78, 0x7A, 0xBB,
];

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = exercise(&bytes) {
            check_error(&bytes, &e);
        }
    }

    #[test]
    fn arbitrary_user_data_in_a_valid_frame_never_panics(
        c in any::<u8>(),
        a in any::<u8>(),
        ci in prop_oneof![proptest::sample::select(CIS.to_vec()), any::<u8>()],
        data in proptest::collection::vec(any::<u8>(), 0..252),
    ) {
        let bytes = encode::long_frame(Control(c), Address(a), ci, &data).unwrap();
        if let Err(e) = exercise(&bytes) {
            check_error(&bytes, &e);
            // the link layer was valid, so the error is in the application layer
            prop_assert!(e.offset() >= 6, "{}", e);
        }
    }

    #[test]
    fn records_after_a_header_never_panic(
        ci in proptest::sample::select(vec![0x72u8, 0x76, 0x7A, 0x78]),
        data in proptest::collection::vec(
            prop_oneof![
                // bytes that make records likely: DIFs, VIFs, extension codes
                proptest::sample::select(vec![0x01u8, 0x02, 0x04, 0x05, 0x0C, 0x0D, 0x0E, 0x0F, 0x1F, 0x2F,
                    0x84, 0x8B, 0xC4, 0x6D, 0x6C, 0xFD, 0xFB, 0xFC, 0x7C, 0xFF, 0x17, 0x13, 0x06]),
                any::<u8>(),
            ],
            12..252,
        ),
    ) {
        let bytes = encode::long_frame(Control(0x08), Address(1), ci, &data).unwrap();
        if let Err(e) = exercise(&bytes) {
            check_error(&bytes, &e);
        }
    }
}

fn corpus_frames() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/libmbus");
    let mut out = Vec::new();
    for dir in ["test-frames", "error-frames", "unsupported-frames"] {
        for e in fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "hex") {
                let bytes = parse_hex(&fs::read_to_string(&p).unwrap()).unwrap();
                out.push((
                    format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                    bytes,
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_truncation_and_corruption_of_the_corpus_is_handled() {
    for (name, bytes) in corpus_frames() {
        for n in 0..bytes.len() {
            match exercise(&bytes[..n]) {
                // a prefix can only be a complete frame if the file holds a short one first
                Ok(()) => assert!(bytes[0] == 0xE5 || n >= 5, "{name}: prefix {n} decoded"),
                Err(e) => check_error(&bytes[..n], &e),
            }
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                if let Err(e) = exercise(&b) {
                    check_error(&b, &e);
                }
            }
        }
    }
}

fn latin1_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u32..=255, 0..max)
        .prop_map(|v| v.into_iter().filter_map(char::from_u32).collect())
}

fn data_spec() -> impl Strategy<Value = DataSpec> {
    prop_oneof![
        Just(DataSpec::None),
        Just(DataSpec::Selection),
        (
            proptest::sample::select(vec![1u8, 2, 3, 4, 6, 8]),
            any::<i64>()
        )
            .prop_map(|(size, v)| {
                let bits = 8 * u32::from(size);
                let value = if bits == 64 {
                    v
                } else {
                    (v << (64 - bits)) >> (64 - bits)
                };
                DataSpec::Integer { size, value }
            }),
        any::<f32>()
            .prop_filter("NaN never equals itself", |v| !v.is_nan())
            .prop_map(DataSpec::Real),
        (
            proptest::sample::select(vec![2u8, 4, 6, 8, 12]),
            any::<u64>()
        )
            .prop_map(|(digits, raw)| DataSpec::Bcd {
                digits,
                raw: raw & ((1u64 << (4 * u32::from(digits))) - 1)
            }),
        latin1_string(24).prop_map(DataSpec::Text),
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..15))
            .prop_map(|(negative, bytes)| DataSpec::VarBcd { negative, bytes }),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..15),
            proptest::collection::vec(any::<u8>(), 16..=16),
            proptest::collection::vec(any::<u8>(), 32..=32),
        ]
        .prop_map(DataSpec::Binary),
    ]
}

fn vif_spec() -> impl Strategy<Value = VifSpec> {
    prop_oneof![
        (0u8..0x7F)
            .prop_filter("extension codes have their own variants", |c| !(0x7B
                ..=0x7D)
                .contains(c))
            .prop_map(VifSpec::Primary),
        Just(VifSpec::Primary(0x7F)),
        (0u8..=0x7F).prop_map(VifSpec::Fd),
        (0u8..=0x7F).prop_map(VifSpec::Fb),
        latin1_string(8).prop_map(VifSpec::PlainText),
    ]
}

fn record_spec() -> impl Strategy<Value = RecordSpec> {
    (
        proptest::sample::select(vec![
            Function::Instantaneous,
            Function::Maximum,
            Function::Minimum,
            Function::Error,
        ]),
        prop_oneof![0u64..4, 0u64..(1 << 41)],
        prop_oneof![0u32..3, 0u32..(1 << 20)],
        prop_oneof![0u16..2, 0u16..(1 << 10)],
        vif_spec(),
        proptest::collection::vec(0u8..=0x7F, 0..9),
        data_spec(),
    )
        .prop_map(
            |(function, storage, tariff, subunit, vif, vifes, data)| RecordSpec {
                function,
                storage,
                tariff,
                subunit,
                vif: Some(vif),
                vifes,
                data,
            },
        )
}

fn header_spec() -> impl Strategy<Value = HeaderSpec> {
    prop_oneof![
        Just(HeaderSpec::None),
        (any::<u8>(), any::<u8>(), any::<u16>()).prop_map(|(access_number, s, signature)| {
            HeaderSpec::Short {
                access_number,
                status: Status(s),
                signature,
            }
        }),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>()
        )
            .prop_map(|(id, m, version, medium, access_number, s, signature)| {
                HeaderSpec::Long(LongHeader {
                    id: Id(id),
                    manufacturer: Manufacturer(m),
                    version,
                    medium: Medium(medium),
                    access_number,
                    status: Status(s),
                    signature,
                })
            }),
    ]
}

fn telegram() -> impl Strategy<Value = Telegram> {
    (
        any::<u8>(),
        header_spec(),
        proptest::collection::vec(record_spec(), 0..6),
        prop_oneof![
            Just(None),
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|d| Some(RecordSpec::manufacturer(d, false))),
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|d| Some(RecordSpec::manufacturer(d, true))),
        ],
    )
        .prop_map(|(a, header, mut records, tail)| {
            records.extend(tail);
            Telegram::rsp_ud(Address(a), header, records)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decoding_what_was_encoded_gives_back_the_records(telegram in telegram()) {
        let bytes = match telegram.encode() {
            Ok(b) => b,
            Err(Error::Encode { what: "long frame", .. }) => return Ok(()), // over 252 bytes
            Err(e) => panic!("representable telegram refused: {e}"),
        };
        let frame = Frame::parse(&bytes).unwrap();
        prop_assert_eq!(Telegram::from_frame(&frame).unwrap(), telegram.clone());
        // and the scaled view decodes every record without error
        prop_assert_eq!(frame.validate().unwrap(), telegram.records.len());
        prop_assert_eq!(
            frame.more_records_follow().unwrap(),
            telegram.records.last().is_some_and(|r| r.function == Function::MoreRecordsFollow)
        );
    }

    #[test]
    fn energy_values_scale_exactly(code in 0u8..8, value in -99_999_999i64..99_999_999) {
        let record = RecordSpec::new(VifSpec::Primary(code), DataSpec::Integer { size: 4, value });
        let bytes = Telegram::rsp_ud(Address(1), HeaderSpec::None, vec![record]).encode().unwrap();
        let frame = Frame::parse(&bytes).unwrap();
        let r = frame.records().next().unwrap().unwrap();
        prop_assert_eq!(r.quantity(), Quantity::Energy);
        let e = i32::from(code) - 3;
        let expected = if e >= 0 { value as f64 * 10f64.powi(e) } else { value as f64 / 10f64.powi(-e) };
        prop_assert_eq!(r.value(), Value::Number(expected));
    }

    #[test]
    fn bcd_values_decode_to_their_decimal(digits in proptest::sample::select(vec![2u8, 4, 6, 8, 12]), v in any::<i64>()) {
        let room = u32::from(digits) - u32::from(v < 0);
        let value = v % 10i64.pow(room);
        let spec = DataSpec::bcd(digits, value).unwrap();
        let record = RecordSpec::new(VifSpec::Primary(0x13), spec);
        let bytes = Telegram::rsp_ud(Address(1), HeaderSpec::None, vec![record]).encode().unwrap();
        let frame = Frame::parse(&bytes).unwrap();
        let r = frame.records().next().unwrap().unwrap();
        prop_assert_eq!(r.value(), Value::Number(value as f64 / 1000.0));
    }
}

#[test]
fn corpus_telegrams_re_encode_to_the_same_decode() {
    let mut checked = 0;
    for (name, bytes) in corpus_frames() {
        let Ok(frame) = Frame::parse(&bytes) else {
            continue;
        };
        if !matches!(frame.application(), Application::Variable { .. }) || frame.validate().is_err()
        {
            continue;
        }
        let telegram = Telegram::from_frame(&frame).unwrap();
        let again = telegram.encode().unwrap_or_else(|e| panic!("{name}: {e}"));
        let frame2 = Frame::parse(&again).unwrap();
        assert_eq!(Telegram::from_frame(&frame2).unwrap(), telegram, "{name}");
        // same decoded records (the DIB bytes may be shorter: no empty DIFE, no fillers)
        let strip = |f: &Frame<'_>| {
            let mut o = OwnedFrame::from_frame(f).unwrap();
            for r in &mut o.records {
                r.dif_vif.clear();
            }
            o
        };
        assert_eq!(strip(&frame2), strip(&frame), "{name}");
        // frames without fillers or empty DIFE come back byte for byte
        if !bytes.windows(1).any(|w| w[0] == 0x2F) && again.len() == bytes.len() {
            assert_eq!(again, bytes, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 38, "only {checked} corpus telegrams re-encoded");
}
