//! The etcd key layout (DESIGN §6), under a configurable prefix (default `/margay/v1/`):
//!
//! ```text
//! <prefix>resources/<kind>/<name>          resource document (JSON)
//! <prefix>ipam/blocks/<cidr, / as ->       Block (JSON)
//! <prefix>ipam/affinities/<node>/<cidr->   "pending" | "confirmed"
//! <prefix>ipam/handles/<handle>            HandleRecord (JSON): block -> count
//! <prefix>liveness/<node>                  bound to the node's lease
//! ```

use ipnetwork::IpNetwork;

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "/margay/v1/";

/// Builds and parses keys under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(DEFAULT_PREFIX)
    }
}

/// A CIDR as a key segment: `10.244.0.0/26` → `10.244.0.0-26`.
pub fn cidr_segment(cidr: &IpNetwork) -> String {
    format!("{}-{}", cidr.network(), cidr.prefix())
}

/// The reverse of [`cidr_segment`].
pub fn parse_cidr_segment(segment: &str) -> Option<IpNetwork> {
    let (addr, len) = segment.rsplit_once('-')?;
    IpNetwork::new(addr.parse().ok()?, len.parse().ok()?).ok()
}

impl Keys {
    /// Keys under `prefix` (a trailing `/` is added when missing).
    pub fn new(prefix: &str) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Keys { prefix }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Everything IPAM owns.
    pub fn ipam(&self) -> String {
        format!("{}ipam/", self.prefix)
    }

    /// All blocks.
    pub fn blocks(&self) -> String {
        format!("{}ipam/blocks/", self.prefix)
    }

    /// One block.
    pub fn block(&self, cidr: &IpNetwork) -> String {
        format!("{}{}", self.blocks(), cidr_segment(cidr))
    }

    /// The block CIDR of a block key.
    pub fn parse_block(&self, key: &str) -> Option<IpNetwork> {
        parse_cidr_segment(key.strip_prefix(&self.blocks())?)
    }

    /// All affinities.
    pub fn affinities(&self) -> String {
        format!("{}ipam/affinities/", self.prefix)
    }

    /// One node's affinities.
    pub fn node_affinities(&self, node: &str) -> String {
        format!("{}{node}/", self.affinities())
    }

    /// One affinity.
    pub fn affinity(&self, node: &str, cidr: &IpNetwork) -> String {
        format!("{}{}", self.node_affinities(node), cidr_segment(cidr))
    }

    /// Node and block CIDR of an affinity key.
    pub fn parse_affinity(&self, key: &str) -> Option<(String, IpNetwork)> {
        let rest = key.strip_prefix(&self.affinities())?;
        let (node, segment) = rest.split_once('/')?;
        Some((node.to_owned(), parse_cidr_segment(segment)?))
    }

    /// All handles.
    pub fn handles(&self) -> String {
        format!("{}ipam/handles/", self.prefix)
    }

    /// One handle.
    pub fn handle(&self, handle: &str) -> String {
        format!("{}{handle}", self.handles())
    }

    /// The handle of a handle key.
    pub fn parse_handle<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.handles().as_str())
    }

    /// All liveness keys.
    pub fn liveness_all(&self) -> String {
        format!("{}liveness/", self.prefix)
    }

    /// A node's liveness key.
    pub fn liveness(&self, node: &str) -> String {
        format!("{}{node}", self.liveness_all())
    }

    /// All resources.
    pub fn resources(&self) -> String {
        format!("{}resources/", self.prefix)
    }

    /// All resources of a kind.
    pub fn resources_of(&self, kind: &str) -> String {
        format!("{}{kind}/", self.resources())
    }

    /// One resource.
    pub fn resource(&self, kind: &str, name: &str) -> String {
        format!("{}{name}", self.resources_of(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_design() {
        let keys = Keys::default();
        let v4: IpNetwork = "10.244.0.64/26".parse().unwrap();
        let v6: IpNetwork = "fd00:10::40/122".parse().unwrap();
        assert_eq!(keys.block(&v4), "/margay/v1/ipam/blocks/10.244.0.64-26");
        assert_eq!(keys.block(&v6), "/margay/v1/ipam/blocks/fd00:10::40-122");
        assert_eq!(keys.parse_block(&keys.block(&v6)), Some(v6));
        assert_eq!(
            keys.affinity("node-a", &v4),
            "/margay/v1/ipam/affinities/node-a/10.244.0.64-26"
        );
        assert_eq!(
            keys.parse_affinity(&keys.affinity("node-a", &v4)),
            Some(("node-a".to_string(), v4))
        );
        assert_eq!(keys.handle("pod.x"), "/margay/v1/ipam/handles/pod.x");
        assert_eq!(keys.liveness("node-a"), "/margay/v1/liveness/node-a");
        assert_eq!(
            keys.resource("IPPool", "p"),
            "/margay/v1/resources/IPPool/p"
        );
        assert_eq!(Keys::new("/x").blocks(), "/x/ipam/blocks/");
    }
}
