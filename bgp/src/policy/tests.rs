use super::*;
use crate::wire::{AsPath, Community};

fn route(prefix: &str, peer: PeerClass) -> RouteContext {
    RouteContext {
        prefix: prefix.parse().expect("prefix"),
        peer,
        source: peer.into(),
        local_asn: 64512,
    }
}

fn attrs() -> RouteAttrs {
    let mut a = RouteAttrs::local();
    a.as_path = AsPath::sequence([65001, 65002]);
    a.communities = vec![Community::new(65001, 1)];
    a
}

fn policy(json: &str) -> Policy {
    serde_json::from_str(json).expect("policy parses")
}

#[test]
fn default_policy_accepts_unchanged() {
    assert_eq!(
        Policy::default().evaluate(&route("10.0.0.0/24", PeerClass::Ebgp), &attrs()),
        PolicyOutcome::Accept(None)
    );
    assert_eq!(
        Policy::reject_all().evaluate(&route("10.0.0.0/24", PeerClass::Ebgp), &attrs()),
        PolicyOutcome::Reject
    );
}

#[test]
fn prefix_set_with_ge_le_selects_pod_blocks() {
    let p = policy(
        r#"{"statements": [{"match": {"prefix_set": [{"prefix": "10.244.0.0/16", "ge": 26, "le": 26}]}, "then": "accept"}],
            "default": "reject"}"#,
    );
    assert!(p.depends_on_prefix());
    let ebgp = PeerClass::Ebgp;
    assert_eq!(
        p.evaluate(&route("10.244.3.64/26", ebgp), &attrs()),
        PolicyOutcome::Accept(None)
    );
    assert_eq!(
        p.evaluate(&route("10.244.3.0/24", ebgp), &attrs()),
        PolicyOutcome::Reject
    );
    assert_eq!(
        p.evaluate(&route("10.245.0.0/26", ebgp), &attrs()),
        PolicyOutcome::Reject
    );
}

#[test]
fn actions_set_preference_med_communities_and_prepend() {
    let p = policy(
        r#"{"statements": [{
              "match": {"peer_type": ["ebgp"], "communities": ["65001:1"], "as_path_contains": [65002]},
              "set": {"local_pref": 200, "med": 5, "add_communities": ["65000:7", "no-export"],
                      "remove_communities": ["65001:1"], "add_large_communities": ["64512:1:2"],
                      "prepend": {"count": 2}}}]}"#,
    );
    assert!(!p.depends_on_prefix());
    let PolicyOutcome::Accept(Some(out)) =
        p.evaluate(&route("10.0.0.0/24", PeerClass::Ebgp), &attrs())
    else {
        panic!("changed attributes expected");
    };
    assert_eq!(out.local_pref, Some(200));
    assert_eq!(out.med, Some(5));
    assert_eq!(
        out.communities,
        vec![Community::new(65000, 7), Community::NO_EXPORT]
    );
    assert_eq!(out.large_communities.len(), 1);
    assert_eq!(out.as_path, AsPath::sequence([64512, 64512, 65001, 65002]));
    // The same statement does not match an iBGP peer: the default accepts unchanged.
    assert_eq!(
        p.evaluate(&route("10.0.0.0/24", PeerClass::Ibgp), &attrs()),
        PolicyOutcome::Accept(None)
    );
}

#[test]
fn next_continues_with_changes_and_reject_stops() {
    let p = policy(
        r#"{"statements": [
              {"set": {"local_pref": 50}, "then": "next"},
              {"match": {"route_source": ["reflector-client"]}, "then": "reject"},
              {"match": {"large_communities": ["1:2:3"]}, "then": "reject"}]}"#,
    );
    let PolicyOutcome::Accept(Some(out)) =
        p.evaluate(&route("10.0.0.0/24", PeerClass::Ibgp), &attrs())
    else {
        panic!("accepted with LOCAL_PREF 50 expected");
    };
    assert_eq!(out.local_pref, Some(50));
    assert_eq!(
        p.evaluate(&route("10.0.0.0/24", PeerClass::ReflectorClient), &attrs()),
        PolicyOutcome::Reject
    );
}

#[test]
fn unknown_fields_and_bad_values_are_refused_with_the_value() {
    let err = serde_json::from_str::<Policy>(r#"{"statements": [{"match": {"colour": "red"}}]}"#)
        .expect_err("unknown field");
    assert!(err.to_string().contains("colour"), "{err}");
    let err = serde_json::from_str::<Policy>(
        r#"{"statements": [{"set": {"add_communities": ["65000:70000"]}}]}"#,
    )
    .expect_err("16-bit value");
    assert!(err.to_string().contains("65000:70000"), "{err}");
    let err = serde_json::from_str::<Policy>(
        r#"{"statements": [{"match": {"prefix_set": [{"prefix": "10.0.0.0/8", "le": 4}]}}]}"#,
    )
    .expect_err("le below length");
    assert!(err.to_string().contains("10.0.0.0/8"), "{err}");
    let err = serde_json::from_str::<MaxPrefix>(r#"{"limit": 0}"#).expect_err("zero limit");
    assert!(err.to_string().contains("limit 0"), "{err}");
}

#[test]
fn policy_round_trips_through_serde() {
    let p = policy(
        r#"{"statements": [{"name": "pods", "match": {"prefix_set": [{"prefix": "10.244.0.0/16", "ge": 26, "le": 26}],
              "communities": ["no-export"]}, "set": {"prepend": {"asn": 65000, "count": 1}}, "then": "reject"}],
            "default": "reject"}"#,
    );
    let text = serde_json::to_string(&p).expect("serialises");
    assert_eq!(policy(&text), p);
}
