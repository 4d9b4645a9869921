//! `check` and `release` (repair), for `margayctl ipam check|release`.
//!
//! `check` reads all of `ipam/` in one listing (one consistent revision) and reports:
//! - leaked addresses: held by handles the caller does not know to be alive;
//! - handle mismatches: a handle record's count for a block differs from the block's
//!   allocations (including allocations with no record and records with no allocations);
//! - affinities without a block (e.g. a claim that crashed between its two phases) or whose
//!   block belongs to another node;
//! - blocks without a confirmed affinity for their node;
//! - values that cannot be decoded.
//!
//! Blocks are the source of truth. `release` fixes what the report lists, each fix a CAS
//! write guarded by what was seen, so it cannot undo concurrent work; whatever changed
//! meanwhile is skipped and shows up in the next `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::allocator::AFFINITY_CONFIRMED;
use crate::block::Block;
use crate::error::IpamError;
use crate::handle::HandleRecord;
use crate::ipam::Ipam;
use crate::kv::{Compare, Op, Store, Txn, TxnOutcome};
use crate::release::{AddressRelease, ReleaseGuard};

/// An address held by a handle that is not alive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeakedAddress {
    /// The address.
    pub addr: IpAddr,
    /// Its block.
    pub block: IpNetwork,
    /// The dead handle.
    pub handle: String,
    /// Assignment sequence (guards the release).
    pub sequence: u64,
}

/// A handle record disagreeing with a block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HandleMismatch {
    /// The handle.
    pub handle: String,
    /// The block (as text; it may not exist).
    pub block: String,
    /// What the handle record says.
    pub recorded: u32,
    /// What the block holds.
    pub actual: u32,
}

/// An affinity key with no matching block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrphanAffinity {
    /// The node.
    pub node: String,
    /// The block CIDR.
    pub block: IpNetwork,
    /// `pending` or `confirmed` (or whatever was stored).
    pub state: String,
    /// The block's node when the block exists but is someone else's.
    pub block_owner: Option<String>,
    /// For the guarded delete.
    pub mod_revision: i64,
}

/// A block whose node has no confirmed affinity for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnconfirmedBlock {
    /// The block.
    pub block: IpNetwork,
    /// Its node (`None`: affine to nobody).
    pub node: Option<String>,
    /// The affinity as stored (`None`: absent).
    pub affinity_state: Option<String>,
    /// Addresses in use.
    pub in_use: u32,
    /// Block revision seen.
    pub mod_revision: i64,
    /// Affinity revision seen (0: absent).
    pub affinity_revision: i64,
}

/// A value that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CorruptValue {
    /// The key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Revision the snapshot was taken at.
    pub revision: i64,
    /// Addresses held by dead handles (only when live handles were given).
    pub leaked: Vec<LeakedAddress>,
    /// Handle records disagreeing with blocks.
    pub handle_mismatches: Vec<HandleMismatch>,
    /// Affinities without their block.
    pub orphan_affinities: Vec<OrphanAffinity>,
    /// Blocks without a confirmed affinity.
    pub unconfirmed_blocks: Vec<UnconfirmedBlock>,
    /// Undecodable values.
    pub corrupt: Vec<CorruptValue>,
}

impl CheckReport {
    /// Nothing to report.
    pub fn is_clean(&self) -> bool {
        self.leaked.is_empty()
            && self.handle_mismatches.is_empty()
            && self.orphan_affinities.is_empty()
            && self.unconfirmed_blocks.is_empty()
            && self.corrupt.is_empty()
    }
}

/// What `release` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairOutcome {
    /// Leaked addresses freed.
    pub released_addresses: usize,
    /// Handle records rewritten or deleted.
    pub fixed_handles: usize,
    /// Orphan affinities deleted.
    pub deleted_affinities: usize,
    /// Affinities confirmed (or empty unowned blocks deleted).
    pub fixed_blocks: usize,
    /// Fixes not applied because the state changed since the check, or that need a human.
    pub skipped: Vec<String>,
}

struct Snapshot {
    revision: i64,
    blocks: BTreeMap<IpNetwork, (Block, i64)>,
    affinities: BTreeMap<(String, IpNetwork), (String, i64)>,
    handles: BTreeMap<String, (HandleRecord, i64)>,
    corrupt: Vec<CorruptValue>,
}

impl<S: Store> Ipam<S> {
    async fn snapshot(&self) -> Result<Snapshot, IpamError> {
        let listing = self.store.list(&self.keys.ipam()).await?;
        let mut snap = Snapshot {
            revision: listing.revision,
            blocks: BTreeMap::new(),
            affinities: BTreeMap::new(),
            handles: BTreeMap::new(),
            corrupt: Vec::new(),
        };
        for kv in listing.kvs {
            let corrupt = |reason: String| CorruptValue {
                key: kv.key.clone(),
                reason,
            };
            if let Some(cidr) = self.keys.parse_block(&kv.key) {
                match Block::decode(&kv.value) {
                    Ok(block) if block.cidr == cidr => {
                        snap.blocks.insert(cidr, (block, kv.mod_revision));
                    }
                    Ok(block) => snap.corrupt.push(corrupt(format!(
                        "holds block {} under the key of {cidr}",
                        block.cidr
                    ))),
                    Err(reason) => snap.corrupt.push(corrupt(reason)),
                }
            } else if let Some((node, cidr)) = self.keys.parse_affinity(&kv.key) {
                let state = String::from_utf8_lossy(&kv.value).into_owned();
                snap.affinities
                    .insert((node, cidr), (state, kv.mod_revision));
            } else if let Some(handle) = self.keys.parse_handle(&kv.key) {
                match HandleRecord::decode(&kv.value) {
                    Ok(record) => {
                        snap.handles
                            .insert(handle.to_owned(), (record, kv.mod_revision));
                    }
                    Err(reason) => snap.corrupt.push(corrupt(reason)),
                }
            } else {
                snap.corrupt.push(corrupt("unknown key under ipam/".into()));
            }
        }
        Ok(snap)
    }

    /// Checks IPAM consistency. With `live_handles`, every address held by another handle is
    /// reported as leaked.
    pub async fn check(
        &self,
        live_handles: Option<&BTreeSet<String>>,
    ) -> Result<CheckReport, IpamError> {
        let snap = self.snapshot().await?;
        let mut report = CheckReport {
            revision: snap.revision,
            corrupt: snap.corrupt.clone(),
            ..Default::default()
        };
        let mut actual: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (cidr, (block, _)) in &snap.blocks {
            for (ordinal, alloc) in &block.allocations {
                *actual
                    .entry((alloc.handle.clone(), cidr.to_string()))
                    .or_default() += 1;
                if let Some(live) = live_handles
                    && !live.contains(&alloc.handle)
                {
                    report.leaked.push(LeakedAddress {
                        addr: block.addr(*ordinal),
                        block: *cidr,
                        handle: alloc.handle.clone(),
                        sequence: alloc.sequence,
                    });
                }
            }
        }
        let mut recorded: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (handle, (record, _)) in &snap.handles {
            if record.is_empty() {
                recorded.insert((handle.clone(), String::new()), 0);
            }
            for (block, count) in &record.blocks {
                recorded.insert((handle.clone(), block.clone()), *count);
            }
        }
        let pairs: BTreeSet<&(String, String)> = actual.keys().chain(recorded.keys()).collect();
        for pair in pairs {
            let a = actual.get(pair).copied().unwrap_or(0);
            let r = recorded.get(pair).copied().unwrap_or(0);
            let empty_record = pair.1.is_empty();
            if a != r || empty_record {
                report.handle_mismatches.push(HandleMismatch {
                    handle: pair.0.clone(),
                    block: pair.1.clone(),
                    recorded: r,
                    actual: a,
                });
            }
        }
        for ((node, cidr), (state, rev)) in &snap.affinities {
            let owner = snap.blocks.get(cidr).map(|(b, _)| b.affinity.clone());
            let matches = matches!(&owner, Some(Some(o)) if o == node);
            if !matches {
                report.orphan_affinities.push(OrphanAffinity {
                    node: node.clone(),
                    block: *cidr,
                    state: state.clone(),
                    block_owner: owner.flatten(),
                    mod_revision: *rev,
                });
            }
        }
        for (cidr, (block, rev)) in &snap.blocks {
            let affinity = block
                .affinity
                .as_ref()
                .and_then(|node| snap.affinities.get(&(node.clone(), *cidr)));
            if affinity.is_none_or(|(state, _)| state != AFFINITY_CONFIRMED) {
                report.unconfirmed_blocks.push(UnconfirmedBlock {
                    block: *cidr,
                    node: block.affinity.clone(),
                    affinity_state: affinity.map(|(s, _)| s.clone()),
                    in_use: block.in_use(),
                    mod_revision: *rev,
                    affinity_revision: affinity.map_or(0, |(_, r)| *r),
                });
            }
        }
        Ok(report)
    }

    /// Repairs what `report` lists (see the module docs). Run `check` again to confirm.
    pub async fn release(&self, report: &CheckReport) -> Result<RepairOutcome, IpamError> {
        let mut outcome = RepairOutcome::default();
        for leak in &report.leaked {
            let guard = ReleaseGuard {
                handle: Some(leak.handle.clone()),
                sequence: Some(leak.sequence),
            };
            match self.release_address(leak.addr, &guard).await? {
                AddressRelease::Released(_) => outcome.released_addresses += 1,
                other => outcome
                    .skipped
                    .push(format!("leaked {} ({}): {other:?}", leak.addr, leak.handle)),
            }
        }
        if !report.handle_mismatches.is_empty() {
            // Fresh state: the releases above changed blocks and handles.
            let snap = self.snapshot().await?;
            let handles: BTreeSet<&String> =
                report.handle_mismatches.iter().map(|m| &m.handle).collect();
            for handle in handles {
                let mut truth = HandleRecord::default();
                for (cidr, (block, _)) in &snap.blocks {
                    let n = block.ordinals_of(handle).len() as u32;
                    if n > 0 {
                        truth.add(&cidr.to_string(), n);
                    }
                }
                let key = self.keys.handle(handle);
                let stored = snap.handles.get(handle.as_str());
                let up_to_date = match stored {
                    Some((record, _)) => *record == truth && !truth.is_empty(),
                    None => truth.is_empty(),
                };
                if up_to_date {
                    continue;
                }
                let mut compares: Vec<Compare> = snap
                    .blocks
                    .iter()
                    .filter(|(c, _)| truth.blocks.contains_key(&c.to_string()))
                    .map(|(c, (_, rev))| Compare::ModRevision(self.keys.block(c), *rev))
                    .collect();
                compares.push(match stored {
                    Some((_, rev)) => Compare::ModRevision(key.clone(), *rev),
                    None => Compare::Absent(key.clone()),
                });
                let write = if truth.is_empty() {
                    Op::Delete(key)
                } else {
                    Op::Put(key, truth.encode())
                };
                match self.store.txn(Txn::guarded(compares, vec![write])).await? {
                    TxnOutcome::Committed { .. } => outcome.fixed_handles += 1,
                    TxnOutcome::Conflict { .. } => outcome
                        .skipped
                        .push(format!("handle {handle}: changed meanwhile")),
                }
            }
        }
        for orphan in &report.orphan_affinities {
            let key = self.keys.affinity(&orphan.node, &orphan.block);
            let txn = Txn::guarded(
                vec![Compare::ModRevision(key.clone(), orphan.mod_revision)],
                vec![Op::Delete(key)],
            );
            match self.store.txn(txn).await? {
                TxnOutcome::Committed { .. } => outcome.deleted_affinities += 1,
                TxnOutcome::Conflict { .. } => outcome.skipped.push(format!(
                    "affinity {}/{}: changed meanwhile",
                    orphan.node, orphan.block
                )),
            }
        }
        for unconfirmed in &report.unconfirmed_blocks {
            let block_key = self.keys.block(&unconfirmed.block);
            // Fresh read: releases above may have changed the block; what must still hold is
            // that it belongs to the same node (and, for the delete, is still empty).
            let Some(current) = self.block(&unconfirmed.block).await? else {
                continue;
            };
            if current.block.affinity != unconfirmed.node {
                outcome.skipped.push(format!(
                    "block {}: changed owner meanwhile",
                    unconfirmed.block
                ));
                continue;
            }
            let guard_block = Compare::ModRevision(block_key.clone(), current.mod_revision);
            let txn = match &unconfirmed.node {
                Some(node) => {
                    let key = self.keys.affinity(node, &unconfirmed.block);
                    let guard_affinity = if unconfirmed.affinity_revision == 0 {
                        Compare::Absent(key.clone())
                    } else {
                        Compare::ModRevision(key.clone(), unconfirmed.affinity_revision)
                    };
                    Txn::guarded(
                        vec![guard_block, guard_affinity],
                        vec![Op::Put(key, AFFINITY_CONFIRMED.into())],
                    )
                }
                None if current.block.in_use() == 0 => {
                    Txn::guarded(vec![guard_block], vec![Op::Delete(block_key)])
                }
                None => {
                    outcome.skipped.push(format!(
                        "block {} is affine to no node and holds {} address(es): release them first",
                        unconfirmed.block,
                        current.block.in_use()
                    ));
                    continue;
                }
            };
            match self.store.txn(txn).await? {
                TxnOutcome::Committed { .. } => outcome.fixed_blocks += 1,
                TxnOutcome::Conflict { .. } => outcome
                    .skipped
                    .push(format!("block {}: changed meanwhile", unconfirmed.block)),
            }
        }
        for corrupt in &report.corrupt {
            outcome.skipped.push(format!(
                "{}: corrupt ({}), not touched",
                corrupt.key, corrupt.reason
            ));
        }
        Ok(outcome)
    }
}

impl std::fmt::Display for CheckReport {
    /// The `margayctl ipam check` report: one line per finding, or `clean`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_clean() {
            return writeln!(f, "clean (revision {})", self.revision);
        }
        for l in &self.leaked {
            writeln!(
                f,
                "leaked address {} in {} held by dead handle {} (sequence {})",
                l.addr, l.block, l.handle, l.sequence
            )?;
        }
        for m in &self.handle_mismatches {
            let block = if m.block.is_empty() {
                "(none)"
            } else {
                m.block.as_str()
            };
            writeln!(
                f,
                "handle {} records {} address(es) in block {block}, the block holds {}",
                m.handle, m.recorded, m.actual
            )?;
        }
        for o in &self.orphan_affinities {
            match &o.block_owner {
                Some(owner) => writeln!(
                    f,
                    "{} affinity of node {} for {} whose block belongs to {owner}",
                    o.state, o.node, o.block
                )?,
                None => writeln!(
                    f,
                    "{} affinity of node {} for {} without a block",
                    o.state, o.node, o.block
                )?,
            }
        }
        for u in &self.unconfirmed_blocks {
            writeln!(
                f,
                "block {} of node {} ({} in use) has affinity {}",
                u.block,
                u.node.as_deref().unwrap_or("(none)"),
                u.in_use,
                u.affinity_state.as_deref().unwrap_or("(absent)")
            )?;
        }
        for c in &self.corrupt {
            writeln!(f, "corrupt value at {}: {}", c.key, c.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_name_each_finding() {
        let report = CheckReport {
            revision: 7,
            leaked: vec![LeakedAddress {
                addr: "10.0.0.5".parse().unwrap(),
                block: "10.0.0.0/26".parse().unwrap(),
                handle: "pod-1".into(),
                sequence: 9,
            }],
            orphan_affinities: vec![OrphanAffinity {
                node: "node-z".into(),
                block: "10.0.0.64/26".parse().unwrap(),
                state: "pending".into(),
                block_owner: None,
                mod_revision: 3,
            }],
            ..Default::default()
        };
        assert_eq!(
            report.to_string(),
            "leaked address 10.0.0.5 in 10.0.0.0/26 held by dead handle pod-1 (sequence 9)\n\
             pending affinity of node node-z for 10.0.0.64/26 without a block\n"
        );
        assert_eq!(
            CheckReport {
                revision: 3,
                ..Default::default()
            }
            .to_string(),
            "clean (revision 3)\n"
        );
    }
}
