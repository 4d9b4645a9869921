//! Issue 7, end to end: a node's lifecycle on a running cluster (a0, a1 on subnet A, b0 on
//! subnet B behind a router without Pod routes).
//!
//! - a1 is stopped with SIGTERM (exit 0, graceful restart: its routes stay in its kernel, its
//!   peers keep its block while the session is down) and started again, under 10 ms pings
//!   to a1's Pod from a0's (direct) and from b0's (VXLAN): no packet lost.
//! - b0 is stopped and deleted with `margayctl delete node b0`: its block's route and its
//!   VTEP neighbour and FDB entries disappear from a0 and a1 (without waiting for the graceful
//!   restart time), and its block goes back to the pool (`margayctl ipam show --blocks`).

use std::net::IpAddr;
use std::time::Duration;

use margay_tests::margay::{
    Cluster, ClusterNode, ContinuousPing, Expected, margay_routes, ping_matrix, vtep_fdb,
    vtep_neighbours, wait_for_replies,
};
use margay_tests::{Netns, TestDir, TwoLans, wait_until};

/// Deadline for anything that converges (sessions, routes, first pings).
const CONVERGE: Duration = Duration::from_secs(30);
/// Replies each ping must see before the stop and after the restart.
const STEADY_REPLIES: usize = 30;
/// Deadline for a deleted node to be gone from the others (far below the graceful restart
/// time of 120 s, which must not apply to a deleted node).
const DELETE_DEADLINE: Duration = Duration::from_secs(15);

/// A running cluster a0, a1 | router | b0 with its routes converged and Pods answering.
fn three_nodes(dir: &TestDir, net: &TwoLans) -> Cluster {
    // a0 and a1 share subnet A; b0 is alone on subnet B.
    let cluster = Cluster::across_a_router(dir, net, "auto");
    cluster.wait_routes(CONVERGE, ClusterNode::cross_subnet_route_to);
    let pods = cluster.pods();
    wait_until(CONVERGE, "every Pod to reach every other", || {
        ping_matrix(&pods, 3)
    });
    cluster
}

#[test]
fn sigterm_and_start_again_under_a_10ms_ping_lose_nothing() {
    let dir = TestDir::new("e2e-restart");
    let net = TwoLans::new("e2erst", 2, "10.0.1.0/24", 1, "10.0.2.0/24");
    let mut cluster = three_nodes(&dir, &net);
    let (a0, a1) = (0, 1);
    let a1_block = cluster.nodes[a1].block;
    let a1_host = &net.a.hosts[1];

    let pods = cluster.pods();
    let direct = ContinuousPing::start(&dir, "ping-a0-a1", pods[0], pods[1].ip);
    let vxlan = ContinuousPing::start(&dir, "ping-b0-a1", pods[2], pods[1].ip);
    wait_for_replies(&[&direct, &vxlan], STEADY_REPLIES, CONVERGE);

    let code = cluster.nodes[a1].node.sigterm_and_wait();
    assert_eq!(code, 0, "margay-node a1 exit code after SIGTERM");
    // a0 sees the session go down; a1's block stays routed (graceful restart) on a0 and in
    // a1's own kernel.
    let a0 = &cluster.nodes[a0].node;
    wait_until(CONVERGE, "a0's session with a1 to go down", || {
        let status = a0.try_status()?;
        let peer = IpAddr::V4(net.a.addrs[1]);
        match status.sessions.iter().find(|s| s.peer == peer) {
            Some(s) if s.state != "Established" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    a0.check_block_routes(&[(a1_block, Expected::Direct(IpAddr::V4(net.a.addrs[1])))])
        .unwrap_or_else(|e| panic!("a0 dropped a1's block while a1 restarts: {e}"));
    let kept = margay_routes(a1_host);
    assert!(
        kept.iter()
            .any(|r| r.is_blackhole() && r.dst == a1_block.to_string()),
        "a1's kernel routes after SIGTERM: {kept:?}"
    );
    assert!(
        kept.len() == cluster.nodes.len(),
        "a1 left its routes in place: {kept:?}"
    );

    cluster.nodes[a1].node.start_again();
    for n in &cluster.nodes {
        n.node.wait_established(2, CONVERGE);
    }
    cluster.wait_routes(CONVERGE, ClusterNode::cross_subnet_route_to);
    wait_for_replies(&[&direct, &vxlan], STEADY_REPLIES, CONVERGE);
    for (what, ping) in [("a0 → a1 (direct)", direct), ("b0 → a1 (VXLAN)", vxlan)] {
        let stats = ping.stop();
        println!("10 ms ping {what} across a1's SIGTERM and start: {stats}");
        assert!(
            stats.lost.is_empty() && stats.errors.is_empty() && stats.unanswered_at_end <= 1,
            "{what} lost packets while a1 restarted: {stats}"
        );
    }
}

/// `Err` naming what `host` still holds of the node with `tunnel`/`underlay`.
fn traces_of(host: &Netns, tunnel: IpAddr, underlay: IpAddr, block: &str) -> Result<(), String> {
    let route: Vec<String> = margay_routes(host)
        .iter()
        .filter(|r| r.dst == block)
        .map(ToString::to_string)
        .collect();
    let neigh: Vec<_> = vtep_neighbours(host)
        .into_iter()
        .filter(|n| n.ip == tunnel.to_string())
        .collect();
    let fdb: Vec<_> = vtep_fdb(host)
        .into_iter()
        .filter(|f| f.dst == underlay.to_string())
        .collect();
    if route.is_empty() && neigh.is_empty() && fdb.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: route {route:?}, neighbours {neigh:?}, FDB {fdb:?}",
            host.name()
        ))
    }
}

#[test]
fn deleted_node_leaves_no_route_no_vtep_entry_and_no_block() {
    let dir = TestDir::new("e2e-delete");
    let net = TwoLans::new("e2edel", 2, "10.0.1.0/24", 1, "10.0.2.0/24");
    let mut cluster = three_nodes(&dir, &net);
    let b0 = 2;
    let (b0_block, b0_tunnel, b0_underlay) = {
        let n = &cluster.nodes[b0];
        (n.block.to_string(), n.tunnel, n.underlay.ip())
    };
    let survivors = [&net.a.hosts[0], &net.a.hosts[1]];
    // Before: a0 and a1 reach b0 through their VTEPs, with its neighbour and FDB entries.
    for host in survivors {
        assert!(
            traces_of(host, b0_tunnel, b0_underlay, &b0_block).is_err(),
            "{} has no VXLAN state for b0 to begin with",
            host.name()
        );
    }
    let shown = cluster.ctl.ok(&["ipam", "show", "--blocks"]);
    assert!(
        block_row(&shown, &b0_block).is_some_and(|row| row.contains("b0")),
        "{shown}"
    );

    assert_eq!(cluster.nodes[b0].node.sigterm_and_wait(), 0);
    let out = cluster.ctl.ok(&["delete", "node", "b0"]);
    assert!(out.contains("Node/b0 deleted"), "{out}");

    for host in survivors {
        wait_until(DELETE_DEADLINE, "b0's route and VTEP entries to go", || {
            traces_of(host, b0_tunnel, b0_underlay, &b0_block)
        });
    }
    for n in &cluster.nodes[..b0] {
        let routes = n.node.routes();
        assert!(
            routes.iter().all(|r| r.dst.to_string() != b0_block),
            "{} still lists b0's block: {routes:#?}",
            n.node.name()
        );
        n.node.wait_established(1, CONVERGE);
    }
    let pods = cluster.pods();
    ping_matrix(&pods[..b0], 10).unwrap_or_else(|lost| panic!("{lost}"));

    // b0's block is back in the pool: no block of b0 left, IPAM consistent.
    let shown = cluster.ctl.ok(&["ipam", "show", "--blocks"]);
    assert!(
        block_row(&shown, &b0_block).is_none_or(|row| !row.contains("b0")),
        "b0's block is still claimed:\n{shown}"
    );
    assert!(!shown.contains(" b0 "), "{shown}");
    cluster.ctl.ok(&["ipam", "check"]);
    let nodes = cluster.ctl.ok(&["get", "nodes"]);
    assert!(!nodes.contains("b0"), "{nodes}");
}

/// The `ipam show --blocks` row of `block`.
fn block_row<'a>(shown: &'a str, block: &str) -> Option<&'a str> {
    shown
        .lines()
        .find(|line| line.split_whitespace().next() == Some(block))
}
