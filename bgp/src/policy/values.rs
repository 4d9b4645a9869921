//! Configuration values of policies, parsed from text and validated once at load: prefix
//! ranges with ge/le, standard communities (RFC 1997) and large communities (RFC 8092).

use std::fmt;
use std::str::FromStr;

use crate::rib::Prefix;
use crate::wire::{Community, LargeCommunity};

use super::PolicyError;

/// A prefix with an optional length range: matches prefixes inside `prefix` whose length is
/// within `ge..=le`. Without `ge`/`le` only `prefix` itself matches; with only `ge` the range
/// runs to the family width; with only `le` it starts at the prefix length (the usual
/// router-configuration meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "PrefixRangeConfig", into = "PrefixRangeConfig")]
pub struct PrefixRange {
    prefix: Prefix,
    min_len: u8,
    max_len: u8,
}

#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct PrefixRangeConfig {
    prefix: Prefix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ge: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    le: Option<u8>,
}

impl PrefixRange {
    /// Validates `ge`/`le`: `prefix length <= ge <= le <= family width`.
    pub fn new(prefix: Prefix, ge: Option<u8>, le: Option<u8>) -> Result<Self, PolicyError> {
        let len = prefix.prefix_len();
        let max = prefix.max_len();
        let min_len = ge.unwrap_or(len);
        let max_len = le.unwrap_or(if ge.is_some() { max } else { len });
        if min_len < len || max_len > max || min_len > max_len {
            return Err(PolicyError::PrefixRange {
                prefix: prefix.to_string(),
                ge,
                le,
            });
        }
        Ok(PrefixRange {
            prefix,
            min_len,
            max_len,
        })
    }

    pub fn matches(&self, prefix: &Prefix) -> bool {
        let len = prefix.prefix_len();
        self.prefix.contains(prefix) && (self.min_len..=self.max_len).contains(&len)
    }
}

impl TryFrom<PrefixRangeConfig> for PrefixRange {
    type Error = PolicyError;
    fn try_from(c: PrefixRangeConfig) -> Result<Self, PolicyError> {
        PrefixRange::new(c.prefix, c.ge, c.le)
    }
}

impl From<PrefixRange> for PrefixRangeConfig {
    fn from(r: PrefixRange) -> Self {
        let len = r.prefix.prefix_len();
        let (ge, le) = match (r.min_len == len, r.max_len == len) {
            (true, true) => (None, None),
            _ => (Some(r.min_len), Some(r.max_len)),
        };
        PrefixRangeConfig {
            prefix: r.prefix,
            ge,
            le,
        }
    }
}

/// A standard community written `ASN:VALUE` or by its well-known name (`no-export`,
/// `no-advertise`, `no-export-subconfed`, RFC 1997).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct StandardCommunity(pub Community);

impl FromStr for StandardCommunity {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::Community(s.to_string());
        Ok(StandardCommunity(match s {
            "no-export" => Community::NO_EXPORT,
            "no-advertise" => Community::NO_ADVERTISE,
            "no-export-subconfed" => Community::NO_EXPORT_SUBCONFED,
            _ => {
                let (asn, value) = s.split_once(':').ok_or_else(bad)?;
                Community::new(
                    asn.parse().map_err(|_| bad())?,
                    value.parse().map_err(|_| bad())?,
                )
            }
        }))
    }
}

impl fmt::Display for StandardCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Community::NO_EXPORT => f.write_str("no-export"),
            Community::NO_ADVERTISE => f.write_str("no-advertise"),
            Community::NO_EXPORT_SUBCONFED => f.write_str("no-export-subconfed"),
            Community(v) => write!(f, "{}:{}", v >> 16, v & 0xffff),
        }
    }
}

impl fmt::Debug for StandardCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for StandardCommunity {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Self, PolicyError> {
        s.parse()
    }
}

impl From<StandardCommunity> for String {
    fn from(c: StandardCommunity) -> String {
        c.to_string()
    }
}

/// A large community written `GLOBAL:LOCAL1:LOCAL2` (RFC 8092 §3, RFC 8195 §2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct LargeCommunityValue(pub LargeCommunity);

impl FromStr for LargeCommunityValue {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::LargeCommunity(s.to_string());
        let mut parts = s.split(':').map(|p| p.parse::<u32>().map_err(|_| bad()));
        let (Some(g), Some(l1), Some(l2), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(LargeCommunityValue(LargeCommunity {
            global_admin: g?,
            local_data_1: l1?,
            local_data_2: l2?,
        }))
    }
}

impl fmt::Display for LargeCommunityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(
            f,
            "{}:{}:{}",
            c.global_admin, c.local_data_1, c.local_data_2
        )
    }
}

impl fmt::Debug for LargeCommunityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for LargeCommunityValue {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Self, PolicyError> {
        s.parse()
    }
}

impl From<LargeCommunityValue> for String {
    fn from(c: LargeCommunityValue) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().expect("prefix")
    }

    #[test]
    fn prefix_range_ge_le_semantics() {
        let exact = PrefixRange::new(p("10.0.0.0/8"), None, None).expect("valid");
        assert!(exact.matches(&p("10.0.0.0/8")));
        assert!(!exact.matches(&p("10.1.0.0/16")));
        let ge = PrefixRange::new(p("10.0.0.0/8"), Some(24), None).expect("valid");
        assert!(ge.matches(&p("10.1.2.0/24")) && ge.matches(&p("10.1.2.3/32")));
        assert!(!ge.matches(&p("10.1.0.0/16")));
        let le = PrefixRange::new(p("10.0.0.0/8"), None, Some(16)).expect("valid");
        assert!(le.matches(&p("10.0.0.0/8")) && le.matches(&p("10.1.0.0/16")));
        assert!(!le.matches(&p("10.1.2.0/24")) && !le.matches(&p("11.0.0.0/8")));
        assert!(!le.matches(&p("2001:db8::/32")));
    }

    #[test]
    fn prefix_range_rejects_inconsistent_bounds_naming_them() {
        let err = PrefixRange::new(p("10.0.0.0/16"), Some(8), None).expect_err("ge < len");
        assert_eq!(
            err.to_string(),
            "prefix range 10.0.0.0/16 ge Some(8) le None is empty or out of bounds (want prefix length <= ge <= le <= family width)"
        );
        assert!(PrefixRange::new(p("10.0.0.0/8"), Some(24), Some(20)).is_err());
        assert!(PrefixRange::new(p("10.0.0.0/8"), None, Some(33)).is_err());
    }

    #[test]
    fn communities_parse_and_print() {
        let c: StandardCommunity = "65000:100".parse().expect("valid");
        assert_eq!(c.0, Community::new(65000, 100));
        assert_eq!(c.to_string(), "65000:100");
        let ne: StandardCommunity = "no-export".parse().expect("valid");
        assert_eq!(ne.0, Community::NO_EXPORT);
        assert!("65536:1".parse::<StandardCommunity>().is_err());
        assert!("x".parse::<StandardCommunity>().is_err());
        let l: LargeCommunityValue = "4200000000:1:2".parse().expect("valid");
        assert_eq!(l.to_string(), "4200000000:1:2");
        assert!("1:2".parse::<LargeCommunityValue>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunityValue>().is_err());
    }
}
