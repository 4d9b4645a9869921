//! Underlay detection against the real kernel, in a namespace: each method finds the uplink
//! address with its prefix length; a host address is refused by name.

use margay_daemon::underlay::{DetectionMethod, Family, UnderlayError, netlink::detect};
use margay_tests::{Lan, Netns};

fn detect_in(ns: &Netns, method: &str, family: Family) -> Result<String, UnderlayError> {
    let method: DetectionMethod = method.parse().unwrap();
    ns.block_on(async move {
        detect(&method, family)
            .await
            .map(|u| format!("{} {}", u.interface, u.address))
    })
}

#[test]
fn every_method_finds_the_uplink_with_its_prefix_length() {
    let lan = Lan::new("udet", 2, "172.18.1.0/24");
    let node = &lan.hosts[0];
    node.addr_add("eth0", "fd00:18:1::10/64");
    // A Pod veth with a /32 on the host side, as CNI plugins leave them: never the underlay.
    let pod = Netns::new("udetpod");
    node.veth_to(&pod, "veth1234", "eth0");
    node.addr_add("veth1234", "169.254.1.1/32");

    assert_eq!(
        detect_in(node, "first-found", Family::V4).unwrap(),
        "eth0 172.18.1.10/24"
    );
    assert_eq!(
        detect_in(node, "first-found", Family::V6).unwrap(),
        "eth0 fd00:18:1::10/64"
    );
    assert_eq!(
        detect_in(node, "interface=eth.*", Family::V4).unwrap(),
        "eth0 172.18.1.10/24"
    );
    assert_eq!(
        detect_in(node, "cidr=172.18.0.0/16", Family::V4).unwrap(),
        "eth0 172.18.1.10/24"
    );
    assert_eq!(
        detect_in(node, "can-reach=172.18.1.11", Family::V4).unwrap(),
        "eth0 172.18.1.10/24"
    );
}

#[test]
fn a_host_address_is_refused_and_an_unreachable_target_named() {
    let lan = Lan::new("uhost", 1, "172.18.2.0/24");
    let node = &lan.hosts[0];
    let other = Netns::new("uhostpeer");
    node.veth_to(&other, "eth1", "eth0");
    node.addr_add("eth1", "10.99.0.5/32");

    let err = detect_in(node, "interface=eth1", Family::V4).unwrap_err();
    assert!(
        matches!(err, UnderlayError::HostPrefix { len: 32, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("10.99.0.5/32 on eth1"), "{err}");

    let err = detect_in(node, "can-reach=192.0.2.1", Family::V4).unwrap_err();
    assert!(matches!(err, UnderlayError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("can-reach=192.0.2.1"), "{err}");
}
