//! The route-reflector shape (RFC 4456): many iBGP clients with a few prefixes each.
//!
//! ```text
//!   clients ns                                        DUT ns
//!   eth0: 10.1.0.2 (monitor), 10.1.1.1 … (clients) ──veth── eth0 10.1.0.1/16
//!         one tokio runtime, one session per address      AS 65000, every neighbor an RR client
//! ```
//!
//! All clients live in one namespace and one process: each session is bound to its own
//! source address on the shared interface, so the daemon sees `clients` distinct neighbors.
//! Client `i` announces 4 (by default) consecutive /24s with NEXT_HOP its own address and
//! LOCAL_PREF 100; the monitor is one more RR client that announces nothing.
//!
//! Every session advertises Graceful Restart and the clock starts only once the daemon has
//! sent End-of-RIB (RFC 4724 §2) on each of them: its start-up work is not counted. Measured
//! from the instant before the first client queues its UPDATE (all are queued in a
//! loop, pre-encoded) to:
//! - **monitor**: the monitor holds every client's prefixes (`clients × per_client`);
//! - **all clients**: every client holds every other client's prefixes (`per_client ×
//!   (clients − 1)` each), that is the reflector has delivered `clients × (clients − 1) ×
//!   per_client` routes.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use margay_bgp::transport::BGP_PORT;
use margay_tests::{Netns, TestDir};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::dut::{Dut, DutSetup, Neighbor, Role, RunningDut};
use super::prefixes::{PrefixBlock, PrefixTally};
use super::speaker::{self, Connector, Milestone, Monitor, SpeakerConfig, connect_and_establish};
use super::updates::{EncodedUpdates, FeedOrder, RouteAttributes, encode_updates};
use super::{Cost, RunError, RunOptions, prefix_block, sample, tooling_cpu};

const DUT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const MONITOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
/// Client `i` is this address plus `i`.
const FIRST_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);
const SUBNET_LEN: u8 = 16;
const AS: u32 = 65000;
const HOLD_TIME: u16 = 90;
/// Sessions connecting at once. Hundreds of simultaneous SYNs overflow a daemon's listen
/// backlog (BIRD's is small): the kernel then answers with SYN cookies and drops the final
/// ACKs, connections hang half-open for seconds and are retried, and a retried connection
/// from a neighbor BIRD already has Established looks to it like a graceful restart.
const HANDSHAKES_IN_FLIGHT: usize = 16;

/// The size of the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReflectorShape {
    pub clients: u32,
    pub per_client: u32,
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflectorSample {
    pub monitor: Duration,
    pub all_clients: Duration,
    pub cost: Cost,
    /// CPU time of the clients and the monitor (this process) over the same interval.
    pub tooling_cpu: Duration,
}

/// Too many clients for the subnet.
const MAX_CLIENTS: u32 = 60_000;

fn client_addr(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(FIRST_CLIENT) + i)
}

/// Runs the shape once.
pub fn run(
    rt: &Runtime,
    dut: Dut,
    shape: ReflectorShape,
    opts: &RunOptions,
) -> Result<ReflectorSample, RunError> {
    if shape.clients < 2 || shape.clients > MAX_CLIENTS || shape.per_client == 0 {
        return Err(RunError::Shape(format!(
            "route reflector needs 2 to {MAX_CLIENTS} clients with at least 1 prefix each, got \
{} × {}",
            shape.clients, shape.per_client
        )));
    }
    let block = prefix_block(shape.clients * shape.per_client)?;
    let dir = TestDir::new("bgperf-rr");
    let clients_ns = Netns::new("bgc");
    let dut_ns = Netns::new("bgr");
    clients_ns.veth_to(&dut_ns, "eth0", "eth0");
    dut_ns.addr_add("eth0", &format!("{DUT_ADDR}/{SUBNET_LEN}"));
    let mut addresses = vec![MONITOR_ADDR];
    addresses.extend((0..shape.clients).map(client_addr));
    let batch: String = addresses
        .iter()
        .map(|a| format!("address add {a}/{SUBNET_LEN} dev eth0\n"))
        .collect();
    let batch_file = dir.write("addresses.batch", &batch);
    clients_ns.exec(&["ip", "-batch", batch_file.to_str().expect("utf-8 path")]);
    clients_ns.link_up("eth0");

    let setup = DutSetup {
        asn: AS,
        router_id: DUT_ADDR,
        role: Role::RouteReflector,
        neighbors: addresses
            .iter()
            .map(|&address| Neighbor { address, asn: AS })
            .collect(),
    };
    let mut daemon = dut.start(&dut_ns, &dir, &setup);
    let result = Connector::scope(&clients_ns, |connector| {
        rt.block_on(measure(
            connector,
            &addresses,
            block,
            shape,
            &mut daemon,
            opts,
        ))
    });
    result.map_err(|e| e.with_log(&mut daemon))
}

async fn measure(
    connector: Connector,
    addresses: &[Ipv4Addr],
    block: PrefixBlock,
    shape: ReflectorShape,
    daemon: &mut RunningDut,
    opts: &RunOptions,
) -> Result<ReflectorSample, RunError> {
    let mut handshakes = JoinSet::new();
    let in_flight = Arc::new(Semaphore::new(HANDSHAKES_IN_FLIGHT));
    for (i, &addr) in addresses.iter().enumerate() {
        let config = SpeakerConfig {
            asn: AS,
            router_id: addr,
            hold_time: HOLD_TIME,
            peer_as: AS,
            graceful_restart: true,
        };
        let patience = opts.establish_timeout;
        let connector = connector.clone();
        let in_flight = Arc::clone(&in_flight);
        handshakes.spawn(async move {
            let _turn = in_flight
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let dut = SocketAddr::from((DUT_ADDR, BGP_PORT));
            let established =
                connect_and_establish(&connector, dut, Some(addr), config, patience).await;
            (i, established)
        });
    }
    // Index 0 is the monitor, index i > 0 is client i - 1.
    let mut sessions: Vec<Option<Monitor>> = (0..addresses.len()).map(|_| None).collect();
    while let Some(joined) = handshakes.join_next().await {
        let (i, established) =
            joined.map_err(|e| RunError::Shape(format!("handshake task: {e}")))?;
        let (session, reader) = established?;
        let tally = match i {
            0 => PrefixTally::new(block, None),
            _ => PrefixTally::new(block, Some(own_block(&block, shape, i as u32 - 1))),
        };
        sessions[i] = Some(Monitor::new(session, reader, tally));
    }
    let sessions: Vec<Monitor> = sessions
        .into_iter()
        .map(|s| s.expect("every session"))
        .collect();
    let announcements: Vec<EncodedUpdates> = (0..shape.clients)
        .map(|c| {
            let attributes = RouteAttributes::internal(client_addr(c));
            let session = sessions[c as usize + 1].session();
            encode_updates(
                &own_block(&block, shape, c),
                &attributes,
                session.ctx(),
                FeedOrder::Sorted,
            )
        })
        .collect::<Result<_, _>>()
        .map_err(speaker::SpeakerError::from)?;

    let (sessions, _) = wait_all(sessions, Milestone::EndOfRib, opts.establish_timeout).await?;
    let pids = daemon.pids();
    let before = sample(&pids)?;
    let tooling_before = tooling_cpu()?;
    let started = Instant::now();
    for (c, updates) in announcements.iter().enumerate() {
        sessions[c + 1].session().send_updates(updates)?;
    }
    let (_sessions, completions) =
        wait_all(sessions, Milestone::Complete, opts.converge_timeout).await?;
    let after = sample(&pids)?;
    let last_client = completions[1..]
        .iter()
        .max()
        .copied()
        .expect("at least two clients");
    Ok(ReflectorSample {
        monitor: completions[0].duration_since(started),
        all_clients: last_client.duration_since(started),
        cost: Cost::between(&before, &after),
        tooling_cpu: tooling_cpu()?.saturating_sub(tooling_before),
    })
}

/// Waits until every session has reached `milestone`, failing as soon as one session ends;
/// gives the sessions back (they must live until the whole measurement is over) with the
/// instants, in session order.
async fn wait_all(
    sessions: Vec<Monitor>,
    milestone: Milestone,
    patience: Duration,
) -> Result<(Vec<Monitor>, Vec<Instant>), RunError> {
    let watches: Vec<_> = sessions
        .iter()
        .map(|s| (s.session().peer().to_owned(), s.progress_watch()))
        .collect();
    let mut waiting = JoinSet::new();
    for (i, mut session) in sessions.into_iter().enumerate() {
        waiting.spawn(async move {
            let reached = session.reached(milestone).await;
            (i, session, reached)
        });
    }
    let mut done: Vec<Option<(Monitor, Instant)>> = (0..watches.len()).map(|_| None).collect();
    let joined = tokio::time::timeout(patience, async {
        while let Some(joined) = waiting.join_next().await {
            let (i, session, reached) =
                joined.map_err(|e| RunError::Shape(format!("waiting task: {e}")))?;
            done[i] = Some((session, reached?));
        }
        Ok::<_, RunError>(())
    })
    .await;
    match joined {
        Ok(result) => result?,
        Err(_) => {
            let behind: Vec<String> = watches
                .iter()
                .filter(|(_, w)| milestone.at(&w.borrow()).is_none())
                .map(|(peer, w)| format!("{peer}: {:?}", *w.borrow()))
                .collect();
            return Err(RunError::Timeout {
                what: format!("{milestone:?} on every session"),
                waited: patience,
                state: format!(
                    "{} of {} sessions waiting, first ones: {:?}",
                    behind.len(),
                    watches.len(),
                    &behind[..behind.len().min(5)]
                ),
            });
        }
    }
    Ok(done
        .into_iter()
        .map(|d| d.expect("every session reported"))
        .unzip())
}

fn own_block(block: &PrefixBlock, shape: ReflectorShape, client: u32) -> PrefixBlock {
    block.slice(client * shape.per_client, shape.per_client)
}
