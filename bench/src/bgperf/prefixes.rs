//! The prefixes a benchmark announces and the tally a receiving speaker keeps of them.
//!
//! A [`PrefixBlock`] is a run of consecutive IPv4 /24s (`base`, `base + 256`, ...), so a
//! prefix maps to its index by arithmetic and a receiver can tally a million of them in a
//! bitmap of 128 KiB instead of a hash set: the monitor must never be the bottleneck it
//! measures. Anything outside the expected block is kept apart and reported.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use margay_bgp::wire::Ipv4Prefix;

/// Length of every benchmark prefix.
pub const PREFIX_LEN: u8 = 24;

/// `count` consecutive /24s starting at `base` (whose low 8 bits are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixBlock {
    base: u32,
    count: u32,
}

/// A block that would not fit in the IPv4 space or starts inside a /24.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixBlockError {
    #[error("base {0} is not the start of a /24")]
    Unaligned(Ipv4Addr),
    #[error("{count} /24s from {base} run past 255.255.255.0")]
    Overflow { base: Ipv4Addr, count: u32 },
}

impl PrefixBlock {
    /// `count` /24s from `base`.
    pub fn new(base: Ipv4Addr, count: u32) -> Result<Self, PrefixBlockError> {
        let start = u32::from(base);
        if start & 0xff != 0 {
            return Err(PrefixBlockError::Unaligned(base));
        }
        let slots_left = (u32::MAX - start) >> 8;
        if count > 0 && count - 1 > slots_left {
            return Err(PrefixBlockError::Overflow { base, count });
        }
        Ok(PrefixBlock { base: start, count })
    }

    /// Number of prefixes.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when the block holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th prefix (`i < len()`).
    pub fn prefix(&self, i: u32) -> Ipv4Prefix {
        debug_assert!(i < self.count);
        Ipv4Prefix::new(Ipv4Addr::from(self.base + (i << 8)), PREFIX_LEN)
            .expect("a /24 is a valid IPv4 prefix length")
    }

    /// Every prefix, in order.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Prefix> + '_ {
        (0..self.count).map(|i| self.prefix(i))
    }

    /// The sub-block of `count` prefixes starting at index `first`.
    pub fn slice(&self, first: u32, count: u32) -> PrefixBlock {
        debug_assert!(first + count <= self.count);
        PrefixBlock {
            base: self.base + (first << 8),
            count,
        }
    }

    /// The index of `prefix` in the block, if it is one of its /24s.
    pub fn index_of(&self, prefix: &Ipv4Prefix) -> Option<u32> {
        if prefix.prefix_len() != PREFIX_LEN {
            return None;
        }
        let offset = u32::from(prefix.addr()).checked_sub(self.base)? >> 8;
        (offset < self.count).then_some(offset)
    }
}

/// Which of the expected prefixes a speaker currently holds, updated per announcement and
/// withdrawal; counts an announcement of a held prefix (an implicit withdrawal) once.
#[derive(Debug)]
pub struct PrefixTally {
    expected: PrefixBlock,
    /// Indices inside `expected` that do not count (a client's own prefixes).
    excluded: Option<PrefixBlock>,
    bits: Vec<u64>,
    held: u32,
    target: u32,
    unexpected: HashSet<Ipv4Prefix>,
}

impl PrefixTally {
    /// A tally that is complete once every prefix of `expected` outside `excluded` is held.
    pub fn new(expected: PrefixBlock, excluded: Option<PrefixBlock>) -> Self {
        let excluded_count = excluded.map_or(0, |x| {
            expected.iter().filter(|p| x.index_of(p).is_some()).count() as u32
        });
        PrefixTally {
            expected,
            excluded,
            bits: vec![0; (expected.len() as usize).div_ceil(64)],
            held: 0,
            target: expected.len() - excluded_count,
            unexpected: HashSet::new(),
        }
    }

    fn slot(&self, prefix: &Ipv4Prefix) -> Option<(usize, u64)> {
        if self.excluded.is_some_and(|x| x.index_of(prefix).is_some()) {
            return None;
        }
        let i = self.expected.index_of(prefix)? as usize;
        Some((i / 64, 1u64 << (i % 64)))
    }

    /// Records an announcement.
    pub fn announce(&mut self, prefix: &Ipv4Prefix) {
        match self.slot(prefix) {
            Some((word, bit)) => {
                if self.bits[word] & bit == 0 {
                    self.bits[word] |= bit;
                    self.held += 1;
                }
            }
            None => {
                self.unexpected.insert(*prefix);
            }
        }
    }

    /// Records a withdrawal.
    pub fn withdraw(&mut self, prefix: &Ipv4Prefix) {
        match self.slot(prefix) {
            Some((word, bit)) => {
                if self.bits[word] & bit != 0 {
                    self.bits[word] &= !bit;
                    self.held -= 1;
                }
            }
            None => {
                self.unexpected.remove(prefix);
            }
        }
    }

    /// Expected prefixes held now.
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Expected prefixes to hold for the tally to be complete.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// True once every expected prefix is held.
    pub fn is_complete(&self) -> bool {
        self.held == self.target
    }

    /// Prefixes held that were not expected (own prefixes reflected back, strays).
    pub fn unexpected(&self) -> usize {
        self.unexpected.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(base: &str, count: u32) -> PrefixBlock {
        PrefixBlock::new(base.parse().unwrap(), count).unwrap()
    }

    #[test]
    fn block_enumerates_consecutive_slash_24s() {
        let b = block("32.0.0.0", 258);
        assert_eq!(b.prefix(0).to_string(), "32.0.0.0/24");
        assert_eq!(b.prefix(257).to_string(), "32.1.1.0/24");
        assert_eq!(b.iter().count(), 258);
        assert_eq!(b.index_of(&"32.1.1.0/24".parse().unwrap()), Some(257));
        assert_eq!(b.index_of(&"32.1.2.0/24".parse().unwrap()), None);
        assert_eq!(b.index_of(&"31.255.255.0/24".parse().unwrap()), None);
        assert_eq!(b.index_of(&"32.0.0.0/16".parse().unwrap()), None);
    }

    #[test]
    fn block_rejects_unaligned_base_and_overflow() {
        assert_eq!(
            PrefixBlock::new("32.0.0.1".parse().unwrap(), 1),
            Err(PrefixBlockError::Unaligned("32.0.0.1".parse().unwrap()))
        );
        assert!(PrefixBlock::new("255.255.255.0".parse().unwrap(), 1).is_ok());
        assert_eq!(
            PrefixBlock::new("255.255.255.0".parse().unwrap(), 2),
            Err(PrefixBlockError::Overflow {
                base: "255.255.255.0".parse().unwrap(),
                count: 2
            })
        );
    }

    #[test]
    fn slice_is_a_sub_block() {
        let b = block("32.0.0.0", 2000);
        let s = b.slice(4, 4);
        assert_eq!(s.prefix(0).to_string(), "32.0.4.0/24");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn tally_counts_distinct_and_follows_withdrawals() {
        let b = block("32.0.0.0", 3);
        let mut t = PrefixTally::new(b, None);
        assert_eq!(t.target(), 3);
        t.announce(&b.prefix(0));
        t.announce(&b.prefix(0));
        t.announce(&b.prefix(2));
        assert_eq!(t.held(), 2);
        t.withdraw(&b.prefix(0));
        t.withdraw(&b.prefix(0));
        assert_eq!(t.held(), 1);
        t.announce(&b.prefix(0));
        t.announce(&b.prefix(1));
        assert!(t.is_complete());
        t.announce(&"9.9.9.0/24".parse().unwrap());
        assert_eq!(t.unexpected(), 1);
        assert_eq!(t.held(), 3);
    }

    #[test]
    fn excluded_prefixes_do_not_count() {
        let b = block("32.0.0.0", 8);
        let own = b.slice(4, 4);
        let mut t = PrefixTally::new(b, Some(own));
        assert_eq!(t.target(), 4);
        for p in b.iter() {
            t.announce(&p);
        }
        assert_eq!(t.held(), 4);
        assert!(t.is_complete());
        assert_eq!(t.unexpected(), 4);
    }
}
