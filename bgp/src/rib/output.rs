//! What leaves the RIB: UPDATEs per peer (Adj-RIB-Out changes, packed, then End-of-RIB after
//! the initial table, RFC 4724 §2/§4), route refresh answers (RFC 2918 §4: "re-advertise to
//! the peer the Adj-RIB-Out"), and Loc-RIB changes for the subscriber.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::policy::{PolicyOutcome, RouteContext, RouteSource};
use crate::wire::{AfiSafi, NextHop, SessionContext, Update};

use super::adj_out::AdjRibOut;
use super::attrs::RouteAttrs;
use super::export::{Receiver, Sender, Speaker, advertise};
use super::hasher::PrefixHashBuilder;
use super::intern::AttrTable;
use super::pack;
use super::peer::{Peer, PeerId};
use super::prefix::{Prefix, RibPrefix};
use super::table::{Entry, ExportState, FamilyTable};
use super::{Env, Parts, Peers, Rib, RibError};

/// One path as the subscriber sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    pub peer: PeerId,
    /// The sender's address; `None` for locally originated routes.
    pub peer_address: Option<IpAddr>,
    /// Attributes after import policy.
    pub attrs: Arc<RouteAttrs>,
}

/// The state of one prefix after a change: every usable path, best first; the first
/// `multipath` form the ECMP set. No paths: the prefix left the Loc-RIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocRibChange {
    pub prefix: Prefix,
    pub paths: Vec<RouteView>,
    pub multipath: usize,
}

impl LocRibChange {
    pub fn best(&self) -> Option<&RouteView> {
        self.paths.first()
    }

    pub fn multipath_set(&self) -> &[RouteView] {
        &self.paths[..self.multipath.min(self.paths.len())]
    }

    pub fn is_withdrawn(&self) -> bool {
        self.paths.is_empty()
    }

    fn of(prefix: Prefix, entry: Option<&Entry>, peers: &Peers) -> Self {
        let paths: Vec<RouteView> = entry
            .map(Entry::usable)
            .unwrap_or_default()
            .into_iter()
            .map(|(peer, attrs)| RouteView {
                peer,
                peer_address: peers.get(peer).map(|p| p.config.address),
                attrs: Arc::clone(attrs),
            })
            .collect();
        LocRibChange {
            prefix,
            multipath: entry.map_or(0, Entry::multipath),
            paths,
        }
    }
}

impl Rib {
    /// UPDATEs for `peer`: up to `max_routes` Loc-RIB changes evaluated against its
    /// Adj-RIB-Out (IPv4 first), packed; End-of-RIB for a family once its initial table is
    /// out. Call until it returns nothing; a bound keeps one call's output small.
    pub fn poll_updates(&mut self, id: PeerId, max_routes: usize) -> Result<Vec<Update>, RibError> {
        self.session(id)?;
        let Parts {
            env,
            interned,
            v4,
            v6,
        } = self.parts();
        let mut budget = max_routes;
        let mut out = Vec::new();
        export_family(v4, &env, interned, id, &mut budget, &mut out);
        export_family(v6, &env, interned, id, &mut budget, &mut out);
        v4.compact_log();
        v6.compact_log();
        Ok(out)
    }

    /// UPDATEs for every established peer, as [`Rib::poll_updates`] with `max_routes` per
    /// peer and family would give them, but with one read of each changed Loc-RIB entry for
    /// all the peers whose export is at the same point (see `poll_family`). Each peer's
    /// UPDATEs go to `send` as soon as they are packed (IPv4 before IPv6), so that a pass
    /// over many peers does not hold all their UPDATEs at once. Returns whether anything was
    /// sent; call until it returns false.
    pub fn poll_all(
        &mut self,
        max_routes: usize,
        mut send: impl FnMut(PeerId, Vec<Update>),
    ) -> bool {
        let Parts {
            env,
            interned,
            v4,
            v6,
        } = self.parts();
        let up: Vec<PeerId> = env
            .peers
            .iter()
            .filter(|(_, p)| p.is_up())
            .map(|(id, _)| id)
            .collect();
        let mut sent = false;
        let mut sink = |id: PeerId, updates: Vec<Update>| {
            if !updates.is_empty() {
                sent = true;
                send(id, updates);
            }
        };
        poll_family(v4, &env, interned, &up, max_routes, &mut sink);
        poll_family(v6, &env, interned, &up, max_routes, &mut sink);
        v4.compact_log();
        v6.compact_log();
        sent
    }

    /// Answers a ROUTE-REFRESH for `family` from the Adj-RIB-Out (RFC 2918 §4).
    pub fn route_refresh(&self, id: PeerId, family: AfiSafi) -> Result<Vec<Update>, RibError> {
        let ctx = self.session(id)?.context;
        Ok(match family {
            AfiSafi::IPV4_UNICAST => resend(&self.v4, id, &ctx),
            AfiSafi::IPV6_UNICAST => resend(&self.v6, id, &ctx),
            _ => Vec::new(),
        })
    }

    /// Every prefix whose Loc-RIB paths changed since the last call, with its current
    /// state (changes in between are coalesced). The node agent's subscription.
    pub fn drain_changes(&mut self) -> Vec<LocRibChange> {
        let mut out = Vec::new();
        drain_family(&mut self.v4, &self.peers, &mut out);
        drain_family(&mut self.v6, &self.peers, &mut out);
        out
    }

    /// Forgets the Loc-RIB changes since the last drain without building them: for a speaker
    /// nobody subscribes to (a plain route server), the change log still has to be consumed.
    pub fn skip_changes(&mut self) {
        skip_family(&mut self.v4);
        skip_family(&mut self.v6);
    }

    /// The current paths to `prefix`, best first.
    pub fn lookup(&self, prefix: Prefix) -> LocRibChange {
        let entry = match prefix {
            Prefix::V4(p) => self.v4.entries.get(&p),
            Prefix::V6(p) => self.v6.entries.get(&p),
        };
        LocRibChange::of(prefix, entry, &self.peers)
    }
}

/// Moves the subscriber's cursor past every change without building them.
fn skip_family<P: RibPrefix>(table: &mut FamilyTable<P>) {
    table.log.read(&mut table.subscriber, usize::MAX);
    table.compact_log();
}

fn drain_family<P: RibPrefix>(
    table: &mut FamilyTable<P>,
    peers: &Peers,
    out: &mut Vec<LocRibChange>,
) {
    let mut changed = table.log.read(&mut table.subscriber, usize::MAX).to_vec();
    changed.sort_unstable();
    changed.dedup();
    out.extend(
        changed
            .into_iter()
            .map(|p| LocRibChange::of(p.into(), table.entries.get(&p), peers)),
    );
    table.compact_log();
}

fn self_next_hop<P: RibPrefix>(peer: &Peer) -> Option<NextHop> {
    if P::FAMILY == AfiSafi::IPV4_UNICAST {
        peer.self_v4().map(NextHop::Ipv4)
    } else {
        peer.self_v6().map(|global| NextHop::Ipv6 {
            global,
            link_local: None,
        })
    }
}

/// Announcements grouped by interned attribute set (keyed by its address, which the held
/// `Arc` keeps valid), withdrawals apart.
struct Outgoing<P> {
    groups: Vec<(Arc<RouteAttrs>, Vec<P>)>,
    /// Index in `groups` by the set's address.
    index: HashMap<usize, usize, PrefixHashBuilder>,
    /// The group announced to last (address, index): runs of prefixes share a set.
    last: Option<(usize, usize)>,
    withdrawn: Vec<P>,
}

impl<P: RibPrefix> Outgoing<P> {
    fn new() -> Self {
        Outgoing {
            groups: Vec::new(),
            index: HashMap::default(),
            last: None,
            withdrawn: Vec::new(),
        }
    }

    fn announce(&mut self, prefix: P, attrs: &Arc<RouteAttrs>) {
        let address = Arc::as_ptr(attrs) as usize;
        let group = match self.last {
            Some((last, group)) if last == address => group,
            _ => {
                let groups = &mut self.groups;
                let group = *self.index.entry(address).or_insert_with(|| {
                    groups.push((Arc::clone(attrs), Vec::new()));
                    groups.len() - 1
                });
                self.last = Some((address, group));
                group
            }
        };
        self.groups[group].1.push(prefix);
    }

    /// The UPDATEs, withdrawals first; routes whose attributes cannot fit a message are
    /// withdrawn instead and returned.
    fn pack(self, ctx: &SessionContext, out: &mut Vec<Update>) -> Vec<P> {
        let mut groups = self.groups;
        groups.sort_by_key(|(_, prefixes)| prefixes.first().copied());
        let mut withdrawn = self.withdrawn;
        let mut unsendable = Vec::new();
        let mut announcements = Vec::new();
        for (attrs, prefixes) in groups {
            match pack::announcements(&attrs, prefixes, ctx) {
                Ok(updates) => announcements.extend(updates),
                Err(prefixes) => {
                    tracing::warn!(
                        routes = prefixes.len(),
                        ?attrs,
                        "attributes leave no room for a route in one message; withdrawing"
                    );
                    unsendable.extend_from_slice(&prefixes);
                    withdrawn.extend(prefixes);
                }
            }
        }
        out.extend(pack::withdrawals(withdrawn, ctx));
        out.extend(announcements);
        unsendable
    }
}

/// A source attribute set (held so its address stays unique) and its export, if any.
type Exported = (Arc<RouteAttrs>, Option<Arc<RouteAttrs>>);

/// One peer's side of an export pass: the Loc-RIB changes offered to it are checked against
/// its Adj-RIB-Out and collected for packing.
struct PeerOut<'e, P> {
    receiver: Receiver<'e>,
    context: &'e SessionContext,
    per_prefix: bool,
    /// Export of one attribute set from one sender, when no prefix condition makes it vary.
    memo: Vec<Exported>,
    /// Index in `memo` by (address of the set, sender).
    memo_index: HashMap<(usize, PeerId), usize, PrefixHashBuilder>,
    /// The last memo entry used: runs of prefixes share a best path's set.
    last: Option<((usize, PeerId), usize)>,
    outgoing: Outgoing<P>,
}

impl<'e, P: RibPrefix> PeerOut<'e, P> {
    /// `None` when `id` is not established.
    fn new(env: &Env<'e>, id: PeerId) -> Option<Self> {
        let peer = env.peers.get(id)?;
        let session = peer.session.as_ref()?;
        Some(PeerOut {
            receiver: Receiver {
                id,
                peer,
                self_next_hop: self_next_hop::<P>(peer),
            },
            context: &session.context,
            per_prefix: peer.config.export.depends_on_prefix(),
            memo: Vec::new(),
            memo_index: HashMap::default(),
            last: None,
            outgoing: Outgoing::new(),
        })
    }

    /// `prefix` whose best path is now `best`: what the peer should have, against what it was
    /// sent.
    fn offer(
        &mut self,
        env: &Env<'_>,
        speaker: &Speaker,
        interned: &mut AttrTable,
        adj_out: &mut AdjRibOut<P>,
        prefix: P,
        best: Option<(PeerId, &Arc<RouteAttrs>)>,
    ) {
        let receiver = &self.receiver;
        let own;
        let desired: Option<&Arc<RouteAttrs>> = match best {
            None => None,
            // Split horizon, before anything else is looked at.
            Some((from, _)) if from == receiver.id => None,
            Some(best) if self.per_prefix => {
                own = export_path::<P>(env, speaker, receiver, best, prefix.into(), interned);
                own.as_ref()
            }
            Some(best) => {
                let key = (Arc::as_ptr(best.1) as usize, best.0);
                let at = match self.last {
                    Some((last, at)) if last == key => at,
                    _ => {
                        let memo = &mut self.memo;
                        let at = *self.memo_index.entry(key).or_insert_with(|| {
                            let exported = export_path::<P>(
                                env,
                                speaker,
                                receiver,
                                best,
                                prefix.into(),
                                interned,
                            );
                            memo.push((Arc::clone(best.1), exported));
                            memo.len() - 1
                        });
                        self.last = Some((key, at));
                        at
                    }
                };
                self.memo[at].1.as_ref()
            }
        };
        match desired {
            Some(new) => {
                if adj_out.set(prefix, new) {
                    self.outgoing.announce(prefix, new);
                }
            }
            None => {
                if !adj_out.is_empty() && adj_out.remove(&prefix) {
                    self.outgoing.withdrawn.push(prefix);
                }
            }
        }
    }

    /// Packs what was collected; End-of-RIB once the initial table is out.
    fn finish(self, state: &mut ExportState<P>, log_end: u64, out: &mut Vec<Update>) {
        for prefix in self.outgoing.pack(self.context, out) {
            state.adj_out.remove(&prefix);
        }
        if state.end_of_rib_due && state.pending.is_empty() && state.cursor == log_end {
            state.end_of_rib_due = false;
            out.push(Update::end_of_rib(P::FAMILY));
        }
    }
}

fn speaker(env: &Env<'_>) -> Speaker {
    Speaker {
        local_asn: env.config.local_asn,
        cluster_id: env.cluster_id(),
    }
}

fn export_family<P: RibPrefix>(
    table: &mut FamilyTable<P>,
    env: &Env<'_>,
    interned: &mut AttrTable,
    id: PeerId,
    budget: &mut usize,
    out: &mut Vec<Update>,
) {
    let Some(mut peer_out) = PeerOut::<P>::new(env, id) else {
        return;
    };
    let FamilyTable {
        entries,
        exports,
        log,
        ..
    } = table;
    let state = &mut exports[id.index()];
    if !state.active {
        return;
    }
    let mut work = state
        .pending
        .split_off(state.pending.len().saturating_sub(*budget));
    work.extend_from_slice(log.read(&mut state.cursor, *budget - work.len()));
    *budget -= work.len();
    let speaker = speaker(env);
    for prefix in work {
        let best = entries.get(&prefix).and_then(Entry::best);
        peer_out.offer(env, &speaker, interned, &mut state.adj_out, prefix, best);
    }
    peer_out.finish(state, log.end(), out);
}

/// Peers served by one pass over the change log: enough to read each Loc-RIB entry once for a
/// route server's few peers, few enough that the peers' state stays in the CPU caches and
/// their UPDATEs leave in a steady stream when there are hundreds.
#[cfg(not(test))]
const PEERS_PER_PASS: usize = 16;
/// Small in tests, so that the property tests' handful of peers spans several passes.
#[cfg(test)]
const PEERS_PER_PASS: usize = 2;

/// Every established peer's export of one family, up to `max_routes` changes each, to
/// `send`. Peers at the same position in the change log with no full-table walk pending
/// (after the initial table, all of them) are served [`PEERS_PER_PASS`] at a time in one pass
/// that reads each changed prefix's Loc-RIB entry once for all of them; the others one by one.
fn poll_family<P: RibPrefix>(
    table: &mut FamilyTable<P>,
    env: &Env<'_>,
    interned: &mut AttrTable,
    up: &[PeerId],
    max_routes: usize,
    send: &mut impl FnMut(PeerId, Vec<Update>),
) {
    // (log position, peers) of the peers in step.
    let mut in_step: Vec<(u64, Vec<PeerId>)> = Vec::new();
    for &id in up {
        let state = &table.exports[id.index()];
        if !state.active {
            continue;
        }
        if state.pending.is_empty() {
            match in_step.iter_mut().find(|(at, _)| *at == state.cursor) {
                Some((_, ids)) => ids.push(id),
                None => in_step.push((state.cursor, vec![id])),
            }
        } else {
            let (mut budget, mut out) = (max_routes, Vec::new());
            export_family(table, env, interned, id, &mut budget, &mut out);
            send(id, out);
        }
    }
    let speaker = speaker(env);
    for (at, ids) in in_step {
        for ids in ids.chunks(PEERS_PER_PASS) {
            let FamilyTable {
                entries,
                exports,
                log,
                ..
            } = &mut *table;
            let mut cursor = at;
            let work = log.read(&mut cursor, max_routes);
            let mut peers: Vec<PeerOut<'_, P>> =
                ids.iter().filter_map(|id| PeerOut::new(env, *id)).collect();
            for &prefix in work {
                let best = entries.get(&prefix).and_then(Entry::best);
                for peer_out in &mut peers {
                    let adj_out = &mut exports[peer_out.receiver.id.index()].adj_out;
                    peer_out.offer(env, &speaker, interned, adj_out, prefix, best);
                }
            }
            for peer_out in peers {
                let id = peer_out.receiver.id;
                let state = &mut exports[id.index()];
                state.cursor = cursor;
                let mut out = Vec::new();
                peer_out.finish(state, log.end(), &mut out);
                send(id, out);
            }
        }
    }
}

/// The best path as sent to `receiver`, after the advertisement rules and export policy.
fn export_path<P: RibPrefix>(
    env: &Env<'_>,
    speaker: &Speaker,
    receiver: &Receiver<'_>,
    (from, attrs): (PeerId, &Arc<RouteAttrs>),
    prefix: Prefix,
    interned: &mut AttrTable,
) -> Option<Arc<RouteAttrs>> {
    let sender = Sender {
        id: from,
        peer: env.peers.get(from),
    };
    let rules = advertise(speaker, sender, receiver, attrs)?;
    let route = RouteContext {
        prefix,
        peer: receiver.peer.class(),
        source: sender.peer.map_or(RouteSource::Local, |p| p.class().into()),
        local_asn: env.config.local_asn,
    };
    let attrs = match receiver.peer.config.export.evaluate(&route, &rules) {
        PolicyOutcome::Reject => return None,
        PolicyOutcome::Accept(None) => rules,
        PolicyOutcome::Accept(Some(changed)) => *changed,
    };
    if !P::carries_next_hop(attrs.next_hop.as_ref()?) {
        return None;
    }
    Some(interned.intern(attrs))
}

fn resend<P: RibPrefix>(table: &FamilyTable<P>, id: PeerId, ctx: &SessionContext) -> Vec<Update> {
    let mut outgoing = Outgoing::new();
    for (prefix, attrs) in table.exports[id.index()].adj_out.iter() {
        outgoing.announce(prefix, attrs);
    }
    let mut out = Vec::new();
    // Everything in the Adj-RIB-Out was packable when it was first sent.
    let unsendable = outgoing.pack(ctx, &mut out);
    debug_assert!(unsendable.is_empty());
    out
}
