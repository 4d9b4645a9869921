//! `Node`: what a node publishes about itself at start — underlay addresses and AS, route
//! reflector role, VXLAN tunnel address and MAC, and labels for selectors.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use super::types::{Asn, FieldError, MacAddr, ResourceName, check_label_key, parse_cidr, parse_ip};

/// `spec.bgp` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeBgpDoc {
    /// Underlay IPv4 address with prefix length, e.g. `172.18.1.10/24`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    /// Underlay IPv6 address with prefix length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    /// Per-node AS overriding the global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_number: Option<u32>,
    /// Non-empty: this node is a route reflector with this cluster ID (dotted quad).
    #[serde(
        default,
        rename = "routeReflectorClusterID",
        skip_serializing_if = "Option::is_none"
    )]
    pub route_reflector_cluster_id: Option<String>,
}

/// `spec.vxlan` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeVxlanDoc {
    /// The VTEP address (from IPAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_address: Option<String>,
    /// The VTEP MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// The `spec` of a Node as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpecDoc {
    /// BGP identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<NodeBgpDoc>,
    /// VXLAN identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<NodeVxlanDoc>,
    /// Labels for selectors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A validated Node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `metadata.name` (the node name).
    pub name: ResourceName,
    /// Underlay IPv4 address and subnet.
    pub ipv4_address: Option<IpNetwork>,
    /// Underlay IPv6 address and subnet.
    pub ipv6_address: Option<IpNetwork>,
    /// Per-node AS.
    pub as_number: Option<Asn>,
    /// Route reflector cluster ID (RFC 4456 §8), when the node reflects.
    pub route_reflector_cluster_id: Option<Ipv4Addr>,
    /// VTEP address.
    pub tunnel_address: Option<IpAddr>,
    /// VTEP MAC.
    pub vxlan_mac: Option<MacAddr>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    doc: NodeSpecDoc,
}

fn address_of_family(
    value: &Option<String>,
    path: &str,
    want_v4: bool,
) -> Result<Option<IpNetwork>, FieldError> {
    let Some(value) = value else { return Ok(None) };
    let net = parse_cidr(value, path)?;
    if net.is_ipv4() != want_v4 {
        let family = if want_v4 { "IPv4" } else { "IPv6" };
        return Err(FieldError::new(
            path,
            format!("{value:?} is not an {family} address"),
        ));
    }
    Ok(Some(net))
}

impl Node {
    /// Validates `doc`.
    pub fn validate(name: ResourceName, doc: NodeSpecDoc) -> Result<Self, FieldError> {
        let bgp = doc.bgp.clone().unwrap_or_default();
        let ipv4_address = address_of_family(&bgp.ipv4_address, "spec.bgp.ipv4Address", true)?;
        let ipv6_address = address_of_family(&bgp.ipv6_address, "spec.bgp.ipv6Address", false)?;
        let as_number = bgp
            .as_number
            .map(|v| Asn::new(v, "spec.bgp.asNumber"))
            .transpose()?;
        let route_reflector_cluster_id = match bgp.route_reflector_cluster_id.as_deref() {
            None | Some("") => None,
            Some(id) => Some(id.parse::<Ipv4Addr>().map_err(|_| {
                FieldError::new(
                    "spec.bgp.routeReflectorClusterID",
                    format!("{id:?} is not a cluster ID in dotted-quad form (e.g. 224.0.0.1)"),
                )
            })?),
        };
        let vxlan = doc.vxlan.clone().unwrap_or_default();
        let tunnel_address = vxlan
            .tunnel_address
            .as_deref()
            .map(|a| parse_ip(a, "spec.vxlan.tunnelAddress"))
            .transpose()?;
        let vxlan_mac = vxlan
            .mac
            .as_deref()
            .map(|m| MacAddr::parse(m, "spec.vxlan.mac"))
            .transpose()?;
        for key in doc.labels.keys() {
            check_label_key(key, &format!("spec.labels.{key}"))?;
        }
        Ok(Node {
            name,
            ipv4_address,
            ipv6_address,
            as_number,
            route_reflector_cluster_id,
            tunnel_address,
            vxlan_mac,
            labels: doc.labels.clone(),
            doc,
        })
    }

    /// The spec as written.
    pub fn doc(&self) -> &NodeSpecDoc {
        &self.doc
    }
}
