//! The I/O edge of the decision: applies a [`Decision`] to the kernel in the order of DESIGN
//! §4 — neighbour and FDB entries first (for the old and the new peers), then the routes
//! (one `set_all` on the FIB writer), then the entries of peers that are gone. So a route via
//! the VTEP never exists before its entries, and entries outlive the routes that use them.
//! When the VTEP had to be created again, the routes are read back from the kernel too.

use std::collections::BTreeMap;

use margay_vxlan::{DeviceAction, ReconcileReport, RemoteVtep, Vtep, VtepError};

use super::output::Decision;
use crate::fib::{ApplyReport, Devices, FibError, FibHandle, FibRoute};

/// What one [`Dataplane::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataplaneReport {
    /// The VTEP pass before the routes (device check, entries written).
    pub entries: ReconcileReport,
    /// The routes.
    pub routes: ApplyReport,
    /// The VTEP pass after the routes that removed entries of departed peers, if one was needed.
    pub removed_entries: Option<ReconcileReport>,
}

/// A data plane step failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// The VTEP or its entries.
    #[error("VTEP: {0}")]
    Vtep(#[from] VtepError),
    /// The routes.
    #[error("routes: {0}")]
    Fib(#[from] FibError),
}

/// The VTEP and the FIB writer of one node, driven by decisions.
#[derive(Debug)]
pub struct Dataplane {
    vtep: Vtep,
    fib: FibHandle,
    peers: Vec<RemoteVtep>,
}

impl Dataplane {
    /// Drives `vtep` and `fib`.
    pub fn new(vtep: Vtep, fib: FibHandle) -> Dataplane {
        Dataplane {
            vtep,
            fib,
            peers: Vec::new(),
        }
    }

    /// The VTEP.
    pub fn vtep(&self) -> &Vtep {
        &self.vtep
    }

    /// The FIB writer.
    pub fn fib(&self) -> &FibHandle {
        &self.fib
    }

    /// Makes the kernel match `decision`.
    pub async fn apply(&mut self, decision: &Decision) -> Result<DataplaneReport, DataplaneError> {
        let mut union: BTreeMap<&str, RemoteVtep> = self
            .peers
            .iter()
            .map(|p| (p.node.as_str(), p.clone()))
            .collect();
        for p in &decision.vtep_peers {
            union.insert(&p.node, p.clone());
        }
        let union: Vec<RemoteVtep> = union.into_values().collect();
        let entries = self.vtep.reconcile(&union).await?;
        let devices = Devices {
            uplink: Some(self.vtep.uplink()),
            vxlan: self.vtep.ifindex(),
        };
        let routes = decision
            .routes
            .values()
            .map(|r| FibRoute::from_desired(r, devices))
            .collect();
        let mut routes = self.fib.set_all(routes).await?;
        if matches!(
            entries.device,
            DeviceAction::Created | DeviceAction::Recreated(_)
        ) {
            // The kernel dropped the routes through the old device without telling anyone
            // (IPv4 sends no RTM_DELROUTE for routes flushed with their device): read the
            // table back and restore what is missing.
            let resync = self.fib.resync().await?;
            routes.created += resync.created;
            routes.replaced += resync.replaced;
            routes.deleted += resync.deleted;
            routes.failed.extend(resync.failed);
            routes.messages += resync.messages;
            routes.sends += resync.sends;
        }
        let removed_entries = if union.len() != decision.vtep_peers.len() {
            Some(self.vtep.reconcile(&decision.vtep_peers).await?)
        } else {
            None
        };
        self.peers = decision.vtep_peers.clone();
        Ok(DataplaneReport {
            entries,
            routes,
            removed_entries,
        })
    }
}
