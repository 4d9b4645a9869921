//! The VTEP's MAC address, derived from the node name so that every node computes the same
//! MAC for a given peer without asking it (DESIGN §4).
//!
//! Derivation: the 64-bit FNV-1a hash of the UTF-8 node name, passed through MurmurHash3's
//! 64-bit finalizer (`fmix64`, so that names differing in one character differ in every
//! byte; FNV alone barely changes its high bytes for a different last character), big-endian,
//! first six bytes, with the first octet's *locally administered* bit (0x02) set and its
//! *group* bit (0x01) cleared (IEEE 802 §8.2.2: an individual, locally administered address
//! that never collides with a vendor-assigned one). Both functions are fixed and documented,
//! so the result never changes between builds or Rust releases.

use std::fmt;
use std::str::FromStr;

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

/// A MAC address string that is not six colon-separated hex octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MAC address {0:?} is not six colon-separated hex octets (like 0e:12:34:56:78:9a)")]
pub struct MacParseError(pub String);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Mac {
    /// The VTEP MAC of the node called `name`: stable across restarts and identical on every
    /// node that computes it.
    pub fn from_node_name(name: &str) -> Mac {
        let hash = name.bytes().fold(FNV_OFFSET, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
        });
        let b = fmix64(hash).to_be_bytes();
        Mac([(b[0] | 0x02) & !0x01, b[1], b[2], b[3], b[4], b[5]])
    }

    /// The six octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether the locally administered bit is set.
    pub fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// Whether this is a unicast (individual) address.
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 0x01 == 0
    }
}

/// MurmurHash3's 64-bit finalizer: every input bit flips each output bit with ~1/2 chance.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = MacParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MacParseError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for octet in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 {
                return Err(err());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Mac(out))
    }
}

impl TryFrom<&[u8]> for Mac {
    type Error = MacParseError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 6]>::try_from(bytes)
            .map(Mac)
            .map_err(|_| MacParseError(format!("{bytes:02x?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_mac_is_stable_known_value() {
        // fmix64(FNV-1a 64("node-a")) = fmix64(0xe6971cc22078cb53) = 0x48e86629c152a3f3
        // (computed independently in Python); pinned so a change of the function (which
        // would re-key every VTEP in a fleet) fails here.
        let mac = Mac::from_node_name("node-a");
        assert_eq!(mac, Mac::from_node_name("node-a"));
        assert_eq!(mac.to_string(), "4a:e8:66:29:c1:52");
        assert_eq!(
            Mac::from_node_name("node-1").to_string(),
            "92:dd:3f:4c:04:e1"
        );
        assert_eq!(
            Mac::from_node_name("node-2").to_string(),
            "32:38:e5:c6:e8:32"
        );
    }

    #[test]
    fn derived_macs_are_local_unicast_and_distinct() {
        let names = [
            "node-a",
            "node-b",
            "node-c",
            "n",
            "",
            "worker-000001",
            "worker-000002",
        ];
        let macs: Vec<Mac> = names.iter().map(|n| Mac::from_node_name(n)).collect();
        for (name, mac) in names.iter().zip(&macs) {
            assert!(mac.is_locally_administered(), "{name}: {mac}");
            assert!(mac.is_unicast(), "{name}: {mac}");
        }
        let mut unique = macs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), macs.len(), "{macs:?}");
    }

    #[test]
    fn parse_and_display_round_trip() {
        let mac: Mac = "0e:12:34:56:78:9a".parse().unwrap();
        assert_eq!(mac.0, [0x0e, 0x12, 0x34, 0x56, 0x78, 0x9a]);
        assert_eq!(mac.to_string(), "0e:12:34:56:78:9a");
    }

    #[test]
    fn parse_rejects_bad_input_naming_it() {
        for bad in [
            "",
            "0e:12:34:56:78",
            "0e:12:34:56:78:9a:bc",
            "0e-12-34-56-78-9a",
            "zz:12:34:56:78:9a",
            "e:12:34:56:78:9a",
        ] {
            let err = bad.parse::<Mac>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
