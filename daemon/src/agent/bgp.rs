//! Keeps the speaker's neighbors and originated prefixes equal to what the datastore says
//! (DESIGN §5): the peering plan's sessions (added, changed in place or reset only when a
//! session-level value changed, removed) and this node's blocks plus service CIDRs with the
//! configured communities.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_bgp::policy::{Conditions, Fallback, Policy, PrefixRange, Statement, Then};
use margay_bgp::rib::RouteAttrs;
use margay_bgp::speaker::{NeighborChange, NeighborConfig, SpeakerError, SpeakerHandle};
use margay_bgp::wire::{Community as WireCommunity, LargeCommunity};

use super::paths::prefix_of;
use crate::peering::{PeerKind, PlannedPeer};
use crate::resources::Community;

/// A configured neighbor and what it is for.
#[derive(Debug, Clone)]
pub struct Neighbor {
    /// Mesh, global, node, reflector or client.
    pub kind: PeerKind,
    /// The remote node's or the BGPPeer's name.
    pub name: String,
    /// What the speaker was given.
    pub config: NeighborConfig,
}

/// The speaker as this node configured it.
#[derive(Debug)]
pub struct BgpSync {
    speaker: SpeakerHandle,
    neighbors: BTreeMap<IpAddr, Neighbor>,
    originated: BTreeMap<IpNetwork, RouteAttrs>,
}

/// The attributes of an originated prefix: ORIGIN IGP, next hop self, `communities`.
pub fn origination_attrs(communities: &[Community]) -> RouteAttrs {
    let mut attrs = RouteAttrs::local();
    for community in communities {
        match *community {
            Community::Standard(high, low) => attrs
                .communities
                .push(WireCommunity((u32::from(high) << 16) | u32::from(low))),
            Community::Large(global_admin, local_data_1, local_data_2) => {
                attrs.large_communities.push(LargeCommunity {
                    global_admin,
                    local_data_1,
                    local_data_2,
                })
            }
        }
    }
    attrs
}

/// What a node advertises to every peer (DESIGN §5, as Calico's export filter): prefixes inside
/// the IP pools (own blocks, and blocks learned from others where the rules of RFC 4271 §9.2 /
/// RFC 4456 let them pass) and the service CIDRs; nothing else — a default route or a router's
/// table learned from one peer is never passed on to another.
pub fn export_policy(pools: &[IpNetwork], service_cidrs: &[IpNetwork]) -> Policy {
    let mut ranges: Vec<PrefixRange> = pools
        .iter()
        .filter_map(|pool| {
            let prefix = prefix_of(*pool);
            PrefixRange::new(prefix, None, Some(prefix.max_len())).ok()
        })
        .collect();
    ranges.extend(
        service_cidrs
            .iter()
            .filter_map(|cidr| PrefixRange::new(prefix_of(*cidr), None, None).ok()),
    );
    Policy {
        statements: vec![Statement {
            name: Some("pool-and-service-prefixes".into()),
            conditions: Conditions {
                prefix_set: Some(ranges),
                ..Conditions::default()
            },
            set: Default::default(),
            then: Then::Accept,
        }],
        default: Fallback::Reject,
    }
}

impl BgpSync {
    /// Drives `speaker`, which has no neighbors and originates nothing yet.
    pub fn new(speaker: SpeakerHandle) -> BgpSync {
        BgpSync {
            speaker,
            neighbors: BTreeMap::new(),
            originated: BTreeMap::new(),
        }
    }

    /// The speaker.
    pub fn speaker(&self) -> &SpeakerHandle {
        &self.speaker
    }

    /// The configured neighbors by address.
    pub fn neighbors(&self) -> &BTreeMap<IpAddr, Neighbor> {
        &self.neighbors
    }

    /// Makes the speaker's neighbors equal to `planned`. A neighbor the speaker refuses is
    /// reported and left out; the others still apply.
    pub async fn set_neighbors(&mut self, planned: Vec<PlannedPeer>) -> Vec<String> {
        let mut problems = Vec::new();
        let wanted: BTreeMap<IpAddr, PlannedPeer> = planned
            .into_iter()
            .map(|p| (p.neighbor.address, p))
            .collect();
        let gone: Vec<IpAddr> = self
            .neighbors
            .keys()
            .filter(|a| !wanted.contains_key(a))
            .copied()
            .collect();
        for address in gone {
            let old = self.neighbors.remove(&address);
            match self.speaker.remove_neighbor(address).await {
                Ok(()) => tracing::info!(
                    peer = %address,
                    kind = %old.as_ref().map(|n| n.kind.to_string()).unwrap_or_default(),
                    "BGP neighbor removed"
                ),
                Err(e) => problems.push(format!("removing BGP neighbor {address}: {e}")),
            }
        }
        for (address, plan) in wanted {
            let neighbor = Neighbor {
                kind: plan.kind,
                name: plan.name,
                config: plan.neighbor,
            };
            let outcome = match self.neighbors.get(&address) {
                None => self
                    .speaker
                    .add_neighbor(neighbor.config.clone())
                    .await
                    .map(|()| "added"),
                Some(old) if old.config == neighbor.config => Ok("unchanged"),
                Some(_) => self
                    .speaker
                    .change_neighbor(neighbor.config.clone())
                    .await
                    .map(|change| match change {
                        NeighborChange::Unchanged => "unchanged",
                        NeighborChange::Routing => "changed in place",
                        NeighborChange::SessionReset => "changed, session reset",
                    }),
            };
            match outcome {
                Ok("unchanged") => {
                    self.neighbors.insert(address, neighbor);
                }
                Ok(what) => {
                    tracing::info!(
                        peer = %address,
                        kind = %neighbor.kind,
                        name = %neighbor.name,
                        asn = neighbor.config.remote_asn,
                        passive = neighbor.config.passive,
                        "BGP neighbor {what}"
                    );
                    self.neighbors.insert(address, neighbor);
                }
                Err(e) => problems.push(format!(
                    "BGP neighbor {address} ({} {}): {e}",
                    neighbor.kind, neighbor.name
                )),
            }
        }
        problems
    }

    /// Makes the originated prefixes equal to `prefixes`, each with `attrs`.
    pub fn set_originated(
        &mut self,
        prefixes: &[IpNetwork],
        attrs: &RouteAttrs,
    ) -> Result<(), SpeakerError> {
        let gone: Vec<IpNetwork> = self
            .originated
            .keys()
            .filter(|p| !prefixes.contains(p))
            .copied()
            .collect();
        for prefix in gone {
            self.speaker.withdraw(prefix_of(prefix))?;
            self.originated.remove(&prefix);
            tracing::info!(%prefix, "BGP: withdrawn");
        }
        for prefix in prefixes {
            if self.originated.get(prefix) != Some(attrs) {
                self.speaker.originate(prefix_of(*prefix), attrs.clone())?;
                self.originated.insert(*prefix, attrs.clone());
                tracing::info!(%prefix, "BGP: announced");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_passes_pool_and_service_prefixes_only() {
        use margay_bgp::policy::{PeerClass, PolicyOutcome, RouteContext, RouteSource};
        let policy = export_policy(
            &["10.244.0.0/16".parse().unwrap()],
            &["10.96.0.0/12".parse().unwrap()],
        );
        let verdict = |prefix: &str| {
            let context = RouteContext {
                prefix: prefix.parse().unwrap(),
                peer: PeerClass::Ebgp,
                source: RouteSource::Local,
                local_asn: 64512,
            };
            policy.evaluate(&context, &RouteAttrs::local())
        };
        assert!(!matches!(verdict("10.244.3.0/26"), PolicyOutcome::Reject));
        assert!(!matches!(verdict("10.244.0.0/16"), PolicyOutcome::Reject));
        assert!(!matches!(verdict("10.96.0.0/12"), PolicyOutcome::Reject));
        assert!(matches!(verdict("10.96.0.0/16"), PolicyOutcome::Reject));
        assert!(matches!(verdict("0.0.0.0/0"), PolicyOutcome::Reject));
        assert!(matches!(verdict("192.168.0.0/24"), PolicyOutcome::Reject));
    }

    #[test]
    fn communities_become_attributes() {
        let attrs = origination_attrs(&[
            Community::Standard(65000, 100),
            Community::Large(4200000000, 1, 2),
        ]);
        assert_eq!(attrs.communities, vec![WireCommunity(0xFDE8_0064)]);
        assert_eq!(
            attrs.large_communities,
            vec![LargeCommunity {
                global_admin: 4200000000,
                local_data_1: 1,
                local_data_2: 2
            }]
        );
        assert!(attrs.next_hop.is_none());
    }
}
