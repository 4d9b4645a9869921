//! margay-node's own configuration: what a node needs before it can read anything from the
//! datastore (its name, where the datastore is, how to find its underlay address, local
//! endpoints). Read from a YAML file, then environment variables `MARGAY_*`, then flags, each
//! overriding the one before, and validated once into [`NodeConfig`]; every error names the
//! setting (as the file spells it) and the value. See docs/configuration.md.

mod labels;
mod settings;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use labels::Labels;
pub use settings::Settings;

use crate::underlay::DetectionMethod;

/// Default etcd key prefix (DESIGN §6).
pub const DEFAULT_ETCD_PREFIX: &str = "/margay/v1/";
/// Default path of the local API socket.
pub const DEFAULT_API_SOCKET: &str = "/run/margay/margay.sock";
/// Default metrics and health listener.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9091";

/// A setting with a bad value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("config file {path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (serde's message names the field and line).
        why: String,
    },
    /// A value is wrong.
    #[error("{field}: {value:?} {why}")]
    Invalid {
        /// The setting, as the YAML file names it.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A required setting is missing.
    #[error("{field}: required ({hint})")]
    Missing {
        /// The setting.
        field: &'static str,
        /// Where it can be given.
        hint: &'static str,
    },
}

fn invalid(field: &'static str, value: impl ToString, why: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_string(),
        why: why.to_string(),
    }
}

/// Where cluster state lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Datastore {
    /// etcd v3.
    Etcd(EtcdConfig),
    /// Standalone: resources and static blocks from a YAML file, no etcd.
    File(PathBuf),
}

/// How to reach etcd.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EtcdConfig {
    /// Client URLs (`http://` or `https://`).
    pub endpoints: Vec<String>,
    /// Key prefix, ending in `/`.
    pub prefix: String,
    /// CA bundle that signed the server certificates.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (both or neither).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// User name for etcd authentication.
    pub username: Option<String>,
    /// File holding the password of `username`.
    pub password_file: Option<PathBuf>,
}

/// The validated configuration of one margay-node.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfig {
    /// The node's name (the Kubernetes node name).
    pub node_name: String,
    /// The datastore.
    pub datastore: Datastore,
    /// How to find the IPv4 underlay address.
    pub underlay: DetectionMethod,
    /// How to find the IPv6 underlay address, if the node has one.
    pub underlay6: Option<DetectionMethod>,
    /// Labels registered on the node's `Node` (matched by `nodeSelector`s).
    pub labels: BTreeMap<String, String>,
    /// This node's AS number, overriding the global one.
    pub as_number: Option<u32>,
    /// VTEP MTU, overriding uplink MTU − 50 (−70 for IPv6).
    pub vxlan_mtu: Option<u32>,
    /// Turn off TX checksum offload on the VTEP (see docs/dataplane.md).
    pub vxlan_disable_tx_checksum_offload: bool,
    /// Local API socket for margayctl.
    pub api_socket: PathBuf,
    /// `/metrics`, `/livez`, `/readyz`.
    pub metrics_listen: SocketAddr,
    /// tracing filter (`info`, `margay_bgp=debug,info`, ...).
    pub log_level: String,
}

impl NodeConfig {
    /// Reads the file named by `cli.config` (if any), overlays `cli` (environment and flags,
    /// as clap parsed them) and validates the result.
    pub fn load(cli: Settings) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        file.overlaid_with(cli).validate(&default_hostname)
    }
}

fn default_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
}

/// A Kubernetes node name: a DNS-1123 subdomain.
fn check_node_name(name: &str) -> Result<(), ConfigError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(invalid(
            "nodeName",
            name,
            "is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253)",
        ))
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), ConfigError> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    match rest {
        Some(hostport)
            if hostport
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
        {
            Ok(())
        }
        _ => Err(invalid(
            "etcdEndpoints",
            endpoint,
            "is not http(s)://HOST:PORT",
        )),
    }
}

fn existing_file(field: &'static str, path: &Path) -> Result<PathBuf, ConfigError> {
    if path.is_file() {
        Ok(path.to_owned())
    } else {
        Err(invalid(field, path.display(), "is not a readable file"))
    }
}

impl Settings {
    /// Turns raw settings into a [`NodeConfig`], with defaults, or the first error found.
    pub fn validate(
        self,
        hostname: &dyn Fn() -> Option<String>,
    ) -> Result<NodeConfig, ConfigError> {
        let node_name = self
            .node_name
            .clone()
            .or_else(hostname)
            .ok_or(ConfigError::Missing {
                field: "nodeName",
                hint: "--node-name, MARGAY_NODE_NAME or the host name",
            })?;
        check_node_name(&node_name)?;

        let datastore = match self.datastore.as_deref().unwrap_or("etcd") {
            "etcd" => Datastore::Etcd(self.etcd_config()?),
            other => match other.strip_prefix("file:") {
                Some(path) if !path.is_empty() => {
                    Datastore::File(existing_file("datastore", Path::new(path))?)
                }
                _ => return Err(invalid("datastore", other, "must be `etcd` or `file:PATH`")),
            },
        };

        let method = |field: &'static str, text: &str| {
            text.parse::<DetectionMethod>()
                .map_err(|e| invalid(field, text, e))
        };
        let underlay = method(
            "underlay",
            self.underlay.as_deref().unwrap_or("first-found"),
        )?;
        let underlay6 = self
            .underlay6
            .as_deref()
            .map(|m| method("underlay6", m))
            .transpose()?;

        if let Some(asn) = self.as_number
            && (asn == 0 || asn == 23456)
        {
            return Err(invalid(
                "asNumber",
                asn,
                "is reserved (0 and AS_TRANS 23456 cannot be used)",
            ));
        }
        if let Some(mtu) = self.vxlan_mtu
            && !(1280..=9000).contains(&mtu)
        {
            return Err(invalid("vxlanMtu", mtu, "is outside 1280..=9000"));
        }
        let metrics = self
            .metrics_listen
            .as_deref()
            .unwrap_or(DEFAULT_METRICS_LISTEN);
        let metrics_listen = metrics.parse().map_err(|e| {
            invalid(
                "metricsListen",
                metrics,
                format!("is not ADDRESS:PORT: {e}"),
            )
        })?;
        let log_level = self.log_level.unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|e| invalid("logLevel", &log_level, e))?;

        Ok(NodeConfig {
            node_name,
            datastore,
            underlay,
            underlay6,
            labels: self.labels.map(|l| l.0).unwrap_or_default(),
            as_number: self.as_number,
            vxlan_mtu: self.vxlan_mtu,
            vxlan_disable_tx_checksum_offload: self
                .vxlan_disable_tx_checksum_offload
                .unwrap_or(false),
            api_socket: self.api_socket.unwrap_or_else(|| DEFAULT_API_SOCKET.into()),
            metrics_listen,
            log_level,
        })
    }

    /// The etcd settings alone, validated (used by margayctl too).
    pub fn etcd_config(&self) -> Result<EtcdConfig, ConfigError> {
        let endpoints = self.etcd_endpoints.clone().unwrap_or_default();
        if endpoints.is_empty() {
            return Err(ConfigError::Missing {
                field: "etcdEndpoints",
                hint: "--etcd-endpoints or MARGAY_ETCD_ENDPOINTS, comma-separated; or datastore: file:PATH",
            });
        }
        endpoints.iter().try_for_each(|e| check_endpoint(e))?;
        let prefix = self
            .etcd_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_ETCD_PREFIX.into());
        if !prefix.starts_with('/') || !prefix.ends_with('/') {
            return Err(invalid("etcdPrefix", prefix, "must start and end with '/'"));
        }
        let client_cert = match (&self.etcd_cert_file, &self.etcd_key_file) {
            (Some(cert), Some(key)) => Some((
                existing_file("etcdCertFile", cert)?,
                existing_file("etcdKeyFile", key)?,
            )),
            (None, None) => None,
            (Some(cert), None) => {
                return Err(invalid(
                    "etcdKeyFile",
                    "",
                    format!("is required with etcdCertFile {}", cert.display()),
                ));
            }
            (None, Some(key)) => {
                return Err(invalid(
                    "etcdCertFile",
                    "",
                    format!("is required with etcdKeyFile {}", key.display()),
                ));
            }
        };
        let ca_file = self
            .etcd_ca_file
            .as_deref()
            .map(|p| existing_file("etcdCaFile", p))
            .transpose()?;
        let password_file = self
            .etcd_password_file
            .as_deref()
            .map(|p| existing_file("etcdPasswordFile", p))
            .transpose()?;
        if password_file.is_some() != self.etcd_username.is_some() {
            return Err(invalid(
                "etcdUsername",
                self.etcd_username.clone().unwrap_or_default(),
                "and etcdPasswordFile go together",
            ));
        }
        Ok(EtcdConfig {
            endpoints,
            prefix,
            ca_file,
            client_cert,
            username: self.etcd_username.clone(),
            password_file,
        })
    }
}

#[cfg(test)]
mod tests;
