//! `BGPPeer`: a BGP session to an address (a top-of-rack router) or to the nodes a selector
//! picks (route reflectors), for all nodes, one node, or the nodes a selector picks (DESIGN §5).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::selector::Selector;
use super::types::{Asn, FieldError, HoldTime, ResourceName, parse_ip};

/// `spec.password` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordDoc {
    /// File holding the TCP MD5 key.
    pub secret_file: String,
}

/// The `spec` of a BGPPeer as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPeerSpecDoc {
    /// The peer's address.
    #[serde(default, rename = "peerIP", skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<String>,
    /// The peer's AS (required with `peerIP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_number: Option<u32>,
    /// Peer with the nodes this selects instead of an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_selector: Option<String>,
    /// Only this node peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Only the nodes this selects peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    /// Hold time in seconds (0 or ≥ 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    /// TCP MD5 key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordDoc>,
    /// Session reset beyond this many prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prefixes: Option<u32>,
}

/// Who the session is with.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerTarget {
    /// A router at an address, with its AS.
    Address {
        /// Peer address.
        ip: IpAddr,
        /// Peer AS.
        asn: Asn,
    },
    /// Every node the selector picks (with that node's AS).
    Nodes(Selector),
}

/// Which nodes open the session.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerScope {
    /// Every node.
    Global,
    /// One node, by name.
    Node(String),
    /// The nodes a selector picks.
    Selected(Selector),
}

/// A validated BGPPeer.
#[derive(Debug, Clone, PartialEq)]
pub struct BgpPeer {
    /// `metadata.name`.
    pub name: ResourceName,
    /// The remote side.
    pub target: PeerTarget,
    /// The local side.
    pub scope: PeerScope,
    /// Hold time override.
    pub hold_time: Option<HoldTime>,
    /// TCP MD5 key file.
    pub password_file: Option<PathBuf>,
    /// Prefix limit.
    pub max_prefixes: Option<u32>,
    doc: BgpPeerSpecDoc,
}

impl BgpPeer {
    /// Validates `doc`.
    pub fn validate(name: ResourceName, doc: BgpPeerSpecDoc) -> Result<Self, FieldError> {
        let target = match (&doc.peer_ip, &doc.peer_selector) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "spec",
                    "peerIP and peerSelector are mutually exclusive; give one",
                ));
            }
            (None, None) => {
                return Err(FieldError::new(
                    "spec",
                    "a peer needs peerIP (a router) or peerSelector (nodes); neither is given",
                ));
            }
            (Some(ip), None) => {
                let ip = parse_ip(ip, "spec.peerIP")?;
                let asn = doc
                    .as_number
                    .ok_or_else(|| FieldError::new("spec.asNumber", "required with peerIP"))?;
                PeerTarget::Address {
                    ip,
                    asn: Asn::new(asn, "spec.asNumber")?,
                }
            }
            (None, Some(sel)) => {
                if let Some(asn) = doc.as_number {
                    return Err(FieldError::new(
                        "spec.asNumber",
                        format!(
                            "{asn}: not allowed with peerSelector (each selected node's own AS is used)"
                        ),
                    ));
                }
                PeerTarget::Nodes(
                    Selector::parse(sel)
                        .map_err(|e| FieldError::new("spec.peerSelector", e.to_string()))?,
                )
            }
        };
        let scope = match (&doc.node, &doc.node_selector) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "spec",
                    "node and nodeSelector are mutually exclusive; give one or neither",
                ));
            }
            (Some(node), None) => {
                ResourceName::new(node, "spec.node")?;
                PeerScope::Node(node.clone())
            }
            (None, Some(sel)) => PeerScope::Selected(
                Selector::parse(sel)
                    .map_err(|e| FieldError::new("spec.nodeSelector", e.to_string()))?,
            ),
            (None, None) => PeerScope::Global,
        };
        let hold_time = doc
            .hold_time
            .map(|h| HoldTime::new(h, "spec.holdTime"))
            .transpose()?;
        let password_file = match &doc.password {
            Some(p) if p.secret_file.is_empty() => {
                return Err(FieldError::new("spec.password.secretFile", "is empty"));
            }
            Some(p) => Some(PathBuf::from(&p.secret_file)),
            None => None,
        };
        if doc.max_prefixes == Some(0) {
            return Err(FieldError::new(
                "spec.maxPrefixes",
                "0 would reset every session; leave it out for no limit",
            ));
        }
        Ok(BgpPeer {
            name,
            target,
            scope,
            hold_time,
            password_file,
            max_prefixes: doc.max_prefixes,
            doc,
        })
    }

    /// The spec as written.
    pub fn doc(&self) -> &BgpPeerSpecDoc {
        &self.doc
    }

    /// Whether the node `name` with `labels` opens this session.
    pub fn applies_to(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match &self.scope {
            PeerScope::Global => true,
            PeerScope::Node(n) => n == name,
            PeerScope::Selected(sel) => sel.matches(labels),
        }
    }
}
