//! Issue 7, end to end: three margay-nodes on one LAN (one L2 subnet) with a real etcd on the
//! switch. Every node has the full iBGP mesh Established, routes the other nodes' blocks
//! directly (via their underlay addresses on eth0), and its VTEP stays idle: no route through
//! it, and Pods pinging each other do not move its TX counter.

use std::net::IpAddr;
use std::time::Duration;

use margay_daemon::peering::PeerKind;
use margay_tests::margay::{Cluster, Expected, margay_routes, ping_matrix, vtep_tx_packets};
use margay_tests::{Lan, TestDir, wait_until};

/// Deadline for anything that converges (sessions, routes, first pings).
const CONVERGE: Duration = Duration::from_secs(30);
/// Echo requests per Pod pair once converged.
const PINGS: u32 = 50;

#[test]
fn three_nodes_on_one_lan_mesh_and_route_directly() {
    let dir = TestDir::new("e2e-lan");
    let lan = Lan::new("e2elan", 3, "10.0.0.0/24");
    let etcd_ip = lan.addr(2);
    lan.switch.addr_add("br0", &format!("{etcd_ip}/24"));
    let mut cluster = Cluster::new(&dir, &lan.switch, etcd_ip, "auto");
    for (i, host) in lan.hosts.iter().enumerate() {
        let options = cluster.options(&format!("node-{i}"));
        cluster.add_node(&dir, host, options);
    }

    // The mesh: every node has a session with each other node, Established, of kind mesh.
    for (i, n) in cluster.nodes.iter().enumerate() {
        let status = n.node.wait_established(lan.hosts.len() - 1, CONVERGE);
        let mut peers: Vec<IpAddr> = status.sessions.iter().map(|s| s.peer).collect();
        peers.sort();
        let others: Vec<IpAddr> = (0..lan.hosts.len())
            .filter(|j| *j != i)
            .map(|j| IpAddr::V4(lan.addrs[j]))
            .collect();
        assert_eq!(peers, others, "{}: {:#?}", n.node.name(), status.sessions);
        assert!(
            status.sessions.iter().all(|s| s.kind == PeerKind::Mesh),
            "{}: {:#?}",
            n.node.name(),
            status.sessions
        );
        assert_eq!(status.underlay.to_string(), format!("{}/24", lan.addrs[i]));
    }

    // Routes: own block blackholed, every other block direct via its owner's address, and
    // nothing through the VTEP.
    cluster.wait_routes(CONVERGE, |_, other| Expected::Direct(other.underlay.ip()));
    for host in &lan.hosts {
        let through_vtep: Vec<String> = margay_routes(host)
            .iter()
            .filter(|r| r.via_vtep())
            .map(ToString::to_string)
            .collect();
        assert!(through_vtep.is_empty(), "{}: {through_vtep:?}", host.name());
    }

    for n in &cluster.nodes {
        n.node.wait_no_problems(CONVERGE);
    }

    // Pods from each node's block ping each other; no packet goes through a VTEP.
    let pods = cluster.pods();
    wait_until(CONVERGE, "every Pod to reach every other", || {
        ping_matrix(&pods, 3)
    });
    let tx = || -> Vec<Option<u64>> { lan.hosts.iter().map(vtep_tx_packets).collect() };
    let before = tx();
    assert!(
        before.iter().all(Option::is_some),
        "every node has its VTEP: {before:?}"
    );
    ping_matrix(&pods, PINGS).unwrap_or_else(|lost| panic!("{lost}"));
    assert_eq!(
        before,
        tx(),
        "VTEP TX packets moved while Pods pinged on one LAN"
    );
}
