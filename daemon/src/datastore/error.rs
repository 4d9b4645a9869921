//! Datastore errors.

use margay_ipam::kv::StoreError;

use crate::resources::ResourceError;

/// Why a datastore call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatastoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document did not decode.
    #[error(transparent)]
    Decode(#[from] ResourceError),
    /// `create` of an existing name.
    #[error("{id} already exists")]
    AlreadyExists {
        /// `Kind/name`.
        id: String,
    },
    /// No such resource.
    #[error("{id} not found")]
    NotFound {
        /// `Kind/name`.
        id: String,
    },
    /// Changed since it was read.
    #[error("{id} changed since revision {expected} (now at {current}); read it again")]
    Conflict {
        /// `Kind/name`.
        id: String,
        /// The revision the caller had.
        expected: i64,
        /// The stored revision.
        current: i64,
    },
    /// Concurrent writers kept winning.
    #[error("{id}: gave up after {attempts} conflicting writes")]
    TooManyConflicts {
        /// `Kind/name`.
        id: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Conflicts with stored resources.
    #[error("{id} conflicts with stored resources: {}", errors.join("; "))]
    Invalid {
        /// `Kind/name`.
        id: String,
        /// Each conflict.
        errors: Vec<String>,
    },
    /// An update changed the kind or name.
    #[error("an update may not rename {from} to {to}")]
    Renamed {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
}
