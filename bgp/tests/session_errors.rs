//! Session error handling against real daemons: OPEN errors answered with the RFC 4271 §6.2
//! NOTIFICATIONs and seen by the peer, the hold timer (§6.5) with a frozen peer, TCP MD5
//! (RFC 2385) at the session level, and strangers refused at our port.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use margay_bgp::fsm::{SessionConfig, State};
use margay_bgp::session::{PeerConfig, PeerEvent, SessionManager};
use margay_bgp::transport::{Md5Key, PeerTransport};
use margay_bgp::wire::{AfiSafi, Capability};
use margay_tests::Signal;
use margay_tests::{Bird, Frr, GoBgp, Netns, TestDir, wait_until, wait_until_async};
use tokio::io::AsyncReadExt;

const US: &str = "10.0.0.1";
const PEER: &str = "10.0.0.2";
const OUR_ASN: u32 = 65001;
const PEER_ASN: u32 = 65002;
const DEADLINE: Duration = Duration::from_secs(30);

fn pair(tag: &str) -> (Netns, Netns) {
    let us = Netns::new(&format!("{tag}us"));
    let peer = Netns::new(&format!("{tag}pe"));
    us.veth_to(&peer, "eth0", "eth0");
    us.addr_add("eth0", &format!("{US}/24"));
    peer.addr_add("eth0", &format!("{PEER}/24"));
    (us, peer)
}

fn peer_config(expected_peer_asn: u32, hold: u16, passive: bool, key: Option<&str>) -> PeerConfig {
    let caps = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::FourOctetAs(OUR_ASN),
    ];
    let mut session = SessionConfig::new(OUR_ASN, expected_peer_asn, US.parse().unwrap(), caps);
    session.hold_time = hold;
    session.connect_retry_time = Duration::from_secs(1);
    session.idle_hold_time = Duration::from_millis(200);
    PeerConfig {
        address: PEER.parse().unwrap(),
        port: 179,
        transport: PeerTransport {
            local_addr: Some(US.parse().unwrap()),
            md5_key: key.map(|k| Md5Key::new(k).unwrap()),
            ttl_security: None,
        },
        session,
        passive,
    }
}

fn start_manager(
    peer: PeerConfig,
) -> (
    SessionManager,
    tokio::sync::mpsc::UnboundedReceiver<PeerEvent>,
) {
    let (mut manager, events) =
        SessionManager::bind(SocketAddr::new(US.parse().unwrap(), 179)).unwrap();
    manager.add_peer(peer).unwrap();
    (manager, events)
}

fn peer_ip() -> IpAddr {
    PEER.parse().unwrap()
}

fn bird(peer: &Netns, dir: &TestDir, extra: &str) -> Bird {
    let config = format!(
        "{}protocol bgp margay from peer_t {{ local {PEER} as {PEER_ASN}; neighbor {US} as {OUR_ASN}; {extra} }}\n",
        Bird::base_config(PEER)
    );
    Bird::start(peer, dir, "bird", &config)
}

#[test]
fn wrong_peer_as_gets_notification_2_2_which_bird_reports() {
    let dir = TestDir::new("bad-peer-as");
    let (us, peer) = pair("badas");
    let bird = bird(&peer, &dir, "");
    us.block_on(async {
        // We expect AS 65099; BIRD's OPEN says 65002.
        let (manager, _events) = start_manager(peer_config(65099, 90, false, None));
        wait_until_async(
            DEADLINE,
            "BIRD to report our Bad Peer AS NOTIFICATION",
            async || {
                let theirs = bird.protocol("margay").map(|p| p.info).unwrap_or_default();
                let ours = manager
                    .status(peer_ip())
                    .and_then(|s| s.last_error)
                    .unwrap_or_default();
                if theirs.contains("Bad peer AS") && ours.contains("sent NOTIFICATION 2/2") {
                    Ok(())
                } else {
                    Err(format!("BIRD: {theirs:?}; ours: {ours:?}"))
                }
            },
        )
        .await;
        assert_ne!(manager.status(peer_ip()).unwrap().state, State::Established);
        manager.shutdown(false).await;
    });
}

/// The bytes of a NOTIFICATION with this code and subcode and no data (RFC 4271 §4.5).
fn bare_notification(code: u8, subcode: u8) -> Vec<u8> {
    let mut bytes = vec![0xff; 16];
    bytes.extend_from_slice(&[0, 21, 3, code, subcode]);
    bytes
}

#[test]
fn hold_time_of_one_second_gets_notification_2_6_seen_by_gobgp() {
    let dir = TestDir::new("hold-1");
    let (us, peer) = pair("hold1");
    // What reaches the peer's interface, captured there.
    let pcap = dir.file("peer.pcap");
    let mut tcpdump = peer.spawn(
        &dir,
        "tcpdump",
        &[
            "tcpdump",
            "-i",
            "eth0",
            "-U",
            "-w",
            pcap.to_str().unwrap(),
            "tcp",
            "port",
            "179",
        ],
    );
    wait_until(Duration::from_secs(10), "tcpdump to listen", || {
        if tcpdump.log().contains("listening on") {
            Ok(())
        } else {
            Err(tcpdump.log_tail(5))
        }
    });
    // GoBGP is the one daemon here that proposes a hold time of 1 s (BIRD and FRR refuse it).
    let config = GoBgp::global(PEER_ASN, PEER) + &GoBgp::neighbor(US, OUR_ASN, false);
    let config = config
        .replace("hold-time = 9", "hold-time = 1")
        .replace("keepalive-interval = 3", "keepalive-interval = 1");
    let gobgp = GoBgp::start(&peer, &dir, "gobgp", &config);
    let expected = bare_notification(2, 6);
    us.block_on(async {
        let (manager, _events) = start_manager(peer_config(PEER_ASN, 90, true, None));
        wait_until_async(
            DEADLINE,
            "our 2/6 NOTIFICATION on the peer's wire and counted by gobgpd",
            async || {
                let ours = manager
                    .status(peer_ip())
                    .and_then(|s| s.last_error)
                    .unwrap_or_default();
                let captured = std::fs::read(&pcap).unwrap_or_default();
                let on_wire = captured.windows(expected.len()).any(|w| w == expected);
                let counted = gobgp
                    .json(&["neighbor", US])
                    .pointer("/state/messages/received/notification")
                    .and_then(|n| n.as_u64())
                    .unwrap_or(0);
                if ours.contains("sent NOTIFICATION 2/6") && on_wire && counted > 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "ours: {ours:?}; captured at the peer: {on_wire}; gobgpd counted {counted}"
                    ))
                }
            },
        )
        .await;
        assert_ne!(manager.status(peer_ip()).unwrap().state, State::Established);
        manager.shutdown(false).await;
    });
    tcpdump.stop();
}

#[test]
fn keepalives_hold_the_session_then_a_frozen_peer_gets_hold_timer_expired_4_0() {
    let dir = TestDir::new("hold-expiry");
    let (us, peer) = pair("holdx");
    let mut bird = bird(&peer, &dir, "hold time 3; keepalive time 1;");
    us.block_on(async {
        let (manager, _events) = start_manager(peer_config(PEER_ASN, 3, false, None));
        let mut status = manager.watch(peer_ip()).unwrap();
        wait_until_async(
            DEADLINE,
            "Established with a 3 s hold time",
            async || match manager.status(peer_ip()) {
                Some(s) if s.state == State::Established => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
        let negotiated = manager.status(peer_ip()).unwrap().negotiated.unwrap();
        assert_eq!(negotiated.hold_time, Duration::from_secs(3));
        // RFC 4271 §4.4: keepalives keep the session up; watch it for more than 3 × the hold
        // time and fail on any change of state (counters may change: BIRD sends End-of-RIB).
        let up_since = status.borrow_and_update().since;
        let watch_until = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(changed) = tokio::time::timeout_at(watch_until, status.changed()).await {
            changed.expect("the peer task is alive");
            let now = status.borrow_and_update().clone();
            assert!(
                now.state == State::Established && now.since == up_since,
                "the session changed state while keepalives flowed: {now:?}"
            );
        }

        // Freeze BIRD: no more keepalives. RFC 4271 §6.5: Hold Timer Expired, code 4, subcode 0.
        bird.process().signal(Signal::SIGSTOP);
        wait_until_async(
            Duration::from_secs(10),
            "our hold timer to expire",
            async || {
                let s = manager.status(peer_ip()).unwrap();
                let error = s.last_error.clone().unwrap_or_default();
                if s.state != State::Established && error.contains("sent NOTIFICATION 4/0") {
                    Ok(())
                } else {
                    Err(format!("{s:?}"))
                }
            },
        )
        .await;
        manager.shutdown(false).await;
    });
    bird.process().signal(Signal::SIGCONT);
}

/// MD5 at the session level: the wrong key never gets past TCP (the peer's kernel drops and
/// counts the segments), the right key establishes.
fn md5_session(daemon: &str) {
    let dir = TestDir::new(&format!("md5-session-{daemon}"));
    let (us, peer) = pair(&format!("md5s{daemon}"));
    let _peer_daemon: Box<dyn std::any::Any> = match daemon {
        "bird" => Box::new(bird(&peer, &dir, "password \"session-key\"; passive on;")),
        _ => {
            let config = format!(
                "{} neighbor {US} remote-as {OUR_ASN}\n neighbor {US} password session-key\n neighbor {US} passive\n",
                Frr::base_config(PEER_ASN, PEER)
            );
            Box::new(Frr::start(&peer, &dir, "frr", &config))
        }
    };
    let failures = || peer.tcp_ext("TCPMD5Failure");
    let before = failures();
    us.block_on(async {
        let (manager, mut events) =
            start_manager(peer_config(PEER_ASN, 90, false, Some("wrong-key")));
        wait_until_async(
            DEADLINE,
            "the peer's kernel to drop our wrongly signed segments",
            async || {
                let now = failures();
                if now > before {
                    Ok(())
                } else {
                    Err(format!("TCPMD5Failure = {now}"))
                }
            },
        )
        .await;
        let status = manager.status(peer_ip()).unwrap();
        assert!(
            !matches!(
                status.state,
                State::OpenSent | State::OpenConfirm | State::Established
            ),
            "{status:?}"
        );
        assert!(
            events.try_recv().is_err(),
            "no session may come up with a wrong key"
        );
        manager.shutdown(false).await;

        let (manager, _events) =
            start_manager(peer_config(PEER_ASN, 90, false, Some("session-key")));
        wait_until_async(
            DEADLINE,
            "Established with the right key",
            async || match manager.status(peer_ip()) {
                Some(s) if s.state == State::Established => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
        manager.shutdown(false).await;
    });
}

#[test]
fn md5_session_with_bird_wrong_key_never_right_key_established() {
    md5_session("bird");
}

#[test]
fn md5_session_with_frr_wrong_key_never_right_key_established() {
    md5_session("frr");
}

#[test]
fn a_connection_from_an_unconfigured_address_is_closed_at_once() {
    let (us, peer) = pair("stranger");
    peer.addr_add("eth0", "10.0.0.3/24");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            us.block_on(async {
                // The configured peer is 10.0.0.2 (passive, so nothing else happens).
                let (manager, _events) = start_manager(peer_config(PEER_ASN, 90, true, None));
                ready_tx.send(()).unwrap();
                let _ = done_rx.await;
                manager.shutdown(false).await;
            })
        });
        ready_rx.recv().unwrap();
        let read = peer.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("10.0.0.3:0".parse().unwrap()).unwrap();
            let mut stream = socket
                .connect(SocketAddr::new(US.parse().unwrap(), 179))
                .await
                .unwrap();
            let mut buf = [0u8; 19];
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .map(|r| r.map_err(|e| e.to_string()))
        });
        done_tx.send(()).unwrap();
        assert!(
            matches!(read, Ok(Ok(0))),
            "expected the stranger's connection closed, got {read:?}"
        );
    });
}
