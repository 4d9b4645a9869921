//! The VTEP's errors.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::mtu::MtuError;

/// Why the VTEP could not be put in shape.
#[derive(Debug, thiserror::Error)]
pub enum VtepError {
    /// A netlink request failed.
    #[error("netlink: {what}: {source}")]
    Netlink {
        /// What we were doing.
        what: String,
        /// The error.
        source: rtnetlink::Error,
    },
    /// No interface holds the configured local address.
    #[error(
        "no interface holds the local address {0} (the VTEP's uplink is the interface that does)"
    )]
    NoUplinkFor(IpAddr),
    /// The configured uplink does not exist.
    #[error("uplink interface {0:?} not found")]
    UplinkNotFound(String),
    /// The uplink reported no MTU.
    #[error("uplink interface index {0} reports no MTU")]
    UplinkMtuUnknown(u32),
    /// The MTU does not fit.
    #[error(transparent)]
    Mtu(#[from] MtuError),
    /// Writing a sysctl failed.
    #[error("writing {path}: {source}")]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `ethtool` failed.
    #[error("ethtool -K {device} tx off: {message}")]
    Ethtool {
        /// The device.
        device: String,
        /// Its output or the spawn error.
        message: String,
    },
}

pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> VtepError {
    let what = what.into();
    move |source| VtepError::Netlink { what, source }
}

/// The errno of a netlink error reply (positive), if it is one.
pub(crate) fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}
