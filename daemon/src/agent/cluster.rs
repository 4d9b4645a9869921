//! The node's view of the cluster (DESIGN §6): every resource, and which blocks are affine to
//! which node, kept current from the datastore's watch events. Pure: the run loop feeds it
//! events; it answers the questions the decision and the peering plan ask.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_ipam::Keys;
use margay_ipam::allocator::AFFINITY_CONFIRMED;
use margay_ipam::kv::watch::WatchUpdate;
use margay_ipam::kv::{Event, KeyValue};
use margay_vxlan::Mac;

use crate::datastore::{ResourceEvent, StoredResource};
use crate::resources::{BgpConfiguration, BgpPeer, IpPool, Kind, Node, Resource};
use crate::routing::{BgpPath, DecisionInput, LocalNode, Pool, RemoteNode, VtepAddr};

/// Resources by kind and name, and confirmed block affinities by node.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    resources: BTreeMap<(Kind, String), Resource>,
    affinities: BTreeMap<String, BTreeSet<IpNetwork>>,
}

/// What an update touched (so the loop knows what to recompute).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Touched {
    /// Nodes, peers or BGP configuration: the peering plan may differ.
    pub peering: bool,
    /// Pools, nodes or blocks: the route decision may differ.
    pub routing: bool,
    /// Pools: this node may be able to claim a block now.
    pub pools: bool,
}

impl Touched {
    fn of(kind: Kind) -> Touched {
        match kind {
            Kind::IpPool => Touched {
                routing: true,
                pools: true,
                peering: false,
            },
            Kind::Node => Touched {
                routing: true,
                peering: true,
                pools: true,
            },
            Kind::BgpPeer | Kind::BgpConfiguration => Touched {
                peering: true,
                ..Touched::default()
            },
            Kind::IpamConfig => Touched::default(),
        }
    }

    fn merge(self, other: Touched) -> Touched {
        Touched {
            peering: self.peering || other.peering,
            routing: self.routing || other.routing,
            pools: self.pools || other.pools,
        }
    }
}

impl ClusterView {
    /// The view of `resources` (a listing).
    pub fn new(resources: Vec<StoredResource>) -> ClusterView {
        let mut view = ClusterView::default();
        view.replace_resources(resources);
        view
    }

    fn replace_resources(&mut self, resources: Vec<StoredResource>) {
        self.resources = resources
            .into_iter()
            .map(|s| {
                (
                    (s.resource.kind(), s.resource.name().to_string()),
                    s.resource,
                )
            })
            .collect();
    }

    /// Applies resource watch events.
    pub fn apply_resources(&mut self, events: Vec<ResourceEvent>) -> Touched {
        let mut touched = Touched::default();
        for event in events {
            match event {
                ResourceEvent::Upserted(stored) => {
                    let kind = stored.resource.kind();
                    touched = touched.merge(Touched::of(kind));
                    self.resources
                        .insert((kind, stored.resource.name().to_string()), stored.resource);
                }
                ResourceEvent::Deleted { kind, name } => {
                    touched = touched.merge(Touched::of(kind));
                    self.resources.remove(&(kind, name));
                }
                ResourceEvent::Resync(items) => {
                    touched = Touched {
                        peering: true,
                        routing: true,
                        pools: true,
                    };
                    self.replace_resources(items);
                }
                ResourceEvent::Invalid(error) => {
                    tracing::warn!(%error, "skipping a stored resource that does not decode");
                }
            }
        }
        touched
    }

    /// Applies an update of the `ipam/affinities/` prefix; true when any affinity changed.
    pub fn apply_affinities(&mut self, keys: &Keys, update: &WatchUpdate) -> bool {
        let before = self.affinities.clone();
        match update {
            WatchUpdate::Resync(listing) => {
                self.affinities.clear();
                for kv in &listing.kvs {
                    self.put_affinity(keys, kv);
                }
            }
            WatchUpdate::Events(events) => {
                for event in events {
                    match event {
                        Event::Put(kv) => self.put_affinity(keys, kv),
                        Event::Delete { key, .. } => {
                            if let Some((node, cidr)) = keys.parse_affinity(key) {
                                self.remove_affinity(&node, &cidr);
                            }
                        }
                    }
                }
            }
        }
        before != self.affinities
    }

    fn put_affinity(&mut self, keys: &Keys, kv: &KeyValue) {
        let Some((node, cidr)) = keys.parse_affinity(&kv.key) else {
            return;
        };
        if kv.value == AFFINITY_CONFIRMED.as_bytes() {
            self.affinities.entry(node).or_default().insert(cidr);
        } else {
            // Pending: a claim in progress (or abandoned); not routed until confirmed.
            self.remove_affinity(&node, &cidr);
        }
    }

    fn remove_affinity(&mut self, node: &str, cidr: &IpNetwork) {
        if let Some(set) = self.affinities.get_mut(node) {
            set.remove(cidr);
            if set.is_empty() {
                self.affinities.remove(node);
            }
        }
    }

    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources
            .range((kind, String::new())..)
            .take_while(move |((k, _), _)| *k == kind)
            .map(|(_, r)| r)
    }

    /// Every Node.
    pub fn nodes(&self) -> Vec<Node> {
        self.of_kind(Kind::Node)
            .filter_map(|r| match r {
                Resource::Node(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// The Node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        match self.resources.get(&(Kind::Node, name.to_owned())) {
            Some(Resource::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// Every IPPool.
    pub fn pools(&self) -> Vec<IpPool> {
        self.of_kind(Kind::IpPool)
            .filter_map(|r| match r {
                Resource::IpPool(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every BGPPeer.
    pub fn bgp_peers(&self) -> Vec<BgpPeer> {
        self.of_kind(Kind::BgpPeer)
            .filter_map(|r| match r {
                Resource::BgpPeer(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every BGPConfiguration.
    pub fn bgp_configurations(&self) -> Vec<BgpConfiguration> {
        self.of_kind(Kind::BgpConfiguration)
            .filter_map(|r| match r {
                Resource::BgpConfiguration(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    /// The blocks confirmed affine to `node`.
    pub fn blocks_of(&self, node: &str) -> Vec<IpNetwork> {
        self.affinities
            .get(node)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The decision's input for this node (`local` with its underlay), given the BGP paths.
    /// A node owning blocks but without a `Node` resource (deleted while its blocks are being
    /// released) gets no route: nothing says where it is.
    pub fn decision_input(
        &self,
        local: &str,
        underlay: IpNetwork,
        bgp: BTreeMap<IpNetwork, Vec<BgpPath>>,
    ) -> DecisionInput {
        let nodes = self
            .nodes()
            .into_iter()
            .filter(|n| n.name.as_str() != local)
            .filter_map(|n| {
                let underlay_of_family = if underlay.is_ipv4() {
                    n.ipv4_address
                } else {
                    n.ipv6_address
                };
                let remote_underlay: IpAddr = underlay_of_family?.ip();
                let vtep = match (n.tunnel_address, n.vxlan_mac.as_ref()) {
                    (Some(tunnel_ip), Some(mac)) => Some(VtepAddr {
                        tunnel_ip,
                        mac: Mac(mac.0),
                    }),
                    _ => None,
                };
                Some(RemoteNode {
                    name: n.name.to_string(),
                    underlay: remote_underlay,
                    vtep,
                    blocks: self.blocks_of(n.name.as_str()),
                })
            })
            .collect();
        DecisionInput {
            local: LocalNode {
                name: local.to_owned(),
                underlay,
                blocks: self.blocks_of(local),
            },
            pools: self
                .pools()
                .iter()
                .filter(|p| !p.doc().disabled.unwrap_or(false))
                .map(|p| Pool {
                    cidr: p.cidr,
                    encapsulation: p.encapsulation,
                })
                .collect(),
            nodes,
            bgp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::parse_yaml;

    fn stored(yaml: &str) -> Vec<StoredResource> {
        parse_yaml(yaml)
            .unwrap()
            .into_iter()
            .map(|resource| StoredResource {
                resource,
                revision: 1,
            })
            .collect()
    }

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: value.as_bytes().to_vec(),
            mod_revision: 2,
            version: 1,
        }
    }

    const CLUSTER: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: p}
spec: {cidr: 10.244.0.0/16, encapsulation: cross-subnet}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: a}
spec:
  bgp: {ipv4Address: 172.18.1.10/24}
  vxlan: {tunnelAddress: 10.244.1.0, mac: "0e:00:00:00:00:0a"}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: b}
spec:
  bgp: {ipv4Address: 172.18.2.10/24}
"#;

    #[test]
    fn decision_input_has_remote_nodes_blocks_and_vteps() {
        let keys = Keys::new("/m/");
        let mut view = ClusterView::new(stored(CLUSTER));
        let update = WatchUpdate::Events(vec![
            Event::Put(kv("/m/ipam/affinities/a/10.244.1.0-26", "confirmed")),
            Event::Put(kv("/m/ipam/affinities/b/10.244.2.0-26", "confirmed")),
            Event::Put(kv("/m/ipam/affinities/b/10.244.3.0-26", "pending")),
        ]);
        assert!(view.apply_affinities(&keys, &update));
        let input = view.decision_input("b", "172.18.2.10/24".parse().unwrap(), BTreeMap::new());
        assert_eq!(input.local.blocks, vec!["10.244.2.0/26".parse().unwrap()]);
        assert_eq!(input.pools.len(), 1);
        assert_eq!(input.nodes.len(), 1);
        let a = &input.nodes[0];
        assert_eq!(a.name, "a");
        assert_eq!(a.underlay, "172.18.1.10".parse::<IpAddr>().unwrap());
        assert_eq!(a.blocks, vec!["10.244.1.0/26".parse().unwrap()]);
        assert_eq!(
            a.vtep.unwrap().tunnel_ip,
            "10.244.1.0".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn deletes_and_resyncs_replace_state() {
        let keys = Keys::new("/m/");
        let mut view = ClusterView::new(stored(CLUSTER));
        view.apply_affinities(
            &keys,
            &WatchUpdate::Events(vec![Event::Put(kv(
                "/m/ipam/affinities/a/10.244.1.0-26",
                "confirmed",
            ))]),
        );
        let touched = view.apply_resources(vec![ResourceEvent::Deleted {
            kind: Kind::Node,
            name: "a".into(),
        }]);
        assert!(touched.routing && touched.peering);
        assert!(view.node("a").is_none());
        // The deleted node's block gets no route: nothing says where it is.
        let input = view.decision_input("b", "172.18.2.10/24".parse().unwrap(), BTreeMap::new());
        assert!(input.nodes.is_empty());
        let changed = view.apply_affinities(
            &keys,
            &WatchUpdate::Events(vec![Event::Delete {
                key: "/m/ipam/affinities/a/10.244.1.0-26".into(),
                mod_revision: 3,
            }]),
        );
        assert!(changed);
        assert!(view.blocks_of("a").is_empty());
        let touched = view.apply_resources(vec![ResourceEvent::Resync(Vec::new())]);
        assert!(touched.pools);
        assert!(view.pools().is_empty() && view.nodes().is_empty());
    }

    #[test]
    fn unchanged_affinities_report_no_change() {
        let keys = Keys::new("/m/");
        let mut view = ClusterView::default();
        let put = WatchUpdate::Events(vec![Event::Put(kv(
            "/m/ipam/affinities/a/10.244.1.0-26",
            "confirmed",
        ))]);
        assert!(view.apply_affinities(&keys, &put));
        assert!(!view.apply_affinities(&keys, &put));
    }
}
