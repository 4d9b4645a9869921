//! `BGPConfiguration`: `default` (global) or `node.<name>` (per-node overrides) — ASN, mesh,
//! port, graceful restart, service CIDRs and communities (DESIGN §5).

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use super::types::{Asn, Community, FieldError, ResourceName, parse_aligned_cidr};

/// RFC 4724 §3: the Restart Time field is 12 bits.
pub const MAX_GRACEFUL_RESTART_SECONDS: u32 = 4095;

/// The `spec` of a BGPConfiguration as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpConfigurationSpecDoc {
    /// Default 64512 (global).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_number: Option<u32>,
    /// Full iBGP mesh between nodes; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_mesh: Option<bool>,
    /// Default 179.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_port: Option<u16>,
    /// Default 120; 0 turns graceful restart off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart_seconds: Option<u32>,
    /// Service CIDRs to announce.
    #[serde(
        default,
        rename = "serviceClusterIPs",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_cluster_ips: Option<Vec<String>>,
    /// Communities attached to exported routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<Vec<String>>,
}

/// Which nodes a BGPConfiguration applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigScope {
    /// `default`.
    Global,
    /// `node.<name>`.
    Node(String),
}

/// A validated BGPConfiguration; absent fields inherit (per node) or take the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BgpConfiguration {
    /// `metadata.name`.
    pub name: ResourceName,
    /// From the name.
    pub scope: ConfigScope,
    /// AS number.
    pub as_number: Option<Asn>,
    /// Node mesh on/off.
    pub node_mesh: Option<bool>,
    /// BGP port.
    pub listen_port: Option<u16>,
    /// Restart time, ≤ 4095.
    pub graceful_restart_seconds: Option<u32>,
    /// Aligned service CIDRs.
    pub service_cluster_ips: Vec<IpNetwork>,
    /// Export communities.
    pub communities: Vec<Community>,
    doc: BgpConfigurationSpecDoc,
}

impl BgpConfiguration {
    /// Validates `doc`.
    pub fn validate(name: ResourceName, doc: BgpConfigurationSpecDoc) -> Result<Self, FieldError> {
        let scope = match name.as_str() {
            "default" => ConfigScope::Global,
            other => match other.strip_prefix("node.") {
                Some(node) if !node.is_empty() => ConfigScope::Node(node.to_owned()),
                _ => {
                    return Err(FieldError::new(
                        "metadata.name",
                        format!(
                            "{other:?}: a BGPConfiguration is named \"default\" or \"node.<node name>\""
                        ),
                    ));
                }
            },
        };
        let as_number = doc
            .as_number
            .map(|v| Asn::new(v, "spec.asNumber"))
            .transpose()?;
        if doc.listen_port == Some(0) {
            return Err(FieldError::new("spec.listenPort", "0 is not a usable port"));
        }
        if let Some(gr) = doc.graceful_restart_seconds
            && gr > MAX_GRACEFUL_RESTART_SECONDS
        {
            return Err(FieldError::new(
                "spec.gracefulRestartSeconds",
                format!(
                    "{gr} exceeds {MAX_GRACEFUL_RESTART_SECONDS} (12-bit Restart Time, RFC 4724 §3)"
                ),
            ));
        }
        let service_cluster_ips = doc
            .service_cluster_ips
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| parse_aligned_cidr(s, &format!("spec.serviceClusterIPs[{i}]")))
            .collect::<Result<_, _>>()?;
        let communities = doc
            .communities
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| Community::parse(s, &format!("spec.communities[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(BgpConfiguration {
            name,
            scope,
            as_number,
            node_mesh: doc.node_mesh,
            listen_port: doc.listen_port,
            graceful_restart_seconds: doc.graceful_restart_seconds,
            service_cluster_ips,
            communities,
            doc,
        })
    }

    /// The spec as written.
    pub fn doc(&self) -> &BgpConfigurationSpecDoc {
        &self.doc
    }
}
