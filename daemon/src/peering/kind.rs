//! What a BGP session of a node is for, as `margayctl node status` shows it (DESIGN §5, §7).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why this node has a session with a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// Another node of the full iBGP node mesh (`BGPConfiguration.spec.nodeMesh`).
    Mesh,
    /// A `BGPPeer` that applies to every node.
    Global,
    /// A `BGPPeer` for this node only (`node` or `nodeSelector`).
    Node,
    /// A route reflector node this node is a client of.
    Reflector,
    /// A node this node reflects for (this node is a route reflector).
    Client,
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerKind::Mesh => "mesh",
            PeerKind::Global => "global",
            PeerKind::Node => "node",
            PeerKind::Reflector => "reflector",
            PeerKind::Client => "client",
        })
    }
}
