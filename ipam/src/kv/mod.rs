//! The generic key-value layer under IPAM and the daemon's resource datastore: etcd v3's data
//! model (revisions, `mod_revision`, `version`, multi-key transactions, prefix watches) behind
//! one [`Store`] trait, with a real etcd implementation ([`etcd::EtcdStore`]) and an in-memory
//! one ([`memory::MemStore`]) that keeps the same semantics, so every algorithm above it runs
//! unchanged against both.
//!
//! It lives here, in `margay-ipam`, because IPAM is its first user and the daemon already
//! depends on this crate (the reverse would be a cycle); `margay_daemon::datastore` builds the
//! resource store on the same trait, so CAS, retries and watch resumption exist once.
//!
//! ```text
//!   Ipam / Allocator ─┐                    ┌─ EtcdStore (etcd-client, TLS, user/password)
//!                     ├─► Store (get, list, ├─ MemStore  (BTreeMap + history, same rules)
//!   daemon::datastore ┘    txn, watch)      └─ CountingStore<S> (counts calls, for benches)
//!   Watcher: resumes from the last revision, re-lists after compaction
//!   Liveness: a key bound to a lease kept alive (etcd only)
//! ```

pub mod backoff;
pub mod counting;
pub mod etcd;
pub mod lease;
pub mod memory;
pub mod watch;

use std::future::Future;

use tokio::sync::mpsc;

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Full key.
    pub key: String,
    /// Raw value.
    pub value: Vec<u8>,
    /// Revision of the last write to this key.
    pub mod_revision: i64,
    /// Writes since the key was (re)created; 0 means absent.
    pub version: i64,
}

/// A consistent prefix listing at one store revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// Store revision the listing was taken at.
    pub revision: i64,
    /// Keys in order.
    pub kvs: Vec<KeyValue>,
}

/// A transaction guard (all must hold for the writes to happen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist (`version == 0`): create.
    Absent(String),
    /// The key was last written at exactly this revision: update/delete by CAS.
    ModRevision(String, i64),
}

/// A write in a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Put `value` at `key`.
    Put(String, Vec<u8>),
    /// Delete `key` (absent is fine).
    Delete(String),
}

/// One atomic multi-key write: when every compare holds, apply `writes`; otherwise read back
/// `read_on_conflict` so the caller can retry without another round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Txn {
    /// Guards.
    pub compares: Vec<Compare>,
    /// Writes applied on success.
    pub writes: Vec<Op>,
    /// Keys read back on conflict.
    pub read_on_conflict: Vec<String>,
}

impl Txn {
    /// A transaction with these guards and writes, reading back every guarded key on conflict.
    pub fn guarded(compares: Vec<Compare>, writes: Vec<Op>) -> Self {
        let read_on_conflict = compares
            .iter()
            .map(|c| match c {
                Compare::Absent(k) | Compare::ModRevision(k, _) => k.clone(),
            })
            .collect();
        Txn {
            compares,
            writes,
            read_on_conflict,
        }
    }
}

/// What a transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOutcome {
    /// All guards held; the writes are at this revision.
    Committed {
        /// The new store revision (the `mod_revision` of every key written).
        revision: i64,
    },
    /// A guard failed; nothing was written. The current values of `read_on_conflict`, in order
    /// (`None` for absent keys).
    Conflict {
        /// Current values.
        current: Vec<(String, Option<KeyValue>)>,
    },
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Created or updated.
    Put(KeyValue),
    /// Deleted at `mod_revision`.
    Delete {
        /// The key.
        key: String,
        /// Revision of the deletion.
        mod_revision: i64,
    },
}

impl Event {
    /// The key concerned.
    pub fn key(&self) -> &str {
        match self {
            Event::Put(kv) => &kv.key,
            Event::Delete { key, .. } => key,
        }
    }

    /// Revision of the change.
    pub fn mod_revision(&self) -> i64 {
        match self {
            Event::Put(kv) => kv.mod_revision,
            Event::Delete { mod_revision, .. } => *mod_revision,
        }
    }
}

/// What a raw watch stream delivers. The stream ending means the connection broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// Changes, in revision order.
    Events(Vec<Event>),
    /// The requested start revision was compacted away; history from `compact_revision` on
    /// remains, so the watcher must re-list.
    Compacted {
        /// Oldest revision still available.
        compact_revision: i64,
    },
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time (retry later).
    #[error("datastore unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (authentication, permission, limits).
    #[error("datastore refused the request: {0}")]
    Refused(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The etcd v3 data model, as IPAM and the resource datastore use it.
pub trait Store: Send + Sync + 'static {
    /// One key.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<KeyValue>, StoreError>> + Send;

    /// Every key under `prefix`, at one revision.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Listing, StoreError>> + Send;

    /// Every key under `prefix` without values (cheap scans).
    fn list_keys(&self, prefix: &str) -> impl Future<Output = Result<Listing, StoreError>> + Send;

    /// An atomic guarded write.
    fn txn(&self, txn: Txn) -> impl Future<Output = Result<TxnOutcome, StoreError>> + Send;

    /// Changes under `prefix` from `start_revision` (inclusive) on. The receiver closes when
    /// the connection breaks; [`watch::Watcher`] resumes and re-lists on top of this.
    fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
    ) -> impl Future<Output = Result<mpsc::Receiver<WatchItem>, StoreError>> + Send;

    /// Discards history before `revision`.
    fn compact(&self, revision: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}
