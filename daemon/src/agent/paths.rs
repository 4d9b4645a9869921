//! The BGP side of the decision's input (DESIGN §3, `auto` step 2): every path the speaker's
//! Loc-RIB holds per prefix, with whether its next hop is on a directly connected subnet.
//! Pure: fed the speaker's `LocRibChange` batches.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_bgp::rib::{LocRibChange, Prefix};
use margay_bgp::wire::{Ipv4Prefix, Ipv6Prefix, NextHop};

use crate::routing::BgpPath;

/// A BGP prefix as an `IpNetwork`.
pub fn network_of(prefix: &Prefix) -> IpNetwork {
    match prefix {
        Prefix::V4(p) => IpNetwork::V4(
            ipnetwork::Ipv4Network::new(p.addr(), p.prefix_len())
                .expect("a BGP prefix length is within the family's width"),
        ),
        Prefix::V6(p) => IpNetwork::V6(
            ipnetwork::Ipv6Network::new(p.addr(), p.prefix_len())
                .expect("a BGP prefix length is within the family's width"),
        ),
    }
}

/// An `IpNetwork` as a BGP prefix (host bits cleared).
pub fn prefix_of(net: IpNetwork) -> Prefix {
    match net {
        IpNetwork::V4(n) => Prefix::V4(
            Ipv4Prefix::new(n.network(), n.prefix()).expect("an IPv4 prefix length is ≤ 32"),
        ),
        IpNetwork::V6(n) => Prefix::V6(
            Ipv6Prefix::new(n.network(), n.prefix()).expect("an IPv6 prefix length is ≤ 128"),
        ),
    }
}

/// Learned paths per prefix.
#[derive(Debug, Clone, Default)]
pub struct BgpPaths {
    connected: Vec<IpNetwork>,
    paths: BTreeMap<IpNetwork, Vec<BgpPath>>,
}

impl BgpPaths {
    /// Paths judged against the node's directly connected subnets.
    pub fn new(connected: Vec<IpNetwork>) -> BgpPaths {
        BgpPaths {
            connected,
            paths: BTreeMap::new(),
        }
    }

    /// Applies a batch of Loc-RIB changes; true when any prefix's paths changed.
    pub fn apply(&mut self, changes: &[LocRibChange]) -> bool {
        let mut changed = false;
        for change in changes {
            let dst = network_of(&change.prefix);
            let paths: Vec<BgpPath> = change
                .paths
                .iter()
                .filter_map(|route| {
                    // Our own originations are not paths to anywhere.
                    let peer = route.peer_address?;
                    let next_hop = next_hop_address(route.attrs.next_hop.as_ref()?)?;
                    Some(BgpPath {
                        next_hop,
                        connected: self.is_connected(next_hop),
                        peer,
                    })
                })
                .collect();
            let before = if paths.is_empty() {
                self.paths.remove(&dst)
            } else {
                self.paths.insert(dst, paths.clone())
            };
            changed |= before.unwrap_or_default() != paths;
        }
        changed
    }

    fn is_connected(&self, addr: IpAddr) -> bool {
        self.connected.iter().any(|net| net.contains(addr))
    }

    /// The paths per prefix, as the decision takes them.
    pub fn snapshot(&self) -> BTreeMap<IpNetwork, Vec<BgpPath>> {
        self.paths.clone()
    }

    /// Number of prefixes with paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no prefix has a path.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// The address a route's NEXT_HOP forwards to (the global IPv6 address, not the link-local).
fn next_hop_address(next_hop: &NextHop) -> Option<IpAddr> {
    match next_hop {
        NextHop::Ipv4(a) => Some(IpAddr::V4(*a)),
        NextHop::Ipv6 { global, .. } => Some(IpAddr::V6(*global)),
        NextHop::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use margay_bgp::rib::{RouteAttrs, RouteView};

    use super::*;

    fn view(peer: Option<&str>, next_hop: &str) -> RouteView {
        let mut attrs = RouteAttrs::local();
        attrs.next_hop = Some(NextHop::Ipv4(next_hop.parse().unwrap()));
        RouteView {
            peer: margay_bgp::rib::PeerId::LOCAL,
            peer_address: peer.map(|p| p.parse().unwrap()),
            attrs: Arc::new(attrs),
        }
    }

    fn change(prefix: &str, paths: Vec<RouteView>) -> LocRibChange {
        LocRibChange {
            prefix: prefix.parse().unwrap(),
            multipath: paths.len(),
            paths,
        }
    }

    #[test]
    fn paths_are_marked_connected_by_subnet_and_local_ones_skipped() {
        let mut paths = BgpPaths::new(vec!["172.18.1.0/24".parse().unwrap()]);
        let changed = paths.apply(&[change(
            "10.244.2.0/26",
            vec![
                view(Some("172.18.1.1"), "172.18.1.1"),
                view(Some("172.18.9.9"), "172.18.9.9"),
                view(None, "172.18.1.10"),
            ],
        )]);
        assert!(changed);
        let snapshot = paths.snapshot();
        let got = &snapshot[&"10.244.2.0/26".parse::<IpNetwork>().unwrap()];
        assert_eq!(got.len(), 2);
        assert!(got[0].connected);
        assert!(!got[1].connected);
        // The same again changes nothing; a withdrawal removes the prefix.
        assert!(!paths.apply(&[change(
            "10.244.2.0/26",
            vec![
                view(Some("172.18.1.1"), "172.18.1.1"),
                view(Some("172.18.9.9"), "172.18.9.9"),
            ],
        )]));
        assert!(paths.apply(&[change("10.244.2.0/26", Vec::new())]));
        assert!(paths.is_empty());
    }

    #[test]
    fn prefixes_convert_both_ways() {
        for s in ["10.244.1.0/26", "0.0.0.0/0", "fd00:10::/64", "10.1.2.3/32"] {
            let net: IpNetwork = s.parse().unwrap();
            assert_eq!(network_of(&prefix_of(net)), net);
        }
    }
}
