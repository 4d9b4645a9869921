//! `/metrics` (Prometheus text format 0.0.4), `/livez` and `/readyz` on `metricsListen`
//! (DESIGN §7), answered from the same status the local API serves.
//!
//! - live: the agent's input loop answered a status request within [`LIVE_TIMEOUT`];
//! - ready: the node has its VTEP address (so a block), its kernel has been reconciled (not in a
//!   restart hold), and every BGP session it should have is Established — what calico-node's
//!   readiness probe checks with `-bird-ready -felix-ready`.

mod http;
mod metrics;

use std::time::Duration;

pub use http::{HealthServer, serve};
pub use metrics::prometheus_text;

use crate::api::NodeStatus;

/// How long `/livez` waits for the agent's loop.
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// `Ok` when the node is ready; otherwise every reason it is not.
pub fn readiness(status: &NodeStatus) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if status.vtep.is_none() {
        reasons
            .push("no VTEP address (and no block) yet: is there an IP pool for this node?".into());
    }
    if !status.converged {
        reasons.push("restarting: waiting for BGP to converge before touching routes".into());
    }
    for s in &status.sessions {
        if s.state != "Established" {
            reasons.push(format!(
                "BGP session with {} ({} {}) is {}",
                s.peer, s.kind, s.name, s.state
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SessionStatus, VtepStatus};
    use crate::peering::PeerKind;

    pub(super) fn status() -> NodeStatus {
        NodeStatus {
            node: "node-a".into(),
            underlay: "172.18.1.10/24".parse().unwrap(),
            asn: 64512,
            router_id: "172.18.1.10".parse().unwrap(),
            route_reflector_cluster_id: None,
            blocks: vec!["10.244.1.0/26".parse().unwrap()],
            vtep: Some(VtepStatus {
                device: "vxlan.margay".into(),
                tunnel_address: "10.244.1.0".parse().unwrap(),
                mac: "0e:00:00:00:00:01".into(),
                mtu: 1450,
            }),
            sessions: vec![SessionStatus {
                peer: "172.18.1.11".parse().unwrap(),
                kind: PeerKind::Mesh,
                name: "node-b".into(),
                asn: 64512,
                state: "Established".into(),
                since_unix: 1,
                prefixes_received: 1,
                prefixes_sent: 1,
                last_error: None,
            }],
            problems: Vec::new(),
            converged: true,
        }
    }

    #[test]
    fn ready_needs_vtep_convergence_and_every_session_up() {
        assert_eq!(readiness(&status()), Ok(()));
        let mut s = status();
        s.sessions[0].state = "Active".into();
        s.converged = false;
        s.vtep = None;
        let reasons = readiness(&s).unwrap_err();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons[2].contains("172.18.1.11 (mesh node-b) is Active"),
            "{reasons:?}"
        );
    }
}
