//! The decision's result: desired routes with their reasons, blocks left unrouted with theirs,
//! and the VTEP peers whose neighbour and FDB entries must exist.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_vxlan::RemoteVtep;

use super::input::Encapsulation;

/// How a desired route forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `blackhole <dst>`: an own block.
    Blackhole,
    /// `<dst> via <gateway> dev <uplink>`: the owner is on our L2 subnet.
    Direct {
        /// The owner's underlay address.
        gateway: IpAddr,
    },
    /// `<dst> via <next hop>` (one, or an ECMP set, sorted): BGP paths.
    Native {
        /// The next hops, sorted and without duplicates.
        next_hops: Vec<IpAddr>,
    },
    /// `<dst> via <tunnel ip> dev vxlan.margay onlink`.
    Vxlan {
        /// The owner's VTEP tunnel address.
        gateway: IpAddr,
    },
}

/// Why a block has the route it has, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One of our blocks.
    OwnBlock,
    /// The owner's underlay address is inside our underlay subnet.
    SameSubnet,
    /// BGP paths with directly connected next hops (`auto`) or the learned paths (`none`).
    Bgp {
        /// The pool's mode.
        mode: Encapsulation,
        /// The next hops used.
        next_hops: Vec<IpAddr>,
    },
    /// The pool says `vxlan`.
    VxlanAlways,
    /// `cross-subnet`: the owner is outside our underlay subnet.
    VxlanOtherSubnet {
        /// The owner's underlay address.
        underlay: IpAddr,
        /// Our underlay subnet.
        subnet: IpNetwork,
    },
    /// `auto`: not on our subnet and no BGP path with a connected next hop.
    VxlanNoConnectedPath,
    /// `none`: no BGP path for the block.
    NoBgpPath,
    /// `none`: BGP paths exist, but no next hop is directly connected (the kernel cannot use
    /// them).
    NextHopNotConnected {
        /// The next hops learned.
        next_hops: Vec<IpAddr>,
    },
    /// VXLAN was chosen but the owner has no VTEP of the block's address family.
    NoVtep {
        /// The pool's mode.
        mode: Encapsulation,
        /// The owner.
        node: String,
    },
    /// Learned over BGP only, no node owns it, and the mode needs the owner.
    OwnerUnknown {
        /// The pool's mode.
        mode: Encapsulation,
    },
    /// No pool contains the block.
    NoPool,
}

fn join(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OwnBlock => write!(f, "own block"),
            Reason::SameSubnet => write!(f, "same subnet"),
            Reason::Bgp {
                mode: Encapsulation::None,
                next_hops,
            } => {
                write!(f, "none: BGP path via {}", join(next_hops))
            }
            Reason::Bgp { next_hops, .. } => write!(f, "native via ToR {}", join(next_hops)),
            Reason::VxlanAlways => write!(f, "vxlan: pool encapsulation is vxlan"),
            Reason::VxlanOtherSubnet { underlay, subnet } => {
                write!(f, "vxlan: node {underlay} is outside our subnet {subnet}")
            }
            Reason::VxlanNoConnectedPath => {
                write!(f, "vxlan: no BGP path with a connected next hop")
            }
            Reason::NoBgpPath => write!(f, "none: no BGP path"),
            Reason::NextHopNotConnected { next_hops } => {
                write!(
                    f,
                    "none: BGP next hop {} not directly connected",
                    join(next_hops)
                )
            }
            Reason::NoVtep { mode, node } => {
                write!(f, "{mode}: node {node} has no VTEP for this address family")
            }
            Reason::OwnerUnknown { mode } => {
                write!(f, "{mode}: no node owns this block (learned over BGP only)")
            }
            Reason::NoPool => write!(f, "no IP pool contains this block"),
        }
    }
}

/// One desired kernel route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRoute {
    /// The destination block.
    pub dst: IpNetwork,
    /// How it forwards.
    pub via: Via,
    /// Why.
    pub reason: Reason,
}

/// The outcome of [`super::decide`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Desired routes by destination.
    pub routes: BTreeMap<IpNetwork, DesiredRoute>,
    /// Blocks that get no route, and why.
    pub unrouted: BTreeMap<IpNetwork, Reason>,
    /// The remote VTEPs whose neighbour and FDB entries must exist (every VTEP of a remote
    /// node while any pool may use VXLAN, so that a flip to VXLAN is one route replace).
    pub vtep_peers: Vec<RemoteVtep>,
}

impl Decision {
    /// Destinations whose desired route differs between `self` (before) and `after`: added,
    /// changed or removed. Reasons alone do not count (they change no kernel object).
    pub fn changed_destinations(&self, after: &Decision) -> Vec<IpNetwork> {
        let mut out: Vec<IpNetwork> = after
            .routes
            .iter()
            .filter(|(dst, r)| {
                self.routes
                    .get(dst)
                    .map(|old| old.via != r.via)
                    .unwrap_or(true)
            })
            .map(|(dst, _)| *dst)
            .collect();
        out.extend(
            self.routes
                .keys()
                .filter(|dst| !after.routes.contains_key(dst)),
        );
        out.sort();
        out
    }
}
