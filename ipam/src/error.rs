//! IPAM errors: each names what was asked and what stood in the way.

use std::net::IpAddr;

use crate::kv::StoreError;
use crate::pool::IpFamily;

/// Why an IPAM call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The datastore failed (see [`StoreError::is_transient`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No enabled pool of the family was given to the allocator.
    #[error("no enabled {family} pool is configured for node {node}")]
    NoPool {
        /// Requested family.
        family: IpFamily,
        /// The node.
        node: String,
    },
    /// Every block of every pool is taken and the node's own blocks are full.
    #[error(
        "{family} pool(s) {pools} exhausted: no unclaimed block left and node {node}'s blocks are full"
    )]
    PoolExhausted {
        /// Requested family.
        family: IpFamily,
        /// The node.
        node: String,
        /// The pools tried.
        pools: String,
    },
    /// The node holds the maximum number of blocks and they are full.
    #[error("node {node} holds {held} {family} block(s), the limit is {limit}, and they are full")]
    BlockLimit {
        /// The node.
        node: String,
        /// Requested family.
        family: IpFamily,
        /// Blocks held.
        held: u32,
        /// `IPAMConfig.maxBlocksPerNode`.
        limit: u32,
    },
    /// Concurrent writers kept winning.
    #[error("gave up on {what} after {attempts} conflicting writes")]
    TooManyConflicts {
        /// What was being written.
        what: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A handle or node name that cannot be used as a key.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// `handle` or `node`.
        what: &'static str,
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A stored value could not be decoded.
    #[error("{key}: stored value is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// The handle's record points at a block that does not hold an address for it.
    #[error(
        "handle {handle} records block {block}, which holds no address for it (run `ipam check`)"
    )]
    HandleInconsistent {
        /// The handle.
        handle: String,
        /// The block.
        block: String,
    },
    /// The address is not inside any block.
    #[error("{addr} is not inside any block")]
    NoBlockFor {
        /// The address.
        addr: IpAddr,
    },
}
