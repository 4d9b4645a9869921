//! Liveness keys: a key bound to an etcd lease that a background task keeps alive. If the
//! holder dies (or loses etcd for longer than the TTL) the lease expires and etcd deletes the
//! key, which is how other nodes learn that a node is down (DESIGN §6). When the lease is lost
//! while the holder lives on, the task grants a new one and writes the key again.

use std::time::Duration;

use etcd_client::PutOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::StoreError;
use super::backoff::Backoff;
use super::etcd::{EtcdStore, map_error};

/// Holds `key` alive while this value lives; dropping it revokes the lease (best effort) and
/// stops the task.
pub struct LivenessKey {
    task: JoinHandle<()>,
    lease: watch::Receiver<Option<i64>>,
    store: EtcdStore,
}

impl LivenessKey {
    /// Grants a lease of `ttl`, puts `key = value` on it and keeps it alive (refreshing at a
    /// third of the TTL). Returns once the key is written the first time.
    pub async fn hold(
        store: &EtcdStore,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<Self, StoreError> {
        let ttl_secs = ttl.as_secs().max(1) as i64;
        let first = grant_and_put(store, key, &value, ttl_secs).await?;
        let (tx, rx) = watch::channel(Some(first));
        let task = tokio::spawn(keep_alive_loop(
            store.clone(),
            key.to_owned(),
            value,
            ttl_secs,
            first,
            tx,
        ));
        Ok(LivenessKey {
            task,
            lease: rx,
            store: store.clone(),
        })
    }

    /// The lease currently holding the key (`None` while it is being re-established).
    pub fn lease_id(&self) -> Option<i64> {
        *self.lease.borrow()
    }

    /// Stops keeping the key alive and revokes the lease, deleting the key at once.
    pub async fn release(self) -> Result<(), StoreError> {
        self.task.abort();
        let lease = *self.lease.borrow();
        if let Some(id) = lease {
            self.store
                .call(|mut c| async move { c.lease_revoke(id).await })
                .await?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for LivenessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivenessKey")
            .field("lease", &self.lease_id())
            .finish()
    }
}

impl Drop for LivenessKey {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn grant_and_put(
    store: &EtcdStore,
    key: &str,
    value: &[u8],
    ttl_secs: i64,
) -> Result<i64, StoreError> {
    let lease = store
        .call(|mut c| async move { c.lease_grant(ttl_secs, None).await })
        .await?
        .id();
    store
        .call(|mut c| async move {
            c.put(
                key,
                value.to_vec(),
                Some(PutOptions::new().with_lease(lease)),
            )
            .await
        })
        .await?;
    Ok(lease)
}

async fn keep_alive_loop(
    store: EtcdStore,
    key: String,
    value: Vec<u8>,
    ttl_secs: i64,
    mut lease: i64,
    published: watch::Sender<Option<i64>>,
) {
    let period = Duration::from_millis((ttl_secs as u64 * 1000 / 3).max(200));
    let mut backoff = Backoff::reconnects();
    loop {
        match keep_alive(&store, lease, period).await {
            KeepAliveEnd::Expired => {
                tracing::warn!(%key, lease, "liveness lease expired; granting a new one");
                let _ = published.send(None);
                loop {
                    match grant_and_put(&store, &key, &value, ttl_secs).await {
                        Ok(id) => {
                            lease = id;
                            let _ = published.send(Some(id));
                            backoff.reset();
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%key, %error, "re-establishing liveness key failed");
                            backoff.wait().await;
                        }
                    }
                }
            }
            KeepAliveEnd::Broken(error) => {
                tracing::warn!(%key, lease, %error, "liveness keep-alive broke; retrying");
                backoff.wait().await;
            }
        }
    }
}

enum KeepAliveEnd {
    Expired,
    Broken(StoreError),
}

async fn keep_alive(store: &EtcdStore, lease: i64, period: Duration) -> KeepAliveEnd {
    let opened = store
        .call(|mut c| async move { c.lease_keep_alive(lease).await })
        .await;
    let (mut keeper, mut stream) = match opened {
        Ok(pair) => pair,
        Err(e) => return KeepAliveEnd::Broken(e),
    };
    loop {
        if let Err(e) = keeper.keep_alive().await {
            return KeepAliveEnd::Broken(map_error(e));
        }
        match stream.message().await {
            Ok(Some(response)) if response.ttl() <= 0 => return KeepAliveEnd::Expired,
            Ok(Some(_)) => {}
            Ok(None) => {
                return KeepAliveEnd::Broken(StoreError::Unavailable(
                    "keep-alive stream ended".into(),
                ));
            }
            Err(e) => return KeepAliveEnd::Broken(map_error(e)),
        }
        tokio::time::sleep(period).await;
    }
}
