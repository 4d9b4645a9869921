//! The per-prefix tables (Loc-RIB with the Adj-RIBs-In, each Adj-RIB-Out): a hash map from
//! prefixes that keeps neighbouring prefixes together in memory.
//!
//! Speakers send their tables in prefix order (FRR, GoBGP and routers walk a trie), and a full
//! table is mostly runs of consecutive prefixes of one length. In a hash table keyed by the
//! prefix each route lands in a slot of its own, anywhere: at a million prefixes the tables
//! are larger than the cache, so the insert of a received route, the read of it for export
//! and the insert into the peer's Adj-RIB-Out each wait for memory. Here a few consecutive
//! prefixes of one length (`LEN`: four /24s of a /22 in the Loc-RIB, eight in an Adj-RIB-Out)
//! form a *run* that shares one slot of a hash table keyed by the run, the members inline in
//! the slot. A table received in order touches a new slot once per run; in any order a member
//! is still one slot away, as in a plain map. Longer runs or members kept outside the slot
//! (tried: sixteen per run in a vector) are faster in order but slower out of order, where the
//! larger slot or the second access costs more than the locality gains. Measured in
//! docs/bgp-rib.md.
//!
//! The price is paid by a prefix alone in its run: the slot has room for its absent
//! neighbours (an IPv4 Loc-RIB slot is 72 octets where a plain entry was 24).

use std::collections::hash_map::{Entry as RunSlot, OccupiedEntry};
use std::hash::Hash;

use super::sharded::ShardedMap;
use crate::wire::{Ipv4Prefix, Ipv6Prefix};

/// A key that belongs to runs of neighbours (public only as a bound of
/// [`super::RibPrefix`]; this module is private).
pub trait RunKey: Copy + Hash + Eq {
    /// For runs of `run_len` (a power of two up to 256): the key of the run (the prefix with
    /// the bits that count a run's members, just above its length's last bit, cleared) and
    /// the position in it (those bits).
    fn split(self, run_len: usize) -> (Self, u8);
    /// The member of run `run` at `position`; `join(split(k, n)) == k`.
    fn join(run: Self, position: u8) -> Self;
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

            #[inline]
            fn join(run: Self, position: u8) -> Self {
                let len = run.prefix_len();
                if len == 0 {
                    return run;
                }
                let shift = u32::from(<$prefix>::MAX_LEN - len);
                <$prefix>::from_bits(run.bits() | (<$int>::from(position) << shift), len)
            }
        }
    };
}

run_key!(Ipv4Prefix, u32);
run_key!(Ipv6Prefix, u128);

/// The members of one run, in position order, held in the run's table slot.
#[derive(Debug)]
struct Run<V, const LEN: usize> {
    members: [Option<V>; LEN],
}

impl<V, const LEN: usize> Run<V, LEN> {
    fn member(&self, position: u8) -> Option<&V> {
        self.members[usize::from(position)].as_ref()
    }

    fn is_empty(&self) -> bool {
        self.members.iter().all(Option::is_none)
    }
}

/// See the module documentation; `LEN` prefixes per run (a power of two up to 256).
#[derive(Debug)]
pub(crate) struct RunMap<K, V, const LEN: usize> {
    runs: ShardedMap<K, Run<V, LEN>>,
    len: usize,
}

impl<K: RunKey, V, const LEN: usize> Default for RunMap<K, V, LEN> {
    fn default() -> Self {
        RunMap {
            runs: ShardedMap::default(),
            len: 0,
        }
    }
}

impl<K: RunKey, V, const LEN: usize> RunMap<K, V, LEN> {
    const POWER_OF_TWO: () = assert!(LEN.is_power_of_two() && LEN <= 256);

    fn split(key: K) -> (K, u8) {
        let () = Self::POWER_OF_TWO;
        key.split(LEN)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let (run, position) = Self::split(*key);
        self.runs.get(&run)?.member(position)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.entry(*key) {
            Slot::Occupied(slot) => Some(slot.remove()),
            Slot::Vacant(_) => None,
        }
    }

    /// The slot of `key`, as `std::collections::hash_map::Entry`.
    pub fn entry(&mut self, key: K) -> Slot<'_, K, V, LEN> {
        let (run, position) = Self::split(key);
        let RunMap { runs, len } = self;
        match runs.entry(run) {
            RunSlot::Occupied(run) if run.get().member(position).is_some() => {
                Slot::Occupied(OccupiedSlot { run, position, len })
            }
            run => Slot::Vacant(VacantSlot { run, position, len }),
        }
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.runs.iter().flat_map(|(&key, run)| {
            (0..)
                .zip(&run.members)
                .filter_map(move |(position, member)| {
                    Some((K::join(key, position), member.as_ref()?))
                })
        })
    }
}

/// A key's place in a [`RunMap`].
pub(crate) enum Slot<'a, K, V, const LEN: usize> {
    Occupied(OccupiedSlot<'a, K, V, LEN>),
    Vacant(VacantSlot<'a, K, V, LEN>),
}

/// A key present in the map.
pub(crate) struct OccupiedSlot<'a, K, V, const LEN: usize> {
    run: OccupiedEntry<'a, K, Run<V, LEN>>,
    position: u8,
    len: &'a mut usize,
}

const OCCUPIED: &str = "an occupied slot holds a value";

impl<K, V, const LEN: usize> OccupiedSlot<'_, K, V, LEN> {
    pub fn get(&self) -> &V {
        self.run.get().member(self.position).expect(OCCUPIED)
    }

    pub fn get_mut(&mut self) -> &mut V {
        self.run.get_mut().members[usize::from(self.position)]
            .as_mut()
            .expect(OCCUPIED)
    }

    /// Replaces the value, returning the old one.
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }

    pub fn remove(mut self) -> V {
        *self.len -= 1;
        let value = self.run.get_mut().members[usize::from(self.position)]
            .take()
            .expect(OCCUPIED);
        if self.run.get().is_empty() {
            self.run.remove();
        }
        value
    }
}

/// A key absent from the map.
pub(crate) struct VacantSlot<'a, K, V, const LEN: usize> {
    run: RunSlot<'a, K, Run<V, LEN>>,
    position: u8,
    len: &'a mut usize,
}

impl<'a, K, V, const LEN: usize> VacantSlot<'a, K, V, LEN> {
    pub fn insert(self, value: V) -> &'a mut V {
        *self.len += 1;
        let run = match self.run {
            RunSlot::Vacant(slot) => slot.insert(Run {
                members: std::array::from_fn(|_| None),
            }),
            RunSlot::Occupied(slot) => slot.into_mut(),
        };
        run.members[usize::from(self.position)].insert(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

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
        fn split_then_join_is_identity(bits in any::<u32>(), len in 0u8..=32, bits6 in any::<u128>(), len6 in 0u8..=128, run_bits in 0u32..=8) {
            let run_len = 1usize << run_bits;
            let p = Ipv4Prefix::new(Ipv4Addr::from(bits), len).expect("valid");
            let (run, position) = p.split(run_len);
            prop_assert!(usize::from(position) < run_len);
            prop_assert_eq!(Ipv4Prefix::join(run, position), p);
            prop_assert_eq!(run.split(run_len), (run, 0));
            let q = Ipv6Prefix::new(Ipv6Addr::from(bits6), len6).expect("valid");
            let (run, position) = q.split(run_len);
            prop_assert_eq!(Ipv6Prefix::join(run, position), q);
        }

        /// Inserts, replacements and removals over a small address space (so runs fill and
        /// empty) agree with a `BTreeMap`.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((any::<bool>(), 0u32..4096, 20u8..=24, any::<u16>()), 1..5000)) {
            let mut runs = RunMap::<_, _, 8>::default();
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
        let mut runs = RunMap::<_, _, 4>::default();
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
