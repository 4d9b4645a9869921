//! UPDATE packing: Adj-RIB-Out changes grouped by interned attribute set, each group sent as
//! few UPDATEs as the session's maximum message size allows (RFC 4271 §4.3 "An UPDATE
//! message can advertise, at most, one set of path attributes, but multiple destinations";
//! RFC 8654 for the extended size), withdrawals packed the same way.

use std::sync::Arc;

use crate::wire::{HEADER_LEN, SessionContext, Update};

use super::attrs::RouteAttrs;
use super::prefix::RibPrefix;

/// Withdrawn Routes Length and Total Path Attribute Length (RFC 4271 §4.3).
const UPDATE_FIXED: usize = 4;

/// UPDATEs withdrawing `prefixes`.
pub(crate) fn withdrawals<P: RibPrefix>(prefixes: Vec<P>, ctx: &SessionContext) -> Vec<Update> {
    let room = ctx.max_message_len() - HEADER_LEN - UPDATE_FIXED - P::UNREACH_OVERHEAD;
    chunks(prefixes, room)
        .into_iter()
        .map(P::withdraw)
        .collect()
}

/// UPDATEs announcing `prefixes` with `attrs`; `Err` with the prefixes back when the
/// attributes alone leave no room for a route in one message.
pub(crate) fn announcements<P: RibPrefix>(
    attrs: &Arc<RouteAttrs>,
    prefixes: Vec<P>,
    ctx: &SessionContext,
) -> Result<Vec<Update>, Vec<P>> {
    let Some(next_hop) = attrs.next_hop.as_ref() else {
        return Err(prefixes);
    };
    let wire = attrs.to_wire(ctx);
    let attrs_len: usize = wire.iter().map(|a| a.encoded_len(ctx)).sum();
    let fixed = HEADER_LEN + UPDATE_FIXED + attrs_len + P::reach_overhead(next_hop);
    let longest = 1 + usize::from(P::MAX_LEN).div_ceil(8);
    let Some(room) = ctx
        .max_message_len()
        .checked_sub(fixed)
        .filter(|r| *r >= longest)
    else {
        return Err(prefixes);
    };
    Ok(chunks(prefixes, room)
        .into_iter()
        .map(|nlri| P::announce(wire.clone(), next_hop, nlri))
        .collect())
}

/// Splits `prefixes` into runs whose NLRI encoding fits `room` octets.
fn chunks<P: RibPrefix>(prefixes: Vec<P>, room: usize) -> Vec<Vec<P>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for p in prefixes {
        let len = p.nlri_octets();
        if used + len > room && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        used += len;
        current.push(p);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, Ipv4Prefix, Ipv6Prefix, Message, NextHop};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(i: u32) -> Ipv4Prefix {
        Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).expect("valid")
    }

    fn attrs(next_hop: NextHop) -> Arc<RouteAttrs> {
        let mut a = RouteAttrs::local();
        a.as_path = AsPath::sequence([65001]);
        a.next_hop = Some(next_hop);
        Arc::new(a)
    }

    fn encoded_lens(updates: &[Update], ctx: &SessionContext) -> Vec<usize> {
        updates
            .iter()
            .map(|u| {
                Message::Update(u.clone())
                    .to_bytes(ctx)
                    .expect("encodes within the limit")
                    .len()
            })
            .collect()
    }

    #[test]
    fn ipv4_announcements_fill_4096_octet_messages() {
        // RFC 4271 §4.3: one attribute set, many destinations; §4: at most 4096 octets.
        let ctx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let a = attrs(NextHop::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
        let prefixes: Vec<_> = (0..3000).map(v4).collect();
        let updates = announcements(&a, prefixes, &ctx).expect("fits");
        let sent: usize = updates.iter().map(|u| u.nlri.len()).sum();
        assert_eq!(sent, 3000);
        let lens = encoded_lens(&updates, &ctx);
        assert!(lens.iter().all(|&l| l <= 4096), "{lens:?}");
        // Every message but the last is full to within one /24 (4 octets).
        assert!(lens[..lens.len() - 1].iter().all(|&l| l > 4092), "{lens:?}");
    }

    #[test]
    fn ipv6_announcements_and_withdrawals_fit_and_carry_every_prefix() {
        // RFC 4760 §3/§4: IPv6 routes travel in MP_REACH_NLRI / MP_UNREACH_NLRI.
        let ctx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let prefixes: Vec<Ipv6Prefix> = (0..1000u128)
            .map(|i| {
                Ipv6Prefix::new(Ipv6Addr::from((0x2001_0db8u128 << 96) | (i << 64)), 64)
                    .expect("valid")
            })
            .collect();
        let a = attrs(NextHop::Ipv6 {
            global: "2001:db8::1".parse().expect("addr"),
            link_local: Some("fe80::1".parse().expect("addr")),
        });
        let updates = announcements(&a, prefixes.clone(), &ctx).expect("fits");
        let lens = encoded_lens(&updates, &ctx);
        assert!(lens.iter().all(|&l| l <= 4096), "{lens:?}");
        let sent: usize = updates
            .iter()
            .map(|u| match &u.mp_reach().expect("MP_REACH").nlri {
                crate::wire::MpNlri::Ipv6(v) => v.len(),
                other => panic!("unexpected {other:?}"),
            })
            .sum();
        assert_eq!(sent, 1000);
        let withdrawn = withdrawals(prefixes, &ctx);
        assert!(encoded_lens(&withdrawn, &ctx).iter().all(|&l| l <= 4096));
        assert!(withdrawn.len() >= 3);
    }

    #[test]
    fn extended_messages_carry_more_routes() {
        // RFC 8654.
        let ctx = SessionContext {
            four_octet_as: true,
            extended_message: true,
            ..SessionContext::default()
        };
        let withdrawn = withdrawals((0..10_000).map(v4).collect(), &ctx);
        assert_eq!(withdrawn.len(), 1);
        assert!(encoded_lens(&withdrawn, &ctx)[0] <= 65535);
    }
}
