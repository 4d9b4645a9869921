//! The routes the FIB writer programs, as plain data: destination plus blackhole or one or more
//! next hops. Built from the route decision's [`DesiredRoute`]s with the interface indexes of
//! the uplink and the VTEP.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::routing::{DesiredRoute, Via};

/// One next hop of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NextHop {
    /// The gateway.
    pub gateway: IpAddr,
    /// The output interface; `None` lets the kernel resolve it from the gateway (and accepts
    /// whatever it resolved when comparing with the kernel).
    pub oif: Option<u32>,
    /// `onlink`: the gateway is reachable on `oif` without a covering connected route (VXLAN).
    pub onlink: bool,
}

/// What a route does with a packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `blackhole`.
    Blackhole,
    /// Forward via these next hops (one: a plain route; several: ECMP multipath), sorted.
    Via(Vec<NextHop>),
}

/// A route the FIB writer owns. Build it with [`FibRoute::blackhole`] or [`FibRoute::via`]:
/// they clear the destination's host bits and sort the next hops, so a route compares equal to
/// what the kernel reports for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FibRoute {
    /// Destination prefix.
    pub dst: IpNetwork,
    /// Blackhole or next hops.
    pub target: Target,
}

/// The interfaces the decision's symbolic devices stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Devices {
    /// The uplink's index (for direct routes); `None` lets the kernel pick.
    pub uplink: Option<u32>,
    /// `vxlan.margay`'s index.
    pub vxlan: u32,
}

/// `dst` with its host bits cleared (`10.244.1.7/26` → `10.244.1.0/26`), as the kernel keys it.
pub fn canonical(dst: IpNetwork) -> IpNetwork {
    IpNetwork::new(dst.network(), dst.prefix()).expect("a network's own prefix length is valid")
}

impl FibRoute {
    /// A blackhole route.
    pub fn blackhole(dst: IpNetwork) -> FibRoute {
        FibRoute {
            dst: canonical(dst),
            target: Target::Blackhole,
        }
    }

    /// A route via next hops (sorted here, so equal sets compare equal).
    pub fn via(dst: IpNetwork, mut hops: Vec<NextHop>) -> FibRoute {
        hops.sort();
        hops.dedup();
        FibRoute {
            dst: canonical(dst),
            target: Target::Via(hops),
        }
    }

    /// The next hops (none for a blackhole).
    pub fn hops(&self) -> &[NextHop] {
        match &self.target {
            Target::Blackhole => &[],
            Target::Via(hops) => hops,
        }
    }

    /// The kernel route for a decision.
    pub fn from_desired(route: &DesiredRoute, devices: Devices) -> FibRoute {
        let hop = |gateway, oif, onlink| NextHop {
            gateway,
            oif,
            onlink,
        };
        match &route.via {
            Via::Blackhole => FibRoute::blackhole(route.dst),
            Via::Direct { gateway } => {
                FibRoute::via(route.dst, vec![hop(*gateway, devices.uplink, false)])
            }
            Via::Native { next_hops } => FibRoute::via(
                route.dst,
                next_hops.iter().map(|gw| hop(*gw, None, false)).collect(),
            ),
            Via::Vxlan { gateway } => {
                FibRoute::via(route.dst, vec![hop(*gateway, Some(devices.vxlan), true)])
            }
        }
    }

    /// Whether the kernel's route `kernel` does what `self` asks: same destination and target,
    /// where a next hop without `oif` accepts any interface.
    pub fn satisfied_by(&self, kernel: &FibRoute) -> bool {
        if self.dst != kernel.dst {
            return false;
        }
        match (&self.target, &kernel.target) {
            (Target::Blackhole, Target::Blackhole) => true,
            (Target::Via(want), Target::Via(have)) => {
                want.len() == have.len()
                    && want.iter().zip(have).all(|(w, h)| {
                        w.gateway == h.gateway
                            && w.onlink == h.onlink
                            && (w.oif.is_none() || w.oif == h.oif)
                    })
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Reason;

    fn hop(gw: &str, oif: Option<u32>, onlink: bool) -> NextHop {
        NextHop {
            gateway: gw.parse().unwrap(),
            oif,
            onlink,
        }
    }

    #[test]
    fn from_desired_maps_each_via() {
        let dst: IpNetwork = "10.244.2.0/26".parse().unwrap();
        let devices = Devices {
            uplink: Some(2),
            vxlan: 7,
        };
        let desired = |via| DesiredRoute {
            dst,
            via,
            reason: Reason::SameSubnet,
        };
        let gw = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            (Via::Blackhole, Target::Blackhole),
            (
                Via::Direct {
                    gateway: gw("172.18.1.11"),
                },
                Target::Via(vec![hop("172.18.1.11", Some(2), false)]),
            ),
            (
                Via::Native {
                    next_hops: vec![gw("172.18.1.2"), gw("172.18.1.1")],
                },
                Target::Via(vec![
                    hop("172.18.1.1", None, false),
                    hop("172.18.1.2", None, false),
                ]),
            ),
            (
                Via::Vxlan {
                    gateway: gw("10.244.2.0"),
                },
                Target::Via(vec![hop("10.244.2.0", Some(7), true)]),
            ),
        ];
        for (via, want) in cases {
            assert_eq!(
                FibRoute::from_desired(&desired(via.clone()), devices).target,
                want,
                "{via:?}"
            );
        }
    }

    #[test]
    fn satisfied_by_accepts_any_oif_only_where_none_was_asked() {
        let dst: IpNetwork = "10.244.2.0/26".parse().unwrap();
        let want = FibRoute::via(dst, vec![hop("172.18.1.1", None, false)]);
        assert!(want.satisfied_by(&FibRoute::via(dst, vec![hop("172.18.1.1", Some(3), false)])));
        assert!(!want.satisfied_by(&FibRoute::via(dst, vec![hop("172.18.1.2", Some(3), false)])));
        assert!(!want.satisfied_by(&FibRoute::blackhole(dst)));
        let pinned = FibRoute::via(dst, vec![hop("10.244.2.0", Some(7), true)]);
        assert!(!pinned.satisfied_by(&FibRoute::via(dst, vec![hop("10.244.2.0", Some(8), true)])));
        assert!(!pinned.satisfied_by(&FibRoute::via(dst, vec![hop("10.244.2.0", Some(7), false)])));
        let ecmp = FibRoute::via(
            dst,
            vec![
                hop("172.18.1.2", None, false),
                hop("172.18.1.1", None, false),
            ],
        );
        assert!(!ecmp.satisfied_by(&want));
        assert!(ecmp.satisfied_by(&FibRoute::via(
            dst,
            vec![
                hop("172.18.1.1", Some(2), false),
                hop("172.18.1.2", Some(2), false)
            ]
        )));
    }
}
