//! Validated value types shared by the resources, each built once at load: `Asn`, `HoldTime`,
//! `ResourceName`, `Community`, `MacAddr`, `Encapsulation`; plus the field-path error they
//! report with.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

/// A value rejected at `path` (e.g. `spec.blockSize`), with a message that names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path of the field within the document.
    pub path: String,
    /// What is wrong, with the value.
    pub message: String,
}

impl FieldError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// An autonomous system number, 1..=4294967295 (4-octet, RFC 6793); 0 is reserved (RFC 7607).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(u32);

impl Asn {
    /// Validates `value` found at `path`.
    pub fn new(value: u32, path: &str) -> Result<Self, FieldError> {
        if value == 0 {
            return Err(FieldError::new(
                path,
                "0 is not a usable AS number (RFC 7607)",
            ));
        }
        Ok(Asn(value))
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A BGP hold time in seconds: 0 or at least 3 (RFC 4271 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldTime(u16);

impl HoldTime {
    /// Validates `value` found at `path`.
    pub fn new(value: u16, path: &str) -> Result<Self, FieldError> {
        if value == 1 || value == 2 {
            return Err(FieldError::new(
                path,
                format!(
                    "{value} is not a valid hold time: it must be 0 or at least 3 seconds (RFC 4271 §4.2)"
                ),
            ));
        }
        Ok(HoldTime(value))
    }

    /// Seconds.
    pub fn seconds(self) -> u16 {
        self.0
    }
}

/// A resource name: a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`, starting and
/// ending with a letter or digit, at most 253 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceName(String);

impl ResourceName {
    /// Validates `value` found at `path`.
    pub fn new(value: &str, path: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| Err(FieldError::new(path, format!("{value:?} {why}")));
        if value.is_empty() {
            return bad("is empty");
        }
        if value.len() > 253 {
            return bad("is longer than 253 characters");
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return bad(&format!(
                "contains {c:?}; names use lowercase letters, digits, '-' and '.'"
            ));
        }
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge_ok(value.chars().next()) || !edge_ok(value.chars().last()) {
            return bad("must start and end with a letter or digit");
        }
        Ok(ResourceName(value.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BGP community: standard `asn:value` (RFC 1997) or large `global:local1:local2` (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Community {
    /// Two 16-bit halves.
    Standard(u16, u16),
    /// Three 32-bit parts.
    Large(u32, u32, u32),
}

impl Community {
    /// Parses `value` found at `path`.
    pub fn parse(value: &str, path: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                path,
                format!(
                    "{value:?} is not a community: expected 'a:b' (16-bit parts) or 'a:b:c' (32-bit parts)"
                ),
            )
        };
        let parts: Vec<&str> = value.split(':').collect();
        match parts.as_slice() {
            [a, b] => Ok(Community::Standard(
                a.parse().map_err(|_| bad())?,
                b.parse().map_err(|_| bad())?,
            )),
            [a, b, c] => Ok(Community::Large(
                a.parse().map_err(|_| bad())?,
                b.parse().map_err(|_| bad())?,
                c.parse().map_err(|_| bad())?,
            )),
            _ => Err(bad()),
        }
    }
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parses `aa:bb:cc:dd:ee:ff` found at `path`.
    pub fn parse(value: &str, path: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                path,
                format!("{value:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
            )
        };
        let parts: Vec<&str> = value.split(':').collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut octets = [0u8; 6];
        for (octet, part) in octets.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

/// How traffic to a pool's remote blocks is carried (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encapsulation {
    /// Native routing only (the underlay carries Pod routes).
    None,
    /// Always VXLAN.
    Vxlan,
    /// Direct within the node's subnet, VXLAN across subnets.
    CrossSubnet,
    /// Direct, else a BGP path via a directly connected router, else VXLAN.
    #[default]
    Auto,
}

/// An encapsulation name that is none of `none`, `vxlan`, `cross-subnet`, `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encapsulation {0:?} is not one of none, vxlan, cross-subnet, auto")]
pub struct EncapsulationParseError(pub String);

impl FromStr for Encapsulation {
    type Err = EncapsulationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Encapsulation::None),
            "vxlan" => Ok(Encapsulation::Vxlan),
            "cross-subnet" => Ok(Encapsulation::CrossSubnet),
            "auto" => Ok(Encapsulation::Auto),
            other => Err(EncapsulationParseError(other.to_owned())),
        }
    }
}

impl fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encapsulation::None => "none",
            Encapsulation::Vxlan => "vxlan",
            Encapsulation::CrossSubnet => "cross-subnet",
            Encapsulation::Auto => "auto",
        })
    }
}

/// Parses an IP address found at `path`.
pub fn parse_ip(value: &str, path: &str) -> Result<IpAddr, FieldError> {
    IpAddr::from_str(value)
        .map_err(|_| FieldError::new(path, format!("{value:?} is not an IP address")))
}

/// Parses a CIDR found at `path`, requiring an explicit prefix length.
pub fn parse_cidr(value: &str, path: &str) -> Result<IpNetwork, FieldError> {
    if !value.contains('/') {
        return Err(FieldError::new(
            path,
            format!("{value:?} has no prefix length (expected e.g. 10.244.0.0/16)"),
        ));
    }
    IpNetwork::from_str(value)
        .map_err(|e| FieldError::new(path, format!("{value:?} is not a CIDR: {e}")))
}

/// Parses a CIDR found at `path` that must have no host bits set.
pub fn parse_aligned_cidr(value: &str, path: &str) -> Result<IpNetwork, FieldError> {
    let cidr = parse_cidr(value, path)?;
    margay_ipam::pool::check_aligned(cidr).map_err(|e| FieldError::new(path, e.to_string()))?;
    Ok(cidr)
}

/// Checks a label key: [A-Za-z0-9_./-]+, as the selector language reads keys.
pub fn check_label_key(key: &str, path: &str) -> Result<(), FieldError> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            path,
            format!("label key {key:?} may only use letters, digits, '_', '.', '-' and '/'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_zero_is_rejected() {
        assert_eq!(
            Asn::new(0, "spec.asNumber").unwrap_err().to_string(),
            "spec.asNumber: 0 is not a usable AS number (RFC 7607)"
        );
        assert_eq!(Asn::new(4_200_000_000, "x").unwrap().get(), 4_200_000_000);
    }

    #[test]
    fn hold_time_one_and_two_are_rejected() {
        assert!(HoldTime::new(0, "h").is_ok());
        assert!(HoldTime::new(3, "h").is_ok());
        assert!(
            HoldTime::new(2, "h")
                .unwrap_err()
                .message
                .contains("RFC 4271")
        );
    }

    #[test]
    fn names_follow_dns_1123() {
        assert!(ResourceName::new("default-ipv4", "n").is_ok());
        assert!(ResourceName::new("node.a-1", "n").is_ok());
        assert_eq!(
            ResourceName::new("Bad", "metadata.name")
                .unwrap_err()
                .to_string(),
            "metadata.name: \"Bad\" contains 'B'; names use lowercase letters, digits, '-' and '.'"
        );
        assert!(ResourceName::new("-a", "n").is_err());
        assert!(ResourceName::new("", "n").is_err());
    }

    #[test]
    fn communities_and_macs() {
        assert_eq!(
            Community::parse("65001:100", "c").unwrap(),
            Community::Standard(65001, 100)
        );
        assert_eq!(
            Community::parse("4200000000:1:2", "c").unwrap(),
            Community::Large(4_200_000_000, 1, 2)
        );
        assert!(Community::parse("70000:1", "c").is_err());
        let mac = MacAddr::parse("0e:00:5e:AA:01:ff", "m").unwrap();
        assert_eq!(mac.to_string(), "0e:00:5e:aa:01:ff");
        assert!(MacAddr::parse("0e:00:5e:aa:01", "m").is_err());
    }

    #[test]
    fn cidrs_need_a_prefix_and_alignment() {
        assert!(
            parse_cidr("10.0.0.1", "c")
                .unwrap_err()
                .message
                .contains("no prefix length")
        );
        assert_eq!(
            parse_aligned_cidr("10.244.0.1/16", "spec.cidr")
                .unwrap_err()
                .to_string(),
            "spec.cidr: 10.244.0.1/16 is not aligned to its prefix length (network address is 10.244.0.0)"
        );
    }
}
