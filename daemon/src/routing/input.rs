//! The decision's inputs as plain data (DESIGN §3, §6: IPPool, Node, blocks; §5: BGP paths).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_vxlan::Mac;

pub use crate::resources::{Encapsulation, EncapsulationParseError};

/// This node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNode {
    /// The node's name.
    pub name: String,
    /// The underlay address with the prefix length of its subnet (e.g. `172.18.1.10/24`).
    pub underlay: IpNetwork,
    /// The blocks affine to this node (blackholed here, announced over BGP).
    pub blocks: Vec<IpNetwork>,
}

/// An IP pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The pool's CIDR.
    pub cidr: IpNetwork,
    /// How blocks of this pool reach other nodes.
    pub encapsulation: Encapsulation,
}

/// A remote node's VTEP as published in its `Node` resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtepAddr {
    /// The VTEP's tunnel address.
    pub tunnel_ip: IpAddr,
    /// The VTEP's MAC.
    pub mac: Mac,
}

/// Another node, as the datastore knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNode {
    /// The node's name.
    pub name: String,
    /// Its underlay address.
    pub underlay: IpAddr,
    /// Its VTEP, once it has one.
    pub vtep: Option<VtepAddr>,
    /// The blocks affine to it.
    pub blocks: Vec<IpNetwork>,
}

/// One BGP path for a prefix, from the speaker's Loc-RIB (the best path and its multipath
/// equals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BgpPath {
    /// The path's next hop.
    pub next_hop: IpAddr,
    /// Whether the next hop is on a directly connected subnet of this node.
    pub connected: bool,
    /// The peer the path came from.
    pub peer: IpAddr,
}

/// Everything the decision looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    /// This node.
    pub local: LocalNode,
    /// The pools.
    pub pools: Vec<Pool>,
    /// The other nodes.
    pub nodes: Vec<RemoteNode>,
    /// BGP paths per prefix (exact prefixes: a path for an aggregate does not count for a
    /// block inside it).
    pub bgp: BTreeMap<IpNetwork, Vec<BgpPath>>,
}
