//! Properties: the Loc-RIB does not depend on the order routes arrived in, and a peer going
//! down leaves exactly the RIB that would exist had it never sent anything.

use proptest::prelude::*;

use crate::rib::RibConfig;
use crate::wire::Update;

use super::*;

/// One peer's announcement: prefix index, AS path length, MED, LOCAL_PREF choice.
#[derive(Debug, Clone)]
struct Announcement {
    peer: usize,
    prefix: u8,
    path_len: u8,
    med: u8,
}

fn announcement() -> impl Strategy<Value = Announcement> {
    (0..4usize, 0..6u8, 1..4u8, 0..3u8).prop_map(|(peer, prefix, path_len, med)| Announcement {
        peer,
        prefix,
        path_len,
        med,
    })
}

fn update_for(a: &Announcement) -> Update {
    let first = [65001, 65001, 65002, LOCAL_AS + 1][a.peer];
    let path: Vec<u32> = (0..a.path_len)
        .map(|i| first + u32::from(i) * 1000)
        .collect();
    announce(
        &[&format!("10.0.{}.0/24", a.prefix)],
        &format!("192.0.2.{}", a.peer + 1),
        &path,
        vec![crate::wire::Attribute::MultiExitDisc(u32::from(a.med))],
    )
}

/// A RIB with four peers (two eBGP in AS 65001, one in 65002, one iBGP-like in another AS)
/// fed `announcements` in order; returns the Loc-RIB as (prefix, multipath peers, paths).
fn build(
    announcements: &[Announcement],
    skip_peer: Option<usize>,
    down_peer: Option<usize>,
) -> Vec<String> {
    let mut rib = Rib::new(RibConfig {
        max_paths: 4,
        ..RibConfig::new(LOCAL_AS, ROUTER_ID)
    })
    .expect("config");
    let ids: Vec<PeerId> = (0..4)
        .map(|i| {
            let asn = [65001, 65001, 65002, LOCAL_AS][i];
            peer(&mut rib, &format!("192.0.2.{}", i + 1), asn)
        })
        .collect();
    for a in announcements {
        if Some(a.peer) == skip_peer {
            continue;
        }
        rib.ingest(ids[a.peer], &update_for(a)).expect("ingest");
    }
    if let Some(p) = down_peer {
        rib.peer_down(ids[p]).expect("up");
    }
    let counts = format!(
        "loc {} adj-in {:?}",
        rib.loc_rib_len(crate::wire::AfiSafi::IPV4_UNICAST),
        ids.iter()
            .map(|id| rib.adj_rib_in_len(*id, crate::wire::AfiSafi::IPV4_UNICAST))
            .collect::<Vec<_>>()
    );
    std::iter::once(counts)
        .chain((0..6).map(|i| {
            let change = rib.lookup(prefix(&format!("10.0.{i}.0/24")));
            let set: Vec<PeerId> = change.multipath_set().iter().map(|r| r.peer).collect();
            let mut paths: Vec<(PeerId, u32)> = change
                .paths
                .iter()
                .map(|r| (r.peer, r.attrs.med.unwrap_or(0)))
                .collect();
            paths.sort();
            format!(
                "{i}: best {:?} set {set:?} paths {paths:?}",
                change.best().map(|r| r.peer)
            )
        }))
        .collect()
}

/// Keeps the last announcement per (peer, prefix): what the Loc-RIB reflects.
fn last_per_route(announcements: &[Announcement]) -> Vec<Announcement> {
    let mut out: Vec<Announcement> = Vec::new();
    for a in announcements {
        out.retain(|b| (b.peer, b.prefix) != (a.peer, a.prefix));
        out.push(a.clone());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn best_path_and_multipath_do_not_depend_on_arrival_order(
        announcements in proptest::collection::vec(announcement(), 1..24),
        seed in any::<u64>(),
    ) {
        let routes = last_per_route(&announcements);
        let mut shuffled = routes.clone();
        // Deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(build(&routes, None, None), build(&shuffled, None, None));
    }

    #[test]
    fn peer_down_leaves_no_trace(
        announcements in proptest::collection::vec(announcement(), 0..24),
        victim in 0..4usize,
    ) {
        prop_assert_eq!(
            build(&announcements, None, Some(victim)),
            build(&announcements, Some(victim), None)
        );
    }
}

/// One step of an export scenario: an upstream announces or withdraws, or the downstream
/// session is polled with a budget.
#[derive(Debug, Clone)]
enum Step {
    Announce(Announcement),
    Withdraw { peer: usize, prefix: u8 },
    Poll(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => announcement().prop_map(Step::Announce),
        1 => (0..4usize, 0..6u8).prop_map(|(peer, prefix)| Step::Withdraw { peer, prefix }),
        1 => (1..5usize).prop_map(Step::Poll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the interleaving of changes and bounded polls, the routes the downstream
    /// peer ends up holding (applying our UPDATEs in order) are exactly our Adj-RIB-Out and
    /// exactly the eBGP export of each Loc-RIB best path (RFC 4271 §9.2: "the Adj-RIBs-Out
    /// ... contain the routes for advertisement"); End-of-RIB comes once.
    #[test]
    fn downstream_view_equals_adj_rib_out_and_loc_rib_export(
        steps in proptest::collection::vec(step(), 0..40),
    ) {
        let mut rib = rib();
        let ids: Vec<PeerId> = (0..4)
            .map(|i| {
                let asn = [65001, 65001, 65002, LOCAL_AS][i];
                peer(&mut rib, &format!("192.0.2.{}", i + 1), asn)
            })
            .collect();
        let downstream = peer(&mut rib, "198.51.100.1", 65009);
        let mut view: std::collections::BTreeMap<String, RouteAttrs> = Default::default();
        let mut end_of_rib = 0;
        let mut apply = |updates: Vec<Update>, view: &mut std::collections::BTreeMap<String, RouteAttrs>| {
            for u in &updates {
                if u.as_end_of_rib().is_some() {
                    end_of_rib += 1;
                }
            }
            for p in withdrawn(&updates) {
                view.remove(&p);
            }
            for (p, a) in announced(&updates) {
                view.insert(p, a);
            }
        };
        for s in &steps {
            match s {
                Step::Announce(a) => {
                    rib.ingest(ids[a.peer], &update_for(a)).expect("ingest");
                }
                Step::Withdraw { peer, prefix } => {
                    rib.ingest(ids[*peer], &withdraw(&[&format!("10.0.{prefix}.0/24")]))
                        .expect("ingest");
                }
                Step::Poll(budget) => {
                    let updates = rib.poll_updates(downstream, *budget).expect("up");
                    apply(updates, &mut view);
                }
            }
        }
        apply(drain_updates(&mut rib, downstream), &mut view);
        for i in 0..6u8 {
            let p = format!("10.0.{i}.0/24");
            let held = view.get(&p);
            let adj_out = rib.adj_rib_out(downstream, prefix(&p)).expect("peer");
            prop_assert_eq!(held, adj_out.as_deref(), "{} downstream vs Adj-RIB-Out", p);
            let change = rib.lookup(prefix(&p));
            let expected = change.best().map(|best| {
                let mut path = vec![LOCAL_AS];
                path.extend(best.attrs.as_path.segments.iter().flat_map(|s| s.asns.clone()));
                path
            });
            let sent = held.map(|a| a.as_path.segments.iter().flat_map(|s| s.asns.clone()).collect::<Vec<u32>>());
            prop_assert_eq!(sent, expected, "{} sent vs Loc-RIB best", p);
        }
        prop_assert_eq!(end_of_rib, 2, "End-of-RIB once per family");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `poll_all` (one pass over the change log for the peers in step) gives every peer
    /// exactly the UPDATEs that polling each peer on its own gives, in the same order. A peer
    /// that comes up midway walks the table in hash order, which differs between two RIBs:
    /// for it the routes it ends up holding are compared.
    #[test]
    fn polling_all_peers_at_once_equals_polling_each(
        steps in proptest::collection::vec(step(), 0..40),
        late_at in 0..40usize,
    ) {
        type View = std::collections::BTreeMap<String, RouteAttrs>;
        let build = || {
            let mut rib = rib();
            let mut ids: Vec<PeerId> = (0..4)
                .map(|i| {
                    let asn = [65001, 65001, 65002, LOCAL_AS][i];
                    peer(&mut rib, &format!("192.0.2.{}", i + 1), asn)
                })
                .collect();
            ids.push(peer(&mut rib, "198.51.100.1", 65009));
            (rib, ids)
        };
        let apply = |updates: &[Update], view: &mut View| {
            for p in withdrawn(updates) {
                view.remove(&p);
            }
            for (p, a) in announced(updates) {
                view.insert(p, a);
            }
        };
        let (mut each, ids) = build();
        let (mut all, _) = build();
        let mut late: Option<PeerId> = None;
        let (mut late_each, mut late_all) = (View::new(), View::new());
        for (n, s) in steps.iter().enumerate() {
            if n == late_at {
                let id = peer(&mut each, "198.51.100.2", 65010);
                prop_assert_eq!(peer(&mut all, "198.51.100.2", 65010), id);
                late = Some(id);
            }
            match s {
                Step::Announce(a) => {
                    each.ingest(ids[a.peer], &update_for(a)).expect("ingest");
                    all.ingest(ids[a.peer], &update_for(a)).expect("ingest");
                }
                Step::Withdraw { peer, prefix } => {
                    let w = withdraw(&[&format!("10.0.{prefix}.0/24")]);
                    each.ingest(ids[*peer], &w).expect("ingest");
                    all.ingest(ids[*peer], &w).expect("ingest");
                }
                Step::Poll(budget) => {
                    let mut expected: Vec<(PeerId, Vec<Update>)> = Vec::new();
                    for &id in &ids {
                        let updates = each.poll_updates(id, *budget).expect("up");
                        if !updates.is_empty() {
                            expected.push((id, updates));
                        }
                    }
                    if let Some(id) = late {
                        apply(&each.poll_updates(id, *budget).expect("up"), &mut late_each);
                    }
                    let mut got: Vec<(PeerId, Vec<Update>)> = Vec::new();
                    all.poll_all(*budget, |id, updates| match got.iter_mut().find(|(p, _)| *p == id) {
                        Some((_, held)) => held.extend(updates),
                        None => got.push((id, updates)),
                    });
                    got.sort_by_key(|(id, _)| *id);
                    if let Some(pos) = got.iter().position(|(id, _)| Some(*id) == late) {
                        apply(&got.remove(pos).1, &mut late_all);
                    }
                    prop_assert_eq!(got, expected);
                }
            }
        }
        if let Some(id) = late {
            apply(&drain_updates(&mut each, id), &mut late_each);
            while all.poll_all(usize::MAX, |peer, updates| {
                if peer == id {
                    apply(&updates, &mut late_all);
                }
            }) {}
            prop_assert_eq!(late_each, late_all);
        }
    }
}
