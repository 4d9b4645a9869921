//! The resource datastore: typed resources (`crate::resources`) stored as JSON under
//! `<prefix>resources/<kind>/<name>` (DESIGN §6), on the generic key-value layer
//! `margay_ipam::kv` that IPAM uses too — one CAS, retry and watch implementation for both.
//!
//! - create: `version == 0`; replace/delete: `mod_revision ==` the revision the caller read;
//!   apply/update: read-modify-write with bounded retries and backoff on conflict.
//! - apply of an IPPool checks it against the stored pools (no overlaps).
//! - watch: typed events from a [`Watcher`] that resumes after disconnects and re-lists after
//!   compaction.
//! - node liveness: `liveness/<node>` bound to a lease the node keeps alive.

mod error;
mod watch;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use margay_ipam::Keys;
use margay_ipam::kv::backoff::Backoff;
use margay_ipam::kv::etcd::EtcdStore;
use margay_ipam::kv::lease::LivenessKey;
use margay_ipam::kv::{Compare, KeyValue, Op, Store, StoreError, Txn, TxnOutcome};

pub use error::DatastoreError;
pub use watch::{ResourceEvent, ResourceWatcher};

use crate::resources::{Kind, Resource, ResourceError, parse_json, to_json, validate_set};

/// Read-modify-write attempts before giving up.
pub const MAX_ATTEMPTS: u32 = 64;

/// A resource with the revision it was stored at (pass it back to `replace`/`delete`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// The resource.
    pub resource: Resource,
    /// Its `mod_revision`.
    pub revision: i64,
}

/// Resources (and liveness keys) in a store.
#[derive(Debug)]
pub struct Datastore<S> {
    store: Arc<S>,
    keys: Keys,
}

impl<S> Clone for Datastore<S> {
    fn clone(&self) -> Self {
        Datastore {
            store: Arc::clone(&self.store),
            keys: self.keys.clone(),
        }
    }
}

fn decode(kv: &KeyValue) -> Result<StoredResource, ResourceError> {
    Ok(StoredResource {
        resource: parse_json(&kv.key, &kv.value)?,
        revision: kv.mod_revision,
    })
}

impl<S: Store> Datastore<S> {
    /// Resources in `store` under `keys`' prefix.
    pub fn new(store: Arc<S>, keys: Keys) -> Self {
        Datastore { store, keys }
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn key_of(&self, resource: &Resource) -> String {
        self.keys
            .resource(resource.kind().as_str(), resource.name().as_str())
    }

    /// One resource.
    pub async fn get(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<Option<StoredResource>, DatastoreError> {
        let key = self.keys.resource(kind.as_str(), name);
        Ok(self
            .store
            .get(&key)
            .await?
            .as_ref()
            .map(decode)
            .transpose()?)
    }

    /// Every resource of `kind` (all kinds when `None`) and the revision of the listing.
    pub async fn list(
        &self,
        kind: Option<Kind>,
    ) -> Result<(Vec<StoredResource>, i64), DatastoreError> {
        let prefix = match kind {
            Some(k) => self.keys.resources_of(k.as_str()),
            None => self.keys.resources(),
        };
        let listing = self.store.list(&prefix).await?;
        let items = listing.kvs.iter().map(decode).collect::<Result<_, _>>()?;
        Ok((items, listing.revision))
    }

    /// Stores a new resource; fails with `AlreadyExists` if the name is taken.
    pub async fn create(&self, resource: &Resource) -> Result<i64, DatastoreError> {
        self.check_against_stored(resource).await?;
        let key = self.key_of(resource);
        let txn = Txn::guarded(
            vec![Compare::Absent(key.clone())],
            vec![Op::Put(key, to_json(resource).into_bytes())],
        );
        match self.store.txn(txn).await? {
            TxnOutcome::Committed { revision } => Ok(revision),
            TxnOutcome::Conflict { .. } => Err(DatastoreError::AlreadyExists { id: resource.id() }),
        }
    }

    /// Replaces a resource last read at `revision`; `Conflict` if it changed since.
    pub async fn replace(&self, resource: &Resource, revision: i64) -> Result<i64, DatastoreError> {
        self.check_against_stored(resource).await?;
        let key = self.key_of(resource);
        let txn = Txn::guarded(
            vec![Compare::ModRevision(key.clone(), revision)],
            vec![Op::Put(key, to_json(resource).into_bytes())],
        );
        match self.store.txn(txn).await? {
            TxnOutcome::Committed { revision } => Ok(revision),
            TxnOutcome::Conflict { current } => {
                Err(match current.into_iter().next().and_then(|(_, kv)| kv) {
                    Some(kv) => DatastoreError::Conflict {
                        id: resource.id(),
                        expected: revision,
                        current: kv.mod_revision,
                    },
                    None => DatastoreError::NotFound { id: resource.id() },
                })
            }
        }
    }

    /// Creates or replaces (`margayctl apply`), retrying on concurrent writes.
    pub async fn apply(&self, resource: &Resource) -> Result<i64, DatastoreError> {
        self.check_against_stored(resource).await?;
        let key = self.key_of(resource);
        let value = to_json(resource).into_bytes();
        let mut current = self.store.get(&key).await?;
        let mut backoff = Backoff::conflicts();
        for _ in 0..MAX_ATTEMPTS {
            let guard = match &current {
                Some(kv) => Compare::ModRevision(key.clone(), kv.mod_revision),
                None => Compare::Absent(key.clone()),
            };
            let txn = Txn::guarded(vec![guard], vec![Op::Put(key.clone(), value.clone())]);
            match self.store.txn(txn).await? {
                TxnOutcome::Committed { revision } => return Ok(revision),
                TxnOutcome::Conflict { current: now } => {
                    current = now.into_iter().next().and_then(|(_, kv)| kv);
                    backoff.wait().await;
                }
            }
        }
        Err(DatastoreError::TooManyConflicts {
            id: resource.id(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Read-modify-write: applies `change` to the stored resource and writes it back by CAS,
    /// re-reading and re-applying on conflict.
    pub async fn update<F>(
        &self,
        kind: Kind,
        name: &str,
        mut change: F,
    ) -> Result<StoredResource, DatastoreError>
    where
        F: FnMut(&Resource) -> Result<Resource, DatastoreError> + Send,
    {
        let mut backoff = Backoff::conflicts();
        for _ in 0..MAX_ATTEMPTS {
            let Some(stored) = self.get(kind, name).await? else {
                return Err(DatastoreError::NotFound {
                    id: format!("{kind}/{name}"),
                });
            };
            let changed = change(&stored.resource)?;
            if changed.kind() != kind || changed.name().as_str() != name {
                return Err(DatastoreError::Renamed {
                    from: stored.resource.id(),
                    to: changed.id(),
                });
            }
            match self.replace(&changed, stored.revision).await {
                Ok(revision) => {
                    return Ok(StoredResource {
                        resource: changed,
                        revision,
                    });
                }
                Err(DatastoreError::Conflict { .. }) => backoff.wait().await,
                Err(e) => return Err(e),
            }
        }
        Err(DatastoreError::TooManyConflicts {
            id: format!("{kind}/{name}"),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Deletes a resource; with `revision`, only if unchanged since that read.
    pub async fn delete(
        &self,
        kind: Kind,
        name: &str,
        revision: Option<i64>,
    ) -> Result<(), DatastoreError> {
        let key = self.keys.resource(kind.as_str(), name);
        let id = format!("{kind}/{name}");
        let guard = match revision {
            Some(r) => Compare::ModRevision(key.clone(), r),
            None => match self.store.get(&key).await? {
                Some(kv) => Compare::ModRevision(key.clone(), kv.mod_revision),
                None => return Err(DatastoreError::NotFound { id }),
            },
        };
        match self
            .store
            .txn(Txn::guarded(vec![guard], vec![Op::Delete(key)]))
            .await?
        {
            TxnOutcome::Committed { .. } => Ok(()),
            TxnOutcome::Conflict { current } => {
                Err(match current.into_iter().next().and_then(|(_, kv)| kv) {
                    Some(kv) => DatastoreError::Conflict {
                        id,
                        expected: revision.unwrap_or(0),
                        current: kv.mod_revision,
                    },
                    None => DatastoreError::NotFound { id },
                })
            }
        }
    }

    /// Checks `resource` against the stored resources of its kind (overlapping pools,
    /// duplicate underlay addresses), ignoring the stored version of itself.
    async fn check_against_stored(&self, resource: &Resource) -> Result<(), DatastoreError> {
        if !matches!(resource.kind(), Kind::IpPool | Kind::Node) {
            return Ok(());
        }
        let (stored, _) = self.list(Some(resource.kind())).await?;
        let mut set: Vec<Resource> = stored
            .into_iter()
            .map(|s| s.resource)
            .filter(|r| r.id() != resource.id())
            .collect();
        set.push(resource.clone());
        validate_set(&set).map_err(|errors| DatastoreError::Invalid {
            id: resource.id(),
            errors: errors.iter().map(ToString::to_string).collect(),
        })
    }

    /// The current resources and a watcher for every change after them.
    pub async fn list_and_watch(
        &self,
    ) -> Result<(Vec<StoredResource>, ResourceWatcher<S>), DatastoreError> {
        let (items, revision) = self.list(None).await?;
        Ok((
            items,
            ResourceWatcher::after_revision(Arc::clone(&self.store), &self.keys, revision),
        ))
    }

    /// Nodes whose liveness key exists.
    pub async fn live_nodes(&self) -> Result<BTreeSet<String>, DatastoreError> {
        let prefix = self.keys.liveness_all();
        let listing = self.store.list_keys(&prefix).await?;
        Ok(listing
            .kvs
            .iter()
            .filter_map(|kv| kv.key.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }
}

impl Datastore<EtcdStore> {
    /// Publishes `liveness/<node>` on a lease of `ttl` kept alive until the returned value is
    /// released or dropped (then etcd deletes the key after the TTL).
    pub async fn announce_liveness(
        &self,
        node: &str,
        ttl: Duration,
    ) -> Result<LivenessKey, StoreError> {
        LivenessKey::hold(
            &self.store,
            &self.keys.liveness(node),
            node.as_bytes().to_vec(),
            ttl,
        )
        .await
    }
}
