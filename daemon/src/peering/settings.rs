//! A node's effective BGP settings (DESIGN §5, §6): `BGPConfiguration` `default`, overlaid by
//! `node.<name>`, then the Node's own `spec.bgp.asNumber`, then the DESIGN defaults.

use ipnetwork::IpNetwork;

use crate::resources::{BgpConfiguration, Community, ConfigScope, Node};

/// ASN when nothing configures one (DESIGN §5; a private ASN, RFC 6996).
pub const DEFAULT_ASN: u32 = 64512;
/// The BGP port (RFC 4271 §8.2.1).
pub const DEFAULT_LISTEN_PORT: u16 = 179;
/// Graceful-restart Restart Time when none is configured (DESIGN §5).
pub const DEFAULT_GRACEFUL_RESTART_SECONDS: u32 = 120;

/// This node's effective BGP settings: BGPConfiguration `default` overlaid by `node.<name>`,
/// then the Node's own `spec.bgp.asNumber` (per-node ASN wins), then DESIGN defaults (ASN
/// 64512, mesh on, port 179, GR 120 s, no service CIDRs, no communities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpSettings {
    /// Our AS.
    pub asn: u32,
    /// Whether this node takes part in the full iBGP node mesh.
    pub node_mesh: bool,
    /// The port this node's speaker listens on; other nodes connect to it.
    pub listen_port: u16,
    /// Graceful-restart Restart Time (RFC 4724 §3); 0 turns graceful restart off.
    pub graceful_restart_seconds: u32,
    /// Service CIDRs this node announces.
    pub service_cluster_ips: Vec<IpNetwork>,
    /// Communities attached to the routes this node announces.
    pub communities: Vec<Community>,
}

/// The `default` configuration and the one named `node.<node>`, if present.
fn layers<'a>(
    node: &Node,
    configs: &'a [BgpConfiguration],
) -> (Option<&'a BgpConfiguration>, Option<&'a BgpConfiguration>) {
    let global = configs.iter().find(|c| c.scope == ConfigScope::Global);
    let own = configs
        .iter()
        .find(|c| matches!(&c.scope, ConfigScope::Node(n) if n == node.name.as_str()));
    (global, own)
}

/// The first layer (node first, then global) that sets a field.
fn overlay<T>(
    own: Option<&BgpConfiguration>,
    global: Option<&BgpConfiguration>,
    field: impl Fn(&BgpConfiguration) -> Option<T>,
) -> Option<T> {
    own.and_then(&field).or_else(|| global.and_then(&field))
}

/// Effective settings of `node` under `configs`.
pub fn effective_settings(node: &Node, configs: &[BgpConfiguration]) -> BgpSettings {
    let (global, own) = layers(node, configs);
    // A list is set when it is written, even empty: `serviceClusterIPs: []` in `node.<name>`
    // clears the global list for that node.
    let service_cluster_ips = overlay(own, global, |c| {
        c.doc()
            .service_cluster_ips
            .is_some()
            .then(|| c.service_cluster_ips.clone())
    })
    .unwrap_or_default();
    let communities = overlay(own, global, |c| {
        c.doc().communities.is_some().then(|| c.communities.clone())
    })
    .unwrap_or_default();
    BgpSettings {
        asn: node_asn(node, configs),
        node_mesh: overlay(own, global, |c| c.node_mesh).unwrap_or(true),
        listen_port: overlay(own, global, |c| c.listen_port).unwrap_or(DEFAULT_LISTEN_PORT),
        graceful_restart_seconds: overlay(own, global, |c| c.graceful_restart_seconds)
            .unwrap_or(DEFAULT_GRACEFUL_RESTART_SECONDS),
        service_cluster_ips,
        communities,
    }
}

/// The ASN `node` uses: its own `spec.bgp.asNumber`, else its `node.<name>` configuration's,
/// else the `default` configuration's, else 64512.
pub fn node_asn(node: &Node, configs: &[BgpConfiguration]) -> u32 {
    let (global, own) = layers(node, configs);
    node.as_number
        .or_else(|| overlay(own, global, |c| c.as_number))
        .map_or(DEFAULT_ASN, |asn| asn.get())
}
