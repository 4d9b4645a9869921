//! OpenSent and OpenConfirm (RFC 4271 §8.2.2), with the OPEN checks of §6.2.

use super::*;

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

#[test]
fn open_sent_automatic_stop_sends_its_cease_subcode_and_does_not_restart() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let actions = s.handle(
        Event::AutomaticStop {
            subcode: CeaseSubcode::OutOfResources,
        },
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), Some((6, 8)));
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn open_sent_open_that_failed_to_decode_sends_its_notification() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenSent, &clock);
    let n = Notification::bare(ErrorCode::OpenMessage(OpenMessageError::Unspecific));
    let actions = s.handle(Event::BgpOpenMsgErr(n), clock.at(1.0));
    assert_eq!(notification(&actions), Some((2, 0)));
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}

#[test]
fn open_confirm_manual_stop_sends_cease_and_resets_the_counter() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    let actions = s.handle(
        Event::ManualStop {
            communication: None,
        },
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), Some((6, 2)));
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 0));
}

#[test]
fn open_confirm_notification_goes_idle_without_reply() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    let actions = s.handle(
        Event::NotifMsg(Notification::bare(ErrorCode::Cease(
            CeaseSubcode::PeerDeconfigured,
        ))),
        clock.at(1.0),
    );
    assert_eq!(notification(&actions), None);
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}

#[test]
fn open_confirm_second_open_is_an_fsm_error() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::OpenConfirm, &clock);
    assert_eq!(
        notification(&s.handle(Event::BgpOpen(peer_open(9)), clock.at(1.0))),
        Some((5, 2))
    );
}
