//! The node's state in the Prometheus text exposition format (version 0.0.4): one gauge family
//! per fact, `# HELP` and `# TYPE` before each, label values escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::api::{NodeStatus, RouteKind, RouteStatus};

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// `status` and `routes` as metrics.
pub fn prometheus_text(status: &NodeStatus, routes: &[RouteStatus]) -> String {
    let mut out = String::new();
    let node = escape(&status.node);
    family(
        &mut out,
        "margay_node_ready",
        "1 when the node is ready (VTEP address, kernel reconciled, every BGP session Established).",
    );
    let ready = u8::from(super::readiness(status).is_ok());
    let _ = writeln!(out, "margay_node_ready{{node=\"{node}\"}} {ready}");
    family(
        &mut out,
        "margay_node_blocks",
        "IPAM blocks affine to this node.",
    );
    let _ = writeln!(
        out,
        "margay_node_blocks{{node=\"{node}\"}} {}",
        status.blocks.len()
    );
    family(
        &mut out,
        "margay_node_problems",
        "Problems the node reports (see margayctl node status).",
    );
    let _ = writeln!(
        out,
        "margay_node_problems{{node=\"{node}\"}} {}",
        status.problems.len()
    );

    family(
        &mut out,
        "margay_bgp_session_established",
        "1 when the BGP session is Established.",
    );
    for s in &status.sessions {
        let _ = writeln!(
            out,
            "margay_bgp_session_established{{peer=\"{}\",kind=\"{}\",name=\"{}\",state=\"{}\"}} {}",
            s.peer,
            s.kind,
            escape(&s.name),
            s.state,
            u8::from(s.state == "Established")
        );
    }
    for (metric, help, value) in [
        (
            "margay_bgp_prefixes_received",
            "Prefixes received from the peer (Adj-RIB-In, before policy).",
            (|s: &crate::api::SessionStatus| s.prefixes_received) as fn(_) -> usize,
        ),
        (
            "margay_bgp_prefixes_sent",
            "Prefixes advertised to the peer (Adj-RIB-Out).",
            |s: &crate::api::SessionStatus| s.prefixes_sent,
        ),
    ] {
        family(&mut out, metric, help);
        for s in &status.sessions {
            let _ = writeln!(
                out,
                "{metric}{{peer=\"{}\",kind=\"{}\",name=\"{}\"}} {}",
                s.peer,
                s.kind,
                escape(&s.name),
                value(s)
            );
        }
    }

    family(
        &mut out,
        "margay_routes",
        "Pod blocks by how this node routes them (none: no route, see margayctl node routes).",
    );
    let mut by_kind: BTreeMap<RouteKind, usize> = [
        RouteKind::Own,
        RouteKind::Direct,
        RouteKind::Native,
        RouteKind::Vxlan,
        RouteKind::None,
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    for r in routes {
        *by_kind.entry(r.kind).or_default() += 1;
    }
    for (kind, count) in by_kind {
        let _ = writeln!(out, "margay_routes{{kind=\"{kind}\"}} {count}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut status = crate::health::tests::status();
        status.sessions[0].name = "we\"ird\\name".into();
        let routes = vec![RouteStatus {
            dst: "10.244.2.0/26".parse().unwrap(),
            kind: RouteKind::Direct,
            via: "172.18.1.11 dev eth0".into(),
            reason: "same subnet".into(),
        }];
        let text = prometheus_text(&status, &routes);
        assert!(
            text.contains("# TYPE margay_node_ready gauge\nmargay_node_ready{node=\"node-a\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "margay_bgp_session_established{peer=\"172.18.1.11\",kind=\"mesh\",name=\"we\\\"ird\\\\name\",state=\"Established\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("margay_routes{kind=\"direct\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("margay_routes{kind=\"vxlan\"} 0\n"), "{text}");
        // Every sample line belongs to a family announced before it.
        let mut announced = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                announced.insert(rest.split(' ').next().unwrap().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(announced.contains(name), "{line}");
            }
        }
    }
}
