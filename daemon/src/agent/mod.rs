//! The node agent `margay-node` (DESIGN §1): registers the node, claims its blocks, runs the
//! BGP speaker for the mesh, top-of-rack and reflector sessions the datastore describes, decides
//! a route for every Pod block (DESIGN §3) and keeps the kernel (FIB, VTEP) equal to the
//! decision, applying every datastore change live.
//!
//! - [`cluster`]: the resources and block affinities as the node sees them (pure).
//! - [`paths`]: BGP paths per prefix from the speaker's Loc-RIB (pure).
//! - [`identity`]: the Node this node publishes; its VTEP address (and first block) from IPAM.
//! - [`bgp`]: the speaker's neighbors and originated prefixes kept equal to the plan.
//! - [`retry`]: waiting at start for a datastore that does not answer yet.
//! - [`run`]: the one input loop owning all of it; the local API; graceful stop.
//! - [`standalone`]: `--datastore file:PATH`, the same agent on an in-memory store.

pub mod bgp;
pub mod cluster;
pub mod identity;
pub mod paths;
pub mod retry;
pub mod run;
pub mod standalone;

use std::time::Duration;

use margay_vxlan::Mac;

pub use run::Agent;

use crate::config::{Datastore as DatastoreConfig, NodeConfig};
use crate::datastore::Datastore;
use crate::underlay::{Family, netlink::detect};
use identity::Identity;

/// How long etcd keeps `liveness/<node>` after the node stops renewing it.
pub const LIVENESS_TTL: Duration = Duration::from_secs(20);

/// Why the agent could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No usable underlay address.
    #[error("underlay: {0}")]
    Underlay(#[from] crate::underlay::UnderlayError),
    /// etcd could not be opened.
    #[error(transparent)]
    Open(#[from] crate::etcd::OpenError),
    /// A datastore operation failed.
    #[error("datastore: {0}")]
    Datastore(#[from] crate::datastore::DatastoreError),
    /// A key-value operation failed.
    #[error("datastore: {0}")]
    Store(#[from] margay_ipam::kv::StoreError),
    /// The standalone file is unusable.
    #[error("standalone datastore {path}: {}", problems.join("; "))]
    StandaloneFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        problems: Vec<String>,
    },
    /// The FIB writer.
    #[error("routes: {0}")]
    Fib(#[from] crate::fib::FibError),
    /// The VTEP.
    #[error("VTEP: {0}")]
    Vtep(#[from] margay_vxlan::VtepError),
    /// A netlink socket.
    #[error("netlink: {0}")]
    Netlink(std::io::Error),
    /// The speaker.
    #[error("BGP: {0}")]
    Speaker(#[from] margay_bgp::speaker::SpeakerError),
    /// The local API.
    #[error("local API: {0}")]
    Api(#[from] crate::api::ApiError),
    /// The health/metrics endpoint.
    #[error("metricsListen {address}: {error}")]
    Health {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// Why it could not listen.
        error: std::io::Error,
    },
    /// Signal handlers.
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
}

/// Runs the node agent with `config` until SIGTERM or SIGINT.
pub async fn run(config: NodeConfig) -> Result<(), AgentError> {
    match &config.datastore {
        DatastoreConfig::Etcd(etcd) => {
            let identity = identity(&config).await?;
            let (store, keys) = retry::until_reachable("connecting to etcd", || async {
                Ok(crate::etcd::open(etcd).await?)
            })
            .await?;
            let datastore = Datastore::new(store, keys);
            let agent = Agent::start(&config, identity, datastore.clone()).await?;
            let _liveness = retry::until_reachable("publishing liveness", || async {
                Ok(datastore
                    .announce_liveness(&config.node_name, LIVENESS_TTL)
                    .await?)
            })
            .await?;
            agent.run(&config.api_socket, config.metrics_listen).await
        }
        DatastoreConfig::File(path) => {
            // The file first: a mistake in it is reported before anything about the host.
            let datastore = standalone::load(path).await?;
            let identity = identity(&config).await?;
            let agent = Agent::start(&config, identity, datastore).await?;
            agent.run(&config.api_socket, config.metrics_listen).await
        }
    }
}

/// This node as configured, with its underlay detected.
async fn identity(config: &NodeConfig) -> Result<Identity, AgentError> {
    let underlay = detect(&config.underlay, Family::V4).await?;
    let underlay6 = match &config.underlay6 {
        Some(method) => Some(detect(method, Family::V6).await?),
        None => None,
    };
    Ok(Identity {
        name: config.node_name.clone(),
        underlay,
        underlay6,
        as_number: config.as_number,
        labels: config.labels.clone(),
        mac: Mac::from_node_name(&config.node_name),
    })
}
