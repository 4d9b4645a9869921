//! The VTEP's MTU: the uplink's MTU minus the VXLAN overhead (RFC 7348 §5: outer Ethernet 14 +
//! outer IPv4 20 / IPv6 40 + UDP 8 + VXLAN 8 = 50 / 70 bytes), unless configured.

use std::net::IpAddr;

/// Encapsulation overhead over an IPv4 underlay.
pub const OVERHEAD_IPV4: u32 = 50;
/// Encapsulation overhead over an IPv6 underlay.
pub const OVERHEAD_IPV6: u32 = 70;
/// The smallest MTU an IPv4 interface may have (RFC 791: every host must accept 68 octets).
pub const MIN_MTU: u32 = 68;

/// An MTU that leaves no room for Pod traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtuError {
    /// The uplink is too small to carry the encapsulation.
    #[error(
        "uplink MTU {uplink} minus the VXLAN overhead {overhead} is below the minimum {MIN_MTU}"
    )]
    UplinkTooSmall {
        /// The uplink's MTU.
        uplink: u32,
        /// The overhead for the underlay family.
        overhead: u32,
    },
    /// A configured MTU that does not fit the uplink.
    #[error(
        "configured VXLAN MTU {configured} must be between {MIN_MTU} and {max} (uplink MTU {uplink} minus {overhead})"
    )]
    ConfiguredOutOfRange {
        /// The configured MTU.
        configured: u32,
        /// The largest MTU the uplink can carry.
        max: u32,
        /// The uplink's MTU.
        uplink: u32,
        /// The overhead for the underlay family.
        overhead: u32,
    },
}

/// The VXLAN overhead for an underlay (local) address family.
pub fn overhead(underlay: IpAddr) -> u32 {
    match underlay {
        IpAddr::V4(_) => OVERHEAD_IPV4,
        IpAddr::V6(_) => OVERHEAD_IPV6,
    }
}

/// The MTU of the VTEP: `configured` if given (checked against the uplink), else the uplink's
/// MTU minus the overhead of the underlay family.
pub fn vtep_mtu(
    uplink_mtu: u32,
    underlay: IpAddr,
    configured: Option<u32>,
) -> Result<u32, MtuError> {
    let overhead = overhead(underlay);
    let max = uplink_mtu.checked_sub(overhead).filter(|m| *m >= MIN_MTU);
    let max = max.ok_or(MtuError::UplinkTooSmall {
        uplink: uplink_mtu,
        overhead,
    })?;
    match configured {
        None => Ok(max),
        Some(c) if (MIN_MTU..=max).contains(&c) => Ok(c),
        Some(c) => Err(MtuError::ConfiguredOutOfRange {
            configured: c,
            max,
            uplink: uplink_mtu,
            overhead,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);

    #[test]
    fn derived_from_uplink_per_family() {
        let cases = [
            (1500, V4, None, Ok(1450)),
            (1500, V6, None, Ok(1430)),
            (9000, V4, None, Ok(8950)),
            (9000, V6, Some(1400), Ok(1400)),
            (1500, V4, Some(1450), Ok(1450)),
        ];
        for (uplink, underlay, configured, want) in cases {
            assert_eq!(
                vtep_mtu(uplink, underlay, configured),
                want,
                "{uplink} {underlay} {configured:?}"
            );
        }
    }

    #[test]
    fn rejects_what_does_not_fit() {
        assert_eq!(
            vtep_mtu(100, V4, None),
            Err(MtuError::UplinkTooSmall {
                uplink: 100,
                overhead: 50
            })
        );
        assert_eq!(
            vtep_mtu(20, V6, None),
            Err(MtuError::UplinkTooSmall {
                uplink: 20,
                overhead: 70
            })
        );
        let err = vtep_mtu(1500, V4, Some(1451)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configured VXLAN MTU 1451 must be between 68 and 1450 (uplink MTU 1500 minus 50)"
        );
        assert!(vtep_mtu(1500, V4, Some(67)).is_err());
    }
}
