//! What the local API carries: the node's status (its identity, VTEP, BGP sessions, problems)
//! and its routes with the reason each was chosen. Serialized as JSON (one value per line).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use super::cidr_text;
use crate::peering::PeerKind;

/// `margayctl node status`: who this node is and how its sessions are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeStatus {
    /// The node's name.
    pub node: String,
    /// Its underlay address with the prefix length of its subnet.
    #[serde(with = "cidr_text::one")]
    pub underlay: IpNetwork,
    /// Its AS number.
    pub asn: u32,
    /// Its BGP router ID.
    pub router_id: Ipv4Addr,
    /// The route reflector cluster ID when this node reflects (RFC 4456 §8).
    pub route_reflector_cluster_id: Option<Ipv4Addr>,
    /// The blocks affine to this node.
    #[serde(with = "cidr_text::many")]
    pub blocks: Vec<IpNetwork>,
    /// Its VTEP, once it has one.
    pub vtep: Option<VtepStatus>,
    /// Its BGP sessions.
    pub sessions: Vec<SessionStatus>,
    /// What is wrong (a peer refused, a route the kernel rejected...), for a human.
    pub problems: Vec<String>,
    /// Whether the kernel has been reconciled with the decision (false while a restarting
    /// node waits for BGP to converge before touching its routes).
    #[serde(default)]
    pub converged: bool,
}

/// This node's VXLAN tunnel endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VtepStatus {
    /// The device (`vxlan.margay`).
    pub device: String,
    /// Its tunnel address.
    pub tunnel_address: IpAddr,
    /// Its MAC, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Its MTU.
    pub mtu: u32,
}

/// One BGP session, as BIRD's `show protocols` or calicoctl's `node status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStatus {
    /// The peer's address.
    pub peer: IpAddr,
    /// Why the node has this session.
    pub kind: PeerKind,
    /// The peer's name (the other node, or the `BGPPeer`).
    pub name: String,
    /// The peer's AS.
    pub asn: u32,
    /// The RFC 4271 §8 state: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    pub state: String,
    /// When the session entered that state (seconds since the Unix epoch).
    pub since_unix: u64,
    /// Prefixes received from the peer (Adj-RIB-In).
    pub prefixes_received: usize,
    /// Prefixes sent to the peer (Adj-RIB-Out).
    pub prefixes_sent: usize,
    /// The last error of the session (a NOTIFICATION, a connection failure), if any.
    pub last_error: Option<String>,
}

/// How a block is routed (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// One of this node's blocks (blackholed).
    Own,
    /// Via the owner's underlay address on our subnet.
    Direct,
    /// Via BGP next hops (a ToR).
    Native,
    /// Through the VTEP.
    Vxlan,
    /// No route; the reason says why.
    None,
}

impl fmt::Display for RouteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteKind::Own => "own",
            RouteKind::Direct => "direct",
            RouteKind::Native => "native",
            RouteKind::Vxlan => "vxlan",
            RouteKind::None => "none",
        })
    }
}

/// One block and the route this node chose for it (or none), with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteStatus {
    /// The destination block.
    #[serde(with = "cidr_text::one")]
    pub dst: IpNetwork,
    /// How it is routed.
    pub kind: RouteKind,
    /// The route's forwarding part as `ip route` would show it (`blackhole`,
    /// `172.18.1.11 dev eth0`, `172.18.1.1, 172.18.1.2`, `10.244.3.0 dev vxlan.margay onlink`),
    /// empty without a route.
    pub via: String,
    /// Why (the decision's reason).
    pub reason: String,
}

/// A request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// The node's [`NodeStatus`].
    Status,
    /// The node's routes ([`RouteStatus`] per block).
    Routes,
}

/// A reply line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "body", rename_all = "lowercase")]
pub enum Reply {
    /// Answers [`Request::Status`].
    Status(NodeStatus),
    /// Answers [`Request::Routes`], sorted by destination.
    Routes(Vec<RouteStatus>),
    /// The request could not be answered.
    Error {
        /// What was wrong.
        message: String,
    },
}
