//! margay-ipam: Pod address management — pools, per-node blocks with affinity, per-Pod
//! addresses by handle — over a [`kv::Store`] trait with an etcd and an in-memory
//! implementation (DESIGN §6; key layout in [`keys`], algorithms in docs/datastore.md).
//!
//! ```text
//!   Ipam<S: Store> ── allocator(node, pools) ──► Allocator: assign(handle, family)
//!        │                                          (1 txn in steady state)
//!        ├── release_handle / release_address(guard) / release_empty_blocks / release_node
//!        ├── check(live handles) → CheckReport ── release(report) → RepairOutcome
//!        └── show(pools) → Usage (per pool, per block)
//! ```

pub mod allocator;
pub mod block;
pub mod check;
pub mod config;
pub mod error;
pub mod handle;
pub mod ipam;
pub mod keys;
pub mod kv;
pub mod pool;
pub mod release;
pub mod show;

pub use allocator::{Allocator, Assignment};
pub use block::{Allocation, Block};
pub use check::{CheckReport, RepairOutcome};
pub use config::IpamConfig;
pub use error::IpamError;
pub use ipam::{Ipam, StoredBlock};
pub use keys::Keys;
pub use pool::{BlockSize, IpFamily, Pool, PoolError};
pub use release::{AddressRelease, NodeRelease, ReleaseGuard};
pub use show::{BlockUsage, PoolUsage, Usage};
