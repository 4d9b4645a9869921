//! margay-vxlan: the VXLAN tunnel endpoint (`vxlan.margay`) of a node and its per-remote-VTEP
//! neighbour and FDB entries (RFC 7348 encapsulation, programmed through netlink; DESIGN §4).
//!
//! - Pure: [`Mac::from_node_name`], [`vtep_mtu`], [`VtepConfig`], [`RemoteVtep`], the device
//!   drift check ([`device`]) and the entry diff ([`entries`]).
//! - Kernel: [`Vtep::ensure`] (create / validate / recreate the device) and
//!   [`Vtep::reconcile`] (device plus neighbour and FDB entries, list-diff-apply).

// netlink-packet-route's message types are `#[non_exhaustive]`: built from `Default` field by
// field.
#![allow(clippy::field_reassign_with_default)]

mod config;
pub mod device;
pub mod entries;
mod error;
mod mac;
mod mtu;
mod vtep;

pub use config::{DEFAULT_PORT, DEFAULT_VNI, DEVICE_NAME, RemoteVtep, Vni, VniError, VtepConfig};
pub use error::VtepError;
pub use mac::{Mac, MacParseError};
pub use mtu::{MIN_MTU, MtuError, OVERHEAD_IPV4, OVERHEAD_IPV6, overhead, vtep_mtu};
pub use rtnetlink::Handle;
pub use vtep::{DeviceAction, ReconcileReport, Vtep, connect};
