//! Medians of repeated runs and the Markdown tables `bgperf` prints.

use std::fmt::Write as _;
use std::time::Duration;

use super::route_reflector::{ReflectorSample, ReflectorShape};
use super::route_server::RouteServerSample;

const MIB: f64 = 1024.0 * 1024.0;

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// What became of one cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<S> {
    /// Every requested run measured.
    Measured(Vec<S>),
    /// Some runs failed; the ones that worked and the first error.
    Failed { samples: Vec<S>, error: String },
    /// Not run (`--skip`).
    Skipped,
}

/// One row of the route-server table.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteServerRow {
    pub subject: String,
    pub prefixes: u32,
    pub outcome: Outcome<RouteServerSample>,
}

/// One row of the route-reflector table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReflectorRow {
    pub subject: String,
    pub shape: ReflectorShape,
    pub outcome: Outcome<ReflectorSample>,
}

fn samples<S>(outcome: &Outcome<S>) -> &[S] {
    match outcome {
        Outcome::Measured(s) | Outcome::Failed { samples: s, .. } => s,
        Outcome::Skipped => &[],
    }
}

/// `median (min–max)` of durations in seconds, or `—`.
fn spread(values: &[f64]) -> String {
    let Some(m) = median(values.iter().copied()) else {
        return "—".into();
    };
    // Milliseconds show below 0.1 s (the ceiling converges in about one).
    let p = if m < 0.1 { 4 } else { 3 };
    if values.len() == 1 {
        return format!("{m:.p$}");
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{m:.p$} ({min:.p$}–{max:.p$})")
}

fn or_dash(value: Option<f64>, precision: usize) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.precision$}"))
}

fn note<S>(outcome: &Outcome<S>) -> String {
    match outcome {
        Outcome::Measured(_) => String::new(),
        Outcome::Failed { error, .. } => {
            format!("failed: {}", error.lines().next().unwrap_or_default())
        }
        Outcome::Skipped => "skipped (--skip)".into(),
    }
}

/// The route-server table: medians over the runs of each cell, convergence with its range.
pub fn route_server_table(rows: &[RouteServerRow]) -> String {
    let mut out = String::from(
        "| daemon | prefixes | runs | convergence s, median (min–max) | CPU s | peak RSS MiB | \
bytes/prefix | bgperf CPU s | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let s = samples(&row.outcome);
        let conv: Vec<f64> = s.iter().map(|x| secs(x.convergence)).collect();
        let costs: Vec<_> = s.iter().filter_map(|x| x.cost).collect();
        let cpu = median(costs.iter().map(|c| secs(c.cpu)));
        let rss = median(costs.iter().map(|c| c.peak_rss as f64 / MIB));
        let per = median(costs.iter().map(|c| c.bytes_per_prefix(row.prefixes)));
        let tooling = median(s.iter().map(|x| secs(x.tooling_cpu)));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.subject,
            row.prefixes,
            s.len(),
            spread(&conv),
            or_dash(cpu, 2),
            or_dash(rss, 1),
            or_dash(per, 0),
            or_dash(tooling, 2),
            note(&row.outcome)
        );
    }
    out
}

/// The route-reflector table.
pub fn reflector_table(rows: &[ReflectorRow]) -> String {
    let mut out = String::from(
        "| daemon | clients × prefixes | runs | monitor holds all, s | every client holds all \
others, s | CPU s | peak RSS MiB | bgperf CPU s | note |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let s = samples(&row.outcome);
        let monitor: Vec<f64> = s.iter().map(|x| secs(x.monitor)).collect();
        let all: Vec<f64> = s.iter().map(|x| secs(x.all_clients)).collect();
        let cpu = median(s.iter().map(|x| secs(x.cost.cpu)));
        let rss = median(s.iter().map(|x| x.cost.peak_rss as f64 / MIB));
        let tooling = median(s.iter().map(|x| secs(x.tooling_cpu)));
        let _ = writeln!(
            out,
            "| {} | {} × {} | {} | {} | {} | {} | {} | {} | {} |",
            row.subject,
            row.shape.clients,
            row.shape.per_client,
            s.len(),
            spread(&monitor),
            spread(&all),
            or_dash(cpu, 2),
            or_dash(rss, 1),
            or_dash(tooling, 2),
            note(&row.outcome)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Cost;
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(Vec::<f64>::new()), None);
    }

    #[test]
    fn route_server_row_shows_medians_and_range() {
        let sample = |ms: u64, cpu_ms: u64, peak_mib: u64| RouteServerSample {
            convergence: Duration::from_millis(ms),
            cost: Some(Cost {
                cpu: Duration::from_millis(cpu_ms),
                peak_rss: peak_mib << 20,
                baseline_rss: 4 << 20,
            }),
            tooling_cpu: Duration::from_millis(20),
        };
        let rows = [
            RouteServerRow {
                subject: "BIRD 2.0.12".into(),
                prefixes: 100_000,
                outcome: Outcome::Measured(vec![
                    sample(50, 40, 14),
                    sample(40, 30, 14),
                    sample(45, 50, 16),
                ]),
            },
            RouteServerRow {
                subject: "GoBGP 3.10.0".into(),
                prefixes: 1_000_000,
                outcome: Outcome::Skipped,
            },
        ];
        let table = route_server_table(&rows);
        assert!(
            table.contains(
                "| BIRD 2.0.12 | 100000 | 3 | 0.0450 (0.0400–0.0500) | 0.04 | 14.0 | 105 | 0.02 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| GoBGP 3.10.0 | 1000000 | 0 | — | — | — | — | — | skipped (--skip) |"),
            "{table}"
        );
    }
}
