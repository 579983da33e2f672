//! The manufacturer field: three letters packed in 15 bits.

use core::fmt;

use crate::Error;

/// A manufacturer code (EN 13757-3 / EN 62056-21 FLAG id): three letters `A`..`Z`, each
/// stored as `letter - 64` in five bits, first letter in the high bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Manufacturer(pub u16);

impl Manufacturer {
    /// The code for three letters `A`..`Z`.
    ///
    /// ```
    /// use mbus_meters::app::Manufacturer;
    /// let m = Manufacturer::from_letters("KAM").unwrap();
    /// assert_eq!(m.0, 0x2C2D);
    /// assert_eq!(m.to_string(), "KAM");
    /// ```
    pub fn from_letters(letters: &str) -> Result<Manufacturer, Error> {
        let b = letters.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(Error::Encode {
                what: "manufacturer",
                expected: "three letters A-Z",
                found: format!("{letters:?}"),
            });
        }
        let v = |c: u8| u16::from(c - 64);
        Ok(Manufacturer((v(b[0]) << 10) | (v(b[1]) << 5) | v(b[2])))
    }

    /// The three characters (`code + 64` of each 5-bit group; outside `A`..`Z` for codes that
    /// are not letters).
    pub const fn letters(self) -> [u8; 3] {
        [
            ((self.0 >> 10) & 0x1F) as u8 + 64,
            ((self.0 >> 5) & 0x1F) as u8 + 64,
            (self.0 & 0x1F) as u8 + 64,
        ]
    }
}

impl fmt::Display for Manufacturer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.letters() {
            fmt::Write::write_char(f, char::from(c))?;
        }
        Ok(())
    }
}
