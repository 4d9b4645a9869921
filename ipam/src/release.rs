//! Releasing addresses and blocks: by handle, by address (guarded by the assignment's
//! sequence number), empty blocks, and everything of a deleted node. Every write is a
//! compare-and-swap on the block and the handle record together, retried on conflict.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::block::Allocation;
use crate::error::IpamError;
use crate::handle::{HandleRecord, check_handle, check_node};
use crate::ipam::{Ipam, MAX_CAS_ATTEMPTS, StoredBlock, decode_block, decode_handle};
use crate::kv::backoff::Backoff;
use crate::kv::{Compare, Op, Store, Txn, TxnOutcome};

/// Most handles updated in one transaction (etcd's default `--max-txn-ops` is 128).
const HANDLES_PER_TXN: usize = 60;

/// What `release_address` must find for the release to go ahead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseGuard {
    /// The address must be held by this handle.
    pub handle: Option<String>,
    /// The address must have been assigned at this block sequence number.
    pub sequence: Option<u64>,
}

/// What `release_address` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRelease {
    /// Freed; it was held by this.
    Released(Allocation),
    /// The address was not assigned (already released); nothing to do.
    NotAssigned,
    /// The address is assigned, but not as the guard says (a stale release); left alone.
    Stale {
        /// Who holds it now.
        current: Allocation,
    },
}

/// What `release_node` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRelease {
    /// Addresses freed.
    pub addresses: usize,
    /// Blocks deleted.
    pub blocks: Vec<IpNetwork>,
    /// Affinities (pending or confirmed) deleted.
    pub affinities: usize,
}

fn handle_write(key: String, record: &HandleRecord) -> Op {
    if record.is_empty() {
        Op::Delete(key)
    } else {
        Op::Put(key, record.encode())
    }
}

impl<S: Store> Ipam<S> {
    /// Releases every address `handle` holds; returns them. Releasing an unknown handle is a
    /// no-op (CNI DEL must be idempotent).
    pub async fn release_handle(&self, handle: &str) -> Result<Vec<IpAddr>, IpamError> {
        Ok(self.release_handle_blocks(handle).await?.0)
    }

    /// `release_handle`, also returning the blocks as written.
    pub(crate) async fn release_handle_blocks(
        &self,
        handle: &str,
    ) -> Result<(Vec<IpAddr>, Vec<StoredBlock>), IpamError> {
        check_handle(handle)?;
        let handle_key = self.keys.handle(handle);
        let mut released = Vec::new();
        let mut written = Vec::new();
        let mut backoff = Backoff::conflicts();
        for _ in 0..MAX_CAS_ATTEMPTS {
            let Some(handle_kv) = self.store.get(&handle_key).await? else {
                return Ok((released, written));
            };
            let mut record = decode_handle(&handle_kv)?;
            let Some(cidr_text) = record.blocks.keys().next().cloned() else {
                let txn = Txn::guarded(
                    vec![Compare::ModRevision(
                        handle_key.clone(),
                        handle_kv.mod_revision,
                    )],
                    vec![Op::Delete(handle_key.clone())],
                );
                self.store.txn(txn).await?;
                continue;
            };
            let cidr: IpNetwork = cidr_text.parse().map_err(|_| IpamError::Corrupt {
                key: handle_key.clone(),
                reason: format!("block {cidr_text:?} is not a CIDR"),
            })?;
            record.blocks.remove(&cidr_text);
            let block_key = self.keys.block(&cidr);
            let mut compares = vec![Compare::ModRevision(
                handle_key.clone(),
                handle_kv.mod_revision,
            )];
            let mut writes = vec![handle_write(handle_key.clone(), &record)];
            let mut freed = Vec::new();
            let mut new_block = None;
            match self.store.get(&block_key).await? {
                None => compares.push(Compare::Absent(block_key.clone())),
                Some(kv) => {
                    let mut block = decode_block(&kv)?;
                    for ordinal in block.ordinals_of(handle) {
                        block.release(ordinal);
                        freed.push(block.addr(ordinal));
                    }
                    compares.push(Compare::ModRevision(block_key.clone(), kv.mod_revision));
                    writes.push(Op::Put(block_key.clone(), block.encode()));
                    new_block = Some(block);
                }
            }
            match self.store.txn(Txn::guarded(compares, writes)).await? {
                TxnOutcome::Committed { revision } => {
                    released.extend(freed);
                    written.extend(new_block.map(|block| StoredBlock {
                        block,
                        mod_revision: revision,
                    }));
                    if record.is_empty() {
                        return Ok((released, written));
                    }
                }
                TxnOutcome::Conflict { .. } => backoff.wait().await,
            }
        }
        Err(IpamError::TooManyConflicts {
            what: format!("releasing handle {handle}"),
            attempts: MAX_CAS_ATTEMPTS,
        })
    }

    /// The block holding `addr`, found by scanning block keys.
    async fn block_containing(&self, addr: IpAddr) -> Result<Option<IpNetwork>, IpamError> {
        let listing = self.store.list_keys(&self.keys.blocks()).await?;
        Ok(listing
            .kvs
            .iter()
            .filter_map(|kv| self.keys.parse_block(&kv.key))
            .find(|cidr| cidr.contains(addr)))
    }

    /// Releases one address if it is held as `guard` says (by that handle, assigned at that
    /// sequence); a release that comes too late finds another holder and does nothing.
    pub async fn release_address(
        &self,
        addr: IpAddr,
        guard: &ReleaseGuard,
    ) -> Result<AddressRelease, IpamError> {
        let Some(cidr) = self.block_containing(addr).await? else {
            return Ok(AddressRelease::NotAssigned);
        };
        let block_key = self.keys.block(&cidr);
        let mut backoff = Backoff::conflicts();
        for _ in 0..MAX_CAS_ATTEMPTS {
            let Some(block_kv) = self.store.get(&block_key).await? else {
                return Ok(AddressRelease::NotAssigned);
            };
            let mut block = decode_block(&block_kv)?;
            let ordinal = block
                .ordinal_of(addr)
                .ok_or(IpamError::NoBlockFor { addr })?;
            let Some(current) = block.allocations.get(&ordinal).cloned() else {
                return Ok(AddressRelease::NotAssigned);
            };
            let handle_matches = guard.handle.as_ref().is_none_or(|h| *h == current.handle);
            let sequence_matches = guard.sequence.is_none_or(|s| s == current.sequence);
            if !handle_matches || !sequence_matches {
                return Ok(AddressRelease::Stale { current });
            }
            block.release(ordinal);
            let handle_key = self.keys.handle(&current.handle);
            let mut compares = vec![Compare::ModRevision(
                block_key.clone(),
                block_kv.mod_revision,
            )];
            let mut writes = vec![Op::Put(block_key.clone(), block.encode())];
            match self.store.get(&handle_key).await? {
                None => compares.push(Compare::Absent(handle_key)),
                Some(kv) => {
                    let mut record = decode_handle(&kv)?;
                    record.remove(&cidr.to_string(), 1);
                    compares.push(Compare::ModRevision(handle_key.clone(), kv.mod_revision));
                    writes.push(handle_write(handle_key, &record));
                }
            }
            match self.store.txn(Txn::guarded(compares, writes)).await? {
                TxnOutcome::Committed { .. } => return Ok(AddressRelease::Released(current)),
                TxnOutcome::Conflict { .. } => backoff.wait().await,
            }
        }
        Err(IpamError::TooManyConflicts {
            what: format!("releasing {addr}"),
            attempts: MAX_CAS_ATTEMPTS,
        })
    }

    /// Deletes blocks without any assigned address (with their affinities); only those of
    /// `node` when given. Returns the blocks deleted.
    pub async fn release_empty_blocks(
        &self,
        node: Option<&str>,
    ) -> Result<Vec<IpNetwork>, IpamError> {
        let mut deleted = Vec::new();
        for stored in self.blocks().await? {
            let block = &stored.block;
            if block.in_use() > 0 || (node.is_some() && block.affinity.as_deref() != node) {
                continue;
            }
            let mut writes = vec![Op::Delete(self.keys.block(&block.cidr))];
            if let Some(owner) = &block.affinity {
                writes.push(Op::Delete(self.keys.affinity(owner, &block.cidr)));
            }
            let txn = Txn::guarded(
                vec![Compare::ModRevision(
                    self.keys.block(&block.cidr),
                    stored.mod_revision,
                )],
                writes,
            );
            if let TxnOutcome::Committed { .. } = self.store.txn(txn).await? {
                deleted.push(block.cidr);
            }
        }
        Ok(deleted)
    }

    /// Releases everything of a deleted node: every address in its blocks (updating the
    /// handles), the blocks, and all its affinities.
    pub async fn release_node(&self, node: &str) -> Result<NodeRelease, IpamError> {
        check_node(node)?;
        let mut outcome = NodeRelease::default();
        for stored in self.blocks().await? {
            if stored.block.affinity.as_deref() == Some(node) {
                outcome.addresses += self.empty_and_delete_block(node, stored.block.cidr).await?;
                outcome.blocks.push(stored.block.cidr);
                outcome.affinities += 1;
            }
        }
        let listing = self.store.list(&self.keys.node_affinities(node)).await?;
        for kv in listing.kvs {
            let txn = Txn::guarded(
                vec![Compare::ModRevision(kv.key.clone(), kv.mod_revision)],
                vec![Op::Delete(kv.key.clone())],
            );
            if let TxnOutcome::Committed { .. } = self.store.txn(txn).await? {
                outcome.affinities += 1;
            }
        }
        Ok(outcome)
    }

    /// Frees every address of one block (batches of handles per transaction), then deletes
    /// the block and its affinity. Returns the number of addresses freed.
    async fn empty_and_delete_block(
        &self,
        node: &str,
        cidr: IpNetwork,
    ) -> Result<usize, IpamError> {
        let block_key = self.keys.block(&cidr);
        let cidr_text = cidr.to_string();
        let mut freed = 0;
        let mut backoff = Backoff::conflicts();
        let mut conflicts = 0;
        // Batches that commit make progress; only conflicts count against the limit.
        while conflicts < MAX_CAS_ATTEMPTS {
            let Some(block_kv) = self.store.get(&block_key).await? else {
                return Ok(freed);
            };
            let mut block = decode_block(&block_kv)?;
            let mut compares = vec![Compare::ModRevision(
                block_key.clone(),
                block_kv.mod_revision,
            )];
            if block.allocations.is_empty() {
                let txn = Txn::guarded(
                    compares,
                    vec![
                        Op::Delete(block_key.clone()),
                        Op::Delete(self.keys.affinity(node, &cidr)),
                    ],
                );
                match self.store.txn(txn).await? {
                    TxnOutcome::Committed { .. } => return Ok(freed),
                    TxnOutcome::Conflict { .. } => {
                        conflicts += 1;
                        backoff.wait().await;
                        continue;
                    }
                }
            }
            let handles: BTreeSet<String> = block
                .allocations
                .values()
                .map(|a| a.handle.clone())
                .take(HANDLES_PER_TXN)
                .collect();
            let mut writes = Vec::new();
            let mut batch = 0;
            for handle in &handles {
                for ordinal in block.ordinals_of(handle) {
                    block.release(ordinal);
                    batch += 1;
                }
                let handle_key = self.keys.handle(handle);
                match self.store.get(&handle_key).await? {
                    None => compares.push(Compare::Absent(handle_key)),
                    Some(kv) => {
                        let mut record = decode_handle(&kv)?;
                        record.blocks.remove(&cidr_text);
                        compares.push(Compare::ModRevision(handle_key.clone(), kv.mod_revision));
                        writes.push(handle_write(handle_key, &record));
                    }
                }
            }
            writes.push(Op::Put(block_key.clone(), block.encode()));
            match self.store.txn(Txn::guarded(compares, writes)).await? {
                TxnOutcome::Committed { .. } => freed += batch,
                TxnOutcome::Conflict { .. } => {
                    conflicts += 1;
                    backoff.wait().await;
                }
            }
        }
        Err(IpamError::TooManyConflicts {
            what: format!("releasing block {cidr} of node {node}"),
            attempts: MAX_CAS_ATTEMPTS,
        })
    }
}
