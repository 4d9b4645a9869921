//! Storage of one address family: the Adj-RIBs-In (pre-policy, one per peer), the Loc-RIB
//! (every usable path per prefix, ranked) and the per-peer export state with its Adj-RIB-Out
//! (RFC 4271 §3.2), plus the change log that feeds both the export of each peer and the
//! subscriber.
//!
//! Memory layout, the point of this file: the Adj-RIBs-In and the Loc-RIB share one table
//! keyed by prefix, so a route costs one prefix key and one pointer to its interned
//! attributes. A prefix with one route, usable as received, is that route inline (no
//! allocation); only prefixes with several routes, or a route import policy changed or
//! refused, allocate their list.

use std::collections::HashSet;
use std::sync::Arc;

use super::adj_out::AdjRibOut;
use super::attrs::RouteAttrs;
use super::decision::Ranking;
use super::hasher::PrefixHashBuilder;
use super::peer::PeerId;
use super::prefix::RibPrefix;
use super::runs::{RunMap, Slot};

pub(crate) type PrefixSet<P> = HashSet<P, PrefixHashBuilder>;

/// One peer's route to a prefix: its Adj-RIB-In entry (`received`, as the peer sent it) and
/// its Loc-RIB candidate (`usable`: after loop checks and import policy; `None` when
/// refused).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub peer: PeerId,
    pub received: Arc<RouteAttrs>,
    pub usable: Option<Arc<RouteAttrs>>,
}

/// Every route to one prefix: the Adj-RIBs-In and the Loc-RIB share the prefix key.
#[derive(Debug)]
pub(crate) enum Entry {
    /// The common case in 16 octets, without allocation: one peer's route, usable unchanged.
    Plain {
        peer: PeerId,
        attrs: Arc<RouteAttrs>,
    },
    /// Anything else: several routes, or one that import policy changed or refused.
    Many(Box<Routes>),
}

/// `routes[..usable]` are the usable routes, best first, `routes[..multipath]` the ECMP set;
/// the unusable ones follow in peer order.
#[derive(Debug)]
pub(crate) struct Routes {
    pub routes: Vec<Route>,
    pub usable: usize,
    pub multipath: usize,
}

/// Ranks usable candidates (sender, attributes); see `decision.rs`.
pub(crate) type Ranker<'a> = &'a dyn Fn(&[(PeerId, &RouteAttrs)]) -> Ranking;

impl Entry {
    /// The best usable route.
    pub fn best(&self) -> Option<(PeerId, &Arc<RouteAttrs>)> {
        match self {
            Entry::Plain { peer, attrs } => Some((*peer, attrs)),
            Entry::Many(r) => r.routes[..r.usable]
                .first()
                .and_then(|route| Some((route.peer, route.usable.as_ref()?))),
        }
    }

    /// The usable routes, best first.
    pub fn usable(&self) -> Vec<(PeerId, &Arc<RouteAttrs>)> {
        match self {
            Entry::Plain { peer, attrs } => vec![(*peer, attrs)],
            Entry::Many(r) => r.routes[..r.usable]
                .iter()
                .filter_map(|route| Some((route.peer, route.usable.as_ref()?)))
                .collect(),
        }
    }

    /// Size of the ECMP set (0 without a usable route).
    pub fn multipath(&self) -> usize {
        match self {
            Entry::Plain { .. } => 1,
            Entry::Many(r) => r.multipath,
        }
    }

    /// `peer`'s route as received.
    pub fn received(&self, peer: PeerId) -> Option<&Arc<RouteAttrs>> {
        match self {
            Entry::Plain { peer: p, attrs } => (*p == peer).then_some(attrs),
            Entry::Many(r) => r
                .routes
                .iter()
                .find(|route| route.peer == peer)
                .map(|route| &route.received),
        }
    }

    fn usable_of(&self, peer: PeerId) -> Option<&Arc<RouteAttrs>> {
        match self {
            Entry::Plain { peer: p, attrs } => (*p == peer).then_some(attrs),
            Entry::Many(r) => r
                .routes
                .iter()
                .find(|route| route.peer == peer)
                .and_then(|route| route.usable.as_ref()),
        }
    }

    fn into_routes(self) -> Vec<Route> {
        match self {
            Entry::Plain { peer, attrs } => vec![Route {
                peer,
                received: Arc::clone(&attrs),
                usable: Some(attrs),
            }],
            Entry::Many(r) => r.routes,
        }
    }

    /// The entry holding `routes`, ranked; `None` when there are none.
    fn build(mut routes: Vec<Route>, rank: Ranker<'_>) -> Option<Entry> {
        if let [route] = routes.as_slice()
            && route
                .usable
                .as_ref()
                .is_some_and(|u| Arc::ptr_eq(u, &route.received))
        {
            let route = routes.pop()?;
            return Some(Entry::Plain {
                peer: route.peer,
                attrs: route.received,
            });
        }
        if routes.is_empty() {
            return None;
        }
        let (usable, mut unusable): (Vec<Route>, Vec<Route>) =
            routes.into_iter().partition(|r| r.usable.is_some());
        unusable.sort_by_key(|r| r.peer);
        let ranking = {
            let candidates: Vec<(PeerId, &RouteAttrs)> = usable
                .iter()
                .filter_map(|r| Some((r.peer, &**r.usable.as_ref()?)))
                .collect();
            match candidates.len() {
                0 | 1 => Ranking {
                    order: (0..candidates.len()).collect(),
                    multipath: candidates.len(),
                },
                _ => rank(&candidates),
            }
        };
        let count = usable.len();
        let mut slots: Vec<Option<Route>> = usable.into_iter().map(Some).collect();
        let mut ordered: Vec<Route> = ranking
            .order
            .iter()
            .filter_map(|&i| slots.get_mut(i)?.take())
            .collect();
        ordered.extend(unusable);
        Some(Entry::Many(Box::new(Routes {
            routes: ordered,
            usable: count,
            multipath: ranking.multipath,
        })))
    }
}

/// Loc-RIB changes in order, read by the subscriber and each peer's export through cursors
/// (absolute positions); entries every reader has passed are dropped.
#[derive(Debug)]
pub(crate) struct ChangeLog<P> {
    entries: Vec<P>,
    base: u64,
}

impl<P: Copy> ChangeLog<P> {
    fn new() -> Self {
        ChangeLog {
            entries: Vec::new(),
            base: 0,
        }
    }

    pub fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// Up to `max` entries from `cursor`, advancing it.
    pub fn read(&self, cursor: &mut u64, max: usize) -> &[P] {
        let start = usize::try_from(cursor.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let start = start.min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        *cursor = self.base + end as u64;
        &self.entries[start..end]
    }

    /// Drops the entries before `min_cursor` once they are at least half of the log.
    fn compact(&mut self, min_cursor: u64) {
        let done = usize::try_from(min_cursor.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        if done > 0 && done * 2 >= self.entries.len() {
            self.entries.drain(..done);
            self.base += done as u64;
            if self.entries.is_empty() {
                self.entries.shrink_to(1024);
            }
        }
    }
}

/// Change-log length below which [`FamilyTable::compact_log`] leaves the log alone.
const LOG_COMPACT_MIN: usize = 4096;

/// What the RIB keeps per peer and family for sending.
#[derive(Debug)]
pub(crate) struct ExportState<P> {
    /// Adj-RIB-Out: what the peer was last sent for each prefix.
    pub adj_out: AdjRibOut<P>,
    /// Prefixes still to evaluate for a full-table walk (session start, export policy change).
    pub pending: Vec<P>,
    /// Position in the change log.
    pub cursor: u64,
    /// The session is up and has the family.
    pub active: bool,
    /// End-of-RIB (RFC 4724 §2) is due once `pending` and the log are worked off.
    pub end_of_rib_due: bool,
}

impl<P: RibPrefix> ExportState<P> {
    fn new() -> Self {
        ExportState {
            adj_out: AdjRibOut::new(),
            pending: Vec::new(),
            cursor: 0,
            active: false,
            end_of_rib_due: false,
        }
    }
}

/// The tables of one family.
#[derive(Debug)]
pub(crate) struct FamilyTable<P> {
    /// Adj-RIBs-In and Loc-RIB: every route per prefix (see [`Entry`]).
    pub entries: RunMap<P, Entry>,
    /// Adj-RIB-In size per peer index (index 0: locally originated routes).
    received: Vec<usize>,
    /// Prefixes with at least one usable route: the Loc-RIB size.
    usable_prefixes: usize,
    pub exports: Vec<ExportState<P>>,
    pub log: ChangeLog<P>,
    /// The subscriber's cursor in the log.
    pub subscriber: u64,
    /// Graceful restart (RFC 4724 §4.2), per peer index: the prefixes whose route from that
    /// peer is stale. Empty (no allocation) outside a restart, so routes pay nothing for it.
    stale: Vec<PrefixSet<P>>,
}

impl<P: RibPrefix> FamilyTable<P> {
    pub fn new() -> Self {
        FamilyTable {
            entries: RunMap::default(),
            received: vec![0],
            usable_prefixes: 0,
            exports: vec![ExportState::new()],
            log: ChangeLog::new(),
            subscriber: 0,
            stale: vec![PrefixSet::default()],
        }
    }

    /// Makes room for `peer`'s tables.
    pub fn ensure_peer(&mut self, peer: PeerId) {
        while self.received.len() <= peer.index() {
            self.received.push(0);
            self.exports.push(ExportState::new());
            self.stale.push(PrefixSet::default());
        }
    }

    /// Routes in `peer`'s Adj-RIB-In.
    pub fn received_len(&self, peer: PeerId) -> usize {
        self.received.get(peer.index()).copied().unwrap_or(0)
    }

    /// Prefixes in the Loc-RIB.
    pub fn loc_rib_len(&self) -> usize {
        self.usable_prefixes
    }

    /// `peer`'s route to `prefix` as received.
    pub fn received(&self, peer: PeerId, prefix: &P) -> Option<&Arc<RouteAttrs>> {
        self.entries.get(prefix)?.received(peer)
    }

    /// Sets `peer`'s route to `prefix` — `Some((received, usable))` — or removes it (`None`),
    /// re-ranking the usable routes and logging the prefix when they changed. Returns
    /// whether the peer had a route to the prefix before. The attributes are cloned (one
    /// reference count each) only where they are stored.
    pub fn set_route(
        &mut self,
        prefix: P,
        peer: PeerId,
        route: Option<(&Arc<RouteAttrs>, Option<&Arc<RouteAttrs>>)>,
        rank: Ranker<'_>,
    ) -> bool {
        self.change_route(prefix, peer, route, rank, false)
            .unwrap_or(true)
    }

    /// `peer` announced `prefix` with `received` attributes, `usable` after loop checks and
    /// import policy: [`FamilyTable::set_route`], except that a route received exactly as
    /// already held (the same interned set) changes nothing and gives `None`. One table
    /// lookup for both.
    pub fn announce(
        &mut self,
        prefix: P,
        peer: PeerId,
        received: &Arc<RouteAttrs>,
        usable: Option<&Arc<RouteAttrs>>,
        rank: Ranker<'_>,
    ) -> Option<bool> {
        self.change_route(prefix, peer, Some((received, usable)), rank, true)
    }

    /// [`FamilyTable::set_route`]; with `keep_same`, `None` without any change when the
    /// peer's route is already `route`'s received attributes.
    fn change_route(
        &mut self,
        prefix: P,
        peer: PeerId,
        route: Option<(&Arc<RouteAttrs>, Option<&Arc<RouteAttrs>>)>,
        rank: Ranker<'_>,
        keep_same: bool,
    ) -> Option<bool> {
        let ptr = |a: Option<&Arc<RouteAttrs>>| a.map(Arc::as_ptr);
        let present = route.is_some();
        let new_usable = ptr(route.and_then(|(_, u)| u));
        // A route usable exactly as received: stored once, as `Entry::Plain`.
        let plain = route.and_then(|(received, usable)| {
            usable
                .is_some_and(|u| Arc::ptr_eq(u, received))
                .then_some(received)
        });
        let owned = |(received, usable): (&Arc<RouteAttrs>, Option<&Arc<RouteAttrs>>)| Route {
            peer,
            received: Arc::clone(received),
            usable: usable.cloned(),
        };
        let (had, had_usable_prefix, old_usable, now_usable_prefix) =
            match self.entries.entry(prefix) {
                Slot::Vacant(v) => {
                    let Some(route) = route else {
                        return Some(false);
                    };
                    // Fast path: a new prefix with one route usable as received.
                    if let Some(attrs) = plain {
                        v.insert(Entry::Plain {
                            peer,
                            attrs: Arc::clone(attrs),
                        });
                        (false, false, None, true)
                    } else {
                        let entry = Entry::build(vec![owned(route)], rank);
                        let usable_now = entry.as_ref().is_some_and(|e| e.best().is_some());
                        if let Some(entry) = entry {
                            v.insert(entry);
                        }
                        (false, false, None, usable_now)
                    }
                }
                Slot::Occupied(mut o) => {
                    let held = o.get().received(peer);
                    if keep_same
                        && let (Some(held), Some((received, _))) = (held, route)
                        && Arc::ptr_eq(held, received)
                    {
                        return None;
                    }
                    let had = held.is_some();
                    let old_usable = ptr(o.get().usable_of(peer));
                    let had_usable_prefix = o.get().best().is_some();
                    match (o.get_mut(), plain) {
                        // Fast path: the single route replaced by another plain one.
                        (Entry::Plain { peer: p, attrs }, Some(received)) if *p == peer => {
                            if !Arc::ptr_eq(attrs, received) {
                                *attrs = Arc::clone(received);
                            }
                            (had, had_usable_prefix, old_usable, true)
                        }
                        _ => {
                            let mut routes = std::mem::replace(
                                o.get_mut(),
                                Entry::Many(Box::new(Routes {
                                    routes: Vec::new(),
                                    usable: 0,
                                    multipath: 0,
                                })),
                            )
                            .into_routes();
                            routes.retain(|r| r.peer != peer);
                            routes.extend(route.map(owned));
                            let usable_now = match Entry::build(routes, rank) {
                                Some(entry) => {
                                    let usable_now = entry.best().is_some();
                                    *o.get_mut() = entry;
                                    usable_now
                                }
                                None => {
                                    o.remove();
                                    false
                                }
                            };
                            (had, had_usable_prefix, old_usable, usable_now)
                        }
                    }
                }
            };
        let count = &mut self.received[peer.index()];
        match (had, present) {
            (false, true) => *count += 1,
            (true, false) => *count -= 1,
            _ => {}
        }
        if had_usable_prefix != now_usable_prefix {
            if now_usable_prefix {
                self.usable_prefixes += 1;
            } else {
                self.usable_prefixes -= 1;
            }
        }
        if old_usable != new_usable {
            self.log.entries.push(prefix);
        }
        Some(had)
    }

    /// Every prefix `peer` has a route to, with the route as received.
    pub fn received_from(&self, peer: PeerId) -> Vec<(P, Arc<RouteAttrs>)> {
        if self.received_len(peer) == 0 {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter_map(|(p, e)| Some((p, Arc::clone(e.received(peer)?))))
            .collect()
    }

    /// Removes every route of `peer` (session down), stale ones included.
    pub fn purge(&mut self, peer: PeerId, rank: Ranker<'_>) {
        for (prefix, _) in self.received_from(peer) {
            self.set_route(prefix, peer, None, rank);
        }
        self.stale[peer.index()] = PrefixSet::default();
    }

    /// Marks every route of `peer` stale (RFC 4724 §4.2), those already stale included.
    /// The routes themselves, and so the Loc-RIB, stay as they are.
    pub fn mark_stale(&mut self, peer: PeerId) {
        if self.received_len(peer) == 0 {
            return;
        }
        let stale = &mut self.stale[peer.index()];
        stale.extend(
            self.entries
                .iter()
                .filter(|(_, e)| e.received(peer).is_some())
                .map(|(p, _)| p),
        );
    }

    /// `peer` sent `prefix` anew (announced or withdrawn): its route is no longer stale.
    pub fn unmark_stale(&mut self, peer: PeerId, prefix: &P) {
        let stale = &mut self.stale[peer.index()];
        if !stale.is_empty() {
            stale.remove(prefix);
            if stale.is_empty() {
                *stale = PrefixSet::default();
            }
        }
    }

    /// `peer`'s stale routes.
    pub fn stale_len(&self, peer: PeerId) -> usize {
        self.stale.get(peer.index()).map_or(0, HashSet::len)
    }

    /// Whether `peer`'s route to `prefix` is stale.
    pub fn is_stale(&self, peer: PeerId, prefix: &P) -> bool {
        self.stale
            .get(peer.index())
            .is_some_and(|s| s.contains(prefix))
    }

    /// Withdraws every stale route of `peer` (normal withdrawal processing); returns how many.
    pub fn sweep_stale(&mut self, peer: PeerId, rank: Ranker<'_>) -> usize {
        let stale = std::mem::take(&mut self.stale[peer.index()]);
        stale
            .into_iter()
            .filter(|prefix| self.set_route(*prefix, peer, None, rank))
            .count()
    }

    /// Starts the export of the whole Loc-RIB to `peer` (session up or export policy change).
    pub fn start_full_export(&mut self, peer: PeerId, end_of_rib: bool) {
        let end = self.log.end();
        let state = &mut self.exports[peer.index()];
        state.pending = self
            .entries
            .iter()
            .filter(|(_, e)| e.best().is_some())
            .map(|(p, _)| p)
            .collect();
        state.cursor = end;
        state.active = true;
        state.end_of_rib_due |= end_of_rib;
    }

    /// Forgets everything sent to `peer` (session down).
    pub fn stop_export(&mut self, peer: PeerId) {
        self.exports[peer.index()] = ExportState::new();
    }

    /// Drops log entries every reader has passed, once the log is long enough for that to
    /// matter (finding the slowest reader walks every peer's export state).
    pub fn compact_log(&mut self) {
        if self.log.entries.len() < LOG_COMPACT_MIN {
            return;
        }
        let min = self
            .exports
            .iter()
            .filter(|e| e.active)
            .map(|e| e.cursor)
            .fold(self.subscriber, u64::min);
        self.log.compact(min);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_path_entry_stays_small() {
        // The memory budget: a one-path Loc-RIB entry is a pointer and a peer id, inline.
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn change_log_reads_and_compacts_behind_the_slowest_reader() {
        let mut log = ChangeLog::new();
        log.entries.extend([1u32, 2, 3, 4]);
        let (mut fast, slow) = (0u64, 1u64);
        assert_eq!(log.read(&mut fast, 3), &[1, 2, 3]);
        assert_eq!(fast, 3);
        log.compact(fast.min(slow));
        assert_eq!(log.base, 0, "one of four entries done: not worth a drain");
        let mut slow = slow;
        assert_eq!(log.read(&mut slow, 10), &[2, 3, 4]);
        log.compact(fast.min(slow));
        assert_eq!((log.base, log.entries.as_slice()), (3, &[4u32][..]));
        assert_eq!(log.read(&mut fast, 10), &[4]);
        assert_eq!(log.end(), 4);
    }
}
