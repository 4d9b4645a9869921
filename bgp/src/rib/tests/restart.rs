//! Graceful restart, helper side (RFC 4724 §4.2): stale routes kept through a graceful
//! session end, refreshed by re-announcement, swept by End-of-RIB, the restart timer or a
//! non-graceful end, and invisible downstream unless they are withdrawn.

use std::net::{IpAddr, Ipv4Addr};

use crate::policy::Policy;
use crate::rib::{PeerConfig, PeerId, PeerUp, RibConfig, RibError};
use crate::wire::{AfiSafi, SessionContext, Update};

use super::*;

const V4: AfiSafi = AfiSafi::IPV4_UNICAST;
const V6: AfiSafi = AfiSafi::IPV6_UNICAST;

/// Brings `id` (at IPv4 `router_id`) up again for both families.
fn reconnect(rib: &mut Rib, id: PeerId, router_id: &str) {
    rib.peer_up(
        id,
        PeerUp {
            router_id: v4(router_id),
            local_address: IpAddr::V4(ROUTER_ID),
            context: SessionContext {
                four_octet_as: true,
                ..SessionContext::default()
            },
            families: vec![V4, V6],
        },
    )
    .expect("comes up again");
}

fn stale(rib: &Rib, id: PeerId, p: &str) -> bool {
    rib.is_stale(id, prefix(p)).expect("known peer")
}

/// A restarting eBGP peer `a` (AS 65001, 10.1/24 and 10.2/24, one IPv6 route), a backup
/// `b` with a longer path to 10.1/24, and a monitor peer `m` whose export is drained.
struct Setup {
    rib: Rib,
    a: PeerId,
    b: PeerId,
    m: PeerId,
}

fn setup() -> Setup {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let b = peer(&mut rib, "192.0.2.2", 65002);
    let m = peer(&mut rib, "198.51.100.9", 65009);
    rib.ingest(
        a,
        &announce(
            &["10.1.0.0/24", "10.2.0.0/24"],
            "192.0.2.1",
            &[65001],
            vec![],
        ),
    )
    .expect("ingest");
    rib.ingest(
        a,
        &announce_v6(&["2001:db8:1::/48"], "2001:db8::1", &[65001]),
    )
    .expect("ingest");
    rib.ingest(
        b,
        &announce(&["10.1.0.0/24"], "192.0.2.2", &[65002, 65003], vec![]),
    )
    .expect("ingest");
    let sent = drain_updates(&mut rib, m);
    assert_eq!(announced(&sent).len(), 2, "monitor has both IPv4 routes");
    drain_updates(&mut rib, a);
    drain_updates(&mut rib, b);
    rib.drain_changes();
    Setup { rib, a, b, m }
}

#[test]
fn stale_routes_survive_a_graceful_end_and_stay_best_rfc4724_4_2() {
    let Setup { mut rib, a, m, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    // "MUST retain the routes ... and MUST mark them as stale".
    assert_eq!(rib.stale_count(a), Ok(3));
    assert!(stale(&rib, a, "10.1.0.0/24") && stale(&rib, a, "2001:db8:1::/48"));
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(2));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a), "still best over b");
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), Some(a));
    assert!(rib.drain_changes().is_empty(), "no Loc-RIB churn");
    assert!(
        drain_updates(&mut rib, m).is_empty(),
        "nothing sent downstream"
    );
    // The peer is down: nothing is sent to it, nothing accepted from it.
    assert!(matches!(
        rib.poll_updates(a, usize::MAX),
        Err(RibError::PeerNotUp { .. })
    ));
    assert!(matches!(
        rib.peer_down_graceful(a, &[V4]),
        Err(RibError::PeerNotUp { .. })
    ));
}

#[test]
fn families_not_preserved_are_withdrawn_as_on_a_normal_end_rfc4724_4_2() {
    let Setup { mut rib, a, b, m } = setup();
    rib.peer_down_graceful(a, &[V6]).expect("graceful down");
    assert_eq!(rib.stale_count(a), Ok(1));
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(0));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None);
    assert!(stale(&rib, a, "2001:db8:1::/48"));
    let sent = drain_updates(&mut rib, m);
    assert_eq!(withdrawn(&sent), vec!["10.2.0.0/24"]);
    assert_eq!(announced(&sent).len(), 1, "10.1/24 now via b");
}

#[test]
fn a_route_sent_again_replaces_the_stale_one_rfc4724_4_2() {
    let Setup { mut rib, a, m, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    reconnect(&mut rib, a, "192.0.2.1");
    // Stale routes are never exported back to their sender.
    let to_a = drain_updates(&mut rib, a);
    assert!(
        !announced(&to_a)
            .iter()
            .any(|(p, _)| p == "10.1.0.0/24" || p == "10.2.0.0/24"),
        "{to_a:?}"
    );
    // Equal attributes: the mark goes, nothing else changes.
    let report = rib
        .ingest(
            a,
            &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]),
        )
        .expect("ingest");
    assert_eq!(report.announced, 0);
    assert!(!stale(&rib, a, "10.1.0.0/24"));
    assert_eq!(rib.stale_count(a), Ok(2));
    assert!(rib.drain_changes().is_empty());
    // Changed attributes: an implicit withdrawal of the stale route, as ever.
    rib.ingest(
        a,
        &announce(&["10.2.0.0/24"], "192.0.2.1", &[65001, 65005], vec![]),
    )
    .expect("ingest");
    assert!(!stale(&rib, a, "10.2.0.0/24"));
    assert_eq!(rib.stale_count(a), Ok(1));
    let sent = drain_updates(&mut rib, m);
    assert!(withdrawn(&sent).is_empty(), "{sent:?}");
    let routes = announced(&sent);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].0, "10.2.0.0/24");
    assert_eq!(routes[0].1.as_path.route_selection_len(), 3, "ours + 2");
    // A withdrawal also ends the mark.
    rib.ingest(a, &withdraw(&["10.2.0.0/24"])).expect("ingest");
    assert!(!stale(&rib, a, "10.2.0.0/24"));
}

#[test]
fn end_of_rib_sweeps_only_the_unrefreshed_routes_of_its_family_rfc4724_4_2() {
    let Setup { mut rib, a, b, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    reconnect(&mut rib, a, "192.0.2.1");
    rib.ingest(
        a,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    let report = rib.ingest(a, &Update::end_of_rib(V4)).expect("End-of-RIB");
    assert_eq!((report.end_of_rib, report.stale_swept), (Some(V4), 1));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a), "refreshed: kept");
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None, "not sent again: gone");
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(1));
    // IPv6 waits for its own End-of-RIB.
    assert!(stale(&rib, a, "2001:db8:1::/48"));
    assert_eq!(rib.stale_count(a), Ok(1));
    let report = rib.ingest(a, &Update::end_of_rib(V6)).expect("End-of-RIB");
    assert_eq!((report.end_of_rib, report.stale_swept), (Some(V6), 1));
    assert_eq!(rib.loc_rib_len(V6), 0);
    assert_eq!(rib.stale_count(a), Ok(0));
    // Without stale routes End-of-RIB sweeps nothing.
    let report = rib.ingest(b, &Update::end_of_rib(V4)).expect("End-of-RIB");
    assert_eq!(report.stale_swept, 0);
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a));
}

#[test]
fn sweep_stale_when_the_restart_timer_expires_rfc4724_4_2() {
    let Setup { mut rib, a, b, m } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    // A family without the F bit in the new capability: that family only.
    assert_eq!(rib.sweep_stale(a, Some(V6)), Ok(1));
    assert_eq!(rib.stale_count(a), Ok(2));
    assert_eq!(rib.loc_rib_len(V6), 0);
    // The restart timer: everything else.
    assert_eq!(rib.sweep_stale(a, None), Ok(2));
    assert_eq!(rib.stale_count(a), Ok(0));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None);
    let sent = drain_updates(&mut rib, m);
    assert_eq!(withdrawn(&sent), vec!["10.2.0.0/24"]);
    assert_eq!(rib.sweep_stale(a, None), Ok(0));
    assert_eq!(
        rib.sweep_stale(PeerId(77), None),
        Err(RibError::UnknownPeer(PeerId(77)))
    );
    assert_eq!(
        rib.stale_count(PeerId(77)),
        Err(RibError::UnknownPeer(PeerId(77)))
    );
    // The peer holds nothing any more: a plain peer_down is refused as for any down peer.
    assert!(matches!(rib.peer_down(a), Err(RibError::PeerNotUp { .. })));
}

#[test]
fn a_non_graceful_end_after_a_graceful_one_purges_the_stale_routes_rfc4724_4_2() {
    // While down.
    let Setup { mut rib, a, b, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    rib.peer_down(a).expect("restart given up");
    assert_eq!(rib.stale_count(a), Ok(0));
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(0));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(rib.loc_rib_len(V6), 0);

    // After coming back, before End-of-RIB: a NOTIFICATION ends the new session.
    let Setup { mut rib, a, b, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    reconnect(&mut rib, a, "192.0.2.1");
    rib.peer_down(a).expect("down");
    assert_eq!(rib.stale_count(a), Ok(0));
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(0));
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));

    // Removing the peer while it holds stale routes.
    let Setup { mut rib, a, b, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    rib.remove_peer(a).expect("removed");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(rib.loc_rib_len(V4), 1);
    assert_eq!(rib.loc_rib_len(V6), 0);
}

#[test]
fn a_second_failure_during_the_restart_keeps_the_stale_routes_rfc4724_4_2() {
    let Setup { mut rib, a, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    reconnect(&mut rib, a, "192.0.2.1");
    rib.ingest(
        a,
        &announce(&["10.3.0.0/24"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    assert_eq!(rib.stale_count(a), Ok(3));
    rib.peer_down_graceful(a, &[V4, V6])
        .expect("graceful down again");
    // The old routes stay stale, the new one is stale now too.
    assert_eq!(rib.stale_count(a), Ok(4));
    for p in [
        "10.1.0.0/24",
        "10.2.0.0/24",
        "10.3.0.0/24",
        "2001:db8:1::/48",
    ] {
        assert!(stale(&rib, a, p), "{p}");
        assert_eq!(best_peer(&rib, p), Some(a), "{p}");
    }
}

#[test]
fn downstream_sees_no_withdrawal_for_a_refreshed_route_and_one_for_a_swept_one_rfc4724_4_2() {
    let Setup { mut rib, a, m, .. } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    assert!(drain_updates(&mut rib, m).is_empty());
    reconnect(&mut rib, a, "192.0.2.1");
    assert!(drain_updates(&mut rib, m).is_empty());
    rib.ingest(
        a,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    assert!(drain_updates(&mut rib, m).is_empty(), "equal attributes");
    rib.ingest(a, &Update::end_of_rib(V4)).expect("End-of-RIB");
    let sent = drain_updates(&mut rib, m);
    // 10.1/24 stays via a (b's route is worse), 10.2/24 had no other path.
    assert_eq!(withdrawn(&sent), vec!["10.2.0.0/24"]);
    assert!(announced(&sent).is_empty(), "{sent:?}");
    assert_eq!(rib.adj_rib_out_len(m, V4), Ok(1));
    assert!(drain_updates(&mut rib, m).is_empty());
}

#[test]
fn a_reflected_stale_route_keeps_its_originator_id_rfc4724_4_2_rfc4456_8() {
    let mut rib = Rib::new(RibConfig {
        cluster_id: Some(v4("10.255.0.1")),
        ..RibConfig::new(LOCAL_AS, ROUTER_ID)
    })
    .expect("config");
    let mut client = PeerConfig::new(IpAddr::V4(v4("10.0.0.11")), LOCAL_AS);
    client.route_reflector_client = true;
    let c = peer_with(&mut rib, client);
    let n = peer(&mut rib, "10.0.0.21", LOCAL_AS);
    rib.ingest(c, &announce(&["10.1.0.0/24"], "10.0.0.11", &[], vec![]))
        .expect("ingest");
    let sent = drain_updates(&mut rib, n);
    let routes = announced(&sent);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].1.originator_id, Some(v4("10.0.0.11")));
    rib.peer_down_graceful(c, &[V4]).expect("graceful down");
    // The ORIGINATOR_ID comes from the ended session's BGP Identifier: no change.
    assert!(drain_updates(&mut rib, n).is_empty());
    assert_eq!(
        rib.adj_rib_out(n, prefix("10.1.0.0/24"))
            .expect("known peer")
            .and_then(|a| a.originator_id),
        Some(Ipv4Addr::new(10, 0, 0, 11))
    );
}

#[test]
fn an_import_policy_change_applies_to_stale_routes_and_keeps_them_stale_rfc4724_4_2() {
    let Setup { mut rib, a, b, m } = setup();
    rib.peer_down_graceful(a, &[V4, V6]).expect("graceful down");
    rib.set_policies(a, Policy::reject_all(), Policy::accept_all())
        .expect("policies");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None);
    assert_eq!(rib.adj_rib_in_len(a, V4), Ok(2), "kept pre-policy");
    assert_eq!(rib.stale_count(a), Ok(3));
    assert_eq!(withdrawn(&drain_updates(&mut rib, m)), vec!["10.2.0.0/24"]);
    rib.set_policies(a, Policy::accept_all(), Policy::accept_all())
        .expect("policies");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a));
    assert!(stale(&rib, a, "10.2.0.0/24"));
}
