//! A fast keyed hasher for the prefix tables (and the RIB's other small-key maps).
//!
//! The default SipHash costs more than the rest of a table insert for 5-octet keys. This
//! multiply-rotate hasher with a murmur3 finaliser is several times cheaper; its key is drawn
//! from the standard library's random source per table, so a peer cannot precompute prefixes
//! that collide in our tables (not a cryptographic guarantee, but no fixed seed either).

use std::hash::{BuildHasher, Hasher, RandomState};

/// Builds [`PrefixHasher`]s sharing one random key.
#[derive(Debug, Clone)]
pub struct PrefixHashBuilder {
    key: u64,
}

impl Default for PrefixHashBuilder {
    fn default() -> Self {
        PrefixHashBuilder {
            key: RandomState::new().hash_one(0x6d61_7267_6179_u64) | 1,
        }
    }
}

impl BuildHasher for PrefixHashBuilder {
    type Hasher = PrefixHasher;

    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher { state: self.key }
    }
}

/// The hasher of [`PrefixHashBuilder`].
#[derive(Debug, Clone)]
pub struct PrefixHasher {
    state: u64,
}

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

impl PrefixHasher {
    #[inline(always)]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for PrefixHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.mix(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }

    /// murmur3's fmix64, so that both the low bits (bucket index) and the high bits (the
    /// table's control byte) depend on every input bit.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Prefix;
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    #[test]
    fn consecutive_prefixes_spread_over_low_and_high_bits() {
        let builder = PrefixHashBuilder::default();
        let hashes: Vec<u64> = (0..4096u32)
            .map(|i| {
                let p = Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).expect("ok");
                builder.hash_one(p)
            })
            .collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        // 4096 keys into 4096 low-bit buckets: a good hash fills about 63% of them.
        assert!(
            low.len() > 2400,
            "only {} distinct low-bit buckets",
            low.len()
        );
        assert_eq!(high.len(), 128, "every 7-bit control value appears");
    }
}
