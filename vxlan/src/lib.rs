//! margay-vxlan: the VXLAN tunnel endpoint (`vxlan.margay`) of a node and its per-remote-VTEP
//! neighbour and FDB entries (RFC 7348 encapsulation, programmed through netlink).
//!
//! Pure parts: [`Mac::from_node_name`], [`vtep_mtu`], [`VtepConfig`], [`RemoteVtep`].

mod config;
mod mac;
mod mtu;

pub use config::{DEFAULT_PORT, DEFAULT_VNI, DEVICE_NAME, RemoteVtep, Vni, VniError, VtepConfig};
pub use mac::{Mac, MacParseError};
pub use mtu::{MIN_MTU, MtuError, OVERHEAD_IPV4, OVERHEAD_IPV6, overhead, vtep_mtu};
