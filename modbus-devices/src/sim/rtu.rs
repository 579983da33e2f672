//! Modbus RTU framing for the simulator's serial and RTU-over-TCP servers.
//!
//! tokio-modbus keeps its codec private and its RTU server answers every unit id, so the
//! simulator frames RTU itself: request length from the function code (silence-delimited
//! for function codes whose length it cannot know), CRC-16/MODBUS from the `crc` crate,
//! and the possibility to send a frame with a corrupted CRC.

use std::borrow::Cow;

use tokio_modbus::prelude::ReadCode;
use tokio_modbus::{ExceptionCode, Request, Response};

pub(crate) use crate::rtu_crc::{crc_ok, crc16};

/// MEI type of "Read Device Identification" (function code 0x2B).
const MEI_READ_DEVICE_ID: u8 = 0x0E;
/// Largest PDU (Modbus spec).
const MAX_PDU: usize = 253;

/// How long the request frame at the start of a buffer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameLen {
    /// Not enough bytes to tell yet.
    Incomplete,
    /// The whole ADU (address, PDU, CRC) has this many bytes.
    Len(usize),
    /// A function code whose request length is unknown: the frame ends at the next silence.
    Unknown,
}

/// The length of the request ADU at the start of `buf`.
pub(crate) fn request_frame_len(buf: &[u8]) -> FrameLen {
    let Some(&fc) = buf.get(1) else {
        return FrameLen::Incomplete;
    };
    let counted = |at: usize, fixed: usize| match buf.get(at) {
        Some(&n) => FrameLen::Len(fixed + usize::from(n)),
        None => FrameLen::Incomplete,
    };
    match fc {
        0x01..=0x06 | 0x08 => FrameLen::Len(8),
        0x07 | 0x0B | 0x0C | 0x11 => FrameLen::Len(4),
        0x0F | 0x10 => counted(6, 9),
        0x16 => FrameLen::Len(10),
        0x17 => counted(10, 13),
        0x18 => FrameLen::Len(6),
        0x2B => FrameLen::Len(7),
        0x14 | 0x15 => counted(2, 5),
        _ => FrameLen::Unknown,
    }
}

/// Split the complete, CRC-valid request frames off the front of `buf`.
///
/// Bytes that cannot start a valid frame are skipped one at a time, so the slave
/// resynchronises after noise or a frame with a bad CRC (which is never answered). At
/// `silence` (the line has been quiet for the inter-frame time) a frame of unknown length
/// ends at the end of the buffer, and whatever does not form a valid frame is dropped;
/// otherwise an incomplete frame stays in `buf` for more bytes.
pub(crate) fn take_frames(buf: &mut Vec<u8>, silence: bool) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        let rest = &buf[start..];
        match request_frame_len(rest) {
            FrameLen::Len(n) if rest.len() >= n => {
                if crc_ok(&rest[..n]) {
                    frames.push(rest[..n].to_vec());
                    start += n;
                } else {
                    start += 1;
                }
            }
            FrameLen::Unknown if silence && crc_ok(rest) => {
                frames.push(rest.to_vec());
                start = buf.len();
            }
            _ if silence => start += 1,
            _ => break,
        }
    }
    if start > 0 && frames.is_empty() {
        tracing::debug!(bytes = start, "RTU bytes without a valid frame discarded");
    }
    buf.drain(..start);
    frames
}

fn be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Parse a request PDU (function code first). A malformed request of a known function
/// gives the exception to answer (03, illegal data value); unknown functions come back
/// as [`Request::Custom`].
pub(crate) fn parse_request(pdu: &[u8]) -> Result<Request<'static>, ExceptionCode> {
    let bad = ExceptionCode::IllegalDataValue;
    let Some(&fc) = pdu.first() else {
        return Err(bad);
    };
    let word = |at: usize| be(pdu, at).ok_or(bad);
    let exact = |n: usize| if pdu.len() == n { Ok(()) } else { Err(bad) };
    Ok(match fc {
        0x01..=0x06 => {
            exact(5)?;
            let (a, v) = (word(1)?, word(3)?);
            match fc {
                0x01 => Request::ReadCoils(a, v),
                0x02 => Request::ReadDiscreteInputs(a, v),
                0x03 => Request::ReadHoldingRegisters(a, v),
                0x04 => Request::ReadInputRegisters(a, v),
                0x05 => Request::WriteSingleCoil(
                    a,
                    match v {
                        0xFF00 => true,
                        0x0000 => false,
                        _ => return Err(bad),
                    },
                ),
                _ => Request::WriteSingleRegister(a, v),
            }
        }
        0x0F => {
            let (a, n) = (word(1)?, word(3)?);
            let bc = usize::from(*pdu.get(5).ok_or(bad)?);
            exact(6 + bc)?;
            if n == 0 || bc != usize::from(n).div_ceil(8) {
                return Err(bad);
            }
            let bits = (0..usize::from(n))
                .map(|i| pdu[6 + i / 8] >> (i % 8) & 1 == 1)
                .collect::<Vec<_>>();
            Request::WriteMultipleCoils(a, Cow::Owned(bits))
        }
        0x10 => {
            let (a, n) = (word(1)?, word(3)?);
            let bc = usize::from(*pdu.get(5).ok_or(bad)?);
            exact(6 + bc)?;
            if bc != 2 * usize::from(n) {
                return Err(bad);
            }
            let words = (0..usize::from(n))
                .map(|i| word(6 + 2 * i))
                .collect::<Result<Vec<_>, _>>()?;
            Request::WriteMultipleRegisters(a, Cow::Owned(words))
        }
        0x17 => {
            let (ra, rn, wa, wn) = (word(1)?, word(3)?, word(5)?, word(7)?);
            let bc = usize::from(*pdu.get(9).ok_or(bad)?);
            exact(10 + bc)?;
            if bc != 2 * usize::from(wn) {
                return Err(bad);
            }
            let words = (0..usize::from(wn))
                .map(|i| word(10 + 2 * i))
                .collect::<Result<Vec<_>, _>>()?;
            Request::ReadWriteMultipleRegisters(ra, rn, wa, Cow::Owned(words))
        }
        // Read Device Identification (MEI type 14); other MEI types stay custom requests.
        0x2B if pdu.get(1) == Some(&MEI_READ_DEVICE_ID) => {
            exact(4)?;
            let code = ReadCode::try_from_value(pdu[2]).ok_or(bad)?;
            Request::ReadDeviceIdentification(code, pdu[3])
        }
        other => Request::Custom(other, Cow::Owned(pdu[1..].to_vec())),
    })
}

/// Encode a response (or exception) PDU for a request of function code `fc`.
pub(crate) fn encode_response(fc: u8, response: &Result<Response, ExceptionCode>) -> Vec<u8> {
    let exception = |code: ExceptionCode| vec![fc | 0x80, u8::from(code)];
    let mut out = vec![fc];
    let push16 = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_be_bytes());
    match response {
        Err(code) => return exception(*code),
        Ok(Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits)) => {
            let mut packed = vec![0u8; bits.len().div_ceil(8)];
            for (i, b) in bits.iter().enumerate() {
                if *b {
                    packed[i / 8] |= 1 << (i % 8);
                }
            }
            let Ok(n) = u8::try_from(packed.len()) else {
                return exception(ExceptionCode::ServerDeviceFailure);
            };
            out.push(n);
            out.extend_from_slice(&packed);
        }
        Ok(
            Response::ReadHoldingRegisters(words)
            | Response::ReadInputRegisters(words)
            | Response::ReadWriteMultipleRegisters(words),
        ) => {
            let Ok(n) = u8::try_from(words.len() * 2) else {
                return exception(ExceptionCode::ServerDeviceFailure);
            };
            out.push(n);
            for w in words {
                push16(&mut out, *w);
            }
        }
        Ok(Response::WriteSingleCoil(a, b)) => {
            push16(&mut out, *a);
            push16(&mut out, if *b { 0xFF00 } else { 0 });
        }
        Ok(Response::WriteSingleRegister(a, v)) => {
            push16(&mut out, *a);
            push16(&mut out, *v);
        }
        Ok(Response::WriteMultipleCoils(a, n) | Response::WriteMultipleRegisters(a, n)) => {
            push16(&mut out, *a);
            push16(&mut out, *n);
        }
        Ok(Response::ReadDeviceIdentification(r)) => {
            out.extend_from_slice(&[
                MEI_READ_DEVICE_ID,
                r.read_code.value(),
                r.conformity_level.value(),
                if r.more_follows { 0xFF } else { 0x00 },
                r.next_object_id,
            ]);
            let Ok(count) = u8::try_from(r.device_id_objects.len()) else {
                return exception(ExceptionCode::ServerDeviceFailure);
            };
            out.push(count);
            for o in &r.device_id_objects {
                let Ok(len) = u8::try_from(o.value.len()) else {
                    return exception(ExceptionCode::ServerDeviceFailure);
                };
                out.extend_from_slice(&[o.id, len]);
                out.extend_from_slice(&o.value);
            }
            if out.len() > MAX_PDU {
                return exception(ExceptionCode::ServerDeviceFailure);
            }
        }
        Ok(_) => return exception(ExceptionCode::IllegalFunction),
    }
    out
}

/// An RTU ADU: unit id, PDU, CRC (low byte first); with `corrupt` the CRC is inverted.
pub(crate) fn frame(unit: u8, pdu: &[u8], corrupt: bool) -> Vec<u8> {
    let mut adu = Vec::with_capacity(pdu.len() + 3);
    adu.push(unit);
    adu.extend_from_slice(pdu);
    let mut crc = crc16(&adu);
    if corrupt {
        crc = !crc;
    }
    adu.extend_from_slice(&crc.to_le_bytes());
    adu
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn known_crc() {
        // Read holding registers, unit 1, address 0, 1 register: 01 03 00 00 00 01 84 0A.
        let adu = frame(1, &[0x03, 0x00, 0x00, 0x00, 0x01], false);
        assert_eq!(adu, vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A]);
        assert!(crc_ok(&adu));
        assert!(!crc_ok(&frame(1, &[0x03, 0x00, 0x00, 0x00, 0x01], true)));
    }

    #[test]
    fn lengths_and_parsing() {
        assert_eq!(request_frame_len(&[1]), FrameLen::Incomplete);
        assert_eq!(request_frame_len(&[1, 3]), FrameLen::Len(8));
        assert_eq!(
            request_frame_len(&[1, 0x10, 0, 0, 0, 2]),
            FrameLen::Incomplete
        );
        assert_eq!(
            request_frame_len(&[1, 0x10, 0, 0, 0, 2, 4]),
            FrameLen::Len(13)
        );
        assert_eq!(request_frame_len(&[1, 0x41]), FrameLen::Unknown);
        assert_eq!(
            parse_request(&[0x10, 0xC0, 0x40, 0, 2, 4, 0, 1, 0, 2]).unwrap(),
            Request::WriteMultipleRegisters(0xC040, Cow::Owned(vec![1, 2]))
        );
        assert_eq!(
            parse_request(&[0x0F, 0, 10, 0, 10, 2, 0b0000_0101, 0b10]).unwrap(),
            Request::WriteMultipleCoils(
                10,
                Cow::Owned(vec![
                    true, false, true, false, false, false, false, false, false, true
                ])
            )
        );
        assert_eq!(
            parse_request(&[0x05, 0, 1, 0x12, 0x34]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            parse_request(&[0x10, 0, 0, 0, 2, 3, 0, 1, 0]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert!(matches!(
            parse_request(&[0x41, 1, 2]).unwrap(),
            Request::Custom(0x41, _)
        ));
    }

    #[test]
    fn frames_are_split_and_resynchronised() {
        let good = frame(1, &[0x03, 0x00, 0x00, 0x00, 0x02], false);
        // Two frames back to back, the second incomplete.
        let mut buf = [good.clone(), good[..5].to_vec()].concat();
        assert_eq!(take_frames(&mut buf, false), vec![good.clone()]);
        assert_eq!(buf, good[..5].to_vec());
        // At silence the incomplete one is dropped.
        assert!(take_frames(&mut buf, true).is_empty());
        assert!(buf.is_empty());
        // Noise before a frame: skipped, at once or at silence.
        let mut buf = [vec![0x01, 0x03, 0xFF], good.clone()].concat();
        let mut got = take_frames(&mut buf, false);
        got.extend(take_frames(&mut buf, true));
        assert_eq!(got, vec![good.clone()]);
        // A bad CRC is never a frame.
        let mut buf = frame(1, &[0x03, 0x00, 0x00, 0x00, 0x02], true);
        assert!(take_frames(&mut buf, false).is_empty());
        assert!(take_frames(&mut buf, true).is_empty());
        assert!(buf.is_empty());
        // An unknown function code ends at silence.
        let custom = frame(1, &[0x41, 0x01, 0x02], false);
        let mut buf = custom.clone();
        assert!(take_frames(&mut buf, false).is_empty());
        assert_eq!(take_frames(&mut buf, true), vec![custom]);
    }

    #[test]
    fn read_device_identification_requests() {
        // 01 2B 0E 01 00 + CRC: basic stream from object 0 (the Modbus spec's example shape).
        let adu = frame(1, &[0x2B, 0x0E, 0x01, 0x00], false);
        assert_eq!(request_frame_len(&adu), FrameLen::Len(7));
        assert_eq!(
            parse_request(&[0x2B, 0x0E, 0x04, 0x02]).unwrap(),
            Request::ReadDeviceIdentification(ReadCode::Specific, 2)
        );
        assert_eq!(
            parse_request(&[0x2B, 0x0E, 0x01, 0x00]).unwrap(),
            Request::ReadDeviceIdentification(ReadCode::Basic, 0)
        );
        // Read device id code 05 does not exist; a short or long PDU is malformed.
        for bad in [
            &[0x2B, 0x0E, 0x05, 0x00][..],
            &[0x2B, 0x0E, 0x01],
            &[0x2B, 0x0E, 0x01, 0x00, 0x00],
        ] {
            assert_eq!(
                parse_request(bad),
                Err(ExceptionCode::IllegalDataValue),
                "{bad:02X?}"
            );
        }
        // Another MEI type (0x0D, CANopen) is not read device identification.
        assert!(matches!(
            parse_request(&[0x2B, 0x0D, 0x00]).unwrap(),
            Request::Custom(0x2B, _)
        ));
    }

    #[test]
    fn read_device_identification_responses() {
        use tokio_modbus::bytes::Bytes;
        use tokio_modbus::prelude::{
            ConformityLevel, DeviceIdObject, ReadDeviceIdentificationResponse,
        };
        let response = |more_follows, objects: &[(u8, &str)]| {
            Ok(Response::ReadDeviceIdentification(
                ReadDeviceIdentificationResponse {
                    read_code: ReadCode::Basic,
                    conformity_level: ConformityLevel::BasicIdentification,
                    more_follows,
                    next_object_id: if more_follows { 2 } else { 0 },
                    device_id_objects: objects
                        .iter()
                        .map(|(id, v)| DeviceIdObject {
                            id: *id,
                            value: Bytes::copy_from_slice(v.as_bytes()),
                        })
                        .collect(),
                },
            ))
        };
        assert_eq!(
            encode_response(0x2B, &response(false, &[(0, "Hager"), (1, "ECR380D")])),
            [
                &[0x2B, 0x0E, 0x01, 0x81, 0x00, 0x00, 0x02][..],
                &[0x00, 5],
                b"Hager",
                &[0x01, 7],
                b"ECR380D",
            ]
            .concat()
        );
        let more = encode_response(0x2B, &response(true, &[(0, "A")]));
        assert_eq!(
            more,
            vec![0x2B, 0x0E, 0x01, 0x81, 0xFF, 0x02, 0x01, 0x00, 1, b'A']
        );
        // Objects that would overflow the PDU are refused, never truncated.
        let long = "x".repeat(200);
        assert_eq!(
            encode_response(0x2B, &response(false, &[(0, &long), (1, &long)])),
            vec![0xAB, 0x04]
        );
        assert_eq!(
            encode_response(0x2B, &Err(ExceptionCode::IllegalFunction)),
            vec![0xAB, 0x01]
        );
    }

    #[test]
    fn responses() {
        assert_eq!(
            encode_response(3, &Ok(Response::ReadHoldingRegisters(vec![0x1234, 5]))),
            vec![3, 4, 0x12, 0x34, 0, 5]
        );
        assert_eq!(
            encode_response(1, &Ok(Response::ReadCoils(vec![true, false, true]))),
            vec![1, 1, 0b101]
        );
        assert_eq!(
            encode_response(3, &Err(ExceptionCode::IllegalDataAddress)),
            vec![0x83, 2]
        );
    }
}
