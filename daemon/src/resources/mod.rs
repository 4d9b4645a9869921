//! Cluster resources: `IPPool`, `BGPConfiguration`, `BGPPeer`, `Node`, `IPAMConfig` in the
//! kubectl shape of DESIGN §6 (`apiVersion: margay.io/v1`, `kind`, `metadata.name`, `spec`).
//!
//! Each kind has a `...SpecDoc` (the serde shape, `deny_unknown_fields`, camelCase, exactly what
//! was written) and a validated type built once from it, holding validated newtypes (`Asn`,
//! `BlockSize`, `Selector`, ...). Errors name the document, the resource, the field path and
//! the value. YAML is for humans, JSON for etcd; both go through [`document`].
//! Cross-resource checks (overlapping pools, duplicates) are in [`validate`].

pub mod bgp_configuration;
pub mod bgp_peer;
pub mod document;
pub mod ipam_config;
pub mod ippool;
pub mod node;
pub mod selector;
pub mod types;
pub mod validate;

use std::fmt;

pub use bgp_configuration::{BgpConfiguration, BgpConfigurationSpecDoc, ConfigScope};
pub use bgp_peer::{BgpPeer, BgpPeerSpecDoc, PeerScope, PeerTarget};
pub use document::{ResourceError, parse_json, parse_yaml, to_json, to_yaml};
pub use ipam_config::{IpamConfigResource, IpamConfigSpecDoc};
pub use ippool::{IpPool, IpPoolSpecDoc, ipam_pools_for};
pub use node::{Node, NodeSpecDoc};
pub use selector::{Selector, SelectorError};
pub use types::{
    Asn, Community, Encapsulation, EncapsulationParseError, FieldError, HoldTime, MacAddr,
    ResourceName,
};
pub use validate::{SetError, validate_set};

/// The only API version.
pub const API_VERSION: &str = "margay.io/v1";

/// The resource kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `IPPool`.
    IpPool,
    /// `BGPConfiguration`.
    BgpConfiguration,
    /// `BGPPeer`.
    BgpPeer,
    /// `Node`.
    Node,
    /// `IPAMConfig`.
    IpamConfig,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::IpPool,
        Kind::BgpConfiguration,
        Kind::BgpPeer,
        Kind::Node,
        Kind::IpamConfig,
    ];

    /// The name used in `kind:` and in etcd keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IpPool => "IPPool",
            Kind::BgpConfiguration => "BGPConfiguration",
            Kind::BgpPeer => "BGPPeer",
            Kind::Node => "Node",
            Kind::IpamConfig => "IPAMConfig",
        }
    }

    /// The kind called `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated resource of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// An IPPool.
    IpPool(IpPool),
    /// A BGPConfiguration.
    BgpConfiguration(BgpConfiguration),
    /// A BGPPeer.
    BgpPeer(BgpPeer),
    /// A Node.
    Node(Node),
    /// The IPAMConfig.
    IpamConfig(IpamConfigResource),
}

impl Resource {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::IpPool(_) => Kind::IpPool,
            Resource::BgpConfiguration(_) => Kind::BgpConfiguration,
            Resource::BgpPeer(_) => Kind::BgpPeer,
            Resource::Node(_) => Kind::Node,
            Resource::IpamConfig(_) => Kind::IpamConfig,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &ResourceName {
        match self {
            Resource::IpPool(r) => &r.name,
            Resource::BgpConfiguration(r) => &r.name,
            Resource::BgpPeer(r) => &r.name,
            Resource::Node(r) => &r.name,
            Resource::IpamConfig(r) => &r.name,
        }
    }

    /// `Kind/name`, as in messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}
