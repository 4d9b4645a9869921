//! A `Store` decorator that fails the N-th transaction with `Unavailable`, as if the process
//! died right before it: the tool for deterministic crash-point tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use margay_ipam::kv::{KeyValue, Listing, Store, StoreError, Txn, TxnOutcome, WatchItem};

#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: Arc<S>,
    txns: AtomicU64,
    fail_at: AtomicU64,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: Arc<S>) -> Self {
        FaultyStore {
            inner,
            txns: AtomicU64::new(0),
            fail_at: AtomicU64::new(0),
        }
    }

    /// Transaction number `n` (1-based, counted from now) fails without reaching the store.
    pub fn fail_txn_number(&self, n: u64) {
        self.txns.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }
}

impl<S: Store> Store for FaultyStore<S> {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.inner.list(prefix).await
    }
    async fn list_keys(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.inner.list_keys(prefix).await
    }
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        let n = self.txns.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(format!(
                "injected failure of transaction {n}"
            )));
        }
        self.inner.txn(txn).await
    }
    async fn watch(
        &self,
        prefix: &str,
        start: i64,
    ) -> Result<tokio::sync::mpsc::Receiver<WatchItem>, StoreError> {
        self.inner.watch(prefix, start).await
    }
    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        self.inner.compact(revision).await
    }
}
