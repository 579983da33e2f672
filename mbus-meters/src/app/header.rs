//! The data header: identification number, manufacturer, version, medium, access number,
//! status and signature.

use core::fmt;

use super::{Manufacturer, Medium};

/// An identification number: eight BCD digits, kept as the 32-bit value read from the frame.
///
/// It prints as the eight hex digits of that value, which for a BCD number are its decimal
/// digits (`0x24083345` prints `24083345`). Meters that put a binary number there print with
/// hex letters instead of failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u32);

impl Id {
    /// The identification number as a decimal number, if every digit is BCD.
    pub const fn value(self) -> Option<u32> {
        let mut v = 0u32;
        let mut i = 8;
        while i > 0 {
            i -= 1;
            let d = (self.0 >> (4 * i)) & 0xF;
            if d > 9 {
                return None;
            }
            v = v * 10 + d;
        }
        Some(v)
    }

    /// The identification number for a decimal number up to 99 999 999.
    pub const fn from_decimal(mut n: u32) -> Option<Id> {
        if n > 99_999_999 {
            return None;
        }
        let mut v = 0u32;
        let mut i = 0;
        while i < 8 {
            v |= (n % 10) << (4 * i);
            n /= 10;
            i += 1;
        }
        Some(Id(v))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

/// The status byte of a variable data respond (EN 13757-3:2013 table 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status(pub u8);

/// A named flag of the [`Status`] byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusFlag {
    /// Application busy (bits 0-1 = 01).
    ApplicationBusy,
    /// Any application error (bits 0-1 = 10).
    ApplicationError,
    /// Abnormal condition / alarm (bits 0-1 = 11).
    Alarm,
    /// Power low (bit 2).
    PowerLow,
    /// Permanent error (bit 3).
    PermanentError,
    /// Temporary error (bit 4).
    TemporaryError,
    /// Manufacturer-specific bit 5, 6 or 7.
    Manufacturer(u8),
}

impl StatusFlag {
    /// A stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            StatusFlag::ApplicationBusy => "application_busy",
            StatusFlag::ApplicationError => "application_error",
            StatusFlag::Alarm => "alarm",
            StatusFlag::PowerLow => "power_low",
            StatusFlag::PermanentError => "permanent_error",
            StatusFlag::TemporaryError => "temporary_error",
            StatusFlag::Manufacturer(5) => "manufacturer_bit_5",
            StatusFlag::Manufacturer(6) => "manufacturer_bit_6",
            StatusFlag::Manufacturer(_) => "manufacturer_bit_7",
        }
    }
}

impl Status {
    /// The application status (bits 0-1), if not "no error".
    pub const fn application(self) -> Option<StatusFlag> {
        match self.0 & 0x03 {
            1 => Some(StatusFlag::ApplicationBusy),
            2 => Some(StatusFlag::ApplicationError),
            3 => Some(StatusFlag::Alarm),
            _ => None,
        }
    }

    /// Power low (bit 2).
    pub const fn power_low(self) -> bool {
        self.0 & 0x04 != 0
    }

    /// Permanent error (bit 3).
    pub const fn permanent_error(self) -> bool {
        self.0 & 0x08 != 0
    }

    /// Temporary error (bit 4).
    pub const fn temporary_error(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// The manufacturer-specific bits 5-7, shifted down.
    pub const fn manufacturer_bits(self) -> u8 {
        self.0 >> 5
    }

    /// Every flag that is set, in bit order.
    pub fn flags(self) -> impl Iterator<Item = StatusFlag> {
        let s = self;
        let app = s.application();
        let bits = [
            (s.power_low(), StatusFlag::PowerLow),
            (s.permanent_error(), StatusFlag::PermanentError),
            (s.temporary_error(), StatusFlag::TemporaryError),
            (s.0 & 0x20 != 0, StatusFlag::Manufacturer(5)),
            (s.0 & 0x40 != 0, StatusFlag::Manufacturer(6)),
            (s.0 & 0x80 != 0, StatusFlag::Manufacturer(7)),
        ];
        app.into_iter()
            .chain(bits.into_iter().filter_map(|(on, f)| on.then_some(f)))
    }
}

/// The data header of a response. The long header (CI 0x72, 0x76) has every field; the short
/// header (CI 0x7A) only access number, status and signature; the fixed data structure (CI
/// 0x73, 0x77) identification number, medium, access number and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Identification number (BCD).
    pub id: Option<Id>,
    /// Manufacturer.
    pub manufacturer: Option<Manufacturer>,
    /// Version (generation) of the meter.
    pub version: Option<u8>,
    /// Medium / device type.
    pub medium: Option<Medium>,
    /// Access number (transmission counter).
    pub access_number: u8,
    /// Status byte.
    pub status: Status,
    /// Signature / configuration word.
    pub signature: Option<u16>,
}

/// A secondary address: identification number, manufacturer, version and medium, as the long
/// header carries them and the selection telegram (CI 0x52) sends them. In a selection, hex
/// digits F of the identification number and bytes 0xFF (0xFFFF for the manufacturer) are
/// wildcards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SecondaryAddress {
    /// Identification number.
    pub id: Id,
    /// Manufacturer.
    pub manufacturer: Manufacturer,
    /// Version.
    pub version: u8,
    /// Medium.
    pub medium: Medium,
}

impl SecondaryAddress {
    /// Whether the (wildcard) selection `self` selects a meter with address `meter`.
    pub fn matches(&self, meter: &SecondaryAddress) -> bool {
        let id_ok = (0..8).all(|i| {
            let s = (self.id.0 >> (4 * i)) & 0xF;
            s == 0xF || s == (meter.id.0 >> (4 * i)) & 0xF
        });
        id_ok
            && (self.manufacturer.0 == 0xFFFF || self.manufacturer == meter.manufacturer)
            && (self.version == 0xFF || self.version == meter.version)
            && (self.medium.0 == 0xFF || self.medium == meter.medium)
    }

    /// The eight bytes of the address, LSB first as sent.
    pub fn to_bytes(&self) -> [u8; 8] {
        let id = self.id.0.to_le_bytes();
        let m = self.manufacturer.0.to_le_bytes();
        [
            id[0],
            id[1],
            id[2],
            id[3],
            m[0],
            m[1],
            self.version,
            self.medium.0,
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(Id(0x24083345).to_string(), "24083345");
        assert_eq!(Id(0x24083345).value(), Some(24083345));
        assert_eq!(Id(0x2408334A).value(), None);
        assert_eq!(Id::from_decimal(24083345), Some(Id(0x24083345)));
    }

    #[test]
    fn status_flags() {
        let names: Vec<_> = Status(0x27).flags().map(StatusFlag::name).collect();
        assert_eq!(names, ["alarm", "power_low", "manufacturer_bit_5"]);
        assert_eq!(Status(0).flags().count(), 0);
    }

    #[test]
    fn wildcards() {
        let meter = SecondaryAddress {
            id: Id(0x12345678),
            manufacturer: Manufacturer(0x2C2D),
            version: 1,
            medium: Medium(4),
        };
        let mut sel = meter;
        assert!(sel.matches(&meter));
        sel.id = Id(0x1FFFFFFF);
        assert!(sel.matches(&meter));
        sel.id = Id(0x2FFFFFFF);
        assert!(!sel.matches(&meter));
        let any = SecondaryAddress {
            id: Id(0xFFFFFFFF),
            manufacturer: Manufacturer(0xFFFF),
            version: 0xFF,
            medium: Medium(0xFF),
        };
        assert!(any.matches(&meter));
    }
}
