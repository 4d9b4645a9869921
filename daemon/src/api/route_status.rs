//! The route decision (DESIGN §3) as `margayctl node routes` shows it.

use margay_vxlan::DEVICE_NAME;

use super::types::{RouteKind, RouteStatus};
use crate::routing::{Decision, Via};

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl RouteStatus {
    /// Every block of `decision`, routed or not, sorted by destination; `uplink` is the
    /// underlay device direct routes leave by.
    pub fn from_decision(decision: &Decision, uplink: &str) -> Vec<RouteStatus> {
        let routed = decision.routes.values().map(|route| {
            let (kind, via) = match &route.via {
                Via::Blackhole => (RouteKind::Own, "blackhole".to_owned()),
                Via::Direct { gateway } => (RouteKind::Direct, format!("{gateway} dev {uplink}")),
                Via::Native { next_hops } => (RouteKind::Native, join(next_hops)),
                Via::Vxlan { gateway } => (
                    RouteKind::Vxlan,
                    format!("{gateway} dev {DEVICE_NAME} onlink"),
                ),
            };
            RouteStatus {
                dst: route.dst,
                kind,
                via,
                reason: route.reason.to_string(),
            }
        });
        let unrouted = decision.unrouted.iter().map(|(dst, reason)| RouteStatus {
            dst: *dst,
            kind: RouteKind::None,
            via: String::new(),
            reason: reason.to_string(),
        });
        let mut out: Vec<RouteStatus> = routed.chain(unrouted).collect();
        out.sort_by_key(|r| r.dst);
        out
    }
}
