//! Advertisement rules: what a Loc-RIB best path looks like when sent to one peer, or that it
//! is not sent at all (RFC 4271 §9.2 and §5.1, RFC 4456 §6 and §8, RFC 1997). Export policy
//! runs on the result.
//!
//! | rule | source |
//! |---|---|
//! | never back to the peer the path came from | split horizon (implementation choice) |
//! | NO_ADVERTISE: to nobody; NO_EXPORT, NO_EXPORT_SUBCONFED: not to eBGP | RFC 1997 |
//! | iBGP-learned to iBGP only when reflecting: from a client to everyone, from a non-client to clients | RFC 4271 §9.2, RFC 4456 §6 |
//! | reflecting: ORIGINATOR_ID = sender's BGP Identifier unless present; CLUSTER_LIST gets our cluster id prepended | RFC 4456 §8 |
//! | to iBGP: LOCAL_PREF always present | RFC 4271 §5.1.5 |
//! | to eBGP: own AS prepended, LOCAL_PREF removed, MED from another AS removed, ORIGINATOR_ID/CLUSTER_LIST removed | RFC 4271 §5.1.2, §5.1.4, §5.1.5; RFC 4456 §8 |
//! | next hop: our address for eBGP (or when configured), unchanged for iBGP (or when configured); always ours for local routes without a next hop | RFC 4271 §5.1.3 |

use std::net::Ipv4Addr;

use crate::wire::{Community, NextHop, PeerType};

use super::attrs::RouteAttrs;
use super::peer::{Peer, PeerId};

/// The route's sender.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender<'a> {
    pub id: PeerId,
    /// `None` for locally originated routes.
    pub peer: Option<&'a Peer>,
}

/// The peer a route is exported to.
#[derive(Debug, Clone)]
pub(crate) struct Receiver<'a> {
    pub id: PeerId,
    pub peer: &'a Peer,
    /// Our address as next hop for this peer and family, if we have one.
    pub self_next_hop: Option<NextHop>,
}

/// Our identity as the rules need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Speaker {
    pub local_asn: u32,
    /// Set when we reflect routes (RFC 4456 §7).
    pub cluster_id: Option<Ipv4Addr>,
}

/// The attributes to send `attrs` (from `from`) to `to` with, before export policy; `None`
/// when the rules forbid sending it.
pub(crate) fn advertise(
    speaker: &Speaker,
    from: Sender<'_>,
    to: &Receiver<'_>,
    attrs: &RouteAttrs,
) -> Option<RouteAttrs> {
    if from.id == to.id {
        return None;
    }
    let external = to.peer.kind == PeerType::External;
    if attrs.has_community(Community::NO_ADVERTISE)
        || (external
            && (attrs.has_community(Community::NO_EXPORT)
                || attrs.has_community(Community::NO_EXPORT_SUBCONFED)))
    {
        return None;
    }
    let mut out = attrs.clone();
    if external {
        out.as_path.prepend(speaker.local_asn);
        out.local_pref = None;
        if from.peer.is_some() {
            // RFC 4271 §5.1.4: "The MULTI_EXIT_DISC attribute received from a neighboring
            // AS MUST NOT be propagated to other neighboring ASes."
            out.med = None;
        }
        out.originator_id = None;
        out.cluster_list.clear();
    } else {
        if let Some(sender) = from.peer
            && sender.kind == PeerType::Internal
        {
            // RFC 4456 §6: from a client, reflect to all; from a non-client, to clients only.
            let reflect =
                sender.config.route_reflector_client || to.peer.config.route_reflector_client;
            let cluster_id = speaker.cluster_id.filter(|_| reflect)?;
            let sender_id = sender.router_id()?;
            out.originator_id.get_or_insert(sender_id);
            out.cluster_list.insert(0, cluster_id);
        }
        out.local_pref = Some(attrs.preference());
    }
    if to.peer.sets_next_hop_self() || out.next_hop.is_none() {
        out.next_hop = Some(to.self_next_hop.clone()?);
    }
    Some(out)
}
