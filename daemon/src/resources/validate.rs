//! Checks across a set of resources that no single document can make: overlapping pools,
//! duplicate names, two nodes claiming one underlay address.

use std::collections::BTreeMap;

use margay_ipam::pool::nets_overlap;

use super::Resource;

/// A conflict between resources of one set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{first} and {second}: {message}")]
pub struct SetError {
    /// `Kind/name` of one side.
    pub first: String,
    /// `Kind/name` of the other.
    pub second: String,
    /// What clashes, with the values.
    pub message: String,
}

/// Checks a set of resources (e.g. everything in the store plus what is being applied).
pub fn validate_set(resources: &[Resource]) -> Result<(), Vec<SetError>> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in resources.iter().enumerate() {
        if seen.insert(r.id(), i).is_some() {
            errors.push(SetError {
                first: r.id(),
                second: r.id(),
                message: "defined twice".into(),
            });
        }
    }
    let pools: Vec<_> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::IpPool(p) => Some(p),
            _ => None,
        })
        .collect();
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[i + 1..] {
            if a.name != b.name && nets_overlap(&a.cidr, &b.cidr) {
                errors.push(SetError {
                    first: format!("IPPool/{}", a.name),
                    second: format!("IPPool/{}", b.name),
                    message: format!("spec.cidr {} overlaps spec.cidr {}", a.cidr, b.cidr),
                });
            }
        }
    }
    let mut underlay: BTreeMap<std::net::IpAddr, String> = BTreeMap::new();
    for r in resources {
        if let Resource::Node(n) = r {
            for addr in [n.ipv4_address, n.ipv6_address].into_iter().flatten() {
                if let Some(other) = underlay.insert(addr.ip(), n.name.to_string())
                    && other != n.name.as_str()
                {
                    errors.push(SetError {
                        first: format!("Node/{other}"),
                        second: format!("Node/{}", n.name),
                        message: format!("both claim the underlay address {}", addr.ip()),
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::parse_yaml;

    #[test]
    fn overlapping_pools_are_named_with_both_cidrs() {
        let text = "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.0.0.0/16}\n---\napiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: b}\nspec: {cidr: 10.0.128.0/17}\n---\napiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: c}\nspec: {cidr: 10.1.0.0/16}\n";
        let set = parse_yaml(text).unwrap();
        let errors = validate_set(&set).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["IPPool/a and IPPool/b: spec.cidr 10.0.0.0/16 overlaps spec.cidr 10.0.128.0/17"]
        );
    }

    #[test]
    fn duplicates_and_shared_underlay_addresses() {
        let node = |name: &str, addr: &str| {
            format!(
                "apiVersion: margay.io/v1\nkind: Node\nmetadata: {{name: {name}}}\nspec: {{bgp: {{ipv4Address: {addr}}}}}\n"
            )
        };
        let text = [
            node("a", "10.0.0.1/24"),
            node("b", "10.0.0.1/24"),
            node("a", "10.0.0.2/24"),
        ]
        .join("---\n");
        let errors: Vec<String> = validate_set(&parse_yaml(&text).unwrap())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "Node/a and Node/a: defined twice",
                "Node/a and Node/b: both claim the underlay address 10.0.0.1",
            ]
        );
    }
}
