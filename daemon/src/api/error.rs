//! What can go wrong serving or calling the local API; every error names the socket path.
//! The I/O cause is part of each message (not a separate `source`), so `{:#}` chains do not
//! print it twice.

use std::path::PathBuf;
use std::time::Duration;

/// A local API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The socket's directory could not be created.
    #[error("creating the API socket directory {dir}: {error}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Something that is not a socket is in the way.
    #[error("API socket {path}: a file that is not a socket is in the way; remove it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// A live margay-node already serves on the path.
    #[error("API socket {path}: {who} is already serving on it")]
    InUse {
        /// The path.
        path: PathBuf,
        /// Who answered (`margay-node of node "node-a"`).
        who: String,
    },
    /// A live process accepts connections on the path but does not answer as margay-node.
    #[error(
        "API socket {path}: a process accepts connections on it but does not answer as \
         margay-node ({why}); stop it or remove the socket"
    )]
    Occupied {
        /// The path.
        path: PathBuf,
        /// What it did instead.
        why: String,
    },
    /// Setting up the listening socket failed.
    #[error("API socket {path}: {action}: {error}")]
    Listen {
        /// The path.
        path: PathBuf,
        /// What was being done (`bind`, `chmod 0600`, `rename into place`).
        action: &'static str,
        /// Why.
        error: std::io::Error,
    },
    /// The client could not connect.
    #[error("cannot connect to the API socket {path}: {error}; is margay-node running?")]
    Connect {
        /// The path.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// No reply in time.
    #[error("no reply on the API socket {path} within {after:?}; is margay-node running?")]
    Timeout {
        /// The path.
        path: PathBuf,
        /// The time waited.
        after: Duration,
    },
    /// Reading or writing the connection failed.
    #[error("API socket {path}: {error}; is margay-node running?")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The server closed the connection without replying.
    #[error("API socket {path}: closed without a reply; is margay-node running?")]
    Closed {
        /// The path.
        path: PathBuf,
    },
    /// The reply line is not a [`super::Reply`].
    #[error("API socket {path}: the reply {line:?} is not valid: {why}")]
    BadReply {
        /// The path.
        path: PathBuf,
        /// The line (cut to 200 characters).
        line: String,
        /// The JSON error.
        why: String,
    },
}
