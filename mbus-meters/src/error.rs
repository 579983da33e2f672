//! The crate's error types: one per job, and [`Error`](enum@Error) that holds them all.
//!
//! - [`DecodeError`]: reading frames and records ([`Frame::parse`](crate::Frame::parse),
//!   [`Frame::records`](crate::Frame::records), [`decode`](crate::decode), ...). Every
//!   variant names the byte offset (counted from the first byte of the frame) where the
//!   problem was found, what was expected there and what was found instead, for example
//!   `checksum mismatch at 247: expected 0x3A, found 0x3B`.
//! - `MasterError` (feature `master`): talking to a bus: I/O, timeouts, collisions, overruns,
//!   unexpected answers, and the [`DecodeError`] of an answer that does not decode.
//! - [`Error`](enum@Error): everything else (hex text, encoding, profile files, bus settings), and a
//!   wrapper around the two others, so an application that uses several parts of the crate
//!   can use `mbus_meters::Error` with `?` throughout.

use thiserror::Error;

/// An M-Bus frame or record that cannot be decoded.
///
/// Offsets are byte positions in the frame as received (the start byte is offset 0).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the frame, header or record was complete.
    #[error("truncated at {offset}: expected {needed} byte(s) of {what}, found {available}")]
    Truncated {
        /// Where the missing part starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// How many bytes that part needs.
        needed: usize,
        /// How many bytes were left.
        available: usize,
    },
    /// The first byte is not a start byte (single character, short or long frame).
    #[error("invalid start byte at {offset}: expected {expected}, found {found:#04X}")]
    InvalidStart {
        /// Where the byte is (0 or 3 for the second start byte of a long frame).
        offset: usize,
        /// The start byte(s) allowed there.
        expected: &'static str,
        /// The byte found.
        found: u8,
    },
    /// The two length bytes of a long frame differ.
    #[error(
        "length mismatch at {offset}: expected {expected:#04X} (the first length byte), found {found:#04X}"
    )]
    LengthMismatch {
        /// Offset of the second length byte.
        offset: usize,
        /// The first length byte.
        expected: u8,
        /// The second length byte.
        found: u8,
    },
    /// The length field of a long frame is too small to hold C, A and CI fields.
    #[error(
        "invalid length at {offset}: expected at least 0x03 (C, A and CI fields), found {found:#04X}"
    )]
    InvalidLength {
        /// Offset of the length byte.
        offset: usize,
        /// The length byte.
        found: u8,
    },
    /// The checksum byte does not match the arithmetic sum of the checked bytes.
    #[error("checksum mismatch at {offset}: expected {expected:#04X}, found {found:#04X}")]
    Checksum {
        /// Offset of the checksum byte.
        offset: usize,
        /// The sum computed over the frame.
        expected: u8,
        /// The checksum byte received.
        found: u8,
    },
    /// The frame does not end with the stop byte 0x16.
    #[error("missing stop byte at {offset}: expected 0x16, found {found:#04X}")]
    StopByte {
        /// Offset where the stop byte should be.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// Bytes follow a complete frame where exactly one frame was expected.
    #[error(
        "trailing bytes at {offset}: expected end of input after the frame, found {count} more byte(s)"
    )]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many extra bytes.
        count: usize,
    },
    /// The CI field is not one this decoder implements.
    #[error(
        "unsupported CI at {offset}: expected one of 0x50-0x52, 0x70-0x73, 0x76-0x78, 0x7A, 0xB8-0xBF, found {found:#04X}"
    )]
    UnsupportedCi {
        /// Offset of the CI field.
        offset: usize,
        /// The CI field.
        found: u8,
    },
    /// More than 10 DIFE follow a DIF (EN 13757-3 allows at most 10).
    #[error("too many DIFE at {offset}: expected at most 10, found an 11th ({found:#04X})")]
    TooManyDife {
        /// Offset of the 11th DIFE.
        offset: usize,
        /// The 11th DIFE.
        found: u8,
    },
    /// More than 10 VIFE follow a VIF (EN 13757-3 allows at most 10).
    #[error("too many VIFE at {offset}: expected at most 10, found an 11th ({found:#04X})")]
    TooManyVife {
        /// Offset of the 11th VIFE.
        offset: usize,
        /// The 11th VIFE.
        found: u8,
    },
    /// A DIF from the reserved special-function range (0x3F, 0x4F, 0x5F, 0x6F).
    #[error(
        "reserved DIF at {offset}: expected a data record or special function DIF, found {found:#04X}"
    )]
    ReservedDif {
        /// Offset of the DIF.
        offset: usize,
        /// The DIF.
        found: u8,
    },
    /// A VIF that cannot stand where it is (for example an extension code without the
    /// extension bit).
    #[error("invalid VIF at {offset}: expected {expected}, found {found:#04X}")]
    InvalidVif {
        /// Offset of the VIF.
        offset: usize,
        /// What would have been valid.
        expected: &'static str,
        /// The VIF byte.
        found: u8,
    },
    /// A variable-length data field whose LVAR byte is in the reserved range.
    #[error("reserved LVAR at {offset}: expected 0x00-0xF6, found {found:#04X}")]
    ReservedLvar {
        /// Offset of the LVAR byte.
        offset: usize,
        /// The LVAR byte.
        found: u8,
    },
}

impl DecodeError {
    /// The byte offset in the frame where decoding failed.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::InvalidStart { offset, .. }
            | DecodeError::LengthMismatch { offset, .. }
            | DecodeError::InvalidLength { offset, .. }
            | DecodeError::Checksum { offset, .. }
            | DecodeError::StopByte { offset, .. }
            | DecodeError::TrailingBytes { offset, .. }
            | DecodeError::UnsupportedCi { offset, .. }
            | DecodeError::TooManyDife { offset, .. }
            | DecodeError::TooManyVife { offset, .. }
            | DecodeError::ReservedDif { offset, .. }
            | DecodeError::InvalidVif { offset, .. }
            | DecodeError::ReservedLvar { offset, .. } => *offset,
        }
    }
}

/// What the M-Bus master (feature `master`) can run into on a bus.
#[cfg(feature = "master")]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MasterError {
    /// A transport (serial port, TCP connection, pseudo-terminal) failed.
    #[error("I/O error while {context}: {message}")]
    Io {
        /// What the master was doing.
        context: &'static str,
        /// The operating system's message.
        message: String,
    },
    /// No (complete) answer arrived in time, after every retry.
    #[error(
        "timeout: expected {expected} from {target} within {waited_ms} ms (after {attempts} attempt(s)), found no answer"
    )]
    Timeout {
        /// What answer was expected.
        expected: &'static str,
        /// The addressed slave.
        target: String,
        /// The response timeout of one attempt, in milliseconds.
        waited_ms: u64,
        /// How many requests were sent.
        attempts: u32,
    },
    /// Several slaves answered at once, or the answer was garbled, after every retry.
    #[error("collision: expected one valid {expected} from {target}, found {found}")]
    Collision {
        /// What answer was expected.
        expected: &'static str,
        /// The addressed slave.
        target: String,
        /// What arrived (hex).
        found: String,
    },
    /// An answer did not end by the reply deadline: bytes kept arriving (a chattering line
    /// or gateway) or a frame stayed incomplete while the line was busy.
    #[error(
        "reply overrun: expected a complete answer within {waited_ms} ms (the reply deadline), found {received} byte(s) still arriving, starting {kept}"
    )]
    Overrun {
        /// The reply deadline, in milliseconds.
        waited_ms: u64,
        /// How many bytes arrived in that time.
        received: usize,
        /// The first bytes received (hex, at most one longest frame's worth).
        kept: String,
    },
    /// An answer was a valid frame of the wrong kind.
    #[error("unexpected answer from {target}: expected {expected}, found {found}")]
    Unexpected {
        /// The addressed slave.
        target: String,
        /// What answer was expected.
        expected: &'static str,
        /// What arrived.
        found: String,
    },
    /// A baud rate wired M-Bus does not use (EN 13757-2 names 300 to 38 400 Bd).
    #[error(
        "invalid baud rate: expected one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, found {found}"
    )]
    InvalidBaudRate {
        /// The baud rate given.
        found: u32,
    },
    /// An answer arrived but is not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Everything that can go wrong in this crate: hex text, encoding, profile files and bus
/// settings, and (wrapped) the errors of decoding and of the master.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame or record that cannot be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The master failed on the bus (feature `master`).
    #[cfg(feature = "master")]
    #[error(transparent)]
    Master(#[from] MasterError),
    /// Text given as hexadecimal bytes could not be read.
    #[error("invalid hex at character {offset}: expected one or two hex digits, found {found:?}")]
    Hex {
        /// Character offset of the bad token in the text.
        offset: usize,
        /// The bad token.
        found: String,
    },
    /// The encoder was asked for something the wire format cannot carry.
    #[error("cannot encode {what}: expected {expected}, found {found}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// What the format allows.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    /// A baud rate wired M-Bus does not use (EN 13757-2 names 300 to 38 400 Bd).
    #[error(
        "invalid baud rate: expected one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, found {found}"
    )]
    InvalidBaudRate {
        /// The baud rate given.
        found: u32,
    },
    /// A data file is malformed or inconsistent: where, and what was wrong.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file (built-in files are named `<builtin>/NAME`).
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file, e.g. `product[2].service[4].type`; `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
}

impl Error {
    /// The offset where reading failed: the byte offset in the frame for a decoding error,
    /// the character offset in the text for bad hex; `None` for other errors.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::Decode(e) => Some(e.offset()),
            #[cfg(feature = "master")]
            Error::Master(MasterError::Decode(e)) => Some(e.offset()),
            Error::Hex { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

impl From<crate::toml_file::Located> for Error {
    fn from(l: crate::toml_file::Located) -> Self {
        Error::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}
