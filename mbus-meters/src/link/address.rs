//! The A field.

use serde::{Deserialize, Serialize};

/// The A (address) field of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub u8);

/// What an A field addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// A primary address, 0 (unconfigured) to 250.
    Primary(u8),
    /// 251 and 252, reserved.
    Reserved(u8),
    /// 253: the slave selected by secondary address.
    Secondary,
    /// 254: broadcast, all slaves reply (test only: replies collide on a bus).
    BroadcastWithReply,
    /// 255: broadcast, no slave replies.
    BroadcastNoReply,
}

impl Address {
    /// 253, the slave selected by secondary addressing.
    pub const SELECTED: Address = Address(253);
    /// 254, broadcast with reply.
    pub const BROADCAST_REPLY: Address = Address(254);
    /// 255, broadcast without reply.
    pub const BROADCAST: Address = Address(255);

    /// A primary address (0..=250).
    pub const fn primary(n: u8) -> Option<Address> {
        if n <= 250 { Some(Address(n)) } else { None }
    }

    /// What the address means.
    pub const fn kind(self) -> AddressKind {
        match self.0 {
            0..=250 => AddressKind::Primary(self.0),
            251 | 252 => AddressKind::Reserved(self.0),
            253 => AddressKind::Secondary,
            254 => AddressKind::BroadcastWithReply,
            255 => AddressKind::BroadcastNoReply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Address(0).kind(), AddressKind::Primary(0));
        assert_eq!(Address(250).kind(), AddressKind::Primary(250));
        assert_eq!(Address(251).kind(), AddressKind::Reserved(251));
        assert_eq!(Address::SELECTED.kind(), AddressKind::Secondary);
        assert_eq!(Address::BROADCAST.kind(), AddressKind::BroadcastNoReply);
        assert_eq!(Address::primary(251), None);
    }
}
