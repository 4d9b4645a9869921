//! RFC 4271 §9.1.2 decision steps, one table row per rule, on [`super::super::rank`] directly,
//! then the multipath set.

use std::net::{IpAddr, Ipv4Addr};

use crate::rib::decision::{DecisionConfig, PathSource, SourceKind, rank};
use crate::rib::{PeerId, RouteAttrs};
use crate::wire::{AsPath, AsSegment, Origin, SegmentType};

use super::LOCAL_AS;

/// A candidate: sender facts plus attributes, with builder-style tweaks.
#[derive(Clone)]
struct Cand {
    source: PathSource,
    attrs: RouteAttrs,
}

fn cand(peer: u16, kind: SourceKind, addr: &str) -> Cand {
    let a: Ipv4Addr = addr.parse().expect("address");
    let mut attrs = RouteAttrs::local();
    attrs.as_path = AsPath::sequence([65001, 65100]);
    Cand {
        source: PathSource {
            peer: PeerId(peer),
            kind,
            router_id: a,
            address: IpAddr::V4(a),
        },
        attrs,
    }
}

fn ebgp(peer: u16, addr: &str) -> Cand {
    cand(peer, SourceKind::External, addr)
}

fn ibgp(peer: u16, addr: &str) -> Cand {
    cand(peer, SourceKind::Internal, addr)
}

impl Cand {
    fn with(mut self, f: impl FnOnce(&mut RouteAttrs)) -> Self {
        f(&mut self.attrs);
        self
    }

    fn router_id(mut self, id: &str) -> Self {
        self.source.router_id = id.parse().expect("router id");
        self
    }
}

fn config() -> DecisionConfig {
    DecisionConfig {
        local_asn: LOCAL_AS,
        always_compare_med: false,
        max_paths: 1,
    }
}

/// The peer of the best path, checked in both arrival orders.
fn winner(cands: &[Cand], config: &DecisionConfig) -> u16 {
    let run = |order: Vec<&Cand>| {
        let list: Vec<(PathSource, &RouteAttrs)> =
            order.iter().map(|c| (c.source, &c.attrs)).collect();
        let ranking = rank(&list, config);
        order[ranking.order[0]].source.peer.0
    };
    let forward = run(cands.iter().collect());
    let backward = run(cands.iter().rev().collect());
    assert_eq!(forward, backward, "best path depends on arrival order");
    forward
}

#[test]
fn decision_steps_table() {
    let cfg = config();
    let always = DecisionConfig {
        always_compare_med: true,
        ..config()
    };
    let set = |asns: Vec<u32>| AsSegment {
        kind: SegmentType::Set,
        asns,
    };
    let rows: Vec<(&str, Vec<Cand>, &DecisionConfig, u16)> = vec![
        (
            "§9.1.1: highest LOCAL_PREF wins before path length",
            vec![
                ebgp(1, "192.0.2.1").with(|a| a.local_pref = Some(200)),
                ebgp(2, "192.0.2.2").with(|a| {
                    a.local_pref = Some(100);
                    a.as_path = AsPath::sequence([65001]);
                }),
            ],
            &cfg,
            1,
        ),
        (
            "§9.1.1: absent LOCAL_PREF counts as 100",
            vec![
                ebgp(1, "192.0.2.1").with(|a| a.local_pref = Some(99)),
                ebgp(2, "192.0.2.2"),
            ],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 a: shortest AS_PATH",
            vec![
                ebgp(1, "192.0.2.1").with(|a| a.as_path = AsPath::sequence([65001, 65100, 65200])),
                ebgp(2, "192.0.2.2"),
            ],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 a: an AS_SET counts as one AS",
            vec![
                ebgp(1, "192.0.2.1").with(|a| {
                    a.as_path.segments.push(set(vec![1, 2, 3, 4]));
                }),
                ebgp(2, "192.0.2.2")
                    .with(|a| a.as_path = AsPath::sequence([65001, 65100, 65200, 65300])),
            ],
            &cfg,
            1,
        ),
        (
            "§9.1.2.2 b: lowest ORIGIN (IGP < EGP < INCOMPLETE)",
            vec![
                ebgp(1, "192.0.2.1").with(|a| a.origin = Origin::Incomplete),
                ebgp(2, "192.0.2.2").with(|a| a.origin = Origin::Egp),
            ],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 c: lowest MED among routes from the same neighbour AS",
            vec![
                ebgp(1, "192.0.2.1").with(|a| a.med = Some(20)),
                ebgp(2, "192.0.2.2").with(|a| a.med = Some(10)),
            ],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 c: no MED is the lowest possible value",
            vec![
                ebgp(1, "192.0.2.1"),
                ebgp(2, "192.0.2.2")
                    .with(|a| a.med = Some(1))
                    .router_id("1.1.1.1"),
            ],
            &cfg,
            1,
        ),
        (
            "§9.1.2.2 c: MED is not compared across neighbour ASes (router id decides)",
            vec![
                ebgp(1, "192.0.2.1").with(|a| {
                    a.med = Some(100);
                    a.as_path = AsPath::sequence([65001, 65100]);
                }),
                ebgp(2, "192.0.2.2").with(|a| {
                    a.med = Some(0);
                    a.as_path = AsPath::sequence([65002, 65100]);
                }),
            ],
            &cfg,
            1,
        ),
        (
            "§9.1.2.2 c: always-compare-med compares across neighbour ASes",
            vec![
                ebgp(1, "192.0.2.1").with(|a| {
                    a.med = Some(100);
                    a.as_path = AsPath::sequence([65001, 65100]);
                }),
                ebgp(2, "192.0.2.2").with(|a| {
                    a.med = Some(0);
                    a.as_path = AsPath::sequence([65002, 65100]);
                }),
            ],
            &always,
            2,
        ),
        (
            "§9.1.2.2 d: eBGP-learned over iBGP-learned",
            vec![ibgp(1, "192.0.2.1"), ebgp(2, "192.0.2.2")],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 f: lowest BGP Identifier",
            vec![
                ebgp(1, "192.0.2.1").router_id("9.9.9.9"),
                ebgp(2, "192.0.2.2").router_id("1.1.1.1"),
            ],
            &cfg,
            2,
        ),
        (
            "RFC 4456 §9: ORIGINATOR_ID replaces the BGP Identifier",
            vec![
                ibgp(1, "192.0.2.1")
                    .router_id("1.1.1.1")
                    .with(|a| a.originator_id = Some("8.8.8.8".parse().expect("id"))),
                ibgp(2, "192.0.2.2").router_id("5.5.5.5"),
            ],
            &cfg,
            2,
        ),
        (
            "RFC 4456 §9: shorter CLUSTER_LIST",
            vec![
                ibgp(1, "192.0.2.1").with(|a| {
                    a.originator_id = Some("7.7.7.7".parse().expect("id"));
                    a.cluster_list = vec![
                        "10.9.9.1".parse().expect("id"),
                        "10.9.9.2".parse().expect("id"),
                    ];
                }),
                ibgp(2, "192.0.2.2").with(|a| {
                    a.originator_id = Some("7.7.7.7".parse().expect("id"));
                    a.cluster_list = vec!["10.9.9.3".parse().expect("id")];
                }),
            ],
            &cfg,
            2,
        ),
        (
            "§9.1.2.2 g: lowest peer address",
            vec![
                ebgp(1, "192.0.2.9").router_id("1.1.1.1"),
                ebgp(2, "192.0.2.3").router_id("1.1.1.1"),
            ],
            &cfg,
            2,
        ),
    ];
    for (rule, cands, config, expected) in rows {
        assert_eq!(winner(&cands, config), expected, "{rule}");
    }
}

#[test]
fn multipath_set_is_the_routes_equal_through_the_ebgp_ibgp_step() {
    let cands = [
        ebgp(1, "192.0.2.3"),
        ebgp(2, "192.0.2.1"),
        ebgp(3, "192.0.2.2"),
        ibgp(4, "192.0.2.0"),
        ebgp(5, "192.0.2.4").with(|a| a.as_path = AsPath::sequence([65001, 65100, 65200])),
    ];
    let list: Vec<(PathSource, &RouteAttrs)> = cands.iter().map(|c| (c.source, &c.attrs)).collect();
    let three = DecisionConfig {
        max_paths: 8,
        ..config()
    };
    let ranking = rank(&list, &three);
    let peers: Vec<u16> = ranking
        .order
        .iter()
        .map(|&i| cands[i].source.peer.0)
        .collect();
    // The three eBGP routes with the short path, ordered by router id; iBGP and the longer
    // path follow, outside the set.
    assert_eq!(ranking.multipath, 3);
    assert_eq!(&peers[..3], &[2, 3, 1]);
    assert_eq!(&peers[3..], &[4, 5]);
    let capped = rank(
        &list,
        &DecisionConfig {
            max_paths: 2,
            ..config()
        },
    );
    assert_eq!(capped.multipath, 2);
    assert_eq!(capped.order[0], ranking.order[0]);
    assert_eq!(rank(&list, &config()).multipath, 1);
}
