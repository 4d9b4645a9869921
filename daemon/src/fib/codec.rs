//! Route messages on the wire (rtnetlink, `rtnetlink(7)`): our routes and operations encoded as
//! `RTM_NEWROUTE`/`RTM_DELROUTE`, kernel routes (dumps, notifications) decoded back. Pure.
//!
//! Every message carries our protocol number, table and metric; a delete names our protocol,
//! so the kernel itself refuses to delete another protocol's route at the same key.

// netlink-packet-route's message types are `#[non_exhaustive]`: no struct literals outside the
// crate, so they are built from `Default` field by field.
#![allow(clippy::field_reassign_with_default)]

use ipnetwork::IpNetwork;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::route::{
    RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop, RouteNextHopFlags,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::route::{FibRoute, Target};

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

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NLMSG_NOOP, NetlinkBuffer};

    use super::*;

    const OWN: Owner = Owner {
        protocol: 77,
        table: 254,
        metric: 0,
    };

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
}
