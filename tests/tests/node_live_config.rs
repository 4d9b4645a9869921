//! Issue 7 item 1, "applies every datastore change live": a running margay-node picks up a
//! `BGPPeer` applied after it started (the session to a BIRD 2 router comes up and BIRD learns
//! the node's block), a `BGPConfiguration` change (a service CIDR appears at the router, with
//! the configured community), and the `BGPPeer`'s deletion (the session goes away) — the
//! process never restarts.

use std::time::Duration;

use margay_daemon::peering::PeerKind;
use margay_tests::margay::Cluster;
use margay_tests::{Bird, Lan, TestDir, wait_until};

const TIMEOUT: Duration = Duration::from_secs(30);

fn bgp_configuration(extra: &str) -> String {
    format!(
        "apiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {{name: default}}\n\
         spec: {{asNumber: 64512{extra}}}\n"
    )
}

#[test]
fn peers_and_bgp_configuration_apply_without_a_restart() {
    let dir = TestDir::new("live-config");
    let lan = Lan::new("livecfg", 1, "10.0.8.0/24");
    let router_ip = lan.addr(1);
    let etcd_ip = lan.addr(2);
    lan.switch.addr_add("br0", &format!("{router_ip}/24"));
    lan.switch.addr_add("br0", &format!("{etcd_ip}/24"));
    let node_ip = lan.addrs[0];

    let mut config = Bird::base_config(&router_ip.to_string());
    config.push_str(&format!(
        "protocol bgp node0 from peer_t {{\n  local {router_ip} as 65020;\n  \
         neighbor {node_ip} as 64512;\n}}\n"
    ));
    let bird = Bird::start(&lan.switch, &dir, "router", &config);

    let mut cluster = Cluster::new(&dir, &lan.switch, etcd_ip, "auto");
    cluster.ctl.apply(&dir, "bgp.yaml", &bgp_configuration(""));
    let options = cluster.options("node-0");
    cluster.add_node(&dir, &lan.hosts[0], options);
    let block = cluster.nodes[0].block.to_string();
    let node = &cluster.nodes[0].node;
    let pid = node.pid();
    assert!(node.status().sessions.is_empty());

    // A BGPPeer for every node, applied now: the session comes up and BIRD learns the block.
    cluster.ctl.apply(
        &dir,
        "peer.yaml",
        &format!(
            "apiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: router}}\n\
             spec: {{peerIP: {router_ip}, asNumber: 65020}}\n"
        ),
    );
    let status = node.wait_established(1, TIMEOUT);
    assert_eq!(status.sessions[0].kind, PeerKind::Global);
    assert_eq!(status.sessions[0].name, "router");
    bird.wait_established("node0", TIMEOUT);
    wait_until(TIMEOUT, "BIRD to learn the node's block", || {
        let routes = bird.routes_for(&block);
        if routes.iter().any(|r| r.next_hops == [node_ip.to_string()]) {
            Ok(())
        } else {
            Err(format!("{routes:?}"))
        }
    });

    // The BGP configuration changes: a service CIDR with a community reaches the router.
    cluster.ctl.apply(
        &dir,
        "bgp.yaml",
        &bgp_configuration(", serviceClusterIPs: [10.96.0.0/12], communities: [\"65000:100\"]"),
    );
    let detail = wait_until(TIMEOUT, "BIRD to learn the service CIDR", || {
        let out = bird
            .birdc("show route 10.96.0.0/12 all")
            .map_err(|e| e.to_string())?;
        if out.contains("10.96.0.0/12") && out.contains(&node_ip.to_string()) {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert!(detail.contains("(65000,100)"), "{detail}");

    // The BGPPeer goes: so does the session, at both ends.
    cluster.ctl.ok(&["delete", "bgppeer", "router"]);
    wait_until(TIMEOUT, "the node to drop the session", || {
        let s = node.try_status()?;
        if s.sessions.is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", s.sessions))
        }
    });
    wait_until(TIMEOUT, "BIRD to see the session down", || {
        match bird.protocol("node0") {
            Some(p) if !p.info.starts_with("Established") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(node.pid(), pid, "the node was not restarted");
}
