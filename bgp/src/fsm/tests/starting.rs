//! Idle, Connect and Active (RFC 4271 §8.2.2).

use super::*;

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

#[test]
fn start_events_are_ignored_once_started() {
    let clock = Clock::new();
    for state in [
        State::Connect,
        State::Active,
        State::OpenSent,
        State::OpenConfirm,
        State::Established,
    ] {
        let mut s = session_in(config(), state, &clock);
        for e in [
            Event::ManualStart,
            Event::AutomaticStart,
            Event::ManualStartWithPassiveTcpEstablishment,
        ] {
            assert!(s.handle(e, clock.at(1.0)).is_empty(), "{state:?}");
            assert_eq!(s.state(), state);
        }
    }
}

#[test]
fn connect_automatic_stop_goes_idle_without_restarting() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Connect, &clock);
    s.handle(
        Event::AutomaticStop {
            subcode: CeaseSubcode::MaximumPrefixesReached,
        },
        clock.at(1.0),
    );
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn connect_version_error_during_delay_open_is_not_counted() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Connect, &clock);
    s.handle(Event::TcpCrAcked, clock.at(1.0));
    let version = Notification::bare(ErrorCode::OpenMessage(
        OpenMessageError::UnsupportedVersionNumber,
    ));
    s.handle(Event::NotifMsg(version), clock.at(1.5));
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 0));
}

#[test]
fn active_manual_stop_during_delay_open_sends_cease() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Active, &clock);
    s.handle(Event::TcpConnectionConfirmed, clock.at(1.0));
    assert_eq!(s.state(), State::Active, "DelayOpen running, no OPEN yet");
    let actions = s.handle(
        Event::ManualStop {
            communication: None,
        },
        clock.at(1.5),
    );
    assert_eq!(notification(&actions), Some((6, 2)));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn active_delay_open_expiry_sends_open() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Active, &clock);
    s.handle(Event::TcpConnectionConfirmed, clock.at(1.0));
    let actions = s.handle_timeout(clock.at(3.0));
    assert!(matches!(actions[0], Action::SendOpen(_)));
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn active_open_during_delay_open_answers_and_goes_open_confirm() {
    let clock = Clock::new();
    let mut c = config();
    c.delay_open_time = Some(secs(2));
    let mut s = session_in(c, State::Active, &clock);
    s.handle(Event::TcpConnectionConfirmed, clock.at(1.0));
    let actions = s.handle(Event::BgpOpen(peer_open(9)), clock.at(1.2));
    assert!(matches!(actions[0], Action::SendOpen(_)));
    assert_eq!(actions[1], Action::SendKeepalive);
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn active_unexpected_message_counts_and_goes_idle() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Active, &clock);
    s.handle(Event::UpdateMsg, clock.at(1.0));
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}
