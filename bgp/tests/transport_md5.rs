//! TCP MD5 (RFC 2385) against real peers, at the transport level: with the right key the TCP
//! connection comes up and the peer's OPEN arrives; with a wrong key it never comes up and the
//! kernel counts `TcpExtTCPMD5Failure`. Both directions: we connect to BIRD, and BIRD and FRR
//! connect to our listener.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use margay_bgp::transport::{self, Listener, Md5Key, PeerTransport};
use margay_tests::{Bird, Frr, Netns, TestDir, wait_until};
use tokio::io::AsyncReadExt;

const US: &str = "10.0.0.1";
const PEER: &str = "10.0.0.2";
/// A deadline for things that must happen, not a synchronisation sleep.
const DEADLINE: Duration = Duration::from_secs(20);

fn pair(tag: &str) -> (Netns, Netns) {
    let us = Netns::new(&format!("{tag}us"));
    let peer = Netns::new(&format!("{tag}peer"));
    us.veth_to(&peer, "eth0", "eth0");
    us.addr_add("eth0", &format!("{US}/24"));
    peer.addr_add("eth0", &format!("{PEER}/24"));
    (us, peer)
}

fn opts(key: &str) -> PeerTransport {
    PeerTransport {
        local_addr: Some(US.parse().unwrap()),
        md5_key: Some(Md5Key::new(key).unwrap()),
        ttl_security: None,
    }
}

/// Reads the first BGP message header and returns its type (1 = OPEN).
async fn read_message_type(stream: &mut tokio::net::TcpStream) -> u8 {
    let mut header = [0u8; 19];
    stream
        .read_exact(&mut header)
        .await
        .expect("reading a BGP header");
    assert_eq!(&header[..16], &[0xff; 16], "BGP marker");
    header[18]
}

fn bird_peer(peer_ns: &Netns, dir: &TestDir, key: &str, passive: bool) -> Bird {
    let passive = if passive { "passive on;" } else { "" };
    let config = format!(
        "{}protocol bgp margay from peer_t {{ local {PEER} as 65002; neighbor {US} as 65001; \
password \"{key}\"; {passive} }}\n",
        Bird::base_config(PEER)
    );
    Bird::start(peer_ns, dir, "bird", &config)
}

#[test]
fn md5_connect_to_bird_right_key_gets_open_wrong_key_never_connects() {
    let dir = TestDir::new("md5-bird-out");
    let (us, peer) = pair("md5o");
    let _bird = bird_peer(&peer, &dir, "right-key", true);
    let target = SocketAddr::new(PEER.parse().unwrap(), transport::BGP_PORT);

    let msg_type = us.block_on(async {
        let opts = opts("right-key");
        let connect = transport::connect(target, &opts);
        let mut stream = tokio::time::timeout(DEADLINE, connect)
            .await
            .expect("right key: connection within the deadline")
            .expect("right key: connection");
        read_message_type(&mut stream).await
    });
    assert_eq!(msg_type, 1, "BIRD's first message is an OPEN");

    let failures_before = peer.tcp_ext("TCPMD5Failure");
    us.block_on(async {
        let opts = opts("wrong-key");
        let connect = transport::connect(target, &opts);
        // The SYN is dropped by BIRD's kernel: the connect never completes.
        let outcome = tokio::time::timeout(Duration::from_secs(3), connect).await;
        assert!(
            !matches!(outcome, Ok(Ok(_))),
            "wrong key connected: {outcome:?}"
        );
    });
    wait_until(DEADLINE, "BIRD's kernel to count MD5 failures", || {
        let now = peer.tcp_ext("TCPMD5Failure");
        if now > failures_before {
            Ok(())
        } else {
            Err(format!("TCPMD5Failure = {now}"))
        }
    });
}

fn accept_open_from(us: &Netns, peer: IpAddr, key: &str) -> u8 {
    us.block_on(async {
        let listener = Listener::bind(SocketAddr::new(US.parse().unwrap(), transport::BGP_PORT))
            .expect("binding the BGP port in our namespace");
        listener.allow_peer(peer, opts(key)).unwrap();
        let (mut stream, remote) = tokio::time::timeout(DEADLINE, listener.accept())
            .await
            .expect("the peer connects within the deadline")
            .unwrap();
        assert_eq!(remote.ip(), peer);
        read_message_type(&mut stream).await
    })
}

fn listener_with_wrong_key_counts_failures(us: &Netns, peer: IpAddr) {
    let failures_before = us.tcp_ext("TCPMD5Failure");
    us.block_on(async {
        let listener = Listener::bind(SocketAddr::new(US.parse().unwrap(), transport::BGP_PORT))
            .expect("binding the BGP port in our namespace");
        listener.allow_peer(peer, opts("wrong-key")).unwrap();
        // The peer keeps retrying; our kernel drops its signed SYNs and counts them.
        wait_until(DEADLINE, "our kernel to count MD5 failures", || {
            let now = us.tcp_ext("TCPMD5Failure");
            if now > failures_before {
                Ok(())
            } else {
                Err(format!("TCPMD5Failure = {now}"))
            }
        });
        let outcome = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(
            outcome.is_err(),
            "a connection with the wrong key was accepted: {outcome:?}"
        );
    });
}

#[test]
fn md5_bird_connects_to_our_listener_with_the_right_key_only() {
    let dir = TestDir::new("md5-bird-in");
    let (us, peer) = pair("md5i");
    let _bird = bird_peer(&peer, &dir, "tor-secret", false);
    assert_eq!(
        accept_open_from(&us, PEER.parse().unwrap(), "tor-secret"),
        1
    );
    listener_with_wrong_key_counts_failures(&us, PEER.parse().unwrap());
}

#[test]
fn md5_frr_connects_to_our_listener_with_the_right_key_only() {
    let dir = TestDir::new("md5-frr-in");
    let (us, peer) = pair("md5f");
    let config = format!(
        "{} neighbor {US} remote-as 65001\n neighbor {US} password frr-secret\n \
neighbor {US} timers connect 1\n",
        Frr::base_config(65002, PEER)
    );
    let _frr = Frr::start(&peer, &dir, "frr", &config);
    assert_eq!(
        accept_open_from(&us, PEER.parse().unwrap(), "frr-secret"),
        1
    );
    listener_with_wrong_key_counts_failures(&us, PEER.parse().unwrap());
}
