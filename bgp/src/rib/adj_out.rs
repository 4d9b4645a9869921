//! One peer's Adj-RIB-Out for one family (RFC 4271 §3.2: "the routes for advertisement to
//! specific peers"), stored compactly: per prefix only the prefix and a 4-octet handle of the
//! attribute set sent, the sets themselves once each in a small table with use counts.
//!
//! Memory, the point of this file: a peer that is sent a full table holds one entry per
//! prefix. With the attribute `Arc` in each entry an IPv4 entry is 16 octets (8-aligned); with
//! the handle it is the prefix's 5 octets plus 4, 1-aligned: 9 octets (plus the hash table's
//! control octet and free slots).

use std::collections::HashMap;
use std::sync::Arc;

use super::attrs::RouteAttrs;
use super::hasher::PrefixHashBuilder;
use super::runs::{RunKey, RunMap, Slot};

/// Index into [`SentSets`], stored as octets so that an entry stays 1-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Handle([u8; 4]);

impl Handle {
    fn new(index: usize) -> Handle {
        Handle(
            u32::try_from(index)
                .expect("fewer than 2^32 distinct attribute sets per peer")
                .to_le_bytes(),
        )
    }

    fn index(self) -> usize {
        u32::from_le_bytes(self.0) as usize
    }
}

/// The distinct attribute sets a peer was sent, with the number of prefixes sent each.
#[derive(Debug, Default)]
struct SentSets {
    slots: Vec<Option<(Arc<RouteAttrs>, usize)>>,
    free: Vec<usize>,
    /// Slot of each held set, by the address of its interned value.
    by_address: HashMap<usize, usize, PrefixHashBuilder>,
    /// The last set acquired (address, slot), held: runs of prefixes share a set.
    last: Option<(usize, usize)>,
}

impl SentSets {
    fn get(&self, handle: Handle) -> &Arc<RouteAttrs> {
        match &self.slots[handle.index()] {
            Some((attrs, _)) => attrs,
            None => unreachable!("an Adj-RIB-Out handle refers to a held set"),
        }
    }

    /// One more prefix sent with `attrs`.
    fn acquire(&mut self, attrs: &Arc<RouteAttrs>) -> Handle {
        let address = Arc::as_ptr(attrs) as usize;
        let known = match self.last {
            Some((last, index)) if last == address => Some(index),
            _ => self.by_address.get(&address).copied(),
        };
        if let Some(index) = known
            && let Some((_, uses)) = &mut self.slots[index]
        {
            *uses += 1;
            self.last = Some((address, index));
            return Handle::new(index);
        }
        let held = Some((Arc::clone(attrs), 1));
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = held;
                index
            }
            None => {
                self.slots.push(held);
                self.slots.len() - 1
            }
        };
        self.by_address.insert(address, index);
        self.last = Some((address, index));
        Handle::new(index)
    }

    /// One prefix fewer sent with the set of `handle`.
    fn release(&mut self, handle: Handle) {
        let index = handle.index();
        let Some((attrs, uses)) = &mut self.slots[index] else {
            return;
        };
        *uses -= 1;
        if *uses == 0 {
            let address = Arc::as_ptr(attrs) as usize;
            self.by_address.remove(&address);
            if self.last.is_some_and(|(last, _)| last == address) {
                self.last = None;
            }
            self.slots[index] = None;
            self.free.push(index);
        }
    }
}

/// What a peer was last sent, per prefix.
#[derive(Debug)]
pub(crate) struct AdjRibOut<P> {
    routes: RunMap<P, Handle>,
    sets: SentSets,
}

impl<P: RunKey> AdjRibOut<P> {
    pub fn new() -> Self {
        AdjRibOut {
            routes: RunMap::default(),
            sets: SentSets::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn get(&self, prefix: &P) -> Option<&Arc<RouteAttrs>> {
        self.routes.get(prefix).map(|h| self.sets.get(*h))
    }

    /// Records `attrs` as sent for `prefix`; false when exactly that was sent already (the
    /// same interned set), so nothing needs sending.
    pub fn set(&mut self, prefix: P, attrs: &Arc<RouteAttrs>) -> bool {
        match self.routes.entry(prefix) {
            Slot::Occupied(mut sent) => {
                let old = *sent.get();
                if Arc::ptr_eq(self.sets.get(old), attrs) {
                    return false;
                }
                sent.insert(self.sets.acquire(attrs));
                self.sets.release(old);
            }
            Slot::Vacant(slot) => {
                slot.insert(self.sets.acquire(attrs));
            }
        }
        true
    }

    /// Forgets `prefix`; false when nothing was sent for it.
    pub fn remove(&mut self, prefix: &P) -> bool {
        match self.routes.remove(prefix) {
            Some(handle) => {
                self.sets.release(handle);
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (P, &Arc<RouteAttrs>)> {
        self.routes.iter().map(|(p, h)| (p, self.sets.get(*h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Prefix;
    use std::net::Ipv4Addr;

    fn prefix(i: u32) -> Ipv4Prefix {
        Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).expect("valid")
    }

    fn attrs(med: u32) -> Arc<RouteAttrs> {
        let mut a = RouteAttrs::local();
        a.med = Some(med);
        Arc::new(a)
    }

    #[test]
    fn an_ipv4_entry_is_nine_octets() {
        assert_eq!(std::mem::size_of::<(Ipv4Prefix, Handle)>(), 9);
    }

    #[test]
    fn sets_are_held_while_used_and_their_slots_reused() {
        let (a, b) = (attrs(1), attrs(2));
        let mut out = AdjRibOut::new();
        assert!(out.set(prefix(1), &a));
        assert!(
            !out.set(prefix(1), &a),
            "the same set again: nothing to send"
        );
        assert!(out.set(prefix(2), &a));
        assert_eq!(Arc::strong_count(&a), 2, "held once for both prefixes");
        assert!(out.set(prefix(1), &b));
        assert!(Arc::ptr_eq(out.get(&prefix(1)).unwrap(), &b));
        assert!(out.remove(&prefix(2)));
        assert!(!out.remove(&prefix(2)));
        assert_eq!(Arc::strong_count(&a), 1, "no prefix uses a: released");
        let c = attrs(3);
        assert!(out.set(prefix(3), &c));
        assert_eq!(out.sets.slots.len(), 2, "a's slot reused for c");
        let mut held: Vec<(Ipv4Prefix, u32)> =
            out.iter().map(|(p, a)| (p, a.med.unwrap_or(0))).collect();
        held.sort();
        assert_eq!(held, vec![(prefix(1), 2), (prefix(3), 3)]);
        assert_eq!(out.len(), 2);
    }
}
