//! Application layer (EN 13757-3): the CI field, data headers, manufacturer and medium, the
//! fixed data structure, application errors and alarms.
//!
//! Data records are in [`crate::record`].

mod fixed;
mod header;
mod manufacturer;
mod medium;

pub use fixed::FixedData;
pub use header::{Header, Id, SecondaryAddress, Status, StatusFlag};
pub use manufacturer::Manufacturer;
pub use medium::Medium;

use nom::Parser;
use nom::combinator::map;

use crate::DecodeError;
use crate::link::LinkFrame;
use crate::parse::{bytes, finish};
use crate::record::ByteOrder;

/// The CI (control information) field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ci(pub u8);

/// What a CI field announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CiKind {
    /// 0x50: application reset (master to slave).
    ApplicationReset,
    /// 0x51: data send, records without header (master to slave).
    DataSend,
    /// 0x52: selection of slaves by secondary address (master to slave).
    SlaveSelect,
    /// 0xB8-0xBF: switch baud rate to the given rate (master to slave).
    SetBaudRate(u32),
    /// 0x70: application error (slave to master).
    ApplicationError,
    /// 0x71: alarm status (slave to master).
    Alarm,
    /// 0x72: variable data respond with long header, LSB first.
    VariableLong,
    /// 0x76: variable data respond with long header, MSB first (mode 2).
    VariableLongMsb,
    /// 0x7A: variable data respond with short header.
    VariableShort,
    /// 0x78: variable data respond without header.
    VariableNone,
    /// 0x73: fixed data structure, LSB first.
    Fixed,
    /// 0x77: fixed data structure, MSB first (mode 2).
    FixedMsb,
}

impl Ci {
    /// Application reset.
    pub const APPLICATION_RESET: Ci = Ci(0x50);
    /// Data send (records, no header).
    pub const DATA_SEND: Ci = Ci(0x51);
    /// Selection of slaves.
    pub const SLAVE_SELECT: Ci = Ci(0x52);
    /// Variable data respond, long header.
    pub const RESPONSE_LONG: Ci = Ci(0x72);
    /// Variable data respond, short header.
    pub const RESPONSE_SHORT: Ci = Ci(0x7A);
    /// Variable data respond, no header.
    pub const RESPONSE_NONE: Ci = Ci(0x78);

    /// What the CI announces, if this decoder implements it.
    pub const fn kind(self) -> Option<CiKind> {
        Some(match self.0 {
            0x50 => CiKind::ApplicationReset,
            0x51 => CiKind::DataSend,
            0x52 => CiKind::SlaveSelect,
            0x70 => CiKind::ApplicationError,
            0x71 => CiKind::Alarm,
            0x72 => CiKind::VariableLong,
            0x73 => CiKind::Fixed,
            0x76 => CiKind::VariableLongMsb,
            0x77 => CiKind::FixedMsb,
            0x78 => CiKind::VariableNone,
            0x7A => CiKind::VariableShort,
            0xB8..=0xBF => CiKind::SetBaudRate(300 << (self.0 - 0xB8)),
            _ => return None,
        })
    }
}

/// An application error reported by a slave (CI 0x70).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApplicationError<'a> {
    /// The general application error code; absent means "unspecified error".
    pub code: Option<u8>,
    /// Bytes after the code (manufacturer-specific detail).
    pub detail: &'a [u8],
}

impl ApplicationError<'_> {
    /// A stable snake_case name of the error code (EN 13757-3:2013 table 23).
    pub const fn name(&self) -> &'static str {
        match self.code {
            None | Some(0) => "unspecified_error",
            Some(1) => "unimplemented_ci",
            Some(2) => "buffer_too_long",
            Some(3) => "too_many_records",
            Some(4) => "premature_end_of_record",
            Some(5) => "too_many_difes",
            Some(6) => "too_many_vifes",
            Some(8) => "application_busy",
            Some(9) => "too_many_readouts",
            Some(_) => "reserved",
        }
    }
}

/// What the application layer of a frame carries.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Application<'a> {
    /// Nothing: single character, short frame, or a control frame without data.
    None,
    /// Variable data: an optional header and data records (CI 0x72, 0x76, 0x7A, 0x78, 0x51).
    Variable {
        /// The long or short header, if the CI has one.
        header: Option<Header>,
        /// The byte order of multi-byte values.
        order: ByteOrder,
        /// The data record bytes.
        records: &'a [u8],
        /// Offset of the first record byte in the frame.
        records_offset: usize,
    },
    /// The fixed data structure (CI 0x73, 0x77).
    Fixed(FixedData<'a>),
    /// An application error (CI 0x70).
    Error(ApplicationError<'a>),
    /// Alarm status bytes (CI 0x71).
    Alarm(&'a [u8]),
    /// Selection of a slave by (wildcard) secondary address (CI 0x52), optionally followed by
    /// selection records.
    Selection {
        /// The selection mask.
        address: SecondaryAddress,
        /// The record bytes after the address.
        records: &'a [u8],
        /// Offset of the first record byte in the frame.
        records_offset: usize,
    },
    /// Application reset (CI 0x50), with its optional subcode bytes.
    Reset(&'a [u8]),
    /// Switch to the baud rate (CI 0xB8-0xBF).
    BaudRate(u32),
}

const CI_OFFSET: usize = 6;

fn u32_of(b: &[u8], order: ByteOrder) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    match order {
        ByteOrder::LsbFirst => u32::from_le_bytes(a),
        ByteOrder::MsbFirst => u32::from_be_bytes(a),
    }
}

fn u16_of(b: &[u8], order: ByteOrder) -> u16 {
    let a = [b[0], b[1]];
    match order {
        ByteOrder::LsbFirst => u16::from_le_bytes(a),
        ByteOrder::MsbFirst => u16::from_be_bytes(a),
    }
}

/// Reads the application layer of a frame.
pub(crate) fn parse_application<'a>(link: &LinkFrame<'a>) -> Result<Application<'a>, DecodeError> {
    let Some(ci) = link.ci else {
        return Ok(Application::None);
    };
    let data = link.user_data;
    let base = link.user_data_offset;
    let Some(kind) = Ci(ci).kind() else {
        return Err(DecodeError::UnsupportedCi {
            offset: CI_OFFSET,
            found: ci,
        });
    };
    let variable = |header: Option<Header>, order, used: usize| Application::Variable {
        header,
        order,
        records: &data[used..],
        records_offset: base + used,
    };
    Ok(match kind {
        CiKind::ApplicationReset => Application::Reset(data),
        CiKind::SetBaudRate(b) => Application::BaudRate(b),
        CiKind::ApplicationError => Application::Error(ApplicationError {
            code: data.first().copied(),
            detail: data.get(1..).unwrap_or(&[]),
        }),
        CiKind::Alarm => Application::Alarm(data),
        CiKind::DataSend | CiKind::VariableNone => variable(None, ByteOrder::LsbFirst, 0),
        CiKind::VariableLong | CiKind::VariableLongMsb => {
            let order = if kind == CiKind::VariableLong {
                ByteOrder::LsbFirst
            } else {
                ByteOrder::MsbFirst
            };
            let (_, header) = finish(
                map(bytes("long data header", 12), |b| long_header(b, order)).parse(data),
                data,
                base,
            )?;
            variable(Some(header), order, 12)
        }
        CiKind::VariableShort => {
            let (_, b) = finish(bytes("short data header", 4)(data), data, base)?;
            let header = Header {
                id: None,
                manufacturer: None,
                version: None,
                medium: None,
                access_number: b[0],
                status: Status(b[1]),
                signature: Some(u16_of(&b[2..4], ByteOrder::LsbFirst)),
            };
            variable(Some(header), ByteOrder::LsbFirst, 4)
        }
        CiKind::SlaveSelect => {
            let (_, b) = finish(bytes("secondary address", 8)(data), data, base)?;
            Application::Selection {
                address: SecondaryAddress {
                    id: Id(u32_of(&b[0..4], ByteOrder::LsbFirst)),
                    manufacturer: Manufacturer(u16_of(&b[4..6], ByteOrder::LsbFirst)),
                    version: b[6],
                    medium: Medium(b[7]),
                },
                records: &data[8..],
                records_offset: base + 8,
            }
        }
        CiKind::Fixed | CiKind::FixedMsb => {
            let order = if kind == CiKind::Fixed {
                ByteOrder::LsbFirst
            } else {
                ByteOrder::MsbFirst
            };
            let (rest, b) = finish(bytes("fixed data structure", 16)(data), data, base)?;
            if !rest.is_empty() {
                return Err(DecodeError::TrailingBytes {
                    offset: base + 16,
                    count: rest.len(),
                });
            }
            Application::Fixed(FixedData::new(b, order, base))
        }
    })
}

fn long_header(b: &[u8], order: ByteOrder) -> Header {
    Header {
        id: Some(Id(u32_of(&b[0..4], order))),
        manufacturer: Some(Manufacturer(u16_of(&b[4..6], order))),
        version: Some(b[6]),
        medium: Some(Medium(b[7])),
        access_number: b[8],
        status: Status(b[9]),
        signature: Some(u16_of(&b[10..12], order)),
    }
}
