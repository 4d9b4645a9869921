//! Opening the datastore from validated settings: the one place where margay's etcd settings
//! (`config::EtcdConfig`) become a connection of the shared key-value layer
//! (`margay_ipam::kv`), for margay-node and margayctl alike.

use std::sync::Arc;

use margay_ipam::Keys;
use margay_ipam::kv::etcd::{self, EtcdStore, TlsFiles};

use crate::config::EtcdConfig;

/// Why the datastore could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The password file could not be read.
    #[error("etcdPasswordFile {path}: {error}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// No connection.
    #[error("etcd at {endpoints}: {error}")]
    Connect {
        /// The endpoints tried.
        endpoints: String,
        /// What failed.
        error: etcd::ConnectError,
    },
}

/// Connects to etcd; returns the store and the key layout under the configured prefix.
pub async fn open(config: &EtcdConfig) -> Result<(Arc<EtcdStore>, Keys), OpenError> {
    let mut kv = etcd::EtcdConfig::new(config.endpoints.iter().cloned());
    if let Some(ca_file) = &config.ca_file {
        kv.tls = Some(TlsFiles {
            ca_file: ca_file.clone(),
            client_cert: config.client_cert.clone(),
            server_name: None,
        });
    }
    if let (Some(user), Some(path)) = (&config.username, &config.password_file) {
        let password = std::fs::read_to_string(path).map_err(|error| OpenError::PasswordFile {
            path: path.display().to_string(),
            error,
        })?;
        kv.user = Some((user.clone(), password.trim_end().to_owned()));
    }
    let store = EtcdStore::connect(&kv)
        .await
        .map_err(|error| OpenError::Connect {
            endpoints: config.endpoints.join(","),
            error,
        })?;
    Ok((Arc::new(store), Keys::new(&config.prefix)))
}
