//! The VTEP against the kernel, inside a namespace: `vxlan.margay` created with the design's
//! parameters, validated, fixed in place or recreated; neighbour and FDB entries per remote
//! VTEP written, replaced when a node moves, removed when it leaves, and restored with the
//! device when someone deletes it.

use std::net::IpAddr;

use margay_tests::Netns;
use margay_vxlan::{DeviceAction, Mac, RemoteVtep, Vtep, VtepConfig};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn peer(node: &str, underlay: &str, tunnel: &str) -> RemoteVtep {
    RemoteVtep {
        node: node.into(),
        underlay: ip(underlay),
        tunnel_ip: ip(tunnel),
        mac: Mac::from_node_name(node),
    }
}

fn host(tag: &str) -> (Netns, Netns) {
    let host = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    host.veth_to(&peer, "eth0", "eth0");
    host.addr_add("eth0", "10.0.0.1/24");
    (host, peer)
}

fn config(tx_off: bool) -> VtepConfig {
    let mut c = VtepConfig::for_node("node-a", ip("10.0.0.1"));
    c.tunnel_address = Some(ip("10.244.0.0"));
    c.tx_checksum_offload_off = tx_off;
    c
}

/// Runs `f` with an rtnetlink handle inside `ns`.
fn with_handle<R: Send>(ns: &Netns, f: impl AsyncFnOnce(margay_vxlan::Handle) -> R + Send) -> R {
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { f(margay_vxlan::connect().unwrap()).await })
    })
}

#[test]
fn device_is_created_with_the_design_parameters_and_validated() {
    let (ns, _p) = host("vtepd");
    let mac = Mac::from_node_name("node-a");
    let action = with_handle(&ns, async |h| {
        Vtep::ensure(h, config(true)).await.unwrap().1
    });
    assert_eq!(action, DeviceAction::Created);
    let link = ns.ip("-d link show vxlan.margay");
    for want in [
        "mtu 1450",
        &format!("link/ether {mac}"),
        "vxlan id 4096 local 10.0.0.1 dev eth0",
        "dstport 4789",
        "nolearning",
    ] {
        assert!(link.contains(want), "missing {want:?} in {link}");
    }
    assert!(
        ns.ip("addr show dev vxlan.margay")
            .contains("inet 10.244.0.0/32")
    );
    let rp = ns.exec(&["cat", "/proc/sys/net/ipv4/conf/vxlan.margay/rp_filter"]);
    assert_eq!(rp.trim(), "2");
    let features = ns.exec(&["ethtool", "-k", "vxlan.margay"]);
    assert!(features.contains("tx-checksumming: off"), "{features}");

    assert_eq!(
        with_handle(&ns, async |h| Vtep::ensure(h, config(true))
            .await
            .unwrap()
            .1),
        DeviceAction::Unchanged
    );

    // MTU changed by hand: set back in place (same index).
    let index_before = ns.ip("-o link show vxlan.margay");
    ns.ip("link set vxlan.margay mtu 1300");
    assert_eq!(
        with_handle(&ns, async |h| Vtep::ensure(h, config(false))
            .await
            .unwrap()
            .1),
        DeviceAction::Updated
    );
    assert!(ns.ip("link show vxlan.margay").contains("mtu 1450"));
    assert_eq!(
        index_before.split(':').next(),
        ns.ip("-o link show vxlan.margay").split(':').next()
    );

    // Wrong identity (another VNI, learning on): recreated.
    ns.ip("link del vxlan.margay");
    ns.ip("link add vxlan.margay type vxlan id 100 local 10.0.0.1 dev eth0 dstport 4789");
    let action = with_handle(&ns, async |h| {
        Vtep::ensure(h, config(false)).await.unwrap().1
    });
    let DeviceAction::Recreated(why) = action else {
        panic!("expected a recreate, got {action:?}")
    };
    assert!(
        why.iter().any(|w| w.starts_with("vni Some(100)")),
        "{why:?}"
    );
    assert!(ns.ip("-d link show vxlan.margay").contains("vxlan id 4096"));
}

#[test]
fn entries_follow_the_peers_and_come_back_with_a_deleted_device() {
    let (ns, _p) = host("vtepe");
    let (b, c) = (
        peer("node-b", "10.0.0.2", "10.244.1.0"),
        peer("node-c", "10.0.5.3", "10.244.2.0"),
    );
    let fdb = |ns: &Netns| ns.exec(&["bridge", "fdb", "show", "dev", "vxlan.margay"]);
    let neigh = |ns: &Netns| ns.ip("neigh show dev vxlan.margay");

    let report = with_handle(&ns, async |h| {
        let (mut vtep, _) = Vtep::ensure(h, config(false)).await.unwrap();
        vtep.reconcile(&[b.clone(), c.clone()]).await.unwrap()
    });
    assert_eq!(
        (report.entries.neigh_set.len(), report.entries.fdb_set.len()),
        (2, 2)
    );
    let (n, f) = (neigh(&ns), fdb(&ns));
    assert!(
        n.contains(&format!("10.244.1.0 lladdr {} PERMANENT", b.mac)),
        "{n}"
    );
    assert!(
        n.contains(&format!("10.244.2.0 lladdr {} PERMANENT", c.mac)),
        "{n}"
    );
    assert!(
        f.contains(&format!("{} dst 10.0.0.2 self permanent", b.mac)),
        "{f}"
    );
    assert!(
        f.contains(&format!("{} dst 10.0.5.3 self permanent", c.mac)),
        "{f}"
    );

    // node-b moves, node-c leaves; a second pass has nothing to do.
    let moved = peer("node-b", "10.0.0.9", "10.244.1.0");
    let (report, again) = with_handle(&ns, async |h| {
        let (mut vtep, _) = Vtep::ensure(h, config(false)).await.unwrap();
        let r = vtep.reconcile(std::slice::from_ref(&moved)).await.unwrap();
        (
            r,
            vtep.reconcile(std::slice::from_ref(&moved)).await.unwrap(),
        )
    });
    assert_eq!(report.device, DeviceAction::Unchanged);
    assert!(again.entries.is_empty(), "{again:?}");
    let (n, f) = (neigh(&ns), fdb(&ns));
    assert!(
        f.contains(&format!("{} dst 10.0.0.9 self permanent", b.mac)),
        "{f}"
    );
    assert!(
        !f.contains("10.0.0.2") && !f.contains("10.0.5.3"),
        "old entries removed: {f}"
    );
    assert!(!n.contains("10.244.2.0"), "{n}");

    // Someone deletes the device: the next reconcile recreates it with its entries.
    let report = with_handle(&ns, async |h| {
        let (mut vtep, _) = Vtep::ensure(h, config(false)).await.unwrap();
        ns.ip("link del vxlan.margay");
        vtep.reconcile(std::slice::from_ref(&moved)).await.unwrap()
    });
    assert_eq!(report.device, DeviceAction::Created);
    assert_eq!(
        (report.entries.neigh_set.len(), report.entries.fdb_set.len()),
        (1, 1),
        "{report:?}"
    );
    assert!(fdb(&ns).contains(&format!("{} dst 10.0.0.9 self permanent", b.mac)));
    assert!(neigh(&ns).contains(&format!("10.244.1.0 lladdr {} PERMANENT", b.mac)));
}

#[test]
fn missing_uplink_is_a_clear_error() {
    let (ns, _p) = host("vtepu");
    let err = with_handle(&ns, async |h| {
        Vtep::ensure(h, VtepConfig::for_node("a", ip("10.9.9.9")))
            .await
            .unwrap_err()
    });
    assert_eq!(
        err.to_string(),
        "no interface holds the local address 10.9.9.9 (the VTEP's uplink is the interface that does)"
    );
}
