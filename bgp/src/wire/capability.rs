//! Capabilities advertised in OPEN (RFC 5492 §4): the ones margay negotiates, and every other
//! one kept as received.
//!
//! ```text
//!  +------------------------------+
//!  | Capability Code (1 octet)    |
//!  +------------------------------+
//!  | Capability Length (1 octet)  |
//!  +------------------------------+
//!  | Capability Value (variable)  |
//!  +------------------------------+
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::family::{Afi, AfiSafi, Safi};
use super::parse::{self, Context as _};

/// Capability codes (IANA "Capability Codes").
pub mod code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Multiprotocol Extensions (RFC 4760 §8): AFI (2), reserved (1), SAFI (1).
    Multiprotocol(AfiSafi),
    /// Route Refresh (RFC 2918 §3), empty.
    RouteRefresh,
    /// Enhanced Route Refresh (RFC 7313 §3.1), empty.
    EnhancedRouteRefresh,
    /// Extended Message (RFC 8654 §3), empty.
    ExtendedMessage,
    /// Support for 4-octet AS numbers (RFC 6793 §3), carrying the speaker's own AS.
    FourOctetAs(u32),
    /// Graceful Restart (RFC 4724 §3).
    GracefulRestart(GracefulRestart),
    /// ADD-PATH (RFC 7911 §4).
    AddPath(Vec<AddPathFamily>),
    /// Any other capability, kept as received.
    Unknown { code: u8, value: Bytes },
}

/// Graceful Restart capability value (RFC 4724 §3, N bit from RFC 8538 §2).
///
/// ```text
///  +--------------------------------------------------+
///  | Restart Flags (4 bits: R N . .)                  |
///  | Restart Time in seconds (12 bits)                |
///  +--------------------------------------------------+
///  | AFI (16 bits) | SAFI (8 bits) | Flags (8: F . . .)| ... repeated
///  +--------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// R bit: the sender has restarted (RFC 4724 §3).
    pub restart_state: bool,
    /// N bit: the sender supports Graceful Restart for NOTIFICATIONs (RFC 8538 §2).
    pub notification: bool,
    /// Restart Time in seconds, 12 bits (values above 4095 are not encodable).
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One family of the Graceful Restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub family: AfiSafi,
    /// F bit: forwarding state was preserved for this family across the restart.
    pub forwarding_preserved: bool,
}

/// Send/Receive field of ADD-PATH (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPathMode {
    Receive,
    Send,
    Both,
    /// Any other value, kept; RFC 7911 gives it no meaning.
    Unknown(u8),
}

impl AddPathMode {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => AddPathMode::Receive,
            2 => AddPathMode::Send,
            3 => AddPathMode::Both,
            other => AddPathMode::Unknown(other),
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
            AddPathMode::Unknown(v) => v,
        }
    }

    pub fn can_receive(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }

    pub fn can_send(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// One family of the ADD-PATH capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPathFamily {
    pub family: AfiSafi,
    pub mode: AddPathMode,
}

/// A known capability whose value has the wrong length for its definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capability {code} has a malformed value of {len} octets: {reason}")]
pub struct CapabilityError {
    pub code: u8,
    pub len: usize,
    pub reason: &'static str,
}

impl Capability {
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Decodes a Capabilities Optional Parameter value: a sequence of capabilities.
    pub(crate) fn decode_list(mut input: &[u8]) -> Result<Vec<Capability>, CapabilityError> {
        let mut out = Vec::with_capacity(input.len() / 2);
        while !input.is_empty() {
            let (rest, code) = parse::u8(input).or_err(|| truncated(0, input.len()))?;
            let (rest, value) =
                parse::u8_length_data(rest).or_err(|| truncated(code, rest.len()))?;
            out.push(Self::decode_one(code, value)?);
            input = rest;
        }
        Ok(out)
    }

    fn decode_one(code: u8, value: &[u8]) -> Result<Capability, CapabilityError> {
        let bad = |reason| CapabilityError {
            code,
            len: value.len(),
            reason,
        };
        let empty = |cap: Capability| {
            if value.is_empty() {
                Ok(cap)
            } else {
                Err(bad("must be empty"))
            }
        };
        match code {
            code::MULTIPROTOCOL => {
                let [a0, a1, _reserved, safi] = *value else {
                    return Err(bad("RFC 4760 §8 wants 4 octets"));
                };
                Ok(Capability::Multiprotocol(AfiSafi::new(
                    u16::from_be_bytes([a0, a1]),
                    safi,
                )))
            }
            code::ROUTE_REFRESH => empty(Capability::RouteRefresh),
            code::ENHANCED_ROUTE_REFRESH => empty(Capability::EnhancedRouteRefresh),
            code::EXTENDED_MESSAGE => empty(Capability::ExtendedMessage),
            code::FOUR_OCTET_AS => {
                let asn: [u8; 4] = value
                    .try_into()
                    .map_err(|_| bad("RFC 6793 §3 wants 4 octets"))?;
                Ok(Capability::FourOctetAs(u32::from_be_bytes(asn)))
            }
            code::GRACEFUL_RESTART => {
                let Some(([h0, h1], tuples)) = value.split_first_chunk::<2>().map(|(h, t)| (*h, t))
                else {
                    return Err(bad("RFC 4724 §3 wants at least 2 octets"));
                };
                if !tuples.len().is_multiple_of(4) {
                    return Err(bad("RFC 4724 §3 wants 2 + 4n octets"));
                }
                let families = tuples
                    .chunks_exact(4)
                    .map(|t| GracefulRestartFamily {
                        family: AfiSafi::new(u16::from_be_bytes([t[0], t[1]]), t[2]),
                        forwarding_preserved: t[3] & 0x80 != 0,
                    })
                    .collect();
                Ok(Capability::GracefulRestart(GracefulRestart {
                    restart_state: h0 & 0x80 != 0,
                    notification: h0 & 0x40 != 0,
                    restart_time: u16::from_be_bytes([h0 & 0x0f, h1]),
                    families,
                }))
            }
            code::ADD_PATH => {
                if value.is_empty() || !value.len().is_multiple_of(4) {
                    return Err(bad("RFC 7911 §4 wants a non-empty multiple of 4 octets"));
                }
                Ok(Capability::AddPath(
                    value
                        .chunks_exact(4)
                        .map(|t| AddPathFamily {
                            family: AfiSafi::new(u16::from_be_bytes([t[0], t[1]]), t[2]),
                            mode: AddPathMode::from_u8(t[3]),
                        })
                        .collect(),
                ))
            }
            code => Ok(Capability::Unknown {
                code,
                value: Bytes::copy_from_slice(value),
            }),
        }
    }

    /// Length of the value (without code and length octets).
    pub(crate) fn value_len(&self) -> usize {
        match self {
            Capability::Multiprotocol(_) | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => 0,
            Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Capability::AddPath(families) => 4 * families.len(),
            Capability::Unknown { value, .. } => value.len(),
        }
    }

    /// Appends code, length and value. Callers check `value_len() <= 255` first.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.code());
        out.put_u8(u8::try_from(self.value_len()).unwrap_or(u8::MAX));
        match self {
            Capability::Multiprotocol(f) => {
                out.put_u16(f.afi.0);
                out.put_u8(0);
                out.put_u8(f.safi.0);
            }
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => out.put_u32(*asn),
            Capability::GracefulRestart(gr) => {
                let flags =
                    (u16::from(gr.restart_state) << 15) | (u16::from(gr.notification) << 14);
                out.put_u16(flags | (gr.restart_time & 0x0fff));
                for f in &gr.families {
                    put_family(out, f.family);
                    out.put_u8(if f.forwarding_preserved { 0x80 } else { 0 });
                }
            }
            Capability::AddPath(families) => {
                for f in families {
                    put_family(out, f.family);
                    out.put_u8(f.mode.to_u8());
                }
            }
            Capability::Unknown { value, .. } => out.extend_from_slice(value),
        }
    }
}

fn put_family(out: &mut BytesMut, f: AfiSafi) {
    let AfiSafi {
        afi: Afi(afi),
        safi: Safi(safi),
    } = f;
    out.put_u16(afi);
    out.put_u8(safi);
}

fn truncated(code: u8, len: usize) -> CapabilityError {
    CapabilityError {
        code,
        len,
        reason: "capability runs past its optional parameter",
    }
}
