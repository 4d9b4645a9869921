//! One test per FSM transition (RFC 4271 §8.2.2), on a virtual clock: `now` is an `Instant`
//! the test advances by hand; nothing sleeps.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::session::Timer;
use super::*;
use crate::wire::{
    AddPathFamily, AddPathMode, AfiSafi, Capability, CeaseSubcode, ErrorCode, FamilySet,
    Notification, Open, OptionalParameter, notification::OpenMessageError,
};

pub(super) const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(super) const LOCAL_AS: u32 = 65001;
pub(super) const PEER_AS: u32 = 4_200_000_002;

pub(super) fn caps(asn: u32) -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::FourOctetAs(asn),
    ]
}

pub(super) fn config() -> SessionConfig {
    let mut c = SessionConfig::new(LOCAL_AS, PEER_AS, LOCAL_ID, caps(LOCAL_AS));
    c.hold_time = 9;
    c.connect_retry_time = Duration::from_secs(5);
    c
}

pub(super) fn peer_open(hold_time: u16) -> Open {
    Open::new(PEER_AS, hold_time, PEER_ID, caps(PEER_AS))
}

/// A virtual clock: `at(s)` is `s` seconds after the test's start.
pub(super) struct Clock(Instant);

impl Clock {
    pub(super) fn new() -> Self {
        Clock(Instant::now())
    }
    pub(super) fn at(&self, secs: f64) -> Instant {
        self.0 + Duration::from_secs_f64(secs)
    }
}

/// Drives a fresh session to `state` at time 0.
pub(super) fn session_in(config: SessionConfig, state: State, clock: &Clock) -> Session {
    let mut s = Session::new(config);
    let t = clock.at(0.0);
    let steps: Vec<Event> = match state {
        State::Idle => vec![],
        State::Connect => vec![Event::ManualStart],
        State::Active => vec![Event::ManualStartWithPassiveTcpEstablishment],
        State::OpenSent => vec![Event::ManualStart, Event::TcpCrAcked],
        State::OpenConfirm => vec![
            Event::ManualStart,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open(9)),
        ],
        State::Established => vec![
            Event::ManualStart,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open(9)),
            Event::KeepAliveMsg,
        ],
    };
    for e in steps {
        s.handle(e, t);
    }
    assert_eq!(s.state(), state, "setup reached the wrong state");
    s
}

pub(super) fn notification(actions: &[Action]) -> Option<(u8, u8)> {
    actions.iter().find_map(|a| match a {
        Action::SendNotification(n) => Some(n.error.pair()),
        _ => None,
    })
}

pub(super) fn notification_message(actions: &[Action]) -> Option<&Notification> {
    actions.iter().find_map(|a| match a {
        Action::SendNotification(n) => Some(n),
        _ => None,
    })
}

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

mod established;
mod opening;
mod starting;
