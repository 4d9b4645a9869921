//! The decision's inputs as plain data (DESIGN §3, §6: IPPool, Node, blocks; §5: BGP paths).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnetwork::IpNetwork;
use margay_vxlan::Mac;

/// An IPPool's `encapsulation` (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encapsulation {
    /// The best BGP path as learned: the underlay is trusted to carry Pod routes.
    None,
    /// Always VXLAN.
    Vxlan,
    /// Direct inside our underlay subnet, VXLAN outside it.
    CrossSubnet,
    /// Direct inside our subnet, else a BGP path with a connected next hop, else VXLAN.
    #[default]
    Auto,
}

/// An encapsulation name that is none of `none`, `vxlan`, `cross-subnet`, `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encapsulation {0:?} is not one of none, vxlan, cross-subnet, auto")]
pub struct EncapsulationParseError(pub String);

impl FromStr for Encapsulation {
    type Err = EncapsulationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Encapsulation::None),
            "vxlan" => Ok(Encapsulation::Vxlan),
            "cross-subnet" => Ok(Encapsulation::CrossSubnet),
            "auto" => Ok(Encapsulation::Auto),
            other => Err(EncapsulationParseError(other.to_owned())),
        }
    }
}

impl fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encapsulation::None => "none",
            Encapsulation::Vxlan => "vxlan",
            Encapsulation::CrossSubnet => "cross-subnet",
            Encapsulation::Auto => "auto",
        })
    }
}

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
