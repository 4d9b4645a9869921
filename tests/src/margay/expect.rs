//! What a node should have for a block, checked where a user would look: the route and its
//! kind in `margayctl node routes`, and the route in the kernel (`ip route show proto 77`).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnetwork::IpNetwork;
use margay_daemon::api::{RouteKind, RouteStatus};

use crate::wait::wait_until;

use super::kernel::{KernelRoute, routes_in};
use super::node::MargayNode;

/// The route a node should have for one block (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// One of its own blocks: `blackhole`.
    Own,
    /// Same subnet: via the owner's underlay address, not through the VTEP.
    Direct(IpAddr),
    /// Via these BGP next hops (ToRs), not through the VTEP.
    Native(Vec<IpAddr>),
    /// Through the VTEP, via the owner's tunnel address, `onlink`.
    Vxlan(IpAddr),
    /// No route at all (neither in the API nor in the kernel).
    Absent,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Own => write!(f, "own (blackhole)"),
            Expected::Direct(gw) => write!(f, "direct via {gw}"),
            Expected::Native(hops) => write!(f, "native via {hops:?}"),
            Expected::Vxlan(tunnel) => write!(f, "vxlan via {tunnel} onlink"),
            Expected::Absent => write!(f, "absent"),
        }
    }
}

fn gateways(hops: &[IpAddr]) -> Vec<String> {
    let mut hops: Vec<String> = hops.iter().map(ToString::to_string).collect();
    hops.sort();
    hops
}

impl Expected {
    fn kind(&self) -> Option<RouteKind> {
        match self {
            Expected::Own => Some(RouteKind::Own),
            Expected::Direct(_) => Some(RouteKind::Direct),
            Expected::Native(_) => Some(RouteKind::Native),
            Expected::Vxlan(_) => Some(RouteKind::Vxlan),
            Expected::Absent => None,
        }
    }

    /// The API's view: the kind, and every gateway named in `via`.
    fn check_api(&self, route: Option<&RouteStatus>) -> Result<(), String> {
        let route = match (route, self.kind()) {
            (None, None) => return Ok(()),
            (Some(r), None) if r.kind == RouteKind::None => return Ok(()),
            (Some(r), Some(kind)) if r.kind == kind => r,
            (other, _) => return Err(format!("API: {other:?}")),
        };
        let named: Vec<IpAddr> = match self {
            Expected::Direct(gw) | Expected::Vxlan(gw) => vec![*gw],
            Expected::Native(hops) => hops.clone(),
            Expected::Own | Expected::Absent => Vec::new(),
        };
        let missing: Vec<&IpAddr> = named
            .iter()
            .filter(|gw| !route.via.contains(&gw.to_string()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("API: {route:?} does not name {missing:?}"))
        }
    }

    /// The kernel's view.
    fn check_kernel(&self, route: Option<&KernelRoute>) -> Result<(), String> {
        let ok = match (self, route) {
            (Expected::Absent, None) => true,
            (Expected::Own, Some(r)) => r.is_blackhole(),
            (Expected::Direct(gw), Some(r)) => {
                !r.is_blackhole() && !r.via_vtep() && r.gateways == [gw.to_string()]
            }
            (Expected::Native(hops), Some(r)) => {
                let mut seen = r.gateways.clone();
                seen.sort();
                !r.is_blackhole() && !r.via_vtep() && seen == gateways(hops)
            }
            (Expected::Vxlan(tunnel), Some(r)) => {
                r.via_vtep() && r.onlink && r.gateways == [tunnel.to_string()]
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            let seen = route.map_or("no route".to_owned(), ToString::to_string);
            Err(format!("kernel: {seen}"))
        }
    }
}

impl MargayNode {
    /// Whether every `(block, expected)` holds in the API and the kernel; `Err` lists what
    /// does not.
    pub fn check_block_routes(&self, expected: &[(IpNetwork, Expected)]) -> Result<(), String> {
        let api = self.try_routes()?;
        let kernel = routes_in(self.netns());
        let wrong: Vec<String> = expected
            .iter()
            .filter_map(|(dst, want)| {
                let in_api = api.iter().find(|r| r.dst == *dst);
                let in_kernel = kernel.iter().find(|r| r.dst == dst.to_string());
                let problems: Vec<String> = [want.check_api(in_api), want.check_kernel(in_kernel)]
                    .into_iter()
                    .filter_map(Result::err)
                    .collect();
                (!problems.is_empty())
                    .then(|| format!("{dst}: want {want}; {}", problems.join("; ")))
            })
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}\nkernel routes (proto 77): {:?}",
                wrong.join("\n"),
                kernel.iter().map(ToString::to_string).collect::<Vec<_>>()
            ))
        }
    }

    /// Waits until [`MargayNode::check_block_routes`] holds.
    pub fn wait_block_routes(&self, expected: &[(IpNetwork, Expected)], timeout: Duration) {
        wait_until(
            timeout,
            &format!("the routes of {} ({} blocks)", self.name(), expected.len()),
            || self.check_block_routes(expected),
        );
    }
}
