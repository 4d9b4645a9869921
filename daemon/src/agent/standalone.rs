//! Standalone mode (`--datastore file:PATH`): the resources of a YAML file in an in-memory
//! store with etcd's semantics, so the agent runs exactly as with etcd, on one machine and
//! without etcd. A block of one's own choosing is an IPPool whose `blockSize` equals its prefix
//! length (the node claims that one block); other prefixes to announce are `serviceClusterIPs`
//! of the BGPConfiguration.

use std::path::Path;
use std::sync::Arc;

use margay_ipam::Keys;
use margay_ipam::kv::memory::MemStore;

use super::AgentError;
use crate::config::DEFAULT_ETCD_PREFIX;
use crate::datastore::Datastore;
use crate::resources::{parse_yaml, validate_set};

/// The datastore holding the resources of the YAML file at `path`.
pub async fn load(path: &Path) -> Result<Datastore<MemStore>, AgentError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| AgentError::StandaloneFile {
        path: shown.clone(),
        problems: vec![error.to_string()],
    })?;
    let invalid = |problems: Vec<String>| AgentError::StandaloneFile {
        path: shown.clone(),
        problems,
    };
    let resources =
        parse_yaml(&text).map_err(|es| invalid(es.iter().map(ToString::to_string).collect()))?;
    validate_set(&resources).map_err(|es| invalid(es.iter().map(ToString::to_string).collect()))?;
    let datastore = Datastore::new(Arc::new(MemStore::new()), Keys::new(DEFAULT_ETCD_PREFIX));
    for resource in &resources {
        datastore
            .create(resource)
            .await
            .map_err(|e| invalid(vec![e.to_string()]))?;
    }
    tracing::info!(path = %shown, resources = resources.len(), "standalone datastore loaded");
    Ok(datastore)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;

    #[tokio::test]
    async fn resources_load_and_errors_name_the_file_and_field() {
        let dir = std::env::temp_dir().join(format!("margay-standalone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.yaml");
        std::fs::write(
            &good,
            "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: p}\n\
             spec: {cidr: 10.1.0.0/24, blockSize: 24}\n",
        )
        .unwrap();
        let datastore = load(&good).await.unwrap();
        let (pools, _) = datastore.list(Some(Kind::IpPool)).await.unwrap();
        assert_eq!(pools.len(), 1);

        let bad = dir.join("bad.yaml");
        std::fs::write(
            &bad,
            "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: p}\n\
             spec: {cidr: 10.1.0.0/24, blockSize: 40}\n",
        )
        .unwrap();
        let error = load(&bad).await.unwrap_err().to_string();
        assert!(
            error.contains("bad.yaml") && error.contains("blockSize"),
            "{error}"
        );
        let missing = load(&dir.join("missing.yaml"))
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.yaml"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
