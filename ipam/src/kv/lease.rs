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
    client: etcd_client::Client,
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
        let client = store.client();
        let ttl_secs = ttl.as_secs().max(1) as i64;
        let first = grant_and_put(&client, key, &value, ttl_secs).await?;
        let (tx, rx) = watch::channel(Some(first));
        let task = tokio::spawn(keep_alive_loop(
            client.clone(),
            key.to_owned(),
            value,
            ttl_secs,
            first,
            tx,
        ));
        Ok(LivenessKey {
            task,
            lease: rx,
            client,
        })
    }

    /// The lease currently holding the key (`None` while it is being re-established).
    pub fn lease_id(&self) -> Option<i64> {
        *self.lease.borrow()
    }

    /// Stops keeping the key alive and revokes the lease, deleting the key at once.
    pub async fn release(self) -> Result<(), StoreError> {
        self.task.abort();
        if let Some(id) = *self.lease.borrow() {
            self.client
                .clone()
                .lease_revoke(id)
                .await
                .map_err(map_error)?;
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
    client: &etcd_client::Client,
    key: &str,
    value: &[u8],
    ttl_secs: i64,
) -> Result<i64, StoreError> {
    let mut client = client.clone();
    let lease = client
        .lease_grant(ttl_secs, None)
        .await
        .map_err(map_error)?
        .id();
    client
        .put(
            key,
            value.to_vec(),
            Some(PutOptions::new().with_lease(lease)),
        )
        .await
        .map_err(map_error)?;
    Ok(lease)
}

async fn keep_alive_loop(
    client: etcd_client::Client,
    key: String,
    value: Vec<u8>,
    ttl_secs: i64,
    mut lease: i64,
    published: watch::Sender<Option<i64>>,
) {
    let period = Duration::from_millis((ttl_secs as u64 * 1000 / 3).max(200));
    let mut backoff = Backoff::reconnects();
    loop {
        match keep_alive(&client, lease, period).await {
            KeepAliveEnd::Expired => {
                tracing::warn!(%key, lease, "liveness lease expired; granting a new one");
                let _ = published.send(None);
                loop {
                    match grant_and_put(&client, &key, &value, ttl_secs).await {
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

async fn keep_alive(client: &etcd_client::Client, lease: i64, period: Duration) -> KeepAliveEnd {
    let (mut keeper, mut stream) = match client.clone().lease_keep_alive(lease).await {
        Ok(pair) => pair,
        Err(e) => return KeepAliveEnd::Broken(map_error(e)),
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
