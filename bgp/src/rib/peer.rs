//! Peers as the RIB knows them: configuration (addresses, AS, reflection, next hop, policy,
//! max-prefix) and, while the session is Established, what the OPEN exchange settled.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::policy::{MaxPrefix, PeerClass, Policy};
use crate::wire::{AfiSafi, FamilySet, PeerType, SessionContext};

/// A peer's handle in the RIB. [`PeerId::LOCAL`] stands for routes this speaker originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub(crate) u16);

impl PeerId {
    /// The pseudo-peer of locally originated routes.
    pub const LOCAL: PeerId = PeerId(0);

    pub(crate) fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PeerId::LOCAL {
            f.write_str("local")
        } else {
            write!(f, "peer#{}", self.0)
        }
    }
}

/// How to set NEXT_HOP on routes sent to a peer (RFC 4271 §5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextHopMode {
    /// eBGP: our own address; iBGP: unchanged.
    #[default]
    Auto,
    /// Always our own address.
    #[serde(rename = "self")]
    SelfAddress,
    /// Unchanged (third-party next hop on eBGP, RFC 4271 §5.1.3 (2)).
    Keep,
}

/// A peer's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub remote_asn: u32,
    /// An iBGP peer we reflect routes for (RFC 4456 §6).
    pub route_reflector_client: bool,
    pub next_hop: NextHopMode,
    /// Next hop self for IPv4 routes; default: the session's local address if IPv4.
    pub next_hop_self_v4: Option<Ipv4Addr>,
    /// Next hop self for IPv6 routes; default: the session's local address if IPv6.
    pub next_hop_self_v6: Option<Ipv6Addr>,
    pub import: Policy,
    pub export: Policy,
    pub max_prefix: Option<MaxPrefix>,
}

impl PeerConfig {
    /// A peer with default settings: no reflection, automatic next hop, accept-all policies,
    /// no prefix limit.
    pub fn new(address: IpAddr, remote_asn: u32) -> Self {
        PeerConfig {
            address,
            remote_asn,
            route_reflector_client: false,
            next_hop: NextHopMode::Auto,
            next_hop_self_v4: None,
            next_hop_self_v6: None,
            import: Policy::default(),
            export: Policy::default(),
            max_prefix: None,
        }
    }
}

/// What the driver tells the RIB when a session reaches Established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUp {
    /// The BGP Identifier from the peer's OPEN.
    pub router_id: Ipv4Addr,
    /// Our end of the TCP connection (the default next hop self).
    pub local_address: IpAddr,
    /// The negotiated context the driver encodes our UPDATEs with.
    pub context: SessionContext,
    /// Families both sides advertised (RFC 4760 §8); IPv4 unicast when neither sent MP.
    pub families: Vec<AfiSafi>,
}

/// An Established session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub router_id: Ipv4Addr,
    pub local_address: IpAddr,
    pub context: SessionContext,
    pub families: FamilySet,
    /// Families for which the max-prefix warning has been given this session.
    pub warned: FamilySet,
}

/// A configured peer and its session, if up.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub config: PeerConfig,
    pub kind: PeerType,
    pub session: Option<Session>,
    /// The BGP Identifier of a session that ended gracefully, kept while its stale routes
    /// take part in the decision process and in reflection (RFC 4724 §4.2).
    pub restarting_router_id: Option<Ipv4Addr>,
}

impl Peer {
    pub fn class(&self) -> PeerClass {
        match (self.kind, self.config.route_reflector_client) {
            (PeerType::External, _) => PeerClass::Ebgp,
            (PeerType::Internal, true) => PeerClass::ReflectorClient,
            (PeerType::Internal, false) => PeerClass::Ibgp,
        }
    }

    pub fn is_up(&self) -> bool {
        self.session.is_some()
    }

    /// The peer's BGP Identifier: the session's, or the gracefully ended one's.
    pub fn router_id(&self) -> Option<Ipv4Addr> {
        self.session
            .as_ref()
            .map(|s| s.router_id)
            .or(self.restarting_router_id)
    }

    /// Our address as next hop towards this peer for IPv4 routes.
    pub fn self_v4(&self) -> Option<Ipv4Addr> {
        self.config
            .next_hop_self_v4
            .or(match self.session.as_ref()?.local_address {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(a) => a.to_ipv4_mapped(),
            })
    }

    /// Our address as next hop towards this peer for IPv6 routes.
    pub fn self_v6(&self) -> Option<Ipv6Addr> {
        self.config
            .next_hop_self_v6
            .or(match self.session.as_ref()?.local_address {
                IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => Some(a),
                _ => None,
            })
    }

    /// Whether routes sent to this peer carry our address as next hop.
    pub fn sets_next_hop_self(&self) -> bool {
        match self.config.next_hop {
            NextHopMode::Auto => self.kind == PeerType::External,
            NextHopMode::SelfAddress => true,
            NextHopMode::Keep => false,
        }
    }
}
