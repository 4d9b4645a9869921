//! bgperf: BGP daemons measured the bgperf way — a feeder speaker → the daemon under test → a
//! monitor speaker, each in its own network namespace — plus a route-reflector shape with
//! many clients. Run it with `cargo build --release -p margay-bench --bins &&
//! target/release/bgperf` (as root; `--bins` also builds `margay-bgp`, margay's speaker as a
//! daemon under test); see `docs/benchmarks.md` for what each number means.
//!
//! The feeder and the monitor are **benchmark tooling**: a minimal scripted BGP session built
//! on the committed wire codec and connection I/O (`margay_bgp::wire`,
//! `margay_bgp::session::io`), not margay's session FSM (`bgp/src/fsm`, `bgp/src/session`).
//!
//! | file | owns |
//! |---|---|
//! | `prefixes.rs` | the announced /24 blocks and the receivers' tallies |
//! | `updates.rs` | pre-encoded, densely packed UPDATEs |
//! | `speaker.rs` | sockets in namespaces, the OPEN/KEEPALIVE script, feeder and monitor roles |
//! | `procstat.rs` | a daemon's CPU time and memory from procfs |
//! | `dut.rs` | the daemons under test and their configs |
//! | `route_server.rs`, `route_reflector.rs` | the two shapes, one run each |
//! | `report.rs` | medians and the tables |

pub mod dut;
pub mod prefixes;
pub mod procstat;
pub mod report;
pub mod route_reflector;
pub mod route_server;
pub mod speaker;
pub mod updates;

use std::net::Ipv4Addr;
use std::time::Duration;

use dut::RunningDut;
use prefixes::{PrefixBlock, PrefixBlockError};
use procstat::{ProcError, ProcSample};
use speaker::SpeakerError;

/// The first announced prefix: blocks run upwards from 32.0.0.0/24 (a million /24s end at
/// 47.255.255.0/24), clear of the 10/8 link addresses.
pub const FIRST_PREFIX: Ipv4Addr = Ipv4Addr::new(32, 0, 0, 0);

/// Lines of the daemon's log attached to a failed run.
const LOG_LINES: usize = 20;

/// Limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// For connecting and the OPEN exchange.
    pub establish_timeout: Duration,
    /// From the first UPDATE to a complete tally.
    pub converge_timeout: Duration,
    /// The route-server feeder's announcement order (route-reflector clients send their few
    /// prefixes in order).
    pub feed_order: updates::FeedOrder,
}

/// Why a run produced no sample.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Speaker(#[from] SpeakerError),
    #[error(transparent)]
    Proc(#[from] ProcError),
    #[error(transparent)]
    Prefixes(#[from] PrefixBlockError),
    #[error("socket setup: {0}")]
    Socket(std::io::Error),
    #[error("bad shape: {0}")]
    Shape(String),
    #[error("timed out after {waited:?} waiting for {what}; last state: {state}")]
    Timeout {
        what: String,
        waited: Duration,
        state: String,
    },
    #[error("{error}\n--- last lines of the daemon's log ---\n{log}")]
    WithLog { error: Box<RunError>, log: String },
}

impl RunError {
    /// Attaches the tail of the daemon's log.
    fn with_log(self, daemon: &mut RunningDut) -> Self {
        RunError::WithLog {
            error: Box::new(self),
            log: daemon.log_tail(LOG_LINES),
        }
    }
}

/// What converging cost the daemon: CPU time from the first UPDATE to convergence, its peak
/// resident set, and its resident set just before the first UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub cpu: Duration,
    pub peak_rss: u64,
    pub baseline_rss: u64,
}

impl Cost {
    fn between(before: &ProcSample, after: &ProcSample) -> Self {
        Cost {
            cpu: after.cpu.saturating_sub(before.cpu),
            peak_rss: after.peak_rss,
            baseline_rss: before.rss,
        }
    }

    /// Memory grown per prefix: (peak RSS − RSS before the first UPDATE) / prefixes.
    pub fn bytes_per_prefix(&self, prefixes: u32) -> f64 {
        self.peak_rss.saturating_sub(self.baseline_rss) as f64 / f64::from(prefixes.max(1))
    }
}

fn prefix_block(count: u32) -> Result<PrefixBlock, PrefixBlockError> {
    PrefixBlock::new(FIRST_PREFIX, count)
}

fn sample(pids: &[u32]) -> Result<ProcSample, ProcError> {
    ProcSample::read_all(pids)
}

/// CPU time of this process (feeder, monitor and clients all run in it) so far: the tooling
/// shares the machine's cores with the daemon, so its share is reported too.
fn tooling_cpu() -> Result<Duration, ProcError> {
    Ok(ProcSample::read(std::process::id())?.cpu)
}
