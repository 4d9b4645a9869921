//! The speaker's input loop: one task, one [`Input`] at a time, then the RIB's output.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::graceful::GracefulRestartState;
use super::{
    Input, NeighborChange, NeighborConfig, Request, SessionInfo, SpeakerConfig, SpeakerError,
};
use crate::rib::{LocRibChange, PeerId, PeerUp, Rib, RibConfig};
use crate::session::{PeerCommand, PeerEvent, SessionManager};
use crate::wire::{AfiSafi, CeaseSubcode, Message, Outcome, Update, Verdict};

/// Peer events handled before the RIB's output is flushed: UPDATE floods are applied in
/// batches, and peers are polled once per batch.
const BATCH: usize = 1024;
/// Decoded routes the peer tasks may queue for this loop before they stop reading (see
/// `session::budget`): a full table waits in the peers' sockets, not decoded in memory.
const QUEUED_ROUTES: usize = 32 * 1024;
/// Routes (announced or withdrawn prefixes) after which a batch ends early: the export then
/// reads Loc-RIB entries the ingest has just touched (still in the CPU caches), the change
/// log stays short, and output starts while the input is still arriving.
const BATCH_ROUTES: usize = 4 * 1024;
/// Routes per peer and family per `poll_all` call.
const POLL_ROUTES: usize = 8192;

pub(super) fn spawn(
    config: SpeakerConfig,
    requests: mpsc::UnboundedReceiver<Request>,
) -> Result<(), SpeakerError> {
    let (mut sessions, peer_events) = match config.listen {
        Some(address) => SessionManager::bind(address)
            .map_err(|error| SpeakerError::Listen { address, error })?,
        None => SessionManager::without_listener(),
    };
    sessions.limit_queued_routes(QUEUED_ROUTES);
    let mut rib_config = RibConfig::new(config.local_asn, config.router_id);
    rib_config.max_paths = config.max_paths;
    rib_config.cluster_id = config.cluster_id;
    rib_config.always_compare_med = config.always_compare_med;
    let rib = Rib::new(rib_config)?;
    let graceful = match config.graceful_restart {
        Some(gr) if gr.restarting => GracefulRestartState::restarting(
            Instant::now(),
            Duration::from_secs(u64::from(gr.restart_time)),
        ),
        _ => GracefulRestartState::default(),
    };
    let speaker = Speaker {
        config,
        sessions,
        rib,
        neighbors: HashMap::new(),
        subscribers: Vec::new(),
        graceful,
    };
    tokio::spawn(speaker.run(requests, peer_events));
    Ok(())
}

/// Queues UPDATEs for `peer`'s session.
fn send(sessions: &SessionManager, peer: IpAddr, updates: Vec<Update>) {
    if updates.is_empty() {
        return;
    }
    let messages = updates.into_iter().map(Message::Update).collect();
    if let Err(e) = sessions.send(peer, messages) {
        tracing::debug!(%peer, error = %e, "send");
    }
}

struct Speaker {
    config: SpeakerConfig,
    sessions: SessionManager,
    rib: Rib,
    neighbors: HashMap<IpAddr, (NeighborConfig, PeerId)>,
    subscribers: Vec<mpsc::UnboundedSender<Vec<LocRibChange>>>,
    graceful: GracefulRestartState,
}

/// Whether the loop goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Speaker {
    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut peer_events: mpsc::UnboundedReceiver<PeerEvent>,
    ) {
        loop {
            let deadline = self.graceful.next_deadline();
            let input = tokio::select! {
                Some(event) = peer_events.recv() => Input::Peer(event),
                () = async { tokio::time::sleep_until(deadline.expect("guarded").into()).await }, if deadline.is_some() => {
                    Input::Timer(Instant::now())
                }
                request = requests.recv() => match request {
                    Some(request) => Input::Api(request),
                    // Every handle is gone: nobody can ask for anything any more.
                    None => {
                        self.sessions.shutdown(false).await;
                        return;
                    }
                },
            };
            if self.handle(input).await == Flow::Stop {
                return;
            }
            let mut routes = 0;
            for _ in 0..BATCH {
                if routes >= BATCH_ROUTES {
                    break;
                }
                match peer_events.try_recv() {
                    Ok(event) => {
                        routes += event.routes().max(1);
                        self.on_peer(event);
                    }
                    Err(_) => break,
                }
            }
            self.flush();
        }
    }

    async fn handle(&mut self, input: Input) -> Flow {
        tracing::trace!(?input, "speaker input");
        match input {
            Input::Peer(event) => {
                self.on_peer(event);
                Flow::Continue
            }
            Input::Api(request) => self.on_request(request).await,
            Input::Timer(now) => {
                for peer in self.graceful.expired(now) {
                    if let Some(id) = self.id(peer) {
                        let swept = self.rib.sweep_stale(id, None).unwrap_or(0);
                        tracing::info!(%peer, swept, "graceful restart: stale timer expired");
                    }
                }
                Flow::Continue
            }
        }
    }

    fn id(&self, peer: IpAddr) -> Option<PeerId> {
        self.neighbors.get(&peer).map(|(_, id)| *id)
    }

    fn on_peer(&mut self, event: PeerEvent) {
        self.sessions.taken(&event);
        match event {
            PeerEvent::Established { peer, negotiated } => {
                let Some(id) = self.id(peer) else { return };
                let local_address = self
                    .sessions
                    .status(peer)
                    .and_then(|s| s.endpoints)
                    .map(|(local, _)| local.ip())
                    .unwrap_or(peer);
                let up = PeerUp {
                    router_id: negotiated.peer_bgp_id,
                    local_address,
                    context: negotiated.context(),
                    families: negotiated.families.clone(),
                };
                if let Err(e) = self.rib.peer_up(id, up) {
                    tracing::warn!(%peer, error = %e, "RIB refused the session");
                }
                let capability = negotiated.peer_graceful_restart.clone();
                for family in self.graceful.established(peer, capability, Instant::now()) {
                    let swept = self.rib.sweep_stale(id, Some(family)).unwrap_or(0);
                    if swept > 0 {
                        tracing::info!(%peer, ?family, swept, "graceful restart: forwarding state not preserved");
                    }
                }
            }
            PeerEvent::Down {
                peer,
                reason,
                without_notification,
            } => {
                let Some(id) = self.id(peer) else { return };
                let keep = self
                    .graceful
                    .down(peer, without_notification, Instant::now());
                let result = if keep.is_empty() {
                    tracing::info!(%peer, %reason, "session down; withdrawing its routes");
                    self.rib.peer_down(id)
                } else {
                    tracing::info!(%peer, %reason, ?keep, "session down; graceful restart: keeping its routes, stale");
                    self.rib.peer_down_graceful(id, &keep)
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "peer down");
                }
            }
            PeerEvent::Update {
                peer,
                update,
                verdict,
            } => self.on_update(peer, &update, &verdict),
            PeerEvent::RouteRefresh { peer, refresh } => {
                let Some(id) = self.id(peer) else { return };
                match self.rib.route_refresh(id, refresh.family) {
                    Ok(updates) => self.send(peer, updates),
                    Err(e) => tracing::debug!(%peer, error = %e, "route refresh"),
                }
            }
        }
    }

    fn on_update(&mut self, peer: IpAddr, update: &Update, verdict: &Verdict) {
        let Some(id) = self.id(peer) else { return };
        // RFC 7606: treat-as-withdraw, and AFI/SAFI disable handled as treat-as-withdraw of
        // the UPDATE (the family's other routes stay).
        let as_withdraw = verdict
            .outcome()
            .is_some_and(|o| o >= Outcome::TreatAsWithdraw);
        let report = if as_withdraw {
            self.rib.ingest_as_withdraw(id, update)
        } else {
            self.rib.ingest(id, update)
        };
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "UPDATE not applied");
                return;
            }
        };
        if let Some(family) = report.end_of_rib {
            self.graceful.end_of_rib(peer, family);
            if self.rib.stale_count(id).unwrap_or(0) == 0 {
                self.graceful.stale_cleared(peer);
            }
        }
        self.on_max_prefix(peer, report.max_prefix);
    }

    fn on_max_prefix(&self, peer: IpAddr, events: Vec<crate::policy::MaxPrefixEvent>) {
        for event in events {
            match event {
                crate::policy::MaxPrefixEvent::Warning {
                    family,
                    count,
                    limit,
                } => {
                    tracing::warn!(%peer, ?family, count, limit, "prefix count reached the warning threshold");
                }
                crate::policy::MaxPrefixEvent::Exceeded {
                    family,
                    count,
                    limit,
                    restart_after,
                    ..
                } => {
                    tracing::warn!(%peer, ?family, count, limit, ?restart_after, "maximum prefixes exceeded: Cease/1");
                    let stop = PeerCommand::AutomaticStop {
                        subcode: CeaseSubcode::MaximumPrefixesReached,
                        restart_after,
                    };
                    let _ = self.sessions.command(peer, stop);
                }
            }
        }
    }

    fn send(&self, peer: IpAddr, updates: Vec<Update>) {
        send(&self.sessions, peer, updates);
    }

    /// The RIB's output after a batch of inputs: UPDATEs for every Established peer, Loc-RIB
    /// changes for the subscribers.
    fn flush(&mut self) {
        if self.graceful.is_deferring() {
            // Only while restarting: every session's status is read.
            let established: Vec<(IpAddr, Vec<AfiSafi>)> = self
                .sessions
                .statuses()
                .into_iter()
                .filter_map(|(peer, status)| Some((peer, status.negotiated?.families)))
                .collect();
            if self.graceful.deferring(&established, Instant::now()) {
                return;
            }
        }
        let addresses: HashMap<PeerId, IpAddr> = self
            .neighbors
            .iter()
            .map(|(ip, (_, id))| (*id, *ip))
            .collect();
        let sessions = &self.sessions;
        while self.rib.poll_all(POLL_ROUTES, |id, updates| {
            if let Some(peer) = addresses.get(&id) {
                send(sessions, *peer, updates);
            }
        }) {}
        if self.subscribers.is_empty() {
            self.rib.skip_changes();
            return;
        }
        let changes = self.rib.drain_changes();
        if !changes.is_empty() {
            self.subscribers.retain(|s| s.send(changes.clone()).is_ok());
        }
    }

    async fn on_request(&mut self, request: Request) -> Flow {
        match request {
            Request::AddNeighbor(neighbor, reply) => {
                let _ = reply.send(self.add_neighbor(*neighbor));
            }
            Request::ChangeNeighbor(neighbor, reply) => {
                let result = self.change_neighbor(*neighbor).await;
                let _ = reply.send(result);
            }
            Request::RemoveNeighbor(address, reply) => {
                let result = self.remove_neighbor(address).await;
                let _ = reply.send(result);
            }
            Request::Originate(prefix, attrs) => self.rib.originate(prefix, *attrs),
            Request::Withdraw(prefix) => {
                self.rib.withdraw_local(prefix);
            }
            Request::Subscribe(subscriber) => self.subscribers.push(subscriber),
            Request::Sessions(reply) => {
                let _ = reply.send(self.session_infos());
            }
            Request::Lookup(prefix, reply) => {
                let _ = reply.send(self.rib.lookup(prefix));
            }
            Request::Shutdown { graceful, done } => {
                let sessions =
                    std::mem::replace(&mut self.sessions, SessionManager::without_listener().0);
                sessions.shutdown(graceful).await;
                let _ = done.send(());
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn add_neighbor(&mut self, neighbor: NeighborConfig) -> Result<(), SpeakerError> {
        let address = neighbor.address;
        let id = self.rib.add_peer(neighbor.rib())?;
        if let Err(e) = self.sessions.add_peer(neighbor.session(&self.config)) {
            let _ = self.rib.remove_peer(id);
            return Err(e.into());
        }
        self.neighbors.insert(address, (neighbor, id));
        Ok(())
    }

    async fn remove_neighbor(&mut self, address: IpAddr) -> Result<(), SpeakerError> {
        let (_, id) = self
            .neighbors
            .remove(&address)
            .ok_or(SpeakerError::UnknownNeighbor(address))?;
        self.sessions.remove_peer(address, None).await?;
        self.graceful.forget(address);
        self.rib.remove_peer(id)?;
        Ok(())
    }

    async fn change_neighbor(
        &mut self,
        neighbor: NeighborConfig,
    ) -> Result<NeighborChange, SpeakerError> {
        let address = neighbor.address;
        let (old, id) = self
            .neighbors
            .get(&address)
            .cloned()
            .ok_or(SpeakerError::UnknownNeighbor(address))?;
        if old == neighbor {
            return Ok(NeighborChange::Unchanged);
        }
        if old.session(&self.config) == neighbor.session(&self.config) {
            // Routing-level only (policies, next hop, reflection, max-prefix): import re-runs
            // over the pre-policy Adj-RIB-In and export is re-evaluated, no reset.
            let events = self.rib.reconfigure_peer(id, neighbor.rib())?;
            self.neighbors.insert(address, (neighbor, id));
            self.on_max_prefix(address, events);
            return Ok(NeighborChange::Routing);
        }
        self.remove_neighbor(address).await?;
        self.add_neighbor(neighbor)?;
        Ok(NeighborChange::SessionReset)
    }

    fn session_infos(&self) -> Vec<SessionInfo> {
        let mut infos: Vec<SessionInfo> = self
            .neighbors
            .iter()
            .filter_map(|(address, (neighbor, id))| {
                let status = self.sessions.status(*address)?;
                let count =
                    |f: fn(&Rib, PeerId, AfiSafi) -> Result<usize, crate::rib::RibError>| {
                        [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
                            .iter()
                            .map(|fam| f(&self.rib, *id, *fam).unwrap_or(0))
                            .sum()
                    };
                Some(SessionInfo {
                    address: *address,
                    remote_asn: neighbor.remote_asn,
                    state: status.state,
                    since: status.since,
                    last_error: status.last_error,
                    prefixes_received: count(Rib::adj_rib_in_len),
                    prefixes_sent: count(Rib::adj_rib_out_len),
                    negotiated: status.negotiated,
                })
            })
            .collect();
        infos.sort_by_key(|i| i.address);
        infos
    }
}
