//! Start-up against a datastore that is not there yet (DESIGN §6: "etcd unreachable: the node
//! keeps forwarding with the state it has, retries, and reconciles on return"). At start the
//! node has nothing to forward with but what the kernel already holds, so it waits: transient
//! failures (no connection, a timeout) are retried with backoff and logged each time; anything
//! else (a refused credential, an invalid resource) ends the start with that error.

use std::future::Future;
use std::time::Duration;

use margay_ipam::kv::backoff::Backoff;

use super::AgentError;
use crate::datastore::DatastoreError;
use crate::etcd::OpenError;

/// Longest pause between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(5);

impl AgentError {
    /// Whether the same step may succeed later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            AgentError::Store(e) => e.is_transient(),
            AgentError::Datastore(DatastoreError::Store(e)) => e.is_transient(),
            AgentError::Open(OpenError::Connect { .. }) => true,
            _ => false,
        }
    }
}

/// Runs `attempt` until it succeeds or fails with an error that is not transient.
pub async fn until_reachable<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, AgentError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AgentError>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(100), MAX_DELAY);
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(failures, "{what}: datastore reachable again");
                }
                return Ok(value);
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                tracing::warn!(error = %e, failures, "{what}: datastore not reachable; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use margay_ipam::kv::StoreError;

    use super::*;

    #[tokio::test]
    async fn transient_errors_are_retried_and_others_returned() {
        let mut calls = 0;
        let value = until_reachable("test", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(AgentError::Store(StoreError::Unavailable("down".into())))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);

        let error = until_reachable("test", || async {
            Err::<(), _>(AgentError::Datastore(DatastoreError::NotFound {
                id: "Node/x".into(),
            }))
        })
        .await
        .unwrap_err();
        assert!(!error.is_transient());
        assert!(error.to_string().contains("Node/x"), "{error}");
    }
}
