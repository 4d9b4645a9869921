//! UPDATE message (RFC 4271 §4.3) and End-of-RIB markers (RFC 4724 §2).
//!
//! ```text
//!  +-----------------------------------------------------+
//!  |   Withdrawn Routes Length (2 octets)                |
//!  +-----------------------------------------------------+
//!  |   Withdrawn Routes (variable)                       |
//!  +-----------------------------------------------------+
//!  |   Total Path Attribute Length (2 octets)            |
//!  +-----------------------------------------------------+
//!  |   Path Attributes (variable)                        |
//!  +-----------------------------------------------------+
//!  |   Network Layer Reachability Information (variable) |
//!  +-----------------------------------------------------+
//! ```

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::SessionContext;
use super::aspath::AsPath;
use super::attr_decode;
use super::attribute::{Attribute, MpNlri, MpReach, MpUnreach, PathAttribute, type_code};
use super::error::{EncodeError, NlriField, UpdateError};
use super::family::AfiSafi;
use super::nlri::{self, Ipv4Nlri};
use super::parse::{self, Context as _};

/// An UPDATE message. IPv4 unicast routes travel in `withdrawn` and `nlri`; every other
/// family in the MP_REACH_NLRI / MP_UNREACH_NLRI attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Nlri>,
    /// Path attributes in the order received (or to be sent).
    pub attributes: Vec<PathAttribute>,
    pub nlri: Vec<Ipv4Nlri>,
}

impl Update {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast,
    /// an UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: AfiSafi) -> Update {
        if family == AfiSafi::IPV4_UNICAST {
            return Update::default();
        }
        let withdrawn = match family {
            AfiSafi::IPV6_UNICAST => MpNlri::Ipv6(Vec::new()),
            _ => MpNlri::Other(bytes::Bytes::new()),
        };
        Update {
            attributes: vec![Attribute::MpUnreachNlri(MpUnreach { family, withdrawn }).into()],
            ..Update::default()
        }
    }

    /// The family this UPDATE marks End-of-RIB for, if it is such a marker (RFC 4724 §2).
    pub fn as_end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(AfiSafi::IPV4_UNICAST),
            [
                PathAttribute {
                    value: Attribute::MpUnreachNlri(u),
                    ..
                },
            ] if u.withdrawn.is_empty() => Some(u.family),
            _ => None,
        }
    }

    /// The first attribute of `type_code`.
    pub fn attribute(&self, type_code: u8) -> Option<&Attribute> {
        self.attributes
            .iter()
            .map(|a| &a.value)
            .find(|a| a.type_code() == type_code)
    }

    pub fn as_path(&self) -> Option<&AsPath> {
        match self.attribute(type_code::AS_PATH) {
            Some(Attribute::AsPath(p)) => Some(p),
            _ => None,
        }
    }

    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        match self.attribute(type_code::NEXT_HOP) {
            Some(Attribute::NextHop(a)) => Some(*a),
            _ => None,
        }
    }

    pub fn mp_reach(&self) -> Option<&MpReach> {
        match self.attribute(type_code::MP_REACH_NLRI) {
            Some(Attribute::MpReachNlri(r)) => Some(r),
            _ => None,
        }
    }

    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        match self.attribute(type_code::MP_UNREACH_NLRI) {
            Some(Attribute::MpUnreachNlri(u)) => Some(u),
            _ => None,
        }
    }

    /// True if the UPDATE announces any route (IPv4 NLRI or MP_REACH_NLRI routes).
    pub fn announces(&self) -> bool {
        !self.nlri.is_empty() || self.mp_reach().is_some_and(|r| !r.nlri.is_empty())
    }

    /// Decodes an UPDATE body. `Err` when the fields cannot be located or an NLRI field is
    /// syntactically wrong (RFC 7606 §4, §5.3: session reset); attribute errors are returned
    /// alongside the UPDATE, the malformed attributes left out.
    pub(crate) fn decode(
        body: &[u8],
        ctx: &SessionContext,
    ) -> Result<(Update, Vec<UpdateError>), UpdateError> {
        let (i, withdrawn_len) =
            parse::u16(body).or_err(|| UpdateError::WithdrawnRoutesOverrun {
                declared: 0,
                available: body.len(),
            })?;
        let (i, withdrawn_field) = parse::take(i, usize::from(withdrawn_len)).or_err(|| {
            UpdateError::WithdrawnRoutesOverrun {
                declared: usize::from(withdrawn_len),
                available: i.len(),
            }
        })?;
        let (i, attrs_len) = parse::u16(i).or_err(|| UpdateError::AttributesOverrun {
            declared: 2,
            available: i.len(),
        })?;
        let (nlri_field, attrs_field) =
            parse::take(i, usize::from(attrs_len)).or_err(|| UpdateError::AttributesOverrun {
                declared: usize::from(attrs_len),
                available: i.len(),
            })?;

        let add_path = ctx.add_path_receive.contains(AfiSafi::IPV4_UNICAST);
        let mut update = Update::default();
        nlri::decode_into(withdrawn_field, add_path, &mut update.withdrawn).map_err(|error| {
            UpdateError::InvalidNlri {
                field: NlriField::WithdrawnRoutes,
                error,
            }
        })?;
        nlri::decode_into(nlri_field, add_path, &mut update.nlri).map_err(|error| {
            UpdateError::InvalidNlri {
                field: NlriField::Nlri,
                error,
            }
        })?;
        let mut errors = Vec::new();
        attr_decode::decode_attributes(attrs_field, ctx, &mut update.attributes, &mut errors);
        Ok((update, errors))
    }

    pub(crate) fn encoded_len(&self, ctx: &SessionContext) -> usize {
        let add_path = ctx.add_path_send.contains(AfiSafi::IPV4_UNICAST);
        4 + nlri::encoded_len(&self.withdrawn, add_path)
            + self
                .attributes
                .iter()
                .map(|a| a.encoded_len(ctx))
                .sum::<usize>()
            + nlri::encoded_len(&self.nlri, add_path)
    }

    pub(crate) fn encode(
        &self,
        ctx: &SessionContext,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let add_path = ctx.add_path_send.contains(AfiSafi::IPV4_UNICAST);
        let withdrawn_len = nlri::encoded_len(&self.withdrawn, add_path);
        out.put_u16(u16::try_from(withdrawn_len).unwrap_or(u16::MAX));
        nlri::encode(&self.withdrawn, add_path, out)?;
        let attrs_len: usize = self.attributes.iter().map(|a| a.encoded_len(ctx)).sum();
        out.put_u16(u16::try_from(attrs_len).unwrap_or(u16::MAX));
        for a in &self.attributes {
            a.encode(ctx, out)?;
        }
        nlri::encode(&self.nlri, add_path, out)?;
        Ok(())
    }
}
