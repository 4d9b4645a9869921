//! Graceful restart (RFC 4724) with BIRD, both roles:
//! - margay as helper: BIRD is killed and restarted in recovery mode; its routes stay in our
//!   Loc-RIB (stale) throughout and only what it no longer announces goes, at its End-of-RIB;
//! - margay restarting: margay stops without a NOTIFICATION and starts again with the R bit;
//!   BIRD (helper) keeps our route in its kernel table throughout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use margay_bgp::rib::{Prefix, RouteAttrs};
use margay_bgp::speaker::{GracefulRestartConfig, NeighborConfig, SpeakerConfig, SpeakerHandle};
use margay_bgp::wire::AfiSafi;
use margay_tests::{Bird, Signal, TestDir, wait_until_async};

mod peers;
use peers::{DEADLINE, Family, Link, OUR_ID, PEER_ID, link, our_neighbor};

const OUR_ASN: u32 = 65001;
const PEER_ASN: u32 = 65002;
const KEPT: &str = "10.55.0.0/24";
const DROPPED: &str = "10.56.0.0/24";
const OURS: &str = "10.57.0.0/24";

fn speaker(link: &Link, restarting: bool) -> SpeakerHandle {
    SpeakerHandle::spawn(SpeakerConfig {
        listen: Some(SocketAddr::new(link.us_addr, 179)),
        graceful_restart: Some(GracefulRestartConfig {
            restart_time: 120,
            restarting,
            forwarding_preserved: true,
        }),
        ..SpeakerConfig::new(OUR_ASN, OUR_ID.parse().unwrap())
    })
    .unwrap()
}

fn neighbor(link: &Link) -> NeighborConfig {
    let mut neighbor = our_neighbor(link, PEER_ASN);
    neighbor.families = vec![AfiSafi::IPV4_UNICAST];
    neighbor
}

fn bird_config(originate: &[&str]) -> String {
    let mut config = Bird::base_config(PEER_ID);
    config.push_str("graceful restart wait 10;\n");
    config.push_str(&format!(
        "protocol bgp margay from peer_t {{ local {PEER_ID} as {PEER_ASN}; neighbor {OUR_ID} as {OUR_ASN}; \
graceful restart on; ipv6 {{ import none; export none; }}; }}\n"
    ));
    for (i, prefix) in originate.iter().enumerate() {
        config.push_str(&format!(
            "protocol static orig{i} {{ ipv4; route {prefix} blackhole; }}\n"
        ));
    }
    config
}

#[test]
fn routes_of_a_restarting_bird_stay_until_its_end_of_rib() {
    let dir = TestDir::new("gr-helper");
    let link = link("grhelp", Family::V4);
    let mut bird = Bird::start(&link.peer, &dir, "bird", &bird_config(&[KEPT, DROPPED]));
    link.us.block_on(async {
        let speaker = speaker(&link, false);
        let mut changes = speaker.subscribe().unwrap();
        speaker.add_neighbor(neighbor(&link)).await.unwrap();
        let (kept, dropped): (Prefix, Prefix) = (KEPT.parse().unwrap(), DROPPED.parse().unwrap());
        wait_until_async(DEADLINE, "BIRD's two routes in our Loc-RIB", async || {
            let a = speaker.lookup(kept).await.map_err(|e| e.to_string())?;
            let b = speaker.lookup(dropped).await.map_err(|e| e.to_string())?;
            if a.best().is_some() && b.best().is_some() {
                Ok(())
            } else {
                Err(format!("{a:?}\n{b:?}"))
            }
        })
        .await;

        // A crash: the TCP connection closes, no NOTIFICATION.
        bird.process().signal(Signal::SIGKILL);
        wait_until_async(DEADLINE, "our session to go down", async || {
            let sessions = speaker.sessions().await.map_err(|e| e.to_string())?;
            if sessions[0].negotiated.is_none() {
                Ok(())
            } else {
                Err(format!("{sessions:?}"))
            }
        })
        .await;
        for prefix in [kept, dropped] {
            let change = speaker.lookup(prefix).await.unwrap();
            assert!(
                change.best().is_some(),
                "stale route kept while BIRD is down: {change:?}"
            );
        }

        // BIRD comes back in recovery mode (R and F bits), now without the second route.
        let bird = Bird::start_with_args(
            &link.peer,
            &dir,
            "bird-again",
            &bird_config(&[KEPT]),
            &["-R"],
        );
        wait_until_async(
            DEADLINE,
            "the unannounced route swept at BIRD's End-of-RIB",
            async || {
                let b = speaker.lookup(dropped).await.map_err(|e| e.to_string())?;
                if b.is_withdrawn() {
                    Ok(())
                } else {
                    Err(format!(
                        "{b:?}\n{}",
                        bird.birdc("show protocols all margay").unwrap_or_default()
                    ))
                }
            },
        )
        .await;
        assert!(speaker.lookup(kept).await.unwrap().best().is_some());
        // The kept route was never withdrawn from our Loc-RIB on the way.
        while let Ok(batch) = changes.try_recv() {
            for change in batch {
                assert!(
                    !(change.prefix == kept && change.is_withdrawn()),
                    "{KEPT} was withdrawn during the restart"
                );
            }
        }
        speaker.shutdown(false).await.unwrap();
    });
}

#[test]
fn bird_keeps_our_route_while_margay_restarts() {
    let dir = TestDir::new("gr-restart");
    let link = link("grrest", Family::V4);
    let bird = Bird::start(&link.peer, &dir, "bird", &bird_config(&[]));
    let kernel_has_ours = || {
        link.peer
            .routes(&format!("{OURS} proto bird"))
            .contains(OURS)
    };
    let stop = AtomicBool::new(false);
    let (samples, missing) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        link.us.block_on(async {
            let first = speaker(&link, false);
            first.add_neighbor(neighbor(&link)).await.unwrap();
            first
                .originate(OURS.parse().unwrap(), RouteAttrs::local())
                .unwrap();
            wait_until_async(DEADLINE, "our route in BIRD's kernel table", async || {
                if kernel_has_ours() {
                    Ok(())
                } else {
                    Err(bird.birdc("show route").unwrap_or_default())
                }
            })
            .await;
            // From here on the route must never leave BIRD's kernel table: watch it.
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    samples.fetch_add(1, Ordering::Relaxed);
                    if !kernel_has_ours() {
                        missing.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            // A planned restart: sessions closed without NOTIFICATION (RFC 4724 §4).
            first.shutdown(true).await.unwrap();
            let second = speaker(&link, true);
            second.add_neighbor(neighbor(&link)).await.unwrap();
            second
                .originate(OURS.parse().unwrap(), RouteAttrs::local())
                .unwrap();
            wait_until_async(
                DEADLINE,
                "BIRD to finish the graceful restart",
                async || {
                    let status = bird.birdc("show protocols all margay").unwrap_or_default();
                    let up = second.sessions().await.map_err(|e| e.to_string())?[0]
                        .negotiated
                        .is_some();
                    // BIRD reports "Neighbor graceful restart active" until our End-of-RIB.
                    if up && status.contains("Established") && !status.contains("restart active") {
                        Ok(())
                    } else {
                        Err(status)
                    }
                },
            )
            .await;
            stop.store(true, Ordering::Relaxed);
            second.shutdown(false).await.unwrap();
        });
    });
    let (samples, missing) = (samples.into_inner(), missing.into_inner());
    assert!(samples > 0);
    assert_eq!(
        missing, 0,
        "our route was missing from BIRD's kernel table in {missing} of {samples} samples"
    );
}
