//! The decision itself: one pass over the blocks, the mode table of DESIGN §3 per block.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_vxlan::RemoteVtep;

use super::input::{BgpPath, DecisionInput, Encapsulation, Pool, RemoteNode};
use super::output::{Decision, DesiredRoute, Reason, Via};

/// Decides the route for every block: own blocks are blackholed; every remote block (known
/// from a node, or learned over BGP inside a pool) gets the route its pool's mode asks for, or
/// a reason why it gets none.
///
/// A block claimed by several remote nodes is decided for the first of them by name (IPAM's
/// compare-and-swap makes this a transient state). A block that is ours is never routed
/// elsewhere.
pub fn decide(input: &DecisionInput) -> Decision {
    let own: BTreeSet<IpNetwork> = input.local.blocks.iter().copied().collect();
    let mut owners: BTreeMap<IpNetwork, &RemoteNode> = BTreeMap::new();
    let mut nodes: Vec<&RemoteNode> = input.nodes.iter().collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    for node in &nodes {
        for block in &node.blocks {
            owners.entry(*block).or_insert(node);
        }
    }

    let mut decision = Decision::default();
    for block in &own {
        decision.routes.insert(
            *block,
            DesiredRoute {
                dst: *block,
                via: Via::Blackhole,
                reason: Reason::OwnBlock,
            },
        );
    }

    let learned_only = input
        .bgp
        .keys()
        .filter(|p| !owners.contains_key(p) && pool_of(&input.pools, **p).is_some());
    let remote: BTreeSet<IpNetwork> = owners
        .keys()
        .chain(learned_only)
        .copied()
        .filter(|b| !own.contains(b))
        .collect();
    for block in remote {
        let Some(pool) = pool_of(&input.pools, block) else {
            decision.unrouted.insert(block, Reason::NoPool);
            continue;
        };
        let paths = input.bgp.get(&block).map(Vec::as_slice).unwrap_or_default();
        match route_for(
            input,
            pool.encapsulation,
            block,
            owners.get(&block).copied(),
            paths,
        ) {
            Ok((via, reason)) => {
                decision.routes.insert(
                    block,
                    DesiredRoute {
                        dst: block,
                        via,
                        reason,
                    },
                );
            }
            Err(reason) => {
                decision.unrouted.insert(block, reason);
            }
        }
    }

    if input
        .pools
        .iter()
        .any(|p| p.encapsulation != Encapsulation::None)
    {
        decision.vtep_peers = vtep_peers(input.local.underlay.ip(), &nodes);
    }
    decision
}

/// The most specific pool containing `block`.
fn pool_of(pools: &[Pool], block: IpNetwork) -> Option<&Pool> {
    pools
        .iter()
        .filter(|p| {
            p.cidr.is_ipv4() == block.is_ipv4()
                && p.cidr.prefix() <= block.prefix()
                && p.cidr.contains(block.network())
        })
        .max_by_key(|p| p.cidr.prefix())
}

/// The mode table of DESIGN §3 for one remote block.
fn route_for(
    input: &DecisionInput,
    mode: Encapsulation,
    block: IpNetwork,
    owner: Option<&RemoteNode>,
    paths: &[BgpPath],
) -> Result<(Via, Reason), Reason> {
    let subnet = input.local.underlay;
    let same_subnet = |node: &RemoteNode| {
        subnet.is_ipv4() == node.underlay.is_ipv4() && subnet.contains(node.underlay)
    };
    let direct = |node: &RemoteNode| {
        (
            Via::Direct {
                gateway: node.underlay,
            },
            Reason::SameSubnet,
        )
    };
    let connected_hops = || sorted(paths.iter().filter(|p| p.connected).map(|p| p.next_hop));
    match mode {
        Encapsulation::None => {
            if paths.is_empty() {
                return Err(Reason::NoBgpPath);
            }
            let next_hops = connected_hops();
            if next_hops.is_empty() {
                return Err(Reason::NextHopNotConnected {
                    next_hops: sorted(paths.iter().map(|p| p.next_hop)),
                });
            }
            Ok((
                Via::Native {
                    next_hops: next_hops.clone(),
                },
                Reason::Bgp { mode, next_hops },
            ))
        }
        Encapsulation::Vxlan => {
            let node = owner.ok_or(Reason::OwnerUnknown { mode })?;
            vxlan(mode, block, node, Reason::VxlanAlways)
        }
        Encapsulation::CrossSubnet => {
            let node = owner.ok_or(Reason::OwnerUnknown { mode })?;
            if same_subnet(node) {
                return Ok(direct(node));
            }
            vxlan(
                mode,
                block,
                node,
                Reason::VxlanOtherSubnet {
                    underlay: node.underlay,
                    subnet,
                },
            )
        }
        Encapsulation::Auto => {
            if let Some(node) = owner.filter(|n| same_subnet(n)) {
                return Ok(direct(node));
            }
            let next_hops = connected_hops();
            if !next_hops.is_empty() {
                return Ok((
                    Via::Native {
                        next_hops: next_hops.clone(),
                    },
                    Reason::Bgp { mode, next_hops },
                ));
            }
            let node = owner.ok_or(Reason::OwnerUnknown { mode })?;
            vxlan(mode, block, node, Reason::VxlanNoConnectedPath)
        }
    }
}

fn vxlan(
    mode: Encapsulation,
    block: IpNetwork,
    node: &RemoteNode,
    reason: Reason,
) -> Result<(Via, Reason), Reason> {
    match node.vtep {
        Some(vtep) if vtep.tunnel_ip.is_ipv4() == block.is_ipv4() => Ok((
            Via::Vxlan {
                gateway: vtep.tunnel_ip,
            },
            reason,
        )),
        _ => Err(Reason::NoVtep {
            mode,
            node: node.name.clone(),
        }),
    }
}

fn sorted(addrs: impl Iterator<Item = IpAddr>) -> Vec<IpAddr> {
    let set: BTreeSet<IpAddr> = addrs.collect();
    set.into_iter().collect()
}

/// Every remote node with a VTEP reachable over our underlay family, by name.
fn vtep_peers(local_underlay: IpAddr, nodes: &[&RemoteNode]) -> Vec<RemoteVtep> {
    nodes
        .iter()
        .filter(|n| n.underlay.is_ipv4() == local_underlay.is_ipv4())
        .filter_map(|n| {
            let vtep = n.vtep?;
            Some(RemoteVtep {
                node: n.name.clone(),
                underlay: n.underlay,
                tunnel_ip: vtep.tunnel_ip,
                mac: vtep.mac,
            })
        })
        .collect()
}
