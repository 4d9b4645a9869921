//! The per-prefix tables (Loc-RIB with the Adj-RIBs-In, each Adj-RIB-Out): hash tables whose
//! hash keeps neighbouring prefixes in neighbouring buckets.
//!
//! Speakers send their tables in prefix order (FRR, GoBGP and routers walk a trie), a node's
//! Pod blocks are consecutive, and a full table is largely runs of consecutive prefixes of one
//! length. With a hash that scatters every prefix, each route lands in a bucket of its own,
//! anywhere: at a million prefixes the tables are larger than the cache, and the insert of a
//! received route, the read of it for export and the insert into the peer's Adj-RIB-Out each
//! wait for memory. Here a prefix's hash is the keyed hash of its *run* — the prefix with the
//! four bits above its length's last bit cleared, sixteen neighbours of one length (for /24s,
//! the /24s of one /20) — plus its position in the run. The buckets of a run are consecutive,
//! so a table received in order fills each bucket group and cache line in turn. Runs still
//! land anywhere (the keyed hash of the run), so nothing here is predictable to a peer, and a
//! prefix alone in its run costs what it did before: one bucket. Runs start at any bucket,
//! not at a multiple of their length: aligned, two runs that meet collide whole and spill
//! into the next group, which made tables received out of order 50 % slower. Measured in
//! docs/bgp-rib.md.
//!
//! A hash table grows by moving everything into one twice the size; at a million prefixes
//! both copies live at once (what a peak-RSS figure sees) and the insert that triggers it
//! waits for the whole move. So a table past [`SPLIT_AT`] entries is split into [`SHARDS`]
//! tables picked by bits of the run's hash, and each grows on its own; small tables (most
//! peers' Adj-RIB-Out in a mesh) stay one table.

use std::hash::{BuildHasher, Hash};

use hashbrown::hash_table::{Entry, HashTable, OccupiedEntry, VacantEntry};

use super::hasher::PrefixHashBuilder;
use crate::wire::{Ipv4Prefix, Ipv6Prefix};

/// Neighbours per run: consecutive buckets from the run's hash.
const RUN_LEN: usize = 16;
/// hashbrown's tag: the top 7 bits of a hash.
const TAG_BITS: u64 = 0x7f << 57;
/// Shards of a split table (a power of two).
const SHARDS: usize = 64;
/// Entries at which a single table is split.
const SPLIT_AT: usize = 16 * 1024;
/// The hash bits that pick the shard: above any table's bucket index, below hashbrown's
/// 7-bit tag (bits 57–63).
const SHARD_SHIFT: u32 = 51;

/// A key that belongs to runs of neighbours (public only as a bound of
/// [`super::RibPrefix`]; this module is private).
pub trait RunKey: Copy + Hash + Eq {
    /// For runs of `run_len` (a power of two up to 256): the key of the run (the prefix with
    /// the bits that count a run's members, just above its length's last bit, cleared) and
    /// the position in it (those bits).
    fn split(self, run_len: usize) -> (Self, u8);
}

macro_rules! run_key {
    ($prefix:ty, $int:ty) => {
        impl RunKey for $prefix {
            #[inline]
            fn split(self, run_len: usize) -> (Self, u8) {
                let len = self.prefix_len();
                if len == 0 {
                    return (self, 0);
                }
                let shift = u32::from(<$prefix>::MAX_LEN - len);
                let bits = self.bits();
                let mask = (run_len - 1) as u8;
                let position = (bits >> shift) as u8 & mask;
                let run = bits & !(<$int>::from(mask) << shift);
                (<$prefix>::from_bits(run, len), position)
            }
        }
    };
}

run_key!(Ipv4Prefix, u32);
run_key!(Ipv6Prefix, u128);

/// The hash of a key: its run's keyed hash plus its position in the run.
#[derive(Debug, Clone, Default)]
struct RunHasher {
    keyed: PrefixHashBuilder,
}

impl RunHasher {
    #[inline]
    fn hash<K: RunKey>(&self, key: &K) -> u64 {
        let (run, position) = key.split(RUN_LEN);
        let position = u64::from(position);
        // hashbrown keeps the top 7 bits as the bucket's tag: vary them with the position,
        // so that a run's members do not all match each other's tag.
        let tag = position.wrapping_mul(0x9e37_79b9_7f4a_7c15) & TAG_BITS;
        self.keyed.hash_one(run).wrapping_add(position) ^ tag
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct RunMap<K, V> {
    shards: Vec<HashTable<(K, V)>>,
    hasher: RunHasher,
    len: usize,
}

impl<K: RunKey, V> Default for RunMap<K, V> {
    fn default() -> Self {
        RunMap {
            shards: vec![HashTable::new()],
            hasher: RunHasher::default(),
            len: 0,
        }
    }
}

impl<K: RunKey, V> RunMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn shard_of(&self, hash: u64) -> usize {
        (hash >> SHARD_SHIFT) as usize & (self.shards.len() - 1)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let hash = self.hasher.hash(key);
        self.shards[self.shard_of(hash)]
            .find(hash, |(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.entry(*key) {
            Slot::Occupied(slot) => Some(slot.remove()),
            Slot::Vacant(_) => None,
        }
    }

    /// The slot of `key`, as `std::collections::hash_map::Entry`.
    pub fn entry(&mut self, key: K) -> Slot<'_, K, V> {
        if self.shards.len() == 1 && self.len >= SPLIT_AT {
            self.split();
        }
        let hash = self.hasher.hash(&key);
        let shard = self.shard_of(hash);
        let RunMap {
            shards,
            hasher,
            len,
        } = self;
        match shards[shard].entry(hash, |(k, _)| *k == key, |(k, _)| hasher.hash(k)) {
            Entry::Occupied(entry) => Slot::Occupied(OccupiedSlot { entry, len }),
            Entry::Vacant(entry) => Slot::Vacant(VacantSlot { entry, key, len }),
        }
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.shards
            .iter()
            .flat_map(|shard| shard.iter().map(|(k, v)| (*k, v)))
    }

    fn split(&mut self) {
        let single = std::mem::take(&mut self.shards);
        let per_shard = SPLIT_AT / SHARDS * 2;
        self.shards = (0..SHARDS)
            .map(|_| HashTable::with_capacity(per_shard))
            .collect();
        for (key, value) in single.into_iter().flatten() {
            let hash = self.hasher.hash(&key);
            let shard = self.shard_of(hash);
            let hasher = &self.hasher;
            self.shards[shard].insert_unique(hash, (key, value), |(k, _)| hasher.hash(k));
        }
    }
}

/// A key's place in a [`RunMap`].
pub(crate) enum Slot<'a, K, V> {
    Occupied(OccupiedSlot<'a, K, V>),
    Vacant(VacantSlot<'a, K, V>),
}

/// A key present in the map.
pub(crate) struct OccupiedSlot<'a, K, V> {
    entry: OccupiedEntry<'a, (K, V)>,
    len: &'a mut usize,
}

impl<K, V> OccupiedSlot<'_, K, V> {
    pub fn get(&self) -> &V {
        &self.entry.get().1
    }

    pub fn get_mut(&mut self) -> &mut V {
        &mut self.entry.get_mut().1
    }

    /// Replaces the value, returning the old one.
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }

    pub fn remove(self) -> V {
        *self.len -= 1;
        let ((_, value), _) = self.entry.remove();
        value
    }
}

/// A key absent from the map.
pub(crate) struct VacantSlot<'a, K, V> {
    entry: VacantEntry<'a, (K, V)>,
    key: K,
    len: &'a mut usize,
}

impl<'a, K, V> VacantSlot<'a, K, V> {
    pub fn insert(self, value: V) -> &'a mut V {
        *self.len += 1;
        &mut self.entry.insert((self.key, value)).into_mut().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn neighbours_hash_to_neighbouring_buckets() {
        let hasher = RunHasher::default();
        let p =
            |i: u32| Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).expect("valid");
        let bucket = |h: u64| h & !TAG_BITS;
        let first = hasher.hash(&p(16));
        let mut tags = std::collections::HashSet::new();
        for i in 0..16 {
            let h = hasher.hash(&p(16 + i));
            assert_eq!(
                bucket(h),
                bucket(first + u64::from(i)),
                "/24 number {i} of the /20"
            );
            tags.insert(h & TAG_BITS);
        }
        assert!(
            tags.len() > 12,
            "members' tags vary: {} distinct of 16",
            tags.len()
        );
        let runs: std::collections::HashSet<u64> = (0..4096)
            .map(|r| bucket(hasher.hash(&p(r * 16))) >> 8)
            .collect();
        assert!(
            runs.len() > 4000,
            "runs land apart: {} distinct of 4096",
            runs.len()
        );
    }

    #[test]
    fn consecutive_prefixes_of_one_length_share_a_run() {
        let p = |s: &str| s.parse::<Ipv4Prefix>().expect("valid");
        assert_eq!(p("10.0.5.0/24").split(4), (p("10.0.4.0/24"), 1));
        assert_eq!(p("10.0.31.0/24").split(4), (p("10.0.28.0/24"), 3));
        assert_eq!(p("10.0.31.0/24").split(16), (p("10.0.16.0/24"), 15));
        assert_eq!(p("10.0.12.0/22").split(4), (p("10.0.0.0/22"), 3));
        assert_eq!(p("10.0.0.7/32").split(8), (p("10.0.0.0/32"), 7));
        assert_eq!(p("192.0.0.0/2").split(4), (p("0.0.0.0/2"), 3));
        assert_eq!(p("128.0.0.0/1").split(4), (p("0.0.0.0/1"), 1));
        assert_eq!(p("0.0.0.0/0").split(4), (p("0.0.0.0/0"), 0));
        let q: Ipv6Prefix = "2001:db8:7::/48".parse().expect("valid");
        assert_eq!(q.split(4), ("2001:db8:4::/48".parse().expect("valid"), 3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_key_is_its_run_and_position(bits in any::<u32>(), len in 0u8..=32, bits6 in any::<u128>(), len6 in 0u8..=128, run_bits in 0u32..=8) {
            let run_len = 1usize << run_bits;
            let p = Ipv4Prefix::new(Ipv4Addr::from(bits), len).expect("valid");
            let (run, position) = p.split(run_len);
            prop_assert!(usize::from(position) < run_len);
            prop_assert_eq!(run.split(run_len), (run, 0));
            let shift = 32 - u32::from(len);
            let joined = if len == 0 { run } else {
                Ipv4Prefix::from_bits(run.bits() | (u32::from(position) << shift), len)
            };
            prop_assert_eq!(joined, p);
            let q = Ipv6Prefix::new(Ipv6Addr::from(bits6), len6).expect("valid");
            let (run, position) = q.split(run_len);
            let shift = 128 - u32::from(len6);
            let joined = if len6 == 0 { run } else {
                Ipv6Prefix::from_bits(run.bits() | (u128::from(position) << shift), len6)
            };
            prop_assert_eq!(joined, q);
        }

        /// Inserts, replacements and removals over a small address space (so runs fill and
        /// empty) agree with a `BTreeMap`.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((any::<bool>(), 0u32..4096, 20u8..=24, any::<u16>()), 1..5000)) {
            let mut runs = RunMap::default();
            let mut plain = BTreeMap::new();
            for (insert, n, len, value) in ops {
                let key = Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (n << 8)), len).expect("valid");
                if insert {
                    let old = match runs.entry(key) {
                        Slot::Occupied(mut slot) => Some(slot.insert(value)),
                        Slot::Vacant(slot) => {
                            slot.insert(value);
                            None
                        }
                    };
                    prop_assert_eq!(old, plain.insert(key, value));
                } else {
                    prop_assert_eq!(runs.remove(&key), plain.remove(&key));
                }
                prop_assert_eq!(runs.get(&key), plain.get(&key));
            }
            prop_assert_eq!(runs.len(), plain.len());
            prop_assert_eq!(runs.is_empty(), plain.is_empty());
            let mut all: Vec<(Ipv4Prefix, u16)> = runs.iter().map(|(k, v)| (k, *v)).collect();
            all.sort();
            prop_assert_eq!(all, plain.into_iter().collect::<Vec<_>>());
        }
    }

    /// Past the shard split (more than 16 k runs), in an order that is not the prefixes'.
    #[test]
    fn holds_a_million_scattered_prefixes() {
        let n = 1u32 << 20;
        let key = |i: u32| {
            let scattered = i.wrapping_mul(0x9e37_79b1) & (n - 1);
            Ipv4Prefix::new(Ipv4Addr::from(scattered << 8), 24).expect("valid")
        };
        let mut runs = RunMap::default();
        for i in 0..n {
            if let Slot::Vacant(slot) = runs.entry(key(i)) {
                slot.insert(i);
            }
        }
        assert_eq!(runs.len(), n as usize);
        assert!((0..n).all(|i| runs.get(&key(i)) == Some(&i)));
        for i in (0..n).step_by(2) {
            assert_eq!(runs.remove(&key(i)), Some(i));
        }
        assert_eq!(runs.len(), n as usize / 2);
        assert_eq!(
            runs.iter().filter(|(k, v)| key(**v) == *k).count(),
            n as usize / 2
        );
    }
}
