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

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const LOCAL_AS: u32 = 65001;
const PEER_AS: u32 = 4_200_000_002;

fn caps(asn: u32) -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::FourOctetAs(asn),
    ]
}

fn config() -> SessionConfig {
    let mut c = SessionConfig::new(LOCAL_AS, PEER_AS, LOCAL_ID, caps(LOCAL_AS));
    c.hold_time = 9;
    c.connect_retry_time = Duration::from_secs(5);
    c
}

fn peer_open(hold_time: u16) -> Open {
    Open::new(PEER_AS, hold_time, PEER_ID, caps(PEER_AS))
}

/// A virtual clock: `at(s)` is `s` seconds after the test's start.
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Clock(Instant::now())
    }
    fn at(&self, secs: f64) -> Instant {
        self.0 + Duration::from_secs_f64(secs)
    }
}

/// Drives a fresh session to `state` at time 0.
fn session_in(config: SessionConfig, state: State, clock: &Clock) -> Session {
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

fn notification(actions: &[Action]) -> Option<(u8, u8)> {
    actions.iter().find_map(|a| match a {
        Action::SendNotification(n) => Some(n.error.pair()),
        _ => None,
    })
}

fn notification_message(actions: &[Action]) -> Option<&Notification> {
    actions.iter().find_map(|a| match a {
        Action::SendNotification(n) => Some(n),
        _ => None,
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---- Idle ----

#[test]
fn idle_manual_start_connects_and_starts_connect_retry_timer() {
    let clock = Clock::new();
    let mut s = Session::new(config());
    let actions = s.handle(Event::ManualStart, clock.at(1.0));
    assert_eq!(
        actions,
        vec![
            Action::Connect,
            Action::StateChange {
                from: State::Idle,
                to: State::Connect
            }
        ]
    );
    assert_eq!(s.deadline(Timer::ConnectRetry), Some(clock.at(6.0)));
}

#[test]
fn idle_passive_start_waits_in_active_without_connecting() {
    let clock = Clock::new();
    let mut s = Session::new(config());
    let actions = s.handle(
        Event::AutomaticStartWithPassiveTcpEstablishment,
        clock.at(0.0),
    );
    assert!(!actions.contains(&Action::Connect));
    assert_eq!(s.state(), State::Active);
    assert!(s.deadline(Timer::ConnectRetry).is_some());
}

#[test]
fn idle_ignores_messages_and_timers() {
    let clock = Clock::new();
    let mut s = Session::new(config());
    for e in [
        Event::KeepAliveMsg,
        Event::HoldTimerExpires,
        Event::TcpConnectionFails,
        Event::UpdateMsg,
    ] {
        assert!(s.handle(e, clock.at(0.0)).is_empty());
        assert_eq!(s.state(), State::Idle);
    }
}

#[test]
fn idle_automatic_start_waits_for_idle_hold_timer_after_failure() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.deadline(Timer::IdleHold), Some(clock.at(2.0)));
    assert!(
        s.handle(Event::AutomaticStart, clock.at(1.5)).is_empty(),
        "damped while IdleHold runs"
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn idle_hold_expiry_restarts_in_the_remembered_mode() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Active, &clock);
    s.handle(Event::TcpConnectionFails, clock.at(1.0));
    let actions = s.handle_timeout(clock.at(2.0));
    assert_eq!(
        s.state(),
        State::Active,
        "a passive session restarts passive"
    );
    assert!(!actions.contains(&Action::Connect));
}

#[test]
fn idle_manual_start_overrides_idle_hold_and_resets_counter() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    s.handle(Event::HoldTimerExpires, clock.at(1.0));
    assert_eq!(s.connect_retry_counter(), 1);
    s.handle(Event::ManualStart, clock.at(1.1));
    assert_eq!(s.state(), State::Connect);
    assert_eq!(s.connect_retry_counter(), 0);
    assert_eq!(s.deadline(Timer::IdleHold), None);
}

// ---- Connect ----

#[test]
fn connect_tcp_established_sends_open_and_sets_large_hold_timer() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    let actions = s.handle(Event::TcpCrAcked, clock.at(1.0));
    assert_eq!(actions[0], Action::SendOpen(config().open()));
    assert_eq!(s.state(), State::OpenSent);
    assert_eq!(
        s.deadline(Timer::Hold),
        Some(clock.at(241.0)),
        "RFC 4271 §8.2.2: 4 minutes"
    );
    assert_eq!(s.deadline(Timer::ConnectRetry), None);
}

#[test]
fn connect_retry_expiry_drops_and_reconnects() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    let actions = s.handle_timeout(clock.at(5.0));
    assert_eq!(actions, vec![Action::DropConnection, Action::Connect]);
    assert_eq!(s.state(), State::Connect);
    assert_eq!(s.deadline(Timer::ConnectRetry), Some(clock.at(10.0)));
}

#[test]
fn connect_tcp_failure_goes_idle_without_counting() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    let actions = s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert!(actions.contains(&Action::DropConnection));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.connect_retry_counter(), 0);
}

#[test]
fn connect_with_delay_open_sends_open_when_delay_expires() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Connect, &clock);
    let actions = s.handle(Event::TcpCrAcked, clock.at(1.0));
    assert!(
        actions.is_empty(),
        "no OPEN before DelayOpen expires: {actions:?}"
    );
    assert_eq!(s.deadline(Timer::DelayOpen), Some(clock.at(3.0)));
    let actions = s.handle_timeout(clock.at(3.0));
    assert!(matches!(actions[0], Action::SendOpen(_)));
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn connect_tcp_failure_during_delay_open_goes_active() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Connect, &clock);
    s.handle(Event::TcpCrAcked, clock.at(1.0));
    s.handle(Event::TcpConnectionFails, clock.at(1.5));
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.deadline(Timer::DelayOpen), None);
    assert_eq!(s.deadline(Timer::ConnectRetry), Some(clock.at(6.5)));
}

#[test]
fn connect_open_during_delay_open_answers_and_goes_open_confirm() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Connect, &clock);
    s.handle(Event::TcpCrAcked, clock.at(1.0));
    let actions = s.handle(Event::BgpOpen(peer_open(9)), clock.at(1.5));
    assert!(matches!(actions[0], Action::SendOpen(_)));
    assert_eq!(actions[1], Action::SendKeepalive);
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(10.5)));
}

#[test]
fn connect_manual_stop_goes_idle_and_stays_there() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    s.handle(
        Event::ManualStop {
            communication: None,
        },
        clock.at(1.0),
    );
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.next_deadline(), None, "a stopped session has no timers");
}

#[test]
fn connect_unexpected_message_goes_idle_and_counts() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    s.handle(Event::KeepAliveMsg, clock.at(1.0));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.connect_retry_counter(), 1);
}

#[test]
fn connect_header_error_sends_its_notification() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    let n = Notification::bare(ErrorCode::MessageHeader(
        crate::wire::notification::MessageHeaderError::BadMessageType,
    ));
    let actions = s.handle(Event::BgpHeaderErr(n), clock.at(1.0));
    assert_eq!(notification(&actions), Some((1, 3)));
    assert_eq!(s.state(), State::Idle);
}

// ---- Active ----

#[test]
fn active_connect_retry_expiry_connects_for_an_active_session() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert_eq!(s.state(), State::Active);
    let actions = s.handle_timeout(clock.at(6.0));
    assert!(actions.contains(&Action::Connect));
    assert_eq!(s.state(), State::Connect);
}

#[test]
fn active_passive_session_keeps_listening_when_connect_retry_expires() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Active, &clock);
    let actions = s.handle_timeout(clock.at(5.0));
    assert!(!actions.contains(&Action::Connect));
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.deadline(Timer::ConnectRetry), Some(clock.at(10.0)));
}

#[test]
fn active_incoming_connection_sends_open() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Active, &clock);
    let actions = s.handle(Event::TcpConnectionConfirmed, clock.at(1.0));
    assert!(matches!(actions[0], Action::SendOpen(_)));
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn active_tcp_failure_counts_and_goes_idle() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Active, &clock);
    s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.connect_retry_counter(), 1);
}

// ---- OpenSent ----

#[test]
fn open_sent_valid_open_sends_keepalive_and_negotiates_hold_time() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let actions = s.handle(Event::BgpOpen(peer_open(30)), clock.at(1.0));
    assert_eq!(actions[0], Action::SendKeepalive);
    assert_eq!(s.state(), State::OpenConfirm);
    let n = s.negotiated().expect("negotiated");
    assert_eq!(n.hold_time, secs(9), "min(ours 9, theirs 30)");
    assert_eq!(n.keepalive_time, secs(3));
    assert!(n.four_octet_as);
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(10.0)));
    assert_eq!(s.deadline(Timer::Keepalive), Some(clock.at(4.0)));
}

#[test]
fn open_sent_hold_expiry_sends_notification() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let actions = s.handle_timeout(clock.at(240.0));
    assert_eq!(notification(&actions), Some((4, 0)));
    assert!(actions.contains(&Action::DropConnection));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.connect_retry_counter(), 1);
}

#[test]
fn open_sent_peer_as_mismatch_sends_bad_peer_as() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let wrong = Open::new(65099, 9, PEER_ID, caps(65099));
    let actions = s.handle(Event::BgpOpen(wrong), clock.at(1.0));
    assert_eq!(notification(&actions), Some((2, 2)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_zero_bgp_identifier_sends_bad_bgp_identifier() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let open = Open::new(PEER_AS, 9, Ipv4Addr::UNSPECIFIED, caps(PEER_AS));
    assert_eq!(
        notification(&s.handle(Event::BgpOpen(open), clock.at(1.0))),
        Some((2, 3))
    );
}

#[test]
fn open_sent_ibgp_peer_with_our_identifier_sends_bad_bgp_identifier() {
    let clock = Clock::new();
    let mut c = config();
    c.peer_asn = LOCAL_AS;
    let mut s = session_in(c, State::OpenSent, &clock);
    let open = Open::new(LOCAL_AS, 9, LOCAL_ID, caps(LOCAL_AS));
    assert_eq!(
        notification(&s.handle(Event::BgpOpen(open), clock.at(1.0))),
        Some((2, 3))
    );
}

#[test]
fn open_sent_unsupported_version_sends_version_error_with_our_version() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let mut open = peer_open(9);
    open.version = 5;
    let actions = s.handle(Event::BgpOpen(open), clock.at(1.0));
    let n = notification_message(&actions).expect("a NOTIFICATION");
    assert_eq!(
        n.error,
        ErrorCode::OpenMessage(OpenMessageError::UnsupportedVersionNumber)
    );
    assert_eq!(
        &n.data[..],
        &[0, 4],
        "RFC 4271 §6.2: data is our 2-octet version"
    );
}

#[test]
fn open_sent_hold_time_of_one_or_two_seconds_is_unacceptable() {
    for hold in [1, 2] {
        let clock = Clock::new();
        let mut s = session_in(config(), State::OpenSent, &clock);
        let actions = s.handle(Event::BgpOpen(peer_open(hold)), clock.at(1.0));
        assert_eq!(notification(&actions), Some((2, 6)), "hold time {hold}");
    }
}

#[test]
fn open_sent_zero_hold_time_is_accepted_and_runs_no_timers() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    s.handle(Event::BgpOpen(peer_open(0)), clock.at(1.0));
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(s.deadline(Timer::Hold), None);
    assert_eq!(s.deadline(Timer::Keepalive), None);
}

#[test]
fn open_sent_unknown_optional_parameter_sends_unsupported_optional_parameter() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let mut open = peer_open(9);
    open.params.push(OptionalParameter::Unknown {
        kind: 9,
        value: bytes::Bytes::from_static(b"x"),
    });
    assert_eq!(
        notification(&s.handle(Event::BgpOpen(open), clock.at(1.0))),
        Some((2, 4))
    );
}

#[test]
fn open_sent_tcp_failure_goes_active_and_listens() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let actions = s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert!(actions.contains(&Action::DropConnection));
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.deadline(Timer::ConnectRetry), Some(clock.at(6.0)));
    assert_eq!(s.deadline(Timer::Hold), None);
}

#[test]
fn open_sent_keepalive_is_an_fsm_error() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    assert_eq!(
        notification(&s.handle(Event::KeepAliveMsg, clock.at(1.0))),
        Some((5, 1)),
        "RFC 6608"
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_collision_dump_sends_cease_collision_resolution() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    assert_eq!(
        notification(&s.handle(Event::OpenCollisionDump, clock.at(1.0))),
        Some((6, 7))
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_sent_manual_stop_sends_cease_with_shutdown_communication() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let actions = s.handle(
        Event::ManualStop {
            communication: Some("upgrade to 2.1".into()),
        },
        clock.at(1.0),
    );
    let n = notification_message(&actions).expect("a NOTIFICATION");
    assert_eq!(
        n.error,
        ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown)
    );
    assert_eq!(n.shutdown_communication(), Some(Ok("upgrade to 2.1")));
    assert_eq!(s.connect_retry_counter(), 0);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn open_sent_notification_closes_without_reply_and_version_error_is_not_counted() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let version = Notification::bare(ErrorCode::OpenMessage(
        OpenMessageError::UnsupportedVersionNumber,
    ));
    let actions = s.handle(Event::NotifMsg(version), clock.at(1.0));
    assert_eq!(notification(&actions), None);
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 0));
    let mut s = session_in(config(), State::OpenSent, &clock);
    s.handle(
        Event::NotifMsg(Notification::bare(ErrorCode::Cease(
            CeaseSubcode::PeerDeconfigured,
        ))),
        clock.at(1.0),
    );
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}

// ---- OpenConfirm ----

#[test]
fn open_confirm_keepalive_establishes_the_session() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    let actions = s.handle(Event::KeepAliveMsg, clock.at(2.0));
    let Some(Action::SessionEstablished(n)) = actions.first() else {
        panic!("no SessionEstablished: {actions:?}")
    };
    assert_eq!(n.peer_asn, PEER_AS);
    assert_eq!(
        n.families,
        vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
    );
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(11.0)));
}

#[test]
fn open_confirm_keepalive_timer_sends_keepalive() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    assert_eq!(s.handle_timeout(clock.at(3.0)), vec![Action::SendKeepalive]);
    assert_eq!(s.deadline(Timer::Keepalive), Some(clock.at(6.0)));
}

#[test]
fn open_confirm_hold_expiry_sends_notification() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    // Keepalives go out at 3 and 6; the hold timer fires at 9.
    let actions = s.handle_timeout(clock.at(9.0));
    assert_eq!(notification(&actions), Some((4, 0)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn open_confirm_update_is_an_fsm_error() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    assert_eq!(
        notification(&s.handle(Event::UpdateMsg, clock.at(1.0))),
        Some((5, 2))
    );
}

#[test]
fn open_confirm_collision_dump_sends_cease() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    assert_eq!(
        notification(&s.handle(Event::OpenCollisionDump, clock.at(1.0))),
        Some((6, 7))
    );
}

#[test]
fn open_confirm_tcp_failure_goes_idle() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}

// ---- Established ----

#[test]
fn established_sends_keepalive_every_third_of_the_hold_time() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let mut sent = 0;
    for t in 1..=8 {
        let now = clock.at(f64::from(t));
        sent += s
            .handle_timeout(now)
            .iter()
            .filter(|a| **a == Action::SendKeepalive)
            .count();
        s.handle(Event::KeepAliveMsg, now);
    }
    assert_eq!(sent, 2, "at 3 s and 6 s");
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_keepalive_update_and_route_refresh_restart_the_hold_timer() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    s.handle(Event::KeepAliveMsg, clock.at(5.0));
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(14.0)));
    s.handle(Event::UpdateMsg, clock.at(6.0));
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(15.0)));
    s.handle(Event::RouteRefreshMsg, clock.at(7.0));
    assert_eq!(s.deadline(Timer::Hold), Some(clock.at(16.0)));
}

#[test]
fn established_hold_expiry_sends_notification_and_brings_the_session_down() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(Event::HoldTimerExpires, clock.at(9.0));
    assert_eq!(notification(&actions), Some((4, 0)));
    assert!(actions.contains(&Action::SessionDown));
    assert_eq!(s.state(), State::Idle);
    assert!(
        s.deadline(Timer::IdleHold).is_some(),
        "restarts after IdleHold"
    );
}

#[test]
fn established_update_error_sends_its_notification() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let n = Notification::bare(ErrorCode::UpdateMessage(
        crate::wire::notification::UpdateMessageError::InvalidNetworkField,
    ));
    let actions = s.handle(Event::UpdateMsgErr(n), clock.at(1.0));
    assert_eq!(notification(&actions), Some((3, 10)));
    assert!(actions.contains(&Action::SessionDown));
}

#[test]
fn established_notification_brings_the_session_down_without_reply() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(
        Event::NotifMsg(Notification::bare(ErrorCode::HoldTimerExpired)),
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), None);
    assert!(actions.contains(&Action::SessionDown));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_open_is_an_fsm_error() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    assert_eq!(
        notification(&s.handle(Event::BgpOpen(peer_open(9)), clock.at(1.0))),
        Some((5, 3))
    );
}

#[test]
fn established_send_hold_expiry_closes_the_session() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    // RFC 9687: max(8 minutes, 2 × 9 s) = 480 s after Established.
    assert_eq!(s.deadline(Timer::SendHold), Some(clock.at(480.0)));
    s.handle(Event::SendProgress, clock.at(100.0));
    assert_eq!(
        s.deadline(Timer::SendHold),
        Some(clock.at(580.0)),
        "progress restarts it"
    );
    let actions = s.handle(Event::SendHoldTimerExpires, clock.at(580.0));
    assert_eq!(notification(&actions), Some((8, 0)));
    assert!(actions.contains(&Action::DropConnection));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn established_zero_hold_time_runs_no_hold_keepalive_or_send_hold_timer() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    s.handle(Event::BgpOpen(peer_open(0)), clock.at(1.0));
    s.handle(Event::KeepAliveMsg, clock.at(1.0));
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn established_manual_stop_sends_cease_and_does_not_restart() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(
        Event::ManualStop {
            communication: None,
        },
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), Some((6, 2)));
    assert!(actions.contains(&Action::SessionDown));
    assert_eq!(s.next_deadline(), None);
    assert!(s.handle_timeout(clock.at(1000.0)).is_empty());
}

#[test]
fn established_automatic_stop_sends_its_cease_subcode() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(
        Event::AutomaticStop {
            subcode: CeaseSubcode::MaximumPrefixesReached,
        },
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), Some((6, 1)));
    assert_eq!(s.state(), State::Idle);
}

// ---- IdleHold backoff (RFC 4271 §8.1.1 DampPeerOscillations) ----

#[test]
fn repeated_failures_double_the_idle_hold_time_up_to_the_maximum() {
    let clock = Clock::new();
    let mut c = config();
    c.max_idle_hold_time = secs(8);
    let mut s = Session::new(c);
    let mut now = 0.0;
    s.handle(Event::AutomaticStart, clock.at(now));
    let mut waits = Vec::new();
    for _ in 0..6 {
        s.handle(Event::TcpConnectionFails, clock.at(now));
        let restart = s.deadline(Timer::IdleHold).expect("IdleHold armed");
        waits.push(restart.duration_since(clock.at(now)).as_secs());
        now = restart.duration_since(clock.at(0.0)).as_secs_f64();
        s.handle_timeout(clock.at(now));
        assert_eq!(s.state(), State::Connect);
    }
    assert_eq!(waits, vec![1, 2, 4, 8, 8, 8]);
}

#[test]
fn a_stable_session_resets_the_backoff() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    for t in [1.0, 3.0] {
        s.handle(Event::TcpConnectionFails, clock.at(t));
        s.handle_timeout(clock.at(t + 2.0));
    }
    // Two failures: the next wait would be 4 s. Establish, stay up past stable_time, fail.
    s.handle(Event::TcpCrAcked, clock.at(10.0));
    s.handle(Event::BgpOpen(peer_open(0)), clock.at(10.0));
    s.handle(Event::KeepAliveMsg, clock.at(10.0));
    assert_eq!(s.state(), State::Established);
    s.handle(Event::TcpConnectionFails, clock.at(100.0));
    assert_eq!(s.deadline(Timer::IdleHold), Some(clock.at(101.0)));
}

// ---- negotiation ----

#[test]
fn negotiation_intersects_families_and_add_path_directions() {
    let mut c = config();
    c.capabilities = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::FourOctetAs(LOCAL_AS),
        Capability::ExtendedMessage,
        Capability::AddPath(vec![
            AddPathFamily {
                family: AfiSafi::IPV4_UNICAST,
                mode: AddPathMode::Both,
            },
            AddPathFamily {
                family: AfiSafi::IPV6_UNICAST,
                mode: AddPathMode::Receive,
            },
        ]),
    ];
    let open = Open::new(
        PEER_AS,
        90,
        PEER_ID,
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::FourOctetAs(PEER_AS),
            Capability::AddPath(vec![AddPathFamily {
                family: AfiSafi::IPV4_UNICAST,
                mode: AddPathMode::Send,
            }]),
        ],
    );
    let n = check_open(&open, &c).expect("acceptable OPEN");
    assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST]);
    assert_eq!(
        n.add_path_receive,
        FamilySet::EMPTY.with(AfiSafi::IPV4_UNICAST)
    );
    assert_eq!(n.add_path_send, FamilySet::EMPTY, "the peer only sends");
    assert!(!n.extended_message, "the peer did not advertise it");
    assert_eq!(n.context().as_width(), 4);
}

#[test]
fn a_peer_without_multiprotocol_capabilities_gets_ipv4_unicast() {
    let open = Open::new(PEER_AS, 90, PEER_ID, vec![Capability::FourOctetAs(PEER_AS)]);
    let n = check_open(&open, &config()).expect("acceptable OPEN");
    assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST]);
}

#[test]
fn a_two_octet_peer_is_matched_on_my_autonomous_system() {
    let mut c = config();
    c.peer_asn = 65002;
    let open = Open::new(
        65002,
        90,
        PEER_ID,
        vec![Capability::Multiprotocol(AfiSafi::IPV4_UNICAST)],
    );
    let n = check_open(&open, &c).expect("acceptable OPEN");
    assert!(!n.four_octet_as);
    let wrong = Open {
        my_as: crate::wire::AS_TRANS,
        ..open
    };
    assert!(
        check_open(&wrong, &c).is_err(),
        "AS_TRANS without the capability is AS 23456"
    );
}
