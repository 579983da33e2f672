//! Link layer (EN 13757-2): the single character, short, control and long frames, their start,
//! length, checksum and stop bytes, and the C and A fields.

mod address;
mod control;

pub use address::{Address, AddressKind};
pub use control::{Control, LinkFunction};

use nom::Parser;
use serde::{Deserialize, Serialize};

use crate::DecodeError;
use crate::parse::{byte, bytes, finish};

/// The single character acknowledging a frame.
pub const ACK: u8 = 0xE5;
/// Start byte of a short frame.
pub const SHORT_START: u8 = 0x10;
/// Start byte of control and long frames.
pub const LONG_START: u8 = 0x68;
/// Stop byte of short, control and long frames.
pub const STOP: u8 = 0x16;
/// The largest L field: C, A, CI and at most 252 bytes of user data.
pub const MAX_L: u8 = 255;
/// The longest valid frame: a long frame with L = 255 (start, L, L, start, 255 bytes of C, A,
/// CI and user data, checksum, stop).
pub const MAX_FRAME_LEN: usize = MAX_L as usize + 6;

/// The four frame formats of EN 13757-2 (IEC 60870-5-2 FT 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    /// Single character 0xE5.
    Ack,
    /// `10 C A CS 16`.
    Short,
    /// A long frame without user data: `68 03 03 68 C A CI CS 16`.
    Control,
    /// `68 L L 68 C A CI data... CS 16`.
    Long,
}

/// A frame checked at the link layer: its format, C and A fields, CI field, and the user data
/// after the CI field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkFrame<'a> {
    /// The frame format.
    pub kind: FrameKind,
    /// The C field (not for [`FrameKind::Ack`]).
    pub control: Option<Control>,
    /// The A field (not for [`FrameKind::Ack`]).
    pub address: Option<Address>,
    /// The CI field (control and long frames).
    pub ci: Option<u8>,
    /// The bytes between the CI field and the checksum.
    pub user_data: &'a [u8],
    /// Offset of the first user-data byte in the frame (7 for control and long frames).
    pub user_data_offset: usize,
    /// The frame's length in bytes, start to stop byte.
    pub len: usize,
}

/// The arithmetic sum, modulo 256, of `bytes` (the M-Bus checksum).
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// Parses the frame at the start of `input` and ignores what follows it (see
/// [`LinkFrame::len`]).
///
/// ```
/// use mbus_meters::link::{parse_link_prefix, FrameKind};
/// let f = parse_link_prefix(&[0x10, 0x5B, 0x01, 0x5C, 0x16, 0xE5]).unwrap();
/// assert_eq!(f.kind, FrameKind::Short);
/// assert_eq!(f.len, 5);
/// ```
pub fn parse_link_prefix(input: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    let (rest, start) = finish(byte("start byte")(input), input, 0)?;
    match start {
        ACK => Ok(LinkFrame {
            kind: FrameKind::Ack,
            control: None,
            address: None,
            ci: None,
            user_data: &[],
            user_data_offset: 1,
            len: 1,
        }),
        SHORT_START => parse_short(rest),
        LONG_START => parse_long(rest),
        found => Err(DecodeError::InvalidStart {
            offset: 0,
            expected: "0xE5, 0x10 or 0x68",
            found,
        }),
    }
}

/// The short frame after its start byte (`rest` starts at offset 1).
#[inline]
fn parse_short(rest: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    let (_, body) = finish(
        bytes("short frame (C, A, checksum, stop)", 4)(rest),
        rest,
        1,
    )?;
    let (c, a, cs, stop) = (body[0], body[1], body[2], body[3]);
    let expected = c.wrapping_add(a);
    if cs != expected {
        return Err(DecodeError::Checksum {
            offset: 3,
            expected,
            found: cs,
        });
    }
    if stop != STOP {
        return Err(DecodeError::StopByte {
            offset: 4,
            found: stop,
        });
    }
    Ok(LinkFrame {
        kind: FrameKind::Short,
        control: Some(Control(c)),
        address: Some(Address(a)),
        ci: None,
        user_data: &[],
        user_data_offset: 5,
        len: 5,
    })
}

/// The control or long frame after its first start byte (`rest` starts at offset 1).
#[inline]
fn parse_long(rest: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    let (rest, (l1, l2, start2)) = finish(
        (
            byte("length field"),
            byte("second length field"),
            byte("second start byte"),
        )
            .parse(rest),
        rest,
        1,
    )?;
    if l2 != l1 {
        return Err(DecodeError::LengthMismatch {
            offset: 2,
            expected: l1,
            found: l2,
        });
    }
    if start2 != LONG_START {
        return Err(DecodeError::InvalidStart {
            offset: 3,
            expected: "0x68",
            found: start2,
        });
    }
    if l1 < 3 {
        return Err(DecodeError::InvalidLength {
            offset: 1,
            found: l1,
        });
    }
    let l = usize::from(l1);
    let (_, body) = finish(
        bytes("frame body (C, A, CI, user data, checksum, stop)", l + 2)(rest),
        rest,
        4,
    )?;
    let expected = checksum(&body[..l]);
    let found = body[l];
    if found != expected {
        return Err(DecodeError::Checksum {
            offset: 4 + l,
            expected,
            found,
        });
    }
    if body[l + 1] != STOP {
        return Err(DecodeError::StopByte {
            offset: 5 + l,
            found: body[l + 1],
        });
    }
    Ok(LinkFrame {
        kind: if l == 3 {
            FrameKind::Control
        } else {
            FrameKind::Long
        },
        control: Some(Control(body[0])),
        address: Some(Address(body[1])),
        ci: Some(body[2]),
        user_data: &body[3..l],
        user_data_offset: 7,
        len: l + 6,
    })
}

/// Parses exactly one frame: `input` must end with it.
///
/// ```
/// use mbus_meters::link::parse_link;
/// let err = parse_link(&[0x10, 0x5B, 0x01, 0x5D, 0x16]).unwrap_err();
/// assert_eq!(err.to_string(), "checksum mismatch at 3: expected 0x5C, found 0x5D");
/// ```
pub fn parse_link(input: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    let frame = parse_link_prefix(input)?;
    if frame.len < input.len() {
        return Err(DecodeError::TrailingBytes {
            offset: frame.len,
            count: input.len() - frame.len,
        });
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn long_frame_errors_name_offsets() {
        let good = [0x68, 0x03, 0x03, 0x68, 0x08, 0x01, 0x70, 0x79, 0x16];
        let f = parse_link(&good).unwrap();
        assert_eq!(f.kind, FrameKind::Control);
        assert_eq!(f.ci, Some(0x70));

        let mut bad = good;
        bad[7] = 0x7A;
        assert_eq!(
            parse_link(&bad).unwrap_err().to_string(),
            "checksum mismatch at 7: expected 0x79, found 0x7A"
        );
        let mut bad = good;
        bad[8] = 0x17;
        assert_eq!(
            parse_link(&bad).unwrap_err(),
            DecodeError::StopByte {
                offset: 8,
                found: 0x17
            }
        );
        let mut bad = good;
        bad[2] = 0x04;
        assert_eq!(
            parse_link(&bad).unwrap_err(),
            DecodeError::LengthMismatch {
                offset: 2,
                expected: 3,
                found: 4
            }
        );
        for n in 0..good.len() {
            let e = parse_link(&good[..n]).unwrap_err();
            assert!(matches!(e, DecodeError::Truncated { .. }), "{n}: {e}");
        }
        assert_eq!(
            parse_link(&[0x68, 0, 0, 0x68, 0x08, 0x16]).unwrap_err(),
            DecodeError::InvalidLength {
                offset: 1,
                found: 0
            }
        );
        let mut long = good.to_vec();
        long.push(0xE5);
        assert_eq!(
            parse_link(&long).unwrap_err(),
            DecodeError::TrailingBytes {
                offset: 9,
                count: 1
            }
        );
    }

    #[test]
    fn ack_and_short() {
        assert_eq!(parse_link(&[0xE5]).unwrap().kind, FrameKind::Ack);
        let f = parse_link(&[0x10, 0x40, 0xFE, 0x3E, 0x16]).unwrap();
        assert_eq!(f.control.unwrap().function(), LinkFunction::SndNke);
        assert_eq!(f.address.unwrap().kind(), AddressKind::BroadcastWithReply);
        assert_eq!(
            parse_link(&[0x11]).unwrap_err().to_string(),
            "invalid start byte at 0: expected 0xE5, 0x10 or 0x68, found 0x11"
        );
    }
}
