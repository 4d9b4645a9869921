//! Fuzz target: BGP message decoding (framing, every message type, UPDATE validation).
//!
//! Input: one octet choosing the session context, then a byte stream cut into messages the
//! way the TCP driver does it (`wire::decode_from`). Every decoded message must encode again
//! and decode to the same value; nothing may panic. Seeds: `fuzz/seeds/decode_message/`,
//! real BIRD/FRR/GoBGP captures (`bgp/tests/captures/`).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use margay_bgp::wire::{self, SessionContext};

fuzz_target!(|data: &[u8]| {
    let Some((&bits, stream)) = data.split_first() else {
        return;
    };
    let ctx = SessionContext::from_octet(bits);
    let mut buf = BytesMut::from(stream);
    while let Ok(Some(decoded)) = wire::decode_from(&mut buf, &ctx) {
        let again = decoded
            .message
            .to_bytes(&ctx)
            .expect("a decoded message encodes");
        let redecoded = wire::decode(&again, &ctx).expect("an encoded message decodes");
        assert_eq!(redecoded.message, decoded.message, "decode(encode(m)) != m");
        let (_, verdict) = decoded.validate(&ctx);
        let _ = (verdict.outcome(), verdict.notification());
    }
});
