//! The node harness: margay's own binaries as real processes in test namespaces, next to the
//! topology builders of [`crate::topology`], for the end-to-end scenarios (issue 7) and the lab.
//!
//! ```text
//!   Cluster ───── etcd + margayctl + pool, nodes added one by one, one Pod per node
//!   MargayNode ── margay-node in a host namespace (own API socket and log in the TestDir);
//!                 status()/routes() through `margayctl node status|routes -o json`,
//!                 SIGTERM with the exit code seen, start again on the same socket
//!   Margayctl ─── margayctl inside a namespace that reaches etcd (resources, IPAM, mode)
//!   PodPool ───── an IPPool document + Pod addresses from the node's affine block (IPAM, in
//!                 process) → harness `Pod`s
//!   kernel ────── what the node wrote: `ip route show proto 77`, VTEP neigh/FDB, VTEP counters
//!   ping ──────── a burst (`ping -i 0.01 -c N`) or a continuous 10 ms ping across a change,
//!                 with the loss counted per sequence number
//! ```
//!
//! The binaries are the cargo-built ones of the workspace ([`workspace_bin`]): `cargo test
//! --workspace` builds them; with `cargo test -p margay-tests` build them first
//! (`cargo build -p margay-daemon --bins`).

mod bins;
mod cluster;
mod ctl;
mod expect;
mod ipam;
mod kernel;
mod node;
mod ping;

pub use bins::workspace_bin;
pub use cluster::{Cluster, ClusterNode};
pub use ctl::Margayctl;
pub use expect::Expected;
pub use ipam::PodPool;
pub use kernel::{
    KernelRoute, MARGAY_PROTO, VTEP_DEVICE, VtepFdb, VtepNeighbour, margay_routes, vtep_fdb,
    vtep_neighbours, vtep_tx_packets,
};
pub use node::{MargayNode, NodeOptions, query_socket};
pub use ping::{ContinuousPing, PingStats, ping_burst, ping_matrix, wait_for_replies};
