//! The agent's one input loop (STYLE.md §5): every input — a datastore change, an IPAM
//! affinity change, a Loc-RIB change from the speaker, an API request, the periodic tick, a
//! stop signal — is one [`Input`] value on one channel, handled in order by one task that owns
//! all the state. Watchers and the speaker's subscription run in their own tasks and only
//! forward.
//!
//! ```text
//!  resources watch ─┐                      ┌─► BgpSync ── neighbors, originations ─► speaker
//!  affinities watch ┼─► Input ─► Agent ────┤
//!  speaker Loc-RIB ─┤           (state)    └─► decide(view, paths) ─► Dataplane (VTEP, FIB)
//!  API, tick, stop ─┘
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use margay_bgp::rib::LocRibChange;
use margay_bgp::speaker::{GracefulRestartConfig, SpeakerConfig, SpeakerHandle};
use margay_ipam::kv::Store;
use margay_ipam::kv::watch::{WatchUpdate, Watcher};
use margay_ipam::{Ipam, IpamConfig};
use margay_vxlan::{Vtep, VtepConfig};
use tokio::sync::{mpsc, oneshot};

use super::AgentError;
use super::bgp::{BgpSync, export_policy, origination_attrs};
use super::cluster::ClusterView;
use super::identity::Identity;
use super::paths::BgpPaths;
use super::retry::until_reachable;
use crate::api::{self, NodeStatus, Reply, Request, RouteStatus, SessionStatus, VtepStatus};
use crate::config::NodeConfig;
use crate::datastore::{Datastore, ResourceEvent};
use crate::fib::{FibConfig, FibWriter};
use crate::peering::{self, BgpSettings};
use crate::resources::{Kind, ipam_pools_for};
use crate::routing::{Dataplane, Decision, decide};

/// How often the agent re-reads what it cannot watch (MD5 key files), retries what failed
/// (block claims, refused neighbors) and reconciles the data plane with the kernel.
const TICK: Duration = Duration::from_secs(10);

/// Longest wait, after a restart, for the speaker's first post-End-of-RIB view before the
/// data plane is reconciled anyway.
const MAX_RESTART_HOLD: Duration = Duration::from_secs(120);

/// The problem shown while no pool gives this node a block.
const NO_POOL: &str = "no enabled IP pool of the underlay's family selects this node: no block \
                       and no VTEP address yet (margayctl apply an IPPool)";

/// One input of the loop.
#[derive(Debug)]
pub enum Input {
    /// Resource changes.
    Resources(Vec<ResourceEvent>),
    /// Block affinity changes.
    Affinities(WatchUpdate),
    /// The speaker's Loc-RIB changed.
    LocRib(Vec<LocRibChange>),
    /// A local API request.
    Api(Request, oneshot::Sender<Reply>),
    /// Periodic work.
    Tick,
    /// SIGTERM / SIGINT.
    Stop(&'static str),
}

/// The speaker-wide settings; a change of any of them needs a new speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SpeakerIdentity {
    asn: u32,
    cluster_id: Option<Ipv4Addr>,
    listen_port: u16,
    graceful_restart_seconds: u32,
}

/// Problems by where they come from, replaced as each part is redone.
#[derive(Debug, Default)]
struct Problems(BTreeMap<&'static str, Vec<String>>);

impl Problems {
    fn set(&mut self, source: &'static str, problems: Vec<String>) {
        for p in &problems {
            if !self.0.get(source).is_some_and(|old| old.contains(p)) {
                tracing::warn!(source, "{p}");
            }
        }
        if problems.is_empty() {
            self.0.remove(source);
        } else {
            self.0.insert(source, problems);
        }
    }

    fn all(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|(source, ps)| ps.iter().map(move |p| format!("{source}: {p}")))
            .collect()
    }
}

/// The node agent's state, owned by the loop.
#[derive(Debug)]
pub struct Agent<S: Store> {
    identity: Identity,
    datastore: Datastore<S>,
    ipam: Ipam<S>,
    view: ClusterView,
    paths: BgpPaths,
    bgp: BgpSync,
    speaker_identity: SpeakerIdentity,
    dataplane: Dataplane,
    vtep_config: VtepConfig,
    decision: Decision,
    tunnel: Option<IpAddr>,
    /// After a restart: the data plane keeps the previous life's routes until the speaker's
    /// first view after End-of-RIB, or this deadline.
    restart_hold: Option<Instant>,
    problems: Problems,
    inputs: mpsc::UnboundedReceiver<Input>,
    sender: mpsc::UnboundedSender<Input>,
}

/// Forwards API requests into the loop.
#[derive(Debug)]
struct ApiBridge(mpsc::UnboundedSender<Input>);

impl api::Handler for ApiBridge {
    async fn handle(&self, request: Request) -> Reply {
        let (reply, answer) = oneshot::channel();
        if self.0.send(Input::Api(request, reply)).is_err() {
            return Reply::Error {
                message: "margay-node is stopping".into(),
            };
        }
        answer.await.unwrap_or_else(|_| Reply::Error {
            message: "margay-node is stopping".into(),
        })
    }
}

fn router_id(identity: &Identity) -> Ipv4Addr {
    match identity.underlay.address.ip() {
        IpAddr::V4(a) => a,
        // An IPv6-only node: a stable identifier from the node's MAC (RFC 6286 only asks for
        // uniqueness within the AS).
        IpAddr::V6(_) => {
            let o = identity.mac.octets();
            Ipv4Addr::new(o[2], o[3], o[4], o[5])
        }
    }
}

fn spawn_speaker(
    identity: &Identity,
    settings: &SpeakerIdentity,
    restarting: bool,
) -> Result<SpeakerHandle, AgentError> {
    let unspecified = match identity.underlay.address.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let mut config = SpeakerConfig::new(settings.asn, router_id(identity));
    config.listen = Some(SocketAddr::new(unspecified, settings.listen_port));
    config.max_paths = 8;
    config.cluster_id = settings.cluster_id;
    config.graceful_restart =
        (settings.graceful_restart_seconds > 0).then(|| GracefulRestartConfig {
            restart_time: u16::try_from(settings.graceful_restart_seconds).unwrap_or(4095),
            restarting,
            forwarding_preserved: restarting,
        });
    Ok(SpeakerHandle::spawn(config)?)
}

fn forward_rib(speaker: &SpeakerHandle, sender: mpsc::UnboundedSender<Input>) {
    let Ok(mut changes) = speaker.subscribe() else {
        return;
    };
    tokio::spawn(async move {
        while let Some(batch) = changes.recv().await {
            if sender.send(Input::LocRib(batch)).is_err() {
                break;
            }
        }
    });
}

/// Sets loose reverse-path filtering (2) on `device` in this namespace (DESIGN §4: strict
/// mode drops packets while two nodes disagree for a moment about VXLAN versus native).
fn loose_rp_filter(device: &str) -> Result<(), String> {
    let path = format!("/proc/sys/net/ipv4/conf/{device}/rp_filter");
    std::fs::write(&path, "2").map_err(|e| format!("{path}: {e}"))
}

impl<S: Store> Agent<S> {
    /// Starts everything: reads the cluster, starts the FIB writer (adopting the routes of a
    /// previous run), claims the VTEP address (and with it a block), registers the Node,
    /// brings up the VTEP and the speaker.
    pub async fn start(
        config: &NodeConfig,
        identity: Identity,
        datastore: Datastore<S>,
    ) -> Result<Agent<S>, AgentError> {
        let (sender, inputs) = mpsc::unbounded_channel();
        let store = Arc::clone(datastore.store());
        let keys = datastore.keys().clone();
        let ipam = Ipam::new(Arc::clone(&store), keys.clone(), IpamConfig::default());

        let (mut view, mut resource_watch, mut affinity_watch) =
            until_reachable("reading the cluster", || async {
                let (resources, resource_watch) = datastore.list_and_watch().await?;
                let mut view = ClusterView::new(resources);
                let (affinities, affinity_watch) =
                    Watcher::list_and_watch(Arc::clone(&store), &keys.affinities()).await?;
                view.apply_affinities(&keys, &WatchUpdate::Resync(affinities));
                Ok((view, resource_watch, affinity_watch))
            })
            .await?;

        let fib = FibWriter::start(FibConfig::default()).await?;
        let adopted = fib.handle.stats().await?.installed;
        let restarting = adopted > 0;
        if restarting {
            tracing::info!(
                adopted,
                "routes of a previous run found: restarting gracefully (they stay until BGP has \
                 converged again)"
            );
        }

        let mut problems = Problems::default();
        let pools = ipam_pools_for(&view.pools(), &identity.labels);
        let tunnel = match identity.claim_tunnel_address(&ipam, pools).await {
            Ok(None) => {
                problems.set("ipam", vec![NO_POOL.into()]);
                None
            }
            Ok(Some(assignment)) => Some(assignment.addr),
            Err(e) => {
                problems.set("ipam", vec![format!("no VTEP address yet: {e}")]);
                None
            }
        };
        let node = until_reachable("registering the Node", || async {
            Ok(identity.register(&datastore, tunnel).await?)
        })
        .await?;
        let forward = sender.clone();
        tokio::spawn(async move {
            loop {
                let events = resource_watch.next().await;
                if forward.send(Input::Resources(events)).is_err() {
                    break;
                }
            }
        });
        let forward = sender.clone();
        tokio::spawn(async move {
            loop {
                let update = affinity_watch.next().await;
                if forward.send(Input::Affinities(update)).is_err() {
                    break;
                }
            }
        });
        tracing::info!(
            node = %identity.name,
            underlay = %identity.underlay.address,
            interface = %identity.underlay.interface,
            tunnel = ?tunnel,
            "registered"
        );
        view.apply_resources(vec![ResourceEvent::Upserted(Box::new(
            crate::datastore::StoredResource {
                resource: crate::resources::Resource::Node(node),
                revision: 0,
            },
        ))]);

        let mut vtep_config = VtepConfig::for_node(&identity.name, identity.underlay.address.ip());
        vtep_config.uplink = Some(identity.underlay.interface.clone());
        vtep_config.mtu = config.vxlan_mtu;
        vtep_config.tx_checksum_offload_off = config.vxlan_disable_tx_checksum_offload;
        vtep_config.tunnel_address = tunnel;
        let vtep = ensure_vtep(&vtep_config).await?;
        let dataplane = Dataplane::new(vtep, fib.handle);

        let settings = bgp_settings(&view, &identity);
        let speaker_identity = speaker_identity(&view, &identity, &settings);
        let speaker = spawn_speaker(&identity, &speaker_identity, restarting)?;
        forward_rib(&speaker, sender.clone());
        let connected = vec![identity.underlay.address];
        Ok(Agent {
            identity,
            datastore,
            ipam,
            view,
            paths: BgpPaths::new(connected),
            bgp: BgpSync::new(speaker),
            speaker_identity,
            dataplane,
            vtep_config,
            decision: Decision::default(),
            tunnel,
            restart_hold: restarting.then(|| {
                Instant::now()
                    + Duration::from_secs(u64::from(settings.graceful_restart_seconds))
                        .min(MAX_RESTART_HOLD)
            }),
            problems,
            inputs,
            sender,
        })
    }

    /// Runs until SIGTERM/SIGINT: serves the API on `socket`, applies every input. On stop,
    /// closes the BGP sessions gracefully (no NOTIFICATION when graceful restart is on) and
    /// leaves the kernel's routes and VTEP in place.
    pub async fn run(
        mut self,
        socket: &std::path::Path,
        metrics: SocketAddr,
    ) -> Result<(), AgentError> {
        self.sync_bgp().await;
        self.sync_dataplane().await;
        let bridge = Arc::new(ApiBridge(self.sender.clone()));
        let server = api::serve(socket, Arc::clone(&bridge)).await?;
        tracing::info!(socket = %socket.display(), "local API listening");
        let health = crate::health::serve(metrics, bridge)
            .await
            .map_err(|error| AgentError::Health {
                address: metrics,
                error,
            })?;
        tracing::info!(address = %health.address(), "/metrics, /livez, /readyz listening");
        spawn_signals(self.sender.clone())?;
        let ticker = self.sender.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.tick().await;
            loop {
                interval.tick().await;
                if ticker.send(Input::Tick).is_err() {
                    break;
                }
            }
        });
        while let Some(input) = self.inputs.recv().await {
            if let Input::Stop(signal) = input {
                tracing::info!(
                    signal,
                    "stopping: BGP sessions closed gracefully, routes kept"
                );
                break;
            }
            self.handle(input).await;
        }
        server.shutdown().await;
        drop(health);
        let graceful = self.speaker_identity.graceful_restart_seconds > 0;
        if let Err(e) = self.bgp.speaker().shutdown(graceful).await {
            tracing::warn!(error = %e, "speaker shutdown");
        }
        tracing::info!("stopped");
        Ok(())
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Resources(events) => {
                let touched = self.view.apply_resources(events);
                if touched.pools && self.tunnel.is_none() {
                    self.claim_tunnel().await;
                }
                if touched.peering {
                    self.sync_bgp().await;
                }
                if touched.routing {
                    self.sync_dataplane().await;
                }
            }
            Input::Affinities(update) => {
                if self.view.apply_affinities(self.datastore.keys(), &update) {
                    self.sync_originated();
                    self.sync_dataplane().await;
                }
            }
            Input::LocRib(changes) => {
                let released = self.restart_hold.take().is_some();
                if released {
                    tracing::info!("graceful restart: BGP converged, reconciling the data plane");
                }
                if self.paths.apply(&changes) || released {
                    self.sync_dataplane().await;
                }
            }
            Input::Api(request, reply) => {
                let answer = match request {
                    Request::Status => Reply::Status(self.status().await),
                    Request::Routes => Reply::Routes(RouteStatus::from_decision(
                        &self.decision,
                        &self.identity.underlay.interface,
                    )),
                };
                let _ = reply.send(answer);
            }
            Input::Tick => {
                self.probe_datastore().await;
                if self.tunnel.is_none() {
                    self.claim_tunnel().await;
                }
                self.sync_bgp().await;
                self.sync_dataplane().await;
            }
            Input::Stop(_) => {}
        }
    }

    /// Reads this node's Node: while the datastore does not answer, `node status` says so
    /// (the watches and the liveness lease retry on their own meanwhile; forwarding goes on).
    async fn probe_datastore(&mut self) {
        let problems = match self.datastore.get(Kind::Node, &self.identity.name).await {
            Ok(_) => Vec::new(),
            Err(e) => vec![format!(
                "not reachable ({e}); forwarding with the state last seen, retrying"
            )],
        };
        self.problems.set("datastore", problems);
    }

    /// Claims the VTEP address (and a block) once a pool exists; re-registers and re-creates
    /// the VTEP with it.
    async fn claim_tunnel(&mut self) {
        let pools = ipam_pools_for(&self.view.pools(), &self.identity.labels);
        match self.identity.claim_tunnel_address(&self.ipam, pools).await {
            Ok(None) => self.problems.set("ipam", vec![NO_POOL.into()]),
            Ok(Some(assignment)) => {
                self.problems.set("ipam", Vec::new());
                self.tunnel = Some(assignment.addr);
                tracing::info!(tunnel = %assignment.addr, block = %assignment.block, "VTEP address claimed");
                match self.identity.register(&self.datastore, self.tunnel).await {
                    Ok(_) => self.problems.set("registration", Vec::new()),
                    Err(e) => self.problems.set("registration", vec![e.to_string()]),
                }
                self.vtep_config.tunnel_address = self.tunnel;
                match ensure_vtep(&self.vtep_config).await {
                    Ok(vtep) => {
                        let fib = self.dataplane.fib().clone();
                        self.dataplane = Dataplane::new(vtep, fib);
                        self.problems.set("vtep", Vec::new());
                    }
                    Err(e) => self.problems.set("vtep", vec![e.to_string()]),
                }
            }
            Err(e) => self
                .problems
                .set("ipam", vec![format!("no VTEP address yet: {e}")]),
        }
    }

    /// Neighbors from the peering plan, originations from own blocks; a new speaker when a
    /// speaker-wide setting (AS, reflector cluster, port, restart time) changed.
    async fn sync_bgp(&mut self) {
        let Some(local) = self.view.node(&self.identity.name).cloned() else {
            self.problems.set(
                "bgp",
                vec![format!(
                    "Node {} is not in the datastore (deleted?): BGP left as it was",
                    self.identity.name
                )],
            );
            return;
        };
        let settings = bgp_settings(&self.view, &self.identity);
        let wanted = speaker_identity(&self.view, &self.identity, &settings);
        if wanted != self.speaker_identity {
            tracing::info!(from = ?self.speaker_identity, to = ?wanted, "BGP identity changed: restarting the speaker");
            let graceful = self.speaker_identity.graceful_restart_seconds > 0;
            if let Err(e) = self.bgp.speaker().shutdown(graceful).await {
                tracing::warn!(error = %e, "speaker shutdown");
            }
            match spawn_speaker(&self.identity, &wanted, false) {
                Ok(speaker) => {
                    forward_rib(&speaker, self.sender.clone());
                    self.bgp = BgpSync::new(speaker);
                    self.paths = BgpPaths::new(vec![self.identity.underlay.address]);
                    self.speaker_identity = wanted;
                }
                Err(e) => {
                    self.problems.set("bgp", vec![e.to_string()]);
                    return;
                }
            }
        }
        let plan = peering::plan(
            &local,
            &self.view.nodes(),
            &self.view.bgp_peers(),
            &self.view.bgp_configurations(),
            &|path| std::fs::read_to_string(path),
        );
        let pools: Vec<_> = self.view.pools().iter().map(|p| p.cidr).collect();
        let export = export_policy(&pools, &settings.service_cluster_ips);
        let mut peers = plan.peers;
        for peer in &mut peers {
            peer.neighbor.export = export.clone();
        }
        let mut problems = plan.problems;
        problems.extend(self.bgp.set_neighbors(peers).await);
        self.problems.set("bgp", problems);
        self.sync_originated();
        if self.restart_hold.is_some() && self.bgp.neighbors().is_empty() {
            tracing::info!("graceful restart: no BGP neighbors to wait for");
            self.restart_hold = None;
        }
    }

    fn sync_originated(&mut self) {
        let settings = bgp_settings(&self.view, &self.identity);
        let mut prefixes = self.view.blocks_of(&self.identity.name);
        prefixes.extend(settings.service_cluster_ips.iter().copied());
        let attrs = origination_attrs(&settings.communities);
        if let Err(e) = self.bgp.set_originated(&prefixes, &attrs) {
            self.problems
                .set("announce", vec![format!("announcing own blocks: {e}")]);
        }
    }

    /// Decides and applies, unless a restart hold is on.
    async fn sync_dataplane(&mut self) {
        if let Some(until) = self.restart_hold {
            if Instant::now() < until {
                return;
            }
            tracing::info!("graceful restart: hold time over, reconciling the data plane");
            self.restart_hold = None;
        }
        let input = self.view.decision_input(
            &self.identity.name,
            self.identity.underlay.address,
            self.paths.snapshot(),
        );
        let decision = decide(&input);
        for dst in self.decision.changed_destinations(&decision) {
            match decision.routes.get(&dst) {
                Some(route) => {
                    tracing::info!(%dst, via = ?route.via, reason = %route.reason, "route")
                }
                None => tracing::info!(%dst, "route removed"),
            }
        }
        match self.dataplane.apply(&decision).await {
            Ok(report) => {
                let failed: Vec<String> = report
                    .routes
                    .failed
                    .iter()
                    .map(|f| format!("{f:?}"))
                    .chain(
                        report
                            .routes
                            .conflicts
                            .iter()
                            .map(|c| format!("{c}: a route of another protocol is in the way")),
                    )
                    .collect();
                self.problems.set("routes", failed);
            }
            Err(e) => self.problems.set("routes", vec![e.to_string()]),
        }
        self.decision = decision;
    }

    async fn status(&mut self) -> NodeStatus {
        let sessions = match self.bgp.speaker().sessions().await {
            Ok(sessions) => sessions,
            Err(e) => {
                self.problems.set("bgp", vec![format!("sessions: {e}")]);
                Vec::new()
            }
        };
        let neighbors = self.bgp.neighbors();
        let sessions = sessions
            .into_iter()
            .filter_map(|s| {
                let neighbor = neighbors.get(&s.address)?;
                Some(SessionStatus {
                    peer: s.address,
                    kind: neighbor.kind,
                    name: neighbor.name.clone(),
                    asn: s.remote_asn,
                    state: format!("{:?}", s.state),
                    since_unix: s
                        .since
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                    prefixes_received: s.prefixes_received,
                    prefixes_sent: s.prefixes_sent,
                    last_error: s.last_error,
                })
            })
            .collect();
        let vtep = self.dataplane.vtep();
        NodeStatus {
            node: self.identity.name.clone(),
            underlay: self.identity.underlay.address,
            asn: self.speaker_identity.asn,
            router_id: router_id(&self.identity),
            route_reflector_cluster_id: self.speaker_identity.cluster_id,
            blocks: self.view.blocks_of(&self.identity.name),
            vtep: self.tunnel.map(|tunnel_address| VtepStatus {
                device: vtep.config().name.clone(),
                tunnel_address,
                mac: self.identity.mac.to_string(),
                mtu: vtep.mtu(),
            }),
            sessions,
            problems: self.problems.all(),
            converged: self.restart_hold.is_none(),
        }
    }
}

fn bgp_settings(view: &ClusterView, identity: &Identity) -> BgpSettings {
    match view.node(&identity.name) {
        Some(node) => peering::effective_settings(node, &view.bgp_configurations()),
        None => peering::effective_settings(
            &identity_node_fallback(identity),
            &view.bgp_configurations(),
        ),
    }
}

/// The Node this node would register, for settings before (or after losing) the stored one.
fn identity_node_fallback(identity: &Identity) -> crate::resources::Node {
    let name = crate::resources::ResourceName::new(&identity.name, "metadata.name")
        .expect("the node name was validated at start");
    crate::resources::Node::validate(name, identity.node_doc(None, None))
        .expect("the node's own fields are valid")
}

fn speaker_identity(
    view: &ClusterView,
    identity: &Identity,
    settings: &BgpSettings,
) -> SpeakerIdentity {
    SpeakerIdentity {
        asn: settings.asn,
        cluster_id: view
            .node(&identity.name)
            .and_then(|n| n.route_reflector_cluster_id),
        listen_port: settings.listen_port,
        graceful_restart_seconds: settings.graceful_restart_seconds,
    }
}

async fn ensure_vtep(config: &VtepConfig) -> Result<Vtep, AgentError> {
    let handle = margay_vxlan::connect().map_err(AgentError::Netlink)?;
    let (vtep, action) = Vtep::ensure(handle, config.clone()).await?;
    tracing::info!(device = %config.name, ?action, mtu = vtep.mtu(), "VTEP");
    for device in [config.uplink.as_deref().unwrap_or_default(), &config.name] {
        match loose_rp_filter(device) {
            Ok(()) => tracing::info!(device, "rp_filter set to 2 (loose)"),
            Err(e) => tracing::warn!(error = %e, "could not set loose rp_filter"),
        }
    }
    Ok(vtep)
}

fn spawn_signals(sender: mpsc::UnboundedSender<Input>) -> Result<(), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(AgentError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AgentError::Signal)?;
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        let _ = sender.send(Input::Stop(which));
    });
    Ok(())
}
