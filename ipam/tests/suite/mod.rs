//! The IPAM and key-value test suite, generic over `Store`: `ipam_memory.rs` runs it on
//! `MemStore`, `ipam_etcd.rs` on a real etcd started by the harness. Each test is one `pub
//! async fn` here; `suite_tests!` instantiates them all for a store.

#![allow(dead_code)]

pub mod faulty;
pub mod kv;

pub use kv::{
    txn_create_update_delete_by_cas, watcher_delivers_events_and_resyncs_after_compaction,
};

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use margay_ipam::kv::counting::CountingStore;
use margay_ipam::kv::{Op, Store, StoreError, Txn, TxnOutcome};
use margay_ipam::{
    AddressRelease, IpFamily, Ipam, IpamConfig, IpamError, Keys, Pool, ReleaseGuard,
};

use faulty::FaultyStore;

/// Instantiates every suite test for one store: `$setup` is an async fn returning
/// `(guard, Arc<S>)`; the guard (e.g. the etcd process) lives as long as the test.
#[macro_export]
macro_rules! suite_tests {
    ($setup:path) => {
        $crate::suite_tests!($setup;
            txn_create_update_delete_by_cas,
            watcher_delivers_events_and_resyncs_after_compaction,
            assign_is_idempotent_and_addresses_distinct,
            ipv6_pool_uses_122_blocks_and_dual_stack_handles,
            block_claim_is_confirmed_and_affine,
            steady_state_assignment_is_one_transaction,
            stale_release_cannot_free_a_reassigned_address,
            pool_exhaustion_is_a_clear_error,
            block_limit_per_node_is_a_clear_error,
            borrowing_only_without_strict_affinity,
            release_handle_is_idempotent,
            empty_blocks_and_deleted_nodes_are_released,
            check_reports_each_inconsistency_and_release_repairs_it,
            crash_between_claim_phases_is_finished_by_the_node,
            crash_between_claim_phases_is_repaired_by_release,
            show_counts_per_pool_and_block,
            concurrent_allocators_get_distinct_addresses,
            custom_prefix_keeps_ipam_apart,
        );
    };
    ($setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, store) = $setup().await;
                suite::$name(store).await;
            }
        )*
    };
}

fn pool(cidr: &str, block: Option<u8>) -> Pool {
    Pool::new(cidr.parse().unwrap(), block).unwrap()
}

fn ipam<S: Store>(store: &Arc<S>, config: IpamConfig) -> Ipam<S> {
    Ipam::new(Arc::clone(store), Keys::default(), config)
}

fn handles(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

async fn assert_clean<S: Store>(ipam: &Ipam<S>, live: &BTreeSet<String>) {
    let report = ipam.check(Some(live)).await.unwrap();
    assert!(report.is_clean(), "check is not clean: {report:#?}");
}

pub async fn put<S: Store>(store: &S, key: &str, value: &str) -> i64 {
    let txn = Txn::guarded(vec![], vec![Op::Put(key.into(), value.as_bytes().to_vec())]);
    match store.txn(txn).await.unwrap() {
        TxnOutcome::Committed { revision } => revision,
        other => panic!("unguarded put: {other:?}"),
    }
}

pub async fn assign_is_idempotent_and_addresses_distinct<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let alloc = ipam
        .allocator("node-a", vec![pool("10.1.0.0/24", None)])
        .unwrap();
    let names = handles("pod", 100);
    let mut addrs = BTreeSet::new();
    let mut first = None;
    for h in &names {
        let a = alloc.assign(h, IpFamily::V4).await.unwrap();
        assert!(addrs.insert(a.addr), "{} given twice", a.addr);
        assert_eq!(a.block.prefix(), 26);
        first.get_or_insert(a);
    }
    assert_eq!(
        alloc.assign(&names[0], IpFamily::V4).await.unwrap(),
        first.unwrap()
    );
    // A fresh allocator (a restarted node) gets the same answer from the store.
    let restarted = ipam
        .allocator("node-a", vec![pool("10.1.0.0/24", None)])
        .unwrap();
    let again = restarted.assign(&names[42], IpFamily::V4).await.unwrap();
    assert_eq!(
        ipam.addresses_of(&names[42]).await.unwrap(),
        vec![again.addr]
    );
    assert_eq!(
        restarted.assign(&names[42], IpFamily::V4).await.unwrap(),
        again
    );
    let err = alloc.assign("bad/handle", IpFamily::V4).await.unwrap_err();
    assert!(
        err.to_string().starts_with("invalid handle \"bad/handle\""),
        "{err}"
    );
    assert_clean(&ipam, &names.into_iter().collect()).await;
}

pub async fn ipv6_pool_uses_122_blocks_and_dual_stack_handles<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let pools = vec![pool("10.2.0.0/24", None), pool("fd00:2::/120", None)];
    let alloc = ipam.allocator("node-a", pools).unwrap();
    let v4 = alloc.assign("dual", IpFamily::V4).await.unwrap();
    let v6 = alloc.assign("dual", IpFamily::V6).await.unwrap();
    assert!(v4.addr.is_ipv4() && v6.addr.is_ipv6());
    assert_eq!(v6.block.prefix(), 122);
    assert!(
        "fd00:2::/120"
            .parse::<ipnetwork::IpNetwork>()
            .unwrap()
            .contains(v6.addr)
    );
    assert_eq!(alloc.assign("dual", IpFamily::V6).await.unwrap(), v6);
    assert_eq!(alloc.assign("dual", IpFamily::V4).await.unwrap(), v4);
    let mut held = ipam.addresses_of("dual").await.unwrap();
    held.sort();
    assert_eq!(held, vec![v4.addr, v6.addr]);
    let only_v4 = ipam
        .allocator("node-b", vec![pool("10.3.0.0/24", None)])
        .unwrap();
    let err = only_v4.assign("x", IpFamily::V6).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no enabled IPv6 pool is configured for node node-b"
    );
    let mut released = alloc.release_handle("dual").await.unwrap();
    released.sort();
    assert_eq!(released, vec![v4.addr, v6.addr]);
    assert_clean(&ipam, &BTreeSet::new()).await;
}

pub async fn block_claim_is_confirmed_and_affine<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let alloc = ipam
        .allocator("node-a", vec![pool("10.4.0.0/24", None)])
        .unwrap();
    let a = alloc.assign("p1", IpFamily::V4).await.unwrap();
    let keys = Keys::default();
    let affinity = store
        .get(&keys.affinity("node-a", &a.block))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(affinity.value, b"confirmed");
    let block = ipam.block(&a.block).await.unwrap().unwrap().block;
    assert_eq!(block.affinity.as_deref(), Some("node-a"));
    assert_eq!(block.in_use(), 1);
    let blocks = alloc.blocks().await.unwrap();
    assert_eq!(
        blocks.iter().map(|b| b.block.cidr).collect::<Vec<_>>(),
        vec![a.block]
    );
}

pub async fn steady_state_assignment_is_one_transaction<S: Store>(store: Arc<S>) {
    let counting = Arc::new(CountingStore::new(ArcStore(store)));
    let counts = counting.counts();
    let ipam = Ipam::new(
        Arc::clone(&counting),
        Keys::default(),
        IpamConfig::default(),
    );
    let alloc = ipam
        .allocator("node-a", vec![pool("10.5.0.0/24", None)])
        .unwrap();
    alloc.assign("warm-up", IpFamily::V4).await.unwrap();
    let before = counts.snapshot();
    for h in handles("steady", 40) {
        alloc.assign(&h, IpFamily::V4).await.unwrap();
    }
    let spent = counts.snapshot() - before;
    assert_eq!(
        (spent.txns, spent.gets, spent.lists, spent.conflicts),
        (40, 0, 0, 0),
        "{spent:?}"
    );
    // Idempotent repeat of a known handle from a fresh allocator: one txn (its conflict
    // branch returns the handle), one read of the block.
    let fresh = ipam
        .allocator("node-a", vec![pool("10.5.0.0/24", None)])
        .unwrap();
    let before = counts.snapshot();
    fresh.assign("steady-3", IpFamily::V4).await.unwrap();
    let spent = counts.snapshot() - before;
    assert!(spent.txns <= 1, "{spent:?}");
}

/// Lets a test wrap an `Arc<S>` it was given in another decorator.
#[derive(Debug)]
pub struct ArcStore<S>(pub Arc<S>);

impl<S: Store> Store for ArcStore<S> {
    async fn get(&self, key: &str) -> Result<Option<margay_ipam::kv::KeyValue>, StoreError> {
        self.0.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<margay_ipam::kv::Listing, StoreError> {
        self.0.list(prefix).await
    }
    async fn list_keys(&self, prefix: &str) -> Result<margay_ipam::kv::Listing, StoreError> {
        self.0.list_keys(prefix).await
    }
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        self.0.txn(txn).await
    }
    async fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
    ) -> Result<tokio::sync::mpsc::Receiver<margay_ipam::kv::WatchItem>, StoreError> {
        self.0.watch(prefix, start_revision).await
    }
    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        self.0.compact(revision).await
    }
}

pub async fn stale_release_cannot_free_a_reassigned_address<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let alloc = ipam
        .allocator("node-a", vec![pool("10.6.0.0/26", None)])
        .unwrap();
    let names = handles("p", 64);
    let mut first = None;
    for h in &names {
        let a = alloc.assign(h, IpFamily::V4).await.unwrap();
        first.get_or_insert(a);
    }
    let old = first.unwrap();
    let guard_old = ReleaseGuard {
        handle: Some(old.handle.clone()),
        sequence: Some(old.sequence),
    };
    match ipam.release_address(old.addr, &guard_old).await.unwrap() {
        AddressRelease::Released(a) => assert_eq!(a.handle, old.handle),
        other => panic!("{other:?}"),
    }
    // The only free address is the one just released: the next Pod gets it.
    let new = alloc.assign("p-new", IpFamily::V4).await.unwrap();
    assert_eq!(new.addr, old.addr);
    assert!(new.sequence > old.sequence);
    // The old Pod's DEL arrives late: by handle and sequence it is stale and frees nothing.
    match ipam.release_address(old.addr, &guard_old).await.unwrap() {
        AddressRelease::Stale { current } => assert_eq!(current.handle, "p-new"),
        other => panic!("stale release was applied: {other:?}"),
    }
    let wrong_sequence = ReleaseGuard {
        handle: Some("p-new".into()),
        sequence: Some(old.sequence),
    };
    assert!(matches!(
        ipam.release_address(old.addr, &wrong_sequence)
            .await
            .unwrap(),
        AddressRelease::Stale { .. }
    ));
    assert_eq!(ipam.addresses_of("p-new").await.unwrap(), vec![new.addr]);
    let right = ReleaseGuard {
        handle: Some("p-new".into()),
        sequence: Some(new.sequence),
    };
    assert!(matches!(
        ipam.release_address(new.addr, &right).await.unwrap(),
        AddressRelease::Released(_)
    ));
    assert_eq!(
        ipam.release_address(new.addr, &right).await.unwrap(),
        AddressRelease::NotAssigned
    );
    assert_eq!(
        ipam.addresses_of("p-new").await.unwrap(),
        Vec::<IpAddr>::new()
    );
    let live: BTreeSet<String> = names[1..].iter().cloned().collect();
    assert_clean(&ipam, &live).await;
}

pub async fn pool_exhaustion_is_a_clear_error<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let pools = vec![pool("10.7.0.0/25", None)];
    let a = ipam.allocator("node-a", pools.clone()).unwrap();
    let b = ipam.allocator("node-b", pools).unwrap();
    for h in handles("a", 64) {
        a.assign(&h, IpFamily::V4).await.unwrap();
    }
    for h in handles("b", 64) {
        b.assign(&h, IpFamily::V4).await.unwrap();
    }
    let err = a.assign("one-more", IpFamily::V4).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "IPv4 pool(s) 10.7.0.0/25 exhausted: no unclaimed block left and node node-a's blocks are full"
    );
    assert!(matches!(
        b.assign("one-more", IpFamily::V4).await,
        Err(IpamError::PoolExhausted { .. })
    ));
}

pub async fn block_limit_per_node_is_a_clear_error<S: Store>(store: Arc<S>) {
    let config = IpamConfig {
        max_blocks_per_node: Some(1),
        ..Default::default()
    };
    let ipam = ipam(&store, config);
    let a = ipam
        .allocator("node-a", vec![pool("10.8.0.0/24", None)])
        .unwrap();
    for h in handles("a", 64) {
        a.assign(&h, IpFamily::V4).await.unwrap();
    }
    let err = a.assign("one-more", IpFamily::V4).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "node node-a holds 1 IPv4 block(s), the limit is 1, and they are full"
    );
}

pub async fn borrowing_only_without_strict_affinity<S: Store>(store: Arc<S>) {
    let pools = vec![pool("10.9.0.0/26", None)];
    let strict = ipam(&store, IpamConfig::default());
    let a = strict.allocator("node-a", pools.clone()).unwrap();
    let held = a.assign("a-0", IpFamily::V4).await.unwrap();
    let b_strict = strict.allocator("node-b", pools.clone()).unwrap();
    assert!(matches!(
        b_strict.assign("b-0", IpFamily::V4).await,
        Err(IpamError::PoolExhausted { .. })
    ));
    let loose = ipam(
        &store,
        IpamConfig {
            strict_affinity: false,
            ..Default::default()
        },
    );
    let b = loose.allocator("node-b", pools).unwrap();
    let borrowed = b.assign("b-0", IpFamily::V4).await.unwrap();
    assert_eq!(
        borrowed.block, held.block,
        "node-b borrows from node-a's block"
    );
    assert_ne!(borrowed.addr, held.addr);
    assert_clean(&strict, &["a-0".to_string(), "b-0".to_string()].into()).await;
}

pub async fn release_handle_is_idempotent<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let a = ipam
        .allocator("node-a", vec![pool("10.10.0.0/24", None)])
        .unwrap();
    let x = a.assign("x", IpFamily::V4).await.unwrap();
    assert_eq!(a.release_handle("x").await.unwrap(), vec![x.addr]);
    assert_eq!(a.release_handle("x").await.unwrap(), Vec::<IpAddr>::new());
    assert_eq!(
        ipam.release_handle("never-assigned").await.unwrap(),
        Vec::<IpAddr>::new()
    );
    let y = a.assign("y", IpFamily::V4).await.unwrap();
    assert_ne!(
        y.addr, x.addr,
        "a released address goes to the back of the free list"
    );
    assert_clean(&ipam, &["y".to_string()].into()).await;
}

pub async fn empty_blocks_and_deleted_nodes_are_released<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let pools = vec![pool("10.11.0.0/24", None)];
    let a = ipam.allocator("node-a", pools.clone()).unwrap();
    let b = ipam.allocator("node-b", pools.clone()).unwrap();
    let names = handles("a", 70);
    let mut by_block: std::collections::BTreeMap<_, Vec<String>> = Default::default();
    for h in &names {
        let got = a.assign(h, IpFamily::V4).await.unwrap();
        by_block.entry(got.block).or_default().push(h.clone());
    }
    let kept = b.assign("b-0", IpFamily::V4).await.unwrap();
    assert_eq!(by_block.len(), 2);
    let (small, small_handles) = by_block
        .iter()
        .find(|(_, hs)| hs.len() == 6)
        .expect("a block with 6");
    for h in small_handles {
        a.release_handle(h).await.unwrap();
    }
    assert_eq!(
        ipam.release_empty_blocks(Some("node-a")).await.unwrap(),
        vec![*small]
    );
    assert_eq!(
        ipam.release_empty_blocks(Some("node-b")).await.unwrap(),
        Vec::<ipnetwork::IpNetwork>::new()
    );
    let outcome = ipam.release_node("node-a").await.unwrap();
    assert_eq!(outcome.addresses, 64);
    assert_eq!(outcome.blocks.len(), 1);
    for h in &names {
        assert_eq!(
            ipam.addresses_of(h).await.unwrap(),
            Vec::<IpAddr>::new(),
            "{h} still holds an address"
        );
    }
    let usage = ipam.show(&pools).await.unwrap();
    assert_eq!(usage.pools[0].in_use, 1);
    assert_eq!(usage.pools[0].blocks.len(), 1);
    assert_eq!(usage.pools[0].blocks[0].affinity.as_deref(), Some("node-b"));
    assert_eq!(ipam.addresses_of("b-0").await.unwrap(), vec![kept.addr]);
    assert_clean(&ipam, &["b-0".to_string()].into()).await;
}

pub async fn check_reports_each_inconsistency_and_release_repairs_it<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let keys = Keys::default();
    let a = ipam
        .allocator("node-a", vec![pool("10.12.0.0/24", None)])
        .unwrap();
    let live = a.assign("live", IpFamily::V4).await.unwrap();
    let dead = a.assign("dead", IpFamily::V4).await.unwrap();
    let wrong = a.assign("miscounted", IpFamily::V4).await.unwrap();
    // 1. A handle record that counts two addresses where the block holds one.
    let record = format!(r#"{{"blocks":{{"{}":2}}}}"#, wrong.block);
    put(&*store, &keys.handle("miscounted"), &record).await;
    // 1b. An empty handle record (holds nothing, should not exist).
    put(&*store, &keys.handle("empty"), r#"{"blocks":{}}"#).await;
    // 2. A pending affinity whose block never came (a crash between the claim phases).
    let orphan = (0..4)
        .map(|i| {
            format!("10.12.0.{}/26", i * 64)
                .parse::<ipnetwork::IpNetwork>()
                .unwrap()
        })
        .find(|c| *c != live.block)
        .unwrap();
    put(&*store, &keys.affinity("node-z", &orphan), "pending").await;
    // 3. The block's own affinity key lost.
    let delete = Txn::guarded(
        vec![],
        vec![Op::Delete(keys.affinity("node-a", &live.block))],
    );
    store.txn(delete).await.unwrap();
    let live_handles: BTreeSet<String> = ["live".to_string(), "miscounted".to_string()].into();
    let report = ipam.check(Some(&live_handles)).await.unwrap();
    assert_eq!(report.leaked.len(), 1);
    assert_eq!(
        (report.leaked[0].addr, report.leaked[0].handle.as_str()),
        (dead.addr, "dead")
    );
    let mismatches: Vec<(&str, u32, u32)> = report
        .handle_mismatches
        .iter()
        .map(|m| (m.handle.as_str(), m.recorded, m.actual))
        .collect();
    assert_eq!(mismatches, [("empty", 0, 0), ("miscounted", 2, 1)]);
    assert_eq!(report.orphan_affinities.len(), 1);
    let o = &report.orphan_affinities[0];
    assert_eq!(
        (o.node.as_str(), o.block, o.state.as_str()),
        ("node-z", orphan, "pending")
    );
    assert_eq!(report.unconfirmed_blocks.len(), 1);
    assert_eq!(report.unconfirmed_blocks[0].block, live.block);
    assert_eq!(report.unconfirmed_blocks[0].affinity_state, None);
    assert!(report.corrupt.is_empty());
    let outcome = ipam.release(&report).await.unwrap();
    assert_eq!(
        (
            outcome.released_addresses,
            outcome.fixed_handles,
            outcome.deleted_affinities,
            outcome.fixed_blocks
        ),
        (1, 2, 1, 1),
        "{outcome:?}"
    );
    assert!(outcome.skipped.is_empty(), "{outcome:?}");
    assert_clean(&ipam, &live_handles).await;
    assert_eq!(ipam.addresses_of("live").await.unwrap(), vec![live.addr]);
    assert_eq!(
        ipam.addresses_of("dead").await.unwrap(),
        Vec::<IpAddr>::new()
    );
}

pub async fn crash_between_claim_phases_is_finished_by_the_node<S: Store>(store: Arc<S>) {
    let faulty = Arc::new(FaultyStore::new(Arc::clone(&store)));
    let crashing = Ipam::new(Arc::clone(&faulty), Keys::default(), IpamConfig::default());
    let alloc = crashing
        .allocator("node-a", vec![pool("10.13.0.0/24", None)])
        .unwrap();
    // Phase 1 is the first transaction; phase 2, the second, "crashes".
    faulty.fail_txn_number(2);
    let err = alloc.assign("p", IpFamily::V4).await.unwrap_err();
    assert!(
        matches!(err, IpamError::Store(StoreError::Unavailable(_))),
        "{err}"
    );
    let ipam = ipam(&store, IpamConfig::default());
    let report = ipam.check(Some(&BTreeSet::new())).await.unwrap();
    assert_eq!(report.orphan_affinities.len(), 1, "{report:#?}");
    let pending = report.orphan_affinities[0].clone();
    assert_eq!(
        (pending.node.as_str(), pending.state.as_str()),
        ("node-a", "pending")
    );
    assert!(
        report.leaked.is_empty()
            && report.handle_mismatches.is_empty()
            && report.unconfirmed_blocks.is_empty()
    );
    // The restarted node finishes its own claim: same block, now confirmed.
    let restarted = ipam
        .allocator("node-a", vec![pool("10.13.0.0/24", None)])
        .unwrap();
    let got = restarted.assign("p", IpFamily::V4).await.unwrap();
    assert_eq!(got.block, pending.block);
    assert_clean(&ipam, &["p".to_string()].into()).await;
}

pub async fn crash_between_claim_phases_is_repaired_by_release<S: Store>(store: Arc<S>) {
    let faulty = Arc::new(FaultyStore::new(Arc::clone(&store)));
    let crashing = Ipam::new(Arc::clone(&faulty), Keys::default(), IpamConfig::default());
    let alloc = crashing
        .allocator("node-a", vec![pool("10.14.0.0/24", None)])
        .unwrap();
    faulty.fail_txn_number(2);
    alloc.assign("p", IpFamily::V4).await.unwrap_err();
    let ipam = ipam(&store, IpamConfig::default());
    let report = ipam.check(None).await.unwrap();
    assert_eq!(report.orphan_affinities.len(), 1, "{report:#?}");
    let outcome = ipam.release(&report).await.unwrap();
    assert_eq!(outcome.deleted_affinities, 1);
    assert_clean(&ipam, &BTreeSet::new()).await;
    assert!(
        store
            .list(&Keys::default().ipam())
            .await
            .unwrap()
            .kvs
            .is_empty()
    );
}

pub async fn show_counts_per_pool_and_block<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let pools = vec![pool("10.15.0.0/24", None), pool("fd00:15::/64", None)];
    let a = ipam.allocator("node-a", pools.clone()).unwrap();
    for h in handles("v4", 65) {
        a.assign(&h, IpFamily::V4).await.unwrap();
    }
    for h in handles("v6", 3) {
        a.assign(&h, IpFamily::V6).await.unwrap();
    }
    let usage = ipam.show(&pools).await.unwrap();
    let v4 = &usage.pools[0];
    assert_eq!((v4.total, v4.in_use, v4.free), (256, 65, 191));
    let mut per_block: Vec<(u32, u32, u32)> = v4
        .blocks
        .iter()
        .map(|b| (b.total, b.in_use, b.free))
        .collect();
    per_block.sort();
    assert_eq!(per_block, vec![(64, 1, 63), (64, 64, 0)]);
    let v6 = &usage.pools[1];
    assert_eq!(
        (v6.total, v6.in_use, v6.free),
        (1u128 << 64, 3, (1u128 << 64) - 3)
    );
    assert_eq!(v6.blocks.len(), 1);
    assert!(usage.outside_pools.is_empty());
    let only_v6 = ipam.show(&pools[1..]).await.unwrap();
    assert_eq!(
        only_v6.outside_pools.len(),
        2,
        "v4 blocks are outside the given pools"
    );
}

pub async fn concurrent_allocators_get_distinct_addresses<S: Store>(store: Arc<S>) {
    let ipam = ipam(&store, IpamConfig::default());
    let pools = vec![pool("10.16.0.0/22", None)];
    let mut tasks = Vec::new();
    for n in 0..4 {
        let alloc = Arc::new(ipam.allocator(&format!("node-{n}"), pools.clone()).unwrap());
        for t in 0..4 {
            let alloc = Arc::clone(&alloc);
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..40 {
                    let handle = format!("n{n}-t{t}-{i}");
                    got.push((
                        handle.clone(),
                        alloc.assign(&handle, IpFamily::V4).await.unwrap(),
                    ));
                }
                got
            }));
        }
    }
    let mut addrs = BTreeSet::new();
    let mut live = BTreeSet::new();
    for task in tasks {
        for (handle, a) in task.await.unwrap() {
            assert!(addrs.insert(a.addr), "{} assigned twice", a.addr);
            let block = ipam.block(&a.block).await.unwrap().unwrap().block;
            let node = handle
                .split('-')
                .next()
                .unwrap()
                .trim_start_matches('n')
                .to_string();
            assert_eq!(
                block.affinity,
                Some(format!("node-{node}")),
                "{handle} got {} from another node's block",
                a.addr
            );
            live.insert(handle);
        }
    }
    assert_eq!(addrs.len(), 640);
    assert_clean(&ipam, &live).await;
}

pub async fn custom_prefix_keeps_ipam_apart<S: Store>(store: Arc<S>) {
    let a = Ipam::new(
        Arc::clone(&store),
        Keys::new("/cluster-a"),
        IpamConfig::default(),
    );
    let b = Ipam::new(
        Arc::clone(&store),
        Keys::new("/cluster-b/"),
        IpamConfig::default(),
    );
    let pools = vec![pool("10.17.0.0/26", None)];
    let x = a
        .allocator("n", pools.clone())
        .unwrap()
        .assign("h", IpFamily::V4)
        .await
        .unwrap();
    let y = b
        .allocator("n", pools)
        .unwrap()
        .assign("h", IpFamily::V4)
        .await
        .unwrap();
    assert_eq!(
        x.addr, y.addr,
        "separate prefixes are separate address spaces"
    );
    let keys: Vec<String> = store
        .list("/cluster-a/")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(
        keys,
        [
            "/cluster-a/ipam/affinities/n/10.17.0.0-26",
            "/cluster-a/ipam/blocks/10.17.0.0-26",
            "/cluster-a/ipam/handles/h",
        ]
    );
}
