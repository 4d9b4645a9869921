//! Two RIBs chained through the wire codec, no sockets: what one speaker's RIB sends is
//! encoded, decoded and validated as the session driver would, and ingested by the other's.
//! Checks that RIB output is valid on the wire (RFC 4271 §4.3, RFC 4760) and that the
//! eBGP rules hold end to end (RFC 4271 §5.1.2, §5.1.3), including withdrawals and End-of-RIB.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use margay_bgp::rib::{PeerConfig, PeerId, PeerUp, Prefix, Rib, RibConfig, RouteAttrs};
use margay_bgp::wire::{self, AfiSafi, AsPath, Message, NextHop, PeerType, SessionContext};

const AS_A: u32 = 64512;
const AS_B: u32 = 65010;
const ADDR_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ADDR_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn ctx() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        peer_type: PeerType::External,
        ..SessionContext::default()
    }
}

/// `local` with `remote` configured and established.
fn speaker(local_as: u32, local: Ipv4Addr, remote_as: u32, remote: Ipv4Addr) -> (Rib, PeerId) {
    let mut rib = Rib::new(RibConfig::new(local_as, local)).expect("config");
    let mut config = PeerConfig::new(IpAddr::V4(remote), remote_as);
    config.next_hop_self_v6 = Some(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        0,
        0,
        0,
        0,
        u16::from(local.octets()[3]),
    ));
    let id = rib.add_peer(config).expect("peer");
    rib.peer_up(
        id,
        PeerUp {
            router_id: remote,
            local_address: IpAddr::V4(local),
            context: ctx(),
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        },
    )
    .expect("up");
    (rib, id)
}

/// Moves everything `from` has for its peer over the "wire" into `to`; returns the
/// End-of-RIB families seen.
fn transfer(from: &mut Rib, from_peer: PeerId, to: &mut Rib, to_peer: PeerId) -> Vec<AfiSafi> {
    let mut end_of_rib = Vec::new();
    for update in from.poll_updates(from_peer, usize::MAX).expect("up") {
        let bytes = Message::Update(update).to_bytes(&ctx()).expect("encodes");
        assert!(bytes.len() <= 4096);
        let (message, verdict) = wire::decode(&bytes, &ctx())
            .expect("decodes")
            .validate(&ctx());
        assert!(verdict.errors.is_empty(), "{:?}", verdict.errors);
        let Message::Update(update) = message else {
            panic!("not an UPDATE: {message:?}");
        };
        let report = to.ingest(to_peer, &update).expect("ingest");
        end_of_rib.extend(report.end_of_rib);
    }
    end_of_rib
}

#[test]
fn routes_cross_the_wire_with_ebgp_rules_and_are_withdrawn() {
    let (mut a, a_to_b) = speaker(AS_A, ADDR_A, AS_B, ADDR_B);
    let (mut b, b_to_a) = speaker(AS_B, ADDR_B, AS_A, ADDR_A);
    let blocks: Vec<Prefix> = (0..2000)
        .map(|i| {
            format!("10.{}.{}.0/26", 128 + i / 256, i % 256)
                .parse()
                .expect("prefix")
        })
        .chain(["2001:db8:100::/64".parse().expect("prefix")])
        .collect();
    for block in &blocks {
        a.originate(*block, RouteAttrs::local());
    }
    let eors = transfer(&mut a, a_to_b, &mut b, b_to_a);
    assert_eq!(eors, vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
    assert_eq!(b.loc_rib_len(AfiSafi::IPV4_UNICAST), 2000);
    assert_eq!(b.loc_rib_len(AfiSafi::IPV6_UNICAST), 1);
    let v4 = b.lookup(blocks[0]);
    let best = v4.best().expect("learned");
    assert_eq!(best.peer, b_to_a);
    assert_eq!(best.attrs.as_path, AsPath::sequence([AS_A]));
    assert_eq!(best.attrs.next_hop, Some(NextHop::Ipv4(ADDR_A)));
    let v6 = b.lookup(blocks[2000]);
    assert_eq!(
        v6.best().and_then(|r| r.attrs.next_hop.clone()),
        Some(NextHop::Ipv6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            link_local: None
        })
    );
    // B does not send A's routes back to A (its own AS would be a loop anyway): only its
    // End-of-RIB markers.
    assert_eq!(
        transfer(&mut b, b_to_a, &mut a, a_to_b),
        vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
    );
    assert_eq!(a.adj_rib_in_len(a_to_b, AfiSafi::IPV4_UNICAST), Ok(0));

    for block in &blocks[..1000] {
        assert!(a.withdraw_local(*block));
    }
    assert!(a.withdraw_local(blocks[2000]));
    transfer(&mut a, a_to_b, &mut b, b_to_a);
    assert_eq!(b.loc_rib_len(AfiSafi::IPV4_UNICAST), 1000);
    assert_eq!(b.loc_rib_len(AfiSafi::IPV6_UNICAST), 0);
    assert!(b.lookup(blocks[0]).is_withdrawn());
    assert!(!b.lookup(blocks[1999]).is_withdrawn());
}
