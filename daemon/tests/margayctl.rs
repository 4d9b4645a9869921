//! `margayctl` against a real etcd: apply, get in every output format, create/replace
//! refusals, an invalid file rejected with the field named and nothing written, mode set,
//! delete (a Node's IPAM blocks released with it), ipam show and check; every error exits
//! non-zero. `node status` / `node routes` against a real API socket served in this process.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use margay_daemon::api::{
    Handler, NodeStatus, Reply, Request, RouteKind, RouteStatus, SessionStatus, VtepStatus, serve,
};
use margay_daemon::peering::PeerKind;
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::{IpFamily, Ipam, IpamConfig, Keys, Pool};
use margay_tests::{Etcd, TestDir};

const RESOURCES: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.244.0.0/16, blockSize: 26, encapsulation: auto}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor-r1}
spec: {peerIP: 172.18.0.1, asNumber: 65001, nodeSelector: "rack == 'r1'", holdTime: 9}
"#;

/// One valid pool and one with a block size out of range: the whole file must be refused.
const HALF_INVALID: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: second}
spec: {cidr: 10.245.0.0/16}
---
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: broken}
spec: {cidr: 10.246.0.0/16, blockSize: 40}
"#;

struct Ctl {
    endpoint: String,
}

impl Ctl {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_margayctl"))
            .env_clear()
            .env("MARGAY_ETCD_ENDPOINTS", &self.endpoint)
            .args(args)
            .output()
            .expect("running margayctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "margayctl {args:?} failed: {err}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "margayctl {args:?} should have failed: {out}");
        err
    }
}

#[test]
fn resources_round_trip_and_bad_input_writes_nothing() {
    let dir = TestDir::new("margayctl");
    let etcd = Etcd::start(&dir);
    let ctl = Ctl {
        endpoint: etcd.endpoint(),
    };
    let file = dir.write("cluster.yaml", RESOURCES);
    let file = file.to_str().unwrap();

    let applied = ctl.ok(&["apply", "-f", file]);
    assert!(
        applied.contains("IPPool/default-ipv4 applied")
            && applied.contains("BGPPeer/tor-r1 applied"),
        "{applied}"
    );
    // Stored where DESIGN §6 says, as JSON.
    let raw = etcd
        .ctl(&[
            "get",
            "/margay/v1/resources/IPPool/default-ipv4",
            "--print-value-only",
        ])
        .unwrap();
    assert!(raw.contains("\"cidr\":\"10.244.0.0/16\""), "{raw}");

    let table = ctl.ok(&["get", "ippools"]);
    assert!(
        table.contains("default-ipv4") && table.contains("IPPool"),
        "{table}"
    );
    let yaml = ctl.ok(&["get", "IPPool", "default-ipv4", "-o", "yaml"]);
    assert!(
        yaml.contains("encapsulation: auto") && yaml.contains("blockSize: 26"),
        "{yaml}"
    );
    let json = ctl.ok(&["get", "bgppeer", "-o", "json"]);
    let peers: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(peers[0]["spec"]["peerIP"], "172.18.0.1");
    assert!(ctl.ok(&["get", "bgppeer", "-o", "wide"]).contains("65001"));

    assert!(
        ctl.fails(&["create", "-f", file])
            .contains("IPPool/default-ipv4 already exists")
    );

    // A file with one bad document: refused, the field and value named, nothing written.
    let bad = dir.write("bad.yaml", HALF_INVALID);
    let err = ctl.fails(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(
        err.contains("spec.blockSize") && err.contains("40") && err.contains("nothing written"),
        "{err}"
    );
    let pools = ctl.ok(&["get", "ippool"]);
    assert!(
        !pools.contains("second") && !pools.contains("broken"),
        "{pools}"
    );

    // Mode switch, re-validated like any document; a bad mode is refused.
    assert!(
        ctl.ok(&["mode", "set", "vxlan", "--pool", "default-ipv4"])
            .contains("encapsulation vxlan")
    );
    assert!(
        ctl.ok(&["get", "ippool", "default-ipv4", "-o", "yaml"])
            .contains("encapsulation: vxlan")
    );
    let err = ctl.fails(&["mode", "set", "tunnel"]);
    assert!(err.contains("tunnel"), "{err}");
    assert!(
        ctl.ok(&["get", "ippool", "default-ipv4", "-o", "yaml"])
            .contains("encapsulation: vxlan")
    );

    let usage = ctl.ok(&["ipam", "show"]);
    assert!(usage.contains("10.244.0.0/16"), "{usage}");
    ctl.ok(&["ipam", "check"]);

    assert!(
        ctl.ok(&["delete", "bgppeer", "tor-r1"])
            .contains("BGPPeer/tor-r1 deleted")
    );
    assert!(
        ctl.fails(&["get", "bgppeer", "tor-r1"])
            .contains("BGPPeer/tor-r1 not found")
    );
    assert!(
        ctl.fails(&["get", "widgets"])
            .contains("unknown kind \"widgets\"")
    );
}

#[test]
fn missing_or_unreachable_etcd_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_margayctl"))
        .env_clear()
        .args(["get", "ippool"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("etcdEndpoints: required"),
        "{err}"
    );
    let unreachable = Ctl {
        endpoint: "http://127.0.0.1:1".into(),
    };
    let err = unreachable.fails(&["get", "ippool"]);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

/// A pool of 4-address blocks, and two nodes.
const NODES: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: small-blocks}
spec: {cidr: 10.248.0.0/16, blockSize: 30}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: node-x}
spec: {bgp: {ipv4Address: 172.18.1.20/24}}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: node-y}
spec: {bgp: {ipv4Address: 172.18.1.21/24}}
"#;

/// IPAM of the test's etcd, in this process (as margay-node and the CNI plugin use it).
struct TestIpam {
    runtime: tokio::runtime::Runtime,
    ipam: Ipam<EtcdStore>,
}

impl TestIpam {
    fn new(endpoint: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = runtime
            .block_on(EtcdStore::connect(&EtcdConfig::new([endpoint])))
            .unwrap();
        let ipam = Ipam::new(
            Arc::new(store),
            Keys::new("/margay/v1/"),
            IpamConfig::default(),
        );
        TestIpam { runtime, ipam }
    }

    /// Assigns `count` addresses to Pods of `node` from 10.248.0.0/16 in /30 blocks.
    fn assign(&self, node: &str, count: usize) -> Vec<IpAddr> {
        let pool = Pool::new("10.248.0.0/16".parse().unwrap(), Some(30)).unwrap();
        let allocator = self.ipam.allocator(node, vec![pool]).unwrap();
        self.runtime.block_on(async {
            let mut out = Vec::new();
            for i in 0..count {
                let handle = format!("pod-{node}-{i}");
                out.push(allocator.assign(&handle, IpFamily::V4).await.unwrap().addr);
            }
            out
        })
    }

    /// Blocks affine to `node`.
    fn blocks_of(&self, node: &str) -> Vec<String> {
        self.runtime
            .block_on(self.ipam.blocks())
            .unwrap()
            .into_iter()
            .filter(|s| s.block.affinity.as_deref() == Some(node))
            .map(|s| s.block.cidr.to_string())
            .collect()
    }
}

#[test]
fn deleting_a_node_releases_its_blocks() {
    let dir = TestDir::new("margayctl-delete-node");
    let etcd = Etcd::start(&dir);
    let ctl = Ctl {
        endpoint: etcd.endpoint(),
    };
    let file = dir.write("nodes.yaml", NODES);
    ctl.ok(&["apply", "-f", file.to_str().unwrap()]);
    let ipam = TestIpam::new(&etcd.endpoint());
    // Five Pods on node-x need two /30 blocks; node-y gets one.
    assert_eq!(ipam.assign("node-x", 5).len(), 5);
    ipam.assign("node-y", 1);
    let x_blocks = ipam.blocks_of("node-x");
    assert_eq!(x_blocks.len(), 2, "{x_blocks:?}");

    let out = ctl.ok(&["delete", "node", "node-x"]);
    let released = format!(
        "released 2 blocks of node-x ({}): 5 addresses, 2 affinities",
        x_blocks.join(", ")
    );
    assert!(
        out.contains("Node/node-x deleted") && out.contains(&released),
        "{out}"
    );
    assert!(ipam.blocks_of("node-x").is_empty());
    assert_eq!(ipam.blocks_of("node-y").len(), 1, "node-y keeps its block");
    ctl.ok(&["ipam", "check"]);
    let usage = ctl.ok(&["ipam", "show"]);
    assert!(usage.contains("10.248.0.0/16"), "{usage}");

    // Gone, with nothing left to release: an error like any missing resource.
    let err = ctl.fails(&["delete", "node", "node-x"]);
    assert!(err.contains("Node/node-x not found"), "{err}");

    // A Node already deleted (as by a `delete node` cut short) whose blocks remain: released.
    ipam.assign("node-z", 1);
    let out = ctl.ok(&["delete", "node", "node-z"]);
    assert!(
        out.contains("Node/node-z was already deleted")
            && out.contains("released 1 block of node-z"),
        "{out}"
    );
    assert!(ipam.blocks_of("node-z").is_empty());

    // A Node in `delete -f` is released the same way.
    let node_y = dir.write(
        "node-y.yaml",
        "apiVersion: margay.io/v1\nkind: Node\nmetadata: {name: node-y}\nspec: {}\n",
    );
    let out = ctl.ok(&["delete", "-f", node_y.to_str().unwrap()]);
    assert!(
        out.contains("Node/node-y deleted") && out.contains("released 1 block of node-y"),
        "{out}"
    );
    assert!(ipam.blocks_of("node-y").is_empty());
    ctl.ok(&["ipam", "check"]);
}

fn served_status() -> NodeStatus {
    NodeStatus {
        node: "node-a".into(),
        underlay: "172.18.1.10/24".parse().unwrap(),
        asn: 64512,
        router_id: "172.18.1.10".parse().unwrap(),
        route_reflector_cluster_id: None,
        blocks: vec!["10.244.0.0/26".parse().unwrap()],
        vtep: Some(VtepStatus {
            device: "vxlan.margay".into(),
            tunnel_address: "10.244.0.0".parse().unwrap(),
            mac: "66:1a:2b:3c:4d:5e".into(),
            mtu: 1450,
        }),
        sessions: vec![
            SessionStatus {
                peer: "172.18.1.11".parse().unwrap(),
                kind: PeerKind::Mesh,
                name: "node-b".into(),
                asn: 64512,
                state: "Established".into(),
                // An hour and a bit ago: SINCE shows 01:0x:xx whatever the test's speed.
                since_unix: now_unix() - 3700,
                prefixes_received: 1,
                prefixes_sent: 1,
                last_error: None,
            },
            SessionStatus {
                peer: "172.18.1.1".parse().unwrap(),
                kind: PeerKind::Global,
                name: "tor-r1".into(),
                asn: 65001,
                state: "Active".into(),
                since_unix: now_unix() - 3700,
                prefixes_received: 0,
                prefixes_sent: 0,
                last_error: Some("connect: connection refused".into()),
            },
        ],
        problems: vec!["BGPPeer tor-r1: connect: connection refused".into()],
        converged: true,
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn served_routes() -> Vec<RouteStatus> {
    vec![
        RouteStatus {
            dst: "10.244.0.0/26".parse().unwrap(),
            kind: RouteKind::Own,
            via: "blackhole".into(),
            reason: "own block".into(),
        },
        RouteStatus {
            dst: "10.244.3.0/26".parse().unwrap(),
            kind: RouteKind::Vxlan,
            via: "10.244.3.0 dev vxlan.margay onlink".into(),
            reason: "vxlan: no BGP path with a connected next hop".into(),
        },
        RouteStatus {
            dst: "10.250.0.0/26".parse().unwrap(),
            kind: RouteKind::None,
            via: String::new(),
            reason: "none: no BGP path".into(),
        },
    ]
}

/// Status as [`served_status`], routes as [`served_routes`]; or an error for everything.
struct ServedNode {
    broken: bool,
}

impl Handler for ServedNode {
    async fn handle(&self, request: Request) -> Reply {
        match request {
            _ if self.broken => Reply::Error {
                message: "not registered yet".into(),
            },
            Request::Status => Reply::Status(served_status()),
            Request::Routes => Reply::Routes(served_routes()),
        }
    }
}

/// Runs margayctl (as a process, without blocking the server's runtime).
async fn ctl_node(args: &[&str], socket_env: Option<&Path>) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_margayctl"));
    command.env_clear().args(args);
    if let Some(socket) = socket_env {
        command.env("MARGAY_API_SOCKET", socket);
    }
    let out = command.output().await.expect("running margayctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test]
async fn node_status_and_routes_render_what_the_node_serves() {
    let dir = TestDir::new("margayctl-node");
    let socket = dir.file("node-a.sock");
    let socket_arg = socket.to_str().unwrap();
    let _server = serve(&socket, Arc::new(ServedNode { broken: false }))
        .await
        .unwrap();

    let (ok, table, err) = ctl_node(&["node", "status", "--socket", socket_arg], None).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        table.starts_with("node:       node-a\nunderlay:   172.18.1.10/24\nAS:         64512\n"),
        "{table}"
    );
    assert!(
        table.contains("blocks:     10.244.0.0/26\n")
            && table.contains("VTEP:       vxlan.margay 10.244.0.0 66:1a:2b:3c:4d:5e mtu 1450\n"),
        "{table}"
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("PEER"))
        .unwrap_or_else(|| panic!("no session table: {table}"));
    assert_eq!(
        columns(lines[header]),
        [
            "PEER", "TYPE", "NAME", "AS", "STATE", "SINCE", "RECEIVED", "SENT", "LAST", "ERROR"
        ]
    );
    let mesh = columns(lines[header + 1]);
    assert_eq!(
        mesh[..5],
        ["172.18.1.11", "mesh", "node-b", "64512", "Established"]
    );
    assert!(mesh[5].starts_with("01:0"), "SINCE {:?}", mesh[5]);
    assert_eq!(mesh[6..], ["1", "1", "-"]);
    let tor = columns(lines[header + 2]);
    assert_eq!(
        tor[..5],
        ["172.18.1.1", "global", "tor-r1", "65001", "Active"]
    );
    assert!(
        lines[header + 2].ends_with("  connect: connection refused"),
        "{table}"
    );
    assert!(
        table.ends_with("\nproblems:\n  - BGPPeer tor-r1: connect: connection refused\n"),
        "{table}"
    );

    // JSON is the API's own, parsed back to what was served.
    let (ok, json, err) = ctl_node(&["node", "status", "-o", "json"], Some(socket.as_path())).await;
    assert!(ok, "{err}");
    let status: NodeStatus = serde_json::from_str(&json).unwrap();
    assert_eq!(status.node, "node-a");
    assert_eq!(status.sessions.len(), 2);

    let (ok, routes, err) = ctl_node(&["node", "routes"], Some(socket.as_path())).await;
    assert!(ok, "{err}");
    assert_eq!(
        routes,
        "\
DESTINATION    KIND   VIA                                 REASON
10.244.0.0/26  own    blackhole                           own block
10.244.3.0/26  vxlan  10.244.3.0 dev vxlan.margay onlink  vxlan: no BGP path with a connected next hop
10.250.0.0/26  none   -                                   none: no BGP path
"
    );
    let (ok, json, err) = ctl_node(
        &["node", "routes", "--socket", socket_arg, "-o", "json"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Vec<RouteStatus>>(&json).unwrap(),
        served_routes()
    );
}

#[tokio::test]
async fn node_commands_fail_naming_the_socket() {
    let dir = TestDir::new("margayctl-node-errors");
    let missing = dir.file("missing.sock");
    for command in ["status", "routes"] {
        let (ok, out, err) = ctl_node(&["node", command], Some(missing.as_path())).await;
        assert!(!ok, "{out}");
        assert!(
            err.contains(&missing.display().to_string()) && err.contains("is margay-node running?"),
            "{err}"
        );
    }

    // The node answers, with an error: shown, non-zero.
    let socket = dir.file("broken.sock");
    let _server = serve(&socket, Arc::new(ServedNode { broken: true }))
        .await
        .unwrap();
    let (ok, out, err) = ctl_node(
        &["node", "status", "--socket", socket.to_str().unwrap()],
        None,
    )
    .await;
    assert!(!ok, "{out}");
    assert!(
        err.contains(&socket.display().to_string()) && err.contains("not registered yet"),
        "{err}"
    );

    // A format the node commands do not have.
    let (ok, _, err) = ctl_node(&["node", "status", "-o", "yaml"], Some(socket.as_path())).await;
    assert!(!ok && err.contains("yaml"), "{err}");
}
