//! Compact IP prefixes as carried in NLRI (RFC 4271 §4.3, RFC 4760 §5).
//!
//! A prefix is an address plus a length; the invariant "length within the family's width and
//! host bits zero" holds for every value, so two equal routes are equal values. RFC 4271 §4.3:
//! "Trailing bits at the end of the prefix field are irrelevant" — the decoder clears them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A prefix could not be built from the given parts or text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("prefix length {len} exceeds {max} bits")]
    LengthTooLong { len: u8, max: u8 },
    #[error("not a prefix (want ADDRESS/LENGTH): {0:?}")]
    Syntax(String),
}

macro_rules! prefix_type {
    ($(#[$doc:meta])* $name:ident, $addr:ty, $int:ty, $bits:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            addr: $addr,
            len: u8,
        }

        impl $name {
            /// Width of the family in bits.
            pub const MAX_LEN: u8 = $bits;

            /// Builds a prefix, clearing host bits; errors if `len` exceeds the family width.
            pub fn new(addr: $addr, len: u8) -> Result<Self, PrefixError> {
                if len > Self::MAX_LEN {
                    return Err(PrefixError::LengthTooLong { len, max: Self::MAX_LEN });
                }
                Ok(Self::masked(<$int>::from(addr), len))
            }

            /// The prefix of `len` bits starting with `bits` (host bits cleared).
            #[inline(always)]
            pub(crate) fn from_bits(bits: $int, len: u8) -> Self {
                Self::masked(bits, len.min(Self::MAX_LEN))
            }

            /// The address as an integer.
            #[inline(always)]
            pub(crate) fn bits(&self) -> $int {
                <$int>::from(self.addr)
            }

            #[inline(always)]
            fn masked(bits: $int, len: u8) -> Self {
                let mask = if len == 0 { 0 } else { <$int>::MAX << ($bits - u32::from(len)) };
                $name { addr: <$addr>::from(bits & mask), len }
            }

            pub fn addr(&self) -> $addr {
                self.addr
            }

            /// Prefix length in bits.
            pub fn prefix_len(&self) -> u8 {
                self.len
            }

            /// True for the default route (length 0).
            pub fn is_default(&self) -> bool {
                self.len == 0
            }

            /// Octets the prefix occupies in an NLRI field after the length octet.
            #[inline(always)]
            pub fn wire_octets(&self) -> usize {
                usize::from(self.len).div_ceil(8)
            }

            /// True if `other` lies within this prefix.
            pub fn contains(&self, other: &Self) -> bool {
                other.len >= self.len && Self::masked(<$int>::from(other.addr), self.len) == *self
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.addr, self.len)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = PrefixError;
            fn from_str(s: &str) -> Result<Self, PrefixError> {
                let syntax = || PrefixError::Syntax(s.to_string());
                let (addr, len) = s.split_once('/').ok_or_else(syntax)?;
                let addr: $addr = addr.parse().map_err(|_| syntax())?;
                let len: u8 = len.parse().map_err(|_| syntax())?;
                Self::new(addr, len)
            }
        }

        impl WirePrefix for $name {
            const MAX_LEN: u8 = $bits;
            const TYPICAL_OCTETS: usize = $bits / 8 / 2 + 1;

            #[inline(always)]
            fn from_wire(len: u8, octets: &[u8]) -> Self {
                // Fast path: a whole address's worth of octets is readable (the NLRI field
                // goes on after this prefix), so load it at once and let the mask clear what
                // belongs to the next route. Near the end of the field, copy what is there.
                if let Some(window) = octets.first_chunk::<{ $bits / 8 }>() {
                    return Self::masked(<$int>::from_be_bytes(*window), len);
                }
                let mut full = [0u8; $bits / 8];
                for (dst, src) in full.iter_mut().zip(octets) {
                    *dst = *src;
                }
                Self::masked(<$int>::from_be_bytes(full), len)
            }

            #[inline(always)]
            fn write_octets(&self, out: &mut bytes::BytesMut) {
                let full = <$int>::from(self.addr).to_be_bytes();
                out.extend_from_slice(&full[..self.wire_octets()]);
            }

            fn prefix_len(&self) -> u8 {
                self.len
            }
        }
    };
}

prefix_type!(
    /// An IPv4 prefix, 5 bytes in memory.
    Ipv4Prefix, Ipv4Addr, u32, 32
);
prefix_type!(
    /// An IPv6 prefix, 17 bytes in memory.
    Ipv6Prefix, Ipv6Addr, u128, 128
);

/// What the NLRI codec needs from a prefix type (implemented for [`Ipv4Prefix`] and
/// [`Ipv6Prefix`]; sealed in practice as the trait is only useful with this codec).
pub trait WirePrefix: Copy + fmt::Debug + Eq {
    /// Width of the family in bits.
    const MAX_LEN: u8;
    /// Octets of a typical prefix on the wire (length octet included), used to size buffers.
    const TYPICAL_OCTETS: usize;
    /// Builds from the length and the octets that start with the `ceil(len/8)` prefix
    /// octets (more may follow: everything past `len` bits is cleared).
    fn from_wire(len: u8, octets: &[u8]) -> Self;
    /// Appends the `ceil(len/8)` prefix octets.
    fn write_octets(&self, out: &mut bytes::BytesMut);
    /// Prefix length in bits.
    fn prefix_len(&self) -> u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_clears_host_bits_and_rejects_long_lengths() {
        let p = Ipv4Prefix::new(Ipv4Addr::new(10, 1, 2, 3), 24).expect("valid");
        assert_eq!(p.to_string(), "10.1.2.0/24");
        assert_eq!(
            Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 33),
            Err(PrefixError::LengthTooLong { len: 33, max: 32 })
        );
        let p6: Ipv6Prefix = "2001:db8:1:2::1/64".parse().expect("valid");
        assert_eq!(p6.to_string(), "2001:db8:1:2::/64");
        assert!("2001:db8::/129".parse::<Ipv6Prefix>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Prefix>().is_err());
    }

    #[test]
    fn contains_checks_covering_prefix() {
        let a: Ipv4Prefix = "10.0.0.0/8".parse().expect("valid");
        let b: Ipv4Prefix = "10.9.0.0/16".parse().expect("valid");
        assert!(a.contains(&b));
        assert!(!b.contains(&a));
    }
}
