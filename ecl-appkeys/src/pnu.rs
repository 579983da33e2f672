//! Parameter numbers (PNUs), served ranges and read blocks.
//!
//! Everything in this crate is addressed by the ECL parameter number, the "ID" the
//! controller's display and Danfoss documents show. The Modbus wire address is PNU − 1 and
//! is computed only at the edge, by [`Pnu::wire_address`] (the `modbus-devices` register
//! definitions this crate generates carry wire addresses).
//!
//! A controller answers a read that touches one PNU it does not serve with an error for the
//! whole request, so reads follow the *served ranges* of the installed application
//! ([`ServedRanges`], data of the key catalogue) and carry at most
//! [`MAX_REGISTERS_PER_READ`] registers.
//!
//! ```
//! use ecl_appkeys::pnu::{Pnu, PnuRange, ServedRanges};
//!
//! let s1 = Pnu::new(10201)?;
//! assert_eq!(s1.wire_address(), 10200);
//!
//! let served = ServedRanges::new([PnuRange::new(10201, 10216)?, PnuRange::new(11177, 11181)?]);
//! let pnus = [11177, 10201, 10203, 11180].map(|p| Pnu::new(p).unwrap());
//! let reads = served.read_blocks(&pnus)?;
//! assert_eq!(reads, [PnuRange::new(10201, 10203)?, PnuRange::new(11177, 11180)?]);
//! // 4201 is not served: refused before anything is sent.
//! assert!(served.read_blocks(&[Pnu::new(4201)?]).is_err());
//! # Ok::<(), ecl_appkeys::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The most registers one read may carry (0x007B; the ADU is limited to 240 bytes).
pub const MAX_REGISTERS_PER_READ: u16 = 123;

/// The default Modbus unit id of an ECL controller.
pub const DEFAULT_UNIT: u8 = 1;

/// The service unit id, valid only when one controller is on the link (USB or TCP).
pub const SERVICE_UNIT: u8 = 254;

/// The Modbus/TCP port of the ECL 296 / 310.
pub const TCP_PORT: u16 = 502;

/// Function code reading holding registers (the controller answers PNUs on 3 and 4).
pub const FC_READ_HOLDING: u8 = 3;
/// Function code reading input registers.
pub const FC_READ_INPUT: u8 = 4;
/// Function code writing one register, the only write the controller accepts.
pub const FC_WRITE_SINGLE: u8 = 6;

/// An ECL parameter number, 1..=65536 in principle; this crate keeps PNUs whose wire address
/// fits 16 bits (1..=65535 as a PNU, every documented one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Pnu(u16);

impl Pnu {
    /// A PNU; 0 is refused (its wire address would be −1).
    pub fn new(pnu: u16) -> Result<Self, Error> {
        if pnu == 0 {
            return Err(Error::InvalidArgument {
                what: "PNU",
                expected: "a parameter number from 1",
                found: "0".into(),
            });
        }
        Ok(Pnu(pnu))
    }

    /// A PNU in a `const` context; `None` for 0.
    pub const fn const_new(pnu: u16) -> Option<Self> {
        if pnu == 0 { None } else { Some(Pnu(pnu)) }
    }

    /// The parameter number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The 0-based Modbus register address on the wire: PNU − 1.
    pub fn wire_address(self) -> u16 {
        self.0 - 1
    }

    /// The PNU read at a 0-based wire address.
    pub fn from_wire_address(address: u16) -> Result<Self, Error> {
        address
            .checked_add(1)
            .map(Pnu)
            .ok_or_else(|| Error::InvalidArgument {
                what: "wire address",
                expected: "an address below 65535 (the PNU is address + 1)",
                found: address.to_string(),
            })
    }

    /// The PNU `n` after this one, if it exists.
    pub fn offset(self, n: u16) -> Option<Pnu> {
        self.0.checked_add(n).map(Pnu)
    }
}

impl TryFrom<u16> for Pnu {
    type Error = Error;
    fn try_from(v: u16) -> Result<Self, Error> {
        Pnu::new(v)
    }
}

impl From<Pnu> for u16 {
    fn from(p: Pnu) -> u16 {
        p.0
    }
}

impl std::fmt::Display for Pnu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive range of PNUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PnuRange {
    /// First PNU.
    pub from: Pnu,
    /// Last PNU (inclusive).
    pub to: Pnu,
}

impl PnuRange {
    /// `from..=to`; refuses `from > to` and PNU 0.
    pub fn new(from: u16, to: u16) -> Result<Self, Error> {
        if from > to {
            return Err(Error::InvalidArgument {
                what: "PNU range",
                expected: "from <= to",
                found: format!("{from}..={to}"),
            });
        }
        Ok(PnuRange {
            from: Pnu::new(from)?,
            to: Pnu::new(to)?,
        })
    }

    /// One PNU.
    pub fn single(pnu: Pnu) -> Self {
        PnuRange { from: pnu, to: pnu }
    }

    /// Number of registers.
    pub fn len(&self) -> u32 {
        u32::from(self.to.0) - u32::from(self.from.0) + 1
    }

    /// Always `false`: a range holds at least one PNU.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the PNU lies inside.
    pub fn contains(&self, pnu: Pnu) -> bool {
        self.from <= pnu && pnu <= self.to
    }

    /// Whether `other` lies entirely inside.
    pub fn covers(&self, other: &PnuRange) -> bool {
        self.from <= other.from && other.to <= self.to
    }

    /// Every PNU of the range, in order.
    pub fn pnus(&self) -> impl Iterator<Item = Pnu> + use<> {
        (self.from.0..=self.to.0).map(Pnu)
    }
}

impl std::fmt::Display for PnuRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// The PNU ranges a controller serves: sorted, overlapping and touching ranges joined.
/// A read may span any part of one range and never crosses into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedRanges {
    ranges: Vec<PnuRange>,
}

impl ServedRanges {
    /// The union of `ranges`.
    pub fn new(ranges: impl IntoIterator<Item = PnuRange>) -> Self {
        let mut all: Vec<PnuRange> = ranges.into_iter().collect();
        all.sort();
        let mut joined: Vec<PnuRange> = Vec::with_capacity(all.len());
        for r in all {
            match joined.last_mut() {
                Some(last) if u32::from(r.from.0) <= u32::from(last.to.0) + 1 => {
                    last.to = last.to.max(r.to);
                }
                _ => joined.push(r),
            }
        }
        ServedRanges { ranges: joined }
    }

    /// The joined ranges, ascending.
    pub fn ranges(&self) -> &[PnuRange] {
        &self.ranges
    }

    /// Whether no PNU is served.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The served range holding `pnu`.
    pub fn range_of(&self, pnu: Pnu) -> Option<PnuRange> {
        let i = self.ranges.partition_point(|r| r.to < pnu);
        self.ranges.get(i).copied().filter(|r| r.contains(pnu))
    }

    /// Whether `pnu` is served.
    pub fn serves(&self, pnu: Pnu) -> bool {
        self.range_of(pnu).is_some()
    }

    /// Whether every PNU of `range` is served (so one read of it succeeds).
    pub fn serves_range(&self, range: &PnuRange) -> bool {
        self.range_of(range.from).is_some_and(|r| r.covers(range))
    }

    /// The fewest reads fetching `pnus` (any order, repeats allowed): each read lies inside
    /// one served range and carries at most [`MAX_REGISTERS_PER_READ`] registers. A PNU
    /// outside every served range is [`Error::NotServed`], before anything is sent.
    ///
    /// Greedy from the lowest PNU: a read starts at the first PNU not yet covered and
    /// stretches over the following wanted PNUs of the same served range while it stays
    /// within the size limit. Inside one range any span is valid, so this is the fewest
    /// requests.
    pub fn read_blocks(&self, pnus: &[Pnu]) -> Result<Vec<PnuRange>, Error> {
        let mut sorted = pnus.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut reads: Vec<(PnuRange, PnuRange)> = Vec::new(); // (read, its served range)
        for pnu in sorted {
            let served = self.range_of(pnu).ok_or(Error::NotServed(pnu))?;
            if let Some((read, range)) = reads.last_mut()
                && *range == served
                && u32::from(pnu.0) - u32::from(read.from.0) < u32::from(MAX_REGISTERS_PER_READ)
            {
                read.to = pnu;
                continue;
            }
            reads.push((PnuRange::single(pnu), served));
        }
        Ok(reads.into_iter().map(|(read, _)| read).collect())
    }

    /// Every served range cut into reads of at most [`MAX_REGISTERS_PER_READ`] registers:
    /// what reading "everything the controller serves" takes.
    pub fn all_reads(&self) -> Vec<PnuRange> {
        let mut reads = Vec::new();
        for r in &self.ranges {
            let mut from = u32::from(r.from.0);
            let to = u32::from(r.to.0);
            while from <= to {
                let last = to.min(from + u32::from(MAX_REGISTERS_PER_READ) - 1);
                // Both ends come from u16 PNUs, so they fit.
                reads.push(PnuRange {
                    from: Pnu(u16::try_from(from).unwrap_or(u16::MAX)),
                    to: Pnu(u16::try_from(last).unwrap_or(u16::MAX)),
                });
                from = last + 1;
            }
        }
        reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u16) -> Pnu {
        Pnu(n)
    }

    #[test]
    fn wire_address_is_pnu_minus_one_and_back() {
        assert_eq!(p(10201).wire_address(), 10200);
        assert_eq!(p(1).wire_address(), 0);
        assert_eq!(Pnu::from_wire_address(4200).ok(), Some(p(4201)));
        assert!(Pnu::from_wire_address(u16::MAX).is_err());
        assert!(Pnu::new(0).is_err());
    }

    #[test]
    fn ranges_join_and_look_up() {
        let r = |a, b| PnuRange::new(a, b).unwrap_or(PnuRange::single(p(1)));
        let s = ServedRanges::new([r(20, 30), r(10, 19), r(25, 40), r(50, 50)]);
        assert_eq!(s.ranges(), [r(10, 40), r(50, 50)]);
        assert!(s.serves(p(10)) && s.serves(p(40)) && s.serves(p(50)));
        assert!(!s.serves(p(9)) && !s.serves(p(41)) && !s.serves(p(49)));
        assert!(s.serves_range(&r(12, 40)));
        assert!(!s.serves_range(&r(40, 50)));
    }

    #[test]
    fn reads_respect_ranges_and_size() {
        let s = ServedRanges::new([PnuRange {
            from: p(1),
            to: p(400),
        }]);
        let want: Vec<Pnu> = (1..=400).map(p).collect();
        let reads = s.read_blocks(&want).unwrap_or_default();
        assert_eq!(reads.len(), 4, "400 registers need 4 reads of <= 123");
        assert!(reads.iter().all(|r| r.len() <= 123));
        assert_eq!(
            reads[0],
            PnuRange {
                from: p(1),
                to: p(123)
            }
        );
        assert_eq!(reads[3].to, p(400));
        assert_eq!(s.all_reads(), reads);
    }
}
