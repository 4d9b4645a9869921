//! The speaker: the one way the node agent talks to BGP (DESIGN §5). It owns the sessions
//! (`crate::session`) and the RIB (`crate::rib`) and runs ONE input loop: every input — a
//! peer's event, an API request — is one [`Input`] value through one task, so the speaker's
//! behaviour can be logged and replayed in order (STYLE.md §5).
//!
//! ```text
//!  SpeakerHandle ── Request ──┐
//!                             ▼
//!  peer tasks ── PeerEvent ──► speaker loop ── rib.ingest / peer_up / originate ...
//!       ▲                         │  after each batch of inputs:
//!       └──── UPDATEs ◄───────────┤  rib.poll_updates(peer) for every Established peer
//!                                 └► subscribers ◄─ rib.drain_changes()  (LocRibChange)
//! ```
//!
//! Changing a neighbor resets its session only when a session-level value changed (address,
//! port, AS numbers, timers, families, transport, passive); routing-level changes (policies,
//! reflection, next hop, max-prefix) are applied in place by `Rib::reconfigure_peer`: import
//! re-runs over the pre-policy Adj-RIB-In and export is re-evaluated, with no reset.

mod graceful;
mod run;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};

use crate::fsm::{Negotiated, SessionConfig, State};
use crate::policy::{MaxPrefix, Policy};
use crate::rib::{LocRibChange, NextHopMode, Prefix, RibError, RouteAttrs};
use crate::session::{PeerConfig as SessionPeerConfig, PeerEvent, SessionError};
use crate::transport::PeerTransport;
use crate::wire::{AfiSafi, Capability, GracefulRestart, GracefulRestartFamily};

/// Speaker-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Our AS.
    pub local_asn: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// Where to listen for peers (port 179); `None`: connect only.
    pub listen: Option<SocketAddr>,
    /// Largest ECMP set (1: single best path).
    pub max_paths: usize,
    /// Route-reflector cluster id (RFC 4456 §7), when reflecting.
    pub cluster_id: Option<Ipv4Addr>,
    /// Compare MED across neighbour ASes.
    pub always_compare_med: bool,
    /// Graceful restart (RFC 4724); `None`: not advertised, peers' routes purged at once.
    pub graceful_restart: Option<GracefulRestartConfig>,
}

impl SpeakerConfig {
    /// A speaker with AS and identifier, connecting only (no listener), single best path, no
    /// reflection cluster id, MED compared within a neighbour AS, no graceful restart.
    pub fn new(local_asn: u32, router_id: Ipv4Addr) -> Self {
        SpeakerConfig {
            local_asn,
            router_id,
            listen: None,
            max_paths: 1,
            cluster_id: None,
            always_compare_med: false,
            graceful_restart: None,
        }
    }
}

/// Graceful restart settings (RFC 4724, DESIGN §5: on, restart time 120 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart Time we advertise, seconds (≤ 4095); also our selection deferral time.
    pub restart_time: u16,
    /// We have just restarted: the R bit in our OPENs, and route selection deferred until
    /// peers' End-of-RIB (§4.1).
    pub restarting: bool,
    /// Forwarding state survived the restart (routes still in the kernel): the F bit.
    pub forwarding_preserved: bool,
}

/// One neighbor: its session and its routing.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborConfig {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's port (179).
    pub port: u16,
    /// The peer's AS.
    pub remote_asn: u32,
    /// Our AS towards this peer, if not the speaker's (e.g. a per-node ASN).
    pub local_asn: Option<u32>,
    /// Source address, MD5 key, GTSM.
    pub transport: PeerTransport,
    /// Wait for the peer to connect.
    pub passive: bool,
    /// Hold time we propose (0 or ≥ 3 s).
    pub hold_time: u16,
    /// ConnectRetryTime.
    pub connect_retry: Duration,
    /// Address families of the session (RFC 4760).
    pub families: Vec<AfiSafi>,
    /// An iBGP peer we reflect for (RFC 4456).
    pub route_reflector_client: bool,
    /// NEXT_HOP rewriting towards this peer.
    pub next_hop: NextHopMode,
    /// Our IPv4 next hop towards this peer (default: the session's local address if IPv4).
    pub next_hop_self_v4: Option<Ipv4Addr>,
    /// Our IPv6 next hop towards this peer (default: the session's local address if IPv6);
    /// needed to send IPv6 routes over an IPv4 session.
    pub next_hop_self_v6: Option<std::net::Ipv6Addr>,
    /// Import policy (applied to the pre-policy Adj-RIB-In).
    pub import: Policy,
    /// Export policy.
    pub export: Policy,
    /// Prefix limit (RFC 4486).
    pub max_prefix: Option<MaxPrefix>,
}

impl NeighborConfig {
    /// A neighbor with DESIGN §5 defaults: hold 90 s, IPv4 and IPv6 unicast, accept-all
    /// policies, automatic next hop, active.
    pub fn new(address: IpAddr, remote_asn: u32) -> Self {
        NeighborConfig {
            address,
            port: crate::transport::BGP_PORT,
            remote_asn,
            local_asn: None,
            transport: PeerTransport::default(),
            passive: false,
            hold_time: 90,
            connect_retry: Duration::from_secs(5),
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            route_reflector_client: false,
            next_hop: NextHopMode::Auto,
            next_hop_self_v4: None,
            next_hop_self_v6: None,
            import: Policy::default(),
            export: Policy::default(),
            max_prefix: None,
        }
    }

    /// The session driver's configuration for this neighbor.
    fn session(&self, speaker: &SpeakerConfig) -> SessionPeerConfig {
        let local_asn = self.local_asn.unwrap_or(speaker.local_asn);
        let mut capabilities: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        capabilities.push(Capability::FourOctetAs(local_asn));
        capabilities.push(Capability::RouteRefresh);
        if let Some(gr) = &speaker.graceful_restart {
            // Advertised only for the families this session uses.
            let families = self
                .families
                .iter()
                .map(|f| GracefulRestartFamily {
                    family: *f,
                    forwarding_preserved: gr.forwarding_preserved,
                })
                .collect();
            capabilities.push(Capability::GracefulRestart(GracefulRestart {
                restart_state: gr.restarting,
                notification: false,
                restart_time: gr.restart_time,
                families,
            }));
        }
        let mut session =
            SessionConfig::new(local_asn, self.remote_asn, speaker.router_id, capabilities);
        session.hold_time = self.hold_time;
        session.connect_retry_time = self.connect_retry;
        SessionPeerConfig {
            address: self.address,
            port: self.port,
            transport: self.transport.clone(),
            session,
            passive: self.passive,
        }
    }

    /// The RIB's configuration for this neighbor.
    fn rib(&self) -> crate::rib::PeerConfig {
        let mut rib = crate::rib::PeerConfig::new(self.address, self.remote_asn);
        rib.route_reflector_client = self.route_reflector_client;
        rib.next_hop = self.next_hop;
        rib.next_hop_self_v4 = self.next_hop_self_v4;
        rib.next_hop_self_v6 = self.next_hop_self_v6;
        rib.import = self.import.clone();
        rib.export = self.export.clone();
        rib.max_prefix = self.max_prefix;
        rib
    }
}

/// What changing a neighbor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborChange {
    /// Nothing differed.
    Unchanged,
    /// Only routing settings changed; applied without a session reset.
    Routing,
    /// A session-level setting changed; the session was reset.
    SessionReset,
}

/// A session as the API reports it (`margayctl node status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer.
    pub address: IpAddr,
    /// Its AS.
    pub remote_asn: u32,
    /// FSM state.
    pub state: State,
    /// Since when.
    pub since: SystemTime,
    /// What ended the last session or attempt.
    pub last_error: Option<String>,
    /// Routes in its Adj-RIB-In (received, before policy), all families.
    pub prefixes_received: usize,
    /// Routes in its Adj-RIB-Out (sent), all families.
    pub prefixes_sent: usize,
    /// What the OPENs agreed, when Established.
    pub negotiated: Option<Negotiated>,
}

/// A request the speaker refuses.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    /// A session-layer error (duplicate peer, transport settings).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A RIB error.
    #[error(transparent)]
    Rib(#[from] RibError),
    /// No such neighbor.
    #[error("no neighbor {0}")]
    UnknownNeighbor(IpAddr),
    /// The speaker task has stopped.
    #[error("the speaker has stopped")]
    Stopped,
    /// Listening failed.
    #[error("listening on {address}: {error}")]
    Listen {
        /// Where.
        address: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// Requests through the speaker's input loop.
#[derive(Debug)]
pub(crate) enum Request {
    AddNeighbor(
        Box<NeighborConfig>,
        oneshot::Sender<Result<(), SpeakerError>>,
    ),
    ChangeNeighbor(
        Box<NeighborConfig>,
        oneshot::Sender<Result<NeighborChange, SpeakerError>>,
    ),
    RemoveNeighbor(IpAddr, oneshot::Sender<Result<(), SpeakerError>>),
    Originate(Prefix, Box<RouteAttrs>),
    Withdraw(Prefix),
    Subscribe(mpsc::UnboundedSender<Vec<LocRibChange>>),
    Sessions(oneshot::Sender<Vec<SessionInfo>>),
    Lookup(Prefix, oneshot::Sender<LocRibChange>),
    Shutdown {
        graceful: bool,
        done: oneshot::Sender<()>,
    },
}

/// Every input of the speaker loop.
#[derive(Debug)]
pub(crate) enum Input {
    Peer(PeerEvent),
    Api(Request),
    /// A graceful-restart deadline passed.
    Timer(std::time::Instant),
}

/// The node agent's handle on the speaker.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    requests: mpsc::UnboundedSender<Request>,
}

impl SpeakerHandle {
    /// Starts a speaker task (listening if configured).
    pub fn spawn(config: SpeakerConfig) -> Result<SpeakerHandle, SpeakerError> {
        let (requests, rx) = mpsc::unbounded_channel();
        run::spawn(config, rx)?;
        Ok(SpeakerHandle { requests })
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, SpeakerError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| SpeakerError::Stopped)?;
        rx.await.map_err(|_| SpeakerError::Stopped)
    }

    /// Adds a neighbor and starts its session.
    pub async fn add_neighbor(&self, neighbor: NeighborConfig) -> Result<(), SpeakerError> {
        self.ask(|tx| Request::AddNeighbor(Box::new(neighbor), tx))
            .await?
    }

    /// Changes a neighbor; resets its session only if a session-level value changed.
    pub async fn change_neighbor(
        &self,
        neighbor: NeighborConfig,
    ) -> Result<NeighborChange, SpeakerError> {
        self.ask(|tx| Request::ChangeNeighbor(Box::new(neighbor), tx))
            .await?
    }

    /// Removes a neighbor (Cease) and its routes.
    pub async fn remove_neighbor(&self, address: IpAddr) -> Result<(), SpeakerError> {
        self.ask(|tx| Request::RemoveNeighbor(address, tx)).await?
    }

    /// Originates a local prefix with these attributes (replacing earlier ones).
    pub fn originate(&self, prefix: Prefix, attrs: RouteAttrs) -> Result<(), SpeakerError> {
        self.requests
            .send(Request::Originate(prefix, Box::new(attrs)))
            .map_err(|_| SpeakerError::Stopped)
    }

    /// Withdraws a local prefix.
    pub fn withdraw(&self, prefix: Prefix) -> Result<(), SpeakerError> {
        self.requests
            .send(Request::Withdraw(prefix))
            .map_err(|_| SpeakerError::Stopped)
    }

    /// Loc-RIB changes from now on, in batches: for every prefix whose paths changed, its
    /// best path and every path (subscribe before adding neighbors to see everything).
    pub fn subscribe(&self) -> Result<mpsc::UnboundedReceiver<Vec<LocRibChange>>, SpeakerError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.requests
            .send(Request::Subscribe(tx))
            .map_err(|_| SpeakerError::Stopped)?;
        Ok(rx)
    }

    /// Every session.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, SpeakerError> {
        self.ask(Request::Sessions).await
    }

    /// The Loc-RIB paths of one prefix.
    pub async fn lookup(&self, prefix: Prefix) -> Result<LocRibChange, SpeakerError> {
        self.ask(|tx| Request::Lookup(prefix, tx)).await
    }

    /// Stops the speaker. `graceful`: close sessions without NOTIFICATION (graceful restart,
    /// the peers keep our routes, RFC 4724 §4); otherwise Cease every session.
    pub async fn shutdown(&self, graceful: bool) -> Result<(), SpeakerError> {
        self.ask(|done| Request::Shutdown { graceful, done }).await
    }
}
