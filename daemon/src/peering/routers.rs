//! Sessions with routers: `BGPPeer`s with a `peerIP` (top-of-rack routers, external
//! speakers), for every node (`global`) or the nodes a `node`/`nodeSelector` names (DESIGN §5).

use std::net::IpAddr;

use margay_bgp::transport::BGP_PORT;

use super::neighbor::{local_address, neighbor};
use super::{PeerKind, PlannedPeer};
use crate::resources::{Asn, BgpPeer, Node, PeerScope};

/// The session `local` has with the router at `ip` in `asn` that `peer` describes (the peer
/// applies to `local`), without the peer's options applied. `Ok(None)` when `ip` is this
/// node's own address (a global peer naming a node's address skips that node, as Calico
/// does); an error when this node has no address of the router's family.
pub(super) fn router(
    local: &Node,
    local_asn: u32,
    peer: &BgpPeer,
    ip: IpAddr,
    asn: Asn,
) -> Result<Option<PlannedPeer>, String> {
    if local_address(local, ip) == Some(ip) {
        return Ok(None);
    }
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let neighbor = neighbor(local, local_asn, ip, BGP_PORT, asn.get()).ok_or_else(|| {
        format!(
            "BGPPeer/{}: peerIP {ip} is {family} but Node/{} has no {family} underlay address; session left out",
            peer.name, local.name
        )
    })?;
    let kind = match peer.scope {
        PeerScope::Global => PeerKind::Global,
        PeerScope::Node(_) | PeerScope::Selected(_) => PeerKind::Node,
    };
    Ok(Some(PlannedPeer {
        kind,
        name: peer.name.to_string(),
        neighbor,
    }))
}
