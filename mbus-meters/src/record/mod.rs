//! Data records (EN 13757-3): DIF and DIFE (function, storage number, tariff, subunit, data
//! field), VIF and VIFE (quantity, unit, scale, modifiers), and data decoding.
//!
//! A [`Record`] borrows its bytes from the frame; [`Records`] walks the records of a frame
//! without allocating.

pub mod date;
pub mod quantity;
pub mod unit;
pub mod value;
pub(crate) mod vif;
pub mod vife;

use serde::{Deserialize, Serialize};

pub use date::{Date, DateTime, Recurring, TimeOfDay};
pub use quantity::Quantity;
pub use unit::Unit;
pub use value::{ByteOrder, Invalid, RawData, Text, Value};
pub use vif::Scale;
pub use vife::{Modifier, Modifiers};

use crate::DecodeError;
use crate::app::FixedData;
use crate::parse::{Fail, FailKind, PResult, byte, bytes};
use date::When;
use value::{bcd_value, lsb_array, sign_extend, uint_le, var_bcd_value};
use vif::{Class, VifInfo};

/// The most DIFE (and VIFE) a record may have (EN 13757-3:2013 6.3.1 and 6.4.1).
pub const MAX_EXTENSIONS: usize = 10;

/// How records that break the rules are handled.
///
/// The default is [`DecodeMode::Lenient`], which returns every record that can be delimited:
///
/// - a record whose VIF is an extension-table code (0x7B or 0x7D) with the extension bit
///   clear, so with no VIFE naming the table entry, comes out as a record of
///   [`Quantity::Unknown`] with its raw (unscaled) value and the VIF in
///   [`Record::vif`] (`VifTable::Primary(0x7B)` / `(0x7D)`); libmbus delimits such a record
///   by its DIF and VIF in the same way and reports its unit as unknown;
/// - a record that can be delimited but breaks a limit of EN 13757-3 (more than 10 DIFE or
///   VIFE) is an `Err` naming its offset, and the records after it are still read;
/// - damage after which no record boundary is known (truncation, a reserved DIF or LVAR)
///   is an `Err` that ends the records; the records before it stand.
///
/// [`DecodeMode::Strict`] ends the records at the first record that breaks a rule,
/// including the extension-table VIF without VIFE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DecodeMode {
    /// Every record that can be delimited; each bad one is its own error.
    #[default]
    Lenient,
    /// The first record that breaks a rule ends the records with its error.
    Strict,
}

/// The function of a record: the DIF's function field, or the special functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Instantaneous value (function field 00).
    Instantaneous,
    /// Maximum value (01).
    Maximum,
    /// Minimum value (10).
    Minimum,
    /// Value during error state (11).
    Error,
    /// Manufacturer-specific data structure to the end of the user data (DIF 0x0F).
    ManufacturerSpecific,
    /// Manufacturer-specific data, and more records follow in the next telegram (DIF 0x1F).
    MoreRecordsFollow,
}

impl Function {
    /// The function field (bits 4-5) of a DIF.
    pub const fn from_dif(dif: u8) -> Function {
        match (dif >> 4) & 3 {
            0 => Function::Instantaneous,
            1 => Function::Maximum,
            2 => Function::Minimum,
            _ => Function::Error,
        }
    }

    /// The stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Function::Instantaneous => "instantaneous",
            Function::Maximum => "maximum",
            Function::Minimum => "minimum",
            Function::Error => "error",
            Function::ManufacturerSpecific => "manufacturer_specific",
            Function::MoreRecordsFollow => "more_records_follow",
        }
    }
}

/// The data field (low four bits) of a DIF: how the data is coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataField {
    /// 0x0: no data.
    None,
    /// 0x1, 0x2, 0x3, 0x4, 0x6, 0x7: a type B integer of this many bytes (1, 2, 3, 4, 6, 8).
    Integer(u8),
    /// 0x5: 32-bit real.
    Real32,
    /// 0x8: selection for readout (no data).
    Selection,
    /// 0x9, 0xA, 0xB, 0xC, 0xE: BCD of this many digits (2, 4, 6, 8, 12).
    Bcd(u8),
    /// 0xD: variable length, the first data byte (LVAR) tells the kind and length.
    Variable,
    /// 0xF: special function (manufacturer data, more records follow, filler, readout).
    Special,
}

impl DataField {
    /// The data field of a DIF.
    pub const fn from_dif(dif: u8) -> DataField {
        match dif & 0x0F {
            0x0 => DataField::None,
            0x1 => DataField::Integer(1),
            0x2 => DataField::Integer(2),
            0x3 => DataField::Integer(3),
            0x4 => DataField::Integer(4),
            0x5 => DataField::Real32,
            0x6 => DataField::Integer(6),
            0x7 => DataField::Integer(8),
            0x8 => DataField::Selection,
            0x9 => DataField::Bcd(2),
            0xA => DataField::Bcd(4),
            0xB => DataField::Bcd(6),
            0xC => DataField::Bcd(8),
            0xD => DataField::Variable,
            0xE => DataField::Bcd(12),
            _ => DataField::Special,
        }
    }

    /// The data field code (0x0-0xF).
    pub const fn code(self) -> u8 {
        match self {
            DataField::None => 0x0,
            DataField::Integer(1) => 0x1,
            DataField::Integer(2) => 0x2,
            DataField::Integer(3) => 0x3,
            DataField::Integer(4) => 0x4,
            DataField::Integer(6) => 0x6,
            DataField::Integer(_) => 0x7,
            DataField::Real32 => 0x5,
            DataField::Selection => 0x8,
            DataField::Bcd(2) => 0x9,
            DataField::Bcd(4) => 0xA,
            DataField::Bcd(6) => 0xB,
            DataField::Bcd(8) => 0xC,
            DataField::Bcd(_) => 0xE,
            DataField::Variable => 0xD,
            DataField::Special => 0xF,
        }
    }

    /// The length of the data in bytes, for fixed-length fields.
    pub const fn data_len(self) -> Option<usize> {
        match self {
            DataField::None | DataField::Selection => Some(0),
            DataField::Integer(n) => Some(n as usize),
            DataField::Real32 => Some(4),
            DataField::Bcd(d) => Some(d as usize / 2),
            DataField::Variable | DataField::Special => None,
        }
    }

    const fn what(self) -> &'static str {
        match self {
            DataField::Integer(1) => "8-bit integer data",
            DataField::Integer(2) => "16-bit integer data",
            DataField::Integer(3) => "24-bit integer data",
            DataField::Integer(4) => "32-bit integer data",
            DataField::Integer(6) => "48-bit integer data",
            DataField::Integer(_) => "64-bit integer data",
            DataField::Real32 => "32-bit real data",
            DataField::Bcd(2) => "2-digit BCD data",
            DataField::Bcd(4) => "4-digit BCD data",
            DataField::Bcd(6) => "6-digit BCD data",
            DataField::Bcd(8) => "8-digit BCD data",
            DataField::Bcd(_) => "12-digit BCD data",
            _ => "data",
        }
    }
}

/// Where a record's VIF comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VifTable {
    /// No VIF (special-function DIF records).
    None,
    /// The primary table; the code is the VIF without extension bit (including 0x7C plain
    /// text, 0x7E any VIF and 0x7F manufacturer-specific).
    Primary(u8),
    /// The main extension table after VIF 0xFD; the code is the first VIFE without extension
    /// bit.
    Fd(u8),
    /// The alternate extension table after VIF 0xFB.
    Fb(u8),
    /// A unit code of the fixed data structure.
    Fixed(u8),
}

/// One data record, borrowed from its frame.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// From the DIF to the end of the data.
    bytes: &'a [u8],
    storage: u64,
    offset: u32,
    tariff: u32,
    subunit: u16,
    /// Length of the DIB and VIB.
    head_len: u16,
    /// Start of the data (after the LVAR byte of variable-length data).
    data_start: u16,
    vifes_start: u16,
    text_start: u16,
    text_len: u8,
    vifes_len: u8,
    dif: u8,
    lvar: u8,
    function: Function,
    field: DataField,
    table: VifTable,
    order: ByteOrder,
    info: VifInfo,
}

impl<'a> Record<'a> {
    /// Offset of the record's first byte (its DIF) in the frame.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// The record's DIB and VIB bytes as transmitted (DIF, DIFE, VIF, plain text, VIFE).
    /// Empty for the counters of the fixed data structure.
    pub fn header_bytes(&self) -> &'a [u8] {
        &self.bytes[..usize::from(self.head_len)]
    }

    /// The DIF.
    pub fn dif(&self) -> u8 {
        self.dif
    }

    /// The function.
    pub fn function(&self) -> Function {
        self.function
    }

    /// The storage number (DIF bit 6 and four bits of each DIFE).
    pub fn storage(&self) -> u64 {
        self.storage
    }

    /// The tariff (two bits of each DIFE).
    pub fn tariff(&self) -> u32 {
        self.tariff
    }

    /// The subunit (one bit of each DIFE; libmbus calls it "device").
    pub fn subunit(&self) -> u16 {
        self.subunit
    }

    /// The data field of the DIF.
    pub fn data_field(&self) -> DataField {
        self.field
    }

    /// The LVAR byte of a variable-length data field (0 otherwise).
    pub fn lvar(&self) -> u8 {
        self.lvar
    }

    /// The table and code of the VIF.
    pub fn vif(&self) -> VifTable {
        self.table
    }

    /// The unit text of a plain-text VIF (0x7C/0xFC).
    pub fn vif_text(&self) -> Option<Text<'a>> {
        match self.table {
            VifTable::Primary(0x7C) => {
                let start = usize::from(self.text_start);
                Some(Text::new(
                    &self.bytes[start..start + usize::from(self.text_len)],
                    self.order,
                ))
            }
            _ => None,
        }
    }

    /// The combinable VIFE bytes as transmitted (after the extension-table byte of 0xFB /
    /// 0xFD VIFs); manufacturer-specific for a manufacturer-specific VIF.
    pub fn vife_bytes(&self) -> &'a [u8] {
        let start = usize::from(self.vifes_start);
        &self.bytes[start..start + usize::from(self.vifes_len)]
    }

    /// The combinable VIFE, decoded (none for a manufacturer-specific VIF, whose VIFE are
    /// manufacturer-specific).
    pub fn modifiers(&self) -> Modifiers<'a> {
        match self.table {
            VifTable::Primary(0x7F) => Modifiers::new(&[]),
            _ => Modifiers::new(self.vife_bytes()),
        }
    }

    /// What the record measures.
    pub fn quantity(&self) -> Quantity {
        self.info.quantity
    }

    /// The base unit of [`Record::value`].
    pub fn unit(&self) -> Unit {
        self.info.unit
    }

    /// How raw numbers are scaled to the base unit.
    pub fn scale(&self) -> Scale {
        self.info.scale
    }

    /// The data bytes as transmitted (after the LVAR byte for variable-length data).
    pub fn data(&self) -> &'a [u8] {
        &self.bytes[usize::from(self.data_start)..]
    }

    /// The byte order of the data.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The data decoded per the data field, without VIF scaling.
    pub fn raw(&self) -> RawData<'a> {
        let d = self.data();
        match self.field {
            DataField::None => RawData::None,
            DataField::Selection => RawData::Selection,
            DataField::Special => RawData::Manufacturer(d),
            DataField::Integer(n) => RawData::Integer {
                size: n,
                value: sign_extend(uint_le(d, self.order), d.len()),
            },
            DataField::Real32 => RawData::Real(f32::from_bits(uint_le(d, self.order) as u32)),
            DataField::Bcd(digits) => RawData::Bcd {
                digits,
                raw: uint_le(d, self.order),
            },
            DataField::Variable => match self.lvar {
                0x00..=0xBF => RawData::Text(Text::new(d, self.order)),
                0xC0..=0xCF => RawData::VarBcd {
                    negative: false,
                    bytes: d,
                },
                0xD0..=0xDF => RawData::VarBcd {
                    negative: true,
                    bytes: d,
                },
                _ => RawData::Binary(d),
            },
        }
    }

    /// The value, scaled to [`Record::unit`]: numbers as `f64`, time points as dates and
    /// times (types G, J, F and I by data size), variable-length text as [`Text`],
    /// manufacturer data as bytes.
    #[inline]
    pub fn value(&self) -> Value<'a> {
        let d = self.data();
        let info = &self.info;
        match self.field {
            DataField::None | DataField::Selection => Value::Empty,
            DataField::Special => Value::Bytes(d),
            DataField::Integer(n) => {
                let u = uint_le(d, self.order);
                match info.class {
                    Class::Number => {
                        Value::Number(info.scale.apply(sign_extend(u, d.len()) as f64))
                    }
                    Class::Unsigned => Value::Number(info.scale.apply(u as f64)),
                    Class::TimePoint => time_point(d, self.order)
                        .unwrap_or_else(|| Value::Number(sign_extend(u, usize::from(n)) as f64)),
                    Class::FixedTime | Class::FixedDate => fixed_time(info.class, u),
                }
            }
            DataField::Real32 => Value::Number(
                info.scale
                    .apply(f64::from(f32::from_bits(uint_le(d, self.order) as u32))),
            ),
            DataField::Bcd(digits) => match bcd_value(uint_le(d, self.order), u32::from(digits)) {
                Ok(v) => match info.class {
                    Class::FixedTime | Class::FixedDate if v >= 0 => {
                        fixed_time(info.class, v as u64)
                    }
                    _ => Value::Number(info.scale.apply(v as f64)),
                },
                Err(e) => Value::Invalid(e),
            },
            DataField::Variable => match self.lvar {
                0x00..=0xBF => Value::Text(Text::new(d, self.order)),
                0xC0..=0xDF => match var_bcd_value(d, self.lvar >= 0xD0, self.order) {
                    Ok(v) => Value::Number(info.scale.apply(v)),
                    Err(e) => Value::Invalid(e),
                },
                _ if d.len() <= 8 => {
                    let u = uint_le(d, self.order);
                    Value::Number(info.scale.apply(match info.class {
                        Class::Unsigned => u as f64,
                        _ => sign_extend(u, d.len()) as f64,
                    }))
                }
                _ => Value::Bytes(d),
            },
        }
    }
}

/// A time point by data size: type G (2 bytes), J (3), F (4), I (6).
fn time_point<'a>(d: &[u8], order: ByteOrder) -> Option<Value<'a>> {
    Some(match d.len() {
        2 => match date::decode_g_when(lsb_array(d, order)) {
            Some(When::At(v)) => Value::Date(v),
            Some(When::Every(r)) => Value::Recurring(r),
            None => Value::Invalid(Invalid::DateTime),
        },
        3 => date::decode_j(lsb_array(d, order))
            .map_or(Value::Invalid(Invalid::DateTime), Value::Time),
        4 => match date::decode_f_when(lsb_array(d, order)) {
            Some(When::At(v)) => Value::DateTime(v),
            Some(When::Every(r)) => Value::Recurring(r),
            None => Value::Invalid(Invalid::DateTime),
        },
        6 => date::decode_i(lsb_array(d, order))
            .map_or(Value::Invalid(Invalid::DateTime), Value::DateTime),
        _ => return None,
    })
}

/// Fixed data structure time (digits hhmmss) and date (digits DDMMYY).
fn fixed_time<'a>(class: Class, n: u64) -> Value<'a> {
    let (a, b, c) = (
        ((n / 10_000) % 100) as u8,
        ((n / 100) % 100) as u8,
        (n % 100) as u8,
    );
    let v = if class == Class::FixedTime {
        TimeOfDay::new(a, b, c).map(Value::Time)
    } else {
        Date::new(date::century(c), b, a).map(Value::Date)
    };
    v.unwrap_or(Value::Invalid(Invalid::DateTime))
}

/// The number of data bytes for an LVAR byte, if it is not reserved.
pub(crate) const fn lvar_len(lvar: u8) -> Option<usize> {
    Some(match lvar {
        0x00..=0xBF => lvar as usize,
        0xC0..=0xCF => (lvar - 0xC0) as usize,
        0xD0..=0xDF => (lvar - 0xD0) as usize,
        0xE0..=0xEF => (lvar - 0xE0) as usize,
        0xF0..=0xF4 => 4 * (lvar - 0xEC) as usize,
        0xF5 => 48,
        0xF6 => 64,
        _ => return None,
    })
}

const NO_VIF: VifInfo = VifInfo {
    quantity: Quantity::ManufacturerData,
    unit: Unit::None,
    scale: Scale::ONE,
    class: Class::Number,
};

/// An extension-table VIF without its VIFE: the quantity is unknown, the value raw.
const UNKNOWN_VIF: VifInfo = VifInfo {
    quantity: Quantity::Unknown,
    unit: Unit::None,
    scale: Scale::ONE,
    class: Class::Number,
};

fn special(
    bytes: &[u8],
    dif: u8,
    function: Function,
    field: DataField,
    order: ByteOrder,
) -> Record<'_> {
    Record {
        bytes,
        storage: 0,
        offset: 0,
        tariff: 0,
        subunit: 0,
        head_len: 1,
        data_start: 1,
        vifes_start: 1,
        text_start: 1,
        text_len: 0,
        vifes_len: 0,
        dif,
        lvar: 0,
        function,
        field,
        table: VifTable::None,
        order,
        info: NO_VIF,
    }
}

/// Parses one record (or a filler byte).
#[inline(always)]
///
/// `Ok(None)` is a one-byte idle filler; a record's length is that of its `bytes`.
fn record(
    input: &[u8],
    order: ByteOrder,
    lenient: bool,
    max_extensions: usize,
) -> Result<Option<Record<'_>>, Fail<'_>> {
    match record_nom(input, order, lenient, max_extensions) {
        Ok((_, r)) => Ok(r),
        Err(nom::Err::Error(f) | nom::Err::Failure(f)) => Err(f),
        Err(nom::Err::Incomplete(_)) => Err(Fail {
            at: input,
            kind: FailKind::Nom,
        }),
    }
}

/// A record with a special-function DIF (`dif & 0x0F == 0x0F`): filler, manufacturer
/// data to the end of the frame, global readout request; `i` follows the DIF.
#[inline(always)]
fn special_record<'a>(
    input: &'a [u8],
    i: &'a [u8],
    dif: u8,
    order: ByteOrder,
) -> PResult<'a, Option<Record<'a>>> {
    match dif {
        0x2F => Ok((i, None)),
        0x0F | 0x1F => {
            let function = if dif == 0x0F {
                Function::ManufacturerSpecific
            } else {
                Function::MoreRecordsFollow
            };
            Ok((
                &i[i.len()..],
                Some(special(input, dif, function, DataField::Special, order)),
            ))
        }
        0x7F => {
            let mut r = special(
                &input[..1],
                dif,
                Function::Instantaneous,
                DataField::None,
                order,
            );
            r.info.quantity = Quantity::GlobalReadoutRequest;
            Ok((i, Some(r)))
        }
        _ => Err(Fail::new(input, FailKind::ReservedDif { found: dif })),
    }
}

/// The DIFE chain after `dif`: storage number, tariff and subunit (`i` follows the DIF).
#[inline(always)]
fn dib(i: &[u8], dif: u8, max_extensions: usize) -> PResult<'_, (u64, u32, u16)> {
    let mut i = i;
    let mut storage = u64::from((dif >> 6) & 1);
    let mut tariff = 0u32;
    let mut subunit = 0u16;
    let mut ext = dif & 0x80 != 0;
    let mut n = 0u32;
    while ext {
        let (rest, dife) = byte("DIFE")(i)?;
        if n as usize == max_extensions {
            return Err(Fail::new(i, FailKind::TooManyDife { found: dife }));
        }
        // only the first MAX_EXTENSIONS DIFE fit the fields (more are read only to find
        // the end of a record that is reported as an error)
        if (n as usize) < MAX_EXTENSIONS {
            storage |= u64::from(dife & 0x0F) << (1 + 4 * n);
            tariff |= u32::from((dife >> 4) & 0x03) << (2 * n);
            subunit |= u16::from((dife >> 6) & 0x01) << n;
        }
        ext = dife & 0x80 != 0;
        n += 1;
        i = rest;
    }
    Ok((i, (storage, tariff, subunit)))
}

/// The data field after the VIB (`i`), with its LVAR for variable-length data: the rest,
/// the LVAR (0 for fixed-length data) and where the data starts in the record.
#[inline(always)]
fn data(i: &[u8], field: DataField, head_len: usize) -> PResult<'_, (u8, usize)> {
    if field == DataField::Variable {
        let (rest, lvar) = byte("LVAR")(i)?;
        let Some(len) = lvar_len(lvar) else {
            return Err(Fail::new(i, FailKind::ReservedLvar { found: lvar }));
        };
        let what = match lvar {
            0x00..=0xBF => "variable-length text",
            0xC0..=0xDF => "variable-length BCD",
            _ => "variable-length binary",
        };
        let (rest, _) = bytes(what, len)(rest)?;
        Ok((rest, (lvar, head_len + 1)))
    } else {
        let len = field.data_len().unwrap_or(0);
        let (rest, _) = bytes(field.what(), len)(i)?;
        Ok((rest, (0, head_len)))
    }
}

#[inline(always)]
fn record_nom(
    input: &[u8],
    order: ByteOrder,
    lenient: bool,
    max_extensions: usize,
) -> PResult<'_, Option<Record<'_>>> {
    let (i, dif) = byte("DIF")(input)?;
    if dif & 0x0F == 0x0F {
        return special_record(input, i, dif, order);
    }
    let (mut i, (storage, tariff, subunit)) = dib(i, dif, max_extensions)?;

    // VIB
    let (rest, vif) = byte("VIF")(i)?;
    let vif_at = i;
    i = rest;
    let code = vif & 0x7F;
    let mut ext = vif & 0x80 != 0;
    let mut count = 0usize;
    let mut text_at = 0usize;
    let mut text_len = 0u8;
    let mut unknown = false;
    let table = match code {
        0x7B | 0x7D if !ext && lenient => {
            // no VIFE names the extension-table entry: the record is delimited by its DIF,
            // its quantity is unknown and its value raw
            unknown = true;
            VifTable::Primary(code)
        }
        0x7B | 0x7D => {
            if !ext {
                return Err(Fail::new(
                    vif_at,
                    FailKind::InvalidVif {
                        expected: "the extension bit on an extension-table VIF (0xFB or 0xFD)",
                        found: vif,
                    },
                ));
            }
            let (rest, vife) = byte("VIFE (extension table code)")(i)?;
            i = rest;
            count = 1;
            ext = vife & 0x80 != 0;
            if code == 0x7B {
                VifTable::Fb(vife & 0x7F)
            } else {
                VifTable::Fd(vife & 0x7F)
            }
        }
        0x7C => {
            let (rest, len) = byte("plain-text VIF length")(i)?;
            text_at = input.len() - rest.len();
            let (rest, _) = bytes("plain-text VIF", usize::from(len))(rest)?;
            text_len = len;
            i = rest;
            VifTable::Primary(code)
        }
        _ => VifTable::Primary(code),
    };
    let vifes_start = i;
    while ext {
        let (rest, vife) = byte("VIFE")(i)?;
        if count == max_extensions {
            return Err(Fail::new(i, FailKind::TooManyVife { found: vife }));
        }
        count += 1;
        ext = vife & 0x80 != 0;
        i = rest;
    }
    let vifes_len = vifes_start.len() - i.len();
    let vifes = &vifes_start[..vifes_len];
    let mut info = match table {
        _ if unknown => UNKNOWN_VIF,
        VifTable::Fd(c) => vif::fd(c),
        VifTable::Fb(c) => vif::fb(c),
        _ => vif::primary(code),
    };
    if vifes_len != 0 && table != VifTable::Primary(0x7F) {
        vif::apply_vifes(&mut info, vifes);
    }
    let head_len = input.len() - i.len();

    let field = DataField::from_dif(dif);
    let (i, (lvar, data_start)) = data(i, field, head_len)?;

    Ok((
        i,
        Some(Record {
            bytes: &input[..input.len() - i.len()],
            storage,
            offset: 0,
            tariff,
            subunit,
            // a record is at most 1 + 10 + 1 + 1 + 255 + 10 + 1 + 255 bytes
            head_len: head_len as u16,
            data_start: data_start as u16,
            vifes_start: (input.len() - vifes_start.len()) as u16,
            text_start: text_at as u16,
            text_len,
            vifes_len: vifes_len as u8,
            dif,
            lvar,
            function: Function::from_dif(dif),
            field,
            table,
            order,
            info,
        }),
    ))
}

/// The two counters of a fixed data structure as records.
fn fixed_records<'a>(fixed: &FixedData<'a>) -> [Record<'a>; 2] {
    let (u1, u2) = fixed.unit_codes();
    let stored = u64::from(fixed.stored());
    let field = if fixed.binary_counters() {
        DataField::Integer(4)
    } else {
        DataField::Bcd(8)
    };
    let make = |index: usize, code: u8, storage: u64| Record {
        bytes: fixed.counter_bytes(index),
        storage,
        offset: fixed.counter_offset(index) as u32,
        tariff: 0,
        subunit: 0,
        head_len: 0,
        data_start: 0,
        vifes_start: 0,
        text_start: 0,
        text_len: 0,
        vifes_len: 0,
        dif: field.code(),
        lvar: 0,
        function: Function::Instantaneous,
        field,
        table: VifTable::Fixed(code),
        order: fixed.order,
        info: vif::fixed(code),
    };
    let first = make(0, u1, stored);
    let second = if u2 == 0x3E {
        make(1, u1, 1)
    } else {
        make(1, u2, stored)
    };
    [first, second]
}

/// An iterator over the data records of a frame, in frame order, without allocating.
///
/// Idle fillers (DIF 0x2F) are skipped. How a bad record is reported depends on the
/// [`DecodeMode`]: in [`DecodeMode::Strict`] the first error ends the iteration; in
/// [`DecodeMode::Lenient`] (the default) a bad record that can be delimited is an `Err`
/// and the iteration goes on after it, and only damage that hides the next record
/// boundary ends it.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    inner: Inner<'a>,
    more_records_follow: bool,
    mode: DecodeMode,
}

#[derive(Clone, Debug)]
enum Inner<'a> {
    Empty,
    Variable {
        rest: &'a [u8],
        offset: usize,
        order: ByteOrder,
    },
    Fixed {
        fixed: FixedData<'a>,
        next: u8,
    },
}

impl<'a> Records<'a> {
    pub(crate) fn empty() -> Self {
        Records {
            inner: Inner::Empty,
            more_records_follow: false,
            mode: DecodeMode::default(),
        }
    }

    pub(crate) fn variable(
        bytes: &'a [u8],
        offset: usize,
        order: ByteOrder,
        mode: DecodeMode,
    ) -> Self {
        Records {
            inner: Inner::Variable {
                rest: bytes,
                offset,
                order,
            },
            more_records_follow: false,
            mode,
        }
    }

    pub(crate) fn fixed(fixed: &FixedData<'a>) -> Self {
        Records {
            inner: Inner::Fixed {
                fixed: *fixed,
                next: 0,
            },
            more_records_follow: false,
            mode: DecodeMode::default(),
        }
    }

    /// The decoding mode.
    pub fn mode(&self) -> DecodeMode {
        self.mode
    }

    /// Whether a "more records follow" DIF (0x1F) has been read so far.
    pub fn more_records_follow(&self) -> bool {
        self.more_records_follow
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Empty => None,
            Inner::Fixed { fixed, next } => {
                let r = fixed_records(fixed).get(usize::from(*next)).copied();
                *next = next.saturating_add(1);
                r.map(Ok)
            }
            Inner::Variable {
                rest,
                offset,
                order,
            } => loop {
                if rest.is_empty() {
                    return None;
                }
                let input = *rest;
                let lenient = self.mode == DecodeMode::Lenient;
                match record(input, *order, lenient, MAX_EXTENSIONS) {
                    Ok(None) => {
                        *offset += 1;
                        *rest = &input[1..];
                    }
                    Ok(Some(mut r)) => {
                        let len = r.bytes.len();
                        r.offset = *offset as u32;
                        *offset += len;
                        *rest = &input[len..];
                        if r.function == Function::MoreRecordsFollow {
                            self.more_records_follow = true;
                        }
                        return Some(Ok(r));
                    }
                    Err(f) => {
                        let at = *offset;
                        let delimitable = matches!(
                            f.kind,
                            FailKind::TooManyDife { .. } | FailKind::TooManyVife { .. }
                        );
                        let err = f.into_error(input, at);
                        // lenient: a record that only breaks the extension limit can still
                        // be delimited; report it and go on after it
                        if lenient
                            && delimitable
                            && let Ok(Some(r)) = record(input, *order, true, usize::MAX)
                        {
                            let len = r.bytes.len();
                            *offset += len;
                            *rest = &input[len..];
                            return Some(Err(err));
                        }
                        self.inner = Inner::Empty;
                        return Some(Err(err));
                    }
                }
            },
        }
    }
}
