//! margay-node and an etcd that is not there (DESIGN §6: "etcd unreachable: the node keeps
//! forwarding with the state it has, retries, and reconciles on return"):
//! - started before etcd, the node waits and retries (logging each failure) instead of exiting,
//!   and registers, claims its block and serves its API once etcd answers;
//! - once registered, it holds `liveness/<node>` on an etcd lease;
//! - etcd stopped under a running node: `node status` reports the datastore as a problem while
//!   the kernel keeps the node's routes; etcd back: the problem clears.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use margay_daemon::api::NodeStatus;
use margay_tests::margay::{query_socket, workspace_bin};
use margay_tests::{Etcd, Lan, Margayctl, PodPool, TestDir, wait_until};

/// Covers the agent's 10 s datastore probe and a restart of etcd.
const TIMEOUT: Duration = Duration::from_secs(40);

fn status(socket: &str) -> Result<NodeStatus, String> {
    query_socket(Path::new(socket), "status")
}

#[test]
fn node_waits_for_etcd_and_reports_an_outage() {
    let dir = TestDir::new("outage");
    let lan = Lan::new("outage", 1, "10.0.7.0/24");
    let etcd_ip = lan.addr(2);
    lan.switch.addr_add("br0", &format!("{etcd_ip}/24"));
    let endpoint = format!("http://{etcd_ip}:2379");
    let socket = dir.file("node.sock");
    let socket = socket.to_str().expect("utf-8 path").to_owned();
    let node_bin = workspace_bin("margay-node");
    let mut node = lan.hosts[0].spawn(
        &dir,
        "margay-node",
        &[
            node_bin.to_str().expect("utf-8 path"),
            "--node-name",
            "lonely",
            "--etcd-endpoints",
            &endpoint,
            "--underlay",
            "interface=eth0",
            "--api-socket",
            &socket,
        ],
    );

    // No etcd yet: the node retries (and says so) rather than exiting.
    wait_until(
        TIMEOUT,
        "margay-node to report that etcd is not reachable",
        || {
            if !node.is_running() {
                return Err(format!("margay-node exited:\n{}", node.log_tail(20)));
            }
            let log = node.log_tail(50);
            if log.contains("datastore not reachable; retrying") {
                Ok(())
            } else {
                Err(log)
            }
        },
    );

    let mut etcd = Etcd::start_in(&dir, &lan.switch, IpAddr::V4(etcd_ip));
    let ctl = Margayctl::new(&lan.switch, &etcd.endpoint());
    let pool = PodPool::new("default-ipv4", "10.244.0.0/16", 26);
    ctl.apply(&dir, "pool.yaml", &pool.yaml("auto"));
    let ready = wait_until(TIMEOUT, "the node to register and claim a block", || {
        if !node.is_running() {
            return Err(format!("margay-node exited:\n{}", node.log_tail(20)));
        }
        let s = status(&socket)?;
        match (&s.vtep, s.blocks.as_slice()) {
            (Some(_), [_]) => Ok(s),
            _ => Err(format!("{s:?}")),
        }
    });
    let block = ready.blocks[0];
    assert!(
        ctl.ok(&["get", "node", "lonely", "-o", "yaml"])
            .contains("ipv4Address: 10.0.7.10/24"),
        "the Node is registered"
    );

    // Its liveness key is held on a lease (DESIGN §6).
    let lease = wait_until(TIMEOUT, "liveness/lonely on a lease", || {
        let out = etcd
            .ctl(&["get", "/margay/v1/liveness/lonely", "-w", "json"])
            .map_err(|e| e.to_string())?;
        if out.contains("\"lease\":") {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert!(lease.contains("\"count\":1"), "{lease}");

    // etcd goes away: the node says so, and keeps its routes.
    etcd.stop();
    let down = wait_until(TIMEOUT, "node status to report the datastore", || {
        let s = status(&socket)?;
        if s.problems
            .iter()
            .any(|p| p.starts_with("datastore: not reachable"))
        {
            Ok(s)
        } else {
            Err(format!("{:?}", s.problems))
        }
    });
    assert_eq!(down.blocks, vec![block]);
    let kernel = lan.hosts[0].routes("proto 77");
    assert!(kernel.contains(&format!("blackhole {block}")), "{kernel}");

    // etcd is back: the problem clears.
    etcd.start_again();
    wait_until(TIMEOUT, "the datastore problem to clear", || {
        let s = status(&socket)?;
        if s.problems.iter().any(|p| p.starts_with("datastore")) {
            Err(format!("{:?}", s.problems))
        } else {
            Ok(())
        }
    });
    assert!(node.is_running(), "{}", node.log_tail(20));
}
