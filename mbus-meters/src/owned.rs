//! The owned form of a decoded frame, for convenience and serde. Its JSON is the contract of
//! the `mbus-decode` command:
//!
//! ```json
//! {
//!   "frame": "long",
//!   "c": 8, "a": 0, "ci": 114,
//!   "header": { "id": "24083345", "manufacturer": "EFE", "version": 0, "medium": 4,
//!               "medium_name": "Heat (outlet)", "access_number": 102, "status": 39,
//!               "signature": 0 },
//!   "records": [
//!     { "function": "instantaneous", "storage": 0, "tariff": 0, "subunit": 0,
//!       "quantity": "energy", "unit": "Wh", "value": 1234.5, "dif_vif": "04 06" }
//!   ],
//!   "more_records_follow": false
//! }
//! ```
//!
//! - `frame` is `"long"`, `"short"`, `"control"` or `"ack"`; `c`, `a` and `ci` are `null` where
//!   the format has none.
//! - `header` is `null` where the CI has no header; header fields the CI does not carry (the
//!   short header has no identification; the fixed data structure no manufacturer, version or
//!   signature) are `null`.
//! - `records` lists every data record in frame order, idle fillers excepted. `function` is
//!   one of [`Function`]'s names, `quantity` one of [`Quantity`]'s, `unit` one of [`Unit`]'s
//!   symbols. `value` is a number (scaled to `unit`) for numeric records; a string for dates
//!   and times (ISO 8601, the meter's local time), text (UTF-8) and manufacturer data
//!   (space-separated hex in frame order); `null` for records without data and for data the
//!   meter marks as erroneous (BCD error digits, invalid dates). `dif_vif` is the record's
//!   DIB and VIB bytes in hex.
//! - Only where they apply: `vif_text` (the unit text of a plain-text VIF) and `modifiers`
//!   (the names of combinable VIFE that change the meaning of the value, see
//!   [`Modifier::name`](crate::Modifier::name)) on records; `application_error` (CI 0x70),
//!   `alarm` (CI 0x71, hex) and `baud_rate` (CI 0xB8-0xBF) on the frame.
//! - `errors` (only when there are some, in the default lenient [`DecodeMode`]): one entry
//!   per record that could not be decoded, `{ "offset": 40, "kind": "too_many_dife",
//!   "message": "too many DIFE at 40: ..." }`, in frame order. A record whose extension-table
//!   VIF (0x7B, 0x7D) lacks its VIFE is not an error there: it is listed in `records` with
//!   `quantity: "unknown"`, unit `""`, its raw value and the VIF in `dif_vif`.
//! - `function` is `"error"` for a record whose DIF function field is 11 ("value during
//!   error state"): its value is decoded like any other; `null` is kept for data the meter
//!   marks invalid.

use serde::{Deserialize, Serialize};

use crate::app::{Application, Header};
use crate::hex::to_hex;
use crate::link::FrameKind;
use crate::record::{DecodeMode, Function, Quantity, Record, Unit, Value};
use crate::{DecodeError, Frame};

/// A decoded frame, owning its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnedFrame {
    /// The frame format.
    pub frame: FrameKind,
    /// The C field.
    pub c: Option<u8>,
    /// The A field.
    pub a: Option<u8>,
    /// The CI field.
    pub ci: Option<u8>,
    /// The data header.
    pub header: Option<OwnedHeader>,
    /// The data records in frame order.
    pub records: Vec<OwnedRecord>,
    /// Whether a "more records follow" DIF (0x1F) was read.
    pub more_records_follow: bool,
    /// The application error of a CI 0x70 frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_error: Option<OwnedApplicationError>,
    /// The alarm status of a CI 0x71 frame, as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    /// The baud rate a CI 0xB8-0xBF frame switches to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud_rate: Option<u32>,
    /// Records that could not be decoded (lenient mode only), in frame order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<OwnedRecordError>,
}

/// A record that could not be decoded, owned (see [`DecodeMode::Lenient`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedRecordError {
    /// Byte offset in the frame where the problem was found.
    pub offset: Option<usize>,
    /// The kind of error, snake_case (`truncated`, `too_many_dife`, `too_many_vife`,
    /// `reserved_dif`, `invalid_vif`, `reserved_lvar`).
    pub kind: String,
    /// The error's message.
    pub message: String,
}

impl From<&DecodeError> for OwnedRecordError {
    fn from(e: &DecodeError) -> Self {
        let kind = match e {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::TooManyDife { .. } => "too_many_dife",
            DecodeError::TooManyVife { .. } => "too_many_vife",
            DecodeError::ReservedDif { .. } => "reserved_dif",
            DecodeError::InvalidVif { .. } => "invalid_vif",
            DecodeError::ReservedLvar { .. } => "reserved_lvar",
            _ => "other",
        };
        OwnedRecordError {
            offset: Some(e.offset()),
            kind: kind.to_string(),
            message: e.to_string(),
        }
    }
}

/// The data header, owned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedHeader {
    /// Identification number, eight digits.
    pub id: Option<String>,
    /// Manufacturer, three letters.
    pub manufacturer: Option<String>,
    /// Version.
    pub version: Option<u8>,
    /// Medium code.
    pub medium: Option<u8>,
    /// Medium name.
    pub medium_name: Option<String>,
    /// Access number.
    pub access_number: u8,
    /// Status byte.
    pub status: u8,
    /// Signature / configuration word.
    pub signature: Option<u16>,
}

/// An application error, owned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedApplicationError {
    /// The error code (absent: unspecified).
    pub code: Option<u8>,
    /// The error's name.
    pub name: String,
}

/// A data record, owned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnedRecord {
    /// The function.
    pub function: Function,
    /// Storage number.
    pub storage: u64,
    /// Tariff.
    pub tariff: u32,
    /// Subunit.
    pub subunit: u16,
    /// What is measured.
    pub quantity: Quantity,
    /// The unit of `value`.
    pub unit: Unit,
    /// The value.
    pub value: OwnedValue,
    /// The DIB and VIB bytes in hex.
    pub dif_vif: String,
    /// The unit text of a plain-text VIF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vif_text: Option<String>,
    /// Names of the combinable VIFE that qualify the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<String>,
}

/// A value, owned: a number, a string, or nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OwnedValue {
    /// A number in the record's unit.
    Number(f64),
    /// A date, time, text or hex string.
    Text(String),
    /// No value.
    Null,
}

impl OwnedValue {
    /// The number, for numeric values.
    ///
    /// ```
    /// use mbus_meters::OwnedValue;
    /// assert_eq!(OwnedValue::Number(2.5).as_f64(), Some(2.5));
    /// assert_eq!(OwnedValue::Null.as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            OwnedValue::Number(v) => Some(*v),
            OwnedValue::Text(_) | OwnedValue::Null => None,
        }
    }
}

impl From<Value<'_>> for OwnedValue {
    fn from(v: Value<'_>) -> Self {
        match v {
            Value::Number(n) => OwnedValue::Number(n),
            Value::Empty | Value::Invalid(_) => OwnedValue::Null,
            other => OwnedValue::Text(other.to_string()),
        }
    }
}

impl From<&Header> for OwnedHeader {
    fn from(h: &Header) -> Self {
        OwnedHeader {
            id: h.id.map(|i| i.to_string()),
            manufacturer: h.manufacturer.map(|m| m.to_string()),
            version: h.version,
            medium: h.medium.map(|m| m.0),
            medium_name: h.medium.map(|m| m.name().to_string()),
            access_number: h.access_number,
            status: h.status.0,
            signature: h.signature,
        }
    }
}

impl From<&Record<'_>> for OwnedRecord {
    fn from(r: &Record<'_>) -> Self {
        OwnedRecord {
            function: r.function(),
            storage: r.storage(),
            tariff: r.tariff(),
            subunit: r.subunit(),
            quantity: r.quantity(),
            unit: r.unit(),
            value: r.value().into(),
            dif_vif: to_hex(r.header_bytes()),
            vif_text: r.vif_text().map(|t| t.to_string()),
            modifiers: r
                .modifiers()
                .filter(|m| !m.is_applied_scale())
                .map(|m| m.name().to_string())
                .collect(),
        }
    }
}

impl OwnedFrame {
    /// Decodes every record of a parsed frame in the default (lenient) [`DecodeMode`].
    pub fn from_frame(frame: &Frame<'_>) -> Result<OwnedFrame, DecodeError> {
        Self::from_frame_with(frame, DecodeMode::default())
    }

    /// Decodes every record of a parsed frame: in [`DecodeMode::Strict`] the first bad
    /// record is the error; in [`DecodeMode::Lenient`] every record that can be delimited
    /// is decoded and each bad one is listed in [`OwnedFrame::errors`].
    pub fn from_frame_with(frame: &Frame<'_>, mode: DecodeMode) -> Result<OwnedFrame, DecodeError> {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let mut iter = frame.records_with(mode);
        for r in iter.by_ref() {
            match r {
                Ok(r) => records.push(OwnedRecord::from(&r)),
                Err(e) if mode == DecodeMode::Lenient => errors.push(OwnedRecordError::from(&e)),
                Err(e) => return Err(e),
            }
        }
        let app = frame.application();
        Ok(OwnedFrame {
            frame: frame.kind(),
            c: frame.control().map(|c| c.0),
            a: frame.address().map(|a| a.0),
            ci: frame.ci().map(|c| c.0),
            header: frame.header().as_ref().map(OwnedHeader::from),
            records,
            more_records_follow: iter.more_records_follow(),
            application_error: match app {
                Application::Error(e) => Some(OwnedApplicationError {
                    code: e.code,
                    name: e.name().to_string(),
                }),
                _ => None,
            },
            alarm: match app {
                Application::Alarm(a) => Some(to_hex(a)),
                _ => None,
            },
            baud_rate: match app {
                Application::BaudRate(b) => Some(*b),
                _ => None,
            },
            errors,
        })
    }
}

/// Parses and fully decodes one frame, in the default (lenient) [`DecodeMode`]: the link
/// layer and the header must be valid; each record that cannot be decoded is listed in
/// [`OwnedFrame::errors`].
///
/// ```
/// let bytes = mbus_meters::hex::parse_hex("68 03 03 68 08 01 70 79 16").unwrap();
/// let frame = mbus_meters::decode(&bytes).unwrap();
/// assert_eq!(frame.application_error.unwrap().name, "unspecified_error");
/// let bad = mbus_meters::hex::parse_hex("68 03 03 68 08 01 70 7A 16").unwrap();
/// assert_eq!(
///     mbus_meters::decode(&bad).unwrap_err().to_string(),
///     "checksum mismatch at 7: expected 0x79, found 0x7A"
/// );
/// ```
pub fn decode(bytes: &[u8]) -> Result<OwnedFrame, DecodeError> {
    decode_with(bytes, DecodeMode::default())
}

/// Parses and fully decodes one frame in the given mode.
///
/// ```
/// use mbus_meters::{DecodeMode, decode_with};
/// // 11 DIFE: EN 13757-3 allows 10; the energy record after it is fine
/// let bytes = mbus_meters::hex::parse_hex(
///     "68 23 23 68 08 00 72 78 56 34 12 24 40 01 07 55 00 00 00 \
///      81 80 80 80 80 80 80 80 80 80 80 00 13 00 04 06 2A 00 00 00 17 16",
/// )
/// .unwrap();
/// let lenient = decode_with(&bytes, DecodeMode::Lenient).unwrap();
/// assert_eq!(lenient.records.len(), 1);
/// assert_eq!(lenient.errors[0].kind, "too_many_dife");
/// assert_eq!(lenient.errors[0].offset, Some(30));
/// let strict = decode_with(&bytes, DecodeMode::Strict).unwrap_err();
/// assert_eq!(strict.to_string(), "too many DIFE at 30: expected at most 10, found an 11th (0x00)");
/// ```
pub fn decode_with(bytes: &[u8], mode: DecodeMode) -> Result<OwnedFrame, DecodeError> {
    OwnedFrame::from_frame_with(&Frame::parse(bytes)?, mode)
}
