//! The FIB writer against the kernel, inside a namespace: protocol 77 routes of every shape,
//! mark-and-sweep at start (adopt, sweep), other protocols' routes left alone, drift repair by
//! notification and by resync, a restart that adopts instead of flushing, O(1) updates.

use std::net::IpAddr;
use std::time::Duration;

use ipnetwork::IpNetwork;
use margay_daemon::fib::{
    FibChange, FibConfig, FibRoute, FibWriter, NextHop, PROTOCOL, RT_PROTOS_DIR,
};
use margay_tests::{Netns, TestDir, wait_until};

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

fn hop(gw: &str, oif: Option<u32>, onlink: bool) -> NextHop {
    NextHop {
        gateway: gw.parse::<IpAddr>().unwrap(),
        oif,
        onlink,
    }
}

fn ifindex(ns: &Netns, ifname: &str) -> u32 {
    let out = ns.ip(&format!("-o link show {ifname}"));
    out.split(':')
        .next()
        .and_then(|i| i.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index in {out:?}"))
}

/// A host with `eth0` 10.0.0.1/24 towards a neighbour namespace (10.0.0.2 and .3).
fn host(tag: &str) -> (Netns, Netns) {
    let host = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    host.veth_to(&peer, "eth0", "eth0");
    host.addr_add("eth0", "10.0.0.1/24");
    peer.addr_add("eth0", "10.0.0.2/24");
    peer.addr_add("eth0", "10.0.0.3/24");
    (host, peer)
}

fn config() -> FibConfig {
    FibConfig {
        resync_interval: Duration::from_secs(3600),
        ..FibConfig::default()
    }
}

fn margay_routes(ns: &Netns) -> String {
    ns.routes(&format!("proto {PROTOCOL}"))
}

#[test]
fn writer_adopts_sweeps_repairs_and_leaves_other_protocols_alone() {
    let _dir = TestDir::new("fib-writer");
    let (ns, _peer) = host("fibw");
    let eth0 = ifindex(&ns, "eth0");
    // Before the writer starts: one route of ours it will want (adopted), one stale (swept),
    // one of another protocol at a key it will want (a conflict), one unrelated static route.
    ns.route_add("10.244.1.0/26 via 10.0.0.2 proto 77");
    ns.route_add("10.244.99.0/26 via 10.0.0.2 proto 77");
    ns.route_add("10.244.50.0/26 via 10.0.0.3 proto static");
    ns.route_add("10.9.0.0/24 via 10.0.0.3 proto static");

    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let writer = rt.block_on(FibWriter::start(config())).expect("writer starts");
        let fib = writer.handle.clone();
        assert_eq!(rt.block_on(fib.stats()).unwrap().installed, 2, "both proto-77 routes adopted at start");

        let desired = vec![
            FibRoute::via(net("10.244.1.0/26"), vec![hop("10.0.0.2", None, false)]),
            FibRoute::blackhole(net("10.244.0.0/26")),
            FibRoute::via(net("10.244.2.0/26"), vec![hop("10.0.0.2", Some(eth0), false), hop("10.0.0.3", Some(eth0), false)]),
            FibRoute::via(net("10.244.3.0/26"), vec![hop("192.168.77.1", Some(eth0), true)]),
            FibRoute::via(net("10.244.50.0/26"), vec![hop("10.0.0.2", None, false)]),
        ];
        let report = rt.block_on(fib.set_all(desired.clone())).unwrap();
        assert_eq!((report.created, report.replaced, report.deleted, report.unchanged), (3, 0, 1, 1), "{report:?}");
        assert_eq!(report.conflicts, [net("10.244.50.0/26")]);
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!(report.sends, 1, "one batch");

        let routes = margay_routes(&ns);
        for want in [
            "blackhole 10.244.0.0/26",
            "10.244.1.0/26 via 10.0.0.2 dev eth0",
            "10.244.2.0/26 \n\tnexthop via 10.0.0.2 dev eth0 weight 1 \n\tnexthop via 10.0.0.3 dev eth0 weight 1",
            "10.244.3.0/26 via 192.168.77.1 dev eth0 onlink",
        ] {
            assert!(routes.contains(want), "missing {want:?} in:\n{routes}");
        }
        assert!(!routes.contains("10.244.99.0"), "stale route swept:\n{routes}");
        let statics = ns.routes("proto static");
        assert!(statics.contains("10.244.50.0/26 via 10.0.0.3") && statics.contains("10.9.0.0/24 via 10.0.0.3"), "{statics}");

        // Deleted by hand: the notification brings it back.
        ns.ip("route del 10.244.1.0/26");
        wait_until(Duration::from_secs(5), "deleted route restored", || {
            let r = margay_routes(&ns);
            if r.contains("10.244.1.0/26 via 10.0.0.2") { Ok(()) } else { Err(r) }
        });
        // Changed by hand under our protocol: corrected.
        ns.ip("route replace 10.244.3.0/26 via 10.0.0.3 dev eth0 proto 77");
        wait_until(Duration::from_secs(5), "changed route corrected", || {
            let r = margay_routes(&ns);
            if r.contains("10.244.3.0/26 via 192.168.77.1 dev eth0 onlink") { Ok(()) } else { Err(r) }
        });
        assert!(rt.block_on(fib.stats()).unwrap().repairs >= 2);

        // The foreign route leaves: ours takes the key.
        ns.ip("route del 10.244.50.0/26 proto static");
        wait_until(Duration::from_secs(5), "route placed once the key is free", || {
            let r = margay_routes(&ns);
            if r.contains("10.244.50.0/26 via 10.0.0.2") { Ok(()) } else { Err(r) }
        });

        // A no-op resync sends nothing; an update of one route sends one message + barrier.
        let resync = rt.block_on(fib.resync()).unwrap();
        assert_eq!((resync.messages, resync.unchanged), (0, 5), "{resync:?}");
        let one = rt.block_on(fib.update(vec![FibChange::Upsert(FibRoute::via(net("10.244.1.0/26"), vec![hop("10.0.0.3", None, false)]))])).unwrap();
        assert_eq!((one.replaced, one.messages), (1, 2), "{one:?}");
        let gone = rt.block_on(fib.update(vec![FibChange::Remove(net("10.244.0.0/26"))])).unwrap();
        assert_eq!((gone.deleted, gone.messages), (1, 2), "{gone:?}");

        // Restart: the new writer adopts everything; the same set costs no message.
        drop(fib);
        let FibWriter { handle, task } = writer;
        drop(handle);
        rt.block_on(task).unwrap().unwrap();
        let writer = rt.block_on(FibWriter::start(config())).unwrap();
        let mut desired = desired;
        desired[0] = FibRoute::via(net("10.244.1.0/26"), vec![hop("10.0.0.3", None, false)]);
        desired.remove(1);
        let again = rt.block_on(writer.handle.set_all(desired)).unwrap();
        assert_eq!((again.messages, again.unchanged, again.deleted), (0, 4, 0), "{again:?}");
    });
}

#[test]
fn protocol_name_is_registered_for_iproute2() {
    let (ns, _peer) = host("fibn");
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cfg = FibConfig {
            register_in: Some(RT_PROTOS_DIR.into()),
            ..config()
        };
        let writer = rt.block_on(FibWriter::start(cfg)).unwrap();
        rt.block_on(
            writer
                .handle
                .set_all(vec![FibRoute::blackhole(net("10.244.0.0/26"))]),
        )
        .unwrap();
    });
    let shown = ns.routes("proto margay");
    assert!(shown.contains("blackhole 10.244.0.0/26"), "{shown}");
    let named = ns.routes("");
    assert!(
        named.contains("blackhole 10.244.0.0/26 proto margay"),
        "{named}"
    );
}

#[test]
fn kernel_refusal_is_reported_per_route_and_the_rest_lands() {
    let (ns, _peer) = host("fibe");
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let writer = rt.block_on(FibWriter::start(config())).unwrap();
        // 192.168.5.1 is not on any connected subnet and not onlink: the kernel refuses it.
        let routes = vec![
            FibRoute::blackhole(net("10.244.0.0/26")),
            FibRoute::via(net("10.244.1.0/26"), vec![hop("192.168.5.1", None, false)]),
            FibRoute::via(net("10.244.2.0/26"), vec![hop("10.0.0.2", None, false)]),
        ];
        let report = rt.block_on(writer.handle.set_all(routes)).unwrap();
        assert_eq!(report.created, 2, "{report:?}");
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert_eq!(report.failed[0].dst, net("10.244.1.0/26"));
        assert_eq!(report.failed[0].op, "create");
    });
    let routes = margay_routes(&ns);
    assert!(
        routes.contains("10.244.2.0/26 via 10.0.0.2") && !routes.contains("10.244.1.0/26"),
        "{routes}"
    );
}

#[test]
fn ipv6_routes_ecmp_and_blackhole_are_written_and_repaired() {
    let (ns, peer) = host("fib6");
    ns.addr_add("eth0", "fd00:1::1/64");
    peer.addr_add("eth0", "fd00:1::2/64");
    peer.addr_add("eth0", "fd00:1::3/64");
    let dst: IpNetwork = net("fd00:244:0:2::/64");
    let routes = vec![
        FibRoute::blackhole(net("fd00:244:0:1::/64")),
        FibRoute::via(
            dst,
            vec![hop("fd00:1::2", None, false), hop("fd00:1::3", None, false)],
        ),
    ];
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let writer = rt.block_on(FibWriter::start(config())).unwrap();
        let report = rt.block_on(writer.handle.set_all(routes.clone())).unwrap();
        assert_eq!((report.created, report.failed.len()), (2, 0), "{report:?}");
        let shown = ns.ip("-6 route show proto 77");
        assert!(shown.contains("blackhole fd00:244:0:1::/64"), "{shown}");
        assert!(
            shown.contains("nexthop via fd00:1::2 dev eth0")
                && shown.contains("nexthop via fd00:1::3 dev eth0"),
            "{shown}"
        );
        let resync = rt.block_on(writer.handle.resync()).unwrap();
        assert_eq!(
            (resync.messages, resync.unchanged),
            (0, 2),
            "the kernel's IPv6 routes read back equal: {resync:?}"
        );
        ns.ip("-6 route del fd00:244:0:1::/64");
        wait_until(Duration::from_secs(5), "IPv6 route restored", || {
            let shown = ns.ip("-6 route show proto 77");
            if shown.contains("blackhole fd00:244:0:1::/64") {
                Ok(())
            } else {
                Err(shown)
            }
        });
    });
}

#[test]
fn routes_flushed_with_a_link_flap_come_back() {
    let (ns, _peer) = host("fibl");
    ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let writer = rt.block_on(FibWriter::start(config())).unwrap();
        let routes = vec![
            FibRoute::via(net("10.244.1.0/26"), vec![hop("10.0.0.2", None, false)]),
            FibRoute::via(net("10.244.2.0/26"), vec![hop("10.0.0.3", None, false)]),
        ];
        let report = rt.block_on(writer.handle.set_all(routes)).unwrap();
        assert_eq!(report.created, 2, "{report:?}");
        // IPv4 flushes the routes of a device that goes down, without RTM_DELROUTE.
        ns.ip("link set eth0 down");
        wait_until(
            Duration::from_secs(5),
            "routes flushed by the kernel",
            || {
                let r = margay_routes(&ns);
                if r.is_empty() { Ok(()) } else { Err(r) }
            },
        );
        ns.ip("link set eth0 up");
        wait_until(
            Duration::from_secs(10),
            "routes back after the link came up",
            || {
                let r = margay_routes(&ns);
                if r.contains("10.244.1.0/26 via 10.0.0.2")
                    && r.contains("10.244.2.0/26 via 10.0.0.3")
                {
                    Ok(())
                } else {
                    Err(r)
                }
            },
        );
    });
}
