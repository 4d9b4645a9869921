//! Fuzz target: BGP message decoding (framing, every message type, UPDATE validation).
//!
//! Input: one octet choosing the session context, then a byte stream cut into messages the
//! way the TCP driver does it (`wire::decode_from`). Every decoded message must encode again
//! and decode to the same value; nothing may panic. Seeds: `fuzz/seeds/decode_message/`,
//! real BIRD/FRR/GoBGP captures (`bgp/tests/captures/`).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use margay_bgp::wire::{self, AfiSafi, FamilySet, PeerType, SessionContext};

fn context(bits: u8) -> SessionContext {
    let mut add_path = FamilySet::EMPTY;
    if bits & 4 != 0 {
        add_path.insert(AfiSafi::IPV4_UNICAST);
    }
    if bits & 8 != 0 {
        add_path.insert(AfiSafi::IPV6_UNICAST);
    }
    SessionContext {
        four_octet_as: bits & 1 != 0,
        extended_message: bits & 2 != 0,
        add_path_receive: add_path,
        add_path_send: add_path,
        peer_type: if bits & 16 != 0 { PeerType::Internal } else { PeerType::External },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, stream)) = data.split_first() else { return };
    let ctx = context(bits);
    let mut buf = BytesMut::from(stream);
    while let Ok(Some(decoded)) = wire::decode_from(&mut buf, &ctx) {
        let again = decoded.message.to_bytes(&ctx).expect("a decoded message encodes");
        let redecoded = wire::decode(&again, &ctx).expect("an encoded message decodes");
        assert_eq!(redecoded.message, decoded.message, "decode(encode(m)) != m");
        let (_, verdict) = decoded.validate(&ctx);
        let _ = (verdict.outcome(), verdict.notification());
    }
});
