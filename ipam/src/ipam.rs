//! `Ipam`: cluster-level IPAM over a [`Store`] — the entry point for the node agent (which
//! takes an [`Allocator`] for its own node), for `margay-cni` (release) and for
//! `margayctl ipam show|check|release`.

use std::net::IpAddr;
use std::sync::Arc;

use ipnetwork::IpNetwork;

use crate::allocator::Allocator;
use crate::block::Block;
use crate::config::IpamConfig;
use crate::error::IpamError;
use crate::handle::{HandleRecord, check_handle, check_node};
use crate::keys::Keys;
use crate::kv::{KeyValue, Store};
use crate::pool::Pool;

/// How many times a compare-and-swap loop retries before giving up.
pub const MAX_CAS_ATTEMPTS: u32 = 64;

/// IPAM over one store and key prefix.
#[derive(Debug)]
pub struct Ipam<S> {
    pub(crate) store: Arc<S>,
    pub(crate) keys: Keys,
    pub(crate) config: IpamConfig,
}

impl<S> Clone for Ipam<S> {
    fn clone(&self) -> Self {
        Ipam {
            store: Arc::clone(&self.store),
            keys: self.keys.clone(),
            config: self.config,
        }
    }
}

/// A stored block with the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The block.
    pub block: Block,
    /// Its `mod_revision`.
    pub mod_revision: i64,
}

pub(crate) fn decode_block(kv: &KeyValue) -> Result<Block, IpamError> {
    Block::decode(&kv.value).map_err(|reason| IpamError::Corrupt {
        key: kv.key.clone(),
        reason,
    })
}

pub(crate) fn decode_handle(kv: &KeyValue) -> Result<HandleRecord, IpamError> {
    HandleRecord::decode(&kv.value).map_err(|reason| IpamError::Corrupt {
        key: kv.key.clone(),
        reason,
    })
}

impl<S: Store> Ipam<S> {
    /// IPAM on `store` under `keys` with `config`.
    pub fn new(store: Arc<S>, keys: Keys, config: IpamConfig) -> Self {
        Ipam {
            store,
            keys,
            config,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The settings.
    pub fn config(&self) -> IpamConfig {
        self.config
    }

    /// An allocator for `node`, assigning from `pools` (the pools whose node selector picks
    /// this node; disabled ones are skipped).
    pub fn allocator(&self, node: &str, pools: Vec<Pool>) -> Result<Allocator<S>, IpamError> {
        check_node(node)?;
        Ok(Allocator::new(self.clone(), node.to_owned(), pools))
    }

    /// One block.
    pub async fn block(&self, cidr: &IpNetwork) -> Result<Option<StoredBlock>, IpamError> {
        let Some(kv) = self.store.get(&self.keys.block(cidr)).await? else {
            return Ok(None);
        };
        Ok(Some(StoredBlock {
            block: decode_block(&kv)?,
            mod_revision: kv.mod_revision,
        }))
    }

    /// Every block (for the node agent: remote blocks and their nodes).
    pub async fn blocks(&self) -> Result<Vec<StoredBlock>, IpamError> {
        let listing = self.store.list(&self.keys.blocks()).await?;
        listing
            .kvs
            .iter()
            .map(|kv| {
                Ok(StoredBlock {
                    block: decode_block(kv)?,
                    mod_revision: kv.mod_revision,
                })
            })
            .collect()
    }

    /// The addresses `handle` holds, in block order.
    pub async fn addresses_of(&self, handle: &str) -> Result<Vec<IpAddr>, IpamError> {
        check_handle(handle)?;
        let Some(kv) = self.store.get(&self.keys.handle(handle)).await? else {
            return Ok(Vec::new());
        };
        let record = decode_handle(&kv)?;
        let mut addrs = Vec::new();
        for cidr in record.blocks.keys() {
            let net: IpNetwork = cidr.parse().map_err(|_| IpamError::Corrupt {
                key: kv.key.clone(),
                reason: format!("block {cidr:?} is not a CIDR"),
            })?;
            if let Some(stored) = self.block(&net).await? {
                let b = &stored.block;
                addrs.extend(b.ordinals_of(handle).into_iter().map(|o| b.addr(o)));
            }
        }
        Ok(addrs)
    }
}
