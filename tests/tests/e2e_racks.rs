//! Issue 7, end to end: two racks, each behind a BIRD top-of-rack router with its own AS; the
//! ToRs peer with each other over the spine, the node underlay is routed between racks by
//! static routes only. Nodes have their own AS (`--as-number`), the node mesh is off
//! (BGPConfiguration `default`), and each node peers eBGP with its ToR (a BGPPeer per rack,
//! selected by the node label `rack`). Hold time 3 s on every session.
//!
//! - `auto` routes the other rack's blocks natively via the ToR and the rack-mate's block
//!   directly; Pods ping everywhere and no VTEP sends a packet.
//! - The ToR–ToR session is cut (`birdc disable`): every node flips the other rack's blocks to
//!   VXLAN within the hold time, and a 10 ms Pod ping across the racks keeps being answered.
//!   The session is restored: back to native.
//! - (A second test, in parallel.) ToR 0's BIRD is frozen (SIGSTOP: its kernel still
//!   forwards, its BGP goes silent): the hold timers (3 s) of its nodes and of the other ToR
//!   expire, every node routes the other rack through VXLAN, Pod traffic continues; woken
//!   (SIGCONT) → native again.
//!
//! The loss seen by the ping at each flip is printed (a ToR drops the routes from its own
//! kernel as it withdraws them, and may announce a route before it has installed it, see
//! DESIGN §4); the tests assert continuity: replies after the flip, no gap as long as the hold
//! time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use margay_daemon::peering::PeerKind;
use margay_tests::margay::{
    Cluster, ClusterNode, ContinuousPing, Expected, PingStats, ping_matrix, vtep_tx_packets,
    wait_for_replies,
};
use margay_tests::{Bird, Rack, Racks, Signal, TestDir, wait_until};

/// Deadline for anything that converges from scratch (sessions, routes, first pings).
const CONVERGE: Duration = Duration::from_secs(30);
/// BGP hold time of every session (BIRD's and the BGPPeers').
const HOLD_SECONDS: u64 = 3;
/// A flip must be complete within the hold time; the extra second covers the polling
/// (a `margayctl node routes` per node per probe) on a loaded 2-core CI machine.
const FLIP_DEADLINE: Duration = Duration::from_secs(HOLD_SECONDS + 1);
/// A silent ToR is noticed when a hold timer expires (≤ 3 s after its last KEEPALIVE); the
/// extra 2 s cover the polling on a loaded machine.
const SILENT_FLIP_DEADLINE: Duration = Duration::from_secs(HOLD_SECONDS + 2);
/// Replies a continuous ping must have before a change, and after it.
const STEADY_REPLIES: usize = 30;
/// Echo requests per Pod pair in steady state.
const PINGS: u32 = 30;
/// The name of the ToR–ToR protocol in BIRD.
const SPINE_PROTOCOL: &str = "spine";

/// AS of rack `r`'s ToR.
fn tor_asn(r: usize) -> u32 {
    65001 + r as u32
}

/// AS of node `i` of rack `r`.
fn node_asn(r: usize, i: usize) -> u32 {
    65100 + 10 * r as u32 + i as u32
}

/// The ToR's BIRD: one eBGP session per node of its rack, one to the other ToR.
fn tor_config(racks: &[Rack], r: usize) -> String {
    let rack = &racks[r];
    let timers = format!("hold time {HOLD_SECONDS}; keepalive time 1;");
    let mut config = Bird::base_config(&rack.spine_addr.to_string());
    for (i, addr) in rack.lan.addrs.iter().enumerate() {
        config += &format!(
            "protocol bgp node{i} from peer_t {{ local {} as {}; neighbor {addr} as {}; {timers} }}\n",
            rack.tor_addr,
            tor_asn(r),
            node_asn(r, i)
        );
    }
    let other = 1 - r;
    config += &format!(
        "protocol bgp {SPINE_PROTOCOL} from peer_t {{ local {} as {}; neighbor {} as {}; {timers} }}\n",
        rack.spine_addr,
        tor_asn(r),
        racks[other].spine_addr,
        tor_asn(other)
    );
    config
}

/// BGP configuration: mesh off; one BGPPeer per rack (its ToR, for the nodes labelled with the
/// rack).
fn bgp_resources(racks: &[Rack]) -> String {
    let mut yaml = "apiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {name: default}\n\
                    spec: {nodeMesh: false}\n"
        .to_owned();
    for (r, rack) in racks.iter().enumerate() {
        yaml += &format!(
            "---\napiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: tor-r{r}}}\n\
             spec: {{peerIP: {}, asNumber: {}, nodeSelector: \"rack == 'r{r}'\", holdTime: {HOLD_SECONDS}}}\n",
            rack.tor_addr,
            tor_asn(r)
        );
    }
    yaml
}

/// The ToR address of the rack `node` is in.
fn tor_of(racks: &[Rack], node: &ClusterNode) -> IpAddr {
    racks
        .iter()
        .map(|rack| IpAddr::V4(rack.tor_addr))
        .find(|tor| node.underlay.contains(*tor))
        .unwrap_or_else(|| panic!("{} is in no rack", node.underlay))
}

/// Waits (until `since + deadline`) for every node to route as `remote` says; returns how
/// long it took from `since` until the last node was seen done.
fn wait_all_routed(
    cluster: &Cluster,
    since: Instant,
    deadline: Duration,
    remote: &dyn Fn(&ClusterNode, &ClusterNode) -> Expected,
) -> Duration {
    for (i, n) in cluster.nodes.iter().enumerate() {
        let left = deadline.saturating_sub(since.elapsed());
        n.node.wait_block_routes(&cluster.expected(i, remote), left);
    }
    since.elapsed()
}

/// Prints what the ping saw at a flip and asserts continuity: answered after the change, no
/// silence as long as the hold time, nothing left hanging at the end.
fn report_flip(what: &str, took: Duration, stats: &PingStats) {
    println!(
        "{what}: all nodes flipped {:.0} ms after the change; 10 ms ping: {stats}",
        took.as_secs_f64() * 1e3
    );
    for error in &stats.errors {
        println!("  {error}");
    }
    assert!(
        stats.received as usize >= 2 * STEADY_REPLIES,
        "{what}: {stats}"
    );
    assert!(stats.unanswered_at_end <= 1, "{what}: {stats}");
    let gap = stats.longest_gap.expect("replies were seen");
    assert!(
        gap < Duration::from_secs(HOLD_SECONDS),
        "{what}: Pod traffic stopped for {gap:?}: {stats}"
    );
}

/// The other rack natively via our ToR, the rack-mate directly.
fn native(racks: &[Rack]) -> impl Fn(&ClusterNode, &ClusterNode) -> Expected + '_ {
    move |me, other| {
        if me.shares_subnet_with(other) {
            Expected::Direct(other.underlay.ip())
        } else {
            Expected::Native(vec![tor_of(racks, me)])
        }
    }
}

/// The other rack through VXLAN, the rack-mate directly.
fn vxlan(me: &ClusterNode, other: &ClusterNode) -> Expected {
    me.cross_subnet_route_to(other)
}

/// Two racks up: ToRs and nodes Established, routes native, no node reporting a problem,
/// Pods answering. (Fields drop in order: nodes, Pods and etcd before the ToRs, the
/// namespaces last.)
struct TwoRacks {
    cluster: Cluster,
    tors: Vec<Bird>,
    topo: Racks,
}

impl TwoRacks {
    fn start(dir: &TestDir, tag: &str) -> Self {
        let topo = Racks::new(tag, 2, 2);
        let racks = &topo.racks;
        let mut cluster = Cluster::new(dir, &racks[0].tor, racks[0].spine_addr, "auto");
        cluster.ctl.apply(dir, "bgp.yaml", &bgp_resources(racks));
        let tors: Vec<Bird> = (0..racks.len())
            .map(|r| {
                Bird::start(
                    &racks[r].tor,
                    dir,
                    &format!("tor{r}"),
                    &tor_config(racks, r),
                )
            })
            .collect();
        for (r, rack) in racks.iter().enumerate() {
            for (i, host) in rack.lan.hosts.iter().enumerate() {
                let options = cluster
                    .options(&format!("r{r}n{i}"))
                    .as_number(node_asn(r, i))
                    .label("rack", &format!("r{r}"));
                cluster.add_node(dir, host, options);
            }
        }

        // Sessions: each node has exactly its ToR, Established; each ToR has its nodes and
        // the other ToR.
        for (n, (r, i)) in cluster.nodes.iter().zip(Self::rack_and_index()) {
            let status = n.node.wait_established(1, CONVERGE);
            let session = &status.sessions[0];
            assert_eq!(
                (session.peer, session.kind, session.asn),
                (IpAddr::V4(racks[r].tor_addr), PeerKind::Node, tor_asn(r)),
                "{}: {session:#?}",
                n.node.name()
            );
            assert_eq!(status.asn, node_asn(r, i), "{}", n.node.name());
        }
        for tor in &tors {
            for name in ["node0", "node1", SPINE_PROTOCOL] {
                tor.wait_established(name, CONVERGE);
            }
        }
        wait_all_routed(&cluster, Instant::now(), CONVERGE, &native(racks));
        for n in &cluster.nodes {
            n.node.wait_no_problems(CONVERGE);
        }
        let pods = cluster.pods();
        wait_until(CONVERGE, "every Pod to reach every other", || {
            ping_matrix(&pods, 3)
        });
        TwoRacks {
            cluster,
            tors,
            topo,
        }
    }

    /// (rack, index in the rack) of the cluster's nodes, in the order they were added.
    fn rack_and_index() -> impl Iterator<Item = (usize, usize)> {
        (0..2).flat_map(|r| (0..2).map(move |i| (r, i)))
    }

    fn racks(&self) -> &[Rack] {
        &self.topo.racks
    }

    /// Every node's VTEP TX packet counter, in cluster order.
    fn vtep_tx(&self) -> Vec<u64> {
        Self::rack_and_index()
            .map(|(r, i)| vtep_tx_packets(&self.topo.racks[r].lan.hosts[i]).expect("a VTEP"))
            .collect()
    }
}

#[test]
fn tor_session_cut_flips_to_vxlan_and_back_with_traffic_continuing() {
    let dir = TestDir::new("e2e-racks");
    let lab = TwoRacks::start(&dir, "e2erk");
    let (cluster, native) = (&lab.cluster, native(lab.racks()));
    let pods = cluster.pods();
    let before = lab.vtep_tx();
    ping_matrix(&pods, PINGS).unwrap_or_else(|lost| panic!("{lost}"));
    assert_eq!(
        before,
        lab.vtep_tx(),
        "a VTEP sent packets while every route was native"
    );

    // Cut the ToR–ToR session: the other rack's blocks go to VXLAN, the ping goes on.
    // Pod 0 is in rack 0, Pod 2 in rack 1.
    let ping = ContinuousPing::start(&dir, "ping-cut", pods[0], pods[2].ip);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    let tx_native = lab.vtep_tx();
    let cut = Instant::now();
    lab.tors[0]
        .birdc(&format!("disable {SPINE_PROTOCOL}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = wait_all_routed(cluster, cut, FLIP_DEADLINE, &vxlan);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    report_flip("ToR–ToR session cut → VXLAN", took, &ping.stop());
    let tx_vxlan = lab.vtep_tx();
    assert!(
        tx_vxlan[0] > tx_native[0] && tx_vxlan[2] > tx_native[2],
        "Pod traffic across the racks did not go through the VTEPs: {tx_native:?} → {tx_vxlan:?}"
    );

    // Restore it: back to native.
    let ping = ContinuousPing::start(&dir, "ping-restore", pods[0], pods[2].ip);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    let restore = Instant::now();
    lab.tors[0]
        .birdc(&format!("enable {SPINE_PROTOCOL}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = wait_all_routed(cluster, restore, CONVERGE, &native);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    report_flip("ToR–ToR session restored → native", took, &ping.stop());
    let before = lab.vtep_tx();
    ping_matrix(&pods, PINGS).unwrap_or_else(|lost| panic!("{lost}"));
    assert_eq!(
        before,
        lab.vtep_tx(),
        "a VTEP sent packets after the routes went native again"
    );
}

#[test]
fn silent_tor_is_caught_by_the_hold_timer_and_traffic_continues() {
    let dir = TestDir::new("e2e-racks-silent");
    let mut lab = TwoRacks::start(&dir, "e2erks");
    let native = native(&lab.topo.racks);
    let cluster = &lab.cluster;
    let pods = cluster.pods();

    // Freeze rack 0's ToR (its kernel keeps forwarding, its BGP goes silent): the rack-0
    // nodes' hold timers (3 s) and the other ToR's expire; every node routes the other
    // rack's blocks through VXLAN and the ping goes on.
    let ping = ContinuousPing::start(&dir, "ping-freeze", pods[0], pods[2].ip);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    let frozen = Instant::now();
    lab.tors[0].process().signal(Signal::SIGSTOP);
    let took = wait_all_routed(cluster, frozen, SILENT_FLIP_DEADLINE, &vxlan);
    for n in &cluster.nodes[..2] {
        let status = n.node.status();
        assert!(
            status.sessions.iter().all(|s| s.state != "Established"),
            "{} still has its frozen ToR Established: {:#?}",
            n.node.name(),
            status.sessions
        );
    }
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    report_flip("ToR 0 silent → VXLAN (hold timer)", took, &ping.stop());

    // Wake it: sessions come back, routes go native again.
    let ping = ContinuousPing::start(&dir, "ping-wake", pods[0], pods[2].ip);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    let woken = Instant::now();
    lab.tors[0].process().signal(Signal::SIGCONT);
    let took = wait_all_routed(cluster, woken, CONVERGE, &native);
    wait_for_replies(&[&ping], STEADY_REPLIES, CONVERGE);
    report_flip("ToR 0 back → native", took, &ping.stop());
}
