//! Our own reading of the raw bytes of an RTU answer, to tell a CRC error from silence
//! without depending on tokio-modbus' error text.
//!
//! tokio-modbus 0.17 has no typed CRC error: its RTU decoder drops the first byte of a
//! frame whose CRC does not match and keeps looking for a valid frame, so a bad CRC ends
//! either in a timeout (short answers: the decoder waits for more bytes) or in an
//! `InvalidData` I/O error ("Too many retries", after 20 dropped bytes in one pass), and
//! neither names the CRC. The transport records the bytes received during a transaction
//! (its tap) and [`check_reply`] delimits the answer to the request in them, by the same
//! rules as the specification (address, function code, byte count or fixed length), and
//! checks its CRC-16/MODBUS.

/// What the bytes received during one RTU transaction hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyCheck {
    /// Nothing was received.
    Nothing,
    /// A complete answer from the unit to the function, with a correct CRC.
    Valid,
    /// A complete answer from the unit to the function whose CRC does not match, or bytes
    /// that form no answer and fail the CRC as a whole frame (an answer whose address or
    /// function byte was damaged on the line).
    BadCrc,
    /// Bytes that do not (yet) form an answer: a truncated frame, or a valid frame of
    /// another unit or function.
    Incomplete,
}

/// Length of the response ADU (address, PDU, CRC) starting at `adu[0]`, from its function
/// code and, where the PDU carries one, its byte count; `None` until the bytes that tell
/// it have arrived, or for a function whose answer length this crate does not know.
pub(crate) fn response_len(adu: &[u8]) -> Option<usize> {
    let fc = *adu.get(1)?;
    if fc & 0x80 != 0 {
        // Exception: address, function | 0x80, exception code, CRC.
        return Some(5);
    }
    match fc {
        // Byte count, then that many bytes.
        0x01..=0x04 | 0x17 | 0x0C | 0x11 | 0x14 | 0x15 => {
            adu.get(2).map(|&n| 3 + usize::from(n) + 2)
        }
        // Address and value / quantity echoed.
        0x05 | 0x06 | 0x0F | 0x10 => Some(8),
        0x07 => Some(5),
        0x0B => Some(8),
        0x16 => Some(10),
        _ => None,
    }
}

/// Look for the answer of `unit` to function `function` in `rx` (the bytes received since
/// the request was sent, possibly with noise before it) and check its CRC.
pub(crate) fn check_reply(rx: &[u8], unit: u8, function: u8) -> ReplyCheck {
    if rx.is_empty() {
        return ReplyCheck::Nothing;
    }
    let mut bad = false;
    for start in 0..rx.len() {
        let rest = &rx[start..];
        let (Some(&a), Some(&f)) = (rest.first(), rest.get(1)) else {
            break;
        };
        if a != unit || (f != function && f != function | 0x80) {
            continue;
        }
        let Some(len) = response_len(rest) else {
            continue;
        };
        if rest.len() < len {
            continue;
        }
        if crate::rtu_crc::crc_ok(&rest[..len]) {
            return ReplyCheck::Valid;
        }
        bad = true;
    }
    if bad || (rx.len() >= 4 && !crate::rtu_crc::crc_ok(rx)) {
        ReplyCheck::BadCrc
    } else {
        ReplyCheck::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(bytes: &[u8]) -> Vec<u8> {
        let mut v = bytes.to_vec();
        v.extend(crate::rtu_crc::crc16(bytes).to_le_bytes());
        v
    }

    #[test]
    fn valid_answers_with_and_without_noise() {
        let ok = framed(&[0x02, 0x03, 0x04, 0x00, 0x2A, 0x00, 0x2B]);
        assert_eq!(check_reply(&ok, 2, 3), ReplyCheck::Valid);
        let mut noisy = vec![0x00, 0xFF, 0x02];
        noisy.extend(&ok);
        assert_eq!(check_reply(&noisy, 2, 3), ReplyCheck::Valid);
        let exc = framed(&[0x02, 0x83, 0x02]);
        assert_eq!(check_reply(&exc, 2, 3), ReplyCheck::Valid);
        let write = framed(&[0x02, 0x06, 0x00, 0x10, 0x00, 0x05]);
        assert_eq!(check_reply(&write, 2, 6), ReplyCheck::Valid);
        assert_eq!(check_reply(&[], 2, 3), ReplyCheck::Nothing);
    }

    #[test]
    fn bad_crc_wherever_the_damage_is() {
        let ok = framed(&[0x02, 0x03, 0x04, 0x00, 0x2A, 0x00, 0x2B]);
        for at in 0..ok.len() {
            let mut bad = ok.clone();
            bad[at] ^= 0x10;
            assert_eq!(check_reply(&bad, 2, 3), ReplyCheck::BadCrc, "byte {at}");
        }
        // Noise before a damaged answer.
        let mut noisy = vec![0x7E];
        let mut bad = ok.clone();
        bad[4] ^= 1;
        noisy.extend(&bad);
        assert_eq!(check_reply(&noisy, 2, 3), ReplyCheck::BadCrc);
        // A long answer (the case tokio-modbus reports as "Too many retries").
        let mut long = vec![0x02, 0x03, 98];
        long.extend((0..98).map(|i| i as u8));
        let mut long = framed(&long);
        let n = long.len();
        long[n - 1] ^= 0xFF;
        assert_eq!(check_reply(&long, 2, 3), ReplyCheck::BadCrc);
    }

    #[test]
    fn truncated_or_foreign_frames_are_not_crc_errors() {
        let ok = framed(&[0x02, 0x03, 0x04, 0x00, 0x2A, 0x00, 0x2B]);
        assert_eq!(check_reply(&ok[..3], 2, 3), ReplyCheck::Incomplete);
        // A valid answer of another unit (a neighbour on the line) is not ours, not bad.
        let other = framed(&[0x09, 0x03, 0x02, 0x00, 0x01]);
        assert_eq!(check_reply(&other, 2, 3), ReplyCheck::Incomplete);
        assert_eq!(response_len(&[0x02]), None);
        assert_eq!(response_len(&[0x02, 0x03]), None);
        assert_eq!(response_len(&[0x02, 0x03, 0x04]), Some(9));
        assert_eq!(response_len(&[0x02, 0x90]), Some(5));
        assert_eq!(response_len(&[0x02, 0x2B]), None);
    }
}
