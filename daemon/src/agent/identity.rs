//! What a node publishes about itself (DESIGN §6 `Node`, §4 VTEP): its underlay address and
//! subnet, its AS when configured, its labels, its VTEP MAC and tunnel address — the tunnel
//! address taken from IPAM with handle `vtep.<node>`, which is also how the node claims its
//! first block. Fields an operator set on the stored Node (route reflector cluster ID, labels
//! the node does not configure) are kept.

use std::collections::BTreeMap;
use std::net::IpAddr;

use margay_ipam::kv::Store;
use margay_ipam::{Assignment, IpFamily, Ipam, IpamError, Pool};
use margay_vxlan::Mac;

use crate::datastore::{Datastore, DatastoreError};
use crate::resources::node::{NodeBgpDoc, NodeVxlanDoc};
use crate::resources::{Kind, Node, NodeSpecDoc, Resource, ResourceName};
use crate::underlay::Underlay;

/// This node as configured and detected.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The node name.
    pub name: String,
    /// The detected underlay (the address family VXLAN and the route decision use).
    pub underlay: Underlay,
    /// The detected IPv6 underlay of a dual-stack node (published so that BGP sessions can
    /// carry IPv6 routes with an IPv6 next hop), if `underlay6` is configured.
    pub underlay6: Option<Underlay>,
    /// The configured AS (overrides the BGPConfiguration's), if any.
    pub as_number: Option<u32>,
    /// Configured labels.
    pub labels: BTreeMap<String, String>,
    /// The VTEP MAC (from the node name).
    pub mac: Mac,
}

/// The IPAM handle of the node's VTEP address.
pub fn vtep_handle(node: &str) -> String {
    format!("vtep.{node}")
}

impl Identity {
    /// The Node spec to store: `stored` (if any) with this node's own fields set.
    pub fn node_doc(&self, stored: Option<&NodeSpecDoc>, tunnel: Option<IpAddr>) -> NodeSpecDoc {
        let mut doc = stored.cloned().unwrap_or_default();
        let mut bgp = doc.bgp.take().unwrap_or_else(NodeBgpDoc::default);
        for underlay in std::iter::once(&self.underlay).chain(&self.underlay6) {
            let address = underlay.address.to_string();
            if underlay.address.is_ipv4() {
                bgp.ipv4_address = Some(address);
            } else {
                bgp.ipv6_address = Some(address);
            }
        }
        if self.as_number.is_some() {
            bgp.as_number = self.as_number;
        }
        doc.bgp = Some(bgp);
        let mut vxlan = doc.vxlan.take().unwrap_or_else(NodeVxlanDoc::default);
        vxlan.mac = Some(self.mac.to_string());
        vxlan.tunnel_address = tunnel.map(|t| t.to_string()).or(vxlan.tunnel_address);
        doc.vxlan = Some(vxlan);
        doc.labels
            .extend(self.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        doc
    }

    fn resource(&self, doc: NodeSpecDoc) -> Result<Resource, DatastoreError> {
        let invalid = |e: crate::resources::FieldError| DatastoreError::Invalid {
            id: format!("Node/{}", self.name),
            errors: vec![e.to_string()],
        };
        let name = ResourceName::new(&self.name, "metadata.name").map_err(invalid)?;
        Ok(Resource::Node(Node::validate(name, doc).map_err(invalid)?))
    }

    /// Creates or updates this node's `Node` resource; returns it as stored.
    pub async fn register<S: Store>(
        &self,
        datastore: &Datastore<S>,
        tunnel: Option<IpAddr>,
    ) -> Result<Node, DatastoreError> {
        let stored = match datastore.get(Kind::Node, &self.name).await? {
            None => {
                let resource = self.resource(self.node_doc(None, tunnel))?;
                match datastore.create(&resource).await {
                    Ok(_) => Some(resource),
                    // Someone created it between our read and our write: update it below.
                    Err(DatastoreError::Conflict { .. } | DatastoreError::AlreadyExists { .. }) => {
                        None
                    }
                    Err(e) => return Err(e),
                }
            }
            Some(_) => None,
        };
        let resource = match stored {
            Some(resource) => resource,
            None => {
                datastore
                    .update(Kind::Node, &self.name, |current| {
                        let Resource::Node(node) = current else {
                            unreachable!("a Node key holds a Node");
                        };
                        self.resource(self.node_doc(Some(node.doc()), tunnel))
                    })
                    .await?
                    .resource
            }
        };
        match resource {
            Resource::Node(node) => Ok(node),
            _ => unreachable!("registered a Node"),
        }
    }

    /// The VTEP tunnel address from IPAM (claiming a block when the node has none with room),
    /// or `None` when no pool of the underlay's family is open to this node.
    pub async fn claim_tunnel_address<S: Store>(
        &self,
        ipam: &Ipam<S>,
        pools: Vec<Pool>,
    ) -> Result<Option<Assignment>, IpamError> {
        let family = IpFamily::of(self.underlay.address.ip());
        if !pools
            .iter()
            .any(|p| !p.is_disabled() && p.family() == family)
        {
            return Ok(None);
        }
        let allocator = ipam.allocator(&self.name, pools)?;
        allocator
            .assign(&vtep_handle(&self.name), family)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            name: "node-a".into(),
            underlay: Underlay {
                interface: "eth0".into(),
                ifindex: 2,
                address: "172.18.1.10/24".parse().unwrap(),
            },
            underlay6: Some(Underlay {
                interface: "eth0".into(),
                ifindex: 2,
                address: "fd00:18:1::10/64".parse().unwrap(),
            }),
            as_number: Some(65010),
            labels: [("rack".to_owned(), "r1".to_owned())].into(),
            mac: Mac::from_node_name("node-a"),
        }
    }

    #[test]
    fn a_new_node_publishes_underlay_as_vtep_and_labels() {
        let doc = identity().node_doc(None, Some("10.244.1.0".parse().unwrap()));
        let bgp = doc.bgp.unwrap();
        assert_eq!(bgp.ipv4_address.as_deref(), Some("172.18.1.10/24"));
        assert_eq!(bgp.ipv6_address.as_deref(), Some("fd00:18:1::10/64"));
        assert_eq!(bgp.as_number, Some(65010));
        let vxlan = doc.vxlan.unwrap();
        assert_eq!(vxlan.tunnel_address.as_deref(), Some("10.244.1.0"));
        assert_eq!(
            vxlan.mac.unwrap(),
            Mac::from_node_name("node-a").to_string()
        );
        assert_eq!(doc.labels["rack"], "r1");
    }

    #[test]
    fn operator_fields_survive_registration() {
        let stored = NodeSpecDoc {
            bgp: Some(NodeBgpDoc {
                ipv4_address: Some("172.18.1.99/24".into()),
                route_reflector_cluster_id: Some("224.0.0.1".into()),
                ..Default::default()
            }),
            vxlan: Some(NodeVxlanDoc {
                tunnel_address: Some("10.244.1.0".into()),
                mac: None,
            }),
            labels: [("zone".to_owned(), "z1".to_owned())].into(),
        };
        let mut id = identity();
        id.as_number = None;
        let doc = id.node_doc(Some(&stored), None);
        let bgp = doc.bgp.unwrap();
        assert_eq!(bgp.ipv4_address.as_deref(), Some("172.18.1.10/24"));
        assert_eq!(bgp.route_reflector_cluster_id.as_deref(), Some("224.0.0.1"));
        assert_eq!(bgp.as_number, None);
        // The tunnel address stays while IPAM has not answered again.
        assert_eq!(
            doc.vxlan.unwrap().tunnel_address.as_deref(),
            Some("10.244.1.0")
        );
        assert_eq!(doc.labels.len(), 2);
    }
}
