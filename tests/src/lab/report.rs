//! What the lab prints: where everything is, `margayctl node status` of every node, one node's
//! routes with the reason each was chosen, the ping matrix, and the next commands to try with
//! the exact namespace names and paths of this lab.

use std::fmt::Write as _;
use std::path::Path;

use super::{ETCD_ADDR, Lab, tor};
use crate::margay::MargayNode;

/// A section heading.
pub fn heading(title: &str) -> String {
    format!("\n== {title} ==")
}

/// Every namespace of the lab with its role and addresses.
pub fn layout(lab: &Lab) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "role".into(),
        "name".into(),
        "namespace".into(),
        "address".into(),
    ]];
    rows.push([
        "etcd".into(),
        "etcd".into(),
        lab.etcd_ns.name().into(),
        format!("{ETCD_ADDR}:2379 (spine)"),
    ]);
    for (r, rack) in lab.racks.racks.iter().enumerate() {
        rows.push([
            format!("ToR, BIRD AS {}", tor::tor_as(r)),
            format!("tor{r}"),
            rack.tor.name().into(),
            format!("{} (rack), {} (spine)", rack.tor_addr, rack.spine_addr),
        ]);
        for node in lab.nodes.iter().filter(|n| n.rack == r) {
            let member = lab.member(node);
            rows.push([
                format!("margay-node AS {}", tor::node_as(r)),
                node.name.clone(),
                lab.host(node).name().into(),
                format!(
                    "{} block {} VTEP {}",
                    member.underlay, member.block, member.tunnel
                ),
            ]);
            for pod in lab.pods().iter().filter(|p| p.node == node.name) {
                rows.push([
                    "  Pod".into(),
                    pod.label.clone(),
                    pod.pod.ns.name().into(),
                    pod.pod.ip.to_string(),
                ]);
            }
        }
    }
    table(&rows)
}

fn table(rows: &[[String; 4]]) -> String {
    let mut widths = [0; 4];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (w, cell) in widths.iter().zip(row) {
            let _ = write!(line, "{cell:w$}  ");
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

/// `margayctl node status` of `node` (its output, or what went wrong).
pub fn node_status(margayctl: &Path, node: &MargayNode) -> String {
    margayctl_node(margayctl, node, "status")
}

/// `margayctl node routes` of `node`: its routes with the reason each was chosen.
pub fn node_routes(margayctl: &Path, node: &MargayNode) -> String {
    margayctl_node(margayctl, node, "routes")
}

fn margayctl_node(margayctl: &Path, node: &MargayNode, what: &str) -> String {
    let socket = node.socket();
    let argv = [
        margayctl.to_str().expect("utf-8 path"),
        "node",
        what,
        "--socket",
        socket.to_str().expect("utf-8 path"),
    ];
    match crate::cmd::run(&argv) {
        Ok(out) => out.trim_end().to_owned(),
        Err(e) => format!("(failed) {e}"),
    }
}

/// The commands to try next, with this lab's names.
pub fn next_commands(lab: &Lab, margayctl: &Path) -> String {
    let ctl = margayctl.display();
    let first = &lab.nodes[0];
    let ns = lab.host(first).name();
    let etcd = format!("--etcd-endpoints http://{ETCD_ADDR}:2379");
    let pods = lab.pods();
    let remote_pod = pods.iter().find(|p| {
        lab.nodes
            .iter()
            .any(|n| n.name == p.node && n.rack != first.rack)
    });
    let local_pod = pods.iter().find(|p| p.node == first.name);
    let mut out = String::new();
    let _ = writeln!(out, "The lab stays up. Try, as root in another terminal:");
    let _ = writeln!(
        out,
        "\n  # status and routes (with reasons) of {} (any node: its socket is in {})",
        first.name,
        lab.dir.path().display()
    );
    let _ = writeln!(
        out,
        "  {ctl} node status --socket {}",
        lab.margay(first).socket().display()
    );
    let _ = writeln!(
        out,
        "  {ctl} node routes --socket {}",
        lab.margay(first).socket().display()
    );
    let _ = writeln!(out, "  ip -n {ns} route show proto 77");
    let _ = writeln!(
        out,
        "\n  # every pool to VXLAN (routes flip at once, make-before-break), then back to auto"
    );
    let _ = writeln!(out, "  ip netns exec {ns} {ctl} {etcd} mode set vxlan");
    let _ = writeln!(out, "  ip netns exec {ns} {ctl} {etcd} mode set auto");
    let _ = writeln!(out, "  ip netns exec {ns} {ctl} {etcd} get ippools -o wide");
    if lab.tors.len() > 1 {
        let _ = writeln!(
            out,
            "\n  # cut the ToR–ToR BGP session: rack r1's blocks fall back to VXLAN on rack r0's \
             nodes (and back on enable)"
        );
        let _ = writeln!(
            out,
            "  birdc -s {} disable {}",
            lab.tor_socket(0).display(),
            tor::tor_protocol(1)
        );
        let _ = writeln!(
            out,
            "  birdc -s {} enable {}",
            lab.tor_socket(0).display(),
            tor::tor_protocol(1)
        );
        let _ = writeln!(out, "  birdc -s {} show route", lab.tor_socket(0).display());
    }
    if let (Some(from), Some(to)) = (local_pod, remote_pod) {
        let _ = writeln!(
            out,
            "\n  # a steady ping from {} ({}) to {} ({}) while you do the above",
            from.label, from.node, to.label, to.node
        );
        let _ = writeln!(
            out,
            "  ip netns exec {} ping -i 0.05 {}",
            from.pod.ns.name(),
            to.pod.ip
        );
    }
    let _ = writeln!(
        out,
        "\n  # IPAM: the pool {} and its blocks\n  ip netns exec {ns} {ctl} {etcd} ipam show --blocks",
        lab.cluster.pool.cidr()
    );
    let _ = writeln!(
        out,
        "\nStop: Ctrl-C here, or `scripts/lab down` from anywhere (state in {}).",
        super::state::STATE_FILE
    );
    out
}
