//! The BGP-4 wire codec: pure and sans-IO — bytes and a negotiated [`SessionContext`] in,
//! typed messages or typed errors out, and back.
//!
//! Read RFC 4271 §4 (formats) and §6 (errors) first, then RFC 7606 (revised UPDATE error
//! handling) and RFC 4760 (multiprotocol). Layout, smallest first:
//!
//! | file | owns |
//! |---|---|
//! | `header.rs` | framing: "need more bytes" or "a message of N octets", header checks |
//! | `message.rs` | [`Message`], [`decode`], [`decode_from`], [`Message::encode`] |
//! | `open.rs`, `capability.rs` | OPEN and its capabilities (RFC 5492 and friends) |
//! | `update.rs` | UPDATE framing, End-of-RIB (RFC 4724 §2) |
//! | `attribute.rs`, `attr_decode.rs` | path attributes: types + encoding, decoding + syntax checks |
//! | `aspath.rs` | AS_PATH / AS4_PATH and the RFC 6793 merge |
//! | `nlri.rs`, `prefix.rs`, `family.rs` | NLRI (with ADD-PATH), prefixes, AFI/SAFI |
//! | `validate.rs` | RFC 7606 semantic checks and the [`Verdict`] |
//! | `error.rs`, `notification.rs` | error types, outcomes, NOTIFICATION codes (one table) |
//!
//! nom is used inside (`parse.rs`) and never leaks into the API.

pub mod aspath;
mod attr_decode;
pub mod attribute;
pub mod capability;
pub mod error;
pub mod family;
pub mod header;
mod message;
pub mod nlri;
pub mod notification;
pub mod open;
mod parse;
pub mod prefix;
pub mod route_refresh;
pub mod update;
pub mod validate;

pub use aspath::{AsPath, AsSegment, SegmentType};
pub use attribute::{
    Aggregator, Attribute, Community, ExtendedCommunity, LargeCommunity, MpNlri, MpReach,
    MpUnreach, NextHop, Origin, PathAttribute, UnknownAttribute,
};
pub use capability::{
    AddPathFamily, AddPathMode, Capability, GracefulRestart, GracefulRestartFamily,
};
pub use error::{EncodeError, MessageError, Outcome, UpdateError};
pub use family::{Afi, AfiSafi, FamilySet, Safi};
pub use header::{
    Frame, HEADER_LEN, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, MessageType, frame,
};
pub use message::{Decoded, Message, decode, decode_from};
pub use nlri::{Ipv4Nlri, Ipv6Nlri, Nlri};
pub use notification::{CeaseSubcode, ErrorCode, Notification};
pub use open::{AS_TRANS, Open, OpenError, OptionalParameter};
pub use prefix::{Ipv4Prefix, Ipv6Prefix, PrefixError};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::Update;
pub use validate::{Verdict, validate};

/// Internal or external peer: RFC 7606 treats some attributes differently per peer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerType {
    Internal,
    #[default]
    External,
}

/// What was negotiated in the OPEN exchange and shapes the wire format of later messages.
///
/// The default is the state before OPENs are exchanged: 2-octet AS, 4096-octet messages, no
/// ADD-PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionContext {
    /// Both sides advertised 4-octet AS support (RFC 6793 §4.1).
    pub four_octet_as: bool,
    /// Both sides advertised Extended Message (RFC 8654 §3).
    pub extended_message: bool,
    /// Families whose received NLRI carry path identifiers (RFC 7911 §5: we advertised
    /// "receive" and the peer "send").
    pub add_path_receive: FamilySet,
    /// Families whose sent NLRI carry path identifiers.
    pub add_path_send: FamilySet,
    pub peer_type: PeerType,
}

impl SessionContext {
    /// Octets per AS number in AS_PATH and AGGREGATOR.
    pub fn as_width(&self) -> usize {
        if self.four_octet_as { 4 } else { 2 }
    }

    /// A context packed in one octet: bit 0 4-octet AS, bit 1 extended message, bits 2 and 3
    /// ADD-PATH (both directions) for IPv4 and IPv6 unicast, bit 4 an internal peer. The fuzz
    /// target's inputs (and its seeds) start with this octet; the decoder-bounds test
    /// enumerates it.
    pub fn from_octet(bits: u8) -> Self {
        let mut add_path = FamilySet::EMPTY;
        if bits & 4 != 0 {
            add_path.insert(AfiSafi::IPV4_UNICAST);
        }
        if bits & 8 != 0 {
            add_path.insert(AfiSafi::IPV6_UNICAST);
        }
        SessionContext {
            four_octet_as: bits & 1 != 0,
            extended_message: bits & 2 != 0,
            add_path_receive: add_path,
            add_path_send: add_path,
            peer_type: if bits & 16 != 0 {
                PeerType::Internal
            } else {
                PeerType::External
            },
        }
    }

    /// Largest message this session may carry (RFC 4271 §4, RFC 8654 §4).
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}
