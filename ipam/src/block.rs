//! A block: one node's slice of a pool (DESIGN §6 `ipam/blocks/<cidr>`). Pure data with the
//! allocation rules; the allocator writes it back with compare-and-swap.
//!
//! Each change bumps the block's `sequence`; each allocation records the sequence it was made
//! at, so a release that names (handle, sequence) can never free an address that has since
//! been released and given to someone else.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use crate::pool::{IpFamily, addr_to_u128, u128_to_addr};

/// Who holds one address of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// The handle that owns it.
    pub handle: String,
    /// The block sequence number at which it was assigned.
    pub sequence: u64,
}

/// A block as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Block {
    /// The block CIDR.
    #[serde(with = "cidr_string")]
    pub cidr: IpNetwork,
    /// The node the block is affine to.
    pub affinity: Option<String>,
    /// Bumped by every change.
    pub sequence: u64,
    /// Ordinal (offset in the block) → holder.
    pub allocations: BTreeMap<u32, Allocation>,
    /// Unassigned ordinals, next one first; released ones go to the back, so an address is
    /// not handed out again right after its release.
    pub free: VecDeque<u32>,
}

mod cidr_string {
    use ipnetwork::IpNetwork;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(cidr: &IpNetwork, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cidr)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNetwork, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Block {
    /// An empty block affine to `node`.
    pub fn new(cidr: IpNetwork, node: Option<&str>) -> Self {
        let size = block_size(&cidr);
        Block {
            cidr,
            affinity: node.map(str::to_owned),
            sequence: 0,
            allocations: BTreeMap::new(),
            free: (0..size).collect(),
        }
    }

    /// Number of addresses.
    pub fn size(&self) -> u32 {
        block_size(&self.cidr)
    }

    /// Addresses assigned.
    pub fn in_use(&self) -> u32 {
        self.allocations.len() as u32
    }

    /// Addresses free.
    pub fn free_count(&self) -> u32 {
        self.free.len() as u32
    }

    /// The family.
    pub fn family(&self) -> IpFamily {
        IpFamily::of_net(&self.cidr)
    }

    /// The address at `ordinal`.
    pub fn addr(&self, ordinal: u32) -> IpAddr {
        let base = addr_to_u128(self.cidr.network());
        u128_to_addr(base + u128::from(ordinal), self.family())
    }

    /// The ordinal of `addr`, if it is in the block.
    pub fn ordinal_of(&self, addr: IpAddr) -> Option<u32> {
        if !self.cidr.contains(addr) {
            return None;
        }
        Some((addr_to_u128(addr) - addr_to_u128(self.cidr.network())) as u32)
    }

    /// Assigns the next free address to `handle`: (ordinal, sequence).
    pub fn allocate(&mut self, handle: &str) -> Option<(u32, u64)> {
        let ordinal = self.free.pop_front()?;
        self.sequence += 1;
        self.allocations.insert(
            ordinal,
            Allocation {
                handle: handle.to_owned(),
                sequence: self.sequence,
            },
        );
        Some((ordinal, self.sequence))
    }

    /// Frees `ordinal`; returns who held it.
    pub fn release(&mut self, ordinal: u32) -> Option<Allocation> {
        let held = self.allocations.remove(&ordinal)?;
        self.free.push_back(ordinal);
        self.sequence += 1;
        Some(held)
    }

    /// The ordinals held by `handle`.
    pub fn ordinals_of(&self, handle: &str) -> Vec<u32> {
        self.allocations
            .iter()
            .filter(|(_, a)| a.handle == handle)
            .map(|(o, _)| *o)
            .collect()
    }

    /// Checks that the free list and the allocations partition the block exactly.
    pub fn check_consistency(&self) -> Result<(), String> {
        let size = self.size();
        let mut seen = vec![false; size as usize];
        for &o in self.free.iter().chain(self.allocations.keys()) {
            let slot = seen
                .get_mut(o as usize)
                .ok_or_else(|| format!("ordinal {o} is outside a block of {size}"))?;
            if *slot {
                return Err(format!(
                    "ordinal {o} is both free and allocated, or listed twice"
                ));
            }
            *slot = true;
        }
        match seen.iter().position(|s| !s) {
            Some(o) => Err(format!("ordinal {o} is neither free nor allocated")),
            None => Ok(()),
        }
    }

    /// JSON for the store.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("blocks are plain data")
    }

    /// Decodes a stored block.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let block: Block = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        block.check_consistency()?;
        Ok(block)
    }
}

fn block_size(cidr: &IpNetwork) -> u32 {
    let host_bits = IpFamily::of_net(cidr).bits() - cidr.prefix();
    1u32 << host_bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_order_and_release_to_the_back() {
        let mut b = Block::new("10.0.0.0/30".parse().unwrap(), Some("n"));
        assert_eq!(b.allocate("a"), Some((0, 1)));
        assert_eq!(b.allocate("b"), Some((1, 2)));
        assert_eq!(b.release(0).unwrap().handle, "a");
        assert_eq!(b.allocate("c"), Some((2, 4)));
        assert_eq!(b.allocate("d"), Some((3, 5)));
        assert_eq!(b.allocate("e"), Some((0, 6)), "released ordinal comes last");
        assert_eq!(b.allocate("f"), None);
        assert_eq!(b.addr(3), "10.0.0.3".parse::<IpAddr>().unwrap());
        assert_eq!(b.ordinal_of("10.0.0.2".parse().unwrap()), Some(2));
        assert_eq!(b.ordinal_of("10.0.0.4".parse().unwrap()), None);
        b.check_consistency().unwrap();
        let back = Block::decode(&b.encode()).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn ipv6_addresses() {
        let b = Block::new("fd00::40/122".parse().unwrap(), None);
        assert_eq!(b.size(), 64);
        assert_eq!(b.addr(63), "fd00::7f".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn inconsistent_blocks_are_refused_on_decode() {
        let mut b = Block::new("10.0.0.0/30".parse().unwrap(), None);
        b.free.push_back(1);
        assert_eq!(
            Block::decode(&b.encode()).unwrap_err(),
            "ordinal 1 is both free and allocated, or listed twice"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Step {
            Allocate(u8),
            Release(u32),
        }

        fn steps() -> impl Strategy<Value = Vec<Step>> {
            prop::collection::vec(
                prop_oneof![
                    (0u8..8).prop_map(Step::Allocate),
                    (0u32..80).prop_map(Step::Release),
                ],
                0..300,
            )
        }

        proptest! {
            /// Any sequence of allocations and releases keeps the free list and the
            /// allocations an exact partition, never hands out a held address, strictly
            /// increases the sequence on every change, and survives encode/decode.
            #[test]
            fn allocate_release_keep_the_block_consistent(prefix in 26u8..=30, steps in steps()) {
                let cidr: IpNetwork = format!("10.9.0.0/{prefix}").parse().unwrap();
                let mut block = Block::new(cidr, Some("n"));
                for step in steps {
                    let before = block.clone();
                    match step {
                        Step::Allocate(h) => match block.allocate(&format!("h{h}")) {
                            Some((ordinal, sequence)) => {
                                prop_assert!(!before.allocations.contains_key(&ordinal));
                                prop_assert_eq!(sequence, before.sequence + 1);
                                prop_assert!(block.cidr.contains(block.addr(ordinal)));
                                prop_assert_eq!(block.ordinal_of(block.addr(ordinal)), Some(ordinal));
                            }
                            None => {
                                prop_assert_eq!(before.free_count(), 0);
                                prop_assert_eq!(&block, &before);
                            }
                        },
                        Step::Release(o) => match block.release(o) {
                            Some(held) => {
                                prop_assert_eq!(Some(&held), before.allocations.get(&o));
                                prop_assert_eq!(block.sequence, before.sequence + 1);
                                prop_assert_eq!(block.free.back(), Some(&o));
                            }
                            None => prop_assert_eq!(&block, &before),
                        },
                    }
                    prop_assert_eq!(block.check_consistency(), Ok(()));
                    prop_assert_eq!(block.in_use() + block.free_count(), block.size());
                }
                prop_assert_eq!(Block::decode(&block.encode()), Ok(block));
            }
        }
    }
}
