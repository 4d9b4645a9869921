//! OPEN message (RFC 4271 §4.2) with Optional Parameters (RFC 5492 §4, extended parameter
//! length of RFC 9072 §2).
//!
//! ```text
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  | Version (1)   | My Autonomous System (2)      |
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  | Hold Time (2)                 | BGP Identifier (4) ...
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  | Opt Parm Len (1) | Optional Parameters (variable)
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Decoding checks syntax only; the semantic checks of RFC 4271 §6.2 (peer AS, BGP Identifier,
//! hold time, unsupported parameters) need the session configuration and live in
//! `fsm::open_check`. Both report [`OpenError`], which maps to the NOTIFICATION once.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use super::capability::{Capability, CapabilityError};
use super::notification::{ErrorCode, Notification, OpenMessageError};
use super::parse::{self, Context as _};

/// The version margay speaks (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;

/// AS_TRANS (RFC 6793 §9): the 2-octet placeholder for a 4-octet AS.
pub const AS_TRANS: u16 = 23456;

/// Optional Parameter type for Capabilities (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072 §2: Non-Ext OP Len and Non-Ext OP Type of 255 announce the extended encoding.
const PARAM_EXTENDED: u8 = 255;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// My Autonomous System: the 2-octet AS, or AS_TRANS for a 4-octet AS (RFC 6793 §4.1).
    pub my_as: u16,
    /// Hold Time in seconds: 0 or at least 3 (checked by the FSM, RFC 4271 §6.2).
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Optional Parameters in the order received.
    pub params: Vec<OptionalParameter>,
}

/// One Optional Parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionalParameter {
    /// Capabilities (RFC 5492 §4): one parameter may carry several.
    Capabilities(Vec<Capability>),
    /// Any other type (RFC 4271 §6.2 answers it with 2/4 "Unsupported Optional Parameter").
    Unknown { kind: u8, value: Bytes },
}

/// An OPEN that cannot be accepted: syntax (from the decoder) or semantics (from the FSM).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported BGP version {0} (we speak 4)")]
    UnsupportedVersion(u8),
    #[error("malformed optional parameters: {0}")]
    MalformedParameters(&'static str),
    #[error(transparent)]
    MalformedCapability(#[from] CapabilityError),
    #[error("peer AS {received} does not match the configured {expected}")]
    BadPeerAs { expected: u32, received: u32 },
    #[error("bad BGP identifier {0}")]
    BadBgpIdentifier(Ipv4Addr),
    #[error("unacceptable hold time {0} s (must be 0 or at least 3)")]
    UnacceptableHoldTime(u16),
    #[error("unsupported optional parameter type {0}")]
    UnsupportedOptionalParameter(u8),
}

impl OpenError {
    /// The NOTIFICATION for this error (RFC 4271 §6.2, RFC 6793 §4.1 for the AS).
    pub fn notification(&self) -> Notification {
        use OpenMessageError as S;
        let n = |s, data: Bytes| Notification::new(ErrorCode::OpenMessage(s), data);
        match self {
            // "the Data field is a 2-octet unsigned integer, which indicates the largest,
            // locally-supported version number less than the version the remote BGP peer bid
            // ..., or ... the smallest locally-supported version number" — 4 either way.
            OpenError::UnsupportedVersion(_) => n(
                S::UnsupportedVersionNumber,
                Bytes::from_static(&[0, BGP_VERSION]),
            ),
            OpenError::MalformedParameters(_) | OpenError::MalformedCapability(_) => {
                n(S::Unspecific, Bytes::new())
            }
            OpenError::BadPeerAs { .. } => n(S::BadPeerAs, Bytes::new()),
            OpenError::BadBgpIdentifier(_) => n(S::BadBgpIdentifier, Bytes::new()),
            OpenError::UnacceptableHoldTime(_) => n(S::UnacceptableHoldTime, Bytes::new()),
            OpenError::UnsupportedOptionalParameter(_) => {
                n(S::UnsupportedOptionalParameter, Bytes::new())
            }
        }
    }
}

impl Open {
    /// An OPEN for `asn` with all `capabilities` in one Optional Parameter. A 4-octet `asn`
    /// puts AS_TRANS in My Autonomous System (RFC 6793 §4.1); the caller includes the
    /// [`Capability::FourOctetAs`] capability.
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        Open {
            version: BGP_VERSION,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params: vec![OptionalParameter::Capabilities(capabilities)],
        }
    }

    /// All capabilities, across parameters, in order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flat_map(|p| match p {
            OptionalParameter::Capabilities(caps) => caps.as_slice(),
            OptionalParameter::Unknown { .. } => &[],
        })
    }

    /// The sender's AS: from the 4-octet AS capability if present (RFC 6793 §4.1), else
    /// My Autonomous System.
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Open, OpenError> {
        let short = || OpenError::MalformedParameters("OPEN shorter than its fixed fields");
        let (i, version) = parse::u8(body).or_err(short)?;
        let result = Self::decode_after_version(version, i);
        match result {
            Err(_) if version != BGP_VERSION => Err(OpenError::UnsupportedVersion(version)),
            other => other,
        }
    }

    fn decode_after_version(version: u8, i: &[u8]) -> Result<Open, OpenError> {
        let short = || OpenError::MalformedParameters("OPEN shorter than its fixed fields");
        let (i, my_as) = parse::u16(i).or_err(short)?;
        let (i, hold_time) = parse::u16(i).or_err(short)?;
        let (i, bgp_id) = parse::ipv4(i).or_err(short)?;
        let (i, params_len) = parse::u8(i).or_err(short)?;
        let params = if params_len == PARAM_EXTENDED && i.first() == Some(&PARAM_EXTENDED) {
            // RFC 9072 §2: 255, 255, then a 2-octet length; parameter lengths are 2 octets.
            let (i, _) = parse::u8(i).or_err(short)?;
            let (rest, field) = parse::u16_length_data(i).or_err(|| {
                OpenError::MalformedParameters("extended parameters overrun the OPEN")
            })?;
            expect_end(rest)?;
            Self::decode_params(field, true)?
        } else {
            let (rest, field) = parse::take(i, usize::from(params_len))
                .or_err(|| OpenError::MalformedParameters("Opt Parm Len overruns the OPEN"))?;
            expect_end(rest)?;
            Self::decode_params(field, false)?
        };
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id,
            params,
        })
    }

    fn decode_params(
        mut field: &[u8],
        extended: bool,
    ) -> Result<Vec<OptionalParameter>, OpenError> {
        let overrun = || OpenError::MalformedParameters("a parameter overruns Opt Parm Len");
        let mut params = Vec::new();
        while !field.is_empty() {
            let (i, kind) = parse::u8(field).or_err(overrun)?;
            let (i, value) = if extended {
                parse::u16_length_data(i).or_err(overrun)?
            } else {
                parse::u8_length_data(i).or_err(overrun)?
            };
            params.push(match kind {
                PARAM_CAPABILITIES => {
                    OptionalParameter::Capabilities(Capability::decode_list(value)?)
                }
                kind => OptionalParameter::Unknown {
                    kind,
                    value: Bytes::copy_from_slice(value),
                },
            });
            field = i;
        }
        Ok(params)
    }

    fn param_value_len(p: &OptionalParameter) -> usize {
        match p {
            OptionalParameter::Capabilities(caps) => caps.iter().map(|c| 2 + c.value_len()).sum(),
            OptionalParameter::Unknown { value, .. } => value.len(),
        }
    }

    /// True if the parameters need the RFC 9072 extended encoding.
    fn needs_extended(&self) -> bool {
        let plain: usize = self
            .params
            .iter()
            .map(|p| 2 + Self::param_value_len(p))
            .sum();
        plain > 254 || self.params.iter().any(|p| Self::param_value_len(p) > 255)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        let extended = self.needs_extended();
        let per_param = if extended { 3 } else { 2 };
        let params: usize = self
            .params
            .iter()
            .map(|p| per_param + Self::param_value_len(p))
            .sum();
        10 + params + if extended { 3 } else { 0 }
    }

    /// Appends the OPEN body. Fails if a capability value exceeds 255 octets.
    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), CapabilityError> {
        for cap in self.capabilities() {
            if cap.value_len() > 255 {
                return Err(CapabilityError {
                    code: cap.code(),
                    len: cap.value_len(),
                    reason: "a capability value holds at most 255 octets",
                });
            }
        }
        out.put_u8(self.version);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        let extended = self.needs_extended();
        let per_param = if extended { 3 } else { 2 };
        let params_len: usize = self
            .params
            .iter()
            .map(|p| per_param + Self::param_value_len(p))
            .sum();
        if extended {
            out.put_u8(PARAM_EXTENDED);
            out.put_u8(PARAM_EXTENDED);
            out.put_u16(u16::try_from(params_len).unwrap_or(u16::MAX));
        } else {
            out.put_u8(u8::try_from(params_len).unwrap_or(u8::MAX));
        }
        for p in &self.params {
            let (kind, len) = match p {
                OptionalParameter::Capabilities(_) => {
                    (PARAM_CAPABILITIES, Self::param_value_len(p))
                }
                OptionalParameter::Unknown { kind, value } => (*kind, value.len()),
            };
            out.put_u8(kind);
            if extended {
                out.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
            } else {
                out.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
            }
            match p {
                OptionalParameter::Capabilities(caps) => caps.iter().for_each(|c| c.encode(out)),
                OptionalParameter::Unknown { value, .. } => out.extend_from_slice(value),
            }
        }
        Ok(())
    }
}

fn expect_end(rest: &[u8]) -> Result<(), OpenError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(OpenError::MalformedParameters(
            "octets after the optional parameters",
        ))
    }
}
