//! What the VTEP should look like (DESIGN §4) and who its peers are, as plain data.

use std::fmt;
use std::net::IpAddr;

use crate::mac::Mac;

/// The device name of margay's VTEP.
pub const DEVICE_NAME: &str = "vxlan.margay";
/// margay's VXLAN network identifier.
pub const DEFAULT_VNI: u32 = 4096;
/// The IANA VXLAN port (RFC 7348 §5).
pub const DEFAULT_PORT: u16 = 4789;

/// A VXLAN network identifier: 24 bits (RFC 7348 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vni(u32);

/// A VNI outside 0..2^24.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VNI {0} does not fit in 24 bits (0..=16777215)")]
pub struct VniError(pub u32);

impl Vni {
    /// A VNI, if it fits in 24 bits.
    pub fn new(vni: u32) -> Result<Vni, VniError> {
        if vni < 1 << 24 {
            Ok(Vni(vni))
        } else {
            Err(VniError(vni))
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for Vni {
    fn default() -> Self {
        Vni(DEFAULT_VNI)
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The desired VTEP device of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtepConfig {
    /// Device name (`vxlan.margay`).
    pub name: String,
    /// VXLAN network identifier (4096).
    pub vni: Vni,
    /// UDP destination port (4789).
    pub port: u16,
    /// The node's underlay address: the outer source address, and how the uplink is found.
    pub local: IpAddr,
    /// The uplink's name; `None` means "the interface holding `local`".
    pub uplink: Option<String>,
    /// A configured MTU; `None` derives it from the uplink (see [`crate::vtep_mtu`]).
    pub mtu: Option<u32>,
    /// The device MAC ([`Mac::from_node_name`] of this node).
    pub mac: Mac,
    /// The node's tunnel address (from IPAM, handle `vtep.<node>`), put on the device as a
    /// host address; `None` leaves the device without one.
    pub tunnel_address: Option<IpAddr>,
    /// Turn TX checksum offload off on the device (`ethtool -K <dev> tx off`). Use it where
    /// the kernel/NIC combination miscomputes checksums of VXLAN packets whose inner packet
    /// was NATed (the bug behind 63-second delays for Service traffic in other VXLAN CNIs).
    pub tx_checksum_offload_off: bool,
}

impl VtepConfig {
    /// The defaults of DESIGN §4 for node `node_name` with underlay address `local`.
    pub fn for_node(node_name: &str, local: IpAddr) -> VtepConfig {
        VtepConfig {
            name: DEVICE_NAME.to_owned(),
            vni: Vni::default(),
            port: DEFAULT_PORT,
            local,
            uplink: None,
            mtu: None,
            mac: Mac::from_node_name(node_name),
            tunnel_address: None,
            tx_checksum_offload_off: false,
        }
    }
}

/// A remote node's VTEP: what a neighbour entry (`tunnel_ip → mac`) and an FDB entry
/// (`mac → underlay`) are made of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemoteVtep {
    /// The remote node's name.
    pub node: String,
    /// The remote node's underlay address (outer destination).
    pub underlay: IpAddr,
    /// The remote VTEP's tunnel address (the gateway of VXLAN routes).
    pub tunnel_ip: IpAddr,
    /// The remote VTEP's MAC.
    pub mac: Mac,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_range() {
        assert_eq!(Vni::new(4096).map(Vni::get), Ok(4096));
        assert_eq!(Vni::new((1 << 24) - 1).map(Vni::get), Ok(16_777_215));
        assert_eq!(Vni::new(1 << 24), Err(VniError(16_777_216)));
        assert_eq!(
            VniError(16_777_216).to_string(),
            "VNI 16777216 does not fit in 24 bits (0..=16777215)"
        );
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = VtepConfig::for_node("node-a", "10.0.0.1".parse().unwrap());
        assert_eq!(
            (c.name.as_str(), c.vni.get(), c.port),
            ("vxlan.margay", 4096, 4789)
        );
        assert_eq!(c.mac, Mac::from_node_name("node-a"));
    }
}
