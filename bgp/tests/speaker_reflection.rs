//! Route reflection (RFC 4456) with real peers: margay reflecting for three BIRD clients, and
//! margay as a client of a BIRD reflector; ORIGINATOR_ID and CLUSTER_LIST checked on both sides.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use margay_bgp::rib::{Prefix, RouteAttrs};
use margay_bgp::speaker::{NeighborConfig, SpeakerConfig, SpeakerHandle};
use margay_bgp::transport::PeerTransport;
use margay_bgp::wire::AfiSafi;
use margay_tests::{Bird, Lan, TestDir, wait_until_async};

const ASN: u32 = 65001;
const DEADLINE: Duration = Duration::from_secs(30);

fn speaker_on(lan: &Lan) -> SpeakerHandle {
    SpeakerHandle::spawn(SpeakerConfig {
        listen: Some(SocketAddr::new(lan.addrs[0].into(), 179)),
        ..SpeakerConfig::new(ASN, lan.addrs[0])
    })
    .unwrap()
}

fn neighbor(lan: &Lan, addr: Ipv4Addr, reflector_client: bool) -> NeighborConfig {
    let mut neighbor = NeighborConfig::new(addr.into(), ASN);
    neighbor.transport = PeerTransport {
        local_addr: Some(lan.addrs[0].into()),
        ..Default::default()
    };
    neighbor.connect_retry = Duration::from_secs(1);
    neighbor.families = vec![AfiSafi::IPV4_UNICAST];
    neighbor.route_reflector_client = reflector_client;
    neighbor
}

/// `BGP.<name>: <value>` lines of `birdc show route all PREFIX`.
fn bird_attribute(bird: &Bird, prefix: &str, name: &str) -> Option<String> {
    let out = bird.birdc(&format!("show route all {prefix}")).ok()?;
    out.lines().find_map(|l| {
        l.trim()
            .strip_prefix(&format!("BGP.{name}: "))
            .map(str::to_owned)
    })
}

fn client_prefix(i: usize) -> String {
    format!("10.7{}.0.0/24", i + 1)
}

#[test]
fn margay_reflects_between_three_bird_clients() {
    let dir = TestDir::new("rr-margay");
    let lan = Lan::new("rrm", 4, "10.0.0.0/24");
    let us = lan.addrs[0];
    let clients: Vec<Bird> = (1..4)
        .map(|i| {
            let me = lan.addrs[i];
            let config = format!(
                "{}protocol static own {{ ipv4; route {} blackhole; }}\n\
protocol bgp margay from peer_t {{ local {me} as {ASN}; neighbor {us} as {ASN}; }}\n",
                Bird::base_config(&me.to_string()),
                client_prefix(i - 1)
            );
            Bird::start(&lan.hosts[i], &dir, &format!("client{i}"), &config)
        })
        .collect();
    lan.hosts[0].block_on(async {
        let speaker = speaker_on(&lan);
        for i in 1..4 {
            speaker
                .add_neighbor(neighbor(&lan, lan.addrs[i], true))
                .await
                .unwrap();
        }
        wait_until_async(
            DEADLINE,
            "every client to learn the others' prefixes",
            async || {
                for (c, client) in clients.iter().enumerate() {
                    for p in (0..3).filter(|p| *p != c).map(client_prefix) {
                        if !client.routes_for(&p).iter().any(|r| r.protocol == "margay") {
                            return Err(format!(
                                "client {} lacks {p}:\n{}",
                                c + 1,
                                client.birdc("show route").unwrap_or_default()
                            ));
                        }
                    }
                }
                Ok(())
            },
        )
        .await;
        // RFC 4456 §8: ORIGINATOR_ID = the originator's BGP identifier, CLUSTER_LIST = our
        // cluster id (our router id, none being configured).
        let originator = bird_attribute(&clients[1], &client_prefix(0), "originator_id");
        let cluster_list = bird_attribute(&clients[1], &client_prefix(0), "cluster_list");
        assert_eq!(
            originator.as_deref(),
            Some(lan.addrs[1].to_string().as_str())
        );
        assert_eq!(
            cluster_list.as_deref().map(str::trim),
            Some(us.to_string().as_str())
        );
        speaker.shutdown(false).await.unwrap();
    });
}

#[test]
fn margay_as_a_client_of_a_bird_reflector() {
    let dir = TestDir::new("rr-bird");
    let lan = Lan::new("rrb", 3, "10.0.0.0/24");
    let (us, reflector, other) = (lan.addrs[0], lan.addrs[1], lan.addrs[2]);
    let reflector_config = format!(
        "{}protocol bgp margay from peer_t {{ local {reflector} as {ASN}; neighbor {us} as {ASN}; rr client; }}\n\
protocol bgp client2 from peer_t {{ local {reflector} as {ASN}; neighbor {other} as {ASN}; rr client; }}\n",
        Bird::base_config(&reflector.to_string())
    );
    let _reflector = Bird::start(&lan.hosts[1], &dir, "reflector", &reflector_config);
    let other_config = format!(
        "{}protocol static own {{ ipv4; route 10.72.0.0/24 blackhole; }}\n\
protocol bgp reflector from peer_t {{ local {other} as {ASN}; neighbor {reflector} as {ASN}; }}\n",
        Bird::base_config(&other.to_string())
    );
    let other_client = Bird::start(&lan.hosts[2], &dir, "other", &other_config);
    lan.hosts[0].block_on(async {
        let speaker = speaker_on(&lan);
        speaker
            .add_neighbor(neighbor(&lan, reflector, false))
            .await
            .unwrap();
        speaker
            .originate("10.70.0.0/24".parse().unwrap(), RouteAttrs::local())
            .unwrap();
        let theirs: Prefix = "10.72.0.0/24".parse().unwrap();
        let change = wait_until_async(
            DEADLINE,
            "the other client's prefix, reflected",
            async || {
                let change = speaker.lookup(theirs).await.map_err(|e| e.to_string())?;
                if change.best().is_some() {
                    Ok(change)
                } else {
                    Err(format!("{change:?}"))
                }
            },
        )
        .await;
        let attrs = &change.best().unwrap().attrs;
        assert_eq!(attrs.originator_id, Some(other), "{attrs:?}");
        assert_eq!(attrs.cluster_list, vec![reflector], "{attrs:?}");
        assert_eq!(
            change.best().unwrap().peer_address,
            Some(IpAddr::from(reflector))
        );
        wait_until_async(
            DEADLINE,
            "our prefix at the other client",
            async || match bird_attribute(&other_client, "10.70.0.0/24", "originator_id") {
                Some(id) if id == us.to_string() => Ok(()),
                other => Err(format!(
                    "originator_id {other:?}: {}",
                    other_client.birdc("show route").unwrap_or_default()
                )),
            },
        )
        .await;
        speaker.shutdown(false).await.unwrap();
    });
}
