//! The receive side of the route socket, read straight from the bytes (`netlink(7)`,
//! `rtnetlink(7)`): netlink message headers, error/ACK codes, and `RTM_NEWROUTE`/`RTM_DELROUTE`
//! bodies decoded into [`KernelRoute`]s without building a generic attribute list — a dump
//! of 100 000 routes is decoded on every resync. Pure.
//!
//! ```text
//!  nlmsghdr  len u32 | type u16 | flags u16 | seq u32 | pid u32          (16 bytes)
//!  rtmsg     family | dst_len | src_len | tos | table | protocol | scope | type | flags u32
//!  rtattr*   len u16 | type u16 | value, 4-byte aligned
//!  RTA_MULTIPATH value: rtnexthop* = len u16 | flags u8 | hops u8 | ifindex i32 | rtattr*
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;

use super::route::{FibRoute, NextHop};

/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `RTM_NEWROUTE`.
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_DELROUTE`.
pub const RTM_DELROUTE: u16 = 25;
/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;

const NLMSG_HDRLEN: usize = 16;
const RTMSG_LEN: usize = 12;
const RTNH_LEN: usize = 8;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const RTN_UNICAST: u8 = 1;
const RTN_BLACKHOLE: u8 = 6;
const RTNH_F_ONLINK: u8 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
/// The low 14 bits of `rta_type` are the type; the top two are the nested/byte-order flags.
const RTA_TYPE_MASK: u16 = 0x3fff;

/// One netlink message, payload unparsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a> {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

impl RawMessage<'_> {
    /// For `NLMSG_ERROR`: the errno (positive), `Some(0)` for an ACK.
    pub fn error_code(&self) -> Option<i32> {
        (self.kind == NLMSG_ERROR)
            .then(|| -i32::from_ne_bytes(read4(self.payload, 0).unwrap_or_default()))
    }
}

fn read4(buf: &[u8], at: usize) -> Option<[u8; 4]> {
    buf.get(at..at + 4)?.try_into().ok()
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    read4(buf, at).map(u32::from_ne_bytes)
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

/// The messages of one datagram; a malformed header ends the walk with an error naming it.
pub fn raw_messages(buf: &[u8]) -> impl Iterator<Item = Result<RawMessage<'_>, String>> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if buf.len() - off < NLMSG_HDRLEN {
            return None;
        }
        let len = u32_at(buf, off).unwrap_or_default() as usize;
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            let bad = format!(
                "netlink message length {len} at offset {off} of a {}-byte datagram",
                buf.len()
            );
            off = buf.len();
            return Some(Err(bad));
        }
        let msg = RawMessage {
            kind: u16_at(buf, off + 4).unwrap_or_default(),
            flags: u16_at(buf, off + 6).unwrap_or_default(),
            seq: u32_at(buf, off + 8).unwrap_or_default(),
            payload: &buf[off + NLMSG_HDRLEN..off + len],
        };
        off += len.next_multiple_of(4);
        Some(Ok(msg))
    })
}

/// The attributes of a block: `(type, value)`, stopping at the first malformed one.
fn attributes(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(buf, off)?);
        let kind = u16_at(buf, off + 2)? & RTA_TYPE_MASK;
        let value = buf.get(off + 4..off + len.max(4))?;
        off += len.max(4).next_multiple_of(4);
        Some((kind, value))
    })
}

fn ip(family: u8, value: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(value).ok()?,
        ))),
        _ => None,
    }
}

/// The interface index of an `RTM_NEWLINK`/`RTM_DELLINK` body (`ifinfomsg`: family, pad,
/// type u16, index i32, flags, change).
pub fn link_index(payload: &[u8]) -> Option<u32> {
    u32_at(payload, 4)
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

/// Decodes the body of an `RTM_NEWROUTE`/`RTM_DELROUTE`: `Ok(None)` for other tables and
/// families, an error naming what is malformed.
pub fn decode_route(payload: &[u8], table: u32) -> Result<Option<KernelRoute>, String> {
    let h = payload
        .get(..RTMSG_LEN)
        .ok_or_else(|| format!("route message of {} bytes has no rtmsg", payload.len()))?;
    let (family, dst_len, kind, protocol) = (h[0], h[1], h[7], h[5]);
    if family != AF_INET && family != AF_INET6 {
        return Ok(None);
    }
    let onlink = u32_at(h, 8).unwrap_or_default() & u32::from(RTNH_F_ONLINK) != 0;
    let (mut route_table, mut dst, mut gateway, mut oif, mut metric, mut multipath) =
        (u32::from(h[4]), None, None, None, 0, None);
    for (attr, value) in attributes(&payload[RTMSG_LEN..]) {
        match attr {
            RTA_TABLE => route_table = u32_at(value, 0).unwrap_or(route_table),
            RTA_DST => dst = ip(family, value),
            RTA_GATEWAY => gateway = ip(family, value),
            RTA_OIF => oif = u32_at(value, 0),
            RTA_PRIORITY => metric = u32_at(value, 0).unwrap_or_default(),
            RTA_MULTIPATH => multipath = Some(value),
            _ => {}
        }
    }
    if route_table != table {
        return Ok(None);
    }
    let unspecified = if family == AF_INET {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    let dst = IpNetwork::new(dst.unwrap_or(unspecified), dst_len)
        .map_err(|e| format!("route destination: {e}"))?;
    let route = match (kind, gateway, multipath) {
        (RTN_BLACKHOLE, _, _) => Some(FibRoute::blackhole(dst)),
        (RTN_UNICAST, Some(gateway), None) => Some(FibRoute::via(
            dst,
            vec![NextHop {
                gateway,
                oif,
                onlink,
            }],
        )),
        (RTN_UNICAST, None, Some(hops)) => {
            next_hops(family, hops).map(|hops| FibRoute::via(dst, hops))
        }
        _ => None,
    };
    Ok(Some(KernelRoute {
        dst,
        protocol,
        metric,
        route,
    }))
}

/// The `rtnexthop`s of `RTA_MULTIPATH`; `None` if one has no gateway (not a shape we write).
fn next_hops(family: u8, mut buf: &[u8]) -> Option<Vec<NextHop>> {
    let mut hops = Vec::new();
    while buf.len() >= RTNH_LEN {
        let len = usize::from(u16_at(buf, 0)?);
        let body = buf.get(..len.max(RTNH_LEN))?;
        let gateway = attributes(&body[RTNH_LEN..])
            .find(|(t, _)| *t == RTA_GATEWAY)
            .and_then(|(_, v)| ip(family, v))?;
        let ifindex = u32_at(body, 4)?;
        hops.push(NextHop {
            gateway,
            oif: (ifindex != 0).then_some(ifindex),
            onlink: body[2] & RTNH_F_ONLINK != 0,
        });
        buf = buf
            .get(len.max(RTNH_LEN).next_multiple_of(4)..)
            .unwrap_or_default();
    }
    Some(hops)
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST};
    use netlink_packet_route::route::RouteType;

    use super::*;
    use crate::fib::codec::{Op, Owner, push_barrier, push_op, route_message};

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

    /// Encodes with netlink-packet-route (the independent encoder) and decodes with ours.
    fn round_trip(route: &FibRoute) -> KernelRoute {
        let mut buf = Vec::new();
        push_op(&mut buf, &Op::Replace(route.clone()), 9, &OWN);
        let msgs: Vec<RawMessage<'_>> = raw_messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            (msgs.len(), msgs[0].kind, msgs[0].seq),
            (1, RTM_NEWROUTE, 9)
        );
        decode_route(msgs[0].payload, 254).unwrap().unwrap()
    }

    #[test]
    fn every_shape_we_write_decodes_back() {
        let v4: IpNetwork = "10.244.2.0/26".parse().unwrap();
        let v6: IpNetwork = "fd00:244::/80".parse().unwrap();
        let routes = [
            FibRoute::blackhole(v4),
            FibRoute::blackhole("0.0.0.0/0".parse().unwrap()),
            FibRoute::via(v4, vec![hop("172.18.1.11", Some(2), false)]),
            FibRoute::via(v4, vec![hop("10.244.2.0", Some(7), true)]),
            FibRoute::via(
                v4,
                vec![
                    hop("172.18.1.1", Some(2), false),
                    hop("172.18.1.2", Some(3), true),
                ],
            ),
            FibRoute::via(v6, vec![hop("fd00::1", Some(2), false)]),
            FibRoute::via(
                v6,
                vec![hop("fd00::1", None, false), hop("fd00::2", None, false)],
            ),
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
    fn other_tables_and_shapes() {
        let dst: IpNetwork = "10.1.0.0/16".parse().unwrap();
        let mut msg = route_message(&FibRoute::blackhole(dst), &OWN);
        let bytes = |msg: &netlink_packet_route::route::RouteMessage| {
            let mut b = vec![0; netlink_packet_core::Emitable::buffer_len(msg)];
            netlink_packet_core::Emitable::emit(msg, &mut b);
            b
        };
        assert_eq!(decode_route(&bytes(&msg), 100), Ok(None));
        msg.header.kind = RouteType::Unreachable;
        let k = decode_route(&bytes(&msg), 254).unwrap().unwrap();
        assert_eq!(
            (k.dst, k.route),
            (dst, None),
            "an unreachable route is nothing we write"
        );
        assert!(
            decode_route(&[2, 16], 254)
                .unwrap_err()
                .contains("no rtmsg")
        );
    }

    #[test]
    fn headers_errors_and_truncation() {
        let mut buf = Vec::new();
        push_barrier(&mut buf, 5);
        let msg = raw_messages(&buf).next().unwrap().unwrap();
        assert_eq!(
            (msg.kind, msg.flags, msg.seq, msg.error_code()),
            (1, NLM_F_REQUEST | NLM_F_ACK, 5, None)
        );
        // An NLMSG_ERROR carrying -EEXIST.
        let mut err = vec![0u8; 36];
        err[..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[8..12].copy_from_slice(&7u32.to_ne_bytes());
        err[16..20].copy_from_slice(&(-17i32).to_ne_bytes());
        let msg = raw_messages(&err).next().unwrap().unwrap();
        assert_eq!((msg.seq, msg.error_code()), (7, Some(17)));
        err[..4].copy_from_slice(&400u32.to_ne_bytes());
        let bad = raw_messages(&err).next().unwrap().unwrap_err();
        assert_eq!(
            bad,
            "netlink message length 400 at offset 0 of a 36-byte datagram"
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn v4_hop() -> impl Strategy<Value = NextHop> {
            (
                any::<[u8; 4]>(),
                proptest::option::of(1u32..1000),
                any::<bool>(),
            )
                .prop_map(|(a, oif, onlink)| NextHop {
                    gateway: IpAddr::from(a),
                    oif,
                    onlink,
                })
        }

        fn v6_hop() -> impl Strategy<Value = NextHop> {
            (
                any::<[u8; 16]>(),
                proptest::option::of(1u32..1000),
                any::<bool>(),
            )
                .prop_map(|(a, oif, onlink)| NextHop {
                    gateway: IpAddr::from(a),
                    oif,
                    onlink,
                })
        }

        /// Every route shape the writer can emit: v4/v6, blackhole or 1–4 next hops.
        fn route() -> impl Strategy<Value = FibRoute> {
            let v4 = (any::<[u8; 4]>(), 0u8..=32)
                .prop_map(|(a, len)| IpNetwork::new(IpAddr::from(a), len).unwrap());
            let v6 = (any::<[u8; 16]>(), 0u8..=128)
                .prop_map(|(a, len)| IpNetwork::new(IpAddr::from(a), len).unwrap());
            let with_hops = |dst: BoxedStrategy<IpNetwork>, hop: BoxedStrategy<NextHop>| {
                (
                    dst,
                    proptest::option::of(proptest::collection::vec(hop, 1..=4)),
                )
                    .prop_map(|(dst, hops)| match hops {
                        None => FibRoute::blackhole(dst),
                        Some(hops) => FibRoute::via(dst, hops),
                    })
            };
            prop_oneof![
                with_hops(v4.boxed(), v4_hop().boxed()),
                with_hops(v6.boxed(), v6_hop().boxed()),
            ]
        }

        proptest! {
            #[test]
            fn what_we_encode_decodes_to_the_same_route(route in route(), metric in any::<u32>()) {
                let own = Owner { protocol: 77, table: 254, metric };
                let mut buf = Vec::new();
                push_op(&mut buf, &Op::Create(route.clone()), 1, &own);
                let msg = raw_messages(&buf).next().unwrap().unwrap();
                let k = decode_route(msg.payload, 254).unwrap().unwrap();
                prop_assert_eq!(k.metric, own.metric_for(&route.dst));
                // The kernel keeps one copy of a next hop listed twice; so does FibRoute::via.
                prop_assert_eq!(k.route, Some(route));
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                for msg in raw_messages(&bytes).flatten() {
                    let _ = msg.error_code();
                    let _ = decode_route(msg.payload, 254);
                }
                let _ = decode_route(&bytes, 254);
            }
        }
    }
}
