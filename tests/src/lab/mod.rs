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
//!        └ 2 Pods each, addresses from IPAM (IPPool 10.244.0.0/16, encapsulation auto)
//! ```
//!
//! With `auto`, a node routes its rack neighbours' blocks directly (same subnet) and the other
//! rack's blocks natively via its ToR (a BGP path with a connected next hop), falling back to
//! VXLAN per block when the ToR stops carrying them.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | building the lab (topology, etcd, ToRs, resources, nodes, Pods) and waiting until it has converged |
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
use crate::etcd::Etcd;
use crate::margay::{KernelRoute, MargayNode, Margayctl, NodeOptions, PodPool, margay_routes};
use crate::netns::Netns;
use crate::testdir::TestDir;
use crate::topology::{Pod, Racks};
use crate::wait::wait_until;
use ping::{PingMatrix, PingTarget};
use tor::TorPlan;

/// etcd's address on the spine.
pub const ETCD_ADDR: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 100);
/// The lab's IP pool.
pub const POOL_CIDR: &str = "10.244.0.0/16";
/// Its block size.
pub const BLOCK_SIZE: u8 = 26;

/// The size of the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Racks (each with a BIRD ToR).
    pub racks: usize,
    /// margay nodes per rack.
    pub nodes_per_rack: usize,
    /// Pods per node.
    pub pods_per_node: usize,
    /// How long the nodes may take to register, peer and route every block.
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

/// A margay node of the lab.
#[derive(Debug)]
pub struct LabNode {
    /// Node name (`r0-node0`).
    pub name: String,
    /// Its rack.
    pub rack: usize,
    /// Its index in the rack (its host is `racks.racks[rack].lan.hosts[index]`).
    pub index: usize,
    /// Underlay address.
    pub addr: Ipv4Addr,
    /// The running margay-node.
    pub node: MargayNode,
}

/// A Pod of the lab.
#[derive(Debug)]
pub struct LabPod {
    /// Short label (`p1`, ...), the ping matrix's column header.
    pub label: String,
    /// The node it runs on.
    pub node: String,
    /// The Pod.
    pub pod: Pod,
}

/// The running lab. Dropping it tears everything down (fields drop in order: Pods, nodes,
/// ToRs, etcd, namespaces, directory).
#[derive(Debug)]
pub struct Lab {
    /// The Pods.
    pub pods: Vec<LabPod>,
    /// The nodes, rack by rack.
    pub nodes: Vec<LabNode>,
    /// The ToRs' BIRDs, by rack.
    pub tors: Vec<Bird>,
    /// etcd (in `etcd_ns`, on the spine).
    pub etcd: Etcd,
    /// etcd's namespace.
    pub etcd_ns: Netns,
    /// Racks, ToRs and spine.
    pub racks: Racks,
    /// Configs, logs, API sockets.
    pub dir: TestDir,
}

/// The lab's pool.
pub fn pool() -> PodPool {
    PodPool::new("lab-pool", POOL_CIDR, BLOCK_SIZE)
}

/// The lab's resources: the pool (`auto`), the BGP configuration (node mesh off) and one
/// BGPPeer per rack selecting that rack's nodes by label.
pub fn resources(racks: &Racks) -> String {
    let mut yaml = pool().yaml("auto");
    yaml += "---\napiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {name: default}\n\
             spec: {nodeMesh: false}\n";
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
    /// Builds the lab and waits until every node routes every other node's block, the
    /// other racks' natively via its ToR. Panics (tearing down what was built) on failure.
    pub fn build(options: &LabOptions) -> Lab {
        let dir = TestDir::new("lab");
        let mut racks = Racks::new("lab", options.racks, options.nodes_per_rack);
        let etcd_ns = Netns::new("labetcd");
        racks.spine.attach(&etcd_ns, "eth0", ETCD_ADDR);
        for rack in &racks.racks {
            etcd_ns.route_add(&format!("{} via {}", rack.lan.subnet, rack.spine_addr));
        }
        let etcd = Etcd::start_in(&dir, &etcd_ns, IpAddr::V4(ETCD_ADDR));
        Margayctl::new(&etcd_ns, &etcd.endpoint()).apply(
            &dir,
            "resources.yaml",
            &resources(&racks),
        );

        let tors = racks
            .racks
            .iter()
            .enumerate()
            .map(|(r, rack)| {
                let plan = TorPlan {
                    rack: r,
                    rack_addr: rack.tor_addr,
                    spine_addr: rack.spine_addr,
                    nodes: rack
                        .lan
                        .addrs
                        .iter()
                        .enumerate()
                        .map(|(i, addr)| (node_name(r, i), *addr))
                        .collect(),
                    other_tors: racks
                        .racks
                        .iter()
                        .enumerate()
                        .filter(|(s, _)| *s != r)
                        .map(|(s, other)| (s, other.spine_addr))
                        .collect(),
                };
                plan.start(&rack.tor, &dir)
            })
            .collect();

        let mut nodes = Vec::new();
        for (r, rack) in racks.racks.iter().enumerate() {
            for (i, host) in rack.lan.hosts.iter().enumerate() {
                let name = node_name(r, i);
                let node = MargayNode::start(
                    host,
                    &dir,
                    NodeOptions::new(&name, &etcd.endpoint())
                        .as_number(tor::node_as(r))
                        .label("rack", &format!("r{r}")),
                );
                nodes.push(LabNode {
                    name,
                    rack: r,
                    index: i,
                    addr: rack.lan.addrs[i],
                    node,
                });
            }
        }
        let mut lab = Lab {
            pods: Vec::new(),
            nodes,
            tors,
            etcd,
            etcd_ns,
            racks,
            dir,
        };
        lab.start_pods(options.pods_per_node);
        lab.wait_converged(options.converge_timeout);
        lab
    }

    /// The namespace of `node`.
    pub fn host(&self, node: &LabNode) -> &Netns {
        &self.racks.racks[node.rack].lan.hosts[node.index]
    }

    fn start_pods(&mut self, per_node: usize) {
        let pool = pool();
        let mut pods = Vec::new();
        for node in &self.nodes {
            for pod in pool.pods(self.host(node), &node.node, per_node) {
                pods.push(LabPod {
                    label: format!("p{}", pods.len() + 1),
                    node: node.name.clone(),
                    pod,
                });
            }
        }
        self.pods = pods;
    }

    /// The routes margay-node wrote into `node`'s kernel.
    pub fn kernel_routes(&self, node: &LabNode) -> Vec<KernelRoute> {
        margay_routes(self.host(node))
    }

    /// Each node's own blocks, read from its kernel (`blackhole <block> proto 77`).
    pub fn own_blocks(&self, node: &LabNode) -> Vec<String> {
        own_blocks(&self.kernel_routes(node))
    }

    /// Waits until the ToRs' sessions are Established and every node routes every other
    /// node's blocks: directly within its rack, via its ToR across racks.
    pub fn wait_converged(&self, timeout: Duration) {
        wait_until(timeout, "the lab to converge", || {
            for (r, bird) in self.tors.iter().enumerate() {
                let down: Vec<_> = bird
                    .protocols()
                    .into_iter()
                    .filter(|p| p.proto == "BGP" && !p.info.starts_with("Established"))
                    .collect();
                if !down.is_empty() {
                    return Err(format!("ToR r{r}: sessions not Established: {down:?}"));
                }
            }
            let tables: Vec<Vec<KernelRoute>> =
                self.nodes.iter().map(|n| self.kernel_routes(n)).collect();
            for (node, table) in self.nodes.iter().zip(&tables) {
                if own_blocks(table).is_empty() {
                    return Err(format!("{}: no own block (blackhole) yet", node.name));
                }
            }
            for (node, table) in self.nodes.iter().zip(&tables) {
                for (other, other_table) in self.nodes.iter().zip(&tables) {
                    if other.name == node.name {
                        continue;
                    }
                    let want = if other.rack == node.rack {
                        other.addr
                    } else {
                        self.racks.racks[node.rack].tor_addr
                    };
                    for block in own_blocks(other_table) {
                        let route = table.iter().find(|r| r.dst == block);
                        let native = route.is_some_and(|r| {
                            r.gateways == [want.to_string()] && r.dev.as_deref() == Some("eth0")
                        });
                        if !native {
                            let seen = route.map_or("none".to_owned(), ToString::to_string);
                            return Err(format!(
                                "{}: route to {block} ({}) is {seen}, want via {want} dev eth0",
                                node.name, other.name
                            ));
                        }
                    }
                }
            }
            Ok(())
        });
    }

    /// Pings every Pod from every other Pod.
    pub fn ping_matrix(&self) -> PingMatrix {
        let targets: Vec<PingTarget<'_>> = self
            .pods
            .iter()
            .map(|p| PingTarget {
                label: &p.label,
                node: &p.node,
                pod: &p.pod,
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
        names.extend(self.pods.iter().map(|p| p.pod.ns.name().to_owned()));
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

/// The own blocks (blackhole routes) in a node's table.
fn own_blocks(table: &[KernelRoute]) -> Vec<String> {
    table
        .iter()
        .filter(|r| r.is_blackhole())
        .map(|r| r.dst.clone())
        .collect()
}

/// The name of node `i` of rack `r`.
pub fn node_name(rack: usize, index: usize) -> String {
    format!("r{rack}-node{index}")
}
