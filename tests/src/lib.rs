//! margay-tests: the network-namespace test harness every scenario, benchmark and the lab use.
//!
//! Rules (see `tests/README.md`): nothing is ever added to the root network namespace; traffic
//! goes only to loopback or to namespaces the test made; every name is unique per test; every
//! namespace, process and directory is owned by an RAII guard that cleans up even when the test
//! panics.
//!
//! ```text
//!   TestDir ── logs, configs, data dirs (kept and printed on failure)
//!   Netns ──── a host, switch, router or Pod; killed + deleted on drop
//!     └── Process ── a daemon inside a namespace (by PID), log tail on failure
//!   Lan / TwoLans / Racks / Pod ── topologies built from Netns + veth + bridges
//!   Etcd / Bird / Frr / GoBgp ──── real components with readiness waits and typed queries
//!   wait_until ── poll with a deadline; on timeout fail with the last state seen
//! ```

mod bird;
mod cmd;
mod etcd;
mod frr;
mod gobgp;
pub mod lab;
pub mod margay;
mod names;
mod netns;
mod pair;
mod process;
mod testdir;
mod topology;
mod wait;

pub use bird::{Bird, BirdProtocol, BirdRoute};
pub use cmd::{CmdError, run, run_ok};
pub use etcd::{Etcd, EtcdOptions};
pub use frr::Frr;
pub use gobgp::GoBgp;
pub use margay::{MargayNode, Margayctl, NodeOptions, PodPool};
pub use names::{NAME_PREFIX, leftovers_of, sweep_stale};
pub use netns::Netns;
pub use nix::sys::signal::Signal;
pub use pair::{Announcer, LEFT_ADDR, PeeredPair, RIGHT_ADDR};
pub use process::Process;
pub use testdir::TestDir;
pub use topology::{Lan, POD_GATEWAY, Pod, Rack, Racks, TwoLans};
pub use wait::{try_wait_until, wait_until, wait_until_async};
