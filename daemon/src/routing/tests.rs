//! Table tests of the route decision: every mode of DESIGN §3 and the transitions of issue 6
//! (a ToR path appearing/disappearing, a node changing underlay address, a pool changing mode,
//! a node leaving).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_vxlan::Mac;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

const OWN: &str = "10.244.0.0/26";
/// node-b: same subnet as us.
const B: &str = "10.244.1.0/26";
/// node-c: another subnet.
const C: &str = "10.244.2.0/26";
const TOR1: &str = "172.18.1.1";
const TOR2: &str = "172.18.1.2";

fn node(name: &str, underlay: &str, block: &str, tunnel: &str) -> RemoteNode {
    RemoteNode {
        name: name.into(),
        underlay: ip(underlay),
        vtep: Some(VtepAddr {
            tunnel_ip: ip(tunnel),
            mac: Mac::from_node_name(name),
        }),
        blocks: vec![net(block)],
    }
}

/// node-a at 172.18.1.10/24 with one block; node-b on the same subnet, node-c on another.
fn world(mode: Encapsulation) -> DecisionInput {
    DecisionInput {
        local: LocalNode {
            name: "node-a".into(),
            underlay: net("172.18.1.10/24"),
            blocks: vec![net(OWN)],
        },
        pools: vec![Pool {
            cidr: net("10.244.0.0/16"),
            encapsulation: mode,
        }],
        nodes: vec![
            node("node-b", "172.18.1.11", B, "10.244.1.0"),
            node("node-c", "172.18.2.10", C, "10.244.2.0"),
        ],
        bgp: BTreeMap::new(),
    }
}

fn path(next_hop: &str, connected: bool) -> BgpPath {
    BgpPath {
        next_hop: ip(next_hop),
        connected,
        peer: ip(next_hop),
    }
}

fn with_paths(mut input: DecisionInput, block: &str, paths: &[BgpPath]) -> DecisionInput {
    input.bgp.insert(net(block), paths.to_vec());
    input
}

/// What a block got: the route's `Via`, or `Err(reason)`.
fn outcome(d: &Decision, block: &str) -> Result<Via, Reason> {
    let block = net(block);
    match (d.routes.get(&block), d.unrouted.get(&block)) {
        (Some(r), None) => Ok(r.via.clone()),
        (None, Some(reason)) => Err(reason.clone()),
        other => panic!("{block}: expected exactly one of route/unrouted, got {other:?}"),
    }
}

fn reason(d: &Decision, block: &str) -> String {
    let block = net(block);
    d.routes
        .get(&block)
        .map(|r| r.reason.clone())
        .or_else(|| d.unrouted.get(&block).cloned())
        .unwrap()
        .to_string()
}

fn direct(gw: &str) -> Result<Via, Reason> {
    Ok(Via::Direct { gateway: ip(gw) })
}
fn vxlan(gw: &str) -> Result<Via, Reason> {
    Ok(Via::Vxlan { gateway: ip(gw) })
}
fn native(hops: &[&str]) -> Result<Via, Reason> {
    Ok(Via::Native {
        next_hops: hops.iter().map(|h| ip(h)).collect(),
    })
}

#[test]
fn mode_table() {
    use Encapsulation::*;
    let tor_c = [path(TOR1, true)];
    let mesh_c = [path("172.18.2.10", false)];
    let mesh_b = [path("172.18.1.11", true)];
    let two_tors = [
        path(TOR2, true),
        path(TOR1, true),
        path("172.18.2.10", false),
    ];
    // (mode, BGP paths for C, BGP paths for B, expected for B, expected for C, reason for C)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        Encapsulation,
        &[BgpPath],
        &[BgpPath],
        Result<Via, Reason>,
        Result<Via, Reason>,
        &str,
    )> = vec![
        (
            None,
            &[],
            &[],
            Err(Reason::NoBgpPath),
            Err(Reason::NoBgpPath),
            "none: no BGP path",
        ),
        (
            None,
            &mesh_c,
            &mesh_b,
            native(&["172.18.1.11"]),
            Err(Reason::NextHopNotConnected {
                next_hops: vec![ip("172.18.2.10")],
            }),
            "none: BGP next hop 172.18.2.10 not directly connected",
        ),
        (
            None,
            &tor_c,
            &[],
            Err(Reason::NoBgpPath),
            native(&[TOR1]),
            "none: BGP path via 172.18.1.1",
        ),
        (
            Vxlan,
            &tor_c,
            &mesh_b,
            vxlan("10.244.1.0"),
            vxlan("10.244.2.0"),
            "vxlan: pool encapsulation is vxlan",
        ),
        (
            CrossSubnet,
            &tor_c,
            &[],
            direct("172.18.1.11"),
            vxlan("10.244.2.0"),
            "vxlan: node 172.18.2.10 is outside our subnet 172.18.1.10/24",
        ),
        (
            Auto,
            &[],
            &[],
            direct("172.18.1.11"),
            vxlan("10.244.2.0"),
            "vxlan: no BGP path with a connected next hop",
        ),
        (
            Auto,
            &mesh_c,
            &mesh_b,
            direct("172.18.1.11"),
            vxlan("10.244.2.0"),
            "vxlan: no BGP path with a connected next hop",
        ),
        (
            Auto,
            &tor_c,
            &[],
            direct("172.18.1.11"),
            native(&[TOR1]),
            "native via ToR 172.18.1.1",
        ),
        (
            Auto,
            &two_tors,
            &[],
            direct("172.18.1.11"),
            native(&[TOR1, TOR2]),
            "native via ToR 172.18.1.1, 172.18.1.2",
        ),
    ];
    for (mode, paths_c, paths_b, want_b, want_c, why_c) in cases {
        let input = with_paths(with_paths(world(mode), C, paths_c), B, paths_b);
        let d = decide(&input);
        let ctx = format!("mode {mode}, paths C {paths_c:?}, paths B {paths_b:?}");
        assert_eq!(outcome(&d, B), want_b, "B: {ctx}");
        assert_eq!(outcome(&d, C), want_c, "C: {ctx}");
        assert_eq!(reason(&d, C), why_c, "C: {ctx}");
        assert_eq!(outcome(&d, OWN), Ok(Via::Blackhole), "own: {ctx}");
        assert_eq!(reason(&d, OWN), "own block");
    }
}

#[test]
fn same_subnet_reason_and_auto_prefers_direct_over_a_tor_path() {
    let d = decide(&with_paths(
        world(Encapsulation::Auto),
        B,
        &[path(TOR1, true)],
    ));
    assert_eq!(outcome(&d, B), direct("172.18.1.11"));
    assert_eq!(reason(&d, B), "same subnet");
}

#[test]
fn vtep_peers_are_every_remote_vtep_unless_all_pools_are_none() {
    for mode in [
        Encapsulation::Vxlan,
        Encapsulation::CrossSubnet,
        Encapsulation::Auto,
    ] {
        let d = decide(&world(mode));
        let names: Vec<&str> = d.vtep_peers.iter().map(|p| p.node.as_str()).collect();
        assert_eq!(names, ["node-b", "node-c"], "{mode}");
        assert_eq!(d.vtep_peers[1].underlay, ip("172.18.2.10"));
        assert_eq!(d.vtep_peers[1].tunnel_ip, ip("10.244.2.0"));
        assert_eq!(d.vtep_peers[1].mac, Mac::from_node_name("node-c"));
    }
    assert!(decide(&world(Encapsulation::None)).vtep_peers.is_empty());
}

#[test]
fn missing_vtep_pool_or_owner_gives_a_reason_not_a_route() {
    let mut input = world(Encapsulation::Vxlan);
    input.nodes[1].vtep = None;
    let d = decide(&input);
    assert_eq!(
        reason(&d, C),
        "vxlan: node node-c has no VTEP for this address family"
    );
    assert!(d.vtep_peers.iter().all(|p| p.node != "node-c"));

    let mut input = world(Encapsulation::Auto);
    input.nodes[1].blocks.push(net("10.99.0.0/26"));
    assert_eq!(
        reason(&decide(&input), "10.99.0.0/26"),
        "no IP pool contains this block"
    );

    // Learned over BGP only, inside the pool: auto can use a connected path, vxlan cannot.
    let learned = "10.244.9.0/26";
    let d = decide(&with_paths(
        world(Encapsulation::Auto),
        learned,
        &[path(TOR1, true)],
    ));
    assert_eq!(outcome(&d, learned), native(&[TOR1]));
    let d = decide(&with_paths(
        world(Encapsulation::Vxlan),
        learned,
        &[path(TOR1, true)],
    ));
    assert_eq!(
        reason(&d, learned),
        "vxlan: no node owns this block (learned over BGP only)"
    );
    // BGP prefixes outside every pool (a default route from the ToR) are not ours to decide.
    let d = decide(&with_paths(
        world(Encapsulation::Auto),
        "0.0.0.0/0",
        &[path(TOR1, true)],
    ));
    assert!(
        !d.routes.contains_key(&net("0.0.0.0/0")) && !d.unrouted.contains_key(&net("0.0.0.0/0"))
    );
}

#[test]
fn own_block_wins_over_a_remote_claim_and_most_specific_pool_applies() {
    let mut input = world(Encapsulation::Auto);
    input.nodes[1].blocks.push(net(OWN));
    input.pools.push(Pool {
        cidr: net("10.244.2.0/24"),
        encapsulation: Encapsulation::Vxlan,
    });
    let d = decide(&with_paths(input, C, &[path(TOR1, true)]));
    assert_eq!(outcome(&d, OWN), Ok(Via::Blackhole));
    assert_eq!(
        outcome(&d, C),
        vxlan("10.244.2.0"),
        "the /24 vxlan pool is more specific than the /16 auto pool"
    );
}

/// Decides before and after, checks the blocks that changed and what they changed to.
fn transition(
    before: &DecisionInput,
    after: &DecisionInput,
    changed: &[&str],
) -> (Decision, Decision) {
    let (d0, d1) = (decide(before), decide(after));
    let want: Vec<IpNetwork> = changed.iter().map(|b| net(b)).collect();
    assert_eq!(d0.changed_destinations(&d1), want);
    (d0, d1)
}

#[test]
fn transition_tor_path_appears_and_disappears() {
    let without = world(Encapsulation::Auto);
    let with = with_paths(world(Encapsulation::Auto), C, &[path(TOR1, true)]);
    let (d0, d1) = transition(&without, &with, &[C]);
    assert_eq!(outcome(&d0, C), vxlan("10.244.2.0"));
    assert_eq!(outcome(&d1, C), native(&[TOR1]));
    assert_eq!(
        d0.vtep_peers, d1.vtep_peers,
        "VTEP entries stay, ready for the flip back"
    );
    let (_, d2) = transition(&with, &without, &[C]);
    assert_eq!(outcome(&d2, C), vxlan("10.244.2.0"));
    // A second ToR joining makes it ECMP; one of two leaving keeps it native.
    let two = with_paths(
        world(Encapsulation::Auto),
        C,
        &[path(TOR1, true), path(TOR2, true)],
    );
    let (_, d3) = transition(&with, &two, &[C]);
    assert_eq!(outcome(&d3, C), native(&[TOR1, TOR2]));
}

#[test]
fn transition_node_changes_underlay_address() {
    let before = world(Encapsulation::CrossSubnet);
    // node-b moves out of our subnet: direct → VXLAN, and its FDB entry points to the new address.
    let mut moved = world(Encapsulation::CrossSubnet);
    moved.nodes[0].underlay = ip("172.18.3.20");
    let (_, d1) = transition(&before, &moved, &[B]);
    assert_eq!(outcome(&d1, B), vxlan("10.244.1.0"));
    assert_eq!(d1.vtep_peers[0].underlay, ip("172.18.3.20"));
    // node-c moves into our subnet: VXLAN → direct.
    let mut moved_in = world(Encapsulation::CrossSubnet);
    moved_in.nodes[1].underlay = ip("172.18.1.12");
    let (_, d2) = transition(&before, &moved_in, &[C]);
    assert_eq!(outcome(&d2, C), direct("172.18.1.12"));
    // node-b moves within the subnet: direct via the new address.
    let mut renumbered = world(Encapsulation::Auto);
    renumbered.nodes[0].underlay = ip("172.18.1.99");
    let (_, d3) = transition(&world(Encapsulation::Auto), &renumbered, &[B]);
    assert_eq!(outcome(&d3, B), direct("172.18.1.99"));
}

#[test]
fn transition_pool_changes_mode() {
    use Encapsulation::*;
    let tor = |m| with_paths(world(m), C, &[path(TOR1, true)]);
    // (from, to, blocks that change)
    let cases: [(Encapsulation, Encapsulation, &[&str]); 8] = [
        (Auto, Vxlan, &[B, C]),
        (Vxlan, Auto, &[B, C]),
        (Auto, CrossSubnet, &[C]),
        (CrossSubnet, Auto, &[C]),
        (CrossSubnet, Vxlan, &[B]),
        (Vxlan, CrossSubnet, &[B]),
        (Auto, None, &[B]),
        (None, Auto, &[B]),
    ];
    for (from, to, changed) in cases {
        let (d0, d1) = (decide(&tor(from)), decide(&tor(to)));
        let want: Vec<IpNetwork> = changed.iter().map(|b| net(b)).collect();
        assert_eq!(d0.changed_destinations(&d1), want, "{from} → {to}");
        assert_eq!(outcome(&d1, OWN), Ok(Via::Blackhole));
    }
    // none → auto for B: from no route (no BGP path) to direct.
    assert_eq!(outcome(&decide(&tor(None)), B), Err(Reason::NoBgpPath));
    assert_eq!(outcome(&decide(&tor(Auto)), B), direct("172.18.1.11"));
}

#[test]
fn transition_node_leaves() {
    let before = world(Encapsulation::Auto);
    let mut after = world(Encapsulation::Auto);
    after.nodes.remove(1);
    let (_, d1) = transition(&before, &after, &[C]);
    assert!(!d1.routes.contains_key(&net(C)) && !d1.unrouted.contains_key(&net(C)));
    assert_eq!(d1.vtep_peers.len(), 1);
    assert_eq!(d1.vtep_peers[0].node, "node-b");
}

#[test]
fn encapsulation_parses_its_names_and_rejects_others() {
    for mode in [
        Encapsulation::None,
        Encapsulation::Vxlan,
        Encapsulation::CrossSubnet,
        Encapsulation::Auto,
    ] {
        assert_eq!(mode.to_string().parse::<Encapsulation>(), Ok(mode));
    }
    assert_eq!(Encapsulation::default(), Encapsulation::Auto);
    let err = "ipip".parse::<Encapsulation>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "encapsulation \"ipip\" is not one of none, vxlan, cross-subnet, auto"
    );
}
