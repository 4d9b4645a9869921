//! Issue 7, end to end: `margayctl mode set` through auto → vxlan → cross-subnet → auto on a
//! running cluster (two nodes on subnet A, one on subnet B behind a router without Pod
//! routes), under two 10 ms Pod pings: one within subnet A (direct ↔ VXLAN at each switch)
//! and one across the router (VXLAN throughout). Every switch is make-before-break: no
//! packet is lost.

use std::time::Duration;

use margay_tests::margay::{
    Cluster, ClusterNode, ContinuousPing, Expected, PingStats, ping_matrix, wait_for_replies,
};
use margay_tests::{TestDir, TwoLans, wait_until};

/// Deadline for anything that converges (sessions, routes, a mode switch on every node).
const CONVERGE: Duration = Duration::from_secs(30);
/// Replies each ping must have seen before the first switch, and after each one.
const STEADY_REPLIES: usize = 30;

/// The route `me` should have to `other`'s block in `mode`.
fn route_in(mode: &str, me: &ClusterNode, other: &ClusterNode) -> Expected {
    match mode {
        "vxlan" => Expected::Vxlan(other.tunnel),
        "auto" | "cross-subnet" => me.cross_subnet_route_to(other),
        _ => panic!("mode {mode:?} is not part of this scenario"),
    }
}

fn assert_nothing_lost(what: &str, stats: &PingStats) {
    println!("{what}: {stats}");
    assert!(
        stats.lost.is_empty() && stats.errors.is_empty() && stats.unanswered_at_end <= 1,
        "{what} lost packets across the mode switches: {stats}"
    );
}

#[test]
fn mode_switches_under_a_10ms_ping_lose_nothing() {
    let dir = TestDir::new("e2e-modes");
    let net = TwoLans::new("e2emode", 2, "10.0.1.0/24", 1, "10.0.2.0/24");
    // a0 and a1 share subnet A; b0 is alone on subnet B.
    let cluster = Cluster::across_a_router(&dir, &net, "auto");
    cluster.wait_routes(CONVERGE, |me, other| route_in("auto", me, other));
    let pods = cluster.pods();
    wait_until(CONVERGE, "every Pod to reach every other", || {
        ping_matrix(&pods, 3)
    });

    let within = ContinuousPing::start(&dir, "ping-within", pods[0], pods[1].ip);
    let across = ContinuousPing::start(&dir, "ping-across", pods[0], pods[2].ip);
    wait_for_replies(&[&within, &across], STEADY_REPLIES, CONVERGE);
    for mode in ["vxlan", "cross-subnet", "auto"] {
        let out = cluster.ctl.ok(&["mode", "set", mode]);
        assert!(out.contains(&format!("encapsulation {mode}")), "{out}");
        cluster.wait_routes(CONVERGE, |me, other| route_in(mode, me, other));
        wait_for_replies(&[&within, &across], STEADY_REPLIES, CONVERGE);
        println!(
            "mode {mode}: every node switched; pings answered so far: within {}, across {}",
            within.replies_so_far(),
            across.replies_so_far()
        );
    }
    assert_nothing_lost("10 ms ping within subnet A", &within.stop());
    assert_nothing_lost("10 ms ping across the router", &across.stop());
}
