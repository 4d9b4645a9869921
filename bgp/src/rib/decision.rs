//! The decision process of RFC 4271 §9.1.2: which of the usable paths to a prefix is best,
//! and which paths are equal enough to share traffic (the ECMP multipath set).
//!
//! The tie-breaking rules of §9.1.2.2 are applied as the RFC words them — each step removes
//! routes from the set of candidates — so the outcome depends only on the set of paths,
//! never on the order they arrived (the MED rule is not a total order, so a pairwise sort
//! would not have that property):
//!
//! | step | rule | source |
//! |---|---|---|
//! | 1 | highest degree of preference (LOCAL_PREF, 100 when absent) | §9.1.1, §9.1.2.1 |
//! | a | fewest ASes in AS_PATH, an AS_SET counting 1 | §9.1.2.2 a |
//! | b | lowest ORIGIN | §9.1.2.2 b |
//! | c | lowest MED among routes from the same neighbour AS (all routes with `always_compare_med`); no MED is 0 | §9.1.2.2 c |
//! | d | eBGP-learned over iBGP-learned (locally originated routes first) | §9.1.2.2 d |
//! | e | lowest IGP cost to the next hop: **skipped**, margay has no IGP; next hops are equal | §9.1.2.2 e |
//! | f | lowest BGP Identifier, ORIGINATOR_ID in its place when present | §9.1.2.2 f, RFC 4456 §9 |
//! | — | shortest CLUSTER_LIST | RFC 4456 §9 |
//! | g | lowest peer address | §9.1.2.2 g |
//!
//! The routes left after step d (e is a no-op) are equally good for forwarding and form the
//! multipath set, capped at the configured maximum and ordered by the remaining steps, best
//! first. Phase 1 (route resolvability, §9.1.2.1) is the caller's: the node agent decides
//! which next hops it can reach.

use std::net::{IpAddr, Ipv4Addr};

use super::attrs::RouteAttrs;
use super::peer::PeerId;

/// Where a path came from, as far as the decision process cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Originated by this speaker (the node agent).
    Local,
    /// Learned from an eBGP peer.
    External,
    /// Learned from an iBGP peer.
    Internal,
}

/// The facts about a path's sender the decision process uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathSource {
    pub peer: PeerId,
    pub kind: SourceKind,
    /// The sender's BGP Identifier (ours for local routes).
    pub router_id: Ipv4Addr,
    /// The sender's address (our router id for local routes).
    pub address: IpAddr,
}

/// Knobs of the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionConfig {
    /// Our AS: the neighbour AS of routes with an empty AS_PATH (§9.1.2.2 c).
    pub local_asn: u32,
    /// Compare MED between routes from different neighbour ASes too.
    pub always_compare_med: bool,
    /// Largest multipath set; 1 turns ECMP off.
    pub max_paths: usize,
}

/// The outcome for one prefix: candidate indexes, best first; the first `multipath` of them
/// form the ECMP set; the rest follow in peer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    pub order: Vec<usize>,
    pub multipath: usize,
}

/// Ranks `candidates` (at least one).
pub fn rank(candidates: &[(PathSource, &RouteAttrs)], config: &DecisionConfig) -> Ranking {
    let mut alive: Vec<usize> = (0..candidates.len()).collect();
    let attrs = |i: usize| candidates[i].1;
    let source = |i: usize| candidates[i].0;

    // §9.1.1: the degree of preference is the LOCAL_PREF (for iBGP-learned routes) or the
    // value import policy assigned; highest wins.
    keep_best(&mut alive, |i| std::cmp::Reverse(attrs(i).preference()));
    // §9.1.2.2 a: "Remove from consideration all routes that are not tied for having the
    // smallest number of AS numbers present in their AS_PATH attributes."
    keep_best(&mut alive, |i| attrs(i).as_path.route_selection_len());
    // §9.1.2.2 b: lowest Origin.
    keep_best(&mut alive, |i| attrs(i).origin);
    // §9.1.2.2 c: MED, only among routes from the same neighbouring AS; "If a route has no
    // MED, it is assumed to have the lowest possible value."
    let med = |i: usize| attrs(i).med.unwrap_or(0);
    if config.always_compare_med {
        keep_best(&mut alive, med);
    } else {
        let neighbour_as = |i: usize| attrs(i).as_path.first_asn().unwrap_or(config.local_asn);
        let before = alive.clone();
        alive.retain(|&i| {
            before
                .iter()
                .filter(|&&j| neighbour_as(j) == neighbour_as(i))
                .all(|&j| med(j) >= med(i))
        });
    }
    // §9.1.2.2 d: "if at least one of the candidate routes was received via EBGP, remove
    // from consideration all routes that were received via IBGP."
    keep_best(&mut alive, |i| source(i).kind);
    // §9.1.2.2 e (IGP cost) does not apply: see the module doc.

    // §9.1.2.2 f with RFC 4456 §9 ("the ORIGINATOR_ID SHOULD be treated as the BGP
    // Identifier"), then the shorter CLUSTER_LIST (RFC 4456 §9), then §9.1.2.2 g, the lower
    // peer address. The peer id only orders the local route against nothing: addresses
    // are unique per peer.
    alive.sort_by_key(|&i| {
        let (src, a) = (source(i), attrs(i));
        (
            a.originator_id.unwrap_or(src.router_id),
            a.cluster_list.len(),
            src.address,
            src.peer,
        )
    });
    let multipath = alive.len().min(config.max_paths.max(1));
    let mut rest: Vec<usize> = (0..candidates.len())
        .filter(|i| !alive.contains(i))
        .collect();
    rest.sort_by_key(|&i| source(i).peer);
    alive.extend(rest);
    Ranking {
        order: alive,
        multipath,
    }
}

/// Keeps the candidates tied for the smallest `key`.
fn keep_best<K: Ord>(alive: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    if let Some(best) = alive.iter().map(|&i| key(i)).min() {
        alive.retain(|&i| key(i) == best);
    }
}
