//! Which BGP sessions a node has, derived from the datastore (DESIGN §5): the iBGP node mesh,
//! `BGPPeer`s that select this node, and the route-reflector roles from `Node` resources
//! (RFC 4456). Pure: the only input besides the resources is the caller's key-file reader.
//!
//! The rules, as Calico applies them (docs/peering.md):
//! - **Mesh** (`nodes.rs`): with `nodeMesh` on, every node that is not a route reflector has a
//!   session with every other such node (remote AS: that node's AS, so per-node ASNs make an
//!   eBGP mesh). The lower underlay address is passive.
//! - **Routers** (`routers.rs`): a `BGPPeer` with `peerIP` gives every node it applies to a
//!   session with that address (`global` for all nodes, `node` kind for `node`/`nodeSelector`).
//! - **Selected nodes** (`nodes.rs`): a `BGPPeer` with `peerSelector` gives nodes A and B a
//!   session when it applies to one and selects the other; towards a route reflector the
//!   session is `reflector`, from a reflector to a non-reflector it is `client` (RFC 4456 §6).
//! - **One session per address**: an explicit `BGPPeer` wins over the mesh; a node-specific
//!   `BGPPeer` wins over a global one; equal ones that disagree are reported in `problems`.

mod kind;
mod neighbor;
mod nodes;
mod routers;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use margay_bgp::speaker::NeighborConfig;

pub use kind::PeerKind;
pub use neighbor::{DEFAULT_HOLD_TIME, MAX_PREFIX_RESTART_AFTER, MAX_PREFIX_WARNING_PERCENT};
pub use nodes::is_route_reflector;
pub use settings::{
    BgpSettings, DEFAULT_ASN, DEFAULT_GRACEFUL_RESTART_SECONDS, DEFAULT_LISTEN_PORT,
    effective_settings, node_asn,
};

use crate::resources::{BgpConfiguration, BgpPeer, Node, PeerScope, PeerTarget};

/// One session of this node.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPeer {
    /// Why the session exists.
    pub kind: PeerKind,
    /// The remote node's name for node sessions, the `BGPPeer`'s name for routers.
    pub name: String,
    /// The speaker's configuration for it.
    pub neighbor: NeighborConfig,
}

/// Every session this node should have.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeeringPlan {
    /// Sorted by address, one per address.
    pub peers: Vec<PlannedPeer>,
    /// What kept a configured session out of the plan (an unreadable TCP MD5 key file, a
    /// router of a family this node has no address of) or was ambiguous, one line each, naming
    /// the resource and the value.
    pub problems: Vec<String>,
}

/// Which source wins when two give a session with the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    Mesh,
    GlobalPeer,
    NodePeer,
}

impl Precedence {
    fn of(peer: &BgpPeer) -> Self {
        match peer.scope {
            PeerScope::Global => Precedence::GlobalPeer,
            PeerScope::Node(_) | PeerScope::Selected(_) => Precedence::NodePeer,
        }
    }
}

/// A session offered by one source.
struct Offer {
    precedence: Precedence,
    source: String,
    peer: PlannedPeer,
}

/// The sessions chosen so far, one per address, and the problems seen.
#[derive(Default)]
struct Planner {
    chosen: BTreeMap<IpAddr, Offer>,
    problems: Vec<String>,
}

impl Planner {
    /// Keeps `offer` unless a source of higher precedence, or an earlier one of the same
    /// precedence, already gave a session with that address.
    fn offer(&mut self, offer: Offer) {
        let address = offer.peer.neighbor.address;
        match self.chosen.get(&address) {
            Some(kept) if kept.precedence > offer.precedence => {}
            Some(kept) if kept.precedence == offer.precedence => {
                if kept.peer != offer.peer {
                    self.problems.push(format!(
                        "{} and {} both configure the session with {address}, differently; using {}",
                        kept.source, offer.source, kept.source
                    ));
                }
            }
            _ => {
                self.chosen.insert(address, offer);
            }
        }
    }

    fn finish(self) -> PeeringPlan {
        PeeringPlan {
            peers: self.chosen.into_values().map(|o| o.peer).collect(),
            problems: self.problems,
        }
    }
}

/// The sessions `local` has: the node mesh with `nodes`, and what `peers` give it, under
/// `configs`. TCP MD5 keys are read with `read_secret`; a peer whose key cannot be read or
/// used is left out and named in `problems`.
pub fn plan(
    local: &Node,
    nodes: &[Node],
    peers: &[BgpPeer],
    configs: &[BgpConfiguration],
    read_secret: &dyn Fn(&Path) -> io::Result<String>,
) -> PeeringPlan {
    let mut planner = Planner::default();
    if local.ipv4_address.is_none() && local.ipv6_address.is_none() {
        planner.problems.push(format!(
            "Node/{}: no underlay address (spec.bgp.ipv4Address or ipv6Address); no BGP sessions",
            local.name
        ));
        return planner.finish();
    }
    let local_asn = node_asn(local, configs);
    for peer in nodes::mesh(local, local_asn, nodes, configs) {
        planner.offer(Offer {
            precedence: Precedence::Mesh,
            source: "the node mesh".into(),
            peer,
        });
    }
    let mut secrets = neighbor::SecretReader::new(read_secret);
    let mut by_name: Vec<&BgpPeer> = peers.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    for peer in by_name {
        let sessions = match &peer.target {
            PeerTarget::Address { ip, asn } => {
                if !peer.applies_to(local.name.as_str(), &local.labels) {
                    continue;
                }
                match routers::router(local, local_asn, peer, *ip, *asn) {
                    Ok(session) => session.into_iter().collect(),
                    Err(problem) => {
                        planner.problems.push(problem);
                        continue;
                    }
                }
            }
            PeerTarget::Nodes(selector) => {
                nodes::selected(local, local_asn, peer, selector, nodes, configs)
            }
        };
        if sessions.is_empty() {
            continue;
        }
        let options = match secrets.options(peer) {
            Ok(options) => options,
            Err(problem) => {
                let addresses: Vec<String> = sessions
                    .iter()
                    .map(|s| s.neighbor.address.to_string())
                    .collect();
                planner.problems.push(format!(
                    "{problem}; session with {} left out",
                    addresses.join(", ")
                ));
                continue;
            }
        };
        for mut session in sessions {
            options.apply(&mut session.neighbor);
            planner.offer(Offer {
                precedence: Precedence::of(peer),
                source: format!("BGPPeer/{}", peer.name),
                peer: session,
            });
        }
    }
    planner.finish()
}
