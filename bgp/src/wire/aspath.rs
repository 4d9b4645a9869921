//! AS_PATH and AS4_PATH (RFC 4271 §4.3 and §5.1.2, RFC 6793 §4, RFC 5065 §3 for the
//! confederation segment types) and the AS4 reconstruction rules for 2-octet ("OLD") peers.
//!
//! ```text
//!  +----------------+----------------+--------------------------------+
//!  | Segment type   | Segment length | Segment value: length × AS     |
//!  | (1 octet)      | (1, in ASes)   | (2 or 4 octets each)           |
//!  +----------------+----------------+--------------------------------+
//! ```
//!
//! The AS width is a session property: 4 octets when both sides advertised the 4-octet AS
//! capability (RFC 6793 §4.1), 2 otherwise; AS4_PATH always uses 4 (RFC 6793 §3).

use bytes::{BufMut, BytesMut};

use super::open::AS_TRANS;

/// Segment types (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentType {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }

    fn to_u8(self) -> u8 {
        match self {
            SegmentType::Set => 1,
            SegmentType::Sequence => 2,
            SegmentType::ConfedSequence => 3,
            SegmentType::ConfedSet => 4,
        }
    }

    pub fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

/// One path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    /// 1 to 255 AS numbers.
    pub asns: Vec<u32>,
}

/// An AS_PATH (or AS4_PATH) as a list of segments, leftmost (most recent) first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

/// Why an AS_PATH could not be parsed (RFC 7606 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    #[error("unrecognized segment type {0}")]
    UnknownSegmentType(u8),
    #[error("segment with length 0")]
    EmptySegment,
    #[error("segment of {count} ASes overruns the attribute ({available} octets left)")]
    Overrun { count: u8, available: usize },
    #[error("one octet left after the last segment")]
    Underrun,
    #[error("AS4_PATH carries confederation segments (RFC 6793 §6)")]
    ConfedInAs4Path,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Path length for route selection (RFC 4271 §9.1.2.2 a): an AS_SET counts 1, each
    /// AS in a sequence counts 1; confederation segments do not count (RFC 5065 §5.3).
    pub fn route_selection_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
            })
            .sum()
    }

    /// The leftmost AS of the first AS_SEQUENCE, the neighbour AS of an eBGP route.
    pub fn first_asn(&self) -> Option<u32> {
        let first = self.segments.first()?;
        match first.kind {
            SegmentType::Sequence => first.asns.first().copied(),
            _ => None,
        }
    }

    /// True if `asn` appears anywhere (loop detection, RFC 4271 §9.1.2).
    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    pub fn has_confed_segments(&self) -> bool {
        self.segments.iter().any(|s| s.kind.is_confed())
    }

    /// Prepends `asn` as eBGP export does (RFC 4271 §5.1.2): onto the leading AS_SEQUENCE if
    /// it has room, else in a new one.
    pub fn prepend(&mut self, asn: u32) {
        match self.segments.first_mut() {
            Some(s) if s.kind == SegmentType::Sequence && s.asns.len() < 255 => {
                s.asns.insert(0, asn)
            }
            _ => self.segments.insert(
                0,
                AsSegment {
                    kind: SegmentType::Sequence,
                    asns: vec![asn],
                },
            ),
        }
    }

    /// Parses an AS_PATH value with ASes of `as_width` octets (2 or 4).
    pub(crate) fn decode(mut value: &[u8], as_width: usize) -> Result<AsPath, AsPathError> {
        let mut segments = Vec::with_capacity(1);
        while !value.is_empty() {
            let [kind, count, rest @ ..] = value else {
                return Err(AsPathError::Underrun);
            };
            let kind = SegmentType::from_u8(*kind).ok_or(AsPathError::UnknownSegmentType(*kind))?;
            if *count == 0 {
                return Err(AsPathError::EmptySegment);
            }
            let Some((body, tail)) = rest.split_at_checked(usize::from(*count) * as_width) else {
                return Err(AsPathError::Overrun {
                    count: *count,
                    available: rest.len(),
                });
            };
            let asns = if as_width == 4 {
                body.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                body.chunks_exact(2)
                    .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                    .collect()
            };
            segments.push(AsSegment { kind, asns });
            value = tail;
        }
        Ok(AsPath { segments })
    }

    pub(crate) fn encoded_len(&self, as_width: usize) -> usize {
        self.segments
            .iter()
            .map(|s| 2 + s.asns.len() * as_width)
            .sum()
    }

    /// Appends the value; the caller has checked [`AsPath::encodable`].
    pub(crate) fn encode(&self, as_width: usize, out: &mut BytesMut) {
        for s in &self.segments {
            out.put_u8(s.kind.to_u8());
            out.put_u8(u8::try_from(s.asns.len()).unwrap_or(u8::MAX));
            for &asn in &s.asns {
                if as_width == 4 {
                    out.put_u32(asn);
                } else {
                    out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
                }
            }
        }
    }

    /// Checks that every segment holds 1..=255 ASes and every AS fits `as_width`; returns the
    /// offending AS or segment size.
    pub(crate) fn encodable(&self, as_width: usize) -> Result<(), EncodeProblem> {
        for s in &self.segments {
            if s.asns.is_empty() || s.asns.len() > 255 {
                return Err(EncodeProblem::SegmentSize(s.asns.len()));
            }
            if as_width == 2
                && let Some(&asn) = s.asns.iter().find(|&&a| a > u32::from(u16::MAX))
            {
                return Err(EncodeProblem::AsnNeedsFourOctets(asn));
            }
        }
        Ok(())
    }
}

/// Why a path cannot be put on the wire as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeProblem {
    SegmentSize(usize),
    AsnNeedsFourOctets(u32),
}

/// AS4 handling between a 4-octet ("NEW") speaker and a 2-octet ("OLD") peer (RFC 6793 §4.2).
pub mod as4 {
    use super::*;
    use crate::wire::attribute::Aggregator;

    /// Splits a 4-octet path for an OLD peer (RFC 6793 §4.2.2): AS_PATH with every AS above
    /// 65535 replaced by AS_TRANS, and the AS4_PATH to send along — `None` when every AS fits
    /// two octets. "AS_CONFED_SEQUENCE and AS_CONFED_SET path segments MUST NOT be carried in
    /// the AS4_PATH attribute".
    pub fn split_for_old_peer(path: &AsPath) -> (AsPath, Option<AsPath>) {
        let wide = |a: &u32| *a > u32::from(u16::MAX);
        if !path.segments.iter().any(|s| s.asns.iter().any(wide)) {
            return (path.clone(), None);
        }
        let two_octet = AsPath {
            segments: path
                .segments
                .iter()
                .map(|s| AsSegment {
                    kind: s.kind,
                    asns: s
                        .asns
                        .iter()
                        .map(|a| if wide(a) { u32::from(AS_TRANS) } else { *a })
                        .collect(),
                })
                .collect(),
        };
        let as4 = AsPath {
            segments: path
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        };
        (two_octet, Some(as4))
    }

    /// Splits an AGGREGATOR for an OLD peer (RFC 6793 §4.2.2): AS_TRANS and AS4_AGGREGATOR
    /// when the AS does not fit two octets.
    pub fn split_aggregator_for_old_peer(agg: &Aggregator) -> (Aggregator, Option<Aggregator>) {
        match u16::try_from(agg.asn) {
            Ok(_) => (*agg, None),
            Err(_) => (
                Aggregator {
                    asn: u32::from(AS_TRANS),
                    address: agg.address,
                },
                Some(*agg),
            ),
        }
    }

    /// Reconstructs the path received from an OLD peer (RFC 6793 §4.2.3).
    ///
    /// "If the AGGREGATOR attribute ... carries an AS number other than AS_TRANS, then the
    /// AS4_AGGREGATOR attribute and the AS4_PATH attribute ... MUST be ignored"; otherwise
    /// AS4_AGGREGATOR replaces AGGREGATOR. Then "if the number of AS numbers in the AS_PATH
    /// attribute is less than the number of AS numbers in the AS4_PATH attribute, then the
    /// AS4_PATH attribute SHALL be ignored"; else the leading ASes of AS_PATH that AS4_PATH
    /// does not cover are prepended to AS4_PATH.
    pub fn reconstruct(
        as_path: &AsPath,
        as4_path: Option<&AsPath>,
        aggregator: Option<Aggregator>,
        as4_aggregator: Option<Aggregator>,
    ) -> (AsPath, Option<Aggregator>) {
        let (as4_path, aggregator) = match (aggregator, as4_aggregator) {
            (Some(agg), Some(_)) if agg.asn != u32::from(AS_TRANS) => (None, Some(agg)),
            (Some(_), Some(as4)) => (as4_path, Some(as4)),
            (agg, _) => (as4_path, agg),
        };
        let Some(as4_path) = as4_path else {
            return (as_path.clone(), aggregator);
        };
        let count = |p: &AsPath| -> usize {
            p.segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .map(|s| {
                    if s.kind == SegmentType::Set {
                        1
                    } else {
                        s.asns.len()
                    }
                })
                .sum()
        };
        let (n, n4) = (count(as_path), count(as4_path));
        if n < n4 {
            return (as_path.clone(), aggregator);
        }
        let mut leading = n - n4;
        let mut merged = Vec::new();
        for s in &as_path.segments {
            if s.kind.is_confed() {
                merged.push(s.clone());
                continue;
            }
            if leading == 0 {
                break;
            }
            let take = if s.kind == SegmentType::Set {
                1
            } else {
                s.asns.len().min(leading)
            };
            let asns = if s.kind == SegmentType::Set {
                s.asns.clone()
            } else {
                s.asns[..take].to_vec()
            };
            merged.push(AsSegment { kind: s.kind, asns });
            leading -= take;
        }
        // Join the cut sequence and AS4_PATH's leading sequence into one segment where both
        // are sequences and the result still fits a segment.
        let mut tail = as4_path.segments.iter().cloned();
        if let (Some(last), Some(first)) = (merged.last_mut(), as4_path.segments.first())
            && last.kind == SegmentType::Sequence
            && first.kind == SegmentType::Sequence
            && last.asns.len() + first.asns.len() <= 255
        {
            last.asns.extend_from_slice(&first.asns);
            tail.next();
        }
        merged.extend(tail);
        (AsPath { segments: merged }, aggregator)
    }
}

#[cfg(test)]
mod tests {
    use super::as4::*;
    use super::*;
    use crate::wire::attribute::Aggregator;
    use std::net::Ipv4Addr;

    #[test]
    fn split_then_reconstruct_recovers_four_octet_path() {
        let path = AsPath::sequence([65001, 4_200_000_001, 64512]);
        let (two, four) = split_for_old_peer(&path);
        assert_eq!(two, AsPath::sequence([65001, 23456, 64512]));
        assert_eq!(four.as_ref(), Some(&path));
        let (merged, _) = reconstruct(&two, four.as_ref(), None, None);
        assert_eq!(merged, path);
    }

    #[test]
    fn reconstruct_prepends_ases_added_by_old_speakers() {
        // An OLD speaker (AS 100) prepended itself to AS_PATH but not to AS4_PATH.
        let as_path = AsPath::sequence([100, 23456, 200]);
        let as4_path = AsPath::sequence([4_200_000_001, 200]);
        let (merged, _) = reconstruct(&as_path, Some(&as4_path), None, None);
        assert_eq!(merged, AsPath::sequence([100, 4_200_000_001, 200]));
    }

    #[test]
    fn reconstruct_ignores_longer_as4_path() {
        let as_path = AsPath::sequence([100]);
        let as4_path = AsPath::sequence([4_200_000_001, 200]);
        assert_eq!(
            reconstruct(&as_path, Some(&as4_path), None, None).0,
            as_path
        );
    }

    #[test]
    fn reconstruct_ignores_as4_attributes_when_aggregator_is_not_as_trans() {
        let agg = Aggregator {
            asn: 100,
            address: Ipv4Addr::new(192, 0, 2, 1),
        };
        let agg4 = Aggregator {
            asn: 4_200_000_001,
            address: Ipv4Addr::new(192, 0, 2, 1),
        };
        let as_path = AsPath::sequence([100, 23456]);
        let as4_path = AsPath::sequence([4_200_000_001]);
        let (path, aggregator) = reconstruct(&as_path, Some(&as4_path), Some(agg), Some(agg4));
        assert_eq!((path, aggregator), (as_path.clone(), Some(agg)));
        let trans = Aggregator {
            asn: 23456,
            address: agg.address,
        };
        let (path, aggregator) = reconstruct(&as_path, Some(&as4_path), Some(trans), Some(agg4));
        assert_eq!(path, AsPath::sequence([100, 4_200_000_001]));
        assert_eq!(aggregator, Some(agg4));
    }

    #[test]
    fn route_selection_length_counts_sets_once_and_skips_confeds() {
        let path = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![65000, 65001],
                },
                AsSegment {
                    kind: SegmentType::Sequence,
                    asns: vec![1, 2, 3],
                },
                AsSegment {
                    kind: SegmentType::Set,
                    asns: vec![4, 5],
                },
            ],
        };
        assert_eq!(path.route_selection_len(), 4);
        assert_eq!(path.first_asn(), None);
        assert_eq!(AsPath::sequence([7, 8]).first_asn(), Some(7));
    }
}
