//! The lab's Pod-to-Pod ping matrix: every Pod pings every other Pod (a short burst each, the
//! sources in parallel), and the result is a table of ✓/✗ with the average round-trip time.

use std::fmt::{self, Write as _};

use crate::margay::{PingStats, ping_burst};
use crate::topology::Pod;

/// Echo requests per pair.
pub const PINGS_PER_PAIR: u32 = 3;

/// A Pod as the matrix names it.
#[derive(Debug, Clone, Copy)]
pub struct PingTarget<'a> {
    /// Short label used as the column header (`p1`, `p2`, ...).
    pub label: &'a str,
    /// The node the Pod runs on.
    pub node: &'a str,
    /// The Pod.
    pub pod: &'a Pod,
}

/// Whether a pair answered every echo request.
pub fn answered_all(stats: &PingStats) -> bool {
    stats.transmitted == PINGS_PER_PAIR && stats.received == PINGS_PER_PAIR
}

/// Results for every ordered pair of distinct Pods.
#[derive(Debug, Clone)]
pub struct PingMatrix {
    /// Row labels with node and address, in order.
    pub labels: Vec<String>,
    /// `results[i][j]`: Pod i pinging Pod j (`None` on the diagonal).
    pub results: Vec<Vec<Option<PingStats>>>,
}

impl PingMatrix {
    /// Pings every pair: one thread per source Pod, its destinations one after the other.
    pub fn run(targets: &[PingTarget<'_>]) -> PingMatrix {
        let results = std::thread::scope(|scope| {
            let rows: Vec<_> = targets
                .iter()
                .enumerate()
                .map(|(i, src)| {
                    scope.spawn(move || {
                        targets
                            .iter()
                            .enumerate()
                            .map(|(j, dst)| {
                                (i != j).then(|| ping_burst(src.pod, dst.pod.ip, PINGS_PER_PAIR))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            rows.into_iter()
                .map(|row| row.join().expect("a ping thread panicked"))
                .collect()
        });
        PingMatrix {
            labels: targets
                .iter()
                .map(|t| format!("{} {} ({})", t.label, t.pod.ip, t.node))
                .collect(),
            results,
        }
    }

    /// Pairs whose pings were not all answered, as `(source, destination, result)`.
    pub fn failures(&self) -> Vec<(&str, &str, &PingStats)> {
        let mut out = Vec::new();
        for (i, row) in self.results.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                if let Some(result) = cell.as_ref().filter(|r| !answered_all(r)) {
                    out.push((self.labels[i].as_str(), self.labels[j].as_str(), result));
                }
            }
        }
        out
    }

    /// Every pair answered every ping.
    pub fn all_ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// Pairs pinged.
    pub fn pairs(&self) -> usize {
        self.results.iter().flatten().flatten().count()
    }
}

fn short_label(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or(label)
}

impl fmt::Display for PingMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CELL: usize = 10;
        let row_width = self.labels.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut header = format!("{:row_width$}", "from \\ to");
        for label in &self.labels {
            write!(header, "{:>CELL$}", short_label(label))?;
        }
        writeln!(f, "{}", header.trim_end())?;
        for (label, row) in self.labels.iter().zip(&self.results) {
            let mut line = format!("{label:row_width$}");
            for cell in row {
                let text = match cell {
                    None => "·".to_owned(),
                    Some(r) if answered_all(r) => match r.rtt_avg {
                        Some(rtt) => format!("✓ {:.2}", rtt.as_secs_f64() * 1e3),
                        None => "✓".to_owned(),
                    },
                    Some(r) => format!("✗ {}/{PINGS_PER_PAIR}", r.received),
                };
                // Pad by characters: ✓, ✗ and · are one column but several bytes.
                let pad = CELL.saturating_sub(text.chars().count());
                write!(line, "{}{text}", " ".repeat(pad))?;
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        write!(
            f,
            "{} of {} pairs answered every ping (✓ = {PINGS_PER_PAIR}/{PINGS_PER_PAIR} replies, \
             average rtt in ms)",
            self.pairs() - self.failures().len(),
            self.pairs()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stats(received: u32, rtt_ms: Option<f64>) -> PingStats {
        PingStats {
            transmitted: PINGS_PER_PAIR,
            received,
            rtt_avg: rtt_ms.map(|ms| Duration::from_secs_f64(ms / 1e3)),
            ..PingStats::default()
        }
    }

    #[test]
    fn renders_marks_and_counts_failures() {
        let matrix = PingMatrix {
            labels: vec!["p1 10.244.0.1 (a)".into(), "p2 10.244.0.65 (b)".into()],
            results: vec![
                vec![None, Some(stats(3, Some(0.25)))],
                vec![Some(stats(1, Some(0.3))), None],
            ],
        };
        let text = matrix.to_string();
        assert!(text.contains("✓ 0.25"), "{text}");
        assert!(text.contains("✗ 1/3"), "{text}");
        assert!(text.contains("1 of 2 pairs"), "{text}");
        let failures = matrix.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "p2 10.244.0.65 (b)");
        assert_eq!(failures[0].1, "p1 10.244.0.1 (a)");
        assert!(!matrix.all_ok());
    }
}
