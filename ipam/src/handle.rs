//! Handles: the caller's name for an assignment (for a Pod, `<network>.<container id>`), and
//! the record stored per handle (DESIGN §6 `ipam/handles/<handle>`: block → count).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::IpamError;

/// Longest accepted handle.
pub const MAX_HANDLE_LEN: usize = 253;

/// Checks that `handle` can be a key segment: 1..=253 of `[A-Za-z0-9._:@-]`.
pub fn check_handle(handle: &str) -> Result<(), IpamError> {
    let reason = if handle.is_empty() {
        Some("is empty".to_owned())
    } else if handle.len() > MAX_HANDLE_LEN {
        Some(format!("is longer than {MAX_HANDLE_LEN} bytes"))
    } else {
        handle
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-')))
            .map(|c| format!("contains {c:?} (allowed: letters, digits, '.', '_', ':', '@', '-')"))
    };
    match reason {
        Some(reason) => Err(IpamError::InvalidName {
            what: "handle",
            name: handle.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks that a node name can be a key segment (no `/`, not empty).
pub fn check_node(node: &str) -> Result<(), IpamError> {
    if node.is_empty() || node.contains('/') || node.len() > MAX_HANDLE_LEN {
        return Err(IpamError::InvalidName {
            what: "node",
            name: node.to_owned(),
            reason: "must be 1..=253 bytes without '/'".into(),
        });
    }
    Ok(())
}

/// The stored record of a handle: how many addresses it holds in which block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandleRecord {
    /// Block CIDR (text) → number of addresses.
    pub blocks: BTreeMap<String, u32>,
}

impl HandleRecord {
    /// JSON for the store.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("handle records are plain data")
    }

    /// Decodes a stored record.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Adds `n` addresses in `block`.
    pub fn add(&mut self, block: &str, n: u32) {
        *self.blocks.entry(block.to_owned()).or_default() += n;
    }

    /// Removes `n` addresses in `block` (dropping the entry at zero).
    pub fn remove(&mut self, block: &str, n: u32) {
        if let Some(count) = self.blocks.get_mut(block) {
            *count = count.saturating_sub(n);
            if *count == 0 {
                self.blocks.remove(block);
            }
        }
    }

    /// No addresses left.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_names_are_checked() {
        assert!(check_handle("k8s-pod-network.3f2a:eth0").is_ok());
        assert_eq!(
            check_handle("a/b").unwrap_err().to_string(),
            "invalid handle \"a/b\": contains '/' (allowed: letters, digits, '.', '_', ':', '@', '-')"
        );
        assert!(check_handle("").is_err());
        assert!(check_node("node/a").is_err());
    }

    #[test]
    fn record_counts() {
        let mut r = HandleRecord::default();
        r.add("10.0.0.0/26", 1);
        r.add("10.0.0.0/26", 1);
        r.remove("10.0.0.0/26", 1);
        assert_eq!(r.blocks["10.0.0.0/26"], 1);
        r.remove("10.0.0.0/26", 1);
        assert!(r.is_empty());
        assert_eq!(HandleRecord::decode(&r.encode()).unwrap(), r);
    }
}
