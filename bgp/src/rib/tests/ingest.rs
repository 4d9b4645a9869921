//! Adj-RIB-In → Loc-RIB: withdrawals, implicit withdrawals, loops, import policy, soft
//! reconfiguration, max-prefix, local routes and the change subscription.

use std::net::IpAddr;
use std::time::Duration;

use crate::policy::{MaxPrefix, MaxPrefixEvent, Policy};
use crate::rib::{PeerConfig, PeerId, RibConfig, RibError, RouteAttrs};
use crate::wire::{AfiSafi, Attribute, Ipv4Nlri, Update};

use super::*;

#[test]
fn announcement_then_withdrawal_rfc4271_3_1() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let report = rib
        .ingest(
            a,
            &announce(
                &["10.1.0.0/24", "10.2.0.0/24"],
                "192.0.2.1",
                &[65001],
                vec![],
            ),
        )
        .expect("ingest");
    assert_eq!((report.announced, report.rejected), (2, 0));
    assert_eq!(rib.loc_rib_len(AfiSafi::IPV4_UNICAST), 2);
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a));
    let report = rib
        .ingest(a, &withdraw(&["10.1.0.0/24", "10.9.0.0/24"]))
        .expect("ingest");
    // Withdrawing a route never announced changes nothing (RFC 4271 §9).
    assert_eq!(report.withdrawn, 1);
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), None);
    assert_eq!(rib.adj_rib_in_len(a, AfiSafi::IPV4_UNICAST), Ok(1));
}

#[test]
fn a_new_announcement_implicitly_withdraws_the_previous_one_rfc4271_3_1() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    rib.ingest(
        a,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    rib.drain_changes();
    rib.ingest(
        a,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001, 65007], vec![]),
    )
    .expect("ingest");
    let change = rib.lookup(prefix("10.1.0.0/24"));
    assert_eq!(change.paths.len(), 1, "one path per peer");
    assert_eq!(change.paths[0].attrs.as_path.route_selection_len(), 2);
    let changes = rib.drain_changes();
    assert_eq!(changes.len(), 1);
    // The same announcement again is no change at all.
    let report = rib
        .ingest(
            a,
            &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001, 65007], vec![]),
        )
        .expect("ingest");
    assert_eq!(report.announced, 0);
    assert!(rib.drain_changes().is_empty());
}

#[test]
fn own_as_in_as_path_is_treated_as_withdraw_rfc4271_9_1_2() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    rib.ingest(
        a,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    let report = rib
        .ingest(
            a,
            &announce(
                &["10.1.0.0/24"],
                "192.0.2.1",
                &[65001, LOCAL_AS, 65002],
                vec![],
            ),
        )
        .expect("ingest");
    assert_eq!(report.rejected, 1);
    assert_eq!(
        best_peer(&rib, "10.1.0.0/24"),
        None,
        "the earlier route is gone too"
    );
    // Kept pre-policy in the Adj-RIB-In.
    assert!(
        rib.adj_rib_in(a, prefix("10.1.0.0/24"))
            .expect("peer")
            .is_some()
    );
}

#[test]
fn originator_id_and_cluster_list_loops_are_dropped_rfc4456_8() {
    let mut rib = Rib::new(RibConfig {
        cluster_id: Some(v4("10.255.0.1")),
        ..RibConfig::new(LOCAL_AS, ROUTER_ID)
    })
    .expect("config");
    let a = peer(&mut rib, "192.0.2.1", LOCAL_AS);
    let report = rib
        .ingest(
            a,
            &announce(
                &["10.1.0.0/24"],
                "192.0.2.1",
                &[],
                vec![Attribute::OriginatorId(ROUTER_ID)],
            ),
        )
        .expect("ingest");
    assert_eq!(report.rejected, 1, "our router id as ORIGINATOR_ID");
    let report = rib
        .ingest(
            a,
            &announce(
                &["10.2.0.0/24"],
                "192.0.2.1",
                &[],
                vec![Attribute::ClusterList(vec![
                    v4("10.255.0.9"),
                    v4("10.255.0.1"),
                ])],
            ),
        )
        .expect("ingest");
    assert_eq!(report.rejected, 1, "our cluster id in CLUSTER_LIST");
    assert_eq!(rib.loc_rib_len(AfiSafi::IPV4_UNICAST), 0);
}

#[test]
fn import_policy_change_reevaluates_adj_rib_in_without_session_reset() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
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
    rib.set_policies(a, Policy::reject_all(), Policy::accept_all())
        .expect("peer");
    assert_eq!(rib.loc_rib_len(AfiSafi::IPV4_UNICAST), 0);
    let local_pref_300: Policy = serde_json::from_str(
        r#"{"statements": [{"match": {"prefix_set": [{"prefix": "10.1.0.0/24"}]}, "set": {"local_pref": 300}}],
            "default": "reject"}"#,
    )
    .expect("policy");
    rib.set_policies(a, local_pref_300, Policy::accept_all())
        .expect("peer");
    let change = rib.lookup(prefix("10.1.0.0/24"));
    assert_eq!(change.best().expect("accepted").attrs.local_pref, Some(300));
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None);
    assert_eq!(rib.adj_rib_in_len(a, AfiSafi::IPV4_UNICAST), Ok(2));
}

#[test]
fn max_prefix_warns_then_signals_cease_1_rfc4486() {
    let mut rib = rib();
    let mut config = PeerConfig::new(IpAddr::V4(v4("192.0.2.1")), 65001);
    config.max_prefix = Some(MaxPrefix::new(3, 60, Some(Duration::from_secs(60))).expect("valid"));
    let a = peer_with(&mut rib, config);
    let report = rib
        .ingest(
            a,
            &announce(
                &["10.1.0.0/24", "10.2.0.0/24"],
                "192.0.2.1",
                &[65001],
                vec![],
            ),
        )
        .expect("ingest");
    assert!(matches!(
        report.max_prefix.as_slice(),
        [MaxPrefixEvent::Warning {
            count: 2,
            limit: 3,
            ..
        }]
    ));
    let report = rib
        .ingest(
            a,
            &announce(&["10.3.0.0/24"], "192.0.2.1", &[65001], vec![]),
        )
        .expect("ingest");
    assert!(report.max_prefix.is_empty(), "warned once, at the limit");
    let report = rib
        .ingest(
            a,
            &announce(&["10.4.0.0/24"], "192.0.2.1", &[65001], vec![]),
        )
        .expect("ingest");
    let [
        MaxPrefixEvent::Exceeded {
            notification,
            restart_after,
            family,
            ..
        },
    ] = report.max_prefix.as_slice()
    else {
        panic!("expected Exceeded, got {:?}", report.max_prefix);
    };
    assert_eq!(*family, AfiSafi::IPV4_UNICAST);
    assert_eq!(notification.error.pair(), (6, 1));
    assert_eq!(*restart_after, Some(Duration::from_secs(60)));
}

#[test]
fn peer_down_purges_every_route_and_best_falls_back() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let b = peer(&mut rib, "192.0.2.2", 65002);
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
        b,
        &announce(&["10.1.0.0/24"], "192.0.2.2", &[65002, 65003], vec![]),
    )
    .expect("ingest");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(a));
    rib.drain_changes();
    rib.peer_down(a).expect("was up");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), Some(b));
    assert_eq!(best_peer(&rib, "10.2.0.0/24"), None);
    let changes = rib.drain_changes();
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().any(|c| c.is_withdrawn()));
    assert_eq!(
        rib.ingest(a, &withdraw(&["10.1.0.0/24"])),
        Err(RibError::PeerNotUp {
            peer: a,
            address: IpAddr::V4(v4("192.0.2.1"))
        })
    );
}

#[test]
fn treat_as_withdraw_and_missing_mandatory_attributes_withdraw_rfc7606_2() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let update = announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]);
    rib.ingest(a, &update).expect("ingest");
    rib.ingest_as_withdraw(a, &update).expect("ingest");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), None);
    rib.ingest(a, &update).expect("ingest");
    let no_attributes = Update {
        nlri: vec![Ipv4Nlri::new("10.1.0.0/24".parse().expect("prefix"))],
        ..Update::default()
    };
    rib.ingest(a, &no_attributes).expect("ingest");
    assert_eq!(best_peer(&rib, "10.1.0.0/24"), None);
}

#[test]
fn add_path_identifiers_are_refused_by_name() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let mut update = announce(&["10.1.0.0/24"], "192.0.2.1", &[65001], vec![]);
    update.nlri[0].path_id = Some(7);
    assert_eq!(
        rib.ingest(a, &update),
        Err(RibError::AddPathNotSupported { peer: a })
    );
}

#[test]
fn end_of_rib_is_reported_rfc4724_2() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let report = rib
        .ingest(a, &Update::end_of_rib(AfiSafi::IPV6_UNICAST))
        .expect("ingest");
    assert_eq!(report.end_of_rib, Some(AfiSafi::IPV6_UNICAST));
}

#[test]
fn ecmp_set_and_subscription_report_every_path() {
    let mut rib = Rib::new(RibConfig {
        max_paths: 4,
        ..RibConfig::new(LOCAL_AS, ROUTER_ID)
    })
    .expect("config");
    let a = peer(&mut rib, "192.0.2.1", 65001);
    let b = peer(&mut rib, "192.0.2.2", 65001);
    let c = peer(&mut rib, "192.0.2.3", 65003);
    for (id, nh, path) in [
        (a, "192.0.2.1", vec![65001]),
        (b, "192.0.2.2", vec![65001]),
        (c, "192.0.2.3", vec![65003, 65004]),
    ] {
        rib.ingest(id, &announce(&["10.1.0.0/24"], nh, &path, vec![]))
            .expect("ingest");
    }
    let changes = rib.drain_changes();
    assert_eq!(changes.len(), 1, "three updates to one prefix coalesce");
    let change = &changes[0];
    assert_eq!(change.paths.len(), 3);
    let set: Vec<PeerId> = change.multipath_set().iter().map(|r| r.peer).collect();
    assert_eq!(set, vec![a, b]);
    assert_eq!(
        change.best().map(|r| r.peer_address),
        Some(Some(IpAddr::V4(v4("192.0.2.1"))))
    );
}

#[test]
fn local_routes_win_and_can_be_withdrawn() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    rib.ingest(
        a,
        &announce(&["10.244.1.0/26"], "192.0.2.1", &[65001], vec![]),
    )
    .expect("ingest");
    rib.originate(prefix("10.244.1.0/26"), RouteAttrs::local());
    assert_eq!(best_peer(&rib, "10.244.1.0/26"), Some(PeerId::LOCAL));
    assert!(rib.withdraw_local(prefix("10.244.1.0/26")));
    assert!(!rib.withdraw_local(prefix("10.244.1.0/26")));
    assert_eq!(best_peer(&rib, "10.244.1.0/26"), Some(a));
}

#[test]
fn ipv6_routes_arrive_in_mp_reach_nlri_rfc4760_3() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
    rib.ingest(
        a,
        &announce_v6(&["2001:db8:1::/48"], "2001:db8::1", &[65001]),
    )
    .expect("ingest");
    assert_eq!(rib.loc_rib_len(AfiSafi::IPV6_UNICAST), 1);
    assert_eq!(best_peer(&rib, "2001:db8:1::/48"), Some(a));
}

#[test]
fn lowering_max_prefix_below_the_routes_held_signals_cease_rfc4486() {
    let mut rib = rib();
    let a = peer(&mut rib, "192.0.2.1", 65001);
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
    let mut config = rib.peer_config(a).expect("peer").clone();
    config.max_prefix = Some(MaxPrefix::new(1, 75, None).expect("valid"));
    let events = rib.reconfigure_peer(a, config).expect("same session");
    assert!(
        matches!(
            events.as_slice(),
            [MaxPrefixEvent::Exceeded {
                count: 2,
                limit: 1,
                ..
            }]
        ),
        "{events:?}"
    );
}
