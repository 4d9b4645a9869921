//! The lab's top-of-rack routers: one BIRD 2 per rack, its own AS, eBGP to every node of its
//! rack and to every other rack's ToR over the spine (the Calico "AS per rack" shape with the
//! nodes in an AS of their own, so a rack's blocks reach the other rack with next hop the ToR).

use std::net::Ipv4Addr;

use crate::bird::Bird;
use crate::netns::Netns;
use crate::testdir::TestDir;
use crate::topology::Racks;

/// The AS of rack `r`'s ToR: 65001, 65002, ...
pub fn tor_as(rack: usize) -> u32 {
    65001 + rack as u32
}

/// The AS of the nodes of rack `r`: 65010, 65020, ... (eBGP to their ToR).
pub fn node_as(rack: usize) -> u32 {
    65010 + 10 * rack as u32
}

/// BIRD's protocol name for the session to rack `r`'s ToR (`birdc disable tor1`).
pub fn tor_protocol(rack: usize) -> String {
    format!("tor{rack}")
}

/// BIRD's protocol name for the session to a node.
pub fn node_protocol(node_name: &str) -> String {
    let ident: String = node_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("node_{ident}")
}

/// What a ToR peers with.
#[derive(Debug, Clone)]
pub struct TorPlan {
    /// This rack's index.
    pub rack: usize,
    /// Its address on the rack LAN (the nodes' peer and default gateway).
    pub rack_addr: Ipv4Addr,
    /// Its address on the spine (router id, and the ToR–ToR sessions).
    pub spine_addr: Ipv4Addr,
    /// The rack's nodes: name and underlay address.
    pub nodes: Vec<(String, Ipv4Addr)>,
    /// Every other rack's ToR: rack index and spine address.
    pub other_tors: Vec<(usize, Ipv4Addr)>,
}

impl TorPlan {
    /// The plan of rack `rack`'s ToR in `racks`, its nodes named by `node_name(rack, index)`.
    pub fn for_rack(racks: &Racks, rack: usize, node_name: fn(usize, usize) -> String) -> Self {
        let own = &racks.racks[rack];
        TorPlan {
            rack,
            rack_addr: own.tor_addr,
            spine_addr: own.spine_addr,
            nodes: own
                .lan
                .addrs
                .iter()
                .enumerate()
                .map(|(i, addr)| (node_name(rack, i), *addr))
                .collect(),
            other_tors: racks
                .racks
                .iter()
                .enumerate()
                .filter(|(s, _)| *s != rack)
                .map(|(s, other)| (s, other.spine_addr))
                .collect(),
        }
    }

    /// The names of its BGP protocols: one per other ToR, one per node.
    pub fn protocols(&self) -> Vec<String> {
        self.other_tors
            .iter()
            .map(|(rack, _)| tor_protocol(*rack))
            .chain(self.nodes.iter().map(|(name, _)| node_protocol(name)))
            .collect()
    }

    /// The BIRD configuration: the harness base (kernel export of every best route) plus one
    /// eBGP session per node and per other ToR.
    pub fn config(&self) -> String {
        let own_as = tor_as(self.rack);
        let mut config = Bird::base_config(&self.spine_addr.to_string());
        for (rack, addr) in &self.other_tors {
            config += &format!(
                "protocol bgp {} from peer_t {{ local {} as {own_as}; neighbor {addr} as {}; }}\n",
                tor_protocol(*rack),
                self.spine_addr,
                tor_as(*rack),
            );
        }
        for (name, addr) in &self.nodes {
            config += &format!(
                "protocol bgp {} from peer_t {{ local {} as {own_as}; neighbor {addr} as {}; }}\n",
                node_protocol(name),
                self.rack_addr,
                node_as(self.rack),
            );
        }
        config
    }

    /// Starts BIRD in `ns` (label `tor<r>`, socket `<dir>/tor<r>.ctl`).
    pub fn start(&self, ns: &Netns, dir: &TestDir) -> Bird {
        Bird::start(ns, dir, &tor_protocol(self.rack), &self.config())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_a_session_per_node_and_per_other_tor() {
        let plan = TorPlan {
            rack: 0,
            rack_addr: Ipv4Addr::new(172, 18, 1, 1),
            spine_addr: Ipv4Addr::new(172, 18, 0, 1),
            nodes: vec![
                ("r0-node0".into(), Ipv4Addr::new(172, 18, 1, 10)),
                ("r0-node1".into(), Ipv4Addr::new(172, 18, 1, 11)),
            ],
            other_tors: vec![(1, Ipv4Addr::new(172, 18, 0, 2))],
        };
        let config = plan.config();
        assert!(config.contains("router id 172.18.0.1;"), "{config}");
        assert!(
            config.contains(
                "protocol bgp tor1 from peer_t { local 172.18.0.1 as 65001; \
                 neighbor 172.18.0.2 as 65002; }"
            ),
            "{config}"
        );
        assert!(
            config.contains(
                "protocol bgp node_r0_node1 from peer_t { local 172.18.1.1 as 65001; \
                 neighbor 172.18.1.11 as 65010; }"
            ),
            "{config}"
        );
        assert_eq!(node_as(1), 65020);
    }
}
