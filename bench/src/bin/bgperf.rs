//! `bgperf`: measures BGP daemons the bgperf way (feeder → daemon → monitor, in network
//! namespaces) and as route reflectors, and prints Markdown tables of the medians.
//! Needs root (it creates network namespaces). See docs/benchmarks.md.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use margay_bench::bgperf::dut::Dut;
use margay_bench::bgperf::report::{
    Outcome, ReflectorRow, RouteServerRow, reflector_table, route_server_table,
};
use margay_bench::bgperf::route_reflector::{self, ReflectorShape};
use margay_bench::bgperf::route_server::{self, Subject};
use margay_bench::bgperf::updates::FeedOrder;
use margay_bench::bgperf::{RunError, RunOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Shape {
    /// feeder → daemon → monitor, N prefixes (and the feeder → monitor ceiling)
    RouteServer,
    /// many iBGP clients with a few prefixes each, the daemon reflecting
    RouteReflector,
}

/// A cell to leave out: `DAEMON:PREFIXES` (route-server shape) or `DAEMON:rr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    RouteServer(Dut, u32),
    RouteReflector(Dut),
}

impl FromStr for Skip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (daemon, cell) = s
            .split_once(':')
            .ok_or_else(|| format!("want DAEMON:PREFIXES or DAEMON:rr, got {s:?}"))?;
        let dut = Dut::from_str(daemon, true).map_err(|e| format!("{s:?}: {e}"))?;
        if cell == "rr" {
            return Ok(Skip::RouteReflector(dut));
        }
        let n = cell
            .parse()
            .map_err(|e| format!("{s:?}: prefix count {cell:?}: {e}"))?;
        Ok(Skip::RouteServer(dut, n))
    }
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "BGP daemons as route servers (feeder → daemon → monitor) and route \
reflectors, medians of several runs"
)]
struct Args {
    /// Daemons under test.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Dut::ALL)]
    daemons: Vec<Dut>,
    /// Prefix counts of the route-server shape.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000, 1_000_000])]
    prefixes: Vec<u32>,
    /// Runs per cell (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Shapes to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Shape::RouteServer, Shape::RouteReflector])]
    shapes: Vec<Shape>,
    /// Cells to leave out, e.g. `gobgp:1000000` or `frr:rr` (repeatable, comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<Skip>,
    /// Order of the route-server feeder's announcements.
    #[arg(long, value_enum, default_value_t = FeedOrder::Sorted)]
    feed_order: FeedOrder,
    /// Leave out the feeder → monitor ceiling.
    #[arg(long)]
    no_ceiling: bool,
    /// Route-reflector clients (sessions).
    #[arg(long, default_value_t = 500)]
    rr_clients: u32,
    /// Prefixes each route-reflector client announces.
    #[arg(long, default_value_t = 4)]
    rr_prefixes: u32,
    /// Seconds to connect and exchange OPENs.
    #[arg(long, default_value_t = 60)]
    establish_timeout: u64,
    /// Seconds from the first UPDATE until convergence before a run counts as failed.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// Runs `f` `runs` times; a panic (the harness fails that way) or an error ends the cell.
fn cell<S: std::fmt::Debug>(
    label: &str,
    runs: u32,
    mut f: impl FnMut() -> Result<S, RunError>,
) -> Outcome<S> {
    let mut samples = Vec::new();
    for run in 1..=runs {
        let result = std::panic::catch_unwind(AssertUnwindSafe(&mut f));
        let error = match result {
            Ok(Ok(sample)) => {
                eprintln!("  {label}: run {run}/{runs}: {sample:?}");
                samples.push(sample);
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".into()),
        };
        eprintln!("  {label}: run {run}/{runs} FAILED: {error}");
        return Outcome::Failed { samples, error };
    }
    Outcome::Measured(samples)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    format!("{cores} × {cpu}, Linux {kernel}")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !std::fs::read_to_string("/proc/self/status")
        .context("reading /proc/self/status")?
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    {
        bail!("bgperf creates network namespaces: run it as root");
    }
    let opts = RunOptions {
        establish_timeout: Duration::from_secs(args.establish_timeout),
        converge_timeout: Duration::from_secs(args.timeout),
        feed_order: args.feed_order,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let daemons: BTreeSet<Dut> = args.daemons.iter().copied().collect();
    let skips: BTreeSet<Skip> = args.skip.iter().copied().collect();
    let mut skipped = Vec::new();
    let mut rs_rows = Vec::new();
    let mut rr_rows = Vec::new();

    if args.shapes.contains(&Shape::RouteServer) {
        for &n in &args.prefixes {
            let mut subjects: Vec<Subject> = Vec::new();
            if !args.no_ceiling {
                subjects.push(Subject::Ceiling);
            }
            subjects.extend(daemons.iter().map(|d| Subject::Daemon(*d)));
            for subject in subjects {
                let label = subject.label();
                let outcome = match subject {
                    Subject::Daemon(d) if skips.contains(&Skip::RouteServer(d, n)) => {
                        skipped.push(format!("{label} at {n} prefixes"));
                        Outcome::Skipped
                    }
                    _ => {
                        eprintln!("{label}, {n} prefixes:");
                        cell(&label, args.runs, || {
                            route_server::run(&rt, subject, n, &opts)
                        })
                    }
                };
                rs_rows.push(RouteServerRow {
                    subject: label,
                    prefixes: n,
                    outcome,
                });
            }
        }
    }
    if args.shapes.contains(&Shape::RouteReflector) {
        let shape = ReflectorShape {
            clients: args.rr_clients,
            per_client: args.rr_prefixes,
        };
        for &d in &daemons {
            let label = Subject::Daemon(d).label();
            let outcome = if skips.contains(&Skip::RouteReflector(d)) {
                skipped.push(format!("{label} as route reflector"));
                Outcome::Skipped
            } else {
                eprintln!(
                    "{label}, route reflector {} × {}:",
                    shape.clients, shape.per_client
                );
                cell(&label, args.runs, || {
                    route_reflector::run(&rt, d, shape, &opts)
                })
            };
            rr_rows.push(ReflectorRow {
                subject: label,
                shape,
                outcome,
            });
        }
    }

    println!(
        "bgperf, {} run(s) per cell, route-server feed {:?}, {}; machine: {}\n",
        args.runs,
        args.feed_order,
        std::process::Command::new("date")
            .arg("-u")
            .arg("+%F %R UTC")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
        machine()
    );
    if !rs_rows.is_empty() {
        println!(
            "Route server (feeder → daemon → monitor):\n\n{}",
            route_server_table(&rs_rows)
        );
    }
    if !rr_rows.is_empty() {
        println!("Route reflector:\n\n{}", reflector_table(&rr_rows));
    }
    if !skipped.is_empty() {
        println!("Skipped: {}", skipped.join("; "));
    }
    Ok(())
}
