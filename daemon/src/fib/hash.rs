//! A fast keyed hash for maps keyed by prefix: the FIB writer looks up every route of the table
//! several times per resync, and SipHash (std's default) was a third of a no-op resync.
//!
//! Multiply-rotate mixing per word (as in rustc's FxHash) started from a per-process random
//! seed (taken from std's `RandomState`), finished with MurmurHash3's `fmix64`. The seed keeps
//! an outsider who chooses prefixes (a BGP peer) from predicting collisions.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

use ipnetwork::IpNetwork;

/// Builds [`PrefixHasher`]s with the process's seed.
#[derive(Debug, Clone, Copy)]
pub struct PrefixHashBuilder {
    seed: u64,
}

impl Default for PrefixHashBuilder {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        PrefixHashBuilder {
            seed: *SEED.get_or_init(|| RandomState::new().hash_one(0x6d61_7267_6179_u64)),
        }
    }
}

impl BuildHasher for PrefixHashBuilder {
    type Hasher = PrefixHasher;

    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher { state: self.seed }
    }
}

/// The hasher; see the module doc.
#[derive(Debug, Clone, Copy)]
pub struct PrefixHasher {
    state: u64,
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl PrefixHasher {
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_u128(&mut self, i: u128) {
        self.mix(i as u64);
        self.mix((i >> 64) as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut k = self.state;
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
}

/// A map keyed by prefix.
pub type RouteMap<V> = HashMap<IpNetwork, V, PrefixHashBuilder>;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn adjacent_prefixes_spread_over_buckets() {
        let b = PrefixHashBuilder::default();
        let hashes: HashSet<u64> = (0..100_000u32)
            .map(|i| {
                b.hash_one(
                    IpNetwork::new(std::net::Ipv4Addr::from(0x6440_0000 + i).into(), 32).unwrap(),
                )
            })
            .collect();
        assert_eq!(hashes.len(), 100_000, "no full collisions");
        // The low 16 bits (bucket index of a 64k-bucket table) are used evenly.
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 0xffff).collect();
        assert!(
            buckets.len() > 50_000,
            "{} buckets of 65536 used",
            buckets.len()
        );
        let same_addr_other_len =
            b.hash_one(IpNetwork::new("10.0.0.0".parse().unwrap(), 24).unwrap());
        assert_ne!(
            same_addr_other_len,
            b.hash_one(IpNetwork::new("10.0.0.0".parse().unwrap(), 25).unwrap())
        );
    }
}
