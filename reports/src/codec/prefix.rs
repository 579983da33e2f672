//! Prefix codes for signed integers: the delta-of-delta time code and the residual value code
//! of layout versions 1 and 2 (version 3 keeps the time code for its escapes and ungridded
//! times).

use super::bits::{BitReader, BitWriter};
use super::{CodecError, VERSION, VERSION_1, VERSION_2};

/// A prefix code for signed integers: `i` leading ones (then a zero, except after the last
/// slot's ones) select slot `i`, whose payload is `widths[i]` bits of two's complement. Slot 0
/// has width 0 and holds only 0; the last slot has width 64 and holds anything. One table
/// serves the writer ([`PrefixCode::put`]), the size estimate ([`PrefixCode::cost`]) and the
/// reader ([`BitReader::code`]), so they cannot disagree.
#[derive(Debug)]
pub(super) struct PrefixCode(pub(super) &'static [u32]);

/// Timestamp delta-of-delta code of version 1.
pub(super) const DOD_V1: PrefixCode = PrefixCode(&[0, 7, 12, 20, 64]);
/// Value residual code (scaled-integer deltas) of version 1.
pub(super) const INT_V1: PrefixCode = PrefixCode(&[0, 4, 8, 16, 32, 64]);
/// Timestamp delta-of-delta code: a 4-bit slot holds the few seconds a poll time jitters by.
pub(super) const DOD: PrefixCode = PrefixCode(&[0, 4, 7, 12, 20, 64]);
/// Value residual code: a 12-bit slot for the noisy residuals of fine-resolution counters.
pub(super) const INT: PrefixCode = PrefixCode(&[0, 4, 8, 12, 16, 32, 64]);

/// The code tables of a chunk version.
pub(super) fn tables(version: u8) -> Option<(&'static PrefixCode, &'static PrefixCode)> {
    match version {
        VERSION | VERSION_2 => Some((&DOD, &INT)),
        VERSION_1 => Some((&DOD_V1, &INT_V1)),
        _ => None,
    }
}

impl PrefixCode {
    /// The number of ones of the longest prefix.
    #[inline(always)]
    pub(super) const fn max(&self) -> u32 {
        self.0.len() as u32 - 1
    }

    /// The smallest slot whose width holds `d`.
    #[inline(always)]
    pub(super) fn slot(&self, d: i64) -> usize {
        self.0
            .iter()
            .position(|&w| match w {
                0 => d == 0,
                64 => true,
                w => (-(1i64 << (w - 1))..(1i64 << (w - 1))).contains(&d),
            })
            .unwrap_or(self.0.len() - 1)
    }

    /// Bits `d` takes: prefix plus payload.
    #[inline(always)]
    pub(super) fn cost(&self, d: i64) -> u64 {
        let i = self.slot(d);
        let prefix = i as u32 + u32::from((i as u32) < self.max());
        u64::from(prefix + self.0[i])
    }

    #[inline(always)]
    pub(super) fn put(&self, w: &mut BitWriter, d: i64) {
        let i = self.slot(d) as u32;
        if i < self.max() {
            w.put(((1u64 << i) - 1) << 1, i + 1);
        } else {
            w.put((1u64 << i) - 1, i);
        }
        match self.0[i as usize] {
            64 => w.put64(d as u64),
            bits => w.put(d as u64, bits),
        }
    }

    #[inline(always)]
    pub(super) fn get(&self, r: &mut BitReader<'_>) -> Result<i64, CodecError> {
        r.code(self.max(), self.0)
    }
}
