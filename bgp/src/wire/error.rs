//! Codec errors and their NOTIFICATIONs.
//!
//! UPDATE errors follow RFC 7606: each [`UpdateError`] has an [`Outcome`] (ranked
//! `AttributeDiscard < TreatAsWithdraw < AfiSafiDisable < SessionReset`, §2) and the
//! (code, subcode, data) RFC 4271 §6.3 names for it. Both mappings are one exhaustive `match`
//! each, so a new error cannot be added without deciding both.

use bytes::{BufMut, Bytes, BytesMut};

use super::aspath::AsPathError;
use super::attribute::type_code;
use super::capability::CapabilityError;
use super::family::AfiSafi;
use super::header::MessageType;
use super::nlri::{NlriError, PathIdMismatch};
use super::notification::{
    ErrorCode, MessageHeaderError, Notification, RouteRefreshError, UpdateMessageError,
};
use super::open::OpenError;

/// What to do about a malformed UPDATE (RFC 7606 §2), weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// "attribute discard": drop the attribute, process the rest of the UPDATE.
    AttributeDiscard,
    /// "treat-as-withdraw": every NLRI of the UPDATE is withdrawn (RFC 7606 §2).
    TreatAsWithdraw,
    /// "AFI/SAFI disable": stop the family on this session (RFC 4760 §7).
    AfiSafiDisable,
    /// "session reset": NOTIFICATION and close (RFC 4271 §6).
    SessionReset,
}

/// Which NLRI field of an UPDATE an NLRI error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NlriField {
    WithdrawnRoutes,
    Nlri,
}

/// One problem with a received UPDATE. `attribute` fields hold the whole attribute as received
/// (flags, type, length, value), which RFC 4271 §6.3 puts in the NOTIFICATION data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("Withdrawn Routes Length {declared} overruns the {available} octets of the UPDATE")]
    WithdrawnRoutesOverrun { declared: usize, available: usize },
    #[error("Total Path Attribute Length {declared} overruns the {available} octets left")]
    AttributesOverrun { declared: usize, available: usize },
    #[error("attribute at offset {offset} overruns the path attributes ({available} octets left)")]
    AttributeTruncated { offset: usize, available: usize },
    #[error("{field:?} field: {error}")]
    InvalidNlri { field: NlriField, error: NlriError },
    #[error("attribute {type_code} has flags {flags:#04x}, conflicting with its definition")]
    AttributeFlags {
        type_code: u8,
        flags: u8,
        attribute: Bytes,
    },
    #[error("attribute {type_code} has invalid length {length}")]
    AttributeLength {
        type_code: u8,
        length: usize,
        attribute: Bytes,
    },
    #[error("ORIGIN value {value} is undefined")]
    InvalidOrigin { value: u8, attribute: Bytes },
    #[error("attribute {type_code} is a malformed AS path: {error}")]
    MalformedAsPath { type_code: u8, error: AsPathError },
    #[error("AS_PATH from an external peer carries confederation segments")]
    ConfedSegmentsFromExternal,
    #[error("NEXT_HOP {next_hop} is not a valid host address")]
    InvalidNextHop {
        next_hop: std::net::Ipv4Addr,
        attribute: Bytes,
    },
    #[error("attribute {type_code} for {family:?} is malformed: {reason}")]
    MalformedMpAttribute {
        type_code: u8,
        family: Option<AfiSafi>,
        reason: String,
        attribute: Bytes,
    },
    #[error("attribute {type_code} appears more than once")]
    DuplicateAttribute { type_code: u8 },
    #[error("MP attribute {type_code} appears more than once")]
    DuplicateMpAttribute { type_code: u8 },
    #[error("unrecognized well-known attribute {type_code}")]
    UnrecognizedWellKnown { type_code: u8, attribute: Bytes },
    #[error("missing well-known attribute {type_code}")]
    MissingWellKnown { type_code: u8 },
    #[error("attribute {type_code} received from an external peer")]
    NotFromExternal { type_code: u8 },
    #[error("attribute {type_code} received from a 4-octet AS speaker")]
    As4FromNewSpeaker { type_code: u8 },
}

/// The outcome RFC 7606 §7 prescribes for a malformed attribute of `type_code` (flags or
/// length wrong, or value unparseable).
pub fn malformed_outcome(type_code: u8) -> Outcome {
    use type_code::*;
    match type_code {
        // §7.6, §7.7; RFC 6793 §6 for AS4_PATH and AS4_AGGREGATOR.
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => Outcome::AttributeDiscard,
        // §7.11, §7.12: the AFI/SAFI could be read, so only that family is affected.
        MP_REACH_NLRI | MP_UNREACH_NLRI => Outcome::AfiSafiDisable,
        // §7.1-§7.5, §7.8-§7.10, §7.14; RFC 8092 §6 for LARGE_COMMUNITIES; §2 for the rest:
        // treat-as-withdraw is the default for attributes affecting route selection.
        _ => Outcome::TreatAsWithdraw,
    }
}

impl UpdateError {
    /// What RFC 7606 says to do (the section is cited at each arm).
    pub fn outcome(&self) -> Outcome {
        match self {
            // §4 last paragraph / RFC 4271 §6.3: the NLRI cannot be located.
            UpdateError::WithdrawnRoutesOverrun { .. } | UpdateError::AttributesOverrun { .. } => {
                Outcome::SessionReset
            }
            // §4: "the treat-as-withdraw approach MUST be used ... and the Total Attribute
            // Length MUST be relied upon to enable the beginning of the NLRI field to be located".
            UpdateError::AttributeTruncated { .. } => Outcome::TreatAsWithdraw,
            // §5.3: a syntactically incorrect NLRI field resets the session.
            UpdateError::InvalidNlri { .. } => Outcome::SessionReset,
            UpdateError::AttributeFlags { type_code, .. }
            | UpdateError::AttributeLength { type_code, .. } => malformed_outcome(*type_code),
            // §7.1, §7.3.
            UpdateError::InvalidOrigin { .. } | UpdateError::InvalidNextHop { .. } => {
                Outcome::TreatAsWithdraw
            }
            // §7.2 for AS_PATH; RFC 6793 §6 for AS4_PATH (attribute discard).
            UpdateError::MalformedAsPath { type_code, .. } => malformed_outcome(*type_code),
            // §7.2: confederation segments from a non-confederation peer.
            UpdateError::ConfedSegmentsFromExternal => Outcome::TreatAsWithdraw,
            // §7.11/§7.12 with the AFI/SAFI readable; §5.3 (session reset) when it is not.
            UpdateError::MalformedMpAttribute {
                family: Some(_), ..
            } => Outcome::AfiSafiDisable,
            UpdateError::MalformedMpAttribute { family: None, .. } => Outcome::SessionReset,
            // §3 (g): all but the first occurrence are discarded.
            UpdateError::DuplicateAttribute { .. } => Outcome::AttributeDiscard,
            // §3 (e): "Malformed Attribute List" session reset.
            UpdateError::DuplicateMpAttribute { .. } => Outcome::SessionReset,
            // RFC 4271 §6.3, not revised by RFC 7606.
            UpdateError::UnrecognizedWellKnown { .. } => Outcome::SessionReset,
            // §3 (d).
            UpdateError::MissingWellKnown { .. } => Outcome::TreatAsWithdraw,
            // §7.5 (LOCAL_PREF); RFC 4456 §8 attributes are internal to the AS.
            UpdateError::NotFromExternal { .. } => Outcome::AttributeDiscard,
            // RFC 6793 §6: a NEW speaker "MUST discard" AS4_PATH/AS4_AGGREGATOR from a NEW one.
            UpdateError::As4FromNewSpeaker { .. } => Outcome::AttributeDiscard,
        }
    }

    /// The NOTIFICATION RFC 4271 §6.3 names for this error: sent when the outcome is
    /// [`Outcome::SessionReset`] (or when an AFI/SAFI disable escalates to a reset).
    /// `None` for errors that can only ever discard an attribute.
    pub fn notification(&self) -> Option<Notification> {
        use UpdateMessageError as S;
        let (subcode, data) = match self {
            UpdateError::WithdrawnRoutesOverrun { .. }
            | UpdateError::AttributesOverrun { .. }
            | UpdateError::AttributeTruncated { .. }
            | UpdateError::DuplicateAttribute { .. }
            | UpdateError::DuplicateMpAttribute { .. } => (S::MalformedAttributeList, Bytes::new()),
            UpdateError::InvalidNlri { .. } => (S::InvalidNetworkField, Bytes::new()),
            UpdateError::AttributeFlags { attribute, .. } => {
                (S::AttributeFlagsError, attribute.clone())
            }
            UpdateError::AttributeLength { attribute, .. } => {
                (S::AttributeLengthError, attribute.clone())
            }
            UpdateError::InvalidOrigin { attribute, .. } => {
                (S::InvalidOriginAttribute, attribute.clone())
            }
            UpdateError::MalformedAsPath { .. } | UpdateError::ConfedSegmentsFromExternal => {
                (S::MalformedAsPath, Bytes::new())
            }
            UpdateError::InvalidNextHop { attribute, .. } => {
                (S::InvalidNextHopAttribute, attribute.clone())
            }
            UpdateError::MalformedMpAttribute { attribute, .. } => {
                (S::OptionalAttributeError, attribute.clone())
            }
            UpdateError::UnrecognizedWellKnown { attribute, .. } => {
                (S::UnrecognizedWellKnownAttribute, attribute.clone())
            }
            // RFC 4271 §6.3: "the Data field MUST contain the Attribute Type Code".
            UpdateError::MissingWellKnown { type_code } => (
                S::MissingWellKnownAttribute,
                Bytes::copy_from_slice(&[*type_code]),
            ),
            UpdateError::NotFromExternal { .. } | UpdateError::As4FromNewSpeaker { .. } => {
                return None;
            }
        };
        Some(Notification::new(ErrorCode::UpdateMessage(subcode), data))
    }
}

/// A received message that cannot be accepted at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("marker is not all ones")]
    ConnectionNotSynchronized,
    #[error("bad message length {length} for {kind:?}")]
    BadMessageLength {
        length: u16,
        kind: Option<MessageType>,
    },
    #[error("bad message type {0}")]
    BadMessageType(u8),
    #[error("OPEN: {0}")]
    Open(#[from] OpenError),
    #[error("UPDATE: {0}")]
    Update(#[from] UpdateError),
    #[error("NOTIFICATION shorter than code and subcode")]
    NotificationTooShort,
    #[error("ROUTE-REFRESH has length {length}, RFC 7313 §5 wants 23")]
    RouteRefreshLength { length: u16, message: Bytes },
    #[error("buffer holds {available} octets, the header says {length}")]
    Incomplete { length: u16, available: usize },
}

impl MessageError {
    /// The NOTIFICATION to send, if any (RFC 4271 §6.1, §6.2, §6.3; RFC 7313 §5). A malformed
    /// NOTIFICATION is never answered with one (RFC 4271 §6.4).
    pub fn notification(&self) -> Option<Notification> {
        let header = |s, data: Bytes| Some(Notification::new(ErrorCode::MessageHeader(s), data));
        match self {
            MessageError::ConnectionNotSynchronized => {
                header(MessageHeaderError::ConnectionNotSynchronized, Bytes::new())
            }
            // RFC 4271 §6.1: "The Data field MUST contain the erroneous Length field".
            MessageError::BadMessageLength { length, .. } => {
                let mut data = BytesMut::with_capacity(2);
                data.put_u16(*length);
                header(MessageHeaderError::BadMessageLength, data.freeze())
            }
            // "The Data field MUST contain the erroneous Type field".
            MessageError::BadMessageType(kind) => header(
                MessageHeaderError::BadMessageType,
                Bytes::copy_from_slice(&[*kind]),
            ),
            MessageError::Open(e) => Some(e.notification()),
            MessageError::Update(e) => e.notification(),
            MessageError::NotificationTooShort | MessageError::Incomplete { .. } => None,
            // RFC 7313 §5: "the Data field ... containing the complete ROUTE-REFRESH message".
            MessageError::RouteRefreshLength { message, .. } => Some(Notification::new(
                ErrorCode::RouteRefreshMessage(RouteRefreshError::InvalidMessageLength),
                message.clone(),
            )),
        }
    }
}

/// A message that cannot be encoded as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{kind:?} of {len} octets exceeds the maximum of {max}")]
    MessageTooLong {
        kind: MessageType,
        len: usize,
        max: usize,
    },
    #[error(transparent)]
    PathId(#[from] PathIdMismatch),
    #[error(
        "attribute {type_code} holds AS {asn}, which needs 4-octet AS (split it for the 2-octet peer first)"
    )]
    AsnNeedsFourOctets { type_code: u8, asn: u32 },
    #[error("attribute {type_code} has an AS path segment of {len} ASes (1..=255 allowed)")]
    AsPathSegmentSize { type_code: u8, len: usize },
    #[error("attribute {type_code} value of {len} octets does not fit its length field")]
    AttributeTooLong { type_code: u8, len: usize },
    #[error(transparent)]
    Capability(#[from] CapabilityError),
}
