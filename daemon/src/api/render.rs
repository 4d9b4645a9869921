//! The tables `margayctl node status` and `margayctl node routes` print, in the manner of
//! BIRD's `show protocols` and calicoctl's `node status`. Pure: the time is a parameter.

use std::fmt::Write as _;

use super::types::{NodeStatus, RouteStatus};

/// Columns separated by two spaces, each as wide as its widest cell; an empty cell shows as
/// `-` so that every row splits on whitespace into the same columns. No trailing spaces.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let cell = |text: &str| if text.is_empty() { "-" } else { text }.to_owned();
    let lines: Vec<Vec<String>> = std::iter::once(header.map(cell).to_vec())
        .chain(rows.iter().map(|row| row.iter().map(|c| cell(c)).collect()))
        .collect();
    let widths: Vec<usize> = (0..N)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// How long ago `since_unix` was, as `HH:MM:SS`, with a day count past a day (`2d03:04:05`);
/// `-` when the time is unknown (0). A time in the future (clock step) shows as `00:00:00`.
pub fn format_since(since_unix: u64, now_unix: u64) -> String {
    if since_unix == 0 {
        return "-".to_owned();
    }
    let ago = now_unix.saturating_sub(since_unix);
    let (days, rest) = (ago / 86_400, ago % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}d{clock}")
    } else {
        clock
    }
}

/// The `node status` text: the node's identity, its sessions, then its problems.
pub fn status_table(status: &NodeStatus, now_unix: u64) -> String {
    let blocks: Vec<String> = status.blocks.iter().map(ToString::to_string).collect();
    let mut identity = vec![
        ["node".to_owned(), status.node.clone()],
        ["underlay".to_owned(), status.underlay.to_string()],
        ["AS".to_owned(), status.asn.to_string()],
        ["router id".to_owned(), status.router_id.to_string()],
    ];
    if let Some(cluster) = status.route_reflector_cluster_id {
        identity.push(["RR cluster id".to_owned(), cluster.to_string()]);
    }
    identity.push([
        "blocks".to_owned(),
        if blocks.is_empty() {
            "none".to_owned()
        } else {
            blocks.join(", ")
        },
    ]);
    identity.push([
        "VTEP".to_owned(),
        match &status.vtep {
            Some(v) => format!("{} {} {} mtu {}", v.device, v.tunnel_address, v.mac, v.mtu),
            None => "none".to_owned(),
        },
    ]);
    if !status.converged {
        identity.push([
            "kernel".to_owned(),
            "routes of the previous run kept until BGP has converged (graceful restart)".to_owned(),
        ]);
    }
    let width = identity.iter().map(|[k, _]| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for [key, value] in &identity {
        let _ = writeln!(
            out,
            "{:<width$}  {value}",
            format!("{key}:"),
            width = width + 1
        );
    }
    out.push('\n');
    if status.sessions.is_empty() {
        out.push_str("no BGP sessions\n");
    } else {
        let rows: Vec<[String; 9]> = status
            .sessions
            .iter()
            .map(|s| {
                [
                    s.peer.to_string(),
                    s.kind.to_string(),
                    s.name.clone(),
                    s.asn.to_string(),
                    s.state.clone(),
                    format_since(s.since_unix, now_unix),
                    s.prefixes_received.to_string(),
                    s.prefixes_sent.to_string(),
                    s.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&table(
            [
                "PEER",
                "TYPE",
                "NAME",
                "AS",
                "STATE",
                "SINCE",
                "RECEIVED",
                "SENT",
                "LAST ERROR",
            ],
            &rows,
        ));
    }
    if !status.problems.is_empty() {
        out.push_str("\nproblems:\n");
        for problem in &status.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    out
}

/// The `node routes` table, one row per block in the order given.
pub fn routes_table(routes: &[RouteStatus]) -> String {
    if routes.is_empty() {
        return "no blocks\n".to_owned();
    }
    let rows: Vec<[String; 4]> = routes
        .iter()
        .map(|r| {
            [
                r.dst.to_string(),
                r.kind.to_string(),
                r.via.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    table(["DESTINATION", "KIND", "VIA", "REASON"], &rows)
}
