//! Standalone mode (`--datastore file:PATH`, docs/operations.md): margay-node without etcd as a
//! plain BGP speaker towards a BIRD 2 router — it claims the block its file names, blackholes it,
//! announces it and the service CIDR, and BIRD installs both; nothing else is exported; the
//! local API reports the session; a bad file stops the node with the file and field named.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use margay_daemon::api::NodeStatus;
use margay_tests::margay::query_socket;
use margay_tests::{Bird, Netns, TestDir, wait_until};

const TIMEOUT: Duration = Duration::from_secs(30);
const METRICS: &str = "127.0.0.1:9091";

fn node_file(router: &str) -> String {
    format!(
        "apiVersion: margay.io/v1
kind: IPPool
metadata: {{name: mine}}
spec: {{cidr: 10.1.0.0/24, blockSize: 24}}
---
apiVersion: margay.io/v1
kind: BGPConfiguration
metadata: {{name: default}}
spec: {{asNumber: 65010, nodeMesh: false, serviceClusterIPs: [10.96.0.0/12]}}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {{name: router}}
spec: {{peerIP: {router}, asNumber: 65020, holdTime: 9}}
"
    )
}

/// `GET path` on the node's metrics address (its own loopback); status code and body.
fn http_get(node: &Netns, path: &str) -> Result<(u16, String), String> {
    node.run_in(|| {
        let mut stream =
            TcpStream::connect(METRICS).map_err(|e| format!("connect {METRICS}: {e}"))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        let code = response
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {response}"))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((code, body))
    })
}

#[test]
fn standalone_node_announces_its_block_to_a_router() {
    let dir = TestDir::new("standalone");
    let router = Netns::new("sa-r");
    let node = Netns::new("sa-n");
    router.veth_to(&node, "eth0", "eth0");
    router.addr_add("eth0", "172.31.0.1/24");
    node.addr_add("eth0", "172.31.0.10/24");
    // The router also knows a default route, which margay must not pass on anywhere.
    let mut config = Bird::base_config("172.31.0.1");
    config.push_str(
        "protocol static { ipv4; route 10.200.0.0/16 blackhole; }
protocol bgp solo from peer_t {
  local 172.31.0.1 as 65020;
  neighbor 172.31.0.10 as 65010;
  hold time 9;
}
",
    );
    let bird = Bird::start(&router, &dir, "router", &config);
    let file = dir.write("margay.yaml", &node_file("172.31.0.1"));
    let socket = dir.file("solo.sock");
    let socket = socket.to_str().expect("utf-8 path");
    let datastore = format!("file:{}", file.display());
    let _margay = node.spawn(
        &dir,
        "margay-node",
        &[
            env!("CARGO_BIN_EXE_margay-node"),
            "--datastore",
            &datastore,
            "--node-name",
            "solo",
            "--underlay",
            "interface=eth0",
            "--api-socket",
            socket,
            "--metrics-listen",
            METRICS,
        ],
    );

    bird.wait_established("solo", TIMEOUT);
    let kernel = wait_until(
        TIMEOUT,
        "BIRD to install the node's block and service CIDR",
        || {
            let routes = router.routes("");
            if routes.contains("10.1.0.0/24 via 172.31.0.10")
                && routes.contains("10.96.0.0/12 via 172.31.0.10")
            {
                Ok(routes)
            } else {
                Err(routes)
            }
        },
    );
    assert!(kernel.contains("proto bird"), "{kernel}");
    let own = node.routes("proto 77");
    assert!(own.contains("blackhole 10.1.0.0/24"), "{own}");

    let status = wait_until(TIMEOUT, "node status to show the session", || {
        let s: NodeStatus = query_socket(Path::new(socket), "status")?;
        match s.sessions.as_slice() {
            [session] if session.state == "Established" => Ok(s),
            _ => Err(format!("{s:?}")),
        }
    });
    assert_eq!(status.node, "solo");
    assert_eq!(status.asn, 65010);
    assert_eq!(status.blocks, vec!["10.1.0.0/24".parse().unwrap()]);
    let session = &status.sessions[0];
    assert_eq!(session.name, "router");
    assert_eq!(session.asn, 65020);
    assert_eq!(session.prefixes_sent, 2, "{session:?}");
    assert!(session.prefixes_received >= 1, "{session:?}");
    // The router's own route came in but is not a Pod prefix: no kernel route for it here.
    assert!(!own.contains("10.200.0.0"), "{own}");

    // Health endpoints: live, ready (the one session is up), metrics saying so.
    assert_eq!(http_get(&node, "/livez").unwrap(), (200, "live\n".into()));
    assert_eq!(http_get(&node, "/readyz").unwrap(), (200, "ready\n".into()));
    let (code, metrics) = http_get(&node, "/metrics").unwrap();
    assert_eq!(code, 200);
    for line in [
        "margay_node_ready{node=\"solo\"} 1",
        "margay_node_blocks{node=\"solo\"} 1",
        "margay_bgp_session_established{peer=\"172.31.0.1\",kind=\"global\",name=\"router\",state=\"Established\"} 1",
        "margay_bgp_prefixes_sent{peer=\"172.31.0.1\",kind=\"global\",name=\"router\"} 2",
        "margay_routes{kind=\"own\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
    let (code, body) = http_get(&node, "/nope").unwrap();
    assert_eq!(code, 404, "{body}");

    // The router goes away: not ready any more, and /readyz says why.
    bird.birdc("disable solo").unwrap();
    let (_, why) = wait_until(TIMEOUT, "/readyz to report the session down", || {
        let (code, body) = http_get(&node, "/readyz")?;
        if code == 503 {
            Ok((code, body))
        } else {
            Err(format!("{code} {body}"))
        }
    });
    assert!(
        why.contains("BGP session with 172.31.0.1 (global router)"),
        "{why}"
    );
}

#[test]
fn a_bad_standalone_file_names_the_file_and_the_field() {
    let dir = TestDir::new("standalone-bad");
    let file = dir.write(
        "bad.yaml",
        "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: p}\n\
         spec: {cidr: 10.1.0.0/24, blockSize: 40}\n",
    );
    // A namespace with no usable interface at all: the file's mistake is reported first.
    let node = Netns::new("sa-bad");
    let out = Command::new("ip")
        .args(["netns", "exec", node.name()])
        .arg(env!("CARGO_BIN_EXE_margay-node"))
        .arg("--datastore")
        .arg(format!("file:{}", file.display()))
        .args(["--node-name", "solo", "--underlay", "interface=eth0"])
        .arg("--api-socket")
        .arg(dir.file("bad.sock"))
        .output()
        .expect("running margay-node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("blockSize") && err.contains("40"),
        "{err}"
    );
}
