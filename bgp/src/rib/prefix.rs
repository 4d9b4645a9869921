//! Prefixes of either family, and what the RIB needs per family ([`RibPrefix`]): how routes
//! of the family travel in an UPDATE (IPv4 unicast in the NLRI fields with NEXT_HOP, IPv6 in
//! MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 4760 §3–§4) and which next hops it can carry.

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use crate::wire::attribute::type_code;
use crate::wire::prefix::WirePrefix;
use crate::wire::{
    AfiSafi, Attribute, Ipv4Prefix, Ipv6Prefix, MpNlri, MpReach, MpUnreach, NextHop, Nlri,
    PathAttribute, PrefixError, Update,
};

use super::attrs::insert_ordered;
use super::runs::RunKey;

/// An IPv4 or IPv6 unicast prefix.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Prefix {
    V4(Ipv4Prefix),
    V6(Ipv6Prefix),
}

impl Prefix {
    pub fn family(&self) -> AfiSafi {
        match self {
            Prefix::V4(_) => AfiSafi::IPV4_UNICAST,
            Prefix::V6(_) => AfiSafi::IPV6_UNICAST,
        }
    }

    pub fn prefix_len(&self) -> u8 {
        match self {
            Prefix::V4(p) => p.prefix_len(),
            Prefix::V6(p) => p.prefix_len(),
        }
    }

    /// Width of the family in bits.
    pub fn max_len(&self) -> u8 {
        match self {
            Prefix::V4(_) => Ipv4Prefix::MAX_LEN,
            Prefix::V6(_) => Ipv6Prefix::MAX_LEN,
        }
    }

    /// True if `other` is of the same family and lies within this prefix.
    pub fn contains(&self, other: &Prefix) -> bool {
        match (self, other) {
            (Prefix::V4(a), Prefix::V4(b)) => a.contains(b),
            (Prefix::V6(a), Prefix::V6(b)) => a.contains(b),
            _ => false,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(p) => fmt::Display::fmt(p, f),
            Prefix::V6(p) => fmt::Display::fmt(p, f),
        }
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, PrefixError> {
        if s.contains(':') {
            s.parse().map(Prefix::V6)
        } else {
            s.parse().map(Prefix::V4)
        }
    }
}

impl TryFrom<String> for Prefix {
    type Error = PrefixError;
    fn try_from(s: String) -> Result<Self, PrefixError> {
        s.parse()
    }
}

impl From<Prefix> for String {
    fn from(p: Prefix) -> String {
        p.to_string()
    }
}

impl From<Ipv4Prefix> for Prefix {
    fn from(p: Ipv4Prefix) -> Self {
        Prefix::V4(p)
    }
}

impl From<Ipv6Prefix> for Prefix {
    fn from(p: Ipv6Prefix) -> Self {
        Prefix::V6(p)
    }
}

/// Octets of the MP_REACH_NLRI / MP_UNREACH_NLRI framing around the NLRI: attribute header
/// with extended length (4), AFI + SAFI (3), and for MP_REACH the next-hop length octet and
/// the reserved octet (2) plus the next hop.
const MP_ATTRIBUTE_HEADER: usize = 4;
const MP_UNREACH_FIXED: usize = MP_ATTRIBUTE_HEADER + 3;
const MP_REACH_FIXED: usize = MP_ATTRIBUTE_HEADER + 3 + 2;
/// NEXT_HOP attribute: flags, type, length, 4 octets (RFC 4271 §4.3).
const NEXT_HOP_ATTRIBUTE: usize = 3 + 4;

/// A prefix type the RIB stores: one per address family.
pub trait RibPrefix:
    WirePrefix + RunKey + Hash + Ord + fmt::Display + Send + Sync + Into<Prefix> + 'static
{
    const FAMILY: AfiSafi;

    /// True if a route of this family can be sent with `next_hop`.
    fn carries_next_hop(next_hop: &NextHop) -> bool;

    /// Octets an announcement adds to the UPDATE besides the NLRI and the other attributes.
    fn reach_overhead(next_hop: &NextHop) -> usize;

    /// Octets a withdrawal needs besides the NLRI (beyond the UPDATE's fixed 4).
    const UNREACH_OVERHEAD: usize;

    /// An UPDATE announcing `nlri` with `attributes` (in type order) and `next_hop`.
    fn announce(attributes: Vec<PathAttribute>, next_hop: &NextHop, nlri: Vec<Self>) -> Update;

    /// An UPDATE withdrawing `nlri`.
    fn withdraw(nlri: Vec<Self>) -> Update;

    /// Octets of the prefix in an NLRI field: length octet and prefix octets.
    fn nlri_octets(&self) -> usize {
        1 + usize::from(self.prefix_len()).div_ceil(8)
    }
}

fn plain<P>(prefixes: Vec<P>) -> Vec<Nlri<P>> {
    prefixes.into_iter().map(Nlri::new).collect()
}

impl RibPrefix for Ipv4Prefix {
    const FAMILY: AfiSafi = AfiSafi::IPV4_UNICAST;
    const UNREACH_OVERHEAD: usize = 0;

    fn carries_next_hop(next_hop: &NextHop) -> bool {
        matches!(next_hop, NextHop::Ipv4(_))
    }

    fn reach_overhead(_: &NextHop) -> usize {
        NEXT_HOP_ATTRIBUTE
    }

    fn announce(mut attributes: Vec<PathAttribute>, next_hop: &NextHop, nlri: Vec<Self>) -> Update {
        if let NextHop::Ipv4(a) = next_hop {
            insert_ordered(&mut attributes, Attribute::NextHop(*a).into());
        }
        debug_assert!(
            attributes
                .iter()
                .any(|a| a.value.type_code() == type_code::NEXT_HOP)
        );
        Update {
            withdrawn: Vec::new(),
            attributes,
            nlri: plain(nlri),
        }
    }

    fn withdraw(nlri: Vec<Self>) -> Update {
        Update {
            withdrawn: plain(nlri),
            ..Update::default()
        }
    }
}

impl RibPrefix for Ipv6Prefix {
    const FAMILY: AfiSafi = AfiSafi::IPV6_UNICAST;
    const UNREACH_OVERHEAD: usize = MP_UNREACH_FIXED;

    fn carries_next_hop(next_hop: &NextHop) -> bool {
        matches!(next_hop, NextHop::Ipv6 { .. })
    }

    fn reach_overhead(next_hop: &NextHop) -> usize {
        MP_REACH_FIXED
            + match next_hop {
                NextHop::Ipv6 {
                    link_local: Some(_),
                    ..
                } => 32,
                NextHop::Ipv6 { .. } => 16,
                NextHop::Ipv4(_) => 4,
                NextHop::Other(b) => b.len(),
            }
    }

    fn announce(mut attributes: Vec<PathAttribute>, next_hop: &NextHop, nlri: Vec<Self>) -> Update {
        let reach = MpReach {
            family: Self::FAMILY,
            next_hop: next_hop.clone(),
            nlri: MpNlri::Ipv6(plain(nlri)),
        };
        insert_ordered(&mut attributes, Attribute::MpReachNlri(reach).into());
        Update {
            attributes,
            ..Update::default()
        }
    }

    fn withdraw(nlri: Vec<Self>) -> Update {
        let unreach = MpUnreach {
            family: Self::FAMILY,
            withdrawn: MpNlri::Ipv6(plain(nlri)),
        };
        Update {
            attributes: vec![Attribute::MpUnreachNlri(unreach).into()],
            ..Update::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_parses_either_family_and_round_trips_through_serde_strings() {
        let v4: Prefix = "10.1.0.0/16".parse().expect("v4");
        let v6: Prefix = "2001:db8::/32".parse().expect("v6");
        assert_eq!(v4.family(), AfiSafi::IPV4_UNICAST);
        assert_eq!(v6.family(), AfiSafi::IPV6_UNICAST);
        assert!(!v4.contains(&v6));
        assert_eq!(String::from(v6), "2001:db8::/32");
        assert!("10.0.0.0/40".parse::<Prefix>().is_err());
    }
}
