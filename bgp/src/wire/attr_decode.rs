//! Decoding of the Path Attributes field of an UPDATE, with the syntax checks of RFC 7606.
//!
//! Each attribute is decoded on its own: one that is malformed is left out of the result and
//! reported as an [`UpdateError`] (whose `outcome()` says what RFC 7606 prescribes), and
//! decoding goes on with the next one, so that every error of the UPDATE is seen and the
//! strongest outcome wins. Semantic checks (mandatory attributes, eBGP/iBGP rules, next-hop
//! sanity) are in `validate.rs`.

use std::net::Ipv4Addr;

use bytes::Bytes;

use super::SessionContext;
use super::aspath::{AsPath, AsPathError, SegmentType};
use super::attribute::{
    Aggregator, Attribute, Community, ExtendedCommunity, LargeCommunity, MpNlri, MpReach,
    MpUnreach, NextHop, Origin, PathAttribute, UnknownAttribute, expected_flags, flags, type_code,
};
use super::error::UpdateError;
use super::family::AfiSafi;
use super::nlri;
use super::parse::{self, Context as _};

/// Decodes every attribute of `field` into `attrs`; problems go to `errors`.
pub(crate) fn decode_attributes(
    field: &[u8],
    ctx: &SessionContext,
    attrs: &mut Vec<PathAttribute>,
    errors: &mut Vec<UpdateError>,
) {
    let mut seen = [0u64; 4];
    let mut rest = field;
    while !rest.is_empty() {
        let offset = field.len() - rest.len();
        // RFC 7606 §4: fewer than 3 (or 4 with Extended Length) octets left, or a length
        // running past the field, is treat-as-withdraw.
        let Some(header) = attribute_header(rest) else {
            errors.push(UpdateError::AttributeTruncated {
                offset,
                available: rest.len(),
            });
            return;
        };
        let (flag_octet, code, header_len, value_len) = header;
        let Some(raw) = rest.get(..header_len + value_len) else {
            errors.push(UpdateError::AttributeTruncated {
                offset,
                available: rest.len(),
            });
            return;
        };
        let value = &raw[header_len..];
        rest = &rest[raw.len()..];

        let (word, bit) = (usize::from(code / 64), 1u64 << (code % 64));
        if seen[word] & bit != 0 {
            errors.push(match code {
                type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI => {
                    UpdateError::DuplicateMpAttribute { type_code: code }
                }
                _ => UpdateError::DuplicateAttribute { type_code: code },
            });
            continue;
        }
        seen[word] |= bit;

        match decode_one(flag_octet, code, value, raw, ctx) {
            Ok(value) => attrs.push(PathAttribute {
                partial: flag_octet & flags::PARTIAL != 0,
                extended_length: flag_octet & flags::EXTENDED_LENGTH != 0,
                value,
            }),
            Err(e) => errors.push(e),
        }
    }
}

/// (flags, type code, header length, value length), or `None` if the header is cut short.
fn attribute_header(input: &[u8]) -> Option<(u8, u8, usize, usize)> {
    match *input {
        [f, code, hi, lo, ..] if f & flags::EXTENDED_LENGTH != 0 => {
            Some((f, code, 4, usize::from(u16::from_be_bytes([hi, lo]))))
        }
        [f, code, len, ..] if f & flags::EXTENDED_LENGTH == 0 => {
            Some((f, code, 3, usize::from(len)))
        }
        _ => None,
    }
}

fn decode_one(
    flag_octet: u8,
    code: u8,
    value: &[u8],
    raw: &[u8],
    ctx: &SessionContext,
) -> Result<Attribute, UpdateError> {
    let optional = flag_octet & flags::OPTIONAL != 0;
    let transitive = flag_octet & flags::TRANSITIVE != 0;
    let attribute = || Bytes::copy_from_slice(raw);
    let Some(expected) = expected_flags(code) else {
        // RFC 4271 §6.3: an unrecognized well-known attribute is an error; an unrecognized
        // optional one is kept (RFC 4271 §5).
        if !optional {
            return Err(UpdateError::UnrecognizedWellKnown {
                type_code: code,
                attribute: attribute(),
            });
        }
        return Ok(Attribute::Unknown(UnknownAttribute {
            type_code: code,
            transitive,
            value: Bytes::copy_from_slice(value),
        }));
    };
    // RFC 7606 §3 (c): Optional or Transitive bits in conflict with the definition.
    if (optional, transitive) != expected {
        return Err(UpdateError::AttributeFlags {
            type_code: code,
            flags: flag_octet,
            attribute: attribute(),
        });
    }
    let bad_length = || UpdateError::AttributeLength {
        type_code: code,
        length: value.len(),
        attribute: attribute(),
    };
    let as_width = ctx.as_width();
    use type_code::*;
    Ok(match code {
        // RFC 7606 §7.1.
        ORIGIN => match *value {
            [0] => Attribute::Origin(Origin::Igp),
            [1] => Attribute::Origin(Origin::Egp),
            [2] => Attribute::Origin(Origin::Incomplete),
            [v] => {
                return Err(UpdateError::InvalidOrigin {
                    value: v,
                    attribute: attribute(),
                });
            }
            _ => return Err(bad_length()),
        },
        // RFC 7606 §7.2.
        AS_PATH => Attribute::AsPath(AsPath::decode(value, as_width).map_err(|error| {
            UpdateError::MalformedAsPath {
                type_code: code,
                error,
            }
        })?),
        // RFC 7606 §7.3, §7.4, §7.5, §7.9: exactly 4 octets.
        NEXT_HOP => Attribute::NextHop(exact_ipv4(value).ok_or_else(bad_length)?),
        MULTI_EXIT_DISC => Attribute::MultiExitDisc(exact_u32(value).ok_or_else(bad_length)?),
        LOCAL_PREF => Attribute::LocalPref(exact_u32(value).ok_or_else(bad_length)?),
        ORIGINATOR_ID => Attribute::OriginatorId(exact_ipv4(value).ok_or_else(bad_length)?),
        // RFC 7606 §7.6: length 0.
        ATOMIC_AGGREGATE if value.is_empty() => Attribute::AtomicAggregate,
        ATOMIC_AGGREGATE => return Err(bad_length()),
        // RFC 7606 §7.7: 6 octets on 2-octet sessions, 8 on 4-octet ones.
        AGGREGATOR => Attribute::Aggregator(aggregator(value, as_width).ok_or_else(bad_length)?),
        // RFC 6793 §6: AS4_AGGREGATOR is always 8 octets.
        AS4_AGGREGATOR => Attribute::As4Aggregator(aggregator(value, 4).ok_or_else(bad_length)?),
        // RFC 7606 §7.8, §7.10, §7.14; RFC 8092 §6: a non-zero multiple of the item size.
        COMMUNITIES => Attribute::Communities(
            items::<4>(value)
                .ok_or_else(bad_length)?
                .map(|c| Community(u32::from_be_bytes(c)))
                .collect(),
        ),
        CLUSTER_LIST => Attribute::ClusterList(
            items::<4>(value)
                .ok_or_else(bad_length)?
                .map(Ipv4Addr::from)
                .collect(),
        ),
        EXTENDED_COMMUNITIES => Attribute::ExtendedCommunities(
            items::<8>(value)
                .ok_or_else(bad_length)?
                .map(ExtendedCommunity)
                .collect(),
        ),
        LARGE_COMMUNITIES => Attribute::LargeCommunities(
            items::<12>(value)
                .ok_or_else(bad_length)?
                .map(|c| {
                    let word = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                    LargeCommunity {
                        global_admin: word(0),
                        local_data_1: word(4),
                        local_data_2: word(8),
                    }
                })
                .collect(),
        ),
        // RFC 6793 §6: malformed AS4_PATH (including confederation segments) is discarded.
        AS4_PATH => {
            let path = AsPath::decode(value, 4).map_err(|error| UpdateError::MalformedAsPath {
                type_code: code,
                error,
            })?;
            if path
                .segments
                .iter()
                .any(|s| matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet))
            {
                return Err(UpdateError::MalformedAsPath {
                    type_code: code,
                    error: AsPathError::ConfedInAs4Path,
                });
            }
            Attribute::As4Path(path)
        }
        MP_REACH_NLRI => {
            Attribute::MpReachNlri(mp_reach(value, ctx).map_err(|(family, reason)| {
                UpdateError::MalformedMpAttribute {
                    type_code: code,
                    family,
                    reason,
                    attribute: attribute(),
                }
            })?)
        }
        MP_UNREACH_NLRI => {
            Attribute::MpUnreachNlri(mp_unreach(value, ctx).map_err(|(family, reason)| {
                UpdateError::MalformedMpAttribute {
                    type_code: code,
                    family,
                    reason,
                    attribute: attribute(),
                }
            })?)
        }
        _ => {
            return Ok(Attribute::Unknown(UnknownAttribute {
                type_code: code,
                transitive,
                value: Bytes::copy_from_slice(value),
            }));
        }
    })
}

fn exact_u32(value: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes)
}

fn exact_ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
}

fn aggregator(value: &[u8], as_width: usize) -> Option<Aggregator> {
    match (as_width, value) {
        (2, &[a0, a1, b0, b1, b2, b3]) => Some(Aggregator {
            asn: u32::from(u16::from_be_bytes([a0, a1])),
            address: Ipv4Addr::new(b0, b1, b2, b3),
        }),
        (4, &[a0, a1, a2, a3, b0, b1, b2, b3]) => Some(Aggregator {
            asn: u32::from_be_bytes([a0, a1, a2, a3]),
            address: Ipv4Addr::new(b0, b1, b2, b3),
        }),
        _ => None,
    }
}

/// Splits a value into `N`-octet items; `None` unless it is a non-zero multiple of `N`.
fn items<const N: usize>(value: &[u8]) -> Option<impl Iterator<Item = [u8; N]> + '_> {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return None;
    }
    Some(
        value
            .chunks_exact(N)
            .filter_map(|c| <[u8; N]>::try_from(c).ok()),
    )
}

type MpResult<T> = Result<T, (Option<AfiSafi>, String)>;

fn mp_family(value: &[u8]) -> MpResult<(&[u8], AfiSafi)> {
    let no_family = || {
        (
            None,
            format!("{} octets cannot hold AFI and SAFI", value.len()),
        )
    };
    let (i, afi) = parse::u16(value).or_err(no_family)?;
    let (i, safi) = parse::u8(i).or_err(no_family)?;
    Ok((i, AfiSafi::new(afi, safi)))
}

/// MP_REACH_NLRI (RFC 4760 §3); errors per RFC 7606 §7.11.
fn mp_reach(value: &[u8], ctx: &SessionContext) -> MpResult<MpReach> {
    let (i, family) = mp_family(value)?;
    let fail = |reason: String| (Some(family), reason);
    let (i, nh) =
        parse::u8_length_data(i).or_err(|| fail("next hop overruns the attribute".into()))?;
    let (i, _reserved) =
        parse::u8(i).or_err(|| fail("no Reserved octet after the next hop".into()))?;
    let v6 = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(std::net::Ipv6Addr::from);
    let next_hop = match (family, nh.len()) {
        (AfiSafi::IPV4_UNICAST, 4) => {
            NextHop::Ipv4(exact_ipv4(nh).ok_or_else(|| fail("next hop".into()))?)
        }
        // RFC 2545 §3: global, or global followed by link-local (RFC 8950 for IPv4 NLRI).
        (AfiSafi::IPV4_UNICAST | AfiSafi::IPV6_UNICAST, 16) => NextHop::Ipv6 {
            global: v6(nh).ok_or_else(|| fail("next hop".into()))?,
            link_local: None,
        },
        (AfiSafi::IPV4_UNICAST | AfiSafi::IPV6_UNICAST, 32) => NextHop::Ipv6 {
            global: v6(&nh[..16]).ok_or_else(|| fail("next hop".into()))?,
            link_local: v6(&nh[16..]),
        },
        (AfiSafi::IPV4_UNICAST | AfiSafi::IPV6_UNICAST, len) => {
            return Err(fail(format!(
                "next hop length {len} is invalid for {family}"
            )));
        }
        _ => NextHop::Other(Bytes::copy_from_slice(nh)),
    };
    let nlri = mp_nlri(family, i, ctx).map_err(fail)?;
    Ok(MpReach {
        family,
        next_hop,
        nlri,
    })
}

/// MP_UNREACH_NLRI (RFC 4760 §4); errors per RFC 7606 §7.12.
fn mp_unreach(value: &[u8], ctx: &SessionContext) -> MpResult<MpUnreach> {
    let (i, family) = mp_family(value)?;
    let withdrawn = mp_nlri(family, i, ctx).map_err(|reason| (Some(family), reason))?;
    Ok(MpUnreach { family, withdrawn })
}

fn mp_nlri(family: AfiSafi, field: &[u8], ctx: &SessionContext) -> Result<MpNlri, String> {
    let add_path = ctx.add_path_receive.contains(family);
    Ok(match family {
        AfiSafi::IPV4_UNICAST => {
            MpNlri::Ipv4(nlri::decode_ipv4(field, add_path).map_err(|e| e.to_string())?)
        }
        AfiSafi::IPV6_UNICAST => {
            MpNlri::Ipv6(nlri::decode_ipv6(field, add_path).map_err(|e| e.to_string())?)
        }
        _ => MpNlri::Other(Bytes::copy_from_slice(field)),
    })
}
