//! Reading and writing resource documents: multi-document YAML (for `margayctl apply -f`) and
//! JSON (the value stored in etcd), both through the same typed, path-reporting decoder.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    API_VERSION, BgpConfiguration, BgpPeer, IpPool, IpamConfigResource, Kind, Node, Resource,
    ResourceName,
};

/// A document that could not be loaded: where it came from, which resource (when known) and
/// what was wrong (field path and value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", resource.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct ResourceError {
    /// `document 2`, or the etcd key.
    pub origin: String,
    /// `Kind/name` once known.
    pub resource: Option<String>,
    /// `spec.blockSize: 40 is outside 20..=32 for an IPv4 pool`.
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope<S> {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: S,
}

/// Parses every document of a multi-document YAML text; empty documents are skipped. All bad
/// documents are reported, not just the first.
pub fn parse_yaml(text: &str) -> Result<Vec<Resource>, Vec<ResourceError>> {
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let origin = format!("document {}", i + 1);
        let value = match serde_yaml_ng::Value::deserialize(doc) {
            Ok(serde_yaml_ng::Value::Null) => continue,
            Ok(v) => v,
            Err(e) => {
                errors.push(error(&origin, None, strip_location(&e)));
                // A syntax error ends the stream: later documents cannot be found reliably.
                break;
            }
        };
        match decode_value(&origin, value) {
            Ok(r) => resources.push(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(resources)
    } else {
        Err(errors)
    }
}

/// Parses one resource stored as JSON; `origin` (the etcd key) appears in errors.
pub fn parse_json(origin: &str, text: &[u8]) -> Result<Resource, ResourceError> {
    let value: serde_yaml_ng::Value =
        serde_json::from_slice(text).map_err(|e| error(origin, None, format!("not JSON: {e}")))?;
    decode_value(origin, value)
}

fn error(origin: &str, resource: Option<String>, message: String) -> ResourceError {
    ResourceError {
        origin: origin.to_owned(),
        resource,
        message,
    }
}

/// serde_yaml_ng appends "at line L column C" of the text it read; we decode a re-serialised
/// document, so those positions would mislead. The path prefix (`spec.blockSize: ...`) stays.
fn strip_location(e: &serde_yaml_ng::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) if e.location().is_some() => text[..at].to_owned(),
        _ => text,
    }
}

fn decode_value(origin: &str, value: serde_yaml_ng::Value) -> Result<Resource, ResourceError> {
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let api_version =
        field("apiVersion").ok_or_else(|| error(origin, None, "apiVersion: missing".into()))?;
    if api_version != API_VERSION {
        return Err(error(
            origin,
            None,
            format!("apiVersion: {api_version:?} is not {API_VERSION:?}"),
        ));
    }
    let kind_name = field("kind").ok_or_else(|| error(origin, None, "kind: missing".into()))?;
    let kind = Kind::parse(&kind_name).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        error(
            origin,
            None,
            format!("kind: {kind_name:?} is not one of {}", known.join(", ")),
        )
    })?;
    let name_hint = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .map(|n| format!("{kind}/{n}"))
        .unwrap_or_else(|| kind.to_string());
    let text = serde_yaml_ng::to_string(&value)
        .map_err(|e| error(origin, Some(name_hint.clone()), e.to_string()))?;
    let fail = |message: String| error(origin, Some(name_hint.clone()), message);
    fn typed<S: DeserializeOwned>(text: &str) -> Result<(ResourceName, S), String> {
        let env: Envelope<S> = serde_yaml_ng::from_str(text).map_err(|e| strip_location(&e))?;
        let name =
            ResourceName::new(&env.metadata.name, "metadata.name").map_err(|e| e.to_string())?;
        Ok((name, env.spec))
    }
    let resource = match kind {
        Kind::IpPool => {
            let (name, spec) = typed(&text).map_err(fail)?;
            Resource::IpPool(IpPool::validate(name, spec).map_err(|e| fail(e.to_string()))?)
        }
        Kind::BgpConfiguration => {
            let (name, spec) = typed(&text).map_err(fail)?;
            Resource::BgpConfiguration(
                BgpConfiguration::validate(name, spec).map_err(|e| fail(e.to_string()))?,
            )
        }
        Kind::BgpPeer => {
            let (name, spec) = typed(&text).map_err(fail)?;
            Resource::BgpPeer(BgpPeer::validate(name, spec).map_err(|e| fail(e.to_string()))?)
        }
        Kind::Node => {
            let (name, spec) = typed(&text).map_err(fail)?;
            Resource::Node(Node::validate(name, spec).map_err(|e| fail(e.to_string()))?)
        }
        Kind::IpamConfig => {
            let (name, spec) = typed(&text).map_err(fail)?;
            Resource::IpamConfig(
                IpamConfigResource::validate(name, spec).map_err(|e| fail(e.to_string()))?,
            )
        }
    };
    Ok(resource)
}

fn envelope<S: Serialize + Clone>(kind: Kind, name: &ResourceName, spec: &S) -> Envelope<S> {
    Envelope {
        api_version: API_VERSION.to_owned(),
        kind: kind.as_str().to_owned(),
        metadata: Metadata {
            name: name.as_str().to_owned(),
        },
        spec: spec.clone(),
    }
}

fn to_value(resource: &Resource) -> serde_json::Value {
    let value = match resource {
        Resource::IpPool(r) => serde_json::to_value(envelope(Kind::IpPool, &r.name, r.doc())),
        Resource::BgpConfiguration(r) => {
            serde_json::to_value(envelope(Kind::BgpConfiguration, &r.name, r.doc()))
        }
        Resource::BgpPeer(r) => serde_json::to_value(envelope(Kind::BgpPeer, &r.name, r.doc())),
        Resource::Node(r) => serde_json::to_value(envelope(Kind::Node, &r.name, r.doc())),
        Resource::IpamConfig(r) => {
            serde_json::to_value(envelope(Kind::IpamConfig, &r.name, r.doc()))
        }
    };
    value.expect("resource documents are plain data")
}

/// The resource as the JSON document stored in etcd (the spec as written).
pub fn to_json(resource: &Resource) -> String {
    to_value(resource).to_string()
}

/// The resource as one YAML document.
pub fn to_yaml(resource: &Resource) -> String {
    serde_yaml_ng::to_string(&to_value(resource)).expect("resource documents are plain data")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.244.0.0/16, blockSize: 26, encapsulation: auto, natOutgoing: true, disabled: false}
---
apiVersion: margay.io/v1
kind: BGPConfiguration
metadata: {name: default}
spec: {asNumber: 64512, nodeMesh: true, listenPort: 179, gracefulRestartSeconds: 120,
       serviceClusterIPs: [10.96.0.0/12], communities: ["64512:100"]}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor-r1}
spec: {peerIP: 172.18.0.1, asNumber: 65001, nodeSelector: "rack == 'r1'",
       holdTime: 9, password: {secretFile: /etc/margay/tor.key}, maxPrefixes: 10000}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: node-a}
spec: {bgp: {ipv4Address: 172.18.1.10/24, asNumber: 65010, routeReflectorClusterID: ""},
       vxlan: {tunnelAddress: 10.244.3.0, mac: "0e:00:00:00:00:01"}, labels: {rack: r1}}
---
apiVersion: margay.io/v1
kind: IPAMConfig
metadata: {name: default}
spec: {strictAffinity: true, maxBlocksPerNode: 20}
"#;

    fn one_error(text: &str) -> String {
        let errors = parse_yaml(text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].to_string()
    }

    fn pool_with(spec: &str) -> String {
        format!("apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {{name: p}}\nspec: {spec}\n")
    }

    #[test]
    fn design_example_loads_and_round_trips_through_json() {
        let resources = parse_yaml(EXAMPLE).unwrap();
        let kinds: Vec<Kind> = resources.iter().map(Resource::kind).collect();
        assert_eq!(kinds, Kind::ALL.to_vec());
        let Resource::IpPool(pool) = &resources[0] else {
            panic!()
        };
        assert_eq!(pool.cidr.to_string(), "10.244.0.0/16");
        assert!(pool.nat_outgoing);
        let Resource::BgpPeer(peer) = &resources[2] else {
            panic!()
        };
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("rack".to_string(), "r1".to_string());
        assert!(peer.applies_to("node-a", &labels));
        assert!(!peer.applies_to("node-b", &Default::default()));
        for r in &resources {
            let json = to_json(r);
            let back = parse_json("key", json.as_bytes()).unwrap();
            assert_eq!(&back, r, "{json}");
            let yaml = to_yaml(r);
            assert_eq!(&parse_yaml(&yaml).unwrap()[0], r, "{yaml}");
        }
    }

    #[test]
    fn block_size_out_of_range_names_field_and_value() {
        assert_eq!(
            one_error(&pool_with("{cidr: 10.0.0.0/16, blockSize: 40}")),
            "document 1 (IPPool/p): spec.blockSize: 40 is outside 20..=32 for an IPv4 pool"
        );
        assert_eq!(
            one_error(&pool_with("{cidr: 'fd00::/64', blockSize: 64}")),
            "document 1 (IPPool/p): spec.blockSize: 64 is outside 116..=128 for an IPv6 pool"
        );
    }

    #[test]
    fn misaligned_cidr_unknown_field_and_bad_enum_are_reported() {
        assert_eq!(
            one_error(&pool_with("{cidr: 10.0.0.1/16}")),
            "document 1 (IPPool/p): spec.cidr: 10.0.0.1/16 is not aligned to its prefix length (network address is 10.0.0.0)"
        );
        let unknown = one_error(&pool_with("{cidr: 10.0.0.0/16, blocksize: 26}"));
        assert!(
            unknown.starts_with("document 1 (IPPool/p): spec: unknown field `blocksize`"),
            "{unknown}"
        );
        let enc = one_error(&pool_with("{cidr: 10.0.0.0/16, encapsulation: ipip}"));
        assert!(
            enc.starts_with("document 1 (IPPool/p): spec.encapsulation: unknown variant `ipip`"),
            "{enc}"
        );
        let ty = one_error(&pool_with("{cidr: 10.0.0.0/16, blockSize: big}"));
        assert!(
            ty.starts_with("document 1 (IPPool/p): spec.blockSize: invalid type"),
            "{ty}"
        );
    }

    #[test]
    fn peer_errors() {
        let peer = |spec: &str| {
            one_error(&format!(
                "apiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {{name: x}}\nspec: {spec}\n"
            ))
        };
        assert_eq!(
            peer("{asNumber: 65000}"),
            "document 1 (BGPPeer/x): spec: a peer needs peerIP (a router) or peerSelector (nodes); neither is given"
        );
        assert_eq!(
            peer("{peerIP: 10.0.0.1, asNumber: 0}"),
            "document 1 (BGPPeer/x): spec.asNumber: 0 is not a usable AS number (RFC 7607)"
        );
        assert_eq!(
            peer("{peerIP: 10.0.0.300, asNumber: 1}"),
            "document 1 (BGPPeer/x): spec.peerIP: \"10.0.0.300\" is not an IP address"
        );
        assert_eq!(
            peer("{peerIP: 10.0.0.1, asNumber: 1, nodeSelector: \"rack ==\"}"),
            "document 1 (BGPPeer/x): spec.nodeSelector: expected a quoted label value, found the end at column 8 of \"rack ==\""
        );
    }

    #[test]
    fn every_bad_document_is_reported_with_its_index() {
        let text = format!(
            "{}---\n{}---\napiVersion: margay.io/v2\nkind: IPPool\nmetadata: {{name: q}}\nspec: {{}}\n---\napiVersion: margay.io/v1\nkind: Pool\n",
            pool_with("{cidr: 10.0.0.0/16}"),
            pool_with("{cidr: 10.0.0.0/16, blockSize: 19}")
        );
        let errors: Vec<String> = parse_yaml(&text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "document 2 (IPPool/p): spec.blockSize: 19 is outside 20..=32 for an IPv4 pool",
                "document 3: apiVersion: \"margay.io/v2\" is not \"margay.io/v1\"",
                "document 4: kind: \"Pool\" is not one of IPPool, BGPConfiguration, BGPPeer, Node, IPAMConfig",
            ]
        );
    }

    #[test]
    fn node_and_config_errors() {
        let node = |spec: &str| {
            one_error(&format!(
                "apiVersion: margay.io/v1\nkind: Node\nmetadata: {{name: n1}}\nspec: {spec}\n"
            ))
        };
        assert_eq!(
            node("{bgp: {ipv4Address: 'fd00::1/64'}}"),
            "document 1 (Node/n1): spec.bgp.ipv4Address: \"fd00::1/64\" is not an IPv4 address"
        );
        assert_eq!(
            node("{vxlan: {mac: 'zz:00:00:00:00:00'}}"),
            "document 1 (Node/n1): spec.vxlan.mac: \"zz:00:00:00:00:00\" is not a MAC address (aa:bb:cc:dd:ee:ff)"
        );
        let cfg = one_error(
            "apiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {name: rack1}\nspec: {}\n",
        );
        assert!(
            cfg.contains("metadata.name: \"rack1\": a BGPConfiguration is named"),
            "{cfg}"
        );
        let gr = one_error(
            "apiVersion: margay.io/v1\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {gracefulRestartSeconds: 5000}\n",
        );
        assert!(
            gr.ends_with(
                "spec.gracefulRestartSeconds: 5000 exceeds 4095 (12-bit Restart Time, RFC 4724 §3)"
            ),
            "{gr}"
        );
    }
}
