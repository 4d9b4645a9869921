//! The FIB writer task: the only writer of margay's routes. It owns the request socket and the
//! notification socket; everything else talks to it through [`FibHandle`] with requests as
//! data.
//!
//! ```text
//!  FibHandle ──Request──► writer task ─── batches ───► kernel (request socket)
//!                          │  ▲ desired, KernelView      │
//!                          │  └── RTM_NEWROUTE/DELROUTE ◄┘ (RTNLGRP_IPV4_ROUTE/IPV6_ROUTE)
//!                          └── every `resync_interval` and after a notification overflow:
//!                              dump → KernelView → plan_all → apply
//! ```
//!
//! Mark-and-sweep: at start the writer dumps the routes of its protocol and keeps them (a
//! restart does not flush the data plane); the first [`FibHandle::set_all`] adopts the equal
//! ones without a message, replaces the different ones and deletes the rest. Drift: a route of
//! ours deleted or changed behind our back is restored when the notification arrives, and the
//! periodic resync catches anything missed. A route of another protocol that takes a key of
//! ours is never overwritten: it is reported as a conflict.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use ipnetwork::IpNetwork;
use netlink_sys::{AsyncSocket, AsyncSocketExt, TokioSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::codec::{Op, Owner};
use super::error::{FibError, RouteFailure, errno};
use super::hash::RouteMap;
use super::plan::{KernelView, Observed, plan_all, plan_key};
use super::protocol::{PROTOCOL, RT_PROTOS_DIR, register_protocol};
use super::route::FibRoute;
use super::transport::{Transport, open_socket};
use super::wire::{
    RTM_DELLINK, RTM_DELROUTE, RTM_NEWLINK, RTM_NEWROUTE, decode_route, link_index, raw_messages,
};

/// `RTNLGRP_LINK` (`linux/rtnetlink.h`).
const RTNLGRP_LINK: u32 = 1;
/// `RTNLGRP_IPV4_ROUTE`.
const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// `RTNLGRP_IPV6_ROUTE`.
const RTNLGRP_IPV6_ROUTE: u32 = 11;
const MONITOR_BUF: usize = 256 * 1024;
/// First and longest wait before retrying refused routes.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct FibConfig {
    /// Protocol number of our routes.
    pub protocol: u8,
    /// Routing table.
    pub table: u32,
    /// Metric of our routes.
    pub metric: u32,
    /// Operations per netlink send.
    pub batch: usize,
    /// Period of the full resync (dump, diff, apply).
    pub resync_interval: Duration,
    /// Directory to register the protocol name in (`None`: don't).
    pub register_in: Option<PathBuf>,
}

impl Default for FibConfig {
    fn default() -> Self {
        FibConfig {
            protocol: PROTOCOL,
            table: 254,
            metric: 0,
            batch: 1000,
            resync_interval: Duration::from_secs(90),
            register_in: Some(PathBuf::from(RT_PROTOS_DIR)),
        }
    }
}

/// One change of the desired set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibChange {
    /// Add or change a route.
    Upsert(FibRoute),
    /// Remove the route to a destination.
    Remove(IpNetwork),
}

/// What one request did to the kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Routes created.
    pub created: usize,
    /// Routes replaced (changed in place).
    pub replaced: usize,
    /// Routes deleted.
    pub deleted: usize,
    /// Desired routes that were already right (no message).
    pub unchanged: usize,
    /// Destinations held by another protocol's route: not overwritten.
    pub conflicts: Vec<IpNetwork>,
    /// Operations the kernel refused.
    pub failed: Vec<RouteFailure>,
    /// Netlink messages sent (operations and batch barriers).
    pub messages: usize,
    /// `send` calls.
    pub sends: usize,
}

/// Counters of the writer's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FibStats {
    /// Desired routes.
    pub desired: usize,
    /// Routes of ours in the kernel, as last seen.
    pub installed: usize,
    /// Destinations held by another protocol.
    pub conflicts: Vec<IpNetwork>,
    /// Messages sent in total.
    pub messages: u64,
    /// Routes restored or corrected after a notification.
    pub repairs: u64,
    /// Full resyncs done.
    pub resyncs: u64,
    /// Route notifications received.
    pub notifications: u64,
    /// Notification queue overflows (each schedules a resync).
    pub overflows: u64,
    /// Whether a resync is scheduled.
    pub resync_pending: bool,
}

enum Request {
    SetAll(
        Vec<FibRoute>,
        oneshot::Sender<Result<ApplyReport, FibError>>,
    ),
    Update(
        Vec<FibChange>,
        oneshot::Sender<Result<ApplyReport, FibError>>,
    ),
    Resync(oneshot::Sender<Result<ApplyReport, FibError>>),
    Stats(oneshot::Sender<FibStats>),
}

/// The handle to the writer task. Dropping every clone stops the task.
#[derive(Debug, Clone)]
pub struct FibHandle {
    tx: mpsc::Sender<Request>,
}

/// The running writer: its handle and its task.
#[derive(Debug)]
pub struct FibWriter {
    /// Requests go here.
    pub handle: FibHandle,
    /// The task; it returns when every handle is dropped, or with the error that stopped it.
    pub task: JoinHandle<Result<(), FibError>>,
}

impl FibWriter {
    /// Registers the protocol name, opens the sockets in the current network namespace,
    /// subscribes to route notifications, dumps our existing routes (kept until the first
    /// [`FibHandle::set_all`]) and spawns the task. Must run inside a tokio runtime.
    pub async fn start(config: FibConfig) -> Result<FibWriter, FibError> {
        if config.batch == 0 {
            return Err(FibError::Config(format!(
                "batch must be at least 1, got {}",
                config.batch
            )));
        }
        if let Some(dir) = &config.register_in {
            register_protocol(dir, config.protocol)?;
        }
        let own = Owner {
            protocol: config.protocol,
            table: config.table,
            metric: config.metric,
        };
        let monitor = open_socket()?;
        for group in [RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE] {
            monitor
                .socket_ref()
                .add_membership(group)
                .map_err(|source| FibError::Socket {
                    what: "join route group",
                    source,
                })?;
        }
        let mut transport = Transport::open(config.batch)?;
        let mut state = State {
            own,
            desired: RouteMap::default(),
            authoritative: false,
            kernel: KernelView::default(),
            conflicts: HashSet::new(),
            links: HashSet::new(),
            retry_at: None,
            retry_backoff: RETRY_MIN,
            stats: FibStats::default(),
        };
        state.reload(&mut transport).await?;
        info!(
            protocol = own.protocol,
            table = own.table,
            adopted = state.kernel.routes.len(),
            "FIB writer started"
        );
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(state, transport, monitor, rx, config.resync_interval));
        Ok(FibWriter {
            handle: FibHandle { tx },
            task,
        })
    }
}

impl FibHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, FibError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| FibError::Stopped)?;
        answer.await.map_err(|_| FibError::Stopped)
    }

    /// Makes `routes` the complete desired set: creates, replaces and deletes what differs,
    /// and (the first time) sweeps every route of ours that is not in it.
    pub async fn set_all(&self, routes: Vec<FibRoute>) -> Result<ApplyReport, FibError> {
        self.ask(|r| Request::SetAll(routes, r)).await?
    }

    /// Changes part of the desired set; sends messages only for the destinations named.
    pub async fn update(&self, changes: Vec<FibChange>) -> Result<ApplyReport, FibError> {
        self.ask(|r| Request::Update(changes, r)).await?
    }

    /// Dumps the kernel's routes of ours and repairs every difference now.
    pub async fn resync(&self) -> Result<ApplyReport, FibError> {
        self.ask(Request::Resync).await?
    }

    /// The writer's counters.
    pub async fn stats(&self) -> Result<FibStats, FibError> {
        self.ask(Request::Stats).await
    }
}

struct State {
    own: Owner,
    desired: RouteMap<FibRoute>,
    /// Whether `desired` is complete (after the first `set_all`): only then is anything swept.
    authoritative: bool,
    kernel: KernelView,
    conflicts: HashSet<IpNetwork>,
    stats: FibStats,
    /// Interfaces our routes go through. IPv4 flushes the routes of a device that goes down
    /// without an `RTM_DELROUTE`, so a link event on one of these schedules a resync.
    links: HashSet<u32>,
    /// When to resync again after the kernel refused routes (a device down, a gateway not yet
    /// reachable), and the back-off for the next time.
    retry_at: Option<tokio::time::Instant>,
    retry_backoff: Duration,
}

impl State {
    /// Replaces the kernel view with a fresh dump.
    async fn reload(&mut self, transport: &mut Transport) -> Result<(), FibError> {
        let routes = transport.dump(&self.own).await?;
        self.kernel = KernelView::default();
        self.kernel.routes.reserve(routes.len());
        for k in routes {
            self.kernel.observe_new(k, &self.own);
        }
        let hops = self
            .kernel
            .routes
            .values()
            .flatten()
            .flat_map(FibRoute::hops);
        self.links.extend(hops.filter_map(|h| h.oif));
        Ok(())
    }

    /// Operations for a full diff; without a complete desired set, nothing is deleted.
    fn plan_everything(&self) -> Vec<Op> {
        let mut ops = plan_all(&self.desired, &self.kernel, &self.own);
        if !self.authoritative {
            ops.retain(|op| !matches!(op, Op::Delete { .. }));
        }
        ops
    }

    async fn apply(
        &mut self,
        ops: Vec<Op>,
        transport: &mut Transport,
    ) -> Result<ApplyReport, FibError> {
        let outcome = transport.execute(&ops, &self.own).await?;
        let mut report = ApplyReport {
            messages: outcome.messages,
            sends: outcome.sends,
            ..ApplyReport::default()
        };
        self.stats.messages += outcome.messages as u64;
        let mut refused: HashMap<usize, i32> = outcome.errors.into_iter().collect();
        for (i, op) in ops.iter().enumerate() {
            match (op, refused.remove(&i)) {
                (Op::Create(r), None) => {
                    report.created += 1;
                    self.conflicts.remove(&r.dst);
                }
                (Op::Replace(_), None) => report.replaced += 1,
                (Op::Delete { .. }, None | Some(errno::ESRCH | errno::ENOENT)) => {
                    report.deleted += 1
                }
                (Op::Create(r), Some(errno::EEXIST)) => {
                    warn!(dst = %r.dst, "route held by another protocol; not overwriting it");
                    self.conflicts.insert(r.dst);
                    report.conflicts.push(r.dst);
                    continue;
                }
                (op, Some(code)) => {
                    let name = match op {
                        Op::Create(_) => "create",
                        Op::Replace(_) => "replace",
                        Op::Delete { .. } => "delete",
                    };
                    let failure = RouteFailure {
                        dst: op.dst(),
                        op: name,
                        errno: code,
                    };
                    warn!(%failure, "kernel refused a route");
                    report.failed.push(failure);
                    // The kernel's state for this key is unknown now; the next resync reads it.
                    self.kernel.routes.remove(&op.dst());
                    continue;
                }
            }
            self.kernel.applied(op, &self.own);
        }
        if outcome.overflowed {
            // Errors were lost: learn the truth and fix what is still wrong, once.
            warn!("receive queue overflowed during a batch; re-reading the kernel");
            self.stats.overflows += 1;
            self.reload(transport).await?;
            let ops = self.plan_everything();
            let again = Box::pin(self.apply(ops, transport)).await?;
            report.failed.extend(again.failed);
            report.messages += again.messages;
            report.sends += again.sends;
        }
        if !report.failed.is_empty() && self.retry_at.is_none() {
            self.retry_at = Some(tokio::time::Instant::now() + self.retry_backoff);
            self.retry_backoff = (self.retry_backoff * 2).min(RETRY_MAX);
        }
        Ok(report)
    }

    fn watch_links_of_desired(&mut self) {
        let hops = self.desired.values().flat_map(FibRoute::hops);
        self.links.extend(hops.filter_map(|h| h.oif));
    }

    async fn set_all(
        &mut self,
        routes: Vec<FibRoute>,
        transport: &mut Transport,
    ) -> Result<ApplyReport, FibError> {
        self.desired = routes.into_iter().map(|r| (r.dst, r)).collect();
        self.watch_links_of_desired();
        let sweep = !self.authoritative;
        self.authoritative = true;
        let ops = self.plan_everything();
        let changed = ops
            .iter()
            .filter(|op| !matches!(op, Op::Delete { .. }))
            .count();
        let mut report = self.apply(ops, transport).await?;
        report.unchanged = self.desired.len() - changed;
        if sweep {
            info!(
                swept = report.deleted,
                adopted = report.unchanged,
                "first full route set applied"
            );
        }
        Ok(report)
    }

    async fn update(
        &mut self,
        changes: Vec<FibChange>,
        transport: &mut Transport,
    ) -> Result<ApplyReport, FibError> {
        let mut keys = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                FibChange::Upsert(r) => {
                    keys.push(r.dst);
                    self.links.extend(r.hops().iter().filter_map(|h| h.oif));
                    self.desired.insert(r.dst, r);
                }
                FibChange::Remove(dst) => {
                    keys.push(dst);
                    self.desired.remove(&dst);
                }
            }
        }
        keys.sort();
        keys.dedup();
        let ops: Vec<Op> = keys
            .iter()
            .filter_map(|dst| plan_key(*dst, &self.desired, &self.kernel, &self.own))
            .collect();
        let mut report = self.apply(ops, transport).await?;
        let touched = report.created
            + report.replaced
            + report.deleted
            + report.conflicts.len()
            + report.failed.len();
        report.unchanged = keys.len().saturating_sub(touched);
        Ok(report)
    }

    async fn resync(&mut self, transport: &mut Transport) -> Result<ApplyReport, FibError> {
        self.reload(transport).await?;
        self.stats.resyncs += 1;
        self.stats.resync_pending = false;
        self.retry_at = None;
        let ops = self.plan_everything();
        let changed = ops
            .iter()
            .filter(|op| !matches!(op, Op::Delete { .. }))
            .count();
        let mut report = self.apply(ops, transport).await?;
        report.unchanged = self.desired.len().saturating_sub(changed);
        if report.failed.is_empty() {
            self.retry_backoff = RETRY_MIN;
        }
        if report.created + report.replaced + report.deleted > 0 {
            info!(
                created = report.created,
                replaced = report.replaced,
                deleted = report.deleted,
                "resync repaired routes"
            );
        }
        Ok(report)
    }

    /// Takes in one datagram of notifications; returns the destinations to look at again.
    fn observe(&mut self, buf: &[u8], dirty: &mut HashSet<IpNetwork>) -> Result<(), FibError> {
        let own = self.own;
        for msg in raw_messages(buf) {
            let msg = msg.map_err(FibError::Decode)?;
            let new = match msg.kind {
                RTM_NEWROUTE => true,
                RTM_DELROUTE => false,
                RTM_NEWLINK | RTM_DELLINK => {
                    let index = link_index(msg.payload);
                    if let Some(index) = index.filter(|i| self.links.contains(i)) {
                        debug!(index, "link event on an interface of our routes; resync");
                        self.stats.resync_pending = true;
                        if msg.kind == RTM_DELLINK {
                            self.links.remove(&index);
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            self.stats.notifications += 1;
            let Some(k) = decode_route(msg.payload, own.table).map_err(FibError::Decode)? else {
                continue;
            };
            let dst = k.dst;
            if new && k.protocol == own.protocol {
                let hops = k.route.iter().flat_map(FibRoute::hops);
                self.links.extend(hops.filter_map(|h| h.oif));
            }
            let seen = if new {
                self.kernel.observe_new(k, &own)
            } else {
                self.kernel.observe_del(&k, &own)
            };
            match seen {
                Observed::Ours | Observed::Stray => {
                    dirty.insert(dst);
                }
                Observed::TakenOver => {
                    warn!(%dst, "another protocol replaced our route; not overwriting it");
                    self.conflicts.insert(dst);
                }
                Observed::Foreign if !new && self.conflicts.remove(&dst) => {
                    // The route that held our key is gone: ours can go back.
                    dirty.insert(dst);
                }
                Observed::Foreign => {}
            }
        }
        Ok(())
    }

    /// Restores or corrects the routes behind `dirty` destinations.
    async fn repair(
        &mut self,
        dirty: HashSet<IpNetwork>,
        transport: &mut Transport,
    ) -> Result<(), FibError> {
        let mut ops: Vec<Op> = dirty
            .iter()
            .filter(|dst| self.authoritative || self.desired.contains_key(dst))
            .filter_map(|dst| plan_key(*dst, &self.desired, &self.kernel, &self.own))
            .collect();
        if self.authoritative {
            let strays = self
                .kernel
                .strays
                .iter()
                .filter(|(dst, _)| dirty.contains(dst));
            ops.extend(strays.map(|(dst, metric)| Op::Delete {
                dst: *dst,
                metric: *metric,
            }));
        }
        if ops.is_empty() {
            return Ok(());
        }
        debug!(
            count = ops.len(),
            "repairing routes changed behind our back"
        );
        self.stats.repairs += ops.len() as u64;
        self.apply(ops, transport).await?;
        Ok(())
    }

    fn stats(&self) -> FibStats {
        let mut conflicts: Vec<IpNetwork> = self.conflicts.iter().copied().collect();
        conflicts.sort();
        FibStats {
            desired: self.desired.len(),
            installed: self.kernel.routes.len(),
            conflicts,
            ..self.stats.clone()
        }
    }
}

/// Reads every notification queued on the monitor socket. Returns whether it overflowed.
fn drain_monitor(
    monitor: &TokioSocket,
    buf: &mut Vec<u8>,
    state: &mut State,
    dirty: &mut HashSet<IpNetwork>,
) -> Result<bool, FibError> {
    let mut overflowed = false;
    loop {
        buf.clear();
        buf.reserve(MONITOR_BUF);
        match monitor.socket_ref().recv(buf, 0) {
            Ok(_) => state.observe(buf, dirty)?,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(overflowed),
            Err(e) if e.raw_os_error() == Some(errno::ENOBUFS) => overflowed = true,
            Err(e) => return Err(FibError::Recv(e)),
        }
    }
}

async fn run(
    mut state: State,
    mut transport: Transport,
    monitor: TokioSocket,
    mut rx: mpsc::Receiver<Request>,
    resync_interval: Duration,
) -> Result<(), FibError> {
    let mut ticker = tokio::time::interval(resync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut mbuf: Vec<u8> = Vec::with_capacity(MONITOR_BUF);
    loop {
        let retry_at = state.retry_at;
        tokio::select! {
            biased;
            request = rx.recv() => {
                let Some(request) = request else {
                    info!("FIB writer stopping: no handle left");
                    return Ok(());
                };
                match request {
                    Request::SetAll(routes, reply) => { let _ = reply.send(state.set_all(routes, &mut transport).await); }
                    Request::Update(changes, reply) => { let _ = reply.send(state.update(changes, &mut transport).await); }
                    Request::Resync(reply) => { let _ = reply.send(state.resync(&mut transport).await); }
                    Request::Stats(reply) => { let _ = reply.send(state.stats()); }
                }
            }
            readable = monitor.recv(&mut mbuf) => {
                let mut dirty = HashSet::new();
                let mut overflowed = match readable {
                    Ok(()) => { state.observe(&mbuf, &mut dirty)?; false }
                    Err(e) if e.raw_os_error() == Some(errno::ENOBUFS) => true,
                    Err(e) => return Err(FibError::Recv(e)),
                };
                overflowed |= drain_monitor(&monitor, &mut mbuf, &mut state, &mut dirty)?;
                mbuf.clear();
                mbuf.reserve(MONITOR_BUF);
                if overflowed {
                    state.stats.overflows += 1;
                    state.stats.resync_pending = true;
                }
                state.repair(dirty, &mut transport).await?;
            }
            _ = std::future::ready(()), if state.stats.resync_pending => {
                state.resync(&mut transport).await?;
            }
            _ = ticker.tick() => {
                state.resync(&mut transport).await?;
            }
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)), if retry_at.is_some() => {
                state.resync(&mut transport).await?;
            }
        }
    }
}
