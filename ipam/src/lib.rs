//! margay-ipam: Pod address management — pools, per-node blocks with affinity, per-Pod
//! addresses by handle — over a `Store` trait with an etcd and an in-memory implementation.

pub mod config;
pub mod pool;

pub use config::IpamConfig;
pub use pool::{BlockSize, IpFamily, Pool, PoolError};
