//! A hash map for the per-prefix tables, split into shards by key hash once it is large.
//!
//! A hash table grows by allocating a table twice the size and moving every entry over: for a
//! million-prefix table both copies live at once, half again the table's memory for that
//! moment, which is exactly what a peak-RSS figure sees, and the insert that triggers it waits
//! for the whole move. Split into [`SHARDS`] tables, each grows on its own: the extra memory
//! and the pause are a shard's. Small tables (most peers' Adj-RIB-Out in a mesh) stay one
//! table, so they cost no more than a plain map.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, Hash, Hasher};

use super::hasher::PrefixHashBuilder;

/// Shards of a split table (a power of two).
const SHARDS: usize = 64;
/// Entries at which a single table is split.
const SPLIT_AT: usize = 16 * 1024;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ShardedMap<K, V> {
    shards: Vec<HashMap<K, V, PrefixHashBuilder>>,
    /// Picks the shard; its own key, so that the shard does not depend on the bits each
    /// shard's table uses.
    picker: ShardPicker,
}

/// The shard of a key: its octets folded into a word, times a random odd key, top bits
/// (multiplicative hashing). Cheaper than the tables' hasher, which still spreads the keys
/// within each shard; a peer that guessed the key could only crowd one shard, which then
/// behaves like an unsharded table.
#[derive(Debug, Clone)]
struct ShardPicker {
    key: u64,
}

impl Default for ShardPicker {
    fn default() -> Self {
        ShardPicker {
            key: PrefixHashBuilder::default().hash_one(0u64) | 1,
        }
    }
}

impl BuildHasher for ShardPicker {
    type Hasher = Fold;

    fn build_hasher(&self) -> Fold {
        Fold {
            word: 0,
            key: self.key,
        }
    }
}

/// The hasher of [`ShardPicker`].
#[derive(Debug)]
struct Fold {
    word: u64,
    key: u64,
}

impl Hasher for Fold {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.word = self.word.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.word = self.word.rotate_left(8) ^ u64::from(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.word = self.word.rotate_left(29) ^ v as u64;
    }

    fn finish(&self) -> u64 {
        self.word.wrapping_mul(self.key)
    }
}

impl<K: Hash + Eq, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        ShardedMap {
            shards: vec![HashMap::with_hasher(PrefixHashBuilder::default())],
            picker: ShardPicker::default(),
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    fn shard_of(&self, key: &K) -> usize {
        if self.shards.len() == 1 {
            0
        } else {
            (self.picker.hash_one(key) >> (64 - SHARDS.trailing_zeros())) as usize
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard_of(key)].get(key)
    }

    #[cfg(test)]
    fn remove(&mut self, key: &K) -> Option<V> {
        let shard = self.shard_of(key);
        self.shards[shard].remove(key)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        if self.shards.len() == 1 && self.shards[0].len() >= SPLIT_AT {
            self.split();
        }
        let shard = self.shard_of(&key);
        self.shards[shard].entry(key)
    }

    #[cfg(test)]
    fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.entry(key) {
            Entry::Occupied(mut o) => Some(o.insert(value)),
            Entry::Vacant(v) => {
                v.insert(value);
                None
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    fn split(&mut self) {
        let single = std::mem::take(&mut self.shards);
        let per_shard = SPLIT_AT / SHARDS * 2;
        self.shards = (0..SHARDS)
            .map(|_| HashMap::with_capacity_and_hasher(per_shard, PrefixHashBuilder::default()))
            .collect();
        for (key, value) in single.into_iter().flatten() {
            let shard = self.shard_of(&key);
            self.shards[shard].insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn consecutive_prefixes_spread_over_the_shards() {
        let mut sharded = ShardedMap::default();
        for i in 0..(SPLIT_AT * 4) as u32 {
            let p =
                crate::wire::Ipv4Prefix::new(std::net::Ipv4Addr::from(0x2000_0000 + (i << 8)), 24)
                    .expect("valid");
            if let Entry::Vacant(v) = sharded.entry(p) {
                v.insert(());
            }
        }
        let sizes: Vec<usize> = sharded.shards.iter().map(HashMap::len).collect();
        let even = SPLIT_AT * 4 / SHARDS;
        assert!(
            sizes.iter().all(|&n| n > even / 2 && n < even * 2),
            "{sizes:?}"
        );
    }

    #[test]
    fn behaves_as_one_map_across_the_split() {
        let mut sharded = ShardedMap::default();
        let mut plain = BTreeMap::new();
        let n = (SPLIT_AT * 3) as u32;
        for i in 0..n {
            assert_eq!(sharded.insert(i, i), plain.insert(i, i));
        }
        assert!(sharded.shards.len() == SHARDS, "split");
        assert!(
            sharded.shards.iter().all(|s| !s.is_empty()),
            "every shard used"
        );
        for i in (0..n).step_by(3) {
            assert_eq!(sharded.remove(&i), plain.remove(&i));
        }
        assert_eq!(sharded.insert(1, 7), plain.insert(1, 7));
        match sharded.entry(n + 1) {
            Entry::Vacant(v) => {
                v.insert(0);
            }
            Entry::Occupied(_) => panic!("{} was never inserted", n + 1),
        }
        plain.insert(n + 1, 0);
        assert_eq!(sharded.len(), plain.len());
        assert_eq!(sharded.get(&1), Some(&7));
        assert_eq!(sharded.get(&0), None);
        let mut all: Vec<(u32, u32)> = sharded.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort();
        assert_eq!(all, plain.into_iter().collect::<Vec<_>>());
    }
}
