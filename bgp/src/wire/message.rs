//! BGP messages as one type, with decoding from a receive buffer and encoding into a send
//! buffer (RFC 4271 §4).

use bytes::{Buf, Bytes, BytesMut};

use super::SessionContext;
use super::error::{EncodeError, MessageError, UpdateError};
use super::header::{self, Frame, HEADER_LEN, MAX_MESSAGE_LEN, MessageType};
use super::notification::Notification;
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::update::Update;
use super::validate::{self, Verdict};

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A decoded message. For an UPDATE, `malformed` lists the attributes that failed their
/// syntax checks and were left out; [`Decoded::validate`] adds the semantic checks and gives
/// the RFC 7606 verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub malformed: Vec<UpdateError>,
}

impl Decoded {
    /// Runs the RFC 7606 semantic checks on an UPDATE (nothing to check for other types).
    pub fn validate(self, ctx: &SessionContext) -> (Message, Verdict) {
        match self.message {
            Message::Update(mut update) => {
                let verdict = validate::validate(&mut update, self.malformed, ctx);
                (Message::Update(update), verdict)
            }
            other => (other, Verdict::default()),
        }
    }
}

impl Message {
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    fn body_len(&self, ctx: &SessionContext) -> usize {
        match self {
            Message::Open(o) => o.encoded_len(),
            Message::Update(u) => u.encoded_len(ctx),
            Message::Notification(n) => n.encoded_len(),
            Message::Keepalive => 0,
            Message::RouteRefresh(_) => 4,
        }
    }

    /// Appends the message to `out`. Nothing is appended on error.
    pub fn encode(&self, ctx: &SessionContext, out: &mut BytesMut) -> Result<(), EncodeError> {
        let kind = self.kind();
        let len = HEADER_LEN + self.body_len(ctx);
        let max = match kind {
            MessageType::Open | MessageType::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        if len > max {
            return Err(EncodeError::MessageTooLong { kind, len, max });
        }
        let start = out.len();
        out.reserve(len);
        header::encode(kind, len, out);
        let result = match self {
            Message::Open(o) => o.encode(out).map_err(EncodeError::from),
            Message::Update(u) => u.encode(ctx, out),
            Message::Notification(n) => {
                n.encode(out);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(r) => {
                r.encode(out);
                Ok(())
            }
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// The message as one buffer.
    pub fn to_bytes(&self, ctx: &SessionContext) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(ctx, &mut out)?;
        Ok(out.freeze())
    }
}

/// Decodes the message at the start of `frame` (header included).
pub fn decode(frame: &[u8], ctx: &SessionContext) -> Result<Decoded, MessageError> {
    let (length, kind) = match header::frame(frame, ctx.extended_message)? {
        Frame::Complete { length, kind } => (length, kind),
        Frame::NeedMore(_) => {
            let length = frame
                .get(16..18)
                .map_or(0, |l| u16::from_be_bytes([l[0], l[1]]));
            return Err(MessageError::Incomplete {
                length,
                available: frame.len(),
            });
        }
    };
    let body = frame.get(HEADER_LEN..length).unwrap_or_default();
    let plain = |message| {
        Ok(Decoded {
            message,
            malformed: Vec::new(),
        })
    };
    match kind {
        MessageType::Open => plain(Message::Open(Open::decode(body)?)),
        MessageType::Update => {
            let (update, malformed) = Update::decode(body, ctx)?;
            Ok(Decoded {
                message: Message::Update(update),
                malformed,
            })
        }
        MessageType::Notification => plain(Message::Notification(
            Notification::decode(body).ok_or(MessageError::NotificationTooShort)?,
        )),
        MessageType::Keepalive => plain(Message::Keepalive),
        MessageType::RouteRefresh => match <[u8; 4]>::try_from(body) {
            Ok(body) => plain(Message::RouteRefresh(RouteRefresh::decode(body))),
            Err(_) => Err(MessageError::RouteRefreshLength {
                length: u16::try_from(length).unwrap_or(u16::MAX),
                message: Bytes::copy_from_slice(frame.get(..length).unwrap_or_default()),
            }),
        },
    }
}

/// Takes the next whole message off the front of a receive buffer: `Ok(None)` when more
/// bytes are needed (the buffer is left untouched), the message otherwise (its bytes are
/// consumed, also when its body is malformed — the error says what to send).
pub fn decode_from(
    buf: &mut BytesMut,
    ctx: &SessionContext,
) -> Result<Option<Decoded>, MessageError> {
    let length = match header::frame(buf, ctx.extended_message)? {
        Frame::NeedMore(_) => return Ok(None),
        Frame::Complete { length, .. } => length,
    };
    let result = decode(&buf[..length], ctx);
    buf.advance(length);
    result.map(Some)
}
