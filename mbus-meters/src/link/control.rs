//! The C field.

use core::fmt;

use serde::{Deserialize, Serialize};

/// The C (control) field of a frame.
///
/// Bit 6 (PRM) is set in frames from the master. In those, bit 5 is the frame count bit (FCB)
/// and bit 4 says whether it is valid (FCV); in frames from a slave, bit 5 is the access demand
/// (ACD) and bit 4 the data flow control (DFC) bit. The low four bits are the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Control(pub u8);

/// The link-layer function of a C field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkFunction {
    /// SND_NKE (0x40): link reset after communication errors, also initialisation.
    SndNke,
    /// SND_UD (0x53/0x73): send user data to a slave.
    SndUd,
    /// REQ_UD1 (0x5A/0x7A): request class 1 (alarm) data.
    ReqUd1,
    /// REQ_UD2 (0x5B/0x7B): request class 2 (user) data.
    ReqUd2,
    /// RSP_UD (0x08/0x18/0x28/0x38): data transfer from a slave.
    RspUd,
    /// Any other C field.
    Unknown,
}

impl Control {
    /// SND_NKE.
    pub const SND_NKE: Control = Control(0x40);

    /// SND_UD with the given frame count bit (FCV set).
    pub const fn snd_ud(fcb: bool) -> Control {
        Control(0x53 | if fcb { 0x20 } else { 0 })
    }

    /// REQ_UD1 with the given frame count bit (FCV set).
    pub const fn req_ud1(fcb: bool) -> Control {
        Control(0x5A | if fcb { 0x20 } else { 0 })
    }

    /// REQ_UD2 with the given frame count bit (FCV set).
    pub const fn req_ud2(fcb: bool) -> Control {
        Control(0x5B | if fcb { 0x20 } else { 0 })
    }

    /// RSP_UD with the given access demand and data flow control bits.
    pub const fn rsp_ud(acd: bool, dfc: bool) -> Control {
        Control(0x08 | if acd { 0x20 } else { 0 } | if dfc { 0x10 } else { 0 })
    }

    /// Whether the frame comes from the master (PRM bit).
    pub const fn is_from_master(self) -> bool {
        self.0 & 0x40 != 0
    }

    /// The link-layer function.
    pub const fn function(self) -> LinkFunction {
        if self.0 & 0x80 != 0 {
            return LinkFunction::Unknown;
        }
        if self.is_from_master() {
            match self.0 & 0x0F {
                0x0 if self.0 & 0x30 == 0 => LinkFunction::SndNke,
                0x3 if self.0 & 0x10 != 0 => LinkFunction::SndUd,
                0xA if self.0 & 0x10 != 0 => LinkFunction::ReqUd1,
                0xB if self.0 & 0x10 != 0 => LinkFunction::ReqUd2,
                _ => LinkFunction::Unknown,
            }
        } else {
            match self.0 & 0x0F {
                0x8 => LinkFunction::RspUd,
                _ => LinkFunction::Unknown,
            }
        }
    }

    /// Frame count bit (master frames).
    pub const fn fcb(self) -> bool {
        self.is_from_master() && self.0 & 0x20 != 0
    }

    /// Frame count bit valid (master frames).
    pub const fn fcv(self) -> bool {
        self.is_from_master() && self.0 & 0x10 != 0
    }

    /// Access demand: the slave has class 1 data (slave frames).
    pub const fn acd(self) -> bool {
        !self.is_from_master() && self.0 & 0x20 != 0
    }

    /// Data flow control: the slave cannot accept more data (slave frames).
    pub const fn dfc(self) -> bool {
        !self.is_from_master() && self.0 & 0x10 != 0
    }
}

impl fmt::Display for LinkFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkFunction::SndNke => "SND_NKE",
            LinkFunction::SndUd => "SND_UD",
            LinkFunction::ReqUd1 => "REQ_UD1",
            LinkFunction::ReqUd2 => "REQ_UD2",
            LinkFunction::RspUd => "RSP_UD",
            LinkFunction::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_and_bits() {
        assert_eq!(Control(0x40).function(), LinkFunction::SndNke);
        assert_eq!(Control::snd_ud(false).0, 0x53);
        assert_eq!(Control::snd_ud(true).0, 0x73);
        assert_eq!(Control::req_ud2(false).0, 0x5B);
        assert_eq!(Control::req_ud2(true).0, 0x7B);
        assert_eq!(Control::req_ud1(true).function(), LinkFunction::ReqUd1);
        assert!(Control::req_ud2(true).fcb() && Control::req_ud2(true).fcv());
        assert!(!Control::req_ud2(false).fcb());
        for (acd, dfc) in [(false, false), (false, true), (true, false), (true, true)] {
            let c = Control::rsp_ud(acd, dfc);
            assert_eq!(c.function(), LinkFunction::RspUd);
            assert_eq!((c.acd(), c.dfc()), (acd, dfc));
        }
        assert_eq!(Control(0x08).0, 0x08);
        assert_eq!(Control(0x99).function(), LinkFunction::Unknown);
    }
}
