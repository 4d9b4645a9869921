//! The sessions of a speaker: one listener on the BGP port shared by every peer, one driver
//! task per peer, and the routing of accepted connections to their peer's task. Connections
//! from addresses that are not configured peers are closed by the listener at once.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::budget::RouteBudget;
use super::peer::{
    PeerCommand, PeerConfig, PeerEvent, PeerHandle, PeerStatus, spawn_peer_with_budget,
};
use crate::transport::Listener;
use crate::wire::Message;

/// Where accepted connections go, by peer address.
type Routes = Arc<Mutex<HashMap<IpAddr, mpsc::UnboundedSender<PeerCommand>>>>;

/// A peer operation that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The peer is already configured.
    #[error("peer {0} is already configured")]
    DuplicatePeer(IpAddr),
    /// No such peer.
    #[error("peer {0} is not configured")]
    UnknownPeer(IpAddr),
    /// The listener refused the peer's transport settings (MD5 key, GTSM).
    #[error("peer {peer}: {error}")]
    Transport {
        /// The peer.
        peer: IpAddr,
        /// What the kernel said.
        error: io::Error,
    },
}

/// The sessions of one speaker.
#[derive(Debug)]
pub struct SessionManager {
    listener: Option<Arc<Listener>>,
    accept_task: Option<tokio::task::JoinHandle<()>>,
    routes: Routes,
    peers: HashMap<IpAddr, PeerHandle>,
    events: mpsc::UnboundedSender<PeerEvent>,
    budget: Option<Arc<RouteBudget>>,
}

impl SessionManager {
    /// Listens on `listen` (port 179, or 0 for any in tests) for peers to connect; peer events
    /// arrive on the returned receiver.
    pub fn bind(listen: SocketAddr) -> io::Result<(Self, mpsc::UnboundedReceiver<PeerEvent>)> {
        let listener = Arc::new(Listener::bind(listen)?);
        let routes = Routes::default();
        let accept_task = tokio::spawn(accept_loop(listener.clone(), routes.clone()));
        let (events, rx) = mpsc::unbounded_channel();
        let manager = SessionManager {
            listener: Some(listener),
            accept_task: Some(accept_task),
            routes,
            peers: HashMap::new(),
            events,
            budget: None,
        };
        Ok((manager, rx))
    }

    /// Sessions without a listener: every peer must be active (we connect).
    pub fn without_listener() -> (Self, mpsc::UnboundedReceiver<PeerEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        let manager = SessionManager {
            listener: None,
            accept_task: None,
            routes: Routes::default(),
            peers: HashMap::new(),
            events,
            budget: None,
        };
        (manager, rx)
    }

    /// Bounds the routes queued in the event receiver to `limit`: peers added from now on stop
    /// reading while that many are queued. The receiver must then report each event it takes
    /// with [`SessionManager::taken`].
    pub fn limit_queued_routes(&mut self, limit: usize) {
        self.budget = Some(Arc::new(RouteBudget::new(limit)));
    }

    /// The receiver took `event` out of the queue (see [`SessionManager::limit_queued_routes`]).
    pub fn taken(&self, event: &PeerEvent) {
        if let Some(budget) = &self.budget {
            budget.take(event.routes());
        }
    }

    /// The listening address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Adds a peer and starts its session.
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<(), SessionError> {
        let peer = config.address;
        if self.peers.contains_key(&peer) {
            return Err(SessionError::DuplicatePeer(peer));
        }
        if let Some(listener) = &self.listener {
            listener
                .allow_peer(peer, config.transport.clone())
                .map_err(|error| SessionError::Transport { peer, error })?;
        }
        let handle = spawn_peer_with_budget(config, self.events.clone(), self.budget.clone());
        lock(&self.routes).insert(peer, handle.sender());
        self.peers.insert(peer, handle);
        Ok(())
    }

    /// Stops a peer's session (Cease, with an optional shutdown communication) and forgets it.
    pub async fn remove_peer(
        &mut self,
        peer: IpAddr,
        communication: Option<String>,
    ) -> Result<(), SessionError> {
        let handle = self
            .peers
            .remove(&peer)
            .ok_or(SessionError::UnknownPeer(peer))?;
        lock(&self.routes).remove(&peer);
        if let Some(listener) = &self.listener {
            listener
                .forget_peer(peer)
                .map_err(|error| SessionError::Transport { peer, error })?;
        }
        handle.command(PeerCommand::Stop { communication });
        handle.join().await;
        Ok(())
    }

    /// Queues messages for an Established peer.
    pub fn send(&self, peer: IpAddr, messages: Vec<Message>) -> Result<(), SessionError> {
        let handle = self
            .peers
            .get(&peer)
            .ok_or(SessionError::UnknownPeer(peer))?;
        handle.command(PeerCommand::Send(messages));
        Ok(())
    }

    /// Sends a command to a peer's task.
    pub fn command(&self, peer: IpAddr, command: PeerCommand) -> Result<(), SessionError> {
        let handle = self
            .peers
            .get(&peer)
            .ok_or(SessionError::UnknownPeer(peer))?;
        handle.command(command);
        Ok(())
    }

    /// One peer's status.
    pub fn status(&self, peer: IpAddr) -> Option<PeerStatus> {
        self.peers.get(&peer).map(PeerHandle::status)
    }

    /// Every peer's status, by address.
    pub fn statuses(&self) -> Vec<(IpAddr, PeerStatus)> {
        let mut all: Vec<_> = self.peers.iter().map(|(ip, h)| (*ip, h.status())).collect();
        all.sort_by_key(|(ip, _)| *ip);
        all
    }

    /// A receiver of one peer's status changes.
    pub fn watch(&self, peer: IpAddr) -> Option<tokio::sync::watch::Receiver<PeerStatus>> {
        self.peers.get(&peer).map(PeerHandle::watch)
    }

    /// Stops every session and the listener. With `graceful` (graceful restart, RFC 4724 §4)
    /// the connections are closed without a NOTIFICATION so peers keep our routes; otherwise
    /// each peer gets a Cease.
    pub async fn shutdown(mut self, graceful: bool) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
            // Wait for the task to be dropped: it holds the listening socket, and the port is
            // free for a successor only once that is closed.
            let _ = task.await;
        }
        self.listener = None;
        for (_, handle) in self.peers.drain() {
            let command = if graceful {
                PeerCommand::Abandon
            } else {
                PeerCommand::Stop {
                    communication: None,
                }
            };
            handle.command(command);
            handle.join().await;
        }
    }
}

impl Drop for SessionManager {
    fn drop(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
    }
}

fn lock(
    routes: &Routes,
) -> std::sync::MutexGuard<'_, HashMap<IpAddr, mpsc::UnboundedSender<PeerCommand>>> {
    routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: Arc<Listener>, routes: Routes) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let ip = crate::transport::canonical(remote.ip());
                let route = lock(&routes).get(&ip).cloned();
                match route {
                    Some(peer) => {
                        let _ = peer.send(PeerCommand::Incoming(stream));
                    }
                    None => tracing::info!(peer = %remote, "connection from a removed peer closed"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a BGP connection failed");
                // Out of file descriptors and the like: let the condition pass.
                tokio::task::yield_now().await;
            }
        }
    }
}
