//! `show`: per pool and per block, how many addresses exist, are in use and are free
//! (`margayctl ipam show`).

use ipnetwork::IpNetwork;

use crate::error::IpamError;
use crate::ipam::Ipam;
use crate::kv::Store;
use crate::pool::Pool;

/// Usage of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockUsage {
    /// The block.
    pub cidr: IpNetwork,
    /// Its node.
    pub affinity: Option<String>,
    /// Addresses.
    pub total: u32,
    /// Assigned.
    pub in_use: u32,
    /// Unassigned.
    pub free: u32,
}

/// Usage of one pool: `total` counts every address of the pool, `free` includes unclaimed
/// blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// The pool.
    pub cidr: IpNetwork,
    /// Addresses in the pool.
    pub total: u128,
    /// Assigned.
    pub in_use: u128,
    /// Not assigned.
    pub free: u128,
    /// Blocks claimed.
    pub blocks: Vec<BlockUsage>,
}

/// Usage of all pools, plus blocks outside every given pool (e.g. of a deleted pool).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Per pool, in the order given.
    pub pools: Vec<PoolUsage>,
    /// Blocks in no pool.
    pub outside_pools: Vec<BlockUsage>,
}

impl<S: Store> Ipam<S> {
    /// Usage of `pools` and of every stored block.
    pub async fn show(&self, pools: &[Pool]) -> Result<Usage, IpamError> {
        let mut usage = Usage {
            pools: pools
                .iter()
                .map(|p| PoolUsage {
                    cidr: p.cidr(),
                    total: p.size(),
                    in_use: 0,
                    free: p.size(),
                    blocks: Vec::new(),
                })
                .collect(),
            outside_pools: Vec::new(),
        };
        for stored in self.blocks().await? {
            let b = &stored.block;
            let row = BlockUsage {
                cidr: b.cidr,
                affinity: b.affinity.clone(),
                total: b.size(),
                in_use: b.in_use(),
                free: b.free_count(),
            };
            match pools.iter().position(|p| p.contains_net(&b.cidr)) {
                Some(i) => {
                    let pool = &mut usage.pools[i];
                    pool.in_use += u128::from(row.in_use);
                    pool.free -= u128::from(row.in_use);
                    pool.blocks.push(row);
                }
                None => usage.outside_pools.push(row),
            }
        }
        Ok(usage)
    }
}
