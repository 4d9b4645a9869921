//! The API's pure parts: the route table built from a real decision (every kind), and the
//! wire form of requests and replies.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use margay_vxlan::Mac;

use super::*;
use crate::routing::{
    BgpPath, DecisionInput, Encapsulation, LocalNode, Pool, RemoteNode, VtepAddr, decide,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

fn node(name: &str, underlay: &str, block: &str, tunnel: &str) -> RemoteNode {
    RemoteNode {
        name: name.into(),
        underlay: ip(underlay),
        vtep: Some(VtepAddr {
            tunnel_ip: ip(tunnel),
            mac: Mac::from_node_name(name),
        }),
        blocks: vec![net(block)],
    }
}

fn path(next_hop: &str) -> BgpPath {
    BgpPath {
        next_hop: ip(next_hop),
        connected: true,
        peer: ip(next_hop),
    }
}

/// node-a (172.18.1.10/24) in an `auto` pool: node-b on its subnet (direct), node-c behind two
/// ToRs with connected BGP paths (native, ECMP), node-d elsewhere without a path (VXLAN); and a
/// `none` pool whose only block has no BGP path (unrouted).
fn five_kinds() -> DecisionInput {
    DecisionInput {
        local: LocalNode {
            name: "node-a".into(),
            underlay: net("172.18.1.10/24"),
            blocks: vec![net("10.244.0.0/26")],
        },
        pools: vec![
            Pool {
                cidr: net("10.244.0.0/16"),
                encapsulation: Encapsulation::Auto,
            },
            Pool {
                cidr: net("10.250.0.0/16"),
                encapsulation: Encapsulation::None,
            },
        ],
        nodes: vec![
            node("node-b", "172.18.1.11", "10.244.1.0/26", "10.244.1.0"),
            node("node-c", "172.18.2.10", "10.244.2.0/26", "10.244.2.0"),
            node("node-d", "172.18.3.10", "10.244.3.0/26", "10.244.3.0"),
            node("node-e", "172.18.4.10", "10.250.0.0/26", "10.250.0.0"),
        ],
        bgp: BTreeMap::from([(
            net("10.244.2.0/26"),
            vec![path("172.18.1.2"), path("172.18.1.1")],
        )]),
    }
}

#[test]
fn routes_of_a_decision_cover_every_kind_sorted_with_reasons() {
    let routes = RouteStatus::from_decision(&decide(&five_kinds()), "eth0");
    let row = |dst: &str, kind, via: &str, reason: &str| RouteStatus {
        dst: net(dst),
        kind,
        via: via.into(),
        reason: reason.into(),
    };
    assert_eq!(
        routes,
        vec![
            row("10.244.0.0/26", RouteKind::Own, "blackhole", "own block"),
            row(
                "10.244.1.0/26",
                RouteKind::Direct,
                "172.18.1.11 dev eth0",
                "same subnet"
            ),
            row(
                "10.244.2.0/26",
                RouteKind::Native,
                "172.18.1.1, 172.18.1.2",
                "native via ToR 172.18.1.1, 172.18.1.2"
            ),
            row(
                "10.244.3.0/26",
                RouteKind::Vxlan,
                "10.244.3.0 dev vxlan.margay onlink",
                "vxlan: no BGP path with a connected next hop"
            ),
            row("10.250.0.0/26", RouteKind::None, "", "none: no BGP path"),
        ]
    );
}

#[test]
fn empty_decision_has_no_routes() {
    assert!(RouteStatus::from_decision(&Default::default(), "eth0").is_empty());
}

#[test]
fn requests_are_one_tagged_json_object() {
    assert_eq!(
        serde_json::to_string(&Request::Status).unwrap(),
        r#"{"request":"status"}"#
    );
    assert_eq!(
        serde_json::from_str::<Request>(r#"{"request":"routes"}"#).unwrap(),
        Request::Routes
    );
    let err = serde_json::from_str::<Request>(r#"{"request":"trace"}"#).unwrap_err();
    assert!(err.to_string().contains("trace"), "{err}");
}

#[test]
fn replies_round_trip_with_kinds_in_lowercase() {
    let reply = Reply::Routes(vec![RouteStatus {
        dst: net("10.244.3.0/26"),
        kind: RouteKind::Vxlan,
        via: "10.244.3.0 dev vxlan.margay onlink".into(),
        reason: "vxlan: pool encapsulation is vxlan".into(),
    }]);
    let line = serde_json::to_string(&reply).unwrap();
    assert!(
        line.starts_with(r#"{"reply":"routes","body":[{"dst":"10.244.3.0/26","kind":"vxlan""#),
        "{line}"
    );
    assert_eq!(serde_json::from_str::<Reply>(&line).unwrap(), reply);
    let error = Reply::Error {
        message: "not ready".into(),
    };
    assert_eq!(
        serde_json::to_string(&error).unwrap(),
        r#"{"reply":"error","body":{"message":"not ready"}}"#
    );
}

#[test]
fn since_is_hours_minutes_seconds_ago_with_days_past_one() {
    let now = 1_764_150_000;
    assert_eq!(render::format_since(now - 5, now), "00:00:05");
    assert_eq!(render::format_since(now - 3723, now), "01:02:03");
    assert_eq!(
        render::format_since(now - 2 * 86_400 - 3723, now),
        "2d01:02:03"
    );
    assert_eq!(render::format_since(now + 10, now), "00:00:00");
    assert_eq!(render::format_since(0, now), "-");
}

fn session(peer: &str, kind: crate::peering::PeerKind, name: &str) -> SessionStatus {
    SessionStatus {
        peer: ip(peer),
        kind,
        name: name.into(),
        asn: 64512,
        state: "Established".into(),
        since_unix: 1_764_150_000 - 312,
        prefixes_received: 1,
        prefixes_sent: 2,
        last_error: None,
    }
}

#[test]
fn status_table_shows_identity_sessions_and_problems() {
    use crate::peering::PeerKind;
    let mut tor = session("172.18.1.1", PeerKind::Global, "tor-r1");
    tor.asn = 65001;
    tor.state = "Active".into();
    tor.prefixes_received = 0;
    tor.last_error = Some("connection refused".into());
    let status = NodeStatus {
        node: "node-a".into(),
        underlay: net("172.18.1.10/24"),
        asn: 64512,
        router_id: "172.18.1.10".parse().unwrap(),
        route_reflector_cluster_id: Some("1.0.0.1".parse().unwrap()),
        blocks: vec![net("10.244.0.0/26"), net("10.244.0.64/26")],
        vtep: Some(VtepStatus {
            device: "vxlan.margay".into(),
            tunnel_address: ip("10.244.0.0"),
            mac: "66:1a:2b:3c:4d:5e".into(),
            mtu: 1450,
        }),
        sessions: vec![session("172.18.1.11", PeerKind::Mesh, "node-b"), tor],
        problems: vec!["BGPPeer tor-r1: connection refused".into()],
        converged: true,
    };
    let expected = "\
node:           node-a
underlay:       172.18.1.10/24
AS:             64512
router id:      172.18.1.10
RR cluster id:  1.0.0.1
blocks:         10.244.0.0/26, 10.244.0.64/26
VTEP:           vxlan.margay 10.244.0.0 66:1a:2b:3c:4d:5e mtu 1450

PEER         TYPE    NAME    AS     STATE        SINCE     RECEIVED  SENT  LAST ERROR
172.18.1.11  mesh    node-b  64512  Established  00:05:12  1         2     -
172.18.1.1   global  tor-r1  65001  Active       00:05:12  0         2     connection refused

problems:
  - BGPPeer tor-r1: connection refused
";
    assert_eq!(render::status_table(&status, 1_764_150_000), expected);
}

#[test]
fn status_table_of_a_lone_node_says_so() {
    let status = NodeStatus {
        node: "solo".into(),
        underlay: net("192.0.2.10/24"),
        asn: 64512,
        router_id: "192.0.2.10".parse().unwrap(),
        route_reflector_cluster_id: None,
        blocks: vec![],
        vtep: None,
        sessions: vec![],
        problems: vec![],
        converged: true,
    };
    let text = render::status_table(&status, 0);
    assert!(
        text.contains("blocks:     none\n")
            && text.contains("VTEP:       none\n")
            && text.ends_with("\nno BGP sessions\n")
            && !text.contains("problems"),
        "{text}"
    );
}

#[test]
fn routes_table_lines_up_every_kind() {
    let routes = RouteStatus::from_decision(&decide(&five_kinds()), "eth0");
    let expected = "\
DESTINATION    KIND    VIA                                 REASON
10.244.0.0/26  own     blackhole                           own block
10.244.1.0/26  direct  172.18.1.11 dev eth0                same subnet
10.244.2.0/26  native  172.18.1.1, 172.18.1.2              native via ToR 172.18.1.1, 172.18.1.2
10.244.3.0/26  vxlan   10.244.3.0 dev vxlan.margay onlink  vxlan: no BGP path with a connected next hop
10.250.0.0/26  none    -                                   none: no BGP path
";
    assert_eq!(render::routes_table(&routes), expected);
    assert_eq!(render::routes_table(&[]), "no blocks\n");
}
