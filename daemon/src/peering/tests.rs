//! Table tests of the peering rules (DESIGN §5, RFC 4456), with resources written as users
//! apply them and parsed by `resources::parse_yaml`.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use margay_bgp::policy::MaxPrefix;
use margay_bgp::transport::Md5Key;
use margay_bgp::wire::AfiSafi;

use super::*;
use crate::resources::{Resource, parse_yaml};

/// The resources of one test, parsed.
struct Cluster {
    nodes: Vec<Node>,
    peers: Vec<BgpPeer>,
    configs: Vec<BgpConfiguration>,
}

impl Cluster {
    fn parse(yaml: &str) -> Self {
        let resources = parse_yaml(yaml).unwrap_or_else(|e| panic!("test YAML: {e:?}"));
        let mut cluster = Cluster {
            nodes: Vec::new(),
            peers: Vec::new(),
            configs: Vec::new(),
        };
        for r in resources {
            match r {
                Resource::Node(n) => cluster.nodes.push(n),
                Resource::BgpPeer(p) => cluster.peers.push(p),
                Resource::BgpConfiguration(c) => cluster.configs.push(c),
                other => panic!("unexpected resource in test YAML: {}", other.id()),
            }
        }
        cluster
    }

    fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name.as_str() == name)
            .unwrap_or_else(|| panic!("no Node/{name} in the test YAML"))
    }

    /// The plan of node `name`, with key files from `secrets` (path → content).
    fn plan_with(&self, name: &str, secrets: &BTreeMap<PathBuf, String>) -> PeeringPlan {
        let read = |path: &Path| {
            secrets
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
        };
        plan(
            self.node(name),
            &self.nodes,
            &self.peers,
            &self.configs,
            &read,
        )
    }

    fn plan(&self, name: &str) -> PeeringPlan {
        self.plan_with(name, &BTreeMap::new())
    }
}

/// A node document.
fn node(name: &str, bgp: &str, labels: &str) -> String {
    format!(
        "---\napiVersion: margay.io/v1\nkind: Node\nmetadata: {{name: {name}}}\nspec: {{bgp: {{{bgp}}}, labels: {{{labels}}}}}\n"
    )
}

/// A BGPPeer document.
fn peer(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec: {{{spec}}}\n"
    )
}

/// A BGPConfiguration document.
fn config(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {{name: {name}}}\nspec: {{{spec}}}\n"
    )
}

/// One line per session: `address:port kind name as<remote AS>`, then `passive` and
/// `rr-client` when set.
fn summary(plan: &PeeringPlan) -> Vec<String> {
    plan.peers
        .iter()
        .map(|p| {
            let n = &p.neighbor;
            let mut line = format!(
                "{}:{} {} {} as{}",
                n.address, n.port, p.kind, p.name, n.remote_asn
            );
            if n.passive {
                line.push_str(" passive");
            }
            if n.route_reflector_client {
                line.push_str(" rr-client");
            }
            line
        })
        .collect()
}

/// Three nodes on one LAN, plain labels.
fn three_nodes() -> String {
    [
        node("node-a", "ipv4Address: 10.0.0.1/24", "rack: r1"),
        node("node-b", "ipv4Address: 10.0.0.2/24", "rack: r1"),
        node("node-c", "ipv4Address: 10.0.0.3/24", "rack: r2"),
    ]
    .concat()
}

/// A route reflector `rr-1` (and for two-reflector cases `rr-2`) with clients a, b.
fn reflectors(second_reflector: bool) -> String {
    let mut yaml = [
        node(
            "rr-1",
            "ipv4Address: 10.0.0.10/24, routeReflectorClusterID: 224.0.0.1",
            "role: rr",
        ),
        node("node-a", "ipv4Address: 10.0.0.1/24", ""),
        node("node-b", "ipv4Address: 10.0.0.20/24", ""),
        peer("peer-with-rr", "peerSelector: \"role == 'rr'\""),
        config("default", "nodeMesh: true"),
    ]
    .concat();
    if second_reflector {
        yaml += &node(
            "rr-2",
            "ipv4Address: 10.0.0.11/24, routeReflectorClusterID: 224.0.0.1",
            "role: rr",
        );
    }
    yaml
}

struct Row {
    rule: &'static str,
    yaml: String,
    local: &'static str,
    sessions: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            rule: "mesh: every other node, iBGP in the default AS; the lower address is passive (DESIGN §5)",
            yaml: three_nodes(),
            local: "node-b",
            sessions: &[
                "10.0.0.1:179 mesh node-a as64512",
                "10.0.0.3:179 mesh node-c as64512 passive",
            ],
        },
        Row {
            rule: "passive side: the lowest address waits for everyone",
            yaml: three_nodes(),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 mesh node-b as64512 passive",
                "10.0.0.3:179 mesh node-c as64512 passive",
            ],
        },
        Row {
            rule: "passive side: the highest address connects to everyone",
            yaml: three_nodes(),
            local: "node-c",
            sessions: &[
                "10.0.0.1:179 mesh node-a as64512",
                "10.0.0.2:179 mesh node-b as64512",
            ],
        },
        Row {
            rule: "mesh off: no node sessions",
            yaml: three_nodes() + &config("default", "nodeMesh: false"),
            local: "node-b",
            sessions: &[],
        },
        Row {
            rule: "mesh off for one node (node.<name>): nobody meshes with it",
            yaml: three_nodes() + &config("node.node-c", "nodeMesh: false"),
            local: "node-a",
            sessions: &["10.0.0.2:179 mesh node-b as64512 passive"],
        },
        Row {
            rule: "per-node ASN: the mesh is eBGP between racks, remote AS from the remote Node",
            yaml: [
                node("node-a", "ipv4Address: 10.0.0.1/24, asNumber: 65001", ""),
                node("node-b", "ipv4Address: 10.0.0.2/24, asNumber: 65002", ""),
                node("node-c", "ipv4Address: 10.0.0.3/24", ""),
                config("default", "asNumber: 65000"),
            ]
            .concat(),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 mesh node-b as65002 passive",
                "10.0.0.3:179 mesh node-c as65000 passive",
            ],
        },
        Row {
            rule: "remote port: the remote node's effective listenPort",
            yaml: three_nodes()
                + &config("default", "listenPort: 1179")
                + &config("node.node-c", "listenPort: 2179"),
            local: "node-b",
            sessions: &[
                "10.0.0.1:1179 mesh node-a as64512",
                "10.0.0.3:2179 mesh node-c as64512 passive",
            ],
        },
        Row {
            rule: "route reflector client: not meshed with the reflector, a reflector session instead (RFC 4456)",
            yaml: reflectors(false),
            local: "node-a",
            sessions: &[
                "10.0.0.10:179 reflector rr-1 as64512 passive",
                "10.0.0.20:179 mesh node-b as64512 passive",
            ],
        },
        Row {
            rule: "route reflector: out of the mesh; the peer selecting it makes every node its client (reverse direction)",
            yaml: reflectors(false),
            local: "rr-1",
            sessions: &[
                "10.0.0.1:179 client node-a as64512 rr-client",
                "10.0.0.20:179 client node-b as64512 passive rr-client",
            ],
        },
        Row {
            rule: "two route reflectors: a plain node session between them, not clients",
            yaml: reflectors(true),
            local: "rr-2",
            sessions: &[
                "10.0.0.1:179 client node-a as64512 rr-client",
                "10.0.0.10:179 node rr-1 as64512",
                "10.0.0.20:179 client node-b as64512 passive rr-client",
            ],
        },
        Row {
            rule: "peerSelector, direction 1: the peer applies to this node and selects the remote",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer(
                    "r1-to-r2",
                    "nodeSelector: \"rack == 'r1'\", peerSelector: \"rack == 'r2'\"",
                ),
            local: "node-a",
            sessions: &["10.0.0.3:179 node node-c as64512 passive"],
        },
        Row {
            rule: "peerSelector, direction 2: the peer applies to the remote and selects this node",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer(
                    "r1-to-r2",
                    "nodeSelector: \"rack == 'r1'\", peerSelector: \"rack == 'r2'\"",
                ),
            local: "node-c",
            sessions: &[
                "10.0.0.1:179 node node-a as64512",
                "10.0.0.2:179 node node-b as64512",
            ],
        },
        Row {
            rule: "peerSelector selecting this node itself: never a session with oneself",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer("all-nodes", "peerSelector: all()"),
            local: "node-c",
            sessions: &[
                "10.0.0.1:179 node node-a as64512",
                "10.0.0.2:179 node node-b as64512",
            ],
        },
        Row {
            rule: "BGPPeer global (peerIP, no node selection): every node, never passive",
            yaml: three_nodes() + &peer("tor", "peerIP: 172.18.0.1, asNumber: 65001"),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 mesh node-b as64512 passive",
                "10.0.0.3:179 mesh node-c as64512 passive",
                "172.18.0.1:179 global tor as65001",
            ],
        },
        Row {
            rule: "BGPPeer node: only the named node",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer("tor-a", "peerIP: 172.18.0.1, asNumber: 65001, node: node-a"),
            local: "node-a",
            sessions: &["172.18.0.1:179 node tor-a as65001"],
        },
        Row {
            rule: "BGPPeer node: other nodes do not peer",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer("tor-a", "peerIP: 172.18.0.1, asNumber: 65001, node: node-a"),
            local: "node-b",
            sessions: &[],
        },
        Row {
            rule: "BGPPeer nodeSelector: the selected nodes peer, kind node",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer(
                    "tor-r2",
                    "peerIP: 172.18.2.1, asNumber: 65002, nodeSelector: \"rack == 'r2'\"",
                )
                + &peer(
                    "tor-r1",
                    "peerIP: 172.18.1.1, asNumber: 65001, nodeSelector: \"rack == 'r1'\"",
                ),
            local: "node-c",
            sessions: &["172.18.2.1:179 node tor-r2 as65002"],
        },
        Row {
            rule: "BGPPeer over the mesh: the explicit peer wins for the same address and keeps its kind",
            yaml: three_nodes()
                + &peer(
                    "b-as-router",
                    "peerIP: 10.0.0.2, asNumber: 64512, node: node-a",
                ),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 node b-as-router as64512",
                "10.0.0.3:179 mesh node-c as64512 passive",
            ],
        },
        Row {
            rule: "peerSelector over the mesh: the selected node's session is a node session",
            yaml: three_nodes() + &peer("to-r2", "peerSelector: \"rack == 'r2'\""),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 mesh node-b as64512 passive",
                "10.0.0.3:179 node node-c as64512 passive",
            ],
        },
        Row {
            rule: "two BGPPeers giving the same node session alike: one session, no problem",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer(
                    "r1-to-r2",
                    "nodeSelector: \"rack == 'r1'\", peerSelector: \"rack == 'r2'\"",
                )
                + &peer(
                    "r2-to-r1",
                    "nodeSelector: \"rack == 'r2'\", peerSelector: \"rack == 'r1'\"",
                ),
            local: "node-c",
            sessions: &[
                "10.0.0.1:179 node node-a as64512",
                "10.0.0.2:179 node node-b as64512",
            ],
        },
        Row {
            rule: "node-specific BGPPeer over a global one with the same address",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer("a-tor-global", "peerIP: 172.18.0.1, asNumber: 65001")
                + &peer(
                    "z-tor-node-a",
                    "peerIP: 172.18.0.1, asNumber: 65009, node: node-a",
                ),
            local: "node-a",
            sessions: &["172.18.0.1:179 node z-tor-node-a as65009"],
        },
        Row {
            rule: "a global BGPPeer naming a node's own address: that node skips it",
            yaml: three_nodes()
                + &config("default", "nodeMesh: false")
                + &peer("to-node-a", "peerIP: 10.0.0.1, asNumber: 64512"),
            local: "node-a",
            sessions: &[],
        },
        Row {
            rule: "IPv6: dual-stack nodes share one IPv4 session; IPv6-only pairs use IPv6",
            yaml: [
                node(
                    "node-a",
                    "ipv4Address: 10.0.0.1/24, ipv6Address: fd00::1/64",
                    "",
                ),
                node(
                    "node-b",
                    "ipv4Address: 10.0.0.2/24, ipv6Address: fd00::2/64",
                    "",
                ),
                node("node-c", "ipv6Address: fd00::3/64", ""),
                node("node-d", "ipv4Address: 10.0.0.4/24", ""),
                peer("tor6", "peerIP: \"fd00::ff\", asNumber: 65001"),
            ]
            .concat(),
            local: "node-a",
            sessions: &[
                "10.0.0.2:179 mesh node-b as64512 passive",
                "10.0.0.4:179 mesh node-d as64512 passive",
                "fd00::3:179 mesh node-c as64512 passive",
                "fd00::ff:179 global tor6 as65001",
            ],
        },
    ]
}

#[test]
fn sessions_follow_the_peering_rules() {
    for row in rows() {
        let plan = Cluster::parse(&row.yaml).plan(row.local);
        assert_eq!(
            summary(&plan),
            row.sessions,
            "rule: {}\nlocal: {}\nplan: {plan:#?}",
            row.rule,
            row.local
        );
        assert!(
            plan.problems.is_empty(),
            "rule: {}: unexpected problems {:?}",
            row.rule,
            plan.problems
        );
    }
}

fn session<'a>(plan: &'a PeeringPlan, address: &str) -> &'a PlannedPeer {
    let address: IpAddr = address.parse().expect("test address");
    plan.peers
        .iter()
        .find(|p| p.neighbor.address == address)
        .unwrap_or_else(|| panic!("no session with {address} in {plan:#?}"))
}

#[test]
fn every_neighbor_is_sourced_from_the_underlay_with_our_as_and_both_families() {
    let cluster = Cluster::parse(
        &[
            node(
                "node-a",
                "ipv4Address: 10.0.0.1/24, ipv6Address: fd00::1/64, asNumber: 65010",
                "",
            ),
            node("node-b", "ipv4Address: 10.0.0.2/24", ""),
            node("node-c", "ipv6Address: fd00::3/64", ""),
            node("node-d", "ipv4Address: 10.0.0.4/24", ""),
        ]
        .concat(),
    );
    let plan = cluster.plan("node-a");
    // IPv4 session: IPv6 routes ride along with our IPv6 address as next hop (RFC 4760 §3).
    let v4 = &session(&plan, "10.0.0.2").neighbor;
    assert_eq!(v4.transport.local_addr, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(v4.families, [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
    assert_eq!(v4.next_hop_self_v6, Some("fd00::1".parse().unwrap()));
    assert_eq!(v4.next_hop_self_v4, None);
    assert_eq!(v4.local_asn, Some(65010));
    assert_eq!(v4.remote_asn, 64512);
    assert_eq!(v4.hold_time, DEFAULT_HOLD_TIME);
    assert_eq!(v4.transport.md5_key, None);
    assert_eq!(v4.max_prefix, None);
    // IPv6 session: the reverse.
    let v6 = &session(&plan, "fd00::3").neighbor;
    assert_eq!(v6.transport.local_addr, Some("fd00::1".parse().unwrap()));
    assert_eq!(v6.families, [AfiSafi::IPV6_UNICAST, AfiSafi::IPV4_UNICAST]);
    assert_eq!(v6.next_hop_self_v4, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(v6.next_hop_self_v6, None);
    // An IPv4-only node's session carries IPv4 only.
    let plan_d = cluster.plan("node-d");
    let d = &session(&plan_d, "10.0.0.1").neighbor;
    assert_eq!(d.families, [AfiSafi::IPV4_UNICAST]);
    assert_eq!(d.next_hop_self_v6, None);
    assert_eq!(d.local_asn, Some(64512));
    assert_eq!(d.remote_asn, 65010);
}

#[test]
fn bgp_peer_options_hold_time_md5_key_trimmed_and_prefix_limit() {
    let cluster = Cluster::parse(
        &[
            three_nodes(),
            peer(
                "tor",
                "peerIP: 172.18.0.1, asNumber: 65001, holdTime: 9, password: {secretFile: /etc/margay/tor.key}, maxPrefixes: 1000",
            ),
        ]
        .concat(),
    );
    let secrets = BTreeMap::from([(PathBuf::from("/etc/margay/tor.key"), "s3cret\n".to_owned())]);
    let plan = cluster.plan_with("node-b", &secrets);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let tor = &session(&plan, "172.18.0.1").neighbor;
    assert_eq!(tor.hold_time, 9);
    assert_eq!(tor.transport.md5_key, Some(Md5Key::new("s3cret").unwrap()));
    assert_eq!(
        tor.max_prefix,
        Some(
            MaxPrefix::new(
                1000,
                MAX_PREFIX_WARNING_PERCENT,
                Some(MAX_PREFIX_RESTART_AFTER)
            )
            .unwrap()
        )
    );
    assert!(!tor.passive);
    assert_eq!(tor.transport.local_addr, Some("10.0.0.2".parse().unwrap()));
    // The options belong to that peer only; mesh sessions keep the defaults.
    let mesh = &session(&plan, "10.0.0.1").neighbor;
    assert_eq!(mesh.hold_time, DEFAULT_HOLD_TIME);
    assert_eq!(mesh.transport.md5_key, None);
}

#[test]
fn peer_selector_options_apply_in_both_directions() {
    let yaml = three_nodes()
        + &config("default", "nodeMesh: false")
        + &peer(
            "r1-to-r2",
            "nodeSelector: \"rack == 'r1'\", peerSelector: \"rack == 'r2'\", holdTime: 6, password: {secretFile: /k}",
        );
    let cluster = Cluster::parse(&yaml);
    let secrets = BTreeMap::from([(PathBuf::from("/k"), "key\r\n".to_owned())]);
    for (local, remote) in [("node-a", "10.0.0.3"), ("node-c", "10.0.0.1")] {
        let plan = cluster.plan_with(local, &secrets);
        let n = &session(&plan, remote).neighbor;
        assert_eq!(n.hold_time, 6, "{local}");
        assert_eq!(
            n.transport.md5_key,
            Some(Md5Key::new("key").unwrap()),
            "{local}"
        );
    }
}

#[test]
fn unreadable_secret_leaves_the_peer_out_and_names_it() {
    let cluster = Cluster::parse(
        &[
            three_nodes(),
            peer(
                "tor",
                "peerIP: 172.18.0.1, asNumber: 65001, password: {secretFile: /missing.key}",
            ),
            peer(
                "empty-key",
                "peerIP: 172.18.0.2, asNumber: 65001, password: {secretFile: /empty.key}",
            ),
        ]
        .concat(),
    );
    let secrets = BTreeMap::from([(PathBuf::from("/empty.key"), "\n".to_owned())]);
    let plan = cluster.plan_with("node-a", &secrets);
    assert_eq!(
        summary(&plan),
        [
            "10.0.0.2:179 mesh node-b as64512 passive",
            "10.0.0.3:179 mesh node-c as64512 passive"
        ]
    );
    assert_eq!(plan.problems.len(), 2, "{:?}", plan.problems);
    assert!(
        plan.problems[0]
            .starts_with("BGPPeer/empty-key: the TCP MD5 key in /empty.key is unusable"),
        "{:?}",
        plan.problems
    );
    assert!(plan.problems[0].ends_with("; session with 172.18.0.2 left out"));
    assert_eq!(
        plan.problems[1],
        "BGPPeer/tor: cannot read the TCP MD5 key file /missing.key: No such file or directory; session with 172.18.0.1 left out"
    );
}

#[test]
fn a_peer_that_does_not_apply_is_not_read() {
    let cluster = Cluster::parse(
        &[
            three_nodes(),
            peer("tor-c", "peerIP: 172.18.0.1, asNumber: 65001, node: node-c, password: {secretFile: /missing.key}"),
        ]
        .concat(),
    );
    assert!(cluster.plan("node-a").problems.is_empty());
    assert_eq!(cluster.plan("node-c").problems.len(), 1);
}

#[test]
fn problems_name_what_was_left_out() {
    let cases = [
        (
            "a router of a family this node has no address of",
            three_nodes() + &peer("tor6", "peerIP: \"fd00::ff\", asNumber: 65001"),
            "node-a",
            "BGPPeer/tor6: peerIP fd00::ff is IPv6 but Node/node-a has no IPv6 underlay address; session left out",
        ),
        (
            "two peers of equal precedence disagree",
            three_nodes()
                + &peer("tor-1", "peerIP: 172.18.0.1, asNumber: 65001")
                + &peer("tor-2", "peerIP: 172.18.0.1, asNumber: 65002"),
            "node-a",
            "BGPPeer/tor-1 and BGPPeer/tor-2 both configure the session with 172.18.0.1, differently; using BGPPeer/tor-1",
        ),
        (
            "a node without an underlay address",
            three_nodes() + &node("node-x", "asNumber: 65001", ""),
            "node-x",
            "Node/node-x: no underlay address (spec.bgp.ipv4Address or ipv6Address); no BGP sessions",
        ),
    ];
    for (case, yaml, local, problem) in cases {
        let plan = Cluster::parse(&yaml).plan(local);
        assert_eq!(plan.problems, [problem], "{case}");
    }
}

#[test]
fn effective_settings_overlay_node_config_over_default_over_design_defaults() {
    let cluster = Cluster::parse(
        &[
            three_nodes(),
            node("node-x", "ipv4Address: 10.0.0.9/24, asNumber: 65099", ""),
            config(
                "default",
                "asNumber: 65000, listenPort: 1179, serviceClusterIPs: [10.96.0.0/12], communities: [\"65000:1\"]",
            ),
            config(
                "node.node-b",
                "asNumber: 65002, nodeMesh: false, gracefulRestartSeconds: 30, serviceClusterIPs: []",
            ),
            config("node.node-x", "asNumber: 65098"),
        ]
        .concat(),
    );
    let settings = |name| effective_settings(cluster.node(name), &cluster.configs);
    assert_eq!(
        settings("node-a"),
        BgpSettings {
            asn: 65000,
            node_mesh: true,
            listen_port: 1179,
            graceful_restart_seconds: DEFAULT_GRACEFUL_RESTART_SECONDS,
            service_cluster_ips: vec!["10.96.0.0/12".parse().unwrap()],
            communities: vec![crate::resources::Community::Standard(65000, 1)],
        }
    );
    assert_eq!(
        settings("node-b"),
        BgpSettings {
            asn: 65002,
            node_mesh: false,
            listen_port: 1179,
            graceful_restart_seconds: 30,
            service_cluster_ips: vec![],
            communities: vec![crate::resources::Community::Standard(65000, 1)],
        }
    );
    // The Node's own asNumber wins over its node.<name> configuration.
    assert_eq!(settings("node-x").asn, 65099);
    assert_eq!(node_asn(cluster.node("node-x"), &cluster.configs), 65099);
    assert_eq!(node_asn(cluster.node("node-b"), &cluster.configs), 65002);
    // Nothing configured: DESIGN §5 defaults.
    assert_eq!(
        effective_settings(cluster.node("node-a"), &[]),
        BgpSettings {
            asn: DEFAULT_ASN,
            node_mesh: true,
            listen_port: DEFAULT_LISTEN_PORT,
            graceful_restart_seconds: DEFAULT_GRACEFUL_RESTART_SECONDS,
            service_cluster_ips: vec![],
            communities: vec![],
        }
    );
}
