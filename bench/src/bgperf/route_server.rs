//! The bgperf shape: a feeder announces N /24s to the daemon under test, which passes them to
//! a monitor; each in its own network namespace.
//!
//! ```text
//!   feeder ns               DUT ns                        monitor ns
//!   10.0.0.1 eth0 ──veth── eth0 10.0.0.2   10.0.1.2 eth1 ──veth── eth0 10.0.1.1
//!   AS 65001                AS 65000, route server        AS 65002
//! ```
//!
//! The ceiling runs the same feeder straight into the monitor (feeder 10.0.0.1 ── monitor
//! 10.0.0.2, monitor listening), so it shows what the tooling itself can carry.
//!
//! Convergence time: from the instant before the feeder queues its first UPDATE to the
//! instant the monitor's tally holds all N prefixes. Before the clock starts, both sessions are
//! Established, the daemon has sent the monitor its End-of-RIB (RFC 4724 §2; the monitor
//! advertises Graceful Restart to get one), and the UPDATEs are encoded.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use margay_bgp::transport::BGP_PORT;
use margay_tests::{Netns, TestDir};
use tokio::runtime::Runtime;

use super::dut::{Dut, DutSetup, Neighbor, Role, RunningDut};
use super::prefixes::{PrefixBlock, PrefixTally};
use super::speaker::{
    self, Connector, Feeder, Monitor, SpeakerConfig, accept_one, connect_and_establish, establish,
    listen_in,
};
use super::updates::{RouteAttributes, encode_updates};
use super::{Cost, RunError, RunOptions, prefix_block, sample, tooling_cpu};

const FEEDER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DUT_FEEDER_SIDE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DUT_MONITOR_SIDE: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const MONITOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The monitor's address in the ceiling, on the feeder's link.
const CEILING_MONITOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

const FEEDER_AS: u32 = 65001;
const MONITOR_AS: u32 = 65002;
const DUT_AS: u32 = 65000;
/// Hold time our speakers offer, seconds.
const HOLD_TIME: u16 = 90;

/// What sits between the feeder and the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// Nothing: the feeder → monitor ceiling.
    Ceiling,
    Daemon(Dut),
}

impl Subject {
    /// The name in tables.
    pub fn label(self) -> String {
        match self {
            Subject::Ceiling => "ceiling (feeder → monitor)".into(),
            Subject::Daemon(d) => format!("{} {}", d.label(), d.version()),
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteServerSample {
    pub convergence: Duration,
    /// The daemon's cost; none for the ceiling.
    pub cost: Option<Cost>,
    /// CPU time of the feeder and monitor (this process) over the same interval.
    pub tooling_cpu: Duration,
}

fn speaker(asn: u32, router_id: Ipv4Addr, peer_as: u32, graceful_restart: bool) -> SpeakerConfig {
    SpeakerConfig {
        asn,
        router_id,
        hold_time: HOLD_TIME,
        peer_as,
        graceful_restart,
    }
}

fn bgp(addr: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((addr, BGP_PORT))
}

/// Runs the shape once with `prefixes` /24s.
pub fn run(
    rt: &Runtime,
    subject: Subject,
    prefixes: u32,
    opts: &RunOptions,
) -> Result<RouteServerSample, RunError> {
    let block = prefix_block(prefixes)?;
    let dir = TestDir::new("bgperf-rs");
    let feeder_ns = Netns::new("bgf");
    let monitor_ns = Netns::new("bgm");
    match subject {
        Subject::Ceiling => {
            feeder_ns.veth_to(&monitor_ns, "eth0", "eth0");
            feeder_ns.addr_add("eth0", &format!("{FEEDER_ADDR}/24"));
            monitor_ns.addr_add("eth0", &format!("{CEILING_MONITOR_ADDR}/24"));
            let listener = listen_in(&monitor_ns, bgp(CEILING_MONITOR_ADDR))?;
            Connector::scope(&feeder_ns, |from_feeder| {
                rt.block_on(async {
                    let feeder = async {
                        let stream = from_feeder
                            .connect(bgp(CEILING_MONITOR_ADDR), None)
                            .await
                            .map_err(RunError::Socket)?;
                        let config = speaker(FEEDER_AS, FEEDER_ADDR, MONITOR_AS, false);
                        Ok::<_, RunError>(establish(stream, config, opts.establish_timeout).await?)
                    };
                    let monitor = async {
                        let stream = accept_one(listener, opts.establish_timeout).await?;
                        let config = speaker(MONITOR_AS, CEILING_MONITOR_ADDR, FEEDER_AS, false);
                        Ok(establish(stream, config, opts.establish_timeout).await?)
                    };
                    let (f, m) = tokio::try_join!(feeder, monitor)?;
                    let feeder = Feeder::new(f.0, f.1);
                    let monitor = Monitor::new(m.0, m.1, PrefixTally::new(block, None));
                    measure(feeder, monitor, &block, None, opts).await
                })
            })
        }
        Subject::Daemon(dut) => {
            let dut_ns = Netns::new("bgd");
            feeder_ns.veth_to(&dut_ns, "eth0", "eth0");
            dut_ns.veth_to(&monitor_ns, "eth1", "eth0");
            feeder_ns.addr_add("eth0", &format!("{FEEDER_ADDR}/24"));
            dut_ns.addr_add("eth0", &format!("{DUT_FEEDER_SIDE}/24"));
            dut_ns.addr_add("eth1", &format!("{DUT_MONITOR_SIDE}/24"));
            monitor_ns.addr_add("eth0", &format!("{MONITOR_ADDR}/24"));
            let setup = DutSetup {
                asn: DUT_AS,
                router_id: DUT_FEEDER_SIDE,
                role: Role::RouteServer,
                neighbors: vec![
                    Neighbor {
                        address: FEEDER_ADDR,
                        asn: FEEDER_AS,
                    },
                    Neighbor {
                        address: MONITOR_ADDR,
                        asn: MONITOR_AS,
                    },
                ],
            };
            let mut daemon = dut.start(&dut_ns, &dir, &setup);
            let result = Connector::scope(&feeder_ns, |from_feeder| {
                Connector::scope(&monitor_ns, |from_monitor| {
                    rt.block_on(async {
                        let (f, m) = tokio::try_join!(
                            connect_and_establish(
                                &from_feeder,
                                bgp(DUT_FEEDER_SIDE),
                                None,
                                speaker(FEEDER_AS, FEEDER_ADDR, DUT_AS, false),
                                opts.establish_timeout
                            ),
                            connect_and_establish(
                                &from_monitor,
                                bgp(DUT_MONITOR_SIDE),
                                None,
                                speaker(MONITOR_AS, MONITOR_ADDR, DUT_AS, true),
                                opts.establish_timeout
                            ),
                        )?;
                        let feeder = Feeder::new(f.0, f.1);
                        let monitor = Monitor::new(m.0, m.1, PrefixTally::new(block, None));
                        measure(feeder, monitor, &block, Some(&mut daemon), opts).await
                    })
                })
            });
            result.map_err(|e| e.with_log(&mut daemon))
        }
    }
}

async fn measure(
    mut feeder: Feeder,
    mut monitor: Monitor,
    block: &PrefixBlock,
    daemon: Option<&mut RunningDut>,
    opts: &RunOptions,
) -> Result<RouteServerSample, RunError> {
    let attributes = RouteAttributes::external(FEEDER_AS, FEEDER_ADDR);
    let updates = encode_updates(block, &attributes, feeder.session().ctx(), opts.feed_order)
        .map_err(speaker::SpeakerError::from)?;
    if daemon.is_some() {
        settle(&mut monitor, opts).await?;
    }
    let pids = daemon.map(RunningDut::pids);
    let before = pids.as_deref().map(sample).transpose()?;
    let tooling_before = tooling_cpu()?;
    let started: Instant = feeder.session().send_updates(&updates)?;
    let completed = tokio::select! {
        done = tokio::time::timeout(opts.converge_timeout, monitor.completed()) => match done {
            Ok(at) => at?,
            Err(_) => {
                return Err(RunError::Timeout {
                    what: format!("the monitor to hold all {} prefixes", block.len()),
                    waited: opts.converge_timeout,
                    state: format!("{:?}", monitor.progress()),
                })
            }
        },
        failure = feeder.failed() => return Err(failure.into()),
    };
    let after = pids.as_deref().map(sample).transpose()?;
    Ok(RouteServerSample {
        convergence: completed.duration_since(started),
        cost: before.zip(after).map(|(b, a)| Cost::between(&b, &a)),
        tooling_cpu: tooling_cpu()?.saturating_sub(tooling_before),
    })
}

/// Waits for the daemon's End-of-RIB to the monitor: it has sent its (empty) initial table, so
/// start-up timers of its own (FRR's subgroup coalesce timer, for one) are not counted.
async fn settle(monitor: &mut Monitor, opts: &RunOptions) -> Result<(), RunError> {
    match tokio::time::timeout(opts.establish_timeout, monitor.end_of_rib()).await {
        Ok(done) => done.map(drop).map_err(RunError::from),
        Err(_) => Err(RunError::Timeout {
            what: "the daemon's End-of-RIB to the monitor".into(),
            waited: opts.establish_timeout,
            state: format!("{:?}", monitor.progress()),
        }),
    }
}
