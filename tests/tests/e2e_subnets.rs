//! Issue 7, end to end: two subnets joined by a router that knows no Pod routes; etcd on the
//! router. In `auto` mode each node routes the block of the node on its own subnet directly and
//! the block of the node across the router through VXLAN; Pods ping across both ways, the
//! VTEP carries the crossing traffic, and the router never learns a Pod route.

use std::time::Duration;

use margay_tests::margay::{Cluster, ClusterNode, ping_matrix, vtep_tx_packets};
use margay_tests::{TestDir, TwoLans, wait_until};

/// Deadline for anything that converges (sessions, routes, first pings).
const CONVERGE: Duration = Duration::from_secs(30);
/// Echo requests per Pod pair once converged.
const PINGS: u32 = 50;

#[test]
fn auto_crosses_the_router_by_vxlan_and_stays_direct_within_a_subnet() {
    let dir = TestDir::new("e2e-subnets");
    let net = TwoLans::new("e2esub", 2, "10.0.1.0/24", 1, "10.0.2.0/24");
    // a0 and a1 share subnet A; b0 is alone on subnet B.
    let cluster = Cluster::across_a_router(&dir, &net, "auto");
    cluster.wait_routes(CONVERGE, ClusterNode::cross_subnet_route_to);

    let pods = cluster.pods();
    wait_until(CONVERGE, "every Pod to reach every other", || {
        ping_matrix(&pods, 3)
    });

    // Within subnet A: the VTEPs of a0 and a1 send nothing.
    let hosts = [&net.a.hosts[0], &net.a.hosts[1], &net.b.hosts[0]];
    let tx = |i: usize| vtep_tx_packets(hosts[i]).expect("a VTEP");
    let before = [tx(0), tx(1)];
    ping_matrix(&[pods[0], pods[1]], PINGS).unwrap_or_else(|lost| panic!("{lost}"));
    assert_eq!(
        before,
        [tx(0), tx(1)],
        "VTEP TX moved for traffic within subnet A"
    );

    // Across the router: every request and every reply goes through a VTEP.
    let before = [tx(0), tx(2)];
    ping_matrix(&[pods[0], pods[2]], PINGS).unwrap_or_else(|lost| panic!("{lost}"));
    let sent = [tx(0) - before[0], tx(2) - before[1]];
    assert!(
        sent.iter().all(|n| *n >= u64::from(PINGS)),
        "VTEP TX packets of a0, b0 during {PINGS} pings each way: {sent:?}"
    );

    // The router forwards only the underlay: no route to any Pod address.
    let router_routes = net.router.routes("");
    assert!(
        !router_routes.contains("10.244."),
        "the router learned Pod routes:\n{router_routes}"
    );
}
