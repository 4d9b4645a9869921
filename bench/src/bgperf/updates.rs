//! The feeder's announcements, encoded before the clock starts: UPDATEs (RFC 4271 §4.3) that
//! share one attribute set and carry as many /24 NLRI as fit in a message, concatenated into
//! large write chunks so the socket, not the encoder, sets the pace.

use std::net::Ipv4Addr;

use bytes::{Bytes, BytesMut};
use margay_bgp::wire::{
    AsPath, Attribute, EncodeError, Ipv4Nlri, Message, Origin, PathAttribute, SessionContext,
    Update,
};

use super::prefixes::PrefixBlock;

/// Octets handed to the socket per write: whole messages, about this many.
pub const CHUNK_OCTETS: usize = 64 * 1024;

/// Octets of one /24 in an NLRI field: the length octet and three address octets.
const SLASH_24_OCTETS: usize = 4;

/// The attributes every announced route carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAttributes {
    /// The AS_PATH as sent: `[own AS]` to an external peer, empty to an internal one.
    pub as_path: AsPath,
    pub next_hop: Ipv4Addr,
    /// LOCAL_PREF, which RFC 4271 §5.1.5 requires towards internal peers only.
    pub local_pref: Option<u32>,
}

impl RouteAttributes {
    /// Routes originated by `own_as` towards an external peer.
    pub fn external(own_as: u32, next_hop: Ipv4Addr) -> Self {
        RouteAttributes {
            as_path: AsPath::sequence([own_as]),
            next_hop,
            local_pref: None,
        }
    }

    /// Routes originated towards an internal peer (a route reflector).
    pub fn internal(next_hop: Ipv4Addr) -> Self {
        RouteAttributes {
            as_path: AsPath::default(),
            next_hop,
            local_pref: Some(100),
        }
    }

    fn path_attributes(&self) -> Vec<PathAttribute> {
        let mut attrs = vec![
            Attribute::Origin(Origin::Igp).into(),
            Attribute::AsPath(self.as_path.clone()).into(),
            Attribute::NextHop(self.next_hop).into(),
        ];
        if let Some(pref) = self.local_pref {
            attrs.push(Attribute::LocalPref(pref).into());
        }
        attrs
    }
}

/// A whole announcement, ready to write.
#[derive(Debug, Clone)]
pub struct EncodedUpdates {
    /// Whole messages, about [`CHUNK_OCTETS`] per chunk.
    pub chunks: Vec<Bytes>,
    /// UPDATE messages in all.
    pub messages: usize,
    /// Octets in all.
    pub octets: usize,
}

/// The order in which the feeder announces its prefixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedOrder {
    /// In address order, as speakers that walk a trie send a table (FRR, GoBGP, routers).
    #[default]
    Sorted,
    /// A fixed pseudo-random permutation, as a speaker sends a table kept in a hash
    /// table (BIRD).
    Shuffled,
}

/// Seed of the shuffled order (the same permutation in every run).
const SHUFFLE_SEED: u64 = 0x6267_7065_7266;

/// Encodes announcements of every prefix of `block` with `attributes`, in `order`, packed as
/// densely as the session's maximum message length allows.
pub fn encode_updates(
    block: &PrefixBlock,
    attributes: &RouteAttributes,
    ctx: &SessionContext,
    order: FeedOrder,
) -> Result<EncodedUpdates, EncodeError> {
    let mut prefixes: Vec<_> = block.iter().collect();
    if order == FeedOrder::Shuffled {
        fastrand::Rng::with_seed(SHUFFLE_SEED).shuffle(&mut prefixes);
    }
    let template = Update {
        withdrawn: Vec::new(),
        attributes: attributes.path_attributes(),
        nlri: Vec::new(),
    };
    let empty_len = Message::Update(template.clone()).to_bytes(ctx)?.len();
    let per_message = (ctx.max_message_len() - empty_len) / SLASH_24_OCTETS;
    let mut chunks = Vec::new();
    let mut chunk = BytesMut::with_capacity(CHUNK_OCTETS + ctx.max_message_len());
    let (mut messages, mut octets) = (0, 0);
    for message_prefixes in prefixes.chunks(per_message) {
        let mut update = template.clone();
        update.nlri = message_prefixes
            .iter()
            .copied()
            .map(Ipv4Nlri::new)
            .collect();
        let before = chunk.len();
        Message::Update(update).encode(ctx, &mut chunk)?;
        octets += chunk.len() - before;
        messages += 1;
        if chunk.len() >= CHUNK_OCTETS {
            chunks.push(chunk.split().freeze());
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk.freeze());
    }
    Ok(EncodedUpdates {
        chunks,
        messages,
        octets,
    })
}

#[cfg(test)]
mod tests {
    use margay_bgp::wire::decode_from;

    use super::*;

    fn ctx() -> SessionContext {
        SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        }
    }

    fn decode_all(encoded: &EncodedUpdates) -> Vec<Update> {
        let mut buf = BytesMut::new();
        for c in &encoded.chunks {
            buf.extend_from_slice(c);
        }
        let mut out = Vec::new();
        while let Some(d) = decode_from(&mut buf, &ctx()).expect("valid message") {
            assert!(d.malformed.is_empty(), "{:?}", d.malformed);
            match d.message {
                Message::Update(u) => out.push(u),
                other => panic!("not an UPDATE: {other:?}"),
            }
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn every_prefix_is_announced_once_in_full_messages() {
        let block = PrefixBlock::new("32.0.0.0".parse().unwrap(), 5000).unwrap();
        let attrs = RouteAttributes::external(65001, "10.0.0.1".parse().unwrap());
        let encoded = encode_updates(&block, &attrs, &ctx(), FeedOrder::Sorted).unwrap();
        let updates = decode_all(&encoded);
        assert_eq!(updates.len(), encoded.messages);
        let sent: Vec<_> = updates
            .iter()
            .flat_map(|u| u.nlri.iter().map(|n| n.prefix))
            .collect();
        assert_eq!(sent, block.iter().collect::<Vec<_>>());
        // A 4096-octet message spends 23 octets on framing and 4 + 9 + 7 on ORIGIN, AS_PATH
        // and NEXT_HOP, leaving room for 1013 /24s; 5000 prefixes need 5 messages.
        assert_eq!(encoded.messages, 5);
        assert_eq!(updates[0].nlri.len(), 1013);
        assert_eq!(updates[0].as_path(), Some(&AsPath::sequence([65001])));
        assert_eq!(updates[0].next_hop(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(
            encoded.octets,
            encoded.chunks.iter().map(Bytes::len).sum::<usize>()
        );
    }

    #[test]
    fn internal_routes_carry_local_pref_and_an_empty_path() {
        let block = PrefixBlock::new("32.0.0.0".parse().unwrap(), 4).unwrap();
        let attrs = RouteAttributes::internal("10.1.1.1".parse().unwrap());
        let updates =
            decode_all(&encode_updates(&block, &attrs, &ctx(), FeedOrder::Sorted).unwrap());
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].attribute(5), Some(&Attribute::LocalPref(100)));
        assert_eq!(updates[0].as_path(), Some(&AsPath::default()));
    }

    #[test]
    fn chunks_hold_whole_messages() {
        let block = PrefixBlock::new("32.0.0.0".parse().unwrap(), 100_000).unwrap();
        let attrs = RouteAttributes::external(65001, "10.0.0.1".parse().unwrap());
        let encoded = encode_updates(&block, &attrs, &ctx(), FeedOrder::Sorted).unwrap();
        assert!(encoded.chunks.len() > 1);
        for chunk in &encoded.chunks {
            let mut buf = BytesMut::from(&chunk[..]);
            while decode_from(&mut buf, &ctx()).unwrap().is_some() {}
            assert!(buf.is_empty(), "a chunk ends inside a message");
        }
    }

    #[test]
    fn shuffled_order_announces_the_same_prefixes_in_another_order() {
        let block = PrefixBlock::new("32.0.0.0".parse().unwrap(), 5000).unwrap();
        let attrs = RouteAttributes::external(65001, "10.0.0.1".parse().unwrap());
        let sent = |order| {
            let encoded = encode_updates(&block, &attrs, &ctx(), order).unwrap();
            decode_all(&encoded)
                .iter()
                .flat_map(|u| u.nlri.iter().map(|n| n.prefix))
                .collect::<Vec<_>>()
        };
        let shuffled = sent(FeedOrder::Shuffled);
        assert_eq!(
            shuffled,
            sent(FeedOrder::Shuffled),
            "the same permutation each time"
        );
        let sorted = sent(FeedOrder::Sorted);
        assert_ne!(shuffled, sorted);
        let mut resorted = shuffled;
        resorted.sort();
        assert_eq!(resorted, sorted);
    }
}
