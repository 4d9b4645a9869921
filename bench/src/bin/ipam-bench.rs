//! `ipam-bench`: IPAM assignment throughput against a local etcd (started here through the
//! test harness, data on /dev/shm with --unsafe-no-fsync) with 1 and 8 concurrent allocators,
//! and the etcd requests each assignment costs, counted by `CountingStore` (not estimated).
//!
//! Each allocator is its own node with its own etcd connection, as separate margay-node
//! processes would be. An assignment is "steady state" when it needed no block claim and no
//! cache refresh (no range reads): the common case, one transaction by design.
//!
//! Usage: `ipam-bench [--per-allocator N]` (default 2000 for 1 allocator, 1000 each for 8).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use margay_ipam::kv::counting::{CountSnapshot, CountingStore};
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::{IpFamily, Ipam, IpamConfig, Keys, Pool};
use margay_tests::{Etcd, TestDir};

#[derive(Debug, Default, Clone)]
struct Run {
    assignments: u64,
    elapsed: Duration,
    total: CountSnapshot,
    steady: u64,
    steady_txns: u64,
    steady_max_txns: u64,
    release_txns: u64,
    release_reads: u64,
    releases: u64,
}

async fn allocator_run(
    endpoint: String,
    node: String,
    pool: Pool,
    count: usize,
) -> anyhow::Result<Run> {
    let store = EtcdStore::connect(&EtcdConfig::new([endpoint])).await?;
    let counting = Arc::new(CountingStore::new(store));
    let counts = counting.counts();
    let ipam = Ipam::new(counting, Keys::default(), IpamConfig::default());
    let alloc = ipam.allocator(&node, vec![pool])?;
    let mut run = Run::default();
    let start = Instant::now();
    for i in 0..count {
        let before = counts.snapshot();
        alloc
            .assign(&format!("{node}-{i}"), IpFamily::V4)
            .await
            .with_context(|| format!("{node}: assignment {i}"))?;
        let spent = counts.snapshot() - before;
        if spent.gets == 0 && spent.lists == 0 {
            run.steady += 1;
            run.steady_txns += spent.txns;
            run.steady_max_txns = run.steady_max_txns.max(spent.txns);
        }
    }
    run.elapsed = start.elapsed();
    run.assignments = count as u64;
    run.total = counts.snapshot();
    // Release cost (CNI DEL): a sample of handles.
    for i in 0..count.min(100) {
        let before = counts.snapshot();
        alloc.release_handle(&format!("{node}-{i}")).await?;
        let spent = counts.snapshot() - before;
        run.release_txns += spent.txns;
        run.release_reads += spent.gets + spent.lists;
        run.releases += 1;
    }
    Ok(run)
}

async fn scenario(
    endpoint: &str,
    allocators: usize,
    per_allocator: usize,
    pool: &str,
) -> anyhow::Result<(Vec<Run>, Duration)> {
    let pool = Pool::new(pool.parse()?, None)?;
    let tasks: Vec<_> = (0..allocators)
        .map(|i| {
            let node = format!("bench-{allocators}-{i}");
            tokio::spawn(allocator_run(
                endpoint.to_owned(),
                node,
                pool.clone(),
                per_allocator,
            ))
        })
        .collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await??);
    }
    let wall = runs.iter().map(|r| r.elapsed).max().unwrap_or_default();
    Ok((runs, wall))
}

fn row(label: &str, runs: &[Run], wall: Duration) {
    let n: u64 = runs.iter().map(|r| r.assignments).sum();
    let txns: u64 = runs.iter().map(|r| r.total.txns).sum();
    let reads: u64 = runs.iter().map(|r| r.total.gets + r.total.lists).sum();
    let conflicts: u64 = runs.iter().map(|r| r.total.conflicts).sum();
    let steady: u64 = runs.iter().map(|r| r.steady).sum();
    let steady_txns: u64 = runs.iter().map(|r| r.steady_txns).sum();
    let steady_max = runs.iter().map(|r| r.steady_max_txns).max().unwrap_or(0);
    let releases: u64 = runs.iter().map(|r| r.releases).sum();
    let release_txns: u64 = runs.iter().map(|r| r.release_txns).sum();
    let release_reads: u64 = runs.iter().map(|r| r.release_reads).sum();
    println!(
        "| {label:<12} | {n:>5} | {:>6.2} | {:>7.0} | {:>9.3} | {:>10.3} | {conflicts:>9} | {:>16.3} | {steady_max:>10} | {:>11.1}% | {:>12.2} | {:>13.2} |",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        txns as f64 / n as f64,
        reads as f64 / n as f64,
        steady_txns as f64 / steady.max(1) as f64,
        100.0 * steady as f64 / n as f64,
        release_txns as f64 / releases.max(1) as f64,
        release_reads as f64 / releases.max(1) as f64,
    );
}

fn per_allocator_arg() -> anyhow::Result<Option<usize>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, n] if flag == "--per-allocator" => Ok(Some(
            n.parse().with_context(|| format!("--per-allocator {n}"))?,
        )),
        other => bail!("unexpected arguments {other:?}; usage: ipam-bench [--per-allocator N]"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let per_allocator = per_allocator_arg()?;
    let dir = TestDir::new("ipam-bench");
    let etcd = Etcd::start(&dir);
    let endpoint = etcd.endpoint();
    println!(
        "IPAM assignment against etcd {endpoint} (etcd 3.4, --unsafe-no-fsync, data on /dev/shm), /26 blocks"
    );
    println!();
    println!(
        "| allocators   | addrs | wall s | addrs/s | txns/addr | reads/addr | conflicts | steady txns/addr | steady max | steady share | release txns | release reads |"
    );
    println!(
        "|--------------|-------|--------|---------|-----------|------------|-----------|------------------|------------|--------------|--------------|---------------|"
    );
    let (runs, wall) =
        scenario(&endpoint, 1, per_allocator.unwrap_or(2000), "10.50.0.0/16").await?;
    row("1", &runs, wall);
    let (runs, wall) =
        scenario(&endpoint, 8, per_allocator.unwrap_or(1000), "10.60.0.0/16").await?;
    row("8 concurrent", &runs, wall);
    drop(etcd);
    Ok(())
}
