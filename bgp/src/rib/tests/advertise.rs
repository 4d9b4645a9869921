//! Advertisement rules (RFC 4271 §5.1, §9.2; RFC 4456 §6, §8; RFC 1997), UPDATE packing,
//! End-of-RIB and route refresh, observed in the UPDATEs `poll_updates` produces.

use std::net::IpAddr;

use crate::policy::Policy;
use crate::rib::{NextHopMode, PeerConfig, RibConfig, RouteAttrs};
use crate::wire::{AfiSafi, AsPath, Attribute, Community, NextHop};

use super::*;

const EBGP_AS: u32 = 65001;

fn ebgp_route(rib: &mut Rib, from: PeerId, extra: Vec<Attribute>) {
    rib.ingest(
        from,
        &announce(&["10.1.0.0/24"], "192.0.2.1", &[EBGP_AS], extra),
    )
    .expect("ingest");
}

/// The one announcement of 10.1.0.0/24 in `id`'s pending UPDATEs.
fn sent(rib: &mut Rib, id: PeerId) -> Option<RouteAttrs> {
    let routes = announced(&drain_updates(rib, id));
    routes
        .into_iter()
        .find(|(p, _)| p == "10.1.0.0/24")
        .map(|(_, a)| a)
}

#[test]
fn to_ebgp_prepend_own_as_next_hop_self_strip_local_pref_and_med_rfc4271_5_1() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let downstream = peer(&mut rib, "198.51.100.1", 65009);
    drain_updates(&mut rib, downstream);
    ebgp_route(&mut rib, upstream, vec![Attribute::MultiExitDisc(50)]);
    let out = sent(&mut rib, downstream).expect("sent to eBGP");
    // §5.1.2: own AS prepended as the leftmost AS of the AS_SEQUENCE.
    assert_eq!(out.as_path, AsPath::sequence([LOCAL_AS, EBGP_AS]));
    // §5.1.3: next hop self on eBGP (our session address).
    assert_eq!(out.next_hop, Some(NextHop::Ipv4(ROUTER_ID)));
    // §5.1.5: no LOCAL_PREF to external peers.
    assert_eq!(out.local_pref, None);
    // §5.1.4: MED from another AS is not propagated.
    assert_eq!(out.med, None);
}

#[test]
fn local_route_med_is_ours_to_send_rfc4271_5_1_4() {
    let mut rib = rib();
    let downstream = peer(&mut rib, "198.51.100.1", 65009);
    let mut attrs = RouteAttrs::local();
    attrs.med = Some(7);
    rib.originate(prefix("10.1.0.0/24"), attrs);
    let out = sent(&mut rib, downstream).expect("sent");
    assert_eq!(out.med, Some(7));
    assert_eq!(out.as_path, AsPath::sequence([LOCAL_AS]));
}

#[test]
fn to_ibgp_keep_next_hop_and_path_add_local_pref_rfc4271_5_1_5() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let internal = peer(&mut rib, "10.0.0.2", LOCAL_AS);
    ebgp_route(&mut rib, upstream, vec![]);
    let out = sent(&mut rib, internal).expect("eBGP route to iBGP");
    assert_eq!(out.as_path, AsPath::sequence([EBGP_AS]));
    assert_eq!(out.next_hop, Some(NextHop::Ipv4(v4("192.0.2.1"))));
    assert_eq!(
        out.local_pref,
        Some(100),
        "§5.1.5: MUST include LOCAL_PREF to iBGP"
    );
}

#[test]
fn ibgp_learned_not_to_ibgp_without_reflection_rfc4271_9_2() {
    let mut rib = rib();
    let a = peer(&mut rib, "10.0.0.2", LOCAL_AS);
    let b = peer(&mut rib, "10.0.0.3", LOCAL_AS);
    let external = peer(&mut rib, "198.51.100.1", 65009);
    rib.ingest(a, &announce(&["10.1.0.0/24"], "10.0.0.2", &[], vec![]))
        .expect("ingest");
    assert_eq!(sent(&mut rib, b), None);
    assert!(sent(&mut rib, external).is_some(), "but to eBGP");
}

#[test]
fn next_hop_modes_per_peer_rfc4271_5_1_3() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let mut self_config = PeerConfig::new(IpAddr::V4(v4("10.0.0.2")), LOCAL_AS);
    self_config.next_hop = NextHopMode::SelfAddress;
    self_config.next_hop_self_v4 = Some(v4("10.0.0.100"));
    let internal = peer_with(&mut rib, self_config);
    let mut keep_config = PeerConfig::new(IpAddr::V4(v4("198.51.100.1")), 65009);
    keep_config.next_hop = NextHopMode::Keep;
    let third_party = peer_with(&mut rib, keep_config);
    ebgp_route(&mut rib, upstream, vec![]);
    assert_eq!(
        sent(&mut rib, internal).and_then(|a| a.next_hop),
        Some(NextHop::Ipv4(v4("10.0.0.100")))
    );
    assert_eq!(
        sent(&mut rib, third_party).and_then(|a| a.next_hop),
        Some(NextHop::Ipv4(v4("192.0.2.1")))
    );
}

#[test]
fn never_back_to_the_sender() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    ebgp_route(&mut rib, upstream, vec![]);
    assert_eq!(sent(&mut rib, upstream), None);
}

#[test]
fn well_known_communities_rfc1997() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let internal = peer(&mut rib, "10.0.0.2", LOCAL_AS);
    let external = peer(&mut rib, "198.51.100.1", 65009);
    ebgp_route(
        &mut rib,
        upstream,
        vec![Attribute::Communities(vec![Community::NO_EXPORT])],
    );
    assert!(
        sent(&mut rib, internal).is_some(),
        "NO_EXPORT stays in the AS"
    );
    assert_eq!(sent(&mut rib, external), None);
    ebgp_route(
        &mut rib,
        upstream,
        vec![Attribute::Communities(vec![Community::NO_ADVERTISE])],
    );
    let updates = drain_updates(&mut rib, internal);
    assert_eq!(
        withdrawn(&updates),
        vec!["10.1.0.0/24"],
        "NO_ADVERTISE: to nobody"
    );
}

/// A reflector (cluster 10.255.0.1) with clients c1, c2, non-client n1 and eBGP peer e.
struct Reflector {
    rib: Rib,
    c1: PeerId,
    c2: PeerId,
    n1: PeerId,
    e: PeerId,
}

fn reflector() -> Reflector {
    let mut rib = Rib::new(RibConfig {
        cluster_id: Some(v4("10.255.0.1")),
        ..RibConfig::new(LOCAL_AS, ROUTER_ID)
    })
    .expect("config");
    let client = |addr: &str| {
        let mut c = PeerConfig::new(IpAddr::V4(v4(addr)), LOCAL_AS);
        c.route_reflector_client = true;
        c
    };
    let c1 = peer_with(&mut rib, client("10.0.0.11"));
    let c2 = peer_with(&mut rib, client("10.0.0.12"));
    let n1 = peer(&mut rib, "10.0.0.21", LOCAL_AS);
    let e = peer(&mut rib, "198.51.100.1", 65009);
    Reflector { rib, c1, c2, n1, e }
}

#[test]
fn route_from_client_is_reflected_to_clients_and_non_clients_rfc4456_6() {
    let Reflector {
        mut rib,
        c1,
        c2,
        n1,
        e,
    } = reflector();
    rib.ingest(c1, &announce(&["10.1.0.0/24"], "10.0.0.11", &[], vec![]))
        .expect("ingest");
    for to in [c2, n1] {
        let out = sent(&mut rib, to).expect("reflected");
        // RFC 4456 §8: ORIGINATOR_ID = the client's BGP Identifier; our cluster id
        // prepended to CLUSTER_LIST; next hop unchanged (§10).
        assert_eq!(out.originator_id, Some(v4("10.0.0.11")));
        assert_eq!(out.cluster_list, vec![v4("10.255.0.1")]);
        assert_eq!(out.next_hop, Some(NextHop::Ipv4(v4("10.0.0.11"))));
    }
    let out = sent(&mut rib, e).expect("to eBGP");
    assert_eq!(out.originator_id, None, "RFC 4456 §8: not outside the AS");
    assert!(out.cluster_list.is_empty());
}

#[test]
fn route_from_non_client_is_reflected_to_clients_only_rfc4456_6() {
    let Reflector {
        mut rib,
        c1,
        c2,
        n1,
        ..
    } = reflector();
    let n2 = peer(&mut rib, "10.0.0.22", LOCAL_AS);
    rib.ingest(
        n1,
        &announce(
            &["10.1.0.0/24"],
            "10.0.0.21",
            &[],
            vec![
                Attribute::OriginatorId(v4("10.0.0.99")),
                Attribute::ClusterList(vec![v4("10.255.0.7")]),
            ],
        ),
    )
    .expect("ingest");
    for to in [c1, c2] {
        let out = sent(&mut rib, to).expect("to clients");
        assert_eq!(
            out.originator_id,
            Some(v4("10.0.0.99")),
            "kept when present"
        );
        assert_eq!(out.cluster_list, vec![v4("10.255.0.1"), v4("10.255.0.7")]);
    }
    assert_eq!(sent(&mut rib, n2), None, "not to other non-clients");
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn updates_pack_many_prefixes_per_attribute_set_rfc4271_4_3() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let downstream = peer(&mut rib, "198.51.100.1", 65009);
    drain_updates(&mut rib, downstream);
    let first: Vec<String> = (0..600)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let second: Vec<String> = (0..10).map(|i| format!("172.16.{i}.0/24")).collect();
    rib.ingest(
        upstream,
        &announce(&refs(&first), "192.0.2.1", &[EBGP_AS], vec![]),
    )
    .expect("ingest");
    rib.ingest(
        upstream,
        &announce(&refs(&second), "192.0.2.1", &[EBGP_AS, 65100], vec![]),
    )
    .expect("ingest");
    let updates = drain_updates(&mut rib, downstream);
    // 600 /24s take 2400 octets: one UPDATE for them, one for the other attribute set.
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(announced(&updates).len(), 610);
    assert_eq!(
        rib.adj_rib_out_len(downstream, AfiSafi::IPV4_UNICAST),
        Ok(610)
    );
}

#[test]
fn initial_table_then_end_of_rib_once_rfc4724_2() {
    let mut rib = rib();
    rib.originate(prefix("10.244.1.0/26"), RouteAttrs::local());
    rib.originate(prefix("2001:db8:1::/64"), RouteAttrs::local());
    let mut config = PeerConfig::new(IpAddr::V4(v4("198.51.100.1")), 65009);
    config.next_hop_self_v6 = Some("2001:db8::100".parse().expect("addr"));
    let downstream = peer_with(&mut rib, config);
    let updates = drain_updates(&mut rib, downstream);
    let eors: Vec<AfiSafi> = updates.iter().filter_map(|u| u.as_end_of_rib()).collect();
    assert_eq!(eors, vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
    assert_eq!(updates.len(), 4, "one route and one End-of-RIB per family");
    let v6 = updates[2].mp_reach().expect("IPv6 in MP_REACH_NLRI");
    assert_eq!(
        v6.next_hop,
        NextHop::Ipv6 {
            global: "2001:db8::100".parse().expect("addr"),
            link_local: None
        }
    );
    assert!(drain_updates(&mut rib, downstream).is_empty());
    // Bounded polls: End-of-RIB follows the family's last route. This peer has no IPv6
    // next hop self, so its IPv6 table is empty but still ends with End-of-RIB.
    let later = peer(&mut rib, "198.51.100.2", 65010);
    let first = rib.poll_updates(later, 1).expect("up");
    assert_eq!(first.len(), 2);
    assert_eq!(announced(&first[..1]).len(), 1);
    assert_eq!(first[1].as_end_of_rib(), Some(AfiSafi::IPV4_UNICAST));
    let second = rib.poll_updates(later, 1).expect("up");
    assert_eq!(second, vec![Update::end_of_rib(AfiSafi::IPV6_UNICAST)]);
}

#[test]
fn withdrawal_follows_the_best_path_and_route_refresh_resends_adj_rib_out_rfc2918_4() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let downstream = peer(&mut rib, "198.51.100.1", 65009);
    rib.ingest(
        upstream,
        &announce(
            &["10.1.0.0/24", "10.2.0.0/24"],
            "192.0.2.1",
            &[EBGP_AS],
            vec![],
        ),
    )
    .expect("ingest");
    drain_updates(&mut rib, downstream);
    rib.ingest(upstream, &withdraw(&["10.1.0.0/24"]))
        .expect("ingest");
    let updates = drain_updates(&mut rib, downstream);
    assert_eq!(withdrawn(&updates), vec!["10.1.0.0/24"]);
    let refresh = rib
        .route_refresh(downstream, AfiSafi::IPV4_UNICAST)
        .expect("up");
    let routes: Vec<String> = announced(&refresh).into_iter().map(|(p, _)| p).collect();
    assert_eq!(routes, vec!["10.2.0.0/24"]);
}

#[test]
fn export_policy_applies_after_the_rules_and_its_change_re_exports() {
    let mut rib = rib();
    let upstream = peer(&mut rib, "192.0.2.1", EBGP_AS);
    let downstream = peer(&mut rib, "198.51.100.1", 65009);
    ebgp_route(&mut rib, upstream, vec![]);
    drain_updates(&mut rib, downstream);
    let prepend: Policy =
        serde_json::from_str(r#"{"statements": [{"set": {"prepend": {"count": 2}, "med": 10}}]}"#)
            .expect("policy");
    rib.set_policies(downstream, Policy::accept_all(), prepend)
        .expect("peer");
    let out = sent(&mut rib, downstream).expect("re-exported");
    assert_eq!(
        out.as_path,
        AsPath::sequence([LOCAL_AS, LOCAL_AS, LOCAL_AS, EBGP_AS])
    );
    assert_eq!(out.med, Some(10), "MED set by our own policy is sent");
    rib.set_policies(downstream, Policy::accept_all(), Policy::reject_all())
        .expect("peer");
    assert_eq!(
        withdrawn(&drain_updates(&mut rib, downstream)),
        vec!["10.1.0.0/24"]
    );
}

#[test]
fn two_octet_peer_gets_as_trans_and_as4_path_rfc6793_4_2_2() {
    let mut rib = Rib::new(RibConfig::new(4_200_000_001, ROUTER_ID)).expect("config");
    let id = rib
        .add_peer(PeerConfig::new(IpAddr::V4(v4("198.51.100.1")), 65009))
        .expect("peer");
    rib.peer_up(
        id,
        PeerUp {
            router_id: v4("198.51.100.1"),
            local_address: IpAddr::V4(ROUTER_ID),
            context: SessionContext::default(),
            families: vec![AfiSafi::IPV4_UNICAST],
        },
    )
    .expect("up");
    rib.originate(prefix("10.1.0.0/24"), RouteAttrs::local());
    let updates = drain_updates(&mut rib, id);
    let update = &updates[0];
    assert_eq!(update.as_path(), Some(&AsPath::sequence([23456])));
    assert!(matches!(
        update.attribute(17),
        Some(Attribute::As4Path(p)) if *p == AsPath::sequence([4_200_000_001])
    ));
    let bytes = crate::wire::Message::Update(update.clone()).to_bytes(&SessionContext::default());
    assert!(bytes.is_ok(), "{bytes:?}");
}

#[test]
fn reconfiguring_a_peer_applies_without_reset_and_refuses_session_level_changes() {
    let mut rib = rib();
    let a = peer(&mut rib, "10.0.0.2", LOCAL_AS);
    let b = peer(&mut rib, "10.0.0.3", LOCAL_AS);
    rib.ingest(a, &announce(&["10.1.0.0/24"], "10.0.0.2", &[], vec![]))
        .expect("ingest");
    assert_eq!(sent(&mut rib, b), None, "RFC 4271 §9.2: no iBGP to iBGP");
    let mut config = rib.peer_config(b).expect("peer").clone();
    config.route_reflector_client = true;
    assert_eq!(rib.reconfigure_peer(b, config.clone()), Ok(vec![]));
    let out = sent(&mut rib, b).expect("RFC 4456 §6: reflected to the new client");
    assert_eq!(out.originator_id, Some(v4("10.0.0.2")));
    assert_eq!(
        out.cluster_list,
        vec![ROUTER_ID],
        "cluster id defaults to the router id"
    );
    config.route_reflector_client = false;
    rib.reconfigure_peer(b, config.clone()).expect("peer");
    assert_eq!(withdrawn(&drain_updates(&mut rib, b)), vec!["10.1.0.0/24"]);
    config.remote_asn = 65099;
    assert_eq!(
        rib.reconfigure_peer(b, config),
        Err(crate::rib::RibError::SessionLevelChange {
            peer: b,
            address: IpAddr::V4(v4("10.0.0.3"))
        })
    );
}
