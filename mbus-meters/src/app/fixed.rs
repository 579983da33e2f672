//! The fixed data structure (CI 0x73 LSB first, 0x77 MSB first).

use super::{Header, Id, Medium, Status};
use crate::record::ByteOrder;

/// The fixed data structure: identification number, access number, status, medium and the
/// units of two counters, and the two counters.
///
/// Status bit 7 tells whether the counters are BCD (0) or binary (1); bit 6 whether they are
/// actual (0) or stored at a fixed date (1). Its records are read with
/// [`Frame::records`](crate::Frame::records) like those of variable data; a stored
/// counter gets storage number 1, and a second counter with unit code 0x3E (same unit as
/// counter 1, historic value) gets counter 1's unit and storage number 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedData<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) order: ByteOrder,
    pub(crate) offset: usize,
}

impl<'a> FixedData<'a> {
    pub(crate) fn new(bytes: &'a [u8], order: ByteOrder, offset: usize) -> Self {
        FixedData {
            bytes,
            order,
            offset,
        }
    }

    /// The header fields the structure has: identification number, medium, access number
    /// and status.
    pub fn header(&self) -> Header {
        let b = self.bytes;
        let id = [b[0], b[1], b[2], b[3]];
        Header {
            id: Some(Id(match self.order {
                ByteOrder::LsbFirst => u32::from_le_bytes(id),
                ByteOrder::MsbFirst => u32::from_be_bytes(id),
            })),
            manufacturer: None,
            version: None,
            medium: Some(Medium::from_fixed(self.medium_code())),
            access_number: b[4],
            status: Status(b[5]),
            signature: None,
        }
    }

    /// The four-bit medium code of the structure (two bits in each medium/unit byte).
    pub fn medium_code(&self) -> u8 {
        let (m1, m2) = self.medium_unit_bytes();
        ((m1 & 0xC0) >> 6) | ((m2 & 0xC0) >> 4)
    }

    /// The unit codes (six bits) of counter 1 and counter 2.
    pub fn unit_codes(&self) -> (u8, u8) {
        let (m1, m2) = self.medium_unit_bytes();
        (m1 & 0x3F, m2 & 0x3F)
    }

    fn medium_unit_bytes(&self) -> (u8, u8) {
        match self.order {
            ByteOrder::LsbFirst => (self.bytes[6], self.bytes[7]),
            ByteOrder::MsbFirst => (self.bytes[7], self.bytes[6]),
        }
    }

    /// Whether the counters are binary (status bit 7) rather than BCD.
    pub fn binary_counters(&self) -> bool {
        self.bytes[5] & 0x80 != 0
    }

    /// Whether the counters were stored at a fixed date (status bit 6) rather than actual.
    pub fn stored(&self) -> bool {
        self.bytes[5] & 0x40 != 0
    }

    /// The raw four bytes of counter 1 (`index` 0) or 2 (`index` 1).
    pub fn counter_bytes(&self, index: usize) -> &'a [u8] {
        let start = 8 + 4 * index.min(1);
        &self.bytes[start..start + 4]
    }

    /// Offset in the frame of counter `index`.
    pub(crate) fn counter_offset(&self, index: usize) -> usize {
        self.offset + 8 + 4 * index.min(1)
    }
}
