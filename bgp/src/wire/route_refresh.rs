//! ROUTE-REFRESH message (RFC 2918 §3) with the Enhanced Route Refresh subtypes (RFC 7313 §3.2).
//!
//! ```text
//!  0       7      15      23      31
//!  +-------+-------+-------+-------+
//!  |      AFI      | Subtype | SAFI |
//!  +-------+-------+-------+-------+
//! ```

use bytes::{BufMut, BytesMut};

use super::family::AfiSafi;

/// Message Subtype (RFC 7313 §3.2; the "Reserved" octet of RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubtype {
    /// 0: a normal route refresh request.
    Request,
    /// 1: Beginning of Route Refresh (BoRR).
    BeginningOfRefresh,
    /// 2: End of Route Refresh (EoRR).
    EndOfRefresh,
    /// RFC 7313 §5: "When the BGP speaker receives a ROUTE-REFRESH message with a 'Message
    /// Subtype' field other than 0, 1, or 2, it MUST ignore the received message." Kept so
    /// the caller can do exactly that.
    Unknown(u8),
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub family: AfiSafi,
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    pub fn request(family: AfiSafi) -> Self {
        RouteRefresh {
            family,
            subtype: RouteRefreshSubtype::Request,
        }
    }

    /// Decodes the 4-octet body; the caller checked the length (RFC 7313 §5).
    pub(crate) fn decode(body: [u8; 4]) -> Self {
        let [a0, a1, subtype, safi] = body;
        let subtype = match subtype {
            0 => RouteRefreshSubtype::Request,
            1 => RouteRefreshSubtype::BeginningOfRefresh,
            2 => RouteRefreshSubtype::EndOfRefresh,
            other => RouteRefreshSubtype::Unknown(other),
        };
        RouteRefresh {
            family: AfiSafi::new(u16::from_be_bytes([a0, a1]), safi),
            subtype,
        }
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.family.afi.0);
        out.put_u8(match self.subtype {
            RouteRefreshSubtype::Request => 0,
            RouteRefreshSubtype::BeginningOfRefresh => 1,
            RouteRefreshSubtype::EndOfRefresh => 2,
            RouteRefreshSubtype::Unknown(v) => v,
        });
        out.put_u8(self.family.safi.0);
    }
}
