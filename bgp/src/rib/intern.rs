//! Hash-consing of route attributes: every distinct [`RouteAttrs`] value lives once, shared by
//! `Arc` among all the routes (Adj-RIB-In, Loc-RIB, Adj-RIB-Out) that carry it.
//!
//! A full table typically has a few thousand distinct attribute sets for a million prefixes,
//! so a route costs one pointer instead of its attributes. Entries no route refers to any more
//! are swept in amortised O(1): after as many new entries as the table held at the last sweep.

use std::collections::HashSet;
use std::sync::Arc;

use super::attrs::RouteAttrs;

/// The interning table.
#[derive(Debug, Default)]
pub struct AttrTable {
    set: HashSet<Arc<RouteAttrs>>,
    inserted_since_sweep: usize,
}

/// Below this many insertions a sweep is not worth its walk.
const MIN_SWEEP_INTERVAL: usize = 1024;

impl AttrTable {
    /// The shared instance equal to `attrs`.
    pub fn intern(&mut self, attrs: RouteAttrs) -> Arc<RouteAttrs> {
        if let Some(existing) = self.set.get(&attrs) {
            return Arc::clone(existing);
        }
        let shared = Arc::new(attrs);
        self.set.insert(Arc::clone(&shared));
        self.inserted_since_sweep += 1;
        if self.inserted_since_sweep > self.set.len().max(MIN_SWEEP_INTERVAL) {
            self.sweep();
        }
        shared
    }

    /// Drops the entries only the table still holds.
    pub fn sweep(&mut self) {
        self.set.retain(|a| Arc::strong_count(a) > 1);
        self.inserted_since_sweep = 0;
    }

    /// Distinct attribute sets held (including unswept unused ones).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_and_unused_ones_are_swept() {
        let mut table = AttrTable::default();
        let a = table.intern(RouteAttrs::local());
        let b = table.intern(RouteAttrs::local());
        assert!(Arc::ptr_eq(&a, &b));
        let mut other = RouteAttrs::local();
        other.med = Some(5);
        let c = table.intern(other);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(table.len(), 2);
        drop(c);
        table.sweep();
        assert_eq!(table.len(), 1);
        drop((a, b));
        table.sweep();
        assert!(table.is_empty());
    }
}
