//! Address families: AFI (IANA "Address Family Numbers") and SAFI (RFC 4760 §6).
//!
//! Both are open newtypes so that every value seen on the wire round-trips, including
//! families margay does not route; the constants name the ones it does.

use std::fmt;

/// Address Family Identifier (RFC 4760 §3, IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (RFC 4760 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
}

/// An (AFI, SAFI) pair as carried in capabilities, MP_(UN)REACH_NLRI and ROUTE-REFRESH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AfiSafi {
    pub afi: Afi,
    pub safi: Safi,
}

impl AfiSafi {
    pub const IPV4_UNICAST: AfiSafi = AfiSafi {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
    };
    pub const IPV6_UNICAST: AfiSafi = AfiSafi {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
    };

    pub const fn new(afi: u16, safi: u8) -> Self {
        AfiSafi {
            afi: Afi(afi),
            safi: Safi(safi),
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AfiSafi::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            AfiSafi::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            AfiSafi { afi, safi } => write!(f, "afi {}/safi {}", afi.0, safi.0),
        }
    }
}

/// A set of the families margay routes (IPv4 and IPv6 unicast), used for per-family session
/// properties such as ADD-PATH (RFC 7911).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const BOTH: FamilySet = FamilySet(0b11);

    fn bit(family: AfiSafi) -> u8 {
        match family {
            AfiSafi::IPV4_UNICAST => 0b01,
            AfiSafi::IPV6_UNICAST => 0b10,
            _ => 0,
        }
    }

    /// Adds `family`; families other than IPv4/IPv6 unicast are not representable and ignored.
    pub fn insert(&mut self, family: AfiSafi) {
        self.0 |= Self::bit(family);
    }

    pub fn contains(self, family: AfiSafi) -> bool {
        let bit = Self::bit(family);
        bit != 0 && self.0 & bit != 0
    }

    pub fn with(mut self, family: AfiSafi) -> Self {
        self.insert(family);
        self
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}
