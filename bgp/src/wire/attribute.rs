//! Path attributes (RFC 4271 §4.3 and §5) and their encoding.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |O|T|P|E|0 0 0 0|  Type code    |  then Length: 1 octet, or 2 if E (Extended Length)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Known attributes decode into typed values (`attr_decode.rs`); unknown optional ones are kept
//! as [`UnknownAttribute`] and re-sent with the Partial bit when transitive (RFC 4271 §5:
//! "If an optional transitive attribute is unrecognized, the Partial bit in the attribute
//! flags octet is set to 1, and the attribute is retained for propagation to other BGP
//! speakers").

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

use super::SessionContext;
use super::aspath::{AsPath, EncodeProblem};
use super::error::EncodeError;
use super::family::AfiSafi;
use super::nlri::{self, Ipv4Nlri, Ipv6Nlri};

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod type_code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// One path attribute with the flags that are not implied by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAttribute {
    /// Partial bit as received (or to send).
    pub partial: bool,
    /// Extended Length bit as received; the encoder sets it anyway when the value exceeds 255
    /// octets (RFC 4271 §4.3).
    pub extended_length: bool,
    pub value: Attribute,
}

impl From<Attribute> for PathAttribute {
    fn from(value: Attribute) -> Self {
        PathAttribute {
            partial: false,
            extended_length: false,
            value,
        }
    }
}

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AGGREGATOR / AS4_AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A COMMUNITIES value (RFC 1997): AS in the high 16 bits, value in the low 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);

    pub fn new(asn: u16, value: u16) -> Self {
        Community((u32::from(asn) << 16) | u32::from(value))
    }
}

/// An EXTENDED_COMMUNITIES value (RFC 4360 §2), kept as its 8 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

/// A LARGE_COMMUNITIES value (RFC 8092 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

/// Next hop of MP_REACH_NLRI (RFC 4760 §3; RFC 2545 §3 for IPv6 global + link-local).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NextHop {
    Ipv4(Ipv4Addr),
    Ipv6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// The next hop of a family margay does not route, as received.
    Other(Bytes),
}

impl NextHop {
    fn encoded_len(&self) -> usize {
        match self {
            NextHop::Ipv4(_) => 4,
            NextHop::Ipv6 {
                link_local: None, ..
            } => 16,
            NextHop::Ipv6 {
                link_local: Some(_),
                ..
            } => 32,
            NextHop::Other(b) => b.len(),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            NextHop::Ipv4(a) => out.put_slice(&a.octets()),
            NextHop::Ipv6 { global, link_local } => {
                out.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.put_slice(&ll.octets());
                }
            }
            NextHop::Other(b) => out.put_slice(b),
        }
    }
}

/// The routes of an MP_REACH_NLRI or MP_UNREACH_NLRI, per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MpNlri {
    Ipv4(Vec<Ipv4Nlri>),
    Ipv6(Vec<Ipv6Nlri>),
    /// A family margay does not route: the NLRI octets as received.
    Other(Bytes),
}

impl MpNlri {
    pub fn is_empty(&self) -> bool {
        match self {
            MpNlri::Ipv4(v) => v.is_empty(),
            MpNlri::Ipv6(v) => v.is_empty(),
            MpNlri::Other(b) => b.is_empty(),
        }
    }

    fn encoded_len(&self, family: AfiSafi, ctx: &SessionContext) -> usize {
        let add_path = ctx.add_path_send.contains(family);
        match self {
            MpNlri::Ipv4(v) => nlri::encoded_len(v, add_path),
            MpNlri::Ipv6(v) => nlri::encoded_len(v, add_path),
            MpNlri::Other(b) => b.len(),
        }
    }

    fn encode(
        &self,
        family: AfiSafi,
        ctx: &SessionContext,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let add_path = ctx.add_path_send.contains(family);
        match self {
            MpNlri::Ipv4(v) => nlri::encode(v, add_path, out)?,
            MpNlri::Ipv6(v) => nlri::encode(v, add_path, out)?,
            MpNlri::Other(b) => out.put_slice(b),
        }
        Ok(())
    }
}

/// MP_REACH_NLRI (RFC 4760 §3).
///
/// ```text
/// +---------------------------------------------------------+
/// | AFI (2) | SAFI (1) | Next Hop Length (1) | Next Hop ... |
/// +---------------------------------------------------------+
/// | Reserved (1) | NLRI (variable)                          |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    pub family: AfiSafi,
    pub next_hop: NextHop,
    pub nlri: MpNlri,
}

/// MP_UNREACH_NLRI (RFC 4760 §4): AFI (2), SAFI (1), Withdrawn Routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: AfiSafi,
    pub withdrawn: MpNlri,
}

/// An optional attribute margay does not know, kept for propagation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute {
    pub type_code: u8,
    pub transitive: bool,
    pub value: Bytes,
}

/// The value of a path attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    Origin(Origin),
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    MultiExitDisc(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<Community>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReachNlri(MpReach),
    MpUnreachNlri(MpUnreach),
    ExtendedCommunities(Vec<ExtendedCommunity>),
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    LargeCommunities(Vec<LargeCommunity>),
    /// An unrecognized optional attribute (RFC 4271 §5).
    Unknown(UnknownAttribute),
}

/// (Optional, Transitive) bits each known attribute must carry (RFC 4271 §5, RFC 1997,
/// RFC 4360, RFC 4456, RFC 4760, RFC 6793, RFC 8092); `None` for unknown types.
pub fn expected_flags(type_code: u8) -> Option<(bool, bool)> {
    use type_code::*;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => (false, true),
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => {
            (true, false)
        }
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | LARGE_COMMUNITIES => (true, true),
        _ => return None,
    })
}

impl Attribute {
    pub fn type_code(&self) -> u8 {
        use type_code::*;
        match self {
            Attribute::Origin(_) => ORIGIN,
            Attribute::AsPath(_) => AS_PATH,
            Attribute::NextHop(_) => NEXT_HOP,
            Attribute::MultiExitDisc(_) => MULTI_EXIT_DISC,
            Attribute::LocalPref(_) => LOCAL_PREF,
            Attribute::AtomicAggregate => ATOMIC_AGGREGATE,
            Attribute::Aggregator(_) => AGGREGATOR,
            Attribute::Communities(_) => COMMUNITIES,
            Attribute::OriginatorId(_) => ORIGINATOR_ID,
            Attribute::ClusterList(_) => CLUSTER_LIST,
            Attribute::MpReachNlri(_) => MP_REACH_NLRI,
            Attribute::MpUnreachNlri(_) => MP_UNREACH_NLRI,
            Attribute::ExtendedCommunities(_) => EXTENDED_COMMUNITIES,
            Attribute::As4Path(_) => AS4_PATH,
            Attribute::As4Aggregator(_) => AS4_AGGREGATOR,
            Attribute::LargeCommunities(_) => LARGE_COMMUNITIES,
            Attribute::Unknown(u) => u.type_code,
        }
    }

    /// Optional and Transitive flag bits.
    fn flag_bits(&self) -> u8 {
        let (optional, transitive) = match self {
            Attribute::Unknown(u) => (true, u.transitive),
            known => expected_flags(known.type_code()).unwrap_or((true, false)),
        };
        (if optional { flags::OPTIONAL } else { 0 })
            | (if transitive { flags::TRANSITIVE } else { 0 })
    }

    fn value_len(&self, ctx: &SessionContext) -> usize {
        let as_width = ctx.as_width();
        match self {
            Attribute::Origin(_) => 1,
            Attribute::AsPath(p) => p.encoded_len(as_width),
            Attribute::NextHop(_)
            | Attribute::MultiExitDisc(_)
            | Attribute::LocalPref(_)
            | Attribute::OriginatorId(_) => 4,
            Attribute::AtomicAggregate => 0,
            Attribute::Aggregator(_) => as_width + 4,
            Attribute::Communities(c) => 4 * c.len(),
            Attribute::ClusterList(c) => 4 * c.len(),
            Attribute::MpReachNlri(r) => {
                5 + r.next_hop.encoded_len() + r.nlri.encoded_len(r.family, ctx)
            }
            Attribute::MpUnreachNlri(u) => 3 + u.withdrawn.encoded_len(u.family, ctx),
            Attribute::ExtendedCommunities(c) => 8 * c.len(),
            Attribute::As4Path(p) => p.encoded_len(4),
            Attribute::As4Aggregator(_) => 8,
            Attribute::LargeCommunities(c) => 12 * c.len(),
            Attribute::Unknown(u) => u.value.len(),
        }
    }

    fn encode_value(&self, ctx: &SessionContext, out: &mut BytesMut) -> Result<(), EncodeError> {
        let as_width = ctx.as_width();
        match self {
            Attribute::Origin(o) => out.put_u8(*o as u8),
            Attribute::AsPath(p) => {
                p.encodable(as_width)
                    .map_err(|e| path_problem(self.type_code(), e))?;
                p.encode(as_width, out);
            }
            Attribute::As4Path(p) => {
                p.encodable(4)
                    .map_err(|e| path_problem(self.type_code(), e))?;
                p.encode(4, out);
            }
            Attribute::NextHop(a) | Attribute::OriginatorId(a) => out.put_slice(&a.octets()),
            Attribute::MultiExitDisc(v) | Attribute::LocalPref(v) => out.put_u32(*v),
            Attribute::AtomicAggregate => {}
            Attribute::Aggregator(a) => {
                if as_width == 4 {
                    out.put_u32(a.asn);
                } else {
                    let asn =
                        u16::try_from(a.asn).map_err(|_| EncodeError::AsnNeedsFourOctets {
                            type_code: self.type_code(),
                            asn: a.asn,
                        })?;
                    out.put_u16(asn);
                }
                out.put_slice(&a.address.octets());
            }
            Attribute::As4Aggregator(a) => {
                out.put_u32(a.asn);
                out.put_slice(&a.address.octets());
            }
            Attribute::Communities(c) => c.iter().for_each(|c| out.put_u32(c.0)),
            Attribute::ClusterList(c) => c.iter().for_each(|id| out.put_slice(&id.octets())),
            Attribute::ExtendedCommunities(c) => c.iter().for_each(|c| out.put_slice(&c.0)),
            Attribute::LargeCommunities(c) => c.iter().for_each(|c| {
                out.put_u32(c.global_admin);
                out.put_u32(c.local_data_1);
                out.put_u32(c.local_data_2);
            }),
            Attribute::MpReachNlri(r) => {
                out.put_u16(r.family.afi.0);
                out.put_u8(r.family.safi.0);
                let nh_len = r.next_hop.encoded_len();
                out.put_u8(
                    u8::try_from(nh_len).map_err(|_| EncodeError::AttributeTooLong {
                        type_code: self.type_code(),
                        len: nh_len,
                    })?,
                );
                r.next_hop.encode(out);
                out.put_u8(0); // Reserved (RFC 4760 §3: "MUST be set to 0")
                r.nlri.encode(r.family, ctx, out)?;
            }
            Attribute::MpUnreachNlri(u) => {
                out.put_u16(u.family.afi.0);
                out.put_u8(u.family.safi.0);
                u.withdrawn.encode(u.family, ctx, out)?;
            }
            Attribute::Unknown(u) => out.put_slice(&u.value),
        }
        Ok(())
    }
}

fn path_problem(type_code: u8, problem: EncodeProblem) -> EncodeError {
    match problem {
        EncodeProblem::SegmentSize(len) => EncodeError::AsPathSegmentSize { type_code, len },
        EncodeProblem::AsnNeedsFourOctets(asn) => {
            EncodeError::AsnNeedsFourOctets { type_code, asn }
        }
    }
}

impl PathAttribute {
    /// Octets this attribute occupies on the wire.
    pub(crate) fn encoded_len(&self, ctx: &SessionContext) -> usize {
        let len = self.value.value_len(ctx);
        let ext = self.extended_length || len > 255;
        2 + if ext { 2 } else { 1 } + len
    }

    /// Appends flags, type, length and value.
    pub(crate) fn encode(
        &self,
        ctx: &SessionContext,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let len = self.value.value_len(ctx);
        let type_code = self.value.type_code();
        let ext = self.extended_length || len > 255;
        let mut flag_octet = self.value.flag_bits();
        if self.partial {
            flag_octet |= flags::PARTIAL;
        }
        if ext {
            flag_octet |= flags::EXTENDED_LENGTH;
        }
        out.put_u8(flag_octet);
        out.put_u8(type_code);
        if ext {
            out.put_u16(
                u16::try_from(len).map_err(|_| EncodeError::AttributeTooLong { type_code, len })?,
            );
        } else {
            out.put_u8(
                u8::try_from(len).map_err(|_| EncodeError::AttributeTooLong { type_code, len })?,
            );
        }
        let start = out.len();
        self.value.encode_value(ctx, out)?;
        debug_assert_eq!(
            out.len() - start,
            len,
            "value_len disagrees with encode for type {type_code}"
        );
        Ok(())
    }

    /// The attribute as it should be propagated to other peers: an unrecognized optional
    /// transitive attribute gets the Partial bit (RFC 4271 §5); known ones keep their flags.
    pub fn for_propagation(&self) -> PathAttribute {
        let mut out = self.clone();
        if let Attribute::Unknown(UnknownAttribute {
            transitive: true, ..
        }) = out.value
        {
            out.partial = true;
        }
        out
    }

    /// False for unrecognized optional non-transitive attributes, which RFC 4271 §5 says are
    /// "quietly ignored and not passed along to other BGP peers".
    pub fn is_propagated(&self) -> bool {
        !matches!(
            self.value,
            Attribute::Unknown(UnknownAttribute {
                transitive: false,
                ..
            })
        )
    }
}
