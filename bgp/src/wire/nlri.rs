//! NLRI fields: lists of `<length, prefix>` (RFC 4271 §4.3, RFC 4760 §5), optionally preceded
//! by a 4-octet Path Identifier when ADD-PATH is negotiated for the family (RFC 7911 §3).
//!
//! ```text
//!  +--------------------------------+
//!  | Path Identifier (4 octets)     |   only with ADD-PATH (RFC 7911 §3)
//!  +--------------------------------+
//!  | Length (1 octet, in bits)      |
//!  +--------------------------------+
//!  | Prefix (ceil(Length/8) octets) |
//!  +--------------------------------+
//! ```
//!
//! This is the hot path of UPDATE decoding: one pass over the slice, no allocation per prefix
//! (the output vector is sized from the field length up front), no nom.

use bytes::{BufMut, BytesMut};

use super::prefix::{Ipv4Prefix, Ipv6Prefix, WirePrefix};

/// One route in an NLRI field: a prefix and, with ADD-PATH, its path identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nlri<P> {
    /// RFC 7911 Path Identifier; `Some` exactly when ADD-PATH applies to the family.
    pub path_id: Option<u32>,
    pub prefix: P,
}

pub type Ipv4Nlri = Nlri<Ipv4Prefix>;
pub type Ipv6Nlri = Nlri<Ipv6Prefix>;

impl<P> Nlri<P> {
    /// A route without a path identifier.
    pub fn new(prefix: P) -> Self {
        Nlri {
            path_id: None,
            prefix,
        }
    }
}

/// Why an NLRI field could not be parsed (RFC 7606 §5.3 "syntactic correctness").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    #[error("prefix length {len} exceeds {max} bits at offset {offset}")]
    PrefixTooLong { len: u8, max: u8, offset: usize },
    #[error("prefix of length {len} needs {needed} octets, {available} left at offset {offset}")]
    Truncated {
        len: u8,
        needed: usize,
        available: usize,
        offset: usize,
    },
    #[error("path identifier needs 4 octets, {available} left at offset {offset}")]
    PathIdTruncated { available: usize, offset: usize },
}

/// Decodes a whole NLRI field into `out` (which is reserved for the field up front).
pub(crate) fn decode_into<P: WirePrefix>(
    field: &[u8],
    add_path: bool,
    out: &mut Vec<Nlri<P>>,
) -> Result<(), NlriError> {
    let per_route = P::TYPICAL_OCTETS + if add_path { 4 } else { 0 };
    out.reserve(field.len() / per_route + 1);
    let mut rest = field;
    while !rest.is_empty() {
        let offset = field.len() - rest.len();
        let path_id = if add_path {
            let Some((id, tail)) = rest.split_first_chunk::<4>() else {
                return Err(NlriError::PathIdTruncated {
                    available: rest.len(),
                    offset,
                });
            };
            rest = tail;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let Some((&len, after)) = rest.split_first() else {
            return Err(NlriError::Truncated {
                len: 0,
                needed: 1,
                available: 0,
                offset,
            });
        };
        if len > P::MAX_LEN {
            return Err(NlriError::PrefixTooLong {
                len,
                max: P::MAX_LEN,
                offset,
            });
        }
        let needed = usize::from(len).div_ceil(8);
        let Some(tail) = after.get(needed..) else {
            return Err(NlriError::Truncated {
                len,
                needed,
                available: after.len(),
                offset,
            });
        };
        // `after` may hold the next routes too: from_wire clears every bit past `len`.
        out.push(Nlri {
            path_id,
            prefix: P::from_wire(len, after),
        });
        rest = tail;
    }
    Ok(())
}

/// Encoding needs a path identifier the route does not have, or has one it may not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {prefix} {problem} (ADD-PATH {state} for the family)")]
pub struct PathIdMismatch {
    pub prefix: String,
    problem: &'static str,
    state: &'static str,
}

/// Appends an NLRI field; path identifiers are written iff `add_path`.
pub(crate) fn encode<P: WirePrefix>(
    routes: &[Nlri<P>],
    add_path: bool,
    out: &mut BytesMut,
) -> Result<(), PathIdMismatch> {
    for route in routes {
        match (route.path_id, add_path) {
            (Some(id), true) => out.put_u32(id),
            (None, false) => {}
            (None, true) => {
                return Err(PathIdMismatch {
                    prefix: format!("{:?}", route.prefix),
                    problem: "has no path identifier",
                    state: "negotiated",
                });
            }
            (Some(_), false) => {
                return Err(PathIdMismatch {
                    prefix: format!("{:?}", route.prefix),
                    problem: "carries a path identifier",
                    state: "not negotiated",
                });
            }
        }
        out.put_u8(route.prefix.prefix_len());
        route.prefix.write_octets(out);
    }
    Ok(())
}

/// Encoded size of an NLRI field.
pub(crate) fn encoded_len<P: WirePrefix>(routes: &[Nlri<P>], add_path: bool) -> usize {
    let id = if add_path { 4 } else { 0 };
    routes
        .iter()
        .map(|r| id + 1 + usize::from(r.prefix.prefix_len()).div_ceil(8))
        .sum()
}

/// Decodes an IPv4 NLRI field (UPDATE Withdrawn Routes / NLRI, or MP_(UN)REACH for IPv4).
pub fn decode_ipv4(field: &[u8], add_path: bool) -> Result<Vec<Ipv4Nlri>, NlriError> {
    let mut out = Vec::new();
    decode_into(field, add_path, &mut out)?;
    Ok(out)
}

/// Decodes an IPv6 NLRI field (MP_(UN)REACH_NLRI for IPv6).
pub fn decode_ipv6(field: &[u8], add_path: bool) -> Result<Vec<Ipv6Nlri>, NlriError> {
    let mut out = Vec::new();
    decode_into(field, add_path, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Nlri {
        Nlri::new(s.parse().expect("prefix"))
    }

    #[test]
    fn prefixes_in_the_middle_and_at_the_end_of_a_field_decode_alike() {
        // 10.1.2.0/24 twice (the first read with the whole-address load, the last near the
        // end of the field), with the next route's octets right behind the first.
        let field = [24, 10, 1, 2, 8, 11, 24, 10, 1, 2];
        assert_eq!(
            decode_ipv4(&field, false),
            Ok(vec![v4("10.1.2.0/24"), v4("11.0.0.0/8"), v4("10.1.2.0/24")])
        );
    }

    #[test]
    fn trailing_bits_are_cleared() {
        // RFC 4271 §4.3: "Trailing bits at the end of the prefix field are irrelevant".
        assert_eq!(
            decode_ipv4(&[23, 10, 1, 3], false),
            Ok(vec![v4("10.1.2.0/23")])
        );
        assert_eq!(decode_ipv4(&[0], false), Ok(vec![v4("0.0.0.0/0")]));
    }

    #[test]
    fn malformed_fields_name_the_offset() {
        assert_eq!(
            decode_ipv4(&[8, 10, 33, 1, 2, 3, 4], false),
            Err(NlriError::PrefixTooLong {
                len: 33,
                max: 32,
                offset: 2
            })
        );
        assert_eq!(
            decode_ipv4(&[24, 10, 1], false),
            Err(NlriError::Truncated {
                len: 24,
                needed: 3,
                available: 2,
                offset: 0
            })
        );
        assert_eq!(
            decode_ipv4(&[0, 0, 0], true),
            Err(NlriError::PathIdTruncated {
                available: 3,
                offset: 0
            })
        );
        assert_eq!(
            decode_ipv6(&[0, 0, 0, 7, 64, 0x20, 0x01], true),
            Err(NlriError::Truncated {
                len: 64,
                needed: 8,
                available: 2,
                offset: 0
            })
        );
    }

    #[test]
    fn path_ids_are_encoded_only_with_add_path() {
        let routes = [Nlri {
            path_id: Some(7),
            prefix: "10.0.0.0/8".parse::<Ipv4Prefix>().expect("prefix"),
        }];
        let mut out = BytesMut::new();
        encode(&routes, true, &mut out).expect("encodes");
        assert_eq!(&out[..], &[0, 0, 0, 7, 8, 10]);
        assert!(encode(&routes, false, &mut out).is_err());
        assert!(encode(&[v4("10.0.0.0/8")], true, &mut out).is_err());
    }
}
