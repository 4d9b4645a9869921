//! `Cluster`: what every end-to-end scenario starts from — etcd inside a namespace the nodes
//! can reach, margayctl next to it, an IPv4 pool applied, then margay-nodes added one by one
//! (each waited for until it has its VTEP and one block) with one Pod each from that block.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnetwork::IpNetwork;

use crate::etcd::Etcd;
use crate::netns::Netns;
use crate::testdir::TestDir;
use crate::topology::{Pod, TwoLans};

use super::ctl::Margayctl;
use super::expect::Expected;
use super::ipam::PodPool;
use super::node::{MargayNode, NodeOptions};

/// How long a node may take to be ready after it answers on its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The scenarios' pool.
const POOL_CIDR: &str = "10.244.0.0/16";
/// Its block size.
const BLOCK_SIZE: u8 = 26;

/// One node of a cluster and what the others know about it.
#[derive(Debug)]
pub struct ClusterNode {
    /// The running margay-node.
    pub node: MargayNode,
    /// Its underlay address with the prefix length of its subnet.
    pub underlay: IpNetwork,
    /// Its one block.
    pub block: IpNetwork,
    /// Its VTEP's tunnel address.
    pub tunnel: IpAddr,
    /// A Pod on it, addressed from its block.
    pub pod: Pod,
}

impl ClusterNode {
    /// Whether `other`'s underlay address is on this node's subnet (DESIGN §3: direct).
    pub fn shares_subnet_with(&self, other: &ClusterNode) -> bool {
        self.underlay.contains(other.underlay.ip())
    }

    /// The route this node should have to `other`'s block without BGP paths from a router
    /// (`cross-subnet`, or `auto` with no ToR): direct on the same subnet, else VXLAN.
    pub fn cross_subnet_route_to(&self, other: &ClusterNode) -> Expected {
        if self.shares_subnet_with(other) {
            Expected::Direct(other.underlay.ip())
        } else {
            Expected::Vxlan(other.tunnel)
        }
    }
}

/// etcd, margayctl, the pool and the nodes of one scenario.
#[derive(Debug)]
pub struct Cluster {
    /// The nodes, in the order added (dropped first: their Pods and processes go before etcd).
    pub nodes: Vec<ClusterNode>,
    /// margayctl next to etcd.
    pub ctl: Margayctl,
    /// The pool (`default-ipv4`, 10.244.0.0/16, /26 blocks).
    pub pool: PodPool,
    /// etcd.
    pub etcd: Etcd,
}

impl Cluster {
    /// etcd in `etcd_ns` listening on `etcd_ip` (an address the namespace already has), and
    /// the pool applied with encapsulation `mode`.
    pub fn new(dir: &TestDir, etcd_ns: &Netns, etcd_ip: Ipv4Addr, mode: &str) -> Self {
        let etcd = Etcd::start_in(dir, etcd_ns, IpAddr::V4(etcd_ip));
        let ctl = Margayctl::new(etcd_ns, &etcd.endpoint());
        let pool = PodPool::new("default-ipv4", POOL_CIDR, BLOCK_SIZE);
        ctl.apply(dir, "pool.yaml", &pool.yaml(mode));
        Cluster {
            nodes: Vec::new(),
            ctl,
            pool,
            etcd,
        }
    }

    /// The three-node cluster of the subnet scenarios: etcd on `net`'s router (which knows no
    /// Pod routes), pool in `mode`, nodes a0 and a1 on subnet A and b0 on subnet B, each with
    /// one Pod; returns once every node has its two mesh sessions Established.
    pub fn across_a_router(dir: &TestDir, net: &TwoLans, mode: &str) -> Self {
        let mut cluster = Cluster::new(dir, &net.router, net.a.addr(254), mode);
        let hosts = [&net.a.hosts[0], &net.a.hosts[1], &net.b.hosts[0]];
        for (host, name) in hosts.into_iter().zip(["a0", "a1", "b0"]) {
            let options = cluster.options(name);
            cluster.add_node(dir, host, options);
        }
        for n in &cluster.nodes {
            n.node.wait_established(2, READY_TIMEOUT);
        }
        cluster
    }

    /// Options for a node called `name` using this cluster's etcd.
    pub fn options(&self, name: &str) -> NodeOptions {
        NodeOptions::new(name, &self.etcd.endpoint())
    }

    /// Starts margay-node in `host` with `options`, waits until it has its VTEP and one block,
    /// gives it a Pod; returns its index.
    pub fn add_node(&mut self, dir: &TestDir, host: &Netns, options: NodeOptions) -> usize {
        let node = MargayNode::start(host, dir, options);
        let block = node.wait_single_block(READY_TIMEOUT);
        let status = node.status();
        let tunnel = status
            .vtep
            .unwrap_or_else(|| panic!("{} is ready without a VTEP", node.name()))
            .tunnel_address;
        let pod = self.pool.pods(host, &node, 1).remove(0);
        assert!(
            block.contains(IpAddr::V4(pod.ip)),
            "Pod {} of {} is not in its block {block}",
            pod.ip,
            node.name()
        );
        self.nodes.push(ClusterNode {
            node,
            underlay: status.underlay,
            block,
            tunnel,
            pod,
        });
        self.nodes.len() - 1
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &MargayNode {
        &self.nodes[i].node
    }

    /// Every node's Pod.
    pub fn pods(&self) -> Vec<&Pod> {
        self.nodes.iter().map(|n| &n.pod).collect()
    }

    /// What node `me` should have for every block: its own blackholed, the others as
    /// `remote(me, other)` says.
    pub fn expected(
        &self,
        me: usize,
        remote: impl Fn(&ClusterNode, &ClusterNode) -> Expected,
    ) -> Vec<(IpNetwork, Expected)> {
        let mine = &self.nodes[me];
        self.nodes
            .iter()
            .enumerate()
            .map(|(j, other)| {
                let want = if j == me {
                    Expected::Own
                } else {
                    remote(mine, other)
                };
                (other.block, want)
            })
            .collect()
    }

    /// Waits until every node routes every block as `remote(me, other)` says.
    pub fn wait_routes(
        &self,
        timeout: Duration,
        remote: impl Fn(&ClusterNode, &ClusterNode) -> Expected,
    ) {
        for (i, n) in self.nodes.iter().enumerate() {
            n.node
                .wait_block_routes(&self.expected(i, &remote), timeout);
        }
    }
}
