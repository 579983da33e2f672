//! The crate's error type.
//!
//! Every decoding error names the byte offset (counted from the first byte of the frame) where
//! the problem was found, what was expected there and what was found instead, for example
//! `checksum mismatch at 247: expected 0x3A, found 0x3B`.

use thiserror::Error;

/// Everything that can go wrong while decoding or encoding M-Bus frames.
///
/// Offsets are byte positions in the frame as received (the start byte is offset 0).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A configuration or profile file could not be loaded.
    #[error("invalid configuration in {file}: {message}")]
    Config {
        /// The file (or built-in resource) name.
        file: String,
        /// The parser's message, naming line, column and field.
        message: String,
    },
}

impl Error {
    /// The byte offset in the frame where decoding failed, if the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::Truncated { offset, .. }
            | Error::InvalidStart { offset, .. }
            | Error::LengthMismatch { offset, .. }
            | Error::InvalidLength { offset, .. }
            | Error::Checksum { offset, .. }
            | Error::StopByte { offset, .. }
            | Error::TrailingBytes { offset, .. }
            | Error::UnsupportedCi { offset, .. }
            | Error::TooManyDife { offset, .. }
            | Error::TooManyVife { offset, .. }
            | Error::ReservedDif { offset, .. }
            | Error::InvalidVif { offset, .. }
            | Error::ReservedLvar { offset, .. }
            | Error::Hex { offset, .. } => Some(*offset),
            Error::Encode { .. }
            | Error::Io { .. }
            | Error::Timeout { .. }
            | Error::Overrun { .. }
            | Error::Collision { .. }
            | Error::Unexpected { .. }
            | Error::Config { .. } => None,
        }
    }
}
