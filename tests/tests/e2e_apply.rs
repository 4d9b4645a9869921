//! Issue 7, end to end: `margayctl apply` of a file with an invalid resource, on a running
//! two-node cluster. The file is refused with a message naming the field and its value, and
//! nothing of it is written — not even its valid documents: etcd holds no new key, the pool
//! keeps its mode, and the nodes never see any of it (checked behind an ordering barrier: a
//! valid BGPPeer applied afterwards reaches the node, so everything before it had too); the
//! Pods still reach each other directly.

use std::net::IpAddr;
use std::time::Duration;

use margay_tests::margay::{Cluster, Expected, ping_matrix};
use margay_tests::{Lan, TestDir, wait_until};

/// Deadline for anything that converges (sessions, routes, a change reaching a node).
const CONVERGE: Duration = Duration::from_secs(30);
/// Address of a BGP speaker that does not exist (its session never comes up).
const ABSENT_PEER: &str = "10.0.0.99";

/// A valid mode change of the pool, then a BGPPeer with a hold time RFC 4271 forbids.
const BAD_HOLD_TIME: &str = "apiVersion: margay.io/v1
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.244.0.0/16, blockSize: 26, encapsulation: vxlan}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 10.0.0.1, asNumber: 65001, holdTime: 2}
";

/// A BGPPeer with a misspelt field.
const UNKNOWN_FIELD: &str = "apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 10.0.0.1, asNumbr: 65001}
";

#[test]
fn invalid_resource_is_refused_naming_the_field_and_nothing_is_written() {
    let dir = TestDir::new("e2e-apply");
    let lan = Lan::new("e2eapp", 2, "10.0.0.0/24");
    let etcd_ip = lan.addr(2);
    lan.switch.addr_add("br0", &format!("{etcd_ip}/24"));
    let mut cluster = Cluster::new(&dir, &lan.switch, etcd_ip, "auto");
    for (i, host) in lan.hosts.iter().enumerate() {
        let options = cluster.options(&format!("node-{i}"));
        cluster.add_node(&dir, host, options);
    }
    for n in &cluster.nodes {
        n.node.wait_established(1, CONVERGE);
    }
    let direct =
        |_: &_, other: &margay_tests::margay::ClusterNode| Expected::Direct(other.underlay.ip());
    cluster.wait_routes(CONVERGE, direct);
    let keys_before = cluster
        .etcd
        .ctl(&["get", "--prefix", "--keys-only", "/margay/v1/resources/"])
        .expect("etcdctl get");

    for (file, yaml, field, value) in [
        ("bad-hold-time.yaml", BAD_HOLD_TIME, "spec.holdTime", "2"),
        ("unknown-field.yaml", UNKNOWN_FIELD, "asNumbr", "asNumbr"),
    ] {
        let path = dir.write(file, yaml);
        let err = cluster
            .ctl
            .fails(&["apply", "-f", path.to_str().expect("utf-8 path")]);
        println!("margayctl apply -f {file}: {}", err.trim());
        assert!(
            err.contains(field) && err.contains(value) && err.contains("nothing written"),
            "{file}: the error must name {field} and {value:?} and say nothing was written: {err}"
        );
    }

    // Nothing written: the same keys, no BGPPeer, the pool still in auto.
    let keys_after = cluster
        .etcd
        .ctl(&["get", "--prefix", "--keys-only", "/margay/v1/resources/"])
        .expect("etcdctl get");
    assert_eq!(keys_before, keys_after, "keys under resources/ changed");
    let peers = cluster.ctl.ok(&["get", "bgppeers"]);
    assert!(!peers.contains("tor"), "{peers}");
    let pool = cluster
        .ctl
        .ok(&["get", "ippool", "default-ipv4", "-o", "yaml"]);
    assert!(pool.contains("encapsulation: auto"), "{pool}");

    // Barrier: a valid BGPPeer for node-0 reaches it; by then anything written before it had
    // reached it too. node-0 has no session with the refused peer and still routes directly.
    let barrier = format!(
        "apiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: barrier}}\n\
         spec: {{peerIP: {ABSENT_PEER}, asNumber: 65099, node: node-0}}\n"
    );
    cluster.ctl.apply(&dir, "barrier.yaml", &barrier);
    let node0 = cluster.node(0);
    let barrier_peer: IpAddr = ABSENT_PEER.parse().expect("an address");
    let status = wait_until(CONVERGE, "node-0 to see the barrier BGPPeer", || {
        let status = node0.try_status()?;
        if status.sessions.iter().any(|s| s.peer == barrier_peer) {
            Ok(status)
        } else {
            Err(format!("{:#?}", status.sessions))
        }
    });
    let refused_peer: IpAddr = "10.0.0.1".parse().expect("an address");
    assert!(
        status.sessions.iter().all(|s| s.peer != refused_peer),
        "node-0 has a session from the refused file: {:#?}",
        status.sessions
    );
    node0
        .check_block_routes(&cluster.expected(0, direct))
        .unwrap_or_else(|e| panic!("node-0's routes changed after a refused apply: {e}"));
    let pods = cluster.pods();
    wait_until(CONVERGE, "the Pods to reach each other", || {
        ping_matrix(&pods, 10)
    });
}
