//! Property tests of the register codec: round trips for every data type and every word and
//! byte order (ABCD, CDAB, BADC, DCBA), and decoding that never panics.
//!
//! What a round trip cannot carry, and is therefore outside the generated domains:
//! * "not available" sentinels and NaN / infinite floats decode to `None` (checked on
//!   their own below), so they have no value to encode back;
//! * a value is an `f64`: 64-bit integers (U64, S64, 16-digit BCD) beyond ±2⁵³ cannot be
//!   represented exactly, and the encoder refuses them. With a scale or an offset the
//!   multiplication costs a few more bits, so scaled 64-bit raw values are kept within ±2⁴⁸;
//! * floats with an offset lose the bits that the offset's magnitude swamps, so float word
//!   round trips use no offset; an F64 multiplied and divided by a scale may move by one
//!   ulp, so F64 word round trips use scale 1 (values round trips allow the ulp);
//! * strings are ASCII, trimmed of NUL and space padding on decode: only canonical text
//!   (no leading or trailing space, no NUL inside, NUL padding) survives words -> text -> words;
//! * a single bit of a register decodes the one bit, so only words holding nothing but that
//!   bit come back identical.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use modbus_devices::register::{ByteOrder, DataType, FunctionCode, RegisterDef, WordOrder};
use modbus_devices::{CodecError, Value};
use proptest::prelude::*;

const ORDERS: [(WordOrder, ByteOrder); 4] = [
    (WordOrder::HighFirst, ByteOrder::HighFirst), // ABCD
    (WordOrder::LowFirst, ByteOrder::HighFirst),  // CDAB
    (WordOrder::HighFirst, ByteOrder::LowFirst),  // BADC
    (WordOrder::LowFirst, ByteOrder::LowFirst),   // DCBA
];

const TYPES: [DataType; 12] = [
    DataType::Bit,
    DataType::U16,
    DataType::S16,
    DataType::U32,
    DataType::S32,
    DataType::U64,
    DataType::S64,
    DataType::F32,
    DataType::F64,
    DataType::Bcd,
    DataType::String,
    DataType::Flags,
];

/// The device's words for a raw value of `n` registers, written from the orders' definition:
/// most significant word first unless `LowFirst`, high byte first unless `LowFirst`.
fn layout(raw: u64, n: usize, wo: WordOrder, bo: ByteOrder) -> Vec<u16> {
    let mut w: Vec<u16> = (0..n).rev().map(|i| (raw >> (16 * i)) as u16).collect();
    if wo == WordOrder::LowFirst {
        w.reverse();
    }
    if bo == ByteOrder::LowFirst {
        w = w.into_iter().map(u16::swap_bytes).collect();
    }
    w
}

fn def(t: DataType, wo: WordOrder, bo: ByteOrder, length: u16) -> RegisterDef {
    let mut d = RegisterDef::new(FunctionCode::Holding, 0x100, t)
        .with_word_order(wo)
        .with_byte_order(bo);
    if t.has_length() {
        d.length = Some(length);
    }
    if t == DataType::Bit {
        d.bit = Some(0);
    }
    d
}

/// A scale: (multiplier, power of ten, offset).
fn arb_scale() -> impl Strategy<Value = (f64, i32, f64)> {
    (
        prop::sample::select(vec![1.0, 0.1, 0.01, 0.001, 10.0, 1000.0, 0.5]),
        -3i32..=3,
        prop::sample::select(vec![0.0, -40.0, 273.15, 1.0]),
    )
}

/// A raw value of a fixed-size integer type, in the domain an f64 carries: all of it for
/// 16/32-bit types, ±2⁵³ for 64-bit ones (±2⁴⁸ when scaled).
fn raw_int(t: DataType, x: u64, scaled: bool) -> u64 {
    let lim: u64 = if scaled { 1 << 48 } else { 1 << 53 };
    match t {
        DataType::U16 | DataType::S16 => x & 0xFFFF,
        DataType::U32 | DataType::S32 => x & 0xFFFF_FFFF,
        DataType::U64 => x % (lim + 1),
        DataType::S64 => {
            let v = (x % (2 * lim + 1)) as i64 - lim as i64;
            v as u64
        }
        _ => unreachable!(),
    }
}

/// The number a raw integer stands for before scaling.
fn int_value(t: DataType, raw: u64) -> f64 {
    match t {
        DataType::U16 | DataType::U32 | DataType::U64 => raw as f64,
        DataType::S16 => f64::from(raw as u16 as i16),
        DataType::S32 => f64::from(raw as u32 as i32),
        DataType::S64 => raw as i64 as f64,
        _ => unreachable!(),
    }
}

/// The decoded number equals the expected one up to floating-point rounding (the codec
/// divides by exact powers of ten for decimal scales, which can differ from `raw * 0.01`
/// in the last bit).
fn close(v: &Value, expected: f64) -> bool {
    match v {
        // The offsets used here are at most 273.15 in magnitude: adding one costs up to an
        // ulp of the larger term, hence the absolute part.
        Value::Number(x) => (x - expected).abs() <= 1e-14 * (x.abs() + expected.abs() + 1000.0),
        _ => false,
    }
}

fn to_bcd(mut v: u64) -> u64 {
    let mut out = 0;
    let mut shift = 0;
    while v > 0 {
        out |= (v % 10) << shift;
        v /= 10;
        shift += 4;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Integers: words -> decode -> encode gives the same words, the decoded number is the
    /// raw value scaled, and the type-max sentinel decodes to "not available".
    #[test]
    fn integer_words_round_trip(
        t in prop::sample::select(vec![DataType::U16, DataType::S16, DataType::U32, DataType::S32, DataType::U64, DataType::S64]),
        x in any::<u64>(),
        (scale, pow10, offset) in arb_scale(),
        sentinel in any::<bool>(),
    ) {
        for (wo, bo) in ORDERS {
            let mut d = def(t, wo, bo, 1);
            d.scale = scale;
            d.pow10 = pow10;
            d.offset = offset;
            let scaled = d.factor() != 1.0 || offset != 0.0;
            let raw = raw_int(t, x, scaled);
            let n = usize::from(t.registers(1));
            let words = layout(raw, n, wo, bo);
            if sentinel {
                let s = RegisterDef::type_max_sentinel(t).unwrap();
                d.not_available = vec![s];
                let na = layout(s, n, wo, bo);
                prop_assert_eq!(d.decode(&na).unwrap(), None, "{:?} {:?} {:?}", t, wo, bo);
                if raw == s {
                    continue;
                }
            }
            let v = d.decode(&words).unwrap().unwrap();
            prop_assert!(close(&v, int_value(t, raw) * d.factor() + offset), "{:?} vs {}", v, int_value(t, raw) * d.factor() + offset);
            prop_assert_eq!(d.encode(&v).unwrap(), words, "{:?} {:?} {:?} raw {:#x}", t, wo, bo, raw);
        }
    }

    /// Integers: value -> encode -> decode gives the value back; a value between two steps
    /// comes back within half a step.
    #[test]
    fn integer_values_round_trip(
        t in prop::sample::select(vec![DataType::U16, DataType::S16, DataType::U32, DataType::S32, DataType::U64, DataType::S64]),
        x in any::<u64>(),
        frac in -0.49f64..0.49,
        (scale, pow10, offset) in arb_scale(),
    ) {
        for (wo, bo) in ORDERS {
            let mut d = def(t, wo, bo, 1);
            d.scale = scale;
            d.pow10 = pow10;
            d.offset = offset;
            let raw = raw_int(t, x, true);
            let exact = int_value(t, raw) * d.factor() + offset;
            let words = d.encode(&Value::Number(exact)).unwrap();
            prop_assert_eq!(words.len(), usize::from(t.registers(1)));
            let back = d.decode(&words).unwrap().unwrap();
            prop_assert!(close(&back, exact), "{:?} vs {}", back, exact);
            // Off the grid: quantised to the nearest step (unless that leaves the type).
            let off_grid = (int_value(t, raw) + frac) * d.factor() + offset;
            if let Ok(words) = d.encode(&Value::Number(off_grid)) {
                let back = d.decode(&words).unwrap().unwrap().as_f64().unwrap();
                let step = d.factor().abs();
                prop_assert!((back - off_grid).abs() <= step / 2.0 + 1e-9 * off_grid.abs().max(1.0),
                    "{:?} {} -> {}", t, off_grid, back);
            }
        }
    }

    /// Floats: words -> decode -> encode gives the same words for every finite value (F32 also
    /// through a scale); NaN and infinities decode as "not available".
    #[test]
    fn float_words_round_trip(
        f32_bits in any::<u32>(),
        f64_bits in any::<u64>(),
        scale in prop::sample::select(vec![1.0, 0.1, 0.01, 10.0, 1000.0]),
    ) {
        for (wo, bo) in ORDERS {
            let mut d = def(DataType::F32, wo, bo, 1);
            d.scale = scale;
            let words = layout(u64::from(f32_bits), 2, wo, bo);
            let x = f32::from_bits(f32_bits);
            match d.decode(&words).unwrap() {
                None => prop_assert!(!x.is_finite()),
                Some(v) => {
                    prop_assert!(close(&v, f64::from(x) * scale), "{:?} vs {}", v, f64::from(x) * scale);
                    prop_assert_eq!(d.encode(&v).unwrap(), words);
                }
            }
            let d = def(DataType::F64, wo, bo, 1);
            let words = layout(f64_bits, 4, wo, bo);
            let x = f64::from_bits(f64_bits);
            match d.decode(&words).unwrap() {
                None => prop_assert!(!x.is_finite()),
                Some(v) => {
                    prop_assert!(close(&v, x), "{:?} vs {}", v, x);
                    prop_assert_eq!(d.encode(&v).unwrap(), words);
                }
            }
        }
    }

    /// Floats: value -> encode -> decode gives the value back, to the type's precision.
    #[test]
    fn float_values_round_trip(
        v in -1e30f64..1e30,
        (scale, pow10, offset) in arb_scale(),
    ) {
        for (wo, bo) in ORDERS {
            for t in [DataType::F32, DataType::F64] {
                let mut d = def(t, wo, bo, 1);
                d.scale = scale;
                d.pow10 = pow10;
                d.offset = offset;
                let raw = (v - offset) / d.factor();
                let words = match d.encode(&Value::Number(v)) {
                    Ok(w) => w,
                    Err(e) => {
                        // Only an F32 raw value beyond its range is refused.
                        prop_assert!(t == DataType::F32 && raw.abs() > f64::from(f32::MAX), "{:?}", e);
                        continue;
                    }
                };
                let back = d.decode(&words).unwrap().unwrap().as_f64().unwrap();
                let rel = if t == DataType::F32 { 1.0 / f64::from(1u32 << 23) } else { 4.0 * f64::EPSILON };
                let tol = rel * (v.abs() + offset.abs()) + f64::from(f32::MIN_POSITIVE) * d.factor().abs();
                prop_assert!((back - v).abs() <= tol, "{:?} {:?} {:?}: {} -> {}", t, wo, bo, v, back);
                if scale == 1.0 && pow10 == 0 && offset == 0.0 {
                    let exact = if t == DataType::F32 { f64::from(v as f32) } else { v };
                    prop_assert_eq!(back, exact);
                }
            }
        }
    }

    /// BCD: valid digit words round trip both ways; a nibble above 9 is an error, not a number.
    #[test]
    fn bcd_round_trips(
        n in 1u16..=4,
        x in any::<u64>(),
        (scale, pow10, offset) in arb_scale(),
        bad_nibble in 0usize..16,
    ) {
        for (wo, bo) in ORDERS {
            let mut d = def(DataType::Bcd, wo, bo, n);
            d.scale = scale;
            d.pow10 = pow10;
            d.offset = offset;
            let digits = 4 * u32::from(n);
            let scaled = d.factor() != 1.0 || offset != 0.0;
            let cap = 10u64.pow(digits.min(19)).min(if scaled { 1 << 48 } else { 1 << 53 });
            let value = x % cap;
            let raw = to_bcd(value);
            let words = layout(raw, usize::from(n), wo, bo);
            let v = d.decode(&words).unwrap().unwrap();
            prop_assert!(close(&v, value as f64 * d.factor() + offset), "{:?} vs {}", v, value as f64 * d.factor() + offset);
            prop_assert_eq!(d.encode(&v).unwrap(), words);
            // Corrupt one nibble to 0xA..0xF.
            let nib = bad_nibble % (4 * usize::from(n));
            let corrupt = (raw & !(0xF << (4 * nib))) | ((0xA + (x % 6)) << (4 * nib));
            let is_invalid_bcd = matches!(d.decode(&layout(corrupt, usize::from(n), wo, bo)), Err(CodecError::InvalidBcd { .. }));
            prop_assert!(is_invalid_bcd);
        }
    }

    /// Strings: canonical ASCII text round trips both ways; byte order swaps the characters
    /// of each word, word order does not apply to text.
    #[test]
    fn string_round_trips(
        n in 1u16..=16,
        text in "[!-~]([ -~]{0,30}[!-~])?",
    ) {
        for (wo, bo) in ORDERS {
            let d = def(DataType::String, wo, bo, n);
            let cap = 2 * usize::from(n);
            if text.len() > cap {
                let too_long = matches!(d.encode(&Value::Text(text.clone())), Err(CodecError::TextTooLong { .. }));
                prop_assert!(too_long);
                continue;
            }
            let mut bytes = text.clone().into_bytes();
            bytes.resize(cap, 0);
            let words: Vec<u16> = bytes
                .chunks(2)
                .map(|c| match bo {
                    ByteOrder::HighFirst => u16::from_be_bytes([c[0], c[1]]),
                    ByteOrder::LowFirst => u16::from_le_bytes([c[0], c[1]]),
                })
                .collect();
            prop_assert_eq!(d.decode(&words).unwrap(), Some(Value::Text(text.clone())));
            prop_assert_eq!(d.encode(&Value::Text(text.clone())).unwrap(), words);
        }
    }

    /// Flags and bits: raw bits round trip both ways.
    #[test]
    fn flags_and_bits_round_trip(n in 1u16..=4, x in any::<u64>(), bit in 0u8..16, on in any::<bool>()) {
        for (wo, bo) in ORDERS {
            let d = def(DataType::Flags, wo, bo, n);
            let raw = if n == 4 { x } else { x & ((1u64 << (16 * n)) - 1) };
            let words = layout(raw, usize::from(n), wo, bo);
            prop_assert_eq!(d.decode(&words).unwrap(), Some(Value::Flags(raw)));
            prop_assert_eq!(d.encode(&Value::Flags(raw)).unwrap(), words);
            // One bit of a holding register.
            let mut b = def(DataType::Bit, wo, bo, 1);
            b.bit = Some(bit);
            let words = layout(u64::from(on) << bit, 1, wo, bo);
            prop_assert_eq!(b.decode(&words).unwrap(), Some(Value::Bool(on)));
            prop_assert_eq!(b.encode(&Value::Bool(on)).unwrap(), words);
            // The bit is read whatever the other bits hold.
            let noisy = layout((x & 0xFFFF & !(1 << bit)) | (u64::from(on) << bit), 1, wo, bo);
            prop_assert_eq!(b.decode(&noisy).unwrap(), Some(Value::Bool(on)));
        }
        // Coils and discrete inputs: 0/1.
        for fc in [FunctionCode::Coils, FunctionCode::DiscreteInputs] {
            let c = RegisterDef::new(fc, 7, DataType::Bit);
            prop_assert_eq!(c.decode(&[u16::from(on)]).unwrap(), Some(Value::Bool(on)));
            prop_assert_eq!(c.encode(&Value::Bool(on)).unwrap(), vec![u16::from(on)]);
        }
    }

    /// Decoding never panics: any words of any length, for any valid definition; a wrong
    /// number of words is a `WrongLength` error naming both counts. Encoding any value never
    /// panics either and yields exactly the definition's number of words.
    #[test]
    fn decode_and_encode_never_panic(
        t in prop::sample::select(TYPES.to_vec()),
        fc in prop::sample::select(vec![FunctionCode::Coils, FunctionCode::DiscreteInputs, FunctionCode::Holding, FunctionCode::Input]),
        length in 1u16..=6,
        bit in 0u8..16,
        order in 0usize..4,
        words in prop::collection::vec(any::<u16>(), 0..10),
        scale in prop::sample::select(vec![1.0, -0.5, 1e300, 1e-300, 0.001]),
        scale_raw in any::<i16>(),
        na in prop::collection::vec(any::<u64>(), 0..3),
        number in prop::sample::select(vec![0.0, -1.0, 1.5, 1e300, -1e300, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE]),
        flags in any::<u64>(),
        text in ".{0,20}",
    ) {
        let t = if fc.is_bit_table() { DataType::Bit } else { t };
        let (wo, bo) = ORDERS[order];
        let mut d = RegisterDef::new(fc, 0x10, t).with_word_order(wo).with_byte_order(bo).with_scale(scale);
        if t.has_length() {
            d.length = Some(if t == DataType::String { length } else { length.min(4) });
        }
        if t == DataType::Bit && !fc.is_bit_table() {
            d.bit = Some(bit);
        }
        d.not_available = na;
        prop_assert!(d.check().is_ok());
        let count = usize::from(d.count());
        for r in [d.decode(&words), d.decode_scaled(&words, Some(scale_raw))] {
            if words.len() != count {
                prop_assert_eq!(r, Err(CodecError::WrongLength { address: 0x10, expected: count, found: words.len() }));
            } else {
                let known = matches!(r, Ok(_) | Err(CodecError::InvalidBcd { .. }) | Err(CodecError::BadScaleRegister { .. }));
                prop_assert!(known, "{:?}", r);
            }
        }
        for v in [Value::Number(number), Value::Bool(number > 0.0), Value::Flags(flags), Value::Text(text.clone())] {
            if let Ok(w) = d.encode(&v) {
                prop_assert_eq!(w.len(), count);
            }
            let _ = d.encode_for_write(&v);
        }
    }
}
