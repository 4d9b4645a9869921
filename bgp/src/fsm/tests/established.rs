//! Established (RFC 4271 §8.2.2, RFC 9687), IdleHold backoff (§8.1.1) and negotiation.

use super::*;

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

#[test]
fn established_tcp_failure_brings_the_session_down() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(Event::TcpConnectionFails, clock.at(1.0));
    assert!(actions.contains(&Action::SessionDown));
    assert_eq!(notification(&actions), None);
    assert_eq!((s.state(), s.connect_retry_counter()), (State::Idle, 1));
}

#[test]
fn established_collision_dump_sends_cease_collision_resolution() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    let actions = s.handle(Event::OpenCollisionDump, clock.at(1.0));
    assert_eq!(notification(&actions), Some((6, 7)));
    assert!(actions.contains(&Action::SessionDown));
}

#[test]
fn handle_timeout_fires_every_expired_timer_in_deadline_order() {
    let clock = Clock::new();
    let mut s = session_in(config(), State::Established, &clock);
    // Nothing heard for 9 s: keepalives were due at 3 and 6 (only one fires per call, as a
    // keepalive restarts its own timer at `now`), then the hold timer closes the session.
    let actions = s.handle_timeout(clock.at(9.0));
    assert_eq!(actions[0], Action::SendKeepalive);
    assert_eq!(notification(&actions), Some((4, 0)));
    assert_eq!(s.state(), State::Idle);
}
