//! RFC 7606 semantic checks on a decoded UPDATE, and the [`Verdict`].
//!
//! Decoding (`attr_decode.rs`) already left out attributes that failed their syntax checks.
//! Here the UPDATE as a whole is checked: mandatory attributes (RFC 7606 §3 (d)), attributes
//! that external peers must not send (§7.5, RFC 4456), AS4 attributes from 4-octet speakers
//! (RFC 6793 §6), confederation segments from external peers (§7.2) and the NEXT_HOP value
//! (§7.3, RFC 4271 §6.3). Attributes to discard are removed from the UPDATE; the verdict
//! carries every error and the strongest outcome.

use std::net::Ipv4Addr;

use bytes::BytesMut;

use super::attribute::{Attribute, type_code};
use super::error::{Outcome, UpdateError};
use super::family::AfiSafi;
use super::notification::Notification;
use super::update::Update;
use super::{PeerType, SessionContext};

/// Every problem found in one UPDATE; empty when it is clean.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub errors: Vec<UpdateError>,
}

impl Verdict {
    /// The strongest outcome, `None` for a clean UPDATE.
    pub fn outcome(&self) -> Option<Outcome> {
        self.errors.iter().map(UpdateError::outcome).max()
    }

    /// The NOTIFICATION to send before closing, when the outcome is a session reset: that of
    /// the first error calling for it.
    pub fn notification(&self) -> Option<Notification> {
        self.errors
            .iter()
            .filter(|e| e.outcome() == Outcome::SessionReset)
            .find_map(UpdateError::notification)
    }

    /// Families to disable (RFC 7606 §7.11, §7.12).
    pub fn disabled_families(&self) -> Vec<AfiSafi> {
        let mut out: Vec<AfiSafi> = self
            .errors
            .iter()
            .filter_map(|e| match e {
                UpdateError::MalformedMpAttribute {
                    family: Some(f), ..
                } => Some(*f),
                _ => None,
            })
            .collect();
        out.dedup();
        out
    }
}

/// The type code an error is about, if it is about one attribute.
fn error_type_code(e: &UpdateError) -> Option<u8> {
    match e {
        UpdateError::AttributeFlags { type_code, .. }
        | UpdateError::AttributeLength { type_code, .. }
        | UpdateError::MalformedAsPath { type_code, .. }
        | UpdateError::MalformedMpAttribute { type_code, .. }
        | UpdateError::DuplicateAttribute { type_code }
        | UpdateError::DuplicateMpAttribute { type_code }
        | UpdateError::UnrecognizedWellKnown { type_code, .. }
        | UpdateError::MissingWellKnown { type_code }
        | UpdateError::NotFromExternal { type_code }
        | UpdateError::As4FromNewSpeaker { type_code } => Some(*type_code),
        UpdateError::InvalidOrigin { .. } => Some(type_code::ORIGIN),
        UpdateError::InvalidNextHop { .. } => Some(type_code::NEXT_HOP),
        UpdateError::ConfedSegmentsFromExternal => Some(type_code::AS_PATH),
        UpdateError::WithdrawnRoutesOverrun { .. }
        | UpdateError::AttributesOverrun { .. }
        | UpdateError::AttributeTruncated { .. }
        | UpdateError::InvalidNlri { .. } => None,
    }
}

/// RFC 4271 §6.3: a NEXT_HOP that is not "a valid IP host address" — unspecified, limited
/// broadcast, multicast or class E.
fn is_martian_next_hop(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.octets()[0] >= 240
}

/// Checks `update` (decoded with `malformed` errors) and removes the attributes to discard.
pub fn validate(update: &mut Update, malformed: Vec<UpdateError>, ctx: &SessionContext) -> Verdict {
    let mut errors = malformed;
    let external = ctx.peer_type == PeerType::External;

    update.attributes.retain(|a| {
        let code = a.value.type_code();
        let drop = match code {
            // RFC 7606 §7.5: LOCAL_PREF from an external neighbour "SHALL be discarded".
            // RFC 4456 §8: ORIGINATOR_ID and CLUSTER_LIST are internal to the AS.
            type_code::LOCAL_PREF | type_code::ORIGINATOR_ID | type_code::CLUSTER_LIST
                if external =>
            {
                Some(UpdateError::NotFromExternal { type_code: code })
            }
            // RFC 6793 §6: "a NEW BGP speaker ... MUST discard" AS4_PATH and AS4_AGGREGATOR
            // received from another NEW speaker.
            type_code::AS4_PATH | type_code::AS4_AGGREGATOR if ctx.four_octet_as => {
                Some(UpdateError::As4FromNewSpeaker { type_code: code })
            }
            _ => None,
        };
        let keep = drop.is_none();
        errors.extend(drop);
        keep
    });

    // RFC 7606 §7.2: confederation segments from a peer outside the confederation.
    if external && update.as_path().is_some_and(|p| p.has_confed_segments()) {
        errors.push(UpdateError::ConfedSegmentsFromExternal);
    }

    // RFC 7606 §7.3: a semantically incorrect NEXT_HOP is treat-as-withdraw.
    if let Some(next_hop) = update.next_hop().filter(|a| is_martian_next_hop(*a)) {
        let mut attribute = BytesMut::new();
        if let Some(a) = update
            .attributes
            .iter()
            .find(|a| matches!(a.value, Attribute::NextHop(_)))
        {
            // Re-encoding a 4-octet NEXT_HOP cannot fail; on the impossible error the data
            // is just empty.
            let _ = a.encode(ctx, &mut attribute);
        }
        errors.push(UpdateError::InvalidNextHop {
            next_hop,
            attribute: attribute.freeze(),
        });
    }

    // RFC 7606 §3 (d): mandatory attributes when routes are announced. NEXT_HOP is needed
    // only for the IPv4 NLRI field (RFC 4760 §3). An attribute already reported malformed is
    // not also reported missing.
    if update.announces() {
        let mut required = vec![type_code::ORIGIN, type_code::AS_PATH];
        if !update.nlri.is_empty() {
            required.push(type_code::NEXT_HOP);
        }
        for code in required {
            let reported = errors.iter().any(|e| error_type_code(e) == Some(code));
            if update.attribute(code).is_none() && !reported {
                errors.push(UpdateError::MissingWellKnown { type_code: code });
            }
        }
    }
    Verdict { errors }
}
