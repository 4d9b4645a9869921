//! Route attributes as the RIB keeps them: one normalised, hashable value per distinct
//! attribute set, built from a received UPDATE and turned back into wire attributes for a
//! given session.
//!
//! Normalisation on the way in: the next hop of the route's family (NEXT_HOP for the IPv4
//! NLRI field, the MP_REACH_NLRI next hop otherwise, RFC 4760 §3), AS_PATH and AS4_PATH merged
//! for 2-octet peers (RFC 6793 §4.2.3), and unrecognized attributes kept only when they are
//! propagated — optional transitive ones, with the Partial bit set (RFC 4271 §5).

use std::net::Ipv4Addr;

use bytes::Bytes;

use crate::wire::aspath::as4;
use crate::wire::{
    Aggregator, AsPath, Attribute, Community, ExtendedCommunity, LargeCommunity, NextHop, Origin,
    PathAttribute, SessionContext, UnknownAttribute, Update,
};

/// RFC 4271 §9.1.1 leaves the default degree of preference to the implementation; 100 is what
/// every common implementation uses when LOCAL_PREF is absent.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// An unrecognized optional transitive attribute kept for propagation (RFC 4271 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpaqueAttribute {
    pub type_code: u8,
    pub value: Bytes,
}

/// The path attributes of a route, normalised. Interned by [`super::intern::AttrTable`], so
/// equal sets are one allocation shared by every route that carries them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteAttrs {
    pub origin: Origin,
    pub as_path: AsPath,
    /// `None` only for locally originated routes without an explicit next hop: "next hop
    /// self" towards every peer.
    pub next_hop: Option<NextHop>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub extended_communities: Vec<ExtendedCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub opaque: Vec<OpaqueAttribute>,
}

impl RouteAttrs {
    /// Attributes of a locally originated route: ORIGIN IGP, empty AS_PATH, next hop self.
    pub fn local() -> Self {
        RouteAttrs {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop: None,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: Vec::new(),
            extended_communities: Vec::new(),
            large_communities: Vec::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            opaque: Vec::new(),
        }
    }

    /// The attributes an UPDATE announces its routes with, without a next hop (the caller
    /// sets the one of each family, see [`RouteAttrs::with_next_hop`]). ORIGIN and AS_PATH are
    /// mandatory for announcements (RFC 4271 §5); RFC 7606 validation has already turned an
    /// UPDATE lacking them into a treat-as-withdraw, so absent values here mean "no routes".
    pub fn from_update(update: &Update) -> Option<RouteAttrs> {
        let mut attrs = RouteAttrs::local();
        let mut origin = None;
        let mut as_path = None;
        let mut as4_path = None;
        let mut as4_aggregator = None;
        for PathAttribute { value, .. } in &update.attributes {
            match value {
                Attribute::Origin(o) => origin = Some(*o),
                Attribute::AsPath(p) => as_path = Some(p),
                Attribute::As4Path(p) => as4_path = Some(p),
                Attribute::MultiExitDisc(v) => attrs.med = Some(*v),
                Attribute::LocalPref(v) => attrs.local_pref = Some(*v),
                Attribute::AtomicAggregate => attrs.atomic_aggregate = true,
                Attribute::Aggregator(a) => attrs.aggregator = Some(*a),
                Attribute::As4Aggregator(a) => as4_aggregator = Some(*a),
                Attribute::Communities(c) => attrs.communities.clone_from(c),
                Attribute::ExtendedCommunities(c) => attrs.extended_communities.clone_from(c),
                Attribute::LargeCommunities(c) => attrs.large_communities.clone_from(c),
                Attribute::OriginatorId(id) => attrs.originator_id = Some(*id),
                Attribute::ClusterList(c) => attrs.cluster_list.clone_from(c),
                Attribute::Unknown(UnknownAttribute {
                    type_code,
                    transitive: true,
                    value,
                }) => attrs.opaque.push(OpaqueAttribute {
                    type_code: *type_code,
                    value: value.clone(),
                }),
                // Non-transitive unknown attributes are "quietly ignored and not passed
                // along" (RFC 4271 §5); NEXT_HOP and MP_* are per family, read by the caller.
                Attribute::Unknown(_)
                | Attribute::NextHop(_)
                | Attribute::MpReachNlri(_)
                | Attribute::MpUnreachNlri(_) => {}
            }
        }
        attrs.origin = origin?;
        let as_path = as_path?;
        // AS4_PATH survives validation only from 2-octet speakers (RFC 6793 §6).
        let (path, aggregator) =
            as4::reconstruct(as_path, as4_path, attrs.aggregator, as4_aggregator);
        attrs.as_path = path;
        attrs.aggregator = aggregator;
        Some(attrs)
    }

    /// The same attributes with `next_hop`.
    pub fn with_next_hop(&self, next_hop: NextHop) -> RouteAttrs {
        RouteAttrs {
            next_hop: Some(next_hop),
            ..self.clone()
        }
    }

    /// Degree of preference for the decision process (RFC 4271 §9.1.1).
    pub fn preference(&self) -> u32 {
        self.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }

    /// True if the route carries `community`.
    pub fn has_community(&self, community: Community) -> bool {
        self.communities.contains(&community)
    }

    /// The wire attributes for a session with `ctx`, in type-code order, without the next hop
    /// (the packer adds NEXT_HOP or MP_REACH_NLRI for the family). For a 2-octet peer the AS
    /// path and aggregator are split into AS_PATH + AS4_PATH (RFC 6793 §4.2.2).
    pub fn to_wire(&self, ctx: &SessionContext) -> Vec<PathAttribute> {
        let mut out: Vec<PathAttribute> = Vec::with_capacity(8);
        let (as_path, as4_path) = if ctx.four_octet_as {
            (self.as_path.clone(), None)
        } else {
            as4::split_for_old_peer(&self.as_path)
        };
        let (aggregator, as4_aggregator) = match (&self.aggregator, ctx.four_octet_as) {
            (Some(a), false) => {
                let (two, four) = as4::split_aggregator_for_old_peer(a);
                (Some(two), four)
            }
            (a, _) => (*a, None),
        };
        out.push(Attribute::Origin(self.origin).into());
        out.push(Attribute::AsPath(as_path).into());
        out.extend(self.med.map(|v| Attribute::MultiExitDisc(v).into()));
        out.extend(self.local_pref.map(|v| Attribute::LocalPref(v).into()));
        if self.atomic_aggregate {
            out.push(Attribute::AtomicAggregate.into());
        }
        out.extend(aggregator.map(|a| Attribute::Aggregator(a).into()));
        if !self.communities.is_empty() {
            out.push(Attribute::Communities(self.communities.clone()).into());
        }
        out.extend(
            self.originator_id
                .map(|id| Attribute::OriginatorId(id).into()),
        );
        if !self.cluster_list.is_empty() {
            out.push(Attribute::ClusterList(self.cluster_list.clone()).into());
        }
        if !self.extended_communities.is_empty() {
            out.push(Attribute::ExtendedCommunities(self.extended_communities.clone()).into());
        }
        out.extend(as4_path.map(|p| Attribute::As4Path(p).into()));
        out.extend(as4_aggregator.map(|a| Attribute::As4Aggregator(a).into()));
        if !self.large_communities.is_empty() {
            out.push(Attribute::LargeCommunities(self.large_communities.clone()).into());
        }
        out.extend(self.opaque.iter().map(|o| PathAttribute {
            // RFC 4271 §5: an unrecognized optional transitive attribute is passed on with
            // the Partial bit set.
            partial: true,
            extended_length: false,
            value: Attribute::Unknown(UnknownAttribute {
                type_code: o.type_code,
                transitive: true,
                value: o.value.clone(),
            }),
        }));
        out
    }
}

/// Inserts `attribute` keeping the list in type-code order (RFC 4271 §5: "the sender of an
/// UPDATE message SHOULD order path attributes within the UPDATE message in ascending order of
/// attribute type").
pub(crate) fn insert_ordered(list: &mut Vec<PathAttribute>, attribute: PathAttribute) {
    let code = attribute.value.type_code();
    let at = list.partition_point(|a| a.value.type_code() < code);
    list.insert(at, attribute);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsSegment, SegmentType};

    fn update(attributes: Vec<Attribute>) -> Update {
        Update {
            attributes: attributes.into_iter().map(PathAttribute::from).collect(),
            ..Update::default()
        }
    }

    #[test]
    fn from_update_needs_origin_and_as_path() {
        assert_eq!(RouteAttrs::from_update(&update(vec![])), None);
        let attrs = RouteAttrs::from_update(&update(vec![
            Attribute::Origin(Origin::Egp),
            Attribute::AsPath(AsPath::sequence([65001, 65002])),
            Attribute::MultiExitDisc(7),
            Attribute::Communities(vec![Community::new(65001, 1)]),
        ]))
        .expect("complete");
        assert_eq!(attrs.origin, Origin::Egp);
        assert_eq!(attrs.as_path, AsPath::sequence([65001, 65002]));
        assert_eq!(attrs.med, Some(7));
        assert_eq!(attrs.next_hop, None);
        assert!(attrs.has_community(Community::new(65001, 1)));
    }

    #[test]
    fn transitive_unknowns_are_kept_and_sent_partial_non_transitive_dropped() {
        // RFC 4271 §5.
        let unknown = |type_code, transitive| {
            Attribute::Unknown(UnknownAttribute {
                type_code,
                transitive,
                value: Bytes::from_static(b"\x01\x02"),
            })
        };
        let attrs = RouteAttrs::from_update(&update(vec![
            Attribute::Origin(Origin::Igp),
            Attribute::AsPath(AsPath::default()),
            unknown(99, true),
            unknown(98, false),
        ]))
        .expect("complete");
        assert_eq!(attrs.opaque.len(), 1);
        let wire = attrs.to_wire(&SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        });
        let last = wire.last().expect("attributes");
        assert!(last.partial);
        assert_eq!(last.value.type_code(), 99);
    }

    #[test]
    fn two_octet_peer_gets_as4_path_for_wide_asns() {
        // RFC 6793 §4.2.2.
        let mut attrs = RouteAttrs::local();
        attrs.as_path = AsPath::sequence([4_200_000_001, 65001]);
        let wire = attrs.to_wire(&SessionContext::default());
        let codes: Vec<u8> = wire.iter().map(|a| a.value.type_code()).collect();
        assert_eq!(codes, vec![1, 2, 17]);
        assert_eq!(
            wire[1].value,
            Attribute::AsPath(AsPath::sequence([23456, 65001]))
        );
    }

    #[test]
    fn as4_path_from_old_speaker_is_merged() {
        // RFC 6793 §4.2.3.
        let attrs = RouteAttrs::from_update(&update(vec![
            Attribute::Origin(Origin::Igp),
            Attribute::AsPath(AsPath::sequence([100, 23456])),
            Attribute::As4Path(AsPath::sequence([4_200_000_001])),
        ]))
        .expect("complete");
        assert_eq!(attrs.as_path, AsPath::sequence([100, 4_200_000_001]));
        let set = AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Set,
                asns: vec![1, 2],
            }],
        };
        assert_eq!(set.route_selection_len(), 1);
    }
}
