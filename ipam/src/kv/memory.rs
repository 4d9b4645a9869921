//! `MemStore`: the etcd data model in memory — one global revision, per-key `mod_revision` and
//! `version`, all-or-nothing guarded transactions, prefix watches replayed from history, and
//! compaction — so the algorithms above `Store` can be unit-tested without an etcd.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::{Compare, Event, KeyValue, Listing, Op, Store, StoreError, Txn, TxnOutcome, WatchItem};

/// Queue depth per watcher; a watcher that falls this far behind is dropped and resumes.
const WATCH_QUEUE: usize = 1024;

#[derive(Debug)]
struct State {
    revision: i64,
    compacted: i64,
    data: BTreeMap<String, KeyValue>,
    history: Vec<Event>,
    watchers: Vec<(String, mpsc::Sender<WatchItem>)>,
}

/// An in-memory store with etcd's semantics.
#[derive(Debug)]
pub struct MemStore {
    state: Mutex<State>,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    /// An empty store at revision 1 (as a new etcd).
    pub fn new() -> Self {
        MemStore {
            state: Mutex::new(State {
                revision: 1,
                compacted: 0,
                data: BTreeMap::new(),
                history: Vec::new(),
                watchers: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends every watch stream, as a lost connection would.
    pub fn disconnect_watchers(&self) {
        self.lock().watchers.clear();
    }

    /// The current revision.
    pub fn revision(&self) -> i64 {
        self.lock().revision
    }

    fn listing(&self, prefix: &str, with_values: bool) -> Listing {
        let state = self.lock();
        let kvs = state
            .data
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| {
                let mut kv = kv.clone();
                if !with_values {
                    kv.value.clear();
                }
                kv
            })
            .collect();
        Listing {
            revision: state.revision,
            kvs,
        }
    }
}

fn holds(data: &BTreeMap<String, KeyValue>, compare: &Compare) -> bool {
    match compare {
        Compare::Absent(key) => !data.contains_key(key),
        Compare::ModRevision(key, rev) => data.get(key).map_or(0, |kv| kv.mod_revision) == *rev,
    }
}

impl Store for MemStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.lock().data.get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        Ok(self.listing(prefix, true))
    }

    async fn list_keys(&self, prefix: &str) -> Result<Listing, StoreError> {
        Ok(self.listing(prefix, false))
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        let mut state = self.lock();
        if !txn.compares.iter().all(|c| holds(&state.data, c)) {
            let current = txn
                .read_on_conflict
                .iter()
                .map(|k| (k.clone(), state.data.get(k).cloned()))
                .collect();
            return Ok(TxnOutcome::Conflict { current });
        }
        if txn.writes.is_empty() {
            return Ok(TxnOutcome::Committed {
                revision: state.revision,
            });
        }
        state.revision += 1;
        let revision = state.revision;
        let mut events = Vec::new();
        for op in txn.writes {
            match op {
                Op::Put(key, value) => {
                    let version = state.data.get(&key).map_or(0, |kv| kv.version) + 1;
                    let kv = KeyValue {
                        key: key.clone(),
                        value,
                        mod_revision: revision,
                        version,
                    };
                    state.data.insert(key, kv.clone());
                    events.push(Event::Put(kv));
                }
                Op::Delete(key) => {
                    if state.data.remove(&key).is_some() {
                        events.push(Event::Delete {
                            key,
                            mod_revision: revision,
                        });
                    }
                }
            }
        }
        state.history.extend(events.iter().cloned());
        state.watchers.retain(|(prefix, tx)| {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| e.key().starts_with(prefix.as_str()))
                .cloned()
                .collect();
            mine.is_empty() || tx.try_send(WatchItem::Events(mine)).is_ok()
        });
        Ok(TxnOutcome::Committed { revision })
    }

    async fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
    ) -> Result<mpsc::Receiver<WatchItem>, StoreError> {
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let mut state = self.lock();
        if start_revision > 0 && start_revision < state.compacted {
            let _ = tx.try_send(WatchItem::Compacted {
                compact_revision: state.compacted,
            });
            return Ok(rx);
        }
        if start_revision > 0 {
            let past: Vec<Event> = state
                .history
                .iter()
                .filter(|e| e.mod_revision() >= start_revision && e.key().starts_with(prefix))
                .cloned()
                .collect();
            if !past.is_empty() && tx.try_send(WatchItem::Events(past)).is_err() {
                return Ok(rx);
            }
        }
        state.watchers.push((prefix.to_owned(), tx));
        Ok(rx)
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        let mut state = self.lock();
        if revision > state.revision {
            return Err(StoreError::Refused(format!(
                "cannot compact to future revision {revision} (current {})",
                state.revision
            )));
        }
        state.compacted = state.compacted.max(revision);
        let compacted = state.compacted;
        state.history.retain(|e| e.mod_revision() >= compacted);
        Ok(())
    }
}
