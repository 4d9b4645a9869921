//! Storage of one address family: the Adj-RIBs-In (pre-policy, one per peer), the Loc-RIB
//! (every usable path per prefix, ranked) and the per-peer export state with its Adj-RIB-Out
//! (RFC 4271 §3.2), plus the change log that feeds both the export of each peer and the
//! subscriber.
//!
//! Memory layout, the point of this file: a route costs one prefix key and one pointer to
//! its interned attributes per table. A Loc-RIB entry with a single path is that path inline
//! (no allocation); only prefixes with several paths allocate their ranked list.

use std::collections::HashMap;
use std::sync::Arc;

use super::attrs::RouteAttrs;
use super::decision::Ranking;
use super::hasher::PrefixHashBuilder;
use super::peer::PeerId;
use super::prefix::RibPrefix;

pub(crate) type PrefixMap<P, V> = HashMap<P, V, PrefixHashBuilder>;

fn prefix_map<P, V>() -> PrefixMap<P, V> {
    HashMap::with_hasher(PrefixHashBuilder::default())
}

/// One usable (post-import-policy) path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub attrs: Arc<RouteAttrs>,
    pub peer: PeerId,
}

/// The paths to one prefix in the Loc-RIB, best first.
#[derive(Debug)]
pub(crate) enum Candidates {
    One(Path),
    Many(Box<Ranked>),
}

/// Several paths: `paths[0]` is the best, `paths[..multipath]` the ECMP set.
#[derive(Debug)]
pub(crate) struct Ranked {
    pub paths: Vec<Path>,
    pub multipath: usize,
}

impl Candidates {
    pub fn paths(&self) -> &[Path] {
        match self {
            Candidates::One(p) => std::slice::from_ref(p),
            Candidates::Many(r) => &r.paths,
        }
    }

    pub fn best(&self) -> &Path {
        &self.paths()[0]
    }

    pub fn multipath(&self) -> usize {
        match self {
            Candidates::One(_) => 1,
            Candidates::Many(r) => r.multipath,
        }
    }

    fn from_paths(mut paths: Vec<Path>, rank: &dyn Fn(&[Path]) -> Ranking) -> Option<Self> {
        match paths.len() {
            0 => None,
            1 => paths.pop().map(Candidates::One),
            _ => {
                let ranking = rank(&paths);
                let mut slots: Vec<Option<Path>> = paths.into_iter().map(Some).collect();
                let paths = ranking
                    .order
                    .iter()
                    .filter_map(|&i| slots[i].take())
                    .collect();
                Some(Candidates::Many(Box::new(Ranked {
                    paths,
                    multipath: ranking.multipath,
                })))
            }
        }
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

/// What the RIB keeps per peer and family for sending.
#[derive(Debug)]
pub(crate) struct ExportState<P> {
    /// Adj-RIB-Out: what the peer was last sent for each prefix.
    pub adj_out: PrefixMap<P, Arc<RouteAttrs>>,
    /// Prefixes still to evaluate for a full-table walk (session start, export policy change).
    pub pending: Vec<P>,
    /// Position in the change log.
    pub cursor: u64,
    /// The session is up and has the family.
    pub active: bool,
    /// End-of-RIB (RFC 4724 §2) is due once `pending` and the log are worked off.
    pub end_of_rib_due: bool,
}

impl<P> ExportState<P> {
    fn new() -> Self {
        ExportState {
            adj_out: prefix_map(),
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
    /// Adj-RIBs-In by peer index, as received (index 0: locally originated routes).
    pub adj_in: Vec<PrefixMap<P, Arc<RouteAttrs>>>,
    pub loc: PrefixMap<P, Candidates>,
    pub exports: Vec<ExportState<P>>,
    pub log: ChangeLog<P>,
    /// The subscriber's cursor in the log.
    pub subscriber: u64,
}

impl<P: RibPrefix> FamilyTable<P> {
    pub fn new() -> Self {
        FamilyTable {
            adj_in: vec![prefix_map()],
            loc: prefix_map(),
            exports: vec![ExportState::new()],
            log: ChangeLog::new(),
            subscriber: 0,
        }
    }

    /// Makes room for `peer`'s tables.
    pub fn ensure_peer(&mut self, peer: PeerId) {
        while self.adj_in.len() <= peer.index() {
            self.adj_in.push(prefix_map());
            self.exports.push(ExportState::new());
        }
    }

    /// Stores a received route; false if the Adj-RIB-In already held exactly it.
    pub fn store_received(&mut self, peer: PeerId, prefix: P, attrs: &Arc<RouteAttrs>) -> bool {
        match self.adj_in[peer.index()].insert(prefix, Arc::clone(attrs)) {
            Some(old) => !Arc::ptr_eq(&old, attrs),
            None => true,
        }
    }

    /// Removes a received route; false if there was none.
    pub fn remove_received(&mut self, peer: PeerId, prefix: &P) -> bool {
        self.adj_in[peer.index()].remove(prefix).is_some()
    }

    /// Sets (`Some`) or removes (`None`) `peer`'s usable path to `prefix` in the Loc-RIB and
    /// re-ranks; logs the prefix if anything changed.
    pub fn set_path(
        &mut self,
        prefix: P,
        peer: PeerId,
        attrs: Option<Arc<RouteAttrs>>,
        rank: &dyn Fn(&[Path]) -> Ranking,
    ) -> bool {
        use std::collections::hash_map::Entry;
        let changed = match (self.loc.entry(prefix), attrs) {
            (Entry::Vacant(_), None) => false,
            (Entry::Vacant(v), Some(attrs)) => {
                v.insert(Candidates::One(Path { attrs, peer }));
                true
            }
            (Entry::Occupied(mut o), attrs) => {
                let current = o.get().paths();
                let at = current.iter().position(|p| p.peer == peer);
                match (at, attrs) {
                    (None, None) => false,
                    (Some(i), Some(a)) if Arc::ptr_eq(&current[i].attrs, &a) => false,
                    (at, attrs) => {
                        let mut paths: Vec<Path> = current.to_vec();
                        match (at, attrs) {
                            (Some(i), Some(attrs)) => paths[i].attrs = attrs,
                            (Some(i), None) => {
                                paths.swap_remove(i);
                            }
                            (None, Some(attrs)) => paths.push(Path { attrs, peer }),
                            (None, None) => {}
                        }
                        match Candidates::from_paths(paths, rank) {
                            Some(c) => *o.get_mut() = c,
                            None => {
                                o.remove();
                            }
                        }
                        true
                    }
                }
            }
        };
        if changed {
            self.log.entries.push(prefix);
        }
        changed
    }

    /// Starts the export of the whole Loc-RIB to `peer` (session up or export policy change).
    pub fn start_full_export(&mut self, peer: PeerId, end_of_rib: bool) {
        let end = self.log.end();
        let state = &mut self.exports[peer.index()];
        state.pending = self.loc.keys().copied().collect();
        state.cursor = end;
        state.active = true;
        state.end_of_rib_due |= end_of_rib;
    }

    /// Forgets everything sent to `peer` (session down).
    pub fn stop_export(&mut self, peer: PeerId) {
        self.exports[peer.index()] = ExportState::new();
    }

    /// Drops log entries every reader has passed.
    pub fn compact_log(&mut self) {
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
        assert_eq!(std::mem::size_of::<Path>(), 16);
        assert_eq!(std::mem::size_of::<Candidates>(), 16);
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
