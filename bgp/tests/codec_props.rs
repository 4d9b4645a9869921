//! Property tests of the wire codec: decode∘encode is the identity on generated valid
//! messages of every type, under every session context (2/4-octet AS, ADD-PATH per family,
//! extended messages, iBGP/eBGP); and encode∘decode gives back the same bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use margay_bgp::wire::{
    self, AddPathFamily, AddPathMode, AfiSafi, Aggregator, AsPath, AsSegment, Attribute,
    Capability, Community, ErrorCode, ExtendedCommunity, FamilySet, GracefulRestart,
    GracefulRestartFamily, Ipv4Nlri, Ipv4Prefix, Ipv6Nlri, Ipv6Prefix, LargeCommunity, Message,
    MpNlri, MpReach, MpUnreach, NextHop, Nlri, Notification, Open, OptionalParameter, Origin,
    PathAttribute, PeerType, RouteRefresh, RouteRefreshSubtype, SegmentType, SessionContext,
    UnknownAttribute, Update,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn context() -> impl Strategy<Value = SessionContext> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(four_octet_as, extended_message, ap4, ap6, internal)| {
            let mut add_path = FamilySet::EMPTY;
            if ap4 {
                add_path.insert(AfiSafi::IPV4_UNICAST);
            }
            if ap6 {
                add_path.insert(AfiSafi::IPV6_UNICAST);
            }
            SessionContext {
                four_octet_as,
                extended_message,
                add_path_receive: add_path,
                add_path_send: add_path,
                peer_type: if internal {
                    PeerType::Internal
                } else {
                    PeerType::External
                },
            }
        })
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn ipv4_prefix() -> impl Strategy<Value = Ipv4Prefix> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| Ipv4Prefix::new(Ipv4Addr::from(a), l).expect("len ≤ 32"))
}

fn ipv6_prefix() -> impl Strategy<Value = Ipv6Prefix> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| Ipv6Prefix::new(Ipv6Addr::from(a), l).expect("len ≤ 128"))
}

fn nlri<P: std::fmt::Debug + Clone>(
    prefix: impl Strategy<Value = P>,
    add_path: bool,
    max: usize,
) -> impl Strategy<Value = Vec<Nlri<P>>> {
    let path_id = if add_path {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    };
    vec(
        (path_id, prefix).prop_map(|(path_id, prefix)| Nlri { path_id, prefix }),
        0..=max,
    )
}

/// A family margay does not route (anything but AFI 1/2 with SAFI 1).
fn other_family() -> impl Strategy<Value = AfiSafi> {
    (3u16..=65535, any::<u8>()).prop_map(|(afi, safi)| AfiSafi::new(afi, safi))
}

fn any_family() -> impl Strategy<Value = AfiSafi> {
    (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| AfiSafi::new(afi, safi))
}

fn as_path(wide: bool, confed: bool) -> impl Strategy<Value = AsPath> {
    let max = if wide { u32::MAX } else { u32::from(u16::MAX) };
    let kinds = if confed {
        prop_oneof![
            Just(SegmentType::Set),
            Just(SegmentType::Sequence),
            Just(SegmentType::ConfedSequence),
            Just(SegmentType::ConfedSet)
        ]
        .boxed()
    } else {
        prop_oneof![Just(SegmentType::Set), Just(SegmentType::Sequence)].boxed()
    };
    vec(
        (kinds, vec(0..=max, 1..=12)).prop_map(|(kind, asns)| AsSegment { kind, asns }),
        0..=4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn aggregator(wide: bool) -> impl Strategy<Value = Aggregator> {
    let max = if wide { u32::MAX } else { u32::from(u16::MAX) };
    (0..=max, any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn ipv6_next_hop() -> impl Strategy<Value = NextHop> {
    (v6(), proptest::option::of(v6()))
        .prop_map(|(global, link_local)| NextHop::Ipv6 { global, link_local })
}

fn mp_reach(ctx: SessionContext) -> impl Strategy<Value = MpReach> {
    let ap4 = ctx.add_path_send.contains(AfiSafi::IPV4_UNICAST);
    let ap6 = ctx.add_path_send.contains(AfiSafi::IPV6_UNICAST);
    prop_oneof![
        (
            prop_oneof![
                any::<u32>().prop_map(|a| NextHop::Ipv4(Ipv4Addr::from(a))),
                ipv6_next_hop()
            ],
            nlri(ipv4_prefix(), ap4, 16)
        )
            .prop_map(|(next_hop, n)| MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop,
                nlri: MpNlri::Ipv4(n)
            }),
        (ipv6_next_hop(), nlri(ipv6_prefix(), ap6, 16)).prop_map(|(next_hop, n)| MpReach {
            family: AfiSafi::IPV6_UNICAST,
            next_hop,
            nlri: MpNlri::Ipv6(n)
        }),
        (other_family(), bytes(40), bytes(64)).prop_map(|(family, nh, n)| MpReach {
            family,
            next_hop: NextHop::Other(nh),
            nlri: MpNlri::Other(n)
        }),
    ]
}

fn mp_unreach(ctx: SessionContext) -> impl Strategy<Value = MpUnreach> {
    let ap4 = ctx.add_path_send.contains(AfiSafi::IPV4_UNICAST);
    let ap6 = ctx.add_path_send.contains(AfiSafi::IPV6_UNICAST);
    prop_oneof![
        nlri(ipv4_prefix(), ap4, 16).prop_map(|n| MpUnreach {
            family: AfiSafi::IPV4_UNICAST,
            withdrawn: MpNlri::Ipv4(n)
        }),
        nlri(ipv6_prefix(), ap6, 16).prop_map(|n| MpUnreach {
            family: AfiSafi::IPV6_UNICAST,
            withdrawn: MpNlri::Ipv6(n)
        }),
        (other_family(), bytes(64)).prop_map(|(family, n)| MpUnreach {
            family,
            withdrawn: MpNlri::Other(n)
        }),
    ]
}

/// Type codes no decoder claims (RFC 4271 §5: kept as unknown optional attributes).
fn unknown_type_code() -> impl Strategy<Value = u8> {
    prop_oneof![11u8..=13, 19u8..=31, 33u8..=255]
}

/// At most one attribute of each type, in any order, partial and extended-length bits free.
fn attributes(ctx: SessionContext) -> impl Strategy<Value = Vec<PathAttribute>> {
    let wide = ctx.four_octet_as;
    let one = |s: BoxedStrategy<Attribute>| proptest::option::of(s);
    let set_a = (
        one(prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]
        .prop_map(Attribute::Origin)
        .boxed()),
        one(as_path(wide, true).prop_map(Attribute::AsPath).boxed()),
        one(any::<u32>()
            .prop_map(|a| Attribute::NextHop(Ipv4Addr::from(a)))
            .boxed()),
        one(any::<u32>().prop_map(Attribute::MultiExitDisc).boxed()),
        one(any::<u32>().prop_map(Attribute::LocalPref).boxed()),
        one(Just(Attribute::AtomicAggregate).boxed()),
        one(aggregator(wide).prop_map(Attribute::Aggregator).boxed()),
        one(vec(any::<u32>().prop_map(Community), 1..=16)
            .prop_map(Attribute::Communities)
            .boxed()),
    );
    let set_b = (
        one(any::<u32>()
            .prop_map(|a| Attribute::OriginatorId(Ipv4Addr::from(a)))
            .boxed()),
        one(vec(any::<u32>().prop_map(Ipv4Addr::from), 1..=8)
            .prop_map(Attribute::ClusterList)
            .boxed()),
        one(mp_reach(ctx).prop_map(Attribute::MpReachNlri).boxed()),
        one(mp_unreach(ctx).prop_map(Attribute::MpUnreachNlri).boxed()),
        one(vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..=8)
            .prop_map(Attribute::ExtendedCommunities)
            .boxed()),
        one(as_path(true, false).prop_map(Attribute::As4Path).boxed()),
        one(aggregator(true).prop_map(Attribute::As4Aggregator).boxed()),
        one(vec(
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(g, a, b)| LargeCommunity {
                global_admin: g,
                local_data_1: a,
                local_data_2: b,
            }),
            1..=8,
        )
        .prop_map(Attribute::LargeCommunities)
        .boxed()),
    );
    let unknown = vec(
        (unknown_type_code(), any::<bool>(), bytes(40)).prop_map(
            |(type_code, transitive, value)| UnknownAttribute {
                type_code,
                transitive,
                value,
            },
        ),
        0..=3,
    );
    (set_a, set_b, unknown, vec(any::<(bool, bool)>(), 20))
        .prop_map(
            |(
                (a1, a2, a3, a4, a5, a6, a7, a8),
                (b1, b2, b3, b4, b5, b6, b7, b8),
                unknown,
                flags,
            )| {
                let mut seen = std::collections::HashSet::new();
                let unknown = unknown
                    .into_iter()
                    .filter(|u| seen.insert(u.type_code))
                    .map(Attribute::Unknown);
                [
                    a1, a2, a3, a4, a5, a6, a7, a8, b1, b2, b3, b4, b5, b6, b7, b8,
                ]
                .into_iter()
                .flatten()
                .chain(unknown)
                .zip(flags)
                .map(|(value, (partial, extended_length))| PathAttribute {
                    partial,
                    extended_length,
                    value,
                })
                .collect::<Vec<_>>()
            },
        )
        .prop_shuffle()
}

fn update(ctx: SessionContext) -> impl Strategy<Value = Update> {
    let ap4 = ctx.add_path_send.contains(AfiSafi::IPV4_UNICAST);
    (
        nlri(ipv4_prefix(), ap4, 24),
        attributes(ctx),
        nlri(ipv4_prefix(), ap4, 24),
    )
        .prop_map(|(withdrawn, attributes, nlri)| Update {
            withdrawn,
            attributes,
            nlri,
        })
}

fn capability() -> impl Strategy<Value = Capability> {
    let add_path_mode = prop_oneof![
        Just(AddPathMode::Receive),
        Just(AddPathMode::Send),
        Just(AddPathMode::Both),
        prop_oneof![Just(0u8), 4u8..=255].prop_map(AddPathMode::Unknown),
    ];
    prop_oneof![
        any_family().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..=4095,
            vec((any_family(), any::<bool>()), 0..=6)
        )
            .prop_map(|(restart_state, notification, restart_time, fams)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families: fams
                        .into_iter()
                        .map(|(family, forwarding_preserved)| GracefulRestartFamily {
                            family,
                            forwarding_preserved,
                        })
                        .collect(),
                })
            }),
        vec(
            (any_family(), add_path_mode).prop_map(|(family, mode)| AddPathFamily { family, mode }),
            1..=6
        )
        .prop_map(Capability::AddPath),
        (
            any::<u8>().prop_filter("unknown code", |c| ![1, 2, 6, 64, 65, 69, 70].contains(c)),
            bytes(24)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    let param = prop_oneof![
        4 => vec(capability(), 0..=8).prop_map(OptionalParameter::Capabilities),
        1 => ((0u8..=254).prop_filter("not capabilities", |k| *k != 2), bytes(16))
            .prop_map(|(kind, value)| OptionalParameter::Unknown { kind, value }),
    ];
    (
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        vec(param, 0..=4),
    )
        .prop_map(|(version, my_as, hold_time, id, params)| Open {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            params,
        })
}

fn message(ctx: SessionContext) -> impl Strategy<Value = Message> {
    let subtype = prop_oneof![
        Just(RouteRefreshSubtype::Request),
        Just(RouteRefreshSubtype::BeginningOfRefresh),
        Just(RouteRefreshSubtype::EndOfRefresh),
        (3u8..=255).prop_map(RouteRefreshSubtype::Unknown),
    ];
    prop_oneof![
        1 => open().prop_map(Message::Open),
        4 => update(ctx).prop_map(Message::Update),
        1 => (any::<u8>(), any::<u8>(), bytes(64)).prop_map(|(c, s, data)| {
            Message::Notification(Notification { error: ErrorCode::from_pair(c, s), data })
        }),
        1 => Just(Message::Keepalive),
        1 => (any_family(), subtype).prop_map(|(family, subtype)| Message::RouteRefresh(RouteRefresh { family, subtype })),
    ]
}

/// The Extended Length bit is the one thing the encoder may set on its own (values over
/// 255 octets); compare structures without it, bytes with it.
fn without_extended_length(m: &Message) -> Message {
    let mut m = m.clone();
    if let Message::Update(u) = &mut m {
        u.attributes
            .iter_mut()
            .for_each(|a| a.extended_length = false);
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decode_after_encode_is_the_identity((ctx, m) in context().prop_flat_map(|c| (Just(c), message(c)))) {
        let encoded = match m.to_bytes(&ctx) {
            Ok(b) => b,
            Err(wire::EncodeError::MessageTooLong { .. }) => return Err(TestCaseError::reject("too long")),
            Err(e) => return Err(TestCaseError::fail(format!("valid message did not encode: {e}"))),
        };
        let decoded = wire::decode(&encoded, &ctx).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(decoded.malformed.is_empty(), "malformed: {:?}", decoded.malformed);
        prop_assert_eq!(without_extended_length(&decoded.message), without_extended_length(&m));
        prop_assert_eq!(decoded.message.to_bytes(&ctx).expect("re-encodes"), encoded);
    }

    #[test]
    fn framing_splits_a_stream_of_messages((ctx, ms) in context().prop_flat_map(|c| (Just(c), vec(message(c), 1..=4)))) {
        let mut stream = bytes::BytesMut::new();
        let mut sent = Vec::new();
        for m in &ms {
            if m.encode(&ctx, &mut stream).is_ok() {
                sent.push(without_extended_length(m));
            }
        }
        let mut received = Vec::new();
        while let Some(d) = wire::decode_from(&mut stream, &ctx).expect("decodes") {
            received.push(without_extended_length(&d.message));
        }
        prop_assert!(stream.is_empty());
        prop_assert_eq!(received, sent);
    }
}

#[test]
fn end_of_rib_markers_round_trip_and_are_recognised() {
    let ctx = SessionContext::default();
    for family in [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST] {
        let bytes = Message::Update(Update::end_of_rib(family))
            .to_bytes(&ctx)
            .expect("encodes");
        let Message::Update(u) = wire::decode(&bytes, &ctx).expect("decodes").message else {
            panic!("UPDATE")
        };
        assert_eq!(u.as_end_of_rib(), Some(family));
    }
    // RFC 4724 §2: the IPv4 marker is the 23-octet empty UPDATE.
    assert_eq!(
        Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST))
            .to_bytes(&ctx)
            .expect("encodes")
            .len(),
        23
    );
}

#[test]
fn ipv4_nlri_type_is_compact() {
    assert!(
        std::mem::size_of::<Ipv4Nlri>() <= 16,
        "{}",
        std::mem::size_of::<Ipv4Nlri>()
    );
    assert!(
        std::mem::size_of::<Ipv6Nlri>() <= 28,
        "{}",
        std::mem::size_of::<Ipv6Nlri>()
    );
}
