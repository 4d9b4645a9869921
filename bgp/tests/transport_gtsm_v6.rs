//! The transport's other options against the real kernel: GTSM (RFC 5082) across a router,
//! and TCP MD5 over IPv6 transport with BIRD.

use std::net::SocketAddr;
use std::time::Duration;

use margay_bgp::transport::{self, Listener, Md5Key, PeerTransport, TtlSecurity};
use margay_tests::{Bird, Netns, TestDir, TwoLans};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(20);

fn gtsm(hops: u8, local: &str) -> PeerTransport {
    PeerTransport {
        local_addr: Some(local.parse().unwrap()),
        md5_key: None,
        ttl_security: Some(TtlSecurity::hops(hops).unwrap()),
    }
}

/// A listener on LAN a allows a GTSM peer on LAN b, two hops away (one router), with
/// `listener_hops`; returns whether the bytes the peer sends after connecting arrive.
fn far_peer_bytes_arrive(listener_hops: u8) -> bool {
    let net = TwoLans::new("gtsm", 1, "10.0.1.0/24", 1, "10.0.2.0/24");
    let (us, peer) = (&net.a.hosts[0], &net.b.hosts[0]);
    let (us_addr, peer_addr) = (net.a.addrs[0], net.b.addrs[0]);
    let listen_at = SocketAddr::new(us_addr.into(), transport::BGP_PORT);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let server = scope.spawn(|| {
            us.block_on(async {
                let listener = Listener::bind(listen_at).unwrap();
                listener
                    .allow_peer(peer_addr.into(), gtsm(listener_hops, &us_addr.to_string()))
                    .unwrap();
                ready_tx.send(()).unwrap();
                // A dropped SYN never completes the handshake; a handshake that completes is
                // followed at once by the peer's bytes.
                let Ok(accepted) =
                    tokio::time::timeout(Duration::from_secs(3), listener.accept()).await
                else {
                    return false;
                };
                let (mut stream, _) = accepted.unwrap();
                let mut buf = [0u8; 5];
                tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut buf))
                    .await
                    .is_ok()
            })
        });
        ready_rx.recv().unwrap();
        peer.block_on(async {
            let opts = gtsm(2, &peer_addr.to_string());
            let connect =
                tokio::time::timeout(Duration::from_secs(4), transport::connect(listen_at, &opts));
            let Ok(Ok(mut stream)) = connect.await else {
                return;
            };
            stream.write_all(b"hello").await.unwrap();
            // Keep the connection open until the server has decided.
            let mut buf = [0u8; 1];
            let _ = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
        });
        server.join().unwrap()
    })
}

#[test]
fn gtsm_drops_a_peer_farther_away_than_allowed() {
    // Sent with TTL 255, forwarded once: arrives with 254, below 255 (one hop allowed).
    assert!(
        !far_peer_bytes_arrive(1),
        "a 2-hop peer got through a 1-hop GTSM check"
    );
}

#[test]
fn gtsm_accepts_a_peer_within_the_allowed_hops() {
    assert!(
        far_peer_bytes_arrive(2),
        "a 2-hop peer was dropped by a 2-hop GTSM check"
    );
}

#[test]
fn md5_over_ipv6_transport_with_bird() {
    let dir = TestDir::new("md5-v6");
    let us = Netns::new("md56us");
    let peer = Netns::new("md56peer");
    us.veth_to(&peer, "eth0", "eth0");
    us.addr_add("eth0", "fd00::1/64");
    peer.addr_add("eth0", "fd00::2/64");
    let config = format!(
        "{}protocol bgp margay from peer_t {{ local fd00::2 as 65002; neighbor fd00::1 as 65001; \
password \"v6-secret\"; passive on; }}\n",
        Bird::base_config("10.0.0.2")
    );
    let _bird = Bird::start(&peer, &dir, "bird", &config);
    let opts = PeerTransport {
        local_addr: Some("fd00::1".parse().unwrap()),
        md5_key: Some(Md5Key::new("v6-secret").unwrap()),
        ttl_security: None,
    };
    let first_type = us.block_on(async {
        let target = SocketAddr::new("fd00::2".parse().unwrap(), transport::BGP_PORT);
        let mut stream = tokio::time::timeout(DEADLINE, transport::connect(target, &opts))
            .await
            .expect("connection within the deadline")
            .expect("connection with the right key");
        let mut header = [0u8; 19];
        stream.read_exact(&mut header).await.unwrap();
        assert_eq!(&header[..16], &[0xff; 16]);
        header[18]
    });
    assert_eq!(first_type, 1, "BIRD's first message over IPv6 is an OPEN");
}
