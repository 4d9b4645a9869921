//! margay's BGP sessions against BIRD 2, FRR and GoBGP in network namespaces (RFC 4271 §8),
//! each asserting both sides: ours through the session manager's status, theirs through
//! birdc / vtysh / gobgp.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use margay_bgp::fsm::{SessionConfig, State};
use margay_bgp::session::{PeerConfig, PeerEvent, PeerStatus, SessionManager};
use margay_bgp::transport::{Md5Key, PeerTransport};
use margay_bgp::wire::{AfiSafi, Capability, PeerType};
use margay_tests::{TestDir, wait_until_async};

mod peers;
use peers::{DEADLINE, Daemon, Family, Link, OUR_ID, PeerDaemon, PeerOptions, link};
use tokio::sync::mpsc::UnboundedReceiver;

/// A 4-octet AS number above 65535 (RFC 6793), so AS_TRANS shows up in 2-octet fields.
const OUR_ASN: u32 = 4_200_000_001;
const EBGP_PEER_ASN: u32 = 65002;
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Ibgp,
    Ebgp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Initiator {
    Us,
    Them,
}

fn our_peer(
    link: &Link,
    our_asn: u32,
    peer_asn: u32,
    passive: bool,
    key: Option<&str>,
    hold: u16,
) -> PeerConfig {
    let caps = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::FourOctetAs(our_asn),
        Capability::RouteRefresh,
    ];
    let mut session = SessionConfig::new(our_asn, peer_asn, OUR_ID.parse().unwrap(), caps);
    session.hold_time = hold;
    session.connect_retry_time = Duration::from_secs(1);
    session.idle_hold_time = Duration::from_millis(200);
    PeerConfig {
        address: link.peer_addr,
        port: 179,
        transport: PeerTransport {
            local_addr: Some(link.us_addr),
            md5_key: key.map(|k| Md5Key::new(k).unwrap()),
            ttl_security: None,
        },
        session,
        passive,
    }
}

fn start_manager(link: &Link, peer: PeerConfig) -> (SessionManager, UnboundedReceiver<PeerEvent>) {
    let (mut manager, events) =
        SessionManager::bind(SocketAddr::new(link.us_addr, 179)).expect("binding port 179");
    manager.add_peer(peer).unwrap();
    (manager, events)
}

fn ours_established(manager: &SessionManager, peer: IpAddr) -> Result<PeerStatus, String> {
    match manager.status(peer) {
        Some(status) if status.state == State::Established => Ok(status),
        other => Err(format!("our session: {other:?}")),
    }
}

fn establish(daemon: Daemon, kind: Kind, family: Family, initiator: Initiator) {
    let tag = format!("{daemon:?}{kind:?}{family:?}{initiator:?}").to_lowercase();
    let dir = TestDir::new(&tag);
    let link = link(&tag, family);
    let peer_asn = if kind == Kind::Ibgp {
        OUR_ASN
    } else {
        EBGP_PEER_ASN
    };
    let opts = PeerOptions {
        passive: initiator == Initiator::Us,
        ..Default::default()
    };
    let theirs = PeerDaemon::start(daemon, &link, &dir, peer_asn, OUR_ASN, &opts);
    link.us.block_on(async {
        let peer = our_peer(
            &link,
            OUR_ASN,
            peer_asn,
            initiator == Initiator::Them,
            None,
            90,
        );
        let (manager, _events) = start_manager(&link, peer);
        let status = wait_until_async(DEADLINE, "both sides Established", async || {
            let ours = ours_established(&manager, link.peer_addr)?;
            theirs.established(link.us_addr)?;
            Ok(ours)
        })
        .await;
        let negotiated = status
            .negotiated
            .expect("negotiated parameters when Established");
        assert!(
            negotiated.four_octet_as,
            "4-octet AS (RFC 6793) negotiated: {negotiated:?}"
        );
        assert_eq!(negotiated.peer_asn, peer_asn);
        let expected_type = if kind == Kind::Ibgp {
            PeerType::Internal
        } else {
            PeerType::External
        };
        assert_eq!(negotiated.peer_type, expected_type);
        let transport_family = if family == Family::V4 {
            AfiSafi::IPV4_UNICAST
        } else {
            AfiSafi::IPV6_UNICAST
        };
        assert!(
            negotiated.families.contains(&transport_family),
            "{:?}",
            negotiated.families
        );
        let (local, remote) = status.endpoints.expect("endpoints when Established");
        match initiator {
            Initiator::Us => assert_eq!(remote.port(), 179, "we connected: {local} -> {remote}"),
            Initiator::Them => assert_eq!(local.port(), 179, "they connected: {remote} -> {local}"),
        }
        manager.shutdown(false).await;
    });
}

macro_rules! established {
    ($($name:ident: $daemon:ident $kind:ident $family:ident $initiator:ident;)*) => {$(
        #[test]
        fn $name() {
            establish(Daemon::$daemon, Kind::$kind, Family::$family, Initiator::$initiator);
        }
    )*};
}

established! {
    bird_ebgp_ipv4_we_connect: Bird Ebgp V4 Us;
    bird_ebgp_ipv4_bird_connects: Bird Ebgp V4 Them;
    bird_ibgp_ipv4_we_connect: Bird Ibgp V4 Us;
    bird_ibgp_ipv4_bird_connects: Bird Ibgp V4 Them;
    bird_ebgp_ipv6_we_connect: Bird Ebgp V6 Us;
    bird_ebgp_ipv6_bird_connects: Bird Ebgp V6 Them;
    bird_ibgp_ipv6_we_connect: Bird Ibgp V6 Us;
    bird_ibgp_ipv6_bird_connects: Bird Ibgp V6 Them;
    frr_ebgp_ipv4_we_connect: Frr Ebgp V4 Us;
    frr_ebgp_ipv4_frr_connects: Frr Ebgp V4 Them;
    frr_ibgp_ipv4_we_connect: Frr Ibgp V4 Us;
    frr_ibgp_ipv4_frr_connects: Frr Ibgp V4 Them;
    frr_ebgp_ipv6_we_connect: Frr Ebgp V6 Us;
    frr_ebgp_ipv6_frr_connects: Frr Ebgp V6 Them;
    frr_ibgp_ipv6_we_connect: Frr Ibgp V6 Us;
    frr_ibgp_ipv6_frr_connects: Frr Ibgp V6 Them;
    gobgp_ebgp_ipv4_we_connect: GoBgp Ebgp V4 Us;
    gobgp_ebgp_ipv4_gobgp_connects: GoBgp Ebgp V4 Them;
    gobgp_ibgp_ipv4_we_connect: GoBgp Ibgp V4 Us;
    gobgp_ibgp_ipv4_gobgp_connects: GoBgp Ibgp V4 Them;
    gobgp_ebgp_ipv6_we_connect: GoBgp Ebgp V6 Us;
    gobgp_ebgp_ipv6_gobgp_connects: GoBgp Ebgp V6 Them;
    gobgp_ibgp_ipv6_we_connect: GoBgp Ibgp V6 Us;
    gobgp_ibgp_ipv6_gobgp_connects: GoBgp Ibgp V6 Them;
}

/// Both sides connect at once (RFC 4271 §6.8): however the race goes, one session survives,
/// on one TCP connection, and both sides agree on it.
#[test]
fn simultaneous_connects_with_bird_leave_one_session() {
    let dir = TestDir::new("collision");
    let link = link("collide", Family::V4);
    let theirs = PeerDaemon::start(
        Daemon::Bird,
        &link,
        &dir,
        EBGP_PEER_ASN,
        OUR_ASN,
        &PeerOptions::default(),
    );
    link.us.block_on(async {
        let peer = our_peer(&link, OUR_ASN, EBGP_PEER_ASN, false, None, 90);
        let (manager, _events) = start_manager(&link, peer);
        wait_until_async(DEADLINE, "one session on one connection", async || {
            ours_established(&manager, link.peer_addr)?;
            theirs.established(link.us_addr)?;
            let sockets = link.us.exec(&[
                "ss",
                "-Htn",
                "state",
                "established",
                "( sport = :179 or dport = :179 )",
            ]);
            match sockets.lines().count() {
                1 => Ok(()),
                n => Err(format!("{n} established BGP connections:\n{sockets}")),
            }
        })
        .await;
        manager.shutdown(false).await;
    });
}
