//! `Allocator`: one node's address assignment.
//!
//! Steady state (a cached affine block with room): ONE transaction —
//! `if block.mod_revision == cached && handle absent (or unchanged) then put block, put handle
//! else get block, get handle`. A conflict costs no extra round trip: the failure branch
//! returns the current block and handle, and the loop retries on them. The same handle always
//! gets the same address back (the handle record points at its block).
//!
//! A new block is claimed in two phases (DESIGN §6, so a crash between them is recoverable):
//! 1. `if block absent && my affinity absent then put affinities/<node>/<cidr> = pending`
//! 2. `if block absent && affinity unchanged then put block (affinity = node),
//!     put affinity = confirmed`
//!
//! If phase 2 loses (another node created the block) the pending affinity is deleted. A crash
//! between the phases leaves a pending affinity without a block: the node finishes it at its
//! next claim, `check` reports it, `release` removes it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use ipnetwork::IpNetwork;
use rand::Rng;

use crate::block::Block;
use crate::error::IpamError;
use crate::handle::{HandleRecord, check_handle};
use crate::ipam::{Ipam, MAX_CAS_ATTEMPTS, StoredBlock, decode_block, decode_handle};
use crate::kv::backoff::Backoff;
use crate::kv::{Compare, KeyValue, Op, Store, Txn, TxnOutcome};
use crate::pool::{IpFamily, Pool};

/// Affinity value of phase 1.
pub const AFFINITY_PENDING: &str = "pending";
/// Affinity value of phase 2.
pub const AFFINITY_CONFIRMED: &str = "confirmed";

/// One assigned address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The address.
    pub addr: IpAddr,
    /// Its block.
    pub block: IpNetwork,
    /// The handle holding it.
    pub handle: String,
    /// The block sequence number of the assignment (give it back to `release_address` so a
    /// late release cannot free a reassigned address).
    pub sequence: u64,
}

/// Assigns addresses for one node from its affine blocks.
#[derive(Debug)]
pub struct Allocator<S> {
    ipam: Ipam<S>,
    node: String,
    pools: Vec<Pool>,
    cache: Mutex<HashMap<IpNetwork, StoredBlock>>,
    claim_lock: tokio::sync::Mutex<()>,
}

enum HandleState {
    Unknown,
    Absent,
    Present(KeyValue),
}

impl<S: Store> Allocator<S> {
    pub(crate) fn new(ipam: Ipam<S>, node: String, pools: Vec<Pool>) -> Self {
        Allocator {
            ipam,
            node,
            pools,
            cache: Mutex::new(HashMap::new()),
            claim_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The IPAM this allocator works in.
    pub fn ipam(&self) -> &Ipam<S> {
        &self.ipam
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<IpNetwork, StoredBlock>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn usable_pools(&self, family: IpFamily) -> Vec<&Pool> {
        self.pools
            .iter()
            .filter(|p| p.family() == family && !p.is_disabled())
            .collect()
    }

    fn in_usable_pool(&self, cidr: &IpNetwork) -> bool {
        self.pools
            .iter()
            .any(|p| !p.is_disabled() && p.contains_net(cidr))
    }

    /// Remembers a block we read or wrote (or forgets it when it is gone or not ours).
    fn remember(&self, cidr: IpNetwork, stored: Option<StoredBlock>) {
        let mut cache = self.cache();
        match stored {
            Some(s)
                if s.block.affinity.as_deref() == Some(self.node.as_str())
                    || !self.ipam.config.strict_affinity =>
            {
                cache.insert(cidr, s);
            }
            _ => {
                cache.remove(&cidr);
            }
        }
    }

    fn pick_cached(&self, family: IpFamily) -> Option<(IpNetwork, StoredBlock)> {
        let cache = self.cache();
        let mut candidates: Vec<_> = cache
            .iter()
            .filter(|(cidr, s)| {
                s.block.family() == family && s.block.free_count() > 0 && self.in_usable_pool(cidr)
            })
            .collect();
        candidates.sort_by_key(|(cidr, _)| **cidr);
        candidates
            .first()
            .map(|(cidr, stored)| (**cidr, (*stored).clone()))
    }

    /// The node's affine blocks, as currently stored.
    pub async fn blocks(&self) -> Result<Vec<StoredBlock>, IpamError> {
        self.refresh().await?;
        let mut blocks: Vec<StoredBlock> = self.cache().values().cloned().collect();
        blocks.sort_by_key(|s| s.block.cidr);
        Ok(blocks)
    }

    /// Reloads the node's confirmed affine blocks from the store.
    async fn refresh(&self) -> Result<(), IpamError> {
        let keys = &self.ipam.keys;
        let listing = self
            .ipam
            .store
            .list(&keys.node_affinities(&self.node))
            .await?;
        let mut fresh = HashMap::new();
        for kv in &listing.kvs {
            if kv.value != AFFINITY_CONFIRMED.as_bytes() {
                continue;
            }
            let Some((_, cidr)) = keys.parse_affinity(&kv.key) else {
                continue;
            };
            if let Some(stored) = self.ipam.block(&cidr).await?
                && stored.block.affinity.as_deref() == Some(self.node.as_str())
            {
                fresh.insert(cidr, stored);
            }
        }
        let mut cache = self.cache();
        cache.retain(|_, s| s.block.affinity.as_deref() != Some(self.node.as_str()));
        cache.extend(fresh);
        Ok(())
    }

    /// Assigns an address of `family` to `handle`, or returns the one it already has.
    pub async fn assign(&self, handle: &str, family: IpFamily) -> Result<Assignment, IpamError> {
        check_handle(handle)?;
        if self.usable_pools(family).is_empty() {
            return Err(IpamError::NoPool {
                family,
                node: self.node.clone(),
            });
        }
        let keys = &self.ipam.keys;
        let handle_key = keys.handle(handle);
        let mut handle_state = HandleState::Unknown;
        let mut refreshed = false;
        let mut backoff = Backoff::conflicts();
        for attempt in 0..MAX_CAS_ATTEMPTS {
            if let HandleState::Present(kv) = &handle_state
                && let Some(found) = self.existing_assignment(handle, family, kv).await?
            {
                return Ok(found);
            }
            let (cidr, stored) = match self.pick_cached(family) {
                Some(choice) => choice,
                None if !refreshed => {
                    self.refresh().await?;
                    refreshed = true;
                    continue;
                }
                None => self.claim_or_borrow(family).await?,
            };
            let mut block = stored.block.clone();
            let (ordinal, sequence) = block
                .allocate(handle)
                .expect("picked blocks have a free address");
            let mut record = match &handle_state {
                HandleState::Present(kv) => decode_handle(kv)?,
                _ => HandleRecord::default(),
            };
            record.add(&cidr.to_string(), 1);
            let block_key = keys.block(&cidr);
            let handle_guard = match &handle_state {
                HandleState::Present(kv) => {
                    Compare::ModRevision(handle_key.clone(), kv.mod_revision)
                }
                _ => Compare::Absent(handle_key.clone()),
            };
            let txn = Txn::guarded(
                vec![
                    Compare::ModRevision(block_key.clone(), stored.mod_revision),
                    handle_guard,
                ],
                vec![
                    Op::Put(block_key.clone(), block.encode()),
                    Op::Put(handle_key.clone(), record.encode()),
                ],
            );
            match self.ipam.store.txn(txn).await? {
                TxnOutcome::Committed { revision } => {
                    let addr = block.addr(ordinal);
                    self.remember(
                        cidr,
                        Some(StoredBlock {
                            block,
                            mod_revision: revision,
                        }),
                    );
                    tracing::debug!(node = %self.node, %handle, %addr, %cidr, "assigned");
                    return Ok(Assignment {
                        addr,
                        block: cidr,
                        handle: handle.to_owned(),
                        sequence,
                    });
                }
                TxnOutcome::Conflict { current } => {
                    let mut block_changed = false;
                    for (key, kv) in current {
                        if key == block_key {
                            let fresh = kv
                                .map(|kv| {
                                    Ok::<_, IpamError>(StoredBlock {
                                        block: decode_block(&kv)?,
                                        mod_revision: kv.mod_revision,
                                    })
                                })
                                .transpose()?;
                            block_changed =
                                fresh.as_ref().map(|f| f.mod_revision) != Some(stored.mod_revision);
                            self.remember(cidr, fresh);
                        } else if key == handle_key {
                            handle_state = match kv {
                                Some(kv) => HandleState::Present(kv),
                                None => HandleState::Absent,
                            };
                        }
                    }
                    if block_changed && attempt > 0 {
                        backoff.wait().await;
                    }
                }
            }
        }
        Err(IpamError::TooManyConflicts {
            what: format!("an address for handle {handle}"),
            attempts: MAX_CAS_ATTEMPTS,
        })
    }

    /// The address of `family` that the stored handle already holds, if any.
    async fn existing_assignment(
        &self,
        handle: &str,
        family: IpFamily,
        kv: &KeyValue,
    ) -> Result<Option<Assignment>, IpamError> {
        let record = decode_handle(kv)?;
        for cidr_text in record.blocks.keys() {
            let Ok(cidr) = cidr_text.parse::<IpNetwork>() else {
                continue;
            };
            if IpFamily::of_net(&cidr) != family {
                continue;
            }
            let Some(stored) = self.ipam.block(&cidr).await? else {
                return Err(IpamError::HandleInconsistent {
                    handle: handle.to_owned(),
                    block: cidr_text.clone(),
                });
            };
            let found = stored
                .block
                .allocations
                .iter()
                .find(|(_, a)| a.handle == handle)
                .map(|(o, a)| (*o, a.sequence));
            let Some((ordinal, sequence)) = found else {
                return Err(IpamError::HandleInconsistent {
                    handle: handle.to_owned(),
                    block: cidr_text.clone(),
                });
            };
            return Ok(Some(Assignment {
                addr: stored.block.addr(ordinal),
                block: cidr,
                handle: handle.to_owned(),
                sequence,
            }));
        }
        Ok(None)
    }

    /// A block with room: a newly claimed one, or (without strict affinity) someone else's.
    async fn claim_or_borrow(
        &self,
        family: IpFamily,
    ) -> Result<(IpNetwork, StoredBlock), IpamError> {
        let _claiming = self.claim_lock.lock().await;
        if let Some(choice) = self.pick_cached(family) {
            return Ok(choice);
        }
        match self.claim(family).await {
            Ok(stored) => {
                let cidr = stored.block.cidr;
                self.remember(cidr, Some(stored.clone()));
                Ok((cidr, stored))
            }
            Err(e @ (IpamError::PoolExhausted { .. } | IpamError::BlockLimit { .. }))
                if !self.ipam.config.strict_affinity =>
            {
                self.borrow(family).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Finds a non-affine block with room (only without strict affinity).
    async fn borrow(
        &self,
        family: IpFamily,
    ) -> Result<Option<(IpNetwork, StoredBlock)>, IpamError> {
        for stored in self.ipam.blocks().await? {
            let cidr = stored.block.cidr;
            if stored.block.family() == family
                && stored.block.free_count() > 0
                && self.in_usable_pool(&cidr)
            {
                self.cache().insert(cidr, stored.clone());
                return Ok(Some((cidr, stored)));
            }
        }
        Ok(None)
    }

    /// Claims a new block of `family` for this node (finishing its own pending claims first).
    async fn claim(&self, family: IpFamily) -> Result<StoredBlock, IpamError> {
        let keys = &self.ipam.keys;
        let store = &self.ipam.store;
        let mine = store.list(&keys.node_affinities(&self.node)).await?;
        for kv in &mine.kvs {
            let Some((_, cidr)) = keys.parse_affinity(&kv.key) else {
                continue;
            };
            if IpFamily::of_net(&cidr) == family && kv.value == AFFINITY_PENDING.as_bytes() {
                tracing::info!(node = %self.node, %cidr, "finishing a pending block claim");
                if let Some(stored) = self.confirm(cidr, kv.mod_revision).await?
                    && stored.block.free_count() > 0
                {
                    return Ok(stored);
                }
            }
        }
        let held = self.affine_block_count(family).await?;
        if let Some(limit) = self.ipam.config.max_blocks_per_node
            && held >= limit
        {
            return Err(IpamError::BlockLimit {
                node: self.node.clone(),
                family,
                held,
                limit,
            });
        }
        let pools = self.usable_pools(family);
        let existing: HashSet<IpNetwork> = store
            .list_keys(&keys.blocks())
            .await?
            .kvs
            .iter()
            .filter_map(|kv| keys.parse_block(&kv.key))
            .collect();
        let reserved: HashSet<IpNetwork> = store
            .list_keys(&keys.affinities())
            .await?
            .kvs
            .iter()
            .filter_map(|kv| keys.parse_affinity(&kv.key).map(|(_, c)| c))
            .collect();
        for pool in &pools {
            let count = pool.block_count();
            let taken = existing
                .union(&reserved)
                .filter(|c| pool.contains_net(c))
                .count() as u128;
            if taken >= count {
                continue;
            }
            // A random start spreads concurrent claimers over the pool.
            let start = rand::rng().random_range(0..count);
            for i in 0..count {
                let Some(cidr) = pool.block_at((start + i) % count) else {
                    continue;
                };
                if existing.contains(&cidr) || reserved.contains(&cidr) {
                    continue;
                }
                if let Some(stored) = self.claim_one(cidr).await? {
                    return Ok(stored);
                }
            }
        }
        Err(IpamError::PoolExhausted {
            family,
            node: self.node.clone(),
            pools: pools
                .iter()
                .map(|p| p.cidr().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    async fn affine_block_count(&self, family: IpFamily) -> Result<u32, IpamError> {
        let listing = self
            .ipam
            .store
            .list_keys(&self.ipam.keys.node_affinities(&self.node))
            .await?;
        Ok(listing
            .kvs
            .iter()
            .filter_map(|kv| self.ipam.keys.parse_affinity(&kv.key))
            .filter(|(_, c)| IpFamily::of_net(c) == family)
            .count() as u32)
    }

    /// Both phases for one candidate; `None` when another node got there first.
    async fn claim_one(&self, cidr: IpNetwork) -> Result<Option<StoredBlock>, IpamError> {
        let keys = &self.ipam.keys;
        let block_key = keys.block(&cidr);
        let affinity_key = keys.affinity(&self.node, &cidr);
        let phase1 = Txn::guarded(
            vec![
                Compare::Absent(block_key.clone()),
                Compare::Absent(affinity_key.clone()),
            ],
            vec![Op::Put(affinity_key, AFFINITY_PENDING.into())],
        );
        match self.ipam.store.txn(phase1).await? {
            TxnOutcome::Committed { revision } => self.confirm(cidr, revision).await,
            TxnOutcome::Conflict { .. } => Ok(None),
        }
    }

    /// Phase 2 for a pending affinity written at `affinity_revision`: create the block and
    /// confirm; if the block exists already, confirm it when it is ours, else withdraw.
    async fn confirm(
        &self,
        cidr: IpNetwork,
        affinity_revision: i64,
    ) -> Result<Option<StoredBlock>, IpamError> {
        let keys = &self.ipam.keys;
        let block_key = keys.block(&cidr);
        let affinity_key = keys.affinity(&self.node, &cidr);
        let block = Block::new(cidr, Some(&self.node));
        let phase2 = Txn::guarded(
            vec![
                Compare::Absent(block_key.clone()),
                Compare::ModRevision(affinity_key.clone(), affinity_revision),
            ],
            vec![
                Op::Put(block_key.clone(), block.encode()),
                Op::Put(affinity_key.clone(), AFFINITY_CONFIRMED.into()),
            ],
        );
        let current = match self.ipam.store.txn(phase2).await? {
            TxnOutcome::Committed { revision } => {
                tracing::info!(node = %self.node, %cidr, "claimed block");
                return Ok(Some(StoredBlock {
                    block,
                    mod_revision: revision,
                }));
            }
            TxnOutcome::Conflict { current } => current,
        };
        let existing = current
            .iter()
            .find(|(k, _)| *k == block_key)
            .and_then(|(_, kv)| kv.clone());
        let affinity_now = current
            .iter()
            .find(|(k, _)| *k == affinity_key)
            .and_then(|(_, kv)| kv.clone());
        let Some(affinity_now) = affinity_now.filter(|kv| kv.mod_revision == affinity_revision)
        else {
            // Someone (a repair) removed or changed our pending affinity: the claim is off.
            return Ok(None);
        };
        if let Some(kv) = existing {
            let stored = StoredBlock {
                block: decode_block(&kv)?,
                mod_revision: kv.mod_revision,
            };
            if stored.block.affinity.as_deref() == Some(self.node.as_str()) {
                let confirm = Txn::guarded(
                    vec![
                        Compare::ModRevision(affinity_key.clone(), affinity_now.mod_revision),
                        Compare::ModRevision(block_key, kv.mod_revision),
                    ],
                    vec![Op::Put(affinity_key, AFFINITY_CONFIRMED.into())],
                );
                if let TxnOutcome::Committed { .. } = self.ipam.store.txn(confirm).await? {
                    return Ok(Some(stored));
                }
                return Ok(None);
            }
        }
        let withdraw = Txn::guarded(
            vec![Compare::ModRevision(
                affinity_key.clone(),
                affinity_now.mod_revision,
            )],
            vec![Op::Delete(affinity_key)],
        );
        self.ipam.store.txn(withdraw).await?;
        Ok(None)
    }

    /// Releases every address of `handle` (see [`Ipam::release_handle`]), keeping this
    /// allocator's view of its blocks current.
    pub async fn release_handle(&self, handle: &str) -> Result<Vec<IpAddr>, IpamError> {
        let (addrs, blocks) = self.ipam.release_handle_blocks(handle).await?;
        for stored in blocks {
            self.remember(stored.block.cidr, Some(stored));
        }
        Ok(addrs)
    }
}
