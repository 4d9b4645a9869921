//! Message header and framing (RFC 4271 §4.1, §6.1; RFC 8654 §4 for extended messages).
//!
//! ```text
//!  0                   1                   2                   3
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  |                 Marker (16 octets, all ones)                  |
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  |          Length               |      Type     |
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`frame`] looks at the 19 header octets only: it says "need more bytes" or how long the
//! next message is, and rejects bad headers, without parsing any body.

use bytes::{BufMut, BytesMut};

use super::error::MessageError;

pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4: "The maximum message size is 4096 octets".
pub const MAX_MESSAGE_LEN: usize = 4096;
/// RFC 8654 §4: with the Extended Message capability, up to 65535 octets.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
const MARKER: [u8; 16] = [0xff; 16];

/// Message types (RFC 4271 §4.1, RFC 2918 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

impl MessageType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// Smallest valid total length (RFC 4271 §6.1, RFC 2918 §3).
    fn min_len(self) -> usize {
        match self {
            MessageType::Open => 29,
            MessageType::Update => 23,
            MessageType::Notification => 21,
            MessageType::Keepalive => 19,
            MessageType::RouteRefresh => 23,
        }
    }
}

/// The outcome of looking at the start of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// At least this many more octets are needed before anything can be said.
    NeedMore(usize),
    /// A whole message of `length` octets (header included) is at the start of the buffer.
    Complete { length: usize, kind: MessageType },
}

/// Checks the header at the start of `buf` (RFC 4271 §6.1).
///
/// `extended_message` is true once both sides advertised RFC 8654; OPEN and KEEPALIVE stay
/// limited to 4096 octets ("the BGP OPEN and KEEPALIVE messages ... MUST NOT exceed 4096").
pub fn frame(buf: &[u8], extended_message: bool) -> Result<Frame, MessageError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(Frame::NeedMore(HEADER_LEN - buf.len()));
    };
    if header[..16] != MARKER {
        return Err(MessageError::ConnectionNotSynchronized);
    }
    let length = u16::from_be_bytes([header[16], header[17]]);
    let kind = MessageType::from_u8(header[18]);
    let len = usize::from(length);
    let max = match kind {
        Some(MessageType::Open | MessageType::Keepalive) => MAX_MESSAGE_LEN,
        _ if extended_message => MAX_EXTENDED_MESSAGE_LEN,
        _ => MAX_MESSAGE_LEN,
    };
    // RFC 4271 §6.1: length checks come before the type check, and use the type's minimum.
    if len < HEADER_LEN || len > max || kind.is_some_and(|k| len < k.min_len()) {
        return Err(MessageError::BadMessageLength { length, kind });
    }
    if kind == Some(MessageType::Keepalive) && len != HEADER_LEN {
        return Err(MessageError::BadMessageLength { length, kind });
    }
    let Some(kind) = kind else {
        return Err(MessageError::BadMessageType(header[18]));
    };
    if buf.len() < len {
        return Ok(Frame::NeedMore(len - buf.len()));
    }
    Ok(Frame::Complete { length: len, kind })
}

/// Appends a header for a message of `total_len` octets.
pub(crate) fn encode(kind: MessageType, total_len: usize, out: &mut BytesMut) {
    out.put_slice(&MARKER);
    out.put_u16(u16::try_from(total_len).unwrap_or(u16::MAX));
    out.put_u8(kind as u8);
}
