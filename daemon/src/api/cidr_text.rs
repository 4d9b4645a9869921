//! CIDRs in the API's JSON as text (`"10.244.0.0/26"`), as `ip` and the resources write them.

use ipnetwork::IpNetwork;
use serde::{Deserialize, Deserializer, Serializer};

fn parse<E: serde::de::Error>(text: &str) -> Result<IpNetwork, E> {
    text.parse()
        .map_err(|e| E::custom(format!("{text:?} is not a CIDR: {e}")))
}

/// One CIDR.
pub(super) mod one {
    use super::*;

    pub fn serialize<S: Serializer>(cidr: &IpNetwork, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cidr)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNetwork, D::Error> {
        parse(&String::deserialize(d)?)
    }
}

/// A list of CIDRs.
pub(super) mod many {
    use super::*;

    pub fn serialize<S: Serializer>(cidrs: &[IpNetwork], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(cidrs.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNetwork>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| parse(text))
            .collect()
    }
}
