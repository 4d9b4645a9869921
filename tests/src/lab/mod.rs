//! The lab (`scripts/lab`, the README's main command): a small margay cluster in network
//! namespaces, built, shown working, and left running to play with.
//!
//! ```text
//!                 spine 172.18.0.0/24 ─── etcd 172.18.0.100:2379
//!           ┌──────────┴───────────┐     (ToR–ToR eBGP; static underlay routes between racks)
//!   ToR r0 .0.1 AS 65001    ToR r1 .0.2 AS 65002        BIRD 2, kernel export on
//!   rack 172.18.1.0/24      rack 172.18.2.0/24
//!    ├ r0-node0 .10 ┐        ├ r1-node0 .10 ┐   margay-node, AS 65010 (rack 0) / 65020
//!    └ r0-node1 .11 ┘ eBGP   └ r1-node1 .11 ┘   eBGP to its ToR, node mesh off
//!        └ 2 Pods each, addresses from IPAM (pool 10.244.0.0/16 /26, encapsulation auto)
//! ```
//!
//! With `auto`, a node routes its rack neighbours' blocks directly (same subnet) and the other
//! rack's blocks natively via its ToR (a BGP path with a connected next hop), falling back to
//! VXLAN per block when the ToR stops carrying them.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | building the lab (topology, ToRs, BGP resources; etcd, pool, nodes and Pods through the harness `Cluster`) and waiting until it has converged |
//! | `tor.rs` | the ToRs' ASNs and BIRD configs |
//! | `ping.rs` | the Pod-to-Pod ping matrix |
//! | `report.rs` | what the lab prints: layout, node status, routes, pings, next commands |
//! | `state.rs` | the state file `scripts/lab down` uses to find and stop the running lab |

pub mod ping;
pub mod report;
pub mod state;
pub mod tor;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::bird::Bird;
use crate::margay::{Cluster, ClusterNode, Expected, MargayNode};
use crate::netns::Netns;
use crate::testdir::TestDir;
use crate::topology::{Pod, Racks};
use crate::wait::wait_until;
use ping::{PingMatrix, PingTarget};
use tor::TorPlan;

/// etcd's address on the spine.
pub const ETCD_ADDR: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 100);

/// The size of the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Racks (each with a BIRD ToR).
    pub racks: usize,
    /// margay nodes per rack.
    pub nodes_per_rack: usize,
    /// Pods per node (at least one).
    pub pods_per_node: usize,
    /// How long the ToRs' sessions and the nodes' routes may take to converge.
    pub converge_timeout: Duration,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            racks: 2,
            nodes_per_rack: 2,
            pods_per_node: 2,
            converge_timeout: Duration::from_secs(60),
        }
    }
}

/// Where a node of the lab is.
#[derive(Debug, Clone)]
pub struct LabNode {
    /// Node name (`r0-node0`).
    pub name: String,
    /// Its rack.
    pub rack: usize,
    /// Its index in the rack (its host is `racks.racks[rack].lan.hosts[index]`).
    pub index: usize,
    /// Its index in `cluster.nodes`.
    pub member: usize,
}

/// A Pod of the lab as the ping matrix and the printout name it.
#[derive(Debug)]
pub struct LabPod<'a> {
    /// Short label (`p1`, ...).
    pub label: String,
    /// The node it runs on.
    pub node: &'a str,
    /// The Pod.
    pub pod: &'a Pod,
}

/// The running lab. Dropping it tears everything down (fields drop in order: the extra Pods,
/// the nodes with their first Pods and etcd, the ToRs, the namespaces, the directory).
#[derive(Debug)]
pub struct Lab {
    /// Pods beyond each node's first, with the index of their node in `nodes`.
    pub extra_pods: Vec<(usize, Pod)>,
    /// etcd, margayctl, the pool (`auto`) and the margay nodes with one Pod each.
    pub cluster: Cluster,
    /// Where each node is, in the order of `cluster.nodes`.
    pub nodes: Vec<LabNode>,
    /// The ToRs' BIRDs, by rack.
    pub tors: Vec<Bird>,
    /// etcd's namespace (on the spine).
    pub etcd_ns: Netns,
    /// Racks, ToRs and spine.
    pub racks: Racks,
    /// Configs, logs, API sockets.
    pub dir: TestDir,
}

/// The BGP resources: the node mesh off, and one BGPPeer per rack selecting that rack's
/// nodes by label.
pub fn bgp_resources(racks: &Racks) -> String {
    let mut yaml = "apiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {name: default}\n\
                    spec: {nodeMesh: false}\n"
        .to_owned();
    for (r, rack) in racks.racks.iter().enumerate() {
        yaml += &format!(
            "---\napiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: tor-r{r}}}\n\
             spec: {{peerIP: {}, asNumber: {}, nodeSelector: \"rack == 'r{r}'\"}}\n",
            rack.tor_addr,
            tor::tor_as(r)
        );
    }
    yaml
}

impl Lab {
    /// Builds the lab and waits until every ToR session is Established and every node routes
    /// every other node's block: directly within its rack, natively via its ToR across racks
    /// (in `margayctl node routes` and in the kernel). Panics (tearing down what was built) on
    /// failure.
    pub fn build(options: &LabOptions) -> Lab {
        assert!(options.pods_per_node >= 1, "the lab needs a Pod per node");
        let dir = TestDir::new("lab");
        let mut racks = Racks::new("lab", options.racks, options.nodes_per_rack);
        let etcd_ns = Netns::new("labetcd");
        racks.spine.attach(&etcd_ns, "eth0", ETCD_ADDR);
        for rack in &racks.racks {
            etcd_ns.route_add(&format!("{} via {}", rack.lan.subnet, rack.spine_addr));
        }
        let mut cluster = Cluster::new(&dir, &etcd_ns, ETCD_ADDR, "auto");
        cluster.ctl.apply(&dir, "bgp.yaml", &bgp_resources(&racks));
        let tors = (0..racks.racks.len())
            .map(|r| TorPlan::for_rack(&racks, r, node_name).start(&racks.racks[r].tor, &dir))
            .collect();
        let mut nodes = Vec::new();
        let mut extra_pods = Vec::new();
        for (r, rack) in racks.racks.iter().enumerate() {
            for (i, host) in rack.lan.hosts.iter().enumerate() {
                let name = node_name(r, i);
                let options_of_node = cluster
                    .options(&name)
                    .as_number(tor::node_as(r))
                    .label("rack", &format!("r{r}"));
                let member = cluster.add_node(&dir, host, options_of_node);
                let more = cluster
                    .pool
                    .pods(host, cluster.node(member), options.pods_per_node - 1);
                extra_pods.extend(more.into_iter().map(|pod| (nodes.len(), pod)));
                nodes.push(LabNode {
                    name,
                    rack: r,
                    index: i,
                    member,
                });
            }
        }
        let lab = Lab {
            extra_pods,
            cluster,
            nodes,
            tors,
            etcd_ns,
            racks,
            dir,
        };
        lab.wait_converged(options.converge_timeout);
        lab
    }

    /// The namespace of `node`.
    pub fn host(&self, node: &LabNode) -> &Netns {
        &self.racks.racks[node.rack].lan.hosts[node.index]
    }

    /// What the cluster knows of `node` (block, underlay, tunnel address, first Pod).
    pub fn member(&self, node: &LabNode) -> &ClusterNode {
        &self.cluster.nodes[node.member]
    }

    /// The running margay-node of `node`.
    pub fn margay(&self, node: &LabNode) -> &MargayNode {
        &self.member(node).node
    }

    /// Every Pod, node by node, labelled `p1`, `p2`, ...
    pub fn pods(&self) -> Vec<LabPod<'_>> {
        let mut pods = Vec::new();
        for (n, node) in self.nodes.iter().enumerate() {
            let extra = self.extra_pods.iter().filter(|(of, _)| *of == n);
            for pod in std::iter::once(&self.member(node).pod).chain(extra.map(|(_, p)| p)) {
                pods.push(LabPod {
                    label: format!("p{}", pods.len() + 1),
                    node: &node.name,
                    pod,
                });
            }
        }
        pods
    }

    /// The ToR address of the rack whose subnet holds `member`'s underlay address.
    fn tor_of(&self, member: &ClusterNode) -> IpAddr {
        let rack = self
            .racks
            .racks
            .iter()
            .find(|rack| matches!(member.underlay.ip(), IpAddr::V4(ip) if rack.lan.subnet.contains(ip)))
            .unwrap_or_else(|| panic!("{} is in no rack", member.underlay));
        IpAddr::V4(rack.tor_addr)
    }

    /// Waits until the ToRs' sessions are Established, every ToR's kernel routes every block
    /// (BIRD may announce a route before it has installed it, DESIGN §4), and every node routes
    /// every other node's block: directly within its rack, natively via its ToR across racks.
    pub fn wait_converged(&self, timeout: Duration) {
        for (r, bird) in self.tors.iter().enumerate() {
            for plan_peer in TorPlan::for_rack(&self.racks, r, node_name).protocols() {
                bird.wait_established(&plan_peer, timeout);
            }
        }
        for (r, rack) in self.racks.racks.iter().enumerate() {
            wait_until(timeout, &format!("ToR r{r} to route every block"), || {
                let table = rack.tor.routes("proto bird");
                let installed: Vec<&str> = table
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .collect();
                let missing: Vec<String> = self
                    .cluster
                    .nodes
                    .iter()
                    .map(|n| n.block.to_string())
                    .filter(|b| !installed.contains(&b.as_str()))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "missing {missing:?}; kernel (proto bird):\n{table}"
                    ))
                }
            });
        }
        self.cluster.wait_routes(timeout, |me, other| {
            if me.shares_subnet_with(other) {
                Expected::Direct(other.underlay.ip())
            } else {
                Expected::Native(vec![self.tor_of(me)])
            }
        });
    }

    /// Pings every Pod from every other Pod.
    pub fn ping_matrix(&self) -> PingMatrix {
        let pods = self.pods();
        let targets: Vec<PingTarget<'_>> = pods
            .iter()
            .map(|p| PingTarget {
                label: &p.label,
                node: p.node,
                pod: p.pod,
            })
            .collect();
        PingMatrix::run(&targets)
    }

    /// Every namespace the lab made.
    pub fn namespaces(&self) -> Vec<String> {
        let mut names = vec![self.racks.spine.switch.name().to_owned()];
        for rack in &self.racks.racks {
            names.push(rack.lan.switch.name().to_owned());
            names.push(rack.tor.name().to_owned());
            names.extend(rack.lan.hosts.iter().map(|h| h.name().to_owned()));
        }
        names.push(self.etcd_ns.name().to_owned());
        names.extend(self.pods().iter().map(|p| p.pod.ns.name().to_owned()));
        names
    }

    /// The state `scripts/lab down` needs.
    pub fn state(&self) -> state::LabState {
        state::LabState {
            pid: std::process::id(),
            dir: self.dir.path().to_owned(),
            namespaces: self.namespaces(),
        }
    }

    /// The BIRD control socket of rack `r`'s ToR.
    pub fn tor_socket(&self, rack: usize) -> PathBuf {
        self.dir.file(&format!("{}.ctl", tor::tor_protocol(rack)))
    }
}

/// The name of node `i` of rack `r`.
pub fn node_name(rack: usize, index: usize) -> String {
    format!("r{rack}-node{index}")
}
