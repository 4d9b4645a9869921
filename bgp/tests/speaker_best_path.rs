//! The decision process with real peers (RFC 4271 §9.1.2.2): two BIRD upstreams on one LAN
//! offer the same prefix with different attributes; margay chooses as the RFC says, and equal
//! paths form an ECMP set of two.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use margay_bgp::rib::{LocRibChange, Prefix};
use margay_bgp::speaker::{NeighborConfig, SpeakerConfig, SpeakerHandle};
use margay_bgp::transport::PeerTransport;
use margay_tests::{Bird, Lan, TestDir, wait_until_async};

const OFFERED: &str = "10.77.0.0/24";
const OUR_ASN: u32 = 65001;
const DEADLINE: Duration = Duration::from_secs(30);

/// One upstream: its AS and the BIRD export filter statements applied to the offered prefix.
struct Upstream {
    asn: u32,
    filter: &'static str,
}

/// Builds us (host 0) and two BIRD upstreams (hosts 1 and 2), waits until both paths are in
/// our Loc-RIB, and returns it with the upstreams' addresses.
fn decide(tag: &str, upstreams: [Upstream; 2]) -> (LocRibChange, [IpAddr; 2]) {
    let dir = TestDir::new(tag);
    let lan = Lan::new(tag, 3, "10.0.0.0/24");
    let us_addr: IpAddr = lan.addrs[0].into();
    let addrs: [IpAddr; 2] = [lan.addrs[1].into(), lan.addrs[2].into()];
    let _birds: Vec<Bird> = upstreams
        .iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (up, addr))| {
            let config = format!(
                "{}protocol static offered {{ ipv4; route {OFFERED} blackhole; }}\n\
protocol bgp margay from peer_t {{ local {addr} as {asn}; neighbor {us_addr} as {OUR_ASN}; \
ipv4 {{ import all; export filter {{ {filter} accept; }}; }}; }}\n",
                Bird::base_config(&addr.to_string()),
                asn = up.asn,
                filter = up.filter,
            );
            Bird::start(&lan.hosts[i + 1], &dir, &format!("bird{i}"), &config)
        })
        .collect();
    let change = lan.hosts[0].block_on(async {
        let speaker = SpeakerHandle::spawn(SpeakerConfig {
            listen: Some(SocketAddr::new(us_addr, 179)),
            max_paths: 2,
            ..SpeakerConfig::new(OUR_ASN, lan.addrs[0])
        })
        .unwrap();
        for (up, addr) in upstreams.iter().zip(addrs) {
            let mut neighbor = NeighborConfig::new(addr, up.asn);
            neighbor.transport = PeerTransport {
                local_addr: Some(us_addr),
                ..Default::default()
            };
            neighbor.passive = true;
            neighbor.families = vec![margay_bgp::wire::AfiSafi::IPV4_UNICAST];
            speaker.add_neighbor(neighbor).await.unwrap();
        }
        let prefix: Prefix = OFFERED.parse().unwrap();
        let change = wait_until_async(
            DEADLINE,
            "both upstreams' paths in our Loc-RIB",
            async || {
                let change = speaker.lookup(prefix).await.map_err(|e| e.to_string())?;
                if change.paths.len() == 2 {
                    Ok(change)
                } else {
                    Err(format!("{change:?}"))
                }
            },
        )
        .await;
        speaker.shutdown(false).await.unwrap();
        change
    });
    (change, addrs)
}

fn best(change: &LocRibChange) -> IpAddr {
    change
        .best()
        .and_then(|p| p.peer_address)
        .expect("a best path from a peer")
}

#[test]
fn higher_local_pref_wins() {
    // §9.1.2.1: the degree of preference of an iBGP route is its LOCAL_PREF.
    let (change, [a, _]) = decide(
        "lpref",
        [
            Upstream {
                asn: OUR_ASN,
                filter: "bgp_local_pref = 200;",
            },
            Upstream {
                asn: OUR_ASN,
                filter: "bgp_local_pref = 100;",
            },
        ],
    );
    assert_eq!(best(&change), a, "{change:?}");
    assert_eq!(
        change.multipath_set().len(),
        1,
        "unequal paths are no ECMP set: {change:?}"
    );
}

#[test]
fn shorter_as_path_wins() {
    // §9.1.2.2 (a): the route with the fewest AS numbers in AS_PATH.
    let (change, [_, b]) = decide(
        "aspath",
        [
            Upstream {
                asn: 65002,
                filter: "bgp_path.prepend(65002);",
            },
            Upstream {
                asn: 65003,
                filter: "",
            },
        ],
    );
    assert_eq!(best(&change), b, "{change:?}");
    assert_eq!(change.multipath_set().len(), 1, "{change:?}");
}

#[test]
fn lower_med_wins_among_paths_from_the_same_neighbour_as() {
    // §9.1.2.2 (c): MED compared between routes from the same neighbouring AS; lower wins.
    let (change, [_, b]) = decide(
        "med",
        [
            Upstream {
                asn: 65002,
                filter: "bgp_med = 50;",
            },
            Upstream {
                asn: 65002,
                filter: "bgp_med = 10;",
            },
        ],
    );
    assert_eq!(best(&change), b, "{change:?}");
    assert_eq!(change.best().unwrap().attrs.med, Some(10));
}

#[test]
fn equal_paths_form_an_ecmp_set_of_two() {
    let (change, [a, b]) = decide(
        "ecmp",
        [
            Upstream {
                asn: 65002,
                filter: "",
            },
            Upstream {
                asn: 65002,
                filter: "",
            },
        ],
    );
    let mut set: Vec<IpAddr> = change
        .multipath_set()
        .iter()
        .filter_map(|p| p.peer_address)
        .collect();
    set.sort();
    assert_eq!(set, vec![a, b], "{change:?}");
}
