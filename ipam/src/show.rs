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

impl std::fmt::Display for Usage {
    /// The `margayctl ipam show` table: one line per pool, its blocks indented below.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<28} {:<16} {:>22} {:>10} {:>22}",
            "CIDR", "NODE", "TOTAL", "IN USE", "FREE"
        )?;
        let blocks = |f: &mut std::fmt::Formatter<'_>, blocks: &[BlockUsage]| {
            for b in blocks {
                writeln!(
                    f,
                    "  {:<26} {:<16} {:>22} {:>10} {:>22}",
                    b.cidr.to_string(),
                    b.affinity.as_deref().unwrap_or("-"),
                    b.total,
                    b.in_use,
                    b.free
                )?;
            }
            Ok(())
        };
        for pool in &self.pools {
            writeln!(
                f,
                "{:<28} {:<16} {:>22} {:>10} {:>22}",
                pool.cidr.to_string(),
                "",
                pool.total,
                pool.in_use,
                pool.free
            )?;
            blocks(f, &pool.blocks)?;
        }
        if !self.outside_pools.is_empty() {
            writeln!(f, "blocks outside every pool:")?;
            blocks(f, &self.outside_pools)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_pools_then_their_blocks() {
        let usage = Usage {
            pools: vec![PoolUsage {
                cidr: "10.0.0.0/24".parse().unwrap(),
                total: 256,
                in_use: 3,
                free: 253,
                blocks: vec![BlockUsage {
                    cidr: "10.0.0.64/26".parse().unwrap(),
                    affinity: Some("node-a".into()),
                    total: 64,
                    in_use: 3,
                    free: 61,
                }],
            }],
            outside_pools: vec![],
        };
        let text = usage.to_string();
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            vec![
                vec!["CIDR", "NODE", "TOTAL", "IN", "USE", "FREE"],
                vec!["10.0.0.0/24", "256", "3", "253"],
                vec!["10.0.0.64/26", "node-a", "64", "3", "61"],
            ]
        );
    }
}
