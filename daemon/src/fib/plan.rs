//! List-diff-apply, the pure part: the kernel's routes of our protocol as we last saw them,
//! and the operations that turn them into the desired set. Equal routes cost no message.

use std::collections::HashSet;

use ipnetwork::IpNetwork;

use super::codec::{Op, Owner};
use super::hash::RouteMap;
use super::route::FibRoute;
use super::wire::KernelRoute;

/// What a kernel route event meant for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// One of our routes (at our metric) appeared, changed or went.
    Ours,
    /// A route of our protocol at another metric (left by an older configuration): a stray.
    Stray,
    /// Another protocol's route at the key of one of ours: it took the key over.
    TakenOver,
    /// Nothing of ours.
    Foreign,
}

/// The kernel's routes of our protocol in our table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KernelView {
    /// Our routes at our metric, by destination (`None`: a shape we never write).
    pub routes: RouteMap<Option<FibRoute>>,
    /// Our routes at another metric: always swept.
    pub strays: HashSet<(IpNetwork, u32)>,
}

impl KernelView {
    /// Records a route that the kernel added or changed.
    pub fn observe_new(&mut self, k: KernelRoute, own: &Owner) -> Observed {
        let our_metric = k.metric == own.metric_for(&k.dst);
        if k.protocol != own.protocol {
            return if our_metric && self.routes.remove(&k.dst).is_some() {
                Observed::TakenOver
            } else {
                Observed::Foreign
            };
        }
        if our_metric {
            self.routes.insert(k.dst, k.route);
            Observed::Ours
        } else {
            self.strays.insert((k.dst, k.metric));
            Observed::Stray
        }
    }

    /// Records a route that the kernel deleted.
    pub fn observe_del(&mut self, k: &KernelRoute, own: &Owner) -> Observed {
        if k.protocol != own.protocol {
            return Observed::Foreign;
        }
        if k.metric == own.metric_for(&k.dst) {
            self.routes.remove(&k.dst);
            Observed::Ours
        } else {
            self.strays.remove(&(k.dst, k.metric));
            Observed::Stray
        }
    }

    /// Records the effect of an operation the kernel accepted.
    pub fn applied(&mut self, op: &Op, own: &Owner) {
        match op {
            Op::Create(r) | Op::Replace(r) => {
                self.routes.insert(r.dst, Some(r.clone()));
            }
            Op::Delete { dst, metric } if *metric == own.metric_for(dst) => {
                self.routes.remove(dst);
            }
            Op::Delete { dst, metric } => {
                self.strays.remove(&(*dst, *metric));
            }
        }
    }
}

/// The operation (if any) that makes the kernel's route for `dst` what `desired` says.
pub fn plan_key(
    dst: IpNetwork,
    desired: &RouteMap<FibRoute>,
    kernel: &KernelView,
    own: &Owner,
) -> Option<Op> {
    match (desired.get(&dst), kernel.routes.get(&dst)) {
        (Some(want), None) => Some(Op::Create(want.clone())),
        (Some(want), Some(Some(have))) if want.satisfied_by(have) => None,
        (Some(want), Some(_)) => Some(Op::Replace(want.clone())),
        (None, Some(_)) => Some(Op::Delete {
            dst,
            metric: own.metric_for(&dst),
        }),
        (None, None) => None,
    }
}

/// Every operation between the kernel and the desired set: creates and replaces first, then
/// deletes of what is not desired, then the strays. One lookup per desired route; the pass
/// over the kernel's routes is skipped when every one of them matched a desired route.
pub fn plan_all(desired: &RouteMap<FibRoute>, kernel: &KernelView, own: &Owner) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut present = 0;
    for (dst, want) in desired {
        match kernel.routes.get(dst) {
            None => ops.push(Op::Create(want.clone())),
            Some(have) => {
                present += 1;
                if !have.as_ref().is_some_and(|have| want.satisfied_by(have)) {
                    ops.push(Op::Replace(want.clone()));
                }
            }
        }
    }
    if present < kernel.routes.len() {
        let unwanted = kernel
            .routes
            .keys()
            .filter(|dst| !desired.contains_key(dst));
        ops.extend(unwanted.map(|dst| Op::Delete {
            dst: *dst,
            metric: own.metric_for(dst),
        }));
    }
    ops.extend(kernel.strays.iter().map(|(dst, metric)| Op::Delete {
        dst: *dst,
        metric: *metric,
    }));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::route::NextHop;

    const OWN: Owner = Owner {
        protocol: 77,
        table: 254,
        metric: 0,
    };

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    fn via(dst: &str, gw: &str) -> FibRoute {
        FibRoute::via(
            net(dst),
            vec![NextHop {
                gateway: gw.parse().unwrap(),
                oif: None,
                onlink: false,
            }],
        )
    }

    fn kernel(dst: &str, protocol: u8, metric: u32, route: Option<FibRoute>) -> KernelRoute {
        KernelRoute {
            dst: net(dst),
            protocol,
            metric,
            route,
        }
    }

    #[test]
    fn plan_creates_replaces_deletes_and_leaves_equal_routes_alone() {
        let desired: RouteMap<_> = [
            (net("10.0.1.0/26"), via("10.0.1.0/26", "172.18.1.1")),
            (net("10.0.2.0/26"), via("10.0.2.0/26", "172.18.1.2")),
            (net("10.0.3.0/26"), FibRoute::blackhole(net("10.0.3.0/26"))),
        ]
        .into_iter()
        .collect();
        let mut view = KernelView::default();
        view.observe_new(
            kernel("10.0.1.0/26", 77, 0, Some(via("10.0.1.0/26", "172.18.1.1"))),
            &OWN,
        );
        view.observe_new(
            kernel("10.0.2.0/26", 77, 0, Some(via("10.0.2.0/26", "172.18.1.9"))),
            &OWN,
        );
        view.observe_new(kernel("10.0.9.0/26", 77, 0, None), &OWN);
        view.observe_new(kernel("10.0.1.0/26", 77, 100, None), &OWN);
        assert_eq!(
            view.observe_new(kernel("10.0.8.0/26", 12, 0, None), &OWN),
            Observed::Foreign
        );
        let mut ops = plan_all(&desired, &view, &OWN);
        ops.sort_by_key(|op| (op.dst(), format!("{op:?}")));
        assert_eq!(
            ops,
            [
                Op::Delete {
                    dst: net("10.0.1.0/26"),
                    metric: 100
                },
                Op::Replace(via("10.0.2.0/26", "172.18.1.2")),
                Op::Create(FibRoute::blackhole(net("10.0.3.0/26"))),
                Op::Delete {
                    dst: net("10.0.9.0/26"),
                    metric: 0
                },
            ]
        );
        for op in &ops {
            view.applied(op, &OWN);
        }
        assert!(plan_all(&desired, &view, &OWN).is_empty(), "{view:?}");
    }

    #[test]
    fn foreign_route_at_our_key_is_a_takeover_not_ours() {
        let mut view = KernelView::default();
        view.observe_new(
            kernel("10.0.1.0/26", 77, 0, Some(via("10.0.1.0/26", "172.18.1.1"))),
            &OWN,
        );
        assert_eq!(
            view.observe_new(kernel("10.0.1.0/26", 4, 0, None), &OWN),
            Observed::TakenOver
        );
        assert!(view.routes.is_empty());
        assert_eq!(
            view.observe_del(&kernel("10.0.1.0/26", 4, 0, None), &OWN),
            Observed::Foreign
        );
    }

    #[test]
    fn ipv6_metric_zero_means_1024() {
        let own = OWN;
        let mut view = KernelView::default();
        assert_eq!(
            view.observe_new(kernel("fd00::/64", 77, 1024, None), &own),
            Observed::Ours
        );
        let ops = plan_all(&RouteMap::default(), &view, &own);
        assert_eq!(
            ops,
            [Op::Delete {
                dst: net("fd00::/64"),
                metric: 1024
            }]
        );
    }
}
