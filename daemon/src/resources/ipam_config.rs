//! `IPAMConfig` (name `default`): cluster-wide IPAM settings.

use margay_ipam::IpamConfig;
use serde::{Deserialize, Serialize};

use super::types::{FieldError, ResourceName};

/// The `spec` of IPAMConfig as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpamConfigSpecDoc {
    /// Default true: never borrow addresses from another node's block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_affinity: Option<bool>,
    /// Blocks per node and family; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_blocks_per_node: Option<u32>,
}

/// A validated IPAMConfig.
#[derive(Debug, Clone, PartialEq)]
pub struct IpamConfigResource {
    /// Always `default`.
    pub name: ResourceName,
    /// The IPAM settings.
    pub config: IpamConfig,
    doc: IpamConfigSpecDoc,
}

impl IpamConfigResource {
    /// Validates `doc`.
    pub fn validate(name: ResourceName, doc: IpamConfigSpecDoc) -> Result<Self, FieldError> {
        if name.as_str() != "default" {
            return Err(FieldError::new(
                "metadata.name",
                format!(
                    "{:?}: the IPAMConfig must be named \"default\"",
                    name.as_str()
                ),
            ));
        }
        if doc.max_blocks_per_node == Some(0) {
            return Err(FieldError::new(
                "spec.maxBlocksPerNode",
                "0 would forbid every block; leave it out for no limit",
            ));
        }
        Ok(IpamConfigResource {
            name,
            config: IpamConfig {
                strict_affinity: doc.strict_affinity.unwrap_or(true),
                max_blocks_per_node: doc.max_blocks_per_node,
            },
            doc,
        })
    }

    /// The spec as written.
    pub fn doc(&self) -> &IpamConfigSpecDoc {
        &self.doc
    }
}
