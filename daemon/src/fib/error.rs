//! The FIB writer's errors.

use std::io;
use std::path::PathBuf;

use ipnetwork::IpNetwork;

/// Linux errno values the writer tells apart (`asm-generic/errno-base.h`, `errno.h`).
pub mod errno {
    /// No such file or directory (a route to delete is gone).
    pub const ENOENT: i32 = 2;
    /// No such process (a route to delete is gone).
    pub const ESRCH: i32 = 3;
    /// File exists (a create met a route at the same key).
    pub const EEXIST: i32 = 17;
    /// No buffer space available (a netlink socket's receive queue overflowed).
    pub const ENOBUFS: i32 = 105;
}

/// Why the FIB writer could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum FibError {
    /// Opening or configuring a netlink socket failed.
    #[error("netlink socket: {what}: {source}")]
    Socket {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Sending to the kernel failed.
    #[error("netlink send of {bytes} bytes: {source}")]
    Send {
        /// The size of the send.
        bytes: usize,
        /// The OS error.
        source: io::Error,
    },
    /// Receiving from the kernel failed.
    #[error("netlink receive: {0}")]
    Recv(io::Error),
    /// The kernel sent bytes we cannot parse.
    #[error("netlink message from the kernel does not parse: {0}")]
    Decode(String),
    /// The kernel refused a route dump.
    #[error("route dump (family {family}) refused: {source}")]
    Dump {
        /// `inet` or `inet6`.
        family: &'static str,
        /// The kernel's error.
        source: io::Error,
    },
    /// Registering the protocol name failed.
    #[error("registering protocol {number} as {name:?} in {path}: {source}")]
    Register {
        /// The protocol number.
        number: u8,
        /// The name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A bad configuration value.
    #[error("FIB writer configuration: {0}")]
    Config(String),
    /// The writer task has stopped (it returned an error or was shut down).
    #[error("the FIB writer task has stopped")]
    Stopped,
}

/// A route the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFailure {
    /// The destination.
    pub dst: IpNetwork,
    /// `create`, `replace` or `delete`.
    pub op: &'static str,
    /// The kernel's errno.
    pub errno: i32,
}

impl std::fmt::Display for RouteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.op,
            self.dst,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}
