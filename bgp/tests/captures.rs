//! Codec tests on real BGP messages captured from BIRD 2.0.12, FRR 8.4.4 and GoBGP 3.10
//! talking to each other (`tests/captures/capture.sh` made them; `tests/captures/data/MANIFEST`
//! lists every message with its TCP endpoints). Each stream is decoded with the context the
//! two OPENs of its session negotiate, as the speaker itself would, and every message must
//! decode cleanly and re-encode to the very same bytes. Named messages are also checked
//! against a value written out by hand: (bytes, struct) both ways.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use margay_bgp::fsm::{SessionConfig, check_open};
use margay_bgp::wire::{
    self, AfiSafi, Aggregator, AsPath, Attribute, Capability, CeaseSubcode, ErrorCode,
    LargeCommunity, Message, NextHop, Notification, Open, OptionalParameter, Origin, PathAttribute,
    RouteRefreshSubtype, SessionContext, UnknownAttribute, Update, aspath::as4,
    attribute::type_code,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures/data")
}

fn read(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One direction of one TCP connection, from the MANIFEST.
#[derive(Debug)]
struct Stream {
    name: String,
    from: String,
    to: String,
    files: Vec<String>,
}

fn streams() -> BTreeMap<String, Stream> {
    let manifest = std::fs::read_to_string(data_dir().join("MANIFEST")).expect("MANIFEST");
    let mut out: BTreeMap<String, Stream> = BTreeMap::new();
    for line in manifest.lines() {
        let mut cols = line.split('\t');
        let (Some(path), Some(endpoints)) = (cols.next(), cols.next()) else {
            panic!("bad line {line:?}")
        };
        let (name, _) = path.split_once('/').expect("stream/file");
        let (from, to) = endpoints.split_once(" -> ").expect("a -> b");
        let s = out.entry(name.to_string()).or_insert_with(|| Stream {
            name: name.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            files: Vec::new(),
        });
        s.files.push(path.to_string());
    }
    out
}

fn open_of(stream: &Stream) -> Option<Open> {
    let first = stream.files.first()?;
    match wire::decode(&read(first), &SessionContext::default())
        .ok()?
        .message
    {
        Message::Open(o) => Some(o),
        _ => None,
    }
}

/// The receiving side's view: our OPEN is the reverse stream's, the peer's is this one's.
fn receive_context(stream: &Stream, all: &BTreeMap<String, Stream>) -> SessionContext {
    let reverse = all
        .values()
        .find(|r| r.from == stream.to && r.to == stream.from);
    let (Some(theirs), Some(ours)) = (open_of(stream), reverse.and_then(open_of)) else {
        return SessionContext::default(); // a connection that never got past OPEN
    };
    let mut config = SessionConfig::new(
        ours.asn(),
        theirs.asn(),
        ours.bgp_id,
        ours.capabilities().cloned().collect(),
    );
    config.hold_time = ours.hold_time;
    let negotiated = check_open(&theirs, &config)
        .unwrap_or_else(|e| panic!("{}: OPEN rejected: {e}", stream.name));
    negotiated.context()
}

fn decode_named(name: &str) -> (Message, SessionContext) {
    let all = streams();
    let stream = &all[name.split_once('/').expect("stream/file").0];
    let ctx = receive_context(stream, &all);
    let decoded = wire::decode(&read(name), &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        decoded.malformed.is_empty(),
        "{name}: {:?}",
        decoded.malformed
    );
    (decoded.message, ctx)
}

/// Decoding gives `want`, and encoding `want` gives the captured bytes.
fn assert_both_ways(name: &str, want: &Message) {
    let (got, ctx) = decode_named(name);
    assert_eq!(&got, want, "{name}: decoded");
    assert_eq!(
        &want.to_bytes(&ctx).expect("encodes")[..],
        &read(name)[..],
        "{name}: encoded"
    );
}

fn attr(value: Attribute) -> PathAttribute {
    PathAttribute::from(value)
}

#[test]
fn every_captured_message_decodes_cleanly_and_re_encodes_byte_for_byte() {
    let all = streams();
    assert!(all.len() >= 6, "captures missing: {:?}", all.keys());
    let mut checked = 0;
    for stream in all.values() {
        let ctx = receive_context(stream, &all);
        // The stream as the driver sees it: one buffer cut into messages by the framer.
        let mut buf = BytesMut::new();
        for f in &stream.files {
            buf.extend_from_slice(&read(f));
        }
        for f in &stream.files {
            let bytes = read(f);
            let decoded = wire::decode_from(&mut buf, &ctx)
                .unwrap_or_else(|e| panic!("{f}: {e}"))
                .unwrap_or_else(|| panic!("{f}: framer wants more bytes"));
            assert!(
                decoded.malformed.is_empty(),
                "{f}: malformed {:?}",
                decoded.malformed
            );
            let (message, verdict) = decoded.validate(&ctx);
            assert_eq!(verdict.outcome(), None, "{f}: {:?}", verdict.errors);
            assert_eq!(
                &message.to_bytes(&ctx).expect("encodes")[..],
                &bytes[..],
                "{f}: re-encoding differs"
            );
            checked += 1;
        }
        assert!(buf.is_empty(), "{}: bytes left over", stream.name);
    }
    assert!(checked >= 60, "only {checked} messages");
}

#[test]
fn gobgp_open_with_four_octet_as_and_unknown_capabilities() {
    // GoBGP 3.10, AS 4200000002: AS_TRANS in My AS, one parameter with all capabilities,
    // FQDN (73) and Extended Next Hop (5) kept as unknown.
    let want = Message::Open(Open {
        version: 4,
        my_as: 23456,
        hold_time: 9,
        bgp_id: Ipv4Addr::new(10, 12, 0, 2),
        params: vec![OptionalParameter::Capabilities(vec![
            Capability::RouteRefresh,
            Capability::Unknown {
                code: 73,
                value: Bytes::from_static(b"\x02vm\0"),
            },
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::FourOctetAs(4_200_000_002),
            Capability::Unknown {
                code: 5,
                value: Bytes::from_static(&[0, 1, 0, 1, 0, 2]),
            },
        ])],
    });
    assert_both_ways("gobgp-to-bird-ipv4/000-open.bin", &want);
}

#[test]
fn frr_open_puts_each_capability_in_its_own_parameter() {
    let (Message::Open(open), _) = decode_named("frr-to-bird-ipv6-3/000-open.bin") else {
        panic!("OPEN")
    };
    assert!(
        open.params.len() > 5
            && open
                .params
                .iter()
                .all(|p| matches!(p, OptionalParameter::Capabilities(c) if c.len() == 1))
    );
    let gr = open.capabilities().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr.clone()),
        _ => None,
    });
    let gr = gr.expect("FRR advertises graceful restart");
    assert!(gr.restart_state && gr.notification, "R and N bits");
    assert_eq!(gr.restart_time, 120);
}

#[test]
fn gobgp_update_with_aggregator_aigp_and_large_community() {
    // `gobgp global rib add 10.2.1.0/24 large-community 4200000002:1:2 aigp metric 5
    //  aggregator 4200000002:10.12.0.2` on a 4-octet session. AIGP (26) is unknown to margay:
    // optional non-transitive, kept as received.
    let want = Message::Update(Update {
        withdrawn: vec![],
        attributes: vec![
            attr(Attribute::Origin(Origin::Incomplete)),
            attr(Attribute::AsPath(AsPath::sequence([4_200_000_002]))),
            attr(Attribute::NextHop(Ipv4Addr::new(10, 12, 0, 2))),
            attr(Attribute::Aggregator(Aggregator {
                asn: 4_200_000_002,
                address: Ipv4Addr::new(10, 12, 0, 2),
            })),
            attr(Attribute::Unknown(UnknownAttribute {
                type_code: 26,
                transitive: false,
                value: Bytes::from_static(&[1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 5]),
            })),
            attr(Attribute::LargeCommunities(vec![LargeCommunity {
                global_admin: 4_200_000_002,
                local_data_1: 1,
                local_data_2: 2,
            }])),
        ],
        nlri: vec![wire::Nlri::new("10.2.1.0/24".parse().expect("prefix"))],
    });
    assert_both_ways("gobgp-to-bird-ipv4/003-update.bin", &want);
}

#[test]
fn bird_as_two_octet_speaker_sends_as_trans_with_as4_attributes_that_merge_back() {
    // BIRD with `enable as4 off` towards FRR forwards GoBGP's route: AS_PATH [AS_TRANS] and
    // AGGREGATOR AS_TRANS, with AS4_PATH and AS4_AGGREGATOR carrying AS 4200000002.
    let (Message::Update(u), ctx) = decode_named("bird-to-frr-ipv4/007-update.bin") else {
        panic!("UPDATE")
    };
    assert!(!ctx.four_octet_as);
    assert_eq!(u.as_path(), Some(&AsPath::sequence([23456])));
    let get = |code| u.attribute(code).cloned();
    let (
        Some(Attribute::As4Path(as4_path)),
        Some(Attribute::Aggregator(agg)),
        Some(Attribute::As4Aggregator(agg4)),
    ) = (
        get(type_code::AS4_PATH),
        get(type_code::AGGREGATOR),
        get(type_code::AS4_AGGREGATOR),
    )
    else {
        panic!("AS4 attributes missing: {u:?}")
    };
    let (path, aggregator) = as4::reconstruct(
        u.as_path().expect("AS_PATH"),
        Some(&as4_path),
        Some(agg),
        Some(agg4),
    );
    assert_eq!(path, AsPath::sequence([4_200_000_002]));
    assert_eq!(aggregator.map(|a| a.asn), Some(4_200_000_002));
}

#[test]
fn frr_ipv6_update_has_global_and_link_local_next_hop() {
    let (Message::Update(u), _) = decode_named("frr-to-bird-ipv6-3/003-update.bin") else {
        panic!("UPDATE")
    };
    let reach = u.mp_reach().expect("MP_REACH_NLRI");
    assert_eq!(reach.family, AfiSafi::IPV6_UNICAST);
    let NextHop::Ipv6 {
        global,
        link_local: Some(ll),
    } = reach.next_hop
    else {
        panic!("{:?}", reach.next_hop)
    };
    assert_eq!(global, "2001:db8:13::3".parse::<Ipv6Addr>().expect("addr"));
    assert!(ll.is_unicast_link_local());
    // FRR sets Extended Length on MP_REACH_NLRI and AS_PATH even when short; kept as received.
    assert!(u.attributes[0].extended_length);
}

#[test]
fn frr_add_path_routes_carry_path_identifiers() {
    let (Message::Update(u), ctx) = decode_named("frr-to-bird-ipv6-3/002-update.bin") else {
        panic!("UPDATE")
    };
    assert!(ctx.add_path_receive.contains(AfiSafi::IPV4_UNICAST));
    let ids: Vec<_> = u
        .nlri
        .iter()
        .map(|n| (n.path_id, n.prefix.to_string()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (Some(2), "10.3.0.0/24".to_string()),
            (Some(3), "10.3.1.0/24".to_string())
        ]
    );
}

#[test]
fn bird_cease_carries_the_shutdown_communication() {
    let want = Message::Notification(
        Notification::cease_with_communication(
            CeaseSubcode::AdministrativeShutdown,
            "margay capture: maintenance",
        )
        .expect("short"),
    );
    assert_both_ways("bird-to-frr-ipv6-2/018-notification.bin", &want);
    let (Message::Notification(n), _) = decode_named("gobgp-to-bird-ipv4/010-notification.bin")
    else {
        panic!()
    };
    assert_eq!(
        n.error,
        ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown)
    );
    assert_eq!(n.shutdown_communication(), Some(Ok("margay capture: bye")));
}

#[test]
fn end_of_rib_markers_from_bird() {
    assert_both_ways(
        "bird-to-frr-ipv6-2/005-update.bin",
        &Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)),
    );
    assert_both_ways(
        "bird-to-frr-ipv6-2/007-update.bin",
        &Message::Update(Update::end_of_rib(AfiSafi::IPV6_UNICAST)),
    );
}

#[test]
fn bird_enhanced_route_refresh_brackets_the_refresh() {
    for (name, subtype) in [
        (
            "bird-to-frr-ipv6-2/014-route-refresh.bin",
            RouteRefreshSubtype::BeginningOfRefresh,
        ),
        (
            "bird-to-frr-ipv6-2/017-route-refresh.bin",
            RouteRefreshSubtype::EndOfRefresh,
        ),
    ] {
        let want = Message::RouteRefresh(wire::RouteRefresh {
            family: AfiSafi::IPV6_UNICAST,
            subtype,
        });
        assert_both_ways(name, &want);
    }
}
