//! The BGP session finite state machine (RFC 4271 §8), pure: no sockets, no clock.
//!
//! Read RFC 4271 §8.2.2 next to `session.rs`: states and events carry the RFC's names
//! (event numbers in the docs), each `on_*` handler follows the RFC's per-state list.
//! The driver feeds [`Event`]s with the current time and carries out the returned
//! [`Action`]s; timers are deadlines inside the [`Session`] that the driver waits for
//! ([`Session::next_deadline`]) and fires with [`Session::handle_timeout`].
//!
//! Beyond RFC 4271 §8: the IdleHoldTimer with exponential backoff of the
//! DampPeerOscillations option (§8.1.1), the SendHoldTimer of RFC 9687, the FSM error
//! subcodes of RFC 6608, OPEN checks in `negotiate.rs` and collision resolution (§6.8) in
//! `collision.rs`.

mod collision;
mod negotiate;
mod session;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;
use std::time::Duration;

pub use collision::{Survivor, resolve_collision, takes_part};
pub use negotiate::{Negotiated, check_open};
pub use session::{Session, Timer};

use crate::wire::{Capability, Notification, Open, PeerType};

/// Session states (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// FSM inputs (RFC 4271 §8.1; the RFC's event number in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// [1] The operator starts the session; we connect and listen.
    ManualStart,
    /// [2] The operator stops the session, optionally with a shutdown communication
    /// (RFC 9003) for the Cease NOTIFICATION.
    ManualStop { communication: Option<String> },
    /// [3] Automatic start (e.g. at daemon start or after IdleHold).
    AutomaticStart,
    /// [4] Manual start, waiting for the peer to connect.
    ManualStartWithPassiveTcpEstablishment,
    /// [5] Automatic start, waiting for the peer to connect.
    AutomaticStartWithPassiveTcpEstablishment,
    /// [8] Automatic stop (e.g. maximum prefixes); Cease with this subcode.
    AutomaticStop { subcode: crate::wire::CeaseSubcode },
    /// [9]
    ConnectRetryTimerExpires,
    /// [10]
    HoldTimerExpires,
    /// [11]
    KeepaliveTimerExpires,
    /// [12]
    DelayOpenTimerExpires,
    /// [13]
    IdleHoldTimerExpires,
    /// [16] Our outgoing connection was established.
    TcpCrAcked,
    /// [17] An incoming connection from the peer was accepted.
    TcpConnectionConfirmed,
    /// [18] The TCP connection failed or was closed by the peer.
    TcpConnectionFails,
    /// [19]/[20] An OPEN arrived (event 20 when the DelayOpenTimer runs; the FSM knows).
    BgpOpen(Open),
    /// [21] A message header error; carries the NOTIFICATION to send.
    BgpHeaderErr(Notification),
    /// [22] An OPEN that failed to decode; carries the NOTIFICATION to send.
    BgpOpenMsgErr(Notification),
    /// [23] This connection lost a collision (§6.8).
    OpenCollisionDump,
    /// [24]/[25] A NOTIFICATION arrived (event 24 when it is a version error 2/1).
    NotifMsg(Notification),
    /// [26]
    KeepAliveMsg,
    /// [27] A valid UPDATE arrived (its content goes to the RIB, not here).
    UpdateMsg,
    /// [28] An UPDATE that calls for a session reset (RFC 7606); the NOTIFICATION to send.
    UpdateMsgErr(Notification),
    /// A ROUTE-REFRESH arrived (RFC 2918); restarts the hold timer like any message.
    RouteRefreshMsg,
    /// RFC 9687: the SendHoldTimer expired.
    SendHoldTimerExpires,
    /// RFC 9687: the driver wrote queued bytes to the socket (progress on the send side).
    SendProgress,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (any previous one is already dropped).
    Connect,
    SendOpen(Open),
    SendKeepalive,
    SendNotification(Notification),
    /// Close the TCP connection.
    DropConnection,
    /// The session is up: switch the codec to `negotiated.context()` and start routing.
    SessionEstablished(Negotiated),
    /// The session left Established: the RIB withdraws (or keeps, with graceful restart)
    /// the peer's routes.
    SessionDown,
    /// For the log: the FSM moved between states.
    StateChange {
        from: State,
        to: State,
    },
}

/// Per-peer FSM configuration (RFC 4271 §8.1.1 optional attributes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_asn: u32,
    pub peer_asn: u32,
    pub bgp_id: Ipv4Addr,
    /// Hold time we propose: 0 or at least 3 seconds (DESIGN §5: 90).
    pub hold_time: u16,
    /// Keepalive interval cap; default one third of the negotiated hold time.
    pub keepalive_time: Option<Duration>,
    /// ConnectRetryTime (RFC 4271 §10 suggests 120 s).
    pub connect_retry_time: Duration,
    /// DelayOpenTime, when the DelayOpen option is on.
    pub delay_open_time: Option<Duration>,
    /// IdleHoldTime after the first failure; doubles per consecutive failure.
    pub idle_hold_time: Duration,
    /// Upper bound of the IdleHoldTime backoff.
    pub max_idle_hold_time: Duration,
    /// An Established session that lasted this long resets the backoff.
    pub stable_time: Duration,
    /// RFC 9687 SendHoldTime; `None` uses max(8 minutes, 2 × hold time).
    pub send_hold_time: Option<Duration>,
    /// Capabilities we advertise.
    pub capabilities: Vec<Capability>,
}

/// RFC 4271 §8.2.2: "a HoldTimer value of 4 minutes" in OpenSent, before negotiation.
pub const LARGE_HOLD_TIME: Duration = Duration::from_secs(240);

impl SessionConfig {
    /// Defaults of DESIGN §5 (hold 90 s) and RFC 4271 §10 (ConnectRetry 120 s).
    pub fn new(
        local_asn: u32,
        peer_asn: u32,
        bgp_id: Ipv4Addr,
        capabilities: Vec<Capability>,
    ) -> Self {
        SessionConfig {
            local_asn,
            peer_asn,
            bgp_id,
            hold_time: 90,
            keepalive_time: None,
            connect_retry_time: Duration::from_secs(120),
            delay_open_time: None,
            idle_hold_time: Duration::from_secs(1),
            max_idle_hold_time: Duration::from_secs(120),
            stable_time: Duration::from_secs(60),
            send_hold_time: None,
            capabilities,
        }
    }

    pub fn peer_type(&self) -> PeerType {
        if self.local_asn == self.peer_asn {
            PeerType::Internal
        } else {
            PeerType::External
        }
    }

    /// The OPEN we send.
    pub fn open(&self) -> Open {
        Open::new(
            self.local_asn,
            self.hold_time,
            self.bgp_id,
            self.capabilities.clone(),
        )
    }
}
