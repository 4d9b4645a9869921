//! The raw settings, as one struct read three ways: serde from the YAML file (camelCase keys),
//! clap from flags (`--kebab-case`) and environment variables (`MARGAY_SNAKE_CASE`). Every
//! field is optional here; [`Settings::overlaid_with`] layers them and
//! [`Settings::validate`](super::Settings::validate) applies defaults and checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, Labels};

/// margay-node settings (file < environment < flags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// YAML configuration file; environment variables and flags override it.
    #[arg(long, short = 'c', env = "MARGAY_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Node name [default: the host name].
    #[arg(long, env = "MARGAY_NODE_NAME")]
    pub node_name: Option<String>,

    /// Datastore: `etcd` or `file:PATH` (standalone, no etcd) [default: etcd].
    #[arg(long, env = "MARGAY_DATASTORE")]
    pub datastore: Option<String>,

    /// etcd client URLs, comma-separated.
    #[arg(long, env = "MARGAY_ETCD_ENDPOINTS", value_delimiter = ',')]
    pub etcd_endpoints: Option<Vec<String>>,

    /// etcd key prefix [default: /margay/v1/].
    #[arg(long, env = "MARGAY_ETCD_PREFIX")]
    pub etcd_prefix: Option<String>,

    /// CA certificate that signed etcd's server certificate.
    #[arg(long, env = "MARGAY_ETCD_CA_FILE")]
    pub etcd_ca_file: Option<PathBuf>,

    /// Client certificate for etcd.
    #[arg(long, env = "MARGAY_ETCD_CERT_FILE")]
    pub etcd_cert_file: Option<PathBuf>,

    /// Client key for etcd.
    #[arg(long, env = "MARGAY_ETCD_KEY_FILE")]
    pub etcd_key_file: Option<PathBuf>,

    /// etcd user name.
    #[arg(long, env = "MARGAY_ETCD_USERNAME")]
    pub etcd_username: Option<String>,

    /// File holding the etcd user's password.
    #[arg(long, env = "MARGAY_ETCD_PASSWORD_FILE")]
    pub etcd_password_file: Option<PathBuf>,

    /// IPv4 underlay detection: first-found, interface=REGEX, cidr=CIDR, can-reach=IP
    /// [default: first-found].
    #[arg(long, env = "MARGAY_UNDERLAY")]
    pub underlay: Option<String>,

    /// IPv6 underlay detection (same methods); no IPv6 underlay when unset.
    #[arg(long, env = "MARGAY_UNDERLAY6")]
    pub underlay6: Option<String>,

    /// Node labels, `key=value,key2=value2`.
    #[arg(long, env = "MARGAY_LABELS")]
    pub labels: Option<Labels>,

    /// This node's AS number (overrides the global BGPConfiguration's).
    #[arg(long, env = "MARGAY_AS_NUMBER")]
    pub as_number: Option<u32>,

    /// VTEP MTU [default: uplink MTU − 50, − 70 for an IPv6 underlay].
    #[arg(long, env = "MARGAY_VXLAN_MTU")]
    pub vxlan_mtu: Option<u32>,

    /// Turn off TX checksum offload on vxlan.margay.
    #[arg(long, env = "MARGAY_VXLAN_DISABLE_TX_CHECKSUM_OFFLOAD", num_args = 0..=1, default_missing_value = "true")]
    pub vxlan_disable_tx_checksum_offload: Option<bool>,

    /// Local API socket for margayctl [default: /run/margay/margay.sock].
    #[arg(long, env = "MARGAY_API_SOCKET")]
    pub api_socket: Option<PathBuf>,

    /// Address for /metrics, /livez and /readyz [default: 127.0.0.1:9091].
    #[arg(long, env = "MARGAY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Log filter: a level or tracing directives [default: info].
    #[arg(long, env = "MARGAY_LOG_LEVEL")]
    pub log_level: Option<String>,
}

impl Settings {
    /// Reads a YAML settings file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let file_error = |why: String| ConfigError::File {
            path: path.to_owned(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        serde_yaml_ng::from_str(&text).map_err(|e| file_error(e.to_string()))
    }

    /// These settings with every value that `over` sets replacing this one's.
    pub fn overlaid_with(self, over: Settings) -> Settings {
        Settings {
            config: over.config.or(self.config),
            node_name: over.node_name.or(self.node_name),
            datastore: over.datastore.or(self.datastore),
            etcd_endpoints: over.etcd_endpoints.or(self.etcd_endpoints),
            etcd_prefix: over.etcd_prefix.or(self.etcd_prefix),
            etcd_ca_file: over.etcd_ca_file.or(self.etcd_ca_file),
            etcd_cert_file: over.etcd_cert_file.or(self.etcd_cert_file),
            etcd_key_file: over.etcd_key_file.or(self.etcd_key_file),
            etcd_username: over.etcd_username.or(self.etcd_username),
            etcd_password_file: over.etcd_password_file.or(self.etcd_password_file),
            underlay: over.underlay.or(self.underlay),
            underlay6: over.underlay6.or(self.underlay6),
            labels: over.labels.or(self.labels),
            as_number: over.as_number.or(self.as_number),
            vxlan_mtu: over.vxlan_mtu.or(self.vxlan_mtu),
            vxlan_disable_tx_checksum_offload: over
                .vxlan_disable_tx_checksum_offload
                .or(self.vxlan_disable_tx_checksum_offload),
            api_socket: over.api_socket.or(self.api_socket),
            metrics_listen: over.metrics_listen.or(self.metrics_listen),
            log_level: over.log_level.or(self.log_level),
        }
    }
}
