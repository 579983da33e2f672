//! Decoded values: numbers scaled to base units, dates, text, raw data; and the raw readings
//! (before scaling) that the encoder takes back.

use core::fmt;

use super::date::{Date, DateTime, Recurring, TimeOfDay};
use crate::hex::Hex;

/// Byte order of multi-byte values in the application layer: LSB first (mode 1, the normal
/// case) or MSB first (mode 2, CI 0x76 and 0x77).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (mode 1).
    LsbFirst,
    /// Most significant byte first (mode 2).
    MsbFirst,
}

/// Text from a variable-length data field or a plain-text VIF, as transmitted.
///
/// EN 13757-3 sends the characters of a string last character first (in LSB-first mode) and
/// as ISO 8859-1 bytes; this view reads them in natural order and as Unicode without
/// allocating. Its `Display` (`to_string()`) gives the UTF-8 text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text<'a> {
    bytes: &'a [u8],
    order: ByteOrder,
}

impl<'a> Text<'a> {
    pub(crate) fn new(bytes: &'a [u8], order: ByteOrder) -> Self {
        Text { bytes, order }
    }

    /// The bytes as transmitted.
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The characters in reading order (ISO 8859-1 bytes map one to one to Unicode).
    pub fn chars(&self) -> impl DoubleEndedIterator<Item = char> + 'a {
        let rev = self.order == ByteOrder::LsbFirst;
        let bytes = self.bytes;
        let n = bytes.len();
        (0..n).map(move |i| char::from(if rev { bytes[n - 1 - i] } else { bytes[i] }))
    }

    /// Whether the text equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        self.chars().eq(s.chars())
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.chars() {
            f.write_char(c)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// Why a record carries no usable value although it has data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Invalid {
    /// A BCD value has hex digits A-F other than a sign nibble F in the most significant
    /// digit: EN 13757-3 annex A (type A) reserves them to signal errors.
    BcdDigits,
    /// A date or time whose invalid flag (IV) is set, or whose fields are out of range (for
    /// example the all-zero date).
    DateTime,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invalid::BcdDigits => "BCD value with error digits",
            Invalid::DateTime => "invalid date/time",
        })
    }
}

/// The decoded value of a record.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// No data (data field 0x0 or 0x8).
    Empty,
    /// A number in the record's base unit.
    Number(f64),
    /// A date (type G).
    Date(Date),
    /// A date and time (type F or I).
    DateTime(DateTime),
    /// A time of day (type J).
    Time(TimeOfDay),
    /// A recurring date (year field "every year").
    Recurring(Recurring),
    /// Text (variable-length data, LVAR 0x00-0xBF).
    Text(Text<'a>),
    /// Raw bytes in frame order: manufacturer-specific data (DIF 0x0F/0x1F) or a binary
    /// number too long for a number.
    Bytes(&'a [u8]),
    /// Data that the meter marks as an error or that is out of range.
    Invalid(Invalid),
}

impl Value<'_> {
    /// The number, for numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Numbers as Rust prints `f64`, dates and times as ISO 8601, text as itself, bytes as
    /// space-separated hex, empty and invalid values as `null`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty | Value::Invalid(_) => f.write_str("null"),
            Value::Number(v) => write!(f, "{v}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::DateTime(d) => write!(f, "{d}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::Recurring(r) => write!(f, "{r}"),
            Value::Text(t) => write!(f, "{t}"),
            Value::Bytes(b) => write!(f, "{}", Hex(b)),
        }
    }
}

/// The data of a record as transmitted, decoded only as far as its data field coding goes
/// (no VIF scaling): what the [encoder](crate::encode) takes back.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum RawData<'a> {
    /// No data (data field 0x0).
    None,
    /// Selection for readout (data field 0x8).
    Selection,
    /// Type B integer of `size` bytes (1, 2, 3, 4, 6 or 8), sign-extended.
    Integer {
        /// Size in bytes.
        size: u8,
        /// Value (two's complement, sign-extended).
        value: i64,
    },
    /// 32-bit IEEE 754 real (type H).
    Real(f32),
    /// BCD (type A) of `digits` digits (2, 4, 6, 8, 12); `raw` holds the nibbles, least
    /// significant first, as the little-endian integer of the data bytes.
    Bcd {
        /// Number of digits.
        digits: u8,
        /// The data bytes as a little-endian integer.
        raw: u64,
    },
    /// Variable-length text (LVAR 0x00-0xBF).
    Text(Text<'a>),
    /// Variable-length BCD (LVAR 0xC0-0xDF), bytes least significant first.
    VarBcd {
        /// LVAR 0xD0-0xDF: negative.
        negative: bool,
        /// The BCD bytes.
        bytes: &'a [u8],
    },
    /// Variable-length binary number (LVAR 0xE0-0xF6), bytes least significant first.
    Binary(&'a [u8]),
    /// Manufacturer-specific data after DIF 0x0F or 0x1F.
    Manufacturer(&'a [u8]),
}

/// Reads `n` (<= 8) bytes as a little-endian unsigned integer, honouring the byte order.
#[inline]
pub(crate) fn uint_le(b: &[u8], order: ByteOrder) -> u64 {
    if order == ByteOrder::LsbFirst {
        match *b {
            [a] => return u64::from(a),
            [a, b] => return u64::from(u16::from_le_bytes([a, b])),
            [a, b, c] => return u64::from(u32::from_le_bytes([a, b, c, 0])),
            [a, b, c, d] => return u64::from(u32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f] => return u64::from_le_bytes([a, b, c, d, e, f, 0, 0]),
            [a, b, c, d, e, f, g, h] => return u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => {}
        }
    }
    let mut v = 0u64;
    match order {
        ByteOrder::LsbFirst => {
            for &x in b.iter().rev() {
                v = (v << 8) | u64::from(x);
            }
        }
        ByteOrder::MsbFirst => {
            for &x in b {
                v = (v << 8) | u64::from(x);
            }
        }
    }
    v
}

/// Sign-extends the low `size` bytes of `v`.
#[inline]
pub(crate) fn sign_extend(v: u64, size: usize) -> i64 {
    if size == 0 {
        0
    } else if size >= 8 {
        v as i64
    } else {
        let shift = 64 - 8 * size as u32;
        ((v << shift) as i64) >> shift
    }
}

/// Decodes BCD digits held as nibbles in `raw` (least significant first). `Err` if a digit
/// other than a sign F in the most significant position is A-F.
#[inline]
pub(crate) fn bcd_value(raw: u64, digits: u32) -> Result<i64, Invalid> {
    if digits == 0 || digits > 16 {
        return Ok(0);
    }
    let top = 4 * (digits - 1);
    let sign = (raw >> top) & 0xF == 0xF;
    let x = if sign { raw & !(0xF << top) } else { raw };
    // a nibble is above 9 when bit 3 and bit 1 or 2 are set
    let mid = x & 0x6666_6666_6666_6666;
    if x & 0x8888_8888_8888_8888 & ((mid << 1) | (mid << 2)) == 0 {
        // packed BCD to binary, two digits per byte, then four, eight, sixteen
        let mut y = (x & 0x0F0F_0F0F_0F0F_0F0F) + ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) * 10;
        y = (y & 0x00FF_00FF_00FF_00FF) + ((y >> 8) & 0x00FF_00FF_00FF_00FF) * 100;
        y = (y & 0x0000_FFFF_0000_FFFF) + ((y >> 16) & 0x0000_FFFF_0000_FFFF) * 10_000;
        y = (y & 0xFFFF_FFFF) + (y >> 32) * 100_000_000;
        let v = y as i64;
        return Ok(if sign { -v } else { v });
    }
    bcd_value_slow(raw, digits)
}

/// Digit by digit (only reached for error digits).
fn bcd_value_slow(raw: u64, digits: u32) -> Result<i64, Invalid> {
    let mut v: i64 = 0;
    let mut negative = false;
    let mut i = digits;
    while i > 0 {
        i -= 1;
        let d = ((raw >> (4 * i)) & 0xF) as i64;
        if d > 9 {
            if d == 0xF && i == digits - 1 {
                negative = true;
                continue;
            }
            return Err(Invalid::BcdDigits);
        }
        v = v * 10 + d;
    }
    Ok(if negative { -v } else { v })
}

/// Decodes variable-length BCD bytes (least significant byte first in LSB mode) as `f64`.
pub(crate) fn var_bcd_value(
    bytes: &[u8],
    negative: bool,
    order: ByteOrder,
) -> Result<f64, Invalid> {
    let mut v = 0f64;
    let n = bytes.len();
    for i in 0..n {
        let b = match order {
            ByteOrder::LsbFirst => bytes[n - 1 - i],
            ByteOrder::MsbFirst => bytes[i],
        };
        let (hi, lo) = (b >> 4, b & 0xF);
        if hi > 9 || lo > 9 {
            return Err(Invalid::BcdDigits);
        }
        v = v * 100.0 + f64::from(hi * 10 + lo);
    }
    Ok(if negative { -v } else { v })
}

/// Copies up to N bytes into an array in LSB-first order.
#[inline]
pub(crate) fn lsb_array<const N: usize>(b: &[u8], order: ByteOrder) -> [u8; N] {
    let mut out = [0u8; N];
    match order {
        ByteOrder::LsbFirst => {
            for (o, x) in out.iter_mut().zip(b) {
                *o = *x;
            }
        }
        ByteOrder::MsbFirst => {
            for (o, x) in out.iter_mut().zip(b.iter().rev()) {
                *o = *x;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd() {
        assert_eq!(bcd_value(0x1234, 4), Ok(1234));
        assert_eq!(bcd_value(0xF123, 4), Ok(-123));
        assert_eq!(bcd_value(0x12E4, 4), Err(Invalid::BcdDigits));
        assert_eq!(bcd_value(0x1F23, 4), Err(Invalid::BcdDigits));
        assert_eq!(bcd_value(0x9999_9999_9999, 12), Ok(999_999_999_999));
        assert_eq!(bcd_value(0xF999_9999_9999, 12), Ok(-99_999_999_999));
        assert_eq!(bcd_value(0x0000_0001_2345, 12), Ok(12345));
        for d in [0xAu64, 0xB, 0xC, 0xD, 0xE] {
            for pos in 0..8 {
                let raw = 0x1234_5678u64 & !(0xF << (4 * pos)) | (d << (4 * pos));
                assert_eq!(bcd_value(raw, 8), Err(Invalid::BcdDigits), "{raw:#x}");
            }
        }
    }

    #[test]
    fn ints() {
        assert_eq!(sign_extend(0xFFFFFF, 3), -1);
        assert_eq!(sign_extend(0x7FFFFF, 3), 0x7FFFFF);
        assert_eq!(sign_extend(0, 0), 0);
        assert_eq!(uint_le(&[0x01, 0x02], ByteOrder::LsbFirst), 0x0201);
        assert_eq!(uint_le(&[0x01, 0x02], ByteOrder::MsbFirst), 0x0102);
    }

    #[test]
    fn text_reads_last_character_first() {
        let t = Text::new(b"HR%", ByteOrder::LsbFirst);
        assert_eq!(t.to_string(), "%RH");
        assert!(t.eq_str("%RH"));
        let t = Text::new(b"%RH", ByteOrder::MsbFirst);
        assert_eq!(t.to_string(), "%RH");
        // ISO 8859-1 degree sign
        assert_eq!(
            Text::new(&[b'C', 0xB0], ByteOrder::LsbFirst).to_string(),
            "\u{b0}C"
        );
    }
}
