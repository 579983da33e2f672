//! Encoding: frames and records, for simulators and tests.
//!
//! The frame builders ([`short_frame`], [`control_frame`], [`long_frame`]) compute lengths and
//! checksums. A [`Telegram`] is a whole RSP_UD (or SND_UD) long frame built from a header and
//! [`RecordSpec`]s. A `RecordSpec` says what a record holds as transmitted (function, storage
//! number, tariff, subunit, VIF, combinable VIFE, raw data), so that decoding what was encoded
//! gives it back: [`RecordSpec::from_record`] is the inverse of [`RecordSpec::encode_into`].
//!
//! ```
//! use mbus_meters::encode::{DataSpec, HeaderSpec, LongHeader, RecordSpec, Telegram, VifSpec};
//! use mbus_meters::{Address, Frame, Id, Manufacturer, Medium, Status, Value};
//!
//! let header = LongHeader {
//!     id: Id::from_decimal(12345678).unwrap(),
//!     manufacturer: Manufacturer::from_letters("KAM").unwrap(),
//!     version: 1,
//!     medium: Medium::HEAT,
//!     access_number: 7,
//!     status: Status(0),
//!     signature: 0,
//! };
//! // 1234 kWh (VIF 0x06: 10^3 Wh) as 8-digit BCD
//! let energy = RecordSpec::new(VifSpec::Primary(0x06), DataSpec::bcd(8, 1234).unwrap());
//! let telegram = Telegram::rsp_ud(Address(5), HeaderSpec::Long(header), vec![energy.clone()]);
//! let bytes = telegram.encode().unwrap();
//!
//! let frame = Frame::parse(&bytes).unwrap();
//! let record = frame.records().next().unwrap().unwrap();
//! assert_eq!(record.value(), Value::Number(1_234_000.0));
//! assert_eq!(RecordSpec::from_record(&record).unwrap(), energy);
//! assert_eq!(Telegram::from_frame(&frame).unwrap(), telegram);
//! ```

use serde::{Deserialize, Serialize};

use crate::app::{Application, Ci, Header, Id, Manufacturer, Medium, SecondaryAddress, Status};
use crate::link::{Address, Control, LONG_START, SHORT_START, STOP, checksum};
use crate::record::{
    ByteOrder, DataField, Date, DateTime, Function, MAX_EXTENSIONS, RawData, Record, TimeOfDay,
    VifTable,
};
use crate::{Error, Frame};

/// The largest user data of a long frame: 255 (L field) less C, A and CI.
pub const MAX_USER_DATA: usize = 252;

fn encode_error(what: &'static str, expected: &'static str, found: impl ToString) -> Error {
    Error::Encode {
        what,
        expected,
        found: found.to_string(),
    }
}

/// The single character acknowledgement `E5`.
pub const fn ack() -> [u8; 1] {
    [crate::link::ACK]
}

/// A short frame `10 C A CS 16` (SND_NKE, REQ_UD1, REQ_UD2).
///
/// ```
/// use mbus_meters::{encode, Address, Control};
/// assert_eq!(encode::short_frame(Control::req_ud2(false), Address(1)), [0x10, 0x5B, 0x01, 0x5C, 0x16]);
/// ```
pub const fn short_frame(control: Control, address: Address) -> [u8; 5] {
    [
        SHORT_START,
        control.0,
        address.0,
        control.0.wrapping_add(address.0),
        STOP,
    ]
}

/// A control frame `68 03 03 68 C A CI CS 16` (a long frame without user data).
pub const fn control_frame(control: Control, address: Address, ci: u8) -> [u8; 9] {
    let cs = control.0.wrapping_add(address.0).wrapping_add(ci);
    [
        LONG_START, 3, 3, LONG_START, control.0, address.0, ci, cs, STOP,
    ]
}

/// A long frame with `user_data` after the CI field (at most [`MAX_USER_DATA`] bytes).
pub fn long_frame(
    control: Control,
    address: Address,
    ci: u8,
    user_data: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(user_data.len() + 9);
    write_long_frame(&mut out, control, address, ci, user_data)?;
    Ok(out)
}

/// Appends a long frame to `out`.
pub fn write_long_frame(
    out: &mut Vec<u8>,
    control: Control,
    address: Address,
    ci: u8,
    user_data: &[u8],
) -> Result<(), Error> {
    if user_data.len() > MAX_USER_DATA {
        return Err(encode_error(
            "long frame",
            "at most 252 bytes of user data",
            user_data.len(),
        ));
    }
    let l = (user_data.len() + 3) as u8;
    out.extend_from_slice(&[LONG_START, l, l, LONG_START, control.0, address.0, ci]);
    out.extend_from_slice(user_data);
    let body_start = out.len() - user_data.len() - 3;
    let cs = checksum(&out[body_start..]);
    out.extend_from_slice(&[cs, STOP]);
    Ok(())
}

/// The selection telegram (SND_UD to address 253, CI 0x52) for a (wildcard) secondary address.
pub fn select_frame(fcb: bool, address: &SecondaryAddress) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    // eight bytes of user data always fit
    let _ = write_long_frame(
        &mut out,
        Control::snd_ud(fcb),
        Address::SELECTED,
        Ci::SLAVE_SELECT.0,
        &address.to_bytes(),
    );
    out
}

/// The long data header of a response (CI 0x72).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LongHeader {
    /// Identification number.
    pub id: Id,
    /// Manufacturer.
    pub manufacturer: Manufacturer,
    /// Version.
    pub version: u8,
    /// Medium.
    pub medium: Medium,
    /// Access number.
    pub access_number: u8,
    /// Status byte.
    pub status: Status,
    /// Signature / configuration word.
    pub signature: u16,
}

impl LongHeader {
    /// The secondary address of a meter with this header.
    pub fn secondary_address(&self) -> SecondaryAddress {
        SecondaryAddress {
            id: self.id,
            manufacturer: self.manufacturer,
            version: self.version,
            medium: self.medium,
        }
    }
}

/// The data header of a telegram, which also chooses the CI field of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderSpec {
    /// No header: CI 0x78 for a response, 0x51 for a SND_UD.
    None,
    /// Short header (CI 0x7A).
    Short {
        /// Access number.
        access_number: u8,
        /// Status byte.
        status: Status,
        /// Signature / configuration word.
        signature: u16,
    },
    /// Long header (CI 0x72).
    Long(LongHeader),
}

impl HeaderSpec {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            HeaderSpec::None => {}
            HeaderSpec::Short {
                access_number,
                status,
                signature,
            } => {
                out.push(*access_number);
                out.push(status.0);
                out.extend_from_slice(&signature.to_le_bytes());
            }
            HeaderSpec::Long(h) => {
                out.extend_from_slice(&h.id.0.to_le_bytes());
                out.extend_from_slice(&h.manufacturer.0.to_le_bytes());
                out.extend_from_slice(&[h.version, h.medium.0, h.access_number, h.status.0]);
                out.extend_from_slice(&h.signature.to_le_bytes());
            }
        }
    }

    fn from_header(h: &Header) -> HeaderSpec {
        match (h.id, h.manufacturer, h.version, h.medium) {
            (Some(id), Some(manufacturer), Some(version), Some(medium)) => {
                HeaderSpec::Long(LongHeader {
                    id,
                    manufacturer,
                    version,
                    medium,
                    access_number: h.access_number,
                    status: h.status,
                    signature: h.signature.unwrap_or(0),
                })
            }
            _ => HeaderSpec::Short {
                access_number: h.access_number,
                status: h.status,
                signature: h.signature.unwrap_or(0),
            },
        }
    }
}

/// The VIF of a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VifSpec {
    /// A primary-table code 0x00-0x7F other than 0x7B, 0x7C and 0x7D (0x7E is "any VIF",
    /// 0x7F manufacturer-specific).
    Primary(u8),
    /// A code of the main extension table (VIF 0xFD).
    Fd(u8),
    /// A code of the alternate extension table (VIF 0xFB).
    Fb(u8),
    /// A plain-text unit (VIF 0x7C), ISO 8859-1 characters.
    PlainText(String),
}

/// The data of a record as transmitted (see [`RawData`], its borrowed counterpart).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataSpec {
    /// No data (data field 0x0).
    None,
    /// Selection for readout (0x8).
    Selection,
    /// A type B integer of `size` bytes (1, 2, 3, 4, 6 or 8). Values from the signed minimum to
    /// the unsigned maximum of the size are accepted; decoding gives back the sign-extended
    /// value.
    Integer {
        /// Size in bytes.
        size: u8,
        /// The value.
        value: i64,
    },
    /// A 32-bit real.
    Real(f32),
    /// BCD of `digits` digits (2, 4, 6, 8 or 12), the nibbles in `raw` least significant first
    /// (so error digits A-E and a sign digit F can be sent). See [`DataSpec::bcd`].
    Bcd {
        /// Number of digits.
        digits: u8,
        /// The nibbles as an integer.
        raw: u64,
    },
    /// Variable-length text, at most 191 ISO 8859-1 characters.
    Text(String),
    /// Variable-length BCD, at most 15 bytes, least significant byte first.
    VarBcd {
        /// Negative (LVAR 0xD0-0xDF).
        negative: bool,
        /// The BCD bytes.
        bytes: Vec<u8>,
    },
    /// Variable-length binary number: 0-15, 16, 20, 24, 28, 32, 48 or 64 bytes, least
    /// significant first.
    Binary(Vec<u8>),
    /// Manufacturer-specific data after DIF 0x0F / 0x1F.
    Manufacturer(Vec<u8>),
}

impl DataSpec {
    /// BCD of `digits` digits for a decimal value; negative values use the sign digit F and
    /// have one digit less.
    ///
    /// ```
    /// use mbus_meters::encode::DataSpec;
    /// assert_eq!(DataSpec::bcd(4, 1234).unwrap(), DataSpec::Bcd { digits: 4, raw: 0x1234 });
    /// assert_eq!(DataSpec::bcd(4, -123).unwrap(), DataSpec::Bcd { digits: 4, raw: 0xF123 });
    /// assert!(DataSpec::bcd(4, 12345).is_err());
    /// ```
    pub fn bcd(digits: u8, value: i64) -> Result<DataSpec, Error> {
        if !matches!(digits, 2 | 4 | 6 | 8 | 12) {
            return Err(encode_error("BCD", "2, 4, 6, 8 or 12 digits", digits));
        }
        let negative = value < 0;
        let room = u32::from(digits) - u32::from(negative);
        let mut n = value.unsigned_abs();
        if n >= 10u64.pow(room) {
            return Err(encode_error("BCD", "a value that fits the digits", value));
        }
        let mut raw = 0u64;
        for i in 0..room {
            raw |= (n % 10) << (4 * i);
            n /= 10;
        }
        if negative {
            raw |= 0xF << (4 * (u32::from(digits) - 1));
        }
        Ok(DataSpec::Bcd { digits, raw })
    }

    /// A date as a 16-bit type G value (years 1981..=2080).
    pub fn date(date: Date) -> Result<DataSpec, Error> {
        let b = date
            .to_type_g()
            .ok_or_else(|| encode_error("type G date", "a year from 1981 to 2080", date))?;
        Ok(DataSpec::Integer {
            size: 2,
            value: i64::from(i16::from_le_bytes(b)),
        })
    }

    /// A date and time as a 32-bit type F value (years 1981..=2299; seconds are dropped).
    pub fn date_time(dt: DateTime) -> Result<DataSpec, Error> {
        let b = dt
            .to_type_f()
            .ok_or_else(|| encode_error("type F date", "a year from 1981 to 2299", dt))?;
        Ok(DataSpec::Integer {
            size: 4,
            value: i64::from(i32::from_le_bytes(b)),
        })
    }

    /// A date and time as a 48-bit type I value (years 1981..=2080).
    pub fn date_time_i(dt: DateTime) -> Result<DataSpec, Error> {
        let b = dt
            .to_type_i()
            .ok_or_else(|| encode_error("type I date", "a year from 1981 to 2080", dt))?;
        let mut v = [0u8; 8];
        v[..6].copy_from_slice(&b);
        Ok(DataSpec::Integer {
            size: 6,
            value: crate::record::value::sign_extend(u64::from_le_bytes(v), 6),
        })
    }

    /// A time of day as a 24-bit type J value.
    pub fn time(t: TimeOfDay) -> DataSpec {
        let b = t.to_type_j();
        let v = u64::from(b[0]) | (u64::from(b[1]) << 8) | (u64::from(b[2]) << 16);
        DataSpec::Integer {
            size: 3,
            value: crate::record::value::sign_extend(v, 3),
        }
    }

    fn data_field(&self) -> DataField {
        match self {
            DataSpec::None => DataField::None,
            DataSpec::Selection => DataField::Selection,
            DataSpec::Integer { size, .. } => DataField::Integer(*size),
            DataSpec::Real(_) => DataField::Real32,
            DataSpec::Bcd { digits, .. } => DataField::Bcd(*digits),
            DataSpec::Text(_) | DataSpec::VarBcd { .. } | DataSpec::Binary(_) => {
                DataField::Variable
            }
            DataSpec::Manufacturer(_) => DataField::Special,
        }
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DataSpec::None | DataSpec::Selection => {}
            DataSpec::Integer { size, value } => {
                if !matches!(size, 1 | 2 | 3 | 4 | 6 | 8) {
                    return Err(encode_error("integer", "1, 2, 3, 4, 6 or 8 bytes", size));
                }
                let bits = 8 * u32::from(*size);
                if bits < 64 {
                    let min = -(1i64 << (bits - 1));
                    let max = (1i64 << bits) - 1;
                    if *value < min || *value > max {
                        return Err(encode_error("integer", "a value that fits its size", value));
                    }
                }
                out.extend_from_slice(&value.to_le_bytes()[..usize::from(*size)]);
            }
            DataSpec::Real(v) => out.extend_from_slice(&v.to_le_bytes()),
            DataSpec::Bcd { digits, raw } => {
                if !matches!(digits, 2 | 4 | 6 | 8 | 12) {
                    return Err(encode_error("BCD", "2, 4, 6, 8 or 12 digits", digits));
                }
                if u32::from(*digits) < 16 && *raw >> (4 * u32::from(*digits)) != 0 {
                    return Err(encode_error(
                        "BCD",
                        "nibbles that fit the digits",
                        format!("{raw:#X}"),
                    ));
                }
                out.extend_from_slice(&raw.to_le_bytes()[..usize::from(*digits / 2)]);
            }
            DataSpec::Text(text) => {
                let n = text.chars().count();
                if n > 0xBF {
                    return Err(encode_error("text", "at most 191 characters", n));
                }
                out.push(n as u8);
                write_latin1_reversed(out, text, "text")?;
            }
            DataSpec::VarBcd { negative, bytes } => {
                if bytes.len() > 15 {
                    return Err(encode_error(
                        "variable-length BCD",
                        "at most 15 bytes",
                        bytes.len(),
                    ));
                }
                out.push(if *negative { 0xD0 } else { 0xC0 } + bytes.len() as u8);
                out.extend_from_slice(bytes);
            }
            DataSpec::Binary(bytes) => {
                let lvar = match bytes.len() {
                    n @ 0..=15 => 0xE0 + n as u8,
                    n @ (16 | 20 | 24 | 28 | 32) => 0xEC + (n / 4) as u8,
                    48 => 0xF5,
                    64 => 0xF6,
                    n => {
                        return Err(encode_error(
                            "variable-length binary",
                            "0-15, 16, 20, 24, 28, 32, 48 or 64 bytes",
                            n,
                        ));
                    }
                };
                out.push(lvar);
                out.extend_from_slice(bytes);
            }
            DataSpec::Manufacturer(bytes) => out.extend_from_slice(bytes),
        }
        Ok(())
    }

    /// The data spec of decoded raw data (byte strings in LSB-first order).
    pub fn from_raw(raw: RawData<'_>, order: ByteOrder) -> DataSpec {
        let lsb = |b: &[u8]| {
            let mut v = b.to_vec();
            if order == ByteOrder::MsbFirst {
                v.reverse();
            }
            v
        };
        match raw {
            RawData::None => DataSpec::None,
            RawData::Selection => DataSpec::Selection,
            RawData::Integer { size, value } => DataSpec::Integer { size, value },
            RawData::Real(v) => DataSpec::Real(v),
            RawData::Bcd { digits, raw } => DataSpec::Bcd { digits, raw },
            RawData::Text(t) => DataSpec::Text(t.to_string()),
            RawData::VarBcd { negative, bytes } => DataSpec::VarBcd {
                negative,
                bytes: lsb(bytes),
            },
            RawData::Binary(b) => DataSpec::Binary(lsb(b)),
            RawData::Manufacturer(b) => DataSpec::Manufacturer(b.to_vec()),
        }
    }
}

fn write_latin1_reversed(out: &mut Vec<u8>, text: &str, what: &'static str) -> Result<(), Error> {
    let start = out.len();
    for c in text.chars().rev() {
        let b = u8::try_from(u32::from(c))
            .map_err(|_| encode_error(what, "ISO 8859-1 characters", format!("{c:?}")))?;
        out.push(b);
    }
    debug_assert!(out.len() >= start);
    Ok(())
}

/// One data record to encode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSpec {
    /// The function. [`Function::ManufacturerSpecific`] and [`Function::MoreRecordsFollow`]
    /// take [`DataSpec::Manufacturer`] data, no VIF, and end the records.
    pub function: Function,
    /// Storage number (below 2^41).
    pub storage: u64,
    /// Tariff (below 2^20).
    pub tariff: u32,
    /// Subunit (below 2^10).
    pub subunit: u16,
    /// The VIF; `None` only for the special functions (and, with [`DataSpec::None`] and an
    /// instantaneous function, the global readout request DIF 0x7F).
    pub vif: Option<VifSpec>,
    /// Combinable VIFE codes (or, after VIF 0x7F, manufacturer-specific ones), without the
    /// extension bit.
    pub vifes: Vec<u8>,
    /// The data.
    pub data: DataSpec,
}

impl RecordSpec {
    /// An instantaneous record, storage 0, tariff 0, subunit 0, no VIFE.
    pub fn new(vif: VifSpec, data: DataSpec) -> RecordSpec {
        RecordSpec {
            function: Function::Instantaneous,
            storage: 0,
            tariff: 0,
            subunit: 0,
            vif: Some(vif),
            vifes: Vec::new(),
            data,
        }
    }

    /// A manufacturer-specific block (DIF 0x0F, or 0x1F when `more_records_follow`).
    pub fn manufacturer(data: Vec<u8>, more_records_follow: bool) -> RecordSpec {
        RecordSpec {
            function: if more_records_follow {
                Function::MoreRecordsFollow
            } else {
                Function::ManufacturerSpecific
            },
            storage: 0,
            tariff: 0,
            subunit: 0,
            vif: None,
            vifes: Vec::new(),
            data: DataSpec::Manufacturer(data),
        }
    }

    /// The spec of a decoded record. Fails for the counters of the fixed data structure,
    /// which are not DIF/VIF records.
    pub fn from_record(r: &Record<'_>) -> Result<RecordSpec, Error> {
        let vif = match r.vif() {
            VifTable::None => None,
            VifTable::Primary(0x7C) => Some(VifSpec::PlainText(
                r.vif_text().map(|t| t.to_string()).unwrap_or_default(),
            )),
            VifTable::Primary(c) => Some(VifSpec::Primary(c)),
            VifTable::Fd(c) => Some(VifSpec::Fd(c)),
            VifTable::Fb(c) => Some(VifSpec::Fb(c)),
            VifTable::Fixed(c) => {
                return Err(encode_error(
                    "record",
                    "a DIF/VIF data record",
                    format!("fixed data counter (unit {c:#04X})"),
                ));
            }
        };
        Ok(RecordSpec {
            function: r.function(),
            storage: r.storage(),
            tariff: r.tariff(),
            subunit: r.subunit(),
            vif,
            vifes: r.vife_bytes().iter().map(|b| b & 0x7F).collect(),
            data: DataSpec::from_raw(r.raw(), r.byte_order()),
        })
    }

    /// Appends the record's bytes (DIF, DIFE, VIF, VIFE, data) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self.function {
            Function::ManufacturerSpecific | Function::MoreRecordsFollow => {
                let DataSpec::Manufacturer(bytes) = &self.data else {
                    return Err(encode_error(
                        "manufacturer-specific record",
                        "manufacturer data",
                        format!("{:?}", self.data),
                    ));
                };
                if self.vif.is_some() || self.storage != 0 || self.tariff != 0 || self.subunit != 0
                {
                    return Err(encode_error(
                        "manufacturer-specific record",
                        "no VIF, storage, tariff or subunit",
                        format!("{self:?}"),
                    ));
                }
                out.push(if self.function == Function::ManufacturerSpecific {
                    0x0F
                } else {
                    0x1F
                });
                out.extend_from_slice(bytes);
                return Ok(());
            }
            _ => {}
        }
        if matches!(self.data, DataSpec::Manufacturer(_)) {
            return Err(encode_error(
                "record",
                "manufacturer data only with a manufacturer-specific function",
                format!("{:?}", self.function),
            ));
        }
        let Some(vif) = &self.vif else {
            if self.function == Function::Instantaneous
                && self.data == DataSpec::None
                && self.storage == 0
                && self.tariff == 0
                && self.subunit == 0
                && self.vifes.is_empty()
            {
                out.push(0x7F);
                return Ok(());
            }
            return Err(encode_error("record", "a VIF", "none"));
        };

        self.write_dib(out)?;
        self.write_vib(vif, out)?;
        self.data.write(out)
    }

    /// The DIF and its DIFE chain (storage number, tariff, subunit, function, data field).
    fn write_dib(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.storage >> 41 != 0 || self.tariff >> 20 != 0 || self.subunit >> 10 != 0 {
            return Err(encode_error(
                "DIB",
                "storage < 2^41, tariff < 2^20, subunit < 2^10 (10 DIFE)",
                format!(
                    "storage {}, tariff {}, subunit {}",
                    self.storage, self.tariff, self.subunit
                ),
            ));
        }
        let bits = |v: u64| 64 - v.leading_zeros();
        let n_dife = [
            bits(self.storage >> 1).div_ceil(4),
            bits(u64::from(self.tariff)).div_ceil(2),
            bits(u64::from(self.subunit)),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let function_bits = match self.function {
            Function::Instantaneous => 0,
            Function::Maximum => 1,
            Function::Minimum => 2,
            _ => 3,
        };
        let dif = (if n_dife > 0 { 0x80 } else { 0 })
            | (((self.storage & 1) as u8) << 6)
            | (function_bits << 4)
            | self.data.data_field().code();
        out.push(dif);
        for i in 0..n_dife {
            let s = ((self.storage >> (1 + 4 * i)) & 0x0F) as u8;
            let t = ((self.tariff >> (2 * i)) & 0x03) as u8;
            let u = ((self.subunit >> i) & 0x01) as u8;
            let ext = if i + 1 < n_dife { 0x80 } else { 0 };
            out.push(ext | (u << 6) | (t << 4) | s);
        }
        Ok(())
    }

    /// The VIF (primary, extension table or plain text) and the VIFE.
    fn write_vib(&self, vif: &VifSpec, out: &mut Vec<u8>) -> Result<(), Error> {
        let more = if self.vifes.is_empty() { 0 } else { 0x80 };
        let mut count = self.vifes.len();
        match vif {
            VifSpec::Primary(c) => {
                if *c > 0x7F || matches!(c, 0x7B..=0x7D) {
                    return Err(encode_error(
                        "VIF",
                        "a primary code 0x00-0x7F other than 0x7B-0x7D",
                        format!("{c:#04X}"),
                    ));
                }
                out.push(c | more);
            }
            VifSpec::Fd(c) | VifSpec::Fb(c) => {
                if *c > 0x7F {
                    return Err(encode_error(
                        "VIFE",
                        "an extension-table code 0x00-0x7F",
                        format!("{c:#04X}"),
                    ));
                }
                out.push(if matches!(vif, VifSpec::Fd(_)) {
                    0xFD
                } else {
                    0xFB
                });
                out.push(c | more);
                count += 1;
            }
            VifSpec::PlainText(text) => {
                let n = text.chars().count();
                if n > 0xFF {
                    return Err(encode_error("plain-text VIF", "at most 255 characters", n));
                }
                out.push(0x7C | more);
                out.push(n as u8);
                write_latin1_reversed(out, text, "plain-text VIF")?;
            }
        }
        if count > MAX_EXTENSIONS {
            return Err(encode_error("VIB", "at most 10 VIFE", count));
        }
        for (i, &v) in self.vifes.iter().enumerate() {
            if v > 0x7F {
                return Err(encode_error(
                    "VIFE",
                    "a code 0x00-0x7F (without extension bit)",
                    format!("{v:#04X}"),
                ));
            }
            out.push(v | if i + 1 < self.vifes.len() { 0x80 } else { 0 });
        }
        Ok(())
    }
}

/// A whole telegram: C and A fields, CI, header and records.
#[derive(Clone, Debug, PartialEq)]
pub struct Telegram {
    /// The C field.
    pub control: Control,
    /// The A field.
    pub address: Address,
    /// The CI field.
    pub ci: u8,
    /// The data header (must match the CI).
    pub header: HeaderSpec,
    /// The records; a manufacturer-specific one must come last.
    pub records: Vec<RecordSpec>,
}

impl Telegram {
    /// A response (RSP_UD) from a slave; the CI follows the header (0x72, 0x7A or 0x78).
    pub fn rsp_ud(address: Address, header: HeaderSpec, records: Vec<RecordSpec>) -> Telegram {
        let ci = match header {
            HeaderSpec::Long(_) => 0x72,
            HeaderSpec::Short { .. } => 0x7A,
            HeaderSpec::None => 0x78,
        };
        Telegram {
            control: Control::rsp_ud(false, false),
            address,
            ci,
            header,
            records,
        }
    }

    /// A data send (SND_UD, CI 0x51) from the master, for example to set an address.
    pub fn snd_ud(address: Address, fcb: bool, records: Vec<RecordSpec>) -> Telegram {
        Telegram {
            control: Control::snd_ud(fcb),
            address,
            ci: 0x51,
            header: HeaderSpec::None,
            records,
        }
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let expected_header = match self.ci {
            0x72 => matches!(self.header, HeaderSpec::Long(_)),
            0x7A => matches!(self.header, HeaderSpec::Short { .. }),
            0x78 | 0x51 => self.header == HeaderSpec::None,
            _ => false,
        };
        if !expected_header {
            return Err(encode_error(
                "telegram",
                "CI 0x72 with a long header, 0x7A with a short one, 0x78 or 0x51 without",
                format!("CI {:#04X} with {:?}", self.ci, self.header),
            ));
        }
        let mut data = Vec::with_capacity(64);
        self.header.write(&mut data);
        for (i, r) in self.records.iter().enumerate() {
            if matches!(
                r.function,
                Function::ManufacturerSpecific | Function::MoreRecordsFollow
            ) && i + 1 != self.records.len()
            {
                return Err(encode_error(
                    "telegram",
                    "manufacturer-specific data last",
                    format!("record {i} of {}", self.records.len()),
                ));
            }
            r.encode_into(&mut data)?;
        }
        long_frame(self.control, self.address, self.ci, &data)
    }

    /// The telegram of a decoded frame with variable data (CI 0x72, 0x7A, 0x78, 0x51;
    /// MSB-first frames are given back LSB first, as 0x72).
    pub fn from_frame(frame: &Frame<'_>) -> Result<Telegram, Error> {
        let (Some(control), Some(address), Some(ci)) =
            (frame.control(), frame.address(), frame.ci())
        else {
            return Err(encode_error(
                "telegram",
                "a control or long frame",
                format!("{:?}", frame.kind()),
            ));
        };
        let Application::Variable { header, .. } = frame.application() else {
            return Err(encode_error(
                "telegram",
                "variable data",
                format!("CI {:#04X}", ci.0),
            ));
        };
        let header = header
            .as_ref()
            .map_or(HeaderSpec::None, HeaderSpec::from_header);
        let ci = if ci.0 == 0x76 { 0x72 } else { ci.0 };
        let mut records = Vec::new();
        // every record, exactly: a record the lenient mode would skip or leave unknown
        // cannot be re-encoded
        for r in frame.records_with(crate::DecodeMode::Strict) {
            records.push(RecordSpec::from_record(&r?)?);
        }
        Ok(Telegram {
            control,
            address,
            ci,
            header,
            records,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(
            control_frame(Control::snd_ud(false), Address(1), 0x50),
            [0x68, 3, 3, 0x68, 0x53, 1, 0x50, 0xA4, 0x16]
        );
        let f = long_frame(
            Control::rsp_ud(false, false),
            Address(1),
            0x78,
            &[0x01, 0x02],
        )
        .unwrap();
        assert_eq!(f, [0x68, 5, 5, 0x68, 0x08, 0x01, 0x78, 1, 2, 0x84, 0x16]);
        assert!(long_frame(Control(0x08), Address(1), 0x78, &[0; 253]).is_err());
        let sel = select_frame(
            false,
            &SecondaryAddress {
                id: Id(0x12345678),
                manufacturer: Manufacturer(0xFFFF),
                version: 0xFF,
                medium: Medium(0xFF),
            },
        );
        let frame = Frame::parse(&sel).unwrap();
        assert!(
            matches!(frame.application(), Application::Selection { address, .. } if address.id == Id(0x12345678))
        );
    }

    #[test]
    fn dife_chain() {
        let mut r = RecordSpec::new(
            VifSpec::Primary(0x13),
            DataSpec::Integer { size: 4, value: 5 },
        );
        r.storage = 510;
        r.tariff = 1;
        r.subunit = 2;
        let mut out = Vec::new();
        r.encode_into(&mut out).unwrap();
        // storage 510 = 0xF<<1 | 0xF<<5; tariff 1 in DIFE 1; subunit 2 (bit 1) in DIFE 2
        assert_eq!(out[..4], [0x84, 0x9F, 0x4F, 0x13]);
    }

    #[test]
    fn rejects_unrepresentable() {
        let mut r = RecordSpec::new(
            VifSpec::Primary(0x13),
            DataSpec::Integer {
                size: 1,
                value: 256,
            },
        );
        assert!(r.encode_into(&mut Vec::new()).is_err());
        r.data = DataSpec::Text("\u{263A}".into());
        assert!(r.encode_into(&mut Vec::new()).is_err());
        r.data = DataSpec::None;
        r.storage = 1 << 41;
        assert!(r.encode_into(&mut Vec::new()).is_err());
        r.storage = 0;
        r.vifes = vec![0x22; 11];
        assert!(r.encode_into(&mut Vec::new()).is_err());
        r.vifes.clear();
        r.vif = Some(VifSpec::Primary(0x7D));
        assert!(r.encode_into(&mut Vec::new()).is_err());
    }
}
