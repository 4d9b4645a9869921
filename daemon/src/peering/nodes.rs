//! Node-to-node sessions: the full iBGP node mesh and `BGPPeer`s with a `peerSelector`, with the
//! route-reflector roles of RFC 4456 (DESIGN §5).
//!
//! Both ends of a node-to-node session compute it from the same resources, so each rule here
//! is symmetric: a mesh session exists when both nodes are in the mesh; a selector session
//! exists when a `BGPPeer` applies to either node and selects the other; the node with the
//! lower underlay address waits (passive) and the higher one connects, so the mesh has no
//! connection collisions (RFC 4271 §6.8 still resolves any that happen).

use std::net::IpAddr;

use margay_bgp::speaker::NeighborConfig;

use super::neighbor::neighbor;
use super::settings::effective_settings;
use super::{PeerKind, PlannedPeer};
use crate::resources::{BgpConfiguration, BgpPeer, Node, Selector};

/// Whether `node` is a route reflector (`spec.bgp.routeReflectorClusterID` set, RFC 4456 §7).
pub fn is_route_reflector(node: &Node) -> bool {
    node.route_reflector_cluster_id.is_some()
}

/// The addresses (local, remote) a session between two nodes uses: IPv4 when both nodes have
/// an IPv4 underlay address, else IPv6 when both have an IPv6 one. One session per pair of
/// nodes carries both families (see `neighbor`), so routes are not learned twice.
fn session_addresses(local: &Node, remote: &Node) -> Option<(IpAddr, IpAddr)> {
    match (local.ipv4_address, remote.ipv4_address) {
        (Some(l), Some(r)) => Some((l.ip(), r.ip())),
        _ => match (local.ipv6_address, remote.ipv6_address) {
            (Some(l), Some(r)) => Some((l.ip(), r.ip())),
            _ => None,
        },
    }
}

/// The neighbor for a session from `local` to the node `remote`: its underlay address, its AS
/// and its listen port; passive when `local` has the lower address. `None` when the two share
/// no address family or have the same address.
fn node_neighbor(
    local: &Node,
    local_asn: u32,
    remote: &Node,
    configs: &[BgpConfiguration],
) -> Option<NeighborConfig> {
    let (local_addr, remote_addr) = session_addresses(local, remote)?;
    if local_addr == remote_addr {
        return None;
    }
    let remote_settings = effective_settings(remote, configs);
    let mut n = neighbor(
        local,
        local_asn,
        remote_addr,
        remote_settings.listen_port,
        remote_settings.asn,
    )?;
    n.passive = local_addr < remote_addr;
    Some(n)
}

/// The other nodes: everything in `nodes` not named like `local`.
fn others<'a>(local: &'a Node, nodes: &'a [Node]) -> impl Iterator<Item = &'a Node> + 'a {
    nodes.iter().filter(move |n| n.name != local.name)
}

/// Full-mesh sessions of `local`: with every other node in the mesh, when `local` is in it. A
/// node is in the mesh when its effective `nodeMesh` is on and it is not a route reflector.
pub(super) fn mesh(
    local: &Node,
    local_asn: u32,
    nodes: &[Node],
    configs: &[BgpConfiguration],
) -> Vec<PlannedPeer> {
    let in_mesh = |n: &Node| !is_route_reflector(n) && effective_settings(n, configs).node_mesh;
    if !in_mesh(local) {
        return Vec::new();
    }
    others(local, nodes)
        .filter(|remote| in_mesh(remote))
        .filter_map(|remote| {
            Some(PlannedPeer {
                kind: PeerKind::Mesh,
                name: remote.name.to_string(),
                neighbor: node_neighbor(local, local_asn, remote, configs)?,
            })
        })
        .collect()
}

/// Whether the `BGPPeer` `peer` with `peerSelector` `selector` gives `a` and `b` a session:
/// it applies to one of them and selects the other.
fn pairs(peer: &BgpPeer, selector: &Selector, a: &Node, b: &Node) -> bool {
    (peer.applies_to(a.name.as_str(), &a.labels) && selector.matches(&b.labels))
        || (peer.applies_to(b.name.as_str(), &b.labels) && selector.matches(&a.labels))
}

/// What the session with `remote` is to `local`, and whether `local` reflects routes to it
/// (RFC 4456 §6: a reflector's clients are the iBGP peers it is told are clients; two
/// reflectors are plain non-client peers of each other).
fn role(local: &Node, remote: &Node) -> (PeerKind, bool) {
    match (is_route_reflector(local), is_route_reflector(remote)) {
        (false, true) => (PeerKind::Reflector, false),
        (true, false) => (PeerKind::Client, true),
        (false, false) | (true, true) => (PeerKind::Node, false),
    }
}

/// The sessions of `local` that the `BGPPeer` `peer` with `peerSelector` `selector` creates,
/// without the peer's options (hold time, key, limit) applied.
pub(super) fn selected(
    local: &Node,
    local_asn: u32,
    peer: &BgpPeer,
    selector: &Selector,
    nodes: &[Node],
    configs: &[BgpConfiguration],
) -> Vec<PlannedPeer> {
    others(local, nodes)
        .filter(|remote| pairs(peer, selector, local, remote))
        .filter_map(|remote| {
            let mut neighbor = node_neighbor(local, local_asn, remote, configs)?;
            let (kind, client) = role(local, remote);
            neighbor.route_reflector_client = client;
            Some(PlannedPeer {
                kind,
                name: remote.name.to_string(),
                neighbor,
            })
        })
        .collect()
}
