//! `IPPool`: a CIDR that IPAM carves into per-node blocks, with its encapsulation mode
//! (DESIGN §3, §6).

use std::collections::BTreeMap;

use ipnetwork::IpNetwork;
use margay_ipam::pool::{BlockSize, IpFamily, Pool};
use serde::{Deserialize, Serialize};

use super::selector::Selector;
use super::types::{Encapsulation, FieldError, ResourceName, parse_aligned_cidr};

/// The `spec` of an IPPool as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpPoolSpecDoc {
    /// The pool CIDR, e.g. `10.244.0.0/16`.
    pub cidr: String,
    /// Block prefix length (20..=32 / 116..=128); default 26 / 122.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u8>,
    /// Default `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encapsulation: Option<Encapsulation>,
    /// Masquerade traffic leaving the pool; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_outgoing: Option<bool>,
    /// No new addresses from this pool; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Which nodes may take blocks from it; default `all()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
}

/// A validated IPPool.
#[derive(Debug, Clone, PartialEq)]
pub struct IpPool {
    /// `metadata.name`.
    pub name: ResourceName,
    /// Aligned pool CIDR.
    pub cidr: IpNetwork,
    /// Validated block size.
    pub block_size: BlockSize,
    /// Encapsulation mode.
    pub encapsulation: Encapsulation,
    /// Masquerade outgoing traffic.
    pub nat_outgoing: bool,
    /// Closed for new assignments.
    pub disabled: bool,
    /// Nodes allowed to use the pool.
    pub node_selector: Selector,
    doc: IpPoolSpecDoc,
}

impl IpPool {
    /// Validates `doc`; errors name the field and the value.
    pub fn validate(name: ResourceName, doc: IpPoolSpecDoc) -> Result<Self, FieldError> {
        let cidr = parse_aligned_cidr(&doc.cidr, "spec.cidr")?;
        let family = IpFamily::of_net(&cidr);
        let block_size = match doc.block_size {
            Some(size) => BlockSize::new(size, family)
                .map_err(|e| FieldError::new("spec.blockSize", e.to_string()))?,
            None => BlockSize::default_for(family),
        };
        let pool = Pool::new(cidr, Some(block_size.prefix()))
            .map_err(|e| FieldError::new("spec.blockSize", e.to_string()))?;
        let node_selector = match &doc.node_selector {
            Some(s) => Selector::parse(s)
                .map_err(|e| FieldError::new("spec.nodeSelector", e.to_string()))?,
            None => Selector::all(),
        };
        Ok(IpPool {
            name,
            cidr: pool.cidr(),
            block_size,
            encapsulation: doc.encapsulation.unwrap_or_default(),
            nat_outgoing: doc.nat_outgoing.unwrap_or(false),
            disabled: doc.disabled.unwrap_or(false),
            node_selector,
            doc,
        })
    }

    /// The spec as written.
    pub fn doc(&self) -> &IpPoolSpecDoc {
        &self.doc
    }

    /// The IPAM view of this pool.
    pub fn to_ipam_pool(&self) -> Pool {
        Pool::new(self.cidr, Some(self.block_size.prefix()))
            .expect("validated at load")
            .disabled(self.disabled)
    }

    /// Whether a node with `labels` may take blocks from this pool.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.node_selector.matches(labels)
    }
}

/// The IPAM pools a node with `labels` may take blocks from (those whose `nodeSelector`
/// picks it), in the order given; disabled pools are included (marked disabled) so that
/// `ipam show` and `check` still see them.
pub fn ipam_pools_for(pools: &[IpPool], labels: &BTreeMap<String, String>) -> Vec<Pool> {
    pools
        .iter()
        .filter(|p| p.selects(labels))
        .map(IpPool::to_ipam_pool)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, cidr: &str, selector: Option<&str>, disabled: bool) -> IpPool {
        let doc = IpPoolSpecDoc {
            cidr: cidr.into(),
            node_selector: selector.map(str::to_owned),
            disabled: Some(disabled),
            ..Default::default()
        };
        IpPool::validate(ResourceName::new(name, "metadata.name").unwrap(), doc).unwrap()
    }

    #[test]
    fn pools_follow_the_node_selector() {
        let pools = [
            pool("all", "10.0.0.0/16", None, false),
            pool("r1", "10.1.0.0/16", Some("rack == 'r1'"), false),
            pool("old", "10.2.0.0/16", Some("all()"), true),
        ];
        let r1: BTreeMap<String, String> = [("rack".to_string(), "r1".to_string())].into();
        let chosen = ipam_pools_for(&pools, &r1);
        let cidrs: Vec<String> = chosen.iter().map(|p| p.cidr().to_string()).collect();
        assert_eq!(cidrs, ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]);
        assert!(chosen[2].is_disabled() && !chosen[0].is_disabled());
        assert_eq!(ipam_pools_for(&pools, &BTreeMap::new()).len(), 2);
    }
}
