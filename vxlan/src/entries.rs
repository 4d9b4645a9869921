//! Neighbour and FDB entries per remote VTEP: the diff between the kernel's entries on the
//! device and the desired peers. Pure.
//!
//! Per peer: neighbour `tunnel_ip lladdr mac PERMANENT` (so the kernel never ARPs over the
//! tunnel) and FDB `mac dst underlay self permanent` (where to send frames for that MAC).
//! Writes come first (replace: a changed MAC or underlay is overwritten in place), removals
//! of what no peer wants last.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::config::RemoteVtep;
use crate::mac::Mac;

/// What to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPlan {
    /// Neighbours to write (replace).
    pub neigh_set: Vec<(IpAddr, Mac)>,
    /// FDB entries to write (replace).
    pub fdb_set: Vec<(Mac, IpAddr)>,
    /// Neighbours to remove.
    pub neigh_del: Vec<(IpAddr, Mac)>,
    /// FDB entries to remove.
    pub fdb_del: Vec<(Mac, IpAddr)>,
}

impl EntryPlan {
    /// Whether nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.neigh_set.is_empty()
            && self.fdb_set.is_empty()
            && self.neigh_del.is_empty()
            && self.fdb_del.is_empty()
    }
}

/// The plan from the kernel's entries (`neigh`: ip → mac, `fdb`: (mac, dst) pairs) to `peers`.
pub fn plan_entries(
    peers: &[RemoteVtep],
    neigh: &BTreeMap<IpAddr, Mac>,
    fdb: &BTreeSet<(Mac, IpAddr)>,
) -> EntryPlan {
    let want_neigh: BTreeMap<IpAddr, Mac> = peers.iter().map(|p| (p.tunnel_ip, p.mac)).collect();
    let want_fdb: BTreeSet<(Mac, IpAddr)> = peers.iter().map(|p| (p.mac, p.underlay)).collect();
    EntryPlan {
        neigh_set: want_neigh
            .iter()
            .filter(|(ip, mac)| neigh.get(ip) != Some(mac))
            .map(|(ip, mac)| (*ip, *mac))
            .collect(),
        fdb_set: want_fdb.difference(fdb).copied().collect(),
        neigh_del: neigh
            .iter()
            .filter(|(ip, _)| !want_neigh.contains_key(ip))
            .map(|(ip, mac)| (*ip, *mac))
            .collect(),
        fdb_del: fdb.difference(&want_fdb).copied().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(node: &str, underlay: &str, tunnel: &str) -> RemoteVtep {
        RemoteVtep {
            node: node.into(),
            underlay: underlay.parse().unwrap(),
            tunnel_ip: tunnel.parse().unwrap(),
            mac: Mac::from_node_name(node),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn fresh_device_gets_every_entry_and_equal_entries_cost_nothing() {
        let peers = [
            peer("b", "10.0.0.2", "10.244.1.0"),
            peer("c", "10.0.1.2", "10.244.2.0"),
        ];
        let plan = plan_entries(&peers, &BTreeMap::new(), &BTreeSet::new());
        assert_eq!(plan.neigh_set.len(), 2);
        assert_eq!(plan.fdb_set.len(), 2);
        let neigh = plan.neigh_set.iter().copied().collect();
        let fdb = plan.fdb_set.iter().copied().collect();
        assert!(plan_entries(&peers, &neigh, &fdb).is_empty());
    }

    #[test]
    fn changed_underlay_or_mac_is_rewritten_and_the_old_entry_removed() {
        let old = peer("b", "10.0.0.2", "10.244.1.0");
        let neigh: BTreeMap<_, _> = [(old.tunnel_ip, old.mac)].into();
        let fdb: BTreeSet<_> = [(old.mac, old.underlay)].into();
        // New underlay address.
        let moved = peer("b", "10.0.9.9", "10.244.1.0");
        let plan = plan_entries(std::slice::from_ref(&moved), &neigh, &fdb);
        assert_eq!(
            plan,
            EntryPlan {
                fdb_set: vec![(moved.mac, ip("10.0.9.9"))],
                fdb_del: vec![(old.mac, ip("10.0.0.2"))],
                ..EntryPlan::default()
            }
        );
        // New MAC (the node was renamed, or its MAC configured).
        let mut remac = old.clone();
        remac.mac = Mac([0x0e, 1, 2, 3, 4, 5]);
        let plan = plan_entries(&[remac.clone()], &neigh, &fdb);
        assert_eq!(plan.neigh_set, [(remac.tunnel_ip, remac.mac)]);
        assert_eq!(plan.fdb_set, [(remac.mac, remac.underlay)]);
        assert_eq!(plan.fdb_del, [(old.mac, old.underlay)]);
        assert!(
            plan.neigh_del.is_empty(),
            "the neighbour is replaced in place"
        );
        // Node left.
        let plan = plan_entries(&[], &neigh, &fdb);
        assert_eq!((plan.neigh_del.len(), plan.fdb_del.len()), (1, 1));
    }
}
