//! Route messages on the wire (rtnetlink, `rtnetlink(7)`): our routes and operations encoded as
//! `RTM_NEWROUTE`/`RTM_DELROUTE`, kernel routes (dumps, notifications) decoded back. Pure.
//!
//! Every message carries our protocol number, table and metric; a delete names our protocol,
//! so the kernel itself refuses to delete another protocol's route at the same key.

// netlink-packet-route's message types are `#[non_exhaustive]`: no struct literals outside the
// crate, so they are built from `Default` field by field.
#![allow(clippy::field_reassign_with_default)]

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop,
    RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::route::{FibRoute, NextHop, Target};

/// The routes a writer owns: its protocol number, table and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Protocol number (`rtm_protocol`).
    pub protocol: u8,
    /// Routing table.
    pub table: u32,
    /// Metric (`RTA_PRIORITY`); IPv6 uses 1024 where this is 0, as the kernel would.
    pub metric: u32,
}

impl Owner {
    /// The metric the kernel reports for our routes of `dst`'s family.
    pub fn metric_for(&self, dst: &IpNetwork) -> u32 {
        if dst.is_ipv6() && self.metric == 0 {
            1024
        } else {
            self.metric
        }
    }
}

/// One kernel operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`: fails with `EEXIST` instead of taking
    /// over a route of another protocol at the same key.
    Create(FibRoute),
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_REPLACE`: make-before-break change of a route
    /// that is already ours.
    Replace(FibRoute),
    /// `RTM_DELROUTE` of our route `dst` at `metric`.
    Delete {
        /// Destination.
        dst: IpNetwork,
        /// Metric.
        metric: u32,
    },
}

impl Op {
    /// The destination the operation is about.
    pub fn dst(&self) -> IpNetwork {
        match self {
            Op::Create(r) | Op::Replace(r) => r.dst,
            Op::Delete { dst, .. } => *dst,
        }
    }
}

fn family(dst: &IpNetwork) -> AddressFamily {
    if dst.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn header(dst: &IpNetwork, own: &Owner) -> RouteHeader {
    let mut h = RouteHeader::default();
    h.address_family = family(dst);
    h.destination_prefix_length = dst.prefix();
    h.table = u8::try_from(own.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    h.protocol = RouteProtocol::from(own.protocol);
    h
}

fn base_attributes(dst: &IpNetwork, metric: u32, own: &Owner) -> Vec<RouteAttribute> {
    vec![
        RouteAttribute::Table(own.table),
        RouteAttribute::Destination(dst.network().into()),
        RouteAttribute::Priority(metric),
    ]
}

/// The `RTM_NEWROUTE` body for `route`.
pub fn route_message(route: &FibRoute, own: &Owner) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header = header(&route.dst, own);
    msg.header.scope = RouteScope::Universe;
    msg.attributes = base_attributes(&route.dst, own.metric_for(&route.dst), own);
    match &route.target {
        Target::Blackhole => msg.header.kind = RouteType::BlackHole,
        Target::Via(hops) => {
            msg.header.kind = RouteType::Unicast;
            match hops.as_slice() {
                [hop] => {
                    msg.attributes
                        .push(RouteAttribute::Gateway(hop.gateway.into()));
                    if let Some(oif) = hop.oif {
                        msg.attributes.push(RouteAttribute::Oif(oif));
                    }
                    if hop.onlink {
                        msg.header.flags |= RouteFlags::Onlink;
                    }
                }
                hops => {
                    let hops = hops.iter().map(|hop| {
                        let mut nh = RouteNextHop::default();
                        nh.interface_index = hop.oif.unwrap_or(0);
                        if hop.onlink {
                            nh.flags |= RouteNextHopFlags::Onlink;
                        }
                        nh.attributes = vec![RouteAttribute::Gateway(hop.gateway.into())];
                        nh
                    });
                    msg.attributes
                        .push(RouteAttribute::MultiPath(hops.collect()));
                }
            }
        }
    }
    msg
}

/// The `RTM_DELROUTE` body for our route `dst` at `metric`.
pub fn delete_message(dst: &IpNetwork, metric: u32, own: &Owner) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header = header(dst, own);
    msg.header.scope = RouteScope::NoWhere;
    msg.attributes = base_attributes(dst, metric, own);
    msg
}

/// The `RTM_GETROUTE` dump request for our routes of one family (with `NETLINK_GET_STRICT_CHK`
/// the kernel filters by table and protocol itself).
pub fn dump_message(v4: bool, own: &Owner) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = if v4 {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.header.table = u8::try_from(own.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    msg.header.protocol = RouteProtocol::from(own.protocol);
    msg.attributes = vec![RouteAttribute::Table(own.table)];
    msg
}

/// Appends `payload` as one netlink message with `seq` and `flags` to `buf`.
pub fn push_message(
    buf: &mut Vec<u8>,
    payload: NetlinkPayload<RouteNetlinkMessage>,
    seq: u32,
    flags: u16,
) {
    let mut header = NetlinkHeader::default();
    header.sequence_number = seq;
    header.flags = flags;
    let mut msg = NetlinkMessage::new(header, payload);
    msg.finalize();
    let start = buf.len();
    let len = msg.buffer_len();
    buf.resize(start + len, 0);
    msg.serialize(&mut buf[start..]);
    // Messages are 4-byte aligned (NLMSG_ALIGN); route messages always are already.
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// Appends the request for `op` (errors are reported, success is silent: no `NLM_F_ACK`).
pub fn push_op(buf: &mut Vec<u8>, op: &Op, seq: u32, own: &Owner) {
    let (msg, flags) = match op {
        Op::Create(r) => (
            RouteNetlinkMessage::NewRoute(route_message(r, own)),
            NLM_F_CREATE | NLM_F_EXCL,
        ),
        Op::Replace(r) => (
            RouteNetlinkMessage::NewRoute(route_message(r, own)),
            NLM_F_CREATE | NLM_F_REPLACE,
        ),
        Op::Delete { dst, metric } => (
            RouteNetlinkMessage::DelRoute(delete_message(dst, *metric, own)),
            0,
        ),
    };
    push_message(
        buf,
        NetlinkPayload::InnerMessage(msg),
        seq,
        NLM_F_REQUEST | flags,
    );
}

/// Appends a barrier: `NLMSG_NOOP` with `NLM_F_ACK`. The kernel handles a send's messages in
/// order, so the barrier's ACK means every earlier message of the send has been handled and
/// its error, if any, is already queued.
pub fn push_barrier(buf: &mut Vec<u8>, seq: u32) {
    push_message(buf, NetlinkPayload::Noop, seq, NLM_F_REQUEST | NLM_F_ACK);
}

/// Appends a dump request.
pub fn push_dump(buf: &mut Vec<u8>, v4: bool, own: &Owner, seq: u32) {
    let msg = RouteNetlinkMessage::GetRoute(dump_message(v4, own));
    push_message(
        buf,
        NetlinkPayload::InnerMessage(msg),
        seq,
        NLM_F_REQUEST | NLM_F_DUMP,
    );
}

/// A route of our table as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    /// Destination.
    pub dst: IpNetwork,
    /// Protocol number.
    pub protocol: u8,
    /// Metric.
    pub metric: u32,
    /// The route, or `None` for what we never write (another type, a device route, ...).
    pub route: Option<FibRoute>,
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// Decodes a kernel route if it is in `table`; `None` for other tables and families.
pub fn decode_route(msg: &RouteMessage, table: u32) -> Option<KernelRoute> {
    let h = &msg.header;
    let mut route_table = u32::from(h.table);
    let (mut dst_addr, mut gateway, mut oif, mut metric, mut multipath) =
        (None, None, None, 0, None);
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => route_table = *t,
            RouteAttribute::Destination(a) => dst_addr = address(a),
            RouteAttribute::Gateway(a) => gateway = address(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::MultiPath(hops) => multipath = Some(hops),
            _ => {}
        }
    }
    if route_table != table {
        return None;
    }
    let dst_addr = match (dst_addr, h.address_family) {
        (Some(a), _) => a,
        (None, AddressFamily::Inet) => IpAddr::V4(0.into()),
        (None, AddressFamily::Inet6) => IpAddr::V6(0.into()),
        _ => return None,
    };
    let dst = IpNetwork::new(dst_addr, h.destination_prefix_length).ok()?;
    let route = match (h.kind, gateway, multipath) {
        (RouteType::BlackHole, _, _) => Some(FibRoute::blackhole(dst)),
        (RouteType::Unicast, Some(gateway), None) => Some(FibRoute::via(
            dst,
            vec![NextHop {
                gateway,
                oif,
                onlink: h.flags.contains(RouteFlags::Onlink),
            }],
        )),
        (RouteType::Unicast, None, Some(hops)) => {
            let hops: Option<Vec<NextHop>> = hops
                .iter()
                .map(|nh| {
                    let gateway = nh.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Gateway(g) => address(g),
                        _ => None,
                    })?;
                    let oif = (nh.interface_index != 0).then_some(nh.interface_index);
                    Some(NextHop {
                        gateway,
                        oif,
                        onlink: nh.flags.contains(RouteNextHopFlags::Onlink),
                    })
                })
                .collect();
            hops.map(|hops| FibRoute::via(dst, hops))
        }
        _ => None,
    };
    Some(KernelRoute {
        dst,
        protocol: u8::from(h.protocol),
        metric,
        route,
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NLMSG_NOOP, NetlinkBuffer};

    use super::*;

    const OWN: Owner = Owner {
        protocol: 77,
        table: 254,
        metric: 0,
    };

    fn hop(gw: &str, oif: Option<u32>, onlink: bool) -> NextHop {
        NextHop {
            gateway: gw.parse().unwrap(),
            oif,
            onlink,
        }
    }

    fn round_trip(route: &FibRoute) -> KernelRoute {
        let mut buf = Vec::new();
        push_op(&mut buf, &Op::Replace(route.clone()), 9, &OWN);
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        assert_eq!(msg.header.sequence_number, 9);
        assert_eq!(
            msg.header.flags,
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
        );
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => {
                decode_route(&m, 254).unwrap()
            }
            other => panic!("not a NewRoute: {other:?}"),
        }
    }

    #[test]
    fn encode_decode_round_trip_of_every_target() {
        let v4: IpNetwork = "10.244.2.0/26".parse().unwrap();
        let v6: IpNetwork = "fd00:244::/80".parse().unwrap();
        let routes = [
            FibRoute::blackhole(v4),
            FibRoute::via(v4, vec![hop("172.18.1.11", Some(2), false)]),
            FibRoute::via(v4, vec![hop("10.244.2.0", Some(7), true)]),
            FibRoute::via(
                v4,
                vec![
                    hop("172.18.1.1", Some(2), false),
                    hop("172.18.1.2", Some(3), false),
                ],
            ),
            FibRoute::via(v6, vec![hop("fd00::1", Some(2), false)]),
        ];
        for route in routes {
            let k = round_trip(&route);
            assert_eq!(
                (k.protocol, k.metric),
                (77, OWN.metric_for(&route.dst)),
                "{route:?}"
            );
            assert_eq!(k.route.as_ref(), Some(&route));
        }
    }

    #[test]
    fn delete_names_our_protocol_and_metric_and_create_is_exclusive() {
        let dst: IpNetwork = "10.244.2.0/26".parse().unwrap();
        let mut buf = Vec::new();
        push_op(&mut buf, &Op::Delete { dst, metric: 0 }, 1, &OWN);
        push_op(&mut buf, &Op::Create(FibRoute::blackhole(dst)), 2, &OWN);
        push_barrier(&mut buf, 3);
        let mut off = 0;
        let mut seen = Vec::new();
        while off < buf.len() {
            let len = NetlinkBuffer::new_checked(&buf[off..]).unwrap().length() as usize;
            let msg =
                NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[off..off + len]).unwrap();
            seen.push((
                msg.header.sequence_number,
                msg.header.flags,
                msg.header.message_type,
            ));
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m)) = &msg.payload {
                assert_eq!(u8::from(m.header.protocol), 77);
                assert_eq!(m.header.scope, RouteScope::NoWhere);
                assert!(m.attributes.contains(&RouteAttribute::Priority(0)));
            }
            off += len;
        }
        assert_eq!(
            seen,
            [
                (1, NLM_F_REQUEST, 25),
                (2, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, 24),
                (3, NLM_F_REQUEST | NLM_F_ACK, NLMSG_NOOP)
            ]
        );
    }

    #[test]
    fn decode_skips_other_tables_and_marks_foreign_shapes() {
        let dst: IpNetwork = "10.1.0.0/16".parse().unwrap();
        let mut msg = route_message(&FibRoute::blackhole(dst), &OWN);
        assert!(decode_route(&msg, 100).is_none());
        msg.header.kind = RouteType::Unreachable;
        let k = decode_route(&msg, 254).unwrap();
        assert_eq!(k.route, None, "an unreachable route is nothing we write");
    }
}
