//! `PodPool`: the IPPool a scenario applies, and Pod addresses assigned from it the way the CNI
//! plugin will: through IPAM (margay_ipam, in process, against the scenario's etcd from inside
//! a namespace that reaches it) for a node, so they come from the node's affine block and need
//! no route of their own beyond the block's.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ipnetwork::IpNetwork;
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::{IpFamily, Ipam, IpamConfig, Keys, Pool};

use crate::netns::Netns;
use crate::topology::Pod;

use super::node::MargayNode;

/// Handles are `pod.<node>.<n>`; `n` is unique in this process.
static HANDLE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// An IPv4 IPPool of a scenario.
#[derive(Debug, Clone)]
pub struct PodPool {
    name: String,
    cidr: IpNetwork,
    block_size: u8,
}

impl PodPool {
    /// Pool `name` of `cidr` (IPv4) cut into `/block_size` blocks.
    pub fn new(name: &str, cidr: &str, block_size: u8) -> Self {
        let cidr: IpNetwork = cidr
            .parse()
            .unwrap_or_else(|e| panic!("PodPool {name}: cidr {cidr:?}: {e}"));
        Pool::new(cidr, Some(block_size))
            .unwrap_or_else(|e| panic!("PodPool {name}: {cidr} /{block_size}: {e}"));
        PodPool {
            name: name.to_owned(),
            cidr,
            block_size,
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its CIDR.
    pub fn cidr(&self) -> IpNetwork {
        self.cidr
    }

    /// The `IPPool` document with `encapsulation` (`none`, `vxlan`, `cross-subnet`, `auto`).
    pub fn yaml(&self, encapsulation: &str) -> String {
        format!(
            "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {{name: {}}}\n\
             spec: {{cidr: {}, blockSize: {}, encapsulation: {encapsulation}}}\n",
            self.name, self.cidr, self.block_size
        )
    }

    /// Assigns `count` addresses to `node` through IPAM, from inside `ns` (which must reach
    /// etcd at `etcd_endpoint`).
    pub fn allocate(
        &self,
        ns: &Netns,
        etcd_endpoint: &str,
        node: &str,
        count: usize,
    ) -> Vec<Ipv4Addr> {
        let pool = Pool::new(self.cidr, Some(self.block_size)).expect("checked in new");
        let assigned: Result<Vec<IpAddr>, String> = ns.block_on(async {
            let store = EtcdStore::connect(&EtcdConfig::new([etcd_endpoint]))
                .await
                .map_err(|e| e.to_string())?;
            let ipam = Ipam::new(Arc::new(store), Keys::default(), IpamConfig::default());
            let allocator = ipam
                .allocator(node, vec![pool])
                .map_err(|e| e.to_string())?;
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let n = HANDLE_COUNTER.fetch_add(1, Ordering::Relaxed);
                let handle = format!("pod.{node}.{}-{n}", std::process::id());
                let assignment = allocator
                    .assign(&handle, IpFamily::V4)
                    .await
                    .map_err(|e| format!("{handle}: {e}"))?;
                out.push(assignment.addr);
            }
            Ok(out)
        });
        assigned
            .unwrap_or_else(|e| {
                panic!(
                    "assigning {count} addresses to {node} from {}: {e}",
                    self.cidr
                )
            })
            .into_iter()
            .map(|addr| match addr {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => panic!("IPv4 pool {} assigned {v6}", self.cidr),
            })
            .collect()
    }

    /// `count` Pods on `host` (the namespace `node` runs in), addresses assigned to `node`.
    pub fn pods(&self, host: &Netns, node: &MargayNode, count: usize) -> Vec<Pod> {
        assert_eq!(
            host.name(),
            node.netns(),
            "Pods of {} belong in its own namespace",
            node.name()
        );
        self.allocate(host, node.options().etcd_endpoint(), node.name(), count)
            .into_iter()
            .map(|ip| Pod::new(host, &ip.to_string()))
            .collect()
    }
}
