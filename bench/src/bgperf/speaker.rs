//! The feeder's and the monitor's BGP speaker: **benchmark tooling, not margay's session
//! FSM** (that lives in `bgp/src/fsm` and `bgp/src/session`). It plays one scripted session
//! per connection and nothing else: send OPEN (4-octet AS, RFC 6793 §3; Multiprotocol IPv4
//! unicast, RFC 4760 §8), read the peer's OPEN, exchange KEEPALIVEs (RFC 4271 §8.2.2,
//! OpenSent → OpenConfirm → Established), then keep the session alive with a KEEPALIVE every
//! third of the negotiated hold time (RFC 4271 §4.4) while the roles do their work:
//!
//! - a feeder queues pre-encoded UPDATEs ([`super::updates`]) and drains whatever it is sent;
//! - a monitor decodes every UPDATE with the committed codec and keeps a [`PrefixTally`],
//!   noting the instant the tally becomes complete.
//!
//! Collisions, timers other than keepalive, route refresh, capabilities beyond the two above:
//! none of it is here, by design. A NOTIFICATION, an unexpected message or a closed socket
//! ends the session with an error that names the peer.
//!
//! Sockets are created inside the speaker's network namespace ([`Connector`], [`listen_in`])
//! and then driven from one tokio runtime outside it (a socket stays in the namespace it was
//! created in).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use margay_bgp::session::io::{
    self as session_io, MessageReader, MessageWriter, ReadError, WriterTask,
};
use margay_bgp::transport::{self, PeerTransport};
use margay_bgp::wire::{
    AfiSafi, Capability, EncodeError, GracefulRestart, GracefulRestartFamily, Ipv4Nlri, Message,
    MpNlri, Notification, Open, PeerType, SessionContext,
};
use margay_tests::Netns;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::prefixes::PrefixTally;
use super::updates::EncodedUpdates;

/// How long to wait between connection attempts while the daemon under test starts listening.
const CONNECT_RETRY: Duration = Duration::from_millis(50);
/// How long one attempt may take from connecting to Established.
const ATTEMPT_PATIENCE: Duration = Duration::from_secs(15);

/// Who a speaker is and whom it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakerConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// Hold time offered in OPEN, seconds.
    pub hold_time: u16,
    /// The AS the peer must announce.
    pub peer_as: u32,
    /// Advertise Graceful Restart (RFC 4724 §3, as a receiver: no R bit, no preserved
    /// forwarding) so that the peer marks the end of its initial table with End-of-RIB
    /// (RFC 4724 §2): a monitor waits for it before the clock starts.
    pub graceful_restart: bool,
}

/// Restart Time offered with Graceful Restart, seconds.
const GR_RESTART_TIME: u16 = 120;

/// A session that could not be set up or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    #[error("connecting to {peer} from {local:?}: {source} (kept trying for {waited:?})")]
    Connect {
        peer: SocketAddr,
        local: Option<Ipv4Addr>,
        waited: Duration,
        source: io::Error,
    },
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("no connection to {addr} within {0:?}", .waited)]
    AcceptTimeout { addr: SocketAddr, waited: Duration },
    #[error("session with {peer}: {source}")]
    Read { peer: String, source: ReadError },
    #[error("session with {peer}: received NOTIFICATION {notification}")]
    Notification {
        peer: String,
        notification: Notification,
    },
    #[error("session with {peer}: expected {expected}, received {received:?}")]
    Unexpected {
        peer: String,
        expected: &'static str,
        received: Box<Message>,
    },
    #[error("session with {peer}: it announced AS {received}, configured {expected}")]
    PeerAs {
        peer: String,
        expected: u32,
        received: u32,
    },
    #[error("session with {peer}: not Established within {waited:?}")]
    EstablishTimeout { peer: String, waited: Duration },
    #[error("session with {peer}: its writer stopped ({0})", .reason)]
    WriterStopped { peer: String, reason: String },
    #[error("session with {peer}: {reason}")]
    Task { peer: String, reason: String },
    #[error("encoding: {0}")]
    Encode(#[from] EncodeError),
}

/// Opens connections from inside a network namespace for the runtime that drives them from
/// outside it: a thread that has entered the namespace runs a small runtime of its own and
/// answers connect requests with connected sockets.
#[derive(Debug, Clone)]
pub struct Connector {
    requests: mpsc::UnboundedSender<ConnectRequest>,
}

#[derive(Debug)]
struct ConnectRequest {
    peer: SocketAddr,
    local: Option<Ipv4Addr>,
    reply: oneshot::Sender<io::Result<std::net::TcpStream>>,
}

impl Connector {
    /// Runs `body` with a connector for `ns`; the namespace's thread ends with `body`.
    pub fn scope<R>(ns: &Netns, body: impl FnOnce(Connector) -> R) -> R {
        let (requests, rx) = mpsc::unbounded_channel();
        std::thread::scope(|scope| {
            scope.spawn(|| ns.run_in(|| serve_connects(rx)));
            body(Connector { requests })
        })
    }

    /// One TCP connection to `peer` from `local` (any address when `None`).
    pub async fn connect(
        &self,
        peer: SocketAddr,
        local: Option<Ipv4Addr>,
    ) -> io::Result<tokio::net::TcpStream> {
        let (reply, answer) = oneshot::channel();
        let gone = || io::Error::other("the namespace's connector thread has stopped");
        self.requests
            .send(ConnectRequest { peer, local, reply })
            .map_err(|_| gone())?;
        let stream = answer.await.map_err(|_| gone())??;
        adopt(stream)
    }
}

fn serve_connects(mut requests: mpsc::UnboundedReceiver<ConnectRequest>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    rt.block_on(async {
        while let Some(request) = requests.recv().await {
            tokio::spawn(async move {
                let opts = PeerTransport {
                    local_addr: request.local.map(Into::into),
                    ..PeerTransport::default()
                };
                let result = match transport::connect(request.peer, &opts).await {
                    Ok(stream) => stream.into_std(),
                    Err(e) => Err(e),
                };
                let _ = request.reply.send(result);
            });
        }
    });
}

/// Connects through `connector` and establishes, starting over after a refused or closed
/// connection or a NOTIFICATION until `patience` runs out: a daemon may still be opening its
/// listener or configuring the neighbor (gobgpd closes connections from peers it has not
/// added yet).
pub async fn connect_and_establish(
    connector: &Connector,
    peer: SocketAddr,
    local: Option<Ipv4Addr>,
    config: SpeakerConfig,
    patience: Duration,
) -> Result<(Session, MessageReader), SpeakerError> {
    let start = Instant::now();
    let mut retry = tokio::time::interval(CONNECT_RETRY);
    loop {
        retry.tick().await;
        let left = patience.saturating_sub(start.elapsed());
        let attempt =
            async {
                let stream = connector.connect(peer, local).await.map_err(|source| {
                    SpeakerError::Connect {
                        peer,
                        local,
                        waited: start.elapsed(),
                        source,
                    }
                })?;
                establish(stream, config, left.min(ATTEMPT_PATIENCE)).await
            };
        match attempt.await {
            Ok(established) => return Ok(established),
            Err(e) if !e.is_transient() || start.elapsed() >= patience => return Err(e),
            Err(_) => {}
        }
    }
}

/// A listening socket bound inside `ns` (for the ceiling, where the monitor is the feeder's
/// peer).
pub fn listen_in(ns: &Netns, addr: SocketAddr) -> Result<std::net::TcpListener, SpeakerError> {
    ns.run_in(|| {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| SpeakerError::Listen { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| SpeakerError::Listen { addr, source })?;
        Ok(listener)
    })
}

/// Accepts one connection on `listener` within `patience`.
pub async fn accept_one(
    listener: std::net::TcpListener,
    patience: Duration,
) -> Result<tokio::net::TcpStream, SpeakerError> {
    let addr = listener
        .local_addr()
        .map_err(|source| SpeakerError::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|source| SpeakerError::Listen { addr, source })?;
    match tokio::time::timeout(patience, listener.accept()).await {
        Ok(Ok((stream, _))) => Ok(stream),
        Ok(Err(source)) => Err(SpeakerError::Listen { addr, source }),
        Err(_) => Err(SpeakerError::AcceptTimeout {
            addr,
            waited: patience,
        }),
    }
}

/// Hands a socket made in a namespace's thread to the current runtime.
fn adopt(stream: std::net::TcpStream) -> io::Result<tokio::net::TcpStream> {
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

/// The sending side of a session in Established, with its keepalives running; the
/// receiving side ([`MessageReader`]) goes to a role ([`Feeder`] or [`Monitor`]).
#[derive(Debug)]
pub struct Session {
    writer: MessageWriter,
    ctx: SessionContext,
    /// "local → peer" addresses, for error messages.
    peer: String,
    writer_task: WriterTask,
    keepalives: JoinHandle<()>,
}

impl Session {
    /// What was negotiated.
    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// "local → peer" addresses.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Queues every chunk for the socket and returns the instant just before the first one
    /// was queued: the "first UPDATE sent" of the measurement.
    pub fn send_updates(&self, updates: &EncodedUpdates) -> Result<Instant, SpeakerError> {
        let start = Instant::now();
        for chunk in &updates.chunks {
            send(&self.writer, &self.peer, chunk.clone())?;
        }
        Ok(start)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.keepalives.abort();
        self.writer_task.abort();
    }
}

impl SpeakerError {
    /// Whether a new connection might succeed where this one failed.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            SpeakerError::Connect { .. }
                | SpeakerError::Read { .. }
                | SpeakerError::Notification { .. }
                | SpeakerError::EstablishTimeout { .. }
        )
    }
}

/// Runs the OPEN / KEEPALIVE exchange on `stream` and starts the keepalives.
pub async fn establish(
    stream: tokio::net::TcpStream,
    config: SpeakerConfig,
    patience: Duration,
) -> Result<(Session, MessageReader), SpeakerError> {
    let peer = match (stream.local_addr(), stream.peer_addr()) {
        (Ok(local), Ok(remote)) => format!("{} → {}", local.ip(), remote.ip()),
        (local, remote) => format!("{local:?} → {remote:?}"),
    };
    stream
        .set_nodelay(true)
        .map_err(|source| SpeakerError::Read {
            peer: peer.clone(),
            source: source.into(),
        })?;
    match tokio::time::timeout(patience, handshake(stream, config, peer.clone())).await {
        Ok(result) => result,
        Err(_) => Err(SpeakerError::EstablishTimeout {
            peer,
            waited: patience,
        }),
    }
}

async fn handshake(
    stream: tokio::net::TcpStream,
    config: SpeakerConfig,
    peer: String,
) -> Result<(Session, MessageReader), SpeakerError> {
    let (mut reader, writer, writer_task) = session_io::split(stream);
    let mut ctx = SessionContext::default();
    let mut capabilities = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::FourOctetAs(config.asn),
    ];
    if config.graceful_restart {
        capabilities.push(Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time: GR_RESTART_TIME,
            families: vec![GracefulRestartFamily {
                family: AfiSafi::IPV4_UNICAST,
                forwarding_preserved: false,
            }],
        }));
    }
    let open = Open::new(config.asn, config.hold_time, config.router_id, capabilities);
    send(&writer, &peer, Message::Open(open).to_bytes(&ctx)?)?;
    let their_open = match next_message(&mut reader, &ctx, &peer).await? {
        Message::Open(o) => o,
        other => {
            return Err(SpeakerError::Unexpected {
                peer,
                expected: "OPEN",
                received: Box::new(other),
            });
        }
    };
    if their_open.asn() != config.peer_as {
        return Err(SpeakerError::PeerAs {
            peer,
            expected: config.peer_as,
            received: their_open.asn(),
        });
    }
    ctx.four_octet_as = their_open
        .capabilities()
        .any(|c| matches!(c, Capability::FourOctetAs(_)));
    ctx.peer_type = if config.peer_as == config.asn {
        PeerType::Internal
    } else {
        PeerType::External
    };
    let keepalive = Message::Keepalive.to_bytes(&ctx)?;
    send(&writer, &peer, keepalive.clone())?;
    match next_message(&mut reader, &ctx, &peer).await? {
        Message::Keepalive => {}
        other => {
            return Err(SpeakerError::Unexpected {
                peer,
                expected: "KEEPALIVE",
                received: Box::new(other),
            });
        }
    }
    let hold = config.hold_time.min(their_open.hold_time);
    let keepalives = tokio::spawn(send_keepalives(writer.clone(), keepalive, hold));
    let session = Session {
        writer,
        ctx,
        peer,
        writer_task,
        keepalives,
    };
    Ok((session, reader))
}

/// RFC 4271 §4.4: KEEPALIVEs at a third of the hold time; none when it is zero.
async fn send_keepalives(writer: MessageWriter, keepalive: Bytes, hold_time: u16) {
    if hold_time == 0 {
        return;
    }
    let mut every = tokio::time::interval(Duration::from_secs(u64::from(hold_time)) / 3);
    every.tick().await;
    loop {
        every.tick().await;
        if !writer.send(keepalive.clone()) {
            return;
        }
    }
}

fn send(writer: &MessageWriter, peer: &str, bytes: Bytes) -> Result<(), SpeakerError> {
    if writer.send(bytes) {
        Ok(())
    } else {
        Err(SpeakerError::WriterStopped {
            peer: peer.to_owned(),
            reason: "the connection's writer task has ended".into(),
        })
    }
}

async fn next_message(
    reader: &mut MessageReader,
    ctx: &SessionContext,
    peer: &str,
) -> Result<Message, SpeakerError> {
    let decoded = reader
        .next(ctx)
        .await
        .map_err(|source| SpeakerError::Read {
            peer: peer.to_owned(),
            source,
        })?;
    match decoded.message {
        Message::Notification(notification) => Err(SpeakerError::Notification {
            peer: peer.to_owned(),
            notification,
        }),
        message => Ok(message),
    }
}

/// A feeder: a session whose incoming messages are read and dropped (KEEPALIVEs), so that a
/// NOTIFICATION or a closed connection surfaces as an error.
#[derive(Debug)]
pub struct Feeder {
    session: Session,
    drain: JoinHandle<SpeakerError>,
}

impl Feeder {
    /// Starts draining `reader`.
    pub fn new(session: Session, reader: MessageReader) -> Self {
        let drain = tokio::spawn(drain(reader, session.ctx, session.peer.clone()));
        Feeder { session, drain }
    }

    /// The session, to send on.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Resolves when the session has ended, with the reason.
    pub async fn failed(&mut self) -> SpeakerError {
        match (&mut self.drain).await {
            Ok(error) => error,
            Err(join) => SpeakerError::Task {
                peer: self.session.peer.clone(),
                reason: format!("feeder task failed: {join}"),
            },
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

async fn drain(mut reader: MessageReader, ctx: SessionContext, peer: String) -> SpeakerError {
    loop {
        if let Err(e) = next_message(&mut reader, &ctx, &peer).await {
            return e;
        }
    }
}

/// How far a monitor's tally has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub held: u32,
    pub target: u32,
    pub unexpected: usize,
    /// When the peer's IPv4 End-of-RIB arrived (RFC 4724 §2).
    pub end_of_rib_at: Option<Instant>,
    /// When the tally first became complete.
    pub completed_at: Option<Instant>,
}

/// What a monitor waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// The peer's End-of-RIB.
    EndOfRib,
    /// Every expected prefix held.
    Complete,
}

impl Milestone {
    /// When the milestone was reached, per `progress`.
    pub fn at(self, progress: &Progress) -> Option<Instant> {
        match self {
            Milestone::EndOfRib => progress.end_of_rib_at,
            Milestone::Complete => progress.completed_at,
        }
    }
}

/// A monitor: a task tallying the prefixes the peer announces.
#[derive(Debug)]
pub struct Monitor {
    session: Session,
    progress: watch::Receiver<Progress>,
    task: JoinHandle<SpeakerError>,
}

impl Monitor {
    /// Starts tallying the UPDATEs read from `reader`.
    pub fn new(session: Session, reader: MessageReader, tally: PrefixTally) -> Self {
        let (tx, progress) = watch::channel(progress_of(&tally, None, None));
        let task = tokio::spawn(tally_updates(
            reader,
            session.ctx,
            session.peer.clone(),
            tally,
            tx,
        ));
        Monitor {
            session,
            progress,
            task,
        }
    }

    /// The session, to send on (a route-reflector client both feeds and monitors).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The tally now.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// A handle that follows the tally (for reports while the monitor is busy elsewhere).
    pub fn progress_watch(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Waits until `milestone` is reached; returns when that happened.
    pub async fn reached(&mut self, milestone: Milestone) -> Result<Instant, SpeakerError> {
        match milestone {
            Milestone::EndOfRib => self.end_of_rib().await,
            Milestone::Complete => self.completed().await,
        }
    }

    /// Waits until the tally is complete; returns when that happened.
    pub async fn completed(&mut self) -> Result<Instant, SpeakerError> {
        self.wait_for(|p| p.completed_at).await
    }

    /// Waits for the peer's End-of-RIB: it has sent its initial table.
    pub async fn end_of_rib(&mut self) -> Result<Instant, SpeakerError> {
        self.wait_for(|p| p.end_of_rib_at).await
    }

    async fn wait_for(
        &mut self,
        field: impl Fn(&Progress) -> Option<Instant>,
    ) -> Result<Instant, SpeakerError> {
        let waited = self
            .progress
            .wait_for(|p| field(p).is_some())
            .await
            .map(|p| field(&p));
        match waited {
            Ok(Some(at)) => Ok(at),
            _ => Err(match (&mut self.task).await {
                Ok(error) => error,
                Err(join) => SpeakerError::Task {
                    peer: self.session.peer.clone(),
                    reason: format!("monitor task failed: {join}"),
                },
            }),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn progress_of(
    tally: &PrefixTally,
    end_of_rib_at: Option<Instant>,
    completed_at: Option<Instant>,
) -> Progress {
    Progress {
        held: tally.held(),
        target: tally.target(),
        unexpected: tally.unexpected(),
        end_of_rib_at,
        completed_at,
    }
}

async fn tally_updates(
    mut reader: MessageReader,
    ctx: SessionContext,
    peer: String,
    mut tally: PrefixTally,
    progress: watch::Sender<Progress>,
) -> SpeakerError {
    let (mut end_of_rib_at, mut completed_at) = (None, None);
    loop {
        let update = match next_message(&mut reader, &ctx, &peer).await {
            Ok(Message::Update(u)) => u,
            Ok(_) => continue,
            Err(e) => return e,
        };
        if update.as_end_of_rib() == Some(AfiSafi::IPV4_UNICAST) {
            end_of_rib_at.get_or_insert_with(Instant::now);
        }
        for w in &update.withdrawn {
            tally.withdraw(&w.prefix);
        }
        for n in &update.nlri {
            tally.announce(&n.prefix);
        }
        if let Some(MpNlri::Ipv4(routes)) = update.mp_unreach().map(|u| &u.withdrawn) {
            routes
                .iter()
                .for_each(|r: &Ipv4Nlri| tally.withdraw(&r.prefix));
        }
        if let Some(MpNlri::Ipv4(routes)) = update.mp_reach().map(|r| &r.nlri) {
            routes
                .iter()
                .for_each(|r: &Ipv4Nlri| tally.announce(&r.prefix));
        }
        if completed_at.is_none() && tally.is_complete() {
            completed_at = Some(Instant::now());
        }
        // Waiters wake only for a milestone; the counts are updated silently for reports.
        // (GoBGP sends one UPDATE per prefix: a wakeup per message would cost the monitor
        // more than the decoding.)
        let now = progress_of(&tally, end_of_rib_at, completed_at);
        progress.send_if_modified(|seen| {
            let milestone =
                seen.end_of_rib_at != now.end_of_rib_at || seen.completed_at != now.completed_at;
            *seen = now;
            milestone
        });
    }
}
