//! NOTIFICATION message (RFC 4271 §4.5) and the one table of error codes and subcodes
//! (RFC 4271 §4.5/§6, RFC 4486 and RFC 8538 for Cease, RFC 5492, RFC 6608, RFC 7313, RFC 9687),
//! plus the Cease shutdown communication (RFC 9003).
//!
//! ```text
//!  0                   1                   2                   3
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  | Error code    | Error subcode |   Data (variable)             |
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Every (code, subcode) pair round-trips: values outside the table decode to
//! `Unknown(subcode)` or [`ErrorCode::Unknown`].

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

macro_rules! subcodes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A subcode outside the table, kept as received.
            Unknown(u8),
        }

        impl $name {
            pub fn from_u8(value: u8) -> Self {
                match value {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }

            pub fn to_u8(self) -> u8 {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }

            pub fn description(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(_) => "unknown subcode",
                }
            }
        }
    };
}

subcodes!(
    /// Message Header Error subcodes (RFC 4271 §4.5).
    MessageHeaderError {
        Unspecific = 0 => "unspecific",
        ConnectionNotSynchronized = 1 => "connection not synchronized",
        BadMessageLength = 2 => "bad message length",
        BadMessageType = 3 => "bad message type",
    }
);

subcodes!(
    /// OPEN Message Error subcodes (RFC 4271 §4.5, RFC 5492 §5, RFC 9234).
    OpenMessageError {
        Unspecific = 0 => "unspecific",
        UnsupportedVersionNumber = 1 => "unsupported version number",
        BadPeerAs = 2 => "bad peer AS",
        BadBgpIdentifier = 3 => "bad BGP identifier",
        UnsupportedOptionalParameter = 4 => "unsupported optional parameter",
        UnacceptableHoldTime = 6 => "unacceptable hold time",
        UnsupportedCapability = 7 => "unsupported capability",
        RoleMismatch = 11 => "role mismatch",
    }
);

subcodes!(
    /// UPDATE Message Error subcodes (RFC 4271 §4.5, §6.3).
    UpdateMessageError {
        Unspecific = 0 => "unspecific",
        MalformedAttributeList = 1 => "malformed attribute list",
        UnrecognizedWellKnownAttribute = 2 => "unrecognized well-known attribute",
        MissingWellKnownAttribute = 3 => "missing well-known attribute",
        AttributeFlagsError = 4 => "attribute flags error",
        AttributeLengthError = 5 => "attribute length error",
        InvalidOriginAttribute = 6 => "invalid ORIGIN attribute",
        InvalidNextHopAttribute = 8 => "invalid NEXT_HOP attribute",
        OptionalAttributeError = 9 => "optional attribute error",
        InvalidNetworkField = 10 => "invalid network field",
        MalformedAsPath = 11 => "malformed AS_PATH",
    }
);

subcodes!(
    /// Finite State Machine Error subcodes (RFC 6608 §3).
    FsmErrorSubcode {
        Unspecified = 0 => "unspecified",
        UnexpectedMessageInOpenSent = 1 => "unexpected message in OpenSent",
        UnexpectedMessageInOpenConfirm = 2 => "unexpected message in OpenConfirm",
        UnexpectedMessageInEstablished = 3 => "unexpected message in Established",
    }
);

subcodes!(
    /// Cease subcodes (RFC 4486 §4, RFC 8538 §3, RFC 9384).
    CeaseSubcode {
        Unspecific = 0 => "unspecific",
        MaximumPrefixesReached = 1 => "maximum number of prefixes reached",
        AdministrativeShutdown = 2 => "administrative shutdown",
        PeerDeconfigured = 3 => "peer de-configured",
        AdministrativeReset = 4 => "administrative reset",
        ConnectionRejected = 5 => "connection rejected",
        OtherConfigurationChange = 6 => "other configuration change",
        ConnectionCollisionResolution = 7 => "connection collision resolution",
        OutOfResources = 8 => "out of resources",
        HardReset = 9 => "hard reset",
        BfdDown = 10 => "BFD down",
    }
);

subcodes!(
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    RouteRefreshError {
        Reserved = 0 => "reserved",
        InvalidMessageLength = 1 => "invalid message length",
    }
);

/// An error (code, subcode) pair: the one table every NOTIFICATION goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 1 (RFC 4271 §6.1).
    MessageHeader(MessageHeaderError),
    /// 2 (RFC 4271 §6.2).
    OpenMessage(OpenMessageError),
    /// 3 (RFC 4271 §6.3, revised by RFC 7606).
    UpdateMessage(UpdateMessageError),
    /// 4, subcode 0 (RFC 4271 §6.5).
    HoldTimerExpired,
    /// 5 (RFC 4271 §6.6, RFC 6608).
    FiniteStateMachine(FsmErrorSubcode),
    /// 6 (RFC 4271 §6.7, RFC 4486).
    Cease(CeaseSubcode),
    /// 7 (RFC 7313 §5).
    RouteRefreshMessage(RouteRefreshError),
    /// 8, subcode 0 (RFC 9687 §4).
    SendHoldTimerExpired,
    /// Any other pair, kept as received.
    Unknown { code: u8, subcode: u8 },
}

impl ErrorCode {
    pub fn from_pair(code: u8, subcode: u8) -> Self {
        match (code, subcode) {
            (1, s) => ErrorCode::MessageHeader(MessageHeaderError::from_u8(s)),
            (2, s) => ErrorCode::OpenMessage(OpenMessageError::from_u8(s)),
            (3, s) => ErrorCode::UpdateMessage(UpdateMessageError::from_u8(s)),
            (4, 0) => ErrorCode::HoldTimerExpired,
            (5, s) => ErrorCode::FiniteStateMachine(FsmErrorSubcode::from_u8(s)),
            (6, s) => ErrorCode::Cease(CeaseSubcode::from_u8(s)),
            (7, s) => ErrorCode::RouteRefreshMessage(RouteRefreshError::from_u8(s)),
            (8, 0) => ErrorCode::SendHoldTimerExpired,
            (code, subcode) => ErrorCode::Unknown { code, subcode },
        }
    }

    pub fn code(self) -> u8 {
        self.pair().0
    }

    pub fn subcode(self) -> u8 {
        self.pair().1
    }

    pub fn pair(self) -> (u8, u8) {
        match self {
            ErrorCode::MessageHeader(s) => (1, s.to_u8()),
            ErrorCode::OpenMessage(s) => (2, s.to_u8()),
            ErrorCode::UpdateMessage(s) => (3, s.to_u8()),
            ErrorCode::HoldTimerExpired => (4, 0),
            ErrorCode::FiniteStateMachine(s) => (5, s.to_u8()),
            ErrorCode::Cease(s) => (6, s.to_u8()),
            ErrorCode::RouteRefreshMessage(s) => (7, s.to_u8()),
            ErrorCode::SendHoldTimerExpired => (8, 0),
            ErrorCode::Unknown { code, subcode } => (code, subcode),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, subcode) = self.pair();
        let text = match self {
            ErrorCode::MessageHeader(s) => format!("message header error: {}", s.description()),
            ErrorCode::OpenMessage(s) => format!("OPEN message error: {}", s.description()),
            ErrorCode::UpdateMessage(s) => format!("UPDATE message error: {}", s.description()),
            ErrorCode::HoldTimerExpired => "hold timer expired".to_string(),
            ErrorCode::FiniteStateMachine(s) => format!("FSM error: {}", s.description()),
            ErrorCode::Cease(s) => format!("cease: {}", s.description()),
            ErrorCode::RouteRefreshMessage(s) => {
                format!("ROUTE-REFRESH message error: {}", s.description())
            }
            ErrorCode::SendHoldTimerExpired => "send hold timer expired".to_string(),
            ErrorCode::Unknown { .. } => "unknown error code".to_string(),
        };
        write!(f, "{text} ({code}/{subcode})")
    }
}

/// A NOTIFICATION message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub error: ErrorCode,
    pub data: Bytes,
}

/// A shutdown communication (RFC 9003) that cannot be sent or was received malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownCommunicationError {
    #[error("shutdown communication is {0} octets, RFC 9003 §2 allows at most 255")]
    TooLong(usize),
    #[error("shutdown communication length octet says {declared}, {available} octets follow")]
    LengthMismatch { declared: usize, available: usize },
    #[error("shutdown communication is not UTF-8")]
    NotUtf8,
}

impl Notification {
    pub fn new(error: ErrorCode, data: impl Into<Bytes>) -> Self {
        Notification {
            error,
            data: data.into(),
        }
    }

    /// A NOTIFICATION without data.
    pub fn bare(error: ErrorCode) -> Self {
        Notification {
            error,
            data: Bytes::new(),
        }
    }

    /// Cease / Administrative Shutdown or Reset carrying a shutdown communication
    /// (RFC 9003 §2: one length octet, then at most 255 octets of UTF-8).
    pub fn cease_with_communication(
        subcode: CeaseSubcode,
        message: &str,
    ) -> Result<Self, ShutdownCommunicationError> {
        let len = u8::try_from(message.len())
            .map_err(|_| ShutdownCommunicationError::TooLong(message.len()))?;
        let mut data = BytesMut::with_capacity(1 + message.len());
        data.put_u8(len);
        data.extend_from_slice(message.as_bytes());
        Ok(Notification {
            error: ErrorCode::Cease(subcode),
            data: data.freeze(),
        })
    }

    /// The shutdown communication of a Cease / Administrative Shutdown or Reset (RFC 9003 §2),
    /// `None` for other NOTIFICATIONs or when the data is empty.
    pub fn shutdown_communication(&self) -> Option<Result<&str, ShutdownCommunicationError>> {
        let ErrorCode::Cease(
            CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset,
        ) = self.error
        else {
            return None;
        };
        let (&len, text) = self.data.split_first()?;
        let declared = usize::from(len);
        // RFC 9003 §2: a length beyond the data is malformed; octets after the message may
        // follow it and are ignored here.
        let Some(text) = text.get(..declared) else {
            return Some(Err(ShutdownCommunicationError::LengthMismatch {
                declared,
                available: text.len(),
            }));
        };
        Some(std::str::from_utf8(text).map_err(|_| ShutdownCommunicationError::NotUtf8))
    }

    pub(crate) fn decode(body: &[u8]) -> Option<Self> {
        let (&code, rest) = body.split_first()?;
        let (&subcode, data) = rest.split_first()?;
        Some(Notification {
            error: ErrorCode::from_pair(code, subcode),
            data: Bytes::copy_from_slice(data),
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        2 + self.data.len()
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let (code, subcode) = self.error.pair();
        out.put_u8(code);
        out.put_u8(subcode);
        out.extend_from_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        match self.shutdown_communication() {
            Some(Ok(text)) => write!(f, ", shutdown communication {text:?}"),
            _ if self.data.is_empty() => Ok(()),
            _ => write!(f, ", data {:02x?}", &self.data[..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_round_trips_through_the_table() {
        for code in 0..=u8::MAX {
            for subcode in 0..=u8::MAX {
                assert_eq!(ErrorCode::from_pair(code, subcode).pair(), (code, subcode));
            }
        }
    }

    #[test]
    fn shutdown_communication_round_trips_and_checks_length() {
        let n = Notification::cease_with_communication(
            CeaseSubcode::AdministrativeShutdown,
            "maintenance — back at 10:00",
        )
        .expect("short enough");
        assert_eq!(
            n.shutdown_communication(),
            Some(Ok("maintenance — back at 10:00"))
        );
        assert_eq!(
            Notification::cease_with_communication(
                CeaseSubcode::AdministrativeReset,
                &"x".repeat(256)
            ),
            Err(ShutdownCommunicationError::TooLong(256))
        );
        let bad = Notification::new(
            ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown),
            &b"\x09abc"[..],
        );
        assert_eq!(
            bad.shutdown_communication(),
            Some(Err(ShutdownCommunicationError::LengthMismatch {
                declared: 9,
                available: 3
            }))
        );
        let hold = Notification::bare(ErrorCode::HoldTimerExpired);
        assert_eq!(hold.shutdown_communication(), None);
        assert_eq!(hold.to_string(), "hold timer expired (4/0)");
    }
}
