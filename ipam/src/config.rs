//! Cluster-wide IPAM settings (the `IPAMConfig` resource, validated by the daemon).

/// How blocks are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpamConfig {
    /// Strict affinity (the default): a node assigns only from blocks affine to it and never
    /// borrows from another node's block, so Pod /32s never need announcing.
    pub strict_affinity: bool,
    /// At most this many blocks (pending or confirmed) per node and family; `None`: no limit.
    pub max_blocks_per_node: Option<u32>,
}

impl Default for IpamConfig {
    fn default() -> Self {
        IpamConfig {
            strict_affinity: true,
            max_blocks_per_node: None,
        }
    }
}
