//! RIB table tests, one per rule, each citing the RFC section it checks.

mod advertise;
mod decision;
mod ingest;
mod properties;
mod restart;

use std::net::{IpAddr, Ipv4Addr};

use crate::wire::{
    AfiSafi, AsPath, Attribute, Ipv4Nlri, MpNlri, MpReach, NextHop, Origin, PathAttribute,
    SessionContext, Update,
};

use super::{PeerConfig, PeerId, PeerUp, Prefix, Rib, RibConfig, RouteAttrs};

pub(super) const LOCAL_AS: u32 = 64512;
pub(super) const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub(super) fn rib() -> Rib {
    Rib::new(RibConfig::new(LOCAL_AS, ROUTER_ID)).expect("valid config")
}

pub(super) fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("IPv4 address")
}

pub(super) fn prefix(s: &str) -> Prefix {
    s.parse().expect("prefix")
}

/// Adds a peer at `addr` in `asn` (router id = its address) and brings it up for both
/// families with a 4-octet-AS context.
pub(super) fn peer_with(rib: &mut Rib, config: PeerConfig) -> PeerId {
    let router_id = match config.address {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::new(192, 0, 2, 99),
    };
    let id = rib.add_peer(config).expect("new peer");
    rib.peer_up(
        id,
        PeerUp {
            router_id,
            local_address: IpAddr::V4(ROUTER_ID),
            context: SessionContext {
                four_octet_as: true,
                ..SessionContext::default()
            },
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        },
    )
    .expect("comes up");
    id
}

pub(super) fn peer(rib: &mut Rib, addr: &str, asn: u32) -> PeerId {
    peer_with(rib, PeerConfig::new(IpAddr::V4(v4(addr)), asn))
}

/// An UPDATE announcing IPv4 `prefixes` with `attributes` (ORIGIN IGP and NEXT_HOP `nh`
/// added).
pub(super) fn announce(prefixes: &[&str], nh: &str, path: &[u32], extra: Vec<Attribute>) -> Update {
    let mut attributes = vec![
        Attribute::Origin(Origin::Igp),
        Attribute::AsPath(AsPath::sequence(path.iter().copied())),
        Attribute::NextHop(v4(nh)),
    ];
    attributes.extend(extra);
    Update {
        withdrawn: Vec::new(),
        attributes: attributes.into_iter().map(PathAttribute::from).collect(),
        nlri: prefixes.iter().map(|p| nlri(p)).collect(),
    }
}

pub(super) fn nlri(p: &str) -> Ipv4Nlri {
    Ipv4Nlri::new(p.parse().expect("IPv4 prefix"))
}

pub(super) fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|p| nlri(p)).collect(),
        ..Update::default()
    }
}

/// An UPDATE announcing IPv6 `prefixes` in MP_REACH_NLRI.
pub(super) fn announce_v6(prefixes: &[&str], nh: &str, path: &[u32]) -> Update {
    let reach = MpReach {
        family: AfiSafi::IPV6_UNICAST,
        next_hop: NextHop::Ipv6 {
            global: nh.parse().expect("IPv6 address"),
            link_local: None,
        },
        nlri: MpNlri::Ipv6(
            prefixes
                .iter()
                .map(|p| crate::wire::Ipv6Nlri::new(p.parse().expect("IPv6 prefix")))
                .collect(),
        ),
    };
    Update {
        attributes: vec![
            Attribute::Origin(Origin::Igp).into(),
            Attribute::AsPath(AsPath::sequence(path.iter().copied())).into(),
            Attribute::MpReachNlri(reach).into(),
        ],
        ..Update::default()
    }
}

/// The best path's sender for `p`.
pub(super) fn best_peer(rib: &Rib, p: &str) -> Option<PeerId> {
    rib.lookup(prefix(p)).best().map(|r| r.peer)
}

/// Every UPDATE pending for `id`.
pub(super) fn drain_updates(rib: &mut Rib, id: PeerId) -> Vec<Update> {
    rib.poll_updates(id, usize::MAX).expect("peer is up")
}

/// The announced IPv4 routes of `updates` with their attributes.
pub(super) fn announced(updates: &[Update]) -> Vec<(String, RouteAttrs)> {
    updates
        .iter()
        .filter(|u| !u.nlri.is_empty())
        .flat_map(|u| {
            let attrs = RouteAttrs::from_update(u)
                .expect("ORIGIN and AS_PATH")
                .with_next_hop(NextHop::Ipv4(u.next_hop().expect("NEXT_HOP")));
            u.nlri
                .iter()
                .map(move |n| (n.prefix.to_string(), attrs.clone()))
        })
        .collect()
}

pub(super) fn withdrawn(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|n| n.prefix.to_string()))
        .collect()
}
