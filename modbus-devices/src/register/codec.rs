//! Decoding register words into values and encoding values into register words.

use super::{Access, ByteOrder, DataType, RegisterDef, WordOrder};
use crate::error::CodecError;
use crate::value::Value;

/// The register words (or bits, as 0/1) of one value, in the order the device sends them.
pub type RawWords<'a> = &'a [u16];

/// Largest integer an `f64` carries exactly; 64-bit counters above it lose their last digits.
const F64_EXACT: f64 = 9_007_199_254_740_992.0;

impl RegisterDef {
    /// Decode a value from exactly [`RegisterDef::count`] words (bits as 0/1 on bit tables).
    ///
    /// Returns `Ok(None)` for a "not available" sentinel or a NaN float. A definition with a
    /// [`super::ScaleRegister`] needs [`RegisterDef::decode_scaled`] instead.
    pub fn decode(&self, words: RawWords<'_>) -> Result<Option<Value>, CodecError> {
        if self.scale_register.is_some() {
            return Err(CodecError::ScaleRegisterMissing {
                address: self.address,
            });
        }
        self.decode_scaled(words, None)
    }

    /// Decode with the raw content of the scale register (see [`super::ScaleRegister`]), if
    /// the definition has one.
    pub fn decode_scaled(
        &self,
        words: RawWords<'_>,
        scale_register: Option<i16>,
    ) -> Result<Option<Value>, CodecError> {
        let want = usize::from(self.count());
        if words.len() != want {
            return Err(CodecError::WrongLength {
                address: self.address,
                expected: want,
                found: words.len(),
            });
        }
        if self.function_code.is_bit_table() {
            return Ok(Some(Value::Bool(words[0] != 0)));
        }
        let dynamic = self.decode_factor(scale_register)?;
        let ordered = self.ordered(words);
        let raw = || {
            ordered
                .iter()
                .fold(0u64, |acc, w| (acc << 16) | u64::from(*w))
        };
        let number = |v: f64| Some(Value::Number(self.to_physical(v, dynamic)));
        let na = |raw: u64| self.not_available.contains(&raw);
        Ok(match self.data_type {
            DataType::Bit => {
                let bit = self.bit.unwrap_or(0);
                if na(u64::from(ordered[0])) {
                    None
                } else {
                    let word = ordered[0];
                    Some(Value::Bool(
                        word.checked_shr(u32::from(bit)).is_some_and(|w| w & 1 == 1),
                    ))
                }
            }
            DataType::U16 | DataType::U32 | DataType::U64 => {
                let r = raw();
                if na(r) { None } else { number(r as f64) }
            }
            DataType::S16 => {
                let r = raw();
                if na(r) {
                    None
                } else {
                    number(f64::from(r as u16 as i16))
                }
            }
            DataType::S32 => {
                let r = raw();
                if na(r) {
                    None
                } else {
                    number(f64::from(r as u32 as i32))
                }
            }
            DataType::S64 => {
                let r = raw();
                if na(r) { None } else { number(r as i64 as f64) }
            }
            DataType::F32 => {
                let r = raw();
                let v = f32::from_bits(r as u32);
                if na(r) || !v.is_finite() {
                    None
                } else {
                    number(f64::from(v))
                }
            }
            DataType::F64 => {
                let r = raw();
                let v = f64::from_bits(r);
                if na(r) || !v.is_finite() {
                    None
                } else {
                    number(v)
                }
            }
            DataType::Bcd => {
                let r = raw();
                if na(r) {
                    None
                } else {
                    number(bcd_value(r, ordered.len(), self.address)? as f64)
                }
            }
            DataType::Flags => {
                let r = raw();
                if na(r) { None } else { Some(Value::Flags(r)) }
            }
            DataType::String => Some(self.decode_text(words)),
        })
    }

    /// The factor a scale register's content gives a decoded value (1 without one).
    fn decode_factor(&self, scale_register: Option<i16>) -> Result<f64, CodecError> {
        Ok(match (self.scale_register, scale_register) {
            (None, _) => 1.0,
            (Some(sr), Some(raw)) if sr.pow10 => {
                if !(-30..=30).contains(&raw) {
                    return Err(CodecError::BadScaleRegister {
                        address: sr.address,
                        raw,
                    });
                }
                10f64.powi(i32::from(raw))
            }
            (Some(_), Some(raw)) => f64::from(raw),
            (Some(_), None) => {
                return Err(CodecError::ScaleRegisterMissing {
                    address: self.address,
                });
            }
        })
    }

    /// ASCII text, two characters per word in the byte order, NULs and spaces trimmed.
    fn decode_text(&self, words: RawWords<'_>) -> Value {
        let mut bytes = Vec::with_capacity(words.len() * 2);
        for w in words {
            let [hi, lo] = match self.byte_order {
                ByteOrder::HighFirst => w.to_be_bytes(),
                ByteOrder::LowFirst => w.to_le_bytes(),
            };
            bytes.push(hi);
            bytes.push(lo);
        }
        let text = String::from_utf8_lossy(&bytes);
        Value::Text(text.trim_matches(|c| c == '\0' || c == ' ').to_string())
    }

    /// Encode a value into the words a device would hold for it (inverse of
    /// [`RegisterDef::decode`]). Access and write range are not checked here: see
    /// [`RegisterDef::encode_for_write`].
    pub fn encode(&self, value: &Value) -> Result<Vec<u16>, CodecError> {
        self.encode_scaled(value, None)
    }

    /// Encode for a write: checks that the value is writable and inside its write range
    /// before encoding, so nothing out of range ever reaches the wire.
    pub fn encode_for_write(&self, value: &Value) -> Result<Vec<u16>, CodecError> {
        if self.access == Access::Read || !self.function_code.is_writable_table() {
            return Err(CodecError::ReadOnly {
                address: self.address,
            });
        }
        if let (Some(range), Value::Number(v)) = (self.write_range, value)
            && !(range.min..=range.max).contains(v)
        {
            return Err(CodecError::OutOfRange {
                value: *v,
                min: range.min,
                max: range.max,
            });
        }
        self.encode(value)
    }

    /// [`RegisterDef::encode`] with the raw content of the scale register, if any.
    pub fn encode_scaled(
        &self,
        value: &Value,
        scale_register: Option<i16>,
    ) -> Result<Vec<u16>, CodecError> {
        let mismatch = || CodecError::TypeMismatch {
            expected: self.data_type.name(),
            found: value.kind(),
        };
        if self.function_code.is_bit_table() {
            return match value {
                Value::Bool(b) => Ok(vec![u16::from(*b)]),
                _ => Err(mismatch()),
            };
        }
        let dynamic = self.encode_factor(scale_register)?;
        let n = usize::from(self.count());
        let raw_of = |v: &f64| -> Result<f64, CodecError> {
            let raw = self.to_raw(*v, dynamic);
            if raw.is_finite() {
                Ok(raw)
            } else {
                Err(CodecError::NotRepresentable {
                    value: *v,
                    data_type: self.data_type.name(),
                })
            }
        };
        let int = |v: &f64, min: f64, max: f64| -> Result<u64, CodecError> {
            let raw = raw_of(v)?.round();
            if raw < min || raw > max || raw.abs() > F64_EXACT {
                return Err(CodecError::NotRepresentable {
                    value: *v,
                    data_type: self.data_type.name(),
                });
            }
            Ok(if raw < 0.0 {
                (raw as i64) as u64
            } else {
                raw as u64
            })
        };
        let bits: u64 = match (self.data_type, value) {
            (DataType::Bit, Value::Bool(b)) => match self.bit.unwrap_or(0) {
                bit @ 0..=15 => u64::from(*b) << bit,
                _ => {
                    return Err(CodecError::NotRepresentable {
                        value: f64::from(u8::from(*b)),
                        data_type: "bit",
                    });
                }
            },
            (DataType::U16, Value::Number(v)) => int(v, 0.0, f64::from(u16::MAX))?,
            (DataType::S16, Value::Number(v)) => {
                int(v, f64::from(i16::MIN), f64::from(i16::MAX))? & 0xFFFF
            }
            (DataType::U32, Value::Number(v)) => int(v, 0.0, f64::from(u32::MAX))?,
            (DataType::S32, Value::Number(v)) => {
                int(v, f64::from(i32::MIN), f64::from(i32::MAX))? & 0xFFFF_FFFF
            }
            (DataType::U64, Value::Number(v)) => int(v, 0.0, F64_EXACT)?,
            (DataType::S64, Value::Number(v)) => int(v, -F64_EXACT, F64_EXACT)?,
            (DataType::F32, Value::Number(v)) => {
                let raw = raw_of(v)? as f32;
                if !raw.is_finite() {
                    return Err(CodecError::NotRepresentable {
                        value: *v,
                        data_type: "f32",
                    });
                }
                u64::from(raw.to_bits())
            }
            (DataType::F64, Value::Number(v)) => raw_of(v)?.to_bits(),
            (DataType::Bcd, Value::Number(v)) => {
                let digits = n * 4;
                let max = 10f64.powi(digits as i32) - 1.0;
                let raw = int(v, 0.0, max)?;
                to_bcd(raw)
            }
            (DataType::Flags, Value::Flags(f)) => {
                if n < 4 && *f >> (16 * n) != 0 {
                    return Err(CodecError::NotRepresentable {
                        value: *f as f64,
                        data_type: "flags",
                    });
                }
                *f
            }
            (DataType::String, Value::Text(t)) => return self.encode_text(t),
            _ => return Err(mismatch()),
        };
        Ok(self.words_of(bits))
    }

    /// The factor a scale register's content gives an encoded value (1 without one); a
    /// missing or zero linear factor cannot scale a write.
    fn encode_factor(&self, scale_register: Option<i16>) -> Result<f64, CodecError> {
        Ok(match (self.scale_register, scale_register) {
            (None, _) => 1.0,
            (Some(sr), Some(raw)) if sr.pow10 => 10f64.powi(i32::from(raw)),
            (Some(_), Some(raw)) if raw != 0 => f64::from(raw),
            _ => {
                return Err(CodecError::ScaleRegisterMissing {
                    address: self.address,
                });
            }
        })
    }

    /// ASCII text padded with NULs to the register count, two characters per word.
    fn encode_text(&self, t: &str) -> Result<Vec<u16>, CodecError> {
        let n = usize::from(self.count());
        if !t.is_ascii() || t.len() > n * 2 {
            return Err(CodecError::TextTooLong {
                text: t.to_string(),
                max_chars: n * 2,
            });
        }
        let mut bytes = t.as_bytes().to_vec();
        bytes.resize(n * 2, 0);
        Ok(bytes
            .chunks(2)
            .map(|c| match self.byte_order {
                ByteOrder::HighFirst => u16::from_be_bytes([c[0], c[1]]),
                ByteOrder::LowFirst => u16::from_le_bytes([c[0], c[1]]),
            })
            .collect())
    }

    /// The register words of `bits` (the value's high word first), in the definition's
    /// word and byte orders.
    fn words_of(&self, bits: u64) -> Vec<u16> {
        let n = usize::from(self.count());
        let mut words: Vec<u16> = (0..n).rev().map(|i| (bits >> (16 * i)) as u16).collect();
        if self.word_order == WordOrder::LowFirst {
            words.reverse();
        }
        if self.byte_order == ByteOrder::LowFirst {
            for w in &mut words {
                *w = w.swap_bytes();
            }
        }
        words
    }

    /// Split the static factor into a multiplier and a power of ten, so that decimal scales
    /// (0.01, 0.001, 10^-2, ...) divide by an exact power of ten: 23192 * 0.01 gives
    /// 231.92000000000002 in floating point, 23192 / 100 gives 231.92. Cheap: compares the
    /// scale with the exact decimal constants instead of taking a logarithm.
    #[inline]
    pub(crate) fn decimal_parts(&self) -> (f64, i32) {
        let s = self.scale;
        if s == 1.0 {
            return (1.0, self.pow10);
        }
        for (k, (up, down)) in DECIMAL_SCALES.iter().enumerate() {
            let k = k as i32 + 1;
            if s == *up {
                return (1.0, self.pow10 + k);
            }
            if s == *down {
                return (1.0, self.pow10 - k);
            }
        }
        (s, self.pow10)
    }

    /// Raw number to physical value: raw * scale * 10^pow10 * dynamic + offset.
    fn to_physical(&self, raw: f64, dynamic: f64) -> f64 {
        let (mult, e) = self.decimal_parts();
        let v = raw * mult;
        let v = if e < 0 {
            v / 10f64.powi(-e)
        } else {
            v * 10f64.powi(e)
        };
        v * dynamic + self.offset
    }

    /// Physical value to raw number (not rounded): the inverse of `to_physical`.
    fn to_raw(&self, value: f64, dynamic: f64) -> f64 {
        let (mult, e) = self.decimal_parts();
        let v = (value - self.offset) / dynamic;
        let v = if e < 0 {
            v * 10f64.powi(-e)
        } else {
            v / 10f64.powi(e)
        };
        v / mult
    }

    /// The words most significant first, with bytes in the high-first order.
    fn ordered(&self, words: &[u16]) -> Vec<u16> {
        let mut out: Vec<u16> = match self.byte_order {
            ByteOrder::HighFirst => words.to_vec(),
            ByteOrder::LowFirst => words.iter().map(|w| w.swap_bytes()).collect(),
        };
        if self.word_order == WordOrder::LowFirst {
            out.reverse();
        }
        out
    }

    /// The names of the bits set in a [`Value::Flags`] value, in bit order; unnamed set bits
    /// are reported as `bitN`.
    pub fn flag_names(&self, raw: u64) -> Vec<String> {
        (0u8..64)
            .filter(|b| raw >> b & 1 == 1)
            .map(|b| {
                self.flags
                    .get(&b)
                    .cloned()
                    .unwrap_or_else(|| format!("bit{b}"))
            })
            .collect()
    }
}

/// The decimal scales recognised as exact powers of ten: (10^k, 10^-k) for k = 1..=6.
const DECIMAL_SCALES: [(f64, f64); 6] = [
    (10.0, 0.1),
    (100.0, 0.01),
    (1e3, 0.001),
    (1e4, 0.0001),
    (1e5, 0.00001),
    (1e6, 0.000001),
];

fn bcd_value(raw: u64, words: usize, address: u16) -> Result<u64, CodecError> {
    let mut value = 0u64;
    for i in (0..words * 4).rev() {
        let digit = (raw >> (4 * i)) & 0xF;
        if digit > 9 {
            return Err(CodecError::InvalidBcd { address, raw });
        }
        value = value * 10 + digit;
    }
    Ok(value)
}

fn to_bcd(mut v: u64) -> u64 {
    let mut out = 0u64;
    let mut shift = 0;
    while v > 0 {
        out |= (v % 10) << shift;
        v /= 10;
        shift += 4;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{FunctionCode, ScaleRegister};
    use super::*;

    fn def(t: DataType) -> RegisterDef {
        RegisterDef::new(FunctionCode::Holding, 100, t)
    }

    #[test]
    fn word_and_byte_orders() {
        // 0x11223344 as ABCD, CDAB, BADC, DCBA
        let cases = [
            (WordOrder::HighFirst, ByteOrder::HighFirst, [0x1122, 0x3344]),
            (WordOrder::LowFirst, ByteOrder::HighFirst, [0x3344, 0x1122]),
            (WordOrder::HighFirst, ByteOrder::LowFirst, [0x2211, 0x4433]),
            (WordOrder::LowFirst, ByteOrder::LowFirst, [0x4433, 0x2211]),
        ];
        for (wo, bo, words) in cases {
            let d = def(DataType::U32).with_word_order(wo).with_byte_order(bo);
            assert_eq!(
                d.decode(&words).unwrap(),
                Some(Value::Number(f64::from(0x1122_3344u32))),
                "{wo:?} {bo:?}"
            );
            assert_eq!(
                d.encode(&Value::Number(f64::from(0x1122_3344u32))).unwrap(),
                words.to_vec()
            );
        }
    }

    #[test]
    fn signed_and_sentinels() {
        let d = def(DataType::S32)
            .with_scale(10.0)
            .with_not_available(&[0x7FFF_FFFF]);
        assert_eq!(
            d.decode(&[0xFFFF, 0xFFF6]).unwrap(),
            Some(Value::Number(-100.0))
        );
        assert_eq!(d.decode(&[0x7FFF, 0xFFFF]).unwrap(), None);
        // Decimal scales divide exactly: no 231.92000000000002.
        let v = def(DataType::U16).with_scale(0.01);
        assert_eq!(v.decode(&[23192]).unwrap(), Some(Value::Number(231.92)));
        assert_eq!(v.encode(&Value::Number(231.92)).unwrap(), vec![23192]);
        let mut bad_bit = def(DataType::Bit);
        bad_bit.bit = Some(40);
        assert_eq!(bad_bit.decode(&[0xFFFF]).unwrap(), Some(Value::Bool(false)));
        assert!(bad_bit.encode(&Value::Bool(true)).is_err());
        let f = def(DataType::F32);
        assert_eq!(
            f.decode(&[0x7FC0, 0x0000]).unwrap(),
            None,
            "NaN is not available"
        );
        assert_eq!(
            f.decode(&[0x4367, 0x8000]).unwrap(),
            Some(Value::Number(231.5))
        );
    }

    #[test]
    fn bcd_strings_bits_flags() {
        let b = def(DataType::Bcd).with_length(2);
        assert_eq!(
            b.decode(&[0x0012, 0x3456]).unwrap(),
            Some(Value::Number(123456.0))
        );
        assert!(matches!(
            b.decode(&[0x00A2, 0x3456]),
            Err(CodecError::InvalidBcd { .. })
        ));
        let s = def(DataType::String).with_length(4);
        assert_eq!(
            s.decode(&[0x4861, 0x6765, 0x7200, 0x0000]).unwrap(),
            Some(Value::Text("Hager".into()))
        );
        let mut bit = def(DataType::Bit);
        bit.bit = Some(3);
        assert_eq!(bit.decode(&[0b1000]).unwrap(), Some(Value::Bool(true)));
        assert_eq!(bit.decode(&[0b0111]).unwrap(), Some(Value::Bool(false)));
        let mut fl = def(DataType::Flags);
        fl.flags.insert(0, "overload".into());
        assert_eq!(fl.decode(&[0b101]).unwrap(), Some(Value::Flags(5)));
        assert_eq!(
            fl.flag_names(5),
            vec!["overload".to_string(), "bit2".to_string()]
        );
    }

    #[test]
    fn scale_register_and_writes() {
        let mut d = def(DataType::S16);
        d.scale_register = Some(ScaleRegister {
            function_code: None,
            address: 101,
            pow10: true,
        });
        assert!(matches!(
            d.decode(&[5]),
            Err(CodecError::ScaleRegisterMissing { .. })
        ));
        assert_eq!(
            d.decode_scaled(&[2315], Some(-1)).unwrap(),
            Some(Value::Number(231.5))
        );
        let w = def(DataType::U16).with_write_range(1.0, 247.0);
        assert_eq!(w.encode_for_write(&Value::Number(17.0)).unwrap(), vec![17]);
        assert!(matches!(
            w.encode_for_write(&Value::Number(248.0)),
            Err(CodecError::OutOfRange { .. })
        ));
        assert!(matches!(
            def(DataType::U16).encode_for_write(&Value::Number(1.0)),
            Err(CodecError::ReadOnly { .. })
        ));
        assert!(matches!(
            def(DataType::U16).encode(&Value::Number(70000.0)),
            Err(CodecError::NotRepresentable { .. })
        ));
        assert!(matches!(
            def(DataType::U16).decode(&[1, 2]),
            Err(CodecError::WrongLength { .. })
        ));
    }
}
