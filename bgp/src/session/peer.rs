//! One peer's session driver: a tokio task that owns the peer's TCP connection(s) and its FSM
//! (`crate::fsm::Session`), turns socket and timer happenings into FSM events and carries out
//! the FSM's actions. Everything the peer sends that is routing (UPDATE, ROUTE-REFRESH) goes
//! up to the speaker as [`PeerEvent`]s; everything the speaker wants sent comes down as
//! [`PeerCommand`]s.
//!
//! ```text
//!   speaker ──PeerCommand──►┌──────────── peer task ─────────────┐
//!                           │ FSM (pure) ◄─ events ─ socket, timer│──► TCP (reader + writer task)
//!   speaker ◄──PeerEvent────│            ─ actions ─►             │
//!   status  ◄──watch────────└─────────────────────────────────────┘
//! ```
//!
//! Connection collisions (RFC 4271 §6.8): a connection the peer opens while ours is still
//! without an OPEN replaces ours; while ours has sent its OPEN, the new one runs its own FSM
//! until an OPEN arrives on one of them with the other in OpenConfirm, and
//! `fsm::resolve_collision` says which one is dumped (Cease 6/7); a connection arriving while
//! the session is Established is closed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::budget::RouteBudget;
use super::io::{self, MessageReader, MessageWriter, ReadError, WriterTask};
use crate::fsm::{
    Action, Event, Negotiated, Session, SessionConfig, State, Survivor, resolve_collision,
    takes_part,
};
use crate::transport::{self, PeerTransport};
use crate::wire::{
    Message, MpNlri, Notification, Outcome, RouteRefresh, SessionContext, Update, Verdict,
};

/// Everything the driver needs to know about one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's BGP port (179).
    pub port: u16,
    /// Source address, MD5 key, GTSM.
    pub transport: PeerTransport,
    /// FSM configuration: ASNs, BGP identifier, timers, capabilities.
    pub session: SessionConfig,
    /// Wait for the peer to connect instead of connecting (the lower address in the mesh).
    pub passive: bool,
}

/// What the speaker learns from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// The session reached Established with these parameters.
    Established {
        /// The peer.
        peer: IpAddr,
        /// What the OPENs agreed.
        negotiated: Negotiated,
    },
    /// The session left Established.
    Down {
        /// The peer.
        peer: IpAddr,
        /// Why.
        reason: String,
        /// The session ended without a NOTIFICATION either way (the TCP connection failed or
        /// closed): the case where a graceful-restart helper keeps the peer's routes
        /// (RFC 4724 §4.2).
        without_notification: bool,
    },
    /// An UPDATE with its RFC 7606 verdict (never a session-reset one: those end the session).
    Update {
        /// The peer.
        peer: IpAddr,
        /// The UPDATE as decoded (malformed attributes left out).
        update: Update,
        /// Attribute-discard, treat-as-withdraw or AFI/SAFI-disable findings.
        verdict: Verdict,
    },
    /// A ROUTE-REFRESH request (RFC 2918, RFC 7313).
    RouteRefresh {
        /// The peer.
        peer: IpAddr,
        /// The request.
        refresh: RouteRefresh,
    },
}

impl PeerEvent {
    /// Prefixes the event announces or withdraws (0 for other events): what it costs against
    /// a [`RouteBudget`].
    pub fn routes(&self) -> usize {
        let PeerEvent::Update { update, .. } = self else {
            return 0;
        };
        let mp = |nlri: &MpNlri| match nlri {
            MpNlri::Ipv4(n) => n.len(),
            MpNlri::Ipv6(n) => n.len(),
            MpNlri::Other(_) => 0,
        };
        update.nlri.len()
            + update.withdrawn.len()
            + update.mp_reach().map_or(0, |r| mp(&r.nlri))
            + update.mp_unreach().map_or(0, |u| mp(&u.withdrawn))
    }
}

/// What the speaker asks of a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// Send these messages if the session is Established (UPDATEs, End-of-RIB, ...).
    Send(Vec<Message>),
    /// A connection from the peer, accepted by the speaker's listener.
    Incoming(TcpStream),
    /// Stop the session (Cease with an optional RFC 9003 shutdown communication) and the task.
    Stop {
        /// The shutdown communication.
        communication: Option<String>,
    },
    /// Close the connection without a NOTIFICATION and stop the task (a planned restart with
    /// graceful restart: the peer keeps our routes, RFC 4724 §4).
    Abandon,
    /// Stop the session with Cease / `subcode` (event 8, e.g. RFC 4486 "Maximum Number of
    /// Prefixes Reached") and start it again after `restart_after`, or only when the peer is
    /// configured anew when `None`.
    AutomaticStop {
        /// The Cease subcode.
        subcode: crate::wire::CeaseSubcode,
        /// When to try again.
        restart_after: Option<std::time::Duration>,
    },
}

/// A peer's session as the speaker's API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// FSM state.
    pub state: State,
    /// When it entered that state.
    pub since: SystemTime,
    /// What ended the last session or attempt (a NOTIFICATION, a socket error, ...).
    pub last_error: Option<String>,
    /// Parameters of the current session, when Established.
    pub negotiated: Option<Negotiated>,
    /// Local and remote TCP endpoints of the current session, when Established (the remote
    /// port is 179 when we initiated it, the local one when the peer did).
    pub endpoints: Option<(SocketAddr, SocketAddr)>,
    /// UPDATEs received in the current session.
    pub updates_received: u64,
    /// UPDATEs sent in the current session.
    pub updates_sent: u64,
}

/// The speaker's handle on a peer task.
#[derive(Debug)]
pub struct PeerHandle {
    commands: mpsc::UnboundedSender<PeerCommand>,
    status: watch::Receiver<PeerStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl PeerHandle {
    /// Sends a command; false when the task has ended.
    pub fn command(&self, command: PeerCommand) -> bool {
        self.commands.send(command).is_ok()
    }

    /// The current status.
    pub fn status(&self) -> PeerStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<PeerStatus> {
        self.status.clone()
    }

    /// Another sender of commands to this peer (for the listener's routing).
    pub fn sender(&self) -> mpsc::UnboundedSender<PeerCommand> {
        self.commands.clone()
    }

    /// Waits for the task to end (after `Stop` or `Abandon`).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Starts the task of one peer.
pub fn spawn_peer(config: PeerConfig, events: mpsc::UnboundedSender<PeerEvent>) -> PeerHandle {
    spawn_peer_with_budget(config, events, None)
}

/// Starts the task of one peer that stops reading while `budget` is exhausted (the receiver
/// of `events` must then [`RouteBudget::take`] each event's [`PeerEvent::routes`]).
pub fn spawn_peer_with_budget(
    config: PeerConfig,
    events: mpsc::UnboundedSender<PeerEvent>,
    budget: Option<Arc<RouteBudget>>,
) -> PeerHandle {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(PeerStatus {
        state: State::Idle,
        since: SystemTime::now(),
        last_error: None,
        negotiated: None,
        endpoints: None,
        updates_received: 0,
        updates_sent: 0,
    });
    let driver = Driver {
        events,
        status: status_tx,
        connecting: None,
        main: Attempt::new(&config),
        other: None,
        restart_at: None,
        notified: false,
        budget,
        config,
    };
    let task = tokio::spawn(driver.run(command_rx));
    PeerHandle {
        commands,
        status,
        task,
    }
}

/// A TCP connection in use by one FSM.
#[derive(Debug)]
struct Connection {
    reader: MessageReader,
    writer: MessageWriter,
    writer_task: WriterTask,
    ctx: SessionContext,
    endpoints: Option<(SocketAddr, SocketAddr)>,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        let endpoints = stream.local_addr().ok().zip(stream.peer_addr().ok());
        let (reader, writer, writer_task) = io::split(stream);
        Connection {
            reader,
            writer,
            writer_task,
            ctx: SessionContext::default(),
            endpoints,
        }
    }

    fn send(&self, message: &Message) -> Result<(), String> {
        let bytes: Bytes = message
            .to_bytes(&self.ctx)
            .map_err(|e| format!("encoding {:?}: {e}", message.kind()))?;
        if self.writer.send(bytes) {
            Ok(())
        } else {
            Err("connection writer stopped".into())
        }
    }

    fn close(self) {
        // Queued messages (a NOTIFICATION) are flushed by the writer task before it shuts the
        // socket down; dropping the writer handle lets it finish.
        drop(self.writer);
        drop(self.reader);
    }
}

/// One FSM with its connection, if any.
#[derive(Debug)]
struct Attempt {
    fsm: Session,
    connection: Option<Connection>,
}

impl Attempt {
    fn new(config: &PeerConfig) -> Self {
        Attempt {
            fsm: Session::new(config.session.clone()),
            connection: None,
        }
    }
}

/// Which FSM an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Other,
}

/// Something that happened on a connection.
#[derive(Debug)]
enum Wire {
    Message(Result<crate::wire::Decoded, ReadError>),
    WriterDone(std::io::Result<()>),
    SendProgress,
}

struct Driver {
    config: PeerConfig,
    events: mpsc::UnboundedSender<PeerEvent>,
    status: watch::Sender<PeerStatus>,
    /// Our outgoing connection attempt, for the main FSM.
    connecting: Option<
        std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<TcpStream>> + Send>>,
    >,
    main: Attempt,
    /// A second connection during a collision.
    other: Option<Attempt>,
    /// When to start again after an automatic stop.
    restart_at: Option<Instant>,
    /// A NOTIFICATION was sent or received on the main connection since it was Established.
    notified: bool,
    /// Routes queued towards the speaker, if bounded.
    budget: Option<Arc<RouteBudget>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("peer", &self.config.address)
            .finish_non_exhaustive()
    }
}

/// The next happening on the attempt's connection; with `reading` false only the writer's.
async fn next_wire(attempt: &mut Option<&mut Attempt>, reading: bool) -> Wire {
    let Some(connection) = attempt.as_mut().and_then(|a| a.connection.as_mut()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        msg = connection.reader.next(&connection.ctx), if reading => Wire::Message(msg),
        event = connection.writer_task.next() => match event {
            io::WriterEvent::Progress(_) => Wire::SendProgress,
            io::WriterEvent::Finished(result) => Wire::WriterDone(result),
        },
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Driver {
    fn peer(&self) -> IpAddr {
        self.config.address
    }

    fn start_event(&self) -> Event {
        if self.config.passive {
            Event::ManualStartWithPassiveTcpEstablishment
        } else {
            Event::ManualStart
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<PeerCommand>) {
        if self.feed(Which::Main, self.start_event()) {
            return;
        }
        loop {
            let deadline = earliest(
                earliest(self.main.fsm.next_deadline(), self.restart_at),
                self.other.as_ref().and_then(|o| o.fsm.next_deadline()),
            );
            let mut main = Some(&mut self.main);
            let mut other = self.other.as_mut();
            let connecting = self.connecting.as_mut();
            let budget = self.budget.clone();
            let reading = !budget.as_ref().is_some_and(|b| b.exhausted());
            let stop = tokio::select! {
                command = commands.recv() => self.on_command(command),
                wire = next_wire(&mut main, reading) => self.on_wire(Which::Main, wire),
                wire = next_wire(&mut other, reading) => self.on_wire(Which::Other, wire),
                () = async { budget.expect("guarded").below_limit().await }, if !reading => false,
                result = async { connecting.expect("guarded").await }, if connecting.is_some() => {
                    self.connecting = None;
                    self.on_connected(result)
                }
                () = async { tokio::time::sleep_until(deadline.expect("guarded").into()).await }, if deadline.is_some() => {
                    self.on_timeout()
                }
            };
            if stop {
                return;
            }
        }
    }

    /// Feeds one event to an FSM and carries out its actions; true when the task should end.
    fn feed(&mut self, which: Which, event: Event) -> bool {
        let now = Instant::now();
        let attempt = match which {
            Which::Main => &mut self.main,
            Which::Other => match self.other.as_mut() {
                Some(other) => other,
                None => return false,
            },
        };
        tracing::trace!(peer = %self.config.address, ?which, ?event, "fsm event");
        let actions = attempt.fsm.handle(event, now);
        self.execute(which, actions)
    }

    fn on_timeout(&mut self) -> bool {
        let now = Instant::now();
        if self.restart_at.is_some_and(|at| at <= now) {
            self.restart_at = None;
            tracing::info!(peer = %self.config.address, "restarting after an automatic stop");
            return self.feed(Which::Main, self.start_event());
        }
        let main_actions = self.main.fsm.handle_timeout(now);
        if self.execute(Which::Main, main_actions) {
            return true;
        }
        if let Some(other) = self.other.as_mut() {
            let actions = other.fsm.handle_timeout(now);
            return self.execute(Which::Other, actions);
        }
        false
    }

    fn on_command(&mut self, command: Option<PeerCommand>) -> bool {
        match command {
            None
            | Some(PeerCommand::Stop {
                communication: None,
            }) => {
                self.feed(
                    Which::Main,
                    Event::ManualStop {
                        communication: None,
                    },
                );
                self.close_all();
                true
            }
            Some(PeerCommand::Stop { communication }) => {
                self.feed(Which::Main, Event::ManualStop { communication });
                self.close_all();
                true
            }
            Some(PeerCommand::AutomaticStop {
                subcode,
                restart_after,
            }) => {
                let stop = self.feed(Which::Main, Event::AutomaticStop { subcode });
                self.restart_at = restart_after.map(|after| Instant::now() + after);
                stop
            }
            Some(PeerCommand::Abandon) => {
                // No NOTIFICATION: the TCP connection just closes (RFC 4724 §4).
                self.close_all();
                true
            }
            Some(PeerCommand::Send(messages)) => {
                if self.main.fsm.state() != State::Established {
                    return false;
                }
                let Some(connection) = self.main.connection.as_ref() else {
                    return false;
                };
                let mut sent_updates = 0;
                for message in &messages {
                    if let Err(e) = connection.send(message) {
                        tracing::warn!(peer = %self.config.address, error = %e, "sending failed");
                        break;
                    }
                    sent_updates += u64::from(matches!(message, Message::Update(_)));
                }
                self.status.send_modify(|s| s.updates_sent += sent_updates);
                false
            }
            Some(PeerCommand::Incoming(stream)) => self.on_incoming(stream),
        }
    }

    fn on_connected(&mut self, result: std::io::Result<TcpStream>) -> bool {
        match result {
            Ok(stream) => {
                self.main.connection = Some(Connection::new(stream));
                self.feed(Which::Main, Event::TcpCrAcked)
            }
            Err(e) => {
                self.set_error(format!("connect to {}: {e}", self.peer()));
                self.feed(Which::Main, Event::TcpConnectionFails)
            }
        }
    }

    fn on_incoming(&mut self, stream: TcpStream) -> bool {
        let state = self.main.fsm.state();
        match state {
            State::Idle | State::Established => {
                tracing::info!(peer = %self.config.address, ?state, "incoming connection closed");
                false
            }
            State::Connect | State::Active => {
                // No OPEN has gone out yet: the peer's connection replaces our attempt.
                self.connecting = None;
                if let Some(old) = self.main.connection.take() {
                    old.close();
                }
                self.main.connection = Some(Connection::new(stream));
                self.feed(Which::Main, Event::TcpConnectionConfirmed)
            }
            State::OpenSent | State::OpenConfirm => {
                if self.other.is_some() {
                    tracing::info!(peer = %self.config.address, "third connection closed");
                    return false;
                }
                let mut other = Attempt::new(&self.config);
                other.connection = Some(Connection::new(stream));
                self.other = Some(other);
                self.feed(Which::Other, Event::ManualStartWithPassiveTcpEstablishment)
                    || self.feed(Which::Other, Event::TcpConnectionConfirmed)
            }
        }
    }

    fn on_wire(&mut self, which: Which, wire: Wire) -> bool {
        let decoded = match wire {
            Wire::SendProgress => return self.feed(which, Event::SendProgress),
            Wire::WriterDone(result) => {
                let why = match result {
                    Ok(()) => "connection closed for writing".to_owned(),
                    Err(e) => format!("write: {e}"),
                };
                self.set_error(why);
                return self.feed(which, Event::TcpConnectionFails);
            }
            Wire::Message(Ok(decoded)) => decoded,
            Wire::Message(Err(ReadError::Closed)) => {
                self.set_error("connection closed by the peer".into());
                return self.feed(which, Event::TcpConnectionFails);
            }
            Wire::Message(Err(ReadError::Io(e))) => {
                self.set_error(format!("read: {e}"));
                return self.feed(which, Event::TcpConnectionFails);
            }
            Wire::Message(Err(ReadError::Malformed(e))) => {
                tracing::warn!(peer = %self.config.address, error = ?e, "malformed message");
                self.set_error(format!("malformed message from the peer: {e}"));
                let event = match (&e, e.notification()) {
                    (crate::wire::MessageError::Open(_), Some(n)) => Event::BgpOpenMsgErr(n),
                    (crate::wire::MessageError::Update(_), Some(n)) => Event::UpdateMsgErr(n),
                    (_, Some(n)) => Event::BgpHeaderErr(n),
                    (_, None) => Event::TcpConnectionFails,
                };
                return self.feed(which, event);
            }
        };
        let ctx = self
            .attempt(which)
            .and_then(|a| a.connection.as_ref())
            .map(|c| c.ctx)
            .unwrap_or_default();
        let (message, verdict) = decoded.validate(&ctx);
        match message {
            Message::Open(open) => {
                if self.collision_dumps(which, &open) {
                    return false;
                }
                self.feed(which, Event::BgpOpen(open))
            }
            Message::Keepalive => self.feed(which, Event::KeepAliveMsg),
            Message::Notification(notification) => {
                self.notified |= which == Which::Main;
                self.set_error(format!("received NOTIFICATION {}", describe(&notification)));
                self.feed(which, Event::NotifMsg(notification))
            }
            Message::Update(update) => {
                if verdict.outcome() == Some(Outcome::SessionReset) {
                    tracing::warn!(peer = %self.config.address, errors = ?verdict.errors, "UPDATE calls for a session reset");
                    let notification = verdict.notification();
                    self.set_error(format!("malformed UPDATE: {:?}", verdict.errors));
                    return match notification {
                        Some(n) => self.feed(which, Event::UpdateMsgErr(n)),
                        None => self.feed(which, Event::TcpConnectionFails),
                    };
                }
                if !verdict.errors.is_empty() {
                    tracing::warn!(peer = %self.config.address, errors = ?verdict.errors, "UPDATE with errors handled per RFC 7606");
                }
                let stop = self.feed(which, Event::UpdateMsg);
                if which == Which::Main && self.main.fsm.state() == State::Established {
                    self.status.send_modify(|s| s.updates_received += 1);
                    let event = PeerEvent::Update {
                        peer: self.peer(),
                        update,
                        verdict,
                    };
                    if let Some(budget) = &self.budget {
                        budget.queue(event.routes());
                    }
                    let _ = self.events.send(event);
                }
                stop
            }
            Message::RouteRefresh(refresh) => {
                let stop = self.feed(which, Event::RouteRefreshMsg);
                if which == Which::Main && self.main.fsm.state() == State::Established {
                    let _ = self.events.send(PeerEvent::RouteRefresh {
                        peer: self.peer(),
                        refresh,
                    });
                }
                stop
            }
        }
    }

    /// RFC 4271 §6.8: an OPEN on one connection while the other is in OpenConfirm decides
    /// which connection survives. Returns true when the OPEN's own connection was dumped.
    fn collision_dumps(&mut self, which: Which, open: &crate::wire::Open) -> bool {
        let Some(other) = self.other.as_ref() else {
            return false;
        };
        let counterpart_state = match which {
            Which::Main => other.fsm.state(),
            Which::Other => self.main.fsm.state(),
        };
        if !takes_part(counterpart_state) {
            return false;
        }
        let config = &self.config.session;
        let remote_asn = open.asn();
        let survivor = resolve_collision(config.bgp_id, config.local_asn, open.bgp_id, remote_asn);
        // The main FSM runs on our connection unless it adopted an incoming one; the other
        // one always runs on a connection the peer opened.
        let loser = match survivor {
            Survivor::LocallyInitiated => Which::Other,
            Survivor::RemotelyInitiated => Which::Main,
        };
        tracing::info!(peer = %self.config.address, ?survivor, "connection collision resolved");
        self.feed(loser, Event::OpenCollisionDump);
        if loser == Which::Main {
            // The peer's connection carries on as the session.
            if let Some(other) = self.other.take() {
                self.main = other;
            }
        } else {
            self.other = None;
        }
        loser == which
    }

    fn attempt(&mut self, which: Which) -> Option<&mut Attempt> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Other => self.other.as_mut(),
        }
    }

    fn set_error(&self, error: String) {
        tracing::debug!(peer = %self.config.address, %error, "session error");
        self.status.send_modify(|s| s.last_error = Some(error));
    }

    fn close_all(&mut self) {
        self.connecting = None;
        if let Some(c) = self.main.connection.take() {
            c.close();
        }
        if let Some(mut other) = self.other.take()
            && let Some(c) = other.connection.take()
        {
            c.close();
        }
    }

    /// Carries out FSM actions; true when the task should end.
    fn execute(&mut self, which: Which, actions: Vec<Action>) -> bool {
        for action in actions {
            tracing::trace!(peer = %self.config.address, ?which, ?action, "fsm action");
            match action {
                Action::Connect => {
                    let target = SocketAddr::new(self.config.address, self.config.port);
                    let transport = self.config.transport.clone();
                    self.connecting = Some(Box::pin(async move {
                        transport::connect(target, &transport).await
                    }));
                }
                Action::SendOpen(open) => self.send(which, Message::Open(open)),
                Action::SendKeepalive => self.send(which, Message::Keepalive),
                Action::SendNotification(notification) => {
                    self.notified |= which == Which::Main;
                    tracing::info!(peer = %self.config.address, notification = %describe(&notification), "sending NOTIFICATION");
                    self.set_error(format!("sent NOTIFICATION {}", describe(&notification)));
                    self.send(which, Message::Notification(notification));
                }
                Action::DropConnection => {
                    if which == Which::Main {
                        self.connecting = None;
                    }
                    if let Some(c) = self.attempt(which).and_then(|a| a.connection.take()) {
                        c.close();
                    }
                    if which == Which::Other {
                        self.other = None;
                        return false;
                    }
                }
                Action::SessionEstablished(negotiated) => {
                    self.notified = false;
                    if which == Which::Other {
                        // The collision is over: the peer's connection is the session.
                        if let Some(other) = self.other.take() {
                            let old = std::mem::replace(&mut self.main, other);
                            if let Some(c) = old.connection {
                                c.close();
                            }
                        }
                    }
                    let mut endpoints = None;
                    if let Some(c) = self.main.connection.as_mut() {
                        c.ctx = negotiated.context();
                        endpoints = c.endpoints;
                    }
                    tracing::info!(peer = %self.config.address, asn = negotiated.peer_asn, hold = ?negotiated.hold_time, "session established");
                    self.status.send_modify(|s| {
                        s.negotiated = Some(negotiated.clone());
                        s.endpoints = endpoints;
                        s.updates_received = 0;
                        s.updates_sent = 0;
                    });
                    let _ = self.events.send(PeerEvent::Established {
                        peer: self.peer(),
                        negotiated,
                    });
                }
                Action::SessionDown => {
                    let reason = self
                        .status
                        .borrow()
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "session ended".into());
                    self.status.send_modify(|s| {
                        s.negotiated = None;
                        s.endpoints = None;
                    });
                    let _ = self.events.send(PeerEvent::Down {
                        peer: self.peer(),
                        reason,
                        without_notification: !self.notified,
                    });
                }
                Action::StateChange { from, to } => {
                    tracing::debug!(peer = %self.config.address, ?which, ?from, ?to, "state change");
                    if which == Which::Main || self.other.is_none() {
                        self.status.send_modify(|s| {
                            s.state = to;
                            s.since = SystemTime::now();
                        });
                    }
                }
            }
        }
        false
    }

    fn send(&mut self, which: Which, message: Message) {
        let peer = self.config.address;
        if let Some(Err(e)) = self
            .attempt(which)
            .and_then(|a| a.connection.as_ref())
            .map(|c| c.send(&message))
        {
            tracing::warn!(peer = %peer, error = %e, "sending failed");
        }
    }
}

/// `code/subcode (description)` plus the shutdown communication, for logs and status.
fn describe(notification: &Notification) -> String {
    let (code, subcode) = notification.error.pair();
    let mut text = format!("{code}/{subcode} ({})", notification.error);
    if let Some(Ok(communication)) = notification.shutdown_communication() {
        text.push_str(&format!(": \"{communication}\""));
    }
    text
}
