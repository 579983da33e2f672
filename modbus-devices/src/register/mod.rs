//! The register-map model: where a value lives on a Modbus device and how its
//! registers turn into a physical value.
//!
//! # Addresses
//! Every address in this crate is the **0-based protocol address**, the number that goes
//! into the Modbus PDU (`0xB000` = 45056 on the wire for a Hager ECR meter). The
//! "40001-style" register numbers of vendor manuals are converted once, at the catalogue
//! file edge, by [`modicon_to_protocol`].
//!
//! # Decoding
//! A [`RegisterDef`] is decoded from the registers it spans with
//! [`RegisterDef::decode`]; a value is encoded for a write with [`RegisterDef::encode`].
//! "Not available" sentinels (0xFFFF, 0x7FFF, NaN, ...) decode to `None`, never to a number.
//!
//! ```
//! use modbus_devices::register::{RegisterDef, DataType, FunctionCode};
//! use modbus_devices::Value;
//!
//! // Hager ECR: V(L1-N) at 0xB000, U16 in 0.01 V, 0xFFFF = not available.
//! let def = RegisterDef::new(FunctionCode::Holding, 0xB000, DataType::U16)
//!     .with_scale(0.01)
//!     .with_not_available(&[0xFFFF]);
//! assert_eq!(def.decode(&[23150]).unwrap(), Some(Value::Number(231.5)));
//! assert_eq!(def.decode(&[0xFFFF]).unwrap(), None);
//! assert_eq!(def.encode(&Value::Number(231.5)).unwrap(), vec![23150]);
//! ```

mod codec;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use codec::RawWords;

/// Modbus function code used to read a register (the write code follows from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum FunctionCode {
    /// 1: read coils (written with 5 / 15).
    Coils,
    /// 2: read discrete inputs (read-only).
    DiscreteInputs,
    /// 3: read holding registers (written with 6 / 16).
    Holding,
    /// 4: read input registers (read-only).
    Input,
}

impl FunctionCode {
    /// The numeric function code (1..=4).
    pub fn code(self) -> u8 {
        match self {
            Self::Coils => 1,
            Self::DiscreteInputs => 2,
            Self::Holding => 3,
            Self::Input => 4,
        }
    }

    /// Whether this table holds single bits (coils, discrete inputs) rather than 16-bit words.
    pub fn is_bit_table(self) -> bool {
        matches!(self, Self::Coils | Self::DiscreteInputs)
    }

    /// Whether values in this table can be written at all.
    pub fn is_writable_table(self) -> bool {
        matches!(self, Self::Coils | Self::Holding)
    }
}

impl TryFrom<u8> for FunctionCode {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(Self::Coils),
            2 => Ok(Self::DiscreteInputs),
            3 => Ok(Self::Holding),
            4 => Ok(Self::Input),
            other => Err(format!(
                "function code must be 1 (coils), 2 (discrete inputs), 3 (holding) or 4 (input), found {other}"
            )),
        }
    }
}

impl From<FunctionCode> for u8 {
    fn from(f: FunctionCode) -> u8 {
        f.code()
    }
}

impl std::fmt::Display for FunctionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FC{}", self.code())
    }
}

/// How the registers of one value are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// One coil or discrete input; on a register table, one bit of a word (see [`RegisterDef::bit`]).
    Bit,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 16-bit integer.
    S16,
    /// Unsigned 32-bit integer (2 registers).
    U32,
    /// Signed 32-bit integer (2 registers).
    S32,
    /// Unsigned 64-bit integer (4 registers).
    U64,
    /// Signed 64-bit integer (4 registers).
    S64,
    /// IEEE-754 single precision (2 registers).
    F32,
    /// IEEE-754 double precision (4 registers).
    F64,
    /// Packed BCD, 4 digits per register, [`RegisterDef::length`] registers (default 1).
    Bcd,
    /// ASCII text, 2 characters per register (first character in the high byte),
    /// [`RegisterDef::length`] registers; NUL and space padding is trimmed.
    String,
    /// A bit field: the raw unsigned value of [`RegisterDef::length`] registers (default 1),
    /// with the set bits named by [`RegisterDef::flags`].
    Flags,
}

impl DataType {
    /// The number of 16-bit registers (or bits, for [`DataType::Bit`] on a bit table)
    /// the value spans, given the definition's `length` for variable-size types.
    pub fn registers(self, length: u16) -> u16 {
        match self {
            Self::Bit | Self::U16 | Self::S16 => 1,
            Self::U32 | Self::S32 | Self::F32 => 2,
            Self::U64 | Self::S64 | Self::F64 => 4,
            Self::Bcd | Self::String | Self::Flags => length.max(1),
        }
    }

    /// Whether the type has a variable length.
    pub fn has_length(self) -> bool {
        matches!(self, Self::Bcd | Self::String | Self::Flags)
    }

    /// Whether values of this type are signed integers.
    pub fn is_signed(self) -> bool {
        matches!(self, Self::S16 | Self::S32 | Self::S64)
    }

    /// The lower-case name used in catalogue files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bit => "bit",
            Self::U16 => "u16",
            Self::S16 => "s16",
            Self::U32 => "u32",
            Self::S32 => "s32",
            Self::U64 => "u64",
            Self::S64 => "s64",
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::Bcd => "bcd",
            Self::String => "string",
            Self::Flags => "flags",
        }
    }
}

/// Order of the 16-bit words of a multi-register value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    /// Most significant word first ("ABCD", big-endian): Hager, ABB, Eastron, Janitza, Schneider.
    #[default]
    HighFirst,
    /// Least significant word first ("CDAB"): Carlo Gavazzi.
    LowFirst,
}

/// Order of the two bytes inside each 16-bit word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteOrder {
    /// High byte first, as the Modbus specification says (every device in the catalogue).
    #[default]
    HighFirst,
    /// Low byte first (byte-swapped devices: "BADC" / "DCBA").
    LowFirst,
}

/// Whether a value may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Read only (the default).
    #[default]
    Read,
    /// Read and write.
    ReadWrite,
    /// Write only (commands that read back as 0, e.g. Hager "set tariff").
    Write,
}

/// A scale read from another register: `value = raw * 10^scale_register` (SunSpec style)
/// or `value = raw * scale_register`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRegister {
    /// Function code of the scale register (default: the value's own).
    #[serde(default)]
    pub function_code: Option<FunctionCode>,
    /// 0-based address of the scale register (one signed 16-bit register).
    pub address: u16,
    /// `true`: the register holds a power of ten; `false`: a multiplier.
    #[serde(default = "yes")]
    pub pow10: bool,
}

fn yes() -> bool {
    true
}

/// Inclusive range a written value must lie in (in the physical unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteRange {
    /// Smallest value accepted.
    pub min: f64,
    /// Largest value accepted.
    pub max: f64,
}

/// Where a value lives and how to convert it: physical = raw * scale * 10^pow10 + offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDef {
    /// The function code used to read it.
    pub function_code: FunctionCode,
    /// 0-based protocol address of the first register (or bit).
    pub address: u16,
    /// The data type.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Number of registers for `string`, `bcd` and `flags` (ignored for fixed-size types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u16>,
    /// For [`DataType::Bit`] on a register table: which bit (0 = LSB) of the word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit: Option<u8>,
    /// Word order of multi-register values.
    #[serde(default)]
    pub word_order: WordOrder,
    /// Byte order inside each word.
    #[serde(default)]
    pub byte_order: ByteOrder,
    /// Multiplier applied to the raw value.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub scale: f64,
    /// Power of ten applied to the raw value (on top of `scale`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pow10: i32,
    /// A scale factor read from another register (applied on top of `scale` and `pow10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_register: Option<ScaleRegister>,
    /// Added after scaling.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub offset: f64,
    /// Read / write access.
    #[serde(default)]
    pub access: Access,
    /// Range a write must respect, in the physical unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_range: Option<WriteRange>,
    /// Raw values meaning "not available" (compared before scaling, as unsigned bit patterns
    /// of the type's width). NaN always means "not available" for float types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_available: Vec<u64>,
    /// Names of the bits of a [`DataType::Flags`] value (bit number, 0 = LSB).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<u8, String>,
}

fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
fn is_zero(v: &i32) -> bool {
    *v == 0
}
fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}

impl RegisterDef {
    /// A definition with scale 1, no offset, default orders and no sentinels.
    pub fn new(function_code: FunctionCode, address: u16, data_type: DataType) -> Self {
        Self {
            function_code,
            address,
            data_type,
            length: None,
            bit: None,
            word_order: WordOrder::HighFirst,
            byte_order: ByteOrder::HighFirst,
            scale: 1.0,
            pow10: 0,
            scale_register: None,
            offset: 0.0,
            access: Access::Read,
            write_range: None,
            not_available: Vec::new(),
            flags: BTreeMap::new(),
        }
    }

    /// Set the multiplier.
    pub fn with_scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Set the word order.
    pub fn with_word_order(mut self, order: WordOrder) -> Self {
        self.word_order = order;
        self
    }

    /// Set the byte order.
    pub fn with_byte_order(mut self, order: ByteOrder) -> Self {
        self.byte_order = order;
        self
    }

    /// Set the length (registers) of a string, BCD or flags value.
    pub fn with_length(mut self, length: u16) -> Self {
        self.length = Some(length);
        self
    }

    /// Set the "not available" raw values.
    pub fn with_not_available(mut self, raw: &[u64]) -> Self {
        self.not_available = raw.to_vec();
        self
    }

    /// Make the value writable within a range.
    pub fn with_write_range(mut self, min: f64, max: f64) -> Self {
        self.access = Access::ReadWrite;
        self.write_range = Some(WriteRange { min, max });
        self
    }

    /// Number of registers (or bits on a bit table) the value spans.
    pub fn count(&self) -> u16 {
        if self.function_code.is_bit_table() {
            1
        } else {
            self.data_type.registers(self.length.unwrap_or(1))
        }
    }

    /// Last address the value spans (inclusive).
    pub fn last_address(&self) -> u32 {
        u32::from(self.address) + u32::from(self.count()) - 1
    }

    /// The combined static factor `scale * 10^pow10`.
    pub fn factor(&self) -> f64 {
        self.scale * 10f64.powi(self.pow10)
    }

    /// Whether the value may be written.
    pub fn is_writable(&self) -> bool {
        self.access != Access::Read && self.function_code.is_writable_table()
    }

    /// The "type max" sentinels of Hager and ABB maps for this type: all ones for unsigned
    /// integers, the largest positive value for signed ones.
    pub fn type_max_sentinel(data_type: DataType) -> Option<u64> {
        match data_type {
            DataType::U16 => Some(0xFFFF),
            DataType::S16 => Some(0x7FFF),
            DataType::U32 => Some(0xFFFF_FFFF),
            DataType::S32 => Some(0x7FFF_FFFF),
            DataType::U64 => Some(u64::MAX),
            DataType::S64 => Some(0x7FFF_FFFF_FFFF_FFFF),
            _ => None,
        }
    }

    /// Check the definition is self-consistent; the message names the offending field.
    pub fn check(&self) -> Result<(), String> {
        let bit_table = self.function_code.is_bit_table();
        if bit_table && self.data_type != DataType::Bit {
            return Err(format!(
                "type: {} registers hold single bits, so the type must be \"bit\", found \"{}\"",
                self.function_code,
                self.data_type.name()
            ));
        }
        if self.data_type == DataType::Bit && !bit_table && self.bit.is_none() {
            return Err("bit: a \"bit\" value on a register table needs `bit` (0..15)".into());
        }
        if let Some(b) = self.bit
            && b > 15
        {
            return Err(format!("bit: must be 0..15, found {b}"));
        }
        if self.data_type.has_length() {
            match self.length {
                Some(0) => return Err("length: must be at least 1 register".into()),
                Some(n) if n > 125 => {
                    return Err(format!(
                        "length: at most 125 registers fit in one read, found {n}"
                    ));
                }
                _ => {}
            }
            if self.data_type == DataType::Flags && self.length.unwrap_or(1) > 4 {
                return Err("length: a flags value spans at most 4 registers (64 bits)".into());
            }
            if self.data_type == DataType::Bcd && self.length.unwrap_or(1) > 4 {
                return Err("length: a BCD value spans at most 4 registers (16 digits)".into());
            }
        } else if self.length.is_some() {
            return Err(format!(
                "length: only string, bcd and flags values take a length, not \"{}\"",
                self.data_type.name()
            ));
        }
        if self.last_address() > u32::from(u16::MAX) {
            return Err(format!(
                "address: {} registers from {:#06x} run past 0xFFFF",
                self.count(),
                self.address
            ));
        }
        if !self.scale.is_finite() || self.scale == 0.0 {
            return Err(format!(
                "scale: must be a finite non-zero number, found {}",
                self.scale
            ));
        }
        if !(-30..=30).contains(&self.pow10) {
            return Err(format!(
                "pow10: must be within -30..30, found {}",
                self.pow10
            ));
        }
        if !self.offset.is_finite() {
            return Err("offset: must be finite".into());
        }
        if let Some(r) = self.write_range
            && (!(r.min.is_finite() && r.max.is_finite()) || r.min > r.max)
        {
            return Err(format!(
                "write_range: min must be <= max and both finite, found {}..{}",
                r.min, r.max
            ));
        }
        if self.access != Access::Read && !self.function_code.is_writable_table() {
            return Err(format!(
                "access: {} values cannot be written; use function code 1 or 3",
                self.function_code
            ));
        }
        Ok(())
    }
}

/// Convert a "Modicon" register number (00001-style coils, 10001 discrete inputs, 30001 input
/// registers, 40001 holding registers; 6-digit 400001-style too) to a function code and the
/// 0-based protocol address. Used only at the catalogue-file edge.
///
/// ```
/// use modbus_devices::register::{modicon_to_protocol, FunctionCode};
/// assert_eq!(modicon_to_protocol(40001), Some((FunctionCode::Holding, 0)));
/// assert_eq!(modicon_to_protocol(445057), Some((FunctionCode::Holding, 45056)));
/// assert_eq!(modicon_to_protocol(30073), Some((FunctionCode::Input, 72)));
/// assert_eq!(modicon_to_protocol(40000), None);
/// ```
pub fn modicon_to_protocol(register: u32) -> Option<(FunctionCode, u16)> {
    let (table, number) = if register >= 100_000 {
        (register / 100_000, register % 100_000)
    } else {
        (register / 10_000, register % 10_000)
    };
    let fc = match table {
        0 => FunctionCode::Coils,
        1 => FunctionCode::DiscreteInputs,
        3 => FunctionCode::Input,
        4 => FunctionCode::Holding,
        _ => return None,
    };
    if number == 0 || number > 65_536 {
        return None;
    }
    u16::try_from(number - 1).ok().map(|a| (fc, a))
}
