//! What every planned neighbor shares: the session's source address and families from the
//! local node's underlay addresses (MP-BGP, RFC 4760), our AS, and the per-`BGPPeer` options —
//! hold time (RFC 4271 §4.2), TCP MD5 key (RFC 2385) and prefix limit (RFC 4486).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnetwork::IpNetwork;
use margay_bgp::policy::MaxPrefix;
use margay_bgp::speaker::NeighborConfig;
use margay_bgp::transport::Md5Key;
use margay_bgp::wire::AfiSafi;

use crate::resources::{BgpPeer, Node};

/// Hold time when a `BGPPeer` sets none (DESIGN §5).
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// A `maxPrefixes` limit warns once this share of it is reached.
pub const MAX_PREFIX_WARNING_PERCENT: u8 = 90;
/// After a prefix limit closed a session, it is re-established after this long.
pub const MAX_PREFIX_RESTART_AFTER: Duration = Duration::from_secs(60);

/// This node's underlay address of `family_of`'s family, if it has one.
pub(super) fn local_address(local: &Node, family_of: IpAddr) -> Option<IpAddr> {
    match family_of {
        IpAddr::V4(_) => local.ipv4_address.map(|n| n.ip()),
        IpAddr::V6(_) => local.ipv6_address.map(|n| n.ip()),
    }
}

/// A neighbor at `address:port` in `remote_asn`, sourced from this node's underlay address of
/// the same family, with our AS set explicitly. The session carries its own family and, when
/// this node has an address of the other family, that one too with this node's address as
/// next hop (so IPv6 blocks travel over an IPv4 session and the reverse). `None` when this node
/// has no address of the session's family.
pub(super) fn neighbor(
    local: &Node,
    local_asn: u32,
    address: IpAddr,
    port: u16,
    remote_asn: u32,
) -> Option<NeighborConfig> {
    let local_addr = local_address(local, address)?;
    let mut n = NeighborConfig::new(address, remote_asn);
    n.port = port;
    n.local_asn = Some(local_asn);
    n.transport.local_addr = Some(local_addr);
    n.families = match address {
        IpAddr::V4(_) => {
            let mut families = vec![AfiSafi::IPV4_UNICAST];
            if let Some(IpNetwork::V6(v6)) = local.ipv6_address {
                families.push(AfiSafi::IPV6_UNICAST);
                n.next_hop_self_v6 = Some(v6.ip());
            }
            families
        }
        IpAddr::V6(_) => {
            let mut families = vec![AfiSafi::IPV6_UNICAST];
            if let Some(IpNetwork::V4(v4)) = local.ipv4_address {
                families.push(AfiSafi::IPV4_UNICAST);
                n.next_hop_self_v4 = Some(v4.ip());
            }
            families
        }
    };
    Some(n)
}

/// The session options a `BGPPeer` sets, resolved (key file read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeerOptions {
    hold_time: u16,
    md5_key: Option<Md5Key>,
    max_prefix: Option<MaxPrefix>,
}

impl PeerOptions {
    /// Applies these options to `neighbor`.
    pub(super) fn apply(&self, neighbor: &mut NeighborConfig) {
        neighbor.hold_time = self.hold_time;
        neighbor.transport.md5_key = self.md5_key.clone();
        neighbor.max_prefix = self.max_prefix;
    }
}

/// Reads TCP MD5 key files through the caller's reader, each file once per plan.
pub(super) struct SecretReader<'a> {
    read: &'a dyn Fn(&Path) -> io::Result<String>,
    keys: HashMap<PathBuf, Result<Md5Key, String>>,
}

impl<'a> SecretReader<'a> {
    pub(super) fn new(read: &'a dyn Fn(&Path) -> io::Result<String>) -> Self {
        SecretReader {
            read,
            keys: HashMap::new(),
        }
    }

    /// The key in `path`: the file's text without its trailing line break.
    fn key(&mut self, path: &Path) -> Result<Md5Key, String> {
        let read = self.read;
        self.keys
            .entry(path.to_owned())
            .or_insert_with(|| {
                let text = read(path).map_err(|e| {
                    format!("cannot read the TCP MD5 key file {}: {e}", path.display())
                })?;
                let key = text.trim_end_matches(['\n', '\r']);
                Md5Key::new(key.as_bytes())
                    .map_err(|e| format!("the TCP MD5 key in {} is unusable: {e}", path.display()))
            })
            .clone()
    }

    /// The options `peer` sets; an error names the peer, what is wrong and the value.
    pub(super) fn options(&mut self, peer: &BgpPeer) -> Result<PeerOptions, String> {
        let md5_key = peer
            .password_file
            .as_deref()
            .map(|path| self.key(path))
            .transpose()
            .map_err(|e| format!("BGPPeer/{}: {e}", peer.name))?;
        let max_prefix = peer
            .max_prefixes
            .map(|limit| {
                MaxPrefix::new(
                    limit,
                    MAX_PREFIX_WARNING_PERCENT,
                    Some(MAX_PREFIX_RESTART_AFTER),
                )
            })
            .transpose()
            .map_err(|e| format!("BGPPeer/{}: spec.maxPrefixes: {e}", peer.name))?;
        Ok(PeerOptions {
            hold_time: peer.hold_time.map_or(DEFAULT_HOLD_TIME, |h| h.seconds()),
            md5_key,
            max_prefix,
        })
    }
}
