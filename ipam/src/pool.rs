//! Pools and block sizes: the validated shapes IPAM allocates from.
//!
//! A pool is a CIDR carved into equal blocks (default /26 for IPv4, /122 for IPv6); a block is
//! claimed by one node at a time. Everything here is validated once, at construction, so the
//! allocator never meets a misaligned CIDR or an impossible block size.

use std::fmt;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

/// Address family of a pool, block or request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl IpFamily {
    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// The family of `net`.
    pub fn of_net(net: &IpNetwork) -> Self {
        Self::of(net.ip())
    }

    /// Address length in bits (32 or 128).
    pub fn bits(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }

    /// Block sizes (prefix lengths) allowed for this family.
    pub fn block_size_range(self) -> std::ops::RangeInclusive<u8> {
        match self {
            IpFamily::V4 => 20..=32,
            IpFamily::V6 => 116..=128,
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        })
    }
}

/// Why a pool or block size was rejected. Messages name the value; callers prefix the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Block prefix length outside 20..=32 (IPv4) or 116..=128 (IPv6).
    #[error("{size} is outside {}..={} for an {family} pool", family.block_size_range().start(), family.block_size_range().end())]
    BlockSizeOutOfRange {
        /// The rejected prefix length.
        size: u8,
        /// The pool's family.
        family: IpFamily,
    },
    /// The CIDR has host bits set.
    #[error("{cidr} is not aligned to its prefix length (network address is {network})")]
    NotAligned {
        /// The CIDR as given.
        cidr: IpNetwork,
        /// Its network address.
        network: IpAddr,
    },
    /// Blocks larger than the pool itself.
    #[error("block size /{size} is larger than the pool {cidr}")]
    BlockLargerThanPool {
        /// The block prefix length.
        size: u8,
        /// The pool.
        cidr: IpNetwork,
    },
}

/// A block prefix length, valid for its family: 20..=32 for IPv4, 116..=128 for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockSize(u8);

impl BlockSize {
    /// Validates `size` for `family`.
    pub fn new(size: u8, family: IpFamily) -> Result<Self, PoolError> {
        if family.block_size_range().contains(&size) {
            Ok(BlockSize(size))
        } else {
            Err(PoolError::BlockSizeOutOfRange { size, family })
        }
    }

    /// The default for `family`: /26 (64 addresses) or /122 (64 addresses).
    pub fn default_for(family: IpFamily) -> Self {
        match family {
            IpFamily::V4 => BlockSize(26),
            IpFamily::V6 => BlockSize(122),
        }
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.0
    }
}

impl fmt::Display for BlockSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Checks that `cidr` has no host bits set.
pub fn check_aligned(cidr: IpNetwork) -> Result<(), PoolError> {
    if cidr.network() == cidr.ip() {
        Ok(())
    } else {
        Err(PoolError::NotAligned {
            cidr,
            network: cidr.network(),
        })
    }
}

/// A validated pool: aligned CIDR, block size valid for its family and not larger than it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    cidr: IpNetwork,
    block_size: BlockSize,
    disabled: bool,
}

impl Pool {
    /// Validates a pool. `block_size` defaults to /26 or /122.
    pub fn new(cidr: IpNetwork, block_size: Option<u8>) -> Result<Self, PoolError> {
        check_aligned(cidr)?;
        let family = IpFamily::of_net(&cidr);
        let block_size = match block_size {
            Some(size) => BlockSize::new(size, family)?,
            None => BlockSize::default_for(family),
        };
        if block_size.prefix() < cidr.prefix() {
            return Err(PoolError::BlockLargerThanPool {
                size: block_size.prefix(),
                cidr,
            });
        }
        Ok(Pool {
            cidr,
            block_size,
            disabled: false,
        })
    }

    /// The same pool, marked disabled (no new addresses are assigned from it).
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// The pool CIDR.
    pub fn cidr(&self) -> IpNetwork {
        self.cidr
    }

    /// The block prefix length.
    pub fn block_size(&self) -> BlockSize {
        self.block_size
    }

    /// Whether new assignments are refused.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The pool's family.
    pub fn family(&self) -> IpFamily {
        IpFamily::of_net(&self.cidr)
    }

    /// Number of addresses in the pool.
    pub fn size(&self) -> u128 {
        1u128 << (self.family().bits() - self.cidr.prefix())
    }

    /// Number of blocks the pool holds.
    pub fn block_count(&self) -> u128 {
        1u128 << (self.block_size.prefix() - self.cidr.prefix())
    }

    /// Block number `index` (0-based) of the pool; `None` past the end.
    pub fn block_at(&self, index: u128) -> Option<IpNetwork> {
        if index >= self.block_count() {
            return None;
        }
        let step = 1u128 << (self.family().bits() - self.block_size.prefix());
        let base = addr_to_u128(self.cidr.network());
        let addr = u128_to_addr(base + index * step, self.family());
        IpNetwork::new(addr, self.block_size.prefix()).ok()
    }

    /// Whether `net` lies entirely inside the pool.
    pub fn contains_net(&self, net: &IpNetwork) -> bool {
        IpFamily::of_net(net) == self.family()
            && net.prefix() >= self.cidr.prefix()
            && self.cidr.contains(net.network())
    }

    /// Whether the two pools share any address.
    pub fn overlaps(&self, other: &Pool) -> bool {
        nets_overlap(&self.cidr, &other.cidr)
    }
}

/// Whether two networks share any address.
pub fn nets_overlap(a: &IpNetwork, b: &IpNetwork) -> bool {
    IpFamily::of_net(a) == IpFamily::of_net(b)
        && (a.contains(b.network()) || b.contains(a.network()))
}

/// The address as an integer (IPv4 in the low 32 bits).
pub fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The integer as an address of `family` (IPv4 takes the low 32 bits).
pub fn u128_to_addr(value: u128, family: IpFamily) -> IpAddr {
    match family {
        IpFamily::V4 => IpAddr::V4((value as u32).into()),
        IpFamily::V6 => IpAddr::V6(value.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn block_size_range_is_checked_per_family() {
        assert_eq!(
            BlockSize::new(40, IpFamily::V4).unwrap_err().to_string(),
            "40 is outside 20..=32 for an IPv4 pool"
        );
        assert_eq!(
            BlockSize::new(64, IpFamily::V6).unwrap_err().to_string(),
            "64 is outside 116..=128 for an IPv6 pool"
        );
        assert_eq!(BlockSize::new(20, IpFamily::V4).unwrap().prefix(), 20);
        assert_eq!(BlockSize::new(128, IpFamily::V6).unwrap().prefix(), 128);
    }

    #[test]
    fn misaligned_pool_is_rejected_with_the_network_address() {
        let err = Pool::new(net("10.244.1.0/16"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "10.244.1.0/16 is not aligned to its prefix length (network address is 10.244.0.0)"
        );
    }

    #[test]
    fn default_blocks_are_26_and_122() {
        let v4 = Pool::new(net("10.244.0.0/18"), None).unwrap();
        assert_eq!(v4.block_size().prefix(), 26);
        assert_eq!(v4.block_count(), 256);
        assert_eq!(v4.block_at(1), Some(net("10.244.0.64/26")));
        assert_eq!(v4.block_at(256), None);
        let v6 = Pool::new(net("fd00:10::/112"), None).unwrap();
        assert_eq!(v6.block_size().prefix(), 122);
        assert_eq!(v6.block_at(2), Some(net("fd00:10::80/122")));
    }

    #[test]
    fn block_larger_than_pool_is_rejected() {
        let err = Pool::new(net("10.0.0.0/28"), Some(26)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "block size /26 is larger than the pool 10.0.0.0/28"
        );
    }

    #[test]
    fn overlap_detection() {
        let a = Pool::new(net("10.0.0.0/16"), None).unwrap();
        let b = Pool::new(net("10.0.128.0/17"), None).unwrap();
        let c = Pool::new(net("10.1.0.0/16"), None).unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
