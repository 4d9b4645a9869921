//! What margay-node wrote into a node's kernel, read with the standard tools' JSON output:
//! its routes (`ip -j route show proto 77`, DESIGN §4), the VTEP's neighbour and FDB entries
//! (`ip -j neigh`, `bridge -j fdb`) and the VTEP's packet counters (`ip -j -s link`).

use std::fmt;

use serde_json::Value;

use crate::cmd::run;
use crate::netns::Netns;

/// The route protocol number margay-node writes its routes with.
pub const MARGAY_PROTO: u8 = 77;
/// The VTEP device.
pub const VTEP_DEVICE: &str = "vxlan.margay";

/// One route of protocol 77.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    /// Destination, e.g. `10.244.1.0/26`.
    pub dst: String,
    /// `unicast` or `blackhole`.
    pub kind: String,
    /// Next hops: one, several (ECMP) or none (blackhole).
    pub gateways: Vec<String>,
    /// The device of the (first) next hop.
    pub dev: Option<String>,
    /// Whether the (first) next hop is `onlink`.
    pub onlink: bool,
}

impl KernelRoute {
    /// A blackhole route (an own block).
    pub fn is_blackhole(&self) -> bool {
        self.kind == "blackhole"
    }

    /// Whether it leaves through the VTEP.
    pub fn via_vtep(&self) -> bool {
        self.dev.as_deref() == Some(VTEP_DEVICE)
    }
}

impl fmt::Display for KernelRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_blackhole() {
            return write!(f, "blackhole {}", self.dst);
        }
        write!(f, "{} via {}", self.dst, self.gateways.join(","))?;
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if self.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn has_flag(value: &Value, flag: &str) -> bool {
    value
        .get("flags")
        .and_then(Value::as_array)
        .is_some_and(|flags| flags.iter().any(|f| f.as_str() == Some(flag)))
}

/// Runs `tool -n NETNS ARGS` (`ip` and `bridge` both take `-n`) and parses its JSON.
fn json(netns: &str, tool: &str, args: &[&str]) -> Result<Vec<Value>, String> {
    let mut argv = vec![tool, "-n", netns, "-j"];
    argv.extend_from_slice(args);
    let out = run(&argv).map_err(|e| e.to_string())?;
    if out.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&out)
        .map_err(|e| format!("`{}` printed bad JSON ({e}): {out}", argv.join(" ")))
}

fn parse_route(value: &Value) -> KernelRoute {
    let hops: Vec<&Value> = match value.get("nexthops").and_then(Value::as_array) {
        Some(hops) => hops.iter().collect(),
        None => vec![value],
    };
    KernelRoute {
        dst: text(value, "dst").unwrap_or_default(),
        kind: text(value, "type").unwrap_or_else(|| "unicast".to_owned()),
        gateways: hops.iter().filter_map(|h| text(h, "gateway")).collect(),
        dev: hops.first().and_then(|h| text(h, "dev")),
        onlink: hops.first().is_some_and(|h| has_flag(h, "onlink")),
    }
}

/// The routes margay-node wrote in `ns` (`ip route show proto 77`, main table, IPv4).
pub fn margay_routes(ns: &Netns) -> Vec<KernelRoute> {
    routes_in(ns.name())
}

/// [`margay_routes`] by namespace name.
pub(super) fn routes_in(netns: &str) -> Vec<KernelRoute> {
    let proto = MARGAY_PROTO.to_string();
    json(netns, "ip", &["route", "show", "proto", &proto])
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(parse_route)
        .collect()
}

/// A permanent neighbour entry on the VTEP (remote tunnel address → remote VTEP MAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtepNeighbour {
    /// The remote node's tunnel address.
    pub ip: String,
    /// The remote VTEP's MAC.
    pub mac: String,
}

/// An FDB entry on the VTEP (remote VTEP MAC → remote underlay address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtepFdb {
    /// The remote VTEP's MAC.
    pub mac: String,
    /// The remote node's underlay address.
    pub dst: String,
}

/// Neighbour entries on `vxlan.margay` (empty when the device does not exist).
pub fn vtep_neighbours(ns: &Netns) -> Vec<VtepNeighbour> {
    json(ns.name(), "ip", &["neigh", "show", "dev", VTEP_DEVICE])
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            Some(VtepNeighbour {
                ip: text(n, "dst")?,
                mac: text(n, "lladdr")?,
            })
        })
        .collect()
}

/// FDB entries with a remote on `vxlan.margay` (empty when the device does not exist).
pub fn vtep_fdb(ns: &Netns) -> Vec<VtepFdb> {
    json(ns.name(), "bridge", &["fdb", "show", "dev", VTEP_DEVICE])
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            Some(VtepFdb {
                mac: text(e, "mac")?,
                dst: text(e, "dst")?,
            })
        })
        .collect()
}

/// Packets sent by `vxlan.margay` so far (`None` when the device does not exist).
pub fn vtep_tx_packets(ns: &Netns) -> Option<u64> {
    json(ns.name(), "ip", &["-s", "link", "show", VTEP_DEVICE])
        .ok()?
        .first()?
        .pointer("/stats64/tx/packets")?
        .as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_route_shape_ip_prints() {
        let out = r#"[{"type":"blackhole","dst":"10.244.0.0/26","flags":[]},
            {"dst":"10.244.1.0/26","gateway":"10.244.1.0","dev":"vxlan.margay","flags":["onlink"]},
            {"dst":"10.244.2.0/26","flags":[],"nexthops":[
              {"gateway":"172.18.1.1","dev":"eth0","weight":1,"flags":[]},
              {"gateway":"172.18.1.2","dev":"eth0","weight":1,"flags":[]}]},
            {"dst":"10.244.3.0/26","gateway":"10.0.0.11","dev":"eth0","flags":[]}]"#;
        let routes: Vec<KernelRoute> = serde_json::from_str::<Vec<Value>>(out)
            .unwrap()
            .iter()
            .map(parse_route)
            .collect();
        let shown: Vec<String> = routes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "blackhole 10.244.0.0/26",
                "10.244.1.0/26 via 10.244.1.0 dev vxlan.margay onlink",
                "10.244.2.0/26 via 172.18.1.1,172.18.1.2 dev eth0",
                "10.244.3.0/26 via 10.0.0.11 dev eth0",
            ]
        );
        assert!(routes[0].is_blackhole() && routes[1].via_vtep() && !routes[3].via_vtep());
    }
}
