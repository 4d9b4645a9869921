//! A `Store` decorator counting calls, so benchmarks and tests can state transactions per
//! assignment instead of guessing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::{KeyValue, Listing, Store, StoreError, Txn, TxnOutcome, WatchItem};

/// Calls made through a [`CountingStore`].
#[derive(Debug, Default)]
pub struct Counts {
    gets: AtomicU64,
    lists: AtomicU64,
    txns: AtomicU64,
    conflicts: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountSnapshot {
    /// Single-key reads.
    pub gets: u64,
    /// Prefix reads (with or without values).
    pub lists: u64,
    /// Transactions sent.
    pub txns: u64,
    /// Transactions that failed their guards.
    pub conflicts: u64,
}

impl std::ops::Sub for CountSnapshot {
    type Output = CountSnapshot;
    fn sub(self, o: CountSnapshot) -> CountSnapshot {
        CountSnapshot {
            gets: self.gets - o.gets,
            lists: self.lists - o.lists,
            txns: self.txns - o.txns,
            conflicts: self.conflicts - o.conflicts,
        }
    }
}

impl Counts {
    /// The current counts.
    pub fn snapshot(&self) -> CountSnapshot {
        CountSnapshot {
            gets: self.gets.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            txns: self.txns.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
        }
    }
}

/// Wraps a store and counts every call.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    counts: Arc<Counts>,
}

impl<S: Store> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            counts: Arc::new(Counts::default()),
        }
    }

    /// The shared counters.
    pub fn counts(&self) -> Arc<Counts> {
        Arc::clone(&self.counts)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Store> Store for CountingStore<S> {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.counts.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.counts.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(prefix).await
    }

    async fn list_keys(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.counts.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_keys(prefix).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        self.counts.txns.fetch_add(1, Ordering::Relaxed);
        let outcome = self.inner.txn(txn).await?;
        if matches!(outcome, TxnOutcome::Conflict { .. }) {
            self.counts.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    async fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
    ) -> Result<mpsc::Receiver<WatchItem>, StoreError> {
        self.inner.watch(prefix, start_revision).await
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        self.inner.compact(revision).await
    }
}
